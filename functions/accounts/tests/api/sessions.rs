use serde_json::json;
use shop_testkit::Req;

use crate::helpers::{PASSWORD, app};

#[tokio::test]
async fn sessions_list_devices_and_one_can_be_ended() {
    let app = app().await;
    let (email, access, ..) = app.new_user().await;
    let phone = app
        .send(Req::post("/api/auth/login").header("user-agent", "SkyshopPhone/1.0").json(json!({"email": email, "password": PASSWORD})))
        .await
        .expect(200);
    let list = app.send_as(&access, Req::get("/api/users/me/sessions")).await.expect(200);
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list.iter().filter(|s| s["current"] == true).count(), 1);
    let phone_session = list.iter().find(|s| s["userAgent"] == "SkyshopPhone/1.0").expect("the phone session is listed");
    assert!(phone_session["createdAt"].is_string() && phone_session["lastUsedAt"].is_string());
    let id = phone_session["id"].as_str().unwrap();
    app.send_as(&access, Req::delete(&format!("/api/users/me/sessions/{id}"))).await.expect(204);
    app.refresh(phone["refreshToken"].as_str().unwrap()).await.expect(401);
}

#[tokio::test]
async fn another_users_session_is_404() {
    let app = app().await;
    let (_, alice, ..) = app.new_user().await;
    let (_, bob, ..) = app.new_user().await;
    let bobs = app.send_as(&bob, Req::get("/api/users/me/sessions")).await.expect(200);
    let id = bobs[0]["id"].as_str().unwrap();
    app.send_as(&alice, Req::delete(&format!("/api/users/me/sessions/{id}"))).await.expect_problem(404, "not_found");
    app.send_as(&alice, Req::delete("/api/users/me/sessions/not-a-uuid")).await.expect_problem(400, "invalid_parameter");
    // Bob's session is untouched.
    app.send_as(&bob, Req::get("/api/users/me")).await.expect(200);
}

#[tokio::test]
async fn the_profile_can_be_read_and_renamed() {
    let app = app().await;
    let (email, access, ..) = app.new_user().await;
    let me = app.send_as(&access, Req::get("/api/users/me")).await.expect(200);
    assert_eq!(me["email"], email);
    let renamed = app.send_as(&access, Req::patch("/api/users/me").json(json!({"firstName": "  Grace "}))).await.expect(200);
    assert_eq!(renamed["firstName"], "Grace");
    assert_eq!(renamed["lastName"], "Lovelace");
    let refused = app.send_as(&access, Req::patch("/api/users/me").json(json!({"email": "x@example.com"}))).await;
    assert_eq!(refused.expect_problem(422, "validation_failed")["errors"][0]["field"], "email");
}
