//! The status machine, who may move what, cancellation, payment confirmation, expiry, the
//! admin and seller views.

use serde_json::json;
use shop_testkit::Req;
use uuid::Uuid;

use crate::{app, checkout_body, customer, seller};

#[tokio::test]
async fn an_order_moves_only_along_the_machine_with_history_events_and_tracking() {
    let app = app().await;
    let (who, _) = app.shopper(2_500, 5, 2).await;
    let order = app.place(&who, "m1", checkout_body("cod")).await.expect(201);
    let id = order["id"].as_str().unwrap();
    let patch = |body: serde_json::Value| Req::patch(&format!("/api/orders/{id}/status")).json(body);

    // Customers and sellers of nothing in it may not move it.
    app.send_as(&who, patch(json!({"status": "PROCESSING"}))).await.expect_problem(403, "forbidden");
    app.send_as(&seller(), patch(json!({"status": "PROCESSING"}))).await.expect_problem(404, "not_found");
    // Illegal: named from and to.
    let illegal = app.send_as(&app.admin, patch(json!({"status": "DELIVERED"}))).await.expect_problem(409, "illegal_transition");
    assert!(illegal["detail"].as_str().unwrap().contains("CONFIRMED to DELIVERED"), "{illegal}");
    app.send_as(&app.admin, patch(json!({"status": "PROCESSING", "note": "packing"}))).await.expect(200);
    // SHIPPED needs tracking.
    let missing = app.send_as(&app.admin, patch(json!({"status": "SHIPPED"}))).await.expect_problem(422, "validation_failed");
    assert_eq!(missing["errors"][0]["field"], "trackingNumber");
    let shipped =
        app.send_as(&app.admin, patch(json!({"status": "SHIPPED", "trackingNumber": "1Z999", "carrier": "UPS"}))).await.expect(200);
    assert_eq!((shipped["trackingNumber"].as_str(), shipped["carrier"].as_str()), (Some("1Z999"), Some("UPS")));
    assert!(shipped["shippedAt"].is_string() && shipped["processingAt"].is_string());
    app.send_as(&app.admin, patch(json!({"status": "CANCELLED"}))).await.expect_problem(409, "illegal_transition");
    let delivered = app.send_as(&app.admin, patch(json!({"status": "DELIVERED"}))).await.expect(200);
    assert!(delivered["deliveredAt"].is_string());
    // The customer may not cancel a delivered order.
    app.send_as(&who, Req::post(&format!("/api/orders/{id}/cancel"))).await.expect_problem(409, "illegal_transition");

    let history = app.send_as(&who, Req::get(&format!("/api/orders/{id}/history"))).await.expect(200)["items"].clone();
    let history = history.as_array().unwrap();
    let moves: Vec<(Option<&str>, &str)> = history.iter().map(|h| (h["from"].as_str(), h["to"].as_str().unwrap())).collect();
    assert_eq!(
        moves,
        vec![
            (None, "PENDING"),
            (Some("PENDING"), "CONFIRMED"),
            (Some("CONFIRMED"), "PROCESSING"),
            (Some("PROCESSING"), "SHIPPED"),
            (Some("SHIPPED"), "DELIVERED")
        ]
    );
    assert_eq!((history[2]["note"].as_str(), history[2]["actorRole"].as_str()), (Some("packing"), Some("ADMIN")));
    assert_eq!(history[2]["actorId"].as_str(), Some(app.admin.0.as_str()));
    app.send_as(&customer(), Req::get(&format!("/api/orders/{id}/history"))).await.expect_problem(404, "not_found");
    let events = app.published(&["OrderPlaced", "OrderConfirmed", "OrderShipped", "OrderDelivered"]).await;
    let shipped = events.iter().find(|e| e["type"] == "OrderShipped").unwrap();
    assert_eq!(shipped["data"]["trackingNumber"], "1Z999");

    // A delivered order counts as a purchase for reviews (internal route).
    let product = order["items"][0]["productId"].as_str().unwrap();
    let name = shop_testkit::unique("orders");
    shop_internal::register_local(&name, app.router.clone());
    let reviews = shop_internal::InternalClient::new(shop_testkit::sdk().await, &name, "reviews");
    let ask = |user: Uuid| {
        let reviews = reviews.clone();
        let path = format!("/internal/orders/has-purchased?userId={user}&productId={product}");
        async move { reviews.get::<serde_json::Value>(&path).await.unwrap()["purchased"].clone() }
    };
    assert_eq!(ask(who.id()).await, true);
    assert_eq!(ask(customer().id()).await, false);
    shop_internal::unregister_local(&name);
}

