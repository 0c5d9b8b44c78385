//! `/internal/products/*`: what other functions ask the catalog (never on the public API; see
//! `shop_core::http::finish`, which guards every `/internal/` path). Idempotent, as every internal route must be.
//!
//! - `GET /internal/products/{id}`: the product as `GET /api/products/{id}` shows it, in any state
//!   (inactive, deleted), with `deletedAt` (`null` unless deleted); 404 if it never existed.
//! - `PUT /internal/products/{id}/availability {available, lowStockThreshold}` → 204: the
//!   inventory function reports stock. Stored on the product (`inStock = available > 0`,
//!   `available` shown while `available <= lowStockThreshold`), and from there the table stream
//!   carries it to the search index. An update for a deleted product is ignored (204).
//! - `PUT /internal/products/{id}/rating {average, count, version}` → 204: the reviews function
//!   reports a product's rating (`ratingAverage`, `ratingCount`), kept only over an older
//!   `version` (an older or repeated report is answered 204 and changes nothing); the table
//!   stream carries it to the search index (the `rating` sort). 404 for an unknown product.

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::routing::{get, put};
use http::StatusCode;
use shop_core::extract::{ValidJson, ValidPath};
use shop_core::{ApiError, ApiResult};
use uuid::Uuid;

use crate::AppState;
use crate::domain::{Availability, Rating};
use crate::store::{AvailabilityWrite, RatingWrite};

/// The internal routes (guarded by `shop_core::http::finish` for being under `/internal/`).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/internal/products/{id}", get(internal_product))
        .route("/internal/products/{id}/availability", put(set_availability))
        .route("/internal/products/{id}/rating", put(set_rating))
}

/// The product in any state, with `deletedAt`.
#[tracing::instrument(skip_all)]
pub async fn internal_product(State(state): State<AppState>, ValidPath(id): ValidPath<Uuid>) -> ApiResult<Json<serde_json::Value>> {
    let product = state.store.product_cached(id).await?.ok_or_else(|| ApiError::not_found("Product not found."))?;
    let mut value = serde_json::to_value(&product).map_err(|e| ApiError::internal(&e))?;
    if let Some(object) = value.as_object_mut() {
        object.entry("deletedAt").or_insert(serde_json::Value::Null);
    }
    Ok(Json(value))
}

/// Stores the stock inventory reports and invalidates the cached product reads.
#[tracing::instrument(skip_all)]
pub async fn set_availability(
    State(state): State<AppState>,
    ValidPath(id): ValidPath<Uuid>,
    ValidJson(body): ValidJson<Availability>,
) -> ApiResult<StatusCode> {
    match state.store.set_availability(id, body).await? {
        AvailabilityWrite::Stored | AvailabilityWrite::Deleted => Ok(StatusCode::NO_CONTENT),
        AvailabilityWrite::Unknown => Err(ApiError::not_found("Product not found.")),
    }
}

/// Stores the rating reviews reports (if newer) and invalidates the cached product reads.
#[tracing::instrument(skip_all)]
pub async fn set_rating(
    State(state): State<AppState>,
    ValidPath(id): ValidPath<Uuid>,
    ValidJson(body): ValidJson<Rating>,
) -> ApiResult<StatusCode> {
    match state.store.set_rating(id, body).await? {
        RatingWrite::Stored | RatingWrite::Older => Ok(StatusCode::NO_CONTENT),
        RatingWrite::Unknown => Err(ApiError::not_found("Product not found.")),
    }
}
