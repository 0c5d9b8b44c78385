//! Readiness: every dependency of a function checked at once, each with a short timeout, and
//! one honest answer.
//!
//! A function lists its dependencies as [`Probe`]s (a name and a future that succeeds when the
//! dependency answers; the probes themselves live beside the clients: `shop_aws::health` for
//! DynamoDB, SQS, SNS and PostgreSQL, `shop_cache` for Redis, `shop_search` for the index) and
//! serves them with [`check`] on its internal readiness route ([`READY_PATH`]). [`check`] runs
//! every probe concurrently, each within its timeout, so the whole answer takes at most one
//! timeout; a dependency found down is logged by name and counted (`DependencyDown`, EMF).
//! [`Report`] answers 200 when every check is up, else 503 with `Retry-After` and the names of
//! what is down.

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use serde::{Deserialize, Serialize};

/// The internal readiness route every HTTP function serves (guarded by [`crate::http::finish`]).
pub const READY_PATH: &str = "/internal/health/ready";

/// One probe's default limit: well under the gateway's 10 s, with room for the fan-out above it.
pub const PROBE_TIMEOUT: Duration = Duration::from_millis(1500);

/// Seconds a client should wait before asking again after a 503.
pub const RETRY_AFTER_SECONDS: u32 = 5;

/// The longest error text a check reports.
pub const MAX_ERROR_CHARS: usize = 240;

/// What a probe resolves to: `Err` names why the dependency is down (no secrets, no data).
pub type ProbeFuture = Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'static>>;

/// One dependency to check.
pub struct Probe {
    /// What is checked, as the report names it (`dynamodb:<table>`, `redis`, `postgres`, …).
    pub name: String,
    pub future: ProbeFuture,
}

impl Probe {
    pub fn new(name: impl Into<String>, future: impl Future<Output = Result<(), String>> + Send + 'static) -> Self {
        Self { name: name.into(), future: Box::pin(future) }
    }
}

impl std::fmt::Debug for Probe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Probe").field("name", &self.name).finish()
    }
}

/// A check's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
// Its own component name: orders' and payments' `Status` are other enums in the merged document.
#[schema(as = HealthStatus)]
pub enum Status {
    Up,
    Down,
}

/// One dependency's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Check {
    pub name: String,
    pub status: Status,
    /// How long the probe took (milliseconds, one decimal).
    pub latency_ms: f64,
    /// Why it is down.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The checks behind this one (a function's own dependencies, in the fan-out).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schema(no_recursion)]
    pub checks: Vec<Check>,
}

impl Check {
    pub fn up(name: impl Into<String>, latency: Duration) -> Self {
        Self { name: name.into(), status: Status::Up, latency_ms: millis(latency), error: None, checks: Vec::new() }
    }

    /// A check that is down; `error` is cut to [`MAX_ERROR_CHARS`] (SDK errors can carry a
    /// whole raw response).
    pub fn down(name: impl Into<String>, latency: Duration, error: impl Into<String>) -> Self {
        let mut error: String = error.into();
        if let Some((cut, _)) = error.char_indices().nth(MAX_ERROR_CHARS) {
            error.truncate(cut);
            error.push('…');
        }
        Self { name: name.into(), status: Status::Down, latency_ms: millis(latency), error: Some(error), checks: Vec::new() }
    }

    pub fn is_up(&self) -> bool {
        self.status == Status::Up
    }
}

fn millis(d: Duration) -> f64 {
    (d.as_secs_f64() * 10_000.0).round() / 10.0
}

/// A readiness answer: `ok` when every check is up, else `unavailable` naming what is down.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// `ok` or `unavailable`.
    pub status: String,
    /// Who answers (`accounts`, `health`, …).
    pub service: String,
    /// The names of the checks that are down (nested ones as `<outer>/<inner>`).
    pub down: Vec<String>,
    pub checks: Vec<Check>,
}

impl Report {
    /// The report of `checks` as `service` answers it.
    pub fn new(service: impl Into<String>, checks: Vec<Check>) -> Self {
        let down = down_names(&checks);
        let status = if checks.iter().all(Check::is_up) { "ok" } else { "unavailable" }.to_owned();
        Self { status, service: service.into(), down, checks }
    }

    pub fn is_ok(&self) -> bool {
        self.status == "ok"
    }
}

/// Every check that is down, by path: a down check with nested checks names the inner ones that
/// are down (`catalog/redis`), or itself when none is (`catalog`, which did not answer).
fn down_names(checks: &[Check]) -> Vec<String> {
    let mut names = Vec::new();
    for check in checks.iter().filter(|c| !c.is_up()) {
        let inner = down_names(&check.checks);
        if inner.is_empty() {
            names.push(check.name.clone());
        } else {
            names.extend(inner.into_iter().map(|n| format!("{}/{n}", check.name)));
        }
    }
    names
}

/// 200 when every check is up; 503 with `Retry-After` otherwise. Never cached.
impl IntoResponse for Report {
    fn into_response(self) -> Response {
        let ok = self.is_ok();
        let status = if ok { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
        let mut response = (status, axum::Json(self)).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if !ok {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECONDS));
        }
        response
    }
}

