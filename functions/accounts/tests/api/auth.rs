use futures::future::join_all;
use serde_json::json;
use shop_testkit::Req;

use crate::helpers::{AUDIENCE, ISSUER, PASSWORD, app, email};

#[tokio::test]
async fn registering_returns_201_with_tokens_and_the_user() {
    let app = app().await;
    let email = email();
    let body = app.register(&email).await;
    assert_eq!(body["user"]["email"], email);
    assert_eq!(body["user"]["role"], "CUSTOMER");
    assert_eq!(body["user"]["firstName"], "Ada");
    assert!(body["user"]["createdAt"].is_string());
    assert!(body["user"].get("passwordHash").is_none(), "the hash never leaves the service");
    assert_eq!(body["tokenType"], "Bearer");
    assert_eq!(body["expiresIn"], 900);
    // The access token verifies with the published key and carries the documented claims.
    let claims = app.authorizer.authorize(Some(&format!("Bearer {}", body["accessToken"].as_str().unwrap())), &[]).unwrap();
    assert_eq!(claims.claims["iss"], ISSUER);
    assert_eq!(claims.claims["aud"], AUDIENCE);
    assert_eq!(claims.claims["sub"], body["user"]["id"].as_str().unwrap());
    assert_eq!(claims.claims["role"], "CUSTOMER");
    assert_eq!(claims.claims["scope"], "customer");
    let exp: i64 = claims.claims["exp"].parse().unwrap();
    let iat: i64 = claims.claims["iat"].parse().unwrap();
    assert_eq!(exp - iat, 900, "access tokens live 15 minutes");
    // A welcome email was requested.
    let messages = app.messages().await;
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0]["type"], "UserRegistered");
    assert_eq!(messages[0]["data"]["email"], email);
}

#[tokio::test]
async fn emails_are_normalised_and_unique_case_insensitively() {
    let app = app().await;
    let email = email();
    let upper = format!("  {}  ", email.to_uppercase());
    let body = app
        .send(Req::post("/api/auth/register").json(json!({"email": upper, "password": PASSWORD, "firstName": "A", "lastName": "B"})))
        .await
        .expect(201);
    assert_eq!(body["user"]["email"], email);
    let dup = app
        .send(Req::post("/api/auth/register").json(json!({"email": email, "password": PASSWORD, "firstName": "A", "lastName": "B"})))
        .await;
    let problem = dup.expect_problem(409, "email_taken");
    assert_eq!(problem["errors"][0]["field"], "email");
    // Login works with any casing.
    app.login(&email.to_uppercase(), PASSWORD).await.expect(200);
}

#[tokio::test]
async fn concurrent_registrations_of_one_email_create_exactly_one_account() {
    let app = app().await;
    let email = email();
    let attempts = (0..8).map(|_| {
        app.send(Req::post("/api/auth/register").json(json!({"email": email, "password": PASSWORD, "firstName": "A", "lastName": "B"})))
    });
    let statuses: Vec<u16> = join_all(attempts).await.iter().map(|r| r.status.as_u16()).collect();
    assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 409).count(), 7, "{statuses:?}");
}

#[tokio::test]
async fn login_answers_one_generic_401_for_unknown_email_and_wrong_password() {
    let app = app().await;
    let (email, ..) = app.new_user().await;
    let wrong = app.login(&email, "Wrong-Password-1").await.expect_problem(401, "invalid_credentials");
    let unknown = app.login(&crate::helpers::email(), PASSWORD).await.expect_problem(401, "invalid_credentials");
    assert_eq!(wrong["detail"], unknown["detail"]);
    let ok = app.login(&email, PASSWORD).await.expect(200);
    assert_eq!(ok["user"]["email"], email);
}

#[tokio::test]
async fn repeated_failed_logins_lock_the_account_with_retry_after() {
    let app = app().await;
    let (email, ..) = app.new_user().await;
    for _ in 0..accounts::routes::auth::ACCOUNT_FAILURE_LIMIT {
        app.login(&email, "Wrong-Password-1").await.expect(401);
    }
    // Locked now — even with the right password.
    let locked = app.login(&email, PASSWORD).await;
    locked.expect_problem(429, "too_many_attempts");
    let retry: u64 = locked.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=900).contains(&retry), "{retry}");
}

#[tokio::test]
async fn many_failures_from_one_address_are_limited_across_accounts() {
    let app = app().await;
    let ip = "203.0.113.77";
    for i in 0..accounts::routes::auth::IP_FAILURE_LIMIT {
        let email = format!("nobody{i}-{}@example.com", shop_testkit::unique("x"));
        app.send(Req::post("/api/auth/login").source_ip(ip).json(json!({"email": email, "password": "x"}))).await.expect(401);
    }
    let (email, ..) = app.new_user().await;
    app.send(Req::post("/api/auth/login").source_ip(ip).json(json!({"email": email, "password": PASSWORD})))
        .await
        .expect_problem(429, "too_many_attempts");
    // Another address is not affected.
    app.send(Req::post("/api/auth/login").source_ip("198.51.100.1").json(json!({"email": email, "password": PASSWORD}))).await.expect(200);
}

#[tokio::test]
async fn refresh_rotates_and_a_reused_token_revokes_the_whole_family() {
    let app = app().await;
    let (_, _, first, _) = app.new_user().await;
    let second = app.refresh(&first).await.expect(200);
    let second_token = second["refreshToken"].as_str().unwrap().to_owned();
    assert_ne!(second_token, first, "every refresh issues a new token");
    assert!(second["accessToken"].is_string());
    // The spent token comes back: reuse detected, family revoked.
    app.refresh(&first).await.expect_problem(401, "refresh_token_reused");
    // So the newest token of the family is dead too.
    app.refresh(&second_token).await.expect_problem(401, "invalid_refresh_token");
    // And the session's access token no longer works on accounts routes.
    let access = second["accessToken"].as_str().unwrap();
    app.send_as(access, Req::get("/api/users/me")).await.expect_problem(401, "session_revoked");
}

