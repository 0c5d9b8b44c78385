use http::{Method, StatusCode};
use serde_json::{Value, json};
use shop_internal::CallError;
use shop_testkit::Req;
use uuid::Uuid;

use crate::app;

fn redeem(code: &str, order: Uuid, user: Uuid, subtotal: i64) -> Value {
    json!({"code": code, "orderId": order, "userId": user, "subtotal": subtotal})
}

fn reason(err: &CallError) -> String {
    match err {
        CallError::Status { status, problem: Some(p) } if *status == StatusCode::UNPROCESSABLE_ENTITY => {
            p["errors"][0]["code"].as_str().unwrap_or_default().to_owned()
        }
        other => panic!("expected a 422, got {other:?}"),
    }
}

#[tokio::test]
async fn a_hundred_concurrent_redemptions_of_a_coupon_limited_to_ten_make_exactly_ten() {
    let app = app().await;
    app.send_as(&app.admin, Req::post("/api/coupons").json(json!({"code": "TEN", "type": "percent", "value": 10, "maxRedemptions": 10})))
        .await
        .expect(201);
    let orders = app.internal().await;
    let attempts = (0..100).map(|_| {
        let orders = orders.clone();
        async move { orders.post::<_, Value>("/internal/coupons/redemptions", &redeem("ten", Uuid::now_v7(), Uuid::now_v7(), 10_000)).await }
    });
    let results = futures::future::join_all(attempts).await;
    let won: Vec<&Value> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    let reasons: Vec<String> = results.iter().filter_map(|r| r.as_ref().err()).map(reason).collect();
    assert_eq!(won.len(), 10, "exactly ten redemptions; refusals: {reasons:?}");
    assert!(reasons.iter().all(|r| r == "limit_reached"), "{reasons:?}");
    assert!(won.iter().all(|r| r["discount"] == 1_000 && r["code"] == "TEN"));
    let coupon = app.send_as(&app.admin, Req::get("/api/coupons/TEN")).await.expect(200);
    assert_eq!(coupon["redemptionCount"], 10);
}

#[tokio::test]
async fn redemption_is_idempotent_by_order_and_release_counts_once() {
    let app = app().await;
    app.send_as(
        &app.admin,
        Req::post("/api/coupons").json(json!({"code": "TWICE", "type": "fixed", "value": 5_000, "perUserLimit": 2, "maxRedemptions": 50})),
    )
    .await
    .expect(201);
    let orders = app.internal().await;
    let user = Uuid::now_v7();
    let order = Uuid::now_v7();
    let first: Value = orders.post("/internal/coupons/redemptions", &redeem("TWICE", order, user, 3_000)).await.unwrap();
    assert_eq!((&first["code"], &first["discount"]), (&json!("TWICE"), &json!(3_000)), "fixed discounts are capped at the subtotal");
    // Repeats (sequential and concurrent) return the same redemption and count once.
    let body = redeem("TWICE", order, user, 3_000);
    let repeats = (0..5).map(|_| orders.post::<_, Value>("/internal/coupons/redemptions", &body));
    for r in futures::future::join_all(repeats).await {
        assert_eq!(r.unwrap()["redemptionId"], first["redemptionId"]);
    }
    let count = || async { app.send_as(&app.admin, Req::get("/api/coupons/TWICE")).await.expect(200)["redemptionCount"].clone() };
    assert_eq!(count().await, 1);

    // Per-user limit: a second order of the same user is fine, a third is not.
    let second = Uuid::now_v7();
    let _: Value = orders.post("/internal/coupons/redemptions", &redeem("TWICE", second, user, 9_000)).await.unwrap();
    let err = orders.post::<_, Value>("/internal/coupons/redemptions", &redeem("TWICE", Uuid::now_v7(), user, 9_000)).await.unwrap_err();
    assert_eq!(reason(&err), "limit_reached");
    assert_eq!(count().await, 2);

    // Release once, however often it is asked (also concurrently); the user may redeem again.
    let path = format!("/internal/coupons/redemptions/{order}");
    let releases = (0..4).map(|_| orders.send(Method::DELETE, &path, None));
    for r in futures::future::join_all(releases).await {
        assert_eq!(r.unwrap().status, StatusCode::NO_CONTENT);
    }
    assert_eq!(count().await, 1);
    let _: () = orders.delete(&format!("/internal/coupons/redemptions/{order}")).await.unwrap();
    let _: () = orders.delete(&format!("/internal/coupons/redemptions/{}", Uuid::now_v7())).await.unwrap();
    assert_eq!(count().await, 1);
    let _: Value = orders.post("/internal/coupons/redemptions", &redeem("TWICE", Uuid::now_v7(), user, 9_000)).await.unwrap();
    assert_eq!(count().await, 2);
}

#[tokio::test]
async fn redemptions_name_the_reason_a_coupon_does_not_apply() {
    let app = app().await;
    let admin = app.admin.clone();
    app.send_as(&admin, Req::post("/api/coupons").json(json!({"code": "MIN", "type": "percent", "value": 10, "minSubtotal": 5_000})))
        .await
        .expect(201);
    app.send_as(&admin, Req::post("/api/coupons").json(json!({"code": "OFF", "type": "percent", "value": 10, "active": false})))
        .await
        .expect(201);
    let past = (time::OffsetDateTime::now_utc() - time::Duration::days(1)).format(&time::format_description::well_known::Rfc3339).unwrap();
    let future =
        (time::OffsetDateTime::now_utc() + time::Duration::days(1)).format(&time::format_description::well_known::Rfc3339).unwrap();
    app.send_as(&admin, Req::post("/api/coupons").json(json!({"code": "OLD", "type": "percent", "value": 10, "endsAt": past})))
        .await
        .expect(201);
    app.send_as(&admin, Req::post("/api/coupons").json(json!({"code": "SOON", "type": "percent", "value": 10, "startsAt": future})))
        .await
        .expect(201);
    let orders = app.internal().await;
    let user = Uuid::now_v7();
    for (code, subtotal, expected) in [
        ("NOPE", 9_000, "unknown"),
        ("MIN", 4_999, "min_subtotal"),
        ("MIN", 0, "min_subtotal"),
        ("OFF", 9_000, "inactive"),
        ("OLD", 9_000, "expired"),
        ("SOON", 9_000, "not_started"),
    ] {
        let err =
            orders.post::<_, Value>("/internal/coupons/redemptions", &redeem(code, Uuid::now_v7(), user, subtotal)).await.unwrap_err();
        assert_eq!(reason(&err), expected, "{code}");
    }
    let ok: Value = orders.post("/internal/coupons/redemptions", &redeem("MIN", Uuid::now_v7(), user, 5_000)).await.unwrap();
    assert_eq!(ok["discount"], 500);
    // Bad input names the field.
    let err = orders
        .post::<_, Value>("/internal/coupons/redemptions", &json!({"code": "MIN", "orderId": "x", "userId": user, "subtotal": 1}))
        .await
        .unwrap_err();
    match err {
        CallError::Status { status, problem: Some(p) } => {
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
            assert_eq!(p["errors"][0]["field"], "orderId");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn internal_routes_are_invisible_from_the_public_api() {
    let app = app().await;
    let body = redeem("SAVE10", Uuid::now_v7(), Uuid::now_v7(), 1_000);
    app.send(Req::post("/internal/coupons/redemptions").json(body)).await.expect_problem(404, shop_core::http::ROUTE_NOT_FOUND);
    app.send_as(&app.admin, Req::delete(&format!("/internal/coupons/redemptions/{}", Uuid::now_v7())))
        .await
        .expect_problem(404, shop_core::http::ROUTE_NOT_FOUND);
}
