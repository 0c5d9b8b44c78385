//! The health function through its router: liveness, and readiness fanned out to function
//! routers registered in-process (as the local runner does), each checking real dependencies on
//! the stand-ins (DynamoDB Local, SQS on moto).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod probes;

use std::time::{Duration, Instant};

use axum::Router;
use shop_core::health::Probe;
use shop_internal::InternalClient;
use shop_testkit::Req;

/// A function router whose readiness runs `probes` (built anew for each request).
fn function(service: &'static str, probes: fn(&Deps) -> Vec<Probe>, deps: Deps) -> Router {
    shop_core::http::finish(shop_core::health::router(service, probes).with_state(deps))
}

#[derive(Clone)]
struct Deps {
    ddb: aws_sdk_dynamodb::Client,
    table: String,
}

fn table_probe(deps: &Deps) -> Vec<Probe> {
    vec![shop_aws::health::dynamodb_table(&deps.ddb, &deps.table)]
}

/// A DynamoDB client pointed at a port nothing listens on.
async fn dead_dynamodb() -> aws_sdk_dynamodb::Client {
    let config = aws_sdk_dynamodb::config::Builder::from(shop_testkit::sdk().await).endpoint_url("http://127.0.0.1:9").build();
    aws_sdk_dynamodb::Client::from_conf(config)
}

/// Registers `router` under a unique function name and returns a client of it.
fn register(router: Router) -> String {
    let name = shop_testkit::unique("fn");
    shop_internal::register_local(&name, router);
    name
}

async fn health(targets: Vec<(&'static str, String)>, queues: Vec<String>) -> Router {
    let sdk = shop_testkit::sdk().await;
    let targets =
        targets.into_iter().map(|(s, f)| (s, InternalClient::with_policy(sdk, f, health::CALLER, health::call_policy()))).collect();
    health::router(health::AppState::new(targets, aws_sdk_sqs::Client::new(sdk), queues))
}

#[tokio::test]
async fn liveness_answers_ok_without_asking_anything() {
    // No target is registered: liveness does not ask them.
    let router = health(vec![("accounts", shop_testkit::unique("nowhere"))], vec![]).await;
    let body = Req::get("/api/health").send(&router).await.expect(200);
    assert_eq!(body["status"], "ok");
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
}

#[tokio::test]
async fn readiness_is_200_listing_every_function_and_its_dependencies_when_all_is_up() {
    let (ddb, table) = shop_testkit::table("InventoryTable").await;
    let (_, queue) = shop_testkit::queue("NotificationsQueue").await;
    let a = register(function("accounts", table_probe, Deps { ddb: ddb.clone(), table: table.clone() }));
    let b = register(function("inventory", table_probe, Deps { ddb, table: table.clone() }));
    let router = health(vec![("accounts", a), ("inventory", b)], vec![queue.clone()]).await;
    let response = Req::get("/api/health/ready").send(&router).await;
    let body = response.expect(200);
    assert_eq!(body["status"], "ok");
    assert_eq!(body["down"], serde_json::json!([]));
    let names: Vec<&str> = body["checks"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    let queue_name = queue.rsplit('/').next().unwrap();
    assert_eq!(names, ["accounts", "inventory", &format!("sqs:{queue_name}")]);
    assert_eq!(body["checks"][0]["checks"][0]["name"], format!("dynamodb:{table}"));
    assert_eq!(body["checks"][0]["checks"][0]["status"], "up");
    assert!(body["checks"][0]["latencyMs"].as_f64().unwrap() >= 0.0);
}

#[tokio::test]
async fn a_dependency_on_a_dead_port_is_503_naming_it_quickly() {
    let (ddb, table) = shop_testkit::table("InventoryTable").await;
    let up = register(function("accounts", table_probe, Deps { ddb, table: table.clone() }));
    let broken = register(function("inventory", table_probe, Deps { ddb: dead_dynamodb().await, table: table.clone() }));
    let router = health(vec![("accounts", up), ("inventory", broken)], vec![]).await;
    let started = Instant::now();
    let response = Req::get("/api/health/ready").send(&router).await;
    assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
    let body = response.expect(503);
    assert_eq!(response.header("retry-after"), Some("5"));
    assert_eq!(body["status"], "unavailable");
    assert_eq!(body["down"], serde_json::json!([format!("inventory/dynamodb:{table}")]));
    assert_eq!(body["checks"][0]["status"], "up");
    assert_eq!(body["checks"][1]["checks"][0]["status"], "down");
    assert!(body["checks"][1]["checks"][0]["error"].as_str().unwrap().len() > 3);
}

#[tokio::test]
async fn a_function_that_does_not_answer_in_time_is_down() {
    let (ddb, table) = shop_testkit::table("InventoryTable").await;
    let up = register(function("accounts", table_probe, Deps { ddb, table }));
    let slow = register(shop_core::http::finish(Router::new().route(
        shop_core::health::READY_PATH,
        axum::routing::get(|| async {
            tokio::time::sleep(Duration::from_secs(30)).await;
            "late"
        }),
    )));
    let (_, queue) = shop_testkit::queue("NotificationsQueue").await;
    let missing_queue = format!("{}-gone", queue);
    let router = health(vec![("accounts", up), ("cart", slow)], vec![missing_queue]).await;
    let started = Instant::now();
    let body = Req::get("/api/health/ready").send(&router).await.expect(503);
    let elapsed = started.elapsed();
    assert!(elapsed >= health::FUNCTION_TIMEOUT && elapsed < health::FUNCTION_TIMEOUT + Duration::from_secs(1), "{elapsed:?}");
    let down: Vec<&str> = body["down"].as_array().unwrap().iter().map(|d| d.as_str().unwrap()).collect();
    assert_eq!(down.len(), 2, "{body}");
    assert_eq!(down[0], "cart");
    assert!(down[1].starts_with("sqs:") && down[1].ends_with("-gone"), "{down:?}");
}

#[tokio::test]
async fn the_internal_readiness_route_is_not_reachable_from_outside() {
    let (ddb, table) = shop_testkit::table("InventoryTable").await;
    let router = function("accounts", table_probe, Deps { ddb, table });
    Req::get(shop_core::health::READY_PATH).send(&router).await.expect_problem(404, "route_not_found");
}
