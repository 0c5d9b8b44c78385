//! `POST /api/payments/webhook` — the Stripe webhook Lambda (`stripe-webhook` binary). No
//! authorizer: the request is Stripe's, proven by `Stripe-Signature` over the **raw** body with
//! the endpoint's secret (async-stripe's verifier, 300 s tolerance). Each event is recorded by id
//! before it is acted on and answered 2xx only then; a failure while acting answers 503, so
//! Stripe retries (and the reconciliation job handles recorded events left unprocessed). A
//! processed event delivered again does nothing.

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};
use shop_core::{ApiError, FieldError};
use stripe_webhook::{Webhook, WebhookError};

use crate::AppState;
use crate::ledger::{self, LedgerError};
use crate::store::Recorded;
use crate::stripe::Intent;

pub const PATH: &str = "/api/payments/webhook";

/// The envelope of a Stripe event: the fields we read.
#[derive(Debug, Deserialize)]
pub struct StripeEvent {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub data: EventData,
}

#[derive(Debug, Deserialize)]
pub struct EventData {
    pub object: Value,
}

#[derive(Debug, Deserialize)]
struct Charge {
    payment_intent: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Dispute {
    id: String,
    payment_intent: Option<String>,
    amount: i64,
    #[serde(default)]
    reason: Option<String>,
}

/// `Stripe-Signature` for `payload` at `timestamp` (Unix seconds) with the endpoint's `secret`,
/// as Stripe computes it: `t=<timestamp>,v1=<hex HMAC-SHA256 of "<timestamp>.<payload>">`. What
/// the verifier checks; the local cloud signs its samples and the tests their deliveries with it.
pub fn stripe_signature(secret: &str, timestamp: i64, payload: &[u8]) -> String {
    use aws_lc_rs::hmac;
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let mut context = hmac::Context::with_key(&key);
    context.update(timestamp.to_string().as_bytes());
    context.update(b".");
    context.update(payload);
    let hex: String = context.sign().as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("t={timestamp},v1={hex}")
}

/// The webhook function's router: this one route.
pub fn router(state: AppState) -> axum::Router {
    shop_core::http::finish(axum::Router::new().route(PATH, post(receive)).with_state(state))
}

/// A refused signature names the header.
fn on_header(error: ApiError, message: &str) -> ApiError {
    let code = error.code();
    error.with_errors(vec![FieldError::new("Stripe-Signature", code, message)])
}

/// Verifies, records, handles. A body over the limit is refused as every route refuses it
/// (413 `payload_too_large`, problem+json), never axum's plain-text rejection.
pub async fn receive(State(state): State<AppState>, headers: HeaderMap, body: Result<Bytes, BytesRejection>) -> Response {
    let Ok(body) = body else {
        let limit = shop_core::extract::MAX_BODY_BYTES;
        return ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", format!("The request body exceeds {limit} bytes."))
            .into_response();
    };
    let started = std::time::Instant::now();
    let (response, event) = match receive_inner(&state, &headers, &body).await {
        Ok((response, event)) => (response, event),
        Err(e) => (e.into_response(), None),
    };
    // One line per delivery: the webhook's own time (the benchmark reads it).
    let (id, kind, outcome) = event.unwrap_or_default();
    tracing::info!(event_id = %id, kind = %kind, outcome, status = response.status().as_u16(), elapsed_us = started.elapsed().as_micros() as u64, "stripe webhook");
    response
}

/// (event id, type, outcome) of a delivery that got that far.
type Delivered = Option<(String, String, &'static str)>;

async fn receive_inner(state: &AppState, headers: &HeaderMap, body: &[u8]) -> Result<(Response, Delivered), ApiError> {
    let Some(signature) = headers.get("stripe-signature").and_then(|v| v.to_str().ok()) else {
        shop_core::metrics::count(crate::CALLER, "WebhookSignatureFailed");
        let detail = "The Stripe-Signature header is required.";
        return Err(on_header(ApiError::new(StatusCode::BAD_REQUEST, "signature_missing", detail), detail));
    };
    let Ok(payload) = std::str::from_utf8(body) else {
        return Err(ApiError::bad_request("invalid_event", "The body is not UTF-8 JSON."));
    };
    let secret = state.webhook_secret().await.map_err(ApiError::from)?;
    match Webhook::construct_event(payload, signature, secret) {
        // Verified. `BadParse` comes only after the signature and the timestamp passed: the
        // SDK's generated types did not read this event (another API version, a stand-in's
        // shape); we read the fields we use ourselves, below.
        Ok(_) | Err(WebhookError::BadParse(_)) => {}
        Err(WebhookError::BadTimestamp(_)) => {
            shop_core::metrics::count(crate::CALLER, "WebhookSignatureFailed");
            let detail = "The signature's timestamp is more than 300 s from now.";
            return Err(on_header(ApiError::new(StatusCode::BAD_REQUEST, "signature_expired", detail), detail));
        }
        Err(e) => {
            shop_core::metrics::count(crate::CALLER, "WebhookSignatureFailed");
            tracing::warn!(error = %e, "webhook signature refused");
            let detail = "The Stripe-Signature does not match the body.";
            return Err(on_header(ApiError::new(StatusCode::BAD_REQUEST, "signature_invalid", detail), detail));
        }
    }
    let payload: Value =
        serde_json::from_str(payload).map_err(|_| ApiError::bad_request("invalid_event", "The body is not a Stripe event."))?;
    let event: StripeEvent =
        serde_json::from_value(payload.clone()).map_err(|_| ApiError::bad_request("invalid_event", "The body is not a Stripe event."))?;
    match state.store.record_event(&event.id, &event.kind, &payload).await? {
        Recorded::Done => {
            return Ok((Json(json!({"received": true, "duplicate": true})).into_response(), Some((event.id, event.kind, "duplicate"))));
        }
        Recorded::Process => {}
    }
    match process(state, &event).await {
        Ok(outcome) => Ok((Json(json!({"received": true})).into_response(), Some((event.id, event.kind, outcome)))),
        Err(e) => {
            tracing::warn!(error = %shop_core::problem::ErrorChain(&e), event_id = %event.id, kind = %event.kind, "event recorded, not processed; Stripe retries");
            Err(ApiError::from(e))
        }
    }
}

/// Acts on a recorded event (once it succeeds, it is marked processed). Answers the outcome.
pub async fn process(state: &AppState, event: &StripeEvent) -> Result<&'static str, LedgerError> {
    let id = event.id.as_str();
    let outcome = match handle(state, event).await {
        Ok(outcome) => outcome,
        // The object of a verified event does not have the fields we need: logged, not retried.
        Err(LedgerError::Store(crate::store::StoreError::Corrupt(e))) => {
            tracing::error!(event_id = %id, kind = %event.kind, error = %e, "event object unreadable; acknowledged");
            "unreadable"
        }
        Err(e) => return Err(e),
    };
    state.store.mark_event(id, outcome).await?;
    Ok(outcome)
}

async fn handle(state: &AppState, event: &StripeEvent) -> Result<&'static str, LedgerError> {
    let object = event.data.object.clone();
    Ok(match event.kind.as_str() {
        "payment_intent.succeeded"
        | "payment_intent.payment_failed"
        | "payment_intent.canceled"
        | "payment_intent.processing"
        | "payment_intent.requires_action" => {
            let intent: Intent = serde_json::from_value(object)?;
            match ledger::settle(state, &intent).await? {
                Some(_) => "settled",
                None => unknown(event, &intent.id),
            }
        }
        "charge.refunded" => {
            let charge: Charge = serde_json::from_value(object)?;
            let Some(intent_id) = charge.payment_intent else { return Ok(unknown(event, "-")) };
            match ledger::sync_refunds(state, &intent_id).await? {
                Some(_) => "refunds_synced",
                None => unknown(event, &intent_id),
            }
        }
        "charge.dispute.created" => {
            let dispute: Dispute = serde_json::from_value(object)?;
            let Some(intent_id) = dispute.payment_intent else { return Ok(unknown(event, "-")) };
            let reason = dispute.reason.unwrap_or_else(|| "unknown".into());
            match ledger::dispute(state, &intent_id, &dispute.id, dispute.amount, &reason).await? {
                Some(_) => "dispute_recorded",
                None => unknown(event, &intent_id),
            }
        }
        _ => "ignored",
    })
}

