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

/// Where product images go: an S3 bucket, written by the browser through presigned `PUT`s and
/// cleaned up here. Two requests, both SigV4-signed by hand ([`shop_aws::signed`]) rather than
/// through the S3 SDK, the largest of the service crates.
#[derive(Debug, Clone)]
pub struct Images {
    /// `None` without system TLS roots (the clean-up then fails, logged).
    http: Option<shop_aws::signed::HttpsClient>,
    /// `None` when the SDK configuration has no region or credentials: uploads then fail (503)
    /// naming what is missing.
    signer: Option<shop_aws::signed::Signer>,
    /// An endpoint override (`AWS_ENDPOINT_URL_S3`, a local stand-in): path-style URLs on it.
    endpoint: Option<String>,
    pub bucket: String,
    pub base_url: String,
}

/// How long the clean-up of an image file may take.
const DELETE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

impl Images {
    /// Images in `bucket`, served under `base_url`, signed with `sdk`'s region and credentials;
    /// path-style addressing when an endpoint override points at a local stand-in (moto).
    pub fn new(sdk: &aws_config::SdkConfig, bucket: &str, base_url: &str) -> Self {
        let key =
            aws_types::service_config::ServiceConfigKey::builder().service_id("S3").env("AWS_ENDPOINT_URL").profile("endpoint_url").build();
        let endpoint = key.ok().and_then(|key| sdk.service_config()?.load_config(key)).map(|e| e.trim_end_matches('/').to_owned());
        let signer =
            shop_aws::signed::Signer::new(sdk, "s3").inspect_err(|e| tracing::warn!(error = %e, "image uploads are not available")).ok();
        let http = shop_aws::signed::https_client().inspect_err(|e| tracing::warn!(error = %e, "no system TLS roots")).ok();
        Self { http, signer, endpoint, bucket: bucket.to_owned(), base_url: base_url.to_owned() }
    }

    /// Where the file under `key` is served.
    pub fn url(&self, key: &str) -> String {
        format!("{}/{key}", self.base_url)
    }

    /// The S3 URL of `key`: path-style on an endpoint override, else virtual-hosted in the region.
    fn object_url(&self, signer: &shop_aws::signed::Signer, key: &str) -> String {
        let key = shop_aws::signed::encode_path(key);
        match &self.endpoint {
            Some(endpoint) => format!("{endpoint}/{}/{key}", self.bucket),
            None => format!("https://{}.s3.{}.amazonaws.com/{key}", self.bucket, signer.region()),
        }
    }

    fn signer(&self) -> Result<&shop_aws::signed::Signer, shop_aws::signed::SignError> {
        self.signer.as_ref().ok_or(shop_aws::signed::SignError::Missing("region or credentials"))
    }

    /// A presigned `PUT` of `key` whose signature covers the content type and length.
    pub async fn presigned_put(
        &self,
        key: &str,
        content_type: &str,
        content_length: u64,
        ttl: std::time::Duration,
    ) -> Result<String, shop_aws::signed::SignError> {
        let signer = self.signer()?;
        let length = content_length.to_string();
        let headers = [("content-type", content_type), ("content-length", length.as_str())];
        signer.presign(http::Method::PUT, &self.object_url(signer, key), &headers, ttl).await
    }

    /// Deletes the file under `key`; a failure is logged and leaves the file orphaned.
    pub async fn delete(&self, key: &str) {
        if let Err(e) = self.try_delete(key).await {
            tracing::warn!(error = %e, "could not delete an image file; it stays orphaned");
        }
    }

    async fn try_delete(&self, key: &str) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let signer = self.signer()?;
        let mut request =
            http::Request::builder().method(http::Method::DELETE).uri(self.object_url(signer, key)).body(http_body_util::Full::default())?;
        signer.sign(&mut request, &[]).await?;
        let http = self.http.as_ref().ok_or("no TLS roots")?;
        let traced = shop_aws::signed::Traced::Aws { operation: "DeleteObject" };
        let (status, _) = shop_aws::signed::exchange(http, request, DELETE_TIMEOUT, traced).await?;
        // 204 No Content; 404 when already gone.
        match status.as_u16() {
            200..=299 | 404 => Ok(()),
            status => Err(format!("S3 answered {status}").into()),
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
