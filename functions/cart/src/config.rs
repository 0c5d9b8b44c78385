//! Typed configuration, read once at start-up. A missing variable stops start-up with its name.

use shop_aws::config::{Lookup, MissingEnv, or_default, process_env, require};

#[derive(Debug, Clone)]
pub struct Config {
    /// `REDIS_URL`: where carts live (`rediss://` for the ElastiCache Serverless cart cache, which
    /// never evicts; `redis://` locally). Required: carts have no other store.
    pub redis_url: String,
    /// `CART_PREFIX`: prefix of every cart key (default `cart:`; tests use one per test).
    pub key_prefix: String,
    /// `PROMOTIONS_TABLE`: the DynamoDB table of coupons, redemptions and per-user counters.
    pub promotions_table: String,
    /// `CATALOG_FUNCTION`: the catalog function (product data of cart lines).
    pub catalog_function: String,
    /// `INVENTORY_FUNCTION`: the inventory function (stock checks).
    pub inventory_function: String,
    /// `ACCOUNTS_FUNCTION`: the accounts function (the JWKS that verifies optional bearers).
    pub accounts_function: String,
    /// `JWT_ISSUER`: the `iss` access tokens must carry.
    pub jwt_issuer: String,
    /// `JWT_AUDIENCE`: accepted `aud` values, comma-separated.
    pub jwt_audiences: Vec<String>,
}

impl Config {
    pub fn from_env() -> Result<Self, MissingEnv> {
        Self::from_lookup(&process_env)
    }

    pub fn from_lookup(env: Lookup<'_>) -> Result<Self, MissingEnv> {
        Ok(Self {
            redis_url: require(env, "REDIS_URL")?,
            key_prefix: or_default(env, "CART_PREFIX", "cart:"),
            promotions_table: require(env, "PROMOTIONS_TABLE")?,
            catalog_function: require(env, "CATALOG_FUNCTION")?,
            inventory_function: require(env, "INVENTORY_FUNCTION")?,
            accounts_function: require(env, "ACCOUNTS_FUNCTION")?,
            jwt_issuer: require(env, "JWT_ISSUER")?,
            jwt_audiences: require(env, "JWT_AUDIENCE")?.split(',').map(|a| a.trim().to_owned()).filter(|a| !a.is_empty()).collect(),
        })
    }
}

/// Configuration of the cart-events function (the consumer of order events): only the stores.
#[derive(Debug, Clone)]
pub struct EventsConfig {
    /// `REDIS_URL`: as for [`Config`].
    pub redis_url: String,
    /// `CART_PREFIX`: as for [`Config`] (default `cart:`).
    pub key_prefix: String,
    /// `PROMOTIONS_TABLE`: as for [`Config`].
    pub promotions_table: String,
}

impl EventsConfig {
    pub fn from_env() -> Result<Self, MissingEnv> {
        Self::from_lookup(&process_env)
    }

    pub fn from_lookup(env: Lookup<'_>) -> Result<Self, MissingEnv> {
        Ok(Self {
            redis_url: require(env, "REDIS_URL")?,
            key_prefix: or_default(env, "CART_PREFIX", "cart:"),
            promotions_table: require(env, "PROMOTIONS_TABLE")?,
        })
    }
}

impl From<&Config> for EventsConfig {
    fn from(config: &Config) -> Self {
        Self {
            redis_url: config.redis_url.clone(),
            key_prefix: config.key_prefix.clone(),
            promotions_table: config.promotions_table.clone(),
        }
    }
}
