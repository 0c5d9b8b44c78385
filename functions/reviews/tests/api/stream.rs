//! The stream consumer (`reviews-events`): the table's real stream records of summary changes
//! go to the catalog as the product's rating; an older or repeated one never takes it back.

use reviews::events::Events;
use serde_json::{Value, json};
use shop_aws::streams::StreamEvent;
use shop_testkit::Req;
use shop_testkit::streams::StreamReader;

use crate::ctx;

fn is_summary(record: &Value) -> bool {
    record.pointer("/dynamodb/Keys/sk/S").and_then(Value::as_str) == Some("SUMMARY")
}

#[tokio::test]
async fn summary_changes_reach_the_catalog_and_old_ones_never_win() {
    let ctx = ctx().await;
    let product = ctx.product().await;
    let mut reader = StreamReader::of_table(&ctx.ddb, &ctx.table).await;
    let events = Events::new(ctx.catalog_client.clone());

    let (author, id) = ctx.reviewed(product, 5).await;
    ctx.reviewed(product, 2).await;
    let records = reader.read(2, is_summary).await;
    let response = events.handle_stream(StreamEvent { records: records.clone() }).await;
    assert!(response.batch_item_failures.is_empty());
    let shown = ctx.catalog_product(product).await;
    assert_eq!((shown["ratingAverage"].as_f64(), shown["ratingCount"].as_u64()), (Some(3.5), Some(2)));

    // Hidden: out of the rating.
    ctx.send_as(&ctx.admin, Req::post(&format!("/api/reviews/{id}/hide")).json(json!({"reason": "spam"}))).await.expect(200);
    let hidden = reader.read(1, is_summary).await;
    assert!(events.handle_stream(StreamEvent { records: hidden }).await.batch_item_failures.is_empty());
    let shown = ctx.catalog_product(product).await;
    assert_eq!((shown["ratingAverage"].as_f64(), shown["ratingCount"].as_u64()), (Some(2.0), Some(1)));

    // The first batch again (a retry, or a late delivery): the newer rating stays.
    assert!(events.handle_stream(StreamEvent { records }).await.batch_item_failures.is_empty());
    let shown = ctx.catalog_product(product).await;
    assert_eq!((shown["ratingAverage"].as_f64(), shown["ratingCount"].as_u64()), (Some(2.0), Some(1)));
    // The public product shows it too, and a seller's edit of the product keeps it.
    crate::send_as(&ctx.catalog, &ctx.seller, Req::put(&format!("/api/products/{product}")).json(json!({"price": 2999}))).await.expect(200);
    let public = Req::get(&format!("/api/products/{product}")).send(&ctx.catalog).await.expect(200);
    assert_eq!((public["ratingAverage"].as_f64(), public["ratingCount"].as_u64()), (Some(2.0), Some(1)));
    let _ = author;
}

#[tokio::test]
async fn records_other_than_summaries_are_skipped_and_unknown_products_are_not_retried() {
    let ctx = ctx().await;
    let events = Events::new(ctx.catalog_client.clone());
    let unknown = uuid::Uuid::now_v7();
    let record = |sk: &str, seq: &str| {
        json!({"eventName": "INSERT", "dynamodb": {
            "Keys": {"pk": {"S": format!("PRODUCT#{unknown}")}, "sk": {"S": sk}},
            "NewImage": {"pk": {"S": format!("PRODUCT#{unknown}")}, "sk": {"S": sk}, "c5": {"N": "1"}, "version": {"N": "1"}},
            "SequenceNumber": seq}})
    };
    let response = events.handle_stream(StreamEvent { records: vec![record("AUTHOR#x", "1"), record("SUMMARY", "2")] }).await;
    assert!(response.batch_item_failures.is_empty(), "the catalog's 404 is final, not retried");
    let bad =
        json!({"eventName": "MODIFY", "dynamodb": {"Keys": {"pk": {"S": "PRODUCT#x"}, "sk": {"S": "SUMMARY"}}, "SequenceNumber": "3"}});
    let response = events.handle_stream(StreamEvent { records: vec![bad, record("SUMMARY", "4")] }).await;
    let failed: Vec<_> = response.batch_item_failures.iter().map(|f| f.item_identifier.clone().unwrap_or_default()).collect();
    assert_eq!(failed, ["3", "4"], "a record naming no product fails from itself on");
}
