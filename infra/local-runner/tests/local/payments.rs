//! Card payments through the whole local cloud: the orders, payments, webhook and events
//! functions in the runner, PostgreSQL, moto, and localstripe sending its signed webhooks to the
//! runner's webhook route. What localstripe does not send (a second delivery, an out-of-order
//! failure, `charge.refunded` for a dashboard refund, `charge.dispute.created`) is delivered as
//! Stripe would: signed with the endpoint's secret.

use futures::future::join_all;
use serde_json::{Value, json};
use shop_testkit::stripe::{self, CARD_3DS, CARD_DECLINED, CARD_OK};
use uuid::Uuid;

use crate::helpers::{R, Running, eventually, mails_to, order, product_with_stock, register_buyer, start};

/// A product with stock, and a buyer with it in their cart.
struct Shop {
    app: Running,
    admin: String,
    product: String,
    buyer: String,
    email: String,
}

impl Shop {
    async fn open(stock: u32) -> Shop {
        let app = start(true).await;
        let admin = app.admin_token().await;
        let product = product_with_stock(&app, &admin, stock).await;
        let (registered, email) = register_buyer(&app).await;
        let buyer = registered["accessToken"].as_str().unwrap().to_owned();
        Shop { app, admin, product, buyer, email }
    }

    /// A PENDING card order of `quantity` units: (id, number, total).
    async fn card_order(&self, quantity: u32) -> (String, String, i64) {
        let add = self
            .app
            .call("POST", "/api/cart/items", Some(&self.buyer), Some(json!({"productId": self.product, "quantity": quantity})))
            .await;
        assert_eq!(add.status, 200, "{}", add.body);
        let placed = order(&self.app, &self.buyer, &shop_testkit::unique("k"), "card").await;
        assert_eq!((placed.status, placed.body["status"].as_str()), (201, Some("PENDING")), "{}", placed.body);
        (
            placed.body["id"].as_str().unwrap().to_owned(),
            placed.body["orderNumber"].as_str().unwrap().to_owned(),
            placed.body["total"].as_i64().unwrap(),
        )
    }

    async fn intent(&self, order_id: &str) -> R {
        self.app.call("POST", "/api/payments/intents", Some(&self.buyer), Some(json!({"orderId": order_id}))).await
    }

    async fn order_status(&self, order_id: &str) -> String {
        let r = self.app.call("GET", &format!("/api/orders/{order_id}"), Some(&self.buyer), None).await;
        r.body["status"].as_str().unwrap_or_default().to_owned()
    }

    async fn wait_for_status(&self, order_id: &str, status: &str) {
        eventually(&format!("order {order_id} {status}"), || async { self.order_status(order_id).await == status }).await;
    }

    async fn payment_of(&self, order_id: &str) -> Value {
        let r = self.app.call("GET", &format!("/api/payments/order/{order_id}"), Some(&self.buyer), None).await;
        assert_eq!(r.status, 200, "{}", r.body);
        r.body["items"][0].clone()
    }

    /// Mails about an order (its number in the subject).
    async fn mails(&self, number: &str) -> Vec<Value> {
        mails_to(&self.app, &self.email).await.into_iter().filter(|m| m["subject"].as_str().unwrap_or("").contains(number)).collect()
    }

    /// An intent created through the API and paid on localstripe with `card`: (intent id, body of
    /// the card confirmation).
    async fn pay(&self, order_id: &str, card: &str) -> (String, Value) {
        let intent = self.intent(order_id).await;
        assert!(matches!(intent.status, 200 | 201), "{}", intent.body);
        let id = intent.body["paymentIntentId"].as_str().unwrap().to_owned();
        let (_, body) = stripe::pay(&id, card).await;
        (id, body)
    }

    /// A paid, CONFIRMED order: (order id, number, total, payment id).
    async fn paid_order(&self, quantity: u32) -> (String, String, i64, String) {
        let (id, number, total) = self.card_order(quantity).await;
        self.pay(&id, CARD_OK).await;
        self.wait_for_status(&id, "CONFIRMED").await;
        let payment = self.payment_of(&id).await;
        (id, number, total, payment["id"].as_str().unwrap().to_owned())
    }

