//! SDK configuration from the environment.

use std::time::Duration;

use aws_config::{BehaviorVersion, SdkConfig, timeout::TimeoutConfig};

/// Loads the shared SDK configuration: region, credentials and endpoints from the environment,
/// with bounded timeouts so a stuck dependency fails the request instead of the Lambda.
pub async fn load() -> SdkConfig {
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(3))
        .operation_attempt_timeout(Duration::from_secs(5))
        .operation_timeout(Duration::from_secs(12))
        .build();
    aws_config::defaults(BehaviorVersion::latest()).timeout_config(timeouts).load().await
}

/// Where configuration comes from: the process environment in Lambda, the template's resolved
/// `Environment.Variables` of one function in the local runner (many functions, one process).
pub type Lookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The process environment as a [`Lookup`].
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// Reads a required variable, naming it when it is missing or empty.
pub fn require(lookup: Lookup<'_>, name: &str) -> Result<String, MissingEnv> {
    match lookup(name) {
        Some(value) if !value.trim().is_empty() => Ok(value),
        _ => Err(MissingEnv(name.to_owned())),
    }
}

/// Reads an optional variable; missing or empty gives `default`.
pub fn or_default(lookup: Lookup<'_>, name: &str, default: &str) -> String {
    lookup(name).filter(|v| !v.trim().is_empty()).unwrap_or_else(|| default.to_owned())
}

/// Reads a required environment variable, naming it when it is missing.
pub fn require_env(name: &str) -> Result<String, MissingEnv> {
    require(&process_env, name)
}

/// A required configuration variable is missing; start-up stops with its name.
#[derive(Debug, thiserror::Error)]
#[error("configuration variable {0} is not set")]
pub struct MissingEnv(pub String);
