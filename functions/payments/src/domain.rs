//! Payment types and rules, no I/O: the payment status and how a Stripe intent moves it (only
//! forward, whatever order the news arrives in), refunds, and the wire shapes.

use garde::Validate;
use serde::{Deserialize, Serialize};
use shop_core::time::Timestamp;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::stripe::Intent;

/// A payment's status (seed-spec §4.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
// Its own component name: orders' `Status` is another enum in the merged document.
#[schema(as = PaymentStatus)]
pub enum Status {
    /// Created; no intent yet (card), or waiting for delivery (cod).
    Pending,
    /// An intent exists and the customer is paying (or has to act: 3-D Secure).
    Processing,
    Succeeded,
    /// The last attempt failed (declined); the customer may try again on the same intent.
    Failed,
    Cancelled,
    PartiallyRefunded,
    Refunded,
}

impl Status {
    pub const ALL: [Status; 7] = [
        Status::Pending,
        Status::Processing,
        Status::Succeeded,
        Status::Failed,
        Status::Cancelled,
        Status::PartiallyRefunded,
        Status::Refunded,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "PENDING",
            Status::Processing => "PROCESSING",
            Status::Succeeded => "SUCCEEDED",
            Status::Failed => "FAILED",
            Status::Cancelled => "CANCELLED",
            Status::PartiallyRefunded => "PARTIALLY_REFUNDED",
            Status::Refunded => "REFUNDED",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == value)
    }

    /// Money was captured (refunds possible while some is left).
    pub fn paid(self) -> bool {
        matches!(self, Status::Succeeded | Status::PartiallyRefunded | Status::Refunded)
    }

    /// Not paid yet and still able to be: a new attempt is not needed.
    pub fn open(self) -> bool {
        matches!(self, Status::Pending | Status::Processing | Status::Failed)
    }
}

/// `card` (Stripe) or `cod` (cash on delivery, never sent to Stripe).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    Card,
    Cod,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Card => "card",
            Method::Cod => "cod",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "card" => Some(Method::Card),
            "cod" => Some(Method::Cod),
            _ => None,
        }
    }
}

/// A payment as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payment {
    pub id: Uuid,
    pub order_id: Uuid,
    pub attempt: i32,
    pub user_id: Uuid,
    pub order_number: String,
    pub method: Method,
    pub intent_id: Option<String>,
    pub intent_status: Option<String>,
    /// Cents, from the order.
    pub amount: i64,
    pub currency: String,
    pub status: Status,
    pub captured: i64,
    pub refunded: i64,
    pub failure_code: Option<String>,
    pub failure_reason: Option<String>,
    /// `confirmed` or `refunded` (a late payment), once orders has answered.
    pub order_outcome: Option<String>,
    pub order_refund_reported: bool,
    pub dispute_id: Option<String>,
    pub dispute_reason: Option<String>,
    pub disputed_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub succeeded_at: Option<Timestamp>,
}

impl Payment {
    /// A new payment of an order.
    pub fn new(order_id: Uuid, attempt: i32, user_id: Uuid, order_number: &str, method: Method, amount: i64, currency: &str) -> Self {
        let now = Timestamp::now();
        Self {
            id: shop_core::id::new_id(),
            order_id,
            attempt,
            user_id,
            order_number: order_number.to_owned(),
            method,
            intent_id: None,
            intent_status: None,
            amount,
            currency: currency.to_owned(),
            status: Status::Pending,
            captured: 0,
            refunded: 0,
            failure_code: None,
            failure_reason: None,
            order_outcome: None,
            order_refund_reported: false,
            dispute_id: None,
            dispute_reason: None,
            disputed_at: None,
            created_at: now,
            updated_at: now,
            succeeded_at: None,
        }
    }

    /// Cents that can still be refunded, given refunds waiting for Stripe.
    pub fn refundable(&self, pending: i64) -> i64 {
        if self.status.paid() { (self.captured - self.refunded - pending).max(0) } else { 0 }
    }

