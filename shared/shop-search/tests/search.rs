//! Search behaviour of the embedded tantivy engine over the real dummyjson catalog (194 products).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use shop_search::{ProductDoc, SearchEngine, SearchError, SearchQuery, SearchResults, Sort, TantivyEngine};
use time::OffsetDateTime;
use uuid::Uuid;

/// The dummyjson catalog shipped in `infra/seed`; `SKYSHOP_DATA_DIR` overrides the directory holding it.
fn data_path() -> std::path::PathBuf {
    let dir = std::env::var_os("SKYSHOP_DATA_DIR")
        .map_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../infra/seed"), std::path::PathBuf::from);
    dir.join("dummyjson-products.json")
}

fn category_uuid(name: &str) -> Uuid {
    Uuid::new_v5(&Uuid::NAMESPACE_OID, format!("skyshop:category:{name}").as_bytes())
}

/// Ancestors of a dummyjson category (nearest first): electronics, and fashion → mens / womens.
fn ancestors(category: &str) -> Vec<&'static str> {
    match category {
        "smartphones" | "laptops" | "tablets" | "mobile-accessories" => vec!["electronics"],
        c if c.starts_with("mens-") => vec!["mens", "fashion"],
        c if c.starts_with("womens-") || c == "tops" => vec!["womens", "fashion"],
        _ => vec![],
    }
}

struct Catalog {
    docs: Vec<ProductDoc>,
    /// dummyjson category name of each doc, by id.
    category_name: HashMap<Uuid, String>,
}

impl Catalog {
    fn by_id(&self) -> HashMap<Uuid, &ProductDoc> {
        self.docs.iter().map(|d| (d.id, d)).collect()
    }

    fn active(&self) -> impl Iterator<Item = &ProductDoc> {
        self.docs.iter().filter(|d| d.is_active)
    }
}

fn catalog() -> Catalog {
    let raw: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(data_path()).expect("data set")).expect("json");
    let epoch = OffsetDateTime::from_unix_timestamp(1_735_689_600).expect("2025-01-01");
    let mut category_name = HashMap::new();
    let docs = raw["products"]
        .as_array()
        .expect("products")
        .iter()
        .map(|p| {
            let n = p["id"].as_i64().expect("id");
            let category = p["category"].as_str().expect("category");
            let id = Uuid::new_v5(&Uuid::NAMESPACE_OID, format!("skyshop:product:{}", p["sku"].as_str().expect("sku")).as_bytes());
            category_name.insert(id, category.to_owned());
            let mut path = vec![category_uuid(category)];
            path.extend(ancestors(category).into_iter().map(category_uuid));
            ProductDoc {
                id,
                name: p["title"].as_str().expect("title").to_owned(),
                description: p["description"].as_str().expect("description").to_owned(),
                brand: p["brand"].as_str().map(str::to_owned),
                category_id: category_uuid(category),
                category_path: path,
                tags: p["tags"].as_array().expect("tags").iter().map(|t| t.as_str().expect("tag").to_owned()).collect(),
                price_cents: (p["price"].as_f64().expect("price") * 100.0).round() as i64,
                rating: p["rating"].as_f64().expect("rating"),
                // Spread over distinct times, not in id order, so Newest is a real sort.
                created_at: epoch + time::Duration::minutes((n * 7919) % 10_007),
                is_active: n % 10 != 0,
                is_featured: n % 7 == 0,
                in_stock: p["stock"].as_i64().expect("stock") > 0,
                seller_id: Uuid::new_v5(&Uuid::NAMESPACE_OID, format!("seller:{}", n % 5).as_bytes()),
            }
        })
        .collect();
    Catalog { docs, category_name }
}

async fn indexed() -> (TantivyEngine, Catalog) {
    let catalog = catalog();
    let engine = TantivyEngine::in_memory().expect("engine");
    engine.upsert(catalog.docs.clone()).await.expect("upsert");
    (engine, catalog)
}

async fn search(engine: &dyn SearchEngine, q: SearchQuery) -> SearchResults {
    engine.search(&q).await.expect("search")
}

fn text(q: &str) -> SearchQuery {
    SearchQuery { q: Some(q.into()), limit: 100, ..SearchQuery::default() }
}

fn names(r: &SearchResults, c: &Catalog) -> Vec<String> {
    let by_id = c.by_id();
    r.hits.iter().map(|h| by_id[&h.id].name.clone()).collect()
}

/// All hits of a query, walking every page.
async fn all_hits(engine: &dyn SearchEngine, q: SearchQuery) -> Vec<Uuid> {
    let mut out = Vec::new();
    for page in 1.. {
        let r = search(engine, SearchQuery { page, limit: 50, ..q.clone() }).await;
        if r.hits.is_empty() {
            break;
        }
        out.extend(r.hits.iter().map(|h| h.id));
    }
    out
}

