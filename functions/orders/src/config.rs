//! Typed configuration, read once at start-up. A missing variable stops start-up with its name.

use shop_aws::config::{Lookup, MissingEnv, process_env, require};

pub use shop_aws::pg::Database;

/// Configuration of the orders functions (HTTP and events).
#[derive(Debug, Clone)]
pub struct Config {
    pub database: Database,
    /// `ORDER_EVENTS_TOPIC_ARN`: the SNS topic the outbox publishes to.
    pub topic_arn: String,
    /// `CART_FUNCTION`, `CATALOG_FUNCTION`, `INVENTORY_FUNCTION`, `ACCOUNTS_FUNCTION`.
    pub cart_function: String,
    pub catalog_function: String,
    pub inventory_function: String,
    pub accounts_function: String,
}

impl Config {
    pub fn from_env() -> Result<Self, MissingEnv> {
        Self::from_lookup(&process_env)
    }

    pub fn from_lookup(env: Lookup<'_>) -> Result<Self, MissingEnv> {
        let database = Database::from_lookup(env)?;
        Ok(Self {
            database,
            topic_arn: require(env, "ORDER_EVENTS_TOPIC_ARN")?,
            cart_function: require(env, "CART_FUNCTION")?,
            catalog_function: require(env, "CATALOG_FUNCTION")?,
            inventory_function: require(env, "INVENTORY_FUNCTION")?,
            accounts_function: require(env, "ACCOUNTS_FUNCTION")?,
        })
    }
}
