//! Message contracts on `NotificationsQueue`: the events a function publishes and the
//! notifications function turns into email. Fields are camelCase on the wire.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::events::Event;

/// A user registered: send the welcome email.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserRegistered {
    pub user_id: Uuid,
    pub email: String,
    pub first_name: String,
}
impl Event for UserRegistered {
    const KIND: &'static str = "UserRegistered";
}

/// A password reset was requested: send the link with the one-time token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PasswordResetRequested {
    pub user_id: Uuid,
    pub email: String,
    pub first_name: String,
    /// The raw one-time token (only its hash is stored). The queue is encrypted at rest.
    pub token: String,
    /// Minutes until the token expires.
    pub expires_in_minutes: u32,
}
impl Event for PasswordResetRequested {
    const KIND: &'static str = "PasswordResetRequested";
}

/// A password was changed (reset or while logged in): tell the owner.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PasswordChanged {
    pub user_id: Uuid,
    pub email: String,
    pub first_name: String,
}
impl Event for PasswordChanged {
    const KIND: &'static str = "PasswordChanged";
}

/// A product's available stock fell to or below its low-stock threshold. Published by the
/// inventory function once per crossing (a stock change that takes `available` from above the
/// threshold to at or below it); tell the product's seller and the admins.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StockLow {
    pub product_id: Uuid,
    /// The product's seller, when inventory knows it.
    pub seller_id: Option<Uuid>,
    pub product_name: String,
    pub sku: Option<String>,
    pub available: u32,
    pub threshold: u32,
}
impl Event for StockLow {
    const KIND: &'static str = "StockLow";
}

/// Order lifecycle events, published by the orders function through its outbox to the
/// `OrderEventsTopic` (SNS) and fanned out to one SQS queue per consumer (raw delivery: each SQS
/// body is the [`crate::events::Envelope`], the `type` message attribute its event name).
/// Consumers act on each event id at most once; every event carries the order as it is after
/// the change.
pub mod orders {
    use serde::{Deserialize, Serialize};
    use shop_core::time::Timestamp;
    use uuid::Uuid;

    use crate::events::Event;

    /// A postal address as an order keeps it (seed-spec §3.6 fields); the orders API shows it
    /// as is (`PostalAddress` in its OpenAPI document).
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
    #[serde(rename_all = "camelCase")]
    #[schema(as = PostalAddress)]
    pub struct Address {
        pub first_name: String,
        pub last_name: String,
        pub address1: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub address2: Option<String>,
        pub city: String,
        pub state: String,
        pub postal_code: String,
        pub country: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub phone: Option<String>,
    }

    /// One line of an order: the catalog snapshot taken at checkout.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct Line {
        pub product_id: Uuid,
        pub seller_id: Uuid,
        pub name: String,
        pub sku: String,
        /// Unit price in cents.
        pub price: i64,
        pub quantity: u32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub image: Option<String>,
    }

    /// The order as an event carries it.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct OrderSnapshot {
        pub order_id: Uuid,
        pub order_number: String,
        pub user_id: Uuid,
        /// `PENDING`, `CONFIRMED`, `PROCESSING`, `SHIPPED`, `DELIVERED`, `CANCELLED`, `REFUNDED`.
        pub status: String,
        /// `card` or `cod`.
        pub payment_method: String,
        pub items: Vec<Line>,
        /// Cents, as `shop_core::money::Totals` computes them.
        pub subtotal: i64,
        pub discount: i64,
        pub shipping_cost: i64,
        pub tax: i64,
        pub total: i64,
        /// ISO 4217, lower case (`usd`).
        pub currency: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub coupon_code: Option<String>,
        pub shipping_address: Address,
        pub placed_at: Timestamp,
    }

    /// An order was placed (card: PENDING until paid; cod: CONFIRMED at once, and an
    /// [`OrderConfirmed`] follows in the same transaction).
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct OrderPlaced {
        pub order: OrderSnapshot,
    }
    impl Event for OrderPlaced {
        const KIND: &'static str = "OrderPlaced";
    }

    /// An order became CONFIRMED (paid card order, or cod at placement): inventory commits the
    /// reservation, notifications sends the confirmation.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct OrderConfirmed {
        pub order: OrderSnapshot,
        /// The payment that settled it (card); `None` for cash on delivery.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub payment_id: Option<String>,
        pub confirmed_at: Timestamp,
    }
    impl Event for OrderConfirmed {
        const KIND: &'static str = "OrderConfirmed";
    }

    /// An order was SHIPPED: the shipping update email with tracking.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct OrderShipped {
        pub order: OrderSnapshot,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub tracking_number: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub carrier: Option<String>,
        pub shipped_at: Timestamp,
    }
    impl Event for OrderShipped {
        const KIND: &'static str = "OrderShipped";
    }

    /// An order was DELIVERED (a cod order's payment is settled then).
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct OrderDelivered {
        pub order: OrderSnapshot,
        pub delivered_at: Timestamp,
    }
    impl Event for OrderDelivered {
        const KIND: &'static str = "OrderDelivered";
    }

    /// Who cancelled an order.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(rename_all = "lowercase")]
    pub enum CancelledBy {
        Customer,
        Admin,
        /// The expiry job (`reason = "payment_timeout"`).
        System,
    }

    /// An order was CANCELLED: inventory releases the reservation (or restocks committed
    /// stock), cart releases the coupon redemption, payments refunds a paid card order,
    /// notifications sends the cancellation email.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct OrderCancelled {
        pub order: OrderSnapshot,
        /// The status it was cancelled from.
        pub previous_status: String,
        /// `customer_request`, `payment_timeout`, or the admin's note.
        pub reason: String,
        pub cancelled_by: CancelledBy,
        /// Cents refunded, once the payments function reports one (absent until then).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub refund_amount: Option<i64>,
        pub cancelled_at: Timestamp,
    }
    impl Event for OrderCancelled {
        const KIND: &'static str = "OrderCancelled";
    }

    /// A paid order was REFUNDED in full (payments reports the refund through
    /// `POST /internal/orders/{id}/refunded`): inventory puts the units back when `restock`
    /// (decided by the status it left: not yet shipped → restock; shipped or delivered → only when
    /// the admin said the goods came back). No email: payments' `PaymentRefunded` sends it.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct OrderRefunded {
        pub order: OrderSnapshot,
        /// The status it was refunded from.
        pub previous_status: String,
        pub restock: bool,
        /// Cents refunded in all.
        pub refund_amount: i64,
        pub refunded_at: Timestamp,
    }
    impl Event for OrderRefunded {
        const KIND: &'static str = "OrderRefunded";
    }
}

