//! DynamoDB stream batches as Lambda delivers them (`DynamoDBEvent`: images in DynamoDB JSON,
//! `{"S": "..."}`). Records stay JSON until each is decoded on its own, so a malformed record
//! fails alone instead of failing the whole batch.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A stream batch (`{"Records": [...]}`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StreamEvent {
    #[serde(rename = "Records")]
    pub records: Vec<Value>,
}

/// The record's `dynamodb.SequenceNumber` (the `itemIdentifier` of a batch item failure).
pub fn sequence_number(record: &Value) -> Option<String> {
    record.get("dynamodb")?.get("SequenceNumber")?.as_str().map(str::to_owned)
}

/// A string key attribute (`pk`, `sk`) of the record's `dynamodb.Keys`.
pub fn string_key<'a>(record: &'a Value, name: &str) -> Option<&'a str> {
    record.get("dynamodb")?.get("Keys")?.get(name)?.get("S")?.as_str()
}

/// `INSERT`, `MODIFY`, `REMOVE` (empty when missing).
pub fn event_name(record: &Value) -> &str {
    record.get("eventName").and_then(Value::as_str).unwrap_or_default()
}

/// The record's `NewImage` or `OldImage` (`which`) as raw DynamoDB JSON.
pub fn raw_image<'a>(record: &'a Value, which: &str) -> Option<&'a Value> {
    record.get("dynamodb")?.get(which).filter(|v| !v.is_null())
}

/// Why an image is not the expected item.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("the image is not DynamoDB JSON")]
    Json(#[source] serde_json::Error),
    #[error("the image is not the expected item")]
    Item(#[source] serde_dynamo::Error),
}

/// Decodes the record's `NewImage` or `OldImage` (`which`); `None` when the record has none.
pub fn image<T: DeserializeOwned>(record: &Value, which: &str) -> Result<Option<T>, ImageError> {
    let Some(raw) = raw_image(record, which) else { return Ok(None) };
    let item: serde_dynamo::Item = serde_json::from_value(raw.clone()).map_err(ImageError::Json)?;
    serde_dynamo::from_item(item).map(Some).map_err(ImageError::Item)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_read_field_by_field() {
        let record = serde_json::json!({"eventName": "MODIFY", "dynamodb": {
            "Keys": {"pk": {"S": "PRODUCT#1"}, "sk": {"S": "STOCK"}}, "SequenceNumber": "42",
            "NewImage": {"n": {"N": "3"}}, "OldImage": null}});
        assert_eq!(sequence_number(&record).as_deref(), Some("42"));
        assert_eq!(string_key(&record, "pk"), Some("PRODUCT#1"));
        assert_eq!(event_name(&record), "MODIFY");
        #[derive(Deserialize)]
        struct N {
            n: u32,
        }
        assert_eq!(image::<N>(&record, "NewImage").ok().flatten().map(|i| i.n), Some(3));
        assert!(matches!(image::<N>(&record, "OldImage"), Ok(None)));
        assert!(image::<N>(&serde_json::json!({"dynamodb": {"NewImage": {"x": {"S": "a"}}}}), "NewImage").is_err());
    }

    /// `shop_core::time::Timestamp` is stored as the same `S` attribute as the
    /// `#[serde(with = "time::serde::rfc3339")]` fields it replaced, so items and stream images
    /// written before still decode.
    #[test]
    fn timestamps_are_the_rfc3339_strings_items_and_images_always_held() {
        use shop_core::time::Timestamp;
        use time::OffsetDateTime;

        #[derive(Debug, PartialEq, Serialize, Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Before {
            #[serde(with = "time::serde::rfc3339")]
            updated_at: OffsetDateTime,
            #[serde(default, with = "time::serde::rfc3339::option", skip_serializing_if = "Option::is_none")]
            deleted_at: Option<OffsetDateTime>,
        }
        #[derive(Debug, PartialEq, Serialize, Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct After {
            updated_at: Timestamp,
            #[serde(default, skip_serializing_if = "Option::is_none")]
            deleted_at: Option<Timestamp>,
        }

        let at = time::macros::datetime!(2026-11-25 12:00:00.5 UTC);
        for deleted_at in [None, Some(at + time::Duration::DAY)] {
            let before = Before { updated_at: at, deleted_at };
            let after = After { updated_at: at.into(), deleted_at: deleted_at.map(Timestamp::from) };
            let old: serde_dynamo::Item = serde_dynamo::to_item(&before).unwrap_or_default();
            let new: serde_dynamo::Item = serde_dynamo::to_item(&after).unwrap_or_default();
            assert_eq!(new, old, "the same attributes");
            assert_eq!(serde_dynamo::from_item::<_, After>(old).ok(), Some(after));
        }
        let record = serde_json::json!({"dynamodb": {"NewImage": {
            "updatedAt": {"S": "2026-11-25T12:00:00.5Z"}, "deletedAt": {"S": "2026-11-26T12:00:00.5Z"}}}});
        let image = image::<After>(&record, "NewImage").ok().flatten();
        assert_eq!(image.map(|i| (i.updated_at, i.deleted_at)), Some((at.into(), Some((at + time::Duration::DAY).into()))));
    }
}
