//! Skyshop payments: card payments through Stripe and cash on delivery, on PostgreSQL.
//!
//! - Customers get the PaymentIntent of their PENDING card order, priced from the order
//!   ([`ledger::intent_for_order`]: one intent per order attempt), and may confirm it themselves.
//! - The Stripe webhook ([`webhook`], its own binary and route, no authorizer) verifies the raw
//!   body's signature, records each event once and settles; the client's confirm and the
//!   reconciliation job settle through the same [`ledger::settle`], so the order is confirmed
//!   exactly once whatever arrives first, twice, late or never.
//! - Admins refund in full or in part ([`ledger::refund`]: accumulated, never above what was
//!   captured); a cancelled paid order is refunded automatically ([`events`]).
//! - Cash-on-delivery orders get a `cod` payment at placement, SUCCEEDED at delivery.

pub mod clients;
pub mod config;
pub mod domain;
pub mod events;
pub mod ledger;
pub mod routes;
pub mod store;
pub mod stripe;
pub mod webhook;

use std::sync::Arc;

use axum::Router;
use shop_aws::outbox::Relay;
use shop_core::http::BearerAuth;
use shop_internal::InternalClient;
use tokio::sync::OnceCell;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::clients::Orders;
use crate::config::{Config, Secret};
use crate::ledger::LedgerError;
use crate::store::Store;
use crate::stripe::Stripe;

/// The caller name this function logs on the functions it calls, and its events' `source`.
pub const CALLER: &str = "payments";

#[derive(Clone)]
pub struct AppState(Arc<Inner>);

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("payments::AppState")
    }
}

pub struct Inner {
    pub store: Store,
    pub relay: Relay,
    pub orders: Orders,
    pub secrets: Secrets,
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

/// The Stripe key and the webhook secret, read once per sandbox on first use (a failed read is
/// tried again by the next request). Never logged.
pub struct Secrets {
    manager: Option<aws_sdk_secretsmanager::Client>,
    stripe_key: Secret,
    webhook_secret: Secret,
    api_base: Option<String>,
    stripe: OnceCell<Stripe>,
    webhook: OnceCell<String>,
}

impl Secrets {
    pub fn new(config: &Config, manager: Option<aws_sdk_secretsmanager::Client>) -> Self {
        Self {
            manager,
            stripe_key: config.stripe_key.clone(),
            webhook_secret: config.webhook_secret.clone(),
            api_base: config.stripe_api_base.clone(),
            stripe: OnceCell::new(),
            webhook: OnceCell::new(),
        }
    }

    async fn read(&self, secret: &Secret, what: &str) -> Result<String, LedgerError> {
        let value =
            match secret {
                Secret::Value(v) => v.clone(),
                Secret::Manager(id) => {
                    let manager =
                        self.manager.as_ref().ok_or_else(|| LedgerError::Config(format!("no Secrets Manager client for the {what}")))?;
                    let out =
                        manager.get_secret_value().secret_id(id).send().await.map_err(|e| {
                            LedgerError::Config(format!("the {what} cannot be read: {}", shop_core::problem::ErrorChain(&e)))
                        })?;
                    out.secret_string().unwrap_or_default().trim().to_owned()
                }
            };
        if value.is_empty() {
            return Err(LedgerError::Config(format!("the {what} is empty: put it into its secret")));
        }
        Ok(value)
    }
}

impl AppState {
    /// Connects (lazily) and migrates the database, and builds the clients.
    pub async fn from_config(config: &Config, sdk: &aws_config::SdkConfig) -> Result<Self, shop_aws::pg::DbError> {
        let pool = shop_aws::pg::connect(&config.database, sdk, &MIGRATOR).await?;
        Ok(Self::new(Inner {
            store: Store::new(pool),
            relay: Relay::new(aws_sdk_sns::Client::new(sdk), &config.topic_arn, CALLER),
            orders: Orders(InternalClient::new(sdk, &config.orders_function, CALLER)),
            secrets: Secrets::new(config, Some(aws_sdk_secretsmanager::Client::new(sdk))),
        }))
    }

    pub fn new(inner: Inner) -> Self {
        Self(Arc::new(inner))
    }

    /// The Stripe client (its key read on first use).
    pub async fn stripe(&self) -> Result<&Stripe, LedgerError> {
        let s = &self.secrets;
        s.stripe
            .get_or_try_init(|| async {
                let key = s.read(&s.stripe_key, "Stripe secret key").await?;
                Stripe::new(&key, s.api_base.as_deref()).map_err(LedgerError::from)
            })
            .await
    }

    /// The webhook endpoint's signing secret.
    pub async fn webhook_secret(&self) -> Result<&str, LedgerError> {
        let s = &self.secrets;
        s.webhook.get_or_try_init(|| s.read(&s.webhook_secret, "Stripe webhook secret")).await.map(String::as_str)
    }
}

/// The embedded migrations of this function (`functions/payments/migrations`).
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

impl AppState {
    /// What readiness checks (`GET /internal/health/ready`, asked by the health function):
    /// each dependency of this function.
    pub fn probes(&self) -> Vec<shop_core::health::Probe> {
        let state = self.clone();
        let stripe = shop_core::health::Probe::new("secretsmanager:stripe-key", async move {
            state.stripe().await.map(|_| ()).map_err(|e| shop_core::problem::ErrorChain(&e).to_string())
        });
        vec![self.store.probe(), self.relay.probe(), stripe]
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Skyshop payments", description = "Card payments through Stripe, refunds, cash on delivery."),
    components(schemas(shop_core::problem::Problem, shop_core::problem::FieldError)),
    modifiers(&BearerAuth),
    tags((name = "payments", description = "Payments (customers: their own orders'; ADMINs: all, and refunds)"))
)]
struct ApiDoc;

fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi()).merge(routes::router())
}

/// The payments function's router (every route but the webhook, which is its own function).
pub fn router(state: AppState) -> Router {
    // The routes alone: `ApiDoc` feeds only `openapi()` (see `shop_core::routes!`).
    let (router, _) = routes::router().split_for_parts();
    shop_core::http::finish(router.merge(shop_core::health::router(CALLER, AppState::probes)).with_state(state))
}

/// Runs one of this crate's HTTP functions (the API, or the webhook with [`webhook::router`]).
/// Init reads configuration only; the pool, the secrets and the clients come with the first
/// request.
pub async fn serve(make: fn(AppState) -> Router) -> Result<(), lambda_http::Error> {
    shop_core::telemetry::init();
    let config = Config::from_env()?;
    let service = shop_core::http::LazyRouter::new(move || {
        let config = config.clone();
        async move {
            let sdk = shop_aws::config::load().await;
            AppState::from_config(&config, &sdk).await.map(make)
        }
    });
    shop_core::http::run(service).await
}

/// The OpenAPI 3.1 document of the public routes (the webhook's is added by the merge, as
/// Stripe's endpoint rather than a client's).
/// Complete only with shop-core's `openapi` feature (the local runner and the tests turn it on).
pub fn openapi() -> utoipa::openapi::OpenApi {
    api().into_openapi()
}
