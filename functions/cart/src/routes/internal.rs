//! Internal routes for the orders function (never on the HttpApi; guarded by
//! `shop_core::http::finish`, which guards every `/internal/` path): redeem a coupon for an order and release it again.

use axum::extract::State;
use axum::routing::{delete, post};
use axum::{Json, Router};
use garde::Validate;
use http::StatusCode;
use serde::{Deserialize, Serialize};
use shop_core::extract::{ValidJson, ValidPath};
use shop_core::{ApiError, ApiResult};
use uuid::Uuid;

use crate::AppState;
use crate::routes::cart::coupon_rejected;
use crate::store::RedeemError;

pub fn router() -> Router<AppState> {
    Router::new().route("/internal/coupons/redemptions", post(redeem)).route("/internal/coupons/redemptions/{orderId}", delete(release))
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
