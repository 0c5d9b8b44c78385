//! Skyshop health: the public health routes, deployed like every other function.
//!
//! - `GET /api/health` — liveness: the API answers. No dependency is called; cheap enough for
//!   any load balancer or uptime check.
//! - `GET /api/health/ready` — readiness: every function is asked for its own readiness
//!   (`GET /internal/health/ready` through [`shop_internal`], which checks that function's
//!   dependencies — its tables, queues, topics, database, cache, index, secrets) and the queues
//!   of the event-only functions are checked, all at once with short timeouts. 200 when all is
//!   up; 503 with `Retry-After` naming what is down (`catalog/redis`; `cart` when the function
//!   itself did not answer). A function that does not answer in time is down.

pub mod config;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::Method;
use serde::Serialize;
use shop_core::health::{Check, Report};
use shop_core::routes;
use shop_internal::{CallError, CallPolicy, InternalClient};
use utoipa::{OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;

use crate::config::Config;

/// The caller name this function logs on the functions it asks.
pub const CALLER: &str = "health";

/// How long one function may take to answer its readiness (its probes take at most
/// `shop_core::health::PROBE_TIMEOUT`); the whole fan-out takes no longer.
pub const FUNCTION_TIMEOUT: Duration = Duration::from_millis(2500);

/// One attempt, no circuit breaker: readiness reports what it sees now.
pub fn call_policy() -> CallPolicy {
    CallPolicy { attempt_timeout: FUNCTION_TIMEOUT, attempts: 1, breaker_threshold: u32::MAX, ..CallPolicy::default() }
}

#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    /// (service, client of its function).
    pub targets: Vec<(&'static str, InternalClient)>,
    pub sqs: aws_sdk_sqs::Client,
    /// The event-only functions' queues.
    pub event_queues: Vec<String>,
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    pub fn from_config(config: &Config, sdk: &aws_config::SdkConfig) -> Self {
        let targets = config
            .targets
            .iter()
            .map(|(service, function)| (*service, InternalClient::with_policy(sdk, function, CALLER, call_policy())))
            .collect();
        Self::new(targets, aws_sdk_sqs::Client::new(sdk), config.event_queues.clone())
    }

    pub fn new(targets: Vec<(&'static str, InternalClient)>, sqs: aws_sdk_sqs::Client, event_queues: Vec<String>) -> Self {
        Self(Arc::new(Inner { targets, sqs, event_queues }))
    }

    /// Every function's readiness and every event queue, at once.
    pub async fn readiness(&self) -> Report {
        let functions = futures::future::join_all(self.targets.iter().map(|(service, client)| ask(service, client)));
        let queues = futures::future::join_all(
            self.event_queues
                .iter()
                .map(|url| shop_core::health::run(shop_aws::health::sqs_queue(&self.sqs, url), shop_core::health::PROBE_TIMEOUT)),
        );
        let (mut checks, queues) = tokio::join!(functions, queues);
        checks.extend(queues);
        shop_core::health::report_down(CALLER, &checks);
        Report::new(CALLER, checks)
    }
}

/// One function's readiness as one check, with the function's own checks nested.
async fn ask(service: &str, client: &InternalClient) -> Check {
    let started = Instant::now();
    let answer = client.send(Method::GET, shop_core::health::READY_PATH, None).await;
    let elapsed = started.elapsed();
    match answer {
        Ok(reply) => match reply.json::<Report>() {
            Ok(report) => nested(service, elapsed, report),
            Err(e) => Check::down(service, elapsed, format!("unreadable readiness: {e}")),
        },
        // A function that is not ready answers 503 with its report.
        Err(CallError::Status { status, problem: Some(body) }) => match serde_json::from_value::<Report>(body) {
            Ok(report) => nested(service, elapsed, report),
            Err(_) => Check::down(service, elapsed, format!("answered {status}")),
        },
        Err(e) => Check::down(service, elapsed, e.to_string()),
    }
}

fn nested(service: &str, elapsed: Duration, report: Report) -> Check {
    let mut check = if report.is_ok() {
        Check::up(service, elapsed)
    } else {
        Check::down(service, elapsed, format!("down: {}", report.down.join(", ")))
    };
    check.checks = report.checks;
    check
}

/// Liveness.
#[derive(Debug, Serialize, ToSchema)]
pub struct Liveness {
    /// Always `ok`: the API answers.
    #[schema(example = "ok")]
    pub status: &'static str,
    #[schema(example = "skyshop")]
    pub service: &'static str,
    /// The build's version.
    #[schema(example = "0.1.0")]
    pub version: &'static str,
    /// The commit it was built from, when the build knew it (`SKYSHOP_COMMIT`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commit: Option<&'static str>,
}

/// `GET /api/health`: the API answers (no dependency is called).
#[utoipa::path(get, path = "/api/health", tag = "health",
    responses((status = 200, description = "The API answers.", body = Liveness)))]
pub async fn live() -> Response {
    let body = Liveness { status: "ok", service: "skyshop", version: env!("CARGO_PKG_VERSION"), commit: option_env!("SKYSHOP_COMMIT") };
    let mut response = axum::Json(body).into_response();
    response.headers_mut().insert(http::header::CACHE_CONTROL, http::HeaderValue::from_static("no-store"));
    response
}

/// `GET /api/health/ready`: every dependency of every function, checked now.
#[utoipa::path(get, path = "/api/health/ready", tag = "health",
    responses(
        (status = 200, description = "Every function and every dependency is up.", body = Report),
        (status = 503, description = "Something is down: `down` names it (`<function>/<dependency>`, or `<function>` \
            when the function did not answer within 2.5 s); `Retry-After` says when to ask again.", body = Report,
            headers(("Retry-After" = u32, description = "Seconds"))),
    ))]
pub async fn ready(State(state): State<AppState>) -> Report {
    state.readiness().await
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Skyshop health", description = "Liveness and readiness of the whole system."),
    components(schemas(shop_core::problem::Problem, shop_core::problem::FieldError, Report, Check, shop_core::health::Status)),
    tags((name = "health", description = "Liveness and readiness (public, no token)"))
)]
struct ApiDoc;

fn paths() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(live)).routes(routes!(ready))
}

fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi()).merge(paths())
}

/// The function's router.
pub fn router(state: AppState) -> Router {
    // The routes alone: `ApiDoc` feeds only `openapi()` (see `shop_core::routes!`).
    let (router, _) = paths().split_for_parts();
    shop_core::http::finish(router.with_state(state))
}

/// The OpenAPI 3.1 document of the health routes.
/// Complete only with shop-core's `openapi` feature (the local runner and the tests turn it on).
pub fn openapi() -> utoipa::openapi::OpenApi {
    api().into_openapi()
}
