//! Internal calls through real routers (in-process transport), the Lambda transport against the
//! local stand-in, the internal-route guard and optional bearer verification with real RS256
//! keys from the accounts function.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::{Query, RawQuery, State};
use axum::routing::{get, post};
use http::{Method, StatusCode};
use serde_json::{Value, json};
use shop_core::ApiError;
use shop_core::auth::{Claims, Role};
use shop_internal::{CallError, CallPolicy, InternalClient, TokenVerifier, optional_bearer, register_local};
use shop_testkit::Req;

fn fast_policy() -> CallPolicy {
    CallPolicy {
        attempt_timeout: Duration::from_millis(300),
        attempts: 3,
        backoff: shop_core::retry::Backoff::new(Duration::from_millis(5), Duration::from_millis(5)),
        breaker_threshold: 2,
        breaker_cooldown: Duration::from_millis(200),
    }
}

async fn client(name: &str, policy: CallPolicy) -> InternalClient {
    InternalClient::with_policy(shop_testkit::sdk().await, name, "tests", policy)
}

/// A function with one public and two internal routes.
fn target() -> Router {
    async fn echo(RawQuery(raw): RawQuery, Query(q): Query<Value>) -> Json<Value> {
        Json(json!({ "raw": raw, "query": q }))
    }
    async fn reserve(Json(body): Json<Value>) -> Result<Json<Value>, ApiError> {
        if body["quantity"].as_u64().unwrap_or(0) > 5 {
            return Err(ApiError::conflict("insufficient_stock", "Only 5 left."));
        }
        Ok(Json(json!({ "reserved": body["quantity"] })))
    }
    let internal = Router::new().route("/internal/echo", get(echo)).route("/internal/reserve", post(reserve));
    shop_core::http::finish(Router::new().route("/api/public", get(|| async { Json(json!({ "ok": true })) })).merge(internal))
}

#[tokio::test]
async fn a_registered_router_answers_typed_calls_in_process() {
    let name = shop_testkit::unique("Target");
    register_local(&name, target());
    let client = client(&name, fast_policy()).await;

    let echoed: Value = client.get("/internal/echo?ids=a&ids=b&q=x%20y").await.unwrap();
    assert_eq!(echoed["raw"], "ids=a&ids=b&q=x%20y", "the query string arrives as sent");
    assert_eq!(echoed["query"]["q"], "x y");

    let reserved: Value = client.post("/internal/reserve", &json!({ "quantity": 2 })).await.unwrap();
    assert_eq!(reserved["reserved"], 2);

    let refused = client.post::<_, Value>("/internal/reserve", &json!({ "quantity": 9 })).await.unwrap_err();
    assert_eq!(refused.status(), Some(StatusCode::CONFLICT));
    assert_eq!(refused.problem_code(), Some("insufficient_stock"));

    let missing = client.get::<Value>("/internal/nothing").await.unwrap_err();
    assert_eq!(missing.status(), Some(StatusCode::NOT_FOUND));
}

#[tokio::test]
async fn internal_routes_are_invisible_through_the_api_gateway() {
    let router = target();
    let from_gateway = Req::get("/internal/echo?x=1").send(&router).await;
    let unknown = Req::get("/internal/no-such-route").send(&router).await;
    let a = from_gateway.expect_problem(404, shop_core::http::ROUTE_NOT_FOUND);
    let b = unknown.expect_problem(404, shop_core::http::ROUTE_NOT_FOUND);
    assert_eq!(a["detail"], b["detail"], "an internal route looks exactly like no route");
    Req::get("/api/public").send(&router).await.expect(200);
}

/// Fails with `status` for the first `failures` calls, then answers 200; counts calls.
fn flaky(failures: usize, status: StatusCode, delay: Duration) -> (Router, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let handler = |State((calls, failures, status, delay)): State<(Arc<AtomicUsize>, usize, StatusCode, Duration)>| async move {
        let n = calls.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(delay).await;
        if n < failures { Err(ApiError::new(status, "flaky", "not now")) } else { Ok(Json(json!({ "call": n + 1 }))) }
    };
    let router = Router::new().route("/internal/flaky", get(handler)).with_state((calls.clone(), failures, status, delay));
    (router, calls)
}

