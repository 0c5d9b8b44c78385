//! DynamoDB error classification.

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;

/// Why each item of a cancelled transaction failed, in request order
/// (`Some("ConditionalCheckFailed")`, `None` when that item was fine).
/// `None` overall when the error is not a cancelled transaction.
pub fn cancellation_reasons<R>(err: &SdkError<TransactWriteItemsError, R>) -> Option<Vec<Option<String>>> {
    match err.as_service_error()? {
        TransactWriteItemsError::TransactionCanceledException(e) => {
            Some(e.cancellation_reasons().iter().map(|r| r.code().filter(|c| *c != "None").map(str::to_owned)).collect())
        }
        _ => None,
    }
}

/// True when the `index`-th item of a cancelled transaction failed its condition.
pub fn condition_failed_at<R>(err: &SdkError<TransactWriteItemsError, R>, index: usize) -> bool {
    cancellation_reasons(err).and_then(|reasons| reasons.get(index).cloned().flatten()).is_some_and(|code| code == "ConditionalCheckFailed")
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
