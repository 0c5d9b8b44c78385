//! Skyshop inventory: the only stock source.
//!
//! - SELLERs (their own products) and ADMINs read and set stock on `/api/inventory*`: one row
//!   per product (`available`, `reserved`, `lowStockThreshold`), audited adjustments that never
//!   go below zero, bulk upserts, and the products low on stock.
//! - Other functions reserve stock for an order on the internal routes (`/internal/*`, reached
//!   only through [`shop_internal::InternalClient`]): every line or none in one conditional
//!   transaction, idempotent by order id; commit and release move a reservation once.
//! - [`events`] (the `inventory-events` binary) consumes the table's stream — catalog-visible
//!   availability goes to the catalog, threshold crossings publish `StockLow` — and releases
//!   expired reservations every minute.

pub mod clients;
pub mod config;
pub mod domain;
pub mod events;
pub mod routes;
pub mod store;

use std::sync::Arc;

use axum::Router;
use shop_core::http::BearerAuth;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::clients::Catalog;
use crate::config::Config;
use crate::store::Store;

/// The caller name this function logs on the functions it calls.
pub const CALLER: &str = "inventory";

#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub store: Store,
    pub catalog: Catalog,
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    pub fn from_config(config: &Config, sdk: &aws_config::SdkConfig) -> Self {
        let catalog = Catalog::new(shop_internal::InternalClient::new(sdk, &config.catalog_function, CALLER));
        Self::new(Store::new(aws_sdk_dynamodb::Client::new(sdk), &config.table), catalog)
    }

    pub fn new(store: Store, catalog: Catalog) -> Self {
        Self(Arc::new(Inner { store, catalog }))
    }
}

impl AppState {
    /// What readiness checks (`GET /internal/health/ready`, asked by the health function):
    /// each dependency of this function.
    pub fn probes(&self) -> Vec<shop_core::health::Probe> {
        vec![self.store.probe()]
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Skyshop inventory", description = "Stock per product for sellers and admins."),
    components(schemas(shop_core::problem::Problem, shop_core::problem::FieldError)),
    modifiers(&BearerAuth),
    tags((name = "inventory", description = "Stock (SELLERs: their own products; ADMINs: all)"))
)]
struct ApiDoc;

fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi()).merge(routes::router())
}

/// The function's router: the public routes and the internal ones (404 unless called through
/// an internal client).
pub fn router(state: AppState) -> Router {
    // The routes alone: `ApiDoc` feeds only `openapi()` (see `shop_core::routes!`).
    let (router, _) = routes::router().split_for_parts();
    let internal = routes::internal::router().merge(shop_core::health::router(CALLER, AppState::probes));
    shop_core::http::finish(router.merge(internal).with_state(state))
}

/// The OpenAPI 3.1 document of the public routes.
/// Complete only with shop-core's `openapi` feature (the local runner and the tests turn it on).
pub fn openapi() -> utoipa::openapi::OpenApi {
    api().into_openapi()
}
