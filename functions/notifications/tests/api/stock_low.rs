//! `StockLow`: one email to the product's seller and one to every active admin, found through
//! the real accounts router (registered in-process, as the local runner does), at most once per
//! message id and recipient.

use accounts::keys::{KeyDocument, SigningKeys};
use serde_json::json;
use shop_aws::events::Envelope;
use shop_aws::messages::StockLow;
use shop_core::auth::Role;
use uuid::Uuid;

use super::{World, failures, inbox_of, json_record};

/// The accounts function with its own table.
pub(super) async fn accounts() -> accounts::AppState {
    let (ddb, table) = shop_testkit::table("AccountsTable").await;
    let (sqs, queue_url) = shop_testkit::queue("NotificationsQueue").await;
    let mut doc = KeyDocument::default();
    doc.add_generated("test-1".into(), "2026-01-01T00:00:00Z".into()).unwrap();
    let config = accounts::config::Config {
        table: table.clone(),
        notifications_queue_url: queue_url.clone(),
        signing_keys_secret_id: "unused".into(),
        jwt_issuer: "https://api.skyshop.test".into(),
        jwt_audience: "skyshop".into(),
        frontend_url: super::FRONTEND_URL.into(),
    };
    let publisher = shop_aws::events::Publisher::new(sqs, &queue_url, "accounts");
    accounts::AppState::new(
        accounts::store::Store::new(ddb, table),
        publisher,
        accounts::keys::KeyRing::fixed(SigningKeys::from_document(&doc).unwrap()),
        &config,
    )
}

/// A user with a unique address; returns (id, address).
pub(super) async fn user(state: &accounts::AppState, role: Role, first_name: &str) -> (Uuid, String) {
    let address = format!("{}@example.com", shop_testkit::unique(&first_name.to_lowercase()));
    let id = accounts::admin::ensure_account(state, &address, "Correct-Horse-9", role, (first_name, "Test")).await.unwrap();
    (id, address)
}

fn event(seller: Option<Uuid>) -> Envelope<StockLow> {
    Envelope::new(
        "inventory",
        StockLow {
            product_id: Uuid::now_v7(),
            seller_id: seller,
            product_name: "Quokka Desk Lamp".into(),
            sku: Some("LMP-1".into()),
            available: 2,
            threshold: 5,
        },
    )
}

#[tokio::test]
async fn the_seller_and_every_active_admin_get_one_email_each_and_a_redelivery_sends_none() {
    let world = World::new().await;
    let state = accounts().await;
    let (seller, seller_to) = user(&state, Role::Seller, "Sam").await;
    let (_, admin_to) = user(&state, Role::Admin, "Ada").await;
    let (_, other_admin_to) = user(&state, Role::Admin, "Grace").await;
    let (retired, retired_to) = user(&state, Role::Admin, "Rex").await;
    let (_, customer_to) = user(&state, Role::Customer, "Cat").await;
    let changes = accounts::store::UserChanges { is_active: Some(false), ..Default::default() };
    state.store.update_user(retired, &changes, shop_core::time::Timestamp::now()).await.unwrap();
    shop_internal::register_local(&world.accounts_function, accounts::router(state));

    let envelope = event(Some(seller));
    let response = world.handle(vec![json_record("sqs-1", &envelope)]).await;
    assert!(failures(&response).is_empty(), "{response:?}");

    let to_seller = inbox_of(&seller_to).await;
    assert_eq!(to_seller.len(), 1, "{to_seller:#?}");
    assert_eq!(to_seller[0]["subject"], "Low stock: Quokka Desk Lamp (2 left) - Skyshop");
    assert_eq!(to_seller[0]["destinations"]["ToAddresses"], json!([seller_to]), "one recipient per email");
    let html = to_seller[0]["body"].as_str().unwrap();
    assert!(html.contains("Hi Sam,"), "{html}");
    assert!(html.contains(&format!("{}/seller/products/{}", super::FRONTEND_URL, envelope.data.product_id)), "{html}");
    for admin in [&admin_to, &other_admin_to] {
        let mail = inbox_of(admin).await;
        assert_eq!(mail.len(), 1, "{admin}: {mail:#?}");
    }
    assert!(inbox_of(&retired_to).await.is_empty(), "deactivated admins are not written to");
    assert!(inbox_of(&customer_to).await.is_empty());
    let text = world.captured.sent_to(&admin_to)[0]["Body"]["Text"]["Data"].as_str().unwrap().to_owned();
    assert!(text.starts_with("Hi Ada,\n") && text.contains("(SKU LMP-1) is running low: 2 left"), "{text}");

    // SQS delivers at least once: the same message again sends nothing.
    let again = world.handle(vec![json_record("sqs-2", &envelope)]).await;
    assert!(failures(&again).is_empty());
    for to in [&seller_to, &admin_to, &other_admin_to] {
        assert_eq!(inbox_of(to).await.len(), 1, "{to} got it once");
    }
    let claim = world.claim(&format!("{}#{seller}", envelope.id)).await.expect("claimed per recipient");
    assert_eq!(super::s(&claim, "status"), "sent");
    assert_eq!(super::s(&claim, "kind"), "StockLow");
}

#[tokio::test]
async fn a_seller_who_is_also_an_admin_gets_one_email_and_an_unknown_seller_none() {
    let world = World::new().await;
    let state = accounts().await;
    let (both, both_to) = user(&state, Role::Admin, "Bo").await;
    shop_internal::register_local(&world.accounts_function, accounts::router(state));

    let response = world.handle(vec![json_record("sqs-1", &event(Some(both)))]).await;
    assert!(failures(&response).is_empty(), "{response:?}");
    assert_eq!(inbox_of(&both_to).await.len(), 1, "deduplicated by user id");

    // A seller accounts does not know (or no seller at all): the admins are still told.
    for seller in [Some(Uuid::now_v7()), None] {
        let response = world.handle(vec![json_record("sqs-1", &event(seller))]).await;
        assert!(failures(&response).is_empty(), "{response:?}");
    }
    assert_eq!(inbox_of(&both_to).await.len(), 3);
}

#[tokio::test]
async fn while_accounts_is_unavailable_the_record_is_retried_and_nothing_is_claimed() {
    let world = World::new().await;
    let state = accounts().await;
    let (seller, seller_to) = user(&state, Role::Seller, "Sam").await;
    let envelope = event(Some(seller));

    // Nothing answers under the accounts name yet: the record fails before any claim or send.
    let response = world.handle(vec![json_record("sqs-1", &envelope)]).await;
    assert_eq!(failures(&response), ["sqs-1"]);
    assert!(world.claim(&format!("{}#{seller}", envelope.id)).await.is_none());
    assert!(inbox_of(&seller_to).await.is_empty());

    shop_internal::register_local(&world.accounts_function, accounts::router(state));
    let retried = world.handle(vec![json_record("sqs-1", &envelope)]).await;
    assert!(failures(&retried).is_empty(), "{retried:?}");
    assert_eq!(inbox_of(&seller_to).await.len(), 1);
}

#[tokio::test]
async fn a_malformed_low_stock_payload_fails_the_record_naming_the_field() {
    let world = World::new().await;
    let mut envelope = event(None);
    envelope.data.product_name = String::new();
    let mut body = serde_json::to_value(&envelope).unwrap();
    body["data"]["available"] = json!("plenty");
    let response = world.handle(vec![super::record("sqs-1", body.to_string())]).await;
    assert_eq!(failures(&response), ["sqs-1"]);
    assert!(super::logs().contains("available"), "the field is named in the log");
}
