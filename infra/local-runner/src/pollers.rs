//! SQS event sources, delivered as Lambda's event source mapping delivers them.
//!
//! Long-poll the queue, hand the batch to the function as an `SqsEvent`, then delete what
//! succeeded. With `ReportBatchItemFailures` only the records named in `batchItemFailures` stay
//! (visible again after the visibility timeout); without it, any error keeps the whole batch. The
//! queue's redrive policy moves a message to its DLQ after `maxReceiveCount` receives.

use std::collections::HashSet;
use std::time::Duration;

use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};
use serde_json::{Map, Value, json};

use crate::functions::EventHandler;

/// One SQS → function mapping.
#[derive(Clone)]
pub struct SqsSource {
    pub function: String,
    pub queue_url: String,
    pub queue_arn: String,
    pub batch_size: u32,
    pub report_batch_item_failures: bool,
    pub timeout: Duration,
}

/// Builds the Lambda `SqsEvent` JSON for received messages.
pub fn sqs_event(messages: &[aws_sdk_sqs::types::Message], queue_arn: &str) -> Value {
    let records: Vec<Value> = messages
        .iter()
        .map(|m| {
            let mut attributes = Map::new();
            for (k, v) in m.attributes().into_iter().flatten() {
                attributes.insert(k.as_str().to_owned(), Value::String(v.clone()));
            }
            let mut message_attributes = Map::new();
            for (k, v) in m.message_attributes().into_iter().flatten() {
                message_attributes.insert(
                    k.clone(),
                    json!({"stringValue": v.string_value(), "dataType": v.data_type(), "stringListValues": [], "binaryListValues": []}),
                );
            }
            json!({
                "messageId": m.message_id(),
                "receiptHandle": m.receipt_handle(),
                "body": m.body(),
                "attributes": attributes,
                "messageAttributes": message_attributes,
                "md5OfBody": m.md5_of_body(),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": "us-east-1",
            })
        })
        .collect();
    json!({ "Records": records })
}

/// Receives one batch and delivers it. Returns how many messages were received.
pub async fn poll_once(sqs: &aws_sdk_sqs::Client, source: &SqsSource, handler: &EventHandler, wait_secs: i32) -> Result<usize, String> {
    let received = sqs
        .receive_message()
        .queue_url(&source.queue_url)
        .max_number_of_messages(source.batch_size.clamp(1, 10) as i32)
        .wait_time_seconds(wait_secs)
        .message_system_attribute_names(MessageSystemAttributeName::All)
        .message_attribute_names("All")
        .send()
        .await
        .map_err(|e| format!("{e:?}"))?;
    let messages = received.messages.unwrap_or_default();
    if messages.is_empty() {
        return Ok(0);
    }
    let event = sqs_event(&messages, &source.queue_arn);
    let result = tokio::time::timeout(source.timeout, handler(event)).await.unwrap_or_else(|_| Err("function timed out".into()));
    let failed: HashSet<String> = match result {
        Ok(response) if source.report_batch_item_failures => response["batchItemFailures"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|f| f["itemIdentifier"].as_str().map(str::to_owned))
            .collect(),
        Ok(_) => HashSet::new(),
        Err(e) => {
            tracing::error!(function = %source.function, error = %e, "batch failed; every message will be retried");
            messages.iter().filter_map(|m| m.message_id().map(str::to_owned)).collect()
        }
    };
    for m in &messages {
        if failed.contains(m.message_id().unwrap_or_default()) {
            continue;
        }
        if let Some(handle) = m.receipt_handle()
            && let Err(e) = sqs.delete_message().queue_url(&source.queue_url).receipt_handle(handle).send().await
        {
            tracing::warn!(error = ?e, "could not delete a processed message");
        }
    }
    tracing::info!(function = %source.function, received = messages.len(), failed = failed.len(), "sqs batch delivered");
    Ok(messages.len())
}

/// Polls forever.
pub async fn run(sqs: aws_sdk_sqs::Client, source: SqsSource, handler: EventHandler) {
    loop {
        if let Err(e) = poll_once(&sqs, &source, &handler, 1).await {
            tracing::warn!(function = %source.function, error = %e, "sqs poll failed");
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
}

/// The queue's ARN (for the event's `eventSourceARN`).
pub async fn queue_arn(sqs: &aws_sdk_sqs::Client, url: &str) -> String {
    sqs.get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .ok()
        .and_then(|a| a.attributes().and_then(|m| m.get(&QueueAttributeName::QueueArn)).cloned())
        .unwrap_or_default()
}
