//! What payments needs from orders, through its internal routes (never its database). Every
//! call is idempotent (internal calls are retried): confirm and refunded by the payment id, flag
//! by the order.

use serde::{Deserialize, Serialize};
use shop_internal::{CallError, InternalClient};
use uuid::Uuid;

/// An order as payments reads it (`GET /internal/orders/{id}`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderFacts {
    pub id: Uuid,
    pub order_number: String,
    pub user_id: Uuid,
    /// `PENDING`, `CONFIRMED`, … (orders' status machine).
    pub status: String,
    /// Cents.
    pub total: i64,
    pub currency: String,
    /// `card` or `cod`.
    pub payment_method: String,
    #[serde(default)]
    pub payment_id: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Confirm<'a> {
    payment_id: &'a str,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Refunded<'a> {
    payment_id: &'a str,
    amount: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    restock: Option<bool>,
}

#[derive(Debug, Serialize)]
struct Flag<'a> {
    reason: &'a str,
}

/// The answer of orders to a paid order's confirmation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Confirmation {
    /// CONFIRMED (now or before, by this payment); the order's status.
    Confirmed(String),
    /// The order was cancelled (or had expired and its stock is gone): the money goes back.
    Cancelled,
}

#[derive(Debug, Clone)]
pub struct Orders(pub InternalClient);

impl Orders {
    /// The order; `None` when orders does not know it.
    pub async fn order(&self, id: Uuid) -> Result<Option<OrderFacts>, CallError> {
        match self.0.get::<OrderFacts>(&format!("/internal/orders/{id}")).await {
            Ok(order) => Ok(Some(order)),
            Err(e) if e.status().map(|s| s.as_u16()) == Some(404) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// PENDING → CONFIRMED by this payment (exactly once on orders' side; late payments are
    /// re-reserved there when stock allows).
    pub async fn confirm(&self, order_id: Uuid, payment_id: &str) -> Result<Confirmation, CallError> {
        match self.0.post::<_, OrderFacts>(&format!("/internal/orders/{order_id}/confirm"), &Confirm { payment_id }).await {
            Ok(order) => Ok(Confirmation::Confirmed(order.status)),
            Err(e) if e.problem_code() == Some("order_cancelled") => Ok(Confirmation::Cancelled),
            Err(e) => Err(e),
        }
    }

    /// A paid order was refunded in full: REFUNDED (restock decided by orders unless given).
    pub async fn refunded(&self, order_id: Uuid, payment_id: &str, amount: i64, restock: Option<bool>) -> Result<String, CallError> {
        let order: OrderFacts =
            self.0.post(&format!("/internal/orders/{order_id}/refunded"), &Refunded { payment_id, amount, restock }).await?;
        Ok(order.status)
    }

    /// Flags an order whose payment is disputed.
    pub async fn flag(&self, order_id: Uuid, reason: &str) -> Result<(), CallError> {
        self.0.post::<_, serde_json::Value>(&format!("/internal/orders/{order_id}/flag"), &Flag { reason }).await.map(|_| ())
    }
}
