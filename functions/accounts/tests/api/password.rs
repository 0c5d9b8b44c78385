use serde_json::json;
use shop_testkit::Req;

use crate::helpers::{PASSWORD, app};

#[tokio::test]
async fn forgot_password_answers_the_same_whether_or_not_the_email_exists() {
    let app = app().await;
    let (email, ..) = app.new_user().await;
    app.messages().await; // the welcome email
    let known = app.send(Req::post("/api/auth/forgot-password").json(json!({"email": email}))).await.expect(200);
    let unknown = app.send(Req::post("/api/auth/forgot-password").json(json!({"email": crate::helpers::email()}))).await.expect(200);
    assert_eq!(known, unknown);
    let messages = app.messages().await;
    assert_eq!(messages.len(), 1, "only the existing account gets an email");
    assert_eq!(messages[0]["type"], "PasswordResetRequested");
    assert_eq!(messages[0]["data"]["token"].as_str().unwrap().len(), 64);
    assert_eq!(messages[0]["data"]["expiresInMinutes"], 60);
}

pub(crate) async fn reset_token(app: &crate::helpers::App, email: &str) -> String {
    app.messages().await;
    app.send(Req::post("/api/auth/forgot-password").json(json!({"email": email}))).await.expect(200);
    let messages = app.messages().await;
    messages.iter().find(|m| m["type"] == "PasswordResetRequested").unwrap()["data"]["token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_reset_sets_the_password_once_and_ends_every_session() {
    let app = app().await;
    let (email, access, refresh, _) = app.new_user().await;
    let token = reset_token(&app, &email).await;
    let new_password = "Brand-New-Pass-2";
    app.send(Req::post("/api/auth/reset-password").json(json!({"token": token, "newPassword": new_password}))).await.expect(200);
    // Single use.
    app.send(Req::post("/api/auth/reset-password").json(json!({"token": token, "newPassword": "Another-Pass-3"})))
        .await
        .expect_problem(400, "invalid_reset_token");
    // Old sessions are dead.
    app.refresh(&refresh).await.expect(401);
    app.send_as(&access, Req::get("/api/users/me")).await.expect(401);
    // Old password no longer works; the new one does.
    app.login(&email, PASSWORD).await.expect(401);
    app.login(&email, new_password).await.expect(200);
    let messages = app.messages().await;
    assert!(messages.iter().any(|m| m["type"] == "PasswordChanged"), "{messages:?}");
}

#[tokio::test]
async fn only_the_newest_reset_token_works() {
    let app = app().await;
    let (email, ..) = app.new_user().await;
    let first = reset_token(&app, &email).await;
    let second = reset_token(&app, &email).await;
    app.send(Req::post("/api/auth/reset-password").json(json!({"token": first, "newPassword": "Brand-New-Pass-2"}))).await.expect(400);
    app.send(Req::post("/api/auth/reset-password").json(json!({"token": second, "newPassword": "Brand-New-Pass-2"}))).await.expect(200);
}

#[tokio::test]
async fn an_expired_reset_token_is_refused() {
    let app = app().await;
    let (email, ..) = app.new_user().await;
    let user = app.state.store.user_by_email(&accounts::domain::Email::parse(&email).unwrap()).await.unwrap().unwrap();
    let token = "f".repeat(64);
    let record = accounts::domain::ResetRecord { user_id: user.id, expires_at: 1_000 };
    app.state.store.create_reset(&accounts::tokens::token_hash(&token), &record).await.unwrap();
    app.send(Req::post("/api/auth/reset-password").json(json!({"token": token, "newPassword": "Brand-New-Pass-2"})))
        .await
        .expect_problem(400, "invalid_reset_token");
}

#[tokio::test]
async fn the_reset_password_must_meet_the_policy() {
    let app = app().await;
    let resp = app.send(Req::post("/api/auth/reset-password").json(json!({"token": "abc", "newPassword": "weak"}))).await;
    assert_eq!(resp.expect_problem(422, "validation_failed")["errors"][0]["field"], "newPassword");
}

#[tokio::test]
async fn changing_the_password_needs_the_current_one_and_ends_other_sessions() {
    let app = app().await;
    let (email, access, refresh, _) = app.new_user().await;
    let other = app.login(&email, PASSWORD).await.expect(200);
    let wrong = app
        .send_as(
            &access,
            Req::post("/api/users/me/password").json(json!({"currentPassword": "Nope-Nope-1", "newPassword": "Brand-New-Pass-2"})),
        )
        .await;
    assert_eq!(wrong.expect_problem(422, "validation_failed")["errors"][0]["field"], "currentPassword");
    app.send_as(&access, Req::post("/api/users/me/password").json(json!({"currentPassword": PASSWORD, "newPassword": "Brand-New-Pass-2"})))
        .await
        .expect(200);
    // This session survives, the other one does not.
    app.refresh(&refresh).await.expect(200);
    app.refresh(other["refreshToken"].as_str().unwrap()).await.expect(401);
    app.login(&email, "Brand-New-Pass-2").await.expect(200);
}
