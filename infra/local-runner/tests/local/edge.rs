use serde_json::json;

use crate::helpers::start;

#[tokio::test]
async fn the_edge_answers_like_api_gateway() {
    let app = start(false).await;
    // No route.
    let none = app.call("GET", "/api/nothing-here", None, None).await;
    assert_eq!((none.status, none.body.clone()), (404, json!({"message": "Not Found"})));
    // Missing token on a JWT route.
    let missing = app.call("GET", "/api/users/me", None, None).await;
    assert_eq!((missing.status, missing.body.clone()), (401, json!({"message": "Unauthorized"})));
    assert!(missing.headers.get("www-authenticate").unwrap().to_str().unwrap().starts_with("Bearer"));
    // Garbage and alg:none tokens.
    assert_eq!(app.call("GET", "/api/users/me", Some("garbage"), None).await.status, 401);
    let none_alg = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJ4Iiwicm9sZSI6IkFETUlOIiwic2NvcGUiOiJhZG1pbiJ9.";
    assert_eq!(app.call("GET", "/api/users", Some(none_alg), None).await.status, 401);
    // A customer on an admin-scoped route: 403 at the edge.
    let email = format!("{}@example.com", shop_testkit::unique("edge"));
    let reg = app
        .call(
            "POST",
            "/api/auth/register",
            None,
            Some(json!({"email": email, "password": "Correct-Horse-9", "firstName": "A", "lastName": "B"})),
        )
        .await;
    let customer = reg.body["accessToken"].as_str().unwrap();
    let forbidden = app.call("GET", "/api/users", Some(customer), None).await;
    assert_eq!((forbidden.status, forbidden.body.clone()), (403, json!({"message": "Forbidden"})));
    assert!(forbidden.headers.get("www-authenticate").unwrap().to_str().unwrap().contains("insufficient_scope"));
    // The admin passes.
    let admin = app.admin_token().await;
    assert_eq!(app.call("GET", "/api/users", Some(&admin), None).await.status, 200);
}

#[tokio::test]
async fn local_health_is_200_when_every_stand_in_answers_and_503_naming_what_is_down() {
    let app = start(false).await;
    let health = app.call("GET", "/_local/health", None, None).await;
    assert_eq!(health.status, 200, "{}", health.body);
    assert_eq!(health.body["status"], "ok");
    let mut probes = app.cloud.gateway.probes.clone().unwrap();
    probes.redis = "127.0.0.1:1".into();
    let (ok, body) = probes.check().await;
    assert!(!ok);
    assert_eq!(body["down"], json!(["redis"]));
}

#[tokio::test]
async fn docs_and_the_openapi_document_are_served() {
    let app = start(false).await;
    let doc = app.call("GET", "/api/openapi.json", None, None).await;
    assert_eq!(doc.status, 200);
    assert_eq!(doc.body["openapi"], "3.1.0");
    assert!(doc.body["paths"]["/api/auth/register"]["post"].is_object());
    let page = app.http.get(format!("{}/api/docs", app.base)).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("/api/openapi.json"));
}

/// API Gateway's JWT authorizer takes the bare token as well as `Bearer <token>`, and the HttpApi
/// answers CORS preflights itself from the template's `CorsConfiguration`.
#[tokio::test]
async fn bare_tokens_pass_and_cors_preflights_come_from_the_template() {
    let app = start(false).await;
    let admin = app.admin_token().await;
    let bare = app.call_with("GET", "/api/users", None, &[("authorization", &admin)], None).await;
    assert_eq!(bare.status, 200, "{}", bare.body);

    let frontend = "http://localhost:3000";
    let preflight = app
        .http
        .request(reqwest::Method::OPTIONS, format!("{}/api/cart/items", app.base))
        .header("origin", frontend)
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type,x-cart-token")
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status().as_u16(), 204);
    let header = |name: &str| preflight.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    assert_eq!(header("access-control-allow-origin"), frontend);
    assert!(header("access-control-allow-methods").contains("POST"), "{}", header("access-control-allow-methods"));
    assert!(header("access-control-allow-headers").contains("x-cart-token"));
    assert_eq!(header("access-control-max-age"), "600");
    // Another origin gets no permission; a real request from the frontend carries it.
    let stranger = app
        .http
        .request(reqwest::Method::OPTIONS, format!("{}/api/cart/items", app.base))
        .header("origin", "https://evil.example")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert!(stranger.headers().get("access-control-allow-origin").is_none());
    let listed = app.call_with("GET", "/api/categories", None, &[("origin", frontend)], None).await;
    assert_eq!(listed.headers.get("access-control-allow-origin").and_then(|v| v.to_str().ok()), Some(frontend));
}
