//! `/api/health` and `/api/health/ready` through the gateway to the template's health function,
//! which asks every function's own readiness in-process (as it invokes them in AWS).

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::helpers::start;

/// The template's HTTP functions the health function asks (all but itself and the webhook).
const FUNCTIONS: [&str; 6] = ["accounts", "catalog", "inventory", "cart", "orders", "payments"];

fn names(checks: &Value) -> Vec<String> {
    checks.as_array().into_iter().flatten().map(|c| c["name"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn readiness_lists_every_function_and_names_the_one_dependency_that_is_down() {
    let app = start(false).await;
    let live = app.call("GET", "/api/health", None, None).await;
    assert_eq!((live.status, live.body["status"].clone()), (200, Value::from("ok")), "{}", live.body);

    let ready = app.call("GET", "/api/health/ready", None, None).await;
    assert_eq!(ready.status, 200, "{}", ready.body);
    let checks = names(&ready.body["checks"]);
    assert_eq!(&checks[..6], FUNCTIONS, "{checks:?}");
    assert!(checks[6..].iter().all(|c| c.starts_with("sqs:")) && checks.len() == 10, "the event-only functions' queues: {checks:?}");
    for function in ready.body["checks"].as_array().unwrap().iter().take(6) {
        assert_eq!(function["status"], "up", "{function}");
        assert!(!function["checks"].as_array().unwrap().is_empty(), "{} lists its own dependencies", function["name"]);
    }
    let kinds: Vec<String> = ready.body["checks"].as_array().unwrap().iter().flat_map(|f| names(&f["checks"])).collect();
    for kind in ["dynamodb:", "sqs:", "sns:", "postgres", "redis", "search", "secretsmanager:"] {
        assert!(kinds.iter().any(|k| k.starts_with(kind)), "{kind} is checked: {kinds:?}");
    }

    // Inventory's DynamoDB becomes unreachable: its function is rebuilt on an SDK pointed at a
    // closed port and registered in place of the running one (the health function asks it by name).
    let env = &app.cloud.environments["InventoryFunction"];
    let config = inventory::config::Config::from_lookup(&|name: &str| env.get(name).cloned()).unwrap();
    let dead = aws_sdk_dynamodb::config::Builder::from(&app.cloud.sdk).endpoint_url("http://127.0.0.1:9").build();
    let store = inventory::store::Store::new(aws_sdk_dynamodb::Client::from_conf(dead), &config.table);
    let catalog = inventory::clients::Catalog::new(shop_internal::InternalClient::new(&app.cloud.sdk, &config.catalog_function, "test"));
    let name = app.cloud.provisioned.resolver.refs["InventoryFunction"].clone();
    shop_internal::register_local(&name, inventory::router(inventory::AppState::new(store, catalog)));

    let down_count = |metrics: &Value| metrics["Skyshop"]["inventory"]["DependencyDown"]["sum"].as_f64().unwrap_or(0.0);
    let before = down_count(&app.call("GET", "/_local/metrics", None, None).await.body);
    let started = Instant::now();
    let down = app.call("GET", "/api/health/ready", None, None).await;
    assert!(started.elapsed() < Duration::from_secs(3), "within the probe timeout: {:?}", started.elapsed());
    assert_eq!(down.status, 503, "{}", down.body);
    assert_eq!(down.headers.get("retry-after").and_then(|v| v.to_str().ok()), Some("5"));
    assert_eq!(down.body["down"], serde_json::json!([format!("inventory/dynamodb:{}", config.table)]), "{}", down.body);
    assert_eq!(down.body["checks"][0]["status"], "up", "the others are still up");
    // The metric `DependencyDownAlarm` watches rose (EMF in AWS; summed by the runner here).
    let after = down_count(&app.call("GET", "/_local/metrics", None, None).await.body);
    assert!(after >= before + 1.0, "DependencyDown for inventory: {before} → {after}");
}

/// `scripts/dev` serves the API and prints that it is ready only after the start-up seed is
/// visible: right after `seed_on_start` returns, the storefront lists every seeded product and
/// shows every product the data set has in stock as in stock (including the filtered listings
/// that used to show a fraction of them for the first seconds).
#[tokio::test]
async fn the_start_up_seed_is_listed_and_indexed_when_the_runner_says_ready() {
    let app = start(true).await;
    let seed = app.cloud.seed_on_start(|_, _| {}).await.unwrap().expect("a new cloud's catalog is empty");
    let data: Value = serde_json::from_str(&std::fs::read_to_string(local_runner::cloud::seed_data_path()).unwrap()).unwrap();
    let products = data["products"].as_array().unwrap();
    let in_stock = products.iter().filter(|p| p["stock"].as_u64().unwrap() > 0).count();
    assert_eq!(seed.in_stock, in_stock);
    // No waiting from here on.
    let all = app.call("GET", "/api/products?limit=1", None, None).await;
    assert_eq!(all.body["meta"]["total"], products.len(), "{}", all.body["meta"]);
    let stocked = app.call("GET", "/api/products?inStock=true&limit=1", None, None).await;
    assert_eq!(stocked.body["meta"]["total"], in_stock, "{}", stocked.body["meta"]);
    let over_20 = products.iter().filter(|p| p["stock"].as_u64().unwrap() > 0 && p["price"].as_f64().unwrap() >= 20.0).count();
    let filtered = app.call("GET", "/api/products?inStock=true&minPrice=2000&limit=1", None, None).await;
    assert_eq!(filtered.body["meta"]["total"], over_20, "{}", filtered.body["meta"]);
    // Seeding again is nothing to wait for.
    assert!(app.cloud.seed_on_start(|_, _| {}).await.unwrap().is_none());
}
