//! Internal routes for other functions (behind `shop_core::http::finish`, which guards every `/internal/` path): availability,
//! and reservations that are all-or-nothing and idempotent by order id; commit, release and
//! cancel (release or restock for a cancelled order) each move a reservation once; renew holds
//! an order's stock again for a late payment.

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use shop_core::extract::{ValidJson, ValidPath};
use shop_core::{ApiError, ApiResult, FieldError};
use uuid::Uuid;

use crate::AppState;
use crate::domain::{
    Availability, AvailabilityList, AvailabilityRequest, DEFAULT_RESERVATION_TTL_SECONDS, RenewRequest, Reservation, ReservationState,
    ReservationStatus, ReserveRequest, first_duplicate, same_lines,
};
use crate::store::{Cancellation, Renewal, ReserveOutcome, Transition};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/internal/availability", post(availability))
        .route("/internal/reservations", post(reserve))
        .route("/internal/reservations/{orderId}/commit", post(commit))
        .route("/internal/reservations/{orderId}/release", post(release))
        .route("/internal/reservations/{orderId}/cancel", post(cancel))
        .route("/internal/reservations/{orderId}/renew", post(renew))
}

fn no_reservation() -> ApiError {
    ApiError::not_found("No reservation for this order.")
}

/// `POST /internal/availability {productIds}` → `{items: [{productId, available, inStock}]}`
/// in request order; a product without stock has 0.
pub async fn availability(
    State(state): State<AppState>,
    ValidJson(body): ValidJson<AvailabilityRequest>,
) -> ApiResult<Json<AvailabilityList>> {
    let found = state.store.stocks(&body.product_ids).await?;
    let items = body
        .product_ids
        .iter()
        .map(|id| {
            let available = found.get(id).map_or(0, |s| s.view().available);
            Availability { product_id: *id, available, in_stock: available > 0 }
        })
        .collect();
    Ok(Json(AvailabilityList { items }))
}

/// `POST /internal/reservations {orderId, lines, ttlSeconds?}` → the reservation. 409
/// `insufficient_stock` names each line short of stock (`lines[i].quantity`); nothing is held then.
pub async fn reserve(State(state): State<AppState>, ValidJson(body): ValidJson<ReserveRequest>) -> ApiResult<Json<Reservation>> {
    if let Some(i) = first_duplicate(body.lines.iter().map(|l| l.product_id)) {
        return Err(ApiError::validation(vec![FieldError::new(format!("lines[{i}].productId"), "duplicate", "is listed twice")]));
    }
    let ttl = time::Duration::seconds(i64::from(body.ttl_seconds.unwrap_or(DEFAULT_RESERVATION_TTL_SECONDS)));
    let outcome = state.store.reserve(body.order_id, &body.lines, ttl).await.inspect_err(|e| {
        if matches!(e, crate::store::StoreError::Contended(_)) {
            shop_core::metrics::count(crate::CALLER, "StockContended");
        }
    })?;
    match outcome {
        ReserveOutcome::Reserved(r) => {
            shop_core::metrics::count(crate::CALLER, "StockReserved");
            Ok(Json(r))
        }
        // A repeat of the same request (a retry) gets the reservation; anything else under the
        // same order id is a conflict, never a silent 200 for stock that is not held. An order id
        // cancelled before any reservation was made (its checkout undone) has a released one with
        // no lines: released.
        ReserveOutcome::Existing(r)
            if matches!(r.status, ReservationStatus::Released | ReservationStatus::Expired | ReservationStatus::Restocked) =>
        {
            Err(ApiError::conflict(
                "reservation_released",
                "This order's reservation was released, expired or cancelled; it holds no stock.",
            ))
        }
        ReserveOutcome::Existing(r) if !same_lines(&r.lines, &body.lines) => {
            Err(ApiError::conflict("reservation_mismatch", "This order already has a reservation with other lines; nothing was changed.")
                .with_errors(vec![FieldError::new("lines", "mismatch", "differ from the order's existing reservation")]))
        }
        ReserveOutcome::Existing(r) => Ok(Json(r)),
        ReserveOutcome::Insufficient(lines) => {
            // A stock-out seen by a buyer: the operator's signal to restock.
            shop_core::metrics::count(crate::CALLER, "StockOut");
            Err(insufficient(lines))
        }
    }
}

/// 409 `insufficient_stock` naming each short line.
fn insufficient(lines: Vec<usize>) -> ApiError {
    let errors = lines
        .into_iter()
        .map(|i| FieldError::new(format!("lines[{i}].quantity"), "insufficient_stock", "exceeds the available stock"))
        .collect();
    ApiError::conflict("insufficient_stock", "Not enough stock for every line; nothing was reserved.").with_errors(errors)
}

