//! The stream consumer on real stream records of the test's table: catalog availability,
//! one `StockLow` per crossing (deterministic envelope ids), the low-stock flag, failures.

use aws_lambda_events::event::streams::DynamoDbEventResponse;
use serde_json::{Value, json};
use shop_aws::events::Publisher;
use shop_aws::streams::StreamEvent;
use shop_internal::InternalClient;
use shop_testkit::Req;
use shop_testkit::streams::StreamReader;
use uuid::Uuid;

use crate::{Ctx, ctx, seller};

fn stock_records_of(ids: &[Uuid]) -> impl Fn(&Value) -> bool + use<> {
    let pks: Vec<String> = ids.iter().map(|id| format!("PRODUCT#{id}")).collect();
    move |r: &Value| {
        r["dynamodb"]["Keys"]["sk"]["S"] == "STOCK"
            && r["dynamodb"]["Keys"]["pk"]["S"].as_str().is_some_and(|pk| pks.iter().any(|p| p == pk))
    }
}

fn failures(response: &DynamoDbEventResponse) -> Vec<String> {
    response.batch_item_failures.iter().map(|f| f.item_identifier.clone().unwrap_or_default()).collect()
}

async fn events(ctx: &Ctx) -> (inventory::events::Events, aws_sdk_sqs::Client, String) {
    let (sqs, url) = shop_testkit::queue("NotificationsQueue").await;
    let publisher = Publisher::new(sqs.clone(), &url, inventory::CALLER);
    (inventory::events::Events::new(ctx.store.clone(), ctx.catalog_client.clone(), publisher), sqs, url)
}

#[tokio::test]
async fn stock_changes_reach_the_catalog_and_a_crossing_publishes_one_stock_low() {
    let ctx = ctx().await;
    let seller = seller();
    let (events, sqs, url) = events(&ctx).await;
    // P1: created at 20 (threshold 10) → reserved down to 8 (crosses) → adjusted to 0 → released back to 12.
    let p1 = ctx.stocked(&seller, 20, 10).await;
    let order = Uuid::now_v7();
    ctx.reserve(order, &[(p1, 12)]).await.unwrap();
    ctx.send_as(&seller, Req::post(&format!("/api/inventory/{p1}/adjust")).json(json!({"delta": -8, "reason": "lost"}))).await.expect(200);
    ctx.release(order).await.unwrap();
    // P2: created at 20 → reserved down to 5 (crosses; stays low).
    let p2 = ctx.stocked(&seller, 20, 10).await;
    ctx.reserve(Uuid::now_v7(), &[(p2, 15)]).await.unwrap();
    // An invisible change (above the threshold both times) on P3.
    let p3 = ctx.stocked(&seller, 50, 10).await;
    ctx.send_as(&seller, Req::post(&format!("/api/inventory/{p3}/adjust")).json(json!({"delta": -1, "reason": "count"}))).await.expect(200);

    let everything = StreamReader::of_table(&ctx.ddb, &ctx.table).await.read(4 + 2 + 2, stock_records_of(&[p1, p2, p3])).await;
    // The table also streams reservations and audit entries: the consumer ignores them.
    assert!(everything.len() > 8);
    ctx.calls.lock().unwrap().clear();

    let response = events.handle_stream(StreamEvent { records: everything.clone() }).await;
    assert!(failures(&response).is_empty());

    let calls = ctx.availability_calls();
    let bodies =
        |p: Uuid| -> Vec<Value> { calls.iter().filter(|(path, _, _)| path.contains(&p.to_string())).map(|(_, b, _)| b.clone()).collect() };
    assert!(calls.iter().all(|(_, _, status)| *status == 204), "{calls:?}");
    assert_eq!(
        bodies(p1),
        vec![
            json!({"available": 20, "lowStockThreshold": 10}),
            json!({"available": 8, "lowStockThreshold": 10}),
            json!({"available": 0, "lowStockThreshold": 10}),
            json!({"available": 12, "lowStockThreshold": 10}),
        ]
    );
    assert_eq!(bodies(p2), vec![json!({"available": 20, "lowStockThreshold": 10}), json!({"available": 5, "lowStockThreshold": 10})]);
    assert_eq!(bodies(p3), vec![json!({"available": 50, "lowStockThreshold": 10})], "the invisible change is not sent");
    let shown = ctx.catalog_product(p1).await;
    assert_eq!((shown["inStock"].clone(), shown["available"].clone()), (json!(true), Value::Null), "12 > 10: not shown");
    let shown = ctx.catalog_product(p2).await;
    assert_eq!((shown["inStock"].clone(), shown["available"].clone()), (json!(true), json!(5)));

    let messages = shop_testkit::drain(&sqs, &url).await;
    assert_eq!(messages.len(), 2, "one StockLow per crossing: {messages:#?}");
    let p1_low = &messages.iter().find(|m| m["data"]["productId"] == p1.to_string()).unwrap();
    assert_eq!(p1_low["type"], "StockLow");
    assert_eq!(p1_low["id"], inventory::events::stock_low_id(p1, 2).to_string(), "named by the crossing's version");
    assert_eq!(p1_low["data"]["available"], 8);
    assert_eq!(p1_low["data"]["threshold"], 10);
    assert_eq!(p1_low["data"]["sellerId"], seller.0);
    assert!(p1_low["data"]["productName"].as_str().unwrap().starts_with("Product "));

    // The low-stock index agrees with the rows after the relative changes: P2 low, P1 not.
    let low: Vec<Uuid> = ctx.store.low_stock(None).await.unwrap().into_iter().map(|s| s.product_id).collect();
    assert_eq!(low, vec![p2]);

    // A retried batch sends the same envelope ids (the notifications function sends each once).
    let again = events.handle_stream(StreamEvent { records: everything }).await;
    assert!(failures(&again).is_empty());
    let repeated = shop_testkit::drain(&sqs, &url).await;
    let mut ids: Vec<&Value> = repeated.iter().map(|m| &m["id"]).collect();
    let mut first: Vec<&Value> = messages.iter().map(|m| &m["id"]).collect();
    ids.sort_by_key(|v| v.to_string());
    first.sort_by_key(|v| v.to_string());
    assert_eq!(ids, first);
}