#[tokio::test]
async fn concurrent_refreshes_with_one_token_never_yield_two_live_tokens() {
    let app = app().await;
    let (_, _, token, _) = app.new_user().await;
    let results = join_all((0..5).map(|_| app.refresh(&token))).await;
    let winners: Vec<String> =
        results.iter().filter(|r| r.status == 200).map(|r| r.json()["refreshToken"].as_str().unwrap().to_owned()).collect();
    assert!(winners.len() <= 1, "at most one refresh may win: {}", winners.len());
    for w in winners {
        // Any winner was issued in a family that saw reuse, so it is revoked.
        app.refresh(&w).await.expect(401);
    }
}

#[tokio::test]
async fn unknown_refresh_tokens_are_401() {
    let app = app().await;
    app.refresh("not-a-token").await.expect_problem(401, "invalid_refresh_token");
}

#[tokio::test]
async fn logout_ends_the_session_and_answers_the_same_for_unknown_tokens() {
    let app = app().await;
    let (_, access, refresh, _) = app.new_user().await;
    app.send(Req::post("/api/auth/logout").json(json!({"refreshToken": refresh}))).await.expect(200);
    app.refresh(&refresh).await.expect(401);
    app.send_as(&access, Req::get("/api/auth/profile")).await.expect(401);
    let unknown = app.send(Req::post("/api/auth/logout").json(json!({"refreshToken": "whatever"}))).await.expect(200);
    assert_eq!(unknown["message"], "Logged out successfully");
}

#[tokio::test]
async fn logout_all_ends_every_session() {
    let app = app().await;
    let (email, access, refresh, _) = app.new_user().await;
    let other = app.login(&email, PASSWORD).await.expect(200);
    app.send_as(&access, Req::post("/api/auth/logout-all")).await.expect(200);
    app.refresh(&refresh).await.expect(401);
    app.refresh(other["refreshToken"].as_str().unwrap()).await.expect(401);
}

#[tokio::test]
async fn profile_requires_a_token_and_returns_the_user() {
    let app = app().await;
    let (email, access, ..) = app.new_user().await;
    let profile = app.send_as(&access, Req::get("/api/auth/profile")).await.expect(200);
    assert_eq!(profile["email"], email);
    let missing = app.send(Req::get("/api/auth/profile")).await;
    missing.expect_problem(401, "unauthenticated");
    assert!(missing.header("www-authenticate").is_some());
}

#[tokio::test]
async fn the_jwks_and_openid_configuration_publish_the_signing_key() {
    let app = app().await;
    let jwks = app.send(Req::get("/.well-known/jwks.json")).await.expect(200);
    assert_eq!(jwks["keys"][0]["kid"], "test-1");
    assert_eq!(jwks["keys"][0]["kty"], "RSA");
    assert!(jwks["keys"][0].get("d").is_none());
    let oidc = app.send(Req::get("/.well-known/openid-configuration")).await.expect(200);
    assert_eq!(oidc["issuer"], ISSUER);
    assert_eq!(oidc["jwks_uri"], format!("{ISSUER}/.well-known/jwks.json"));
}

#[tokio::test]
async fn the_authorizer_rejects_tampered_unsigned_and_foreign_tokens() {
    use base64::Engine;
    let app = app().await;
    let (_, access, ..) = app.new_user().await;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let parts: Vec<&str> = access.split('.').collect();
    // Tampered payload: role raised to ADMIN, signature kept.
    let mut payload: serde_json::Value = serde_json::from_slice(&b64.decode(parts[1]).unwrap()).unwrap();
    payload["role"] = json!("ADMIN");
    payload["scope"] = json!("admin");
    let tampered = format!("{}.{}.{}", parts[0], b64.encode(payload.to_string()), parts[2]);
    let denial = app.authorizer.authorize(Some(&format!("Bearer {tampered}")), &[]).unwrap_err();
    assert_eq!(denial.status, 401);
    assert!(denial.www_authenticate.starts_with("Bearer"));
    // alg: none.
    let none = format!("{}.{}.", b64.encode(r#"{"alg":"none","typ":"JWT"}"#), b64.encode(payload.to_string()));
    assert_eq!(app.authorizer.authorize(Some(&format!("Bearer {none}")), &[]).unwrap_err().status, 401);
    // Missing.
    assert_eq!(app.authorizer.authorize(None, &[]).unwrap_err().status, 401);
    // Customer token on an admin-scoped route: 403.
    let forbidden = app.authorizer.authorize(Some(&format!("Bearer {access}")), &["admin".to_owned()]).unwrap_err();
    assert_eq!(forbidden.status, 403);
    assert!(forbidden.www_authenticate.contains("insufficient_scope"));
    // Expired.
    let keys = accounts::keys::SigningKeys::from_document(crate::helpers::key_document()).unwrap();
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = Some(keys.active_kid().into());
    let expired = jsonwebtoken::encode(
        &header,
        &json!({"iss": ISSUER, "aud": AUDIENCE, "sub": "x", "exp": 1_000_000, "nbf": 0}),
        keys.encoding_key(),
    )
    .unwrap();
    let denial = app.authorizer.authorize(Some(&format!("Bearer {expired}")), &[]).unwrap_err();
    assert!(denial.www_authenticate.contains("expired"), "{denial:?}");
}
