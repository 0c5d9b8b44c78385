//! Typed configuration, read once at start-up. A missing variable stops start-up with its name.

use shop_aws::config::{Lookup, MissingEnv, process_env, require};

/// Configuration of the inventory function (HTTP routes).
#[derive(Debug, Clone)]
pub struct Config {
    /// `INVENTORY_TABLE`: stock, reservations and the audit log.
    pub table: String,
    /// `CATALOG_FUNCTION`: the catalog function (product owner and name, availability updates).
    pub catalog_function: String,
}

impl Config {
    pub fn from_env() -> Result<Self, MissingEnv> {
        Self::from_lookup(&process_env)
    }

    pub fn from_lookup(env: Lookup<'_>) -> Result<Self, MissingEnv> {
        Ok(Self { table: require(env, "INVENTORY_TABLE")?, catalog_function: require(env, "CATALOG_FUNCTION")? })
    }
}

/// Configuration of the inventory-events function (stream consumer and expiry schedule).
#[derive(Debug, Clone)]
pub struct EventsConfig {
    /// `INVENTORY_TABLE`, `CATALOG_FUNCTION`: as for [`Config`].
    pub base: Config,
    /// `NOTIFICATIONS_QUEUE_URL`: where `StockLow` is published.
    pub notifications_queue_url: String,
}

impl EventsConfig {
    pub fn from_env() -> Result<Self, MissingEnv> {
        Self::from_lookup(&process_env)
    }

    pub fn from_lookup(env: Lookup<'_>) -> Result<Self, MissingEnv> {
        Ok(Self { base: Config::from_lookup(env)?, notifications_queue_url: require(env, "NOTIFICATIONS_QUEUE_URL")? })
    }
}
