//! What every function router gets: a problem+json fallback for unknown routes and methods,
//! panic safety, the per-request span with latency, and the guard of internal routes.
//!
//! **Internal routes** (what one function asks another, through `shop_internal`'s client) live
//! under [`INTERNAL_PREFIX`] and are guarded here, in [`finish`], for every function at once: a
//! request under that prefix that did not come through an internal client gets the same 404 as
//! a path no route serves. A function cannot register an unguarded internal route, because
//! the guard looks at the path, not at how the route was added.

use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use lambda_http::request::RequestContext;
use tracing::Instrument;

use crate::problem::ApiError;

/// The `code` of the 404 for a path no handler serves. The route-parity test looks for it.
pub const ROUTE_NOT_FOUND: &str = "route_not_found";

/// Every internal route's path starts with this.
pub const INTERNAL_PREFIX: &str = "/internal/";

/// The `requestContext.apiId` of internal calls. API Gateway always puts its own API id there,
/// so a request from the public API can never carry it.
pub const INTERNAL_API_ID: &str = "internal";

/// Adds the fallback, the internal-route guard, the edge check, the request span, the request
/// deadline and panic safety to a function's router. Every function's router goes through this
/// exactly once.
pub fn finish(router: Router) -> Router {
    finish_with(router, Edge::from_env())
}

/// [`finish`] with an explicit edge configuration (tests).
pub fn finish_with(router: Router, edge: Edge) -> Router {
    finish_with_deadline(router, edge, request_deadline())
}

/// The gateway gives up on an integration after 10 s (`TimeoutInMillis` of every route) and
/// Lambda stops the function at its `Timeout` (10 s). A request still working at this deadline
/// is answered 503 `deadline_exceeded` with `Retry-After` — problem+json the client can act on,
/// inside the gateway's timeout — whatever it was waiting for (a frozen dependency behind the
/// SDK's 5 s attempts, an internal call's retries). What it had started is what a Lambda timeout
/// would leave: every write path is already built to survive that (transactions, idempotency
/// keys, reservations that expire).
pub const REQUEST_DEADLINE: std::time::Duration = std::time::Duration::from_millis(8_500);

/// [`REQUEST_DEADLINE`], or `REQUEST_DEADLINE_MS` from the environment.
pub fn request_deadline() -> std::time::Duration {
    std::env::var("REQUEST_DEADLINE_MS")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|ms| *ms > 0)
        .map_or(REQUEST_DEADLINE, std::time::Duration::from_millis)
}

/// [`finish_with`] with an explicit request deadline (tests).
pub fn finish_with_deadline(router: Router, edge: Edge, deadline: std::time::Duration) -> Router {
    router
        .fallback(route_not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(on_panic))
        .layer(axum::middleware::from_fn_with_state(deadline, deadline_guard))
        .layer(axum::middleware::from_fn(internal_guard))
        .layer(axum::middleware::from_fn_with_state(std::sync::Arc::new(edge), edge_guard))
        .layer(axum::middleware::from_fn(request_span))
}

/// The header the edge (CloudFront) adds to every request it forwards to the API.
pub const ORIGIN_VERIFY_HEADER: &str = "x-origin-verify";

/// The viewer's address as the edge saw it (`ip:port`), trusted only on requests that passed
/// the edge check.
pub const VIEWER_ADDRESS_HEADER: &str = "cloudfront-viewer-address";

/// Marks a request that came through the edge: its `X-Origin-Verify` matched.
#[derive(Debug, Clone, Copy)]
pub struct ThroughEdge;

/// How a function knows a request came through the edge (CloudFront + WAF) rather than to the
/// HTTP API's own endpoint directly (which API Gateway cannot close for an HTTP API).
#[derive(Clone, Default)]
pub struct Edge {
    /// Accepted `X-Origin-Verify` values (two during a rotation). Empty: no check (the local
    /// runner, tests, `sam local`).
    secrets: Vec<crate::secret::Secret<String>>,
}

