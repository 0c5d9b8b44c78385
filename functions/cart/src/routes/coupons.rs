//! `/api/coupons*`: coupon administration (ADMIN; the route scopes gate it at the edge too).

use axum::Json;
use axum::extract::State;
use http::StatusCode;
use shop_aws::dynamo::Outcome;
use shop_core::auth::{Claims, Role};
use shop_core::extract::{ValidJson, ValidPath, ValidQuery};
use shop_core::pagination::{Page, PageQuery};
use shop_core::problem::responses::{BadRequest, Forbidden, NotFound, ServiceUnavailable, Unauthorized, UnprocessableEntity};
use shop_core::time::Timestamp;
use shop_core::{ApiError, ApiResult, FieldError};

use crate::AppState;
use crate::domain::{Coupon, CouponInput, CouponUpdate};

shop_core::problem_responses! {
    /// A coupon with the code already exists.
    CouponExists: 409 => "`coupon_exists`";
}

fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "coupon_not_found", "No coupon has this code.")
}

fn admin(claims: &Claims) -> ApiResult<()> {
    claims.require_role(&[Role::Admin])
}

/// Every coupon, by code.
#[utoipa::path(get, path = "/api/coupons", tag = "coupons", security(("bearer" = ["admin"])), params(PageQuery),
    responses(
        (status = 200, body = Page<Coupon>),
        BadRequest,
        Unauthorized,
        Forbidden,
    ))]
pub async fn list_coupons(
    State(state): State<AppState>,
    claims: Claims,
    ValidQuery(query): ValidQuery<PageQuery>,
) -> ApiResult<Json<Page<Coupon>>> {
    admin(&claims)?;
    let page = query.checked()?;
    let mut coupons = state.coupons.coupons().await?;
    coupons.sort_by(|a, b| a.code.cmp(&b.code));
    Ok(Json(page.slice(coupons)))
}

/// Create a coupon. Codes are case-insensitive (stored upper-case) and unique.
#[utoipa::path(post, path = "/api/coupons", tag = "coupons", security(("bearer" = ["admin"])), request_body = CouponInput,
    responses(
        (status = 201, body = Coupon),
        Forbidden,
        CouponExists,
        UnprocessableEntity,
    ))]
pub async fn create_coupon(
    State(state): State<AppState>,
    claims: Claims,
    ValidJson(body): ValidJson<CouponInput>,
) -> ApiResult<(StatusCode, Json<Coupon>)> {
    admin(&claims)?;
    let now = Timestamp::now();
    let coupon = Coupon {
        code: body.code.to_uppercase(),
        kind: body.kind,
        value: body.value,
        min_subtotal: body.min_subtotal.unwrap_or(0),
        starts_at: body.starts_at,
        ends_at: body.ends_at,
        max_redemptions: body.max_redemptions,
        per_user_limit: body.per_user_limit,
        active: body.active.unwrap_or(true),
        redemption_count: 0,
        created_at: now,
        updated_at: now,
    };
    coupon.validate_terms()?;
    match state.coupons.create(&coupon).await? {
        Outcome::Done => Ok((StatusCode::CREATED, Json(coupon))),
        Outcome::ConditionFailed => Err(ApiError::conflict("coupon_exists", "A coupon with this code already exists.")
            .with_errors(vec![FieldError::new("code", "taken", "is already used")])),
    }
}

#[utoipa::path(get, path = "/api/coupons/{code}", tag = "coupons", security(("bearer" = ["admin"])),
    params(("code" = String, Path, description = "Coupon code (case-insensitive)")),
    responses((status = 200, body = Coupon), Forbidden, NotFound))]
pub async fn get_coupon(State(state): State<AppState>, claims: Claims, ValidPath(code): ValidPath<String>) -> ApiResult<Json<Coupon>> {
    admin(&claims)?;
    let stored = state.coupons.coupon(&code.to_uppercase()).await?.ok_or_else(not_found)?;
    Ok(Json(stored.coupon))
}

/// Change a coupon: absent fields stay, `null` clears `startsAt`, `endsAt`, `maxRedemptions`,
/// `perUserLimit`. The redemption count is never overwritten.
#[utoipa::path(put, path = "/api/coupons/{code}", tag = "coupons", security(("bearer" = ["admin"])), request_body = CouponUpdate,
    params(("code" = String, Path, description = "Coupon code (case-insensitive)")),
    responses(
        (status = 200, body = Coupon),
        Forbidden,
        NotFound,
        UnprocessableEntity,
        ServiceUnavailable,
    ))]
pub async fn update_coupon(
    State(state): State<AppState>,
    claims: Claims,
    ValidPath(code): ValidPath<String>,
    ValidJson(body): ValidJson<CouponUpdate>,
) -> ApiResult<Json<Coupon>> {
    admin(&claims)?;
    let coupon = state
        .coupons
        .edit(&code.to_uppercase(), |stored| {
            let mut coupon = body.clone().apply(stored);
            coupon.updated_at = Timestamp::now();
            coupon.validate_terms()?;
            Ok::<_, ApiError>(coupon)
        })
        .await?
        .ok_or_else(not_found)?;
    Ok(Json(coupon))
}

/// Delete a coupon, and with it the per-user redemption counts: a coupon created again with the
/// same code starts afresh. Redemptions stay (order history).
#[utoipa::path(delete, path = "/api/coupons/{code}", tag = "coupons", security(("bearer" = ["admin"])),
    params(("code" = String, Path, description = "Coupon code (case-insensitive)")),
    responses((status = 204, description = "Deleted"), Forbidden, NotFound))]
pub async fn delete_coupon(State(state): State<AppState>, claims: Claims, ValidPath(code): ValidPath<String>) -> ApiResult<StatusCode> {
    admin(&claims)?;
    match state.coupons.delete(&code.to_uppercase()).await? {
        Outcome::Done => Ok(StatusCode::NO_CONTENT),
        Outcome::ConditionFailed => Err(not_found()),
    }
}
