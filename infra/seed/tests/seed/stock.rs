//! `stock::seed_stock`: the data set's stock into inventory's table, through its store.

use serde_json::json;
use shop_seed::stock::{SeedRow, seed_stock};
use shop_testkit::Req;
use uuid::Uuid;

use crate::data;

#[tokio::test]
async fn seeding_stocks_the_data_set_once_and_never_resets_stock() {
    let sdk = shop_testkit::sdk().await;
    let (ddb, table) = shop_testkit::table("InventoryTable").await;
    let store = inventory::store::Store::new(ddb, &table);
    // Adjustments never call the catalog; its name only has to be unique.
    let catalog = inventory::clients::Catalog::new(shop_internal::InternalClient::new(sdk, shop_testkit::unique("catalog"), "test"));
    let router = inventory::router(inventory::AppState::new(store.clone(), catalog));

    let stock = shop_seed::dataset::stock_by_sku(&data()).unwrap();
    assert!(stock.len() > 100, "a stock per product of the data set");
    let seller = Uuid::now_v7();
    let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
    let rows = |x: u32| {
        [a, b]
            .iter()
            .map(|id| SeedRow { product_id: *id, seller_id: seller, product_name: "P".into(), sku: "S".into(), available: x })
            .collect::<Vec<_>>()
    };
    let report = seed_stock(&store, rows(7)).await.unwrap();
    assert_eq!((report.created, report.existing), (2, 0));
    Req::post(&format!("/api/inventory/{a}/adjust"))
        .json(json!({"delta": -2, "reason": "sold"}))
        .as_user(&seller.to_string(), "SELLER", &Uuid::now_v7().to_string())
        .send(&router)
        .await
        .expect(200);
    let report = seed_stock(&store, rows(99)).await.unwrap();
    assert_eq!((report.created, report.existing), (0, 2));
    let available = |id| {
        let store = store.clone();
        async move { store.stock(id).await.unwrap().expect("a stock row").available }
    };
    assert_eq!((available(a).await, available(b).await), (5, 7));
}