#[tokio::test]
async fn a_typo_in_the_query_still_finds_the_product() {
    let (engine, c) = indexed().await;
    let r = search(&engine, text("iphne")).await;
    let found = names(&r, &c);
    assert!(found.first().is_some_and(|n| n.contains("iPhone")), "{found:?}");
    for expected in ["iPhone 5s", "iPhone 6", "iPhone 13 Pro", "iPhone X"] {
        assert!(found.iter().any(|n| n == expected), "{expected} missing from {found:?}");
    }
    let found = names(&search(&engine, text("mascra")).await, &c);
    assert_eq!(found.first().map(String::as_str), Some("Essence Mascara Lash Princess"), "{found:?}");
    // Transposition counts as one edit; a long word tolerates two.
    let found = names(&search(&engine, text("iphoen")).await, &c);
    assert!(found.first().is_some_and(|n| n.contains("iPhone")), "{found:?}");
    let found = names(&search(&engine, text("smrtwatsh")).await, &c);
    assert!(!found.is_empty(), "two typos in a 9-letter word still match");
    // Words of ≤ 3 chars get no typo tolerance (only exact and prefix matches): "bat" never
    // matches a "bag" or a "hat".
    let r = search(&engine, text("bat")).await;
    let by_id = c.by_id();
    assert!(r.total > 0);
    for hit in &r.hits {
        let d = by_id[&hit.id];
        let haystack = format!("{} {} {} {}", d.name, d.description, d.brand.as_deref().unwrap_or(""), d.tags.join(" ")).to_lowercase();
        let words = haystack.split(|ch: char| !ch.is_alphanumeric());
        assert!(words.into_iter().any(|w| w.starts_with("bat")), "{} has no word starting with 'bat'", d.name);
    }
}

#[tokio::test]
async fn exact_matches_rank_above_fuzzy_neighbours_and_every_word_must_match() {
    let (engine, c) = indexed().await;
    let r = search(&engine, text("iphone")).await;
    let found = names(&r, &c);
    let exact = c.active().filter(|d| d.name.to_lowercase().split_whitespace().any(|w| w == "iphone")).count();
    assert!(exact >= 6);
    assert!(found.len() >= exact);
    assert!(found[..exact].iter().all(|n| n.to_lowercase().contains("iphone")), "{found:?}");
    assert!(r.hits.windows(2).all(|w| w[0].score >= w[1].score), "relevance order");

    // AND across words: "iphone charger" only returns docs matching both words somewhere.
    let found = names(&search(&engine, text("iphone charger")).await, &c);
    assert_eq!(found.first().map(String::as_str), Some("Apple iPhone Charger"), "{found:?}");
    assert!(!found.iter().any(|n| n == "iPhone X"), "{found:?}");
}

#[tokio::test]
async fn name_matches_outrank_description_only_matches() {
    let (engine, c) = indexed().await;
    for word in ["kitchen", "laptop"] {
        let r = search(&engine, text(word)).await;
        let by_id = c.by_id();
        let in_name: Vec<bool> = r.hits.iter().map(|h| by_id[&h.id].name.to_lowercase().contains(word)).collect();
        let description_only = r.hits.iter().filter(|h| !by_id[&h.id].name.to_lowercase().contains(word)).count();
        assert!(description_only > 0, "{word}: the query also matches descriptions");
        let first_description_only = in_name.iter().position(|&n| !n).expect("description-only hit");
        assert!(in_name[first_description_only..].iter().all(|&n| !n), "{word}: name matches first: {:?}", names(&r, &c));
    }
}

#[tokio::test]
async fn brand_filter_is_case_insensitive_and_repeatable() {
    let (engine, c) = indexed().await;
    let apple_active = c.active().filter(|d| d.brand.as_deref() == Some("Apple")).count() as u64;
    let samsung_active = c.active().filter(|d| d.brand.as_deref() == Some("Samsung")).count() as u64;
    assert!(apple_active > 5);
    let q = |brands: &[&str]| SearchQuery { brands: brands.iter().map(|b| b.to_string()).collect(), limit: 100, ..SearchQuery::default() };
    let lower = search(&engine, q(&["apple"])).await;
    let upper = search(&engine, q(&[" APPLE "])).await;
    assert_eq!(lower.total, apple_active);
    assert_eq!(lower, upper);
    assert!(names(&lower, &c).len() as u64 == apple_active);
    let by_id = c.by_id();
    assert!(lower.hits.iter().all(|h| by_id[&h.id].brand.as_deref() == Some("Apple")));
    let both = search(&engine, q(&["Apple", "samsung"])).await;
    assert_eq!(both.total, apple_active + samsung_active, "brands are OR-ed");
    assert_eq!(search(&engine, q(&["appl"])).await.total, 0, "brand filter is exact, not fuzzy");
}

