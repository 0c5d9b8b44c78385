//! Inventory types and rules, without I/O: the stock of one product, reservations and their
//! status transitions, and the request bodies with their validation.
//!
//! Stock is two counters: `available` (may be sold or reserved) and `reserved` (held by
//! reservations that are neither committed nor released). Neither is ever negative: every
//! decrement is a conditional write in [`crate::store`].

use garde::Validate;
use serde::{Deserialize, Serialize};
use shop_core::time::Timestamp;
use shop_core::types::Quantity;
use utoipa::ToSchema;
use uuid::Uuid;

/// The low-stock threshold of a product whose stock was set without one.
pub const DEFAULT_LOW_STOCK_THRESHOLD: u32 = 10;
/// How long a reservation holds stock unless the caller says otherwise.
pub const DEFAULT_RESERVATION_TTL_SECONDS: u32 = 900;
/// Most lines in one reservation (one transaction: a line per product plus the reservation).
pub const MAX_RESERVATION_LINES: usize = 50;
/// Most products in one availability query, `GET /api/inventory?ids=` or bulk upsert.
pub const MAX_IDS: usize = 100;
/// Most units of one product (and the largest adjustment).
pub const MAX_UNITS: u32 = 1_000_000;

/// The stock of one product as stored (one item per product).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Stock {
    pub product_id: Uuid,
    /// Units that may be sold or reserved.
    pub available: i64,
    /// Units held by open reservations.
    pub reserved: i64,
    pub low_stock_threshold: i64,
    /// The product's seller (from the catalog); ownership checks use it.
    pub seller_id: Option<Uuid>,
    pub product_name: String,
    pub sku: Option<String>,
    pub updated_at: Timestamp,
    /// Bumped by every stock change; names the change (e.g. in event ids).
    pub version: u64,
}

impl Stock {
    /// `available <= lowStockThreshold`.
    pub fn is_low(&self) -> bool {
        is_low(self.available, self.low_stock_threshold)
    }

    pub fn view(&self) -> StockView {
        StockView {
            product_id: self.product_id,
            available: clamp_u32(self.available),
            reserved: clamp_u32(self.reserved),
            low_stock_threshold: clamp_u32(self.low_stock_threshold),
            in_stock: self.available > 0,
            updated_at: self.updated_at,
        }
    }
}

/// Whether `available` is at or below `threshold`.
pub fn is_low(available: i64, threshold: i64) -> bool {
    available <= threshold
}

fn clamp_u32(v: i64) -> u32 {
    u32::try_from(v.max(0)).unwrap_or(u32::MAX)
}

/// A product's stock on the wire.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StockView {
    pub product_id: Uuid,
    pub available: u32,
    pub reserved: u32,
    pub low_stock_threshold: u32,
    /// `available > 0`.
    pub in_stock: bool,
    pub updated_at: Timestamp,
}

/// `{items: [...]}`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct StockList {
    pub items: Vec<StockView>,
}

/// The state of a reservation. `reserved` is the only state holding stock; the others are final.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ReservationStatus {
    /// Holds its lines' units (`reserved` on the stock items).
    Reserved,
    /// The order was placed: the units are sold.
    Committed,
    /// Released by the caller: the units went back to `available`.
    Released,
    /// Not committed in time: the expiry schedule returned the units.
    Expired,
    /// Committed, then the order was cancelled: the sold units went back to `available`
    /// (audited, reason `order_cancelled`).
    Restocked,
}

impl ReservationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Reserved => "reserved",
            Self::Committed => "committed",
            Self::Released => "released",
            Self::Expired => "expired",
            Self::Restocked => "restocked",
        }
    }
}

/// One product and quantity of a reservation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Line {
    #[garde(skip)]
    pub product_id: Uuid,
    /// 1 to 99 units.
    #[garde(skip)]
    pub quantity: Quantity,
}

/// Whether two line lists hold the same quantities of the same products (in any order).
pub fn same_lines(a: &[Line], b: &[Line]) -> bool {
    let sorted = |lines: &[Line]| {
        let mut v: Vec<(Uuid, u32)> = lines.iter().map(|l| (l.product_id, l.quantity.get())).collect();
        v.sort_unstable();
        v
    };
    sorted(a) == sorted(b)
}

/// A reservation as stored and returned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Reservation {
    pub order_id: Uuid,
    pub status: ReservationStatus,
    pub expires_at: Timestamp,
    pub lines: Vec<Line>,
    /// When a late payment last renewed it (`POST /internal/reservations/{orderId}/renew`): an
    /// `OrderCancelled` of a cancellation before this is stale and changes nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renewed_at: Option<Timestamp>,
}

/// `POST /internal/reservations`.
#[derive(Debug, Clone, Deserialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReserveRequest {
    /// The order the units are held for; the idempotency key.
    #[garde(skip)]
    pub order_id: Uuid,
    /// 1 to 50 lines, each product at most once.
    #[garde(length(min = 1, max = MAX_RESERVATION_LINES), dive)]
    pub lines: Vec<Line>,
    /// How long the units are held (60 s to 24 h; default 900).
    #[garde(inner(range(min = 60, max = 86_400)))]
    pub ttl_seconds: Option<u32>,
}

