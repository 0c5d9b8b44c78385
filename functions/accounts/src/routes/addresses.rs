//! `/api/users/me/addresses*`: the caller's address book (at most 20, one default).

use axum::Json;
use axum::extract::State;
use http::StatusCode;
use shop_core::auth::Claims;
use shop_core::extract::{ValidJson, ValidPath};
use shop_core::problem::responses::{NotFound, Unauthorized, UnprocessableEntity};
use shop_core::time::Timestamp;
use shop_core::{ApiError, ApiResult};
use uuid::Uuid;

use crate::AppState;
use crate::domain::{Address, AddressInput, AddressView, MAX_ADDRESSES};
use crate::routes::current_user;
use crate::store::Outcome;

shop_core::problem_responses! {
    /// A new address beyond the limit.
    AddressLimit: 409 => "The address book is full (`address_limit`)";
}

fn not_found() -> ApiError {
    ApiError::not_found("Address not found.")
}

#[utoipa::path(get, path = "/api/users/me/addresses", tag = "users", security(("bearer" = [])),
    responses((status = 200, body = Vec<AddressView>), Unauthorized))]
pub async fn list_addresses(State(state): State<AppState>, claims: Claims) -> ApiResult<Json<Vec<AddressView>>> {
    let user = current_user(&state, &claims).await?;
    let mut list: Vec<AddressView> =
        state.store.addresses(user.id).await?.into_iter().map(|a| AddressView::new(a, user.default_address_id)).collect();
    // Default first, then oldest first (ids are time-ordered).
    list.sort_by_key(|a| (!a.is_default, a.id));
    Ok(Json(list))
}

#[utoipa::path(post, path = "/api/users/me/addresses", tag = "users", security(("bearer" = [])), request_body = AddressInput,
    responses(
        (status = 201, body = AddressView),
        Unauthorized,
        AddressLimit,
        UnprocessableEntity,
    ))]
pub async fn create_address(
    State(state): State<AppState>,
    claims: Claims,
    ValidJson(body): ValidJson<AddressInput>,
) -> ApiResult<(StatusCode, Json<AddressView>)> {
    let user = current_user(&state, &claims).await?;
    let now = Timestamp::now();
    let make_default = body.is_default.unwrap_or(false);
    let address = Address::from_input(shop_core::id::new_id(), user.id, body, now, now);
    if state.store.add_address(&address, make_default, now).await? == Outcome::ConditionFailed {
        return Err(ApiError::conflict("address_limit", format!("An account can hold at most {MAX_ADDRESSES} addresses.")));
    }
    let default_id = if make_default || user.default_address_id.is_none() { Some(address.id) } else { user.default_address_id };
    Ok((StatusCode::CREATED, Json(AddressView::new(address, default_id))))
}

#[utoipa::path(get, path = "/api/users/me/addresses/{id}", tag = "users", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Address id")),
    responses(
        (status = 200, body = AddressView),
        Unauthorized,
        NotFound,
    ))]
pub async fn get_address(State(state): State<AppState>, claims: Claims, ValidPath(id): ValidPath<Uuid>) -> ApiResult<Json<AddressView>> {
    let user = current_user(&state, &claims).await?;
    let address = state.store.address(user.id, id).await?.ok_or_else(not_found)?;
    Ok(Json(AddressView::new(address, user.default_address_id)))
}

/// Replace an address (all fields).
#[utoipa::path(put, path = "/api/users/me/addresses/{id}", tag = "users", security(("bearer" = [])), request_body = AddressInput,
    params(("id" = Uuid, Path, description = "Address id")),
    responses(
        (status = 200, body = AddressView),
        Unauthorized,
        NotFound,
        UnprocessableEntity,
    ))]
pub async fn replace_address(
    State(state): State<AppState>,
    claims: Claims,
    ValidPath(id): ValidPath<Uuid>,
    ValidJson(body): ValidJson<AddressInput>,
) -> ApiResult<Json<AddressView>> {
    let user = current_user(&state, &claims).await?;
    let existing = state.store.address(user.id, id).await?.ok_or_else(not_found)?;
    let make_default = body.is_default.unwrap_or(false);
    let now = Timestamp::now();
    let address = Address::from_input(id, user.id, body, existing.created_at, now);
    if state.store.replace_address(&address, make_default).await? == Outcome::ConditionFailed {
        return Err(not_found());
    }
    let default_id = if make_default { Some(id) } else { user.default_address_id };
    Ok(Json(AddressView::new(address, default_id)))
}

#[utoipa::path(delete, path = "/api/users/me/addresses/{id}", tag = "users", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Address id")),
    responses(
        (status = 204, description = "Deleted"),
        Unauthorized,
        NotFound,
    ))]
pub async fn delete_address(State(state): State<AppState>, claims: Claims, ValidPath(id): ValidPath<Uuid>) -> ApiResult<StatusCode> {
    let user = current_user(&state, &claims).await?;
    match state.store.delete_address(user.id, id).await? {
        Outcome::Done => Ok(StatusCode::NO_CONTENT),
        Outcome::ConditionFailed => Err(not_found()),
    }
}
