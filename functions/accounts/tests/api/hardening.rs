//! What an attacker with a stolen password, a demoted admin or a guessing script must not get
//! (the security-hardening findings on sessions, roles and brute force).

use serde_json::json;
use shop_testkit::Req;

use crate::helpers::{PASSWORD, app};
use crate::password::reset_token;

const NEW_PASSWORD: &str = "Brand-New-Pass-2";

/// A login that verified the old password while a reset was under way must not leave a session
/// that outlives the reset (the session is created only if the password it checked is still the
/// account's). Several rounds, each racing logins against one reset.
#[tokio::test]
async fn no_session_made_with_the_old_password_survives_a_reset() {
    let app = app().await;
    let mut survivors = Vec::new();
    for _ in 0..4 {
        let (email, ..) = app.new_user().await;
        let token = reset_token(&app, &email).await;
        let logins = futures::future::join_all((0..5).map(|_| app.login(&email, PASSWORD)));
        let reset = app.send(Req::post("/api/auth/reset-password").json(json!({"token": token, "newPassword": NEW_PASSWORD})));
        let (logins, reset) = tokio::join!(logins, reset);
        reset.expect(200);
        for login in logins.into_iter().filter(|l| l.status == 200) {
            let body = login.expect(200);
            let refreshed = app.refresh(body["refreshToken"].as_str().unwrap()).await;
            let me = app.send_as(body["accessToken"].as_str().unwrap(), Req::get("/api/users/me")).await;
            if refreshed.status != 401 || me.status != 401 {
                survivors.push((refreshed.status, me.status));
            }
        }
    }
    assert!(survivors.is_empty(), "old-password sessions alive after a reset (refresh, /me): {survivors:?}");
}

