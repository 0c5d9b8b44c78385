//! Admins read every order, see the stats and move any order; sellers see the orders that
//! contain their products (their lines and the shipping address only) and move fulfilment of
//! orders that are wholly theirs.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use shop_aws::messages::orders::{CancelledBy, OrderConfirmed, OrderDelivered, OrderShipped};
use shop_core::auth::{Claims, Role};
use shop_core::extract::{ValidJson, ValidPath, ValidQuery};
use shop_core::pagination::{Page, PageMeta, PageQuery};
use shop_core::problem::responses::{BadRequest, Conflict, Forbidden, UnprocessableEntity};
use shop_core::time::Timestamp;
use shop_core::{ApiError, ApiResult, FieldError};
use time::OffsetDateTime;
use utoipa::IntoParams;
use uuid::Uuid;

use crate::AppState;
use crate::domain::{Actor, Order, OrderView, PaymentMethod, SellerOrderView, Stats, Status, StatusChange};
use crate::routes::internal::refunded_event;
use crate::routes::orders::{cancelled_event, finish, no_order};
use crate::store::{AdminFilter, Change, OutboxEvent, StoreError, illegal};

shop_core::problem_responses! {
    /// No such order (for a seller: none with their lines).
    NoOrder: 404 => "No such order";
}

/// Longest range of the stats (a year).
const MAX_STATS_DAYS: i64 = 366;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AdminQuery {
    /// Only orders in this status.
    pub status: Option<Status>,
    /// Placed at or after (RFC 3339).
    pub from: Option<Timestamp>,
    /// Placed before (RFC 3339).
    pub to: Option<Timestamp>,
    /// An order number (or its beginning) or a user id; at most 64 characters, no control characters.
    #[param(max_length = 64, pattern = r"^[^\u0000-\u001F\u007F-\u009F]*$")]
    pub q: Option<String>,
    /// Only orders flagged for a disputed payment (`true`), or only unflagged ones (`false`).
    pub flagged: Option<bool>,
    /// Page number, from 1; `page × limit` at most 10,000.
    #[param(minimum = 1, maximum = 10_000)]
    pub page: Option<u32>,
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
}

fn range(from: Option<Timestamp>, to: Option<Timestamp>) -> ApiResult<()> {
    if let (Some(f), Some(t)) = (from, to)
        && f >= t
    {
        return Err(ApiError::invalid_param("to", "must be after from"));
    }
    Ok(())
}

/// Every order, newest first, filtered (ADMIN).
#[utoipa::path(get, path = "/api/orders/admin", tag = "orders", security(("bearer" = ["admin"])), params(AdminQuery),
    responses((status = 200, body = Page<OrderView>), BadRequest, Forbidden))]
pub async fn admin_list(
    State(state): State<AppState>,
    claims: Claims,
    ValidQuery(query): ValidQuery<AdminQuery>,
) -> ApiResult<Json<Page<OrderView>>> {
    claims.require_role(&[Role::Admin])?;
    let page = PageQuery { page: query.page, limit: query.limit }.checked()?;
    range(query.from, query.to)?;
    if query.q.as_deref().is_some_and(|q| q.chars().count() > 64 || q.chars().any(char::is_control)) {
        return Err(ApiError::invalid_param("q", "at most 64 characters, no control characters"));
    }
    let filter = AdminFilter {
        status: query.status,
        from: query.from.map(Timestamp::get),
        to: query.to.map(Timestamp::get),
        q: query.q,
        flagged: query.flagged,
    };
    let (orders, total) = state.store.admin_orders(&filter, page).await?;
    Ok(Json(Page { data: orders.iter().map(Order::view).collect(), meta: PageMeta::new(total, page) }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct StatsQuery {
    /// From (RFC 3339; default 30 days before `to`).
    pub from: Option<Timestamp>,
    /// To, exclusive (RFC 3339; default now).
    pub to: Option<Timestamp>,
}

/// Orders per status, revenue of paid orders and both per day, over a range (ADMIN).
#[utoipa::path(get, path = "/api/orders/stats", tag = "orders", security(("bearer" = ["admin"])), params(StatsQuery),
    responses((status = 200, body = Stats), BadRequest, Forbidden))]
pub async fn stats(State(state): State<AppState>, claims: Claims, ValidQuery(query): ValidQuery<StatsQuery>) -> ApiResult<Json<Stats>> {
    claims.require_role(&[Role::Admin])?;
    let to = query.to.map_or_else(OffsetDateTime::now_utc, Timestamp::get);
    let from = query.from.map_or(to - time::Duration::days(30), Timestamp::get);
    range(Some(from.into()), Some(to.into()))?;
    if to - from > time::Duration::days(MAX_STATS_DAYS) {
        return Err(ApiError::invalid_param("from", format!("the range is at most {MAX_STATS_DAYS} days")));
    }
    Ok(Json(state.store.stats(from, to).await?))
}

/// The events a move writes.
fn events_of(order: &Order, from: Status, by: CancelledBy, note: Option<&str>) -> Result<Vec<OutboxEvent>, StoreError> {
    let now = Timestamp::now();
    Ok(match order.status {
        Status::Confirmed => {
            vec![OutboxEvent::new(
                crate::CALLER,
                OrderConfirmed { order: order.snapshot(), payment_id: order.payment_id.clone(), confirmed_at: now },
            )?]
        }
        Status::Shipped => vec![OutboxEvent::new(
            crate::CALLER,
            OrderShipped {
                order: order.snapshot(),
                tracking_number: order.tracking_number.clone(),
                carrier: order.carrier.clone(),
                shipped_at: order.shipped_at.unwrap_or(now),
            },
        )?],
        Status::Delivered => {
            vec![OutboxEvent::new(
                crate::CALLER,
                OrderDelivered { order: order.snapshot(), delivered_at: order.delivered_at.unwrap_or(now) },
            )?]
        }
        Status::Cancelled => cancelled_event(order, from, note.unwrap_or("cancelled_by_shop"), by)?,
        // Cash on delivery handed back (card refunds go through payments).
        Status::Refunded => refunded_event(order, from, None, order.totals.total)?,
        Status::Pending | Status::Processing => Vec::new(),
    })
}

/// Moves an order along the status machine. ADMINs: any legal move; REFUNDED only for cash on
/// delivery (the cash handed back; `OrderRefunded` puts the units back when the order was not
/// yet shipped) — a card order is refunded through payments (409 `refund_through_payments`).
/// SELLERs: CONFIRMED → PROCESSING → SHIPPED, only for orders whose every line is theirs.
/// SHIPPED needs a `trackingNumber`.
#[utoipa::path(patch, path = "/api/orders/{id}/status", tag = "orders", security(("bearer" = ["seller", "admin"])),
    params(("id" = Uuid, Path, description = "Order id")),
    request_body = StatusChange,
    responses((status = 200, body = OrderView), BadRequest, Forbidden, NoOrder, Conflict, UnprocessableEntity))]
