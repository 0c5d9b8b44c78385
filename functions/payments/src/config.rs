//! Typed configuration, read once at start-up. A missing variable stops start-up with its name.

use shop_aws::config::{Lookup, MissingEnv, process_env, require};

pub use shop_aws::pg::Database;

/// Where a secret value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Secret {
    /// A Secrets Manager secret (id or ARN), read at the first request that needs it.
    Manager(String),
    /// The value itself (tests only; never set in the template).
    Value(String),
}

impl Secret {
    fn from_lookup(env: Lookup<'_>, id_var: &str, value_var: &str) -> Result<Self, MissingEnv> {
        match env(value_var).filter(|v| !v.is_empty()) {
            Some(value) => Ok(Secret::Value(value)),
            None => Ok(Secret::Manager(require(env, id_var)?)),
        }
    }
}

/// Configuration of the payments functions (HTTP, webhook, events).
#[derive(Debug, Clone)]
pub struct Config {
    pub database: Database,
    /// `STRIPE_SECRET_KEY_SECRET_ID`: the secret holding Stripe's secret API key
    /// (`STRIPE_SECRET_KEY` instead, in tests).
    pub stripe_key: Secret,
    /// `STRIPE_WEBHOOK_SECRET_ID`: the secret holding the webhook endpoint's signing secret
    /// (`whsec_…`; `STRIPE_WEBHOOK_SECRET` instead, in tests).
    pub webhook_secret: Secret,
    /// `STRIPE_API_BASE`: localstripe's URL locally; unset in AWS (api.stripe.com).
    pub stripe_api_base: Option<String>,
    /// `PAYMENT_EVENTS_TOPIC_ARN`: where the outbox publishes refunds and disputes.
    pub topic_arn: String,
    /// `ORDERS_FUNCTION`: orders' internal routes (the order, confirm, refunded, flag).
    pub orders_function: String,
}

impl Config {
    pub fn from_env() -> Result<Self, MissingEnv> {
        Self::from_lookup(&process_env)
    }

    pub fn from_lookup(env: Lookup<'_>) -> Result<Self, MissingEnv> {
        Ok(Self {
            database: Database::from_lookup(env)?,
            stripe_key: Secret::from_lookup(env, "STRIPE_SECRET_KEY_SECRET_ID", "STRIPE_SECRET_KEY")?,
            webhook_secret: Secret::from_lookup(env, "STRIPE_WEBHOOK_SECRET_ID", "STRIPE_WEBHOOK_SECRET")?,
            stripe_api_base: env("STRIPE_API_BASE").filter(|v| !v.is_empty()),
            topic_arn: require(env, "PAYMENT_EVENTS_TOPIC_ARN")?,
            orders_function: require(env, "ORDERS_FUNCTION")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(vars: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned())
    }

    #[test]
    fn secrets_come_from_secrets_manager_unless_given() {
        let env = lookup(&[
            ("DATABASE_URL", "postgres://x/y"),
            ("STRIPE_SECRET_KEY_SECRET_ID", "arn:key"),
            ("STRIPE_WEBHOOK_SECRET_ID", "arn:hook"),
            ("PAYMENT_EVENTS_TOPIC_ARN", "arn:topic"),
            ("ORDERS_FUNCTION", "orders"),
        ]);
        let config = Config::from_lookup(&env).expect("complete");
        assert_eq!(config.stripe_key, Secret::Manager("arn:key".into()));
        assert_eq!(config.webhook_secret, Secret::Manager("arn:hook".into()));
        assert_eq!(config.stripe_api_base, None);
        let missing = Config::from_lookup(&lookup(&[("DATABASE_URL", "postgres://x/y")])).expect_err("no key");
        assert!(missing.to_string().contains("STRIPE_SECRET_KEY_SECRET_ID"), "{missing}");
    }
}
