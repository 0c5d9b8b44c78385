//! Order types and rules, no I/O: the status machine (seed-spec §5.6, enforced here only),
//! order numbers, checkout input, and the wire shapes.

use garde::Validate;
use serde::{Deserialize, Serialize};
use shop_aws::messages::orders::{Address, Line, OrderSnapshot};
use shop_core::extract::{no_control_chars, not_blank};
use shop_core::time::Timestamp;
use utoipa::ToSchema;
use uuid::Uuid;

/// How long a card order waits for its payment before it is cancelled (`payment_timeout`).
pub const PAYMENT_WINDOW: time::Duration = time::Duration::minutes(30);
/// The stock reservation outlives the payment window by this much, so inventory's own expiry
/// (a backstop) never acts before this function has decided: the order's row decides
/// (CONFIRMED or CANCELLED, whichever comes first), and inventory follows the event.
pub const RESERVATION_GRACE: time::Duration = time::Duration::minutes(15);
/// Idempotency keys are kept at least this long.
pub const IDEMPOTENCY_RETENTION: time::Duration = time::Duration::hours(48);
/// How long one checkout request holds its key before another request may take it over. Longer
/// than the function's timeout (10 s in the template; a test checks), so a takeover only ever
/// happens after Lambda has stopped the request holding the key: two runs of one checkout never
/// overlap, and neither can undo what the other relies on.
pub const CHECKOUT_LEASE: time::Duration = time::Duration::seconds(30);
/// Most characters of an `Idempotency-Key`.
pub const MAX_KEY_LEN: usize = 255;
/// Most lines in an order (the cart's limit).
pub const MAX_LINES: usize = 100;

/// An order's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum Status {
    Pending,
    Confirmed,
    Processing,
    Shipped,
    Delivered,
    Cancelled,
    Refunded,
}

impl Status {
    pub const ALL: [Status; 7] =
        [Status::Pending, Status::Confirmed, Status::Processing, Status::Shipped, Status::Delivered, Status::Cancelled, Status::Refunded];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "PENDING",
            Status::Confirmed => "CONFIRMED",
            Status::Processing => "PROCESSING",
            Status::Shipped => "SHIPPED",
            Status::Delivered => "DELIVERED",
            Status::Cancelled => "CANCELLED",
            Status::Refunded => "REFUNDED",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == value)
    }

    /// The statuses reachable from this one in one step (seed-spec §5.6, and a full refund from
    /// any paid status). Same-state moves are not transitions. A late payment's CANCELLED →
    /// CONFIRMED is not here: only `POST /internal/orders/{id}/confirm` makes it, for orders
    /// that expired unpaid (`payment_timeout`) once their stock is held again.
    pub fn next(self) -> &'static [Status] {
        match self {
            Status::Pending => &[Status::Confirmed, Status::Cancelled],
            Status::Confirmed => &[Status::Processing, Status::Cancelled, Status::Refunded],
            Status::Processing => &[Status::Shipped, Status::Cancelled, Status::Refunded],
            Status::Shipped => &[Status::Delivered, Status::Refunded],
            Status::Delivered => &[Status::Refunded],
            Status::Cancelled | Status::Refunded => &[],
        }
    }

    pub fn can_move_to(self, to: Status) -> bool {
        self.next().contains(&to)
    }

    /// Whether the goods are still with the shop (not yet shipped): a refund from here puts the
    /// units back by default.
    pub fn restocks_on_refund(self) -> bool {
        matches!(self, Status::Confirmed | Status::Processing)
    }

    /// A customer may cancel their own order only before it is being prepared.
    pub fn customer_may_cancel(self) -> bool {
        matches!(self, Status::Pending | Status::Confirmed)
    }
}

/// `card` (PENDING until paid) or `cod` (CONFIRMED at placement, paid on delivery).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum PaymentMethod {
    Card,
    Cod,
}

impl PaymentMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            PaymentMethod::Card => "card",
            PaymentMethod::Cod => "cod",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "card" => Some(PaymentMethod::Card),
            "cod" => Some(PaymentMethod::Cod),
            _ => None,
        }
    }
}

