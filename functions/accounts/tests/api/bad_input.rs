use serde_json::json;
use shop_testkit::Req;

use crate::helpers::{PASSWORD, app, email};

#[tokio::test]
async fn malformed_json_is_400() {
    let app = app().await;
    let resp = app.send(Req::post("/api/auth/register").raw_body("application/json", b"{\"email\": ".to_vec())).await;
    resp.expect_problem(400, "malformed_json");
}

#[tokio::test]
async fn wrong_types_missing_and_unknown_fields_name_the_field() {
    let app = app().await;
    let wrong =
        app.send(Req::post("/api/auth/register").json(json!({"email": 5, "password": PASSWORD, "firstName": "A", "lastName": "B"}))).await;
    assert_eq!(wrong.expect_problem(422, "validation_failed")["errors"][0]["field"], "email");
    let missing = app.send(Req::post("/api/auth/register").json(json!({"email": email(), "password": PASSWORD, "firstName": "A"}))).await;
    let body = missing.expect_problem(422, "validation_failed");
    assert_eq!(body["errors"][0]["field"], "lastName");
    assert_eq!(body["errors"][0]["code"], "required");
    let unknown = app
        .send(
            Req::post("/api/auth/register")
                .json(json!({"email": email(), "password": PASSWORD, "firstName": "A", "lastName": "B", "role": "ADMIN"})),
        )
        .await;
    let body = unknown.expect_problem(422, "validation_failed");
    assert_eq!(body["errors"][0]["field"], "role");
    assert_eq!(body["errors"][0]["code"], "unknown_field");
}

#[tokio::test]
async fn rule_violations_list_every_field() {
    let app = app().await;
    let resp = app
        .send(
            Req::post("/api/auth/register").json(json!({"email": "not-an-email", "password": "short", "firstName": " ", "lastName": "B"})),
        )
        .await;
    let body = resp.expect_problem(422, "validation_failed");
    let fields: Vec<&str> = body["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    for field in ["email", "password", "firstName"] {
        assert!(fields.contains(&field), "{field} missing in {fields:?}");
    }
}

#[tokio::test]
async fn the_password_policy_is_enforced_on_the_server() {
    let app = app().await;
    for weak in ["alllowercase1", "ALLUPPERCASE1", "NoDigitsOrSymbols", "Sh0rt!"] {
        let resp = app
            .send(Req::post("/api/auth/register").json(json!({"email": email(), "password": weak, "firstName": "A", "lastName": "B"})))
            .await;
        assert_eq!(resp.expect_problem(422, "validation_failed")["errors"][0]["field"], "password", "{weak}");
    }
}

#[tokio::test]
async fn a_body_that_is_not_json_is_415_and_an_oversized_body_is_413() {
    let app = app().await;
    app.send(Req::post("/api/auth/login").raw_body("text/plain", b"hello".to_vec())).await.expect_problem(415, "unsupported_media_type");
    let big = format!("{{\"email\": \"{}\", \"password\": \"x\"}}", "a".repeat(1024 * 1024 + 10));
    app.send(Req::post("/api/auth/login").raw_body("application/json", big.into_bytes())).await.expect_problem(413, "payload_too_large");
}

#[tokio::test]
async fn unknown_routes_and_methods_are_problems_too() {
    let app = app().await;
    app.send(Req::get("/api/auth/nope")).await.expect_problem(404, "route_not_found");
    app.send(Req::delete("/api/auth/login")).await.expect_problem(405, "method_not_allowed");
}

#[tokio::test]
async fn a_failed_registration_writes_nothing() {
    let app = app().await;
    let email = email();
    app.send(Req::post("/api/auth/register").json(json!({"email": email, "password": "weak", "firstName": "A", "lastName": "B"})))
        .await
        .expect(422);
    assert!(app.state.store.user_by_email(&accounts::domain::Email::parse(&email).unwrap()).await.unwrap().is_none());
    assert!(app.messages().await.is_empty(), "no welcome email for a failed registration");
}
