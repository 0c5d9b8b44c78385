//! JSON logs for CloudWatch. Each line carries the span fields of the request (request id,
//! trace id, function, route, method, user id); never passwords, tokens or other secrets.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::{LevelFilter, Targets};
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
/// what [`init`] installs, and what a test installs to read every line a run logs.
/// False: a subscriber was installed before.
pub fn init_with_writer<W>(spec: &str, writer: W) -> bool
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    use tracing_subscriber::util::SubscriberInitExt as _;
    subscriber(spec, writer).try_init().is_ok()
}

/// The JSON subscriber for `spec`: a plain level uses a `LevelFilter` (nothing to compile at cold
/// start), directives an `EnvFilter`; either way under [`wire_caps`].
fn subscriber<W>(spec: &str, writer: W) -> Box<dyn tracing::Subscriber + Send + Sync>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    use tracing_subscriber::layer::SubscriberExt as _;
    let builder = tracing_subscriber::fmt()
        .json()
        .with_current_span(true)
        .with_span_list(false)
        .flatten_event(true)
        .with_target(false)
        .with_writer(writer);
    match spec.trim().parse::<LevelFilter>() {
        Ok(level) => Box::new(builder.with_max_level(level).finish().with(wire_caps())),
        Err(_) => Box::new(builder.with_env_filter(EnvFilter::new(spec.to_lowercase())).finish().with(wire_caps())),
    }
}

/// The crates that log requests and responses on the wire at `trace` (headers with bearer
/// tokens and SigV4 signatures, bodies with secret values - Secrets Manager's answers, Stripe's).
const WIRE_CRATES: [&str; 12] = [
    "aws_smithy_runtime",
    "aws_smithy_runtime_api",
    "aws_smithy_http_client",
    "aws_smithy_http",
    "aws_sigv4",
    "hyper",
    "hyper_util",
    "h2",
    "reqwest",
    "rustls",
    "sqlx",
    "tower_http",
];

/// A second filter over whatever `spec` enables: the wire crates at `debug` at most, whatever the
/// level asked for (the template allows `LogLevel: TRACE`). A cap only: directives such as
/// `error,orders=info` leave them at `error` (written into the directives, the cap would enable
/// their `debug` lines).
fn wire_caps() -> Targets {
    Targets::new().with_default(LevelFilter::TRACE).with_targets(WIRE_CRATES.map(|name| (name, LevelFilter::DEBUG)))
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    /// Every line `spec` lets through of the same events at each level, from an app crate and
    /// from a wire crate.
    fn logged(spec: &str) -> String {
        let buffer = Arc::new(Mutex::new(Vec::<u8>::new()));
        let sink = Arc::clone(&buffer);
        let writer = move || Sink(Arc::clone(&sink));
        tracing::subscriber::with_default(subscriber(spec, writer), || {
            tracing::trace!(target: "orders::checkout", "app-trace");
            tracing::debug!(target: "orders::checkout", "app-debug");
            tracing::info!(target: "orders::checkout", "app-info");
            tracing::error!(target: "orders::checkout", "app-error");
            tracing::trace!(target: "aws_smithy_runtime::client", "wire-trace");
            tracing::debug!(target: "aws_smithy_runtime::client", "wire-debug");
            tracing::info!(target: "aws_smithy_runtime::client", "wire-info");
            tracing::error!(target: "aws_smithy_runtime::client", "wire-error");
        });
        String::from_utf8(buffer.lock().unwrap().clone()).unwrap()
    }

    struct Sink(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Sink {
        fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(data);
            Ok(data.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn has(lines: &str, message: &str) -> bool {
        lines.contains(&format!("\"message\":\"{message}\""))
    }

    #[test]
    fn wire_crates_never_log_below_debug() {
        let lines = logged("trace");
        assert!(has(&lines, "app-trace") && has(&lines, "wire-debug"), "{lines}");
        assert!(!has(&lines, "wire-trace"), "{lines}");
        let lines = logged("trace,orders=trace");
        assert!(has(&lines, "app-trace") && has(&lines, "wire-debug") && !has(&lines, "wire-trace"), "{lines}");
    }

    #[test]
    fn the_cap_never_raises_a_level() {
        // Directives: the wire crates stay at the default level asked for.
        let lines = logged("error,orders::checkout=info");
        assert!(has(&lines, "app-info") && !has(&lines, "app-debug"), "{lines}");
        assert!(has(&lines, "wire-error"), "{lines}");
        assert!(!has(&lines, "wire-debug") && !has(&lines, "wire-info"), "{lines}");
        // A plain level.
        let lines = logged("info");
        assert!(has(&lines, "wire-info") && !has(&lines, "wire-debug") && !has(&lines, "app-debug"), "{lines}");
    }
}
