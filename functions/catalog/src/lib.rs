//! Skyshop catalog: categories (a tree of any depth) and products, written by sellers (their
//! own products) and admins (everything), with SKU and slug uniqueness, soft delete, and reads
//! for the storefront.
//!
//! Listing and search (`GET /api/products`) are served from the search index, which the
//! `catalog-indexer` function keeps current from `CatalogTable`'s stream; this crate owns the
//! source of truth in `CatalogTable`.

pub mod config;
pub mod domain;
pub mod routes;
pub mod search;
pub mod store;

use std::sync::Arc;

use axum::Router;
use shop_core::http::BearerAuth;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::config::Config;
use crate::store::{CachedStore, Store};

#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    /// Products and categories: DynamoDB behind the read cache (handlers' one hop to storage).
    pub store: CachedStore,
    pub images: Images,
    /// The product index (read side; `catalog-indexer` writes it from the table's stream).
    pub search: Arc<dyn shop_search::SearchEngine>,
}

/// Where product images go.
#[derive(Debug, Clone)]
pub struct Images {
    pub s3: aws_sdk_s3::Client,
    pub bucket: String,
    pub base_url: String,
}

impl Images {
    /// An S3 client for `sdk`; path-style addressing when an endpoint override points at a
    /// local stand-in (moto).
    pub fn new(sdk: &aws_config::SdkConfig, bucket: &str, base_url: &str) -> Self {
        let local = std::env::var("AWS_ENDPOINT_URL_S3").is_ok() || std::env::var("AWS_ENDPOINT_URL").is_ok();
        let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(sdk).force_path_style(local).build());
        Self { s3, bucket: bucket.to_owned(), base_url: base_url.to_owned() }
    }

    /// Where the file under `key` is served.
    pub fn url(&self, key: &str) -> String {
        format!("{}/{key}", self.base_url)
    }

    /// A presigned `PUT` of `key` whose signature covers the content type and length.
    pub async fn presigned_put(
        &self,
        key: &str,
        content_type: &str,
        content_length: u64,
        ttl: std::time::Duration,
    ) -> Result<aws_sdk_s3::presigning::PresignedRequest, Box<dyn std::error::Error + Send + Sync>> {
        let config = aws_sdk_s3::presigning::PresigningConfig::expires_in(ttl)?;
        let request = self.s3.put_object().bucket(&self.bucket).key(key).content_type(content_type).content_length(content_length as i64);
        Ok(request.presigned(config).await?)
    }

    /// Deletes the file under `key`; a failure is logged and leaves the file orphaned.
    pub async fn delete(&self, key: &str) {
        if let Err(e) = self.s3.delete_object().bucket(&self.bucket).key(key).send().await {
            tracing::warn!(error = %shop_core::problem::ErrorChain(&e), "could not delete an image file; it stays orphaned");
        }
    }
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    /// Connects the state's clients; fails only if the search engine cannot be opened.
    pub async fn from_config(config: &Config, sdk: &aws_config::SdkConfig) -> Result<Self, shop_search::SearchError> {
        let cache = match &config.redis_url {
            Some(url) => shop_cache::Cache::connect(url, &config.cache_prefix).await,
            None => shop_cache::Cache::disabled(),
        };
        let images = Images::new(sdk, &config.images_bucket, &config.images_base_url);
        let search = shop_search::connect(&config.search, sdk).await?;
        Ok(Self::new(Store::new(aws_sdk_dynamodb::Client::new(sdk), &config.table), cache, images, search))
    }

    /// The state of `store` read through `cache`.
    pub fn new(store: Store, cache: shop_cache::Cache, images: Images, search: Arc<dyn shop_search::SearchEngine>) -> Self {
        Self(Arc::new(Inner { store: CachedStore::new(store, cache), images, search }))
    }
}

impl AppState {
    /// What readiness checks (`GET /internal/health/ready`, asked by the health function):
    /// each dependency of this function.
    pub fn probes(&self) -> Vec<shop_core::health::Probe> {
        let mut probes = vec![self.store.uncached().probe()];
        let cache = self.store.cache().clone();
        if cache.is_configured() {
            probes.push(shop_core::health::Probe::new("redis", async move { cache.ping().await }));
        }
        let search = self.search.clone();
        probes.push(shop_core::health::Probe::new("search", async move { search.count().await.map(|_| ()).map_err(|e| e.to_string()) }));
        probes
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Skyshop catalog", description = "Products and categories."),
    components(schemas(shop_core::problem::Problem, shop_core::problem::FieldError)),
    modifiers(&BearerAuth),
    tags(
        (name = "categories", description = "The category tree"),
        (name = "products", description = "Products (money in integer cents)"),
    )
)]
struct ApiDoc;

fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi()).merge(routes::router())
}

/// The function's router: the public routes and the internal ones (`/internal/*`, reachable
/// only through a `shop_internal::InternalClient`, not part of the OpenAPI document).
pub fn router(state: AppState) -> Router {
    // The routes alone: `ApiDoc` feeds only `openapi()` (see `shop_core::routes!`).
    let (router, _) = routes::router().split_for_parts();
    shop_core::http::finish(
        router.merge(routes::internal::router()).merge(shop_core::health::router("catalog", AppState::probes)).with_state(state),
    )
}

/// The OpenAPI 3.1 document of the catalog routes.
/// Complete only with shop-core's `openapi` feature (the local runner and the tests turn it on).
pub fn openapi() -> utoipa::openapi::OpenApi {
    api().into_openapi()
}
