//! The notifications consumer against the real local stand-ins: DynamoDB Local for the claims
//! table, moto for SES v2. Every test has its own table, sender and recipient, so tests do not
//! see each other's claims or mail.
//!
//! moto keeps a sent SES v2 `Simple` message as `ses.Message` in `/moto-api/data.json` with only
//! ONE body: the HTML part when there is one (the text part is dropped). The text part is
//! therefore asserted on the request as it left the SDK (a capturing interceptor).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod orders;
mod payments;
mod stock_low;
mod suppression;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_sesv2::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_sesv2::config::{ConfigBag, Intercept, RuntimeComponents};
use notifications::Notifier;
use serde_json::{Value, json};
use shop_aws::events::Envelope;
use shop_aws::messages::{PasswordChanged, PasswordResetRequested, UserRegistered};
use shop_core::id::new_id;
use time::OffsetDateTime;

const FRONTEND_URL: &str = "https://shop.test";

/// Every log line of this test binary, in the production JSON format (shared by all tests; each
/// test looks for its own unique values).
static LOGS: Mutex<Vec<u8>> = Mutex::new(Vec::new());

struct LogWriter;

impl std::io::Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        LOGS.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Installs the capturing subscriber once, formatted like `shop_core::telemetry::init`.
fn capture_logs() {
    static INIT: OnceLock<()> = OnceLock::new();
    INIT.get_or_init(|| {
        let subscriber = tracing_subscriber::fmt()
            .json()
            .with_max_level(tracing::Level::DEBUG)
            .with_current_span(true)
            .with_span_list(false)
            .flatten_event(true)
            .with_target(false)
            .with_writer(|| LogWriter)
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("one global subscriber");
    });
}

fn logs() -> String {
    String::from_utf8_lossy(&LOGS.lock().unwrap()).into_owned()
}

/// Records the JSON body of every SES v2 request the client sends.
#[derive(Debug, Clone, Default)]
struct Captured(Arc<Mutex<Vec<Value>>>);

impl Intercept for Captured {
    fn name(&self) -> &'static str {
        "CaptureSesRequests"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        if let Some(body) = context.request().body().bytes().and_then(|b| serde_json::from_slice(b).ok()) {
            self.0.lock().unwrap().push(body);
        }
        Ok(())
    }
}

impl Captured {
    /// `Content.Simple` of every SendEmail request to `to`.
    fn sent_to(&self, to: &str) -> Vec<Value> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|req| req["Destination"]["ToAddresses"].as_array().is_some_and(|a| a.iter().any(|t| t == to)))
            .map(|req| req["Content"]["Simple"].clone())
            .collect()
    }
}

/// One test's world: its own table, sender, recipient and SES request log.
struct World {
    notifier: Notifier,
    dynamo: aws_sdk_dynamodb::Client,
    table: String,
    ses: aws_sdk_sesv2::Client,
    sender: String,
    to: String,
    captured: Captured,
    accounts_function: String,
}

impl World {
    /// A world whose sender is a verified SES identity.
    async fn new() -> Self {
        let world = Self::unverified().await;
        world.verify_sender().await;
        world
    }

    /// A world whose sender is not (yet) verified: SES rejects its mail.
    async fn unverified() -> Self {
        capture_logs();
        let (dynamo, table) = shop_testkit::table("NotificationsTable").await;
        let sdk = shop_testkit::sdk().await;
        let captured = Captured::default();
        let ses_config = aws_sdk_sesv2::config::Builder::from(sdk).interceptor(captured.clone()).build();
        let ses = aws_sdk_sesv2::Client::from_conf(ses_config);
        let sender = format!("{}@skyshop.example.com", shop_testkit::unique("sender"));
        let to = format!("{}@example.com", shop_testkit::unique("customer"));
        // Accounts answers under this name once a test registers its router (stock_low.rs).
        let accounts_function = shop_testkit::unique("accounts");
        let accounts = shop_internal::InternalClient::new(sdk, accounts_function.clone(), "notifications");
        let notifier = Notifier::from_parts(dynamo.clone(), &table, ses.clone(), &sender, FRONTEND_URL, accounts);
        Self { notifier, dynamo, table, ses, sender, to, captured, accounts_function }
    }

    /// moto treats any identity created with SES v2 CreateEmailIdentity as verified for sending.
    async fn verify_sender(&self) {
        self.ses.create_email_identity().email_identity(&self.sender).send().await.expect("create email identity");
    }

    async fn handle(&self, records: Vec<SqsMessage>) -> SqsBatchResponse {
        let mut event = SqsEvent::default();
        event.records = records;
        self.notifier.handle(event).await
    }

