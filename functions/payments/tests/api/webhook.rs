//! The webhook's door: only Stripe's signature over the raw body, fresh, gets an event in; each
//! event id is acted on once; events about intents we never made are acknowledged (logged).

use serde_json::{Value, json};
use shop_testkit::{Req, stripe};

use crate::app;

fn deliver(payload: &str, signature: Option<&str>) -> Req {
    let req = Req::post("/api/payments/webhook").raw_body("application/json", payload.as_bytes().to_vec());
    match signature {
        Some(s) => req.header("stripe-signature", s),
        None => req,
    }
}

async fn recorded(state: &payments::AppState) -> Vec<(String, Option<String>)> {
    sqlx::query_as::<_, (String, Option<String>)>("SELECT id, outcome FROM webhook_events ORDER BY received_at")
        .fetch_all(state.store.pool())
        .await
        .unwrap()
}

fn intent_event(kind: &str, intent: &str) -> Value {
    stripe::event(
        kind,
        json!({"id": intent, "object": "payment_intent", "status": "succeeded", "amount": 1999, "amount_received": 1999, "currency": "usd"}),
    )
}

#[tokio::test]
async fn unsigned_forged_stale_or_unreadable_deliveries_are_refused_and_change_nothing() {
    let app = app().await;
    let payload = intent_event("payment_intent.succeeded", "pi_forged").to_string();

    let missing = deliver(&payload, None).send(&app.webhook).await.expect_problem(400, "signature_missing");
    assert_eq!(missing["errors"][0]["field"], "Stripe-Signature");

    let wrong_secret = payments::webhook::stripe_signature("whsec_someone_else", stripe::now(), payload.as_bytes());
    deliver(&payload, Some(&wrong_secret)).send(&app.webhook).await.expect_problem(400, "signature_invalid");

    // Signed for another body: the raw bytes are what is verified (a re-serialised body fails).
    let reformatted = serde_json::to_string_pretty(&serde_json::from_str::<Value>(&payload).unwrap()).unwrap();
    let signed_original = payments::webhook::stripe_signature(&app.secret, stripe::now(), payload.as_bytes());
    deliver(&reformatted, Some(&signed_original)).send(&app.webhook).await.expect_problem(400, "signature_invalid");

    let stale = payments::webhook::stripe_signature(&app.secret, stripe::now() - 301, payload.as_bytes());
    deliver(&payload, Some(&stale)).send(&app.webhook).await.expect_problem(400, "signature_expired");

    deliver(&payload, Some("t=abc,v1=00")).send(&app.webhook).await.expect_problem(400, "signature_invalid");

    let garbage = "not json at all";
    deliver(garbage, Some(&payments::webhook::stripe_signature(&app.secret, stripe::now(), garbage.as_bytes())))
        .send(&app.webhook)
        .await
        .expect_problem(400, "invalid_event");

    assert!(recorded(&app.state).await.is_empty(), "nothing refused was recorded");
}

#[tokio::test]
async fn an_event_for_an_unknown_intent_is_acknowledged_once() {
    let app = app().await;
    let event = intent_event("payment_intent.succeeded", "pi_never_made");
    let payload = event.to_string();
    let signature = payments::webhook::stripe_signature(&app.secret, stripe::now(), payload.as_bytes());

    let first = deliver(&payload, Some(&signature)).send(&app.webhook).await.expect(200);
    assert_eq!(first, json!({"received": true}));
    let again = deliver(&payload, Some(&signature)).send(&app.webhook).await.expect(200);
    assert_eq!(again, json!({"received": true, "duplicate": true}));

    assert_eq!(recorded(&app.state).await, vec![(event["id"].as_str().unwrap().to_owned(), Some("unknown_intent".into()))]);
    let payments: i64 = sqlx::query_scalar("SELECT count(*) FROM payments").fetch_one(app.state.store.pool()).await.unwrap();
    assert_eq!(payments, 0);
}

#[tokio::test]
async fn event_types_we_do_not_handle_are_acknowledged() {
    let app = app().await;
    let event = stripe::event("customer.created", json!({"id": "cus_1", "object": "customer"}));
    let payload = event.to_string();
    deliver(&payload, Some(&payments::webhook::stripe_signature(&app.secret, stripe::now(), payload.as_bytes())))
        .send(&app.webhook)
        .await
        .expect(200);
    assert_eq!(recorded(&app.state).await[0].1.as_deref(), Some("ignored"));
}

#[tokio::test]
async fn the_payments_routes_need_a_caller_and_refunds_an_admin() {
    let app = app().await;
    let id = uuid::Uuid::now_v7();
    Req::get(&format!("/api/payments/{id}")).send(&app.router).await.expect_problem(401, "unauthenticated");
    let customer = uuid::Uuid::now_v7().to_string();
    Req::get(&format!("/api/payments/{id}")).as_user(&customer, "CUSTOMER", "s").send(&app.router).await.expect_problem(404, "not_found");
    Req::post(&format!("/api/payments/{id}/refund"))
        .as_user(&customer, "CUSTOMER", "s")
        .header("idempotency-key", "k1")
        .json(json!({}))
        .send(&app.router)
        .await
        .expect_problem(403, "forbidden");
    let admin = uuid::Uuid::now_v7().to_string();
    Req::post(&format!("/api/payments/{id}/refund"))
        .as_user(&admin, "ADMIN", "s")
        .json(json!({}))
        .send(&app.router)
        .await
        .expect_problem(400, "idempotency_key_required");
    Req::post(&format!("/api/payments/{id}/refund"))
        .as_user(&admin, "ADMIN", "s")
        .header("idempotency-key", "k1")
        .json(json!({"amount": 0}))
        .send(&app.router)
        .await
        .expect_problem(422, "validation_failed");
    Req::post(&format!("/api/payments/{id}/refund"))
        .as_user(&admin, "ADMIN", "s")
        .header("idempotency-key", "k1")
        .json(json!({"amount": 100}))
        .send(&app.router)
        .await
        .expect_problem(404, "not_found");
    let list = Req::get("/api/payments").as_user(&admin, "ADMIN", "s").send(&app.router).await.expect(200);
    assert_eq!(list["meta"]["total"], 0);
    Req::get("/api/payments").as_user(&customer, "CUSTOMER", "s").send(&app.router).await.expect_problem(403, "forbidden");
}
