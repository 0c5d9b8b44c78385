//! SDK configuration from the environment.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, SdkConfig, timeout::TimeoutConfig};

/// Attempts the SDK makes per AWS call (the first included) for transport failures: timeouts,
/// throttling, 5xx. This is the only layer that retries those; stores retry lost races only
/// (`shop_core::retry`), and internal Lambda invokes switch this off beneath their own retries.
pub const SDK_MAX_ATTEMPTS: u32 = 3;

/// Loads the shared SDK configuration: region, credentials and endpoints from the environment,
/// with bounded timeouts so a stuck dependency fails the request instead of the Lambda, and the
/// SDK's retries set explicitly (standard mode, [`SDK_MAX_ATTEMPTS`]), and every call traced as
/// an X-Ray subsegment ([`crate::xray`]).
pub async fn load() -> SdkConfig {
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(3))
        .operation_attempt_timeout(Duration::from_secs(5))
        .operation_timeout(Duration::from_secs(12))
        .build();
    let retries = RetryConfig::standard().with_max_attempts(SDK_MAX_ATTEMPTS);
    aws_config::defaults(BehaviorVersion::latest())
        .timeout_config(timeouts)
        .retry_config(retries)
        .http_client(crate::xray::TracedHttpClient::https())
        .load()
        .await
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

/// A required configuration variable is missing; start-up stops with its name.
#[derive(Debug, thiserror::Error)]
#[error("configuration variable {0} is not set")]
pub struct MissingEnv(pub String);

/// A value built from configuration and the SDK on first use: Lambda init reads configuration
/// only, and the first invocation connects (a failure fails that invocation, and the next one
/// tries again). `with_sdk` gives the SDK configuration instead of loading it from the
/// environment (the local runner's stand-in endpoints). Cheap to clone: clones share the value.
#[derive(Debug, Clone)]
pub struct Lazy<C, T> {
    config: C,
    sdk: Option<SdkConfig>,
    cell: std::sync::Arc<tokio::sync::OnceCell<T>>,
}

impl<C, T> Lazy<C, T> {
    /// Loads the SDK configuration from the environment ([`load`]) on first use.
    pub fn new(config: C) -> Self {
        Self { config, sdk: None, cell: Default::default() }
    }

    /// Uses `sdk` on first use.
    pub fn with_sdk(config: C, sdk: SdkConfig) -> Self {
        Self { config, sdk: Some(sdk), cell: Default::default() }
    }

    /// The value, built by `build(config, sdk)` if this is the first use (or every earlier build failed).
    pub async fn get<'a, E, F, Fut>(&'a self, build: F) -> Result<&'a T, E>
    where
        F: FnOnce(&'a C, SdkConfig) -> Fut,
        Fut: std::future::Future<Output = Result<T, E>>,
    {
        self.cell
            .get_or_try_init(|| async {
                let sdk = match &self.sdk {
                    Some(sdk) => sdk.clone(),
                    None => load().await,
                };
                build(&self.config, sdk).await
            })
            .await
    }
}
