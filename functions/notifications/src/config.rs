//! Typed configuration, read once at start-up. A missing variable stops start-up with its name.

use shop_aws::config::{Lookup, MissingEnv, or_default, process_env, require};

/// Typed configuration, read once at start-up.
#[derive(Debug, Clone)]
pub struct Config {
    /// `NOTIFICATIONS_TABLE`: the claims table (pk `MSG#<id>`, TTL `expiresAt`).
    pub table: String,
    /// `MAIL_FROM`: the verified SES identity mail is sent from.
    pub mail_from: String,
    /// `FRONTEND_URL`: base of links in emails (default `http://localhost:3000`).
    pub frontend_url: String,
    /// `ACCOUNTS_FUNCTION`: the accounts function (`!Ref AccountsFunction`), asked for the
    /// recipients of emails whose event names none (low stock, the order emails).
    pub accounts_function: String,
    /// `SES_CONFIGURATION_SET`: the configuration set every email is sent with (its event
    /// destination reports bounces and complaints to mail-feedback). Unset or empty: none
    /// (the local runner, whose SES stand-in has no event destinations).
    pub configuration_set: Option<String>,
}

/// Configuration of the mail-feedback function.
#[derive(Debug, Clone)]
pub struct FeedbackConfig {
    /// `NOTIFICATIONS_TABLE`: where suppressions are written (`SUPPRESSED#<address>`).
    pub table: String,
}

impl FeedbackConfig {
    pub fn from_env() -> Result<Self, MissingEnv> {
        Self::from_lookup(&process_env)
    }

    pub fn from_lookup(env: Lookup<'_>) -> Result<Self, MissingEnv> {
        Ok(Self { table: require(env, "NOTIFICATIONS_TABLE")? })
    }
}

impl Config {
    pub fn from_env() -> Result<Self, MissingEnv> {
        Self::from_lookup(&process_env)
    }

    /// Reads the configuration from `env` (the local runner passes the template's resolved
    /// environment of this function).
    pub fn from_lookup(env: Lookup<'_>) -> Result<Self, MissingEnv> {
        Ok(Self {
            table: require(env, "NOTIFICATIONS_TABLE")?,
            mail_from: require(env, "MAIL_FROM")?,
            frontend_url: or_default(env, "FRONTEND_URL", "http://localhost:3000"),
            accounts_function: require(env, "ACCOUNTS_FUNCTION")?,
            configuration_set: env("SES_CONFIGURATION_SET").filter(|v| !v.trim().is_empty()),
        })
    }
}