#[tokio::test]
async fn unavailable_answers_are_retried_with_backoff_and_client_errors_are_not() {
    let name = shop_testkit::unique("Flaky");
    let (router, calls) = flaky(2, StatusCode::SERVICE_UNAVAILABLE, Duration::ZERO);
    register_local(&name, router);
    let answer: Value = client(&name, fast_policy()).await.get("/internal/flaky").await.unwrap();
    assert_eq!(answer["call"], 3, "two 503s, then the third attempt answers");
    assert_eq!(calls.load(Ordering::SeqCst), 3);

    // A target that keeps answering 503 is reported with its last answer (its problem code).
    let name = shop_testkit::unique("Overloaded");
    let (router, calls) = flaky(usize::MAX, StatusCode::SERVICE_UNAVAILABLE, Duration::ZERO);
    register_local(&name, router);
    let err = client(&name, fast_policy()).await.get::<Value>("/internal/flaky").await.unwrap_err();
    assert_eq!((err.status(), err.problem_code()), (Some(StatusCode::SERVICE_UNAVAILABLE), Some("flaky")));
    assert_eq!(calls.load(Ordering::SeqCst), 3, "every attempt was made");
    assert_eq!(ApiError::from(err).code(), "dependency_unavailable");

    let name = shop_testkit::unique("Refusing");
    let (router, calls) = flaky(usize::MAX, StatusCode::UNPROCESSABLE_ENTITY, Duration::ZERO);
    register_local(&name, router);
    let err = client(&name, fast_policy()).await.get::<Value>("/internal/flaky").await.unwrap_err();
    assert_eq!(err.status(), Some(StatusCode::UNPROCESSABLE_ENTITY));
    assert_eq!(calls.load(Ordering::SeqCst), 1, "a 4xx is an answer: no retry");
}

