//! The transactional outbox relay (orders, payments): events written in the same transaction as
//! the state change they describe are published to the function's SNS topic (→ one SQS queue per
//! consumer) right after the commit, and by a scheduled sweep for anything a failed or
//! interrupted publish left. At least once: a crash between the publish and the mark publishes
//! again, and every consumer acts once per event id.
//!
//! Each function keeps its outbox rows in its own database and implements [`OutboxStore`] over
//! them; the relay here owns the publishing.

use std::future::Future;

use aws_sdk_sns::types::{MessageAttributeValue, PublishBatchRequestEntry};
use serde_json::Value;
use uuid::Uuid;

use crate::events::{Envelope, Event};

/// SNS takes at most 10 messages per `PublishBatch`.
const BATCH: usize = 10;
/// The sweep leaves events younger than this to the publish after commit.
pub const SWEEP_AGE: time::Duration = time::Duration::seconds(10);
/// The publish after a commit gives up after this: the events are durable in the outbox, so a
/// slow topic must not hold the caller's request (the sweep publishes them; a publish that did
/// land meanwhile is a duplicate the consumers drop by event id).
const FLUSH_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(1_000);

/// An event to write with a state change: `(id, kind, envelope JSON)`.
#[derive(Debug, Clone)]
pub struct OutboxEvent {
    pub id: Uuid,
    pub kind: &'static str,
    pub body: Value,
}

impl OutboxEvent {
    /// The event in its envelope, `source` naming the publishing function.
    pub fn new<T: Event>(source: &str, data: T) -> Result<Self, serde_json::Error> {
        let envelope = Envelope::new(source, data);
        let body = serde_json::to_value(&envelope)?;
        Ok(Self { id: envelope.id, kind: T::KIND, body })
    }
}

/// A stored outbox row to publish.
#[derive(Debug, Clone)]
pub struct Pending {
    pub id: Uuid,
    pub kind: String,
    pub body: Value,
}

/// A function's outbox rows.
pub trait OutboxStore: Sync {
    type Error: std::error::Error + Send + Sync + 'static;
    /// Rows never published, created before `older_than`, oldest first.
    fn unpublished(&self, older_than: time::OffsetDateTime, limit: i64) -> impl Future<Output = Result<Vec<Pending>, Self::Error>> + Send;
    /// Marks rows published (once).
    fn mark_published(&self, ids: &[Uuid]) -> impl Future<Output = Result<(), Self::Error>> + Send;
    /// Counts a failed attempt on rows.
    fn mark_failed(&self, ids: &[Uuid]) -> impl Future<Output = Result<(), Self::Error>> + Send;
}

#[derive(Debug, Clone)]
pub struct Relay {
    sns: aws_sdk_sns::Client,
    topic_arn: String,
    /// The function's name in metrics and logs.
    source: &'static str,
}

impl Relay {
    /// Readiness: the topic answers (`shop_core::health`).
    pub fn probe(&self) -> shop_core::health::Probe {
        crate::health::sns_topic(&self.sns, &self.topic_arn)
    }

    pub fn new(sns: aws_sdk_sns::Client, topic_arn: impl Into<String>, source: &'static str) -> Self {
        Self { sns, topic_arn: topic_arn.into(), source }
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

    async fn relay<S: OutboxStore>(&self, store: &S, events: Vec<Pending>) -> Result<usize, S::Error> {
        if events.is_empty() {
            return Ok(0);
        }
        let (sent, failed) = self.publish(&events).await;
        store.mark_published(&sent).await?;
        store.mark_failed(&failed).await?;
        if !failed.is_empty() {
            shop_core::metrics::count(self.source, "OutboxPublishFailed");
        }
        Ok(sent.len())
    }

    /// Publishes the events a commit just wrote (they are in hand: no read of the outbox) about
    /// `subject` (an order id, for the logs). Failures are logged: the sweep publishes what is left.
    pub async fn flush<S: OutboxStore>(&self, store: &S, subject: Uuid, events: &[OutboxEvent]) {
        let pending = events.iter().map(|e| Pending { id: e.id, kind: e.kind.to_owned(), body: e.body.clone() }).collect();
        let flush = self.relay(store, pending);
        match tokio::time::timeout(FLUSH_TIMEOUT, flush).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                tracing::warn!(error = %shop_core::problem::ErrorChain(&e), order_id = %subject, "outbox flush failed; the sweep publishes it");
            }
            Err(_) => {
                shop_core::metrics::count(self.source, "OutboxFlushTimedOut");
                tracing::warn!(order_id = %subject, "outbox flush timed out; the sweep publishes it");
            }
        }
    }

    /// Publishes every event left unpublished for longer than [`SWEEP_AGE`], in batches of
    /// `limit`, until none is left or a batch fails entirely.
    pub async fn sweep<S: OutboxStore>(&self, store: &S, limit: i64) -> Result<usize, S::Error> {
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
