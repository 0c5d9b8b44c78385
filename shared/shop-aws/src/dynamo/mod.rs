//! DynamoDB helpers shared by every function's store: the one [`StoreError`] (mapped once to
//! problem+json), attribute-value shorthands, typed attribute reads that fail loudly, updates
//! derived from a serialised item, conditional-write outcomes, and [`Transaction`] — the one way
//! a store sends `TransactWriteItems` (labelled items, retries of lost races within a time
//! budget, one client request token).

mod transaction;

pub use transaction::{Transaction, TxOutcome};

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;

/// Why each item of a cancelled transaction failed, in request order
/// (`Some("ConditionalCheckFailed")`, `None` when that item was fine).
/// `None` overall when the error is not a cancelled transaction.
fn cancellation_reasons<R>(err: &SdkError<TransactWriteItemsError, R>) -> Option<Vec<Option<String>>> {
    match err.as_service_error()? {
        TransactWriteItemsError::TransactionCanceledException(e) => {
            Some(e.cancellation_reasons().iter().map(|r| r.code().filter(|c| *c != "None").map(str::to_owned)).collect())
        }
        _ => None,
    }
}

/// True when a single-item write failed its `ConditionExpression`.
pub trait ConditionFailed {
    fn is_condition_failed(&self) -> bool;
}

impl<R> ConditionFailed for SdkError<PutItemError, R> {
    fn is_condition_failed(&self) -> bool {
        matches!(self.as_service_error(), Some(PutItemError::ConditionalCheckFailedException(_)))
    }
}
impl<R> ConditionFailed for SdkError<UpdateItemError, R> {
    fn is_condition_failed(&self) -> bool {
        matches!(self.as_service_error(), Some(UpdateItemError::ConditionalCheckFailedException(_)))
    }
}
impl<R> ConditionFailed for SdkError<DeleteItemError, R> {
    fn is_condition_failed(&self) -> bool {
        matches!(self.as_service_error(), Some(DeleteItemError::ConditionalCheckFailedException(_)))
    }
}

/// Whether a conditional write happened or lost to its condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Done,
    ConditionFailed,
}

/// The outcome of a single conditional write (put, update, delete).
pub fn write_outcome<T, E, R>(result: Result<T, SdkError<E, R>>) -> Result<Outcome, aws_sdk_dynamodb::Error>
where
    SdkError<E, R>: ConditionFailed,
    aws_sdk_dynamodb::Error: From<SdkError<E, R>>,
{
    match result {
        Ok(_) => Ok(Outcome::Done),
        Err(err) if err.is_condition_failed() => Ok(Outcome::ConditionFailed),
        Err(err) => Err(err.into()),
    }
}

/// An item: attribute name → value.
pub type Item = HashMap<String, AttributeValue>;

