//! DynamoDB stream and schedule event sources, delivered as Lambda delivers them.
//!
//! Streams: every shard of the table's stream is read in order (`GetRecords`), records are
//! batched into a `DynamoDBEvent` (`{"Records": [{eventName, dynamodb: {Keys, NewImage,
//! OldImage, SequenceNumber, ...}}]}`) and handed to the function. With
//! `ReportBatchItemFailures` the batch is retried from the first failed sequence number; after
//! `MaximumRetryAttempts` the batch is skipped and, when the mapping has an on-failure
//! destination, a failure record is sent to that queue — as Lambda does.
//!
//! Schedules: `rate(N unit)` expressions fire an EventBridge "Scheduled Event".

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_dynamodbstreams::types::{AttributeValue, Record, ShardIteratorType};
use base64::Engine;
use serde_json::{Map, Value, json};

use crate::functions::EventHandler;

/// One stream → function mapping.
#[derive(Clone, Debug)]
pub struct StreamSource {
    pub function: String,
    pub stream_arn: String,
    pub batch_size: u32,
    pub report_batch_item_failures: bool,
    /// `TRIM_HORIZON` or `LATEST` (where reading starts on shards that exist at start-up).
    pub starting_position: String,
    pub maximum_retry_attempts: u32,
    /// Queue URL of the on-failure destination.
    pub on_failure_queue: Option<String>,
    pub timeout: Duration,
}

/// DynamoDB JSON (`{"S": "x"}`) of a stream attribute value.
pub fn attribute_json(value: &AttributeValue) -> Value {
    let b64 = |b: &aws_sdk_dynamodbstreams::primitives::Blob| Value::String(base64::engine::general_purpose::STANDARD.encode(b.as_ref()));
    match value {
        AttributeValue::S(s) => json!({ "S": s }),
        AttributeValue::N(n) => json!({ "N": n }),
        AttributeValue::B(b) => json!({ "B": b64(b) }),
        AttributeValue::Bool(b) => json!({ "BOOL": b }),
        AttributeValue::Null(_) => json!({ "NULL": true }),
        AttributeValue::Ss(v) => json!({ "SS": v }),
        AttributeValue::Ns(v) => json!({ "NS": v }),
        AttributeValue::Bs(v) => json!({ "BS": v.iter().map(b64).collect::<Vec<_>>() }),
        AttributeValue::L(v) => json!({ "L": v.iter().map(attribute_json).collect::<Vec<_>>() }),
        AttributeValue::M(m) => json!({ "M": item_json(m) }),
        _ => Value::Null,
    }
}

fn item_json(item: &std::collections::HashMap<String, AttributeValue>) -> Value {
    Value::Object(item.iter().map(|(k, v)| (k.clone(), attribute_json(v))).collect::<Map<_, _>>())
}

/// The Lambda `DynamoDBEvent` record of a stream record.
pub fn record_json(record: &Record, stream_arn: &str) -> Value {
    let mut dynamodb = Map::new();
    if let Some(s) = record.dynamodb() {
        if let Some(keys) = s.keys() {
            dynamodb.insert("Keys".into(), item_json(keys));
        }
        if let Some(new) = s.new_image() {
            dynamodb.insert("NewImage".into(), item_json(new));
        }
        if let Some(old) = s.old_image() {
            dynamodb.insert("OldImage".into(), item_json(old));
        }
        if let Some(seq) = s.sequence_number() {
            dynamodb.insert("SequenceNumber".into(), json!(seq));
        }
        if let Some(size) = s.size_bytes() {
            dynamodb.insert("SizeBytes".into(), json!(size));
        }
        if let Some(view) = s.stream_view_type() {
            dynamodb.insert("StreamViewType".into(), json!(view.as_str()));
        }
        if let Some(at) = s.approximate_creation_date_time() {
            dynamodb.insert("ApproximateCreationDateTime".into(), json!(at.secs()));
        }
    }
    json!({
        "eventID": record.event_id(),
        "eventName": record.event_name().map(|n| n.as_str()),
        "eventVersion": record.event_version().unwrap_or("1.1"),
        "eventSource": "aws:dynamodb",
        "awsRegion": record.aws_region().unwrap_or("us-east-1"),
        "dynamodb": dynamodb,
        "eventSourceARN": stream_arn,
    })
}

fn sequence(record: &Record) -> String {
    record.dynamodb().and_then(|d| d.sequence_number()).unwrap_or_default().to_owned()
}

