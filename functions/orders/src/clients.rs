//! What checkout needs from other functions, through their internal routes (never their
//! storage). Every call is idempotent (internal calls are retried): coupon redemptions and
//! reservations are keyed by the order id, the cart clear by the order id too.

use http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use shop_aws::messages::orders::Address;
use shop_core::time::Timestamp;
use shop_internal::{CallError, InternalClient};
use uuid::Uuid;

/// A line of the caller's cart as checkout reads it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CartLine {
    pub product_id: Uuid,
    pub name: String,
    /// Unit price in cents when it entered the cart.
    pub price: i64,
    pub quantity: u32,
    #[serde(default)]
    pub image: Option<String>,
}

/// The caller's cart (`GET /internal/carts/users/{userId}` on cart).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CartSnapshot {
    pub items: Vec<CartLine>,
    #[serde(default)]
    pub coupon_code: Option<String>,
    pub subtotal: i64,
    pub discount: i64,
    pub shipping: i64,
    pub tax: i64,
    pub total: i64,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct OrderedLine {
    product_id: Uuid,
    quantity: u32,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct CheckoutClear<'a> {
    order_id: Uuid,
    items: Vec<OrderedLine>,
    #[serde(skip_serializing_if = "Option::is_none")]
    coupon_code: Option<&'a str>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Redeem<'a> {
    code: &'a str,
    order_id: Uuid,
    user_id: Uuid,
    subtotal: i64,
}

/// `{code, discount, redemptionId}` of a redemption.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Redemption {
    pub code: String,
    pub discount: i64,
}

/// The cart function.
#[derive(Clone)]
pub struct Cart(pub InternalClient);

impl Cart {
    #[tracing::instrument(skip_all)]
    pub async fn read(&self, user: Uuid) -> Result<CartSnapshot, CallError> {
        self.0.get(&format!("/internal/carts/users/{user}")).await
    }

    /// Removes what the order bought from the cart (idempotent by order id).
    #[tracing::instrument(skip_all, fields(order_id = %order))]
    pub async fn clear_ordered(&self, user: Uuid, order: Uuid, lines: &[(Uuid, u32)], coupon: Option<&str>) -> Result<(), CallError> {
        let body = CheckoutClear {
            order_id: order,
            items: lines.iter().map(|&(product_id, quantity)| OrderedLine { product_id, quantity }).collect(),
            coupon_code: coupon,
        };
        self.0.post::<_, Value>(&format!("/internal/carts/users/{user}/checkout"), &body).await.map(|_| ())
    }

    /// Redeems `code` for the order (idempotent by order id). A refusal is a `Status` 422 with
    /// the cart's problem body (`invalid_coupon`, the reason in `errors[0].code`).
    #[tracing::instrument(skip_all, fields(order_id = %order))]
    pub async fn redeem(&self, code: &str, order: Uuid, user: Uuid, subtotal: i64) -> Result<Redemption, CallError> {
        self.0.post("/internal/coupons/redemptions", &Redeem { code, order_id: order, user_id: user, subtotal }).await
    }

    /// Gives the order's redemption back (204 whether or not there was one).
    #[tracing::instrument(skip_all, fields(order_id = %order))]
    pub async fn release_coupon(&self, order: Uuid) -> Result<(), CallError> {
        self.0.delete::<()>(&format!("/internal/coupons/redemptions/{order}")).await
    }
}

/// The fields of catalog's product JSON an order line snapshots.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Product {
    pub id: Uuid,
    pub seller_id: Uuid,
    pub name: String,
    pub sku: String,
    /// Cents.
    pub price: i64,
    #[serde(default)]
    pub images: Vec<Image>,
    pub is_active: bool,
    #[serde(default)]
    pub deleted_at: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Image {
    pub url: String,
}

/// The catalog function.
#[derive(Clone)]
pub struct Catalog(pub InternalClient);

