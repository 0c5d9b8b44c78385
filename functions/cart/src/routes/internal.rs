//! Internal routes for the orders function (never on the HttpApi; guarded by
//! `shop_core::http::finish`, which guards every `/internal/` path): a user's cart for checkout,
//! taking what an order bought out of it, and redeeming a coupon for an order and releasing it
//! again. Every route is idempotent (internal calls are retried).

use axum::extract::State;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use garde::Validate;
use http::StatusCode;
use serde::{Deserialize, Serialize};
use shop_core::extract::{ValidJson, ValidPath};
use shop_core::time::Timestamp;
use shop_core::{ApiError, ApiResult, FieldError};
use uuid::Uuid;

use crate::AppState;
use crate::domain::{CheckoutCart, CheckoutRequest};
use crate::routes::cart::coupon_rejected;
use crate::store::RedeemError;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/internal/carts/users/{userId}", get(user_cart))
        .route("/internal/carts/users/{userId}/checkout", post(check_out))
        .route("/internal/coupons/redemptions", post(redeem))
        .route("/internal/coupons/redemptions/{orderId}", delete(release))
}

/// `GET /internal/carts/users/{userId}`: the user's cart with its totals; a user without a cart
/// gets an empty one (no `cartId`), never a 404.
async fn user_cart(State(state): State<AppState>, ValidPath(user): ValidPath<Uuid>) -> ApiResult<Json<CheckoutCart>> {
    let cart = state.carts.load(crate::store::Owner::User(user)).await?;
    Ok(Json(cart.map_or_else(|| CheckoutCart::empty(user, Timestamp::now()), |s| s.cart.checkout_view())))
}

/// `POST /internal/carts/users/{userId}/checkout {orderId, items, couponCode?}`: takes what the
/// order bought out of the cart (lines added since stay); idempotent by `orderId`. Answers the
/// cart after, as the GET does.
async fn check_out(
    State(state): State<AppState>,
    ValidPath(user): ValidPath<Uuid>,
    ValidJson(body): ValidJson<CheckoutRequest>,
) -> ApiResult<Json<CheckoutCart>> {
    if let Some(i) = crate::domain::first_duplicate(body.items.iter().map(|l| l.product_id)) {
        return Err(ApiError::validation(vec![FieldError::new(format!("items[{i}].productId"), "duplicate", "is listed twice")]));
    }
    let bought: Vec<(Uuid, u32)> = body.items.iter().map(|l| (l.product_id, l.quantity)).collect();
    let cart = state.carts.check_out(user, body.order_id, &bought, body.coupon_code.as_deref()).await?;
    Ok(Json(cart.map_or_else(|| CheckoutCart::empty(user, Timestamp::now()), |c| c.checkout_view())))
}

#[derive(Debug, Clone, Deserialize, Validate)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RedeemRequest {
    #[garde(length(min = 1, max = 64))]
    pub code: String,
    #[garde(skip)]
    pub order_id: Uuid,
    #[garde(skip)]
    pub user_id: Uuid,
    /// The order's subtotal in cents.
    #[garde(range(min = 0))]
    pub subtotal: i64,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RedeemResponse {
    pub code: String,
    pub discount: i64,
    pub redemption_id: Uuid,
}

impl From<RedeemError> for ApiError {
    fn from(err: RedeemError) -> Self {
        match err {
            RedeemError::Rejected(reason) => coupon_rejected(reason),
            RedeemError::Store(e) => e.into(),
        }
    }
}

/// `POST /internal/coupons/redemptions`: idempotent by `orderId`.
async fn redeem(State(state): State<AppState>, ValidJson(body): ValidJson<RedeemRequest>) -> ApiResult<Json<RedeemResponse>> {
    let code = body.code.trim().to_uppercase();
    let r = state.coupons.redeem(&code, body.order_id, body.user_id, body.subtotal).await?;
    Ok(Json(RedeemResponse { code: r.code, discount: r.discount, redemption_id: r.redemption_id }))
}

/// `DELETE /internal/coupons/redemptions/{orderId}`: 204 whether or not there was one.
async fn release(State(state): State<AppState>, ValidPath(order): ValidPath<Uuid>) -> ApiResult<StatusCode> {
    state.coupons.release(order).await?;
    Ok(StatusCode::NO_CONTENT)
}
