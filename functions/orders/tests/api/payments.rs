//! What payments asks of orders: late payments (the stock held again, confirmed once), full
//! refunds (REFUNDED once, `OrderRefunded` restocking unshipped goods), disputed orders flagged.
//! The stock is followed through inventory's real consumer of the published events.

use serde_json::{Value, json};
use shop_internal::{CallError, InternalClient};
use shop_testkit::Req;
use uuid::Uuid;

use crate::{App, app, checkout_body};

/// Orders' internal routes as payments calls them.
struct Payments {
    client: InternalClient,
    name: String,
}

impl Drop for Payments {
    fn drop(&mut self) {
        shop_internal::unregister_local(&self.name);
    }
}

impl Payments {
    async fn new(app: &App) -> Self {
        let name = shop_testkit::unique("orders");
        shop_internal::register_local(&name, app.router.clone());
        Self { client: InternalClient::new(shop_testkit::sdk().await, &name, "payments"), name }
    }

    async fn confirm(&self, order: &str, payment: &str) -> Result<Value, CallError> {
        self.client.post(&format!("/internal/orders/{order}/confirm"), &json!({"paymentId": payment})).await
    }

    async fn refunded(&self, order: &str, body: Value) -> Result<Value, CallError> {
        self.client.post(&format!("/internal/orders/{order}/refunded"), &body).await
    }

    async fn flag(&self, order: &str, reason: &str) -> Result<Value, CallError> {
        self.client.post(&format!("/internal/orders/{order}/flag"), &json!({"reason": reason})).await
    }
}

fn code(err: CallError) -> (u16, String) {
    (err.status().map_or(0, |s| s.as_u16()), err.problem_code().unwrap_or_default().to_owned())
}

fn of<'a>(events: &'a [Value], kind: &str, order: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["type"] == kind && e["data"]["order"]["orderId"] == order).collect()
}

/// A card order of `quantity` units of a new product with `stock` units: (order id, product).
async fn card_order(app: &App, stock: u32, quantity: u32) -> (String, String) {
    let (who, product) = app.shopper(1_000, stock, quantity).await;
    let order = app.place(&who, "k", checkout_body("card")).await.expect(201);
    (order["id"].as_str().unwrap().to_owned(), product)
}

/// The minute job cancels the order, its payment window closed.
async fn expire(app: &App, order: &str) {
    let id = Uuid::parse_str(order).unwrap();
    sqlx::query("UPDATE orders SET payment_due_at = now() - interval '1 minute' WHERE id = $1")
        .bind(id)
        .execute(&app.db().await)
        .await
        .unwrap();
    assert_eq!(app.run_jobs().await["expired"], 1);
}

#[tokio::test]
async fn a_late_payment_after_expiry_holds_the_stock_again_and_confirms_once() {
    let app = app().await;
    let payments = Payments::new(&app).await;

    // Expired and its stock returned (inventory consumed the OrderCancelled) before the payment came.
    let (id, product) = card_order(&app, 5, 2).await;
    assert_eq!(app.stock(&product).await, (3, 2));
    expire(&app, &id).await;
    let events = app.published(&["OrderCancelled"]).await;
    let cancelled = of(&events, "OrderCancelled", &id)[0].clone();
    app.to_inventory(&[&cancelled]).await;
    assert_eq!(app.stock(&product).await, (5, 0));

    let order = payments.confirm(&id, "pi_late").await.unwrap();
    assert_eq!((order["status"].as_str(), order["paymentId"].as_str()), (Some("CONFIRMED"), Some("pi_late")));
    assert!(order.get("cancelReason").is_none() && order.get("cancelledAt").is_none(), "{order}");
    assert_eq!(payments.confirm(&id, "pi_late").await.unwrap()["status"], "CONFIRMED", "a repeat answers the order");
    assert_eq!(app.stock(&product).await, (3, 2), "held again");
    let (status, code_) = code(payments.confirm(&id, "pi_other").await.unwrap_err());
    assert_eq!((status, code_.as_str()), (409, "illegal_transition"));

    let events = app.published(&["OrderConfirmed"]).await;
    let confirmed = of(&events, "OrderConfirmed", &id);
    assert_eq!(confirmed.len(), 1);
    // Inventory commits it; the cancellation redelivered changes nothing.
    app.to_inventory(&[confirmed[0], &cancelled]).await;
    assert_eq!(app.stock(&product).await, (3, 0), "sold once");

    let history = app.send_as(&app.admin, Req::get(&format!("/api/orders/{id}/history"))).await.expect(200);
    let last = history["items"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (last["from"].as_str(), last["to"].as_str(), last["actorRole"].as_str(), last["note"].as_str()),
        (Some("CANCELLED"), Some("CONFIRMED"), Some("PAYMENTS"), Some("late payment; stock reserved again"))
    );

    // Expired, its OrderCancelled still on its way to inventory when the payment came: delivered
    // after the confirmation, it does not release the stock held again.
    let (id, product) = card_order(&app, 5, 1).await;
    expire(&app, &id).await;
    let order = payments.confirm(&id, "pi_2").await.unwrap();
    assert_eq!(order["status"], "CONFIRMED");
    let events = app.published(&["OrderCancelled", "OrderConfirmed"]).await;
    let (cancelled, confirmed) = (of(&events, "OrderCancelled", &id)[0], of(&events, "OrderConfirmed", &id)[0]);
    app.to_inventory(&[cancelled]).await;
    assert_eq!(app.stock(&product).await, (4, 1), "still held");
    app.to_inventory(&[confirmed, cancelled]).await;
    assert_eq!(app.stock(&product).await, (4, 0), "sold");
}

