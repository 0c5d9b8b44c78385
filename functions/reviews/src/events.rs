//! The `reviews-events` function: `ReviewsTable`'s stream → the catalog.
//!
//! Per record, in order (summary items only — the template's `FilterCriteria` drops reviews,
//! guards and votes, and so does the handler): `PUT /internal/products/{id}/rating {average,
//! count, version}` on the catalog with the summary's new counts. The catalog keeps a rating
//! only if its version is newer than the one it holds, so a retried or reordered delivery never
//! takes a product's rating back. A refusal by the catalog (4xx: the product is unknown) is
//! logged and skipped; anything else fails the record and the rest of the batch
//! (`ReportBatchItemFailures`); after `MaximumRetryAttempts` Lambda describes the batch on
//! `ReviewsEventsDLQ`.

use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use serde_json::Value;
use shop_aws::streams::{StreamEvent, event_name, image, sequence_number, string_key};
use shop_core::problem::ErrorChain;
use uuid::Uuid;

use crate::clients::{Catalog, RatingUpdate};
use crate::config::EventsConfig;
use crate::domain::Summary;
use crate::store::SUMMARY_SK;

/// Why an invocation failed.
#[derive(Debug, thiserror::Error)]
pub enum EventsError {
    #[error("unrecognised event: {0}")]
    BadEvent(String),
}

/// Why one record failed (it and the records after it are retried).
#[derive(Debug, thiserror::Error)]
enum RecordError {
    #[error("the record's NewImage is not a summary")]
    Decode(#[from] shop_aws::streams::ImageError),
    #[error("the record's key names no product")]
    Key,
    #[error("the catalog is unavailable")]
    Catalog(#[source] shop_internal::CallError),
}

/// The rating the catalog shows for a summary.
pub fn rating_of(summary: &Summary) -> RatingUpdate {
    RatingUpdate { average: summary.average(), count: summary.total(), version: summary.version }
}

#[derive(Clone, Debug)]
pub struct Events {
    catalog: Catalog,
}

impl Events {
    pub fn new(catalog: Catalog) -> Self {
        Self { catalog }
    }

    pub fn from_config(config: &EventsConfig, sdk: &aws_config::SdkConfig) -> Self {
        Self::new(Catalog::new(shop_internal::InternalClient::new(sdk, &config.catalog_function, crate::CALLER)))
    }

    /// A stream batch (`{"Records": [...]}`) → its `batchItemFailures`.
    pub async fn invoke(&self, payload: Value) -> Result<Value, EventsError> {
        if payload.get("Records").is_none() {
            return Err(EventsError::BadEvent(r#"expected a DynamoDB stream batch {"Records": [...]}"#.into()));
        }
        let event: StreamEvent =
            serde_json::from_value(payload).map_err(|e| EventsError::BadEvent(format!("a stream batch needs a Records array ({e})")))?;
        let response = self.handle_stream(event).await;
        serde_json::to_value(response).map_err(|e| EventsError::BadEvent(e.to_string()))
    }

    #[tracing::instrument(skip_all, fields(records = event.records.len()))]
    pub async fn handle_stream(&self, event: StreamEvent) -> DynamoDbEventResponse {
        let records = event.records;
        let mut first_failed = None;
        let mut sent = 0usize;
        for (index, record) in records.iter().enumerate() {
            match self.apply(record).await {
                Ok(done) => sent += usize::from(done),
                Err(err) => {
                    tracing::error!(
                        sequence_number = sequence_number(record).unwrap_or_default(),
                        error = %ErrorChain(&err),
                        "stream record failed; it and the rest of the batch will be retried"
                    );
                    first_failed = Some(index);
                    break;
                }
            }
        }
        let mut response = DynamoDbEventResponse::default();
        if let Some(from) = first_failed {
            for record in &records[from..] {
                let mut failure = DynamoDbBatchItemFailure::default();
                failure.item_identifier = Some(sequence_number(record).unwrap_or_default());
                response.batch_item_failures.push(failure);
            }
        }
        tracing::info!(sent, failed = response.batch_item_failures.len(), "stream batch applied");
        response
    }

    /// Sends one summary change to the catalog; `false` when the record is not one.
    async fn apply(&self, record: &Value) -> Result<bool, RecordError> {
        if string_key(record, "sk") != Some(SUMMARY_SK) || event_name(record) == "REMOVE" {
            return Ok(false);
        }
        let product_id = string_key(record, "pk")
            .and_then(|pk| pk.strip_prefix("PRODUCT#"))
            .and_then(|id| Uuid::parse_str(id).ok())
            .ok_or(RecordError::Key)?;
        let Some(summary) = image::<Summary>(record, "NewImage")? else { return Ok(false) };
        match self.catalog.set_rating(product_id, &rating_of(&summary)).await {
            Ok(()) => Ok(true),
            Err(err) if err.status().is_some_and(|s| s.is_client_error()) => {
                tracing::warn!(product_id = %product_id, error = %ErrorChain(&err), "the catalog refused a rating update");
                Ok(false)
            }
            Err(err) => Err(RecordError::Catalog(err)),
        }
    }
}

/// [`Events`] built on the first event (init reads configuration only).
#[derive(Clone, Debug)]
pub struct LazyEvents(shop_aws::config::Lazy<EventsConfig, Events>);

impl LazyEvents {
    /// Loads the SDK configuration from the environment on first use.
    pub fn new(config: EventsConfig) -> Self {
        Self(shop_aws::config::Lazy::new(config))
    }

    /// Uses `sdk` (the local runner's stand-in endpoints).
    pub fn with_sdk(config: EventsConfig, sdk: aws_config::SdkConfig) -> Self {
        Self(shop_aws::config::Lazy::with_sdk(config, sdk))
    }

    /// [`Events::invoke`] on the lazily built handler.
    pub async fn invoke(&self, payload: Value) -> Result<Value, EventsError> {
        let events = self.0.get(|config, sdk| async move { Ok::<_, EventsError>(Events::from_config(config, &sdk)) }).await?;
        events.invoke(payload).await
    }
}