#[tokio::test]
async fn price_range_is_inclusive_on_both_ends() {
    let (engine, c) = indexed().await;
    let (min, max) = (1_000, 5_000);
    let expected: HashSet<Uuid> = c.active().filter(|d| (min..=max).contains(&d.price_cents)).map(|d| d.id).collect();
    let got = all_hits(&engine, SearchQuery { min_price_cents: Some(min), max_price_cents: Some(max), ..SearchQuery::default() }).await;
    assert_eq!(got.iter().copied().collect::<HashSet<_>>(), expected);
    let exact_price = c.docs[0].price_cents;
    let r =
        search(&engine, SearchQuery { min_price_cents: Some(exact_price), max_price_cents: Some(exact_price), ..SearchQuery::default() })
            .await;
    assert!(r.hits.iter().any(|h| h.id == c.docs[0].id), "bounds are inclusive");
    let only_min = all_hits(&engine, SearchQuery { min_price_cents: Some(100_000), ..SearchQuery::default() }).await;
    assert_eq!(only_min.len(), c.active().filter(|d| d.price_cents >= 100_000).count());
    let inverted = engine.search(&SearchQuery { min_price_cents: Some(10), max_price_cents: Some(5), ..SearchQuery::default() }).await;
    assert!(matches!(inverted, Err(SearchError::InvalidQuery(_))));
}

#[tokio::test]
async fn filtering_by_a_parent_category_includes_products_of_its_child_categories() {
    let (engine, c) = indexed().await;
    let children = ["smartphones", "laptops", "tablets", "mobile-accessories"];
    let expected = c.active().filter(|d| children.contains(&c.category_name[&d.id].as_str())).count() as u64;
    let electronics = SearchQuery { categories: vec![category_uuid("electronics")], limit: 100, ..SearchQuery::default() };
    let r = search(&engine, electronics).await;
    assert!(expected > 20);
    assert_eq!(r.total, expected);
    assert!(r.hits.iter().all(|h| children.contains(&c.category_name[&h.id].as_str())));

    // Two levels: fashion → womens → womens-watches.
    let fashion = search(&engine, SearchQuery { categories: vec![category_uuid("fashion")], ..SearchQuery::default() }).await;
    let fashion_expected = c.active().filter(|d| ancestors(&c.category_name[&d.id]).contains(&"fashion")).count() as u64;
    assert_eq!(fashion.total, fashion_expected);
    let leaf = search(&engine, SearchQuery { categories: vec![category_uuid("womens-watches")], ..SearchQuery::default() }).await;
    assert!(leaf.total > 0 && leaf.total < fashion.total);
    // Any-of: two leaf categories.
    let two =
        search(&engine, SearchQuery { categories: vec![category_uuid("tablets"), category_uuid("laptops")], ..SearchQuery::default() })
            .await;
    let two_expected = c.active().filter(|d| ["tablets", "laptops"].contains(&c.category_name[&d.id].as_str())).count() as u64;
    assert_eq!(two.total, two_expected);
}

#[tokio::test]
async fn inactive_products_are_hidden_unless_include_inactive() {
    let (engine, c) = indexed().await;
    let inactive: HashSet<Uuid> = c.docs.iter().filter(|d| !d.is_active).map(|d| d.id).collect();
    assert!(!inactive.is_empty());
    let default = all_hits(&engine, SearchQuery::default()).await;
    assert_eq!(default.len(), c.active().count());
    assert!(default.iter().all(|id| !inactive.contains(id)));
    // "Huawei Matebook X Pro" is inactive in the fixture: text search hides it too.
    // (Two typos allowed in an 8-letter word, so "matebook" also finds the MacBook.)
    let matebook = names(&search(&engine, text("matebook")).await, &c);
    assert!(!matebook.iter().any(|n| n == "Huawei Matebook X Pro"), "{matebook:?}");
    let with_inactive = names(&search(&engine, SearchQuery { include_inactive: true, ..text("matebook") }).await, &c);
    assert_eq!(with_inactive.first().map(String::as_str), Some("Huawei Matebook X Pro"), "{with_inactive:?}");
    let everything = search(&engine, SearchQuery { include_inactive: true, ..SearchQuery::default() }).await;
    assert_eq!(everything.total, c.docs.len() as u64);
    assert_eq!(engine.count().await.expect("count"), c.docs.len() as u64);
}

#[tokio::test]
async fn in_stock_and_featured_filters_return_exactly_the_matching_products() {
    let (engine, c) = indexed().await;
    let by_id = c.by_id();
    for in_stock in [true, false] {
        let got = all_hits(&engine, SearchQuery { in_stock: Some(in_stock), ..SearchQuery::default() }).await;
        assert_eq!(got.len(), c.active().filter(|d| d.in_stock == in_stock).count(), "in_stock={in_stock}");
        assert!(got.iter().all(|id| by_id[id].in_stock == in_stock));
    }
    let featured = all_hits(&engine, SearchQuery { featured: Some(true), ..SearchQuery::default() }).await;
    assert_eq!(featured.len(), c.active().filter(|d| d.is_featured).count());
    assert!(featured.iter().all(|id| by_id[id].is_featured));
    let both = all_hits(&engine, SearchQuery { featured: Some(true), in_stock: Some(true), ..SearchQuery::default() }).await;
    assert_eq!(both.len(), c.active().filter(|d| d.is_featured && d.in_stock).count());
}

