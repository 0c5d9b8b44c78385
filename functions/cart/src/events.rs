//! The `cart-events` function: the cart's consumer of order events (an SQS queue of
//! [`Envelope`]s `{id, type, source, occurredAt, data}`, `shop_aws::messages::orders`).
//!
//! - `OrderPlaced` → what the order bought comes out of the buyer's cart, exactly as
//!   `POST /internal/carts/users/{userId}/checkout` does it (a backstop for when the orders
//!   function's own call failed): idempotent by order id, which the cart remembers.
//! - `OrderCancelled` → the order's coupon redemption is released ([`CouponStore::release`]:
//!   the counts come back once, however often it is asked).
//! - Any other type is acknowledged and ignored.
//!
//! A body that is no envelope, or whose `data` does not fit its type, fails its record (retried,
//! then the queue's DLQ); so does a store that is down. Failures are reported per record by SQS
//! `messageId` (`ReportBatchItemFailures`), so only they are retried.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use serde_json::Value;
use shop_aws::events::{Envelope, Event};
use shop_aws::messages::orders::{OrderCancelled, OrderPlaced};
use shop_core::problem::ErrorChain;

use crate::config::EventsConfig;
use crate::store::{CartStore, CartStoreError, CouponStore, StoreError};

/// Longest `type` value put into logs (the body may be anything).
const MAX_LOGGED_KIND: usize = 64;

/// How one record ended when it is acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handled {
    /// The order's lines (and coupon) came out of the cart, or it had been done before.
    CheckedOut,
    /// The order's coupon redemption was released (`true`) or there was none (left).
    Released(bool),
    /// A type this consumer does not act on.
    Ignored,
}

/// Why one record is reported as failed (and retried).
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// Only serde's classification and position: its message may quote values.
    #[error("the body is not an order event ({category:?} error at line {line}, column {column})")]
    Malformed { category: serde_json::error::Category, line: usize, column: usize },
    #[error("the cart store failed")]
    Cart(#[from] CartStoreError),
    #[error("the coupon store failed")]
    Coupons(#[from] StoreError),
}

impl From<serde_json::Error> for Failure {
    fn from(err: serde_json::Error) -> Self {
        Failure::Malformed { category: err.classify(), line: err.line(), column: err.column() }
    }
}

/// The consumer. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Events {
    carts: CartStore,
    coupons: CouponStore,
}

impl Events {
    pub fn new(carts: CartStore, coupons: CouponStore) -> Self {
        Self { carts, coupons }
    }

    /// Connects Redis and builds the DynamoDB client.
    pub async fn from_config(config: &EventsConfig, sdk: &aws_config::SdkConfig) -> Result<Self, CartStoreError> {
        let carts = CartStore::connect(&config.redis_url, &config.key_prefix).await?;
        Ok(Self::new(carts, CouponStore::new(aws_sdk_dynamodb::Client::new(sdk), &config.promotions_table)))
    }

    /// Processes the batch's records in order and reports the ones to retry by their SQS
    /// `messageId` (a record without one is reported with an empty identifier, which makes Lambda
    /// retry the whole batch).
    #[tracing::instrument(skip_all, fields(records = event.records.len()))]
    pub async fn handle(&self, event: SqsEvent) -> SqsBatchResponse {
        let mut response = SqsBatchResponse::default();
        let (mut acted, mut ignored) = (0usize, 0usize);
        for record in &event.records {
            match self.process(record).await {
                Ok(Handled::Ignored) => ignored += 1,
                Ok(_) => acted += 1,
                Err(_) => response.add_failure(record.message_id.clone().unwrap_or_default()),
            }
        }
        tracing::info!(acted, ignored, failed = response.batch_item_failures.len(), "order events processed");
        response
    }

    #[tracing::instrument(skip_all, fields(message_id, kind, sqs_message_id = record.message_id.as_deref().unwrap_or_default()))]
    async fn process(&self, record: &SqsMessage) -> Result<Handled, Failure> {
        let result = self.process_body(record.body.as_deref().unwrap_or_default()).await;
        match &result {
            Ok(handled) => tracing::info!(?handled, "order event handled"),
            Err(err @ Failure::Malformed { .. }) => {
                tracing::error!(error = %ErrorChain(err), "order event rejected; will retry, then go to the DLQ")
            }
            Err(err) => tracing::error!(error = %ErrorChain(err), "order event failed; will retry"),
        }
        result
    }

    /// One message body.
    pub async fn process_body(&self, body: &str) -> Result<Handled, Failure> {
        let span = tracing::Span::current();
        let envelope: Envelope<Value> = serde_json::from_str(body)?;
        span.record("message_id", envelope.id.to_string());
        span.record("kind", truncate(&envelope.kind));
        match envelope.kind.as_str() {
            OrderPlaced::KIND => {
                let OrderPlaced { order } = serde_json::from_value(envelope.data)?;
                let bought: Vec<(uuid::Uuid, u32)> = order.items.iter().map(|l| (l.product_id, l.quantity)).collect();
                let cart = self.carts.check_out(order.user_id, order.order_id, &bought, order.coupon_code.as_deref()).await?;
                tracing::info!(order_id = %order.order_id, has_cart = cart.is_some(), "order checked out of the cart");
                Ok(Handled::CheckedOut)
            }
            OrderCancelled::KIND => {
                let cancelled: OrderCancelled = serde_json::from_value(envelope.data)?;
                let released = self.coupons.release(cancelled.order.order_id).await?;
                if released {
                    shop_core::metrics::count(crate::CALLER, "CouponReleased");
                }
                Ok(Handled::Released(released))
            }
            _ => Ok(Handled::Ignored),
        }
    }
}

fn truncate(value: &str) -> &str {
    match value.char_indices().nth(MAX_LOGGED_KIND) {
        Some((i, _)) => &value[..i],
        None => value,
    }
}

/// An [`Events`] built on first use (Lambda init reads configuration only; a failed connection
/// fails the invocation and is tried again by the next). Cheap to clone.
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

    /// [`Events::handle`] on the lazily built consumer.
    pub async fn handle(&self, event: SqsEvent) -> Result<SqsBatchResponse, CartStoreError> {
        let events = self.0.get(|config, sdk| async move { Events::from_config(config, &sdk).await }).await?;
        Ok(events.handle(event).await)
    }
}
