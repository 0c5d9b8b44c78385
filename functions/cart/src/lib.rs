//! Skyshop cart: guest and user carts in Redis with totals in integer cents, and admin-managed
//! coupons in DynamoDB with an internal redemption API for orders.
//!
//! Cart routes are public at API Gateway: a caller is a user when an optional bearer token
//! verifies (done here by [`shop_internal::optional_bearer`], exactly like the JWT authorizer),
//! else a guest identified by the secret `X-Cart-Token` of their cart. Line data comes from
//! catalog and stock from inventory through their internal routes.
//!
//! The orders function reads a user's cart and takes what an order bought out of it on the
//! internal routes (`/internal/carts/users/*`); [`events`] (the `cart-events` binary) consumes
//! order events: `OrderPlaced` does the same checkout as a backstop, `OrderCancelled` releases
//! the order's coupon redemption.

pub mod clients;
pub mod config;
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

use crate::config::Config;
use crate::store::CouponStore;
use crate::store::{CartStore, CartStoreError};

/// This function's name in internal calls.
pub const CALLER: &str = "cart";

#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub carts: CartStore,
    pub coupons: CouponStore,
    pub catalog: InternalClient,
    pub inventory: InternalClient,
    /// Verifies optional bearer tokens (accounts' JWKS).
    pub auth: Auth,
}

/// What the optional-bearer layer needs.
#[derive(Clone)]
pub struct Auth {
    pub accounts: InternalClient,
    pub issuer: String,
    pub audiences: Vec<String>,
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    /// Connects Redis and builds the clients.
    pub async fn from_config(config: &Config, sdk: &aws_config::SdkConfig) -> Result<Self, CartStoreError> {
        let carts = CartStore::connect(&config.redis_url, &config.key_prefix).await?;
        let coupons = CouponStore::new(aws_sdk_dynamodb::Client::new(sdk), &config.promotions_table);
        let auth = Auth {
            accounts: InternalClient::new(sdk, &config.accounts_function, CALLER),
            issuer: config.jwt_issuer.clone(),
            audiences: config.jwt_audiences.clone(),
        };
        Ok(Self::new(
            carts,
            coupons,
            InternalClient::new(sdk, &config.catalog_function, CALLER),
            InternalClient::new(sdk, &config.inventory_function, CALLER),
            auth,
        ))
    }

    pub fn new(carts: CartStore, coupons: CouponStore, catalog: InternalClient, inventory: InternalClient, auth: Auth) -> Self {
        Self(Arc::new(Inner { carts, coupons, catalog, inventory, auth }))
    }
}

impl AppState {
    /// What readiness checks (`GET /internal/health/ready`, asked by the health function):
    /// each dependency of this function.
    pub fn probes(&self) -> Vec<shop_core::health::Probe> {
        vec![self.carts.probe(), self.coupons.probe()]
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Skyshop cart", description = "Carts (guest carts by X-Cart-Token, user carts by bearer) and coupons."),
    components(schemas(shop_core::problem::Problem, shop_core::problem::FieldError)),
    modifiers(&BearerAuth),
    tags(
        (name = "cart", description = "The shopping cart (money in integer cents)"),
        (name = "coupons", description = "Coupons (admin)"),
    )
)]
struct ApiDoc;

/// The function's router: the cart routes (with optional bearer verification: public at the
/// edge), the coupon routes (claims from the JWT authorizer) and the internal redemption routes
/// (reachable only through an internal client).
pub fn router(state: AppState) -> Router {
    let (carts, _) = routes::cart_router().split_for_parts();
    let (coupons, _) = routes::coupon_router().split_for_parts();
    let verifier = shop_internal::TokenVerifier::new(state.auth.accounts.clone(), state.auth.issuer.clone(), state.auth.audiences.clone());
    let carts = carts.layer(shop_internal::optional_bearer(verifier));
    let internal = routes::internal::router().merge(shop_core::health::router(CALLER, AppState::probes));
    shop_core::http::finish(carts.merge(coupons).merge(internal).with_state(state))
}

/// The OpenAPI 3.1 document of the public cart and coupon routes.
/// Complete only with shop-core's `openapi` feature (the local runner and the tests turn it on).
pub fn openapi() -> utoipa::openapi::OpenApi {
    OpenApiRouter::<AppState>::with_openapi(ApiDoc::openapi()).merge(routes::cart_router()).merge(routes::coupon_router()).into_openapi()
}
