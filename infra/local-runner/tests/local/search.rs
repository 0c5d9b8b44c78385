use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::json;
use shop_search::{SearchEngine, SearchQuery, TantivyEngine};

use crate::helpers::{ADMIN_PASSWORD, Running, eventually, start};

/// The local index the runner's functions share (the catalog reads it, the indexer writes it).
fn index_dir(app: &Running) -> PathBuf {
    let dir = |function: &str| app.cloud.environments.get(function).and_then(|env| env.get("SEARCH_INDEX_DIR")).cloned();
    let indexer = dir("CatalogIndexerFunction").expect("the runner gives the indexer the local index");
    if let Some(catalog) = dir("CatalogFunction") {
        assert_eq!(catalog, indexer, "the catalog reads the index the indexer writes");
    }
    PathBuf::from(indexer)
}

async fn search(engine: &TantivyEngine, q: &str) -> Vec<String> {
    let query = SearchQuery { q: Some(q.into()), include_inactive: true, ..SearchQuery::default() };
    engine.search(&query).await.unwrap().hits.into_iter().map(|h| h.id.to_string()).collect()
}

/// Ids of `GET /api/products?q=` through the runner's gateway.
async fn listed(app: &Running, q: &str) -> Vec<String> {
    let response = app.call("GET", &format!("/api/products?q={}", q.replace(' ', "+")), None, None).await;
    assert_eq!(response.status, 200, "{}", response.body);
    response.body["data"].as_array().unwrap().iter().map(|p| p["id"].as_str().unwrap().to_owned()).collect()
}