#[tokio::test]
async fn customers_cancel_their_own_pending_or_confirmed_orders_once() {
    let app = app().await;
    let (who, product) = app.shopper(1_000, 5, 2).await;
    let order = app.place(&who, "c1", checkout_body("card")).await.expect(201);
    let id = order["id"].as_str().unwrap();
    app.send_as(&customer(), Req::post(&format!("/api/orders/{id}/cancel"))).await.expect_problem(404, "not_found");
    let cancelled =
        app.send_as(&who, Req::post(&format!("/api/orders/{id}/cancel")).json(json!({"reason": "changed my mind"}))).await.expect(200);
    assert_eq!((cancelled["status"].as_str(), cancelled["cancelReason"].as_str()), (Some("CANCELLED"), Some("customer_request")));
    app.send_as(&who, Req::post(&format!("/api/orders/{id}/cancel"))).await.expect_problem(409, "illegal_transition");
    let events = app.published(&["OrderPlaced", "OrderCancelled"]).await;
    let cancel = events.iter().filter(|e| e["type"] == "OrderCancelled").collect::<Vec<_>>();
    assert_eq!(cancel.len(), 1);
    assert_eq!(
        (cancel[0]["data"]["previousStatus"].as_str(), cancel[0]["data"]["cancelledBy"].as_str()),
        (Some("PENDING"), Some("customer"))
    );
    // The stock goes back through inventory's consumer of OrderCancelled (tested with it);
    // here it is still held.
    assert_eq!(app.stock(&product).await, (3, 2));
}

#[tokio::test]
async fn payment_confirms_a_pending_order_exactly_once_and_expiry_cancels_the_unpaid() {
    let app = app().await;
    let (who, _) = app.shopper(1_000, 5, 1).await;
    let order = app.place(&who, "p1", checkout_body("card")).await.expect(201);
    let id = order["id"].as_str().unwrap();
    let confirm = |payment: &str| Req::post(&format!("/internal/orders/{id}/confirm")).json(json!({"paymentId": payment}));
    // Internal routes answer 404 to a request that did not come through an internal client.
    confirm("pi_1").send(&app.router).await.expect(404);
    let internal = shop_internal::InternalClient::new(shop_testkit::sdk().await, "orders-under-test", "payments");
    shop_internal::register_local("orders-under-test", app.router.clone());
    let (path, body) = (format!("/internal/orders/{id}/confirm"), json!({"paymentId": "pi_1"}));
    let results = futures::future::join_all((0..5).map(|_| internal.post::<_, serde_json::Value>(&path, &body))).await;
    for r in &results {
        let r = r.as_ref().unwrap();
        assert_eq!((r["status"].as_str(), r["paymentId"].as_str()), (Some("CONFIRMED"), Some("pi_1")));
    }
    let events = app.published(&["OrderConfirmed"]).await;
    assert_eq!(events.iter().filter(|e| e["type"] == "OrderConfirmed").count(), 1, "one OrderConfirmed");

    // A payment past the window and the reservation's grace (the job has not run yet) holds the
    // stock again first (late payments: tests/api/payments.rs), then confirms.
    let (who, _) = app.shopper(1_000, 5, 1).await;
    let stale = app.place(&who, "p3", checkout_body("card")).await.expect(201);
    let stale_id = Uuid::parse_str(stale["id"].as_str().unwrap()).unwrap();
    sqlx::query("UPDATE orders SET payment_due_at = now() - interval '20 minutes' WHERE id = $1")
        .bind(stale_id)
        .execute(&app.db().await)
        .await
        .unwrap();
    let late = internal
        .post::<_, serde_json::Value>(&format!("/internal/orders/{stale_id}/confirm"), &json!({"paymentId": "pi_3"}))
        .await
        .unwrap();
    assert_eq!(late["status"], "CONFIRMED");

    // An unpaid card order past its deadline is cancelled by the minute job; one the customer
    // cancelled refuses a payment (payments refunds it).
    let (who, _) = app.shopper(1_000, 5, 1).await;
    let late = app.place(&who, "p2", checkout_body("card")).await.expect(201);
    let late_id = Uuid::parse_str(late["id"].as_str().unwrap()).unwrap();
    sqlx::query("UPDATE orders SET payment_due_at = now() - interval '1 minute' WHERE id = $1")
        .bind(late_id)
        .execute(&app.db().await)
        .await
        .unwrap();
    let summary = app.run_jobs().await;
    assert_eq!(summary["expired"], 1, "{summary}");
    let expired = app.send_as(&who, Req::get(&format!("/api/orders/{late_id}"))).await.expect(200);
    assert_eq!((expired["status"].as_str(), expired["cancelReason"].as_str()), (Some("CANCELLED"), Some("payment_timeout")));
    assert_eq!(app.run_jobs().await["expired"], 0, "once");
    let (who, _) = app.shopper(1_000, 5, 1).await;
    let gone = app.place(&who, "p4", checkout_body("card")).await.expect(201);
    let gone_id = gone["id"].as_str().unwrap();
    // A `null` body (the document's body is a CancelRequest or null) cancels without a reason.
    let cancelled = app.send_as(&who, Req::post(&format!("/api/orders/{gone_id}/cancel")).json(serde_json::Value::Null)).await.expect(200);
    assert_eq!(cancelled["status"], "CANCELLED");
    let refused = internal
        .post::<_, serde_json::Value>(&format!("/internal/orders/{gone_id}/confirm"), &json!({"paymentId": "pi_4"}))
        .await
        .unwrap_err();
    assert_eq!(refused.problem_code(), Some("order_cancelled"));
    shop_internal::unregister_local("orders-under-test");
}

