//! Cart and coupon types and rules, no I/O: lines, totals in integer cents, coupon terms and
//! the reasons a coupon does not apply, guest cart tokens.

use garde::Validate;
use serde::{Deserialize, Serialize};
use shop_core::money::Cents;
use shop_core::time::Timestamp;
use utoipa::ToSchema;
use uuid::Uuid;

/// Most units of one product in a cart line.
pub const MAX_QUANTITY: u32 = 99;
/// Totals of a cart in cents: the computation the order uses too (`shop_core::money::Totals`).
pub use shop_core::money::Totals;
/// Most distinct products in one cart.
pub const MAX_LINES: usize = 100;
/// How many checked-out order ids a cart remembers (a repeated checkout of one of them, the
/// orders function's retried call or the `OrderPlaced` backstop, changes nothing).
pub const CHECKED_OUT_KEPT: usize = 16;
/// Coupon codes that do not apply, per cart and window, before `POST /api/cart/coupon`
/// answers 429 (whatever the code).
pub const COUPON_TRIES_PER_CART: u64 = 10;
/// The same per source IP, across carts (guest carts cost nothing to make).
pub const COUPON_TRIES_PER_IP: u64 = 30;
/// The window of those counts: 15 minutes from the first attempt counted.
pub const COUPON_TRIES_WINDOW: std::time::Duration = std::time::Duration::from_secs(15 * 60);

/// One product in a cart, with the catalog data snapshotted when it was added.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Line {
    pub product_id: Uuid,
    pub name: String,
    /// Unit price in cents at the time the line was added.
    pub price: i64,
    pub quantity: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
}

impl Line {
    pub fn total(&self) -> i64 {
        self.price.saturating_mul(i64::from(self.quantity))
    }
}

/// Percent (of the subtotal) or fixed (cents, capped at the subtotal).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum CouponType {
    Percent,
    Fixed,
}

/// What a cart keeps of an applied coupon: enough to recompute the discount on every change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppliedCoupon {
    pub code: String,
    #[serde(rename = "type")]
    pub kind: CouponType,
    pub value: i64,
    #[serde(default)]
    pub min_subtotal: i64,
}

impl AppliedCoupon {
    /// The discount on `subtotal`: percent rounded half up to cents, fixed capped at the
    /// subtotal; 0 while the subtotal is below the coupon's minimum.
    pub fn discount(&self, subtotal: i64) -> i64 {
        if subtotal <= 0 || subtotal < self.min_subtotal {
            return 0;
        }
        match self.kind {
            CouponType::Percent => Cents(subtotal).percent_bp(self.value.saturating_mul(100)).0.min(subtotal),
            CouponType::Fixed => self.value.min(subtotal),
        }
    }
}

