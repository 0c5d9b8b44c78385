//! `/internal/users/*`: what other functions ask accounts (never on the public API; see
//! `shop_core::http::finish`, which guards every `/internal/` path). Read-only, so safe to retry.
//!
//! - `GET /internal/users/{id}/contact` → `{userId, email, firstName}`; 404 for an unknown or
//!   deactivated user (nobody should be emailed who cannot sign in).
//! - `GET /internal/users/admins` → `{items: [{userId, email, firstName}]}`: the active ADMINs,
//!   read from a sparse index of admins (never a scan of the users).

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use shop_core::auth::Role;
use shop_core::extract::ValidPath;
use shop_core::{ApiError, ApiResult};
use uuid::Uuid;

use crate::AppState;
use crate::domain::User;

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

/// `{items}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contacts {
    pub items: Vec<Contact>,
}

/// The internal routes (guarded by `shop_core::http::finish` for being under `/internal/`).
pub fn router() -> Router<AppState> {
    Router::new().route("/internal/users/admins", get(admins)).route("/internal/users/{id}/contact", get(contact))
}

#[tracing::instrument(skip_all)]
pub async fn contact(State(state): State<AppState>, ValidPath(id): ValidPath<Uuid>) -> ApiResult<Json<Contact>> {
    let user = state.store.user(id).await?.filter(|u| u.is_active).ok_or_else(|| ApiError::not_found("User not found."))?;
    Ok(Json(user.into()))
}

#[tracing::instrument(skip_all)]
pub async fn admins(State(state): State<AppState>) -> ApiResult<Json<Contacts>> {
    let mut items: Vec<Contact> =
        state.store.admins().await?.into_iter().filter(|u| u.is_active && u.role == Role::Admin).map(Contact::from).collect();
    items.sort_by_key(|c| c.user_id);
    Ok(Json(Contacts { items }))
}
