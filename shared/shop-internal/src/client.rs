//! The typed client of another function's internal routes.

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_lambda::primitives::Blob;
use base64::Engine;
use bytes::Bytes;
use http::{Method, StatusCode};
use http_body_util::BodyExt;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};
use shop_core::ApiError;
use shop_core::retry::Backoff;
use tower::ServiceExt;

use shop_core::breaker::CircuitBreaker;
use shop_core::http::INTERNAL_API_ID;

/// How hard a client tries.
#[derive(Debug, Clone)]
pub struct CallPolicy {
    /// One attempt's limit (an invoke includes a possible cold start of the target).
    pub attempt_timeout: Duration,
    /// Attempts in all (1 = no retry). These are the only retries of an internal call: the
    /// Lambda SDK's own retries are switched off beneath them, so a call invokes the target at
    /// most this many times.
    pub attempts: u32,
    /// Waits between attempts (the shared full-jitter backoff).
    pub backoff: Backoff,
    /// Consecutive failed calls that open the circuit.
    pub breaker_threshold: u32,
    /// How long an open circuit refuses calls before one trial.
    pub breaker_cooldown: Duration,
}

impl Default for CallPolicy {
    fn default() -> Self {
        Self {
            attempt_timeout: Duration::from_secs(3),
            attempts: 3,
            backoff: Backoff::new(Duration::from_millis(50), Duration::from_millis(400)),
            breaker_threshold: 5,
            breaker_cooldown: Duration::from_secs(5),
        }
    }
}

/// A target's answer.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: StatusCode,
    pub body: Bytes,
}

impl Reply {
    /// The body as `T`; an empty body reads as JSON `null` (so `T = ()` accepts a 204).
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, CallError> {
        let body: &[u8] = if self.body.is_empty() { b"null" } else { &self.body };
        serde_json::from_slice(body).map_err(|e| CallError::Decode(e.to_string()))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The target answered non-2xx; `problem` is its problem+json body when it had one.
    #[error("the target answered {status}")]
    Status { status: StatusCode, problem: Option<Value> },
    /// No answer after the bounded retries (timeouts, crashes, throttles), or the circuit is
    /// open. (A target that kept answering 502/503/504 is a `Status` with its last answer.)
    #[error("the target is unavailable: {0}")]
    Unavailable(String),
    /// A 2xx answer whose body did not decode.
    #[error("the target's answer did not decode: {0}")]
    Decode(String),
}

impl CallError {
    /// The target's status, when it answered.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            CallError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The `code` of the target's problem+json answer.
    pub fn problem_code(&self) -> Option<&str> {
        match self {
            CallError::Status { problem: Some(p), .. } => p.get("code").and_then(Value::as_str),
            _ => None,
        }
    }
}

/// A dependency that does not answer, or answers 502/503/504, is a 503 for our caller; a
/// dependency that answers something the caller did not handle is our bug (502, opaque; the
/// cause is logged).
impl From<CallError> for ApiError {
    fn from(e: CallError) -> Self {
        let unavailable = match &e {
            CallError::Unavailable(_) => true,
            CallError::Status { status, .. } => matches!(status.as_u16(), 502..=504),
            CallError::Decode(_) => false,
        };
        match &e {
            _ if unavailable => {
                tracing::error!(error = %e, "internal call failed");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "dependency_unavailable",
                    "A service this request needs is unavailable; retry later.",
                )
                .with_header(http::header::RETRY_AFTER, http::HeaderValue::from_static("1"))
            }
            _ => {
                tracing::error!(error = %e, problem = ?e.problem_code(), "unexpected answer from an internal call");
                ApiError::new(StatusCode::BAD_GATEWAY, "bad_gateway", "A service this request needs answered unexpectedly.")
            }
        }
    }
}

/// The client of one target function. Cheap to clone; build it once per cold start.
#[derive(Clone)]
pub struct InternalClient {
    inner: Arc<Inner>,
}

struct Inner {
    function: String,
    caller: &'static str,
    lambda: aws_sdk_lambda::Client,
    policy: CallPolicy,
    breaker: CircuitBreaker,
}

