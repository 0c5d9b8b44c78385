//! Test kit: real stand-ins, isolated per test.
//!
//! - [`table`] / [`queue`]: a fresh DynamoDB table or SQS queue, created from its definition in
//!   `template.yaml` under a unique name, on DynamoDB Local / moto (endpoints from the
//!   environment `scripts/test` sets up).
//! - [`Req`]: an API Gateway v2 request driven through a function's router via `lambda_http`'s
//!   own event conversion, optionally with JWT-authorizer claims.
//! - [`streams::StreamReader`]: a table's DynamoDB stream from its start, as Lambda delivers it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::OnceLock;

use axum::Router;
use http::{HeaderMap, StatusCode};
use http_body_util::BodyExt;
use sam_model::Template;
use sam_model::apigw::{AuthorizerClaims, HttpEvent};
use serde_json::Value;
use tokio::sync::OnceCell;
use tower::ServiceExt;

pub mod streams;
pub mod stripe;

/// The repository's template, parsed once.
pub fn template() -> &'static Template {
    static T: OnceLock<Template> = OnceLock::new();
    T.get_or_init(|| Template::load_repo().expect("template.yaml parses"))
}

/// The SDK configuration for the local stand-ins. Panics with advice when the endpoints are
/// not configured (run the tests through `scripts/test`).
///
/// Timeouts are longer than the functions' (5 s per attempt, 12 s per operation): one DynamoDB
/// Local serves the whole parallel test run and serialises transactions, so under the heaviest
/// tests a request can queue for many seconds. Tests check behaviour, not latency (that is
/// `scripts/bench`'s job).
pub async fn sdk() -> &'static aws_config::SdkConfig {
    static SDK: OnceCell<aws_config::SdkConfig> = OnceCell::const_new();
    SDK.get_or_init(|| async {
        assert!(
            std::env::var("AWS_ENDPOINT_URL_DYNAMODB").is_ok(),
            "AWS_ENDPOINT_URL_DYNAMODB is not set: run the tests with scripts/test, which starts DynamoDB Local and moto"
        );
        let timeouts = aws_config::timeout::TimeoutConfig::builder()
            .connect_timeout(std::time::Duration::from_secs(3))
            .operation_attempt_timeout(std::time::Duration::from_secs(60))
            .operation_timeout(std::time::Duration::from_secs(120))
            .build();
        shop_aws::config::load().await.into_builder().timeout_config(timeouts).build()
    })
    .await
}

/// A short unique suffix for names.
pub fn unique(prefix: &str) -> String {
    let id = uuid::Uuid::now_v7().simple().to_string();
    format!("{prefix}-{}", &id[id.len() - 12..])
}

/// A new table shaped like the template's `logical_id`, with a unique name.
pub async fn table(logical_id: &str) -> (aws_sdk_dynamodb::Client, String) {
    let client = aws_sdk_dynamodb::Client::new(sdk().await);
    let resource = template().resource(logical_id).unwrap_or_else(|| panic!("no {logical_id} in template.yaml"));
    let name = unique(logical_id);
    sam_model::local::create_table(&client, resource, &name).await.expect("create table");
    (client, name)
}

/// A new queue shaped like the template's `logical_id` (without its redrive policy), with a
/// unique name. Returns the client and queue URL.
pub async fn queue(logical_id: &str) -> (aws_sdk_sqs::Client, String) {
    let client = aws_sdk_sqs::Client::new(sdk().await);
    let resource = template().resource(logical_id).unwrap_or_else(|| panic!("no {logical_id} in template.yaml"));
    let (url, _) = sam_model::local::create_queue(&client, resource, &unique(logical_id), None).await.expect("create queue");
    (client, url)
}

/// A new bucket shaped like the template's `logical_id` (CORS included), with a unique name.
/// Returns a path-style client and the bucket name.
pub async fn bucket(logical_id: &str) -> (aws_sdk_s3::Client, String) {
    let client = sam_model::local::s3_client(sdk().await);
    let resource = template().resource(logical_id).unwrap_or_else(|| panic!("no {logical_id} in template.yaml"));
    let name = unique(&logical_id.to_lowercase());
    sam_model::local::create_bucket(&client, resource, &name).await.expect("create bucket");
    (client, name)
}

/// Every message body waiting on a queue (drains it).
pub async fn drain(client: &aws_sdk_sqs::Client, url: &str) -> Vec<Value> {
    let mut out = Vec::new();
    loop {
        let received =
            client.receive_message().queue_url(url).max_number_of_messages(10).wait_time_seconds(0).send().await.expect("receive");
        let messages = received.messages.unwrap_or_default();
        if messages.is_empty() {
            return out;
        }
        for m in messages {
            out.push(serde_json::from_str(m.body().unwrap_or("null")).expect("message is JSON"));
            client.delete_message().queue_url(url).receipt_handle(m.receipt_handle().unwrap_or_default()).send().await.expect("delete");
        }
    }
}

