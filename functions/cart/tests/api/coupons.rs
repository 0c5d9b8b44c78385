use serde_json::json;
use shop_testkit::Req;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::{app, customer};

fn at(offset: time::Duration) -> String {
    (OffsetDateTime::now_utc() + offset).format(&Rfc3339).unwrap()
}

#[tokio::test]
async fn admins_manage_coupons_with_case_insensitive_unique_codes() {
    let app = app().await;
    let admin = app.admin.clone();
    let list = app.send_as(&admin, Req::get("/api/coupons")).await.expect(200);
    let codes: Vec<&str> = list["data"].as_array().unwrap().iter().map(|c| c["code"].as_str().unwrap()).collect();
    assert_eq!(codes, vec!["FLAT100", "FLAT50", "SAVE10", "SAVE20"], "the seed's coupons");
    assert_eq!(list["meta"]["total"], 4);
    let save10 = app.send_as(&admin, Req::get("/api/coupons/save10")).await.expect(200);
    assert_eq!((&save10["type"], &save10["value"], &save10["active"]), (&json!("percent"), &json!(10), &json!(true)));
    let flat50 = app.send_as(&admin, Req::get("/api/coupons/FLAT50")).await.expect(200);
    assert_eq!((&flat50["type"], &flat50["value"]), (&json!("fixed"), &json!(5_000)));

    let created = app
        .send_as(
            &admin,
            Req::post("/api/coupons").json(
                json!({"code": "Welcome15", "type": "percent", "value": 15, "minSubtotal": 5000, "perUserLimit": 1, "maxRedemptions": 100}),
            ),
        )
        .await
        .expect(201);
    assert_eq!(created["code"], "WELCOME15");
    assert_eq!(created["redemptionCount"], 0);
    let dup = app.send_as(&admin, Req::post("/api/coupons").json(json!({"code": "welcome15", "type": "fixed", "value": 100}))).await;
    assert_eq!(dup.expect_problem(409, "coupon_exists")["errors"][0]["field"], "code");

    let updated = app
        .send_as(
            &admin,
            Req::put("/api/coupons/welcome15").json(json!({"value": 25, "maxRedemptions": null, "endsAt": at(time::Duration::days(30))})),
        )
        .await
        .expect(200);
    assert_eq!(updated["value"], 25);
    assert!(updated.get("maxRedemptions").is_none(), "null clears: {updated}");
    assert!(updated["endsAt"].is_string());
    assert_eq!(updated["perUserLimit"], 1, "absent fields stay");

    let page = app.send_as(&admin, Req::get("/api/coupons?page=2&limit=2")).await.expect(200);
    assert_eq!(page["data"].as_array().unwrap().len(), 2);
    assert_eq!(page["meta"], json!({"total": 5, "page": 2, "limit": 2, "totalPages": 3}));
    app.send_as(&admin, Req::get("/api/coupons?limit=0")).await.expect_problem(400, "invalid_parameter");

    app.send_as(&admin, Req::delete("/api/coupons/WELCOME15")).await.expect(204);
    app.send_as(&admin, Req::get("/api/coupons/WELCOME15")).await.expect_problem(404, "coupon_not_found");
    app.send_as(&admin, Req::delete("/api/coupons/WELCOME15")).await.expect_problem(404, "coupon_not_found");
    app.send_as(&admin, Req::put("/api/coupons/WELCOME15").json(json!({"value": 5}))).await.expect_problem(404, "coupon_not_found");
}

#[tokio::test]
async fn customers_and_guests_cannot_manage_coupons() {
    let app = app().await;
    let customer = customer();
    app.send_as(&customer, Req::get("/api/coupons")).await.expect_problem(403, "forbidden");
    app.send_as(&customer, Req::post("/api/coupons").json(json!({"code": "FREE", "type": "fixed", "value": 100})))
        .await
        .expect_problem(403, "forbidden");
    app.send_as(&customer, Req::get("/api/coupons/SAVE10")).await.expect_problem(403, "forbidden");
    app.send_as(&customer, Req::put("/api/coupons/SAVE10").json(json!({"value": 90}))).await.expect_problem(403, "forbidden");
    app.send_as(&customer, Req::delete("/api/coupons/SAVE10")).await.expect_problem(403, "forbidden");
    app.send(Req::get("/api/coupons")).await.expect_problem(401, "unauthenticated");
    assert_eq!(app.send_as(&app.admin, Req::get("/api/coupons/SAVE10")).await.expect(200)["value"], 10);
}

