//! Typed configuration, read once at start-up. A missing variable stops start-up with its name.

use shop_aws::config::{Lookup, MissingEnv, process_env, require};

/// Where the database is.
#[derive(Debug, Clone)]
pub enum Database {
    /// `DATABASE_URL`: a full connection URL (the local cloud, tests).
    Url(String),
    /// `DB_HOST`, `DB_PORT`, `DB_NAME`, `DB_USER`: RDS Proxy with IAM authentication — the
    /// password is a 15-minute token signed with the function's role, TLS verified.
    Iam { host: String, port: u16, name: String, user: String },
}

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
        let database = match env("DATABASE_URL").filter(|v| !v.is_empty()) {
            Some(url) => Database::Url(url),
            None => Database::Iam {
                host: require(env, "DB_HOST")?,
                port: env("DB_PORT").and_then(|p| p.parse().ok()).unwrap_or(5432),
                name: require(env, "DB_NAME")?,
                user: require(env, "DB_USER")?,
            },
        };
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
