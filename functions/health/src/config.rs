//! Typed configuration, read once at start-up. A missing variable stops start-up with its name.

use shop_aws::config::{Lookup, MissingEnv, process_env, require};

/// The HTTP functions whose readiness the health function asks, by service name and the
/// variable holding the function's name.
pub const TARGETS: &[(&str, &str)] = &[
    ("accounts", "ACCOUNTS_FUNCTION"),
    ("catalog", "CATALOG_FUNCTION"),
    ("inventory", "INVENTORY_FUNCTION"),
    ("cart", "CART_FUNCTION"),
    ("orders", "ORDERS_FUNCTION"),
    ("payments", "PAYMENTS_FUNCTION"),
];

/// Configuration of the health function.
#[derive(Debug, Clone)]
pub struct Config {
    /// `ACCOUNTS_FUNCTION`, `CATALOG_FUNCTION`, `INVENTORY_FUNCTION`, `CART_FUNCTION`,
    /// `ORDERS_FUNCTION`, `PAYMENTS_FUNCTION`: (service, function name) of every function asked.
    pub targets: Vec<(&'static str, String)>,
    /// `EVENT_QUEUE_URLS`: the queues of the event-only functions (comma-separated; they serve
    /// no route to ask, so their queue is checked instead). Empty: none.
    pub event_queues: Vec<String>,
}

impl Config {
    pub fn from_env() -> Result<Self, MissingEnv> {
        Self::from_lookup(&process_env)
    }

    pub fn from_lookup(env: Lookup<'_>) -> Result<Self, MissingEnv> {
        let targets = TARGETS.iter().map(|(service, var)| Ok((*service, require(env, var)?))).collect::<Result<_, MissingEnv>>()?;
        let event_queues =
            env("EVENT_QUEUE_URLS").unwrap_or_default().split(',').map(str::trim).filter(|q| !q.is_empty()).map(str::to_owned).collect();
        Ok(Self { targets, event_queues })
    }
}