#[tokio::test]
async fn tags_filter_matches_any_tag_case_insensitively() {
    let (engine, c) = indexed().await;
    let expected = c.active().filter(|d| d.tags.iter().any(|t| t == "smartphones" || t == "laptops")).count();
    let got = all_hits(&engine, SearchQuery { tags: vec!["SmartPhones".into(), "laptops".into()], ..SearchQuery::default() }).await;
    assert!(expected > 10);
    assert_eq!(got.len(), expected);
}

#[tokio::test]
async fn every_sort_order_really_holds_across_all_pages() {
    let (engine, c) = indexed().await;
    let by_id = c.by_id();
    let sorts = [Sort::Relevance, Sort::Newest, Sort::PriceAsc, Sort::PriceDesc, Sort::NameAsc, Sort::NameDesc, Sort::Rating];
    for sort in sorts {
        let ids = all_hits(&engine, SearchQuery { sort, ..SearchQuery::default() }).await;
        assert_eq!(ids.len(), c.active().count(), "{sort:?}");
        let docs: Vec<&ProductDoc> = ids.iter().map(|id| by_id[id]).collect();
        let ok = docs.windows(2).all(|w| match sort {
            // Relevance without a text query falls back to newest first.
            Sort::Relevance | Sort::Newest => w[0].created_at >= w[1].created_at,
            Sort::PriceAsc => w[0].price_cents <= w[1].price_cents,
            Sort::PriceDesc => w[0].price_cents >= w[1].price_cents,
            Sort::NameAsc => w[0].name.to_lowercase() <= w[1].name.to_lowercase(),
            Sort::NameDesc => w[0].name.to_lowercase() >= w[1].name.to_lowercase(),
            Sort::Rating => w[0].rating >= w[1].rating,
        });
        assert!(ok, "{sort:?} order broken");
    }
    // Sorts combine with a text query: all "apple" matches, cheapest first.
    let r = search(&engine, SearchQuery { sort: Sort::PriceAsc, ..text("apple") }).await;
    assert!(r.total > 5);
    assert!(r.hits.windows(2).all(|w| by_id[&w[0].id].price_cents <= by_id[&w[1].id].price_cents));
}

#[tokio::test]
async fn pagination_total_is_independent_of_the_page_and_pages_partition_the_results() {
    let (engine, c) = indexed().await;
    let limit = 12;
    let base = SearchQuery { sort: Sort::PriceAsc, limit, ..SearchQuery::default() };
    let total = c.active().count() as u64;
    let pages = total.div_ceil(u64::from(limit)) as u32;
    let mut seen = Vec::new();
    for page in 1..=pages {
        let r = search(&engine, SearchQuery { page, ..base.clone() }).await;
        assert_eq!(r.total, total, "page {page}");
        let expected_len = if page < pages { limit as usize } else { (total - u64::from(limit) * u64::from(pages - 1)) as usize };
        assert_eq!(r.hits.len(), expected_len, "page {page}");
        seen.extend(r.hits.iter().map(|h| h.id));
    }
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), total as usize, "no overlap, nothing missing");
    let past = search(&engine, SearchQuery { page: pages + 1, ..base.clone() }).await;
    assert!(past.hits.is_empty());
    assert_eq!(past.total, total);
    let page_zero = search(&engine, SearchQuery { page: 0, ..base.clone() }).await;
    assert_eq!(page_zero, search(&engine, SearchQuery { page: 1, ..base.clone() }).await, "page 0 is page 1");
    let counts_only = search(&engine, SearchQuery { limit: 0, ..base.clone() }).await;
    assert!(counts_only.hits.is_empty());
    assert_eq!(counts_only.total, total);
    let too_deep = engine.search(&SearchQuery { page: 200, limit: 100, ..base }).await;
    assert!(matches!(too_deep, Err(SearchError::InvalidQuery(_))));
}

#[tokio::test]
async fn facets_count_all_matches_not_just_the_page_and_respect_filters() {
    let (engine, c) = indexed().await;
    let r = search(&engine, SearchQuery { limit: 5, ..SearchQuery::default() }).await;
    let active: Vec<&ProductDoc> = c.active().collect();
    assert_eq!(r.hits.len(), 5);
    assert_eq!(r.total, active.len() as u64);
    assert_eq!(r.facets.price_bands.iter().map(|b| b.count).sum::<u64>(), r.total);
    assert_eq!(r.facets.price_bands.len(), 6);
    let under_25 = active.iter().filter(|d| d.price_cents < 2_500).count() as u64;
    assert_eq!(
        (r.facets.price_bands[0].min_cents, r.facets.price_bands[0].max_cents, r.facets.price_bands[0].count),
        (0, Some(2_500), under_25)
    );
    let apple = r.facets.brands.iter().find(|f| f.value == "Apple").expect("apple facet");
    assert_eq!(apple.count, active.iter().filter(|d| d.brand.as_deref() == Some("Apple")).count() as u64);
    assert_eq!(r.facets.brands.first(), Some(apple), "sorted by count desc");
    assert_eq!(r.facets.brands.iter().map(|f| f.count).sum::<u64>(), active.iter().filter(|d| d.brand.is_some()).count() as u64);
    let electronics = category_uuid("electronics").to_string();
    let parent = r.facets.categories.iter().find(|f| f.value == electronics).expect("parent category facet");
    let in_electronics = search(&engine, SearchQuery { categories: vec![category_uuid("electronics")], ..SearchQuery::default() }).await;
    assert_eq!(parent.count, in_electronics.total, "parent counts its descendants");
    let smartphones = category_uuid("smartphones").to_string();
    let leaf = r.facets.categories.iter().find(|f| f.value == smartphones).expect("leaf facet");
    assert!(leaf.count < parent.count);

    // Filters narrow the facets.
    let filtered = search(&engine, SearchQuery { brands: vec!["apple".into()], limit: 1, ..SearchQuery::default() }).await;
    assert_eq!(filtered.facets.brands.len(), 1);
    assert_eq!(filtered.facets.brands[0].count, filtered.total);
    assert_eq!(filtered.facets.price_bands.iter().map(|b| b.count).sum::<u64>(), filtered.total);
    // And the text query too.
    let phones = search(&engine, SearchQuery { limit: 1, ..text("iphone") }).await;
    assert_eq!(phones.facets.price_bands.iter().map(|b| b.count).sum::<u64>(), phones.total);
}

