//! `/.well-known/*`: what the API Gateway JWT authorizer fetches to verify access tokens.

use axum::Json;
use axum::extract::State;
use axum::response::IntoResponse;
use http::header;
use serde::Serialize;
use utoipa::ToSchema;

use crate::AppState;

/// The public signing keys (JWKS, RFC 7517).
#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "keys",
    responses((status = 200, description = "JSON Web Key Set", body = Object)))]
pub async fn jwks(State(state): State<AppState>) -> impl IntoResponse {
    ([(header::CACHE_CONTROL, "public, max-age=300")], Json(state.keys.current().await.jwks().clone()))
}

/// OpenID provider metadata; API Gateway reads `jwks_uri` from here.
#[derive(Debug, Serialize, ToSchema)]
pub struct OpenIdConfiguration {
    pub issuer: String,
    pub jwks_uri: String,
    pub id_token_signing_alg_values_supported: Vec<String>,
    pub subject_types_supported: Vec<String>,
    pub response_types_supported: Vec<String>,
    pub scopes_supported: Vec<String>,
}

#[utoipa::path(get, path = "/.well-known/openid-configuration", tag = "keys",
    responses((status = 200, body = OpenIdConfiguration)))]
pub async fn openid_configuration(State(state): State<AppState>) -> impl IntoResponse {
    let config = OpenIdConfiguration {
        issuer: state.issuer.clone(),
        jwks_uri: format!("{}/.well-known/jwks.json", state.issuer),
        id_token_signing_alg_values_supported: vec!["RS256".into()],
        subject_types_supported: vec!["public".into()],
        response_types_supported: vec!["token".into()],
        scopes_supported: vec!["customer".into(), "seller".into(), "admin".into()],
    };
    ([(header::CACHE_CONTROL, "public, max-age=300")], Json(config))
}