impl Catalog {
    /// The product in any state; `None` if it never existed.
    #[tracing::instrument(skip_all, fields(product_id = %id))]
    pub async fn product(&self, id: Uuid) -> Result<Option<Product>, CallError> {
        match self.0.get::<Product>(&format!("/internal/products/{id}")).await {
            Ok(p) => Ok(Some(p)),
            Err(e) if e.status() == Some(StatusCode::NOT_FOUND) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ReserveLine {
    product_id: Uuid,
    quantity: u32,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Reserve {
    order_id: Uuid,
    lines: Vec<ReserveLine>,
    ttl_seconds: u32,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Renew {
    lines: Vec<ReserveLine>,
    ttl_seconds: u32,
}

/// What renewing a reservation got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Renewal {
    /// The order's units are held (again) or sold; when inventory recorded the renewal (its
    /// clock: an `OrderCancelled` of a cancellation before this no longer releases the stock).
    Held(Option<Timestamp>),
    /// Not enough stock (nothing was taken).
    Short,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct AvailabilityRequest<'a> {
    product_ids: &'a [Uuid],
}

#[derive(Debug, Deserialize)]
struct AvailabilityList {
    items: Vec<Availability>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Availability {
    product_id: Uuid,
    available: u32,
}

/// The inventory function.
#[derive(Clone)]
pub struct Inventory(pub InternalClient);

impl Inventory {
    /// Holds every line or none (idempotent by order id). 409 `insufficient_stock` names the
    /// short lines (`lines[i].quantity`).
    #[tracing::instrument(skip_all, fields(order_id = %order))]
    pub async fn reserve(&self, order: Uuid, lines: &[(Uuid, u32)], ttl: time::Duration) -> Result<(), CallError> {
        let body = Reserve {
            order_id: order,
            lines: lines.iter().map(|&(product_id, quantity)| ReserveLine { product_id, quantity }).collect(),
            ttl_seconds: u32::try_from(ttl.whole_seconds()).unwrap_or(u32::MAX),
        };
        self.0.post::<_, Value>("/internal/reservations", &body).await.map(|_| ())
    }

    /// Holds the order's stock again for a late payment (idempotent by order id): a released or
    /// expired reservation is taken again, every line or none; one still held or committed
    /// stays. [`Renewal::Short`] when inventory cannot hold it (409 `insufficient_stock`, or
    /// `reservation_released` for one restocked).
    #[tracing::instrument(skip_all, fields(order_id = %order))]
    pub async fn renew(&self, order: Uuid, lines: &[(Uuid, u32)], ttl: time::Duration) -> Result<Renewal, CallError> {
        let body = Renew {
            lines: lines.iter().map(|&(product_id, quantity)| ReserveLine { product_id, quantity }).collect(),
            ttl_seconds: u32::try_from(ttl.whole_seconds()).unwrap_or(u32::MAX),
        };
        match self.0.post::<_, Value>(&format!("/internal/reservations/{order}/renew"), &body).await {
            Ok(reservation) => Ok(Renewal::Held(serde_json::from_value(reservation["renewedAt"].clone()).ok())),
            Err(e)
                if e.status() == Some(StatusCode::CONFLICT)
                    && matches!(e.problem_code(), Some("insufficient_stock" | "reservation_released")) =>
            {
                Ok(Renewal::Short)
            }
            Err(e) => Err(e),
        }
    }

    /// Returns the order's stock: a reservation is released, committed stock restocked
    /// (idempotent; no reservation is fine).
    #[tracing::instrument(skip_all, fields(order_id = %order))]
    pub async fn cancel(&self, order: Uuid) -> Result<(), CallError> {
        match self.0.post::<_, Value>(&format!("/internal/reservations/{order}/cancel"), &serde_json::json!({})).await {
            Ok(_) => Ok(()),
            Err(e) if e.status() == Some(StatusCode::NOT_FOUND) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Units available per product.
    pub async fn availability(&self, ids: &[Uuid]) -> Result<std::collections::HashMap<Uuid, u32>, CallError> {
        let list: AvailabilityList = self.0.post("/internal/availability", &AvailabilityRequest { product_ids: ids }).await?;
        Ok(list.items.into_iter().map(|a| (a.product_id, a.available)).collect())
    }
}

/// The accounts function.
#[derive(Clone)]
pub struct Accounts(pub InternalClient);

impl Accounts {
    /// One of the user's saved addresses; `None` when it is not theirs or does not exist.
    #[tracing::instrument(skip_all)]
    pub async fn address(&self, user: Uuid, id: Uuid) -> Result<Option<Address>, CallError> {
        match self.0.get::<Address>(&format!("/internal/users/{user}/addresses/{id}")).await {
            Ok(a) => Ok(Some(a)),
            Err(e) if e.status() == Some(StatusCode::NOT_FOUND) => Ok(None),
            Err(e) => Err(e),
        }
    }
}
