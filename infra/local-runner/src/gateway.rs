//! The edge and the HttpApi of the template, emulated.
//!
//! For each request: the web ACL's per-IP rate rules ([`crate::waf`]; CloudFront's WAF runs
//! before API Gateway sees anything), then match a template route (404 `{"message":"Not
//! Found"}` otherwise, as API Gateway answers), apply the route's throttle (429), run the JWT
//! authorizer for JWT routes (401/403 with `WWW-Authenticate`), then build the payload-2.0 event
//! and hand it to the function's router through `lambda_http`'s own event conversion.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::{HeaderValue, StatusCode, header};
use http_body_util::BodyExt;
use sam_model::apigw::{HttpEvent, match_path};
use sam_model::authorizer::JwtAuthorizer;
use sam_model::{Route, RouteAuth, Throttle};
use serde_json::json;
use tokio::sync::RwLock;
use tower::ServiceExt;

use crate::functions::{Function, Registry};
use crate::health::Probes;
use crate::waf::Waf;

/// How often a token naming an unknown key may make the gateway fetch the JWKS again.
pub const KEY_REFRESH_INTERVAL: std::time::Duration = std::time::Duration::from_secs(10);

/// API Gateway's payload limit for HTTP APIs (10 MB).
pub const MAX_PAYLOAD: usize = 10 * 1024 * 1024;

/// A token bucket per route key.
#[derive(Debug)]
struct Bucket {
    tokens: f64,
    last: Instant,
    limit: Throttle,
}

/// Everything the gateway needs.
pub struct Gateway {
    pub routes: Vec<Route>,
    pub functions: Registry,
    pub authorizer: RwLock<JwtAuthorizer>,
    /// The function serving `/.well-known/jwks.json` (to refetch keys after a rotation).
    pub jwks_function: Option<String>,
    default_throttle: Option<Throttle>,
    route_throttles: BTreeMap<String, Throttle>,
    buckets: Mutex<BTreeMap<String, Bucket>>,
    /// The web ACL's rate rules (none until the local cloud sets them).
    pub waf: Waf,
    pub probes: Option<Probes>,
    /// The HttpApi's CORS configuration (preflights answered here, as API Gateway does).
    pub cors: Option<sam_model::Cors>,
    /// When the JWKS was last fetched for a token naming an unknown key (rate-limited).
    last_key_refresh: Mutex<Option<Instant>>,
    pub moto_url: String,
    pub http: reqwest::Client,
}

impl Gateway {
    pub fn new(
        routes: Vec<Route>,
        functions: Registry,
        authorizer: JwtAuthorizer,
        throttles: (Option<Throttle>, BTreeMap<String, Throttle>),
    ) -> Self {
        let jwks_function = routes.iter().find(|r| r.path == "/.well-known/jwks.json").map(|r| r.function.clone());
        Self {
            routes,
            functions,
            authorizer: RwLock::new(authorizer),
            jwks_function,
            default_throttle: throttles.0,
            route_throttles: throttles.1,
            buckets: Mutex::new(BTreeMap::new()),
            waf: Waf::disabled(),
            probes: None,
            cors: None,
            last_key_refresh: Mutex::new(None),
            moto_url: String::new(),
            http: reqwest::Client::new(),
        }
    }

    /// The most specific route for `method` and `path`: literal segments beat `{param}`s.
    pub fn match_route(&self, method: &str, path: &str) -> Option<(&Route, BTreeMap<String, String>)> {
        self.routes
            .iter()
            .filter(|r| r.method == method || r.method == "ANY")
            .filter_map(|r| match_path(&r.path, path).map(|p| (r, p)))
            .min_by_key(|(r, p)| (p.len(), r.method == "ANY"))
    }

    /// The methods of the path template(s) `path` belongs to, sorted (empty: no route's path
    /// matches). The most specific templates win, as in [`Self::match_route`]: `/api/users/me`
    /// is its own resource, not an `/api/users/{id}`.
    pub fn methods_of(&self, path: &str) -> Vec<String> {
        let matching: Vec<(&Route, usize)> = self.routes.iter().filter_map(|r| match_path(&r.path, path).map(|p| (r, p.len()))).collect();
        let Some(fewest) = matching.iter().map(|(_, params)| *params).min() else { return Vec::new() };
        let mut methods: Vec<String> = matching.iter().filter(|(_, params)| *params == fewest).map(|(r, _)| r.method.clone()).collect();
        methods.sort();
        methods.dedup();
        methods
    }