#[tokio::test]
async fn a_late_payment_whose_stock_is_gone_is_refused_and_holds_nothing() {
    let app = app().await;
    let payments = Payments::new(&app).await;

    // Cancelled by the expiry job, the last unit sold since.
    let (id, product) = card_order(&app, 1, 1).await;
    expire(&app, &id).await;
    let events = app.published(&["OrderCancelled"]).await;
    app.to_inventory(&of(&events, "OrderCancelled", &id)).await;
    app.set_stock(&product, 0).await;
    let (status, code_) = code(payments.confirm(&id, "pi_1").await.unwrap_err());
    assert_eq!((status, code_.as_str()), (409, "order_cancelled"));
    assert_eq!(app.stock(&product).await, (0, 0), "nothing held");
    let order = app.send_as(&app.admin, Req::get(&format!("/api/orders/{id}"))).await.expect(200);
    assert_eq!((order["status"].as_str(), order.get("paymentId")), (Some("CANCELLED"), None));

    // Still PENDING past its window and grace, inventory's own expiry has returned the stock and
    // it sold: the order is cancelled as the expiry job would, and the payment refused.
    let (id, product) = card_order(&app, 1, 1).await;
    let uuid = Uuid::parse_str(&id).unwrap();
    sqlx::query("UPDATE orders SET payment_due_at = now() - interval '20 minutes' WHERE id = $1")
        .bind(uuid)
        .execute(&app.db().await)
        .await
        .unwrap();
    let later = time::OffsetDateTime::now_utc() + time::Duration::minutes(50);
    assert_eq!(app.inventory_events().await.expire_due(later).await.unwrap().expired, 1);
    app.set_stock(&product, 0).await;
    let (status, code_) = code(payments.confirm(&id, "pi_2").await.unwrap_err());
    assert_eq!((status, code_.as_str()), (409, "order_cancelled"));
    assert_eq!(app.stock(&product).await, (0, 0));
    let order = app.send_as(&app.admin, Req::get(&format!("/api/orders/{id}"))).await.expect(200);
    assert_eq!((order["status"].as_str(), order["cancelReason"].as_str()), (Some("CANCELLED"), Some("payment_timeout")));
    let events = app.published(&["OrderCancelled"]).await;
    let cancelled = of(&events, "OrderCancelled", &id);
    assert_eq!(cancelled.len(), 1);
    assert_eq!(
        (cancelled[0]["data"]["reason"].as_str(), cancelled[0]["data"]["cancelledBy"].as_str()),
        (Some("payment_timeout"), Some("system"))
    );
    assert_eq!(app.run_jobs().await["expired"], 0);
}