impl std::fmt::Debug for InternalClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InternalClient").field("function", &self.inner.function).field("caller", &self.inner.caller).finish()
    }
}

/// Why one attempt failed without an answer worth returning.
enum Failure {
    /// No answer (transport, throttle, crash, timeout): retried.
    Transient(String),
    /// The request itself cannot work (unserializable, unknown function): not retried.
    Fatal(String),
}

impl InternalClient {
    /// `function`: the target function's name (an env var set to `!Ref TargetFunction`).
    /// `caller`: this function's short name, sent as `x-skyshop-caller` for the target's logs.
    pub fn new(sdk: &aws_config::SdkConfig, function: impl Into<String>, caller: &'static str) -> Self {
        Self::with_policy(sdk, function, caller, CallPolicy::default())
    }

    pub fn with_policy(sdk: &aws_config::SdkConfig, function: impl Into<String>, caller: &'static str, policy: CallPolicy) -> Self {
        let function = function.into();
        let breaker = CircuitBreaker::named(format!("{caller}->{function}"), policy.breaker_threshold, policy.breaker_cooldown);
        // One invoke per attempt: the retries are ours (see `CallPolicy::attempts`).
        let lambda_config =
            aws_sdk_lambda::config::Builder::from(sdk).retry_config(aws_sdk_lambda::config::retry::RetryConfig::disabled()).build();
        let lambda = aws_sdk_lambda::Client::from_conf(lambda_config);
        Self { inner: Arc::new(Inner { function, caller, lambda, policy, breaker }) }
    }

    /// The target function's name.
    pub fn function(&self) -> &str {
        &self.inner.function
    }

    pub async fn get<T: DeserializeOwned>(&self, path_and_query: &str) -> Result<T, CallError> {
        self.call(Method::GET, path_and_query, None).await
    }

    pub async fn post<B: Serialize + ?Sized, T: DeserializeOwned>(&self, path: &str, body: &B) -> Result<T, CallError> {
        self.call(Method::POST, path, Some(to_json(body)?)).await
    }

    pub async fn put<B: Serialize + ?Sized, T: DeserializeOwned>(&self, path: &str, body: &B) -> Result<T, CallError> {
        self.call(Method::PUT, path, Some(to_json(body)?)).await
    }

    pub async fn delete<T: DeserializeOwned>(&self, path: &str) -> Result<T, CallError> {
        self.call(Method::DELETE, path, None).await
    }

    async fn call<T: DeserializeOwned>(&self, method: Method, path: &str, body: Option<Value>) -> Result<T, CallError> {
        self.send(method, path, body).await?.json()
    }

    /// One call with the policy's timeout, retries and circuit breaker. A 2xx answer is
    /// `Ok`; any other answer is [`CallError::Status`].
    #[tracing::instrument(skip_all, fields(target_function = %self.inner.function, method = %method, path = %path))]
    pub async fn send(&self, method: Method, path: &str, body: Option<Value>) -> Result<Reply, CallError> {
        let inner = &self.inner;
        if !inner.breaker.allow() {
            return Err(CallError::Unavailable(format!("{}: circuit open after repeated failures", inner.function)));
        }
        let event = event(&method, path, body.as_ref(), inner.caller).to_string();
        let attempts = inner.policy.attempts.max(1);
        let mut last = String::new();
        // The last 502/503/504 answer, returned (with its problem) if no attempt does better.
        let mut last_answer: Option<Reply> = None;
        for attempt in 1..=attempts {
            let outcome = match tokio::time::timeout(inner.policy.attempt_timeout, self.attempt(&event)).await {
                Ok(outcome) => outcome,
                Err(_) => Err(Failure::Transient(format!("no answer within {:?}", inner.policy.attempt_timeout))),
            };
            match outcome {
                Ok(reply) if matches!(reply.status.as_u16(), 502..=504) => {
                    last = format!("answered {}", reply.status);
                    last_answer = Some(reply);
                }
                Ok(reply) => {
                    // A 500 is the target's bug: not retried, but it counts against the circuit.
                    if reply.status == StatusCode::INTERNAL_SERVER_ERROR {
                        inner.breaker.record_failure();
                    } else {
                        inner.breaker.record_success();
                    }
                    if reply.status.is_success() {
                        return Ok(reply);
                    }
                    let problem = serde_json::from_slice(&reply.body).ok();
                    return Err(CallError::Status { status: reply.status, problem });
                }
                Err(Failure::Fatal(reason)) => {
                    inner.breaker.record_failure();
                    return Err(CallError::Unavailable(reason));
                }
                Err(Failure::Transient(reason)) => {
                    last = reason;
                    last_answer = None;
                }
            }
            tracing::warn!(attempt, attempts, reason = %last, "internal call attempt failed");
            if attempt < attempts {
                inner.policy.backoff.wait(attempt).await;
            }
        }
        inner.breaker.record_failure();
        match last_answer {
            Some(reply) => Err(CallError::Status { status: reply.status, problem: serde_json::from_slice(&reply.body).ok() }),
            None => Err(CallError::Unavailable(format!("{}: {last} (after {attempts} attempts)", inner.function))),
        }
    }

