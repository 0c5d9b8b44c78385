//! Internal routes (under `/internal/`, guarded by `shop_core::http::finish`): payments
//! confirms a paid order (late ones too), reports a full refund and flags a disputed order;
//! reviews asks whether a user bought a product. Idempotent.

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use garde::Validate;
use serde::{Deserialize, Serialize};
use shop_aws::messages::orders::{CancelledBy, OrderConfirmed, OrderRefunded};
use shop_core::extract::{ValidJson, ValidPath, ValidQuery};
use shop_core::time::Timestamp;
use shop_core::{ApiError, ApiResult};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::AppState;
use crate::clients::Renewal;
use crate::domain::{Actor, Order, OrderView, PAYMENT_WINDOW, RESERVATION_GRACE, Status};
use crate::routes::orders::{cancelled_event, finish, no_order};
use crate::store::{Change, Moved, OutboxEvent, StoreError, illegal};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/internal/orders/{id}/confirm", post(confirm))
        .route("/internal/orders/{id}/refunded", post(refunded))
        .route("/internal/orders/{id}/flag", post(flag))
        .route("/internal/orders/has-purchased", get(has_purchased))
        .route("/internal/orders/{id}", get(order))
}

/// The cancellation reason of the expiry job (and of a late payment whose stock is gone).
pub const PAYMENT_TIMEOUT: &str = "payment_timeout";
/// How long a late payment's renewed reservation holds the stock (as checkout's: the order is
/// confirmed right after, and `OrderConfirmed` commits it).
const LATE_RESERVATION: time::Duration = PAYMENT_WINDOW.checked_add(RESERVATION_GRACE).expect("a small duration");
/// A late payment holds the stock again and re-decides at most this often (each time a
/// cancellation raced it).
const LATE_ATTEMPTS: usize = 3;

#[derive(Debug, Clone, Deserialize, Serialize, Validate)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConfirmRequest {
    /// The payment that settled the order (a Stripe PaymentIntent id).
    #[garde(length(min = 1, max = 255), custom(shop_core::extract::no_control_chars))]
    pub payment_id: String,
}

/// Why a confirmation did not happen under the row lock.
enum NotNow {
    /// Confirmed before by this payment: answered with the order as it is.
    Repeat,
    /// Expired unpaid (PENDING past its window and grace, or CANCELLED `payment_timeout`): its
    /// stock must be held again first, which is not done under the row lock. The order's lines.
    Late(Vec<(Uuid, u32)>),
    Refused(ApiError),
}

fn order_cancelled(detail: &str) -> ApiError {
    ApiError::conflict("order_cancelled", detail.to_owned())
}

/// Whether an order expired unpaid: cancelled by the expiry job (or by a late payment whose stock
/// was gone), never by a person, and never paid.
fn expired_unpaid(order: &Order) -> bool {
    order.status == Status::Cancelled && order.cancel_reason.as_deref() == Some(PAYMENT_TIMEOUT) && order.payment_id.is_none()
}

/// The payment check under the row lock. `held_since`: when inventory renewed the order's
/// reservation for this request (a late payment's second look), else `None`.
fn may_confirm(order: &Order, payment_id: &str, held_since: Option<OffsetDateTime>) -> Result<(), NotNow> {
    let lines = || NotNow::Late(order.items.iter().map(|l| (l.product_id, l.quantity)).collect());
    match order.status {
        _ if order.payment_id.as_deref() == Some(payment_id) => Err(NotNow::Repeat),
        // Stock held again by this request: confirmed, however late.
        Status::Pending if held_since.is_some() => Ok(()),
        // Past its payment window and the reservation's grace: inventory's own expiry may have
        // returned the stock already.
        Status::Pending if order.payment_due_at.is_some_and(|d| d + RESERVATION_GRACE < Timestamp::now()) => Err(lines()),
        Status::Pending => Ok(()),
        // Cancelled before this request held the stock again: that cancellation's
        // `OrderCancelled` no longer releases it (inventory compares the same two instants). One
        // cancelled after that may have released it: hold it again.
        Status::Cancelled if expired_unpaid(order) => match held_since {
            Some(since) if order.cancelled_at.is_some_and(|c| c.get() < since) => Ok(()),
            _ => Err(lines()),
        },
        Status::Cancelled => Err(NotNow::Refused(order_cancelled("The order was cancelled before its payment arrived."))),
        from => Err(NotNow::Refused(illegal(from, Status::Confirmed))),
    }
}