    /// The claim item of an envelope id, if any.
    async fn claim(&self, envelope_id: &str) -> Option<HashMap<String, AttributeValue>> {
        self.dynamo
            .get_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(format!("MSG#{envelope_id}")))
            .consistent_read(true)
            .send()
            .await
            .expect("get claim")
            .item
    }

    /// Mail moto accepted for this world's recipient, oldest first.
    async fn inbox(&self) -> Vec<Value> {
        inbox_of(&self.to).await
    }

    fn welcome(&self, first_name: &str) -> Envelope<UserRegistered> {
        Envelope::new("accounts", UserRegistered { user_id: new_id(), email: self.to.clone(), first_name: first_name.to_owned() })
    }
}

/// Mail moto accepted for `to`, oldest first.
async fn inbox_of(to: &str) -> Vec<Value> {
    let moto = std::env::var("SKYSHOP_MOTO_URL").expect("SKYSHOP_MOTO_URL is set (run the tests with scripts/test)");
    let data: Value = reqwest::get(format!("{}/moto-api/data.json", moto.trim_end_matches('/')))
        .await
        .expect("moto answers")
        .json()
        .await
        .expect("data.json is JSON");
    data["ses"]["Message"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|m| m["destinations"]["ToAddresses"].as_array().is_some_and(|a| a.iter().any(|t| *t == to)))
        .collect()
}

/// An SQS record with this `messageId` and body.
fn record(sqs_message_id: &str, body: impl Into<String>) -> SqsMessage {
    let mut record = SqsMessage::default();
    record.message_id = Some(sqs_message_id.to_owned());
    record.body = Some(body.into());
    record.event_source = Some("aws:sqs".to_owned());
    record
}

fn json_record<T: serde::Serialize>(sqs_message_id: &str, envelope: &Envelope<T>) -> SqsMessage {
    record(sqs_message_id, serde_json::to_string(envelope).unwrap())
}

fn failures(response: &SqsBatchResponse) -> Vec<&str> {
    let mut ids: Vec<&str> = response.batch_item_failures.iter().map(|f| f.item_identifier.as_str()).collect();
    ids.sort_unstable();
    ids
}

fn s<'a>(item: &'a HashMap<String, AttributeValue>, name: &str) -> &'a str {
    item.get(name).and_then(|v| v.as_s().ok()).map(String::as_str).unwrap_or_default()
}

#[tokio::test]
async fn a_welcome_email_is_rendered_and_sent() {
    let world = World::new().await;
    let envelope = world.welcome("Eve");

    let response = world.handle(vec![json_record("sqs-1", &envelope)]).await;
    assert!(failures(&response).is_empty(), "{response:?}");

    let inbox = world.inbox().await;
    assert_eq!(inbox.len(), 1, "{inbox:#?}");
    let mail = &inbox[0];
    assert_eq!(mail["subject"], "Welcome to Skyshop!");
    assert_eq!(mail["destinations"]["ToAddresses"], json!([world.to]));
    assert_eq!(mail["source"], format!("Skyshop <{}>", world.sender));
    let html = mail["body"].as_str().unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"), "moto keeps the HTML part: {html}");
    assert!(html.contains("Hi Eve,"), "{html}");
    assert!(html.contains(&format!("href=\"{FRONTEND_URL}/login\"")), "{html}");
    assert!(html.contains(&format!("href=\"{FRONTEND_URL}\"")), "{html}");

    let sent = world.captured.sent_to(&world.to);
    assert_eq!(sent.len(), 1);
    let text = sent[0]["Body"]["Text"]["Data"].as_str().unwrap();
    assert!(text.starts_with("Hi Eve,\n"), "{text}");
    assert!(text.contains(&format!("Sign in: {FRONTEND_URL}/login")), "{text}");
    assert!(text.contains(&format!("Start shopping: {FRONTEND_URL}\n")), "{text}");
    assert_eq!(sent[0]["Body"]["Html"]["Data"].as_str(), Some(html), "the HTML part moto stored is the one sent");
    assert_eq!(sent[0]["Subject"]["Charset"], "UTF-8");

    let claim = world.claim(&envelope.id.to_string()).await.expect("the message id is claimed");
    assert_eq!(s(&claim, "status"), "sent");
    assert_eq!(s(&claim, "kind"), "UserRegistered");
    assert_eq!(s(&claim, "sesMessageId"), mail["id"].as_str().unwrap());
    let expires_at: i64 = claim["expiresAt"].as_n().unwrap().parse().unwrap();
    let in_14_days = (OffsetDateTime::now_utc() + time::Duration::days(14)).unix_timestamp();
    assert!((in_14_days - expires_at).abs() < 120, "TTL is 14 days: {expires_at} vs {in_14_days}");
}

