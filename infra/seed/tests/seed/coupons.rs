//! `coupons::seed_coupons`: the demo coupons into the cart's promotions table.

use shop_seed::coupons::seed_coupons;

#[tokio::test]
async fn the_demo_coupons_seed_once() {
    let (ddb, table) = shop_testkit::table("PromotionsTable").await;
    let coupons = cart::store::CouponStore::new(ddb, table);
    assert_eq!(seed_coupons(&coupons).await.unwrap(), 4);
    assert_eq!(seed_coupons(&coupons).await.unwrap(), 0, "seeding is idempotent");
    let codes: Vec<String> = coupons.coupons().await.unwrap().into_iter().map(|c| c.code).collect();
    assert_eq!(codes, ["FLAT100", "FLAT50", "SAVE10", "SAVE20"]);
}
