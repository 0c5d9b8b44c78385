//! Checkout under races: never oversold, exactly one order per key.

use std::sync::Arc;

use serde_json::Value;

use crate::{app, checkout_body, customer};

/// Places with `key`, retrying what says "retry" — a 503 (contended), or a 409
/// `idempotency_key_in_use` (an earlier attempt under the key still holds it: one that failed and
/// could not let the key go holds it until its lease runs out) — as a client would after
/// Retry-After.
async fn place_until_answered(app: &crate::App, who: &crate::Who, key: &str) -> (u16, Value) {
    for _ in 0..50 {
        let r = app.place(who, key, checkout_body("card")).await;
        let retry = r.status == 503 || (r.status == 409 && r.header("retry-after").is_some());
        if !retry {
            return (r.status.as_u16(), r.json());
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    panic!("still 503 after 50 tries");
}

#[tokio::test]
async fn two_hundred_buyers_race_for_twenty_units_and_exactly_twenty_orders_are_placed() {
    let app = Arc::new(app().await);
    let product = app.product("Hot item", 1_999, 20, None).await;
    let buyers: Vec<crate::Who> = (0..200).map(|_| customer()).collect();
    futures::future::join_all(buyers.iter().map(|b| app.add_to_cart(b, &product, 1))).await;
    let results = futures::future::join_all(buyers.iter().map(|b| place_until_answered(&app, b, "race"))).await;
    let placed = results.iter().filter(|(s, _)| *s == 201).count();
    let refused: Vec<&Value> = results.iter().filter(|(s, _)| *s == 409).map(|(_, b)| b).collect();
    assert_eq!(placed, 20, "{:?}", results.iter().map(|r| r.0).collect::<Vec<_>>());
    assert_eq!(refused.len(), 180);
    assert!(refused.iter().all(|b| b["code"] == "insufficient_stock"), "{:?}", refused.iter().map(|b| &b["code"]).collect::<Vec<_>>());
    assert_eq!(app.stock(&product).await, (0, 20), "none left, never negative");
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM orders").fetch_one(&app.db().await).await.unwrap();
    assert_eq!(n, 20);
}

#[tokio::test]
async fn fifty_concurrent_replays_of_one_key_make_one_order_one_reservation_one_redemption() {
    let app = Arc::new(app().await);
    let (who, product) = app.shopper(3_000, 10, 2).await;
    app.apply_coupon(&who, "SAVE10").await;
    let results = futures::future::join_all((0..50).map(|_| place_until_answered(&app, &who, "double-click"))).await;
    let ids: std::collections::HashSet<String> = results.iter().map(|(_, b)| b["id"].as_str().unwrap_or("?").to_owned()).collect();
    assert_eq!(ids.len(), 1, "{results:?}");
    assert_eq!(results.iter().filter(|(s, _)| *s == 201).count(), 1);
    assert!(results.iter().all(|(s, b)| (*s == 201 || *s == 200) && *b == results[0].1));
    assert_eq!(app.stock(&product).await, (8, 2));
    assert_eq!(app.coupon_uses("SAVE10").await, 1);
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM orders").fetch_one(&app.db().await).await.unwrap();
    assert_eq!(n, 1);
}