/// A cart as stored (the wire shape is [`CartView`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Cart {
    pub id: Uuid,
    #[serde(default)]
    pub user_id: Option<Uuid>,
    /// SHA-256 (hex) of a guest cart's token; never the token itself.
    #[serde(default)]
    pub token_hash: Option<String>,
    pub items: Vec<Line>,
    #[serde(default)]
    pub coupon: Option<AppliedCoupon>,
    /// Guest carts already merged into this one (the latest few): a repeated or concurrent
    /// merge of the same guest cart changes nothing. Stored only, never shown.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub merged_guests: Vec<Uuid>,
    /// Orders already checked out of this cart (the latest [`CHECKED_OUT_KEPT`]): a repeated
    /// checkout of the same order changes nothing. Stored only, never shown.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checked_out_orders: Vec<Uuid>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl Cart {
    pub fn new(user_id: Option<Uuid>, token_hash: Option<String>, now: Timestamp) -> Self {
        Self {
            id: shop_core::id::new_id(),
            user_id,
            token_hash,
            items: Vec::new(),
            coupon: None,
            merged_guests: Vec::new(),
            checked_out_orders: Vec::new(),
            created_at: now,
            updated_at: now,
        }
    }

    /// A guest cart as its token opens it before anything is stored: empty, with the id the
    /// token derives and the token's hash.
    pub fn guest(id: Uuid, token_hash: String, now: Timestamp) -> Self {
        Self { id, token_hash: Some(token_hash), ..Self::new(None, None, now) }
    }

    pub fn line(&self, product: Uuid) -> Option<&Line> {
        self.items.iter().find(|l| l.product_id == product)
    }

    pub fn quantity_of(&self, product: Uuid) -> u32 {
        self.line(product).map_or(0, |l| l.quantity)
    }

    /// Sets a line's quantity (0 removes it), refreshing its catalog snapshot when given.
    pub fn set_line(&mut self, line: Line) {
        match self.items.iter_mut().position(|l| l.product_id == line.product_id) {
            Some(i) if line.quantity == 0 => {
                self.items.remove(i);
            }
            Some(i) => self.items[i] = line,
            None if line.quantity == 0 => {}
            None => self.items.push(line),
        }
    }

    /// Empties the cart. The coupon goes too, and with it the discount (the seed kept a stale
    /// discount here and could total below zero).
    pub fn clear(&mut self) {
        self.items.clear();
        self.coupon = None;
    }

    /// Takes out what order `order_id` bought: each ordered product's quantity comes off its
    /// line (the line goes at 0 or below), the coupon goes if it is the order's. Lines added or
    /// raised since stay. False (and nothing changed) when this order was checked out already.
    pub fn check_out(&mut self, order_id: Uuid, bought: &[(Uuid, u32)], coupon_code: Option<&str>) -> bool {
        if self.checked_out_orders.contains(&order_id) {
            return false;
        }
        for (product, quantity) in bought {
            if let Some(i) = self.items.iter().position(|l| l.product_id == *product) {
                let left = self.items[i].quantity.saturating_sub(*quantity);
                if left == 0 {
                    self.items.remove(i);
                } else {
                    self.items[i].quantity = left;
                }
            }
        }
        if let (Some(applied), Some(code)) = (&self.coupon, coupon_code)
            && applied.code.eq_ignore_ascii_case(code.trim())
        {
            self.coupon = None;
        }
        self.checked_out_orders.push(order_id);
        let drop = self.checked_out_orders.len().saturating_sub(CHECKED_OUT_KEPT);
        self.checked_out_orders.drain(..drop);
        true
    }

    /// The cart as the orders function reads it at checkout.
    pub fn checkout_view(&self) -> CheckoutCart {
        let t = self.totals();
        CheckoutCart {
            cart_id: Some(self.id),
            user_id: self.user_id,
            items: self
                .items
                .iter()
                .map(|l| CheckoutLine {
                    product_id: l.product_id,
                    name: l.name.clone(),
                    price: l.price,
                    quantity: l.quantity,
                    image: l.image.clone(),
                })
                .collect(),
            coupon_code: self.coupon.as_ref().map(|c| c.code.clone()),
            subtotal: t.subtotal,
            discount: t.discount,
            shipping: t.shipping,
            tax: t.tax,
            total: t.total,
            currency: "usd".into(),
            updated_at: self.updated_at,
        }
    }

    pub fn subtotal(&self) -> i64 {
        self.items.iter().fold(0i64, |sum, l| sum.saturating_add(l.total()))
    }

    /// Subtotal, coupon discount, estimated shipping (0 from $100.00 of pre-discount subtotal
    /// and for an empty cart, else $9.99), estimated tax (8% of subtotal − discount, rounded
    /// half up) and total, recomputed from the lines every time.
    pub fn totals(&self) -> Totals {
        let subtotal = self.subtotal();
        let discount = self.coupon.as_ref().map_or(0, |c| c.discount(subtotal));
        Totals::compute(subtotal, discount, !self.items.is_empty())
    }

    pub fn view(&self) -> CartView {
        let t = self.totals();
        CartView {
            id: self.id,
            user_id: self.user_id,
            items: self
                .items
                .iter()
                .map(|l| LineView {
                    product_id: l.product_id,
                    name: l.name.clone(),
                    price: l.price,
                    quantity: l.quantity,
                    image: l.image.clone(),
                    line_total: l.total(),
                })
                .collect(),
            subtotal: t.subtotal,
            discount: t.discount,
            estimated_shipping: t.shipping,
            estimated_tax: t.tax,
            total: t.total,
            coupon_code: self.coupon.as_ref().map(|c| c.code.clone()),
            currency: "usd".into(),
            created_at: self.created_at,
            updated_at: self.updated_at,
            cart_token: None,
        }
    }
}