#[tokio::test]
async fn ten_concurrent_late_payments_confirm_once() {
    let app = app().await;
    let payments = Payments::new(&app).await;
    let (id, product) = card_order(&app, 5, 1).await;
    expire(&app, &id).await;
    let events = app.published(&["OrderCancelled"]).await;
    app.to_inventory(&of(&events, "OrderCancelled", &id)).await;

    let answers = futures::future::join_all((0..10).map(|_| payments.confirm(&id, "pi_race"))).await;
    for answer in answers {
        let answer = answer.unwrap();
        assert_eq!((answer["status"].as_str(), answer["paymentId"].as_str()), (Some("CONFIRMED"), Some("pi_race")));
    }
    assert_eq!(app.stock(&product).await, (4, 1), "held once");
    let mut events = app.published(&["OrderConfirmed"]).await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    events.extend(app.events().await);
    assert_eq!(of(&events, "OrderConfirmed", &id).len(), 1);
    let confirmations: i64 = sqlx::query_scalar("SELECT count(*) FROM order_status_history WHERE to_status = 'CONFIRMED'")
        .fetch_one(&app.db().await)
        .await
        .unwrap();
    assert_eq!(confirmations, 1);
}

#[tokio::test]
async fn refunds_move_paid_orders_to_refunded_once_and_restock_only_unshipped_goods() {
    let app = app().await;
    let payments = Payments::new(&app).await;
    let patch = |id: &str, body: Value| Req::patch(&format!("/api/orders/{id}/status")).json(body);

    // Confirmed: refunded once, its units back through inventory.
    let (confirmed, product) = card_order(&app, 5, 2).await;
    payments.confirm(&confirmed, "pi_c").await.unwrap();
    let (status, code_) = code(payments.refunded(&confirmed, json!({"paymentId": "pi_other", "amount": 100})).await.unwrap_err());
    assert_eq!((status, code_.as_str()), (409, "payment_mismatch"));
    let refund = json!({"paymentId": "pi_c", "amount": 3_159});
    let order = payments.refunded(&confirmed, refund.clone()).await.unwrap();
    assert_eq!(order["status"], "REFUNDED");
    assert!(order["refundedAt"].is_string());
    assert_eq!(payments.refunded(&confirmed, refund).await.unwrap()["refundedAt"], order["refundedAt"], "a repeat changes nothing");

    // Delivered: no restock unless the goods came back.
    let mut delivered = Vec::new();
    for payment in ["pi_d1", "pi_d2"] {
        let (id, _) = card_order(&app, 5, 1).await;
        payments.confirm(&id, payment).await.unwrap();
        app.send_as(&app.admin, patch(&id, json!({"status": "PROCESSING"}))).await.expect(200);
        app.send_as(&app.admin, patch(&id, json!({"status": "SHIPPED", "trackingNumber": "T1"}))).await.expect(200);
        app.send_as(&app.admin, patch(&id, json!({"status": "DELIVERED"}))).await.expect(200);
        delivered.push(id);
    }
    payments.refunded(&delivered[0], json!({"paymentId": "pi_d1", "amount": 500})).await.unwrap();
    payments.refunded(&delivered[1], json!({"paymentId": "pi_d2", "amount": 500, "restock": true})).await.unwrap();

    let events = app.published(&["OrderRefunded"]).await;
    let mut events = events;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    events.extend(app.events().await);
    let refunded = of(&events, "OrderRefunded", &confirmed);
    assert_eq!(refunded.len(), 1, "one event");
    let data = &refunded[0]["data"];
    assert_eq!(
        (data["previousStatus"].as_str(), data["restock"].as_bool(), data["refundAmount"].as_i64(), data["order"]["status"].as_str()),
        (Some("CONFIRMED"), Some(true), Some(3_159), Some("REFUNDED"))
    );
    let restock = |id: &str| of(&events, "OrderRefunded", id)[0]["data"]["restock"].as_bool();
    assert_eq!((restock(&delivered[0]), restock(&delivered[1])), (Some(false), Some(true)));
    app.to_inventory(&[of(&events, "OrderConfirmed", &confirmed)[0], refunded[0]]).await;
    assert_eq!(app.stock(&product).await, (5, 0), "back in stock");

    // PENDING: not paid, not refundable; CANCELLED: answered unchanged.
    let (pending, _) = card_order(&app, 5, 1).await;
    let (status, code_) = code(payments.refunded(&pending, json!({"paymentId": "pi_p", "amount": 1})).await.unwrap_err());
    assert_eq!((status, code_.as_str()), (409, "illegal_transition"));
    expire(&app, &pending).await;
    assert_eq!(payments.refunded(&pending, json!({"paymentId": "pi_p", "amount": 1})).await.unwrap()["status"], "CANCELLED");

    // Admins: a card order is refunded through payments; cash on delivery by hand, restocked
    // by the same rule.
    let (card, _) = card_order(&app, 5, 1).await;
    payments.confirm(&card, "pi_card").await.unwrap();
    let problem = app.send_as(&app.admin, patch(&card, json!({"status": "REFUNDED"}))).await.expect_problem(409, "refund_through_payments");
    assert!(problem["detail"].as_str().unwrap().contains("/api/payments/"), "{problem}");
    let (who, _) = app.shopper(2_000, 5, 1).await;
    let cod = app.place(&who, "cod", checkout_body("cod")).await.expect(201)["id"].as_str().unwrap().to_owned();
    let order = app.send_as(&app.admin, patch(&cod, json!({"status": "REFUNDED", "note": "cash handed back"}))).await.expect(200);
    assert_eq!(order["status"], "REFUNDED");
    let events = app.published(&["OrderRefunded"]).await;
    let data = &of(&events, "OrderRefunded", &cod)[0]["data"];
    assert_eq!(
        (data["restock"].as_bool(), data["refundAmount"].clone(), data["previousStatus"].as_str()),
        (Some(true), order["total"].clone(), Some("CONFIRMED"))
    );
}

