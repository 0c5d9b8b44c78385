//! The outbox relay: events written with a state change are published to the order events
//! topic (SNS → one SQS queue per consumer) right after the commit, and by the minute sweep for
//! anything a failed or interrupted publish left. At least once: a crash between the publish
//! and the mark publishes again, and every consumer acts once per event id.

use aws_sdk_sns::types::{MessageAttributeValue, PublishBatchRequestEntry};
use uuid::Uuid;

use crate::store::{OutboxEvent, Pending, Store, StoreError};

/// SNS takes at most 10 messages per `PublishBatch`.
const BATCH: usize = 10;
/// The sweep leaves events younger than this to the publish after commit.
pub const SWEEP_AGE: time::Duration = time::Duration::seconds(10);
/// The publish after a commit gives up after this: the events are durable in the outbox, so a
/// slow topic must not hold the buyer's request (the sweep publishes them; a publish that did
/// land meanwhile is a duplicate the consumers drop by event id).
const FLUSH_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(1_000);

#[derive(Debug, Clone)]
pub struct Relay {
    sns: aws_sdk_sns::Client,
    topic_arn: String,
}

impl Relay {
    pub fn new(sns: aws_sdk_sns::Client, topic_arn: impl Into<String>) -> Self {
        Self { sns, topic_arn: topic_arn.into() }
    }

    /// Publishes `events`; returns the ids SNS accepted and those it did not.
    async fn publish(&self, events: &[Pending]) -> (Vec<Uuid>, Vec<Uuid>) {
        let (mut sent, mut failed) = (Vec::new(), Vec::new());
        for chunk in events.chunks(BATCH) {
            let entries: Result<Vec<_>, _> = chunk
                .iter()
                .map(|e| {
                    let kind = MessageAttributeValue::builder().data_type("String").string_value(&e.kind).build()?;
                    PublishBatchRequestEntry::builder()
                        .id(e.id.simple().to_string())
                        .message(e.body.to_string())
                        .message_attributes("type", kind)
                        .build()
                })
                .collect();
            let result = match entries {
                Ok(entries) => {
                    self.sns.publish_batch().topic_arn(&self.topic_arn).set_publish_batch_request_entries(Some(entries)).send().await
                }
                Err(e) => {
                    tracing::error!(error = %e, "could not build the SNS batch");
                    failed.extend(chunk.iter().map(|e| e.id));
                    continue;
                }
            };
            match result {
                Ok(output) => {
                    let refused: Vec<String> = output.failed().iter().map(|f| f.id().to_owned()).collect();
                    for e in chunk {
                        if refused.contains(&e.id.simple().to_string()) {
                            failed.push(e.id);
                        } else {
                            sent.push(e.id);
                        }
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %shop_core::problem::ErrorChain(&e), events = chunk.len(), "SNS publish failed; the sweep retries");
                    failed.extend(chunk.iter().map(|e| e.id));
                }
            }
        }
        (sent, failed)
    }

    async fn relay(&self, store: &Store, events: Vec<Pending>) -> Result<usize, StoreError> {
        if events.is_empty() {
            return Ok(0);
        }
        let (sent, failed) = self.publish(&events).await;
        store.mark_published(&sent).await?;
        store.mark_failed(&failed).await?;
        if !failed.is_empty() {
            shop_core::metrics::count(crate::CALLER, "OutboxPublishFailed");
        }
        Ok(sent.len())
    }

    /// Publishes the events a commit just wrote (they are in hand: no read of the outbox).
    /// Failures are logged: the sweep publishes what is left.
    pub async fn flush(&self, store: &Store, order: Uuid, events: &[OutboxEvent]) {
        let pending = events.iter().map(|e| Pending { id: e.id, kind: e.kind.to_owned(), body: e.body.clone() }).collect();
        let flush = self.relay(store, pending);
        match tokio::time::timeout(FLUSH_TIMEOUT, flush).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                tracing::warn!(error = %shop_core::problem::ErrorChain(&e), order_id = %order, "outbox flush failed; the sweep publishes it");
            }
            Err(_) => {
                shop_core::metrics::count(crate::CALLER, "OutboxFlushTimedOut");
                tracing::warn!(order_id = %order, "outbox flush timed out; the sweep publishes it");
            }
        }
    }

    /// Publishes every event left unpublished for longer than [`SWEEP_AGE`], in batches of
    /// `limit`, until none is left or a batch fails entirely.
    pub async fn sweep(&self, store: &Store, limit: i64) -> Result<usize, StoreError> {
        let mut total = 0;
        loop {
            let due = store.unpublished(time::OffsetDateTime::now_utc() - SWEEP_AGE, limit).await?;
            let n = due.len();
            let sent = self.relay(store, due).await?;
            total += sent;
            if sent == 0 || (n as i64) < limit {
                return Ok(total);
            }
        }
    }
}