/// The internal readiness route ([`READY_PATH`]) of a function whose state lists its
/// dependencies with `probes`: merge it into the function's router (before
/// [`crate::http::finish`], which guards it).
pub fn router<S>(service: &'static str, probes: fn(&S) -> Vec<Probe>) -> axum::Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    axum::Router::new().route(
        READY_PATH,
        axum::routing::get(move |axum::extract::State(state): axum::extract::State<S>| async move {
            check(service, probes(&state), PROBE_TIMEOUT).await
        }),
    )
}

/// Runs one probe within `timeout`.
pub async fn run(probe: Probe, timeout: Duration) -> Check {
    let started = Instant::now();
    match tokio::time::timeout(timeout, probe.future).await {
        Ok(Ok(())) => Check::up(probe.name, started.elapsed()),
        Ok(Err(error)) => Check::down(probe.name, started.elapsed(), error),
        Err(_) => Check::down(probe.name, started.elapsed(), format!("no answer within {} ms", timeout.as_millis())),
    }
}

/// Runs every probe of `service` concurrently, each within `timeout`; logs and counts
/// (`DependencyDown`) each dependency found down.
pub async fn check(service: &str, probes: Vec<Probe>, timeout: Duration) -> Report {
    let names: Vec<String> = probes.iter().map(|p| p.name.clone()).collect();
    let mut set = tokio::task::JoinSet::new();
    for (i, probe) in probes.into_iter().enumerate() {
        set.spawn(async move { (i, run(probe, timeout).await) });
    }
    let mut results: Vec<Option<Check>> = vec![None; names.len()];
    while let Some(joined) = set.join_next().await {
        if let Ok((i, check)) = joined {
            results[i] = Some(check);
        }
    }
    let checks: Vec<Check> = results
        .into_iter()
        .zip(names)
        .map(|(check, name)| check.unwrap_or_else(|| Check::down(name, Duration::ZERO, "the probe failed")))
        .collect();
    report_down(service, &checks);
    Report::new(service, checks)
}

/// Logs and counts each check that is down (the alarm on `DependencyDown` watches the count).
pub fn report_down(service: &str, checks: &[Check]) {
    for check in checks.iter().filter(|c| !c.is_up()) {
        tracing::warn!(
            service,
            dependency = %check.name,
            error = check.error.as_deref().unwrap_or_default(),
            latency_ms = check.latency_ms,
            "dependency down"
        );
        crate::metrics::count(service, "DependencyDown");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_probe_runs_at_once_within_its_timeout_and_the_report_names_what_is_down() {
        let started = Instant::now();
        let probes = vec![
            Probe::new("fast", async { Ok(()) }),
            Probe::new("slow", async {
                tokio::time::sleep(Duration::from_secs(30)).await;
                Ok(())
            }),
            Probe::new("refused", async { Err("connection refused".to_owned()) }),
            Probe::new("also-slow", async {
                tokio::time::sleep(Duration::from_secs(30)).await;
                Ok(())
            }),
        ];
        let report = check("test", probes, Duration::from_millis(200)).await;
        assert!(started.elapsed() < Duration::from_millis(1000), "concurrent: {:?}", started.elapsed());
        assert_eq!(report.status, "unavailable");
        assert_eq!(report.down, ["slow", "refused", "also-slow"]);
        let names: Vec<_> = report.checks.iter().map(|c| (c.name.as_str(), c.status)).collect();
        assert_eq!(names, [("fast", Status::Up), ("slow", Status::Down), ("refused", Status::Down), ("also-slow", Status::Down)]);
        assert_eq!(report.checks[1].error.as_deref(), Some("no answer within 200 ms"));
        assert_eq!(report.checks[2].error.as_deref(), Some("connection refused"));
    }

    #[tokio::test]
    async fn all_up_is_200_and_anything_down_is_503_with_retry_after() {
        let up = check("test", vec![Probe::new("a", async { Ok(()) })], PROBE_TIMEOUT).await;
        assert!(up.is_ok());
        let response = up.into_response();
        assert_eq!(response.status(), StatusCode::OK);
        assert!(response.headers().get(header::RETRY_AFTER).is_none());

        let down = check("test", vec![Probe::new("a", async { Err("no".into()) })], PROBE_TIMEOUT).await;
        let response = down.into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[header::RETRY_AFTER], "5");
        assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
    }

    #[test]
    fn nested_checks_name_the_inner_dependency_that_is_down() {
        let mut catalog = Check::down("catalog", Duration::ZERO, "unavailable");
        catalog.checks = vec![Check::up("dynamodb:t", Duration::ZERO), Check::down("redis", Duration::ZERO, "refused")];
        let silent = Check::down("cart", Duration::ZERO, "no answer");
        let report = Report::new("health", vec![Check::up("accounts", Duration::ZERO), catalog, silent]);
        assert_eq!(report.down, ["catalog/redis", "cart"]);
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["checks"][0], serde_json::json!({"name": "accounts", "status": "up", "latencyMs": 0.0}));
        assert_eq!(json["checks"][1]["checks"][1]["status"], "down");
        assert_eq!(serde_json::from_value::<Report>(json).unwrap(), report);
    }

    #[test]
    fn long_errors_are_cut() {
        let check = Check::down("x", Duration::ZERO, "é".repeat(1000));
        assert_eq!(check.error.unwrap().chars().count(), MAX_ERROR_CHARS + 1);
    }

    #[test]
    fn an_empty_report_is_ok() {
        assert!(Report::new("x", vec![]).is_ok());
    }
}