#[tokio::test]
async fn invalid_coupon_definitions_name_the_field() {
    let app = app().await;
    let admin = app.admin.clone();
    let create = |body: serde_json::Value| Req::post("/api/coupons").json(body);
    for (body, field) in [
        (json!({"code": "P0", "type": "percent", "value": 0}), "value"),
        (json!({"code": "P101", "type": "percent", "value": 101}), "value"),
        (json!({"code": "F0", "type": "fixed", "value": 0}), "value"),
        (json!({"code": "X", "type": "fixed", "value": 100}), "code"),
        (json!({"code": "HAS SPACE", "type": "fixed", "value": 100}), "code"),
        (json!({"code": "T1", "type": "bogus", "value": 100}), "type"),
        (json!({"code": "T2", "value": 100}), "type"),
        (json!({"code": "T3", "type": "fixed", "value": 100, "minSubtotal": -1}), "minSubtotal"),
        (json!({"code": "T4", "type": "fixed", "value": 100, "maxRedemptions": 0}), "maxRedemptions"),
        (json!({"code": "T5", "type": "fixed", "value": 100, "perUserLimit": 0}), "perUserLimit"),
        (json!({"code": "T9", "type": "fixed", "value": 100, "perUserLimit": 1_000_000_001}), "perUserLimit"),
        (json!({"code": "T10", "type": "fixed", "value": 100, "maxRedemptions": 2_147_483_648_u64}), "maxRedemptions"),
        (json!({"code": "T6", "type": "fixed", "value": 100, "startsAt": "yesterday"}), "startsAt"),
        (
            json!({"code": "T7", "type": "fixed", "value": 100, "startsAt": at(time::Duration::days(2)), "endsAt": at(time::Duration::days(1))}),
            "endsAt",
        ),
        (json!({"code": "T8", "type": "fixed", "value": 100, "redemptionCount": 5}), "redemptionCount"),
    ] {
        let body = app.send_as(&admin, create(body)).await.expect_problem(422, "validation_failed");
        assert_eq!(body["errors"][0]["field"], field, "{body}");
    }
    let body =
        app.send_as(&admin, Req::put("/api/coupons/SAVE10").json(json!({"value": 150}))).await.expect_problem(422, "validation_failed");
    assert_eq!(body["errors"][0]["field"], "value");
    let body =
        app.send_as(&admin, Req::put("/api/coupons/SAVE10").json(json!({"code": "OTHER"}))).await.expect_problem(422, "validation_failed");
    assert_eq!(body["errors"][0]["field"], "code", "codes cannot be renamed");
    assert_eq!(app.send_as(&admin, Req::get("/api/coupons/SAVE10")).await.expect(200)["value"], 10, "refused updates change nothing");
}

