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

/// Finding 12: deleting a coupon deletes its per-user counters; a coupon re-created with the
/// same code starts afresh, and releasing a redemption of the old coupon answers 204 without
/// touching the new one's counters.
#[tokio::test]
async fn a_recreated_coupon_starts_afresh_and_old_releases_leave_it_alone() {
    let app = app().await;
    let admin = app.admin.clone();
    let create = || Req::post("/api/coupons").json(json!({"code": "PER1", "type": "percent", "value": 10, "perUserLimit": 1}));
    app.send_as(&admin, create()).await.expect(201);
    let orders = app.internal().await;
    let user = Uuid::now_v7();
    let old = Uuid::now_v7();
    let _: Value = orders.post("/internal/coupons/redemptions", &redeem("PER1", old, user, 9_000)).await.unwrap();
    let err = orders.post::<_, Value>("/internal/coupons/redemptions", &redeem("PER1", Uuid::now_v7(), user, 9_000)).await.unwrap_err();
    assert_eq!(reason(&err), "limit_reached");

    app.send_as(&admin, Req::delete("/api/coupons/PER1")).await.expect(204);
    assert_eq!(app.state.coupons.user_counter("PER1", user).await.unwrap(), None, "the per-user counter went with the coupon");
    app.send_as(&admin, create()).await.expect(201);

    // The same user may redeem the new coupon once.
    let new = Uuid::now_v7();
    let _: Value = orders.post("/internal/coupons/redemptions", &redeem("PER1", new, user, 9_000)).await.unwrap();
    let count = || async { app.send_as(&app.admin, Req::get("/api/coupons/PER1")).await.expect(200)["redemptionCount"].clone() };
    assert_eq!(count().await, 1);

    // Releasing the old coupon's redemption: 204, and the new counters stay as they are.
    let released = orders.send(Method::DELETE, &format!("/internal/coupons/redemptions/{old}"), None).await.unwrap();
    assert_eq!(released.status, StatusCode::NO_CONTENT);
    assert_eq!(count().await, 1, "the new coupon's count is not decremented by an old redemption");
    let err = orders.post::<_, Value>("/internal/coupons/redemptions", &redeem("PER1", Uuid::now_v7(), user, 9_000)).await.unwrap_err();
    assert_eq!(reason(&err), "limit_reached", "nor is the user's counter");

    // Releasing the new one gives its counts back.
    let _: () = orders.delete(&format!("/internal/coupons/redemptions/{new}")).await.unwrap();
    assert_eq!(count().await, 0);
    let _: Value = orders.post("/internal/coupons/redemptions", &redeem("PER1", Uuid::now_v7(), user, 9_000)).await.unwrap();
    assert_eq!(count().await, 1);
}