/// A cart line on the wire.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LineView {
    pub product_id: Uuid,
    pub name: String,
    /// Unit price in cents.
    pub price: i64,
    pub quantity: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// `price × quantity` in cents.
    pub line_total: i64,
}

/// A cart on the wire. Money is integer cents.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CartView {
    pub id: Uuid,
    /// The owner; absent for guest carts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<Uuid>,
    pub items: Vec<LineView>,
    pub subtotal: i64,
    pub discount: i64,
    pub estimated_shipping: i64,
    pub estimated_tax: i64,
    pub total: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub coupon_code: Option<String>,
    pub currency: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// Only in the response of the `POST /api/cart` that creates a guest cart: the secret the
    /// client sends back as `X-Cart-Token`. It is not stored and cannot be shown again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cart_token: Option<String>,
}

/// A cart line as the orders function reads it (internal).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckoutLine {
    pub product_id: Uuid,
    pub name: String,
    /// Unit price in cents when the line was added.
    pub price: i64,
    pub quantity: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
}

/// A user's cart for checkout (`GET /internal/carts/users/{userId}`, and the answer of the
/// checkout route). Money in cents, the totals of `shop_core::money::Totals`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckoutCart {
    /// Absent when the user has no cart (then `items` is empty).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cart_id: Option<Uuid>,
    pub user_id: Option<Uuid>,
    pub items: Vec<CheckoutLine>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coupon_code: Option<String>,
    pub subtotal: i64,
    pub discount: i64,
    pub shipping: i64,
    pub tax: i64,
    pub total: i64,
    pub currency: String,
    pub updated_at: Timestamp,
}

impl CheckoutCart {
    /// A user without a cart: nothing in it.
    pub fn empty(user_id: Uuid, now: Timestamp) -> Self {
        Self { cart_id: None, ..Cart::new(Some(user_id), None, now).checkout_view() }
    }
}

/// `POST /internal/carts/users/{userId}/checkout`: what order `orderId` bought.
#[derive(Debug, Clone, Deserialize, Validate)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CheckoutRequest {
    #[garde(skip)]
    pub order_id: Uuid,
    /// 1 to 100 lines, each product at most once.
    #[garde(length(min = 1, max = MAX_LINES), dive)]
    pub items: Vec<CheckoutItem>,
    /// The coupon the order used (case-insensitive).
    #[garde(inner(length(min = 1, max = 64)))]
    pub coupon_code: Option<String>,
}

/// One ordered product.
#[derive(Debug, Clone, Copy, Deserialize, Validate)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CheckoutItem {
    #[garde(skip)]
    pub product_id: Uuid,
    /// 1 to 99.
    #[garde(range(min = 1, max = MAX_QUANTITY))]
    pub quantity: u32,
}

/// The first duplicate of `ids`, by position.
pub fn first_duplicate(ids: impl IntoIterator<Item = Uuid>) -> Option<usize> {
    let mut seen = std::collections::HashSet::new();
    ids.into_iter().position(|id| !seen.insert(id))
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    out
}

/// SHA-256 of `text`, hex.
pub fn sha256_hex(text: &str) -> String {
    hex(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, text.as_bytes()).as_ref())
}

/// Guest cart tokens: `<cart id, 32 hex>.<secret: 256 random bits, 64 hex>`.
///
/// The id is derived from the secret ([`derive_id`]: a version-8 UUID from SHA-256 of the
/// secret), so a token vouches for its own id before anything is stored: finding a secret for a
/// given id is a preimage of SHA-256. That is what lets `POST /api/cart` store nothing. Once a
/// guest cart is stored, the SHA-256 of the whole token is kept on it and compared in constant
/// time; a stored cart answers only to that check (carts stored before ids were derived have a
/// random id and still open with their token).
pub mod token {
    use aws_lc_rs::rand::SecureRandom;
    use uuid::Uuid;