#[tokio::test]
async fn a_password_reset_email_carries_the_link_with_the_token_and_the_expiry() {
    let world = World::new().await;
    let token = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
    let envelope = Envelope::new(
        "accounts",
        PasswordResetRequested {
            user_id: new_id(),
            email: world.to.clone(),
            first_name: "Eve".to_owned(),
            token: token.to_owned(),
            expires_in_minutes: 60,
        },
    );

    let response = world.handle(vec![json_record("sqs-1", &envelope)]).await;
    assert!(failures(&response).is_empty(), "{response:?}");

    let reset_url = format!("{FRONTEND_URL}/reset-password?token={token}");
    let inbox = world.inbox().await;
    assert_eq!(inbox.len(), 1, "{inbox:#?}");
    assert_eq!(inbox[0]["subject"], "Reset Your Password - Skyshop");
    let html = inbox[0]["body"].as_str().unwrap();
    assert!(html.contains(&format!("href=\"{reset_url}\"")), "{html}");
    assert!(html.contains("expires in <strong>1 hour</strong>"), "{html}");

    let sent = world.captured.sent_to(&world.to);
    let text = sent[0]["Body"]["Text"]["Data"].as_str().unwrap();
    assert!(text.contains(&format!("Reset your password: {reset_url}\n")), "{text}");
    assert!(text.contains("This link expires in 1 hour"), "{text}");
}

#[tokio::test]
async fn a_password_changed_email_points_to_support() {
    let world = World::new().await;
    let envelope = Envelope::new("accounts", PasswordChanged { user_id: new_id(), email: world.to.clone(), first_name: "Eve".to_owned() });

    let response = world.handle(vec![json_record("sqs-1", &envelope)]).await;
    assert!(failures(&response).is_empty(), "{response:?}");

    let inbox = world.inbox().await;
    assert_eq!(inbox.len(), 1, "{inbox:#?}");
    assert_eq!(inbox[0]["subject"], "Your Password Has Been Changed - Skyshop");
    assert!(inbox[0]["body"].as_str().unwrap().contains("mailto:support@skyshop.example.com"));
    let text = world.captured.sent_to(&world.to)[0]["Body"]["Text"]["Data"].as_str().unwrap().to_owned();
    assert!(text.contains("support@skyshop.example.com"), "{text}");
}

#[tokio::test]
async fn the_same_message_id_delivered_twice_is_sent_once() {
    let world = World::new().await;
    let envelope = world.welcome("Eve");

    // Twice in one batch (processed concurrently), then redelivered in a later batch.
    let response = world.handle(vec![json_record("sqs-1", &envelope), json_record("sqs-2", &envelope)]).await;
    assert!(failures(&response).is_empty(), "duplicates are acknowledged, not failed: {response:?}");
    let response = world.handle(vec![json_record("sqs-3", &envelope)]).await;
    assert!(failures(&response).is_empty(), "{response:?}");

    assert_eq!(world.inbox().await.len(), 1);
    assert_eq!(world.captured.sent_to(&world.to).len(), 1, "SES was called once");

    // A different message to the same person is another email.
    let response = world.handle(vec![json_record("sqs-4", &world.welcome("Eve"))]).await;
    assert!(failures(&response).is_empty(), "{response:?}");
    assert_eq!(world.inbox().await.len(), 2);
}

#[tokio::test]
async fn an_ses_failure_reports_the_record_and_leaves_no_claim_so_a_retry_can_send() {
    let world = World::unverified().await;
    let envelope = world.welcome("Eve");
    let id = envelope.id.to_string();

    let response = world.handle(vec![json_record("sqs-1", &envelope)]).await;
    assert_eq!(failures(&response), ["sqs-1"]);
    assert!(world.claim(&id).await.is_none(), "the claim is released");
    assert!(world.inbox().await.is_empty());
    assert_eq!(world.captured.sent_to(&world.to).len(), 1, "SES was asked and refused");

    // The sender gets verified; SQS redelivers the message.
    world.verify_sender().await;
    let response = world.handle(vec![json_record("sqs-1", &envelope)]).await;
    assert!(failures(&response).is_empty(), "{response:?}");
    assert_eq!(world.inbox().await.len(), 1);
    assert_eq!(s(&world.claim(&id).await.expect("claimed"), "status"), "sent");
}