/// Reads the stream until `stop` resolves (forever in the runner).
pub async fn run(client: aws_sdk_dynamodbstreams::Client, sqs: aws_sdk_sqs::Client, source: StreamSource, handler: EventHandler) {
    // Shard id → next iterator (None once the shard is closed and drained).
    let mut iterators: BTreeMap<String, Option<String>> = BTreeMap::new();
    let mut first_describe = true;
    loop {
        if let Err(e) = poll_shards(&client, &sqs, &source, &handler, &mut iterators, first_describe).await {
            tracing::warn!(function = %source.function, error = %e, "stream poll failed");
        }
        first_describe = false;
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// One pass over every shard. Public for tests.
pub async fn poll_shards(
    client: &aws_sdk_dynamodbstreams::Client,
    sqs: &aws_sdk_sqs::Client,
    source: &StreamSource,
    handler: &EventHandler,
    iterators: &mut BTreeMap<String, Option<String>>,
    at_start: bool,
) -> Result<usize, String> {
    let description = client.describe_stream().stream_arn(&source.stream_arn).send().await.map_err(|e| format!("{e:?}"))?;
    let shards = description.stream_description().map(|d| d.shards().to_vec()).unwrap_or_default();
    for shard in &shards {
        let Some(id) = shard.shard_id() else { continue };
        if iterators.contains_key(id) {
            continue;
        }
        // Shards present at start-up begin at the mapping's starting position; later ones at their start.
        let kind =
            if at_start && source.starting_position == "LATEST" { ShardIteratorType::Latest } else { ShardIteratorType::TrimHorizon };
        let it = client
            .get_shard_iterator()
            .stream_arn(&source.stream_arn)
            .shard_id(id)
            .shard_iterator_type(kind)
            .send()
            .await
            .map_err(|e| format!("{e:?}"))?;
        iterators.insert(id.to_owned(), it.shard_iterator().map(str::to_owned));
    }
    let mut delivered = 0;
    let ids: Vec<String> = iterators.keys().cloned().collect();
    for id in ids {
        let Some(Some(iterator)) = iterators.get(&id).cloned() else { continue };
        let page = client
            .get_records()
            .shard_iterator(&iterator)
            .limit(source.batch_size.clamp(1, 1000) as i32)
            .send()
            .await
            .map_err(|e| format!("{e:?}"))?;
        let records = page.records().to_vec();
        if !records.is_empty() {
            deliver(sqs, source, handler, &records).await;
            delivered += records.len();
        }
        iterators.insert(id, page.next_shard_iterator().map(str::to_owned));
    }
    Ok(delivered)
}

/// Hands `records` to the function with retries; returns when they are processed or skipped.
async fn deliver(sqs: &aws_sdk_sqs::Client, source: &StreamSource, handler: &EventHandler, records: &[Record]) {
    let mut pending: Vec<Record> = records.to_vec();
    let mut attempt = 0;
    while !pending.is_empty() {
        let event = json!({ "Records": pending.iter().map(|r| record_json(r, &source.stream_arn)).collect::<Vec<_>>() });
        let result = tokio::time::timeout(source.timeout, handler(event)).await.unwrap_or_else(|_| Err("function timed out".into()));
        let failed_from = match result {
            Ok(response) if source.report_batch_item_failures => response["batchItemFailures"]
                .as_array()
                .and_then(|f| f.iter().filter_map(|x| x["itemIdentifier"].as_str()).min().map(str::to_owned)),
            Ok(_) => None,
            Err(e) => {
                tracing::error!(function = %source.function, error = %e, "stream batch failed");
                pending.first().map(sequence)
            }
        };
        let Some(from) = failed_from else { return };
        attempt += 1;
        if attempt > source.maximum_retry_attempts {
            tracing::error!(function = %source.function, records = pending.len(), "stream batch skipped after retries");
            if let Some(queue) = &source.on_failure_queue {
                let failure = json!({
                    "requestContext": {"condition": "RetryAttemptsExhausted", "approximateInvokeCount": attempt},
                    "DDBStreamBatchInfo": {
                        "streamArn": source.stream_arn,
                        "startSequenceNumber": pending.first().map(sequence),
                        "endSequenceNumber": pending.last().map(sequence),
                        "batchSize": pending.len(),
                    }
                });
                let _ = sqs.send_message().queue_url(queue).message_body(failure.to_string()).send().await;
            }
            return;
        }
        // Retry from the first failed record (records before it succeeded).
        pending.retain(|r| sequence(r) >= from);
    }
}

/// The period of a `rate(...)` schedule expression.
pub fn rate_period(expression: &str) -> Option<Duration> {
    let inner = expression.strip_prefix("rate(")?.strip_suffix(')')?;
    let (n, unit) = inner.trim().split_once(' ')?;
    let n: u64 = n.parse().ok().filter(|n| *n > 0)?;
    let secs = match unit.trim() {
        "minute" | "minutes" => 60,
        "hour" | "hours" => 3600,
        "day" | "days" => 86_400,
        _ => return None,
    };
    Some(Duration::from_secs(n * secs))
}

/// The EventBridge event a schedule delivers.
pub fn scheduled_event(rule: &str) -> Value {
    let now = time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339).unwrap_or_default();
    json!({
        "version": "0",
        "id": uuid::Uuid::now_v7().to_string(),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": now,
        "region": "us-east-1",
        "resources": [format!("arn:aws:events:us-east-1:123456789012:rule/{rule}")],
        "detail": {}
    })
}

/// Fires `handler` every `period` (first after one period).
pub async fn run_schedule(function: String, rule: String, period: Duration, handler: EventHandler) {
    let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    loop {
        ticker.tick().await;
        if let Err(e) = handler(scheduled_event(&rule)).await {
            tracing::error!(function = %function, error = %e, "scheduled invocation failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_expressions() {
        assert_eq!(rate_period("rate(1 minute)"), Some(Duration::from_secs(60)));
        assert_eq!(rate_period("rate(5 minutes)"), Some(Duration::from_secs(300)));
        assert_eq!(rate_period("rate(2 hours)"), Some(Duration::from_secs(7200)));
        assert_eq!(rate_period("rate(0 minutes)"), None);
        assert_eq!(rate_period("cron(0 12 * * ? *)"), None);
    }

    #[test]
    fn scheduled_events_look_like_eventbridge() {
        let e = scheduled_event("expire");
        assert_eq!(e["detail-type"], "Scheduled Event");
        assert_eq!(e["source"], "aws.events");
    }
}