/// Why a store call failed (all of them are server-side errors for the caller).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("DynamoDB request failed")]
    Dynamo(#[from] aws_sdk_dynamodb::Error),
    /// No answer: the request timed out or could not be sent (after the SDK's own retries).
    #[error("DynamoDB did not answer")]
    Unreachable(#[source] aws_sdk_dynamodb::Error),
    #[error("item (de)serialization failed")]
    Serde(#[from] serde_dynamo::Error),
    #[error("could not build a DynamoDB request")]
    Build(#[from] aws_sdk_dynamodb::error::BuildError),
    /// Lost races to concurrent writers for the whole retry budget; nothing was written.
    #[error(transparent)]
    Contended(#[from] shop_core::retry::Contended),
    /// DynamoDB answered in a way the store's own conditions rule out (a condition failed on an
    /// item no caller expects to fail, an item that must exist is gone): a bug or a broken
    /// invariant, never the caller's fault.
    #[error("unexpected store state: {0}")]
    Unexpected(String),
}

impl<E, R> From<SdkError<E, R>> for StoreError
where
    aws_sdk_dynamodb::Error: From<SdkError<E, R>>,
{
    fn from(err: SdkError<E, R>) -> Self {
        match err {
            SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) => StoreError::Unreachable(err.into()),
            err => StoreError::Dynamo(err.into()),
        }
    }
}

impl StoreError {
    /// A failure the caller may retry: DynamoDB throttled, failed internally, timed out or could
    /// not be reached. (Whether a timed-out write happened is unknown; Skyshop's writes are
    /// conditional or keyed so that a retry cannot apply them twice.)
    pub fn is_transient(&self) -> bool {
        use aws_sdk_dynamodb::Error as E;
        matches!(
            self,
            StoreError::Unreachable(_)
                | StoreError::Dynamo(
                    E::ProvisionedThroughputExceededException(_)
                        | E::RequestLimitExceeded(_)
                        | E::ThrottlingException(_)
                        | E::InternalServerError(_)
                        | E::TransactionInProgressException(_),
                )
        )
    }
}

impl StoreError {
    /// [`StoreError::Unexpected`] with its reason.
    pub fn unexpected(reason: impl Into<String>) -> Self {
        StoreError::Unexpected(reason.into())
    }
}

/// Transient failures are a 503 (retry later), lost races 503 `contended`; anything else is our
/// bug, an opaque 500. The cause is logged either way.
impl From<StoreError> for shop_core::ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Contended(contended) => contended.into(),
            err if err.is_transient() => shop_core::ApiError::unavailable(&err),
            err => shop_core::ApiError::internal(&err),
        }
    }
}

/// A string attribute.
pub fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

/// A number attribute.
pub fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// The `{pk, sk}` key of an item.
pub fn key(pk: impl Into<String>, sk: impl Into<String>) -> Item {
    HashMap::from([("pk".to_owned(), s(pk)), ("sk".to_owned(), s(sk))])
}

/// RFC 3339 text of a time (how items store times).
pub fn rfc3339(t: time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}

/// The item under `key` in `table` (a consistent read): `None` when absent, an error when it
/// does not decode as `T`.
pub async fn get<T: serde::de::DeserializeOwned>(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    key: Item,
) -> Result<Option<T>, StoreError> {
    get_item(client, table, key).await?.map(from_item).transpose()
}

/// The raw item under `key` in `table` (a consistent read).
pub async fn get_item(client: &aws_sdk_dynamodb::Client, table: &str, key: Item) -> Result<Option<Item>, StoreError> {
    Ok(client.get_item().table_name(table).set_key(Some(key)).consistent_read(true).send().await?.item)
}

/// Puts `item` into `table` unless an item with its key exists (`attribute_not_exists(pk)`):
/// [`Outcome::ConditionFailed`] when one does.
pub async fn put_new(client: &aws_sdk_dynamodb::Client, table: &str, item: Item) -> Result<Outcome, StoreError> {
    let result = client.put_item().table_name(table).set_item(Some(item)).condition_expression("attribute_not_exists(pk)").send().await;
    Ok(write_outcome(result)?)
}

/// Runs a query to the end, page by page, deserializing every item.
pub async fn query_all<T: serde::de::DeserializeOwned>(
    query: aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder,
) -> Result<Vec<T>, StoreError> {
    let mut out = Vec::new();
    let mut start = None;
    loop {
        let page = query.clone().set_exclusive_start_key(start).send().await?;
        for item in page.items.unwrap_or_default() {
            out.push(serde_dynamo::from_item(item)?);
        }
        start = page.last_evaluated_key;
        if start.is_none() {
            return Ok(out);
        }
    }
}

/// `value` as an item (serde_dynamo: the one way items are written).
pub fn to_item<T: serde::Serialize>(value: &T) -> Result<Item, StoreError> {
    Ok(serde_dynamo::to_item(value)?)
}

