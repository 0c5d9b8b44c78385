//! The edge's per-IP rate rules (template.yaml's EdgeWebAcl), emulated by the runner in front of
//! the gateway. The clients are distinct loopback addresses (127.0.0.x): the runner counts per
//! TCP peer. The rules run scaled down (`waf_scale`): the same rate, a window of seconds.

use std::time::Duration;

use serde_json::json;

use crate::helpers::start_with;

const A: [u8; 4] = [127, 0, 0, 2];
const B: [u8; 4] = [127, 0, 0, 3];

#[tokio::test]
async fn one_client_over_the_auth_limit_is_blocked_while_another_is_not() {
    // 0.02 × (100 requests per 300 s) = 2 requests per 6 s on /api/auth/*.
    let app = start_with(false, Some(0.02)).await;
    let rules = app.cloud.gateway.waf.rules();
    let auth = rules.iter().find(|r| r.name == "auth-per-ip").expect("the template's auth-per-ip rule is emulated");
    assert_eq!((auth.name.as_str(), auth.limit, auth.window), ("auth-per-ip", 2, Duration::from_secs(6)));
    let junk = || Some(json!({"refreshToken": "junk"}));

    for _ in 0..2 {
        let r = app.call_from(A, "POST", "/api/auth/refresh", junk()).await;
        assert_eq!(r.status, 401, "the function answers: {}", r.body);
    }
    let blocked = app.call_from(A, "POST", "/api/auth/refresh", junk()).await;
    assert_eq!((blocked.status, blocked.body.clone()), (429, json!({"message": "Too Many Requests"})), "the template's custom response");
    assert_eq!(blocked.headers["retry-after"], "60");
    // Login is on the same rule: A is blocked there too, before any password is hashed.
    let login = app.call_from(A, "POST", "/api/auth/login", Some(json!({"email": "a@example.com", "password": "x"}))).await;
    assert_eq!(login.status, 429);

    // Another client is not affected, and A's other requests are under the looser rule.
    let other = app.call_from(B, "POST", "/api/auth/refresh", junk()).await;
    assert_eq!(other.status, 401, "{}", other.body);
    assert_eq!(app.call_from(A, "GET", "/api/categories", None).await.status, 200);

    // Once a (scaled) window without requests has passed, A is let in again.
    tokio::time::sleep(Duration::from_millis(6_500)).await;
    assert_eq!(app.call_from(A, "POST", "/api/auth/refresh", junk()).await.status, 401);
}

#[tokio::test]
async fn the_stripe_webhook_is_exempt_from_the_per_ip_limit() {
    // 0.05 × (2,000 requests per 300 s) = 100 requests per 15 s on every other path.
    let app = start_with(false, Some(0.05)).await;
    let rules = app.cloud.gateway.waf.rules();
    let api = rules.iter().find(|r| r.name == "api-per-ip").expect("the template's api-per-ip rule is emulated");
    assert_eq!((api.name.as_str(), api.limit, api.window), ("api-per-ip", 100, Duration::from_secs(15)));

    // Stripe may deliver in bursts from one address: never limited (these carry no signature,
    // so the webhook function itself refuses each one: never the WAF's 429).
    for i in 0..120 {
        let r = app.call_from(A, "POST", "/api/payments/webhook", Some(json!({"id": format!("evt_{i}")}))).await;
        assert_eq!((r.status, r.body["code"].clone()), (400, json!("signature_missing")), "webhook delivery {i}");
    }
    // The same burst anywhere else is cut at the limit.
    let mut statuses = Vec::new();
    for _ in 0..120 {
        statuses.push(app.call_from(B, "GET", "/api/nothing-here", None).await.status);
    }
    assert!(statuses[..100].iter().all(|s| *s == 404), "{statuses:?}");
    assert!(statuses[100..].iter().all(|s| *s == 429), "{statuses:?}");
    // The webhook's requests counted for nothing: A still has its whole allowance elsewhere.
    assert_eq!(app.call_from(A, "GET", "/api/categories", None).await.status, 200);
}
