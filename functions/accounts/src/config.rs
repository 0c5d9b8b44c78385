//! Typed configuration, read once at start-up. A missing variable stops start-up with its name.

use shop_aws::config::{MissingEnv, require_env};

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
        Ok(Self {
            table: require_env("ACCOUNTS_TABLE")?,
            notifications_queue_url: require_env("NOTIFICATIONS_QUEUE_URL")?,
            signing_keys_secret_id: require_env("SIGNING_KEYS_SECRET_ID")?,
            jwt_issuer: require_env("JWT_ISSUER")?.trim_end_matches('/').to_owned(),
            jwt_audience: std::env::var("JWT_AUDIENCE").unwrap_or_else(|_| "skyshop".to_owned()),
            frontend_url: std::env::var("FRONTEND_URL").unwrap_or_else(|_| "http://localhost:3000".to_owned()),
        })
    }
}
