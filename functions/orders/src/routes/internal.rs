//! Internal routes (under `/internal/`, guarded by `shop_core::http::finish`): payments
//! confirms a paid order, reviews asks whether a user bought a product. Idempotent.

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use garde::Validate;
use serde::{Deserialize, Serialize};
use shop_aws::messages::orders::OrderConfirmed;
use shop_core::extract::{ValidJson, ValidPath, ValidQuery};
use shop_core::time::Timestamp;
use shop_core::{ApiError, ApiResult};
use uuid::Uuid;

use crate::AppState;
use crate::domain::{Actor, OrderView, RESERVATION_GRACE, Status};
use crate::routes::orders::{finish, no_order};
use crate::store::{Change, Moved, OutboxEvent, illegal};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/internal/orders/{id}/confirm", post(confirm))
        .route("/internal/orders/has-purchased", get(has_purchased))
        .route("/internal/orders/{id}", get(order))
}

#[derive(Debug, Clone, Deserialize, Serialize, Validate)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConfirmRequest {
    /// The payment that settled the order (a Stripe PaymentIntent id).
    #[garde(length(min = 1, max = 255), custom(shop_core::extract::no_control_chars))]
    pub payment_id: String,
}

/// `POST /internal/orders/{id}/confirm {paymentId}`: PENDING → CONFIRMED exactly once (one
/// `OrderConfirmed`). A repeat for the same payment answers the order as it is; an order
/// cancelled meanwhile (expired) is 409 `order_cancelled` — payments then re-reserves or refunds.
async fn confirm(
    State(state): State<AppState>,
    ValidPath(id): ValidPath<Uuid>,
    ValidJson(body): ValidJson<ConfirmRequest>,
) -> ApiResult<Json<OrderView>> {
    let payment_id = body.payment_id.clone();
    let moved = state
        .store
        .transition(
            id,
            Status::Confirmed,
            Actor::PAYMENTS,
            Change { payment_id: Some(body.payment_id), note: Some("payment succeeded".into()), ..Change::default() },
            |order| match order.status {
                // Past its payment window and the reservation's grace: the stock may be gone
                // already (inventory's own expiry); the minute job cancels it. Payments then
                // re-reserves or refunds, as for a cancelled order.
                Status::Pending if order.payment_due_at.is_some_and(|d| d + RESERVATION_GRACE < Timestamp::now()) => {
                    Err(Some(ApiError::conflict("order_cancelled", "The order's payment window closed before its payment arrived.")))
                }
                Status::Pending => Ok(()),
                // Confirmed before by this payment: answered with the order as it is.
                _ if order.payment_id.as_deref() == Some(payment_id.as_str()) => Err(None),
                Status::Cancelled => {
                    Err(Some(ApiError::conflict("order_cancelled", "The order was cancelled before its payment arrived.")))
                }
                from => Err(Some(illegal(from, Status::Confirmed))),
            },
            |order, _| {
                Ok(vec![OutboxEvent::new(OrderConfirmed {
                    order: order.snapshot(),
                    payment_id: order.payment_id.clone(),
                    confirmed_at: order.confirmed_at.unwrap_or_else(Timestamp::now),
                })?])
            },
        )
        .await?;
    match moved {
        Moved::Refused(None) => Ok(Json(state.store.order(id).await?.ok_or_else(no_order)?.view())),
        Moved::Refused(Some(e)) => Err(e),
        Moved::Done(order, events) => finish(&state, Moved::Done(order, events)).await,
        Moved::NotFound => Err(no_order()),
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PurchaseQuery {
    user_id: Uuid,
    product_id: Uuid,
}

#[derive(Debug, Serialize)]
struct Purchased {
    purchased: bool,
}

/// `GET /internal/orders/has-purchased?userId&productId` → `{purchased}`: a DELIVERED order of
/// the user contains the product.
async fn has_purchased(State(state): State<AppState>, ValidQuery(q): ValidQuery<PurchaseQuery>) -> ApiResult<Json<Purchased>> {
    Ok(Json(Purchased { purchased: state.store.has_purchased(q.user_id, q.product_id).await? }))
}

/// `GET /internal/orders/{id}`: the order (payments prices intents from it).
async fn order(State(state): State<AppState>, ValidPath(id): ValidPath<Uuid>) -> ApiResult<Json<OrderView>> {
    Ok(Json(state.store.order(id).await?.ok_or_else(no_order)?.view()))
}
