//! Search behaviour of the embedded tantivy engine over the real dummyjson catalog (194 products).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use shop_core::time::Timestamp;
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
    let epoch = Timestamp::from(OffsetDateTime::from_unix_timestamp(1_735_689_600).expect("2025-01-01"));
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
                source: None,
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
async fn a_word_the_index_knows_matches_without_typo_tolerance_and_a_typo_of_it_still_finds_it() {
    let (engine, c) = indexed().await;
    let by_id = c.by_id();
    let words_of = |id: &Uuid| {
        let d = by_id[id];
        format!("{} {} {} {}", d.name, d.description, d.brand.as_deref().unwrap_or(""), d.tags.join(" "))
            .to_lowercase()
            .split(|ch: char| !ch.is_alphanumeric())
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    // "hand" and "fork" are words of the data set, one edit away from "and" and "for", which
    // most descriptions hold: a known word is matched exactly and by prefix only.
    for (word, neighbour) in [("hand", "and"), ("fork", "for")] {
        let with_neighbour = c.active().filter(|d| d.description.to_lowercase().split_whitespace().any(|w| w == neighbour)).count();
        assert!(with_neighbour > 100, "{neighbour}: {with_neighbour} products");
        let ids = all_hits(&engine, text(word)).await;
        assert!(!ids.is_empty(), "{word} finds its products");
        assert!(ids.len() < with_neighbour / 4, "{word}: {} hits", ids.len());
        for id in &ids {
            assert!(words_of(id).iter().any(|w| w.starts_with(word)), "{} has no word starting with {word:?}", by_id[id].name);
        }
        // The same word with a typo is unknown to the index: it finds the products holding the
        // word again.
        let typo: String = format!("{}{}{}", &word[..1], &word[2..3], &word[1..2]) + &word[3..];
        let typo_ids = all_hits(&engine, text(&typo)).await;
        let holding: Vec<&Uuid> = ids.iter().filter(|id| words_of(id).iter().any(|w| w == word)).collect();
        assert!(!holding.is_empty(), "{word}");
        for id in holding {
            assert!(typo_ids.contains(id), "{typo:?} misses {}", by_id[id].name);
        }
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

#[tokio::test]
async fn each_hit_of_the_page_carries_its_stored_source() {
    let mut c = catalog();
    for (i, d) in c.docs.iter_mut().enumerate() {
        // Every third product (but the mascara) has no source.
        d.source =
            (i % 3 != 0 || d.name.contains("Mascara")).then(|| serde_json::json!({ "id": d.id, "name": d.name, "n": i }).to_string());
    }
    let engine = TantivyEngine::in_memory().expect("engine");
    engine.upsert(c.docs.clone()).await.expect("upsert");
    let by_id = c.by_id();
    let mut with_source = 0;
    for sort in [Sort::Relevance, Sort::PriceAsc, Sort::NameDesc] {
        let r = search(&engine, SearchQuery { sort, include_inactive: true, limit: 100, ..SearchQuery::default() }).await;
        assert_eq!(r.hits.len(), 100);
        for hit in &r.hits {
            assert_eq!(hit.source, by_id[&hit.id].source, "{sort:?}");
            with_source += usize::from(hit.source.is_some());
        }
    }
    assert!(with_source > 150, "most hits have a source: {with_source}");
    let r = search(&engine, text("mascara")).await;
    let first = &r.hits[0];
    let parsed: serde_json::Value = serde_json::from_str(first.source.as_deref().expect("source")).expect("json");
    assert_eq!(parsed["name"], "Essence Mascara Lash Princess");
    // An upsert replaces the source; the hit count stays.
    let mut doc = by_id[&first.id].clone();
    doc.source = Some(r#"{"replaced":true}"#.into());
    engine.upsert(vec![doc]).await.expect("upsert");
    let r = search(&engine, text("mascara")).await;
    assert_eq!(r.hits[0].source.as_deref(), Some(r#"{"replaced":true}"#));
}

#[tokio::test]
async fn a_second_engine_reads_the_directory_while_the_first_holds_the_writer_and_cannot_write() {
    let dir = tempfile::tempdir().expect("tempdir");
    let c = catalog();
    let writer = TantivyEngine::open(dir.path()).expect("open");
    // Opening takes no lock, so opening twice before any write works too.
    let reader = TantivyEngine::open(dir.path()).expect("second open");
    writer.upsert(c.docs[..100].to_vec()).await.expect("first engine writes");
    let second = TantivyEngine::open(dir.path()).expect("open beside a writer");
    assert_eq!(second.count().await.expect("count"), 100);
    let found = names(&search(&second, text("mascra")).await, &c);
    assert_eq!(found.first().map(String::as_str), Some("Essence Mascara Lash Princess"));

    let err = second.upsert(c.docs[100..].to_vec()).await.expect_err("the writer lock is taken");
    let SearchError::Engine(message) = &err else { panic!("expected an engine error, got {err:?}") };
    assert!(message.contains("writer lock"), "{message}");
    assert!(matches!(second.delete(vec![c.docs[0].id]).await, Err(SearchError::Engine(_))));
    // The first engine's later writes reach the readers (they reload on commit).
    writer.upsert(c.docs[100..].to_vec()).await.expect("writer keeps writing");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while reader.count().await.expect("count") != c.docs.len() as u64 {
        assert!(std::time::Instant::now() < deadline, "the reader never saw the commit");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // Once the writing engine is gone, the other one can take the lock.
    drop(writer);
    second.delete(vec![c.docs[0].id]).await.expect("lock released");
    assert_eq!(second.count().await.expect("count"), c.docs.len() as u64 - 1);
    // `shared` hands out one engine per directory.
    let shared = TantivyEngine::shared(dir.path()).expect("shared");
    assert_eq!(shared.count().await.expect("count"), c.docs.len() as u64 - 1);
}

#[tokio::test]
async fn a_write_after_a_cached_query_changes_the_next_result() {
    let (engine, c) = indexed().await;
    let queries = [
        text("mascara"),
        SearchQuery { brands: vec!["essence".into()], ..SearchQuery::default() },
        SearchQuery { sort: Sort::PriceAsc, ..text("essence") },
        SearchQuery { min_price_cents: Some(500), max_price_cents: Some(1_500), ..SearchQuery::default() },
        SearchQuery { tags: vec!["beauty".into()], ..SearchQuery::default() },
    ];
    let before: Vec<SearchResults> = futures_of(&engine, &queries).await;
    // Asked twice: the second answer (from the caches) is the same.
    assert_eq!(before, futures_of(&engine, &queries).await);
    let template = c.docs.iter().find(|d| d.name == "Essence Mascara Lash Princess").expect("mascara");
    let new = ProductDoc {
        id: Uuid::from_u128(0xC0FFEE),
        name: "Essence Mascara Volume Booster".into(),
        price_cents: 999,
        source: Some("{}".into()),
        ..template.clone()
    };
    engine.upsert(vec![new.clone()]).await.expect("upsert");
    let after = futures_of(&engine, &queries).await;
    for (q, (b, a)) in queries.iter().zip(before.iter().zip(&after)) {
        assert_eq!(a.total, b.total + 1, "{q:?}");
        assert!(a.hits.iter().any(|h| h.id == new.id), "{q:?}");
        let count = |r: &SearchResults| r.facets.brands.iter().find(|f| f.value == "Essence").map_or(0, |f| f.count);
        assert_eq!(count(a), count(b) + 1, "{q:?}");
    }
    // A delete too, and a replacement moving a product out of a price range.
    engine.delete(vec![new.id]).await.expect("delete");
    assert_eq!(futures_of(&engine, &queries).await, before);
    let moved = ProductDoc { price_cents: 1_000_000, ..template.clone() };
    engine.upsert(vec![moved]).await.expect("upsert");
    let r = search(&engine, queries[3].clone()).await;
    assert_eq!(r.total, before[3].total - u64::from((500..=1_500).contains(&template.price_cents)));
}

async fn futures_of(engine: &TantivyEngine, queries: &[SearchQuery]) -> Vec<SearchResults> {
    let mut out = Vec::new();
    for q in queries {
        out.push(search(engine, q.clone()).await);
    }
    out
}

/// What a query must return, computed from the catalog: the matching products.
fn expected_matches<'a>(docs: &'a [ProductDoc], q: &SearchQuery) -> Vec<&'a ProductDoc> {
    let lower = |v: &[String]| v.iter().map(|s| s.trim().to_lowercase()).collect::<Vec<_>>();
    let (brands, tags) = (lower(&q.brands), lower(&q.tags));
    docs.iter()
        .filter(|d| q.include_inactive || d.is_active)
        .filter(|d| q.in_stock.is_none_or(|v| d.in_stock == v))
        .filter(|d| q.featured.is_none_or(|v| d.is_featured == v))
        .filter(|d| q.min_price_cents.is_none_or(|m| d.price_cents >= m) && q.max_price_cents.is_none_or(|m| d.price_cents <= m))
        .filter(|d| brands.is_empty() || d.brand.as_ref().is_some_and(|b| brands.contains(&b.to_lowercase())))
        .filter(|d| tags.is_empty() || d.tags.iter().any(|t| tags.contains(&t.to_lowercase())))
        .filter(|d| q.categories.is_empty() || d.category_path.iter().any(|c| q.categories.contains(c)))
        .collect()
}

/// The facets of `r` are those of `matches`: brands (case variants merged), categories with
/// their ancestors, price bands.
fn assert_facets(r: &SearchResults, matches: &[&ProductDoc], q: &SearchQuery) {
    let mut brands: HashMap<String, u64> = HashMap::new();
    let mut categories: HashMap<String, u64> = HashMap::new();
    let mut bands = [0u64; 6];
    for d in matches {
        if let Some(b) = &d.brand {
            *brands.entry(b.to_lowercase()).or_default() += 1;
        }
        for cat in &d.category_path {
            *categories.entry(cat.to_string()).or_default() += 1;
        }
        bands[shop_search::price_band_index(d.price_cents)] += 1;
    }
    let got_brands: HashMap<String, u64> = r.facets.brands.iter().map(|f| (f.value.to_lowercase(), f.count)).collect();
    assert_eq!(got_brands, brands, "{q:?}");
    let got_categories: HashMap<String, u64> = r.facets.categories.iter().map(|f| (f.value.clone(), f.count)).collect();
    assert_eq!(got_categories, categories, "{q:?}");
    assert_eq!(r.facets.price_bands.iter().map(|b| b.count).collect::<Vec<_>>(), bands, "{q:?}");
}

#[tokio::test]
async fn filters_facets_and_sorts_agree_with_a_direct_computation_over_many_segments_with_deletes() {
    let mut c = catalog();
    let engine = TantivyEngine::in_memory().expect("engine");
    // Four commits (four segments), then replacements and deletes that leave deleted documents
    // behind in the older segments.
    for chunk in c.docs.chunks(50) {
        engine.upsert(chunk.to_vec()).await.expect("upsert");
    }
    for d in c.docs.iter_mut().step_by(7) {
        d.price_cents += 1_234;
        d.is_active = !d.is_active;
    }
    engine.upsert(c.docs.iter().step_by(7).cloned().collect()).await.expect("upsert");
    let gone: Vec<Uuid> = c.docs.iter().skip(3).step_by(11).map(|d| d.id).collect();
    engine.delete(gone.clone()).await.expect("delete");
    c.docs.retain(|d| !gone.contains(&d.id));
    assert!(engine.segment_count() > 1, "several segments");

    let base = [
        SearchQuery::default(),
        SearchQuery { include_inactive: true, ..SearchQuery::default() },
        SearchQuery { brands: vec!["APPLE".into(), "samsung".into()], ..SearchQuery::default() },
        SearchQuery { min_price_cents: Some(1_000), max_price_cents: Some(20_000), ..SearchQuery::default() },
        SearchQuery { min_price_cents: Some(2_500), max_price_cents: Some(2_500), ..SearchQuery::default() },
        SearchQuery { categories: vec![category_uuid("electronics")], in_stock: Some(true), ..SearchQuery::default() },
        SearchQuery { categories: vec![category_uuid("laptops"), category_uuid("fragrances")], ..SearchQuery::default() },
        SearchQuery { featured: Some(true), max_price_cents: Some(100_000), ..SearchQuery::default() },
        SearchQuery { tags: vec!["Beauty".into(), "fruits".into()], min_price_cents: Some(100), ..SearchQuery::default() },
        SearchQuery { brands: vec!["apple".into()], featured: Some(false), in_stock: Some(true), ..SearchQuery::default() },
    ];
    let sorts = [Sort::Newest, Sort::PriceAsc, Sort::PriceDesc, Sort::NameAsc, Sort::NameDesc, Sort::Rating];
    for caching in [true, false] {
        engine.set_result_caching(caching);
        for (i, q) in base.iter().enumerate() {
            let matches = expected_matches(&c.docs, q);
            for (j, &sort) in sorts.iter().enumerate() {
                let limit = [7, 20, 100][(i + j) % 3];
                let q = SearchQuery { sort, limit, page: 1 + (j % 2) as u32, ..q.clone() };
                let r = search(&engine, q.clone()).await;
                assert_eq!(r.total, matches.len() as u64, "{q:?}");
                assert_facets(&r, &matches, &q);
                // The page: the right sort keys, all from the matches.
                let key = |d: &ProductDoc| -> (i64, f64, String) {
                    match sort {
                        Sort::Relevance | Sort::Newest => (-d.created_at.unix_timestamp(), 0.0, String::new()),
                        Sort::PriceAsc => (d.price_cents, 0.0, String::new()),
                        Sort::PriceDesc => (-d.price_cents, 0.0, String::new()),
                        Sort::NameAsc => (0, 0.0, d.name.to_lowercase()),
                        Sort::NameDesc => (0, 0.0, String::new()),
                        Sort::Rating => (0, -d.rating, String::new()),
                    }
                };
                let mut expected: Vec<&ProductDoc> = matches.clone();
                expected.sort_by(|a, b| match sort {
                    Sort::NameDesc => b.name.to_lowercase().cmp(&a.name.to_lowercase()),
                    _ => key(a).partial_cmp(&key(b)).expect("comparable"),
                });
                let from = ((q.page - 1) * q.limit) as usize;
                let page: Vec<&ProductDoc> = expected.iter().skip(from).take(q.limit as usize).copied().collect();
                let by_id: HashMap<Uuid, &ProductDoc> = matches.iter().map(|d| (d.id, *d)).collect();
                assert_eq!(r.hits.len(), page.len(), "{q:?}");
                for (hit, want) in r.hits.iter().zip(&page) {
                    let got = by_id.get(&hit.id).unwrap_or_else(|| panic!("{} is not a match of {q:?}", hit.id));
                    let same = match sort {
                        Sort::NameAsc | Sort::NameDesc => got.name.to_lowercase() == want.name.to_lowercase(),
                        _ => key(got) == key(want),
                    };
                    assert!(same, "{q:?}: {} where {} belongs", got.name, want.name);
                }
            }
        }
    }
}

#[tokio::test]
async fn the_facets_of_text_queries_with_many_matches_agree_with_a_direct_computation() {
    // Ten copies of the data set over three brands (and none), three categories and four flag
    // combinations: few groups for many documents, so the segments keep their price-sorted groups
    // and a text query with many matches counts its facets per (group, price band) slot; deletes
    // leave dead documents behind.
    let base = catalog();
    let cats = ["smartphones", "laptops", "fragrances"];
    let mut docs = Vec::new();
    for copy in 0..10usize {
        for (i, d) in base.docs.iter().enumerate() {
            let mut d = d.clone();
            d.id = Uuid::new_v5(&d.id, &copy.to_le_bytes());
            d.brand = [Some("Apple"), Some("ESSENCE"), Some("essence"), None][(i + copy) % 4].map(str::to_owned);
            let cat = cats[(i / 2 + copy) % 3];
            d.category_id = category_uuid(cat);
            d.category_path = std::iter::once(cat).chain(ancestors(cat)).map(category_uuid).collect();
            d.is_active = (i + copy) % 5 != 0;
            d.in_stock = (i + 2 * copy) % 3 != 0;
            d.is_featured = false;
            docs.push(d);
        }
    }
    let engine = TantivyEngine::in_memory().expect("engine");
    for chunk in docs.chunks(700) {
        engine.upsert(chunk.to_vec()).await.expect("upsert");
    }
    let gone: Vec<Uuid> = docs.iter().skip(1).step_by(13).map(|d| d.id).collect();
    engine.delete(gone.clone()).await.expect("delete");
    docs.retain(|d| !gone.contains(&d.id));
    let by_id: HashMap<Uuid, &ProductDoc> = docs.iter().map(|d| (d.id, d)).collect();

    let filters = [
        SearchQuery::default(),
        SearchQuery { include_inactive: true, ..SearchQuery::default() },
        SearchQuery { brands: vec!["essence".into()], in_stock: Some(true), ..SearchQuery::default() },
        SearchQuery { categories: vec![category_uuid("electronics")], ..SearchQuery::default() },
        SearchQuery { tags: vec!["beauty".into(), "laptops".into()], in_stock: Some(false), ..SearchQuery::default() },
        SearchQuery { min_price_cents: Some(1_000), max_price_cents: Some(50_000), ..SearchQuery::default() },
    ];
    let mut largest = 0;
    for caching in [true, false] {
        engine.set_result_caching(caching);
        for words in ["the", "with", "and", "the with", "for the and"] {
            let matched: HashSet<Uuid> =
                all_hits(&engine, SearchQuery { include_inactive: true, ..text(words) }).await.into_iter().collect();
            largest = largest.max(matched.len());
            for f in &filters {
                let q = SearchQuery { q: Some(words.into()), limit: 5, ..f.clone() };
                let expected: Vec<&ProductDoc> = expected_matches(&docs, f).into_iter().filter(|d| matched.contains(&d.id)).collect();
                let r = search(&engine, q.clone()).await;
                assert_eq!(r.total, expected.len() as u64, "{q:?}");
                assert_facets(&r, &expected, &q);
                assert!(r.hits.iter().all(|h| by_id.contains_key(&h.id) && matched.contains(&h.id)), "{q:?}");
                // By price: many matches make the scan of the price order cheapest, which asks
                // each document whether it is a text match.
                let cheapest = search(&engine, SearchQuery { sort: Sort::PriceAsc, ..q.clone() }).await;
                let mut prices: Vec<i64> = expected.iter().map(|d| d.price_cents).collect();
                prices.sort_unstable();
                prices.truncate(5);
                assert!(cheapest.hits.iter().all(|h| matched.contains(&h.id)), "{q:?}");
                assert_eq!(cheapest.hits.iter().map(|h| by_id[&h.id].price_cents).collect::<Vec<_>>(), prices, "{q:?}");
            }
        }
    }
    assert!(largest >= 1_000, "some queries match many documents: {largest}");
}

#[tokio::test]
async fn a_text_query_with_filters_returns_exactly_the_filtered_text_matches() {
    let (engine, c) = indexed().await;
    let by_id = c.by_id();
    let filters = [
        SearchQuery { brands: vec!["apple".into()], ..SearchQuery::default() },
        SearchQuery { min_price_cents: Some(1_000), max_price_cents: Some(80_000), in_stock: Some(true), ..SearchQuery::default() },
        SearchQuery { categories: vec![category_uuid("fashion")], ..SearchQuery::default() },
        SearchQuery { tags: vec!["smartphones".into()], featured: Some(false), ..SearchQuery::default() },
    ];
    for (word, caching) in [("iphone", true), ("watch", false), ("essence", true), ("chargr", false), ("iphone", false)] {
        engine.set_result_caching(caching);
        let unfiltered = all_hits(&engine, SearchQuery { include_inactive: true, ..text(word) }).await;
        assert!(!unfiltered.is_empty(), "{word}");
        for f in &filters {
            let allowed: HashSet<Uuid> = expected_matches(&c.docs, f).iter().map(|d| d.id).collect();
            let expected: Vec<Uuid> = unfiltered.iter().copied().filter(|id| allowed.contains(id)).collect();
            let q = SearchQuery { q: Some(word.into()), ..f.clone() };
            let got = all_hits(&engine, q.clone()).await;
            assert_eq!(got, expected, "{q:?}: relevance order of the text matches, filtered");
            let r = search(&engine, SearchQuery { sort: Sort::PriceDesc, limit: 100, ..q.clone() }).await;
            assert_eq!(r.total, expected.len() as u64, "{q:?}");
            assert!(r.hits.windows(2).all(|w| by_id[&w[0].id].price_cents >= by_id[&w[1].id].price_cents), "{q:?}");
        }
    }
    // Cached and uncached answers are the same, scores included.
    for q in [text("iphone"), SearchQuery { page: 2, limit: 7, ..text("phone") }, SearchQuery { sort: Sort::NameAsc, ..text("watch") }] {
        engine.set_result_caching(true);
        let cached = [search(&engine, q.clone()).await, search(&engine, q.clone()).await];
        engine.set_result_caching(false);
        let uncached = search(&engine, q.clone()).await;
        assert_eq!(cached[0], uncached, "{q:?}");
        assert_eq!(cached[1], uncached, "{q:?}");
    }
}

#[tokio::test]
async fn a_query_of_several_words_gives_what_one_boolean_query_gives_when_built_from_each_words_cached_matches() {
    let (engine, c) = indexed().await;
    // Words that occur together in products, words with a typo (scored on what the other words
    // matched, or all of them unknown), words of different products (no match), a filter with a
    // price sort, a second page.
    let mut queries: Vec<SearchQuery> = [
        "apple iphone",
        "iphone apple charger",
        "essence mascara",
        "watch rolex",
        "chargr iphone",
        "apple iphne",
        "iphne chargr",
        "essence mascra lash",
        "mascara laptop",
        "red lipstick",
        "green",
    ]
    .into_iter()
    .map(|q| SearchQuery { include_inactive: true, ..text(q) })
    .collect();
    queries.push(SearchQuery { sort: Sort::PriceAsc, brands: vec!["apple".into()], ..text("apple iphone") });
    queries.push(SearchQuery { page: 2, limit: 3, ..text("phone case") });
    for (i, d) in c.docs.iter().enumerate().step_by(9) {
        let words: Vec<&str> = d.name.split_whitespace().collect();
        let q = words.iter().skip(i % 2).take(2 + i % 2).copied().collect::<Vec<_>>().join(" ");
        queries.push(text(&q));
    }
    let mut matched = 0;
    for q in &queries {
        engine.set_result_caching(false);
        let whole = search(&engine, q.clone()).await;
        engine.set_result_caching(true);
        // First from the words' matches (each word computed or found in the cache), then again.
        let built = [search(&engine, q.clone()).await, search(&engine, q.clone()).await];
        for b in &built {
            assert_eq!((b.total, &b.facets), (whole.total, &whole.facets), "{q:?}");
            let ids = |r: &SearchResults| r.hits.iter().map(|h| h.id).collect::<Vec<_>>();
            assert_eq!(ids(b), ids(&whole), "{q:?}: {:?} vs {:?}", names(b, &c), names(&whole, &c));
            for (x, y) in b.hits.iter().zip(&whole.hits) {
                assert!((x.score - y.score).abs() <= 1e-5 * y.score.abs().max(1.0), "{q:?}: score {} vs {}", x.score, y.score);
            }
        }
        matched += usize::from(whole.total > 0);
    }
    assert!(matched >= queries.len() / 2, "most queries match something: {matched} of {}", queries.len());
}

// Throughput at 1,000,000 products: `skyshop-bench search` (infra/local-runner), results in
// load-tests/results/search-engine-1m.json.

// ---- OpenSearch engine: request building and response parsing ---------------------------------
//
// No OpenSearch server can run on this machine; `tests/fixtures/opensearch/captured/` holds response
// bodies published from real clusters (search with `terms`/`range` aggregations, bulk, count,
// create index, index-exists error; sources in `SOURCES.md`), replayed by a local HTTP server.

mod opensearch {
    //! The OpenSearch engine against a local HTTP server that replays response bodies published
    //! from real OpenSearch clusters (`fixtures/opensearch/captured/`, sources in
    //! `fixtures/opensearch/SOURCES.md`). No cluster runs here: relevance, fuzziness, analyzers and
    //! refresh timing are not exercised; the exact requests, SigV4 signing and response parsing are.
    use std::collections::BTreeMap;
    use std::sync::{Arc, Mutex};

    use aws_credential_types::Credentials;
    use aws_credential_types::provider::SharedCredentialsProvider;
    use aws_smithy_async::time::StaticTimeSource;
    use axum::Router;
    use axum::body::Bytes;
    use axum::extract::{DefaultBodyLimit, State};
    use axum::http::{HeaderMap, Method, StatusCode, Uri};
    use serde_json::{Value, json};
    use shop_search::opensearch_engine::{
        MAX_BULK_BYTES, MAX_BULK_DOCS, bulk_failures, check_bulk_response, error_type, index_definition, parse_search_response,
        range_counts, search_body, source, terms_buckets,
    };
    use shop_search::{OpenSearchEngine, ProductDoc, SearchEngine, SearchError, SearchQuery, Sort};
    use uuid::Uuid;

    const CREATE_INDEX: &str = include_str!("fixtures/opensearch/captured/create_index.json");
    const COUNT: &str = include_str!("fixtures/opensearch/captured/count.json");
    const BULK_OK: &str = include_str!("fixtures/opensearch/captured/bulk_ok.json");
    const BULK_ITEM_ERROR: &str = include_str!("fixtures/opensearch/captured/bulk_item_error.json");
    const SEARCH_TERMS_AGG: &str = include_str!("fixtures/opensearch/captured/search_terms_agg.json");
    const SEARCH_RANGE_AGG: &str = include_str!("fixtures/opensearch/captured/search_range_agg.json");
    const SEARCH_SORT_BY_FIELD: &str = include_str!("fixtures/opensearch/captured/search_sort_by_field.json");
    const SEARCH_SHARD_FAILURE: &str = include_str!("fixtures/opensearch/captured/search_shard_failure.json");
    const INDEX_ALREADY_EXISTS: &str = include_str!("fixtures/opensearch/captured/index_already_exists.json");
    /// Adapted, not captured (see SOURCES.md).
    const SEARCH_PRODUCTS: &str = include_str!("fixtures/opensearch/search_products.json");

    fn parse(body: &str) -> Value {
        serde_json::from_str(body).expect("fixture is JSON")
    }

    #[derive(Debug, Clone)]
    struct Request {
        method: Method,
        path: String,
        query: String,
        headers: HeaderMap,
        body: Bytes,
    }

    impl Request {
        fn text(&self) -> &str {
            std::str::from_utf8(&self.body).expect("utf-8 body")
        }

        fn json(&self) -> Value {
            serde_json::from_slice(&self.body).expect("JSON body")
        }

        fn ndjson(&self) -> Vec<Value> {
            assert!(self.text().ends_with('\n'), "bulk bodies end with a newline");
            self.text().lines().map(|l| serde_json::from_str(l).expect("ndjson line")).collect()
        }

        fn header(&self, name: &str) -> Option<&str> {
            self.headers.get(name).and_then(|v| v.to_str().ok())
        }
    }

    /// Maps a request (and how many came before it) to a status and body.
    type Reply = dyn Fn(&Request, usize) -> (u16, String) + Send + Sync;

    #[derive(Clone)]
    struct Replay {
        recorded: Arc<Mutex<Vec<Request>>>,
        reply: Arc<Reply>,
    }

    async fn replay(
        State(state): State<Replay>,
        method: Method,
        uri: Uri,
        headers: HeaderMap,
        body: Bytes,
    ) -> (StatusCode, HeaderMap, String) {
        let request = Request { method, path: uri.path().to_owned(), query: uri.query().unwrap_or_default().to_owned(), headers, body };
        let (status, body) = {
            let mut recorded = state.recorded.lock().expect("lock");
            let reply = (state.reply)(&request, recorded.len());
            recorded.push(request);
            reply
        };
        let mut headers = HeaderMap::new();
        headers.insert("content-type", "application/json; charset=UTF-8".parse().expect("header"));
        (StatusCode::from_u16(status).expect("status"), headers, body)
    }

    /// A local server answering with `reply`; returns its URL and the requests it received.
    async fn server(reply: impl Fn(&Request, usize) -> (u16, String) + Send + Sync + 'static) -> (String, Arc<Mutex<Vec<Request>>>) {
        let state = Replay { recorded: Arc::default(), reply: Arc::new(reply) };
        let recorded = Arc::clone(&state.recorded);
        let app = Router::new().fallback(replay).layer(DefaultBodyLimit::max(4 * MAX_BULK_BYTES)).with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move { axum::serve(listener, app).await });
        (format!("http://{addr}"), recorded)
    }

    /// Replays the captured bodies by route: HEAD of a missing index (404, no body), index creation,
    /// bulk (the captured item error when the body names `fail_id`), search and count.
    fn cluster(search: &'static str, fail_id: Option<String>) -> impl Fn(&Request, usize) -> (u16, String) + Send + Sync + 'static {
        move |r, _| match (r.method.as_str(), r.path.as_str()) {
            ("HEAD", "/products") => (404, String::new()),
            ("PUT", "/products") => (200, CREATE_INDEX.to_owned()),
            ("POST", "/products/_bulk") if fail_id.as_deref().is_some_and(|id| r.text().contains(id)) => (200, BULK_ITEM_ERROR.to_owned()),
            ("POST", "/products/_bulk") => (200, BULK_OK.to_owned()),
            ("POST", "/products/_search") => (200, search.to_owned()),
            ("GET", "/products/_count") => (200, COUNT.to_owned()),
            _ => (400, r#"{"error":"unexpected request"}"#.to_owned()),
        }
    }

    fn requests(recorded: &Arc<Mutex<Vec<Request>>>) -> Vec<Request> {
        recorded.lock().expect("lock").clone()
    }

    fn with_source(doc: &ProductDoc) -> ProductDoc {
        let product = json!({ "id": doc.id, "name": doc.name, "priceCents": doc.price_cents, "note": "ünïcode \"quoted\"" });
        ProductDoc { source: Some(product.to_string()), ..doc.clone() }
    }

    /// The `_source` a product is indexed with, written out field by field.
    fn expected_source(d: &ProductDoc) -> Value {
        let mut expected = json!({
            "name": d.name,
            "description": d.description,
            "brand": d.brand,
            "category_id": d.category_id.to_string(),
            "category_path": d.category_path.iter().map(Uuid::to_string).collect::<Vec<_>>(),
            "tags": d.tags,
            "price_cents": d.price_cents,
            "rating": d.rating,
            "created_at": d.created_at.unix_timestamp() * 1000 + i64::from(d.created_at.millisecond()),
            "is_active": d.is_active,
            "is_featured": d.is_featured,
            "in_stock": d.in_stock,
            "seller_id": d.seller_id.to_string(),
        });
        if let Some(product) = &d.source {
            expected["product"] = json!(product);
        }
        expected
    }

    const TEXT_FIELDS: [&str; 4] = ["name^3", "brand.text^2", "tags.text^1.5", "description"];

    fn expected_aggs() -> Value {
        json!({
            "brands": { "terms": { "field": "brand", "size": 100 } },
            "categories": { "terms": { "field": "category_path", "size": 100 } },
            "price_bands": { "range": { "field": "price_cents", "ranges": [
                { "from": 0, "to": 2_500 }, { "from": 2_500, "to": 5_000 }, { "from": 5_000, "to": 10_000 },
                { "from": 10_000, "to": 25_000 }, { "from": 25_000, "to": 50_000 }, { "from": 50_000 }
            ] } }
        })
    }

    #[test]
    fn opensearch_search_body_is_exactly_the_expected_request() {
        let q = SearchQuery { q: Some("iPhne".into()), brands: vec![" Apple ".into()], ..SearchQuery::default() };
        let expected = json!({
            "from": 0,
            "size": 20,
            "track_total_hits": true,
            "_source": ["product"],
            "query": { "bool": {
                "must": [{ "multi_match": { "query": "iphne", "fields": TEXT_FIELDS, "fuzziness": "AUTO:4,8", "fuzzy_transpositions": true, "prefix_length": 0 } }],
                "should": [
                    { "multi_match": { "query": "iphne", "fields": TEXT_FIELDS, "boost": 3.0 } },
                    { "multi_match": { "query": "iphne", "type": "bool_prefix", "fields": ["name^3", "brand.text^2"], "boost": 1.5 } }
                ],
                "filter": [{ "term": { "is_active": true } }, { "terms": { "brand.kw": ["apple"] } }]
            } },
            "sort": ["_score", { "created_at": "desc" }],
            "aggs": expected_aggs()
        });
        assert_eq!(search_body(&q).expect("body"), expected);

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
        let must = body["query"]["bool"]["must"].as_array().expect("must");
        assert_eq!(
            must.iter().map(|m| m["multi_match"]["query"].clone()).collect::<Vec<_>>(),
            [json!("iphone"), json!("chargr")],
            "one clause per distinct word"
        );
        assert_eq!(
            body["query"]["bool"]["filter"],
            json!([
                { "term": { "is_active": true } },
                { "term": { "in_stock": true } },
                { "term": { "is_featured": false } },
                { "terms": { "category_path": [Uuid::from_u128(7).to_string()] } },
                { "terms": { "brand.kw": ["apple"] } },
                { "terms": { "tags": ["smartphones"] } },
                { "range": { "price_cents": { "gte": 1_000, "lte": 50_000 } } }
            ])
        );
        assert_eq!(body["sort"], json!([{ "price_cents": "asc" }]));
        for (sort, expected) in [
            (Sort::Newest, json!([{ "created_at": "desc" }])),
            (Sort::PriceDesc, json!([{ "price_cents": "desc" }])),
            (Sort::NameAsc, json!([{ "name.sort": "asc" }])),
            (Sort::NameDesc, json!([{ "name.sort": "desc" }])),
            (Sort::Rating, json!([{ "rating": "desc" }])),
        ] {
            assert_eq!(search_body(&SearchQuery { sort, ..SearchQuery::default() }).expect("body")["sort"], expected, "{sort:?}");
        }
        // No text: no text clauses, Relevance falls back to newest; include_inactive drops the filter.
        let plain = search_body(&SearchQuery { include_inactive: true, ..SearchQuery::default() }).expect("body");
        assert_eq!(plain["query"], json!({ "bool": { "must": [], "should": [], "filter": [] } }));
        assert_eq!(plain["sort"], json!([{ "created_at": "desc" }]));
        assert!(matches!(search_body(&SearchQuery { page: 500, limit: 100, ..SearchQuery::default() }), Err(SearchError::InvalidQuery(_))));
        assert!(matches!(
            search_body(&SearchQuery { min_price_cents: Some(5), max_price_cents: Some(1), ..SearchQuery::default() }),
            Err(SearchError::InvalidQuery(_))
        ));
    }

    #[test]
    fn opensearch_mapping_keeps_the_product_json_unindexed_and_verbatim() {
        let def = index_definition();
        assert_eq!(def["mappings"]["dynamic"], json!("strict"));
        assert_eq!(def["mappings"]["properties"]["product"], json!({ "type": "object", "enabled": false }));
        assert_eq!(def["settings"]["analysis"]["analyzer"]["product_analyzer"]["filter"], json!(["lowercase", "asciifolding"]));
        assert_eq!(def["mappings"]["properties"]["brand"]["fields"]["kw"]["normalizer"], json!("lowercase_ascii"));

        let doc = super::catalog().docs[0].clone();
        let stored = with_source(&doc);
        assert_eq!(source(&stored), expected_source(&stored));
        assert_eq!(source(&stored)["product"].as_str(), stored.source.as_deref(), "the JSON text itself, not a re-serialisation");
        assert!(source(&doc).get("product").is_none(), "no product field without source JSON");
        // Every field sent is mapped (the mapping is strict: an unmapped field fails the write).
        let mapped = def["mappings"]["properties"].as_object().expect("properties");
        for field in source(&stored).as_object().expect("object").keys() {
            assert!(mapped.contains_key(field), "{field} is not in the strict mapping");
        }
    }

    #[test]
    fn opensearch_parser_reads_captured_aggregations_hits_and_shard_failures() {
        // terms: numeric keys become text; a response without hits still has its exact total.
        let terms = parse(SEARCH_TERMS_AGG);
        assert_eq!(terms_buckets(&terms["aggregations"]["response_codes"]), [("200".to_owned(), 300), ("404".to_owned(), 30)]);
        let r = parse_search_response(&terms, true).expect("parse");
        assert_eq!((r.total, r.hits.len()), (3, 0));
        assert!(r.facets.brands.is_empty() && r.facets.categories.is_empty(), "no aggregations of ours in this body");
        assert_eq!(r.facets.price_bands.iter().map(|b| b.count).sum::<u64>(), 0);
        // range: counts in the order of the requested ranges.
        assert_eq!(range_counts(&parse(SEARCH_RANGE_AGG)["aggregations"]["number_of_bytes_distribution"]), [805, 1_369, 1_422]);

        // A field sort returns "_score": null. Its `_id`s are not product uuids: rejected, naming the id.
        let sorted = parse(SEARCH_SORT_BY_FIELD);
        let err = parse_search_response(&sorted, false).expect_err("non-uuid _id");
        assert!(err.to_string().contains("\"3204\""), "{err}");
        // Adapted in code: the same body with each `_id` replaced by a uuid derived from it.
        let mut adapted = sorted.clone();
        let mut ids = Vec::new();
        for hit in adapted["hits"]["hits"].as_array_mut().expect("hits") {
            let id = Uuid::new_v5(&Uuid::NAMESPACE_OID, hit["_id"].as_str().expect("_id").as_bytes());
            hit["_id"] = json!(id.to_string());
            ids.push(id);
        }
        let r = parse_search_response(&adapted, true).expect("parse");
        assert_eq!(r.total, 3_205);
        assert_eq!(r.hits.iter().map(|h| h.id).collect::<Vec<_>>(), ids, "hit order kept");
        assert!(r.hits.iter().all(|h| h.score == 0.0 && h.source.is_none()), "null scores read as 0; no product field");

        // One shard failed: total and facets would undercount, so the response is an error.
        let err = parse_search_response(&parse(SEARCH_SHARD_FAILURE), false).expect_err("partial results");
        assert!(err.to_string().contains("1 of 2 shards") && err.to_string().contains("query_shard_exception"), "{err}");
        let mut timed_out = parse(SEARCH_TERMS_AGG);
        timed_out["timed_out"] = json!(true);
        assert!(parse_search_response(&timed_out, false).is_err(), "timed out: partial results");
        assert!(parse_search_response(&json!({ "error": "x" }), true).is_err());
    }

    #[test]
    fn opensearch_bulk_responses_report_every_failed_item() {
        // delete of a missing id (404 not_found), index 201, create 201, update 200: all fine.
        assert_eq!(bulk_failures(&parse(BULK_OK)), []);
        assert!(check_bulk_response(&parse(BULK_OK)).is_ok());
        let failures = bulk_failures(&parse(BULK_ITEM_ERROR));
        assert_eq!(failures.len(), 1);
        assert_eq!(
            (failures[0].action.as_str(), failures[0].id.as_str(), failures[0].status, failures[0].error_type.as_str()),
            ("update", "nonexistent1", 404, "document_missing_exception")
        );
        let err = check_bulk_response(&parse(BULK_ITEM_ERROR)).expect_err("item error").to_string();
        assert!(
            err.contains("1 of 1 items failed: update nonexistent1: 404 document_missing_exception: [nonexistent1]: document missing"),
            "{err}"
        );
        assert_eq!(error_type(INDEX_ALREADY_EXISTS).as_deref(), Some("resource_already_exists_exception"));
        assert_eq!(error_type(BULK_OK), None);
        assert_eq!(error_type("not json"), None);
    }

    #[tokio::test]
    async fn opensearch_engine_sends_exact_requests_and_reads_the_replayed_responses() {
        let catalog = super::catalog();
        let docs: Vec<ProductDoc> = catalog.docs.iter().take(3).map(with_source).collect();
        let bad = ProductDoc { id: Uuid::from_u128(0xbad), ..docs[1].clone() };
        let (url, recorded) = server(cluster(SEARCH_PRODUCTS, Some(bad.id.to_string()))).await;
        let engine = OpenSearchEngine::with_url(&url, "products").expect("engine");
        engine.ensure_index().await.expect("ensure index");
        let engine: Arc<dyn SearchEngine> = Arc::new(engine);

        engine.upsert(docs.clone()).await.expect("upsert");
        engine.delete(vec![docs[0].id, Uuid::from_u128(1)]).await.expect("delete (a missing id is fine)");
        let q = SearchQuery { q: Some("iphne".into()), brands: vec!["Apple".into()], ..SearchQuery::default() };
        let r = engine.search(&q).await.expect("search");
        assert_eq!(engine.count().await.expect("count"), 14_074);
        let err = engine.upsert(vec![bad.clone()]).await.expect_err("item error surfaces");
        assert!(err.to_string().contains("document_missing_exception") && err.to_string().contains("nonexistent1"), "{err}");
        assert!(engine.upsert(Vec::new()).await.is_ok() && engine.delete(Vec::new()).await.is_ok(), "nothing to send");

        let sent = requests(&recorded);
        let summary: Vec<(&str, &str, &str)> = sent.iter().map(|r| (r.method.as_str(), r.path.as_str(), r.query.as_str())).collect();
        assert_eq!(
            summary,
            [
                ("HEAD", "/products", ""),
                ("PUT", "/products", ""),
                ("POST", "/products/_bulk", "refresh=wait_for"),
                ("POST", "/products/_bulk", "refresh=wait_for"),
                ("POST", "/products/_search", ""),
                ("GET", "/products/_count", ""),
                ("POST", "/products/_bulk", "refresh=wait_for"),
            ]
        );
        assert_eq!(sent[1].json(), index_definition());
        let mut expected_lines = Vec::new();
        for d in &docs {
            expected_lines.push(json!({ "index": { "_id": d.id.to_string() } }));
            expected_lines.push(expected_source(d));
        }
        assert_eq!(sent[2].ndjson(), expected_lines);
        assert_eq!(
            sent[3].ndjson(),
            [json!({ "delete": { "_id": docs[0].id.to_string() } }), json!({ "delete": { "_id": Uuid::from_u128(1).to_string() } })]
        );
        assert_eq!(sent[4].json()["_source"], json!(["product"]), "only the stored product JSON is fetched");
        assert_eq!(sent[4].json(), search_body(&q).expect("body"));
        assert!(sent[5].body.is_empty(), "count sends no query");

        // search_products.json: stored product JSON per hit, scores of a relevance sort, merged facets.
        let first: Uuid = "0f1c7b4e-2f7a-5d0e-9a43-7c2b9f0e6a11".parse().expect("uuid");
        assert_eq!(r.total, 42);
        assert_eq!(r.hits.iter().map(|h| h.id).collect::<Vec<_>>()[0], first);
        assert!((r.hits[0].score - 11.283_742).abs() < 1e-4);
        assert_eq!(
            r.hits[0].source.as_deref(),
            Some(r#"{"id":"0f1c7b4e-2f7a-5d0e-9a43-7c2b9f0e6a11","name":"iPhone 9","priceCents":54900}"#)
        );
        assert_eq!(r.hits[1].source, None, "a product indexed without source JSON");
        assert_eq!(r.facets.brands.iter().map(|f| (f.value.as_str(), f.count)).collect::<Vec<_>>(), [("Apple", 15), ("Samsung", 5)]);
        assert_eq!(r.facets.categories.iter().map(|f| f.count).collect::<Vec<_>>(), [30, 12]);
        assert_eq!(r.facets.price_bands.iter().map(|b| b.count).collect::<Vec<_>>(), [3, 4, 5, 10, 8, 12]);
        assert_eq!(r.facets.price_bands[5].max_cents, None);
        // The same body under a non-relevance sort carries no scores.
        let r = engine.search(&SearchQuery { sort: Sort::PriceAsc, ..SearchQuery::default() }).await.expect("search");
        assert!(r.hits.iter().all(|h| h.score == 0.0));
    }

    #[tokio::test]
    async fn opensearch_index_creation_race_is_success_with_status_400_or_409() {
        for status in [400, 409] {
            let (url, recorded) =
                server(move |r, _| if r.method == Method::HEAD { (404, String::new()) } else { (status, INDEX_ALREADY_EXISTS.to_owned()) })
                    .await;
            OpenSearchEngine::with_url(&url, "products").expect("engine").ensure_index().await.expect("lost race is fine");
            assert_eq!(requests(&recorded).len(), 2);
        }
        // An existing index is left alone.
        let (url, recorded) = server(|_, _| (200, String::new())).await;
        OpenSearchEngine::with_url(&url, "products").expect("engine").ensure_index().await.expect("exists");
        assert_eq!(requests(&recorded).iter().map(|r| r.method.as_str()).collect::<Vec<_>>(), ["HEAD"]);
        // Any other failure is an error naming the status.
        let (url, _) = server(|r, _| if r.method == Method::HEAD { (404, String::new()) } else { (400, BULK_ITEM_ERROR.to_owned()) }).await;
        let err = OpenSearchEngine::with_url(&url, "products").expect("engine").ensure_index().await.expect_err("not a race");
        assert!(err.to_string().contains("400"), "{err}");
        let (url, _) = server(|_, _| (503, String::new())).await;
        assert!(OpenSearchEngine::with_url(&url, "products").expect("engine").ensure_index().await.is_err(), "HEAD 503");
    }

    #[tokio::test]
    async fn opensearch_bulk_is_split_by_count_and_bytes_and_reports_failures_from_every_request() {
        let catalog = super::catalog();
        // 2,500 documents: 1,000 + 1,000 + 500, the second request failing one item.
        let (url, recorded) = server(|_, n| (200, if n == 1 { BULK_ITEM_ERROR } else { BULK_OK }.to_owned())).await;
        let engine = OpenSearchEngine::with_url(&url, "products").expect("engine");
        let docs: Vec<ProductDoc> =
            (0..2_500u128).zip(catalog.docs.iter().cycle()).map(|(i, d)| ProductDoc { id: Uuid::from_u128(i + 1), ..d.clone() }).collect();
        let err = engine.upsert(docs.clone()).await.expect_err("one item failed");
        assert!(err.to_string().contains("1 of 2500 items failed: update nonexistent1: 404 document_missing_exception"), "{err}");
        let sent = requests(&recorded);
        assert_eq!(
            sent.iter().map(|r| r.ndjson().len() / 2).collect::<Vec<_>>(),
            [MAX_BULK_DOCS, MAX_BULK_DOCS, 500],
            "every request was sent"
        );
        let ids: Vec<Value> = sent.iter().flat_map(|r| r.ndjson().into_iter().step_by(2)).map(|a| a["index"]["_id"].clone()).collect();
        assert_eq!(ids, docs.iter().map(|d| json!(d.id.to_string())).collect::<Vec<_>>(), "all documents, in order, once");

        // Ten documents of ~700 KB: split so that no request exceeds MAX_BULK_BYTES.
        let (url, recorded) = server(|_, _| (200, BULK_OK.to_owned())).await;
        let engine = OpenSearchEngine::with_url(&url, "products").expect("engine");
        let big: Vec<ProductDoc> = catalog
            .docs
            .iter()
            .take(10)
            .map(|d| ProductDoc { source: Some(json!({ "blob": "x".repeat(700_000) }).to_string()), ..d.clone() })
            .collect();
        engine.upsert(big).await.expect("upsert");
        let sent = requests(&recorded);
        assert_eq!(sent.iter().map(|r| r.ndjson().len() / 2).collect::<Vec<_>>(), [7, 3]);
        assert!(sent.iter().all(|r| r.body.len() <= MAX_BULK_BYTES), "{:?}", sent.iter().map(|r| r.body.len()).collect::<Vec<_>>());

        // A request failing as a whole stops the write at once, with its status.
        let (url, recorded) = server(|_, _| (413, r#"{"error":"too large"}"#.to_owned())).await;
        let engine = OpenSearchEngine::with_url(&url, "products").expect("engine");
        let err = engine.delete(docs.iter().map(|d| d.id).collect()).await.expect_err("413");
        assert!(err.to_string().contains("bulk request 1 of 3: 413"), "{err}");
        assert_eq!(requests(&recorded).len(), 1);
    }

    // --- SigV4 -------------------------------------------------------------------------------

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn sha256_hex(data: &[u8]) -> String {
        hex(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data).as_ref())
    }

    fn hmac(key: &[u8], data: &str) -> Vec<u8> {
        aws_lc_rs::hmac::sign(&aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, key), data.as_bytes()).as_ref().to_vec()
    }

    /// SigV4 signature of a request, computed here from the AWS specification (canonical request →
    /// string to sign → derived key), independently of the `aws-sigv4` crate the client uses.
    /// `headers` are the signed headers, lower-case; `query` must be in canonical form already.
    /// `(method, path, canonical query)`.
    type RequestLine<'a> = (&'a str, &'a str, &'a str);

    fn sigv4_signature(
        (method, path, query): RequestLine<'_>,
        headers: &BTreeMap<String, String>,
        payload_sha256: &str,
        secret: &str,
        scope: &str,
        amz_date: &str,
    ) -> String {
        let canonical_headers: String = headers.iter().map(|(k, v)| format!("{k}:{}\n", v.trim())).collect();
        let signed: Vec<&str> = headers.keys().map(String::as_str).collect();
        let canonical_request = format!("{method}\n{path}\n{query}\n{canonical_headers}\n{}\n{payload_sha256}", signed.join(";"));
        let string_to_sign = format!("AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}", sha256_hex(canonical_request.as_bytes()));
        let mut key = format!("AWS4{secret}").into_bytes();
        for part in scope.split('/') {
            key = hmac(&key, part);
        }
        hex(&hmac(&key, &string_to_sign))
    }

    #[test]
    fn sigv4_check_reproduces_the_opensearch_rs_known_answer() {
        // opensearch-project/opensearch-rs, opensearch/tests/aws_auth.rs (commit
        // 1035d4e60cf712488834bdfa526680f32b60efdb, Apache-2.0): PUT /sample-index1 signed for
        // service "es" at 2023-01-13T16:08:37Z must carry this signature.
        let headers: BTreeMap<String, String> = [
            ("accept", "application/json"),
            ("content-type", "application/json"),
            ("host", "aaabbbcccddd111222333.ap-southeast-2.es.amazonaws.com"),
            ("x-amz-content-sha256", "4c770eaed349122a28302ff73d34437cad600acda5a9dd373efc7da2910f8564"),
            ("x-amz-date", "20230113T160837Z"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let signature = sigv4_signature(
            ("PUT", "/sample-index1", ""),
            &headers,
            "4c770eaed349122a28302ff73d34437cad600acda5a9dd373efc7da2910f8564",
            "test-secret-key",
            "20230113/ap-southeast-2/es/aws4_request",
            "20230113T160837Z",
        );
        assert_eq!(signature, "10c9be415f4b9f15b12abbb16bd3e3730b2e6c76e0cf40db75d08a44ed04a3a1");
    }

    const ACCESS_KEY: &str = "AKIDSKYSHOPTEST";
    const SECRET: &str = "skyshop/test/secret+key";
    const SESSION_TOKEN: &str = "FwoGZXIvYXdzEBYaDskyshop-session-token";

    /// Checks the SigV4 headers of a received request and recomputes its signature.
    fn assert_signed(r: &Request, secret: &str) -> Result<(), String> {
        let auth = r.header("authorization").ok_or("no authorization header")?;
        let rest = auth
            .strip_prefix(&format!("AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/20260102/eu-west-1/es/aws4_request, SignedHeaders="))
            .ok_or_else(|| format!("unexpected authorization {auth}"))?;
        let (signed_headers, signature) = rest.split_once(", Signature=").ok_or("no signature")?;
        assert_eq!(
            signed_headers, "accept;content-type;host;x-amz-content-sha256;x-amz-date;x-amz-security-token",
            "{} {}",
            r.method, r.path
        );
        assert!(signature.len() == 64 && signature.bytes().all(|b| b.is_ascii_hexdigit()), "{signature}");
        assert_eq!(r.header("x-amz-date"), Some("20260102T030405Z"));
        assert_eq!(r.header("x-amz-security-token"), Some(SESSION_TOKEN));
        let payload = sha256_hex(&r.body);
        assert_eq!(r.header("x-amz-content-sha256"), Some(payload.as_str()), "the signed hash is the hash of the body received");
        let headers: BTreeMap<String, String> = signed_headers
            .split(';')
            .map(|h| Ok((h.to_owned(), r.header(h).ok_or_else(|| format!("signed header {h} missing"))?.to_owned())))
            .collect::<Result<_, String>>()?;
        assert!(r.query.bytes().all(|b| b.is_ascii_alphanumeric() || b"=&_-.~".contains(&b)), "query needs no re-encoding: {}", r.query);
        let mut pairs: Vec<&str> = r.query.split('&').filter(|p| !p.is_empty()).collect();
        pairs.sort_unstable();
        let query = pairs.join("&");
        let expected = sigv4_signature(
            (r.method.as_str(), &r.path, &query),
            &headers,
            &payload,
            secret,
            "20260102/eu-west-1/es/aws4_request",
            "20260102T030405Z",
        );
        if expected == signature { Ok(()) } else { Err(format!("signature {signature} does not verify (expected {expected})")) }
    }

    #[tokio::test]
    async fn opensearch_aws_engine_signs_every_request_with_sigv4() {
        let (url, recorded) = server(cluster(SEARCH_PRODUCTS, None)).await;
        let sdk = aws_config::SdkConfig::builder()
            .region(aws_config::Region::new("eu-west-1"))
            .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
                ACCESS_KEY,
                SECRET,
                Some(SESSION_TOKEN.into()),
                None,
                "test",
            )))
            .time_source(StaticTimeSource::from_secs(1_767_323_045)) // 2026-01-02T03:04:05Z
            .build();
        let engine = OpenSearchEngine::aws(&url, "products", &sdk).expect("engine");
        engine.ensure_index().await.expect("ensure index");
        let doc = with_source(&super::catalog().docs[0]);
        engine.upsert(vec![doc.clone()]).await.expect("upsert");
        let q = SearchQuery { q: Some("iphne".into()), ..SearchQuery::default() };
        assert_eq!(engine.search(&q).await.expect("search").total, 42);
        assert_eq!(engine.count().await.expect("count"), 14_074);

        let sent = requests(&recorded);
        assert_eq!(
            sent.iter().map(|r| (r.method.as_str(), r.path.as_str())).collect::<Vec<_>>(),
            [
                ("HEAD", "/products"),
                ("PUT", "/products"),
                ("POST", "/products/_bulk"),
                ("POST", "/products/_search"),
                ("GET", "/products/_count")
            ]
        );
        for r in &sent {
            assert_signed(r, SECRET).unwrap_or_else(|e| panic!("{} {}: {e}", r.method, r.path));
            assert!(assert_signed(r, "another-secret").is_err(), "the check fails with the wrong secret");
        }
        assert_eq!(
            sent[0].header("x-amz-content-sha256"),
            Some("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
            "empty body"
        );
        // Signing does not change what is sent.
        assert_eq!(sent[1].json(), index_definition());
        assert_eq!(sent[2].ndjson(), [json!({ "index": { "_id": doc.id.to_string() } }), expected_source(&doc)]);
        assert_eq!(sent[3].json(), search_body(&q).expect("body"));

        // Without region or credentials the engine cannot be built.
        let no_region = aws_config::SdkConfig::builder()
            .credentials_provider(SharedCredentialsProvider::new(Credentials::new(ACCESS_KEY, SECRET, None, None, "test")))
            .build();
        assert!(OpenSearchEngine::aws(&url, "products", &no_region).is_err());
        assert!(OpenSearchEngine::aws("not a url", "products", &sdk).is_err());
    }
}
