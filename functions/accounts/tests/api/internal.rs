//! `/internal/users/*`: contacts for other functions (the low-stock emails), through a real
//! internal client against the router registered in-process.

use accounts::routes::internal::{Contact, Contacts, UserName};
use accounts::store::UserChanges;
use serde_json::Value;
use shop_core::auth::Role;
use shop_internal::InternalClient;
use shop_testkit::Req;

use crate::helpers::{App, app, email};

async fn client(app: &App) -> InternalClient {
    let name = shop_testkit::unique("accounts");
    shop_internal::register_local(&name, app.router.clone());
    InternalClient::new(shop_testkit::sdk().await, name, "notifications")
}

fn status(err: shop_internal::CallError) -> u16 {
    err.status().map_or(0, |s| s.as_u16())
}

#[tokio::test]
async fn a_users_contact_is_its_id_email_and_first_name_and_only_while_active() {
    let app = app().await;
    let internal = client(&app).await;
    let address = email();
    let user = app.register(&address).await;
    let id: uuid::Uuid = user["user"]["id"].as_str().or(user["id"].as_str()).unwrap().parse().unwrap();
    let contact: Contact = internal.get(&format!("/internal/users/{id}/contact")).await.unwrap();
    assert_eq!(contact, Contact { user_id: id, email: address.clone(), first_name: "Ada".into() });
    let raw: Value = internal.get(&format!("/internal/users/{id}/contact")).await.unwrap();
    assert_eq!(raw.as_object().unwrap().len(), 3, "nothing else (no hash, no role): {raw}");

    let now = shop_core::time::Timestamp::now();
    app.state.store.update_user(id, &UserChanges { is_active: Some(false), ..UserChanges::default() }, now).await.unwrap();
    assert_eq!(status(internal.get::<Contact>(&format!("/internal/users/{id}/contact")).await.unwrap_err()), 404, "deactivated");
    let unknown = uuid::Uuid::now_v7();
    assert_eq!(status(internal.get::<Contact>(&format!("/internal/users/{unknown}/contact")).await.unwrap_err()), 404);
    assert_eq!(status(internal.get::<Contact>("/internal/users/not-a-uuid/contact").await.unwrap_err()), 400);
}

#[tokio::test]
async fn a_users_name_is_first_and_last_only_and_only_while_active() {
    let app = app().await;
    let internal = client(&app).await;
    let user = app.register(&email()).await;
    let id: uuid::Uuid = user["user"]["id"].as_str().or(user["id"].as_str()).unwrap().parse().unwrap();
    let name: UserName = internal.get(&format!("/internal/users/{id}/name")).await.unwrap();
    assert_eq!(name, UserName { user_id: id, first_name: "Ada".into(), last_name: "Lovelace".into() });
    let raw: Value = internal.get(&format!("/internal/users/{id}/name")).await.unwrap();
    assert_eq!(raw.as_object().unwrap().len(), 3, "nothing else (no email): {raw}");

    let now = shop_core::time::Timestamp::now();
    app.state.store.update_user(id, &UserChanges { is_active: Some(false), ..UserChanges::default() }, now).await.unwrap();
    assert_eq!(status(internal.get::<UserName>(&format!("/internal/users/{id}/name")).await.unwrap_err()), 404, "deactivated");
    let unknown = uuid::Uuid::now_v7();
    assert_eq!(status(internal.get::<UserName>(&format!("/internal/users/{unknown}/name")).await.unwrap_err()), 404);
    assert_eq!(status(internal.get::<UserName>("/internal/users/not-a-uuid/name").await.unwrap_err()), 400);
}

#[tokio::test]
async fn admins_are_the_active_users_whose_role_is_admin_and_follow_role_changes() {
    let app = app().await;
    let internal = client(&app).await;
    let none: Contacts = internal.get("/internal/users/admins").await.unwrap();
    assert!(none.items.is_empty());

    let first = accounts::admin::ensure_admin(&app.state, &email(), crate::helpers::PASSWORD).await.unwrap();
    let second =
        accounts::admin::ensure_account(&app.state, &email(), crate::helpers::PASSWORD, Role::Customer, ("Grace", "Hopper")).await.unwrap();
    accounts::admin::ensure_account(&app.state, &email(), crate::helpers::PASSWORD, Role::Seller, ("Sam", "Seller")).await.unwrap();
    app.register(&email()).await;
    let ids = |c: &Contacts| c.items.iter().map(|c| c.user_id).collect::<Vec<_>>();
    let admins: Contacts = internal.get("/internal/users/admins").await.unwrap();
    assert_eq!(ids(&admins), [first], "created as ADMIN: in the index; customers and sellers are not");
    assert_eq!(admins.items[0].first_name, "Local");

    // Promoted: in; demoted: out; deactivated: not emailed.
    let now = shop_core::time::Timestamp::now();
    let store = &app.state.store;
    store.update_user(second, &UserChanges { role: Some(Role::Admin), ..UserChanges::default() }, now).await.unwrap();
    let mut expected = vec![first, second];
    expected.sort();
    assert_eq!(ids(&internal.get("/internal/users/admins").await.unwrap()), expected);
    store.update_user(first, &UserChanges { role: Some(Role::Seller), ..UserChanges::default() }, now).await.unwrap();
    assert_eq!(ids(&internal.get("/internal/users/admins").await.unwrap()), [second]);
    store.update_user(second, &UserChanges { is_active: Some(false), ..UserChanges::default() }, now).await.unwrap();
    assert!(ids(&internal.get("/internal/users/admins").await.unwrap()).is_empty());
}

