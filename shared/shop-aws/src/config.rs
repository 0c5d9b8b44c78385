//! SDK configuration from the environment.

use std::collections::HashMap;
use std::time::Duration;

use aws_config::identity::IdentityCache;
use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig, timeout::TimeoutConfig};
use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_smithy_async::rt::sleep::default_async_sleep;
use aws_smithy_async::time::SharedTimeSource;
use aws_types::service_config::{LoadServiceConfig, ServiceConfigKey};

/// Attempts the SDK makes per AWS call (the first included) for transport failures: timeouts,
/// throttling, 5xx. This is the only layer that retries those; stores retry lost races only
/// (`shop_core::retry`), and internal Lambda invokes switch this off beneath their own retries.
pub const SDK_MAX_ATTEMPTS: u32 = 3;

/// Loads the shared SDK configuration: region, credentials and endpoints from the environment,
/// with bounded timeouts so a stuck dependency fails the request instead of the Lambda, and the
/// SDK's retries set explicitly (standard mode, [`SDK_MAX_ATTEMPTS`]), and every call traced as
/// an X-Ray subsegment ([`crate::xray`]).
///
/// Lambda gives every function its region (`AWS_REGION`) and its role's credentials
/// (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`) in the environment, so
/// this reads exactly those instead of running `aws_config`'s default chains (profile files,
/// SSO, web identity through STS, ECS, IMDS): those chains are code every zip would carry and
/// never run in Lambda. Endpoints may be overridden the SDK's way, `AWS_ENDPOINT_URL` or
/// `AWS_ENDPOINT_URL_<SERVICE>` (the tests' stand-ins); `sam local` passes credentials and
/// region the same way.
pub async fn load() -> SdkConfig {
    load_from(std::env::vars())
}

/// [`load`] from the given variables (name, value) instead of the process environment.
pub fn load_from(vars: impl IntoIterator<Item = (String, String)>) -> SdkConfig {
    let vars: HashMap<String, String> =
        vars.into_iter().filter(|(name, value)| name.starts_with("AWS_") && !value.trim().is_empty()).collect();
    let var = |name: &str| vars.get(name).cloned();
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(3))
        .operation_attempt_timeout(Duration::from_secs(5))
        .operation_timeout(Duration::from_secs(12))
        .build();
    let retries = RetryConfig::standard().with_max_attempts(SDK_MAX_ATTEMPTS);
    let region = var("AWS_REGION").or_else(|| var("AWS_DEFAULT_REGION")).map(Region::new);
    let credentials = match (var("AWS_ACCESS_KEY_ID"), var("AWS_SECRET_ACCESS_KEY")) {
        (Some(id), Some(secret)) => {
            Some(SharedCredentialsProvider::new(Credentials::new(id, secret, var("AWS_SESSION_TOKEN"), None, "environment")))
        }
        _ => None,
    };
    let endpoints = EnvEndpoints(vars.into_iter().filter(|(name, _)| name.starts_with(ENDPOINT_URL)).collect());
    let mut builder = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .timeout_config(timeouts)
        .retry_config(retries)
        .http_client(crate::xray::TracedHttpClient::https())
        .identity_cache(IdentityCache::lazy().build())
        .time_source(SharedTimeSource::default())
        .service_config(endpoints);
    if let Some(sleep) = default_async_sleep() {
        builder = builder.sleep_impl(sleep);
    }
    builder.set_region(region);
    builder.set_credentials_provider(credentials);
    builder.build()
}

/// The SDK's endpoint override variable: `AWS_ENDPOINT_URL_<service id>`, then `AWS_ENDPOINT_URL`.
const ENDPOINT_URL: &str = "AWS_ENDPOINT_URL";

/// Endpoint overrides read once from the environment; the SDK clients ask for them by their
/// service id (`AWS_ENDPOINT_URL_DYNAMODB` before `AWS_ENDPOINT_URL`), as `aws_config` does.
#[derive(Debug)]
struct EnvEndpoints(HashMap<String, String>);

impl LoadServiceConfig for EnvEndpoints {
    fn load_config(&self, key: ServiceConfigKey<'_>) -> Option<String> {
        let specific = format!("{}_{}", key.env(), key.service_id().to_uppercase().replace(' ', "_"));
        self.0.get(&specific).or_else(|| self.0.get(key.env())).cloned()
    }
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

#[cfg(test)]
mod tests {
    use aws_credential_types::provider::ProvideCredentials;

    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(n, v)| ((*n).to_owned(), (*v).to_owned())).collect()
    }

    fn endpoint(sdk: &SdkConfig, service_id: &str) -> Option<String> {
        let key = ServiceConfigKey::builder().service_id(service_id).env(ENDPOINT_URL).profile("endpoint_url").build();
        sdk.service_config().expect("service config").load_config(key.expect("key"))
    }

    #[tokio::test]
    async fn lambda_environment_gives_region_and_session_credentials() {
        let sdk = load_from(vars(&[
            ("AWS_REGION", "eu-west-1"),
            ("AWS_DEFAULT_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "ASIAEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
            ("AWS_SESSION_TOKEN", "token"),
            ("HOME", "/root"),
        ]));
        assert_eq!(sdk.region().map(|r| r.as_ref()), Some("eu-west-1"));
        let credentials = sdk.credentials_provider().expect("credentials").provide_credentials().await.expect("provided");
        assert_eq!(credentials.access_key_id(), "ASIAEXAMPLE");
        assert_eq!(credentials.secret_access_key(), "secret");
        assert_eq!(credentials.session_token(), Some("token"));
        assert!(sdk.sleep_impl().is_some(), "timeouts and retries need a sleep");
        assert!(sdk.identity_cache().is_some());
        assert_eq!(sdk.retry_config().map(|r| r.max_attempts()), Some(SDK_MAX_ATTEMPTS));
        assert_eq!(endpoint(&sdk, "DynamoDB"), None, "no override: the SDK's regional endpoint");
    }

    #[test]
    fn default_region_and_missing_credentials() {
        let sdk = load_from(vars(&[("AWS_DEFAULT_REGION", "us-east-2"), ("AWS_ACCESS_KEY_ID", "only-the-id")]));
        assert_eq!(sdk.region().map(|r| r.as_ref()), Some("us-east-2"));
        assert!(sdk.credentials_provider().is_none(), "half a key pair is no credentials");
        let sdk = load_from(vars(&[("AWS_REGION", " ")]));
        assert!(sdk.region().is_none(), "a blank region is no region");
    }

    #[test]
    fn service_endpoint_before_the_global_one() {
        let sdk = load_from(vars(&[
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:5000"),
            ("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:8000"),
            ("AWS_ENDPOINT_URL_SECRETS_MANAGER", "http://127.0.0.1:5001"),
        ]));
        assert_eq!(endpoint(&sdk, "DynamoDB").as_deref(), Some("http://127.0.0.1:8000"));
        assert_eq!(endpoint(&sdk, "Secrets Manager").as_deref(), Some("http://127.0.0.1:5001"));
        assert_eq!(endpoint(&sdk, "SQS").as_deref(), Some("http://127.0.0.1:5000"));
    }
}