    fn env(&self, function: &str, name: &str) -> String {
        self.app.cloud.environments[function][name].clone()
    }

    async fn webhook_secret(&self) -> String {
        self.app.cloud.stripe_webhook.as_ref().expect("the webhook is wired").secret.clone()
    }

    /// Delivers a Stripe event as Stripe would (signed now).
    async fn deliver(&self, event: &Value, secret: &str) -> R {
        let payload = event.to_string();
        let signature = payments::webhook::stripe_signature(secret, stripe::now(), payload.as_bytes());
        let response = self
            .app
            .http
            .post(format!("{}/api/payments/webhook", self.app.base))
            .header("content-type", "application/json")
            .header("stripe-signature", signature)
            .body(payload)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        R { status, headers, body: response.json().await.unwrap_or(Value::Null) }
    }

    async fn payments_db(&self) -> sqlx::PgPool {
        sqlx::PgPool::connect(&self.env("PaymentsFunction", "DATABASE_URL")).await.unwrap()
    }

    async fn orders_db(&self) -> sqlx::PgPool {
        sqlx::PgPool::connect(&self.env("OrdersFunction", "DATABASE_URL")).await.unwrap()
    }

    async fn refund(&self, payment: &str, key: &str, body: Value) -> R {
        self.app
            .call_with("POST", &format!("/api/payments/{payment}/refund"), Some(&self.admin), &[("idempotency-key", key)], Some(body))
            .await
    }

    /// Stripe's deliveries to this cloud get lost from now on: its webhook registration at
    /// localstripe points where nothing listens.
    async fn lose_webhooks(&self) {
        let hook = &self.app.cloud.stripe_webhook.as_ref().expect("the webhook is wired").id;
        let (status, _) =
            stripe::post(&format!("/_config/webhooks/{hook}"), &[("url", "http://127.0.0.1:9/lost"), ("secret", "whsec_lost")]).await;
        assert_eq!(status, 200);
    }

    /// Whether the product's stock is `available` and `reserved` now.
    async fn stock_is(&self, available: i64, reserved: i64) -> bool {
        let s = self.app.call("GET", &format!("/api/inventory/{}", self.product), Some(&self.admin), None).await;
        s.body["available"] == available && s.body["reserved"] == reserved
    }

    async fn run_schedule(&self, function: &str) -> Value {
        let (_, _, _, handler) = self.app.cloud.schedules.iter().find(|s| s.0 == function).expect("the function has a schedule");
        handler(json!({"source": "aws.events", "detail-type": "Scheduled Event"})).await.expect("the scheduled run succeeds")
    }
}

