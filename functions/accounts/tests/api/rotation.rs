//! Signing-key rotation reaches a warm sandbox: the keys follow their secret (Secrets Manager,
//! moto here) within the reload interval.

use accounts::keys::{KeyDocument, KeyRing, KeySource};
use shop_testkit::Req;

#[tokio::test]
async fn a_rotated_key_is_published_and_signs_without_a_cold_start() {
    let sdk = shop_testkit::sdk().await;
    let client = aws_sdk_secretsmanager::Client::new(sdk);
    let secret_id = shop_testkit::unique("signing-keys");
    let mut doc = KeyDocument::default();
    doc.keys.push(crate::helpers::key_document().keys[0].clone());
    client.create_secret().name(&secret_id).secret_string(serde_json::to_string(&doc).unwrap()).send().await.unwrap();

    let ring = KeyRing::load(KeySource { client: client.clone(), secret_id: secret_id.clone() })
        .await
        .unwrap()
        .with_reload_after(std::time::Duration::ZERO);
    let app = crate::helpers::app_with_keys(ring).await;
    let kids = |jwks: serde_json::Value| -> Vec<String> {
        jwks["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap().to_owned()).collect()
    };
    assert_eq!(kids(app.send(Req::get("/.well-known/jwks.json")).await.expect(200)), vec!["test-1".to_owned()]);

    // scripts/signing-key add + activate: the secret changes; the warm sandbox follows.
    doc.add_generated("test-2".into(), "2026-12-05T00:00:00Z".into()).unwrap();
    doc.activate("test-2").unwrap();
    client.put_secret_value().secret_id(&secret_id).secret_string(serde_json::to_string(&doc).unwrap()).send().await.unwrap();
    assert_eq!(kids(app.send(Req::get("/.well-known/jwks.json")).await.expect(200)), vec!["test-1".to_owned(), "test-2".to_owned()]);
    let (email, ..) = app.new_user().await;
    let login = app.login(&email, crate::helpers::PASSWORD).await.expect(200);
    let header = jsonwebtoken::decode_header(login["accessToken"].as_str().unwrap()).unwrap();
    assert_eq!(header.kid.as_deref(), Some("test-2"), "the new active key signs");
}
