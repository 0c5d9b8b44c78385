use std::time::Duration;

use aws_sdk_sqs::types::QueueAttributeName;
use local_runner::pollers::{SqsSource, poll_once, queue_arn};
use serde_json::json;

use crate::helpers::start;

/// Partial batch failures: the good message is deleted, the bad one is retried and, after
/// `maxReceiveCount` receives, redriven to the DLQ.
#[tokio::test]
async fn failed_records_are_retried_then_redriven_to_the_dlq() {
    let app = start(false).await;
    let (_, handler) = app.cloud.sqs_sources.iter().find(|(s, _)| s.function == "NotificationsFunction").cloned().unwrap();
    let sqs = aws_sdk_sqs::Client::new(shop_testkit::sdk().await);
    let dlq = sqs.create_queue().queue_name(shop_testkit::unique("dlq")).send().await.unwrap().queue_url.unwrap();
    let dlq_arn = queue_arn(&sqs, &dlq).await;
    let queue = sqs
        .create_queue()
        .queue_name(shop_testkit::unique("q"))
        .attributes(QueueAttributeName::VisibilityTimeout, "0")
        .attributes(QueueAttributeName::RedrivePolicy, json!({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "2"}).to_string())
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let source = SqsSource {
        function: "NotificationsFunction".into(),
        queue_url: queue.clone(),
        queue_arn: queue_arn(&sqs, &queue).await,
        batch_size: 10,
        report_batch_item_failures: true,
        timeout: Duration::from_secs(30),
    };
    let good = json!({"id": uuid::Uuid::now_v7(), "type": "UserRegistered", "source": "test", "occurredAt": "2026-11-25T12:00:00Z",
        "data": {"userId": uuid::Uuid::now_v7(), "email": format!("{}@example.com", shop_testkit::unique("sqs")), "firstName": "Ada"}});
    sqs.send_message().queue_url(&queue).message_body(good.to_string()).send().await.unwrap();
    sqs.send_message().queue_url(&queue).message_body("not json").send().await.unwrap();

    let mut received = 0;
    for _ in 0..6 {
        received += poll_once(&sqs, &source, &handler, 0).await.unwrap();
    }
    assert!(received >= 3, "the bad message was received again after failing ({received} receives)");
    let left = shop_testkit::drain(&sqs, &queue).await;
    assert!(left.is_empty(), "nothing stays on the source queue: {left:?}");
    let dead = sqs.receive_message().queue_url(&dlq).max_number_of_messages(10).send().await.unwrap().messages.unwrap_or_default();
    assert_eq!(dead.len(), 1, "only the bad message is dead-lettered");
    assert_eq!(dead[0].body(), Some("not json"));
}
