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

/// Reads a required environment variable, naming it when it is missing.
pub fn require_env(name: &str) -> Result<String, MissingEnv> {
    match std::env::var(name) {
        Ok(value) if !value.trim().is_empty() => Ok(value),
        _ => Err(MissingEnv(name.to_owned())),
    }
}

/// A required configuration variable is missing; start-up stops with its name.
#[derive(Debug, thiserror::Error)]
#[error("configuration variable {0} is not set")]
pub struct MissingEnv(pub String);
