//! The local Stripe (localstripe at `$STRIPE_API_BASE`) as a test drives it: what a browser with
//! Stripe.js does to pay an intent with a test card, and the events localstripe does not send (`charge.refunded`, `charge.dispute.created`,
//! `payment_intent.canceled`, a decline with `insufficient_funds`), to be signed with
//! `payments::webhook::stripe_signature`.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

/// Succeeds.
pub const CARD_OK: &str = "4242424242424242";
/// Declined when charged (`card_declined`).
pub const CARD_DECLINED: &str = "4000000000000341";
/// Asks for 3-D Secure (`requires_action`) before it is charged.
pub const CARD_3DS: &str = "4000002500003155";

/// localstripe accepts any `sk_test_` key.
pub const KEY: &str = "sk_test_local";

pub fn base() -> String {
    std::env::var("STRIPE_API_BASE").unwrap_or_else(|_| "http://127.0.0.1:8420".into())
}

pub fn client() -> reqwest::Client {
    reqwest::Client::new()
}

/// A form POST to localstripe: (status, body).
pub async fn post(path: &str, form: &[(&str, &str)]) -> (u16, Value) {
    let response = client().post(format!("{}{path}", base())).basic_auth(KEY, Some("")).form(form).send().await.expect("localstripe runs");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

pub async fn get(path: &str) -> Value {
    client()
        .get(format!("{}{path}", base()))
        .basic_auth(KEY, Some(""))
        .send()
        .await
        .expect("localstripe runs")
        .json()
        .await
        .unwrap_or(Value::Null)
}

/// What Stripe.js does with a card for an intent: a PaymentMethod, set on the intent, and the
/// confirmation. Answers (status, body) of the confirmation (402 for a decline).
pub async fn pay(intent_id: &str, card: &str) -> (u16, Value) {
    let (_, method) = post(
        "/v1/payment_methods",
        &[("type", "card"), ("card[number]", card), ("card[exp_month]", "12"), ("card[exp_year]", "2034"), ("card[cvc]", "123")],
    )
    .await;
    let method = method["id"].as_str().expect("a payment method").to_owned();
    let (status, _) = post(&format!("/v1/payment_intents/{intent_id}"), &[("payment_method", &method)]).await;
    assert_eq!(status, 200, "the payment method is set on the intent");
    post(&format!("/v1/payment_intents/{intent_id}/confirm"), &[]).await
}

/// Completes (or fails) the 3-D Secure step of an intent.
pub async fn authenticate(intent_id: &str, client_secret: &str, success: bool) -> (u16, Value) {
    post(
        &format!("/v1/payment_intents/{intent_id}/_authenticate"),
        &[("client_secret", client_secret), ("success", if success { "true" } else { "false" })],
    )
    .await
}

/// Now, in Unix seconds.
pub fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// A Stripe event of `kind` about `object`, as Stripe sends it.
pub fn event(kind: &str, object: Value) -> Value {
    json!({
        "id": format!("evt_{}", uuid::Uuid::new_v4().simple()),
        "object": "event",
        "api_version": "2025-11-17.clover",
        "created": now(),
        "livemode": false,
        "pending_webhooks": 1,
        "request": {"id": null, "idempotency_key": null},
        "type": kind,
        "data": {"object": object},
    })
}
