//! Typed configuration, read once at start-up. A missing variable stops start-up with its name.

use shop_aws::config::{Lookup, MissingEnv, process_env, require};

#[derive(Debug, Clone)]
pub struct Config {
    /// `CATALOG_TABLE`: the DynamoDB table of products, categories and their uniqueness guards.
    pub table: String,
}

impl Config {
    pub fn from_env() -> Result<Self, MissingEnv> {
        Self::from_lookup(&process_env)
    }

    pub fn from_lookup(env: Lookup<'_>) -> Result<Self, MissingEnv> {
        Ok(Self { table: require(env, "CATALOG_TABLE")? })
    }
}