    /// `405 method_not_allowed` (problem+json) with `Allow` naming the methods of the path's
    /// resource ([`Self::methods_of`]) when `method` is not one of them; `None` when it is, or
    /// when no route's path matches (404).
    ///
    /// Stricter than API Gateway's HTTP API, which has no 405 (an unmatched method is its 404
    /// `{"message":"Not Found"}`) and would send `PUT /api/products/search` to
    /// `PUT /api/products/{id}`: the runner answers as the OpenAPI document describes the
    /// resources (see docs/api.md, "Contract run").
    fn method_not_allowed(&self, method: &str, path: &str) -> Option<Response> {
        let methods = self.methods_of(path);
        if methods.is_empty() || methods.iter().any(|m| m == method || m == "ANY") {
            return None;
        }
        let allow = methods.join(", ");
        let error = shop_core::ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            format!("This route does not accept that method (it accepts {allow})."),
        );
        let mut response = error.into_response();
        if let Ok(value) = HeaderValue::from_str(&allow) {
            response.headers_mut().insert(header::ALLOW, value);
        }
        Some(response)
    }

    fn allow(&self, key: &str) -> bool {
        let Some(limit) = self.route_throttles.get(key).copied().or(self.default_throttle) else { return true };
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        let bucket = buckets.entry(key.to_owned()).or_insert(Bucket { tokens: f64::from(limit.burst), last: now, limit });
        let refill = now.duration_since(bucket.last).as_secs_f64() * bucket.limit.rate_per_sec;
        bucket.tokens = (bucket.tokens + refill).min(f64::from(bucket.limit.burst.max(1)));
        bucket.last = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Fetches the JWKS from the function that serves it (in-process) and rebuilds the authorizer.
    pub async fn refresh_keys(&self) {
        let Some(Function::Http(router)) = self.jwks_function.as_ref().and_then(|f| self.functions.get(f)).cloned() else { return };
        let event = HttpEvent::new("GET", "/.well-known/jwks.json");
        let Ok(mut request) = shop_core::http::request_from_event(event.to_json()) else { return };
        request.extensions_mut().insert(lambda_context(
            self.jwks_function.as_deref().unwrap_or_default(),
            &shop_core::trace::TraceHeader::new_root().to_header(),
        ));
        let Ok(response) = router.oneshot(request).await;
        let Ok(bytes) = response.into_body().collect().await.map(|b| b.to_bytes()) else { return };
        if let Ok(jwks) = serde_json::from_slice(&bytes) {
            let mut authorizer = self.authorizer.write().await;
            *authorizer = JwtAuthorizer::new(authorizer.issuer.clone(), authorizer.audiences.clone(), &jwks);
        }
    }

    /// Serves one request as the edge (WAF) and API Gateway would; `source_ip` is the client's
    /// address (the TCP peer).
    pub async fn handle(&self, request: Request, source_ip: String) -> Response {
        let origin = request.headers().get(header::ORIGIN).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let mut response = self.serve(request, source_ip).await;
        if let (Some(cors), Some(origin)) = (&self.cors, origin)
            && cors.allows(&origin)
            && let Ok(value) = HeaderValue::from_str(&origin)
        {
            response.headers_mut().insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
            response.headers_mut().append(header::VARY, HeaderValue::from_static("origin"));
        }
        response
    }

    /// API Gateway's answer to a CORS preflight: 204 with the configured methods, headers and
    /// max age for an allowed origin; 204 without them otherwise.
    fn preflight(&self, request: &Request) -> Option<Response> {
        let cors = self.cors.as_ref()?;
        let is_preflight = request.method() == http::Method::OPTIONS
            && request.headers().contains_key(header::ORIGIN)
            && request.headers().contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
        if !is_preflight {
            return None;
        }
        let mut response = StatusCode::NO_CONTENT.into_response();
        let origin = request.headers().get(header::ORIGIN).and_then(|v| v.to_str().ok()).unwrap_or_default();
        if cors.allows(origin) {
            let headers = response.headers_mut();
            for (name, values) in [
                (header::ACCESS_CONTROL_ALLOW_METHODS, cors.allow_methods.join(",")),
                (header::ACCESS_CONTROL_ALLOW_HEADERS, cors.allow_headers.join(",")),
            ] {
                if let Ok(value) = HeaderValue::from_str(&values) {
                    headers.insert(name, value);
                }
            }
            if let Some(age) = cors.max_age {
                headers.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from(age));
            }
        }
        Some(response)
    }

    /// Fetches the JWKS for a token naming an unknown key, at most once per
    /// [`KEY_REFRESH_INTERVAL`]: tokens with made-up key ids cannot make every request a fetch.
    async fn refresh_keys_for_unknown_kid(&self) {
        {
            let mut last = self.last_key_refresh.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if last.is_some_and(|at| at.elapsed() < KEY_REFRESH_INTERVAL) {
                return;
            }
            *last = Some(Instant::now());
        }
        self.refresh_keys().await;
    }

    async fn serve(&self, request: Request, source_ip: String) -> Response {
        let method = request.method().as_str().to_owned();
        let path = request.uri().path().to_owned();
        if let Some(blocked) = self.waf.check(&source_ip, &path) {
            return blocked;
        }
        if let Some(preflight) = self.preflight(&request) {
            return preflight;
        }
        if let Some(not_allowed) = self.method_not_allowed(&method, &path) {
            return not_allowed;
        }
        let Some((route, params)) = self.match_route(&method, &path) else {
            return api_gateway_message(StatusCode::NOT_FOUND, "Not Found");
        };
        let route = route.clone();
        if !self.allow(&route.key()) {
            return api_gateway_message(StatusCode::TOO_MANY_REQUESTS, "Too Many Requests");
        }
        let authorization = request.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let claims = match &route.auth {
            RouteAuth::None => None,
            RouteAuth::Jwt { scopes } => {
                if self.authorizer.read().await.is_unknown_kid(authorization.as_deref()) {
                    self.refresh_keys_for_unknown_kid().await;
                }
                match self.authorizer.read().await.authorize(authorization.as_deref(), scopes) {
                    Ok(claims) => Some(claims),
                    Err(denial) => {
                        let mut response =
                            (StatusCode::from_u16(denial.status).unwrap_or(StatusCode::UNAUTHORIZED), denial.body).into_response();
                        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
                        if let Ok(value) = HeaderValue::from_str(&denial.www_authenticate) {
                            response.headers_mut().insert(header::WWW_AUTHENTICATE, value);
                        }
                        return response;
                    }
                }
            }
        };
        let Some(Function::Http(router)) = self.functions.get(&route.function).cloned() else {
            return api_gateway_message(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error");
        };
        let (parts, body) = request.into_parts();
        let Ok(body) = http_body_util::Limited::new(body, MAX_PAYLOAD).collect().await.map(|b| b.to_bytes()) else {
            return api_gateway_message(StatusCode::PAYLOAD_TOO_LARGE, "Request Entity Too Large");
        };
        let mut event = HttpEvent::new(&method, parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or(&path));
        event.route_key = route.key();
        event.path_parameters = params;
        event.source_ip = source_ip;
        event.domain_name = parts.headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("127.0.0.1").to_owned();
        // Lambda starts the trace (`Tracing: Active`): a new root and the function's segment,
        // whose id the function sees as its parent, in its context and in `X-Amzn-Trace-Id`
        // (as API Gateway passes it on). A client's own trace header is not trusted.
        let trace = shop_core::trace::TraceHeader::new_root();
        let segment_id = shop_core::trace::new_id();
        let trace_started = shop_core::trace::now();
        let function_trace = trace.child_of(&segment_id).to_header();
        event.headers.push((shop_core::trace::HEADER.to_owned(), function_trace.clone()));
        for (name, value) in &parts.headers {
            if name.as_str() == shop_core::trace::HEADER {
                continue;
            }
            if let Ok(value) = value.to_str() {
                event.headers.push((name.as_str().to_owned(), value.to_owned()));
            }
        }
        if !body.is_empty() {
            event.body = Some(body.to_vec());
        }
        event.authorizer = claims;
        // Lambda gives the function its context (request id, trace header, function name).
        let context = lambda_context(&route.function, &function_trace);
        let started = Instant::now();
        let lambda_request = match shop_core::http::request_from_event(event.to_json()) {
            Ok(mut r) => {
                r.extensions_mut().insert(context);
                r
            }
            Err(e) => {
                tracing::error!(error = %e, "event conversion failed");
                return api_gateway_message(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error");
            }
        };
        // API Gateway gives up on an integration after its timeout (10 s in the template) and
        // answers 503; the function's work may go on, as a Lambda's would.
        let Ok(Ok(response)) = tokio::time::timeout(route.timeout, router.oneshot(lambda_request)).await else {
            tracing::warn!(route = %route.key(), timeout_ms = route.timeout.as_millis() as u64, "integration timed out");
            return api_gateway_message(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable");
        };
        tracing::info!(route = %route.key(), function = %route.function, status = response.status().as_u16(), latency_ms = started.elapsed().as_secs_f64() * 1000.0, trace_id = %trace.root, "invoke");
        shop_core::trace::send(&crate::xray::segment(
            &route.function,
            &segment_id,
            &trace.root,
            trace_started,
            &method,
            &path,
            response.status().as_u16(),
        ));
        let (mut parts, body) = response.into_parts();
        if let Ok(value) = HeaderValue::from_str(&format!("Root={}", trace.root)) {
            parts.headers.insert(shop_core::trace::HEADER, value);
        }
        Response::from_parts(parts, Body::new(body))
    }
}

/// The Lambda context of one invocation of `function` with X-Ray header `trace`.
fn lambda_context(function: &str, trace: &str) -> lambda_http::Context {
    let mut context = lambda_http::Context::default();
    context.request_id = uuid::Uuid::new_v4().to_string();
    context.xray_trace_id = Some(trace.to_owned());
    context.env_config = Arc::new(lambda_http::lambda_runtime::Config { function_name: function.to_owned(), ..Default::default() });
    context
}

/// API Gateway's own error body: `{"message": "..."}`.
pub fn api_gateway_message(status: StatusCode, message: &str) -> Response {
    let mut response = (status, json!({ "message": message }).to_string()).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// The local HTTP server: local-only routes, then the gateway for everything else.
pub fn app(gateway: Arc<Gateway>) -> Router {
    Router::new()
        .route("/_local/mail", get(local_mail))
        .route("/_local/traces/{trace_id}", get(local_trace))
        .route("/_local/metrics", get(local_metrics))
        .route("/_local/health", get(health))
        .route("/api/openapi.json", get(openapi))
        .route("/api/docs", get(docs_page))
        .route("/api/docs/{file}", get(docs_asset))
        .fallback(dispatch)
        .with_state(gateway)
}

async fn dispatch(State(gateway): State<Arc<Gateway>>, request: Request) -> Response {
    let ip = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip().to_string()).unwrap_or_else(|| "127.0.0.1".into());
    gateway.handle(request, ip).await
}

/// Every segment document of one trace the local X-Ray daemon received.
async fn local_trace(axum::extract::Path(trace_id): axum::extract::Path<String>) -> Response {
    axum::Json(crate::xray::Collector::global().trace(&trace_id)).into_response()
}

async fn local_mail(State(gateway): State<Arc<Gateway>>) -> Response {
    match crate::mail::sent_mail(&gateway.http, &gateway.moto_url).await {
        Ok(mut mail) => {
            let texts = crate::mail_capture::SentTexts::global();
            for m in &mut mail {
                if m.text.is_none() {
                    m.text = texts.get(&m.id);
                }
            }
            axum::Json(mail).into_response()
        }
        Err(e) => api_gateway_message(StatusCode::BAD_GATEWAY, &format!("could not read mail from moto: {e}")),
    }
}

/// The sums of every EMF document the functions emitted in this process
/// (`shop_core::metrics::Totals`): `{namespace: {dimension: {metric: {sum, samples, unit}}}}`.
async fn local_metrics() -> Response {
    axum::Json(shop_core::metrics::Totals::global().to_json()).into_response()
}

async fn health(State(gateway): State<Arc<Gateway>>) -> Response {
    let Some(probes) = &gateway.probes else { return api_gateway_message(StatusCode::SERVICE_UNAVAILABLE, "no probes") };
    let (ok, body) = probes.check().await;
    let status = if ok { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, axum::Json(body)).into_response()
}

async fn docs_page() -> Response {
    if crate::docs::assets_dir().is_none() {
        return api_gateway_message(
            StatusCode::SERVICE_UNAVAILABLE,
            "the API reference page needs swagger-ui-dist: start the local cloud with scripts/dev, which installs it and sets SKYSHOP_DOCS_ASSETS",
        );
    }
    axum::response::Html(crate::docs::DOCS_HTML).into_response()
}

/// One of [`crate::docs::ASSETS`], read from the installed package.
async fn docs_asset(axum::extract::Path(file): axum::extract::Path<String>) -> Response {
    let Some((name, content_type)) = crate::docs::ASSETS.iter().find(|(name, _)| *name == file) else {
        return api_gateway_message(StatusCode::NOT_FOUND, "Not Found");
    };
    let Some(dir) = crate::docs::assets_dir() else {
        return api_gateway_message(StatusCode::SERVICE_UNAVAILABLE, "swagger-ui-dist is not installed");
    };
    let path = dir.join(name);
    match tokio::task::spawn_blocking(move || std::fs::read(path)).await.unwrap_or_else(|e| Err(std::io::Error::other(e))) {
        Ok(bytes) => ([(header::CONTENT_TYPE, *content_type), (header::CACHE_CONTROL, "public, max-age=3600")], bytes).into_response(),
        Err(e) => api_gateway_message(StatusCode::SERVICE_UNAVAILABLE, &format!("{name}: {e}")),
    }
}

async fn openapi(State(gateway): State<Arc<Gateway>>) -> Response {
    axum::Json(crate::docs::document(&gateway.routes)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gateway(routes: Vec<Route>) -> Gateway {
        let throttles = (
            Some(Throttle { rate_per_sec: 5000.0, burst: 5000 }),
            BTreeMap::from([("POST /api/auth/login".to_owned(), Throttle { rate_per_sec: 100.0, burst: 10 })]),
        );
        let authorizer = JwtAuthorizer::new("http://issuer", vec!["skyshop".into()], &jsonwebtoken::jwk::JwkSet { keys: vec![] });
        Gateway::new(routes, BTreeMap::new(), authorizer, throttles)
    }

    #[test]
    fn a_route_throttle_allows_its_burst_then_refuses() {
        let g = gateway(vec![]);
        let allowed = (0..30).filter(|_| g.allow("POST /api/auth/login")).count();
        // 10 from the burst, plus at most a few refilled at 100/s while the loop runs.
        assert!((10..=12).contains(&allowed), "{allowed}");
        assert!((0..1000).all(|_| g.allow("GET /api/other")), "the default limit is far higher");
    }

    #[test]
    fn literal_segments_win_over_parameters() {
        let route = |method: &str, path: &str| Route {
            logical_id: path.into(),
            method: method.into(),
            path: path.into(),
            function: "F".into(),
            auth: RouteAuth::None,
            timeout: std::time::Duration::from_secs(10),
        };
        let g = gateway(vec![route("GET", "/api/users/{id}"), route("GET", "/api/users/me"), route("ANY", "/api/{proxy+}")]);
        assert_eq!(g.match_route("GET", "/api/users/me").unwrap().0.path, "/api/users/me");
        assert_eq!(g.match_route("GET", "/api/users/42").unwrap().0.path, "/api/users/{id}");
        assert_eq!(g.match_route("POST", "/api/users/42").unwrap().0.path, "/api/{proxy+}");
        assert!(g.match_route("GET", "/other").is_none());
    }

    #[test]
    fn a_known_path_with_another_method_is_405_naming_its_methods() {
        let route = |method: &str, path: &str| Route {
            logical_id: format!("{method}{path}"),
            method: method.into(),
            path: path.into(),
            function: "F".into(),
            auth: RouteAuth::None,
            timeout: std::time::Duration::from_secs(10),
        };
        let g = gateway(vec![route("GET", "/api/users/{id}"), route("DELETE", "/api/users/{id}"), route("GET", "/api/users/me")]);
        let response = g.method_not_allowed("PUT", "/api/users/42").expect("a known path");
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(response.headers()[header::ALLOW], "DELETE, GET");
        assert_eq!(response.headers()[header::CONTENT_TYPE], shop_core::problem::PROBLEM_JSON);
        assert!(g.method_not_allowed("DELETE", "/api/users/42").is_none(), "a route's own method is routed");
        // `/api/users/me` is its own resource (the literal template wins), as in the document.
        assert_eq!(g.methods_of("/api/users/me"), ["GET"]);
        assert_eq!(g.method_not_allowed("DELETE", "/api/users/me").expect("not /me's method").headers()[header::ALLOW], "GET");
        assert!(g.method_not_allowed("GET", "/api/nothing").is_none(), "an unknown path stays 404");
    }
}