    /// Applies what Stripe says of this payment's intent; true when something changed. Only
    /// moves forward: SUCCEEDED (and the refund states after it) are never left because of an
    /// older event, so deliveries in any order and any number end in the same place.
    pub fn absorb(&mut self, intent: &Intent) -> bool {
        let before = self.clone();
        if intent.amount != self.amount {
            tracing::error!(payment_id = %self.id, intent_amount = intent.amount, amount = self.amount, "the intent's amount differs from the payment's");
        }
        match intent.status.as_str() {
            "succeeded" if !self.status.paid() => {
                self.status = Status::Succeeded;
                self.captured = intent.received();
                self.succeeded_at = Some(Timestamp::now());
                self.failure_code = None;
                self.failure_reason = None;
            }
            "canceled" if self.status.open() => self.status = Status::Cancelled,
            "requires_payment_method" if matches!(self.status, Status::Pending | Status::Processing) => {
                if let Some(error) = &intent.last_payment_error {
                    self.status = Status::Failed;
                    self.failure_code = error.best_code().map(str::to_owned);
                    self.failure_reason = Some(error.message.clone().unwrap_or_else(|| "Payment failed".into()));
                } else {
                    self.status = Status::Processing;
                }
            }
            "requires_confirmation" | "requires_action" | "processing" | "requires_capture"
                if matches!(self.status, Status::Pending | Status::Failed) =>
            {
                self.status = Status::Processing;
            }
            _ => {}
        }
        if !self.status.paid() || before.intent_status.is_none() {
            self.intent_status = Some(intent.status.clone());
        }
        *self != before
    }

    pub fn view(&self, refunds: &[RefundRow]) -> PaymentView {
        PaymentView {
            id: self.id,
            order_id: self.order_id,
            order_number: self.order_number.clone(),
            user_id: self.user_id,
            method: self.method,
            attempt: self.attempt,
            payment_intent_id: self.intent_id.clone(),
            amount: self.amount,
            currency: self.currency.clone(),
            status: self.status,
            captured: self.captured,
            refunded: self.refunded,
            failure_code: self.failure_code.clone(),
            failure_reason: self.failure_reason.clone(),
            disputed: self.disputed_at.is_some(),
            refunds: refunds.iter().map(RefundRow::view).collect(),
            created_at: self.created_at,
            updated_at: self.updated_at,
            succeeded_at: self.succeeded_at,
        }
    }
}

/// Why money went back (as stored).
pub use shop_aws::messages::payments::RefundReason;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum RefundStatus {
    /// Sent (or being sent) to Stripe; its amount is held.
    Pending,
    Succeeded,
    Failed,
}

impl RefundStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RefundStatus::Pending => "PENDING",
            RefundStatus::Succeeded => "SUCCEEDED",
            RefundStatus::Failed => "FAILED",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        [RefundStatus::Pending, RefundStatus::Succeeded, RefundStatus::Failed].into_iter().find(|s| s.as_str() == value)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundRow {
    pub id: Uuid,
    pub payment_id: Uuid,
    pub idempotency_key: String,
    pub request_hash: String,
    pub amount: i64,
    pub reason: RefundReason,
    pub note: Option<String>,
    pub restock: Option<bool>,
    pub status: RefundStatus,
    pub stripe_refund_id: Option<String>,
    pub failure_reason: Option<String>,
    pub requested_by: Option<Uuid>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl RefundRow {
    pub fn view(&self) -> RefundView {
        RefundView {
            id: self.id,
            amount: self.amount,
            reason: self.reason.as_str().to_owned(),
            note: self.note.clone(),
            status: self.status,
            stripe_refund_id: self.stripe_refund_id.clone(),
            failure_reason: self.failure_reason.clone(),
            created_at: self.created_at,
        }
    }
}

/// A refund on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RefundView {
    pub id: Uuid,
    /// Cents.
    pub amount: i64,
    /// `requested` (an admin), `order_cancelled`, `late_payment` (the order had expired and its
    /// stock was gone), `external` (made in the Stripe dashboard).
    pub reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub status: RefundStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stripe_refund_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<String>,
    pub created_at: Timestamp,
}

/// A payment on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PaymentView {
    pub id: Uuid,
    pub order_id: Uuid,
    pub order_number: String,
    pub user_id: Uuid,
    pub method: Method,
    /// 1 for an order's first PaymentIntent; a new one only after Stripe cancelled the last.
    pub attempt: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payment_intent_id: Option<String>,
    /// Cents, from the order (never from the client).
    pub amount: i64,
    /// ISO 4217, lower case.
    pub currency: String,
    pub status: Status,
    /// Cents captured.
    pub captured: i64,
    /// Cents refunded so far (every refund added up).
    pub refunded: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<String>,
    /// A dispute (chargeback) was opened on it.
    pub disputed: bool,
    pub refunds: Vec<RefundView>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub succeeded_at: Option<Timestamp>,
}

