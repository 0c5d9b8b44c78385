//! Stream batches → index writes.
//!
//! Records are decoded one by one from the Lambda `DynamoDBEvent` JSON (images in DynamoDB JSON,
//! `{"S": "..."}`), so a malformed record fails alone instead of failing the whole batch. Only
//! product items count (`pk = PRODUCT#<id>`, `sk = PRODUCT`); categories and guards are ignored.

use std::collections::HashMap;

use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use catalog::domain::Product;
use catalog::search::{indexable, product_doc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use shop_core::problem::ErrorChain;
use shop_search::{ProductDoc, SearchError};
use uuid::Uuid;

use crate::Indexer;

/// Most documents (or ids) sent to the engine in one call.
pub const MAX_DOCS_PER_CALL: usize = 500;

/// A DynamoDB stream batch as Lambda delivers it (`DynamoDBEvent`). Records stay JSON until each
/// is decoded on its own.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StreamEvent {
    #[serde(rename = "Records")]
    pub records: Vec<Value>,
}

/// What one record asks of the index.
#[derive(Debug)]
enum Change {
    /// Not a product item.
    Ignored,
    Upsert(Box<ProductDoc>),
    Delete,
}

/// Why a record cannot be applied.
#[derive(Debug, thiserror::Error)]
enum DecodeError {
    #[error("the record has no dynamodb.Keys with string pk and sk")]
    NoKeys,
    #[error("the product key does not end in a UUID")]
    BadId,
    #[error("unknown eventName {0:?}")]
    UnknownEvent(String),
    #[error("{0} record without NewImage (the stream must carry NEW_AND_OLD_IMAGES)")]
    NoNewImage(String),
    #[error("NewImage is not DynamoDB JSON")]
    ImageJson(#[source] serde_json::Error),
    #[error("NewImage is not a product")]
    NotAProduct(#[source] serde_dynamo::Error),
    #[error("NewImage holds product {found}, its key names another")]
    IdMismatch { found: Uuid },
}

/// The last change of one product in a batch.
#[derive(Debug)]
struct Latest {
    /// Index of the product's first record in the batch: where a retry must start.
    first: usize,
    change: Result<Change, ()>,
}

fn sequence_number(record: &Value) -> Option<String> {
    record.get("dynamodb")?.get("SequenceNumber")?.as_str().map(str::to_owned)
}

fn string_key<'a>(keys: &'a Value, name: &str) -> Option<&'a str> {
    keys.get(name)?.get("S")?.as_str()
}

/// Decodes one record: the product id (when the key names one) and its change. Takes the
/// `NewImage` out of `record`.
fn decode(record: &mut Value) -> (Option<Uuid>, Result<Change, DecodeError>) {
    let Some(keys) = record.get("dynamodb").and_then(|d| d.get("Keys")) else { return (None, Err(DecodeError::NoKeys)) };
    let (Some(pk), Some(sk)) = (string_key(keys, "pk"), string_key(keys, "sk")) else { return (None, Err(DecodeError::NoKeys)) };
    let Some(id) = pk.strip_prefix("PRODUCT#").filter(|_| sk == "PRODUCT") else { return (None, Ok(Change::Ignored)) };
    let Ok(id) = Uuid::parse_str(id) else { return (None, Err(DecodeError::BadId)) };
    let event = record.get("eventName").and_then(Value::as_str).unwrap_or_default().to_owned();
    let change = match event.as_str() {
        "INSERT" | "MODIFY" => {
            let image = record.get_mut("dynamodb").and_then(|d| d.get_mut("NewImage")).map(Value::take).filter(|v| !v.is_null());
            match image {
                None => Err(DecodeError::NoNewImage(event)),
                Some(image) => decode_product(id, image),
            }
        }
        "REMOVE" => Ok(Change::Delete),
        _ => Err(DecodeError::UnknownEvent(event.chars().take(32).collect())),
    };
    (Some(id), change)
}