#[tokio::test]
async fn deleting_removes_products_from_results() {
    let (engine, c) = indexed().await;
    let mascara = c.docs.iter().find(|d| d.name == "Essence Mascara Lash Princess").expect("mascara");
    assert_eq!(search(&engine, text("mascara")).await.hits.first().map(|h| h.id), Some(mascara.id));
    engine.delete(vec![mascara.id, Uuid::from_u128(0xdead_beef)]).await.expect("delete");
    let r = search(&engine, SearchQuery { include_inactive: true, ..text("mascara") }).await;
    assert!(r.hits.iter().all(|h| h.id != mascara.id));
    assert_eq!(engine.count().await.expect("count"), c.docs.len() as u64 - 1);
}

#[tokio::test]
async fn an_upsert_replaces_the_product_without_duplicates() {
    let (engine, c) = indexed().await;
    let mut doc = c.docs.iter().find(|d| d.name == "iPhone X").expect("iphone x").clone();
    doc.name = "Zyxwv Renamed Phone".into();
    doc.price_cents = 12_345;
    // The same id twice in one batch keeps the last version.
    let mut earlier = doc.clone();
    earlier.name = "Qwerty Older Phone".into();
    engine.upsert(vec![earlier, doc.clone()]).await.expect("upsert");
    assert_eq!(engine.count().await.expect("count"), c.docs.len() as u64);
    let r = search(&engine, text("zyxwv")).await;
    assert_eq!(r.hits.iter().map(|h| h.id).collect::<Vec<_>>(), vec![doc.id]);
    assert_eq!(search(&engine, text("qwerty")).await.total, 0);
    let all = all_hits(&engine, SearchQuery { include_inactive: true, ..SearchQuery::default() }).await;
    assert_eq!(all.len(), c.docs.len());
    assert_eq!(all.iter().collect::<HashSet<_>>().len(), c.docs.len(), "no duplicate ids");
    let priced =
        search(&engine, SearchQuery { min_price_cents: Some(12_345), max_price_cents: Some(12_345), ..SearchQuery::default() }).await;
    assert_eq!(priced.hits.iter().map(|h| h.id).collect::<Vec<_>>(), vec![doc.id]);
    // Deactivating via upsert hides it.
    engine.upsert(vec![ProductDoc { is_active: false, ..doc.clone() }]).await.expect("upsert");
    assert_eq!(search(&engine, text("zyxwv")).await.total, 0);
}

#[tokio::test]
async fn a_write_is_searchable_as_soon_as_the_call_returns() {
    let catalog = catalog();
    let engine: Arc<dyn SearchEngine> = Arc::new(TantivyEngine::in_memory().expect("engine"));
    for (i, doc) in catalog.docs.iter().take(20).enumerate() {
        engine.upsert(vec![doc.clone()]).await.expect("upsert");
        let r = engine.search(&SearchQuery { include_inactive: true, limit: 100, ..SearchQuery::default() }).await.expect("search");
        assert_eq!(r.total, i as u64 + 1);
        assert!(r.hits.iter().any(|h| h.id == doc.id));
    }
}

#[tokio::test]
async fn a_persistent_index_survives_reopening() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("products");
    let c = catalog();
    {
        let engine = TantivyEngine::open(&path).expect("open");
        engine.upsert(c.docs.clone()).await.expect("upsert");
    }
    let engine = TantivyEngine::open(&path).expect("reopen");
    assert_eq!(engine.count().await.expect("count"), c.docs.len() as u64);
    let found = names(&search(&engine, text("mascra")).await, &c);
    assert_eq!(found.first().map(String::as_str), Some("Essence Mascara Lash Princess"));
}