#[tokio::test]
async fn a_slow_target_times_out_and_the_circuit_opens_then_recovers() {
    let name = shop_testkit::unique("Slow");
    let (router, calls) = flaky(usize::MAX, StatusCode::OK, Duration::from_secs(5));
    register_local(&name, router);
    let client = client(&name, CallPolicy { attempts: 1, ..fast_policy() }).await;

    for _ in 0..2 {
        let err = client.get::<Value>("/internal/flaky").await.unwrap_err();
        assert!(matches!(err, CallError::Unavailable(ref m) if m.contains("no answer within")), "{err}");
    }
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    // Two failures open the circuit: the next call fails without reaching the target.
    let err = client.get::<Value>("/internal/flaky").await.unwrap_err();
    assert!(matches!(err, CallError::Unavailable(ref m) if m.contains("circuit open")), "{err}");
    assert_eq!(calls.load(Ordering::SeqCst), 2, "an open circuit does not call");
    let api: ApiError = err.into();
    assert_eq!(api.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(api.code(), "dependency_unavailable");

    // After the cooldown a healthy target closes it again.
    let (healthy, _) = flaky(0, StatusCode::OK, Duration::ZERO);
    register_local(&name, healthy);
    tokio::time::sleep(Duration::from_millis(250)).await;
    let ok: Value = client.get("/internal/flaky").await.unwrap();
    assert_eq!(ok["call"], 1);
}

#[tokio::test]
async fn an_unregistered_function_is_invoked_through_lambda_and_a_missing_one_fails_fast() {
    // Locally Lambda is moto, which knows no functions: the invoke answers ResourceNotFound,
    // which is not retried.
    let client = client(&shop_testkit::unique("NoSuchFunction"), fast_policy()).await;
    let started = std::time::Instant::now();
    let err = client.send(Method::GET, "/internal/anything", None).await.unwrap_err();
    assert!(
        matches!(err, CallError::Unavailable(ref m) if m.contains("ResourceNotFound") || m.contains("not found") || m.contains("Function not found")),
        "{err}"
    );
    assert!(started.elapsed() < Duration::from_secs(3), "no retries on a missing function");
}

// --- optional bearer -------------------------------------------------------------------

struct Issuer {
    keys: accounts::keys::SigningKeys,
    issuer: String,
}

fn issuer(kids: &[&str]) -> Issuer {
    let mut doc = accounts::keys::KeyDocument::default();
    for kid in kids {
        doc.add_generated((*kid).to_owned(), "2026-12-03T00:00:00Z".into()).unwrap();
    }
    Issuer { keys: accounts::keys::SigningKeys::from_document(&doc).unwrap(), issuer: "http://issuer.test".into() }
}

impl Issuer {
    fn token(&self, audience: &str, role: Role) -> (uuid::Uuid, String) {
        let user = uuid::Uuid::now_v7();
        let token = accounts::tokens::issue_access_token(&self.keys, &self.issuer, audience, user, role, uuid::Uuid::now_v7()).unwrap();
        (user, token)
    }
}

/// The accounts stand-in for this test: serves a JWKS (as accounts does) and counts fetches.
fn jwks_router(jwks: Value, fetches: Arc<AtomicUsize>) -> Router {
    Router::new().route(
        "/.well-known/jwks.json",
        get(move || {
            let jwks = jwks.clone();
            let fetches = fetches.clone();
            async move {
                fetches.fetch_add(1, Ordering::SeqCst);
                Json(jwks)
            }
        }),
    )
}

async fn whoami(claims: Option<Claims>) -> Json<Value> {
    Json(json!({ "sub": claims.as_ref().map(|c| c.sub.to_string()), "role": claims.map(|c| c.role.as_str()) }))
}

async fn guarded(accounts_name: &str, refetch: Duration) -> Router {
    let accounts = InternalClient::new(shop_testkit::sdk().await, accounts_name, "tests");
    let verifier =
        TokenVerifier::with_intervals(accounts, "http://issuer.test".into(), vec!["skyshop".into()], refetch, Duration::from_secs(300));
    shop_core::http::finish(Router::new().route("/api/cart", get(whoami)).layer(optional_bearer(verifier)))
}

#[tokio::test]
async fn an_optional_bearer_identifies_users_and_leaves_guests_anonymous() {
    let issuer = issuer(&["k1"]);
    let name = shop_testkit::unique("Accounts");
    let fetches = Arc::new(AtomicUsize::new(0));
    register_local(&name, jwks_router(serde_json::to_value(issuer.keys.jwks()).unwrap(), fetches.clone()));
    let router = guarded(&name, Duration::from_secs(30)).await;

    let guest = Req::get("/api/cart").send(&router).await.expect(200);
    assert_eq!(guest["sub"], Value::Null);

    let (user, token) = issuer.token("skyshop", Role::Customer);
    let me = Req::get("/api/cart").header("authorization", &format!("Bearer {token}")).send(&router).await.expect(200);
    assert_eq!(me["sub"], user.to_string());
    assert_eq!(me["role"], "CUSTOMER");
    Req::get("/api/cart").header("authorization", &format!("bearer {token}")).send(&router).await.expect(200);
    assert_eq!(fetches.load(Ordering::SeqCst), 1, "the JWKS is fetched once and cached");

    let (_, other_audience) = issuer.token("someone-else", Role::Admin);
    let refused = Req::get("/api/cart").header("authorization", &format!("Bearer {other_audience}")).send(&router).await;
    let problem = refused.expect_problem(401, "invalid_token");
    assert!(problem["detail"].as_str().unwrap().contains("audience"), "{problem}");

    let forged = format!("{}x", token);
    Req::get("/api/cart").header("authorization", &format!("Bearer {forged}")).send(&router).await.expect_problem(401, "invalid_token");
    Req::get("/api/cart").header("authorization", "Basic dXNlcjpwdw==").send(&router).await.expect_problem(401, "invalid_token");

    let stranger = self::issuer(&["k1"]);
    let (_, foreign) = stranger.token("skyshop", Role::Admin);
    Req::get("/api/cart").header("authorization", &format!("Bearer {foreign}")).send(&router).await.expect_problem(401, "invalid_token");
}

#[tokio::test]
async fn a_rotated_key_is_fetched_when_a_token_names_it() {
    let before = issuer(&["old"]);
    let name = shop_testkit::unique("Accounts");
    let fetches = Arc::new(AtomicUsize::new(0));
    register_local(&name, jwks_router(serde_json::to_value(before.keys.jwks()).unwrap(), fetches.clone()));
    let router = guarded(&name, Duration::ZERO).await;
    let (_, old_token) = before.token("skyshop", Role::Seller);
    Req::get("/api/cart").header("authorization", &format!("Bearer {old_token}")).send(&router).await.expect(200);

    // Accounts rotates to a new key; the first token naming it makes the verifier refetch.
    let after = issuer(&["new"]);
    register_local(&name, jwks_router(serde_json::to_value(after.keys.jwks()).unwrap(), fetches.clone()));
    let (user, new_token) = after.token("skyshop", Role::Seller);
    let me = Req::get("/api/cart").header("authorization", &format!("Bearer {new_token}")).send(&router).await.expect(200);
    assert_eq!(me["sub"], user.to_string());
    assert_eq!(fetches.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn accounts_being_down_is_a_503_not_a_guest() {
    let router = guarded(&shop_testkit::unique("AccountsDown"), Duration::from_secs(30)).await;
    let (_, token) = issuer(&["k"]).token("skyshop", Role::Customer);
    Req::get("/api/cart")
        .header("authorization", &format!("Bearer {token}"))
        .send(&router)
        .await
        .expect_problem(503, "dependency_unavailable");
    // A token that cannot be one of ours is a 401 without asking accounts.
    Req::get("/api/cart").header("authorization", "Bearer garbage").send(&router).await.expect_problem(401, "invalid_token");
    Req::get("/api/cart").send(&router).await.expect(200);
}
