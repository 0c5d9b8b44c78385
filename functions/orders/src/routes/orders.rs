//! The customer's routes: place an order, read and cancel their own.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::HeaderMap;
use shop_aws::messages::orders::{CancelledBy, OrderCancelled};
use shop_core::auth::{Claims, Role};
use shop_core::extract::{ValidJson, ValidPath, ValidQuery};
use shop_core::pagination::{Page, PageMeta, PageQuery};
use shop_core::problem::responses::{BadRequest, Conflict};
use shop_core::time::Timestamp;
use shop_core::{ApiError, ApiResult};
use uuid::Uuid;

use crate::AppState;
use crate::domain::{Actor, CancelRequest, CheckoutRequest, HistoryEntry, OrderView, Status, is_order_number};
use crate::store::{Change, Moved, OutboxEvent, illegal};

shop_core::problem_responses! {
    /// Checkout refused.
    CheckoutConflict: 409 => "`cart_out_of_date` (a line's product inactive or repriced, named), `insufficient_stock` (named, with what is available), `idempotency_key_in_use`";
    /// Checkout input refused.
    CheckoutInvalid: 422 => "`validation_failed` (address fields named), `cart_empty`, `invalid_coupon` (with the reason), `idempotency_key_reused`";
    /// No such order of yours.
    NoOrder: 404 => "No such order (or not yours)";
    /// A dependency is down.
    Unavailable: 503 => "A dependency (database, cart, catalog, inventory) is unavailable; nothing was ordered. Retry-After is set";
}

/// A cancellation's optional body is a short reason.
const MAX_CANCEL_BODY: usize = 16 * 1024;

pub(crate) fn no_order() -> ApiError {
    ApiError::not_found("Order not found.")
}

/// The order if the caller may read it: the owner, or an admin.
pub(crate) fn readable(claims: &Claims, order: &crate::domain::Order) -> ApiResult<()> {
    if order.user_id == claims.sub || claims.is_admin() { Ok(()) } else { Err(no_order()) }
}

/// Places an order from the caller's cart. Requires an `Idempotency-Key` header: the same key
/// and body answer the same order (201, then 200 with an identical body).
#[utoipa::path(post, path = "/api/orders", tag = "orders", security(("bearer" = [])),
    params(("Idempotency-Key" = String, Header, pattern = r"^[\t ]*[!-~]{1,255}[\t ]*$", description = "1 to 255 visible ASCII characters; kept 48 h")),
    request_body = CheckoutRequest,
    responses(
        (status = 201, body = OrderView, description = "Placed"),
        (status = 200, body = OrderView, description = "A replay of a placed order"),
        BadRequest,
        CheckoutConflict,
        CheckoutInvalid,
        Unavailable,
    ))]
pub async fn place(
    State(state): State<AppState>,
    claims: Claims,
    headers: HeaderMap,
    ValidJson(body): ValidJson<CheckoutRequest>,
) -> ApiResult<Response> {
    let key = crate::checkout::check_key(headers.get("idempotency-key"))?;
    let placed = crate::checkout::place(&state, claims.sub, &key, body).await?;
    Ok((placed.status, Json(placed.body)).into_response())
}

/// The caller's orders, newest first.
#[utoipa::path(get, path = "/api/orders", tag = "orders", security(("bearer" = [])), params(PageQuery),
    responses((status = 200, body = Page<OrderView>), BadRequest))]
pub async fn list(
    State(state): State<AppState>,
    claims: Claims,
    ValidQuery(query): ValidQuery<PageQuery>,
) -> ApiResult<Json<Page<OrderView>>> {
    let page = query.checked()?;
    let (orders, total) = state.store.orders_of(claims.sub, page).await?;
    Ok(Json(Page { data: orders.iter().map(|o| o.view()).collect(), meta: PageMeta::new(total, page) }))
}

/// One order (its owner, or an admin).
#[utoipa::path(get, path = "/api/orders/{id}", tag = "orders", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Order id")),
    responses((status = 200, body = OrderView), BadRequest, NoOrder))]
pub async fn get_order(State(state): State<AppState>, claims: Claims, ValidPath(id): ValidPath<Uuid>) -> ApiResult<Json<OrderView>> {
    let order = state.store.order(id).await?.ok_or_else(no_order)?;
    readable(&claims, &order)?;
    Ok(Json(order.view()))
}

/// `{items}` of an order's history.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct History {
    pub items: Vec<HistoryEntry>,
}