#[tokio::test]
async fn a_coupon_that_does_not_apply_is_refused_without_saying_why() {
    let app = app().await;
    let admin = app.admin.clone();
    let mug = app.product("Mug", 2000, 20).await;
    let user = customer();
    app.send_as(&user, Req::post("/api/cart/items").json(json!({"productId": mug, "quantity": 1}))).await.expect(200);
    let coupons = [
        (json!({"code": "OFF", "type": "percent", "value": 5, "active": false}), "inactive"),
        (json!({"code": "OLD", "type": "percent", "value": 5, "endsAt": at(time::Duration::hours(-1))}), "expired"),
        (json!({"code": "SOON", "type": "percent", "value": 5, "startsAt": at(time::Duration::hours(1))}), "not_started"),
        (json!({"code": "BIG", "type": "fixed", "value": 500, "minSubtotal": 5000}), "min_subtotal"),
    ];
    for (body, reason) in coupons {
        let code = body["code"].clone();
        app.send_as(&admin, Req::post("/api/coupons").json(body)).await.expect(201);
        let refused = app.send_as(&user, Req::post("/api/cart/coupon").json(json!({"code": code}))).await;
        let problem = refused.expect_problem(422, "invalid_coupon");
        // The public answer hides the reason (it is logged; the internal redemption route names it).
        assert_eq!(
            problem["errors"][0],
            json!({"field": "code", "code": "not_applicable", "message": problem["errors"][0]["message"]}),
            "{reason}: {problem}"
        );
    }
    // BIG applies once the subtotal reaches its minimum, and its discount follows the subtotal.
    app.send_as(&user, Req::put(&format!("/api/cart/items/{mug}")).json(json!({"quantity": 3}))).await.expect(200);
    let cart = app.send_as(&user, Req::post("/api/cart/coupon").json(json!({"code": "big"}))).await.expect(200);
    assert_eq!((&cart["couponCode"], &cart["discount"]), (&json!("BIG"), &json!(500)));
    let cart = app.send_as(&user, Req::put(&format!("/api/cart/items/{mug}")).json(json!({"quantity": 2}))).await.expect(200);
    assert_eq!((&cart["couponCode"], &cart["discount"]), (&json!("BIG"), &json!(0)), "below the minimum the discount is 0");
    // Used up (limit_reached, logged): not applicable.
    app.send_as(&admin, Req::post("/api/coupons").json(json!({"code": "ONCE", "type": "fixed", "value": 100, "maxRedemptions": 1})))
        .await
        .expect(201);
    let orders = app.internal().await;
    let _: serde_json::Value = orders
        .post(
            "/internal/coupons/redemptions",
            &json!({"code": "ONCE", "orderId": uuid::Uuid::now_v7(), "userId": uuid::Uuid::now_v7(), "subtotal": 5000}),
        )
        .await
        .unwrap();
    let problem =
        app.send_as(&user, Req::post("/api/cart/coupon").json(json!({"code": "ONCE"}))).await.expect_problem(422, "invalid_coupon");
    assert_eq!(problem["errors"][0]["code"], "not_applicable");
    // Admin deactivation shows on the next apply.
    app.send_as(&admin, Req::put("/api/coupons/SAVE20").json(json!({"active": false}))).await.expect(200);
    let problem =
        app.send_as(&user, Req::post("/api/cart/coupon").json(json!({"code": "SAVE20"}))).await.expect_problem(422, "invalid_coupon");
    assert_eq!(problem["errors"][0]["code"], "not_applicable");
}