#[derive(Debug, thiserror::Error)]
#[error("a late payment kept racing the order's cancellation")]
struct KeptRacing;

/// `POST /internal/orders/{id}/confirm {paymentId}`: CONFIRMED exactly once (one
/// `OrderConfirmed`); a repeat for the same payment answers the order as it is.
///
/// - PENDING within its payment window (and the reservation's grace): confirmed.
/// - **Late payments** — PENDING past window and grace, or CANCELLED `payment_timeout` (expired
///   unpaid): inventory holds the order's stock again first (`renew`, idempotent by order id,
///   called outside the row lock), then the order is confirmed under the lock (CANCELLED →
///   CONFIRMED only here; actor PAYMENTS, note "late payment; stock reserved again"; the
///   cancellation's reason and instant are cleared, the history keeps it). A cancellation that
///   raced the renewal makes it renew again. The coupon given back at the cancellation is **not**
///   redeemed again: the customer paid the discounted price, so the coupon may end up used once
///   more than its limit. When the stock is gone a PENDING order is cancelled (`payment_timeout`,
///   `OrderCancelled`, as the expiry job does) and both answer 409 `order_cancelled` (payments
///   refunds).
/// - Cancelled by the customer or an admin → 409 `order_cancelled` (payments refunds); any other
///   status → 409 `illegal_transition`.
async fn confirm(
    State(state): State<AppState>,
    ValidPath(id): ValidPath<Uuid>,
    ValidJson(body): ValidJson<ConfirmRequest>,
) -> ApiResult<Json<OrderView>> {
    let payment_id = body.payment_id;
    let mut held_since = None;
    for _ in 0..LATE_ATTEMPTS {
        let note = if held_since.is_some() { "late payment; stock reserved again" } else { "payment succeeded" };
        let change = Change { payment_id: Some(payment_id.clone()), note: Some(note.into()), ..Change::default() };
        let moved = state
            .store
            .transition(
                id,
                Status::Confirmed,
                Actor::PAYMENTS,
                change,
                |order| may_confirm(order, &payment_id, held_since),
                |order, _| {
                    Ok(vec![OutboxEvent::new(
                        crate::CALLER,
                        OrderConfirmed {
                            order: order.snapshot(),
                            payment_id: order.payment_id.clone(),
                            confirmed_at: order.confirmed_at.unwrap_or_else(Timestamp::now),
                        },
                    )?])
                },
            )
            .await?;
        match moved {
            Moved::Done(order, events) => {
                if held_since.is_some() {
                    shop_core::metrics::count(crate::CALLER, "LatePaymentConfirmed");
                }
                return finish(&state, Moved::Done(order, events)).await;
            }
            Moved::NotFound => return Err(no_order()),
            Moved::Refused(NotNow::Repeat) => return Ok(Json(state.store.order(id).await?.ok_or_else(no_order)?.view())),
            Moved::Refused(NotNow::Refused(e)) => return Err(e),
            Moved::Refused(NotNow::Late(lines)) => {
                let since = OffsetDateTime::now_utc();
                match state.inventory.renew(id, &lines, LATE_RESERVATION).await? {
                    // Compared with the cancellation's instant as inventory compares them (its
                    // clock); without it (a reservation sold already), when this call started.
                    Renewal::Held(renewed) => held_since = Some(renewed.map_or(since, Timestamp::get)),
                    Renewal::Short => return stock_gone(&state, id, &payment_id).await,
                }
            }
        }
    }
    Err(ApiError::unavailable(&KeptRacing))
}

/// A late payment whose stock is gone: a PENDING order is cancelled as the expiry job would
/// (`payment_timeout`); the answer is 409 `order_cancelled` (unless this payment confirmed it
/// meanwhile).
async fn stock_gone(state: &AppState, id: Uuid, payment_id: &str) -> ApiResult<Json<OrderView>> {
    let change = Change {
        cancel_reason: Some(PAYMENT_TIMEOUT.into()),
        note: Some("late payment; stock no longer available".into()),
        ..Change::default()
    };
    let moved = state
        .store
        .transition(
            id,
            Status::Cancelled,
            Actor::PAYMENTS,
            change,
            |order| if order.status == Status::Pending { Ok(()) } else { Err(()) },
            |order, from| cancelled_event(order, from, PAYMENT_TIMEOUT, CancelledBy::System),
        )
        .await?;
    match moved {
        Moved::Done(order, events) => {
            shop_core::metrics::count(crate::CALLER, "OrderExpired");
            state.relay.flush(&state.store, order.id, &events).await;
        }
        Moved::NotFound => return Err(no_order()),
        Moved::Refused(()) => {
            let order = state.store.order(id).await?.ok_or_else(no_order)?;
            if order.payment_id.as_deref() == Some(payment_id) {
                return Ok(Json(order.view()));
            }
        }
    }
    Err(order_cancelled("The order's payment window closed and its stock is no longer available."))
}