impl std::fmt::Debug for Edge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Edge").field("secrets", &self.secrets.len()).finish()
    }
}

impl Edge {
    /// `ORIGIN_VERIFY` (comma-separated values; unset or empty: no check).
    pub fn from_env() -> Self {
        Self::with_secrets(std::env::var("ORIGIN_VERIFY").unwrap_or_default().split(',').map(str::to_owned))
    }

    pub fn with_secrets(values: impl IntoIterator<Item = String>) -> Self {
        Self {
            secrets: values.into_iter().map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()).map(crate::secret::Secret::new).collect(),
        }
    }

    fn admits(&self, given: &[u8]) -> bool {
        self.secrets.iter().any(|s| constant_time_eq(s.expose().as_bytes(), given))
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Refuses (403) a request that did not come through the edge when the function is configured
/// with the edge's secret; internal calls are exempt. A request that passes is marked
/// [`ThroughEdge`], so the viewer address the edge forwards can be trusted.
async fn edge_guard(axum::extract::State(edge): axum::extract::State<std::sync::Arc<Edge>>, mut request: Request, next: Next) -> Response {
    if edge.secrets.is_empty() || is_internal(&request) {
        return next.run(request).await;
    }
    let given = request.headers().get(ORIGIN_VERIFY_HEADER).map(|v| v.as_bytes().to_vec()).unwrap_or_default();
    if !edge.admits(&given) {
        tracing::warn!("request without the edge's origin header refused");
        return ApiError::forbidden("Requests must come through the shop's API address.").into_response();
    }
    request.extensions_mut().insert(ThroughEdge);
    next.run(request).await
}

async fn route_not_found() -> ApiError {
    not_found_route()
}

fn not_found_route() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, ROUTE_NOT_FOUND, "No route matches this path.")
}

/// Did this request come through an internal client (`requestContext.apiId == "internal"`)?
pub fn is_internal<B>(request: &http::Request<B>) -> bool {
    matches!(
        request.extensions().get::<RequestContext>(),
        Some(RequestContext::ApiGatewayV2(ctx)) if ctx.apiid.as_deref() == Some(INTERNAL_API_ID)
    )
}

/// Refuses paths under [`INTERNAL_PREFIX`] unless the request is internal. Routing matches the
/// raw path case-sensitively and without decoding, so a path that reaches an internal route
/// starts with the prefix literally.
async fn internal_guard(request: Request, next: Next) -> Response {
    if request.uri().path().starts_with(INTERNAL_PREFIX) && !is_internal(&request) {
        tracing::warn!("internal route called from outside");
        return not_found_route().into_response();
    }
    next.run(request).await
}

/// Answers 503 `deadline_exceeded` when the handler is still working at the deadline.
async fn deadline_guard(
    axum::extract::State(deadline): axum::extract::State<std::time::Duration>,
    request: Request,
    next: Next,
) -> Response {
    match tokio::time::timeout(deadline, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            tracing::error!(deadline_ms = deadline.as_millis() as u64, "request deadline exceeded");
            crate::metrics::count(&function_name(), "DeadlineExceeded");
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "deadline_exceeded", "The request could not be completed in time; retry later.")
                .with_header(http::header::RETRY_AFTER, http::HeaderValue::from_static("2"))
                .into_response()
        }
    }
}

/// This Lambda's function name (`AWS_LAMBDA_FUNCTION_NAME`), or `local`.
fn function_name() -> String {
    std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|_| "local".to_owned())
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "This route does not accept that method.")
}

fn on_panic(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("handler panicked");
    ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal_error", "An internal error occurred.").into_response()
}

