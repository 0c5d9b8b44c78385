use serde_json::json;
use shop_testkit::Req;

use crate::helpers::{PASSWORD, app};

#[tokio::test]
async fn only_admins_list_users_with_search_and_pagination() {
    let app = app().await;
    let (_, customer, ..) = app.new_user().await;
    let (admin, _) = app.admin().await;
    for _ in 0..3 {
        app.new_user().await;
    }
    app.send_as(&customer, Req::get("/api/users")).await.expect_problem(403, "forbidden");
    let page = app.send_as(&admin, Req::get("/api/users?limit=2&page=1")).await.expect(200);
    assert_eq!(page["data"].as_array().unwrap().len(), 2);
    assert_eq!(page["meta"]["total"], 5);
    assert_eq!(page["meta"]["totalPages"], 3);
    assert_eq!(page["meta"]["limit"], 2);
    let admins = app.send_as(&admin, Req::get("/api/users?role=ADMIN")).await.expect(200);
    assert_eq!(admins["meta"]["total"], 1);
    let found = app.send_as(&admin, Req::get("/api/users?q=LOVELACE")).await.expect(200);
    assert_eq!(found["meta"]["total"], 4, "the four customers are named Lovelace");
    app.send_as(&admin, Req::get("/api/users?limit=101")).await.expect_problem(400, "invalid_parameter");
    app.send_as(&admin, Req::get("/api/users?page=zero")).await.expect_problem(400, "invalid_parameter");
    app.send_as(&admin, Req::get("/api/users?sort=name")).await.expect_problem(400, "invalid_parameter");
}

#[tokio::test]
async fn a_deactivated_user_can_neither_log_in_nor_refresh() {
    let app = app().await;
    let (admin, _) = app.admin().await;
    let (email, access, refresh, id) = app.new_user().await;
    let updated = app.send_as(&admin, Req::patch(&format!("/api/users/{id}")).json(json!({"isActive": false}))).await.expect(200);
    assert_eq!(updated["isActive"], false);
    app.login(&email, PASSWORD).await.expect_problem(401, "invalid_credentials");
    app.refresh(&refresh).await.expect(401);
    app.send_as(&access, Req::get("/api/users/me")).await.expect(401);
    // Reactivated, the user logs in again.
    app.send_as(&admin, Req::patch(&format!("/api/users/{id}")).json(json!({"isActive": true}))).await.expect(200);
    app.login(&email, PASSWORD).await.expect(200);
}

#[tokio::test]
async fn a_role_change_ends_the_sessions_and_the_next_login_carries_the_new_role() {
    let app = app().await;
    let (admin, _) = app.admin().await;
    let (email, access, refresh, id) = app.new_user().await;
    app.send_as(&admin, Req::patch(&format!("/api/users/{id}")).json(json!({"role": "SELLER"}))).await.expect(200);
    app.refresh(&refresh).await.expect_problem(401, "session_revoked");
    app.send_as(&access, Req::get("/api/users/me")).await.expect(401);
    let login = app.login(&email, PASSWORD).await.expect(200);
    let claims = app.authorizer.authorize(Some(&format!("Bearer {}", login["accessToken"].as_str().unwrap())), &["seller".into()]).unwrap();
    assert_eq!(claims.claims["role"], "SELLER");
}

#[tokio::test]
async fn admins_cannot_change_themselves_and_get_404_for_unknown_users() {
    let app = app().await;
    let (admin, admin_id) = app.admin().await;
    app.send_as(&admin, Req::patch(&format!("/api/users/{admin_id}")).json(json!({"isActive": false}))).await.expect(422);
    app.send_as(&admin, Req::patch(&format!("/api/users/{}", uuid_like())).json(json!({"role": "ADMIN"})))
        .await
        .expect_problem(404, "not_found");
    app.send_as(&admin, Req::patch(&format!("/api/users/{}", uuid_like())).json(json!({"role": "KING"}))).await.expect(422);
}

#[tokio::test]
async fn customers_cannot_change_roles() {
    let app = app().await;
    let (_, customer, _, id) = app.new_user().await;
    app.send_as(&customer, Req::patch(&format!("/api/users/{id}")).json(json!({"role": "ADMIN"}))).await.expect_problem(403, "forbidden");
}

fn uuid_like() -> String {
    "0190a000-0000-7000-8000-000000000000".into()
}
