//! JSON logs for CloudWatch. Each line carries the span fields of the request (request id,
//! route, user id); never passwords, tokens or other secrets.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::LevelFilter;

/// Installs the JSON subscriber once. The level comes from `RUST_LOG`, else Lambda's
/// `AWS_LAMBDA_LOG_LEVEL` (set by the template's `LoggingConfig`), else `info`. A plain level
/// uses a `LevelFilter` (nothing to compile at cold start); directives use an `EnvFilter`.
pub fn init() {
    let spec = std::env::var("RUST_LOG").ok().or_else(|| std::env::var("AWS_LAMBDA_LOG_LEVEL").ok()).unwrap_or_else(|| "info".to_owned());
    let builder = tracing_subscriber::fmt().json().with_current_span(true).with_span_list(false).flatten_event(true).with_target(false);
    let _ = match spec.trim().parse::<LevelFilter>() {
        Ok(level) => builder.with_max_level(level).try_init(),
        Err(_) => builder.with_env_filter(EnvFilter::new(spec.to_lowercase())).try_init(),
    };
}