    /// Domain separation of the id derivation from the stored token hash.
    const ID_CONTEXT: &[u8] = b"skyshop guest cart id\0";

    use super::hex;

    /// The cart id a secret stands for: the first 128 bits of SHA-256(context ‖ secret) as a
    /// version-8 (custom) UUID.
    pub fn derive_id(secret: &str) -> Uuid {
        let mut digest = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
        digest.update(ID_CONTEXT);
        digest.update(secret.as_bytes());
        let digest = digest.finish();
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&digest.as_ref()[..16]);
        uuid::Builder::from_custom_bytes(bytes).into_uuid()
    }

    /// A new guest cart: its id and its token.
    pub fn generate() -> Result<(Uuid, String), aws_lc_rs::error::Unspecified> {
        let mut secret = [0u8; 32];
        aws_lc_rs::rand::SystemRandom::new().fill(&mut secret)?;
        let secret = hex(&secret);
        let id = derive_id(&secret);
        Ok((id, format!("{}.{secret}", id.simple())))
    }

    /// SHA-256 of a token, hex.
    pub fn hash(token: &str) -> String {
        super::sha256_hex(token)
    }

    /// The cart id of a well-formed token; `None` for anything else. Says nothing about whether
    /// the token is genuine ([`vouches_for_its_id`], [`matches`]).
    pub fn cart_id(token: &str) -> Option<Uuid> {
        let (id, secret) = token.split_once('.')?;
        if id.len() != 32 || secret.len() != 64 || !secret.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
            return None;
        }
        Uuid::try_parse(id).ok()
    }

    /// Whether a well-formed token's id is the one its secret derives (a genuine token of a
    /// cart that may not be stored yet). Nothing here is secret: anyone holding the token can
    /// compute the derivation.
    pub fn vouches_for_its_id(token: &str) -> bool {
        match (cart_id(token), token.split_once('.')) {
            (Some(id), Some((_, secret))) => derive_id(secret) == id,
            _ => false,
        }
    }

    /// Whether `token` hashes to `stored`, compared in constant time.
    pub fn matches(token: &str, stored: &str) -> bool {
        aws_lc_rs::constant_time::verify_slices_are_equal(hash(token).as_bytes(), stored.as_bytes()).is_ok()
    }
}

/// Why a coupon does not apply (the `code` of the field error naming `code`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    Unknown,
    Inactive,
    Expired,
    NotStarted,
    MinSubtotal,
    LimitReached,
    /// The cart has no items (nothing to discount).
    EmptyCart,
}

impl Rejection {
    pub fn code(self) -> &'static str {
        match self {
            Rejection::Unknown => "unknown",
            Rejection::Inactive => "inactive",
            Rejection::Expired => "expired",
            Rejection::NotStarted => "not_started",
            Rejection::MinSubtotal => "min_subtotal",
            Rejection::LimitReached => "limit_reached",
            Rejection::EmptyCart => "empty_cart",
        }
    }

    pub fn message(self) -> &'static str {
        match self {
            Rejection::Unknown => "no coupon has this code",
            Rejection::Inactive => "this coupon is not active",
            Rejection::Expired => "this coupon has expired",
            Rejection::NotStarted => "this coupon is not valid yet",
            Rejection::MinSubtotal => "the subtotal is below this coupon's minimum",
            Rejection::LimitReached => "this coupon has been used up",
            Rejection::EmptyCart => "the cart is empty",
        }
    }
}