#[tokio::test]
async fn sellers_see_their_lines_and_ship_only_orders_wholly_theirs_admins_see_all_and_the_stats() {
    let app = app().await;
    let (s1, s2) = (seller(), seller());
    let p1 = app.product("S1 thing", 1_000, 10, Some(&s1)).await;
    let p2 = app.product("S2 thing", 2_000, 10, Some(&s2)).await;
    let buyer = customer();
    app.add_to_cart(&buyer, &p1, 1).await;
    app.add_to_cart(&buyer, &p2, 1).await;
    let mixed = app.place(&buyer, "mixed", checkout_body("cod")).await.expect(201);
    app.add_to_cart(&buyer, &p1, 2).await;
    let own = app.place(&buyer, "own", checkout_body("cod")).await.expect(201);

    let list = app.send_as(&s1, Req::get("/api/orders/seller")).await.expect(200);
    assert_eq!(list["meta"]["total"], 2);
    let m = list["data"].as_array().unwrap().iter().find(|o| o["id"] == mixed["id"]).unwrap();
    assert_eq!(m["items"].as_array().unwrap().len(), 1, "only their line");
    assert_eq!((m["onlyYourLines"].as_bool(), m.get("billingAddress")), (Some(false), None));
    assert!(m["shippingAddress"]["address1"].is_string());
    app.send_as(&customer(), Req::get("/api/orders/seller")).await.expect_problem(403, "forbidden");

    let patch = |id: &str, body: serde_json::Value| Req::patch(&format!("/api/orders/{id}/status")).json(body);
    let mixed_id = mixed["id"].as_str().unwrap();
    let refused = app.send_as(&s1, patch(mixed_id, json!({"status": "PROCESSING"}))).await.expect_problem(403, "forbidden");
    assert_eq!(refused["errors"][0]["code"], "other_sellers");
    let own_id = own["id"].as_str().unwrap();
    app.send_as(&s1, patch(own_id, json!({"status": "PROCESSING"}))).await.expect(200);
    app.send_as(&s1, patch(own_id, json!({"status": "SHIPPED", "trackingNumber": "TRK1"}))).await.expect(200);
    app.send_as(&s1, patch(own_id, json!({"status": "DELIVERED"}))).await.expect_problem(403, "forbidden");
    app.send_as(&s2, Req::get(&format!("/api/orders/seller/{own_id}"))).await.expect_problem(404, "not_found");

    // Admins: every order, filtered; the stats.
    let all = app.send_as(&app.admin, Req::get("/api/orders/admin?status=SHIPPED")).await.expect(200);
    assert_eq!((all["meta"]["total"].as_i64(), &all["data"][0]["id"]), (Some(1), &own["id"]));
    let number = own["orderNumber"].as_str().unwrap();
    let found = app.send_as(&app.admin, Req::get(&format!("/api/orders/admin?q={}", &number[..number.len() - 2]))).await.expect(200);
    assert!(found["data"].as_array().unwrap().iter().any(|o| o["id"] == own["id"]));
    app.send_as(&buyer, Req::get("/api/orders/admin")).await.expect_problem(403, "forbidden");
    app.send_as(&app.admin, Req::get("/api/orders/admin?status=LOST")).await.expect(400);
    let stats = app.send_as(&app.admin, Req::get("/api/orders/stats")).await.expect(200);
    assert_eq!(
        (stats["totalOrders"].as_i64(), stats["byStatus"]["SHIPPED"].as_i64(), stats["byStatus"]["CONFIRMED"].as_i64()),
        (Some(2), Some(1), Some(1))
    );
    // Cash on delivery is revenue once delivered: none yet.
    assert_eq!(stats["revenue"], 0);
    assert_eq!(stats["perDay"][0]["orders"], 2);
}