/// An event about an intent we never made (another integration on the account, a deleted
/// test): acknowledged, so Stripe does not retry it forever.
fn unknown(event: &StripeEvent, intent: &str) -> &'static str {
    tracing::warn!(event_id = %event.id, kind = %event.kind, intent, "event for an unknown payment intent; acknowledged");
    "unknown_intent"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_stripes_and_the_verifier_takes_them() {
        // Expected value computed independently with Python's hmac module.
        assert_eq!(
            stripe_signature("whsec_test", 1_700_000_000, b"{}"),
            "t=1700000000,v1=35495024f4ef3f94e5a93e22221544c4b75e9a42300cd965ab81cb85cd994e91"
        );
        let payload = r#"{"id":"evt_1","object":"event","type":"x"}"#;
        let now = 1_800_000_000;
        let header = stripe_signature("whsec_a", now, payload.as_bytes());
        let verified = Webhook::construct_event_with_timestamp(payload, &header, "whsec_a", now + 299);
        assert!(matches!(verified, Ok(_) | Err(WebhookError::BadParse(_))), "{verified:?}");
        assert!(matches!(Webhook::construct_event_with_timestamp(payload, &header, "whsec_b", now), Err(WebhookError::BadSignature)));
        assert!(matches!(
            Webhook::construct_event_with_timestamp(payload, &header, "whsec_a", now + 301),
            Err(WebhookError::BadTimestamp(_))
        ));
    }
}