/// A coupon (admin-managed, `PromotionsTable`). Money in cents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Coupon {
    /// Upper-case; unique regardless of case.
    pub code: String,
    #[serde(rename = "type")]
    pub kind: CouponType,
    /// Percent: 1–100. Fixed: cents, > 0.
    pub value: i64,
    /// Smallest subtotal (cents) the coupon applies to.
    #[serde(default)]
    pub min_subtotal: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starts_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ends_at: Option<Timestamp>,
    /// Most redemptions overall; absent: unlimited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_redemptions: Option<u32>,
    /// Most redemptions per user; absent: unlimited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_user_limit: Option<u32>,
    pub active: bool,
    /// Redemptions so far (orders placed with it, minus released ones).
    #[serde(default)]
    pub redemption_count: u32,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl Coupon {
    pub fn terms(&self) -> AppliedCoupon {
        AppliedCoupon { code: self.code.clone(), kind: self.kind, value: self.value, min_subtotal: self.min_subtotal }
    }

    /// Whether the coupon applies now to `subtotal` (limits counted so far; redemption checks
    /// them again atomically).
    pub fn check(&self, now: Timestamp, subtotal: i64, used_by_user: u32) -> Result<(), Rejection> {
        if !self.active {
            return Err(Rejection::Inactive);
        }
        if self.starts_at.is_some_and(|s| now < s) {
            return Err(Rejection::NotStarted);
        }
        if self.ends_at.is_some_and(|e| now >= e) {
            return Err(Rejection::Expired);
        }
        if self.max_redemptions.is_some_and(|m| self.redemption_count >= m) || self.per_user_limit.is_some_and(|m| used_by_user >= m) {
            return Err(Rejection::LimitReached);
        }
        if subtotal <= 0 {
            return Err(Rejection::EmptyCart);
        }
        if subtotal < self.min_subtotal {
            return Err(Rejection::MinSubtotal);
        }
        Ok(())
    }

    /// Checks the rules that span fields (value by type, window order).
    pub fn validate_terms(&self) -> Result<(), shop_core::ApiError> {
        let mut errors = Vec::new();
        match self.kind {
            CouponType::Percent if !(1..=100).contains(&self.value) => {
                errors.push(shop_core::FieldError::new("value", "invalid", "a percent coupon's value is 1 to 100"));
            }
            CouponType::Fixed if !(1..=MAX_FIXED).contains(&self.value) => {
                errors.push(shop_core::FieldError::new("value", "invalid", "a fixed coupon's value is 1 to 100000000 cents"));
            }
            _ => {}
        }
        if let (Some(s), Some(e)) = (self.starts_at, self.ends_at)
            && e <= s
        {
            errors.push(shop_core::FieldError::new("endsAt", "invalid", "must be after startsAt"));
        }
        if errors.is_empty() { Ok(()) } else { Err(shop_core::ApiError::validation(errors)) }
    }
}

/// Largest fixed discount: $1,000,000.00.
pub const MAX_FIXED: i64 = 100_000_000;

/// Largest `maxRedemptions` and `perUserLimit` (inside a signed 32-bit integer, the document's
/// `int32`).
pub const MAX_REDEMPTIONS: u32 = 1_000_000_000;

/// Whether `value` can be a coupon code: 2–32 letters, digits, `-` and `_` (any case). Nothing
/// else is ever stored, so anything else names no coupon (and is never sent to DynamoDB, whose
/// keys are limited to 2,048 bytes).
pub fn is_code(value: &str) -> bool {
    (2..=32).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// garde rule for coupon codes: 2–32 letters, digits, `-` and `_`.
pub fn valid_code(value: &str, _: &()) -> garde::Result {
    if is_code(value) { Ok(()) } else { Err(garde::Error::new("2 to 32 letters, digits, '-' or '_'")) }
}

/// `POST /api/coupons`.
#[derive(Debug, Clone, Deserialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CouponInput {
    /// Case-insensitive; stored upper-case.
    #[garde(custom(valid_code))]
    #[schema(min_length = 2, max_length = 32, pattern = r"^[A-Za-z0-9_-]{2,32}$")]
    pub code: String,
    #[serde(rename = "type")]
    #[garde(skip)]
    pub kind: CouponType,
    /// Percent: 1–100. Fixed: cents, 1 to 100,000,000.
    #[garde(skip)]
    #[schema(minimum = 1, maximum = 100_000_000)]
    pub value: i64,
    #[garde(inner(range(min = 0, max = MAX_FIXED)))]
    #[schema(minimum = 0, maximum = 100_000_000)]
    pub min_subtotal: Option<i64>,
    #[serde(default)]
    #[garde(skip)]
    pub starts_at: Option<Timestamp>,
    #[serde(default)]
    #[garde(skip)]
    pub ends_at: Option<Timestamp>,
    #[garde(inner(range(min = 1, max = MAX_REDEMPTIONS)))]
    #[schema(minimum = 1, maximum = 1_000_000_000)]
    pub max_redemptions: Option<u32>,
    #[garde(inner(range(min = 1, max = MAX_REDEMPTIONS)))]
    #[schema(minimum = 1, maximum = 1_000_000_000)]
    pub per_user_limit: Option<u32>,
    /// Default true.
    #[garde(skip)]
    pub active: Option<bool>,
}

