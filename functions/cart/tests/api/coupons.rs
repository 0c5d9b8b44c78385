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
async fn applying_a_coupon_reports_why_it_does_not_apply() {
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
        assert_eq!(problem["errors"][0], json!({"field": "code", "code": reason, "message": problem["errors"][0]["message"]}), "{problem}");
    }
    // BIG applies once the subtotal reaches its minimum, and its discount follows the subtotal.
    app.send_as(&user, Req::put(&format!("/api/cart/items/{mug}")).json(json!({"quantity": 3}))).await.expect(200);
    let cart = app.send_as(&user, Req::post("/api/cart/coupon").json(json!({"code": "big"}))).await.expect(200);
    assert_eq!((&cart["couponCode"], &cart["discount"]), (&json!("BIG"), &json!(500)));
    let cart = app.send_as(&user, Req::put(&format!("/api/cart/items/{mug}")).json(json!({"quantity": 2}))).await.expect(200);
    assert_eq!((&cart["couponCode"], &cart["discount"]), (&json!("BIG"), &json!(0)), "below the minimum the discount is 0");
    // Used up: limit_reached.
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
    assert_eq!(problem["errors"][0]["code"], "limit_reached");
    // Admin deactivation shows on the next apply.
    app.send_as(&admin, Req::put("/api/coupons/SAVE20").json(json!({"active": false}))).await.expect(200);
    let problem =
        app.send_as(&user, Req::post("/api/cart/coupon").json(json!({"code": "SAVE20"}))).await.expect_problem(422, "invalid_coupon");
    assert_eq!(problem["errors"][0]["code"], "inactive");
}