/// The README's card walk: intent → pay with a test card on localstripe → its webhook →
/// CONFIRMED → one confirmation email; a declined card and another try; 3-D Secure; a refund.
#[tokio::test]
async fn card_orders_are_paid_confirmed_and_refunded_end_to_end() {
    let shop = Shop::open(20).await;

    // Success: the amount is the order's, the intent is the same on a repeat.
    let (order_id, number, total) = shop.card_order(2).await;
    let first = shop.intent(&order_id).await;
    assert_eq!(first.status, 201, "{}", first.body);
    assert_eq!((first.body["amount"].as_i64(), first.body["currency"].as_str()), (Some(total), Some("usd")));
    let again = shop.intent(&order_id).await;
    assert_eq!((again.status, &again.body["paymentIntentId"]), (200, &first.body["paymentIntentId"]));
    let intent_id = first.body["paymentIntentId"].as_str().unwrap().to_owned();
    let on_stripe = stripe::get(&format!("/v1/payment_intents/{intent_id}")).await;
    assert_eq!((on_stripe["amount"].as_i64(), on_stripe["metadata"]["orderId"].as_str()), (Some(total), Some(order_id.as_str())));
    let (status, paid) = stripe::pay(&intent_id, CARD_OK).await;
    assert_eq!((status, paid["status"].as_str()), (200, Some("succeeded")), "{paid}");
    shop.wait_for_status(&order_id, "CONFIRMED").await;
    eventually("the confirmation email", || async { !shop.mails(&number).await.is_empty() }).await;
    let payment = shop.payment_of(&order_id).await;
    assert_eq!((payment["status"].as_str(), payment["captured"].as_i64()), (Some("SUCCEEDED"), Some(total)), "{payment}");
    // Paying again is refused.
    let twice = shop.intent(&order_id).await;
    assert_eq!((twice.status, twice.body["code"].as_str()), (409, Some("order_not_pending")), "{}", twice.body);
    let confirm = shop.app.call("POST", "/api/payments/confirm", Some(&shop.buyer), Some(json!({"orderId": order_id}))).await;
    assert_eq!((confirm.status, confirm.body["orderStatus"].as_str()), (200, Some("CONFIRMED")), "{}", confirm.body);

    // Someone else's order: as if it did not exist.
    let (other, _) = register_buyer(&shop.app).await;
    let stranger = other["accessToken"].as_str().unwrap();
    let theirs = shop.app.call("POST", "/api/payments/intents", Some(stranger), Some(json!({"orderId": order_id}))).await;
    assert_eq!((theirs.status, theirs.body["code"].as_str()), (404, Some("not_found")), "{}", theirs.body);
    let peek = shop.app.call("GET", &format!("/api/payments/{}", payment["id"].as_str().unwrap()), Some(stranger), None).await;
    assert_eq!(peek.status, 404);
    let peek = shop.app.call("POST", "/api/payments/confirm", Some(stranger), Some(json!({"orderId": order_id}))).await;
    assert_eq!(peek.status, 404);

    // Insufficient funds (localstripe declines that card only when attached to a customer:
    // Stripe's event for it, signed): FAILED with the decline code, the order still PENDING.
    let (poor_order, _, _) = shop.card_order(1).await;
    let poor = shop.intent(&poor_order).await.body["paymentIntentId"].as_str().unwrap().to_owned();
    let mut declined = stripe::get(&format!("/v1/payment_intents/{poor}")).await;
    declined["last_payment_error"] =
        json!({"code": "card_declined", "decline_code": "insufficient_funds", "message": "Your card has insufficient funds."});
    let secret = shop.webhook_secret().await;
    assert_eq!(shop.deliver(&stripe::event("payment_intent.payment_failed", declined), &secret).await.status, 200);
    let failed = shop.payment_of(&poor_order).await;
    assert_eq!((failed["status"].as_str(), failed["failureCode"].as_str()), (Some("FAILED"), Some("insufficient_funds")), "{failed}");
    assert_eq!(shop.order_status(&poor_order).await, "PENDING");

    // Declined: the order stays PENDING and takes another attempt on the same intent.
    let (declined_order, _, _) = shop.card_order(1).await;
    let (declined_intent, error) = shop.pay(&declined_order, CARD_DECLINED).await;
    assert_eq!(error["error"]["code"], "card_declined", "{error}");
    let settled = shop.app.call("POST", "/api/payments/confirm", Some(&shop.buyer), Some(json!({"orderId": declined_order}))).await;
    assert_eq!(settled.status, 200, "{}", settled.body);
    assert_eq!((settled.body["payment"]["status"].as_str(), settled.body["orderStatus"].as_str()), (Some("FAILED"), Some("PENDING")));
    assert_eq!(settled.body["payment"]["failureCode"], "card_declined");
    let retry = shop.intent(&declined_order).await;
    assert_eq!((retry.status, retry.body["paymentIntentId"].as_str()), (200, Some(declined_intent.as_str())), "{}", retry.body);
    // The second attempt succeeds. localstripe cannot charge an intent again once its charge
    // failed (its status stays requires_payment_method), so Stripe's event for it is delivered
    // signed, as Stripe sends it after a successful retry.
    let mut retried = stripe::get(&format!("/v1/payment_intents/{declined_intent}")).await;
    retried["status"] = json!("succeeded");
    retried["amount_received"] = retried["amount"].clone();
    retried["last_payment_error"] = Value::Null;
    assert_eq!(shop.deliver(&stripe::event("payment_intent.succeeded", retried), &secret).await.status, 200);
    assert_eq!(shop.order_status(&declined_order).await, "CONFIRMED");

    // 3-D Secure: requires_action until the customer authenticates.
    let (secure_order, _, _) = shop.card_order(1).await;
    let intent = shop.intent(&secure_order).await;
    let (secure_intent, secret) =
        (intent.body["paymentIntentId"].as_str().unwrap().to_owned(), intent.body["clientSecret"].as_str().unwrap().to_owned());
    let (_, pending) = stripe::pay(&secure_intent, CARD_3DS).await;
    assert_eq!(pending["status"], "requires_action");
    let confirm = shop.app.call("POST", "/api/payments/confirm", Some(&shop.buyer), Some(json!({"orderId": secure_order}))).await;
    assert_eq!((confirm.body["payment"]["status"].as_str(), confirm.body["orderStatus"].as_str()), (Some("PROCESSING"), Some("PENDING")));
    stripe::authenticate(&secure_intent, &secret, true).await;
    shop.wait_for_status(&secure_order, "CONFIRMED").await;

    // A full refund: the order follows (REFUNDED), one refund email.
    let payment_id = payment["id"].as_str().unwrap();
    let refunded = shop.refund(payment_id, "walk-refund", json!({"reason": "Changed my mind"})).await;
    assert_eq!(refunded.status, 200, "{}", refunded.body);
    assert_eq!((refunded.body["status"].as_str(), refunded.body["refunded"].as_i64()), (Some("REFUNDED"), Some(total)));
    shop.wait_for_status(&order_id, "REFUNDED").await;
    eventually("the refund email", || async {
        shop.mails(&number).await.iter().any(|m| m["subject"].as_str().unwrap().starts_with("Refund for"))
    })
    .await;
    let refunds = stripe::get(&format!("/v1/refunds?payment_intent={intent_id}")).await;
    assert_eq!(refunds["data"].as_array().map(Vec::len), Some(1), "one refund at Stripe");
}