/// Who moved an order, as the history records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Actor {
    pub id: Option<Uuid>,
    /// `CUSTOMER`, `SELLER`, `ADMIN`, `PAYMENTS` or `SYSTEM`.
    pub role: &'static str,
}

impl Actor {
    pub const SYSTEM: Actor = Actor { id: None, role: "SYSTEM" };
    pub const PAYMENTS: Actor = Actor { id: None, role: "PAYMENTS" };
}

/// Now, to the microsecond (what PostgreSQL keeps): an order answered at placement and read
/// back later shows the same instants.
pub fn now() -> Timestamp {
    let t = time::OffsetDateTime::now_utc();
    Timestamp::from(t.replace_nanosecond(t.nanosecond() / 1_000 * 1_000).unwrap_or(t))
}

/// `ORD-<base36 epoch ms>-<4 random base36>`, upper case (seed-spec §5.13).
pub fn order_number(now: Timestamp) -> String {
    const DIGITS: &[u8; 36] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let mut ms = u128::try_from(now.unix_timestamp_nanos() / 1_000_000).unwrap_or(0);
    let mut time = Vec::new();
    loop {
        time.push(DIGITS[(ms % 36) as usize]);
        ms /= 36;
        if ms == 0 {
            break;
        }
    }
    time.reverse();
    let random: String = (0..4).map(|_| char::from(DIGITS[fastrand::usize(..36)])).collect();
    format!("ORD-{}-{random}", String::from_utf8_lossy(&time))
}

/// Whether `value` has the shape of an order number (a path parameter is checked before a query).
pub fn is_order_number(value: &str) -> bool {
    let mut parts = value.split('-');
    let alnum = |s: &str, min: usize, max: usize| (min..=max).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric());
    matches!((parts.next(), parts.next(), parts.next(), parts.next()), (Some("ORD"), Some(t), Some(r), None) if alnum(t, 1, 16) && alnum(r, 4, 4))
}

/// An address in a checkout request (seed-spec §3.6 fields; unknown keys refused). Named apart
/// from accounts' `AddressInput` in the merged OpenAPI document (no `isDefault` here).
#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = OrderAddressInput)]
pub struct AddressInput {
    #[garde(length(chars, min = 1, max = 100), custom(not_blank), custom(no_control_chars))]
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]*[^\t-\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000\u0000-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069][^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]*$"
    )]
    pub first_name: String,
    #[garde(length(chars, min = 1, max = 100), custom(not_blank), custom(no_control_chars))]
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]*[^\t-\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000\u0000-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069][^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]*$"
    )]
    pub last_name: String,
    #[garde(length(chars, min = 1, max = 200), custom(not_blank), custom(no_control_chars))]
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]*[^\t-\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000\u0000-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069][^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]*$"
    )]
    pub address1: String,
    #[garde(inner(length(chars, max = 200), custom(no_control_chars)))]
    #[schema(max_length = 200, pattern = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]*$")]
    #[serde(default)]
    pub address2: Option<String>,
    #[garde(length(chars, min = 1, max = 100), custom(not_blank), custom(no_control_chars))]
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]*[^\t-\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000\u0000-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069][^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]*$"
    )]
    pub city: String,
    #[garde(length(chars, min = 1, max = 100), custom(not_blank), custom(no_control_chars))]
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]*[^\t-\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000\u0000-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069][^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]*$"
    )]
    pub state: String,
    #[garde(length(chars, min = 1, max = 20), custom(not_blank), custom(no_control_chars))]
    #[schema(
        min_length = 1,
        max_length = 20,
        pattern = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]*[^\t-\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000\u0000-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069][^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]*$"
    )]
    pub postal_code: String,
    /// Country name or ISO 3166 code.
    #[garde(length(chars, min = 2, max = 60), custom(not_blank), custom(no_control_chars))]
    #[schema(
        min_length = 2,
        max_length = 60,
        pattern = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]*[^\t-\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000\u0000-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069][^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]*$"
    )]
    pub country: String,
    #[garde(inner(length(chars, max = 30), custom(no_control_chars)))]
    #[schema(max_length = 30, pattern = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]*$")]
    #[serde(default)]
    pub phone: Option<String>,
}

