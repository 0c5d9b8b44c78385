//! `shop_seed::catalog::seed`: the DummyJSON data set into the catalog, one transaction per product.

use shop_seed::catalog::seed;
use shop_testkit::Req;

use crate::{catalog_state, data};

#[tokio::test]
async fn the_dummyjson_catalog_seeds_once_into_a_two_level_tree() {
    let (state, _, _) = catalog_state().await;
    let data = data();
    let seller = uuid::Uuid::now_v7();
    let mut calls = 0;
    let report = seed(&state, &data, seller, |_, _| calls += 1).await.unwrap();
    assert_eq!(report.categories_created, 32, "8 parents and 24 categories");
    assert_eq!(report.products_created, 194);
    assert_eq!(calls, 194, "progress is reported per product");
    let again = seed(&state, &data, seller, |_, _| {}).await.unwrap();
    assert_eq!((again.categories_created, again.products_created, again.products_existing), (0, 0, 194), "seeding is idempotent");

    let app = catalog::router(state);
    let tree = Req::get("/api/categories/tree").send(&app).await.expect(200);
    assert_eq!(tree.as_array().unwrap().len(), 8);
    assert!(tree.as_array().unwrap().iter().all(|root| !root["children"].as_array().unwrap().is_empty()));
    let mascara = Req::get("/api/products/sku/BEA-ESS-ESS-001").send(&app).await.expect(200);
    assert_eq!(mascara["price"], 999, "$9.99 in cents");
    assert_eq!(mascara["sellerId"], seller.to_string());
    assert_eq!(mascara["ratingCount"], 3);
    let beauty = Req::get("/api/categories/slug/beauty").send(&app).await.expect(200);
    assert_eq!(beauty["productCount"], 5);
    assert_eq!(beauty["parent"]["name"], "Beauty & Personal Care");
}