/// Finding 7: a code that does not apply gets one answer whatever the reason (unknown,
/// inactive, expired, not started, used up, below the minimum), and rejected attempts are
/// limited per cart: the 11th is a 429 with `Retry-After`, whatever the code.
#[tokio::test]
async fn coupon_codes_cannot_be_enumerated_and_rejections_are_limited_per_cart() {
    let app = app().await;
    let admin = app.admin.clone();
    let mug = app.product("Mug", 2000, 20).await;
    for body in [
        json!({"code": "OFF", "type": "percent", "value": 5, "active": false}),
        json!({"code": "OLD", "type": "percent", "value": 5, "endsAt": at(time::Duration::hours(-1))}),
        json!({"code": "SOON", "type": "percent", "value": 5, "startsAt": at(time::Duration::hours(1))}),
        json!({"code": "BIG", "type": "fixed", "value": 500, "minSubtotal": 5000}),
        json!({"code": "ONCE", "type": "fixed", "value": 100, "maxRedemptions": 1}),
    ] {
        app.send_as(&admin, Req::post("/api/coupons").json(body)).await.expect(201);
    }
    let orders = app.internal().await;
    let _: serde_json::Value = orders
        .post(
            "/internal/coupons/redemptions",
            &json!({"code": "ONCE", "orderId": uuid::Uuid::now_v7(), "userId": uuid::Uuid::now_v7(), "subtotal": 5000}),
        )
        .await
        .unwrap();
    let user = customer();
    app.send_as(&user, Req::post("/api/cart/items").json(json!({"productId": mug, "quantity": 1}))).await.expect(200);
    let apply = |code: &str| Req::post("/api/cart/coupon").json(json!({"code": code}));

    // Unknown, inactive, expired, not started, below the minimum, used up: byte-identical.
    let mut bodies = Vec::new();
    for code in ["NOPE", "OFF", "OLD", "SOON", "BIG", "ONCE"] {
        let refused = app.send_as(&user, apply(code)).await;
        let problem = refused.expect_problem(422, "invalid_coupon");
        assert_eq!(problem["errors"][0]["code"], "not_applicable", "{code}: {problem}");
        assert_eq!(problem["errors"][0]["field"], "code");
        bodies.push((code, refused.body.clone()));
    }
    for (code, body) in &bodies {
        assert_eq!(body, &bodies[0].1, "{code} is told apart from {}: {}", bodies[0].0, String::from_utf8_lossy(body));
    }
    // The admin still sees the coupon and why it does not apply.
    assert!(app.send_as(&admin, Req::get("/api/coupons/OLD")).await.expect(200)["endsAt"].is_string());

    // 6 rejections so far; 3 more make 9, and a correct code still works.
    for _ in 0..3 {
        app.send_as(&user, apply("NOPE")).await.expect_problem(422, "invalid_coupon");
    }
    let cart = app.send_as(&user, apply("save10")).await.expect(200);
    assert_eq!(cart["couponCode"], "SAVE10");
    // The 10th rejection is still answered; the 11th attempt is refused whatever the code.
    app.send_as(&user, apply("NOPE2")).await.expect_problem(422, "invalid_coupon");
    let limited = app.send_as(&user, apply("NOPE3")).await;
    limited.expect_problem(429, "too_many_attempts");
    let retry_after: u64 = limited.header("retry-after").expect("Retry-After").parse().unwrap();
    assert!((1..=900).contains(&retry_after), "{retry_after}");
    app.send_as(&user, apply("SAVE20")).await.expect_problem(429, "too_many_attempts");
    assert_eq!(app.send_as(&user, Req::get("/api/cart")).await.expect(200)["couponCode"], "SAVE10", "refused attempts change nothing");

    // Another cart (same source IP) is not affected.
    let other = customer();
    app.send_as(&other, Req::post("/api/cart/items").json(json!({"productId": mug, "quantity": 1}))).await.expect(200);
    app.send_as(&other, apply("NOPE")).await.expect_problem(422, "invalid_coupon");
    assert_eq!(app.send_as(&other, apply("SAVE20")).await.expect(200)["couponCode"], "SAVE20");
}

/// Finding 7: attempts are counted before anything is decided, so a burst of concurrent
/// attempts on one cart cannot all slip under the limit.
#[tokio::test]
async fn concurrent_coupon_attempts_cannot_slip_past_the_limit() {
    let app = app().await;
    let mug = app.product("Mug", 2000, 5).await;
    let user = customer();
    app.send_as(&user, Req::post("/api/cart/items").json(json!({"productId": mug, "quantity": 1}))).await.expect(200);
    let attempts = (0..25).map(|i| app.send_as(&user, Req::post("/api/cart/coupon").json(json!({"code": format!("GUESS{i}")}))));
    let statuses: Vec<u16> = futures::future::join_all(attempts).await.iter().map(|r| r.status.as_u16()).collect();
    let refused = statuses.iter().filter(|s| **s == 422).count();
    let limited = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!((refused, limited), (10, 15), "{statuses:?}");
}