/// Every status change of an order, oldest first: from, to, who (role and id), note, when (its
/// owner, or an admin).
#[utoipa::path(get, path = "/api/orders/{id}/history", tag = "orders", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Order id")),
    responses((status = 200, body = History), BadRequest, NoOrder))]
pub async fn history(State(state): State<AppState>, claims: Claims, ValidPath(id): ValidPath<Uuid>) -> ApiResult<Json<History>> {
    let order = state.store.order(id).await?.ok_or_else(no_order)?;
    readable(&claims, &order)?;
    Ok(Json(History { items: state.store.history(id).await? }))
}

/// One order by its number (its owner, or an admin).
#[utoipa::path(get, path = "/api/orders/number/{orderNumber}", tag = "orders", security(("bearer" = [])),
    params(("orderNumber" = String, Path, description = "`ORD-…`")),
    responses((status = 200, body = OrderView), BadRequest, NoOrder))]
pub async fn by_number(State(state): State<AppState>, claims: Claims, ValidPath(number): ValidPath<String>) -> ApiResult<Json<OrderView>> {
    if !is_order_number(&number) {
        return Err(no_order());
    }
    let order = state.store.order_by_number(&number).await?.ok_or_else(no_order)?;
    readable(&claims, &order)?;
    Ok(Json(order.view()))
}

/// Cancels the caller's own order while it is PENDING or CONFIRMED: the stock and the coupon
/// go back (once), and a paid order is refunded by payments.
#[utoipa::path(post, path = "/api/orders/{id}/cancel", tag = "orders", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Order id")),
    request_body(content = Option<CancelRequest>, description = "Optional reason"),
    responses((status = 200, body = OrderView), BadRequest, NoOrder, Conflict))]
pub async fn cancel(
    State(state): State<AppState>,
    claims: Claims,
    ValidPath(id): ValidPath<Uuid>,
    request: axum::extract::Request,
) -> ApiResult<Json<OrderView>> {
    let body = axum::body::to_bytes(request.into_body(), MAX_CANCEL_BODY).await.map_err(|_| {
        ApiError::new(http::StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", "The body is larger than this route accepts.")
    })?;
    // No body, or `null` (the document's body is `CancelRequest` or null): no reason.
    let body: CancelRequest = if body.iter().all(u8::is_ascii_whitespace) {
        CancelRequest::default()
    } else {
        shop_core::extract::parse_json::<Option<CancelRequest>>(&body)?.unwrap_or_default()
    };
    shop_core::extract::validate(&body)?;
    let reason = body.reason.map(|r| r.trim().to_owned()).filter(|r| !r.is_empty());
    let actor = Actor { id: Some(claims.sub), role: if claims.role == Role::Admin { "ADMIN" } else { "CUSTOMER" } };
    let change = Change { cancel_reason: Some("customer_request".into()), note: reason, ..Change::default() };
    let moved = state
        .store
        .transition(
            id,
            Status::Cancelled,
            actor,
            change,
            |order| {
                if order.user_id != claims.sub {
                    return Err(no_order());
                }
                if !order.status.customer_may_cancel() {
                    return Err(illegal(order.status, Status::Cancelled));
                }
                Ok(())
            },
            |order, from| cancelled_event(order, from, "customer_request", CancelledBy::Customer),
        )
        .await?;
    finish(&state, moved).await
}

/// The `OrderCancelled` event of a cancellation.
pub(crate) fn cancelled_event(
    order: &crate::domain::Order,
    from: Status,
    reason: &str,
    by: CancelledBy,
) -> Result<Vec<OutboxEvent>, crate::store::StoreError> {
    Ok(vec![OutboxEvent::new(
        crate::CALLER,
        OrderCancelled {
            order: order.snapshot(),
            previous_status: from.as_str().to_owned(),
            reason: reason.to_owned(),
            cancelled_by: by,
            refund_amount: None,
            cancelled_at: order.cancelled_at.unwrap_or_else(Timestamp::now),
        },
    )?])
}

/// The order after a transition (its events published now), or why not.
pub(crate) async fn finish(state: &AppState, moved: Moved<ApiError>) -> ApiResult<Json<OrderView>> {
    match moved {
        Moved::Done(order, events) => {
            state.relay.flush(&state.store, order.id, &events).await;
            Ok(Json(order.view()))
        }
        Moved::Refused(e) => Err(e),
        Moved::NotFound => Err(no_order()),
    }
}