/// Finding 12, what a delete may leave behind: a per-user counter of an earlier incarnation
/// (more counters than one delete removes, a delete cut short) counts nothing for the new
/// coupon and is reset by the next redemption; coupons, counters and redemptions written before
/// incarnations keep counting and releasing as before.
#[tokio::test]
async fn leftover_counters_count_nothing_and_items_without_incarnations_work_as_before() {
    use aws_sdk_dynamodb::types::AttributeValue::{Bool, N, S};
    use cart::store::{RedeemError, UserCounter};

    let (ddb, table) = shop_testkit::table("PromotionsTable").await;
    let store = cart::store::CouponStore::new(ddb.clone(), &table);
    let put = |item: Vec<(&str, aws_sdk_dynamodb::types::AttributeValue)>| {
        let request = ddb.put_item().table_name(&table).set_item(Some(item.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()));
        async move { request.send().await.unwrap() }
    };
    let now = "2026-01-01T00:00:00Z";
    let user = Uuid::now_v7();

    // A coupon of today, and a counter left by an earlier one with the same code.
    let coupon = cart::domain::Coupon {
        code: "LEFT".into(),
        kind: cart::domain::CouponType::Percent,
        value: 10,
        min_subtotal: 0,
        starts_at: None,
        ends_at: None,
        max_redemptions: None,
        per_user_limit: Some(1),
        active: true,
        redemption_count: 0,
        created_at: shop_core::time::Timestamp::now(),
        updated_at: shop_core::time::Timestamp::now(),
    };
    store.create(&coupon).await.unwrap();
    let old = Uuid::now_v7().to_string();
    put(vec![("pk", S("COUPON#LEFT".into())), ("sk", S(format!("USER#{user}"))), ("count", N("3".into())), ("incarnation", S(old))]).await;
    let stored = store.coupon("LEFT").await.unwrap().unwrap();
    assert_eq!(store.used_by(&stored, user).await.unwrap(), 0, "a counter of another incarnation counts nothing");
    let first = store.redeem("LEFT", Uuid::now_v7(), user, 1_000).await.unwrap();
    assert_eq!(first.coupon_incarnation, stored.incarnation);
    assert_eq!(store.user_counter("LEFT", user).await.unwrap(), Some(UserCounter { count: 1, incarnation: stored.incarnation }), "reset");
    let again = store.redeem("LEFT", Uuid::now_v7(), user, 1_000).await.unwrap_err();
    assert!(matches!(again, RedeemError::Rejected(cart::domain::Rejection::LimitReached)), "{again:?}");

    // A coupon, counter and redemption from before incarnations (no `incarnation` anywhere).
    put(vec![
        ("pk", S("COUPON#LEGACY".into())),
        ("sk", S("COUPON".into())),
        ("code", S("LEGACY".into())),
        ("type", S("fixed".into())),
        ("value", N("500".into())),
        ("minSubtotal", N("0".into())),
        ("perUserLimit", N("2".into())),
        ("active", Bool(true)),
        ("redemptionCount", N("1".into())),
        ("createdAt", S(now.into())),
        ("updatedAt", S(now.into())),
        ("version", N("1".into())),
        ("gsi1pk", S("COUPONS".into())),
        ("gsi1sk", S("LEGACY".into())),
    ])
    .await;
    put(vec![("pk", S("COUPON#LEGACY".into())), ("sk", S(format!("USER#{user}"))), ("count", N("1".into()))]).await;
    let order = Uuid::now_v7();
    put(vec![
        ("pk", S(format!("REDEMPTION#{order}"))),
        ("sk", S("REDEMPTION".into())),
        ("redemptionId", S(Uuid::now_v7().to_string())),
        ("orderId", S(order.to_string())),
        ("code", S("LEGACY".into())),
        ("userId", S(user.to_string())),
        ("discount", N("500".into())),
        ("createdAt", S(now.into())),
    ])
    .await;
    let legacy = store.coupon("LEGACY").await.unwrap().unwrap();
    assert_eq!((legacy.incarnation, store.used_by(&legacy, user).await.unwrap()), (None, 1));
    // A second redemption fits the limit of 2, a third does not.
    let second = store.redeem("LEGACY", Uuid::now_v7(), user, 1_000).await.unwrap();
    assert_eq!(second.coupon_incarnation, None);
    assert_eq!(store.user_counter("LEGACY", user).await.unwrap(), Some(UserCounter { count: 2, incarnation: None }));
    assert!(store.redeem("LEGACY", Uuid::now_v7(), user, 1_000).await.is_err());
    // Releasing the old redemption gives back to the coupon and the user, once.
    assert!(store.release(order).await.unwrap());
    assert!(!store.release(order).await.unwrap());
    let legacy = store.coupon("LEGACY").await.unwrap().unwrap();
    assert_eq!((legacy.coupon.redemption_count, store.used_by(&legacy, user).await.unwrap()), (1, 1));
    // Deleting it takes its counters too.
    assert_eq!(store.delete("LEGACY").await.unwrap(), shop_aws::dynamo::Outcome::Done);
    assert_eq!(store.user_counter("LEGACY", user).await.unwrap(), None);
}