/// `POST /api/payments/intents` and `POST /api/payments/confirm`.
#[derive(Debug, Clone, Deserialize, Serialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OrderRef {
    #[garde(skip)]
    pub order_id: Uuid,
}

/// What the browser needs to pay (Stripe.js `confirmPayment` with the client secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct IntentView {
    pub payment_id: Uuid,
    pub client_secret: String,
    pub payment_intent_id: String,
    /// Cents, from the order.
    pub amount: i64,
    pub currency: String,
    pub status: Status,
}

/// The answer of `POST /api/payments/confirm`: the payment, and where the order stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConfirmView {
    pub payment: PaymentView,
    /// The order's status after settling (`CONFIRMED` once paid; `PENDING` while not; `CANCELLED`
    /// when it had expired and the payment was refunded).
    pub order_status: String,
}

/// `POST /api/payments/{id}/refund`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RefundRequest {
    /// Cents; omitted → everything still refundable.
    #[garde(inner(range(min = 1, max = 100_000_000)))]
    #[schema(minimum = 1, maximum = 100_000_000)]
    #[serde(default)]
    pub amount: Option<i64>,
    /// Shown to the customer in the refund email.
    #[garde(inner(length(chars, min = 1, max = 500), custom(shop_core::extract::no_control_chars)))]
    #[schema(
        min_length = 1,
        max_length = 500,
        pattern = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]*$"
    )]
    #[serde(default)]
    pub reason: Option<String>,
    /// The goods came back (a shipped or delivered order's full refund puts its units back only
    /// then; an order not yet shipped always gets them back).
    #[garde(skip)]
    #[serde(default)]
    pub restock: Option<bool>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stripe::PaymentError;

    fn intent(status: &str, error: Option<&str>) -> Intent {
        Intent {
            id: "pi_1".into(),
            status: status.into(),
            amount: 1000,
            amount_received: if status == "succeeded" { Some(1000) } else { Some(0) },
            currency: "usd".into(),
            client_secret: None,
            last_payment_error: error.map(|m| PaymentError {
                code: Some("card_declined".into()),
                decline_code: None,
                message: Some(m.into()),
            }),
            metadata: None,
        }
    }

    fn payment() -> Payment {
        Payment::new(Uuid::nil(), 1, Uuid::nil(), "ORD-1", Method::Card, 1000, "usd")
    }

    #[test]
    fn every_order_of_the_same_news_ends_in_the_same_place() {
        let news = [
            intent("requires_payment_method", None),
            intent("requires_payment_method", Some("declined")),
            intent("processing", None),
            intent("succeeded", None),
        ];
        // Every permutation of four deliveries.
        let mut order = [0usize, 1, 2, 3];
        let mut seen = std::collections::HashSet::new();
        loop {
            let mut p = payment();
            for &i in &order {
                p.absorb(&news[i]);
            }
            assert_eq!(p.status, Status::Succeeded, "{order:?}");
            assert_eq!(p.captured, 1000);
            seen.insert(order);
            // next permutation
            let Some(i) = (0..3).rev().find(|&i| order[i] < order[i + 1]) else { break };
            let j = (i + 1..4).rev().find(|&j| order[j] > order[i]).unwrap_or(i + 1);
            order.swap(i, j);
            order[i + 1..].reverse();
        }
        assert_eq!(seen.len(), 24);
    }

    #[test]
    fn a_decline_leaves_the_payment_open_for_another_attempt() {
        let mut p = payment();
        assert!(p.absorb(&intent("requires_payment_method", Some("Your card was declined."))));
        assert_eq!(p.status, Status::Failed);
        assert_eq!(p.failure_reason.as_deref(), Some("Your card was declined."));
        assert!(p.status.open());
        assert!(p.absorb(&intent("succeeded", None)));
        assert_eq!((p.status, p.failure_reason.as_deref()), (Status::Succeeded, None));
        assert!(!p.absorb(&intent("canceled", None)), "a paid payment is never cancelled by old news");
    }

    #[test]
    fn refundable_holds_back_pending_refunds() {
        let mut p = payment();
        assert_eq!(p.refundable(0), 0, "nothing captured");
        p.absorb(&intent("succeeded", None));
        p.refunded = 300;
        assert_eq!(p.refundable(200), 500);
        assert_eq!(p.refundable(900), 0);
    }
}
