//! A table's DynamoDB stream read from its start, in the Lambda `DynamoDBEvent` JSON form (the
//! form `shop_aws::streams` reads), for feeding real stream records to a function's handler.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use aws_sdk_dynamodbstreams::types::{AttributeValue, Record, ShardIteratorType};
use serde_json::{Value, json};

/// Reads a table's stream from its start, in the Lambda event's JSON form. Reads continue
/// where the previous one stopped.
pub struct StreamReader {
    client: aws_sdk_dynamodbstreams::Client,
    arn: String,
    iterators: BTreeMap<String, Option<String>>,
}

impl StreamReader {
    /// A reader of the stream `arn`, on the local stand-ins.
    pub async fn new(arn: impl Into<String>) -> Self {
        Self { client: aws_sdk_dynamodbstreams::Client::new(crate::sdk().await), arn: arn.into(), iterators: BTreeMap::new() }
    }

    /// A reader of `table`'s latest stream.
    pub async fn of_table(dynamo: &aws_sdk_dynamodb::Client, table: &str) -> Self {
        let described = dynamo.describe_table().table_name(table).send().await.unwrap();
        let arn = described.table().unwrap().latest_stream_arn().unwrap().to_owned();
        Self::new(arn).await
    }

    /// Every record written since the last read, waiting (up to 15 s) until `n` of them match
    /// `counted`.
    pub async fn read(&mut self, n: usize, counted: impl Fn(&Value) -> bool) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(15);
        let mut out = Vec::new();
        let mut matching = 0;
        while matching < n {
            assert!(Instant::now() < deadline, "only {matching} of {n} stream records arrived");
            let described = self.client.describe_stream().stream_arn(&self.arn).send().await.unwrap();
            for shard in described.stream_description().unwrap().shards() {
                let id = shard.shard_id().unwrap().to_owned();
                if !self.iterators.contains_key(&id) {
                    let it = self
                        .client
                        .get_shard_iterator()
                        .stream_arn(&self.arn)
                        .shard_id(&id)
                        .shard_iterator_type(ShardIteratorType::TrimHorizon)
                        .send()
                        .await
                        .unwrap();
                    self.iterators.insert(id, it.shard_iterator().map(str::to_owned));
                }
            }
            for iterator in self.iterators.values_mut() {
                let Some(current) = iterator.clone() else { continue };
                let page = self.client.get_records().shard_iterator(current).send().await.unwrap();
                let records: Vec<Value> = page.records().iter().map(|r| record_json(r, &self.arn)).collect();
                matching += records.iter().filter(|r| counted(r)).count();
                out.extend(records);
                *iterator = page.next_shard_iterator().map(str::to_owned);
            }
            if matching < n {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        out
    }

    /// The next `n` records (waits for them), asserting no more than `n` arrived.
    pub async fn read_exactly(&mut self, n: usize) -> Vec<Value> {
        let out = self.read(n, |_| true).await;
        assert_eq!(out.len(), n, "exactly the expected stream records: {out:#?}");
        out
    }
}

fn image(item: &HashMap<String, AttributeValue>) -> Value {
    serde_json::to_value(serde_dynamo::Item::from(item.clone())).unwrap()
}

/// The Lambda `DynamoDBEvent` record of a stream record, as Lambda (and the local runner) deliver it.
pub fn record_json(record: &Record, arn: &str) -> Value {
    let change = record.dynamodb().unwrap();
    let mut dynamodb = json!({
        "SequenceNumber": change.sequence_number(),
        "SizeBytes": change.size_bytes(),
        "StreamViewType": change.stream_view_type().map(|v| v.as_str()),
    });
    if let Some(keys) = change.keys() {
        dynamodb["Keys"] = image(keys);
    }
    if let Some(new) = change.new_image() {
        dynamodb["NewImage"] = image(new);
    }
    if let Some(old) = change.old_image() {
        dynamodb["OldImage"] = image(old);
    }
    json!({
        "eventID": record.event_id(),
        "eventName": record.event_name().map(|n| n.as_str()),
        "eventVersion": record.event_version(),
        "eventSource": "aws:dynamodb",
        "awsRegion": record.aws_region(),
        "dynamodb": dynamodb,
        "eventSourceARN": arn,
    })
}
