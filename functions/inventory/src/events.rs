//! The `inventory-events` function: `InventoryTable`'s stream, the expiry schedule and the
//! order events.
//!
//! **Stream** ([`Events::handle_stream`], stock items only — the template's `FilterCriteria`
//! drops reservations and audit entries, and so does the handler): per record, in order,
//!
//! 1. when what the catalog shows changed ([`Visible`]: `inStock`, `available` while at or below
//!    the threshold, the threshold), `PUT /internal/products/{id}/availability` on the catalog;
//! 2. when `available` crossed from above the threshold to at or below it, `StockLow` on
//!    `NotificationsQueue` with the envelope id UUIDv5(productId:version) — a retried batch
//!    publishes the same id, which the notifications function sends at most once;
//! 3. the sparse low-stock index flag is made to agree with the row (after reservations, which
//!    change stock relatively).
//!
//! Every step is idempotent, so a retry from the first failed record is safe. The response
//! reports failures the `ReportBatchItemFailures` way: every record from the first failure on;
//! after `MaximumRetryAttempts` Lambda sends the batch's description to `InventoryEventsDLQ`.
//!
//! **Schedule** (EventBridge `rate(1 minute)`, [`Events::expire_due`]): reservations past
//! their expiry go from `reserved` to `expired` and their units back to `available`, each in a
//! conditional transaction, so overlapping runs release a reservation exactly once.
//!
//! **Order events** (SQS records of envelopes `{id, type, source, occurredAt, data}`,
//! [`Events::handle_orders`]): `OrderConfirmed` commits the order's reservation (one already
//! released or expired is logged, counted as the EMF metric `CommitRefused` and acknowledged:
//! the payments work handles late payments; no reservation is logged and acknowledged);
//! `OrderCancelled` cancels it ([`Store::cancel_unless_renewed`]: released, or restocked once
//! committed; nothing when a late payment renewed the reservation after that cancellation);
//! `OrderRefunded` with `restock` puts the units back the same way, once (audit reason
//! `order_refunded`), without it changes nothing; any other type is acknowledged. Each is idempotent (the reservation's status moves once), so a
//! redelivered or concurrent duplicate changes nothing. A malformed body or a store failure
//! fails its record alone (`batchItemFailures` by SQS `messageId`; retried, then the queue's DLQ).

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use serde::Serialize;
use serde_json::Value;
use shop_aws::dynamo::Outcome;
use shop_aws::events::{Envelope, Event, Publisher};
use shop_aws::messages::StockLow;
use shop_aws::messages::orders::{OrderCancelled, OrderConfirmed, OrderRefunded};
use shop_aws::streams::{StreamEvent, event_name, image, raw_image, sequence_number, string_key};
use shop_core::problem::ErrorChain;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::clients::Catalog;
use crate::config::EventsConfig;
use crate::domain::{Stock, Visible};
use crate::store::{Cancellation, STOCK_SK, Store, StoreError, Transition};

/// Namespace of `StockLow` envelope ids (UUIDv5 of `<productId>:<version>`).
pub const STOCK_LOW_NAMESPACE: Uuid = Uuid::from_u128(0x6b1c_5e2a_9f4d_4c1e_8a37_2d5b_90e4_7f13);
/// Most reservations one scheduled run expires (the next run takes the rest).
pub const MAX_EXPIRED_PER_RUN: usize = 500;

/// The deterministic envelope id of the `StockLow` a stock change at `version` publishes.
pub fn stock_low_id(product_id: Uuid, version: u64) -> Uuid {
    Uuid::new_v5(&STOCK_LOW_NAMESPACE, format!("{product_id}:{version}").as_bytes())
}

/// What a stock change asks of the catalog and the notifications.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Effects {
    /// The catalog's view of the product changed.
    pub catalog: bool,
    /// `available` crossed from above the threshold to at or below it.
    pub stock_low: bool,
}

