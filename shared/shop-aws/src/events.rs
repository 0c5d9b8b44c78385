//! The envelope of every message on a Skyshop queue, and its publisher.
//!
//! Consumers process each message at most once by `id`; `type` names a past-tense event
//! (`PasswordResetRequested`) and selects the handler.

use aws_sdk_sqs::Client as SqsClient;
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use shop_core::time::Timestamp;
use uuid::Uuid;

/// `{id, type, source, occurredAt, data}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Envelope<T> {
    /// Unique message id (UUIDv7); the consumer's idempotency key.
    pub id: Uuid,
    /// Event name, e.g. `UserRegistered`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The function that published it.
    pub source: String,
    pub occurred_at: Timestamp,
    pub data: T,
}

/// An event payload with its name.
pub trait Event: Serialize + DeserializeOwned {
    const KIND: &'static str;
}

impl<T: Event> Envelope<T> {
    pub fn new(source: &str, data: T) -> Self {
        Self { id: shop_core::id::new_id(), kind: T::KIND.to_owned(), source: source.to_owned(), occurred_at: Timestamp::now(), data }
    }
}

/// Sends envelopes to one SQS queue.
#[derive(Debug, Clone)]
pub struct Publisher {
    client: SqsClient,
    queue_url: String,
    source: &'static str,
}

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("could not serialize the event")]
    Serialize(#[from] serde_json::Error),
    #[error("SQS SendMessage failed")]
    Send(#[from] aws_sdk_sqs::Error),
}

impl Publisher {
    /// Readiness: the queue answers (`shop_core::health`).
    pub fn probe(&self) -> shop_core::health::Probe {
        crate::health::sqs_queue(&self.client, &self.queue_url)
    }

    pub fn new(client: SqsClient, queue_url: impl Into<String>, source: &'static str) -> Self {
        Self { client, queue_url: queue_url.into(), source }
    }

    pub fn queue_url(&self) -> &str {
        &self.queue_url
    }

    /// Publishes one event; returns its message id.
    #[tracing::instrument(skip_all, fields(kind = T::KIND))]
    pub async fn publish<T: Event>(&self, data: T) -> Result<Uuid, PublishError> {
        self.publish_with_id(shop_core::id::new_id(), data).await
    }

    /// Publishes one event under `id`. A deterministic id (derived from what happened, e.g. a
    /// UUIDv5 of the item and its version) makes a retried publish a duplicate the consumer
    /// drops (consumers process each id at most once).
    #[tracing::instrument(skip_all, fields(kind = T::KIND, id = %id))]
    pub async fn publish_with_id<T: Event>(&self, id: Uuid, data: T) -> Result<Uuid, PublishError> {
        let envelope = Envelope { id, ..Envelope::new(self.source, data) };
        let body = serde_json::to_string(&envelope)?;
        self.client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(body)
            .message_attributes(
                "type",
                aws_sdk_sqs::types::MessageAttributeValue::builder()
                    .data_type("String")
                    .string_value(T::KIND)
                    .build()
                    .map_err(aws_sdk_sqs::Error::from)?,
            )
            .send()
            .await
            .map_err(aws_sdk_sqs::Error::from)?;
        Ok(envelope.id)
    }
}