/// Payment events, published by the payments function through its outbox to the
/// `PaymentEventsTopic` (SNS) → `NotificationsQueue` (the emails). Amounts in cents.
pub mod payments {
    use serde::{Deserialize, Serialize};
    use shop_core::time::Timestamp;
    use uuid::Uuid;

    use crate::events::Event;

    /// Why money went back.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(rename_all = "snake_case")]
    pub enum RefundReason {
        /// An admin refunded (`POST /api/payments/{id}/refund`).
        Requested,
        /// The paid order was cancelled: the cancellation email, with the amount.
        OrderCancelled,
        /// The payment arrived after the order had expired and its stock was gone.
        LatePayment,
        /// Refunded outside Skyshop (the Stripe dashboard), seen through `charge.refunded`.
        External,
    }

    impl RefundReason {
        pub const ALL: [RefundReason; 4] =
            [RefundReason::Requested, RefundReason::OrderCancelled, RefundReason::LatePayment, RefundReason::External];

        /// The wire (and stored) spelling.
        pub fn as_str(self) -> &'static str {
            match self {
                RefundReason::Requested => "requested",
                RefundReason::OrderCancelled => "order_cancelled",
                RefundReason::LatePayment => "late_payment",
                RefundReason::External => "external",
            }
        }

        pub fn parse(value: &str) -> Option<Self> {
            Self::ALL.into_iter().find(|r| r.as_str() == value)
        }
    }

    /// A refund succeeded: one email per refund to the order's user.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct PaymentRefunded {
        pub payment_id: Uuid,
        pub refund_id: Uuid,
        pub order_id: Uuid,
        pub order_number: String,
        pub user_id: Uuid,
        /// This refund.
        pub amount: i64,
        /// Every refund of the payment so far, this one included.
        pub refunded_total: i64,
        /// What was captured.
        pub captured: i64,
        /// ISO 4217, lower case.
        pub currency: String,
        pub reason: RefundReason,
        /// The cancellation reason of the order (`customer_request`, an admin's note) for
        /// [`RefundReason::OrderCancelled`]; the admin's reason for [`RefundReason::Requested`].
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub note: Option<String>,
        pub refunded_at: Timestamp,
    }
    impl Event for PaymentRefunded {
        const KIND: &'static str = "PaymentRefunded";
    }

    /// A card payment was disputed (`charge.dispute.created`): the order is flagged and every
    /// active admin is emailed.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct PaymentDisputed {
        pub payment_id: Uuid,
        pub order_id: Uuid,
        pub order_number: String,
        pub dispute_id: String,
        /// Cents disputed.
        pub amount: i64,
        pub currency: String,
        /// Stripe's dispute reason (`fraudulent`, `product_not_received`, …).
        pub reason: String,
        pub disputed_at: Timestamp,
    }
    impl Event for PaymentDisputed {
        const KIND: &'static str = "PaymentDisputed";
    }
}