#[tokio::test]
async fn a_disputed_order_is_flagged_once_and_admins_list_flagged_orders() {
    let app = app().await;
    let payments = Payments::new(&app).await;
    let (id, _) = card_order(&app, 5, 1).await;
    let (other, _) = card_order(&app, 5, 1).await;
    payments.confirm(&id, "pi_f").await.unwrap();

    let flagged = payments.flag(&id, "fraudulent").await.unwrap();
    assert_eq!((flagged["status"].as_str(), flagged["flaggedReason"].as_str()), (Some("CONFIRMED"), Some("fraudulent")));
    assert!(flagged["flaggedAt"].is_string());
    let again = payments.flag(&id, "product_not_received").await.unwrap();
    assert_eq!((&again["flaggedReason"], &again["flaggedAt"]), (&flagged["flaggedReason"], &flagged["flaggedAt"]), "the first flag stays");
    let history = app.send_as(&app.admin, Req::get(&format!("/api/orders/{id}/history"))).await.expect(200);
    let flags: Vec<&Value> = history["items"].as_array().unwrap().iter().filter(|h| h["from"] == h["to"]).collect();
    assert_eq!(flags.len(), 1, "{history}");
    assert_eq!((flags[0]["to"].as_str(), flags[0]["actorRole"].as_str()), (Some("CONFIRMED"), Some("PAYMENTS")));

    let list = app.send_as(&app.admin, Req::get("/api/orders/admin?flagged=true")).await.expect(200);
    assert_eq!((list["meta"]["total"].as_i64(), list["data"][0]["id"].as_str()), (Some(1), Some(id.as_str())));
    let list = app.send_as(&app.admin, Req::get("/api/orders/admin?flagged=false")).await.expect(200);
    assert_eq!((list["meta"]["total"].as_i64(), list["data"][0]["id"].as_str()), (Some(1), Some(other.as_str())));
    let unflagged = app.send_as(&app.admin, Req::get(&format!("/api/orders/{other}"))).await.expect(200);
    assert!(unflagged.get("flaggedReason").is_none() && unflagged.get("flaggedAt").is_none());

    for reason in ["", "  ", "a\u{7}b", &"x".repeat(201)] {
        let (status, code_) = code(payments.flag(&other, reason).await.unwrap_err());
        assert_eq!((status, code_.as_str()), (422, "validation_failed"), "{reason:?}");
    }
    let (status, _) = code(payments.flag(&Uuid::now_v7().to_string(), "fraudulent").await.unwrap_err());
    assert_eq!(status, 404);
}
