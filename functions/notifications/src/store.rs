//! Claims on message ids: the at-most-once guard. One table, one item per message:
//!
//! | pk | attributes |
//! |---|---|
//! | `MSG#<envelope id>` | `status` (`sending` → `sent`), `kind`, `claimedAt`, `sentAt`, `sesMessageId`, `expiresAt` (TTL, epoch seconds) |
//!
//! A claim is taken with a conditional put before sending; an existing claim means the message
//! was (or is being) sent, so the message is acknowledged without sending. A failed send
//! releases the claim so the retry may send.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use shop_aws::dynamo::ConditionFailed;
use time::{Duration, OffsetDateTime};

/// How long a claim is kept: longer than the queue's retention (4 days) and the DLQ's (14 days),
/// so a redriven message is still recognised.
pub const CLAIM_TTL: Duration = Duration::days(14);

pub const STATUS_SENDING: &str = "sending";
pub const STATUS_SENT: &str = "sent";

#[derive(Debug, thiserror::Error)]
#[error("DynamoDB request failed")]
pub struct StoreError(#[from] aws_sdk_dynamodb::Error);

fn dynamo<E, R>(err: aws_sdk_dynamodb::error::SdkError<E, R>) -> StoreError
where
    aws_sdk_dynamodb::Error: From<aws_sdk_dynamodb::error::SdkError<E, R>>,
{
    StoreError(err.into())
}

/// The result of trying to claim a message id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// This invocation owns the message and may send it.
    Claimed,
    /// Someone already claimed it (sent, or sending): do not send.
    AlreadyClaimed,
}

/// The table of claims.
#[derive(Debug, Clone)]
pub struct ClaimStore {
    client: Client,
    table: String,
}

pub fn message_pk(message_id: &str) -> String {
    format!("MSG#{message_id}")
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn rfc3339(at: OffsetDateTime) -> AttributeValue {
    s(at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default())
}

impl ClaimStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    fn key(message_id: &str) -> HashMap<String, AttributeValue> {
        HashMap::from([("pk".to_owned(), s(message_pk(message_id)))])
    }

    /// Claims `message_id` for sending (`attribute_not_exists(pk)`).
    pub async fn claim(&self, message_id: &str, kind: &str) -> Result<Claim, StoreError> {
        let now = OffsetDateTime::now_utc();
        let expires_at = (now + CLAIM_TTL).unix_timestamp();
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(message_pk(message_id)))
            .item("status", s(STATUS_SENDING))
            .item("kind", s(kind))
            .item("claimedAt", rfc3339(now))
            .item("expiresAt", AttributeValue::N(expires_at.to_string()))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(Claim::Claimed),
            Err(err) if err.is_condition_failed() => Ok(Claim::AlreadyClaimed),
            Err(err) => Err(dynamo(err)),
        }
    }

    /// Records the successful send on the claim.
    pub async fn mark_sent(&self, message_id: &str, ses_message_id: &str) -> Result<(), StoreError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(message_id)))
            .update_expression("SET #status = :sent, sesMessageId = :ses, sentAt = :now")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":sent", s(STATUS_SENT))
            .expression_attribute_values(":ses", s(ses_message_id))
            .expression_attribute_values(":now", rfc3339(OffsetDateTime::now_utc()))
            .send()
            .await
            .map_err(dynamo)?;
        Ok(())
    }

    /// Gives the claim up after a failed send, so a retry may send.
    pub async fn release(&self, message_id: &str) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(message_id)))
            .condition_expression("#status = :sending")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":sending", s(STATUS_SENDING))
            .send()
            .await
            .map_err(dynamo)?;
        Ok(())
    }
}
