//! Typed configuration, read once at start-up. A missing or invalid variable stops start-up
//! with its name.

use shop_aws::config::{Lookup, MissingEnv, or_default, process_env, require};
use shop_search::EngineConfig;

/// Typed configuration, read once at start-up.
#[derive(Debug, Clone)]
pub struct Config {
    /// `CATALOG_TABLE`: the table whose product items are indexed (read by reindex).
    pub table: String,
    /// The search engine (see [`shop_search::connect`] for its variables).
    pub engine: EngineConfig,
    /// `REDIS_URL`: the catalog's read cache, whose cached listings are invalidated after every
    /// index write (empty: no cache).
    pub redis_url: Option<String>,
    /// `CACHE_PREFIX`: the catalog's cache key prefix (default `catalog:`; must match the catalog's).
    pub cache_prefix: String,
}

/// A configuration variable is missing or invalid; start-up stops with its name.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(transparent)]
    Missing(#[from] MissingEnv),
    #[error(transparent)]
    Search(#[from] shop_search::ConfigError),
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(&process_env)
    }

    /// Reads the configuration from `env` (the local runner passes the template's resolved
    /// environment of this function).
    pub fn from_lookup(env: Lookup<'_>) -> Result<Self, ConfigError> {
        Ok(Self {
            table: require(env, "CATALOG_TABLE")?,
            engine: EngineConfig::from_lookup(env)?,
            redis_url: env("REDIS_URL").filter(|v| !v.trim().is_empty()),
            cache_prefix: or_default(env, "CACHE_PREFIX", "catalog:"),
        })
    }
}
