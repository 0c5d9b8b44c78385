//! The signing-key secret as a deploy leaves it: the template gives it no value (a value there
//! would overwrite the keys on a stack update), so `scripts/signing-key add` must fill a secret
//! that has none, and the local cloud fills its own the same way.

use local_runner::cli::{SecretId, SigningKeyCommand};
use local_runner::cloud::signing_key_command;
use serde_json::Value;

#[tokio::test]
async fn signing_key_add_fills_a_secret_created_without_a_value() {
    let sdk = shop_aws::config::load().await;
    let secrets = aws_sdk_secretsmanager::Client::new(&sdk);
    let name = shop_testkit::unique("signing-keys");
    // What CloudFormation creates from the template: a secret without a value.
    secrets.create_secret().name(&name).send().await.unwrap();
    assert!(secrets.get_secret_value().secret_id(&name).send().await.is_err(), "no value yet");

    signing_key_command(&SigningKeyCommand::Add(SecretId { secret_id: name.clone() })).await.expect("add on an empty secret");
    let value = secrets.get_secret_value().secret_id(&name).send().await.unwrap();
    let doc: Value = serde_json::from_str(value.secret_string().unwrap()).unwrap();
    assert_eq!(doc["keys"].as_array().map(Vec::len), Some(1));
    assert_eq!(doc["activeKid"], doc["keys"][0]["kid"], "the first key signs");

    // A secret that does not exist is still an error, not an empty document.
    let missing = SigningKeyCommand::List(SecretId { secret_id: shop_testkit::unique("no-such-secret") });
    assert!(signing_key_command(&missing).await.is_err());
}