/// Throughput on a large synthetic catalog. Not part of the normal run (it needs an optimised
/// build): `SKYSHOP_SEARCH_BENCH_DOCS=1000000 cargo nextest run -p shop-search
/// --cargo-profile bench-local --run-ignored only throughput`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: run with an optimised profile"]
async fn throughput_over_a_synthetic_catalog() {
    let n: usize = std::env::var("SKYSHOP_SEARCH_BENCH_DOCS").ok().and_then(|v| v.parse().ok()).unwrap_or(200_000);
    let c = catalog();
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = Arc::new(TantivyEngine::open(dir.path()).expect("open"));
    let started = std::time::Instant::now();
    let docs: Vec<ProductDoc> = shop_search::synthetic(&c.docs, n).collect();
    for chunk in docs.chunks(100_000) {
        engine.upsert(chunk.to_vec()).await.expect("upsert");
    }
    println!("indexed {n} docs in {:?} ({} segments)", started.elapsed(), engine.segment_count());
    if std::env::var_os("SKYSHOP_SEARCH_BENCH_COMPACT").is_some() {
        let started = std::time::Instant::now();
        engine.compact().await.unwrap_or_else(|e| panic!("compact: {e}"));
        println!("compacted to {} segment(s) in {:?}", engine.segment_count(), started.elapsed());
    }
    let terms = ["wireless", "bluetooth", "cotton", "premium", "pro", "iphne", "mascara", "laptop", "watch", "shoes"];
    let brands = ["Apple", "samsung", "Rolex", "Dell"];
    let queries: Vec<SearchQuery> = (0..400)
        .map(|i| match i % 4 {
            0 => text(terms[i % terms.len()]),
            1 => SearchQuery { brands: vec![brands[i % brands.len()].into()], limit: 20, ..SearchQuery::default() },
            2 => SearchQuery {
                min_price_cents: Some((i as i64 % 50) * 1_000),
                max_price_cents: Some((i as i64 % 50) * 1_000 + 20_000),
                limit: 20,
                ..SearchQuery::default()
            },
            _ => SearchQuery {
                brands: vec!["apple".into()],
                min_price_cents: Some(5_000),
                max_price_cents: Some(200_000),
                sort: Sort::PriceAsc,
                ..text(terms[i % terms.len()])
            },
        })
        .map(|q| SearchQuery { limit: 20, ..q })
        .collect();
    let queries = Arc::new(queries);
    let started = std::time::Instant::now();
    let tasks: Vec<_> = (0..4)
        .map(|t| {
            let (engine, queries) = (Arc::clone(&engine), Arc::clone(&queries));
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                for round in 0..3 {
                    for (i, q) in queries.iter().enumerate() {
                        if (i + round + t) % 4 != 0 {
                            continue;
                        }
                        let t0 = std::time::Instant::now();
                        let r = engine.search(q).await.expect("search");
                        latencies.push((t0.elapsed(), i % 4, r.total));
                    }
                }
                latencies
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.expect("task"));
    }
    let wall = started.elapsed();
    latencies.sort();
    for kind in 0..4 {
        let of_kind: Vec<_> = latencies.iter().filter(|l| l.1 == kind).collect();
        let avg_total = of_kind.iter().map(|l| l.2).sum::<u64>() / of_kind.len().max(1) as u64;
        let p95 = of_kind[(of_kind.len() * 95 / 100).min(of_kind.len() - 1)].0;
        let label = ["text", "brand", "price range", "text+brand+price+sort"][kind];
        println!("{label}: {} queries, avg matches {avg_total}, p50 {:?}, p95 {p95:?}", of_kind.len(), of_kind[of_kind.len() / 2].0);
    }
    let latencies: Vec<std::time::Duration> = latencies.into_iter().map(|l| l.0).collect();
    let pct = |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];
    println!(
        "{} queries in {wall:?}: {:.0} q/s, p50 {:?}, p95 {:?}, p99 {:?}, max {:?}",
        latencies.len(),
        latencies.len() as f64 / wall.as_secs_f64(),
        pct(0.50),
        pct(0.95),
        pct(0.99),
        latencies[latencies.len() - 1]
    );
}

// ---- OpenSearch engine: request building and response parsing ---------------------------------
//
// No OpenSearch server can run on this machine; the fixtures under `tests/fixtures/opensearch/` are
// response bodies in the format documented by OpenSearch (search with `terms`/`range`
// aggregations, bulk, count, create index), served by a local HTTP server.

mod opensearch {
    use std::sync::{Arc, Mutex};

    use axum::Router;
    use axum::body::Bytes;
    use axum::extract::State;
    use axum::http::{Method, StatusCode, Uri};
    use serde_json::{Value, json};
    use shop_search::opensearch_engine::{check_bulk_response, index_definition, parse_search_response, search_body};
    use shop_search::{OpenSearchEngine, SearchEngine, SearchError, SearchQuery, Sort};
    use uuid::Uuid;

