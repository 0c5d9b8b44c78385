//! X-Ray through the local cloud: one checkout is one trace whose segments and subsegments
//! (every SDK call, every internal invoke) form one tree, each hop under the call that made it.

use std::collections::{BTreeSet, HashMap};

use serde_json::{Value, json};

use crate::helpers::{Running, order, product_with_stock, register_buyer, start};

/// The documents of trace `root`: they arrive over UDP as each call ends, so read until
/// `complete` holds (or fail after 30 s).
async fn trace(app: &Running, root: &str, complete: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let started = std::time::Instant::now();
    loop {
        let documents = app.call("GET", &format!("/_local/traces/{root}"), None, None).await.body.as_array().cloned().unwrap_or_default();
        if complete(&documents) {
            return documents;
        }
        assert!(started.elapsed().as_secs() < 30, "the trace's segments did not reach the local daemon: {documents:#?}");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn one_checkout_is_one_trace_showing_every_hop() {
    let app = start(false).await;
    let admin = app.admin_token().await;
    let product = product_with_stock(&app, &admin, 5).await;
    let (registered, _) = register_buyer(&app).await;
    let token = registered["accessToken"].as_str().unwrap().to_owned();
    let added = app.call("POST", "/api/cart/items", Some(&token), Some(json!({"productId": product, "quantity": 2}))).await;
    assert_eq!(added.status, 200, "{}", added.body);

    // A client's own trace header is not trusted: the gateway starts the trace.
    let forged = "Root=1-00000000-000000000000000000000000;Sampled=1";
    let placed = {
        let address = json!({"firstName": "Ada", "lastName": "Lovelace", "address1": "1 Trace Street", "city": "London", "state": "LDN", "postalCode": "N1 1AA", "country": "GB"});
        let body = json!({"shippingAddress": address, "paymentMethod": "cod"});
        app.call_with("POST", "/api/orders", Some(&token), &[("idempotency-key", "trace-1"), ("x-amzn-trace-id", forged)], Some(body)).await
    };
    assert_eq!(placed.status, 201, "{}", placed.body);
    let header = placed.headers["x-amzn-trace-id"].to_str().unwrap().to_owned();
    let root = header.strip_prefix("Root=").unwrap().to_owned();
    assert_ne!(root, "1-00000000-000000000000000000000000");

    let documents = trace(&app, &root, |documents| {
        documents.iter().any(|d| d["name"] == "OrdersFunction")
            && documents.iter().filter(|d| d["aws"]["operation"] == "Invoke").count() >= 2
    })
    .await;

    // One segment: the orders function's invocation, with the request and its status.
    let segments: Vec<&Value> = documents.iter().filter(|d| d.get("parent_id").is_none()).collect();
    assert_eq!(segments.len(), 1, "{documents:#?}");
    assert_eq!(segments[0]["name"], "OrdersFunction");
    assert_eq!(segments[0]["http"]["response"]["status"], 201);

    // A tree: every subsegment names a parent in the same trace, and ends after it starts.
    let by_id: HashMap<&str, &Value> = documents.iter().map(|d| (d["id"].as_str().unwrap(), d)).collect();
    for d in &documents {
        assert_eq!(d["trace_id"], root.as_str());
        assert!(d["end_time"].as_f64().unwrap() >= d["start_time"].as_f64().unwrap(), "{d}");
        if let Some(parent) = d.get("parent_id") {
            assert!(by_id.contains_key(parent.as_str().unwrap()), "a dangling parent: {d}");
        }
    }

    // Every hop of the checkout: orders invokes cart and inventory, and the calls those
    // functions make to their own stores hang under the invoke that reached them.
    let invoked: BTreeSet<String> = documents
        .iter()
        .filter(|d| d["aws"]["operation"] == "Invoke")
        .map(|d| d["aws"]["function_name"].as_str().unwrap().to_owned())
        .collect();
    for function in ["CartFunction", "InventoryFunction"] {
        assert!(invoked.iter().any(|f| f.starts_with(function)), "{function} not invoked in {invoked:?}");
    }
    let under_invoke = |service: &str, function: &str| {
        documents.iter().any(|d| {
            d["name"] == service
                && by_id.get(d["parent_id"].as_str().unwrap_or("")).is_some_and(|p| {
                    p["aws"]["operation"] == "Invoke" && p["aws"]["function_name"].as_str().unwrap_or("").starts_with(function)
                })
        })
    };
    assert!(under_invoke("DynamoDB", "InventoryFunction"), "inventory's DynamoDB calls under its invoke: {documents:#?}");
    let operations: BTreeSet<&str> =
        documents.iter().filter(|d| d["name"] == "DynamoDB").filter_map(|d| d["aws"]["operation"].as_str()).collect();
    assert!(operations.contains("TransactWriteItems"), "the reservation's transaction: {operations:?}");
    assert!(documents.iter().all(|d| d.get("fault").is_none()), "no faults in a good checkout");
}

/// The calls made without an SDK are subsegments too: a payment intent's trace shows its call
/// to Stripe (here localstripe) under the payments function, named by host, with neither the
/// secret key nor the query in it.
#[tokio::test(flavor = "multi_thread")]
async fn a_payment_intent_shows_its_call_to_stripe() {
    let app = start(false).await;
    let admin = app.admin_token().await;
    let product = product_with_stock(&app, &admin, 5).await;
    let (registered, _) = register_buyer(&app).await;
    let token = registered["accessToken"].as_str().unwrap().to_owned();
    let added = app.call("POST", "/api/cart/items", Some(&token), Some(json!({"productId": product, "quantity": 1}))).await;
    assert_eq!(added.status, 200, "{}", added.body);
    let placed = order(&app, &token, "trace-card", "card").await;
    assert_eq!(placed.status, 201, "{}", placed.body);
    let intent = app.call("POST", "/api/payments/intents", Some(&token), Some(json!({"orderId": placed.body["id"]}))).await;
    assert_eq!(intent.status, 201, "{}", intent.body);
    let header = intent.headers["x-amzn-trace-id"].to_str().unwrap().to_owned();
    let root = header.strip_prefix("Root=").unwrap().to_owned();

    let documents = trace(&app, &root, |documents| documents.iter().any(|d| d["namespace"] == "remote")).await;
    let stripe: Vec<&Value> = documents.iter().filter(|d| d["namespace"] == "remote").collect();
    assert_eq!(stripe.len(), 1, "one call creates the intent: {documents:#?}");
    let call = stripe[0];
    assert_eq!(call["name"], "127.0.0.1", "named by the host: {call}");
    assert_eq!(call["http"]["request"]["method"], "POST");
    assert!(call["http"]["request"]["url"].as_str().unwrap().ends_with("/v1/payment_intents"), "{call}");
    assert_eq!(call["http"]["response"]["status"], 200);
    assert!(call.get("error").is_none() && call.get("fault").is_none(), "{call}");
    let parent = documents.iter().find(|d| d["id"] == call["parent_id"]).expect("the call's parent is in the trace");
    assert_eq!(parent["name"], "PaymentsFunction", "under the payments function's segment: {parent}");
    let text = serde_json::to_string(&documents).unwrap();
    assert!(!text.contains("sk_test") && !text.contains("Bearer"), "no credentials in the trace");
}
