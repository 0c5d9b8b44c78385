//! `/internal/users/*`: what other functions ask accounts (never on the public API; see
//! `shop_core::http::finish`, which guards every `/internal/` path). Read-only, so safe to retry.
//!
//! - `GET /internal/users/{id}/contact` → `{userId, email, firstName}`; 404 for an unknown or
//!   deactivated user (nobody should be emailed who cannot sign in).
//! - `GET /internal/users/{id}/name` → `{userId, firstName, lastName}` (the reviews function
//!   shows "Ada L."); 404 for an unknown or deactivated user.
//! - `GET /internal/users/admins` → `{items: [{userId, email, firstName}]}`: the active ADMINs,
//!   read from a sparse index of admins (never a scan of the users).
//! - `GET /internal/users/{userId}/addresses/{addressId}` → the stored address (the orders
//!   function copies it into an order at checkout); 404 `address_not_found` when the user has no
//!   such address (also another user's).

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use http::StatusCode;
use serde::{Deserialize, Serialize};
use shop_core::auth::Role;
use shop_core::extract::ValidPath;
use shop_core::{ApiError, ApiResult};
use uuid::Uuid;

use crate::AppState;
use crate::domain::{Address, User};

/// Who to write to: the user's id, email and first name (for the greeting).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Contact {
    pub user_id: Uuid,
    pub email: String,
    pub first_name: String,
}

impl From<User> for Contact {
    fn from(user: User) -> Self {
        Self { user_id: user.id, email: user.email.to_string(), first_name: user.first_name }
    }
}

/// A user's name, and nothing else of theirs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserName {
    pub user_id: Uuid,
    pub first_name: String,
    pub last_name: String,
}

/// `{items}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contacts {
    pub items: Vec<Contact>,
}

/// A stored address as other functions see it (no owner, no timestamps, no default flag).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredAddress {
    pub id: Uuid,
    pub first_name: String,
    pub last_name: String,
    pub address1: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address2: Option<String>,
    pub city: String,
    pub state: String,
    pub postal_code: String,
    pub country: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
}

impl From<Address> for StoredAddress {
    fn from(a: Address) -> Self {
        Self {
            id: a.id,
            first_name: a.first_name,
            last_name: a.last_name,
            address1: a.address1,
            address2: a.address2,
            city: a.city,
            state: a.state,
            postal_code: a.postal_code,
            country: a.country,
            phone: a.phone,
        }
    }
}

/// The internal routes (guarded by `shop_core::http::finish` for being under `/internal/`).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/internal/users/admins", get(admins))
        .route("/internal/users/{userId}/contact", get(contact))
        .route("/internal/users/{userId}/name", get(name))
        .route("/internal/users/{userId}/addresses/{addressId}", get(address))
}

#[tracing::instrument(skip_all)]
pub async fn contact(State(state): State<AppState>, ValidPath(id): ValidPath<Uuid>) -> ApiResult<Json<Contact>> {
    let user = state.store.user(id).await?.filter(|u| u.is_active).ok_or_else(|| ApiError::not_found("User not found."))?;
    Ok(Json(user.into()))
}

#[tracing::instrument(skip_all)]
pub async fn name(State(state): State<AppState>, ValidPath(id): ValidPath<Uuid>) -> ApiResult<Json<UserName>> {
    let user = state.store.user(id).await?.filter(|u| u.is_active).ok_or_else(|| ApiError::not_found("User not found."))?;
    Ok(Json(UserName { user_id: user.id, first_name: user.first_name, last_name: user.last_name }))
}

#[tracing::instrument(skip_all)]
pub async fn admins(State(state): State<AppState>) -> ApiResult<Json<Contacts>> {
    let mut items: Vec<Contact> =
        state.store.admins().await?.into_iter().filter(|u| u.is_active && u.role == Role::Admin).map(Contact::from).collect();
    items.sort_by_key(|c| c.user_id);
    Ok(Json(Contacts { items }))
}

/// `GET /internal/users/{userId}/addresses/{addressId}`: the address, read under the user's own
/// key, so another user's address is simply not found.
#[tracing::instrument(skip_all)]
pub async fn address(State(state): State<AppState>, ValidPath((user_id, id)): ValidPath<(Uuid, Uuid)>) -> ApiResult<Json<StoredAddress>> {
    let address = state
        .store
        .address(user_id, id)
        .await?
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "address_not_found", "The user has no such address."))?;
    Ok(Json(address.into()))
}