    const SEARCH: &str = include_str!("fixtures/opensearch/search.json");
    const BULK_OK: &str = include_str!("fixtures/opensearch/bulk_ok.json");
    const BULK_ERROR: &str = include_str!("fixtures/opensearch/bulk_error.json");
    const COUNT: &str = include_str!("fixtures/opensearch/count.json");
    const CREATE_INDEX: &str = include_str!("fixtures/opensearch/create_index.json");
    const BAD_ID: &str = "5b0f3c1d-8e2a-5f4b-b1c7-3d9e8a2f4c22";

    #[derive(Debug, Clone)]
    struct Request {
        method: Method,
        uri: String,
        body: String,
    }

    type Recorded = Arc<Mutex<Vec<Request>>>;

    async fn fake_opensearch(
        State(recorded): State<Recorded>,
        method: Method,
        uri: Uri,
        body: Bytes,
    ) -> (StatusCode, [(&'static str, &'static str); 1], &'static str) {
        let body = String::from_utf8_lossy(&body).into_owned();
        let path = uri.path().to_owned();
        recorded.lock().expect("lock").push(Request { method: method.clone(), uri: uri.to_string(), body: body.clone() });
        let (status, response) = match (method.as_str(), path.as_str()) {
            ("HEAD", "/products") => (StatusCode::NOT_FOUND, ""),
            ("PUT", "/products") => (StatusCode::OK, CREATE_INDEX),
            (_, "/products/_bulk") if body.contains(BAD_ID) => (StatusCode::OK, BULK_ERROR),
            (_, "/products/_bulk") => (StatusCode::OK, BULK_OK),
            (_, "/products/_search") => (StatusCode::OK, SEARCH),
            (_, "/products/_count") => (StatusCode::OK, COUNT),
            _ => (StatusCode::BAD_REQUEST, r#"{"error":"unexpected request"}"#),
        };
        (status, [("content-type", "application/json")], response)
    }

    async fn server() -> (String, Recorded) {
        let recorded = Recorded::default();
        let app = Router::new().fallback(fake_opensearch).with_state(Arc::clone(&recorded));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move { axum::serve(listener, app).await });
        (format!("http://{addr}"), recorded)
    }

    fn ndjson(body: &str) -> Vec<Value> {
        body.lines().filter(|l| !l.trim().is_empty()).map(|l| serde_json::from_str(l).expect("ndjson line")).collect()
    }

    #[test]
    fn opensearch_search_body_has_fuzzy_words_filters_sort_window_and_facets() {
        let q = SearchQuery {
            q: Some("iPhone  chargr iphone".into()),
            categories: vec![Uuid::from_u128(7)],
            brands: vec![" APPLE ".into()],
            min_price_cents: Some(1_000),
            max_price_cents: Some(50_000),
            tags: vec!["SmartPhones".into()],
            in_stock: Some(true),
            featured: Some(false),
            sort: Sort::PriceAsc,
            page: 3,
            limit: 10,
            ..SearchQuery::default()
        };
        let body = search_body(&q).expect("body");
        assert_eq!((body["from"].clone(), body["size"].clone()), (json!(20), json!(10)));
        assert_eq!(body["track_total_hits"], json!(true));
        let must = body["query"]["bool"]["must"].as_array().expect("must");
        assert_eq!(must.len(), 2, "one clause per distinct word: {must:?}");
        assert_eq!(must[0]["multi_match"]["query"], json!("iphone"));
        assert_eq!(must[1]["multi_match"]["query"], json!("chargr"));
        assert_eq!(must[1]["multi_match"]["fuzziness"], json!("AUTO:4,8"));
        assert_eq!(must[1]["multi_match"]["fields"][0], json!("name^3"));
        let filter = body["query"]["bool"]["filter"].as_array().expect("filter");
        for expected in [
            json!({ "term": { "is_active": true } }),
            json!({ "term": { "in_stock": true } }),
            json!({ "term": { "is_featured": false } }),
            json!({ "terms": { "category_path": [Uuid::from_u128(7).to_string()] } }),
            json!({ "terms": { "brand.kw": ["apple"] } }),
            json!({ "terms": { "tags": ["smartphones"] } }),
            json!({ "range": { "price_cents": { "gte": 1_000, "lte": 50_000 } } }),
        ] {
            assert!(filter.contains(&expected), "missing {expected} in {filter:?}");
        }
        assert_eq!(body["sort"], json!([{ "price_cents": "asc" }]));
        let ranges = body["aggs"]["price_bands"]["range"]["ranges"].as_array().expect("ranges");
        assert_eq!(ranges.first(), Some(&json!({ "from": 0, "to": 2_500 })));
        assert_eq!(ranges.last(), Some(&json!({ "from": 50_000 })));
        assert_eq!(ranges.len(), 6);
        assert_eq!(body["aggs"]["categories"]["terms"]["field"], json!("category_path"));

        // No text: no must clauses and Relevance falls back to newest; include_inactive drops the filter.
        let plain = search_body(&SearchQuery { include_inactive: true, ..SearchQuery::default() }).expect("body");
        assert_eq!(plain["query"]["bool"]["must"], json!([]));
        assert_eq!(plain["query"]["bool"]["filter"], json!([]));
        assert_eq!(plain["sort"], json!([{ "created_at": "desc" }]));
        let relevance = search_body(&SearchQuery { q: Some("shoe".into()), ..SearchQuery::default() }).expect("body");
        assert_eq!(relevance["sort"][0], json!("_score"));
        assert!(matches!(search_body(&SearchQuery { page: 500, limit: 100, ..SearchQuery::default() }), Err(SearchError::InvalidQuery(_))));
        // The mapping uses the same analyzer chain as the old platform's index and keyword facets.
        let def = index_definition();
        assert_eq!(def["settings"]["analysis"]["analyzer"]["product_analyzer"]["filter"], json!(["lowercase", "asciifolding"]));
        assert_eq!(def["mappings"]["properties"]["brand"]["fields"]["kw"]["normalizer"], json!("lowercase_ascii"));
    }