fn decode_product(id: Uuid, image: Value) -> Result<Change, DecodeError> {
    let item: serde_dynamo::Item = serde_json::from_value(image).map_err(DecodeError::ImageJson)?;
    let product: Product = serde_dynamo::from_item(item).map_err(DecodeError::NotAProduct)?;
    if product.id != id {
        return Err(DecodeError::IdMismatch { found: product.id });
    }
    Ok(if indexable(&product) { Change::Upsert(Box::new(product_doc(&product))) } else { Change::Delete })
}

/// One engine call: the documents or ids, and the first record it covers.
enum Call {
    Upsert(usize, Vec<ProductDoc>),
    Delete(usize, Vec<Uuid>),
}

impl Call {
    fn first(&self) -> usize {
        match self {
            Call::Upsert(first, _) | Call::Delete(first, _) => *first,
        }
    }
}

/// Splits `items` (first record index, value) into calls of at most [`MAX_DOCS_PER_CALL`].
fn chunked<T>(mut items: Vec<(usize, T)>, make: fn(usize, Vec<T>) -> Call) -> Vec<Call> {
    items.sort_by_key(|(first, _)| *first);
    let mut calls = Vec::new();
    while !items.is_empty() {
        let rest = items.split_off(items.len().min(MAX_DOCS_PER_CALL));
        let first = items.first().map_or(0, |(first, _)| *first);
        calls.push(make(first, items.into_iter().map(|(_, v)| v).collect()));
        items = rest;
    }
    calls
}

