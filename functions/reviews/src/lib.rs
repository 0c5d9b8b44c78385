//! Skyshop reviews: what customers say about products.
//!
//! - Signed-in users review a product once (`POST /api/reviews`; the product must exist and be
//!   active, asked of the catalog): 1 to 5 stars, a title and a text, their shown name ("Ada L.",
//!   from accounts) and whether they received the product (a DELIVERED order, asked of orders;
//!   re-checked on every edit). Authors edit and delete their reviews, admins delete and hide
//!   them; anyone reads a product's visible reviews (sorted, filtered, paginated) and its
//!   summary. Helpful votes toggle, one per user and review, never on one's own.
//! - Each product's summary (visible reviews per star) changes in the same transaction as the
//!   review write that changes it ([`store`]).
//! - [`events`] (the `reviews-events` binary) consumes the table's stream and sends each
//!   summary change to the catalog (`ratingAverage`, `ratingCount`), versioned so a late or
//!   repeated delivery never takes a product's rating back.

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

use crate::clients::{Accounts, Catalog, Orders};
use crate::config::Config;
use crate::store::Store;

/// The caller name this function logs on the functions it calls.
pub const CALLER: &str = "reviews";

#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub store: Store,
    pub catalog: Catalog,
    pub orders: Orders,
    pub accounts: Accounts,
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    pub fn from_config(config: &Config, sdk: &aws_config::SdkConfig) -> Self {
        let client = |function: &str| shop_internal::InternalClient::new(sdk, function, CALLER);
        Self::new(
            Store::new(aws_sdk_dynamodb::Client::new(sdk), &config.table),
            Catalog::new(client(&config.catalog_function)),
            Orders::new(client(&config.orders_function)),
            Accounts::new(client(&config.accounts_function)),
        )
    }

    pub fn new(store: Store, catalog: Catalog, orders: Orders, accounts: Accounts) -> Self {
        Self(Arc::new(Inner { store, catalog, orders, accounts }))
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Skyshop reviews", description = "Product reviews, helpful votes, moderation and rating summaries."),
    components(schemas(shop_core::problem::Problem, shop_core::problem::FieldError)),
    modifiers(&BearerAuth),
    tags((name = "reviews", description = "Product reviews (reading is public; writing needs a signed-in user; moderation is ADMIN-only)"))
)]
struct ApiDoc;

fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi()).merge(routes::router())
}

/// The function's router (it has no internal routes).
pub fn router(state: AppState) -> Router {
    // The routes alone: `ApiDoc` feeds only `openapi()` (see `shop_core::routes!`).
    let (router, _) = routes::router().split_for_parts();
    shop_core::http::finish(router.with_state(state))
}

/// The OpenAPI 3.1 document of the public routes.
/// Complete only with shop-core's `openapi` feature (the local runner and the tests turn it on).
pub fn openapi() -> utoipa::openapi::OpenApi {
    api().into_openapi()
}