/// The `route` of a request no route matched (its raw path, which may hold ids, is not logged).
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// One span per request: method, route template (never the raw path or query), request id,
/// X-Ray trace id, function name, user id (recorded by the auth extractor), then one log line
/// `request` with status and latency (level `error` from 500 on). The template's metric
/// filters count that line's `status` per function (requests and 5xx).
async fn request_span(request: Request, next: Next) -> Response {
    let route = request.extensions().get::<MatchedPath>().map(|p| p.as_str().to_owned()).unwrap_or_else(|| UNMATCHED_ROUTE.to_owned());
    let lambda = request.extensions().get::<lambda_http::Context>();
    let request_id = match request.extensions().get::<RequestContext>() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.request_id.clone(),
        _ => None,
    }
    .filter(|id| !id.is_empty())
    .or_else(|| lambda.map(|c| c.request_id.clone()))
    .unwrap_or_default();
    // The X-Ray context: the work below runs in it (`crate::trace::scope`), and the log line
    // carries its trace id.
    let trace = trace_context(&request);
    let trace_id = trace.as_ref().map(|t| t.root.clone()).unwrap_or_default();
    let function = lambda
        .map(|c| c.env_config.function_name.clone())
        .filter(|f| !f.is_empty())
        .or_else(|| std::env::var("AWS_LAMBDA_FUNCTION_NAME").ok())
        .unwrap_or_default();
    let span = tracing::info_span!(
        "request",
        method = %request.method(),
        route = %route,
        request_id = %request_id,
        trace_id = %trace_id,
        function = %function,
        user_id = tracing::field::Empty,
    );
    let started = Instant::now();
    async move {
        let response = crate::trace::scope(trace, next.run(request)).await;
        let status = response.status().as_u16();
        let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
        if status >= 500 {
            tracing::error!(status, latency_ms, "request");
        } else {
            tracing::info!(status, latency_ms, "request");
        }
        response
    }
    .instrument(span)
    .await
}

/// The X-Ray context of a request: Lambda's (the invocation's context), else the
/// `X-Amzn-Trace-Id` header, else `_X_AMZN_TRACE_ID`. Only a well-formed header is taken (a
/// client's header is never logged verbatim).
fn trace_context(request: &Request) -> Option<crate::trace::TraceHeader> {
    request
        .extensions()
        .get::<lambda_http::Context>()
        .and_then(|c| c.xray_trace_id.as_deref())
        .and_then(crate::trace::TraceHeader::parse)
        .or_else(|| request.headers().get(crate::trace::HEADER)?.to_str().ok().and_then(crate::trace::TraceHeader::parse))
        .or_else(crate::trace::current)
}

/// Runs a function's router on Lambda: `lambda_http::run`, with every API Gateway event made
/// safe first ([`sanitize_event`]) so that a request is routed by the path the gateway matched
/// and never by client headers.
pub async fn run<S>(service: S) -> Result<(), lambda_http::Error>
where
    S: tower::Service<lambda_http::Request, Response = Response, Error = std::convert::Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    let adapter = lambda_http::Adapter::from(service);
    lambda_http::lambda_runtime::run(lambda_http::service_fn(move |event: lambda_http::LambdaEvent<serde_json::Value>| {
        let mut adapter = adapter.clone();
        async move {
            let lambda_http::LambdaEvent { mut payload, context } = event;
            sanitize_event(&mut payload);
            let request: lambda_http::request::LambdaRequest = serde_json::from_value(payload)?;
            let response = tower::Service::call(&mut adapter, lambda_http::LambdaEvent::new(request, context)).await;
            Ok::<_, lambda_http::Error>(match response {
                Ok(response) => response,
                Err(never) => match never {},
            })
        }
    }))
    .await
}

/// An API Gateway (payload 2.0) event as the request the router sees, made safe first with
/// [`sanitize_event`]. The local runner, internal calls and tests convert events with this, so
/// every path into a router is the same.
pub fn request_from_event(mut event: serde_json::Value) -> Result<lambda_http::Request, serde_json::Error> {
    sanitize_event(&mut event);
    serde_json::from_value::<lambda_http::request::LambdaRequest>(event).map(Into::into)
}