impl Indexer {
    /// Applies a stream batch to the index and reports the records to retry: every record from
    /// the first one affected by an engine failure or an undecodable record on, by
    /// `SequenceNumber` (a record without one is reported with an empty identifier, which makes
    /// Lambda retry the whole batch). Changes are coalesced per product (last record wins).
    #[tracing::instrument(skip_all, fields(records = event.records.len()))]
    pub async fn handle_stream(&self, event: StreamEvent) -> DynamoDbEventResponse {
        let mut records = event.records;
        let sequences: Vec<Option<String>> = records.iter().map(sequence_number).collect();
        let mut latest: HashMap<Uuid, Latest> = HashMap::new();
        let mut first_failed: Option<usize> = None;
        let mut fail_at = |index: usize| first_failed = Some(first_failed.map_or(index, |f| f.min(index)));
        let mut ignored = 0usize;

        for (index, record) in records.iter_mut().enumerate() {
            let (id, change) = decode(record);
            match (id, change) {
                (_, Ok(Change::Ignored)) => ignored += 1,
                (Some(id), Ok(change)) => latest.entry(id).or_insert(Latest { first: index, change: Err(()) }).change = Ok(change),
                (id, Err(err)) => {
                    tracing::error!(
                        sequence_number = sequences[index].as_deref().unwrap_or_default(),
                        product_id = id.map(|id| id.to_string()).unwrap_or_default(),
                        error = %ErrorChain(&err),
                        "stream record cannot be indexed; will retry, then go to the on-failure queue"
                    );
                    fail_at(index);
                    if let Some(id) = id {
                        latest.entry(id).or_insert(Latest { first: index, change: Err(()) }).change = Err(());
                    }
                }
                (None, Ok(_)) => fail_at(index),
            }
        }

        let (mut upserts, mut deletes) = (Vec::new(), Vec::new());
        for (id, Latest { first, change }) in latest {
            match change {
                Ok(Change::Upsert(doc)) => upserts.push((first, *doc)),
                Ok(Change::Delete) => deletes.push((first, id)),
                Ok(Change::Ignored) => {}
                // The product's last record is undecodable: its state is unknown, so neither an
                // earlier image nor a delete is applied; the retry starts at its first record.
                Err(()) => fail_at(first),
            }
        }
        let (upserted, deleted) = (upserts.len(), deletes.len());
        let mut calls = chunked(upserts, Call::Upsert);
        calls.extend(chunked(deletes, Call::Delete));

        let results = futures::future::join_all(calls.into_iter().map(|call| async move {
            let first = call.first();
            let result: Result<(), SearchError> = match call {
                Call::Upsert(_, docs) => self.engine.upsert(docs).await,
                Call::Delete(_, ids) => self.engine.delete(ids).await,
            };
            (first, result)
        }))
        .await;
        for (first, result) in results {
            if let Err(err) = result {
                tracing::error!(
                    sequence_number = sequences[first].as_deref().unwrap_or_default(),
                    error = %ErrorChain(&err),
                    "search engine write failed; will retry from this record"
                );
                fail_at(first);
            }
        }

        if upserted + deleted > 0 {
            self.index_changed().await;
        }
        let mut response = DynamoDbEventResponse::default();
        if let Some(from) = first_failed {
            for sequence in &sequences[from..] {
                let mut failure = DynamoDbBatchItemFailure::default();
                failure.item_identifier = Some(sequence.clone().unwrap_or_default());
                response.batch_item_failures.push(failure);
            }
        }
        tracing::info!(
            upserted,
            deleted,
            ignored,
            failed = response.batch_item_failures.len(),
            failed_from = first_failed.and_then(|i| sequences[i].as_deref()).unwrap_or_default(),
            "stream batch indexed"
        );
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_decide_what_is_a_product() {
        let mut category =
            serde_json::json!({"eventName": "INSERT", "dynamodb": {"Keys": {"pk": {"S": "CATEGORY#1"}, "sk": {"S": "CATEGORY"}}}});
        assert!(matches!(decode(&mut category), (None, Ok(Change::Ignored))));
        let mut guard = serde_json::json!({"eventName": "INSERT", "dynamodb": {"Keys": {"pk": {"S": "PRODUCT#x"}, "sk": {"S": "GUARD"}}}});
        assert!(matches!(decode(&mut guard), (None, Ok(Change::Ignored))));
        let mut bad_id =
            serde_json::json!({"eventName": "REMOVE", "dynamodb": {"Keys": {"pk": {"S": "PRODUCT#x"}, "sk": {"S": "PRODUCT"}}}});
        assert!(matches!(decode(&mut bad_id), (None, Err(DecodeError::BadId))));
        let id = Uuid::now_v7();
        let mut removed = serde_json::json!({"eventName": "REMOVE", "dynamodb": {"Keys": {"pk": {"S": format!("PRODUCT#{id}")}, "sk": {"S": "PRODUCT"}}}});
        assert!(matches!(decode(&mut removed), (Some(got), Ok(Change::Delete)) if got == id));
        let mut no_image = serde_json::json!({"eventName": "MODIFY", "dynamodb": {"Keys": {"pk": {"S": format!("PRODUCT#{id}")}, "sk": {"S": "PRODUCT"}}}});
        assert!(matches!(decode(&mut no_image), (Some(_), Err(DecodeError::NoNewImage(_)))));
        let mut no_keys = serde_json::json!({"eventName": "INSERT", "dynamodb": {}});
        assert!(matches!(decode(&mut no_keys), (None, Err(DecodeError::NoKeys))));
        let mut not_an_object = serde_json::json!(42);
        assert!(matches!(decode(&mut not_an_object), (None, Err(DecodeError::NoKeys))));
    }

    #[test]
    fn calls_are_chunked_and_start_at_their_first_record() {
        let items: Vec<(usize, Uuid)> = (0..1_201).rev().map(|i| (i, Uuid::from_u128(i as u128))).collect();
        let calls = chunked(items, Call::Delete);
        let shape: Vec<(usize, usize)> = calls
            .iter()
            .map(|c| match c {
                Call::Delete(first, ids) => (*first, ids.len()),
                Call::Upsert(first, docs) => (*first, docs.len()),
            })
            .collect();
        assert_eq!(shape, [(0, 500), (500, 500), (1_000, 201)]);
    }
}