#[tokio::test]
async fn a_malformed_body_and_an_unknown_type_are_reported_as_failures() {
    let world = World::new().await;
    let unknown = Envelope {
        id: new_id(),
        kind: "OrderTeleported".to_owned(),
        source: "orders".to_owned(),
        occurred_at: shop_core::time::Timestamp::now(),
        data: json!({"email": world.to, "orderNumber": "SKY-1"}),
    };
    let wrong_shape = Envelope {
        id: new_id(),
        kind: "PasswordResetRequested".to_owned(),
        source: "accounts".to_owned(),
        occurred_at: shop_core::time::Timestamp::now(),
        data: json!({"email": world.to, "firstName": "Eve"}),
    };
    let good = world.welcome("Eve");

    let response = world
        .handle(vec![
            record("not-json", "this is not json"),
            record("no-envelope", json!({"email": world.to}).to_string()),
            json_record("unknown-type", &unknown),
            json_record("wrong-shape", &wrong_shape),
            record("empty", ""),
            json_record("good", &good),
        ])
        .await;

    assert_eq!(failures(&response), ["empty", "no-envelope", "not-json", "unknown-type", "wrong-shape"]);
    assert!(world.claim(&unknown.id.to_string()).await.is_none(), "unknown types are not claimed");
    assert!(world.claim(&wrong_shape.id.to_string()).await.is_none(), "invalid payloads are not claimed");
    let inbox = world.inbox().await;
    assert_eq!(inbox.len(), 1, "the good record in the same batch is sent: {inbox:#?}");
    assert_eq!(inbox[0]["subject"], "Welcome to Skyshop!");
}

#[tokio::test]
async fn html_values_are_escaped() {
    let world = World::new().await;
    let envelope = world.welcome("<b>Eve</b> & \"Co\"");

    let response = world.handle(vec![json_record("sqs-1", &envelope)]).await;
    assert!(failures(&response).is_empty(), "{response:?}");

    let inbox = world.inbox().await;
    let html = inbox[0]["body"].as_str().unwrap();
    assert!(html.contains("Hi &lt;b&gt;Eve&lt;/b&gt; &amp; &quot;Co&quot;,"), "{html}");
    assert!(!html.contains("<b>Eve</b>"), "{html}");
    let text = world.captured.sent_to(&world.to)[0]["Body"]["Text"]["Data"].as_str().unwrap().to_owned();
    assert!(text.starts_with("Hi <b>Eve</b> & \"Co\",\n"), "the text part is not HTML: {text}");
}

#[tokio::test]
async fn logs_name_the_message_id_and_type_but_never_the_address_the_name_or_the_token() {
    let world = World::unverified().await;
    let token = format!("secret-token-{}", new_id().simple());
    let first_name = format!("Name{}", new_id().simple());
    let reset = Envelope::new(
        "accounts",
        PasswordResetRequested {
            user_id: new_id(),
            email: world.to.clone(),
            first_name: first_name.clone(),
            token: token.clone(),
            expires_in_minutes: 60,
        },
    );
    let mut invalid = serde_json::to_value(&reset).unwrap();
    invalid["id"] = json!(new_id().to_string());
    invalid["data"]["expiresInMinutes"] = json!(token);
    let no_envelope = json!({"type": "PasswordResetRequested", "email": world.to, "token": token});

    // Unverified sender: SES refuses (its error message would quote addresses).
    let response = world
        .handle(vec![
            json_record("refused", &reset),
            record("invalid", invalid.to_string()),
            record("no-envelope", no_envelope.to_string()),
        ])
        .await;
    assert_eq!(failures(&response), ["invalid", "no-envelope", "refused"]);
    world.verify_sender().await;
    let response = world.handle(vec![json_record("sent", &reset)]).await;
    assert!(failures(&response).is_empty(), "{response:?}");

    let logs = logs();
    let id = reset.id.to_string();
    let lines: Vec<&str> = logs.lines().filter(|l| l.contains(&id)).collect();
    assert!(lines.iter().any(|l| l.contains("\"kind\":\"PasswordResetRequested\"") && l.contains("email sent")), "{lines:#?}");
    assert!(lines.iter().any(|l| l.contains("MessageRejected")), "the SES error code is logged: {lines:#?}");
    assert!(logs.contains(&invalid["id"].as_str().unwrap().to_string()), "the invalid payload's id is logged");
    assert!(logs.contains("\"sqs_message_id\":\"no-envelope\""), "a body without envelope is named by its SQS id");
    for secret in [world.to.as_str(), token.as_str(), first_name.as_str()] {
        assert!(!logs.contains(secret), "{secret} leaked into the logs:\n{logs}");
    }
}
