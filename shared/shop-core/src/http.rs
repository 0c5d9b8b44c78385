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

/// Adds the fallback, the internal-route guard, the request span and panic safety to a
/// function's router. Every function's router goes through this exactly once.
pub fn finish(router: Router) -> Router {
    router
        .fallback(route_not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(on_panic))
        .layer(axum::middleware::from_fn(internal_guard))
        .layer(axum::middleware::from_fn(request_span))
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
        tracing::warn!(path = %request.uri().path(), "internal route called from outside");
        return not_found_route().into_response();
    }
    next.run(request).await
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "This route does not accept that method.")
}

fn on_panic(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("handler panicked");
    ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal_error", "An internal error occurred.").into_response()
}

/// One span per request: method, route template, request id, user id (recorded by the auth
/// extractor), then one log line with status and latency.
async fn request_span(request: Request, next: Next) -> Response {
    let route = request.extensions().get::<MatchedPath>().map(|p| p.as_str().to_owned()).unwrap_or_else(|| request.uri().path().to_owned());
    let request_id = match request.extensions().get::<RequestContext>() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.request_id.clone(),
        _ => None,
    }
    .unwrap_or_default();
    let span = tracing::info_span!(
        "request",
        method = %request.method(),
        route = %route,
        request_id = %request_id,
        user_id = tracing::field::Empty,
    );
    let started = Instant::now();
    async move {
        let response = next.run(request).await;
        let status = response.status().as_u16();
        let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
        if status >= 500 {
            tracing::error!(status, latency_ms, "request failed");
        } else {
            tracing::info!(status, latency_ms, "request");
        }
        response
    }
    .instrument(span)
    .await
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
    async fn an_internal_route_added_without_any_guard_is_still_guarded() {
        // Registered like any public route: nothing marks it internal but its path.
        let router =
            finish(Router::new().route("/internal/secret", get(|| async { "secret" })).route("/api/open", get(|| async { "open" })));
        assert_eq!(status(&router, request("/internal/secret", Some("api-123"))).await, 404, "from the public API");
        assert_eq!(status(&router, request("/internal/secret", None)).await, 404, "with no context at all");
        assert_eq!(status(&router, request("/internal/secret", Some(INTERNAL_API_ID))).await, 200, "through an internal client");
        assert_eq!(status(&router, request("/api/open", Some("api-123"))).await, 200, "public routes are untouched");
    }
}
