//! The seed against DynamoDB Local (with Redis and moto behind the catalog's state), each test on
//! tables of its own, checked through the functions' routers and the tables themselves: the data
//! set into the catalog, synthetic catalogs in bulk, the data set's stock, the demo coupons.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod coupons;
mod dataset;
mod stock;
mod synthetic;

/// A catalog state on its own table, and that table's client and name (to look at the items).
pub async fn catalog_state() -> (catalog::AppState, aws_sdk_dynamodb::Client, String) {
    let (ddb, table) = shop_testkit::table("CatalogTable").await;
    let redis = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let cache = shop_cache::Cache::connect(&redis, shop_testkit::redis_prefix()).await;
    assert!(cache.is_enabled(), "Redis runs in the local cloud");
    let (_, bucket) = shop_testkit::bucket("ImagesBucket").await;
    let images = catalog::Images::new(shop_testkit::sdk().await, &bucket, "http://127.0.0.1:5000/images");
    let search = std::sync::Arc::new(shop_search::TantivyEngine::in_memory().unwrap());
    (catalog::AppState::new(catalog::store::Store::new(ddb.clone(), &table), cache, images, search), ddb, table)
}

/// The data set shipped with the repository.
pub fn data() -> String {
    std::fs::read_to_string(shop_seed::dataset::path()).unwrap()
}
