use serde_json::json;
use shop_testkit::Req;
use uuid::Uuid;

use crate::{app, customer};

fn codes(body: &serde_json::Value) -> Vec<(String, String)> {
    body["errors"]
        .as_array()
        .map(|a| a.iter().map(|e| (e["field"].as_str().unwrap().to_owned(), e["code"].as_str().unwrap().to_owned())).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn a_guest_fills_a_cart_logs_in_merges_applies_save10_and_cannot_exceed_stock() {
    let app = app().await;
    let mug = app.product("Mug", 1999, 5).await;
    let lamp = app.product("Lamp", 4999, 2).await;

    // A guest cart: the token is shown once, the cart is empty.
    let (cart, token) = app.guest_cart().await;
    assert!(cart.get("userId").is_none());
    assert_eq!(cart["items"], json!([]));
    assert_eq!((cart["total"].as_i64(), cart["currency"].as_str()), (Some(0), Some("usd")));
    let again = app.send_guest(&token, Req::get("/api/cart")).await.expect(200);
    assert!(again.get("cartToken").is_none(), "the token is never shown again");

    app.send_guest(&token, Req::post("/api/cart/items").json(json!({"productId": mug, "quantity": 2}))).await.expect(200);
    let cart = app.send_guest(&token, Req::post("/api/cart/items").json(json!({"productId": mug, "quantity": 1}))).await.expect(200);
    assert_eq!(cart["items"].as_array().unwrap().len(), 1, "the same product merges into its line");
    assert_eq!(cart["items"][0]["quantity"], 3);
    assert_eq!(cart["items"][0]["name"], "Mug");
    assert_eq!(cart["items"][0]["price"], 1999);
    assert_eq!(cart["items"][0]["lineTotal"], 5997);
    assert_eq!(cart["items"][0]["image"], "https://images.test/a.webp", "the first image");
    let cart = app.send_guest(&token, Req::post("/api/cart/items").json(json!({"productId": lamp, "quantity": 1}))).await.expect(200);
    assert_eq!(cart["subtotal"], 10_996);

    // The guest logs in (a real access token) and merges the guest cart into their new user cart.
    let user = customer();
    let bearer = app.bearer(&user);
    let merged = app.send(Req::post("/api/cart/merge").header("authorization", &bearer).header("x-cart-token", &token)).await.expect(200);
    assert_eq!(merged["userId"], user.0);
    assert_eq!(merged["id"], cart["id"], "a user without a cart takes the guest cart over");
    assert_eq!(merged["subtotal"], 10_996);
    app.send_guest(&token, Req::get("/api/cart")).await.expect_problem(404, "cart_not_found");

    // SAVE10 with the seed's maths: 10% of $109.96 = $11.00 (rounded), free shipping from $100,
    // tax 8% of $98.96 = $7.92, total $106.88.
    let cart = app.send(Req::post("/api/cart/coupon").header("authorization", &bearer).json(json!({"code": "save10"}))).await.expect(200);
    assert_eq!(cart["couponCode"], "SAVE10");
    assert_eq!(
        (&cart["subtotal"], &cart["discount"], &cart["estimatedShipping"], &cart["estimatedTax"], &cart["total"]),
        (&json!(10_996), &json!(1_100), &json!(0), &json!(792), &json!(10_688))
    );

    // The resulting quantity counts: 3 mugs in the cart + 3 more > 5 in stock.
    let refused = app.send_as(&user, Req::post("/api/cart/items").json(json!({"productId": mug, "quantity": 3}))).await;
    let body = refused.expect_problem(422, "insufficient_stock");
    assert_eq!(codes(&body), vec![("quantity".to_owned(), "insufficient_stock".to_owned())]);
    assert!(body["detail"].as_str().unwrap().contains('5'), "{body}");
    let put = app.send_as(&user, Req::put(&format!("/api/cart/items/{lamp}")).json(json!({"quantity": 3}))).await;
    put.expect_problem(422, "insufficient_stock");
    let cart = app.send_as(&user, Req::get("/api/cart")).await.expect(200);
    assert_eq!(cart["total"], 10_688, "refused changes change nothing");

    // Below $100 shipping costs $9.99 and the discount follows the subtotal.
    let cart = app.send_as(&user, Req::delete(&format!("/api/cart/items/{lamp}"))).await.expect(200);
    assert_eq!(
        (&cart["subtotal"], &cart["discount"], &cart["estimatedShipping"], &cart["estimatedTax"], &cart["total"]),
        (&json!(5_997), &json!(600), &json!(999), &json!(432), &json!(6_828))
    );
}

#[tokio::test]
async fn a_guest_cart_is_reachable_only_with_its_token() {
    let app = app().await;
    let (cart, token) = app.guest_cart().await;
    let (_, other) = app.guest_cart().await;
    let id = Uuid::parse_str(cart["id"].as_str().unwrap()).unwrap();
    app.send(Req::get("/api/cart")).await.expect_problem(404, "cart_not_found");
    // Same cart id, another secret.
    let forged = format!("{}.{}", id.simple(), "0".repeat(64));
    for bad in [forged.as_str(), "nonsense", &other[..other.len() - 1], &format!("{token}0"), &token.to_uppercase()] {
        app.send_guest(bad, Req::get("/api/cart")).await.expect_problem(404, "cart_not_found");
        app.send_guest(bad, Req::delete("/api/cart")).await.expect_problem(404, "cart_not_found");
        app.send_guest(bad, Req::delete("/api/cart/items")).await.expect_problem(404, "cart_not_found");
    }
    // Another guest's token opens only the other cart.
    assert_ne!(app.send_guest(&other, Req::get("/api/cart")).await.expect(200)["id"], cart["id"]);
    assert_eq!(app.send_guest(&token, Req::get("/api/cart")).await.expect(200)["id"], cart["id"]);
    app.send_guest(&token, Req::delete("/api/cart")).await.expect(204);
    app.send_guest(&token, Req::get("/api/cart")).await.expect_problem(404, "cart_not_found");
}

#[tokio::test]
async fn users_reach_only_their_own_cart() {
    let app = app().await;
    let mug = app.product("Mug", 1999, 10).await;
    let first = customer();
    let second = customer();
    let created = app.send_as(&first, Req::post("/api/cart")).await.expect(201);
    assert_eq!(created["userId"], first.0);
    assert!(created.get("cartToken").is_none(), "user carts have no token");
    let same = app.send_as(&first, Req::post("/api/cart")).await.expect(200);
    assert_eq!(same["id"], created["id"], "a user's POST /api/cart returns their cart");
    app.send_as(&first, Req::post("/api/cart/items").json(json!({"productId": mug, "quantity": 2}))).await.expect(200);

    // The second user has no cart and cannot reach the first one's, even with its id anywhere.
    app.send_as(&second, Req::get("/api/cart")).await.expect_problem(404, "cart_not_found");
    app.send_as(&second, Req::put(&format!("/api/cart/items/{mug}")).json(json!({"quantity": 1})))
        .await
        .expect_problem(404, "cart_not_found");
    app.send_as(&second, Req::delete(&format!("/api/cart/items/{mug}"))).await.expect_problem(404, "cart_not_found");
    app.send_as(&second, Req::delete("/api/cart/items")).await.expect_problem(404, "cart_not_found");
    app.send_as(&second, Req::delete("/api/cart")).await.expect_problem(404, "cart_not_found");
    app.send_as(&second, Req::post("/api/cart/coupon").json(json!({"code": "SAVE10"}))).await.expect_problem(404, "cart_not_found");
    // A guest cannot either, with a token forged from the user cart's id.
    let forged = format!("{}.{}", Uuid::parse_str(created["id"].as_str().unwrap()).unwrap().simple(), "a".repeat(64));
    app.send_guest(&forged, Req::get("/api/cart")).await.expect_problem(404, "cart_not_found");
    let mine = app.send_as(&first, Req::get("/api/cart")).await.expect(200);
    assert_eq!(mine["items"][0]["quantity"], 2);
    // Adding as a user without a cart creates one.
    let second_cart = app.send_as(&second, Req::post("/api/cart/items").json(json!({"productId": mug, "quantity": 1}))).await.expect(200);
    assert_eq!(second_cart["userId"], second.0);
    assert_ne!(second_cart["id"], mine["id"]);
}

#[tokio::test]
async fn bad_input_is_a_4xx_naming_the_field() {
    let app = app().await;
    let mug = app.product("Mug", 1999, 200).await;
    let (_, token) = app.guest_cart().await;
    let add = |body: serde_json::Value| Req::post("/api/cart/items").json(body);
    for (body, field) in [
        (json!({"productId": mug, "quantity": 0}), "quantity"),
        (json!({"productId": mug, "quantity": 100}), "quantity"),
        (json!({"productId": mug, "quantity": -1}), "quantity"),
        (json!({"productId": mug, "quantity": "2"}), "quantity"),
        (json!({"productId": mug}), "quantity"),
        (json!({"quantity": 1}), "productId"),
        (json!({"productId": "not-a-uuid", "quantity": 1}), "productId"),
        (json!({"productId": mug, "quantity": 1, "price": 1}), "price"),
    ] {
        let body = app.send_guest(&token, add(body)).await.expect_problem(422, "validation_failed");
        assert_eq!(codes(&body)[0].0, field, "{body}");
    }
    app.send_guest(&token, Req::post("/api/cart/items").raw_body("application/json", b"{".to_vec()))
        .await
        .expect_problem(400, "malformed_json");
    app.send_guest(&token, Req::post("/api/cart/items").raw_body("text/plain", b"{}".to_vec()))
        .await
        .expect_problem(415, "unsupported_media_type");

    // Unknown, inactive and deleted products.
    let unknown = Uuid::now_v7();
    let body = app.send_guest(&token, add(json!({"productId": unknown, "quantity": 1}))).await.expect_problem(404, "product_not_found");
    assert_eq!(codes(&body)[0].0, "productId");
    let hidden = app.product("Hidden", 500, 10).await;
    let sid = Uuid::now_v7().to_string();
    Req::put(&format!("/api/products/{hidden}"))
        .json(json!({"isActive": false}))
        .as_user(&app.admin.0, app.admin.1, &sid)
        .send(&app.catalog)
        .await
        .expect(200);
    let body = app.send_guest(&token, add(json!({"productId": hidden, "quantity": 1}))).await.expect_problem(422, "product_inactive");
    assert_eq!(codes(&body)[0], ("productId".to_owned(), "product_inactive".to_owned()));
    let gone = app.product("Gone", 500, 10).await;
    Req::delete(&format!("/api/products/{gone}")).as_user(&app.admin.0, app.admin.1, &sid).send(&app.catalog).await.expect(204);
    app.send_guest(&token, add(json!({"productId": gone, "quantity": 1}))).await.expect_problem(422, "product_inactive");
    // Out of stock; a product inventory has no row for.
    let none = app.product("None", 500, 0).await;
    app.send_guest(&token, add(json!({"productId": none, "quantity": 1}))).await.expect_problem(422, "insufficient_stock");

    // The resulting quantity is at most 99.
    app.send_guest(&token, add(json!({"productId": mug, "quantity": 60}))).await.expect(200);
    let body = app.send_guest(&token, add(json!({"productId": mug, "quantity": 40}))).await.expect_problem(422, "validation_failed");
    assert_eq!(codes(&body)[0].0, "quantity");

    // Line updates.
    let put = |p: &str, body: serde_json::Value| Req::put(&format!("/api/cart/items/{p}")).json(body);
    let body = app.send_guest(&token, put(&mug, json!({"quantity": 100}))).await.expect_problem(422, "validation_failed");
    assert_eq!(codes(&body)[0].0, "quantity");
    let body = app.send_guest(&token, put("nope", json!({"quantity": 1}))).await.expect_problem(400, "invalid_parameter");
    assert_eq!(codes(&body)[0].0, "productId");
    let body = app.send_guest(&token, put(&unknown.to_string(), json!({"quantity": 1}))).await.expect_problem(404, "item_not_found");
    assert_eq!(codes(&body)[0].0, "productId");
    app.send_guest(&token, Req::delete(&format!("/api/cart/items/{unknown}"))).await.expect_problem(404, "item_not_found");

    // Coupons.
    let coupon = |code: serde_json::Value| Req::post("/api/cart/coupon").json(json!({"code": code}));
    let body = app.send_guest(&token, coupon(json!("NOPE"))).await.expect_problem(422, "invalid_coupon");
    assert_eq!(codes(&body), vec![("code".to_owned(), "not_applicable".to_owned())], "one answer for any code that does not apply");
    let body = app.send_guest(&token, coupon(json!("  "))).await.expect_problem(422, "validation_failed");
    assert_eq!(codes(&body)[0].0, "code");
    let body = app.send_guest(&token, coupon(json!(10))).await.expect_problem(422, "validation_failed");
    assert_eq!(codes(&body)[0].0, "code");
    let (_, empty) = app.guest_cart().await;
    let body = app.send_guest(&empty, coupon(json!("SAVE10"))).await.expect_problem(422, "invalid_coupon");
    assert_eq!(codes(&body), vec![("code".to_owned(), "empty_cart".to_owned())]);

    // Merging needs a signed-in caller and the guest's token.
    app.send_guest(&token, Req::post("/api/cart/merge")).await.expect_problem(401, "unauthenticated");
    app.send_as(&customer(), Req::post("/api/cart/merge")).await.expect_problem(400, "invalid_parameter");
    app.send_as(&customer(), Req::post("/api/cart/merge").header("x-cart-token", "x.y")).await.expect_problem(404, "cart_not_found");
    // An invalid bearer is a 401, never "anonymous".
    app.send(Req::get("/api/cart").header("authorization", "Bearer not-a-jwt")).await.expect_problem(401, "invalid_token");
    let forged = format!("{}x", app.bearer(&customer()));
    app.send(Req::get("/api/cart").header("authorization", &forged)).await.expect_problem(401, "invalid_token");
}

#[tokio::test]
async fn lines_change_and_clearing_drops_the_coupon_and_its_discount() {
    let app = app().await;
    let mug = app.product("Mug", 2500, 50).await;
    let user = customer();
    app.send_as(&user, Req::post("/api/cart/items").json(json!({"productId": mug, "quantity": 4}))).await.expect(200);
    let cart = app.send_as(&user, Req::post("/api/cart/coupon").json(json!({"code": "FLAT50"}))).await.expect(200);
    assert_eq!((&cart["subtotal"], &cart["discount"]), (&json!(10_000), &json!(5_000)));
    // Fixed discounts are capped at the subtotal.
    let cart = app.send_as(&user, Req::put(&format!("/api/cart/items/{mug}")).json(json!({"quantity": 1}))).await.expect(200);
    assert_eq!(
        (&cart["subtotal"], &cart["discount"], &cart["estimatedShipping"], &cart["estimatedTax"], &cart["total"]),
        (&json!(2_500), &json!(2_500), &json!(999), &json!(0), &json!(999))
    );
    let cart = app.send_as(&user, Req::delete("/api/cart/coupon")).await.expect(200);
    assert!(cart.get("couponCode").is_none());
    assert_eq!(cart["discount"], 0);
    app.send_as(&user, Req::post("/api/cart/coupon").json(json!({"code": "SAVE20"}))).await.expect(200);
    let cleared = app.send_as(&user, Req::delete("/api/cart/items")).await.expect(200);
    assert_eq!(cleared["items"], json!([]));
    assert!(cleared.get("couponCode").is_none(), "clearing drops the coupon");
    assert_eq!((&cleared["discount"], &cleared["total"]), (&json!(0), &json!(0)), "and the discount with it");
    // Quantity 0 removes a line.
    app.send_as(&user, Req::post("/api/cart/items").json(json!({"productId": mug, "quantity": 2}))).await.expect(200);
    let cart = app.send_as(&user, Req::put(&format!("/api/cart/items/{mug}")).json(json!({"quantity": 0}))).await.expect(200);
    assert_eq!(cart["items"], json!([]));
    app.send_as(&user, Req::delete("/api/cart")).await.expect(204);
    app.send_as(&user, Req::get("/api/cart")).await.expect_problem(404, "cart_not_found");
}

#[tokio::test]
async fn merging_sums_per_product_caps_to_stock_keeps_the_users_coupon_and_deletes_the_guest_cart() {
    let app = app().await;
    let mug = app.product("Mug", 1000, 5).await;
    let pen = app.product("Pen", 300, 10).await;
    let ink = app.product("Ink", 700, 10).await;
    let user = customer();
    app.send_as(&user, Req::post("/api/cart/items").json(json!({"productId": mug, "quantity": 3}))).await.expect(200);
    app.send_as(&user, Req::post("/api/cart/items").json(json!({"productId": ink, "quantity": 1}))).await.expect(200);
    app.send_as(&user, Req::post("/api/cart/coupon").json(json!({"code": "SAVE10"}))).await.expect(200);

    let (_, token) = app.guest_cart().await;
    app.send_guest(&token, Req::post("/api/cart/items").json(json!({"productId": mug, "quantity": 4}))).await.expect(200);
    app.send_guest(&token, Req::post("/api/cart/items").json(json!({"productId": pen, "quantity": 2}))).await.expect(200);
    app.send_guest(&token, Req::post("/api/cart/coupon").json(json!({"code": "SAVE20"}))).await.expect(200);
    // Stock of the pen drops to 1 after the guest added 2.
    app.stock(&pen, 1).await;

    let merged = app.send_as(&user, Req::post("/api/cart/merge").header("x-cart-token", &token)).await.expect(200);
    let qty = |p: &str| merged["items"].as_array().unwrap().iter().find(|l| l["productId"] == p).map(|l| l["quantity"].as_u64().unwrap());
    assert_eq!(qty(&mug), Some(5), "3 + 4 capped to the 5 in stock");
    assert_eq!(qty(&pen), Some(1), "capped to what is left");
    assert_eq!(qty(&ink), Some(1), "the user's own lines stay");
    assert_eq!(merged["couponCode"], "SAVE10", "the user's coupon is kept");
    app.send_guest(&token, Req::get("/api/cart")).await.expect_problem(404, "cart_not_found");
    app.send_as(&user, Req::post("/api/cart/merge").header("x-cart-token", &token)).await.expect_problem(404, "cart_not_found");

    // A user without a coupon takes the guest's; lines with nothing in stock are dropped.
    let other = customer();
    app.send_as(&other, Req::post("/api/cart/items").json(json!({"productId": ink, "quantity": 1}))).await.expect(200);
    let (_, token) = app.guest_cart().await;
    app.send_guest(&token, Req::post("/api/cart/items").json(json!({"productId": pen, "quantity": 1}))).await.expect(200);
    app.send_guest(&token, Req::post("/api/cart/coupon").json(json!({"code": "SAVE20"}))).await.expect(200);
    app.stock(&pen, 0).await;
    let merged = app.send_as(&other, Req::post("/api/cart/merge").header("x-cart-token", &token)).await.expect(200);
    assert_eq!(merged["couponCode"], "SAVE20");
    assert_eq!(merged["items"].as_array().unwrap().len(), 1);
    assert_eq!(merged["items"][0]["productId"], ink.as_str());
}

/// A merge retried by the client, or sent twice at once, adds the guest's quantities once.
#[tokio::test]
async fn concurrent_or_repeated_merges_of_one_guest_cart_add_its_lines_once() {
    let app = app().await;
    let mug = app.product("Mug", 1000, 50).await;
    let pen = app.product("Pen", 300, 50).await;
    for user_has_a_cart in [true, false] {
        let user = customer();
        if user_has_a_cart {
            app.send_as(&user, Req::post("/api/cart/items").json(json!({"productId": mug, "quantity": 1}))).await.expect(200);
        }
        let (_, token) = app.guest_cart().await;
        app.send_guest(&token, Req::post("/api/cart/items").json(json!({"productId": mug, "quantity": 2}))).await.expect(200);
        app.send_guest(&token, Req::post("/api/cart/items").json(json!({"productId": pen, "quantity": 3}))).await.expect(200);
        let merges = (0..6).map(|_| app.send_as(&user, Req::post("/api/cart/merge").header("x-cart-token", &token)));
        let statuses: Vec<u16> = futures::future::join_all(merges).await.iter().map(|r| r.status.as_u16()).collect();
        assert!(statuses.iter().all(|s| *s == 200 || *s == 404), "{statuses:?}");
        assert!(statuses.contains(&200), "{statuses:?}");
        let cart = app.send_as(&user, Req::get("/api/cart")).await.expect(200);
        let qty = |p: &str| cart["items"].as_array().unwrap().iter().find(|l| l["productId"] == p).map(|l| l["quantity"].as_u64().unwrap());
        let mugs = if user_has_a_cart { 3 } else { 2 };
        assert_eq!((qty(&mug), qty(&pen)), (Some(mugs), Some(3)), "user had a cart: {user_has_a_cart}; {cart}");
        assert!(cart.get("mergedGuests").is_none(), "bookkeeping is not shown: {cart}");
    }
}

#[tokio::test]
async fn concurrent_adds_to_one_cart_never_lose_a_line() {
    let app = app().await;
    let mut products = Vec::new();
    for i in 0..8 {
        products.push(app.product(&format!("P{i}"), 100 + i, 50).await);
    }
    let (_, token) = app.guest_cart().await;
    let adds = products.iter().map(|p| app.send_guest(&token, Req::post("/api/cart/items").json(json!({"productId": p, "quantity": 1}))));
    let statuses: Vec<u16> = futures::future::join_all(adds).await.iter().map(|r| r.status.as_u16()).collect();
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    let same = (0..10).map(|_| app.send_guest(&token, Req::post("/api/cart/items").json(json!({"productId": products[0], "quantity": 1}))));
    let statuses: Vec<u16> = futures::future::join_all(same).await.iter().map(|r| r.status.as_u16()).collect();
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    let cart = app.send_guest(&token, Req::get("/api/cart")).await.expect(200);
    assert_eq!(cart["items"].as_array().unwrap().len(), 8, "{cart}");
    assert_eq!(cart["items"].as_array().unwrap().iter().find(|l| l["productId"] == products[0].as_str()).unwrap()["quantity"], 11);
}

#[tokio::test]
async fn carts_live_seven_days_after_their_last_write() {
    let app = app().await;
    let mug = app.product("Mug", 1999, 10).await;
    // A guest cart from its first line (nothing is stored before: see the test below).
    let (cart, token) = app.guest_cart().await;
    let id = Uuid::parse_str(cart["id"].as_str().unwrap()).unwrap();
    app.send_guest(&token, Req::post("/api/cart/items").json(json!({"productId": mug, "quantity": 1}))).await.expect(200);
    let ttl = app.state.carts.ttl(cart::store::Owner::Guest(id)).await.unwrap();
    assert!((604_790..=604_800).contains(&ttl), "{ttl}");
    app.send_guest(&token, Req::post("/api/cart/items").json(json!({"productId": mug, "quantity": 1}))).await.expect(200);
    let ttl = app.state.carts.ttl(cart::store::Owner::Guest(id)).await.unwrap();
    assert!((604_790..=604_800).contains(&ttl), "every write resets the TTL: {ttl}");
    // A user's cart, even emptied.
    let user = customer();
    let sub = Uuid::parse_str(&user.0).unwrap();
    app.send_as(&user, Req::post("/api/cart")).await.expect(201);
    let ttl = app.state.carts.ttl(cart::store::Owner::User(sub)).await.unwrap();
    assert!((604_790..=604_800).contains(&ttl), "{ttl}");
    app.send_as(&user, Req::delete("/api/cart/items")).await.expect(200);
    let ttl = app.state.carts.ttl(cart::store::Owner::User(sub)).await.unwrap();
    assert!((604_790..=604_800).contains(&ttl), "every write resets the TTL: {ttl}");
}

#[tokio::test]
async fn a_dead_redis_fails_fast_instead_of_losing_carts() {
    let started = std::time::Instant::now();
    let err = cart::store::CartStore::connect("redis://127.0.0.1:1", "x:").await.unwrap_err();
    assert!(started.elapsed() < std::time::Duration::from_secs(5), "{:?}", started.elapsed());
    let api: shop_core::ApiError = err.into();
    assert_eq!(api.status().as_u16(), 503, "carts have no other copy: the caller retries");
}

/// Finding 6: anonymous `POST /api/cart` must not fill the cart cache. A guest cart is stored
/// only once it holds a line; until then its token reads as the empty cart. An emptied guest
/// cart lives minutes, a deleted one leaves a short tombstone that reads as "not found".
#[tokio::test]
async fn a_guest_cart_is_stored_only_once_it_holds_a_line_and_lives_minutes_once_emptied() {
    let app = app().await;
    let mug = app.product("Mug", 1999, 10).await;
    let pen = app.product("Pen", 300, 10).await;
    let guest = |cart: &serde_json::Value| cart::store::Owner::Guest(Uuid::parse_str(cart["id"].as_str().unwrap()).unwrap());
    let ttl = |owner: cart::store::Owner| {
        let carts = app.state.carts.clone();
        async move { carts.ttl(owner).await.unwrap() }
    };
    const WEEK: std::ops::RangeInclusive<i64> = 604_790..=604_800;
    const MINUTES: std::ops::RangeInclusive<i64> = 1..=900;

    // Anonymous creations answer a cart and its token, and store nothing.
    let mut made = Vec::new();
    for _ in 0..5 {
        made.push(app.guest_cart().await);
    }
    for (cart, token) in &made {
        assert!(token.starts_with(&Uuid::parse_str(cart["id"].as_str().unwrap()).unwrap().simple().to_string()));
        assert_eq!(ttl(guest(cart)).await, -2, "nothing is stored for a new guest cart: {cart}");
    }
    let (cart, token) = &made[0];
    let owner = guest(cart);

    // Read, cleared, coupon removed: the empty cart, still nothing stored.
    let read = app.send_guest(token, Req::get("/api/cart")).await.expect(200);
    assert_eq!((&read["id"], &read["items"], &read["total"]), (&cart["id"], &json!([]), &json!(0)));
    assert!(read.get("cartToken").is_none());
    app.send_guest(token, Req::delete("/api/cart/items")).await.expect(200);
    app.send_guest(token, Req::delete("/api/cart/coupon")).await.expect(200);
    app.send_guest(token, Req::delete(&format!("/api/cart/items/{mug}"))).await.expect_problem(404, "item_not_found");
    assert_eq!(ttl(owner).await, -2, "an empty guest cart is never written");

    // The first line stores it for 7 days.
    app.send_guest(token, Req::post("/api/cart/items").json(json!({"productId": mug, "quantity": 2}))).await.expect(200);
    assert!(WEEK.contains(&ttl(owner).await), "{}", ttl(owner).await);
    app.send_guest(token, Req::post("/api/cart/items").json(json!({"productId": pen, "quantity": 1}))).await.expect(200);
    app.send_guest(token, Req::delete(&format!("/api/cart/items/{mug}"))).await.expect(200);
    assert!(WEEK.contains(&ttl(owner).await), "a line is left: {}", ttl(owner).await);
    // Removing the last line: minutes.
    let emptied = app.send_guest(token, Req::delete(&format!("/api/cart/items/{pen}"))).await.expect(200);
    assert_eq!(emptied["items"], json!([]));
    assert!(MINUTES.contains(&ttl(owner).await), "an emptied guest cart lives minutes: {}", ttl(owner).await);
    assert_eq!(app.send_guest(token, Req::get("/api/cart")).await.expect(200)["id"], cart["id"]);
    // Filled again: 7 days; cleared: minutes.
    app.send_guest(token, Req::post("/api/cart/items").json(json!({"productId": mug, "quantity": 1}))).await.expect(200);
    assert!(WEEK.contains(&ttl(owner).await), "{}", ttl(owner).await);
    app.send_guest(token, Req::delete("/api/cart/items")).await.expect(200);
    assert!(MINUTES.contains(&ttl(owner).await), "a cleared guest cart lives minutes: {}", ttl(owner).await);

    // A user's emptied cart keeps its 7 days.
    let user = customer();
    let sub = Uuid::parse_str(&user.0).unwrap();
    app.send_as(&user, Req::post("/api/cart/items").json(json!({"productId": mug, "quantity": 1}))).await.expect(200);
    app.send_as(&user, Req::delete("/api/cart/items")).await.expect(200);
    assert!(WEEK.contains(&ttl(cart::store::Owner::User(sub)).await));

    // Deleted (stored or never stored): the token answers 404 from then on, through a
    // short-lived tombstone that no route reads as a cart.
    for (cart, token) in [&made[0], &made[1]] {
        app.send_guest(token, Req::delete("/api/cart")).await.expect(204);
        app.send_guest(token, Req::get("/api/cart")).await.expect_problem(404, "cart_not_found");
        app.send_guest(token, Req::post("/api/cart/items").json(json!({"productId": mug, "quantity": 1})))
            .await
            .expect_problem(404, "cart_not_found");
        app.send_guest(token, Req::delete("/api/cart/items")).await.expect_problem(404, "cart_not_found");
        app.send_guest(token, Req::delete("/api/cart")).await.expect_problem(404, "cart_not_found");
        assert!(MINUTES.contains(&ttl(guest(cart)).await), "{}", ttl(guest(cart)).await);
    }

    // A token is bound to its id even when nothing is stored: another secret for the id of a
    // never-stored cart, or a valid secret under another id, opens nothing.
    let (third, third_token) = &made[2];
    let id = Uuid::parse_str(third["id"].as_str().unwrap()).unwrap();
    let (_, fourth_token) = &made[3];
    let (_, secret) = fourth_token.split_once('.').unwrap();
    for forged in [format!("{}.{}", id.simple(), "0".repeat(64)), format!("{}.{secret}", id.simple())] {
        app.send_guest(&forged, Req::get("/api/cart")).await.expect_problem(404, "cart_not_found");
        app.send_guest(&forged, Req::post("/api/cart/items").json(json!({"productId": mug, "quantity": 1})))
            .await
            .expect_problem(404, "cart_not_found");
    }
    assert_eq!(ttl(guest(third)).await, -2);
    assert_eq!(app.send_guest(third_token, Req::get("/api/cart")).await.expect(200)["id"], third["id"]);
}