#[derive(Debug, Clone, Deserialize, Serialize, Validate)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RefundedRequest {
    /// The payment refunded (the order's `paymentId`).
    #[garde(length(min = 1, max = 255), custom(shop_core::extract::no_control_chars))]
    pub payment_id: String,
    /// Cents refunded in all.
    #[garde(range(min = 1))]
    pub amount: i64,
    /// Whether the goods are back in stock; default: only when the order was not yet shipped
    /// (CONFIRMED or PROCESSING).
    #[garde(skip)]
    #[serde(default)]
    pub restock: Option<bool>,
}

/// The `OrderRefunded` of a refund from `from`.
pub(crate) fn refunded_event(order: &Order, from: Status, restock: Option<bool>, amount: i64) -> Result<Vec<OutboxEvent>, StoreError> {
    Ok(vec![OutboxEvent::new(
        crate::CALLER,
        OrderRefunded {
            order: order.snapshot(),
            previous_status: from.as_str().to_owned(),
            restock: restock.unwrap_or(from.restocks_on_refund()),
            refund_amount: amount,
            refunded_at: order.refunded_at.unwrap_or_else(Timestamp::now),
        },
    )?])
}

/// `POST /internal/orders/{id}/refunded {paymentId, amount, restock?}`: payments reports a full
/// refund. CONFIRMED, PROCESSING, SHIPPED or DELIVERED → REFUNDED once (`refundedAt`, history,
/// `OrderRefunded` with `restock` as given, else true iff the order was not yet shipped); already
/// REFUNDED → 200 as it is (no second event); CANCELLED → 200 unchanged (the cancellation
/// handled the stock); PENDING → 409 `illegal_transition`; another payment than the order's →
/// 409 `payment_mismatch` (a duplicate payment's refund does not refund the order).
async fn refunded(
    State(state): State<AppState>,
    ValidPath(id): ValidPath<Uuid>,
    ValidJson(body): ValidJson<RefundedRequest>,
) -> ApiResult<Json<OrderView>> {
    let change = Change { note: Some(format!("refunded {} cents (payment {})", body.amount, body.payment_id)), ..Change::default() };
    let moved = state
        .store
        .transition(
            id,
            Status::Refunded,
            Actor::PAYMENTS,
            change,
            |order| match order.status {
                Status::Refunded | Status::Cancelled => Err(None),
                _ if order.payment_id.as_deref().is_some_and(|p| p != body.payment_id) => Err(Some(ApiError::conflict(
                    "payment_mismatch",
                    "This payment did not settle the order; its refund does not refund the order.",
                ))),
                from if from.can_move_to(Status::Refunded) => Ok(()),
                from => Err(Some(illegal(from, Status::Refunded))),
            },
            |order, from| refunded_event(order, from, body.restock, body.amount),
        )
        .await?;
    match moved {
        Moved::Done(order, events) => finish(&state, Moved::Done(order, events)).await,
        Moved::Refused(None) => Ok(Json(state.store.order(id).await?.ok_or_else(no_order)?.view())),
        Moved::Refused(Some(e)) => Err(e),
        Moved::NotFound => Err(no_order()),
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, Validate)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FlagRequest {
    /// Why (a dispute's reason): 1 to 200 characters, no control characters.
    #[garde(length(chars, min = 1, max = 200), custom(shop_core::extract::not_blank), custom(shop_core::extract::no_control_chars))]
    pub reason: String,
}

/// `POST /internal/orders/{id}/flag {reason}`: a disputed payment flags the order
/// (`flaggedReason`, `flaggedAt`, a history entry; the status unchanged, no event). A repeat
/// keeps the first flag and answers the order (200).
async fn flag(
    State(state): State<AppState>,
    ValidPath(id): ValidPath<Uuid>,
    ValidJson(body): ValidJson<FlagRequest>,
) -> ApiResult<Json<OrderView>> {
    let (order, now) = state.store.flag(id, body.reason.trim(), Actor::PAYMENTS).await?.ok_or_else(no_order)?;
    if now {
        shop_core::metrics::count(crate::CALLER, "OrderFlagged");
    }
    Ok(Json(order.view()))
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
