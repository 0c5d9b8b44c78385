//! The local Stripe that `scripts/test` and `scripts/dev` run (localstripe, at
//! `$STRIPE_API_BASE`): what the payments function will rely on — PaymentIntents priced by the
//! server, confirmation with the test cards (success, charge declined, 3-D Secure required).
//! localstripe takes the payment method at creation and `confirm` without parameters.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;

fn base() -> String {
    std::env::var("STRIPE_API_BASE").unwrap_or_else(|_| "http://127.0.0.1:8420".into())
}

async fn post(client: &reqwest::Client, path: &str, form: &[(&str, &str)]) -> Value {
    let response =
        client.post(format!("{}{path}", base())).basic_auth("sk_test_skyshop", Some("")).form(form).send().await.expect("localstripe runs");
    response.json().await.unwrap()
}

/// A PaymentIntent for 19.99 with a card, confirmed: its status.
async fn pay_with(client: &reqwest::Client, card: &str) -> Value {
    let method = post(
        client,
        "/v1/payment_methods",
        &[("type", "card"), ("card[number]", card), ("card[exp_month]", "12"), ("card[exp_year]", "2034"), ("card[cvc]", "123")],
    )
    .await;
    let method = method["id"].as_str().unwrap().to_owned();
    let intent = post(
        client,
        "/v1/payment_intents",
        &[("amount", "1999"), ("currency", "usd"), ("payment_method", &method), ("metadata[orderId]", "o-1")],
    )
    .await;
    assert_eq!((intent["amount"].as_i64(), intent["metadata"]["orderId"].as_str()), (Some(1999), Some("o-1")));
    assert!(intent["client_secret"].as_str().unwrap().starts_with(intent["id"].as_str().unwrap()));
    post(client, &format!("/v1/payment_intents/{}/confirm", intent["id"].as_str().unwrap()), &[]).await
}

#[tokio::test]
async fn payment_intents_confirm_with_the_test_cards() {
    let client = reqwest::Client::new();
    assert_eq!(pay_with(&client, "4242424242424242").await["status"], "succeeded");
    let declined = pay_with(&client, "4000000000000341").await;
    assert_ne!(declined["status"], "succeeded", "{declined}");
    assert_eq!(pay_with(&client, "4000002500003155").await["status"], "requires_action", "3-D Secure");
}