/// `POST /internal/reservations/{orderId}/renew`: the order's lines again (a late payment).
#[derive(Debug, Clone, Deserialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RenewRequest {
    /// The order's lines (as reserved at checkout): 1 to 50, each product at most once.
    #[garde(length(min = 1, max = MAX_RESERVATION_LINES), dive)]
    pub lines: Vec<Line>,
    /// How long the units are held from now (60 s to 24 h; default 900).
    #[garde(inner(range(min = 60, max = 86_400)))]
    pub ttl_seconds: Option<u32>,
}

/// `{orderId, status}` of commit, release and cancel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReservationState {
    pub order_id: Uuid,
    pub status: ReservationStatus,
}

/// `POST /internal/availability`.
#[derive(Debug, Clone, Deserialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AvailabilityRequest {
    /// 1 to 100 product ids.
    #[garde(length(min = 1, max = MAX_IDS))]
    pub product_ids: Vec<Uuid>,
}

/// One product's availability for other functions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Availability {
    pub product_id: Uuid,
    /// 0 for a product without stock.
    pub available: u32,
    pub in_stock: bool,
}

/// `{items: [...]}` of `POST /internal/availability`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AvailabilityList {
    pub items: Vec<Availability>,
}

/// `PUT /api/inventory/{productId}`.
#[derive(Debug, Clone, Deserialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SetStock {
    /// Units available (0 to 1,000,000).
    #[garde(range(max = MAX_UNITS))]
    #[schema(maximum = 1_000_000)]
    pub available: u32,
    /// At or below this the product is low on stock (default: unchanged, 10 for a new row).
    #[garde(inner(range(max = MAX_UNITS)))]
    #[schema(minimum = 0, maximum = 1_000_000)]
    pub low_stock_threshold: Option<u32>,
}

/// `POST /api/inventory/{productId}/adjust`.
#[derive(Debug, Clone, Deserialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Adjust {
    /// Units added (positive) or removed (negative); not 0.
    #[garde(range(min = -(MAX_UNITS as i64), max = MAX_UNITS as i64), custom(non_zero))]
    #[schema(minimum = -1_000_000, maximum = 1_000_000)]
    pub delta: i64,
    /// Why (kept in the audit log).
    #[garde(length(chars, min = 1, max = 200), custom(shop_core::extract::not_blank))]
    #[schema(min_length = 1, max_length = 200, pattern = r"[^\t-\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]")]
    pub reason: String,
}

fn non_zero(value: &i64, _: &()) -> garde::Result {
    if *value == 0 { Err(garde::Error::new("must not be 0")) } else { Ok(()) }
}

/// One row of `POST /api/inventory/bulk`.
#[derive(Debug, Clone, Deserialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BulkItem {
    #[garde(skip)]
    pub product_id: Uuid,
    #[garde(range(max = MAX_UNITS))]
    #[schema(maximum = 1_000_000)]
    pub available: u32,
    #[garde(inner(range(max = MAX_UNITS)))]
    #[schema(minimum = 0, maximum = 1_000_000)]
    pub low_stock_threshold: Option<u32>,
}

/// `POST /api/inventory/bulk`.
#[derive(Debug, Clone, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Bulk {
    /// 1 to 100 rows, each product at most once.
    #[garde(length(min = 1, max = MAX_IDS), dive)]
    #[schema(min_items = 1, max_items = 100)]
    pub items: Vec<BulkItem>,
}

/// One audited stock adjustment, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntry {
    pub product_id: Uuid,
    /// The user who adjusted.
    pub actor: Uuid,
    pub delta: i64,
    pub reason: String,
    pub before: i64,
    pub after: i64,
    pub at: Timestamp,
}

/// What the catalog shows of a product's stock: `inStock`, and `available` only while at or
/// below the threshold. A stock change the catalog must hear about changes this (or the
/// threshold).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Visible {
    pub in_stock: bool,
    pub shown: Option<i64>,
    pub threshold: i64,
}

impl Visible {
    pub fn of(available: i64, threshold: i64) -> Self {
        Self { in_stock: available > 0, shown: is_low(available, threshold).then_some(available), threshold }
    }
}

/// The first duplicate product of `ids`, by position.
pub fn first_duplicate(ids: impl IntoIterator<Item = Uuid>) -> Option<usize> {
    let mut seen = std::collections::HashSet::new();
    ids.into_iter().position(|id| !seen.insert(id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn visibility_follows_the_threshold() {
        assert_eq!(Visible::of(50, 10), Visible { in_stock: true, shown: None, threshold: 10 });
        assert_eq!(Visible::of(10, 10), Visible { in_stock: true, shown: Some(10), threshold: 10 });
        assert_eq!(Visible::of(0, 10), Visible { in_stock: false, shown: Some(0), threshold: 10 });
        assert_eq!(Visible::of(50, 10), Visible::of(40, 10), "above the threshold a change is invisible");
    }

    #[test]
    fn duplicates_are_found_by_position() {
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        assert_eq!(first_duplicate([a, b]), None);
        assert_eq!(first_duplicate([a, b, a]), Some(2));
    }
}
