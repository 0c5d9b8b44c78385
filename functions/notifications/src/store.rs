//! Claims on message ids: the at-most-once guard. One table, one item per message:
//!
//! | pk | attributes |
//! |---|---|
//! | `MSG#<envelope id>` | `status` (`sending` → `sent`), `kind`, `claimedAt`, `sentAt`, `sesMessageId`, `expiresAt` (TTL, epoch seconds) |
//!
//! A claim is taken with a conditional put before sending; an existing claim means the message
//! was (or is being) sent, so the message is acknowledged without sending. A failed send
//! releases the claim so the retry may send.

use aws_sdk_dynamodb::Client;
use serde::Serialize;
pub use shop_aws::dynamo::StoreError;
use shop_aws::dynamo::{Item, Outcome, rfc3339, s, to_item};
use time::{Duration, OffsetDateTime};

/// How long a claim is kept: longer than the queue's retention (4 days) and the DLQ's (14 days),
/// so a redriven message is still recognised.
pub const CLAIM_TTL: Duration = Duration::days(14);

pub const STATUS_SENDING: &str = "sending";
pub const STATUS_SENT: &str = "sent";

/// A claim as first written.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct NewClaim<'a> {
    pk: String,
    status: &'a str,
    kind: &'a str,
    claimed_at: String,
    /// TTL attribute (epoch seconds).
    expires_at: i64,
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

impl ClaimStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    fn key(message_id: &str) -> Item {
        Item::from([("pk".to_owned(), s(message_pk(message_id)))])
    }

    /// Claims `message_id` for sending (`attribute_not_exists(pk)`).
    pub async fn claim(&self, message_id: &str, kind: &str) -> Result<Claim, StoreError> {
        let now = OffsetDateTime::now_utc();
        let claim = NewClaim {
            pk: message_pk(message_id),
            status: STATUS_SENDING,
            kind,
            claimed_at: rfc3339(now),
            expires_at: (now + CLAIM_TTL).unix_timestamp(),
        };
        Ok(match shop_aws::dynamo::put_new(&self.client, &self.table, to_item(&claim)?).await? {
            Outcome::Done => Claim::Claimed,
            Outcome::ConditionFailed => Claim::AlreadyClaimed,
        })
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
            .expression_attribute_values(":now", s(rfc3339(OffsetDateTime::now_utc())))
            .send()
            .await?;
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
            .await?;
        Ok(())
    }
}