impl From<AddressInput> for Address {
    fn from(a: AddressInput) -> Self {
        let opt = |s: Option<String>| s.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        Address {
            first_name: a.first_name.trim().to_owned(),
            last_name: a.last_name.trim().to_owned(),
            address1: a.address1.trim().to_owned(),
            address2: opt(a.address2),
            city: a.city.trim().to_owned(),
            state: a.state.trim().to_owned(),
            postal_code: a.postal_code.trim().to_owned(),
            country: a.country.trim().to_owned(),
            phone: opt(a.phone),
        }
    }
}

/// `POST /api/orders`: the address given, or one of the caller's saved addresses.
#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CheckoutRequest {
    /// The address to ship to (or `shippingAddressId`).
    #[garde(dive)]
    #[serde(default)]
    pub shipping_address: Option<AddressInput>,
    /// One of the caller's saved addresses (`/api/users/me/addresses`).
    #[garde(skip)]
    #[serde(default)]
    pub shipping_address_id: Option<Uuid>,
    /// Defaults to the shipping address.
    #[garde(dive)]
    #[serde(default)]
    pub billing_address: Option<AddressInput>,
    #[garde(skip)]
    pub payment_method: PaymentMethod,
    #[garde(inner(length(chars, max = 1000), custom(no_control_chars_but_newlines)))]
    #[schema(max_length = 1000, pattern = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$")]
    #[serde(default)]
    pub notes: Option<String>,
}

fn no_control_chars_but_newlines(value: &str, _: &()) -> garde::Result {
    if value.chars().any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t') {
        return Err(garde::Error::new("must not contain control characters"));
    }
    Ok(())
}

/// `PATCH /api/orders/{id}/status`.
#[derive(Debug, Clone, Deserialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StatusChange {
    #[garde(skip)]
    pub status: Status,
    #[garde(inner(length(chars, max = 500), custom(no_control_chars)))]
    #[schema(max_length = 500, pattern = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]*$")]
    #[serde(default)]
    pub note: Option<String>,
    /// Required when moving to SHIPPED.
    #[garde(inner(length(chars, min = 1, max = 100), custom(not_blank), custom(no_control_chars)))]
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]*[^\t-\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000\u0000-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069][^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]*$"
    )]
    #[serde(default)]
    pub tracking_number: Option<String>,
    #[garde(inner(length(chars, min = 1, max = 60), custom(not_blank), custom(no_control_chars)))]
    #[schema(
        min_length = 1,
        max_length = 60,
        pattern = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]*[^\t-\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000\u0000-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069][^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]*$"
    )]
    #[serde(default)]
    pub carrier: Option<String>,
}

/// `POST /api/orders/{id}/cancel` (body optional).
#[derive(Debug, Clone, Default, Deserialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CancelRequest {
    #[garde(inner(length(chars, max = 500), custom(no_control_chars)))]
    #[schema(max_length = 500, pattern = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]*$")]
    #[serde(default)]
    pub reason: Option<String>,
}

/// One order line on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ItemView {
    pub product_id: Uuid,
    pub seller_id: Uuid,
    pub name: String,
    pub sku: String,
    /// Unit price in cents.
    pub price: i64,
    pub quantity: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// `price × quantity` in cents.
    pub line_total: i64,
}

impl From<&Line> for ItemView {
    fn from(l: &Line) -> Self {
        ItemView {
            product_id: l.product_id,
            seller_id: l.seller_id,
            name: l.name.clone(),
            sku: l.sku.clone(),
            price: l.price,
            quantity: l.quantity,
            image: l.image.clone(),
            line_total: l.price.saturating_mul(i64::from(l.quantity)),
        }
    }
}

