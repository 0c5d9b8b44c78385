//! The orders function's side of the cart: the internal checkout routes (a user's cart with
//! its totals; taking what an order bought out of it, idempotent by order id) and the consumer
//! of order events (`OrderPlaced` checks out as a backstop, `OrderCancelled` releases the coupon
//! redemption), each delivered several times.

use aws_lambda_events::event::sqs::SqsEvent;
use serde_json::{Value, json};
use shop_internal::CallError;
use shop_testkit::Req;
use uuid::Uuid;

use crate::{App, Who, app, customer};

fn refused(err: CallError) -> (u16, Value) {
    match err {
        CallError::Status { status, problem } => (status.as_u16(), problem.unwrap_or(Value::Null)),
        other => panic!("expected an answer, got {other:?}"),
    }
}

fn uid(who: &Who) -> Uuid {
    Uuid::parse_str(&who.0).unwrap()
}

async fn add(app: &App, who: &Who, product: &str, quantity: u32) -> Value {
    app.send_as(who, Req::post("/api/cart/items").json(json!({"productId": product, "quantity": quantity}))).await.expect(200)
}

/// (productId, quantity) of a cart's lines, as the checkout cart shows them.
fn lines(cart: &Value) -> Vec<(String, u64)> {
    cart["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| (l["productId"].as_str().unwrap().to_owned(), l["quantity"].as_u64().unwrap()))
        .collect()
}

#[tokio::test]
async fn the_checkout_cart_is_the_users_cart_with_its_totals() {
    let app = app().await;
    let orders = app.internal().await;
    let (mug, pen) = (app.product("Mug", 2500, 50).await, app.product("Pen", 199, 50).await);
    let user = customer();
    add(&app, &user, &mug, 4).await;
    add(&app, &user, &pen, 1).await;
    let public = app.send_as(&user, Req::post("/api/cart/coupon").json(json!({"code": "save10"}))).await.expect(200);

    let cart: Value = orders.get(&format!("/internal/carts/users/{}", user.0)).await.unwrap();
    assert_eq!(
        cart,
        json!({
            "cartId": public["id"], "userId": user.0,
            "items": [
                {"productId": mug, "name": "Mug", "price": 2500, "quantity": 4, "image": "https://images.test/a.webp"},
                {"productId": pen, "name": "Pen", "price": 199, "quantity": 1, "image": "https://images.test/a.webp"},
            ],
            "couponCode": "SAVE10",
            "subtotal": 10_199, "discount": 1_020, "shipping": 0, "tax": 734, "total": 9_913,
            "currency": "usd", "updatedAt": public["updatedAt"],
        })
    );
    // The same totals as the public cart.
    assert_eq!(
        (&cart["subtotal"], &cart["discount"], &cart["shipping"], &cart["tax"], &cart["total"]),
        (&public["subtotal"], &public["discount"], &public["estimatedShipping"], &public["estimatedTax"], &public["total"])
    );

    // A user without a cart: empty, not a 404 (and nothing is created).
    let nobody = Uuid::now_v7();
    let empty: Value = orders.get(&format!("/internal/carts/users/{nobody}")).await.unwrap();
    assert_eq!((&empty["items"], &empty["total"], &empty["userId"]), (&json!([]), &json!(0), &json!(nobody)));
    assert!(empty.get("cartId").is_none() && empty.get("couponCode").is_none(), "{empty}");
    assert_eq!(app.state.carts.ttl(cart::store::Owner::User(nobody)).await.unwrap(), -2, "nothing stored");

    let (status, problem) = refused(orders.get::<Value>("/internal/carts/users/not-a-user").await.unwrap_err());
    assert_eq!(
        (status, problem["code"].as_str(), problem["errors"][0]["field"].as_str()),
        (400, Some("invalid_parameter"), Some("userId"))
    );
    // Internal only.
    app.send_as(&user, Req::get(&format!("/internal/carts/users/{}", user.0))).await.expect(404);
}

#[tokio::test]
async fn checking_out_takes_what_the_order_bought_once_and_keeps_what_came_since() {
    let app = app().await;
    let orders = app.internal().await;
    let (mug, pen, cap) = (app.product("Mug", 2500, 50).await, app.product("Pen", 199, 50).await, app.product("Cap", 1500, 50).await);
    let user = customer();
    add(&app, &user, &mug, 4).await;
    add(&app, &user, &pen, 2).await;
    app.send_as(&user, Req::post("/api/cart/coupon").json(json!({"code": "SAVE10"}))).await.expect(200);
    let path = format!("/internal/carts/users/{}/checkout", user.0);
    let order = Uuid::now_v7();
    let body =
        json!({"orderId": order, "items": [{"productId": mug, "quantity": 3}, {"productId": pen, "quantity": 2}], "couponCode": "save10"});

    // Three deliveries at once: the order comes out once.
    let answers = futures::future::join_all((0..3).map(|_| orders.post::<_, Value>(&path, &body))).await;
    for answer in answers {
        let cart = answer.unwrap();
        assert_eq!(lines(&cart), vec![(mug.clone(), 1)]);
        assert!(cart.get("couponCode").is_none(), "the order's coupon went: {cart}");
        assert_eq!((&cart["subtotal"], &cart["discount"], &cart["shipping"]), (&json!(2_500), &json!(0), &json!(999)));
    }
    // Lines added since stay, also when the same order is checked out again.
    add(&app, &user, &pen, 1).await;
    add(&app, &user, &cap, 1).await;
    let again: Value = orders.post(&path, &body).await.unwrap();
    assert_eq!(lines(&again), vec![(mug.clone(), 1), (pen.clone(), 1), (cap.clone(), 1)]);
    let public = app.send_as(&user, Req::get("/api/cart")).await.expect(200);
    assert_eq!(public["items"].as_array().unwrap().len(), 3);

    // Another order: its lines only; a coupon that is not the order's stays.
    app.send_as(&user, Req::post("/api/cart/coupon").json(json!({"code": "SAVE20"}))).await.expect(200);
    let other = json!({"orderId": Uuid::now_v7(), "items": [{"productId": pen, "quantity": 5}], "couponCode": "SAVE10"});
    let cart: Value = orders.post(&path, &other).await.unwrap();
    assert_eq!(lines(&cart), vec![(mug.clone(), 1), (cap.clone(), 1)], "a line goes at 0 or below");
    assert_eq!(cart["couponCode"], "SAVE20");
    let got: Value = orders.get(&format!("/internal/carts/users/{}", user.0)).await.unwrap();
    assert_eq!(got, cart, "the answer is the cart after, as the GET shows it");

    // A user without a cart: the empty cart, nothing stored.
    let nobody = Uuid::now_v7();
    let cart: Value = orders.post(&format!("/internal/carts/users/{nobody}/checkout"), &body).await.unwrap();
    assert_eq!(cart["items"], json!([]));
    assert_eq!(app.state.carts.ttl(cart::store::Owner::User(nobody)).await.unwrap(), -2);
}

#[tokio::test]
async fn bad_checkout_input_is_a_4xx_naming_the_field() {
    let app = app().await;
    let orders = app.internal().await;
    let user = customer();
    let path = format!("/internal/carts/users/{}/checkout", user.0);
    let (p, order) = (Uuid::now_v7(), Uuid::now_v7());
    let cases = [
        (json!({"orderId": order, "items": []}), 422, "items"),
        (json!({"orderId": order, "items": [{"productId": p, "quantity": 0}]}), 422, "items[0].quantity"),
        (json!({"orderId": order, "items": [{"productId": p, "quantity": 100}]}), 422, "items[0].quantity"),
        (json!({"orderId": order, "items": [{"productId": p, "quantity": 1}, {"productId": p, "quantity": 2}]}), 422, "items[1].productId"),
        (json!({"orderId": "nope", "items": [{"productId": p, "quantity": 1}]}), 422, "orderId"),
        (json!({"items": [{"productId": p, "quantity": 1}]}), 422, "orderId"),
        (json!({"orderId": order, "items": [{"productId": p, "quantity": 1}], "couponCode": ""}), 422, "couponCode"),
        (json!({"orderId": order, "items": [{"productId": p, "quantity": 1}], "extra": 1}), 422, "extra"),
    ];
    for (body, status, field) in cases {
        let (got, problem) = refused(orders.post::<_, Value>(&path, &body).await.unwrap_err());
        assert_eq!((got, problem["errors"][0]["field"].as_str()), (status, Some(field)), "{body}: {problem}");
    }
    let (status, problem) = refused(orders.post::<_, Value>("/internal/carts/users/x/checkout", &json!({})).await.unwrap_err());
    assert_eq!((status, problem["errors"][0]["field"].as_str()), (400, Some("userId")));
}

/// An SQS batch of envelopes (`messageId` = `m<i>`).
fn batch(bodies: &[String]) -> SqsEvent {
    let records: Vec<Value> = bodies
        .iter()
        .enumerate()
        .map(|(i, body)| json!({"messageId": format!("m{i}"), "body": body, "eventSource": "aws:sqs", "receiptHandle": "r"}))
        .collect();
    serde_json::from_value(json!({ "Records": records })).unwrap()
}

fn snapshot(order: Uuid, user: Uuid, items: &[(&str, u32)], coupon: Option<&str>) -> Value {
    let lines: Vec<Value> = items
        .iter()
        .map(|(p, q)| json!({"productId": p, "sellerId": Uuid::now_v7(), "name": "X", "sku": "X-1", "price": 100, "quantity": q}))
        .collect();
    let mut order = json!({
        "orderId": order, "orderNumber": "SKY-1", "userId": user, "status": "PENDING", "paymentMethod": "card", "items": lines,
        "subtotal": 100, "discount": 0, "shippingCost": 999, "tax": 8, "total": 1107, "currency": "usd",
        "shippingAddress": {"firstName": "Ada", "lastName": "L", "address1": "1 Main St", "city": "Paris", "state": "IDF", "postalCode": "75001", "country": "FR"},
        "placedAt": "2026-01-01T00:00:00Z",
    });
    if let Some(code) = coupon {
        order["couponCode"] = json!(code);
    }
    order
}

fn envelope(kind: &str, data: Value) -> String {
    json!({"id": Uuid::now_v7(), "type": kind, "source": "orders", "occurredAt": "2026-01-01T00:00:00Z", "data": data}).to_string()
}

fn failed(response: &aws_lambda_events::event::sqs::SqsBatchResponse) -> Vec<String> {
    response.batch_item_failures.iter().map(|f| f.item_identifier.clone()).collect()
}

#[tokio::test]
async fn order_events_delivered_three_times_change_things_once() {
    let app = app().await;
    let events = cart::events::Events::new(app.state.carts.clone(), app.state.coupons.clone());
    let orders = app.internal().await;
    let (mug, pen) = (app.product("Mug", 2500, 50).await, app.product("Pen", 199, 50).await);
    let user = customer();
    add(&app, &user, &mug, 4).await;
    add(&app, &user, &pen, 2).await;
    app.send_as(&user, Req::post("/api/cart/coupon").json(json!({"code": "FLAT50"}))).await.expect(200);
    let count = || async { app.send_as(&app.admin, Req::get("/api/coupons/FLAT50")).await.expect(200)["redemptionCount"].clone() };

    // Two orders redeemed FLAT50 (the orders function does it when placing them).
    let (order, other) = (Uuid::now_v7(), Uuid::now_v7());
    for o in [order, other] {
        let body = json!({"code": "FLAT50", "orderId": o, "userId": user.0, "subtotal": 10_000});
        let _: Value = orders.post("/internal/coupons/redemptions", &body).await.unwrap();
    }
    assert_eq!(count().await, 2);

    // OrderPlaced three times (twice in one batch, once more later): the cart loses the order once.
    let placed = envelope("OrderPlaced", json!({"order": snapshot(order, uid(&user), &[(&mug, 3), (&pen, 2)], Some("FLAT50"))}));
    let response = events.handle(batch(&[placed.clone(), placed.clone()])).await;
    assert!(failed(&response).is_empty());
    let cart = app.send_as(&user, Req::get("/api/cart")).await.expect(200);
    assert_eq!(
        cart["items"].as_array().unwrap().iter().map(|l| (l["productId"].clone(), l["quantity"].clone())).collect::<Vec<_>>(),
        vec![(json!(mug), json!(1))]
    );
    assert!(cart.get("couponCode").is_none());
    add(&app, &user, &pen, 1).await;
    assert!(failed(&events.handle(batch(std::slice::from_ref(&placed))).await).is_empty());
    let cart = app.send_as(&user, Req::get("/api/cart")).await.expect(200);
    assert_eq!(cart["items"].as_array().unwrap().len(), 2, "the pen added since stays: {cart}");

    // OrderCancelled three times (one batch, concurrently with another delivery): one redemption back.
    let cancelled = envelope(
        "OrderCancelled",
        json!({"order": snapshot(order, uid(&user), &[(&mug, 3)], Some("FLAT50")), "previousStatus": "PENDING",
            "reason": "customer_request", "cancelledBy": "customer", "cancelledAt": "2026-01-01T01:00:00Z"}),
    );
    let (a, b) =
        tokio::join!(events.handle(batch(&[cancelled.clone(), cancelled.clone()])), events.handle(batch(std::slice::from_ref(&cancelled))));
    assert!(failed(&a).is_empty() && failed(&b).is_empty());
    assert_eq!(count().await, 1, "exactly the cancelled order's redemption came back");
    assert!(failed(&events.handle(batch(&[cancelled])).await).is_empty());
    assert_eq!(count().await, 1);

    // Other types are acknowledged and change nothing; malformed bodies fail alone.
    let shipped = envelope("OrderShipped", json!({"anything": true}));
    let not_json = "{not json".to_owned();
    let wrong_data = envelope("OrderPlaced", json!({"order": {"orderId": 3}}));
    let response = events.handle(batch(&[shipped, not_json, wrong_data])).await;
    assert_eq!(failed(&response), vec!["m1".to_owned(), "m2".to_owned()]);
    assert_eq!(count().await, 1);
    assert_eq!(app.send_as(&user, Req::get("/api/cart")).await.expect(200)["items"].as_array().unwrap().len(), 2);
}
