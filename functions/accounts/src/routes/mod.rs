//! One module per area; each handler carries its OpenAPI description.

pub mod addresses;
pub mod admin;
pub mod auth;
pub mod internal;
pub mod me;
pub mod wellknown;

use serde::Serialize;
use shop_core::routes;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;

use shop_core::auth::Claims;
use shop_core::{ApiError, ApiResult};

use crate::AppState;
use crate::domain::User;

/// `{message}` answers.
#[derive(Debug, Serialize, ToSchema)]
pub struct Message {
    pub message: String,
}

impl Message {
    pub fn new(message: &str) -> axum::Json<Self> {
        axum::Json(Self { message: message.to_owned() })
    }
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(wellknown::jwks))
        .routes(routes!(wellknown::openid_configuration))
        .routes(routes!(auth::register))
        .routes(routes!(auth::login))
        .routes(routes!(auth::refresh))
        .routes(routes!(auth::logout))
        .routes(routes!(auth::logout_all))
        .routes(routes!(auth::forgot_password))
        .routes(routes!(auth::reset_password))
        .routes(routes!(auth::profile))
        .routes(routes!(me::get_me, me::update_me))
        .routes(routes!(me::change_password))
        .routes(routes!(me::list_sessions))
        .routes(routes!(me::delete_session))
        .routes(routes!(addresses::list_addresses, addresses::create_address))
        .routes(routes!(addresses::get_address, addresses::replace_address, addresses::delete_address))
        .routes(routes!(admin::list_users))
        .routes(routes!(admin::update_user))
}

/// The caller's user, checked live on every protected accounts route: the account exists and is
/// active, the access token's session still exists in the user's current epoch (not ended by a
/// logout, a password reset or change, a role change or logout-all), and the token's `role` is
/// the stored role — a demoted admin's token, still valid at the gateway for up to 15 minutes,
/// gets nothing here.
pub async fn current_user(state: &AppState, claims: &Claims) -> ApiResult<User> {
    let session = async {
        match claims.session_id {
            Some(sid) => state.store.session(claims.sub, sid).await,
            None => Ok(None),
        }
    };
    let (user, session) = tokio::try_join!(state.store.user(claims.sub), session)?;
    let Some(user) = user.filter(|u| u.is_active) else {
        return Err(ApiError::unauthorized("account_inactive", "This account does not exist or is deactivated."));
    };
    if !session.is_some_and(|s| user.honours(&s)) {
        return Err(ApiError::unauthorized("session_revoked", "This session has ended; log in again."));
    }
    if user.role != claims.role {
        return Err(ApiError::unauthorized("session_revoked", "Your role has changed; log in again."));
    }
    Ok(user)
}