/// Finding 7: rejected attempts are also limited per source IP (30 per window), across carts.
#[tokio::test]
async fn rejected_coupon_attempts_are_limited_per_source_ip() {
    let app = app().await;
    let mug = app.product("Mug", 2000, 50).await;
    let ip = "198.51.100.7";
    let apply = |code: &str, ip: &str| Req::post("/api/cart/coupon").json(json!({"code": code})).source_ip(ip);
    let mut users = Vec::new();
    for _ in 0..5 {
        let user = customer();
        app.send_as(&user, Req::post("/api/cart/items").json(json!({"productId": mug, "quantity": 1}))).await.expect(200);
        users.push(user);
    }
    // 30 rejections from one IP over four carts (under each cart's own limit).
    for attempt in 0..30 {
        let user = &users[attempt % 4];
        app.send_as(user, apply(&format!("GUESS{attempt}"), ip)).await.expect_problem(422, "invalid_coupon");
    }
    // The 31st from that IP is refused on a fifth cart too, even with a correct code; another IP is not.
    let limited = app.send_as(&users[4], apply("GUESS", ip)).await;
    limited.expect_problem(429, "too_many_attempts");
    assert!(limited.header("retry-after").is_some());
    app.send_as(&users[4], apply("SAVE10", ip)).await.expect_problem(429, "too_many_attempts");
    app.send_as(&users[4], apply("GUESS", "198.51.100.8")).await.expect_problem(422, "invalid_coupon");
    assert_eq!(app.send_as(&users[4], apply("SAVE10", "198.51.100.8")).await.expect(200)["couponCode"], "SAVE10");
}

/// Finding 10: a code path parameter longer than any DynamoDB key is simply not found.
#[tokio::test]
async fn a_coupon_code_no_coupon_can_have_is_not_found() {
    let app = app().await;
    let admin = app.admin.clone();
    for code in ["A".repeat(2_000), "B".repeat(4_000), "%C3%A9t%C3%A9".to_owned(), "x".to_owned()] {
        let path = format!("/api/coupons/{code}");
        app.send_as(&admin, Req::get(&path)).await.expect_problem(404, "coupon_not_found");
        app.send_as(&admin, Req::put(&path).json(json!({"value": 5}))).await.expect_problem(404, "coupon_not_found");
        app.send_as(&admin, Req::delete(&path)).await.expect_problem(404, "coupon_not_found");
    }
    // Codes in bodies are length-limited before any lookup.
    let user = customer();
    let mug = app.product("Mug", 2000, 5).await;
    app.send_as(&user, Req::post("/api/cart/items").json(json!({"productId": mug, "quantity": 1}))).await.expect(200);
    let body = app
        .send_as(&user, Req::post("/api/cart/coupon").json(json!({"code": "C".repeat(2_000)})))
        .await
        .expect_problem(422, "validation_failed");
    assert_eq!(body["errors"][0]["field"], "code");
    let body = app
        .send_as(&admin, Req::post("/api/coupons").json(json!({"code": "D".repeat(2_000), "type": "fixed", "value": 100})))
        .await
        .expect_problem(422, "validation_failed");
    assert_eq!(body["errors"][0]["field"], "code");
}

/// Concurrent admin edits of one coupon all apply (the store re-reads and retries a lost race)
/// instead of answering a conflict the admin must retry by hand.
#[tokio::test]
async fn concurrent_coupon_edits_all_apply() {
    let app = app().await;
    let admin = app.admin.clone();
    let edits = futures::future::join_all((0..6).map(|i| {
        let body = if i % 2 == 0 { json!({"minSubtotal": 1000 + i}) } else { json!({"perUserLimit": 3}) };
        app.send_as(&admin, Req::put("/api/coupons/SAVE20").json(body))
    }))
    .await;
    assert!(edits.iter().all(|e| e.status == 200), "{:?}", edits.iter().map(|e| e.status).collect::<Vec<_>>());
    let coupon = app.send_as(&admin, Req::get("/api/coupons/SAVE20")).await.expect(200);
    assert_eq!(coupon["perUserLimit"], 3, "{coupon}");
    assert!(coupon["minSubtotal"].as_i64().unwrap() >= 1000, "{coupon}");
}
