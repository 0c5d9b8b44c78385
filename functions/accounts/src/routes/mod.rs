//! One module per area; each handler carries its OpenAPI description.

pub mod addresses;
pub mod admin;
pub mod auth;
pub mod internal;
pub mod me;
pub mod wellknown;

use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::AppState;

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