/// An order as stored, with its lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    pub id: Uuid,
    pub order_number: String,
    pub user_id: Uuid,
    pub status: Status,
    pub payment_method: PaymentMethod,
    pub payment_id: Option<String>,
    pub currency: String,
    pub totals: shop_core::money::Totals,
    pub coupon_code: Option<String>,
    pub shipping_address: Address,
    pub billing_address: Address,
    pub notes: Option<String>,
    pub tracking_number: Option<String>,
    pub carrier: Option<String>,
    pub cancel_reason: Option<String>,
    pub payment_due_at: Option<Timestamp>,
    pub items: Vec<Line>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub confirmed_at: Option<Timestamp>,
    pub processing_at: Option<Timestamp>,
    pub shipped_at: Option<Timestamp>,
    pub delivered_at: Option<Timestamp>,
    pub cancelled_at: Option<Timestamp>,
    pub refunded_at: Option<Timestamp>,
    /// Why the order was flagged (a disputed payment), the first time.
    pub flagged_reason: Option<String>,
    pub flagged_at: Option<Timestamp>,
}

impl Order {
    /// The order as events carry it.
    pub fn snapshot(&self) -> OrderSnapshot {
        OrderSnapshot {
            order_id: self.id,
            order_number: self.order_number.clone(),
            user_id: self.user_id,
            status: self.status.as_str().to_owned(),
            payment_method: self.payment_method.as_str().to_owned(),
            items: self.items.clone(),
            subtotal: self.totals.subtotal,
            discount: self.totals.discount,
            shipping_cost: self.totals.shipping,
            tax: self.totals.tax,
            total: self.totals.total,
            currency: self.currency.clone(),
            coupon_code: self.coupon_code.clone(),
            shipping_address: self.shipping_address.clone(),
            placed_at: self.created_at,
        }
    }

    /// Whether every line is `seller`'s.
    pub fn only_lines_of(&self, seller: Uuid) -> bool {
        self.items.iter().all(|l| l.seller_id == seller)
    }

    pub fn view(&self) -> OrderView {
        OrderView {
            id: self.id,
            order_number: self.order_number.clone(),
            user_id: self.user_id,
            status: self.status,
            items: self.items.iter().map(ItemView::from).collect(),
            subtotal: self.totals.subtotal,
            discount: self.totals.discount,
            shipping_cost: self.totals.shipping,
            tax: self.totals.tax,
            total: self.totals.total,
            currency: self.currency.clone(),
            coupon_code: self.coupon_code.clone(),
            shipping_address: self.shipping_address.clone(),
            billing_address: self.billing_address.clone(),
            payment_method: self.payment_method,
            payment_id: self.payment_id.clone(),
            notes: self.notes.clone(),
            tracking_number: self.tracking_number.clone(),
            carrier: self.carrier.clone(),
            cancel_reason: self.cancel_reason.clone(),
            payment_due_at: if self.status == Status::Pending { self.payment_due_at } else { None },
            created_at: self.created_at,
            updated_at: self.updated_at,
            confirmed_at: self.confirmed_at,
            processing_at: self.processing_at,
            shipped_at: self.shipped_at,
            delivered_at: self.delivered_at,
            cancelled_at: self.cancelled_at,
            refunded_at: self.refunded_at,
            flagged_reason: self.flagged_reason.clone(),
            flagged_at: self.flagged_at,
        }
    }

    /// What a seller sees: only their lines and the shipping address (no billing address,
    /// notes of the customer stay; totals are of their lines only).
    pub fn seller_view(&self, seller: Uuid) -> SellerOrderView {
        let items: Vec<ItemView> = self.items.iter().filter(|l| l.seller_id == seller).map(ItemView::from).collect();
        SellerOrderView {
            id: self.id,
            order_number: self.order_number.clone(),
            status: self.status,
            items_total: items.iter().map(|i| i.line_total).sum(),
            only_your_lines: self.only_lines_of(seller),
            items,
            shipping_address: self.shipping_address.clone(),
            tracking_number: self.tracking_number.clone(),
            carrier: self.carrier.clone(),
            created_at: self.created_at,
            updated_at: self.updated_at,
            shipped_at: self.shipped_at,
        }
    }
}

