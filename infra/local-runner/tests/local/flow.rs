use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::helpers::start;

/// The README's curl walk-through, through the local runner over HTTP.
#[tokio::test]
async fn the_readme_flow_works_end_to_end() {
    let app = start(true).await;
    let email = format!("{}@example.com", shop_testkit::unique("flow"));
    let password = "Correct-Horse-9";

    let registered = app
        .call(
            "POST",
            "/api/auth/register",
            None,
            Some(json!({"email": email, "password": password, "firstName": "Ada", "lastName": "Lovelace"})),
        )
        .await;
    assert_eq!(registered.status, 201, "{}", registered.body);

    let login = app.login(&email, password).await;
    let first_refresh = login["refreshToken"].as_str().unwrap().to_owned();

    let rotated = app.call("POST", "/api/auth/refresh", None, Some(json!({"refreshToken": first_refresh}))).await;
    assert_eq!(rotated.status, 200, "{}", rotated.body);
    assert_ne!(rotated.body["refreshToken"], first_refresh);

    let reused = app.call("POST", "/api/auth/refresh", None, Some(json!({"refreshToken": first_refresh}))).await;
    assert_eq!(reused.status, 401);
    assert_eq!(reused.body["code"], "refresh_token_reused");

    let session = app.login(&email, password).await;
    let access = session["accessToken"].as_str().unwrap().to_owned();
    let refresh = session["refreshToken"].as_str().unwrap().to_owned();
    assert_eq!(app.call("GET", "/api/users/me", Some(&access), None).await.status, 200);

    let forgot = app.call("POST", "/api/auth/forgot-password", None, Some(json!({"email": email}))).await;
    assert_eq!(forgot.status, 200);

    // The notifications function consumes the queue and sends through the SES stand-in.
    let mail = wait_for_mail(&app, &email, "Reset Your Password").await;
    let text = mail["html"].as_str().unwrap();
    let token = text.split("token=").nth(1).unwrap().chars().take_while(|c| c.is_ascii_hexdigit()).collect::<String>();
    assert_eq!(token.len(), 64, "{text}");
    assert!(mail["subject"].as_str().unwrap().contains("Reset"));
    // The text part is shown too (moto keeps only the HTML one; the runner keeps the text).
    let plain = mail["text"].as_str().unwrap_or_else(|| panic!("no text part: {mail}"));
    assert!(plain.contains(&token) && !plain.contains("<html"), "{plain}");

    let reset = app.call("POST", "/api/auth/reset-password", None, Some(json!({"token": token, "newPassword": "Brand-New-Pass-2"}))).await;
    assert_eq!(reset.status, 200, "{}", reset.body);

    // Old sessions are dead.
    assert_eq!(app.call("POST", "/api/auth/refresh", None, Some(json!({"refreshToken": refresh}))).await.status, 401);
    let me = app.call("GET", "/api/users/me", Some(&access), None).await;
    assert_eq!(me.status, 401);
    assert_eq!(me.body["code"], "session_revoked");
    app.login(&email, "Brand-New-Pass-2").await;

    // The admin lists users and finds the new one.
    let admin = app.admin_token().await;
    let listed = app.call("GET", &format!("/api/users?q={email}"), Some(&admin), None).await;
    assert_eq!(listed.status, 200, "{}", listed.body);
    assert_eq!(listed.body["meta"]["total"], 1);
    assert_eq!(listed.body["data"][0]["email"], email);

    // The welcome and password-changed emails went out too.
    wait_for_mail(&app, &email, "Welcome").await;
    wait_for_mail(&app, &email, "Password Has Been Changed").await;
}

async fn wait_for_mail(app: &crate::helpers::Running, to: &str, subject: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let list = app.call("GET", "/_local/mail", None, None).await;
        assert_eq!(list.status, 200, "{}", list.body);
        if let Some(mail) = list.body.as_array().unwrap().iter().find(|m| {
            m["to"].as_array().is_some_and(|t| t.iter().any(|a| a == to)) && m["subject"].as_str().is_some_and(|s| s.contains(subject))
        }) {
            return mail.clone();
        }
        assert!(Instant::now() < deadline, "no mail '{subject}' to {to} within 30 s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