    async fn attempt(&self, event: &str) -> Result<Reply, Failure> {
        match crate::local::lookup(&self.inner.function) {
            Some(router) => in_process(router, &self.inner.function, event).await,
            None => self.invoke(event).await,
        }
    }

    async fn invoke(&self, event: &str) -> Result<Reply, Failure> {
        let out =
            self.inner.lambda.invoke().function_name(&self.inner.function).payload(Blob::new(event.as_bytes())).send().await.map_err(
                |e| {
                    let text = aws_sdk_lambda::error::DisplayErrorContext(&e).to_string();
                    match e.as_service_error() {
                        Some(s) if s.is_resource_not_found_exception() || s.is_invalid_request_content_exception() => Failure::Fatal(text),
                        _ => Failure::Transient(text),
                    }
                },
            )?;
        if let Some(kind) = out.function_error() {
            return Err(Failure::Transient(format!("the function failed ({kind})")));
        }
        let payload = out.payload().map(|b| b.as_ref()).unwrap_or_default();
        lambda_reply(payload).map_err(Failure::Transient)
    }
}

fn to_json<B: Serialize + ?Sized>(body: &B) -> Result<Value, CallError> {
    serde_json::to_value(body).map_err(|e| CallError::Decode(format!("request body: {e}")))
}

/// One call to a function registered in this process, as Lambda's `Invoke` would make it: the
/// callee gets the Lambda context an invoke of `function` has (its name, a request id, the
/// caller's X-Ray trace with this call's `Lambda Invoke` subsegment as parent — what the SDK's
/// traced client passes on in AWS), and the call is recorded as that subsegment.
async fn in_process(router: axum::Router, function: &str, event: &str) -> Result<Reply, Failure> {
    let event = serde_json::from_str(event).map_err(|e| Failure::Fatal(format!("the internal event is not JSON: {e}")))?;
    let mut request =
        shop_core::http::request_from_event(event).map_err(|e| Failure::Fatal(format!("the internal event does not convert: {e}")))?;
    let subsegment = shop_core::trace::Subsegment::begin();
    let mut context = lambda_http::Context::default();
    context.request_id = uuid::Uuid::new_v4().to_string();
    context.xray_trace_id = subsegment.downstream_header().map(|h| h.to_header());
    context.env_config =
        std::sync::Arc::new(lambda_http::lambda_runtime::Config { function_name: function.to_owned(), ..Default::default() });
    request.extensions_mut().insert(context);
    let response = match router.oneshot(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    };
    let status = response.status();
    subsegment.end(json!({
        "name": "Lambda",
        "namespace": "aws",
        "aws": {"operation": "Invoke", "function_name": function},
        "http": {"response": {"status": status.as_u16()}},
    }));
    let body = response.into_body().collect().await.map_err(|e| Failure::Transient(format!("reading the answer: {e}")))?.to_bytes();
    Ok(Reply { status, body })
}

