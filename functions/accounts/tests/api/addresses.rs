use serde_json::{Value, json};
use shop_testkit::Req;

use crate::helpers::app;

fn address(city: &str) -> Value {
    json!({"firstName": "Ada", "lastName": "Lovelace", "address1": "1 Main St", "city": city, "state": "CA", "postalCode": "94000", "country": "US"})
}

#[tokio::test]
async fn the_address_book_supports_crud_with_one_default() {
    let app = app().await;
    let (_, access, ..) = app.new_user().await;
    let first = app.send_as(&access, Req::post("/api/users/me/addresses").json(address("Paris"))).await.expect(201);
    assert_eq!(first["isDefault"], true, "the first address becomes the default");
    let mut second_body = address("Rome");
    second_body["isDefault"] = json!(true);
    let second = app.send_as(&access, Req::post("/api/users/me/addresses").json(second_body)).await.expect(201);
    assert_eq!(second["isDefault"], true);
    let list = app.send_as(&access, Req::get("/api/users/me/addresses")).await.expect(200);
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list.iter().filter(|a| a["isDefault"] == true).count(), 1, "exactly one default");
    assert_eq!(list[0]["city"], "Rome", "the default is listed first");

    let id = first["id"].as_str().unwrap();
    let mut changed = address("Lyon");
    changed["address2"] = json!("Apt 4");
    let replaced = app.send_as(&access, Req::put(&format!("/api/users/me/addresses/{id}")).json(changed)).await.expect(200);
    assert_eq!(replaced["city"], "Lyon");
    assert_eq!(replaced["address2"], "Apt 4");
    assert_eq!(replaced["isDefault"], false);
    let fetched = app.send_as(&access, Req::get(&format!("/api/users/me/addresses/{id}"))).await.expect(200);
    assert_eq!(fetched["city"], "Lyon");
    app.send_as(&access, Req::delete(&format!("/api/users/me/addresses/{id}"))).await.expect(204);
    app.send_as(&access, Req::get(&format!("/api/users/me/addresses/{id}"))).await.expect_problem(404, "not_found");
}

#[tokio::test]
async fn addresses_are_validated_field_by_field() {
    let app = app().await;
    let (_, access, ..) = app.new_user().await;
    let mut bad = address("Paris");
    bad["postalCode"] = json!("");
    bad["street"] = json!("1 Main St");
    let resp = app.send_as(&access, Req::post("/api/users/me/addresses").json(bad)).await;
    assert_eq!(resp.expect_problem(422, "validation_failed")["errors"][0]["field"], "street");
    let mut blank = address("Paris");
    blank["city"] = json!("   ");
    let resp = app.send_as(&access, Req::post("/api/users/me/addresses").json(blank)).await;
    assert_eq!(resp.expect_problem(422, "validation_failed")["errors"][0]["field"], "city");
}

#[tokio::test]
async fn at_most_twenty_addresses_fit_even_when_added_concurrently() {
    let app = app().await;
    let (_, access, ..) = app.new_user().await;
    let attempts = (0..25).map(|i| app.send_as(&access, Req::post("/api/users/me/addresses").json(address(&format!("City {i}")))));
    let statuses: Vec<u16> = futures::future::join_all(attempts).await.iter().map(|r| r.status.as_u16()).collect();
    assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 20, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 409).count(), 5, "{statuses:?}");
    let list = app.send_as(&access, Req::get("/api/users/me/addresses")).await.expect(200);
    assert_eq!(list.as_array().unwrap().len(), 20);
}

#[tokio::test]
async fn another_users_address_is_404() {
    let app = app().await;
    let (_, alice, ..) = app.new_user().await;
    let (_, bob, ..) = app.new_user().await;
    let bobs = app.send_as(&bob, Req::post("/api/users/me/addresses").json(address("Oslo"))).await.expect(201);
    let id = bobs["id"].as_str().unwrap();
    app.send_as(&alice, Req::get(&format!("/api/users/me/addresses/{id}"))).await.expect(404);
    app.send_as(&alice, Req::put(&format!("/api/users/me/addresses/{id}")).json(address("X"))).await.expect(404);
    app.send_as(&alice, Req::delete(&format!("/api/users/me/addresses/{id}"))).await.expect(404);
    app.send_as(&bob, Req::get(&format!("/api/users/me/addresses/{id}"))).await.expect(200);
}

/// "Make this the default" racing the deletion of the same address never leaves the user's
/// default pointing at an address that no longer exists.
#[tokio::test]
async fn a_default_change_racing_a_delete_never_leaves_a_dangling_default() {
    let app = app().await;
    let (_, access, _, user_id) = app.new_user().await;
    let user_id = uuid::Uuid::parse_str(&user_id).unwrap();
    app.send_as(&access, Req::post("/api/users/me/addresses").json(address("Home"))).await.expect(201);
    for round in 0..8 {
        let created = app.send_as(&access, Req::post("/api/users/me/addresses").json(address("Race"))).await.expect(201);
        let id = created["id"].as_str().unwrap().to_owned();
        let mut body = address("Race");
        body["isDefault"] = json!(true);
        let make_default = app.send_as(&access, Req::put(&format!("/api/users/me/addresses/{id}")).json(body));
        let delete = app.send_as(&access, Req::delete(&format!("/api/users/me/addresses/{id}")));
        let (made, deleted) = tokio::join!(make_default, delete);
        assert!(matches!(made.status.as_u16(), 200 | 404), "round {round}: {}", made.status);
        deleted.expect(204);
        let user = app.state.store.user(user_id).await.unwrap().unwrap();
        if let Some(default) = user.default_address_id {
            assert!(app.state.store.address(user_id, default).await.unwrap().is_some(), "round {round}: the default {default} is dangling");
        }
    }
}
