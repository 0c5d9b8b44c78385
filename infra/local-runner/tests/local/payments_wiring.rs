//! Payments wired into the local cloud: the three functions from the template, the `payments`
//! database, the Stripe secrets filled with local values and the webhook registered at
//! localstripe, which delivers signed events to it.

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{register_buyer, start};

/// POST to the webhook route through the gateway, without a token, with the raw `body`.
async fn deliver(app: &crate::helpers::Running, body: &str, signature: Option<&str>) -> (u16, Value) {
    let mut request =
        app.http.post(format!("{}/api/payments/webhook", app.base)).header("content-type", "application/json").body(body.to_owned());
    if let Some(signature) = signature {
        request = request.header("stripe-signature", signature);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn payments_routes_and_the_signed_webhook_are_served_by_the_payments_functions() {
    let app = start(false).await;
    let cloud = &app.cloud;
    // The three functions are built, on their own database.
    for function in ["PaymentsFunction", "StripeWebhookFunction", "PaymentsEventsFunction"] {
        let url = &cloud.environments[function]["DATABASE_URL"];
        assert!(url.contains("/payments_"), "{function}: {url}");
        assert_eq!(cloud.environments[function].get("STRIPE_API_BASE"), Some(&local_runner::cloud::stripe_api_base()), "{function}");
    }
    assert!(
        cloud.sqs_sources.iter().any(|(s, _)| s.function == "PaymentsEventsFunction" && s.queue_url.contains("PaymentsOrderEventsQueue"))
    );
    assert!(cloud.schedules.iter().any(|(f, _, period, _)| f == "PaymentsEventsFunction" && *period == Duration::from_secs(300)));

    // A customer's order without payments: no payments (the function answers, not the gateway).
    let (registered, _) = register_buyer(&app).await;
    let customer = registered["accessToken"].as_str().unwrap().to_owned();
    let r = app.call("GET", &format!("/api/payments/order/{}", uuid::Uuid::now_v7()), Some(&customer), None).await;
    assert_eq!((r.status, r.body.clone()), (200, json!({"items": []})));
    // Refunds are the admin's, at the edge.
    let r = app.call("POST", &format!("/api/payments/{}/refund", uuid::Uuid::now_v7()), Some(&customer), Some(json!({}))).await;
    assert_eq!(r.status, 403, "{}", r.body);

    // The webhook: no token needed, the signature is checked by the function.
    let event = local_runner::events::stripe_event().to_string();
    let (status, body) = deliver(&app, &event, None).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("signature_missing")), "{body}");
    let (status, body) = deliver(&app, &event, Some("t=1764072000,v1=00ff")).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("signature_invalid")), "{body}");
    // The committed sample is signed with another secret.
    let sample = local_runner::stripe::signature(
        local_runner::events::SAMPLE_WEBHOOK_SECRET,
        local_runner::events::SAMPLE_WEBHOOK_TIMESTAMP,
        event.as_bytes(),
    );
    assert_eq!(deliver(&app, &event, Some(&sample)).await.1["code"], "signature_invalid");
    // Signed with this cloud's secret, now: verified, recorded, acknowledged (an intent we never made).
    let hook = cloud.stripe_webhook.clone().expect("the template has the Stripe webhook");
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let (status, body) = deliver(&app, &event, Some(&local_runner::stripe::signature(&hook.secret, now, event.as_bytes()))).await;
    assert_eq!((status, body.clone()), (200, json!({"received": true})), "{body}");
    // An old signature with the right secret is expired.
    let old = local_runner::stripe::signature(&hook.secret, now - 600, event.as_bytes());
    assert_eq!(deliver(&app, &event, Some(&old)).await.1["code"], "signature_expired");
}

#[tokio::test]
async fn localstripe_delivers_its_events_to_this_clouds_webhook_signed_with_its_secret() {
    let app = start(false).await;
    let hook = app.cloud.stripe_webhook.clone().expect("the template has the Stripe webhook");
    assert!(hook.registered, "localstripe at {} took the registration", hook.api_base);
    assert!(hook.secret.starts_with("whsec_"), "a generated secret");
    assert!(hook.id.starts_with("skyshop-") && hook.url.ends_with("/api/payments/webhook"), "{hook:?}");
    // Registering again (the next start-up) replaces the same registration.
    let again = local_runner::stripe::register_webhook(
        &hook.api_base,
        &hook.id,
        app.base.rsplit(':').next().unwrap().parse().unwrap(),
        &hook.secret,
    )
    .await;
    assert!(again.registered && again.url == hook.url);

    // A payment at localstripe (the secret key the runner put: sk_test_local) ...
    let stripe = |path: &str, form: &[(&str, &str)]| {
        let form: Vec<String> = form.iter().map(|(k, v)| format!("{k}={v}")).collect();
        app.http
            .post(format!("{}{path}", hook.api_base))
            .basic_auth(local_runner::stripe::LOCAL_SECRET_KEY, Some(""))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form.join("&"))
    };
    let method: Value = stripe(
        "/v1/payment_methods",
        &[
            ("type", "card"),
            ("card[number]", "4242424242424242"),
            ("card[exp_month]", "12"),
            ("card[exp_year]", "2034"),
            ("card[cvc]", "123"),
        ],
    )
    .send()
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let intent: Value =
        stripe("/v1/payment_intents", &[("amount", "1999"), ("currency", "usd"), ("payment_method", method["id"].as_str().unwrap())])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    let intent_id = intent["id"].as_str().unwrap().to_owned();
    let confirmed: Value = stripe(&format!("/v1/payment_intents/{intent_id}/confirm"), &[]).send().await.unwrap().json().await.unwrap();
    assert_eq!(confirmed["status"], "succeeded", "{confirmed}");

    // ... is delivered to the webhook, which verifies it and records it (unknown to payments).
    let url = &app.cloud.environments["StripeWebhookFunction"]["DATABASE_URL"];
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(url).await.unwrap();
    let query = "SELECT outcome FROM webhook_events WHERE kind = 'payment_intent.succeeded' AND payload->'data'->'object'->>'id' = $1";
    // localstripe (through scripts/lib/stripe-standin.py) delivers each event to every
    // registered endpoint at once (every test cloud of the run registers one), each delivery
    // bounded by 10 s; under a full test run on 2 cores a delivery can still take a while.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let outcome: Option<Option<String>> = sqlx::query_scalar(query).bind(&intent_id).fetch_optional(&mut conn).await.unwrap();
        // Recorded first, marked with its outcome once handled.
        if let Some(Some(outcome)) = outcome {
            assert_eq!(outcome, "unknown_intent");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "localstripe's payment_intent.succeeded for {intent_id} never reached {}", hook.url);
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