/// An API Gateway v2 request to a function router.
#[derive(Debug, Clone)]
pub struct Req {
    event: HttpEvent,
}

impl Req {
    pub fn new(method: &str, path: &str) -> Self {
        Self { event: HttpEvent::new(method, path) }
    }
    pub fn get(path: &str) -> Self {
        Self::new("GET", path)
    }
    pub fn post(path: &str) -> Self {
        Self::new("POST", path)
    }
    pub fn put(path: &str) -> Self {
        Self::new("PUT", path)
    }
    pub fn patch(path: &str) -> Self {
        Self::new("PATCH", path)
    }
    pub fn delete(path: &str) -> Self {
        Self::new("DELETE", path)
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.event.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn json(self, body: Value) -> Self {
        self.raw_body("application/json", body.to_string().into_bytes())
    }

    pub fn raw_body(mut self, content_type: &str, body: Vec<u8>) -> Self {
        self.event.headers.push(("content-type".into(), content_type.into()));
        self.event.body = Some(body);
        self
    }

    pub fn source_ip(mut self, ip: &str) -> Self {
        self.event.source_ip = ip.to_owned();
        self
    }

    /// Claims as the JWT authorizer passes them.
    pub fn claims(mut self, claims: AuthorizerClaims) -> Self {
        self.event.authorizer = Some(claims);
        self
    }

    /// Claims of a caller with this id, role (`CUSTOMER`...) and session.
    pub fn as_user(self, sub: &str, role: &str, sid: &str) -> Self {
        let scope = role.to_lowercase();
        let claims = BTreeMap::from([
            ("sub".to_owned(), sub.to_owned()),
            ("role".to_owned(), role.to_owned()),
            ("scope".to_owned(), scope),
            ("sid".to_owned(), sid.to_owned()),
        ]);
        self.claims(AuthorizerClaims { claims, scopes: Vec::new() })
    }

    /// The payload-2.0 event this request becomes.
    pub fn event(&self) -> Value {
        self.event.to_json()
    }

    /// Sends the request through `router` the way `lambda_http` would in Lambda.
    pub async fn send(self, router: &Router) -> Resp {
        let request = shop_core::http::request_from_event(self.event.to_json()).expect("lambda_http accepts the event");
        let response = router.clone().oneshot(request).await.expect("router is infallible");
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.into_body().collect().await.expect("body").to_bytes().to_vec();
        Resp { status, headers, body }
    }
}

/// A response, with helpers for asserting.
#[derive(Debug, Clone)]
pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|_| panic!("body is not JSON: {}", String::from_utf8_lossy(&self.body)))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts the status, printing the body when it differs; returns the JSON body (or Null).
    #[track_caller]
    pub fn expect(&self, status: u16) -> Value {
        assert_eq!(self.status.as_u16(), status, "unexpected status; body: {}", String::from_utf8_lossy(&self.body));
        if self.body.is_empty() { Value::Null } else { self.json() }
    }

    /// Asserts a problem+json error with this status and code; returns the body.
    #[track_caller]
    pub fn expect_problem(&self, status: u16, code: &str) -> Value {
        let body = self.expect(status);
        assert_eq!(self.header("content-type"), Some("application/problem+json"), "errors are problem+json");
        assert_eq!(body["code"], code, "problem code; body: {body}");
        body
    }
}

/// A unique Redis key prefix (`test:<id>:`) for one test's keys.
pub fn redis_prefix() -> String {
    format!("{}:", unique("test").replace('-', ":"))
}

/// A fresh PostgreSQL database for one test (`<prefix>_<unique>`; `scripts/test` drops those
/// left over from old runs): its URL.
pub async fn database(prefix: &str) -> String {
    let base = std::env::var("DATABASE_URL_BASE").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
    let name = unique(prefix).replace('-', "_");
    let admin =
        sqlx::postgres::PgPoolOptions::new().max_connections(1).connect(&format!("{base}/postgres")).await.expect("PostgreSQL runs");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&admin).await.expect("create database");
    admin.close().await;
    format!("{base}/{name}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_prefixes_are_unique() {
        assert_ne!(unique("t"), unique("t"));
        let p = redis_prefix();
        assert!(p.starts_with("test:") && p.ends_with(':'), "{p}");
        assert_ne!(p, redis_prefix());
    }
}
