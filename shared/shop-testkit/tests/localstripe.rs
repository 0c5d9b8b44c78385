//! The local Stripe that `scripts/test` and `scripts/dev` run (localstripe, at
//! `$STRIPE_API_BASE`), driven as the payments function and a browser drive it: an intent made
//! by the server without a payment method, paid with a test card (success, charge declined,
//! 3-D Secure required then completed), refunds listed by intent with our metadata.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use shop_testkit::stripe::{self, CARD_3DS, CARD_DECLINED, CARD_OK};

async fn intent() -> (String, String) {
    let (status, intent) =
        stripe::post("/v1/payment_intents", &[("amount", "1999"), ("currency", "usd"), ("metadata[orderId]", "o-1")]).await;
    assert_eq!(status, 200, "{intent}");
    assert_eq!((intent["amount"].as_i64(), intent["metadata"]["orderId"].as_str()), (Some(1999), Some("o-1")));
    assert_eq!(intent["status"], "requires_payment_method");
    (intent["id"].as_str().unwrap().to_owned(), intent["client_secret"].as_str().unwrap().to_owned())
}

#[tokio::test]
async fn intents_are_paid_with_the_test_cards() {
    let (ok, _) = intent().await;
    let (status, paid) = stripe::pay(&ok, CARD_OK).await;
    assert_eq!((status, paid["status"].as_str()), (200, Some("succeeded")), "{paid}");

    let (declined, _) = intent().await;
    let (status, error) = stripe::pay(&declined, CARD_DECLINED).await;
    assert_eq!(status, 402, "{error}");
    let after = stripe::get(&format!("/v1/payment_intents/{declined}")).await;
    assert_eq!(after["status"], "requires_payment_method", "a declined intent takes another attempt");
    assert_eq!(after["last_payment_error"]["code"], "card_declined");

    let (secure, secret) = intent().await;
    let (_, pending) = stripe::pay(&secure, CARD_3DS).await;
    assert_eq!(pending["status"], "requires_action");
    let (_, done) = stripe::authenticate(&secure, &secret, true).await;
    assert_eq!(done["status"], "succeeded", "{done}");
}

#[tokio::test]
async fn refunds_are_listed_by_intent_with_their_metadata() {
    let (id, _) = intent().await;
    stripe::pay(&id, CARD_OK).await;
    let (status, refund) = stripe::post("/v1/refunds", &[("payment_intent", &id), ("amount", "500"), ("metadata[refundId]", "r-1")]).await;
    assert_eq!(status, 200, "{refund}");
    let list = stripe::get(&format!("/v1/refunds?payment_intent={id}")).await;
    let data = list["data"].as_array().unwrap();
    assert_eq!(data.len(), 1);
    assert_eq!((data[0]["amount"].as_i64(), data[0]["metadata"]["refundId"].as_str()), (Some(500), Some("r-1")));
}
