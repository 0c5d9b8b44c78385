//! Typed configuration, read once at start-up. A missing variable stops start-up with its name.

use shop_aws::config::{Lookup, MissingEnv, process_env, require};

/// Configuration of the reviews function (HTTP routes) and of reviews-events (the table's stream).
#[derive(Debug, Clone)]
pub struct Config {
    /// `REVIEWS_TABLE`: reviews, their guards and votes, the per-product summaries.
    pub table: String,
    /// `CATALOG_FUNCTION`: the catalog (does the product exist and sell; where ratings go).
    pub catalog_function: String,
    /// `ORDERS_FUNCTION`: orders (has the reviewer received the product: a verified purchase).
    pub orders_function: String,
    /// `ACCOUNTS_FUNCTION`: accounts (the reviewer's name, shown as "Ada L.").
    pub accounts_function: String,
}

impl Config {
    pub fn from_env() -> Result<Self, MissingEnv> {
        Self::from_lookup(&process_env)
    }

    pub fn from_lookup(env: Lookup<'_>) -> Result<Self, MissingEnv> {
        Ok(Self {
            table: require(env, "REVIEWS_TABLE")?,
            catalog_function: require(env, "CATALOG_FUNCTION")?,
            orders_function: require(env, "ORDERS_FUNCTION")?,
            accounts_function: require(env, "ACCOUNTS_FUNCTION")?,
        })
    }
}

/// Configuration of the reviews-events function: the table's stream → the catalog.
#[derive(Debug, Clone)]
pub struct EventsConfig {
    /// `CATALOG_FUNCTION`: where the rating summaries go.
    pub catalog_function: String,
}

impl EventsConfig {
    pub fn from_env() -> Result<Self, MissingEnv> {
        Self::from_lookup(&process_env)
    }

    pub fn from_lookup(env: Lookup<'_>) -> Result<Self, MissingEnv> {
        Ok(Self { catalog_function: require(env, "CATALOG_FUNCTION")? })
    }
}
