//! The `orders-events` binary: every minute (EventBridge schedule) it
//!
//! 1. publishes outbox events left unpublished (a failed or interrupted publish after commit);
//! 2. cancels card orders still PENDING after their payment deadline (`payment_timeout`): one
//!    conditional transition per order, so a payment confirming at the same moment either wins
//!    (CONFIRMED) or finds the order CANCELLED — never both; stock and coupon go back through
//!    the `OrderCancelled` consumers, exactly once;
//! 3. undoes checkouts that stopped half-way and were not retried (their stock and coupon);
//! 4. forgets idempotency keys past their retention.

use serde_json::{Value, json};
use shop_aws::messages::orders::CancelledBy;
use shop_internal::InternalClient;
use time::OffsetDateTime;

use crate::clients::{Cart, Inventory};
use crate::config::Config;
use crate::db::DbError;
use crate::domain::{Actor, Status};
use crate::routes::orders::cancelled_event;
use crate::store::{Change, Moved, Store, StoreError};
use shop_aws::outbox::Relay;

/// Rows handled per step and run.
const BATCH: i64 = 100;

#[derive(Debug, thiserror::Error)]
pub enum EventsError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The scheduled jobs.
#[derive(Clone)]
pub struct Events {
    pub store: Store,
    pub relay: Relay,
    pub cart: Cart,
    pub inventory: Inventory,
}

impl Events {
    pub async fn from_config(config: &Config, sdk: &aws_config::SdkConfig) -> Result<Self, DbError> {
        let pool = crate::db::connect(&config.database, sdk).await?;
        Ok(Self {
            store: Store::new(pool),
            relay: Relay::new(aws_sdk_sns::Client::new(sdk), &config.topic_arn, crate::CALLER),
            cart: Cart(InternalClient::new(sdk, &config.cart_function, crate::CALLER)),
            inventory: Inventory(InternalClient::new(sdk, &config.inventory_function, crate::CALLER)),
        })
    }

    /// One run of every job (the event's content does not matter). Each job runs even when an
    /// earlier one failed; the first failure fails the invocation (retried by the schedule).
    pub async fn invoke(&self, _event: Value) -> Result<Value, EventsError> {
        let now = OffsetDateTime::now_utc();
        let published = self.relay.sweep(&self.store, BATCH).await;
        let expired = self.expire(now).await;
        let undone = self.undo_abandoned(now).await;
        let purged = self.store.purge_keys(now).await;
        let backlog = self.store.outbox_backlog().await.unwrap_or(-1);
        let summary = json!({
            "published": published.as_ref().ok(),
            "expired": expired.as_ref().ok(),
            "undone": undone.as_ref().ok(),
            "purgedKeys": purged.as_ref().ok(),
            "outboxBacklog": backlog,
        });
        tracing::info!(%summary, "orders-events run");
        published?;
        expired?;
        undone?;
        purged?;
        Ok(summary)
    }

    /// Cancels overdue unpaid card orders.
    pub async fn expire(&self, now: OffsetDateTime) -> Result<usize, StoreError> {
        let mut n = 0;
        for id in self.store.overdue(now, BATCH).await? {
            let change = Change { cancel_reason: Some("payment_timeout".into()), ..Change::default() };
            let moved = self
                .store
                .transition(
                    id,
                    Status::Cancelled,
                    Actor::SYSTEM,
                    change,
                    |order| {
                        // Re-checked under the lock: a payment may have confirmed it meanwhile.
                        let due = order.payment_due_at.is_some_and(|d| d.get() < now);
                        if order.status == Status::Pending && due { Ok(()) } else { Err(()) }
                    },
                    |order, from| cancelled_event(order, from, "payment_timeout", CancelledBy::System),
                )
                .await?;
            if let Moved::Done(order, events) = moved {
                n += 1;
                shop_core::metrics::count(crate::CALLER, "OrderExpired");
                self.relay.flush(&self.store, order.id, &events).await;
            }
        }
        Ok(n)
    }

    /// Releases the stock and coupon of checkouts that stopped half-way, then lets their keys go.
    pub async fn undo_abandoned(&self, now: OffsetDateTime) -> Result<usize, StoreError> {
        let mut n = 0;
        for (user, key, order) in self.store.claim_abandoned(now, BATCH).await? {
            let (stock, coupon) = futures::join!(self.inventory.cancel(order), self.cart.release_coupon(order));
            match stock.and(coupon) {
                Ok(()) => {
                    self.store.forget_abandoned(user, &key, order).await?;
                    shop_core::metrics::count(crate::CALLER, "CheckoutUndone");
                    n += 1;
                }
                // Claimed for two minutes; the next run after that tries again.
                Err(e) => tracing::warn!(error = %e, order_id = %order, "could not undo an abandoned checkout yet"),
            }
        }
        Ok(n)
    }
}

/// [`Events`] built on the first invocation (init reads configuration only).
#[derive(Clone)]
pub struct LazyEvents(shop_aws::config::Lazy<Config, Events>);

impl LazyEvents {
    pub fn new(config: Config) -> Self {
        Self(shop_aws::config::Lazy::new(config))
    }

    /// Uses `sdk` (the local runner's stand-in endpoints).
    pub fn with_sdk(config: Config, sdk: aws_config::SdkConfig) -> Self {
        Self(shop_aws::config::Lazy::with_sdk(config, sdk))
    }

    pub async fn invoke(&self, payload: Value) -> Result<Value, EventsError> {
        let events = self.0.get(|config, sdk| async move { Events::from_config(config, &sdk).await }).await?;
        events.invoke(payload).await
    }
}