/// Makes an API Gateway v2 event safe to convert: `lambda_http` rebuilds the request URI as
/// `{x-forwarded-proto}://{host}{rawPath}?{rawQueryString}` and panics on a URI that does not
/// parse, so a client's `X-Forwarded-Proto: https://x/api/auth/login#` would route a request to
/// another handler and `X-Forwarded-Proto: a b` would crash the sandbox. Here the scheme is
/// always `https` (API Gateway and Lambda invoke are HTTPS only), the host is the
/// `requestContext.domainName` the gateway answered on (a client `Host` is dropped), and the
/// path and query are percent-encoded where they hold bytes a URI cannot.
pub fn sanitize_event(event: &mut serde_json::Value) {
    use serde_json::Value;
    let Some(object) = event.as_object_mut() else { return };
    if !object.contains_key("rawPath") && !object.contains_key("requestContext") {
        return;
    }
    let domain = object
        .get("requestContext")
        .and_then(|c| c.get("domainName"))
        .and_then(Value::as_str)
        .filter(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':')))
        .map(str::to_owned);
    let headers = object.entry("headers").or_insert_with(|| Value::Object(Default::default()));
    if let Some(headers) = headers.as_object_mut() {
        headers.retain(|name, _| !name.eq_ignore_ascii_case("x-forwarded-proto") && !name.eq_ignore_ascii_case("host"));
        headers.insert("x-forwarded-proto".into(), Value::String("https".into()));
        if let Some(domain) = domain {
            headers.insert("host".into(), Value::String(domain));
        }
    }
    let path = object.get("rawPath").and_then(Value::as_str).unwrap_or("/");
    let path = if path.starts_with('/') { path.to_owned() } else { format!("/{path}") };
    object.insert("rawPath".into(), Value::String(encode_invalid(&path, false)));
    if let Some(query) = object.get("rawQueryString").and_then(Value::as_str) {
        let query = encode_invalid(query, true);
        object.insert("rawQueryString".into(), Value::String(query));
    }
}

/// Percent-encodes every byte that may not appear in a URI path (or query): controls, space,
/// non-ASCII, `"`, `<`, `>`, `\`, `^`, `` ` ``, `{`, `|`, `}`, and `#` (and `?` in a path).
fn encode_invalid(text: &str, query: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        let keep = b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'-' | b'.'
                    | b'_'
                    | b'~'
                    | b'!'
                    | b'$'
                    | b'&'
                    | b'\''
                    | b'('
                    | b')'
                    | b'*'
                    | b'+'
                    | b','
                    | b';'
                    | b'='
                    | b':'
                    | b'@'
                    | b'/'
                    | b'%'
            )
            || (query && b == b'?');
        if keep {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A router built on the first request instead of at Lambda init.
///
/// Init work (SDK set-up, reading secrets) moves out of the cold start's critical path; a
/// failure answers 503 and is retried on the next request instead of crashing the sandbox.
pub struct LazyRouter<F> {
    init: std::sync::Arc<F>,
    cell: std::sync::Arc<tokio::sync::OnceCell<Router>>,
}

impl<F> Clone for LazyRouter<F> {
    fn clone(&self) -> Self {
        Self { init: self.init.clone(), cell: self.cell.clone() }
    }
}

impl<F, Fut, E> LazyRouter<F>
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<Router, E>> + Send,
    E: std::error::Error + 'static,
{
    pub fn new(init: F) -> Self {
        Self { init: std::sync::Arc::new(init), cell: std::sync::Arc::new(tokio::sync::OnceCell::new()) }
    }
}

impl<F, Fut, E, B> tower::Service<http::Request<B>> for LazyRouter<F>
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<Router, E>> + Send,
    E: std::error::Error + 'static,
    B: http_body::Body<Data = axum::body::Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    type Response = Response;
    type Error = std::convert::Infallible;
    type Future = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Response, std::convert::Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let this = self.clone();
        Box::pin(async move {
            let router = match this.cell.get_or_try_init(|| (this.init)()).await {
                Ok(router) => router.clone(),
                Err(err) => return Ok(ApiError::unavailable(&err).into_response()),
            };
            tower::ServiceExt::oneshot(router, request.map(axum::body::Body::new)).await
        })
    }
}

