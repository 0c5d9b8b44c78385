//! Placing orders: totals, snapshots, idempotency, and every bad input named.

use serde_json::json;
use shop_testkit::Req;

use crate::{address, app, checkout_body, customer};

#[tokio::test]
async fn a_card_order_is_pending_with_the_carts_totals_to_the_cent_and_its_stock_reserved() {
    let app = app().await;
    let (who, product) = app.shopper(1_234, 10, 3).await;
    let other = app.product("Mug", 4_999, 5, None).await;
    app.add_to_cart(&who, &other, 1).await;
    app.apply_coupon(&who, "SAVE10").await;
    let cart = app.cart_of(&who).await;

    let order = app.place(&who, "key-1", checkout_body("card")).await.expect(201);
    assert_eq!(order["status"], "PENDING");
    assert!(order["orderNumber"].as_str().unwrap().starts_with("ORD-"));
    // The cart's estimate and the order agree to the cent.
    for (o, c) in [
        ("subtotal", "subtotal"),
        ("discount", "discount"),
        ("shippingCost", "estimatedShipping"),
        ("tax", "estimatedTax"),
        ("total", "total"),
    ] {
        assert_eq!(order[o], cart[c], "{o}");
    }
    // 3 × 12.34 + 49.99 = 87.01; SAVE10 → 8.70; shipping 9.99; tax 8% of 78.31 = 6.26.
    assert_eq!(
        (order["subtotal"].as_i64(), order["discount"].as_i64(), order["shippingCost"].as_i64()),
        (Some(8_701), Some(870), Some(999))
    );
    assert_eq!((order["tax"].as_i64(), order["total"].as_i64()), (Some(626), Some(8_701 - 870 + 999 + 626)));
    assert_eq!(order["couponCode"], "SAVE10");
    let line = &order["items"][0];
    assert_eq!(
        (line["productId"].as_str(), line["price"].as_i64(), line["quantity"].as_i64()),
        (Some(product.as_str()), Some(1_234), Some(3))
    );
    assert!(line["sku"].as_str().unwrap().starts_with("SKU-") && line["image"] == "https://images.test/a.webp");
    assert_eq!(order["billingAddress"], order["shippingAddress"]);
    assert!(order["paymentDueAt"].is_string());
    // Stock held, coupon redeemed once, the cart emptied, the event out.
    assert_eq!(app.stock(&product).await, (7, 3));
    assert_eq!(app.coupon_uses("SAVE10").await, 1);
    let after = app.cart_of(&who).await;
    assert_eq!(after["items"].as_array().unwrap().len(), 0);
    assert!(after.get("couponCode").is_none());
    let events = app.published(&["OrderPlaced"]).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["data"]["order"]["orderId"], order["id"]);

    // The same key and body: the same order, 200, an identical body; nothing more happens.
    let again = app.place(&who, "key-1", checkout_body("card")).await;
    assert_eq!(again.status, 200);
    assert_eq!(again.json(), order);
    // The same key with another body: 422 naming the header.
    let other_body = app.place(&who, "key-1", checkout_body("cod")).await.expect_problem(422, "idempotency_key_reused");
    assert_eq!(other_body["errors"][0]["field"], "Idempotency-Key");
    assert_eq!(app.stock(&product).await, (7, 3));
    assert_eq!(app.coupon_uses("SAVE10").await, 1);

    // The owner reads it by id and number, in the list; others do not see it.
    let id = order["id"].as_str().unwrap();
    assert_eq!(app.send_as(&who, Req::get(&format!("/api/orders/{id}"))).await.expect(200), order);
    let number = order["orderNumber"].as_str().unwrap();
    assert_eq!(app.send_as(&who, Req::get(&format!("/api/orders/number/{number}"))).await.expect(200)["id"], order["id"]);
    let list = app.send_as(&who, Req::get("/api/orders")).await.expect(200);
    assert_eq!((list["meta"]["total"].as_i64(), &list["data"][0]["id"]), (Some(1), &order["id"]));
    app.send_as(&customer(), Req::get(&format!("/api/orders/{id}"))).await.expect_problem(404, "not_found");
    app.send_as(&customer(), Req::get(&format!("/api/orders/number/{number}"))).await.expect_problem(404, "not_found");
    app.send_as(&app.admin, Req::get(&format!("/api/orders/{id}"))).await.expect(200);
}

#[tokio::test]
async fn a_cash_on_delivery_order_is_confirmed_at_placement() {
    let app = app().await;
    let (who, _) = app.shopper(15_000, 2, 1).await;
    let order = app.place(&who, "cod-1", checkout_body("cod")).await.expect(201);
    assert_eq!((order["status"].as_str(), order["shippingCost"].as_i64()), (Some("CONFIRMED"), Some(0)));
    assert!(order["confirmedAt"].is_string() && order.get("paymentDueAt").is_none());
    let events = app.published(&["OrderPlaced", "OrderConfirmed"]).await;
    assert_eq!(events.len(), 2, "{events:?}");
}