/// Issue 4: a product written through the API is searchable within a second (stream → indexer
/// → index), and a deleted one leaves the index.
#[tokio::test]
async fn a_product_created_through_the_api_is_searchable_within_a_second() {
    let app = start(true).await;
    let admin = app.admin_token().await;
    let category = app.call("POST", "/api/categories", Some(&admin), Some(json!({"name": shop_testkit::unique("Lighting")}))).await;
    assert_eq!(category.status, 201, "{}", category.body);
    let seller = app.login(local_runner::cloud::SELLER_EMAIL, ADMIN_PASSWORD).await["accessToken"].as_str().unwrap().to_owned();
    let engine = TantivyEngine::shared(&index_dir(&app)).unwrap();
    assert_eq!(search(&engine, "quokka").await, Vec::<String>::new());
    // Through the API, and now cached: the indexer must invalidate this page after its write.
    assert_eq!(listed(&app, "quokka").await, Vec::<String>::new());

    let sku = shop_testkit::unique("QL").to_uppercase();
    let body =
        json!({"name": "Quokka Lantern", "sku": sku, "description": "A lantern.", "price": 2_999, "categoryId": category.body["id"]});
    let created = app.call("POST", "/api/products", Some(&seller), Some(body)).await;
    let written = Instant::now();
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.body["id"].as_str().unwrap().to_owned();
    loop {
        if listed(&app, "quokka").await == [id.clone()] {
            break;
        }
        assert!(written.elapsed() < Duration::from_secs(1), "not listed by GET /api/products 1 s after the 201");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(search(&engine, "quokka").await, [id.as_str()]);
    assert_eq!(listed(&app, "quoka lantrn").await, [id.as_str()], "typo tolerant");

    let deleted = app.call("DELETE", &format!("/api/products/{id}"), Some(&seller), None).await;
    assert!(deleted.status < 300, "{} {}", deleted.status, deleted.body);
    let gone = Instant::now();
    while !search(&engine, "quokka").await.is_empty() || !listed(&app, "quokka").await.is_empty() {
        assert!(gone.elapsed() < Duration::from_secs(5), "a deleted product leaves the index");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The README's search walk-through on (part of) the seeded catalog, through the runner:
/// seed → stream → indexer → index → `GET /api/products`.
#[tokio::test]
async fn the_seeded_catalog_is_searchable_as_the_readme_shows() {
    let app = start(true).await;
    let data: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(local_runner::cloud::seed_data_path()).unwrap()).unwrap();
    let wanted = ["smartphones", "laptops", "fragrances"];
    let products: Vec<_> =
        data["products"].as_array().unwrap().iter().filter(|p| wanted.contains(&p["category"].as_str().unwrap())).cloned().collect();
    let count = products.len();
    let subset = json!({ "products": products }).to_string();
    let state = app.cloud.catalog_state().await.expect("the runner has a catalog");
    let seller = app.cloud.seller_id.expect("the runner has a demo seller");
    let report = shop_seed::catalog::seed(&state, &subset, seller, |_, _| {}).await.unwrap();
    assert_eq!(report.products_created, count);

    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let all = app.call("GET", "/api/products?limit=1", None, None).await;
        if all.body["meta"]["total"] == count {
            break;
        }
        assert!(Instant::now() < deadline, "the seeded products were not all indexed: {}", all.body["meta"]);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let typo = app.call("GET", "/api/products?q=iphne&limit=3", None, None).await;
    assert_eq!(typo.status, 200, "{}", typo.body);
    assert!(typo.body["data"][0]["name"].as_str().unwrap().starts_with("iPhone"), "{}", typo.body["data"][0]["name"]);

    let apple = app.call("GET", "/api/products?category=electronics&brand=apple&maxPrice=100000&sort=price_asc", None, None).await;
    assert_eq!(apple.status, 200, "{}", apple.body);
    let prices: Vec<i64> = apple.body["data"].as_array().unwrap().iter().map(|p| p["price"].as_i64().unwrap()).collect();
    assert!(!prices.is_empty(), "Apple products under $1,000 in Electronics");
    assert!(prices.windows(2).all(|w| w[0] <= w[1]) && prices.iter().all(|p| *p <= 100_000), "{prices:?}");
    assert!(apple.body["data"].as_array().unwrap().iter().all(|p| p["brand"] == "Apple"));

    let perfume = app.call("GET", "/api/products?q=perfume&limit=1", None, None).await;
    let facets = &perfume.body["facets"];
    let fragrances = facets["categories"].as_array().unwrap().iter().find(|c| c["slug"] == "fragrances").expect("fragrances facet");
    assert!(fragrances["count"].as_u64().unwrap() > 0);
    let beauty =
        facets["categories"].as_array().unwrap().iter().find(|c| c["slug"] == "beauty-personal-care").expect("its parent, rolled up");
    assert_eq!(beauty["count"], fragrances["count"], "the subset's only beauty products are fragrances");
}

/// `scripts/seed` stocks the seeded products through inventory; inventory's stream handler
/// reports each to the catalog (`PUT /internal/products/{id}/availability`), and the catalog's
/// stream reindexes it: the storefront shows availability and `inStock` filters correctly.
#[tokio::test]
async fn seeded_stock_reaches_the_storefront_the_in_stock_filter_and_the_low_stock_list() {
    let app = start(true).await;
    let data: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(local_runner::cloud::seed_data_path()).unwrap()).unwrap();
    let phones: Vec<_> = data["products"].as_array().unwrap().iter().filter(|p| p["category"] == "smartphones").cloned().collect();
    let stocked = phones.iter().filter(|p| p["stock"].as_u64().unwrap() > 0).count();
    let low = phones.iter().filter(|p| p["stock"].as_u64().unwrap() <= 10).count();
    let state = app.cloud.catalog_state().await.expect("the runner has a catalog");
    let seller = app.cloud.seller_id.expect("the runner has a demo seller");
    shop_seed::catalog::seed(&state, &json!({ "products": phones }).to_string(), seller, |_, _| {}).await.unwrap();
    let report = app.cloud.seed_stock().await.unwrap().expect("the runner has inventory");
    assert_eq!(report.created, phones.len(), "only the seeded products get stock");

    // Every product's report must have landed, not only the stocked ones': a product with no
    // stock shows `available: null` until inventory's report of 0 reaches the catalog.
    let admin = app.admin_token().await;
    eventually("seeded stock reaches the index and the low-stock list", || async {
        let in_stock = app.call("GET", "/api/products?inStock=true&limit=1", None, None).await;
        let out = app.call("GET", "/api/products?inStock=false", None, None).await;
        let listed = app.call("GET", "/api/products/low-stock", Some(&admin), None).await;
        in_stock.body["meta"]["total"] == stocked
            && out.body["meta"]["total"] == phones.len() - stocked
            && out.body["data"].as_array().is_some_and(|d| d.iter().all(|p| p["inStock"] == false && p["available"] == 0))
            && listed.status == 200
            && listed.body["meta"]["total"] == low
    })
    .await;
    let out = app.call("GET", "/api/products?inStock=false", None, None).await;
    assert_eq!(out.body["meta"]["total"], phones.len() - stocked, "{}", out.body["meta"]);
    assert!(out.body["data"].as_array().unwrap().iter().all(|p| p["inStock"] == false && p["available"] == 0));

    let listed = app.call("GET", "/api/products/low-stock", Some(&admin), None).await;
    assert_eq!(listed.status, 200, "{}", listed.body);
    assert_eq!(listed.body["meta"]["total"], low, "{}", listed.body);
    let first = &listed.body["data"][0];
    assert_eq!((first["stockAvailable"].clone(), first["lowStockThreshold"].clone()), (json!(0), json!(10)), "fewest first");
    let detail = app.call("GET", &format!("/api/products/{}", listed.body["data"][1]["id"].as_str().unwrap()), None, None).await;
    assert_eq!(
        (detail.body["inStock"].clone(), detail.body["available"].clone()),
        (json!(true), listed.body["data"][1]["stockAvailable"].clone())
    );
}