/// `POST /internal/reservations/{orderId}/renew {lines, ttlSeconds?}` → the reservation, held
/// again for a late payment (idempotent by order id): one released or expired is `reserved`
/// again with a new expiry, every line's units taken again or none (409 `insufficient_stock`
/// naming `lines[i].quantity`, nothing taken); one still held keeps its units (its expiry pushed
/// to the new one if later); one committed is answered as it is (sold); none is created as
/// `POST /internal/reservations` does. Other lines than the reservation's → 409
/// `reservation_mismatch`; a restocked one (its order cancelled after it was sold) → 409
/// `reservation_released`. An `OrderCancelled` of a cancellation before the renewal no longer
/// releases it.
pub async fn renew(
    State(state): State<AppState>,
    ValidPath(order_id): ValidPath<Uuid>,
    ValidJson(body): ValidJson<RenewRequest>,
) -> ApiResult<Json<Reservation>> {
    if let Some(i) = first_duplicate(body.lines.iter().map(|l| l.product_id)) {
        return Err(ApiError::validation(vec![FieldError::new(format!("lines[{i}].productId"), "duplicate", "is listed twice")]));
    }
    let ttl = time::Duration::seconds(i64::from(body.ttl_seconds.unwrap_or(DEFAULT_RESERVATION_TTL_SECONDS)));
    match state.store.renew(order_id, &body.lines, ttl).await? {
        Renewal::Renewed(r) => {
            shop_core::metrics::count(crate::CALLER, "ReservationRenewed");
            Ok(Json(r))
        }
        Renewal::Reserved(r) | Renewal::Held(r) | Renewal::Committed(r) => Ok(Json(r)),
        Renewal::Mismatch(_) => {
            Err(ApiError::conflict("reservation_mismatch", "This order already has a reservation with other lines; nothing was changed.")
                .with_errors(vec![FieldError::new("lines", "mismatch", "differ from the order's existing reservation")]))
        }
        Renewal::Refused(_) => {
            Err(ApiError::conflict("reservation_released", "The order was cancelled after it was sold; its stock was returned."))
        }
        Renewal::Insufficient(lines) => {
            shop_core::metrics::count(crate::CALLER, "StockOut");
            Err(insufficient(lines))
        }
    }
}

/// `POST /internal/reservations/{orderId}/commit` → `{orderId, status: "committed"}`.
pub async fn commit(State(state): State<AppState>, ValidPath(order_id): ValidPath<Uuid>) -> ApiResult<Json<ReservationState>> {
    match state.store.commit(order_id).await? {
        Transition::Done(r) | Transition::Already(r) => Ok(Json(ReservationState { order_id: r.order_id, status: r.status })),
        Transition::Refused(r) => Err(ApiError::conflict(
            "reservation_released",
            match r.status {
                ReservationStatus::Reserved | ReservationStatus::Expired => "The reservation expired; its stock was or is being returned.",
                ReservationStatus::Restocked => "The order was cancelled; its stock was returned.",
                _ => "The reservation was released; its stock was returned.",
            },
        )),
        Transition::NotFound => Err(no_reservation()),
    }
}

/// `POST /internal/reservations/{orderId}/release` → `{orderId, status: "released"}` (also for
/// a reservation that expired: its stock went back too).
pub async fn release(State(state): State<AppState>, ValidPath(order_id): ValidPath<Uuid>) -> ApiResult<Json<ReservationState>> {
    match state.store.release(order_id).await? {
        Transition::Done(r) | Transition::Already(r) => {
            Ok(Json(ReservationState { order_id: r.order_id, status: ReservationStatus::Released }))
        }
        Transition::Refused(_) => Err(ApiError::conflict("reservation_committed", "The reservation was committed; it cannot be released.")),
        Transition::NotFound => Err(no_reservation()),
    }
}

/// `POST /internal/reservations/{orderId}/cancel` → `{orderId, status}` for a cancelled order:
/// a held reservation is released (`released`), a committed one restocked (`restocked`: the sold
/// units back in stock, audited); one released, expired or restocked before answers its status,
/// unchanged. Exactly once however often it is called.
pub async fn cancel(State(state): State<AppState>, ValidPath(order_id): ValidPath<Uuid>) -> ApiResult<Json<ReservationState>> {
    match state.store.cancel(order_id).await? {
        Cancellation::Released(r) | Cancellation::Restocked(r) | Cancellation::Already(r) | Cancellation::Superseded(r) => {
            Ok(Json(ReservationState { order_id: r.order_id, status: r.status }))
        }
        Cancellation::NotFound => Err(no_reservation()),
    }
}