/// An item as `T`; an item that does not decode is an error, never a default.
pub fn from_item<T: serde::de::DeserializeOwned>(item: Item) -> Result<T, StoreError> {
    Ok(serde_dynamo::from_item(item)?)
}

/// Attribute `name` of `item` as `T`, `None` when absent. A present attribute that does not
/// decode is an error, never a silent default.
pub fn attr<T: serde::de::DeserializeOwned>(item: &Item, name: &str) -> Result<Option<T>, StoreError> {
    match item.get(name) {
        None | Some(AttributeValue::Null(true)) => Ok(None),
        Some(value) => serde_dynamo::from_attribute_value(value.clone())
            .map(Some)
            .map_err(|e| StoreError::unexpected(format!("attribute {name} does not decode: {e}"))),
    }
}

/// The `SET … REMOVE …` update that makes the stored item equal `item` (a serialised value
/// without its key attributes and without attributes other writers own), removing each of
/// `absent` that `item` does not hold. Updates derived this way cannot drift from the type's
/// serialisation: a new field or enum value is written exactly as a put would write it.
/// Attribute names go through `#name` placeholders and values through `:name`; the caller may
/// add its own placeholders (conditions) with other names.
pub fn set_from_item<U: UpdateRequest>(mut update: U, item: Item, absent: &[&str]) -> U {
    let removed: Vec<&str> = absent.iter().copied().filter(|k| !item.contains_key(*k)).collect();
    let sets: Vec<String> = item.keys().map(|k| format!("#{k} = :{k}")).collect();
    let mut expression = format!("SET {}", sets.join(", "));
    if !removed.is_empty() {
        expression.push_str(&format!(" REMOVE {}", removed.iter().map(|k| format!("#{k}")).collect::<Vec<_>>().join(", ")));
    }
    for k in removed {
        update = update.attribute_name(format!("#{k}"), k.to_owned());
    }
    for (k, v) in item {
        update = update.attribute_name(format!("#{k}"), k.clone()).attribute_value(format!(":{k}"), v);
    }
    update.expression(expression)
}

/// The two shapes of an update request (`UpdateItem` and a transaction's `Update`), for
/// [`set_from_item`].
pub trait UpdateRequest: Sized {
    fn attribute_name(self, placeholder: String, name: String) -> Self;
    fn attribute_value(self, placeholder: String, value: AttributeValue) -> Self;
    fn expression(self, expression: String) -> Self;
}

macro_rules! update_request {
    ($($builder:ty),*) => {$(
        impl UpdateRequest for $builder {
            fn attribute_name(self, placeholder: String, name: String) -> Self {
                self.expression_attribute_names(placeholder, name)
            }
            fn attribute_value(self, placeholder: String, value: AttributeValue) -> Self {
                self.expression_attribute_values(placeholder, value)
            }
            fn expression(self, expression: String) -> Self {
                self.update_expression(expression)
            }
        }
    )*};
}

update_request!(
    aws_sdk_dynamodb::types::builders::UpdateBuilder,
    aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder
);

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::operation::get_item::GetItemError;
    use aws_smithy_runtime_api::http::Response;

    #[test]
    fn timeouts_and_throttles_are_transient_and_bugs_are_not() {
        let timeout: StoreError = SdkError::<GetItemError, Response>::timeout_error("slow").into();
        assert!(timeout.is_transient(), "{timeout:?}");
        let unsent: StoreError = SdkError::<GetItemError, Response>::construction_failure("bad request").into();
        assert!(!unsent.is_transient(), "a request we could not build is our bug");
        let throttled = StoreError::Dynamo(aws_sdk_dynamodb::Error::ThrottlingException(
            aws_sdk_dynamodb::types::error::ThrottlingException::builder().build(),
        ));
        assert!(throttled.is_transient());
        assert_eq!(shop_core::ApiError::from(timeout).status().as_u16(), 503);
        assert_eq!(shop_core::ApiError::from(unsent).status().as_u16(), 500);
    }
}
