//! A dependency that accepts connections and never answers (a frozen DynamoDB): the request is
//! answered 503 problem+json with `Retry-After` inside the gateway's 10 s integration timeout —
//! never a hang, never a 500 (issue 15's finding: 12.0 s and no `Retry-After` before the request
//! deadline of `shop_core::http::finish`).

use std::time::{Duration, Instant};

use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::helpers::start;

/// Accepts every connection and reads forever without answering.
async fn black_hole() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut sink = vec![0u8; 4096];
                while tokio::io::AsyncReadExt::read(&mut socket, &mut sink).await.is_ok_and(|n| n > 0) {}
            });
        }
    });
    format!("http://{address}")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_frozen_dynamodb_is_a_503_with_retry_after_inside_the_integration_timeout() {
    let app = start(false).await;
    let frozen = black_hole().await;

    // The accounts function as deployed, its DynamoDB frozen (keys and queue as usual).
    let env = &app.cloud.environments["AccountsFunction"];
    let config = accounts::config::Config::from_lookup(&|name: &str| env.get(name).cloned()).unwrap();
    let keys = accounts::keys::KeyRing::load(accounts::keys::KeySource {
        client: aws_sdk_secretsmanager::Client::new(&app.cloud.sdk),
        secret_id: config.signing_keys_secret_id.clone(),
    })
    .await
    .unwrap();
    let dynamodb =
        aws_sdk_dynamodb::Client::from_conf(aws_sdk_dynamodb::config::Builder::from(&app.cloud.sdk).endpoint_url(&frozen).build());
    let publisher = shop_aws::events::Publisher::new(aws_sdk_sqs::Client::new(&app.cloud.sdk), &config.notifications_queue_url, "accounts");
    let router = accounts::router(accounts::AppState::new(accounts::store::Store::new(dynamodb, &config.table), publisher, keys, &config));

    let mut event = sam_model::apigw::HttpEvent::new("POST", "/api/auth/login");
    event.route_key = "POST /api/auth/login".into();
    event.headers.push(("content-type".into(), "application/json".into()));
    event.body = Some(json!({"email": "frozen@example.com", "password": "Correct-Horse-9"}).to_string().into_bytes());
    let request = shop_core::http::request_from_event(event.to_json()).unwrap();

    let started = Instant::now();
    let response = router.oneshot(request).await.unwrap();
    let waited = started.elapsed();
    assert!(waited < Duration::from_secs(10), "answered inside the gateway's 10 s: {waited:?}");
    assert_eq!(response.status(), 503);
    assert!(response.headers().contains_key("retry-after"), "{:?}", response.headers());
    assert_eq!(response.headers()["content-type"], "application/problem+json");
    let body: Value = serde_json::from_slice(&response.into_body().collect().await.unwrap().to_bytes()).unwrap();
    assert!(["deadline_exceeded", "service_unavailable"].contains(&body["code"].as_str().unwrap()), "{body}");
}