/// Stripe's at-least-once, out-of-order delivery against the client's own confirms: the
/// `payment_intent.succeeded` event five times, an older `payment_failed` five times among them,
/// and five client confirms, all at once — one CONFIRMED transition, one email, one stock commit.
#[tokio::test]
async fn every_interleaving_of_webhooks_and_confirms_confirms_once() {
    let shop = Shop::open(10).await;
    let secret = shop.webhook_secret().await;
    let (order_id, number, total) = shop.card_order(3).await;
    let (intent_id, paid) = shop.pay(&order_id, CARD_OK).await;
    assert_eq!(paid["status"], "succeeded");

    let intent = stripe::get(&format!("/v1/payment_intents/{intent_id}")).await;
    let succeeded = stripe::event("payment_intent.succeeded", intent.clone());
    let mut failed_object = intent.clone();
    failed_object["status"] = json!("requires_payment_method");
    failed_object["last_payment_error"] =
        json!({"code": "card_declined", "decline_code": "insufficient_funds", "message": "Your card has insufficient funds."});
    let failed = stripe::event("payment_intent.payment_failed", failed_object);

    let mut calls = Vec::new();
    for i in 0..15 {
        let shop = &shop;
        let (succeeded, failed, secret, order_id) = (&succeeded, &failed, &secret, &order_id);
        calls.push(async move {
            match i % 3 {
                0 => shop.deliver(succeeded, secret).await.status,
                1 => shop.app.call("POST", "/api/payments/confirm", Some(&shop.buyer), Some(json!({"orderId": order_id}))).await.status,
                _ => shop.deliver(failed, secret).await.status,
            }
        });
    }
    let statuses = join_all(calls).await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");

    shop.wait_for_status(&order_id, "CONFIRMED").await;
    let orders = shop.orders_db().await;
    let order_uuid = Uuid::parse_str(&order_id).unwrap();
    let confirmations: i64 =
        sqlx::query_scalar("SELECT count(*) FROM order_status_history WHERE order_id = $1 AND to_status = 'CONFIRMED'")
            .bind(order_uuid)
            .fetch_one(&orders)
            .await
            .unwrap();
    assert_eq!(confirmations, 1);
    let published: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox WHERE order_id = $1 AND kind = 'OrderConfirmed'")
        .bind(order_uuid)
        .fetch_one(&orders)
        .await
        .unwrap();
    assert_eq!(published, 1, "one OrderConfirmed");

    eventually("the stock committed", || shop.stock_is(7, 0)).await;
    eventually("the confirmation email", || async { !shop.mails(&number).await.is_empty() }).await;
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    assert_eq!(shop.mails(&number).await.len(), 1, "one confirmation email");

    let payment = shop.payment_of(&order_id).await;
    assert_eq!(
        (payment["status"].as_str(), payment["captured"].as_i64(), payment["refunded"].as_i64()),
        (Some("SUCCEEDED"), Some(total), Some(0))
    );
    let db = shop.payments_db().await;
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM payments WHERE order_id = $1").bind(order_uuid).fetch_one(&db).await.unwrap();
    assert_eq!(rows, 1, "one payment row");
    let outcome: Option<String> =
        sqlx::query_scalar("SELECT order_outcome FROM payments WHERE order_id = $1").bind(order_uuid).fetch_one(&db).await.unwrap();
    assert_eq!(outcome.as_deref(), Some("confirmed"));
    let unprocessed: i64 =
        sqlx::query_scalar("SELECT count(*) FROM webhook_events WHERE processed_at IS NULL").fetch_one(&db).await.unwrap();
    assert_eq!(unprocessed, 0);
}

