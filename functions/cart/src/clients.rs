//! What the cart needs from other functions, through their internal routes (never their
//! storage): product data from catalog, stock from inventory.

use std::collections::HashMap;

use http::StatusCode;
use serde::{Deserialize, Serialize};
use shop_core::{ApiError, ApiResult, FieldError};
use shop_internal::InternalClient;
use uuid::Uuid;

/// The fields of catalog's product JSON a cart line uses.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProductInfo {
    pub id: Uuid,
    pub name: String,
    /// Cents.
    pub price: i64,
    #[serde(default)]
    pub images: Vec<ImageRef>,
    pub is_active: bool,
    #[serde(default)]
    pub deleted_at: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ImageRef {
    pub url: String,
}

fn product_not_found(id: Uuid) -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "product_not_found", format!("Product {id} does not exist.")).with_errors(vec![FieldError::new(
        "productId",
        "not_found",
        "no product has this id",
    )])
}

/// The product behind a new or changed line: 404 when it never existed, 422
/// `product_inactive` when it is inactive or deleted (both name `productId`).
pub async fn sellable_product(catalog: &InternalClient, id: Uuid) -> ApiResult<ProductInfo> {
    match catalog.get::<ProductInfo>(&format!("/internal/products/{id}")).await {
        Ok(p) if p.is_active && p.deleted_at.is_none() => Ok(p),
        Ok(_) => Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "product_inactive", "This product cannot be bought at the moment.")
            .with_errors(vec![FieldError::new("productId", "product_inactive", "the product is not for sale")])),
        Err(e) if e.status() == Some(StatusCode::NOT_FOUND) => Err(product_not_found(id)),
        Err(e) => Err(e.into()),
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AvailabilityRequest<'a> {
    product_ids: &'a [Uuid],
}

#[derive(Deserialize)]
struct AvailabilityResponse {
    items: Vec<Availability>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Availability {
    product_id: Uuid,
    available: u32,
}

/// Units available per product (a product inventory does not know: 0).
pub async fn availability(inventory: &InternalClient, ids: &[Uuid]) -> ApiResult<HashMap<Uuid, u32>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let response: AvailabilityResponse = inventory.post("/internal/availability", &AvailabilityRequest { product_ids: ids }).await?;
    let mut out: HashMap<Uuid, u32> = ids.iter().map(|id| (*id, 0)).collect();
    for item in response.items {
        out.insert(item.product_id, item.available);
    }
    Ok(out)
}

/// 422 `insufficient_stock` naming `quantity`, with what is available.
pub fn insufficient_stock(available: u32, in_cart: u32) -> ApiError {
    let detail = if in_cart > 0 {
        format!("Only {available} available; the cart already holds {in_cart}.")
    } else {
        format!("Only {available} available.")
    };
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "insufficient_stock", detail).with_errors(vec![FieldError::new(
        "quantity",
        "insufficient_stock",
        format!("at most {available} available"),
    )])
}