pub async fn set_status(
    State(state): State<AppState>,
    claims: Claims,
    ValidPath(id): ValidPath<Uuid>,
    ValidJson(body): ValidJson<StatusChange>,
) -> ApiResult<Json<OrderView>> {
    claims.require_role(&[Role::Seller, Role::Admin])?;
    let to = body.status;
    if to == Status::Shipped && body.tracking_number.is_none() {
        return Err(ApiError::validation(vec![FieldError::new("trackingNumber", "required", "is required to ship an order")]));
    }
    if to != Status::Shipped && (body.tracking_number.is_some() || body.carrier.is_some()) {
        return Err(ApiError::validation(vec![FieldError::new("trackingNumber", "unexpected", "only when moving to SHIPPED")]));
    }
    let seller = claims.role == Role::Seller;
    if seller && !matches!(to, Status::Processing | Status::Shipped) {
        return Err(ApiError::forbidden("Sellers may move orders to PROCESSING and SHIPPED only."));
    }
    let actor = Actor { id: Some(claims.sub), role: claims.role.as_str() };
    let note = body.note.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty());
    let change = Change {
        tracking_number: body.tracking_number.map(|t| t.trim().to_owned()),
        carrier: body.carrier.map(|c| c.trim().to_owned()),
        cancel_reason: (to == Status::Cancelled).then(|| note.clone().unwrap_or_else(|| "cancelled_by_shop".into())),
        note: note.clone(),
        ..Change::default()
    };
    let moved = state
        .store
        .transition(
            id,
            to,
            actor,
            change,
            |order| {
                if seller {
                    if !order.items.iter().any(|l| l.seller_id == claims.sub) {
                        return Err(no_order());
                    }
                    if !order.only_lines_of(claims.sub) {
                        return Err(ApiError::forbidden("This order has other sellers' lines; an admin fulfils it.")
                            .with_errors(vec![FieldError::new("id", "other_sellers", "the order has other sellers' lines")]));
                    }
                }
                if !order.status.can_move_to(to) {
                    return Err(illegal(order.status, to));
                }
                if to == Status::Refunded && order.payment_method == PaymentMethod::Card {
                    return Err(ApiError::conflict(
                        "refund_through_payments",
                        "A card order is refunded through payments: use POST /api/payments/{id}/refund.",
                    ));
                }
                Ok(())
            },
            |order, from| events_of(order, from, CancelledBy::Admin, note.as_deref()),
        )
        .await?;
    finish(&state, moved).await
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SellerQuery {
    pub status: Option<Status>,
    /// Page number, from 1; `page × limit` at most 10,000.
    #[param(minimum = 1, maximum = 10_000)]
    pub page: Option<u32>,
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
}

/// The orders containing the seller's products, newest first: their lines and the shipping
/// address only (SELLER).
#[utoipa::path(get, path = "/api/orders/seller", tag = "orders", security(("bearer" = ["seller"])), params(SellerQuery),
    responses((status = 200, body = Page<SellerOrderView>), BadRequest, Forbidden))]
pub async fn seller_list(
    State(state): State<AppState>,
    claims: Claims,
    ValidQuery(query): ValidQuery<SellerQuery>,
) -> ApiResult<Json<Page<SellerOrderView>>> {
    claims.require_role(&[Role::Seller])?;
    let page = PageQuery { page: query.page, limit: query.limit }.checked()?;
    let (orders, total) = state.store.seller_orders(claims.sub, query.status, page).await?;
    Ok(Json(Page { data: orders.iter().map(|o| o.seller_view(claims.sub)).collect(), meta: PageMeta::new(total, page) }))
}

/// One order containing the seller's products (SELLER).
#[utoipa::path(get, path = "/api/orders/seller/{id}", tag = "orders", security(("bearer" = ["seller"])),
    params(("id" = Uuid, Path, description = "Order id")),
    responses((status = 200, body = SellerOrderView), BadRequest, Forbidden, NoOrder))]
pub async fn seller_order(
    State(state): State<AppState>,
    claims: Claims,
    ValidPath(id): ValidPath<Uuid>,
) -> ApiResult<Json<SellerOrderView>> {
    claims.require_role(&[Role::Seller])?;
    let order = state.store.order(id).await?.filter(|o| o.items.iter().any(|l| l.seller_id == claims.sub)).ok_or_else(no_order)?;
    Ok(Json(order.seller_view(claims.sub)))
}