/// `PUT /api/coupons/{code}`: absent fields stay; `null` clears an optional one. The code and
/// the redemption count cannot be changed.
#[derive(Debug, Clone, Default, Deserialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CouponUpdate {
    #[serde(rename = "type")]
    #[garde(skip)]
    pub kind: Option<CouponType>,
    /// Percent: 1–100. Fixed: cents, 1 to 100,000,000.
    #[garde(skip)]
    #[schema(minimum = 1, maximum = 100_000_000)]
    pub value: Option<i64>,
    #[garde(inner(range(min = 0, max = MAX_FIXED)))]
    #[schema(minimum = 0, maximum = 100_000_000)]
    pub min_subtotal: Option<i64>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<Timestamp>)]
    #[garde(skip)]
    pub starts_at: Option<Option<Timestamp>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<Timestamp>)]
    #[garde(skip)]
    pub ends_at: Option<Option<Timestamp>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<u32>, minimum = 1, maximum = 1_000_000_000)]
    #[garde(inner(inner(range(min = 1, max = MAX_REDEMPTIONS))))]
    pub max_redemptions: Option<Option<u32>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<u32>, minimum = 1, maximum = 1_000_000_000)]
    #[garde(inner(inner(range(min = 1, max = MAX_REDEMPTIONS))))]
    pub per_user_limit: Option<Option<u32>>,
    #[garde(skip)]
    pub active: Option<bool>,
}

/// Present-but-null → `Some(None)`; absent → `None` (with `#[serde(default)]`).
fn nullable<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