/// The effects of the change `old` → `new` (`old` is `None` for a new row: the catalog hears
/// of it, but starting low is not a crossing).
pub fn effects(old: Option<&Stock>, new: &Stock) -> Effects {
    let now = Visible::of(new.available, new.low_stock_threshold);
    match old {
        None => Effects { catalog: true, stock_low: false },
        Some(old) => {
            Effects { catalog: Visible::of(old.available, old.low_stock_threshold) != now, stock_low: !old.is_low() && new.is_low() }
        }
    }
}

/// Why an invocation failed.
#[derive(Debug, thiserror::Error)]
pub enum EventsError {
    #[error("unrecognised event: {0}")]
    BadEvent(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What one scheduled run did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExpiryReport {
    /// Reservations found past their expiry.
    pub due: usize,
    /// Released by this run.
    pub expired: usize,
}

/// Why one record failed (it and the records after it are retried).
#[derive(Debug, thiserror::Error)]
enum RecordError {
    #[error("the record's NewImage is not a stock row")]
    Decode(#[from] shop_aws::streams::ImageError),
    #[error("{0} record without NewImage (the stream must carry NEW_AND_OLD_IMAGES)")]
    NoImage(String),
    #[error("the catalog is unavailable")]
    Catalog(#[source] shop_internal::CallError),
    #[error("StockLow could not be published")]
    Publish(#[from] shop_aws::events::PublishError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What an order event did (the record is acknowledged).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderHandled {
    /// Committed now, or committed before.
    Committed,
    /// The reservation was released or expired (or is past its expiry): not committed.
    CommitRefused,
    /// Released or restocked now, or before.
    Cancelled,
    /// A cancellation from before a late payment renewed the reservation: nothing changed.
    Stale,
    /// A refunded order's units back (restocked or released now, or before).
    Restocked,
    /// A refunded order whose goods did not come back (`restock: false`): nothing changed.
    NotRestocked,
    /// The order has no reservation.
    NoReservation,
    /// A type inventory does not act on.
    Ignored,
}

/// Why an order event failed (it alone is retried).
#[derive(Debug, thiserror::Error)]
enum OrderError {
    /// Only serde's classification and position: its message may quote values.
    #[error("the body is not an order event ({category:?} error at line {line}, column {column})")]
    Malformed { category: serde_json::error::Category, line: usize, column: usize },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<serde_json::Error> for OrderError {
    fn from(err: serde_json::Error) -> Self {
        OrderError::Malformed { category: err.classify(), line: err.line(), column: err.column() }
    }
}

/// Longest `type` value put into logs (the body may be anything).
const MAX_LOGGED_KIND: usize = 64;

/// The stream consumer, the order-event consumer and the expiry job. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Events {
    store: Store,
    catalog: Catalog,
    publisher: Publisher,
}

impl Events {
    pub fn new(store: Store, catalog: Catalog, publisher: Publisher) -> Self {
        Self { store, catalog, publisher }
    }

    pub fn from_config(config: &EventsConfig, sdk: &aws_config::SdkConfig) -> Self {
        let catalog = Catalog::new(shop_internal::InternalClient::new(sdk, &config.base.catalog_function, crate::CALLER));
        let publisher = Publisher::new(aws_sdk_sqs::Client::new(sdk), &config.notifications_queue_url, crate::CALLER);
        Self::new(Store::new(aws_sdk_dynamodb::Client::new(sdk), &config.base.table), catalog, publisher)
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// One Lambda invocation: an SQS batch of order events (`{"Records": [{"eventSource":
    /// "aws:sqs", ...}]}`) or a stream batch (`{"Records": [...]}`) answers with
    /// `{"batchItemFailures": [...]}`; a scheduled event (`"source": "aws.events"`) expires due
    /// reservations and answers with an [`ExpiryReport`].
    pub async fn invoke(&self, payload: Value) -> Result<Value, EventsError> {
        let first_source = payload.pointer("/Records/0/eventSource").and_then(Value::as_str);
        if first_source == Some("aws:sqs") {
            let event: SqsEvent = serde_json::from_value(payload)
                .map_err(|e| EventsError::BadEvent(format!("an SQS batch needs a Records array of messages ({e})")))?;
            let response = self.handle_orders(event).await;
            return serde_json::to_value(response).map_err(|e| EventsError::BadEvent(e.to_string()));
        }
        if payload.get("Records").is_some() {
            let event: StreamEvent = serde_json::from_value(payload)
                .map_err(|e| EventsError::BadEvent(format!("a stream batch needs a Records array ({e})")))?;
            let response = self.handle_stream(event).await;
            return serde_json::to_value(response).map_err(|e| EventsError::BadEvent(e.to_string()));
        }
        if payload.get("source").and_then(Value::as_str) == Some("aws.events") {
            let report = self.expire_due(OffsetDateTime::now_utc()).await?;
            return serde_json::to_value(report).map_err(|e| EventsError::BadEvent(e.to_string()));
        }
        Err(EventsError::BadEvent(r#"expected a DynamoDB stream batch {"Records": [...]} or a scheduled event"#.into()))
    }

    /// Applies a stream batch in order; reports every record from the first that failed.
    #[tracing::instrument(skip_all, fields(records = event.records.len()))]
    pub async fn handle_stream(&self, event: StreamEvent) -> DynamoDbEventResponse {
        let records = event.records;
        let mut first_failed = None;
        let (mut catalog_calls, mut published) = (0usize, 0usize);
        for (index, record) in records.iter().enumerate() {
            match self.apply(record).await {
                Ok(effects) => {
                    catalog_calls += usize::from(effects.catalog);
                    published += usize::from(effects.stock_low);
                }
                Err(err) => {
                    tracing::error!(
                        sequence_number = sequence_number(record).unwrap_or_default(),
                        pk = string_key(record, "pk").unwrap_or_default(),
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
        tracing::info!(catalog_calls, published, failed = response.batch_item_failures.len(), "stream batch applied");
        response
    }

    /// One record; returns what it caused.
    async fn apply(&self, record: &Value) -> Result<Effects, RecordError> {
        let none = Effects { catalog: false, stock_low: false };
        let is_stock = string_key(record, "pk").is_some_and(|pk| pk.starts_with("PRODUCT#")) && string_key(record, "sk") == Some(STOCK_SK);
        let name = event_name(record);
        if !is_stock || name == "REMOVE" {
            return Ok(none);
        }
        let new: Stock = image(record, "NewImage")?.ok_or_else(|| RecordError::NoImage(name.chars().take(16).collect()))?;
        let old: Option<Stock> = image(record, "OldImage")?;
        let effects = effects(old.as_ref(), &new);
        if effects.catalog {
            let available = u32::try_from(new.available.max(0)).unwrap_or(u32::MAX);
            let threshold = u32::try_from(new.low_stock_threshold.max(0)).unwrap_or(u32::MAX);
            match self.catalog.set_availability(new.product_id, available, threshold).await {
                Ok(()) => {}
                // The catalog answered and refused (unknown product, a bad request): retrying
                // cannot help. Anything else (unavailable, 5xx) is retried.
                Err(err) if err.status().is_some_and(|s| s.is_client_error()) => {
                    tracing::warn!(product_id = %new.product_id, error = %ErrorChain(&err), "the catalog refused an availability update");
                }
                Err(err) => return Err(RecordError::Catalog(err)),
            }
        }
        if effects.stock_low && self.store.claim_stock_low(&new, OffsetDateTime::now_utc()).await? {
            let message = StockLow {
                product_id: new.product_id,
                seller_id: new.seller_id,
                product_name: new.product_name.clone(),
                sku: new.sku.clone(),
                available: u32::try_from(new.available.max(0)).unwrap_or(0),
                threshold: u32::try_from(new.low_stock_threshold.max(0)).unwrap_or(0),
            };
            self.publisher.publish_with_id(stock_low_id(new.product_id, new.version), message).await?;
        }
        let flagged = raw_image(record, "NewImage").is_some_and(|i| i.get("gsi1pk").is_some());
        if flagged != new.is_low() {
            // Outcome::ConditionFailed: a later change is on its way and gets its own record.
            let _: Outcome = self.store.sync_low_flag(&new).await?;
        }
        Ok(effects)
    }

    /// Applies a batch of order events in order; reports the records that failed (each alone:
    /// the others were applied and are idempotent anyway).
    #[tracing::instrument(skip_all, fields(records = event.records.len()))]
    pub async fn handle_orders(&self, event: SqsEvent) -> SqsBatchResponse {
        let mut response = SqsBatchResponse::default();
        let (mut acted, mut ignored) = (0usize, 0usize);
        for record in &event.records {
            match self.order_record(record).await {
                Ok(OrderHandled::Ignored) => ignored += 1,
                Ok(_) => acted += 1,
                Err(_) => response.add_failure(record.message_id.clone().unwrap_or_default()),
            }
        }
        tracing::info!(acted, ignored, failed = response.batch_item_failures.len(), "order events applied");
        response
    }

    #[tracing::instrument(skip_all, fields(message_id, kind, order_id, sqs_message_id = record.message_id.as_deref().unwrap_or_default()))]
    async fn order_record(&self, record: &SqsMessage) -> Result<OrderHandled, OrderError> {
        let result = self.order_event(record.body.as_deref().unwrap_or_default()).await;
        match &result {
            Ok(handled) => tracing::info!(?handled, "order event applied"),
            Err(err) => tracing::error!(error = %ErrorChain(err), "order event failed; will retry, then go to the DLQ"),
        }
        result
    }

    /// One order event (a message body).
    async fn order_event(&self, body: &str) -> Result<OrderHandled, OrderError> {
        let span = tracing::Span::current();
        let envelope: Envelope<Value> = serde_json::from_str(body)?;
        span.record("message_id", envelope.id.to_string());
        span.record("kind", truncate(&envelope.kind));
        match envelope.kind.as_str() {
            OrderConfirmed::KIND => {
                let event: OrderConfirmed = serde_json::from_value(envelope.data)?;
                let order_id = event.order.order_id;
                span.record("order_id", order_id.to_string());
                Ok(match self.store.commit(order_id).await? {
                    Transition::Done(_) => {
                        shop_core::metrics::count(crate::CALLER, "StockCommitted");
                        OrderHandled::Committed
                    }
                    Transition::Already(_) => OrderHandled::Committed,
                    Transition::Refused(r) => {
                        tracing::warn!(
                            status = r.status.as_str(),
                            "a confirmed order's reservation no longer holds its stock; not committed"
                        );
                        shop_core::metrics::count(crate::CALLER, "CommitRefused");
                        OrderHandled::CommitRefused
                    }
                    Transition::NotFound => {
                        tracing::warn!("a confirmed order has no reservation");
                        OrderHandled::NoReservation
                    }
                })
            }
            OrderCancelled::KIND => {
                let event: OrderCancelled = serde_json::from_value(envelope.data)?;
                let order_id = event.order.order_id;
                span.record("order_id", order_id.to_string());
                Ok(match self.store.cancel_unless_renewed(order_id, event.cancelled_at.get()).await? {
                    Cancellation::Superseded(_) => {
                        tracing::info!("a cancellation from before a late payment renewed the reservation; nothing to do");
                        OrderHandled::Stale
                    }
                    Cancellation::Released(_) => {
                        shop_core::metrics::count(crate::CALLER, "ReservationCancelled");
                        OrderHandled::Cancelled
                    }
                    Cancellation::Restocked(_) => {
                        shop_core::metrics::count(crate::CALLER, "StockRestocked");
                        OrderHandled::Cancelled
                    }
                    Cancellation::Already(_) => OrderHandled::Cancelled,
                    Cancellation::NotFound => {
                        tracing::warn!("a cancelled order has no reservation");
                        OrderHandled::NoReservation
                    }
                })
            }
            OrderRefunded::KIND => {
                let event: OrderRefunded = serde_json::from_value(envelope.data)?;
                let order_id = event.order.order_id;
                span.record("order_id", order_id.to_string());
                if !event.restock {
                    return Ok(OrderHandled::NotRestocked);
                }
                Ok(match self.store.restock_refunded(order_id).await? {
                    Cancellation::Restocked(_) | Cancellation::Released(_) => {
                        shop_core::metrics::count(crate::CALLER, "StockRestocked");
                        OrderHandled::Restocked
                    }
                    Cancellation::Already(_) | Cancellation::Superseded(_) => OrderHandled::Restocked,
                    Cancellation::NotFound => {
                        tracing::warn!("a refunded order has no reservation");
                        OrderHandled::NoReservation
                    }
                })
            }
            _ => Ok(OrderHandled::Ignored),
        }
    }

    /// Expires every reservation past its expiry at `now` (at most [`MAX_EXPIRED_PER_RUN`]).
    #[tracing::instrument(skip_all)]
    pub async fn expire_due(&self, now: OffsetDateTime) -> Result<ExpiryReport, StoreError> {
        let due = self.store.due_reservations(now, MAX_EXPIRED_PER_RUN).await?;
        let mut report = ExpiryReport { due: due.len(), expired: 0 };
        for order_id in due {
            match self.store.expire(order_id, now).await {
                Ok(Transition::Done(_)) => {
                    shop_core::metrics::count(crate::CALLER, "ReservationExpired");
                    report.expired += 1
                }
                Ok(_) => {}
                Err(err) => {
                    tracing::error!(order_id = %order_id, error = %ErrorChain(&err), "could not expire a reservation; next run retries")
                }
            }
        }
        tracing::info!(due = report.due, expired = report.expired, "expired reservations");
        Ok(report)
    }
}

fn truncate(value: &str) -> &str {
    match value.char_indices().nth(MAX_LOGGED_KIND) {
        Some((i, _)) => &value[..i],
        None => value,
    }
}

/// [`Events`] built on the first invocation (init reads configuration only). Cheap to clone.
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

#[cfg(test)]
mod tests {
    use super::*;

    fn stock(available: i64, threshold: i64, version: u64) -> Stock {
        Stock {
            product_id: Uuid::from_u128(1),
            available,
            reserved: 0,
            low_stock_threshold: threshold,
            seller_id: None,
            product_name: "p".into(),
            sku: None,
            updated_at: shop_core::time::Timestamp::UNIX_EPOCH,
            version,
        }
    }

    #[test]
    fn only_catalog_visible_changes_and_downward_crossings_count() {
        let e = |old: Option<Stock>, new: Stock| effects(old.as_ref(), &new);
        assert_eq!(e(None, stock(5, 10, 1)), Effects { catalog: true, stock_low: false });
        assert_eq!(e(Some(stock(50, 10, 1)), stock(40, 10, 2)), Effects { catalog: false, stock_low: false });
        assert_eq!(e(Some(stock(11, 10, 1)), stock(10, 10, 2)), Effects { catalog: true, stock_low: true });
        assert_eq!(e(Some(stock(10, 10, 1)), stock(9, 10, 2)), Effects { catalog: true, stock_low: false });
        assert_eq!(e(Some(stock(9, 10, 1)), stock(50, 10, 2)), Effects { catalog: true, stock_low: false });
        assert_eq!(e(Some(stock(50, 10, 1)), stock(50, 20, 2)), Effects { catalog: true, stock_low: false });
        assert_eq!(
            e(Some(stock(15, 10, 1)), stock(15, 20, 2)),
            Effects { catalog: true, stock_low: true },
            "a raised threshold crosses too"
        );
    }

    #[test]
    fn stock_low_ids_are_deterministic_per_version() {
        let id = Uuid::now_v7();
        assert_eq!(stock_low_id(id, 3), stock_low_id(id, 3));
        assert_ne!(stock_low_id(id, 3), stock_low_id(id, 4));
    }
}