#[tokio::test]
async fn a_saved_address_is_used_and_another_users_is_refused() {
    let app = app().await;
    // A registered user (accounts' own routes), with a saved address.
    let email = format!("{}@example.com", shop_testkit::unique("buyer"));
    let registered = Req::post("/api/auth/register")
        .json(json!({"email": email, "password": "Correct-Horse-9", "firstName": "Ada", "lastName": "Lovelace"}))
        .send(&app.accounts)
        .await
        .expect(201);
    let who = crate::Who(registered["user"]["id"].as_str().unwrap().to_owned(), "CUSTOMER");
    app.add_to_cart(&who, &app.product("Lamp", 1_000, 5, None).await, 1).await;
    let header = format!("Bearer {}", registered["accessToken"].as_str().unwrap());
    let authorizer = sam_model::authorizer::JwtAuthorizer::new("http://issuer.test", vec!["skyshop".into()], app.jwks());
    let claims = authorizer.authorize(Some(&header), &[]).unwrap();
    let saved = Req::post("/api/users/me/addresses")
        .json(address())
        .header("authorization", &header)
        .claims(claims)
        .send(&app.accounts)
        .await
        .expect(201);
    let id = saved["id"].as_str().unwrap();
    let stranger = customer();
    let body = json!({"shippingAddressId": id, "paymentMethod": "card"});
    app.add_to_cart(&stranger, &app.product("Pen", 100, 5, None).await, 1).await;
    let refused = app.place(&stranger, "k", body.clone()).await.expect_problem(422, "validation_failed");
    assert_eq!(refused["errors"][0]["field"], "shippingAddressId");
    let order = app.place(&who, "k", body).await.expect(201);
    assert_eq!(order["shippingAddress"]["city"], "London");
}

#[tokio::test]
async fn bad_input_is_refused_naming_the_field_and_nothing_is_held() {
    let app = app().await;
    let who = customer();
    // No Idempotency-Key.
    let missing =
        app.send_as(&who, Req::post("/api/orders").json(checkout_body("card"))).await.expect_problem(400, "idempotency_key_required");
    assert_eq!(missing["errors"][0]["field"], "Idempotency-Key");
    // An empty cart.
    app.place(&who, "k1", checkout_body("card")).await.expect_problem(422, "cart_empty");
    // Invalid addresses and payment methods, unknown fields.
    let mut body = checkout_body("card");
    body["shippingAddress"]["city"] = json!("  ");
    let bad = app.place(&who, "k2", body).await.expect_problem(422, "validation_failed");
    assert_eq!(bad["errors"][0]["field"], "shippingAddress.city");
    let bad = app.place(&who, "k3", json!({"shippingAddress": address(), "paymentMethod": "bitcoin"})).await;
    assert!(bad.status == 400 || bad.status == 422, "{}", bad.status);
    let bad = app.place(&who, "k4", json!({"paymentMethod": "card"})).await.expect_problem(422, "validation_failed");
    assert_eq!(bad["errors"][0]["field"], "shippingAddress");

    // Not enough stock: 409 naming the line and what is available.
    let (who, product) = app.shopper(500, 3, 3).await;
    app.set_stock(&product, 2).await;
    let short = app.place(&who, "s1", checkout_body("card")).await.expect_problem(409, "insufficient_stock");
    assert_eq!(short["errors"][0]["field"], "items[0].quantity");
    assert!(short["errors"][0]["message"].as_str().unwrap().contains("only 2"), "{short}");
    assert_eq!(app.stock(&product).await, (2, 0));

    // Repriced since it entered the cart: 409 naming the line's price; nothing held.
    let (who, product) = app.shopper(700, 5, 1).await;
    Req::put(&format!("/api/products/{product}"))
        .json(json!({"price": 800}))
        .as_user(&app.admin.0, app.admin.1, &uuid::Uuid::now_v7().to_string())
        .send(&app.catalog)
        .await
        .expect(200);
    let stale = app.place(&who, "p1", checkout_body("card")).await.expect_problem(409, "cart_out_of_date");
    assert_eq!(
        (stale["errors"][0]["field"].as_str(), stale["errors"][0]["code"].as_str()),
        (Some("items[0].price"), Some("price_changed"))
    );
    assert_eq!(app.stock(&product).await, (5, 0));

    // Gone inactive: 409 naming the line's product.
    let (who, product) = app.shopper(700, 5, 1).await;
    Req::put(&format!("/api/products/{product}"))
        .json(json!({"isActive": false}))
        .as_user(&app.admin.0, app.admin.1, &uuid::Uuid::now_v7().to_string())
        .send(&app.catalog)
        .await
        .expect(200);
    let gone = app.place(&who, "i1", checkout_body("card")).await.expect_problem(409, "cart_out_of_date");
    assert_eq!(gone["errors"][0]["field"], "items[0].productId");

    // A coupon that no longer applies: 422 with the reason; the stock is not held.
    let (who, product) = app.shopper(2_000, 5, 1).await;
    app.apply_coupon(&who, "SAVE20").await;
    Req::put("/api/coupons/SAVE20")
        .json(json!({"active": false}))
        .as_user(&app.admin.0, app.admin.1, &uuid::Uuid::now_v7().to_string())
        .send(&app.cart)
        .await
        .expect(200);
    let coupon = app.place(&who, "c1", checkout_body("card")).await.expect_problem(422, "invalid_coupon");
    assert_eq!(coupon["errors"][0]["field"], "couponCode");
    assert_eq!(app.stock(&product).await, (5, 0));
    // Nothing was written for any of them.
    let db = app.db().await;
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM orders").fetch_one(&db).await.unwrap();
    assert_eq!(n, 0);
}