/// An order on the wire. Money is integer cents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrderView {
    pub id: Uuid,
    pub order_number: String,
    pub user_id: Uuid,
    pub status: Status,
    pub items: Vec<ItemView>,
    pub subtotal: i64,
    pub discount: i64,
    pub shipping_cost: i64,
    pub tax: i64,
    pub total: i64,
    pub currency: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub coupon_code: Option<String>,
    pub shipping_address: Address,
    pub billing_address: Address,
    pub payment_method: PaymentMethod,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payment_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tracking_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub carrier: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cancel_reason: Option<String>,
    /// A PENDING card order is cancelled if not paid by then.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payment_due_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confirmed_at: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub processing_at: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shipped_at: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivered_at: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cancelled_at: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refunded_at: Option<Timestamp>,
    /// Why the order was flagged (its payment disputed); admins list them with `?flagged=true`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flagged_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flagged_at: Option<Timestamp>,
}

/// An order as a seller sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SellerOrderView {
    pub id: Uuid,
    pub order_number: String,
    pub status: Status,
    /// The seller's lines only.
    pub items: Vec<ItemView>,
    /// Sum of the seller's lines, cents.
    pub items_total: i64,
    /// Whether the order has no other seller's lines (only then may the seller ship it).
    pub only_your_lines: bool,
    pub shipping_address: Address,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tracking_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub carrier: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shipped_at: Option<Timestamp>,
}

/// One status change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HistoryEntry {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<Status>,
    pub to: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actor_id: Option<Uuid>,
    pub actor_role: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub at: Timestamp,
}

/// `GET /api/orders/stats`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Stats {
    pub from: Timestamp,
    pub to: Timestamp,
    pub total_orders: i64,
    /// Orders per status (every status present, 0 when none).
    pub by_status: std::collections::BTreeMap<String, i64>,
    /// Sum of the totals of paid orders (card orders from CONFIRMED on and not cancelled or
    /// refunded; cash-on-delivery orders once DELIVERED), cents.
    pub revenue: i64,
    pub currency: String,
    pub per_day: Vec<DayStats>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DayStats {
    /// `YYYY-MM-DD` (UTC).
    pub day: String,
    pub orders: i64,
    pub revenue: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_status_machine_is_the_seed_table() {
        use Status::*;
        let allowed: Vec<(Status, Status)> =
            Status::ALL.iter().flat_map(|&f| Status::ALL.iter().filter(move |&&t| f.can_move_to(t)).map(move |&t| (f, t))).collect();
        assert_eq!(
            allowed,
            vec![
                (Pending, Confirmed),
                (Pending, Cancelled),
                (Confirmed, Processing),
                (Confirmed, Cancelled),
                (Confirmed, Refunded),
                (Processing, Shipped),
                (Processing, Cancelled),
                (Processing, Refunded),
                (Shipped, Delivered),
                (Shipped, Refunded),
                (Delivered, Refunded),
            ]
        );
        assert!(Status::ALL.iter().all(|s| !s.can_move_to(*s)));
        assert!(Confirmed.restocks_on_refund() && Processing.restocks_on_refund() && !Shipped.restocks_on_refund());
        assert!(Pending.customer_may_cancel() && Confirmed.customer_may_cancel() && !Processing.customer_may_cancel());
    }

    #[test]
    fn order_numbers_have_the_seed_format() {
        let now = Timestamp::from(time::macros::datetime!(2025-06-01 12:00 UTC));
        let n = order_number(now);
        assert!(is_order_number(&n), "{n}");
        assert!(n.starts_with("ORD-MBDLZEO0-"), "{n}");
        assert_eq!(n.len(), "ORD-MBDLZEO0-XXXX".len());
        assert!(!is_order_number("ORD-1-ABC") && !is_order_number("ord-1-ABCD") && !is_order_number("ORD-1-AB/D"));
    }
}