    #[test]
    fn opensearch_responses_parse_into_hits_total_and_merged_facets() {
        let body: Value = serde_json::from_str(SEARCH).expect("fixture");
        let r = parse_search_response(&body, true).expect("parse");
        assert_eq!(r.total, 42);
        assert_eq!(r.hits.len(), 2);
        assert_eq!(r.hits[0].id, Uuid::parse_str("0f1c7b4e-2f7a-5d0e-9a43-7c2b9f0e6a11").expect("uuid"));
        assert!((r.hits[0].score - 11.283_742).abs() < 1e-4);
        assert_eq!(r.facets.brands.iter().map(|f| (f.value.as_str(), f.count)).collect::<Vec<_>>(), vec![("Apple", 15), ("Samsung", 5)]);
        assert_eq!(r.facets.categories[0].count, 30);
        assert_eq!(r.facets.price_bands.iter().map(|b| b.count).collect::<Vec<_>>(), vec![3, 4, 5, 10, 8, 12]);
        assert_eq!(r.facets.price_bands[5].max_cents, None);
        let unscored = parse_search_response(&body, false).expect("parse");
        assert!(unscored.hits.iter().all(|h| h.score == 0.0));
        assert!(parse_search_response(&json!({ "error": "x" }), true).is_err());

        assert!(check_bulk_response(&serde_json::from_str(BULK_OK).expect("fixture")).is_ok(), "deleting a missing id is fine");
        let err = check_bulk_response(&serde_json::from_str(BULK_ERROR).expect("fixture")).expect_err("item error");
        assert!(err.to_string().contains("mapper_parsing_exception"), "{err}");
    }

    #[tokio::test]
    async fn opensearch_engine_talks_to_a_local_http_server() {
        let (url, recorded) = server().await;
        let engine = OpenSearchEngine::with_url(&url, "products").expect("engine");
        engine.ensure_index().await.expect("ensure index");
        let engine: Arc<dyn SearchEngine> = Arc::new(engine);

        let catalog = super::catalog();
        let docs: Vec<_> = catalog.docs.iter().take(3).cloned().collect();
        engine.upsert(docs.clone()).await.expect("upsert");
        engine.delete(vec![docs[0].id]).await.expect("delete");
        let q = SearchQuery { q: Some("iphne".into()), brands: vec!["Apple".into()], ..SearchQuery::default() };
        let r = engine.search(&q).await.expect("search");
        assert_eq!(r.total, 42);
        assert_eq!(engine.count().await.expect("count"), 194);
        let mut bad = docs[1].clone();
        bad.id = Uuid::parse_str(BAD_ID).expect("uuid");
        let err = engine.upsert(vec![bad]).await.expect_err("item error surfaces");
        assert!(matches!(err, SearchError::Engine(_)));

        let requests = recorded.lock().expect("lock").clone();
        let summary: Vec<(String, String)> =
            requests.iter().map(|r| (r.method.to_string(), r.uri.split('?').next().unwrap_or_default().to_owned())).collect();
        assert_eq!(
            summary,
            [
                ("HEAD", "/products"),
                ("PUT", "/products"),
                ("POST", "/products/_bulk"),
                ("POST", "/products/_bulk"),
                ("POST", "/products/_search"),
                ("GET", "/products/_count"),
                ("POST", "/products/_bulk")
            ]
            .map(|(m, p)| (m.to_owned(), p.to_owned()))
        );
        let create: Value = serde_json::from_str(&requests[1].body).expect("json");
        assert_eq!(create, index_definition());
        assert!(requests[2].uri.contains("refresh=wait_for"), "writes wait for visibility: {}", requests[2].uri);
        let lines = ndjson(&requests[2].body);
        assert_eq!(lines.len(), 6);
        assert_eq!(lines[0], json!({ "index": { "_id": docs[0].id.to_string() } }));
        assert_eq!(lines[1]["name"], json!(docs[0].name));
        assert_eq!(lines[1]["price_cents"], json!(docs[0].price_cents));
        assert_eq!(ndjson(&requests[3].body), vec![json!({ "delete": { "_id": docs[0].id.to_string() } })]);
        let sent: Value = serde_json::from_str(&requests[4].body).expect("json");
        assert_eq!(sent, search_body(&q).expect("body"));
    }
}