/// OpenAPI modifier declaring the `bearer` security scheme (JWT access tokens) that protected
/// routes reference with `security(("bearer" = [...]))`.
pub struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build()),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::get;
    use lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequestContext;
    use tower::ServiceExt;

    fn request(path: &str, api_id: Option<&str>) -> Request {
        let mut request = http::Request::builder().uri(path).body(axum::body::Body::empty()).unwrap_or_default();
        let mut ctx = ApiGatewayV2httpRequestContext::default();
        ctx.apiid = api_id.map(str::to_owned);
        request.extensions_mut().insert(RequestContext::ApiGatewayV2(ctx));
        request
    }

    async fn status(router: &Router, request: Request) -> u16 {
        match router.clone().oneshot(request).await {
            Ok(response) => response.status().as_u16(),
            Err(never) => match never {},
        }
    }

    fn event(path: &str, headers: serde_json::Value) -> serde_json::Value {
        serde_json::json!({
            "version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": "a=1",
            "headers": headers,
            "requestContext": {"apiId": "api-123", "domainName": "shop.example.com", "http": {"method": "POST", "path": path, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.9", "userAgent": "x"}, "requestId": "r", "routeKey": "$default", "stage": "$default", "time": "05/Dec/2026:00:00:00 +0000", "timeEpoch": 0},
            "isBase64Encoded": false
        })
    }

    #[test]
    fn client_headers_never_change_the_path_or_crash_the_conversion() {
        let smuggled =
            request_from_event(event("/api/users/me/password", serde_json::json!({"x-forwarded-proto": "https://x/api/auth/login#"})))
                .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(smuggled.uri().path(), "/api/users/me/password");
        assert_eq!(smuggled.uri().host(), Some("shop.example.com"));
        for headers in [
            serde_json::json!({"x-forwarded-proto": "a b"}),
            serde_json::json!({"X-Forwarded-Proto": "ht tp", "host": "evil host/x?#"}),
            serde_json::json!({"host": "\u{0}"}),
        ] {
            let request = request_from_event(event("/api/products", headers.clone())).unwrap_or_else(|e| panic!("{headers}: {e}"));
            assert_eq!((request.uri().scheme_str(), request.uri().path()), (Some("https"), "/api/products"), "{headers}");
        }
        let odd = request_from_event(event("/api/products/slug/a b\"<>{}|^`", serde_json::json!({}))).unwrap_or_else(|e| panic!("{e}"));
        assert!(odd.uri().path().starts_with("/api/products/slug/a%20b"), "{}", odd.uri());
    }

    #[tokio::test]
    async fn with_an_edge_secret_only_requests_through_the_edge_pass_and_their_viewer_address_counts() {
        async fn ip(caller: crate::auth::Caller) -> String {
            caller.source_ip.unwrap_or_default()
        }
        let edge = Edge::with_secrets(["old".to_owned(), "new".to_owned()]);
        let router = finish_with(Router::new().route("/api/ip", get(ip)).route("/internal/x", get(|| async { "ok" })), edge);
        let call = |secret: Option<&str>, viewer: Option<&str>, api: &str, path: &str| {
            let mut r = request(path, Some(api));
            if let Some(s) = secret {
                r.headers_mut().insert(ORIGIN_VERIFY_HEADER, http::HeaderValue::from_str(s).unwrap_or(http::HeaderValue::from_static("x")));
            }
            if let Some(v) = viewer {
                r.headers_mut()
                    .insert(VIEWER_ADDRESS_HEADER, http::HeaderValue::from_str(v).unwrap_or(http::HeaderValue::from_static("x")));
            }
            let router = router.clone();
            async move {
                let response = match router.oneshot(r).await {
                    Ok(response) => response,
                    Err(never) => match never {},
                };
                let status = response.status().as_u16();
                let body = axum::body::to_bytes(response.into_body(), 1 << 16).await.unwrap_or_default();
                (status, String::from_utf8_lossy(&body).into_owned())
            }
        };
        assert_eq!(call(None, None, "api-1", "/api/ip").await.0, 403, "straight to the API's own endpoint");
        assert_eq!(call(Some("guess"), None, "api-1", "/api/ip").await.0, 403);
        assert_eq!(call(Some("new"), Some("198.51.100.7:4431"), "api-1", "/api/ip").await, (200, "198.51.100.7".to_owned()));
        assert_eq!(
            call(Some("old"), Some("[2001:db8::5]:443"), "api-1", "/api/ip").await,
            (200, "2001:db8::5".to_owned()),
            "both values during a rotation"
        );
        assert_eq!(call(None, None, INTERNAL_API_ID, "/internal/x").await.0, 200, "internal calls are exempt");
        // Without the edge check, a client's viewer-address header is ignored.
        let open = finish_with(Router::new().route("/api/ip", get(ip)), Edge::default());
        let mut r = request("/api/ip", Some("api-1"));
        r.headers_mut().insert(VIEWER_ADDRESS_HEADER, http::HeaderValue::from_static("203.0.113.1:1"));
        let response = match open.oneshot(r).await {
            Ok(response) => response,
            Err(never) => match never {},
        };
        let body = axum::body::to_bytes(response.into_body(), 1 << 16).await.unwrap_or_default();
        assert_eq!(String::from_utf8_lossy(&body), "", "the request context's sourceIp (none here) is used");
    }

    #[tokio::test]
    async fn an_internal_route_added_without_any_guard_is_still_guarded() {
        // Registered like any public route: nothing marks it internal but its path.
        let router =
            finish(Router::new().route("/internal/secret", get(|| async { "secret" })).route("/api/open", get(|| async { "open" })));
        assert_eq!(status(&router, request("/internal/secret", Some("api-123"))).await, 404, "from the public API");
        assert_eq!(status(&router, request("/internal/secret", None)).await, 404, "with no context at all");
        assert_eq!(status(&router, request("/internal/secret", Some(INTERNAL_API_ID))).await, 200, "through an internal client");
        assert_eq!(status(&router, request("/api/open", Some("api-123"))).await, 200, "public routes are untouched");
    }

    #[tokio::test]
    async fn a_request_still_working_at_the_deadline_gets_a_503_it_can_retry() {
        let router = finish_with_deadline(
            Router::new()
                .route(
                    "/api/stuck",
                    get(|| async {
                        tokio::time::sleep(std::time::Duration::from_secs(60)).await;
                        "late"
                    }),
                )
                .route("/api/quick", get(|| async { "ok" })),
            Edge::default(),
            std::time::Duration::from_millis(300),
        );
        let started = std::time::Instant::now();
        let response = match router.clone().oneshot(request("/api/stuck", Some("api-1"))).await {
            Ok(response) => response,
            Err(never) => match never {},
        };
        let waited = started.elapsed();
        assert!(
            waited >= std::time::Duration::from_millis(300) && waited < std::time::Duration::from_secs(5),
            "answered at the deadline, not after the handler: {waited:?}"
        );
        assert_eq!(response.status(), 503);
        assert_eq!(response.headers()[http::header::RETRY_AFTER], "2");
        assert_eq!(response.headers()[http::header::CONTENT_TYPE], "application/problem+json");
        let body = axum::body::to_bytes(response.into_body(), 1 << 16).await.unwrap_or_default();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        assert_eq!(body["code"], "deadline_exceeded");
        assert_eq!(status(&router, request("/api/quick", Some("api-1"))).await, 200);
        assert!(REQUEST_DEADLINE < std::time::Duration::from_secs(10), "inside the gateway's 10 s");
    }
}
