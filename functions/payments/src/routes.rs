//! `/api/payments*`: the customer pays their own card orders (intent, confirm) and reads their
//! payments; admins read every payment and refund.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, StatusCode};
use serde::Deserialize;
use shop_core::auth::{Claims, Role};
use shop_core::extract::{ValidJson, ValidPath, ValidQuery};
use shop_core::pagination::{Page, PageMeta, PageQuery};
use shop_core::problem::responses::{BadRequest, Forbidden, PayloadTooLarge, Unauthorized, UnprocessableEntity, UnsupportedMediaType};
use shop_core::routes;
use shop_core::time::Timestamp;
use shop_core::{ApiError, ApiResult};
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use uuid::Uuid;

use crate::AppState;
use crate::domain::{ConfirmView, IntentView, Method, OrderRef, Payment, PaymentView, RefundRequest, Status};
use crate::ledger::{self, RefundAsk};

shop_core::problem_responses! {
    /// No such order or payment of yours.
    NotFound: 404 => "No such order or payment (or not yours)";
    /// The order cannot be paid by card now.
    IntentConflict: 409 => "`not_card_order` (cash on delivery), `order_not_pending` (the status is named), `already_paid`";
    /// Refund refused.
    RefundConflict: 409 => "`nothing_to_refund`, `cod_not_refundable`";
    /// Refund input refused.
    RefundInvalid: 422 => "`validation_failed` (`amount` above what is still refundable, named), `idempotency_key_reused`";
    /// Stripe refused.
    ProviderRefused: 502 => "`payment_provider_refused` (Stripe's message and code), `refund_failed`";
    /// A dependency is down.
    Unavailable: 503 => "Stripe, orders or the database is unavailable; safe to retry with the same request. Retry-After is set";
}

/// Most characters of a refund's `Idempotency-Key`.
const MAX_KEY_LEN: usize = 255;

pub(crate) fn no_order() -> ApiError {
    ApiError::not_found("Order not found.")
}

pub(crate) fn no_payment() -> ApiError {
    ApiError::not_found("Payment not found.")
}

fn readable(claims: &Claims, payment: &Payment) -> ApiResult<()> {
    if payment.user_id == claims.sub || claims.is_admin() { Ok(()) } else { Err(no_payment()) }
}

/// The payments with their refunds, read in one query.
async fn views(state: &AppState, payments: &[Payment]) -> ApiResult<Vec<PaymentView>> {
    let ids: Vec<uuid::Uuid> = payments.iter().map(|p| p.id).collect();
    let refunds = state.store.refunds_of_many(&ids).await?;
    Ok(payments.iter().map(|p| p.view(refunds.get(&p.id).map(Vec::as_slice).unwrap_or_default())).collect())
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_intent))
        .routes(routes!(confirm))
        .routes(routes!(refund))
        .routes(routes!(list))
        .routes(routes!(of_order))
        .routes(routes!(get_payment))
}

/// The PaymentIntent of the caller's PENDING card order: the amount and currency are the
/// order's. One intent per order: a repeat answers the same intent (200) while Stripe can still
/// take a payment on it; a new one (201) only after Stripe cancelled the last.
#[utoipa::path(post, path = "/api/payments/intents", tag = "payments", security(("bearer" = [])), request_body = OrderRef,
    responses(
        (status = 201, body = IntentView, description = "Created"),
        (status = 200, body = IntentView, description = "The order's current intent"),
        BadRequest, Unauthorized, NotFound, IntentConflict, PayloadTooLarge, UnsupportedMediaType, UnprocessableEntity, ProviderRefused, Unavailable,
    ))]
pub async fn create_intent(State(state): State<AppState>, claims: Claims, ValidJson(body): ValidJson<OrderRef>) -> ApiResult<Response> {
    let (view, created) = ledger::intent_for_order(&state, claims.sub, body.order_id).await?;
    Ok((if created { StatusCode::CREATED } else { StatusCode::OK }, Json(view)).into_response())
}

/// Settles the caller's card order from Stripe's own state of its intent — exactly as the
/// webhook does, so it may come before, after or instead of it: a paid order is CONFIRMED
/// (once), a declined attempt leaves it PENDING for another try.
#[utoipa::path(post, path = "/api/payments/confirm", tag = "payments", security(("bearer" = [])), request_body = OrderRef,
    responses((status = 200, body = ConfirmView), BadRequest, Unauthorized, NotFound, PayloadTooLarge, UnsupportedMediaType, UnprocessableEntity, ProviderRefused, Unavailable))]
pub async fn confirm(State(state): State<AppState>, claims: Claims, ValidJson(body): ValidJson<OrderRef>) -> ApiResult<Json<ConfirmView>> {
    let payments = state.store.of_order(body.order_id).await?;
    let payment = payments
        .into_iter()
        .find(|p| p.method == Method::Card && p.intent_id.is_some())
        .filter(|p| p.user_id == claims.sub)
        .ok_or_else(no_order)?;
    let intent_id = payment.intent_id.clone().unwrap_or_default();
    let intent = state.stripe().await?.retrieve_intent(&intent_id).await.map_err(ledger::LedgerError::from)?;
    let settled = ledger::settle(&state, &intent).await?.ok_or_else(no_payment)?;
    let order_status = match settled.order_status {
        Some(status) => status,
        None => state.orders.order(body.order_id).await.map_err(ledger::LedgerError::from)?.map(|o| o.status).unwrap_or_default(),
    };
    let refunds = state.store.refunds_of(settled.payment.id).await?;
    Ok(Json(ConfirmView { payment: settled.payment.view(&refunds), order_status }))
}

