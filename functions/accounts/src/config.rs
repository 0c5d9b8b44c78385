//! Typed configuration, read once at start-up. A missing variable stops start-up with its name.

use shop_aws::config::{Lookup, MissingEnv, or_default, process_env, require};

#[derive(Debug, Clone)]
pub struct Config {
    /// `ACCOUNTS_TABLE`: the DynamoDB table of users, sessions, tokens and addresses.
    pub table: String,
    /// `NOTIFICATIONS_QUEUE_URL`: where welcome / reset / password-changed emails are requested.
    pub notifications_queue_url: String,
    /// `SIGNING_KEYS_SECRET_ID`: Secrets Manager secret holding the RS256 signing keys.
    pub signing_keys_secret_id: String,
    /// `JWT_ISSUER`: the `iss` of access tokens (the API's base URL).
    pub jwt_issuer: String,
    /// `JWT_AUDIENCE`: the `aud` of access tokens (default `skyshop`).
    pub jwt_audience: String,
    /// `FRONTEND_URL`: base of links in emails (default `http://localhost:3000`).
    pub frontend_url: String,
}

impl Config {
    pub fn from_env() -> Result<Self, MissingEnv> {
        Self::from_lookup(&process_env)
    }

    pub fn from_lookup(env: Lookup<'_>) -> Result<Self, MissingEnv> {
        Ok(Self {
            table: require(env, "ACCOUNTS_TABLE")?,
            notifications_queue_url: require(env, "NOTIFICATIONS_QUEUE_URL")?,
            signing_keys_secret_id: require(env, "SIGNING_KEYS_SECRET_ID")?,
            jwt_issuer: require(env, "JWT_ISSUER")?.trim_end_matches('/').to_owned(),
            jwt_audience: or_default(env, "JWT_AUDIENCE", "skyshop"),
            frontend_url: or_default(env, "FRONTEND_URL", "http://localhost:3000"),
        })
    }
}