impl CouponUpdate {
    /// `coupon` with this update applied.
    pub fn apply(self, mut coupon: Coupon) -> Coupon {
        if let Some(v) = self.kind {
            coupon.kind = v;
        }
        if let Some(v) = self.value {
            coupon.value = v;
        }
        if let Some(v) = self.min_subtotal {
            coupon.min_subtotal = v;
        }
        if let Some(v) = self.starts_at {
            coupon.starts_at = v;
        }
        if let Some(v) = self.ends_at {
            coupon.ends_at = v;
        }
        if let Some(v) = self.max_redemptions {
            coupon.max_redemptions = v;
        }
        if let Some(v) = self.per_user_limit {
            coupon.per_user_limit = v;
        }
        if let Some(v) = self.active {
            coupon.active = v;
        }
        coupon
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(price: i64, quantity: u32) -> Line {
        Line { product_id: Uuid::now_v7(), name: "x".into(), price, quantity, image: None }
    }

    fn cart(lines: Vec<Line>, coupon: Option<AppliedCoupon>) -> Cart {
        let mut c = Cart::new(None, None, Timestamp::UNIX_EPOCH);
        c.items = lines;
        c.coupon = coupon;
        c
    }

    fn save10() -> AppliedCoupon {
        AppliedCoupon { code: "SAVE10".into(), kind: CouponType::Percent, value: 10, min_subtotal: 0 }
    }

    #[test]
    fn totals_follow_the_seed_rules() {
        // $59.97 + $49.99 = $109.96; SAVE10 → $11.00 (10.996 rounded); free shipping; tax 8% of $98.96.
        let t = cart(vec![line(1999, 3), line(4999, 1)], Some(save10())).totals();
        assert_eq!(t, Totals { subtotal: 10_996, discount: 1_100, shipping: 0, tax: 792, total: 10_688 });
        // Below $100 (pre-discount): $9.99 shipping.
        let t = cart(vec![line(2500, 2)], None).totals();
        assert_eq!(t, Totals { subtotal: 5_000, discount: 0, shipping: 999, tax: 400, total: 6_399 });
        // Fixed coupons are capped at the subtotal; the total never goes below shipping.
        let flat100 = AppliedCoupon { code: "FLAT100".into(), kind: CouponType::Fixed, value: 10_000, min_subtotal: 0 };
        let t = cart(vec![line(4000, 1)], Some(flat100)).totals();
        assert_eq!(t, Totals { subtotal: 4_000, discount: 4_000, shipping: 999, tax: 0, total: 999 });
        assert_eq!(cart(vec![], None).totals().total, 0);
    }

    #[test]
    fn checking_out_takes_what_the_order_bought_once() {
        let (a, b, c) = (line(1000, 3), line(500, 1), line(200, 2));
        let (pa, pb, pc) = (a.product_id, b.product_id, c.product_id);
        let mut cart = cart(vec![a, b, c], Some(save10()));
        let order = Uuid::now_v7();
        assert!(cart.check_out(order, &[(pa, 2), (pb, 5), (Uuid::now_v7(), 1)], Some("save10")));
        assert_eq!(cart.items.iter().map(|l| (l.product_id, l.quantity)).collect::<Vec<_>>(), vec![(pa, 1), (pc, 2)]);
        assert!(cart.coupon.is_none(), "the order's coupon goes");
        let before = cart.clone();
        assert!(!cart.check_out(order, &[(pa, 1)], None), "a repeat changes nothing");
        assert_eq!(cart, before);
        // Another coupon stays; only the latest few orders are remembered.
        cart.coupon = Some(save10());
        assert!(cart.check_out(Uuid::now_v7(), &[], Some("OTHER")));
        assert!(cart.coupon.is_some());
        for _ in 0..CHECKED_OUT_KEPT {
            cart.check_out(Uuid::now_v7(), &[], None);
        }
        assert_eq!(cart.checked_out_orders.len(), CHECKED_OUT_KEPT);
        assert!(!cart.checked_out_orders.contains(&order));
    }

    #[test]
    fn clearing_drops_coupon_and_discount() {
        let mut c = cart(vec![line(1999, 3)], Some(save10()));
        c.clear();
        assert_eq!(c.totals(), Totals { subtotal: 0, discount: 0, shipping: 0, tax: 0, total: 0 });
        assert!(c.coupon.is_none());
    }

    #[test]
    fn tokens_round_trip_vouch_for_their_id_and_reject_garbage() {
        let (id, t) = token::generate().unwrap();
        assert_eq!(token::cart_id(&t), Some(id));
        assert_eq!(id.get_version(), Some(uuid::Version::Custom));
        assert!(token::vouches_for_its_id(&t));
        assert!(token::matches(&t, &token::hash(&t)));
        assert!(!token::matches(&format!("{t}0"), &token::hash(&t)));
        for bad in ["", "abc", &format!("{}.xyz", id.simple()), &t.to_uppercase(), &format!("{id}.{}", "0".repeat(64))] {
            assert_eq!(token::cart_id(bad), None, "{bad}");
            assert!(!token::vouches_for_its_id(bad), "{bad}");
        }
        // Another secret for the same id, or the secret under another id, does not vouch.
        let (other_id, other) = token::generate().unwrap();
        let (_, other_secret) = other.split_once('.').unwrap();
        assert!(!token::vouches_for_its_id(&format!("{}.{}", id.simple(), "0".repeat(64))));
        assert!(!token::vouches_for_its_id(&format!("{}.{other_secret}", id.simple())));
        assert_ne!(id, other_id);
        // A token of the old shape (random id) is well-formed but vouches for nothing.
        let old = format!("{}.{other_secret}", Uuid::now_v7().simple());
        assert!(token::cart_id(&old).is_some() && !token::vouches_for_its_id(&old));
    }
}