/// The API Gateway v2 response `lambda_http` returns from an invoke.
fn lambda_reply(payload: &[u8]) -> Result<Reply, String> {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Answer {
        status_code: u16,
        #[serde(default)]
        body: Option<String>,
        #[serde(default)]
        is_base64_encoded: bool,
    }
    let answer: Answer = serde_json::from_slice(payload).map_err(|e| format!("the invoke answer is not an HTTP response: {e}"))?;
    let status = StatusCode::from_u16(answer.status_code).map_err(|e| e.to_string())?;
    let body = match answer.body {
        None => Bytes::new(),
        Some(b) if answer.is_base64_encoded => {
            Bytes::from(base64::engine::general_purpose::STANDARD.decode(b).map_err(|e| format!("the answer body is not base64: {e}"))?)
        }
        Some(b) => Bytes::from(b),
    };
    Ok(Reply { status, body })
}

/// The payload-2.0 event of an internal call.
fn event(method: &Method, path_and_query: &str, body: Option<&Value>, caller: &str) -> Value {
    let (path, query) = path_and_query.split_once('?').unwrap_or((path_and_query, ""));
    let mut headers = Map::new();
    headers.insert("accept".into(), json!("application/json"));
    headers.insert("x-skyshop-caller".into(), json!(caller));
    if body.is_some() {
        headers.insert("content-type".into(), json!("application/json"));
    }
    let mut parameters = Map::new();
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        match parameters.get_mut(k.as_ref()) {
            // API Gateway joins repeated parameters with commas.
            Some(Value::String(existing)) => {
                existing.push(',');
                existing.push_str(&v);
            }
            _ => {
                parameters.insert(k.into_owned(), Value::String(v.into_owned()));
            }
        }
    }
    let now = time::OffsetDateTime::now_utc();
    let mut event = json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "headers": headers,
        "requestContext": {
            "accountId": "internal",
            "apiId": INTERNAL_API_ID,
            "domainName": "internal",
            "domainPrefix": "internal",
            "http": { "method": method.as_str(), "path": path, "protocol": "HTTP/1.1", "sourceIp": "0.0.0.0", "userAgent": caller },
            "requestId": uuid::Uuid::now_v7().to_string(),
            "routeKey": "$default",
            "stage": "$default",
            "time": now.format(&time::format_description::well_known::Rfc2822).unwrap_or_default(),
            "timeEpoch": now.unix_timestamp() * 1000 + i64::from(now.millisecond()),
        },
        "isBase64Encoded": false,
    });
    if !parameters.is_empty() {
        event["queryStringParameters"] = Value::Object(parameters);
    }
    if let Some(body) = body {
        event["body"] = Value::String(body.to_string());
    }
    event
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invoke_answers_decode_plain_and_base64_bodies() {
        let plain = lambda_reply(br#"{"statusCode":201,"headers":{},"body":"{\"a\":1}","isBase64Encoded":false}"#)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(plain.status, StatusCode::CREATED);
        assert_eq!(plain.json::<Value>().unwrap_or_default()["a"], 1);
        let encoded = lambda_reply(br#"{"statusCode":200,"body":"eyJiIjoyfQ==","isBase64Encoded":true}"#).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(encoded.json::<Value>().unwrap_or_default()["b"], 2);
        let empty = lambda_reply(br#"{"statusCode":204}"#).unwrap_or_else(|e| panic!("{e}"));
        assert!(empty.json::<()>().is_ok(), "an empty 204 reads as ()");
        assert!(lambda_reply(br#"{"errorMessage":"boom"}"#).is_err(), "a crash report is not an answer");
    }

    #[test]
    fn events_name_the_internal_api_and_carry_the_query() {
        let e = event(&Method::GET, "/internal/x?ids=a&ids=b", None, "cart");
        assert_eq!(e["requestContext"]["apiId"], INTERNAL_API_ID);
        assert_eq!(e["queryStringParameters"]["ids"], "a,b");
        assert_eq!(e["rawPath"], "/internal/x");
        assert_eq!(e["headers"]["x-skyshop-caller"], "cart");
    }
}