/// Changing the password ends every other session at once, and logout-all ends all of them,
/// without deleting them one by one on the request path.
#[tokio::test]
async fn a_password_change_and_logout_all_end_sessions_by_epoch() {
    let app = app().await;
    let (email, access, ..) = app.new_user().await;
    let other = app.login(&email, PASSWORD).await.expect(200);
    app.send_as(&access, Req::post("/api/users/me/password").json(json!({"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD})))
        .await
        .expect(200);
    app.refresh(other["refreshToken"].as_str().unwrap()).await.expect(401);
    app.send_as(other["accessToken"].as_str().unwrap(), Req::get("/api/users/me")).await.expect(401);

    let fresh = app.login(&email, NEW_PASSWORD).await.expect(200);
    let second = app.login(&email, NEW_PASSWORD).await.expect(200);
    app.send_as(fresh["accessToken"].as_str().unwrap(), Req::post("/api/auth/logout-all")).await.expect(200);
    for session in [&fresh, &second] {
        app.refresh(session["refreshToken"].as_str().unwrap()).await.expect(401);
    }
    app.login(&email, NEW_PASSWORD).await.expect(200);
}

/// Sessions per user are capped: the oldest is evicted, so a stolen password cannot pile up
/// thousands of sessions.
#[tokio::test]
async fn sessions_per_user_are_capped_and_the_oldest_is_evicted() {
    let app = app().await;
    let (email, access, first_refresh, _) = app.new_user().await;
    let cap = accounts::domain::MAX_SESSIONS;
    for _ in 0..cap {
        app.login(&email, PASSWORD).await.expect(200);
    }
    let listed = app.send_as(&access, Req::get("/api/users/me/sessions")).await;
    // The registration's session was the oldest: evicted, its tokens dead.
    listed.expect(401);
    app.refresh(&first_refresh).await.expect(401);
    let last = app.login(&email, PASSWORD).await.expect(200);
    let sessions = app.send_as(last["accessToken"].as_str().unwrap(), Req::get("/api/users/me/sessions")).await.expect(200);
    assert_eq!(sessions.as_array().unwrap().len(), cap, "{sessions}");
}

/// A demoted admin's token still carries `role: ADMIN` for up to 15 minutes; accounts refuses it
/// at once (role claim ≠ stored role) and the role change ends the user's sessions.
#[tokio::test]
async fn a_demoted_admin_loses_admin_power_at_once() {
    let app = app().await;
    let (root, _) = app.admin().await;
    let (demoted, demoted_id) = app.admin().await;
    let (_, _, _, puppet_id) = app.new_user().await;
    app.send_as(&root, Req::patch(&format!("/api/users/{demoted_id}")).json(json!({"role": "CUSTOMER"}))).await.expect(200);
    let promote = app.send_as(&demoted, Req::patch(&format!("/api/users/{puppet_id}")).json(json!({"role": "ADMIN"}))).await;
    assert!(matches!(promote.status.as_u16(), 401 | 403), "a demoted admin promoted someone: {}", promote.status);
    let list = app.send_as(&demoted, Req::get("/api/users")).await;
    assert!(matches!(list.status.as_u16(), 401 | 403), "a demoted admin listed users: {}", list.status);
    let puppet = app.send_as(&root, Req::get(&format!("/api/users?q={puppet_id}"))).await.expect(200);
    assert!(puppet["data"].as_array().unwrap().iter().all(|u| u["role"] != "ADMIN"), "{puppet}");
}

/// The per-account limit counts first and decides after, so concurrent wrong guesses cannot all
/// pass the check before any failure is recorded.
#[tokio::test]
async fn concurrent_wrong_guesses_get_at_most_the_limit_of_answers() {
    let app = app().await;
    let (email, ..) = app.new_user().await;
    let wrong: Vec<String> = (0..20).map(|i| format!("Wrong-Password-{i}")).collect();
    let guesses = futures::future::join_all(wrong.iter().map(|password| app.login(&email, password))).await;
    let answered = guesses.iter().filter(|g| g.status == 401).count();
    let throttled = guesses.iter().filter(|g| g.status == 429).count();
    assert_eq!(answered + throttled, 20, "{:?}", guesses.iter().map(|g| g.status).collect::<Vec<_>>());
    assert!(answered <= accounts::routes::auth::ACCOUNT_FAILURE_LIMIT as usize, "{answered} guesses were checked");
}

/// IPv6 clients are limited per /64: a script rotating through its own /64 is one client.
#[tokio::test]
async fn ipv6_failures_are_counted_per_64_prefix() {
    let app = app().await;
    for i in 0..accounts::routes::auth::IP_FAILURE_LIMIT {
        let email = format!("nobody{i}-{}@example.com", shop_testkit::unique("x"));
        let ip = format!("2001:db8:1:2::{:x}", i + 1);
        app.send(Req::post("/api/auth/login").source_ip(&ip).json(json!({"email": email, "password": "x"}))).await.expect(401);
    }
    let (email, ..) = app.new_user().await;
    app.send(Req::post("/api/auth/login").source_ip("2001:db8:1:2:ffff::9").json(json!({"email": email, "password": PASSWORD})))
        .await
        .expect_problem(429, "too_many_attempts");
    app.send(Req::post("/api/auth/login").source_ip("2001:db8:1:3::1").json(json!({"email": email, "password": PASSWORD})))
        .await
        .expect(200);
}

/// `forgot-password` answers no sooner for an unknown address than for a known one: both take at
/// least the same floor, and the known path's work fits under it.
#[tokio::test]
async fn forgot_password_takes_the_same_floor_whether_or_not_the_email_exists() {
    let app = app().await;
    let (email, ..) = app.new_user().await;
    for address in [email.clone(), crate::helpers::email()] {
        let started = std::time::Instant::now();
        app.send(Req::post("/api/auth/forgot-password").json(json!({"email": address}))).await.expect(200);
        assert!(started.elapsed() >= accounts::routes::auth::FORGOT_FLOOR, "{address} answered early");
    }
}
