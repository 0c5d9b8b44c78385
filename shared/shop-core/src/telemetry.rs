//! JSON logs for CloudWatch. Each line carries the span fields of the request (request id,
//! trace id, function, route, method, user id); never passwords, tokens or other secrets.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::fmt::MakeWriter;

/// Installs the JSON subscriber once, and in Lambda emits the process's cold start
/// ([`crate::metrics::cold_start`], by `AWS_LAMBDA_FUNCTION_NAME`). The level comes from
/// `RUST_LOG`, else Lambda's `AWS_LAMBDA_LOG_LEVEL` (set by the template's `LoggingConfig`),
/// else `info`.
pub fn init() {
    let spec = std::env::var("RUST_LOG").ok().or_else(|| std::env::var("AWS_LAMBDA_LOG_LEVEL").ok()).unwrap_or_else(|| "info".to_owned());
    init_with_writer(&spec, std::io::stdout);
    if let Ok(function) = std::env::var("AWS_LAMBDA_FUNCTION_NAME") {
        crate::metrics::cold_start(&function);
    }
}

/// Installs the JSON subscriber once with the level (or directives) `spec`, writing to `writer`:
/// what [`init`] installs, and what a test installs to read every line a run logs. A plain
/// level uses a `LevelFilter` (nothing to compile at cold start); directives use an `EnvFilter`.
/// False: a subscriber was installed before.
pub fn init_with_writer<W>(spec: &str, writer: W) -> bool
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let builder = tracing_subscriber::fmt()
        .json()
        .with_current_span(true)
        .with_span_list(false)
        .flatten_event(true)
        .with_target(false)
        .with_writer(writer);
    match spec.trim().parse::<LevelFilter>() {
        Ok(LevelFilter::TRACE) => builder.with_env_filter(EnvFilter::new(format!("trace,{WIRE_CAPS}"))).try_init().is_ok(),
        Ok(level) => builder.with_max_level(level).try_init().is_ok(),
        Err(_) => builder.with_env_filter(EnvFilter::new(format!("{},{WIRE_CAPS}", spec.to_lowercase()))).try_init().is_ok(),
    }
}

/// The crates that log requests and responses on the wire at `trace` (headers with bearer
/// tokens and SigV4 signatures, bodies with secret values - Secrets Manager's answers, Stripe's):
/// capped at `debug` whatever the level asked for (the template allows `LogLevel: TRACE`).
const WIRE_CAPS: &str = "aws_smithy_runtime=debug,aws_smithy_runtime_api=debug,aws_smithy_http_client=debug,aws_smithy_http=debug,aws_sigv4=debug,hyper=debug,hyper_util=debug,h2=debug,reqwest=debug,rustls=debug,sqlx=debug,tower_http=debug";
