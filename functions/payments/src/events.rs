//! The `payments-events` function: two event sources, one binary.
//!
//! - **Order events** (SQS `PaymentsOrderEventsQueue`, from the order events topic; envelopes
//!   `{id, type, source, occurredAt, data}`): `OrderPlaced` of a cash-on-delivery order → its
//!   payment record (PENDING); `OrderDelivered` of one → SUCCEEDED (the cash was collected);
//!   `OrderCancelled` → a paid card order is refunded in full (its cancellation email carries the
//!   amount), an unpaid one's intent is cancelled at Stripe. Each action is idempotent by the order
//!   (the refund is keyed `order-cancelled`), so a redelivered event changes nothing. Failures are
//!   reported per record (`ReportBatchItemFailures`) and retried, then the queue's DLQ.
//! - **The reconciliation schedule** (EventBridge, every 5 minutes): [`ledger::reconcile`] and the
//!   outbox sweep.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use serde_json::{Value, json};
use shop_aws::events::{Envelope, Event};
use shop_aws::messages::orders::{OrderCancelled, OrderDelivered, OrderPlaced};
use shop_core::problem::ErrorChain;

use crate::AppState;
use crate::config::Config;
use crate::ledger::{self, LedgerError};

/// Outbox rows published per sweep batch.
const BATCH: i64 = 100;

#[derive(Debug, thiserror::Error)]
pub enum EventsError {
    #[error(transparent)]
    Db(#[from] shop_aws::pg::DbError),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error("the event is neither an SQS batch nor a schedule: {0}")]
    Shape(#[from] serde_json::Error),
}

/// Whether an invocation is an SQS batch (else it is the schedule).
fn is_sqs(payload: &Value) -> bool {
    payload.get("Records").and_then(Value::as_array).is_some_and(|r| r.iter().any(|r| r.get("eventSource") == Some(&json!("aws:sqs"))))
}

impl AppState {
    /// One invocation of `payments-events`.
    pub async fn invoke_events(&self, payload: Value) -> Result<Value, EventsError> {
        if is_sqs(&payload) {
            let batch: SqsEvent = serde_json::from_value(payload)?;
            return Ok(serde_json::to_value(Box::pin(self.handle_order_events(batch)).await)?);
        }
        // Boxed: the ledger's nested futures exceed rustc's default layout depth otherwise.
        let reconciled = Box::pin(ledger::reconcile(self, time::OffsetDateTime::now_utc())).await;
        let published = self.relay.sweep(&self.store, BATCH).await;
        let backlog = self.store.outbox_backlog().await.unwrap_or(-1);
        let summary = json!({"reconciled": reconciled.as_ref().ok(), "published": published.as_ref().ok(), "outboxBacklog": backlog});
        tracing::info!(%summary, "payments reconciliation run");
        reconciled?;
        published.map_err(|e| EventsError::Ledger(e.into()))?;
        Ok(summary)
    }

    /// Processes the batch's records in order; reports the failed ones by SQS `messageId`.
    #[tracing::instrument(skip_all, fields(records = batch.records.len()))]
    pub async fn handle_order_events(&self, batch: SqsEvent) -> SqsBatchResponse {
        let mut response = SqsBatchResponse::default();
        for record in &batch.records {
            if let Err(e) = Box::pin(self.order_event(record)).await {
                tracing::error!(error = %ErrorChain(&e), sqs_message_id = record.message_id.as_deref().unwrap_or_default(), "order event failed; will retry");
                response.add_failure(record.message_id.clone().unwrap_or_default());
            }
        }
        response
    }

    async fn order_event(&self, record: &SqsMessage) -> Result<(), EventsError> {
        let envelope: Envelope<Value> = serde_json::from_str(record.body.as_deref().unwrap_or_default())?;
        match envelope.kind.as_str() {
            OrderPlaced::KIND => {
                let OrderPlaced { order } = serde_json::from_value(envelope.data)?;
                if order.payment_method == "cod" {
                    ledger::cod_placed(self, order.order_id, order.user_id, &order.order_number, order.total, &order.currency).await?;
                }
            }
            OrderDelivered::KIND => {
                let OrderDelivered { order, .. } = serde_json::from_value(envelope.data)?;
                if order.payment_method == "cod" {
                    ledger::cod_delivered(self, order.order_id, order.user_id, &order.order_number, order.total, &order.currency).await?;
                }
            }
            OrderCancelled::KIND => {
                let cancelled: OrderCancelled = serde_json::from_value(envelope.data)?;
                ledger::order_cancelled(self, cancelled.order.order_id, &cancelled.reason).await?;
            }
            _ => {}
        }
        Ok(())
    }
}

/// The state built on first use (Lambda init reads configuration only). Cheap to clone.
#[derive(Clone, Debug)]
pub struct LazyEvents(shop_aws::config::Lazy<Config, AppState>);

impl LazyEvents {
    pub fn new(config: Config) -> Self {
        Self(shop_aws::config::Lazy::new(config))
    }

    /// Uses `sdk` (the local runner's stand-in endpoints).
    pub fn with_sdk(config: Config, sdk: aws_config::SdkConfig) -> Self {
        Self(shop_aws::config::Lazy::with_sdk(config, sdk))
    }

    pub async fn invoke(&self, payload: Value) -> Result<Value, EventsError> {
        let state = self.0.get(|config, sdk| async move { AppState::from_config(config, &sdk).await }).await?;
        Box::pin(state.invoke_events(payload)).await
    }
}