/// Refunds a card payment in full (no `amount`) or in part (ADMIN). Refunds add up and never
/// exceed what was captured; the same `Idempotency-Key` and body answer the same refund. A full
/// refund moves the order to REFUNDED (units back if it had not shipped, or if `restock`).
#[utoipa::path(post, path = "/api/payments/{id}/refund", tag = "payments", security(("bearer" = ["admin"])),
    params(("id" = Uuid, Path, description = "Payment id"),
        ("Idempotency-Key" = String, Header, pattern = r"^[\t ]*[!-~]{1,255}[\t ]*$", description = "1 to 255 visible ASCII characters")),
    request_body = RefundRequest,
    responses((status = 200, body = PaymentView, description = "The payment after the refund"),
        BadRequest, Unauthorized, Forbidden, NotFound, RefundConflict, PayloadTooLarge, UnsupportedMediaType, RefundInvalid, ProviderRefused, Unavailable))]
pub async fn refund(
    State(state): State<AppState>,
    claims: Claims,
    headers: HeaderMap,
    ValidPath(id): ValidPath<Uuid>,
    ValidJson(body): ValidJson<RefundRequest>,
) -> ApiResult<Json<PaymentView>> {
    claims.require_role(&[Role::Admin])?;
    let key = shop_core::extract::idempotency_key(headers.get("idempotency-key"), MAX_KEY_LEN)?;
    let ask = RefundAsk {
        // The caller's keys live beside the automatic ones (`order-cancelled`, …) without clashing.
        key: format!("admin:{key}"),
        hash: serde_json::to_string(&body).unwrap_or_default(),
        amount: body.amount,
        reason: shop_aws::messages::payments::RefundReason::Requested,
        note: body.reason.clone(),
        restock: body.restock,
        requested_by: Some(claims.sub),
    };
    let (_, payment) = ledger::refund(&state, id, ask).await?;
    let refunds = state.store.refunds_of(payment.id).await?;
    Ok(Json(payment.view(&refunds)))
}

/// One payment with its refunds (its owner, or an admin).
#[utoipa::path(get, path = "/api/payments/{id}", tag = "payments", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Payment id")),
    responses((status = 200, body = PaymentView), BadRequest, Unauthorized, NotFound, Unavailable))]
pub async fn get_payment(State(state): State<AppState>, claims: Claims, ValidPath(id): ValidPath<Uuid>) -> ApiResult<Json<PaymentView>> {
    let payment = state.store.payment(id).await?.ok_or_else(no_payment)?;
    readable(&claims, &payment)?;
    let refunds = state.store.refunds_of(id).await?;
    Ok(Json(payment.view(&refunds)))
}

/// `{items}`: an order's payments, newest attempt first.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Payments {
    pub items: Vec<PaymentView>,
}

/// The payments of an order (its owner, or an admin).
#[utoipa::path(get, path = "/api/payments/order/{orderId}", tag = "payments", security(("bearer" = [])),
    params(("orderId" = Uuid, Path, description = "Order id")),
    responses((status = 200, body = Payments), BadRequest, Unauthorized, NotFound, Unavailable))]
pub async fn of_order(State(state): State<AppState>, claims: Claims, ValidPath(order_id): ValidPath<Uuid>) -> ApiResult<Json<Payments>> {
    let payments = state.store.of_order(order_id).await?;
    if payments.iter().any(|p| readable(&claims, p).is_err()) {
        return Err(no_order());
    }
    Ok(Json(Payments { items: views(&state, &payments).await? }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    pub status: Option<Status>,
    pub method: Option<Method>,
    pub user_id: Option<Uuid>,
    pub order_id: Option<Uuid>,
    /// Created at or after (RFC 3339).
    pub from: Option<Timestamp>,
    /// Created before (RFC 3339).
    pub to: Option<Timestamp>,
    /// Page number, from 1; `page × limit` at most 10,000.
    #[param(minimum = 1, maximum = 10_000)]
    pub page: Option<u32>,
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
}

/// Every payment, newest first, filtered (ADMIN).
#[utoipa::path(get, path = "/api/payments", tag = "payments", security(("bearer" = ["admin"])), params(ListQuery),
    responses((status = 200, body = Page<PaymentView>), BadRequest, Unauthorized, Forbidden, Unavailable))]
pub async fn list(
    State(state): State<AppState>,
    claims: Claims,
    ValidQuery(q): ValidQuery<ListQuery>,
) -> ApiResult<Json<Page<PaymentView>>> {
    claims.require_role(&[Role::Admin])?;
    let page = PageQuery { page: q.page, limit: q.limit }.checked()?;
    if let (Some(f), Some(t)) = (q.from, q.to)
        && f >= t
    {
        return Err(ApiError::invalid_param("to", "must be after from"));
    }
    let filter = crate::store::ListFilter {
        status: q.status,
        method: q.method,
        user_id: q.user_id,
        order_id: q.order_id,
        from: q.from.map(Timestamp::get),
        to: q.to.map(Timestamp::get),
    };
    let (payments, total) = state.store.list(&filter, i64::from(page.limit), page.offset() as i64).await?;
    Ok(Json(Page { data: views(&state, &payments).await?, meta: PageMeta::new(u64::try_from(total).unwrap_or(0), page) }))
}
