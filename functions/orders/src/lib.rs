//! Skyshop orders: checkout and the order lifecycle on PostgreSQL.
//!
//! - Customers place orders from their cart with an `Idempotency-Key` ([`checkout`]: exactly
//!   once, every step undone on failure), read them and cancel them while PENDING/CONFIRMED.
//! - Admins read every order, see the stats and move any order along the status machine
//!   ([`domain::Status`], enforced in [`store::Store::transition`] under the order's row lock);
//!   sellers see orders with their products and fulfil the ones wholly theirs.
//! - Every state change writes its events in the same transaction (the outbox), published to
//!   the order events topic right after the commit and by the minute sweep (`shop_aws::outbox`).
//! - [`events`] (the `orders-events` binary, every minute): the outbox sweep, expiry of unpaid
//!   card orders (`payment_timeout`), undoing abandoned checkouts, purging old idempotency keys.

pub mod checkout;
pub mod clients;
pub mod config;
pub mod db;
pub mod domain;
pub mod events;
pub mod routes;
pub mod store;

use std::sync::Arc;

use axum::Router;
use shop_core::http::BearerAuth;
use shop_internal::InternalClient;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::clients::{Accounts, Cart, Catalog, Inventory};
use crate::config::Config;
use crate::store::Store;
use shop_aws::outbox::Relay;

/// The caller name this function logs on the functions it calls, and its events' `source`.
pub const CALLER: &str = "orders";

#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub store: Store,
    pub relay: Relay,
    pub cart: Cart,
    pub catalog: Catalog,
    pub inventory: Inventory,
    pub accounts: Accounts,
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    /// Connects (lazily) and migrates the database, and builds the clients.
    pub async fn from_config(config: &Config, sdk: &aws_config::SdkConfig) -> Result<Self, db::DbError> {
        let pool = db::connect(&config.database, sdk).await?;
        Ok(Self::new(Inner {
            store: Store::new(pool),
            relay: Relay::new(aws_sdk_sns::Client::new(sdk), &config.topic_arn, crate::CALLER),
            cart: Cart(InternalClient::new(sdk, &config.cart_function, CALLER)),
            catalog: Catalog(InternalClient::new(sdk, &config.catalog_function, CALLER)),
            inventory: Inventory(InternalClient::new(sdk, &config.inventory_function, CALLER)),
            accounts: Accounts(InternalClient::new(sdk, &config.accounts_function, CALLER)),
        }))
    }

    pub fn new(inner: Inner) -> Self {
        Self(Arc::new(inner))
    }
}

impl AppState {
    /// What readiness checks (`GET /internal/health/ready`, asked by the health function):
    /// each dependency of this function.
    pub fn probes(&self) -> Vec<shop_core::health::Probe> {
        vec![self.store.probe(), self.relay.probe()]
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Skyshop orders", description = "Checkout and the order lifecycle."),
    components(schemas(shop_core::problem::Problem, shop_core::problem::FieldError)),
    modifiers(&BearerAuth),
    tags((name = "orders", description = "Orders (customers: their own; SELLERs: orders with their products; ADMINs: all)"))
)]
struct ApiDoc;

fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi()).merge(routes::router())
}

/// The function's router: the public routes and the internal ones.
pub fn router(state: AppState) -> Router {
    // The routes alone: `ApiDoc` feeds only `openapi()` (see `shop_core::routes!`).
    let (router, _) = routes::router().split_for_parts();
    shop_core::http::finish(
        router.merge(routes::internal::router()).merge(shop_core::health::router(CALLER, AppState::probes)).with_state(state),
    )
}

/// The OpenAPI 3.1 document of the public routes.
/// Complete only with shop-core's `openapi` feature (the local runner and the tests turn it on).
pub fn openapi() -> utoipa::openapi::OpenApi {
    api().into_openapi()
}
