//! Typed configuration, read once at start-up. A missing variable stops start-up with its name.

use shop_aws::config::{Lookup, MissingEnv, or_default, process_env, require};

#[derive(Debug, Clone)]
pub struct Config {
    /// `CATALOG_TABLE`: the DynamoDB table of products, categories and their uniqueness guards.
    pub table: String,
    /// `IMAGES_BUCKET`: the private S3 bucket product images are uploaded to.
    pub images_bucket: String,
    /// `IMAGES_BASE_URL`: where uploaded images are served from (a CDN in front of the bucket).
    pub images_base_url: String,
    /// `REDIS_URL`: the read cache (ElastiCache / local Redis); empty disables caching.
    pub redis_url: Option<String>,
    /// `CACHE_PREFIX`: prefix of every cache key (default `catalog:`).
    pub cache_prefix: String,
    /// `SEARCH_ENGINE`, `OPENSEARCH_ENDPOINT`, `SEARCH_INDEX`, `SEARCH_INDEX_DIR`: the product
    /// index (see [`shop_search::connect`]).
    pub search: shop_search::EngineConfig,
}

impl Config {
    pub fn from_env() -> Result<Self, MissingEnv> {
        Self::from_lookup(&process_env)
    }

    pub fn from_lookup(env: Lookup<'_>) -> Result<Self, MissingEnv> {
        Ok(Self {
            table: require(env, "CATALOG_TABLE")?,
            images_bucket: require(env, "IMAGES_BUCKET")?,
            images_base_url: require(env, "IMAGES_BASE_URL")?.trim_end_matches('/').to_owned(),
            redis_url: env("REDIS_URL").filter(|v| !v.trim().is_empty()),
            cache_prefix: or_default(env, "CACHE_PREFIX", "catalog:"),
            search: shop_search::EngineConfig::from_lookup(env).map_err(|e| MissingEnv(format!("{} ({})", e.name, e.reason)))?,
        })
    }
}
