//! SES feedback → suppression → the next email to that address is skipped and counted.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use notifications::suppression::{FeedbackHandler, SuppressionStore};
use serde_json::json;

use crate::{World, failures, json_record, logs, record};

/// SES's event-publishing notice (configuration set → SNS), as SNS delivers it to SQS without
/// raw delivery: the notice is the envelope's `Message`.
fn sns_notice(event: serde_json::Value) -> String {
    json!({"Type": "Notification", "MessageId": "6c0f3f0e", "TopicArn": "arn:aws:sns:us-east-1:123456789012:mail-feedback",
        "Message": event.to_string(), "Timestamp": "2026-12-06T03:00:00.000Z"})
    .to_string()
}

fn bounce(to: &str, bounce_type: &str) -> serde_json::Value {
    json!({
        "eventType": "Bounce",
        "bounce": {"feedbackId": "0100018c-fb", "bounceType": bounce_type, "bounceSubType": "General",
            "bouncedRecipients": [{"emailAddress": to.to_uppercase(), "action": "failed", "status": "5.1.1", "diagnosticCode": "smtp; 550 5.1.1 user unknown"}],
            "timestamp": "2026-12-06T03:00:00.000Z", "reportingMTA": "dsn; a8-1.smtp-out.amazonses.com"},
        "mail": {"timestamp": "2026-12-06T02:59:59.000Z", "source": "noreply@skyshop.example.com", "messageId": "0100018c-m",
            "destination": [to], "headersTruncated": false}
    })
}

async fn feedback(world: &World, records: Vec<SqsMessage>) -> SqsBatchResponse {
    let handler = FeedbackHandler::new(SuppressionStore::new(world.dynamo.clone(), &world.table));
    let mut event = SqsEvent::default();
    event.records = records;
    handler.handle(event).await
}

#[tokio::test]
async fn a_permanent_bounce_suppresses_the_address_and_the_next_email_is_skipped_and_counted() {
    let world = World::new().await;
    let response = feedback(&world, vec![record("fb-1", sns_notice(bounce(&world.to, "Permanent")))]).await;
    assert!(failures(&response).is_empty(), "{response:?}");
    let item = world
        .dynamo
        .get_item()
        .table_name(&world.table)
        .key("pk", aws_sdk_dynamodb::types::AttributeValue::S(format!("SUPPRESSED#{}", world.to.to_lowercase())))
        .send()
        .await
        .unwrap()
        .item
        .expect("suppressed, keyed by the lower-cased address");
    assert_eq!(crate::s(&item, "reason"), "bounce");
    assert_eq!(crate::s(&item, "feedbackId"), "0100018c-fb");
    assert!(!item.contains_key("expiresAt"), "a suppression does not expire");

    let sqs_id = shop_testkit::unique("sqs-suppressed");
    let response = world.handle(vec![json_record(&sqs_id, &world.welcome("Ada"))]).await;
    assert!(failures(&response).is_empty(), "skipped, not retried: {response:?}");
    assert!(world.inbox().await.is_empty(), "nothing was sent to the suppressed address");
    assert!(world.captured.sent_to(&world.to).is_empty());
    let counted = logs().lines().any(|l| l.contains("\"EmailSuppressed\"") && l.contains(&sqs_id));
    assert!(counted, "EmailSuppressed was counted for {sqs_id}");
}

#[tokio::test]
async fn a_transient_bounce_is_only_logged_and_mail_continues() {
    let world = World::new().await;
    let raw = bounce(&world.to, "Transient").to_string();
    let response = feedback(&world, vec![record("fb-2", raw)]).await;
    assert!(failures(&response).is_empty());
    let response = world.handle(vec![json_record("sqs-2", &world.welcome("Ada"))]).await;
    assert!(failures(&response).is_empty(), "{response:?}");
    assert_eq!(world.inbox().await.len(), 1, "a transient bounce does not suppress");
}

#[tokio::test]
async fn a_complaint_in_the_notification_format_suppresses() {
    let world = World::new().await;
    let complaint = json!({"notificationType": "Complaint",
        "complaint": {"feedbackId": "c-1", "complaintFeedbackType": "abuse", "complainedRecipients": [{"emailAddress": world.to}],
            "timestamp": "2026-12-06T03:00:00.000Z"},
        "mail": {"messageId": "m-1", "destination": [world.to]}});
    let response = feedback(&world, vec![record("fb-3", complaint.to_string())]).await;
    assert!(failures(&response).is_empty());
    world.handle(vec![json_record("sqs-3", &world.welcome("Ada"))]).await;
    assert!(world.inbox().await.is_empty(), "a complaint suppresses");
}

#[tokio::test]
async fn malformed_feedback_is_skipped_with_a_log_and_the_batch_goes_on() {
    let world = World::new().await;
    let response = feedback(
        &world,
        vec![
            record("bad-1", "not json at all"),
            record("bad-2", r#"{"Type":"Notification","Message":"{truncated"}"#),
            record("bad-3", json!({"eventType": "Bounce"}).to_string()),
            record("good", sns_notice(bounce(&world.to, "Permanent"))),
        ],
    )
    .await;
    assert!(failures(&response).is_empty(), "unreadable notices are not retried: {response:?}");
    assert!(logs().contains("feedback notice skipped"));
    world.handle(vec![json_record("sqs-4", &world.welcome("Ada"))]).await;
    assert!(world.inbox().await.is_empty(), "the readable notice of the batch still suppressed");
}
