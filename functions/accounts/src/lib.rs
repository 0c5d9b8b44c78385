//! Skyshop accounts: registration, login, token refresh with rotation and reuse detection,
//! sessions, password reset and change, profiles, address book, admin user management, and the
//! JWKS the API Gateway JWT authorizer verifies access tokens with.
//!
//! [`router`] is what Lambda runs (through `lambda_http`), what the local runner mounts and
//! what the tests drive.

pub mod admin;
pub mod config;
pub mod domain;
pub mod keys;
pub mod password;
pub mod routes;
pub mod store;
pub mod tokens;

use std::sync::Arc;

use axum::Router;
use shop_aws::events::Publisher;
use shop_core::http::BearerAuth;
use shop_core::problem::ErrorChain;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::config::Config;
use crate::keys::{KeyRing, KeySource};
use crate::store::Store;

/// Everything a handler needs, built once per Lambda sandbox.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub store: Store,
    pub publisher: Publisher,
    /// The signing keys, following their secret (see [`KeyRing`]).
    pub keys: KeyRing,
    pub issuer: String,
    pub audience: String,
    pub frontend_url: String,
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

/// Why start-up failed.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error(transparent)]
    Config(#[from] shop_aws::config::MissingEnv),
    #[error(transparent)]
    Keys(#[from] keys::LoadError),
}

impl AppState {
    /// Builds the state from configuration: SDK clients and the signing keys from Secrets Manager.
    pub async fn from_config(config: Config, sdk: &aws_config::SdkConfig) -> Result<Self, InitError> {
        let source = KeySource { client: aws_sdk_secretsmanager::Client::new(sdk), secret_id: config.signing_keys_secret_id.clone() };
        let keys = KeyRing::load(source).await?;
        let store = Store::new(aws_sdk_dynamodb::Client::new(sdk), &config.table);
        let publisher = Publisher::new(aws_sdk_sqs::Client::new(sdk), &config.notifications_queue_url, "accounts");
        Ok(Self::new(store, publisher, keys, &config))
    }

    pub fn new(store: Store, publisher: Publisher, keys: KeyRing, config: &Config) -> Self {
        Self(Arc::new(Inner {
            store,
            publisher,
            keys,
            issuer: config.jwt_issuer.clone(),
            audience: config.jwt_audience.clone(),
            frontend_url: config.frontend_url.clone(),
        }))
    }
}

impl AppState {
    /// Publishes an email-worthy event. The request that caused it already succeeded, so a
    /// failure is logged (with the event kind, never its content) rather than returned.
    pub(crate) async fn notify<T: shop_aws::events::Event>(&self, event: T) {
        if let Err(err) = self.publisher.publish(event).await {
            tracing::error!(kind = T::KIND, error = %ErrorChain(&err), "could not publish notification");
        }
    }
}

impl AppState {
    /// What readiness checks (`GET /internal/health/ready`, asked by the health function):
    /// each dependency of this function.
    pub fn probes(&self) -> Vec<shop_core::health::Probe> {
        let mut probes = vec![self.store.probe(), self.publisher.probe()];
        probes.extend(self.keys.probe());
        probes
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Skyshop accounts", description = "Auth, sessions, profiles, addresses and roles."),
    components(schemas(shop_core::problem::Problem, shop_core::problem::FieldError)),
    modifiers(&BearerAuth),
    tags(
        (name = "auth", description = "Registration, login, tokens, password reset"),
        (name = "users", description = "The caller's profile, sessions and addresses"),
        (name = "admin", description = "User management (ADMIN)"),
        (name = "keys", description = "Token verification keys"),
    )
)]
struct ApiDoc;

fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi()).merge(routes::router())
}

/// The function's router: every route of the accounts group, and the internal routes
/// (`/internal/users/*`, reachable only through a `shop_internal::InternalClient`, not part of
/// the OpenAPI document).
pub fn router(state: AppState) -> Router {
    // The routes alone: `ApiDoc` feeds only `openapi()` (see `shop_core::routes!`).
    let (router, _) = routes::router().split_for_parts();
    shop_core::http::finish(
        router.merge(routes::internal::router()).merge(shop_core::health::router("accounts", AppState::probes)).with_state(state),
    )
}

/// The OpenAPI 3.1 document of the accounts routes, generated from the handlers.
/// Complete only with shop-core's `openapi` feature (the local runner and the tests turn it on).
pub fn openapi() -> utoipa::openapi::OpenApi {
    api().into_openapi()
}