#[tokio::test]
async fn the_internal_routes_are_not_reachable_through_the_public_api() {
    let app = app().await;
    let user = app.register(&email()).await;
    let id = user["user"]["id"].as_str().or(user["id"].as_str()).unwrap().to_owned();
    for path in [format!("/internal/users/{id}/contact"), "/internal/users/admins".to_owned()] {
        let r = app.send(Req::get(&path)).await;
        assert_eq!(r.status.as_u16(), 404, "{path}");
        assert!(!r.json().to_string().contains("@example.com"), "{path}");
    }
}

#[tokio::test]
async fn a_users_address_is_served_to_orders_and_only_under_its_owner() {
    let app = app().await;
    let internal = client(&app).await;
    let (_, access, _, user) = app.new_user().await;
    let body = serde_json::json!({"firstName": " Ada ", "lastName": "Lovelace", "address1": "1 Main St", "address2": "Apt 4",
        "city": "Paris", "state": "IDF", "postalCode": "75001", "country": "FR", "phone": "+33 1 23 45 67 89"});
    let created = app.send_as(&access, Req::post("/api/users/me/addresses").json(body)).await.expect(201);
    let id = created["id"].as_str().unwrap();
    let path = format!("/internal/users/{user}/addresses/{id}");
    let address: Value = internal.get(&path).await.unwrap();
    assert_eq!(
        address,
        serde_json::json!({"id": id, "firstName": "Ada", "lastName": "Lovelace", "address1": "1 Main St", "address2": "Apt 4",
            "city": "Paris", "state": "IDF", "postalCode": "75001", "country": "FR", "phone": "+33 1 23 45 67 89"}),
        "exactly the stored fields, trimmed as stored"
    );
    // Reads are repeatable (internal calls are retried).
    assert_eq!(internal.get::<Value>(&path).await.unwrap(), address);

    // Optional fields absent when not stored.
    let bare = serde_json::json!({"firstName": "Ada", "lastName": "L", "address1": "2 Main St", "city": "Rome", "state": "RM",
        "postalCode": "00100", "country": "IT"});
    let second = app.send_as(&access, Req::post("/api/users/me/addresses").json(bare)).await.expect(201);
    let second = second["id"].as_str().unwrap();
    let fetched: Value = internal.get(&format!("/internal/users/{user}/addresses/{second}")).await.unwrap();
    assert!(fetched.get("address2").is_none() && fetched.get("phone").is_none(), "{fetched}");

    let problem = |err: shop_internal::CallError| match err {
        shop_internal::CallError::Status { status, problem } => (status.as_u16(), problem.unwrap_or(Value::Null)),
        other => panic!("expected an answer, got {other:?}"),
    };
    // Another user's address, an unknown address, an unknown user: all 404 address_not_found.
    let (_, _, _, other) = app.new_user().await;
    for path in [
        format!("/internal/users/{other}/addresses/{id}"),
        format!("/internal/users/{user}/addresses/{}", uuid::Uuid::now_v7()),
        format!("/internal/users/{}/addresses/{id}", uuid::Uuid::now_v7()),
    ] {
        let (status, body) = problem(internal.get::<Value>(&path).await.unwrap_err());
        assert_eq!((status, body["code"].as_str()), (404, Some("address_not_found")), "{path}");
    }
    // Deleted: gone.
    app.send_as(&access, Req::delete(&format!("/api/users/me/addresses/{second}"))).await.expect(204);
    let (status, _) = problem(internal.get::<Value>(&format!("/internal/users/{user}/addresses/{second}")).await.unwrap_err());
    assert_eq!(status, 404);
    // Malformed ids: 400 naming the parameter.
    let (status, body) = problem(internal.get::<Value>(&format!("/internal/users/nope/addresses/{id}")).await.unwrap_err());
    assert_eq!((status, body["code"].as_str(), body["errors"][0]["field"].as_str()), (400, Some("invalid_parameter"), Some("userId")));
    let (status, body) = problem(internal.get::<Value>(&format!("/internal/users/{user}/addresses/42")).await.unwrap_err());
    assert_eq!((status, body["errors"][0]["field"].as_str()), (400, Some("addressId")));
    // Not reachable through the public API.
    assert_eq!(app.send(Req::get(&path)).await.status.as_u16(), 404);
}