#[tokio::test]
async fn a_failing_catalog_fails_the_batch_from_that_record_and_publishes_nothing_after_it() {
    let ctx = ctx().await;
    let seller = seller();
    let p = ctx.stocked(&seller, 20, 10).await;
    ctx.send_as(&seller, Req::post(&format!("/api/inventory/{p}/adjust")).json(json!({"delta": -15, "reason": "x"}))).await.expect(200);
    let is_stock = stock_records_of(&[p]);
    let records: Vec<Value> =
        StreamReader::of_table(&ctx.ddb, &ctx.table).await.read(2, &is_stock).await.into_iter().filter(|r| is_stock(r)).collect();

    let down = shop_testkit::unique("catalog-down");
    shop_internal::register_local(&down, axum::Router::new().fallback(|| async { http::StatusCode::SERVICE_UNAVAILABLE }));
    let catalog = inventory::clients::Catalog::new(InternalClient::new(shop_testkit::sdk().await, &down, inventory::CALLER));
    let (sqs, url) = shop_testkit::queue("NotificationsQueue").await;
    let events = inventory::events::Events::new(ctx.store.clone(), catalog, Publisher::new(sqs.clone(), &url, inventory::CALLER));

    let mut batch = vec![
        json!({"eventName": "INSERT", "dynamodb": {"Keys": {"pk": {"S": "RESERVATION#x"}, "sk": {"S": "RESERVATION"}}, "SequenceNumber": "1"}}),
    ];
    batch.extend(records.clone());
    let response = events.handle_stream(StreamEvent { records: batch }).await;
    let sequences: Vec<String> = records.iter().map(|r| r["dynamodb"]["SequenceNumber"].as_str().unwrap().to_owned()).collect();
    assert_eq!(failures(&response), sequences, "retried from the first record the catalog did not take");
    assert!(shop_testkit::drain(&sqs, &url).await.is_empty());

    // A record that is not a stock row fails alone (with the rest after it).
    let bad = json!({"eventName": "MODIFY", "dynamodb": {"Keys": {"pk": {"S": format!("PRODUCT#{p}")}, "sk": {"S": "STOCK"}}, "SequenceNumber": "9", "NewImage": {"available": {"S": "many"}}}});
    let response = events.handle_stream(StreamEvent { records: vec![bad] }).await;
    assert_eq!(failures(&response), vec!["9".to_owned()]);
}

#[tokio::test]
async fn the_invocation_entry_point_tells_batches_from_schedules() {
    let ctx = ctx().await;
    let (events, _, _) = events(&ctx).await;
    assert_eq!(events.invoke(json!({"Records": []})).await.unwrap(), json!({"batchItemFailures": []}));
    assert!(events.invoke(json!({"hello": "world"})).await.is_err());
    assert!(events.invoke(json!({"Records": 3})).await.is_err());
}

/// A seller toggling stock around the threshold mails the admins once per product and day, not
/// once per crossing; a retried batch still republishes the same crossing's envelope.
#[tokio::test]
async fn stock_low_mails_are_debounced_per_product() {
    let ctx = ctx().await;
    let seller = seller();
    let (events, sqs, url) = events(&ctx).await;
    let p = ctx.stocked(&seller, 20, 10).await;
    for _ in 0..3 {
        let order = Uuid::now_v7();
        ctx.reserve(order, &[(p, 12)]).await.unwrap(); // 20 → 8: a crossing
        ctx.release(order).await.unwrap(); // back to 20
    }
    let records = StreamReader::of_table(&ctx.ddb, &ctx.table).await.read(1 + 6, stock_records_of(&[p])).await;
    let response = events.handle_stream(StreamEvent { records: records.clone() }).await;
    assert!(failures(&response).is_empty());
    let messages = shop_testkit::drain(&sqs, &url).await;
    assert_eq!(messages.len(), 1, "three crossings, one mail: {messages:#?}");
    assert_eq!(messages[0]["id"], inventory::events::stock_low_id(p, 2).to_string());

    let again = events.handle_stream(StreamEvent { records }).await;
    assert!(failures(&again).is_empty());
    let repeated = shop_testkit::drain(&sqs, &url).await;
    assert_eq!(repeated.iter().map(|m| m["id"].clone()).collect::<Vec<_>>(), vec![messages[0]["id"].clone()], "the same crossing again");
}