/// Twenty concurrent intent requests for one order make one PaymentIntent at Stripe.
#[tokio::test]
async fn concurrent_intent_requests_make_one_payment_intent() {
    let shop = Shop::open(5).await;
    let (order_id, _, _) = shop.card_order(1).await;
    let answers = join_all((0..20).map(|_| shop.intent(&order_id))).await;
    let created = answers.iter().filter(|a| a.status == 201).count();
    assert!(
        answers.iter().all(|a| matches!(a.status, 200 | 201)),
        "{:?}",
        answers.iter().map(|a| (a.status, a.body.clone())).collect::<Vec<_>>()
    );
    assert_eq!(created, 1);
    let ids: std::collections::BTreeSet<&str> = answers.iter().map(|a| a.body["paymentIntentId"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 1, "{ids:?}");
    let all = stripe::get("/v1/payment_intents?limit=100").await;
    let for_order = all["data"].as_array().unwrap().iter().filter(|pi| pi["metadata"]["orderId"] == json!(order_id)).count();
    assert_eq!(for_order, 1, "localstripe holds one intent for the order");
}

/// Partial refunds add up, never past what was captured; the last one refunds the order.
#[tokio::test]
async fn partial_refunds_accumulate_and_the_last_refunds_the_order() {
    let shop = Shop::open(5).await;
    let (order_id, number, total, payment) = shop.paid_order(2).await;
    let thirty = total * 30 / 100;

    let a = shop.refund(&payment, "r-a", json!({"amount": thirty})).await;
    assert_eq!(
        (a.status, a.body["status"].as_str(), a.body["refunded"].as_i64()),
        (200, Some("PARTIALLY_REFUNDED"), Some(thirty)),
        "{}",
        a.body
    );
    let a_again = shop.refund(&payment, "r-a", json!({"amount": thirty})).await;
    assert_eq!((a_again.status, a_again.body["refunded"].as_i64()), (200, Some(thirty)), "a replay refunds nothing more");
    let reused = shop.refund(&payment, "r-a", json!({"amount": thirty + 1})).await;
    assert_eq!((reused.status, reused.body["code"].as_str()), (422, Some("idempotency_key_reused")));
    let b = shop.refund(&payment, "r-b", json!({"amount": thirty})).await;
    assert_eq!(b.body["refunded"].as_i64(), Some(2 * thirty));
    let c = shop.refund(&payment, "r-c", json!({"amount": total / 2})).await;
    assert_eq!((c.status, c.body["errors"][0]["field"].as_str()), (422, Some("amount")), "{}", c.body);
    assert_eq!(shop.order_status(&order_id).await, "CONFIRMED", "a partial refund leaves the order");

    let rest = total - 2 * thirty;
    let d = shop.refund(&payment, "r-d", json!({"amount": rest})).await;
    assert_eq!((d.status, d.body["status"].as_str(), d.body["refunded"].as_i64()), (200, Some("REFUNDED"), Some(total)), "{}", d.body);
    shop.wait_for_status(&order_id, "REFUNDED").await;
    let nothing = shop.refund(&payment, "r-e", json!({})).await;
    assert_eq!((nothing.status, nothing.body["code"].as_str()), (409, Some("nothing_to_refund")));

    eventually("three refund emails", || async {
        shop.mails(&number).await.iter().filter(|m| m["subject"].as_str().unwrap().starts_with("Refund for")).count() >= 3
    })
    .await;
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let refund_mails = shop.mails(&number).await.into_iter().filter(|m| m["subject"].as_str().unwrap().starts_with("Refund for")).count();
    assert_eq!(refund_mails, 3, "one email per refund");
    // Not yet shipped: the units came back.
    eventually("the stock back", || shop.stock_is(5, 0)).await;
}

/// A paid order cancelled by its customer is refunded in full once; the cancellation email
/// carries the amount.
#[tokio::test]
async fn cancelling_a_paid_order_refunds_it_once() {
    let shop = Shop::open(5).await;
    let (order_id, number, total, _) = shop.paid_order(1).await;
    let cancelled = shop
        .app
        .call("POST", &format!("/api/orders/{order_id}/cancel"), Some(&shop.buyer), Some(json!({"reason": "Found it cheaper"})))
        .await;
    assert_eq!((cancelled.status, cancelled.body["status"].as_str()), (200, Some("CANCELLED")), "{}", cancelled.body);
    eventually("the payment refunded", || async { shop.payment_of(&order_id).await["status"] == "REFUNDED" }).await;
    let payment = shop.payment_of(&order_id).await;
    assert_eq!(payment["refunded"].as_i64(), Some(total));
    assert_eq!(payment["refunds"][0]["reason"], "order_cancelled");
    eventually("the cancellation email", || async {
        shop.mails(&number).await.iter().any(|m| m["subject"].as_str().unwrap().contains("Cancelled"))
    })
    .await;
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let mails = shop.mails(&number).await;
    let cancellations: Vec<&Value> = mails.iter().filter(|m| m["subject"].as_str().unwrap().contains("Cancelled")).collect();
    assert_eq!(cancellations.len(), 1, "{mails:?}");
    let amount = format!("${}.{:02}", total / 100, total % 100);
    assert!(cancellations[0]["text"].as_str().unwrap_or_default().contains(&amount), "{}", cancellations[0]);
    let intent = payment["paymentIntentId"].as_str().unwrap();
    let refunds = stripe::get(&format!("/v1/refunds?payment_intent={intent}")).await;
    assert_eq!(refunds["data"].as_array().map(Vec::len), Some(1), "refunded once at Stripe");
}

/// A refund made in the Stripe dashboard reaches us as `charge.refunded` (localstripe does not
/// send it: delivered signed, as Stripe would).
#[tokio::test]
async fn a_dashboard_refund_is_reflected() {
    let shop = Shop::open(5).await;
    let secret = shop.webhook_secret().await;
    let (order_id, _, total, _) = shop.paid_order(1).await;
    let intent = shop.payment_of(&order_id).await["paymentIntentId"].as_str().unwrap().to_owned();
    let (status, _) = stripe::post("/v1/refunds", &[("payment_intent", &intent), ("amount", "500")]).await;
    assert_eq!(status, 200);
    let charge = json!({"id": "ch_dashboard", "object": "charge", "payment_intent": intent, "amount": total, "amount_refunded": 500, "refunded": false});
    let event = stripe::event("charge.refunded", charge);
    assert_eq!(shop.deliver(&event, &secret).await.status, 200);
    assert_eq!(shop.deliver(&event, &secret).await.status, 200, "again: nothing more");
    let payment = shop.payment_of(&order_id).await;
    assert_eq!((payment["status"].as_str(), payment["refunded"].as_i64()), (Some("PARTIALLY_REFUNDED"), Some(500)), "{payment}");
    assert_eq!(payment["refunds"].as_array().map(Vec::len), Some(1));
    assert_eq!(payment["refunds"][0]["reason"], "external");
}

/// A lost webhook: the reconciliation job asks Stripe about intents stuck past its threshold.
#[tokio::test]
async fn the_reconciliation_job_settles_an_intent_whose_webhook_was_lost() {
    let shop = Shop::open(5).await;
    let (order_id, _, _) = shop.card_order(1).await;
    let intent = shop.intent(&order_id).await.body["paymentIntentId"].as_str().unwrap().to_owned();
    // Paid while our webhook route is not told (Stripe's delivery lost): the events of this
    // intent go to an address where nothing listens.
    shop.lose_webhooks().await;
    let (status, _) = stripe::pay(&intent, CARD_OK).await;
    assert_eq!(status, 200);
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    assert_eq!(shop.order_status(&order_id).await, "PENDING", "nobody told the order");

    let db = shop.payments_db().await;
    sqlx::query("UPDATE payments SET updated_at = now() - interval '11 minutes' WHERE intent_id = $1")
        .bind(&intent)
        .execute(&db)
        .await
        .unwrap();
    let run = shop.run_schedule("PaymentsEventsFunction").await;
    assert_eq!(run["reconciled"]["intentsChecked"], 1, "{run}");
    assert_eq!(shop.order_status(&order_id).await, "CONFIRMED");
}

/// A payment that succeeds after its order expired is re-reserved (the stock is there): the
/// order CONFIRMED, its stock committed. One that succeeds after the customer cancelled is refunded
/// in full with its email. (Stock gone at a late payment → 409 from orders → the same refund:
/// orders' own tests cover that decision.) The payments are made while Stripe's webhook is lost,
/// so payments learns of them only from the order's `OrderCancelled` (the intent cannot be
/// cancelled any more: it succeeded) — the order of things a slow 3-D Secure produces.
#[tokio::test]
async fn late_payments_are_re_reserved_or_refunded() {
    let shop = Shop::open(3).await;
    let orders = shop.orders_db().await;

    // Expired, then found paid: held again and CONFIRMED.
    let (order_id, _, _) = shop.card_order(1).await;
    let intent = shop.intent(&order_id).await.body["paymentIntentId"].as_str().unwrap().to_owned();
    shop.lose_webhooks().await;
    let (status, _) = stripe::pay(&intent, CARD_OK).await;
    assert_eq!(status, 200);
    sqlx::query("UPDATE orders SET payment_due_at = now() - interval '50 minutes' WHERE id = $1")
        .bind(Uuid::parse_str(&order_id).unwrap())
        .execute(&orders)
        .await
        .unwrap();
    shop.run_schedule("OrdersEventsFunction").await;
    shop.wait_for_status(&order_id, "CONFIRMED").await;
    eventually("the stock committed", || shop.stock_is(2, 0)).await;
    let payment = shop.payment_of(&order_id).await;
    assert_eq!((payment["status"].as_str(), payment["refunded"].as_i64()), (Some("SUCCEEDED"), Some(0)));

    // Cancelled by the customer, then found paid: refunded in full, with its email.
    let (gone, gone_number, total) = shop.card_order(1).await;
    let intent = shop.intent(&gone).await.body["paymentIntentId"].as_str().unwrap().to_owned();
    let (status, _) = stripe::pay(&intent, CARD_OK).await;
    assert_eq!(status, 200);
    let cancelled = shop.app.call("POST", &format!("/api/orders/{gone}/cancel"), Some(&shop.buyer), None).await;
    assert_eq!(cancelled.body["status"], "CANCELLED", "{}", cancelled.body);
    eventually("the late payment refunded", || async { shop.payment_of(&gone).await["status"] == "REFUNDED" }).await;
    let payment = shop.payment_of(&gone).await;
    assert_eq!((payment["refunded"].as_i64(), payment["refunds"][0]["reason"].as_str()), (Some(total), Some("late_payment")));
    assert_eq!(shop.order_status(&gone).await, "CANCELLED");
    eventually("the late payment email", || async {
        shop.mails(&gone_number).await.iter().any(|m| m["subject"].as_str().unwrap().starts_with("Your payment for Order"))
    })
    .await;
    let refunds = stripe::get(&format!("/v1/refunds?payment_intent={intent}")).await;
    assert_eq!(refunds["data"].as_array().map(Vec::len), Some(1), "refunded once at Stripe");
}

/// `charge.dispute.created` (not sent by localstripe: delivered signed): the payment is marked,
/// the order flagged, the admins emailed — once, however often it arrives.
#[tokio::test]
async fn a_dispute_flags_the_order_and_tells_the_admins_once() {
    let shop = Shop::open(5).await;
    let secret = shop.webhook_secret().await;
    let (order_id, number, total, _) = shop.paid_order(1).await;
    let intent = shop.payment_of(&order_id).await["paymentIntentId"].as_str().unwrap().to_owned();
    let dispute = json!({"id": "dp_1", "object": "dispute", "charge": "ch_1", "payment_intent": intent, "amount": total, "currency": "usd", "reason": "fraudulent", "status": "needs_response"});
    let event = stripe::event("charge.dispute.created", dispute);
    for _ in 0..3 {
        assert_eq!(shop.deliver(&event, &secret).await.status, 200);
    }
    assert_eq!(shop.payment_of(&order_id).await["disputed"], true);
    let order = shop.app.call("GET", &format!("/api/orders/{order_id}"), Some(&shop.admin), None).await;
    assert!(order.body["flaggedReason"].as_str().unwrap_or_default().contains("fraudulent"), "{}", order.body);
    let admin_mails = || async {
        mails_to(&shop.app, local_runner::cloud::ADMIN_EMAIL)
            .await
            .into_iter()
            .filter(|m| m["subject"].as_str().unwrap_or("").contains(&number))
            .count()
    };
    eventually("the admin email", || async { admin_mails().await >= 1 }).await;
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    assert_eq!(admin_mails().await, 1);
}

/// Cash on delivery: a `cod` payment comes with the order and is settled at delivery, never
/// sent to Stripe.
#[tokio::test]
async fn cash_on_delivery_is_settled_at_delivery() {
    let shop = Shop::open(5).await;
    let add = shop.app.call("POST", "/api/cart/items", Some(&shop.buyer), Some(json!({"productId": shop.product, "quantity": 1}))).await;
    assert_eq!(add.status, 200);
    let placed = order(&shop.app, &shop.buyer, "cod-1", "cod").await;
    assert_eq!(placed.body["status"], "CONFIRMED");
    let id = placed.body["id"].as_str().unwrap().to_owned();
    eventually("the cod payment", || async {
        let r = shop.app.call("GET", &format!("/api/payments/order/{id}"), Some(&shop.buyer), None).await;
        r.body["items"][0]["status"] == "PENDING"
    })
    .await;
    let payment = shop.payment_of(&id).await;
    assert_eq!((payment["method"].as_str(), payment["amount"].as_i64()), (Some("cod"), placed.body["total"].as_i64()));
    assert!(payment.get("paymentIntentId").is_none());
    let intent = shop.intent(&id).await;
    assert_eq!((intent.status, intent.body["code"].as_str()), (409, Some("not_card_order")));
    for body in [
        json!({"status": "PROCESSING"}),
        json!({"status": "SHIPPED", "trackingNumber": "1Z1", "carrier": "UPS"}),
        json!({"status": "DELIVERED"}),
    ] {
        let r = shop.app.call("PATCH", &format!("/api/orders/{id}/status"), Some(&shop.admin), Some(body)).await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    eventually("the cod payment settled", || async { shop.payment_of(&id).await["status"] == "SUCCEEDED" }).await;
    assert_eq!(shop.payment_of(&id).await["captured"], placed.body["total"]);
}
