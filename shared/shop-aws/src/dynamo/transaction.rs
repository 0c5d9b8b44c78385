//! [`Transaction`]: the one way a Skyshop store sends `TransactWriteItems`.
//!
//! - Items carry **labels**: an item whose condition may legitimately fail (a uniqueness guard,
//!   a stock limit, "still at the version I read") is pushed with the label the caller wants
//!   back, and a cancellation answers [`TxOutcome::Refused`] with the labels of the items whose
//!   condition failed. A condition failing on an unlabelled item is a broken invariant
//!   ([`StoreError::Unexpected`]), never silently a refusal.
//! - A transaction cancelled only because it **lost to a concurrent one** (`TransactionConflict`,
//!   or an item throttled) was not applied: it is sent again after the shared
//!   [`shop_core::retry::Backoff`] until the policy's time budget is spent, then
//!   [`StoreError::Contended`].
//! - Transport failures (timeouts, throttling, 5xx) are retried by the SDK beneath this (see
//!   `shop_aws::config`), with the same request and so the same `ClientRequestToken`: DynamoDB
//!   applies a token at most once. `TransactionInProgressException` (that token's earlier
//!   attempt is still running) is waited out here with the **same** token. A conflict retry
//!   takes a new token (the cancelled attempt applied nothing).

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{ConditionCheck, Delete, Put, TransactWriteItem, Update};
use shop_core::retry::RetryPolicy;
use uuid::Uuid;

use super::{Item, Outcome, StoreError, cancellation_reasons};

/// Cancellation reasons that mean "this attempt lost a race and applied nothing".
const LOST_RACE: [&str; 3] = ["TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"];

/// A `TransactWriteItems` request being built: up to 100 labelled items.
#[derive(Debug, Clone)]
pub struct Transaction<L = ()> {
    items: Vec<TransactWriteItem>,
    labels: Vec<Option<L>>,
    policy: RetryPolicy,
}

/// How a transaction ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxOutcome<L> {
    /// Every item was written.
    Committed,
    /// Nothing was written: the conditions of these labelled items failed (request order).
    Refused(Vec<L>),
}

impl<L: PartialEq> TxOutcome<L> {
    pub fn is_committed(&self) -> bool {
        matches!(self, TxOutcome::Committed)
    }

    /// Whether the item(s) labelled `label` failed their condition.
    pub fn refused(&self, label: &L) -> bool {
        matches!(self, TxOutcome::Refused(labels) if labels.contains(label))
    }

    /// The first refused label in request order.
    pub fn first_refusal(self) -> Option<L> {
        match self {
            TxOutcome::Committed => None,
            TxOutcome::Refused(labels) => labels.into_iter().next(),
        }
    }

    /// Committed or not, for callers that need no more.
    pub fn outcome(&self) -> Outcome {
        if self.is_committed() { Outcome::Done } else { Outcome::ConditionFailed }
    }
}

impl<L> Default for Transaction<L> {
    fn default() -> Self {
        Self::new()
    }
}

impl<L> Transaction<L> {
    /// An empty transaction retried under [`RetryPolicy::CONTENDED`].
    pub fn new() -> Self {
        Self::with_policy(RetryPolicy::CONTENDED)
    }

    /// An empty transaction retried under `policy`.
    pub fn with_policy(policy: RetryPolicy) -> Self {
        Self { items: Vec::new(), labels: Vec::new(), policy }
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Adds an item. `refusable`: the label its condition may fail under; `None` for items whose
    /// condition (if any) must hold.
    pub fn push(&mut self, item: TransactWriteItem, refusable: Option<L>) {
        self.items.push(item);
        self.labels.push(refusable);
    }

    /// Puts `item` into `table`, optionally under `condition`.
    pub fn put(&mut self, table: &str, item: Item, condition: Option<&str>, refusable: Option<L>) -> Result<(), StoreError> {
        let put = Put::builder().table_name(table).set_item(Some(item)).set_condition_expression(condition.map(str::to_owned)).build()?;
        self.push(TransactWriteItem::builder().put(put).build(), refusable);
        Ok(())
    }

    /// Adds a built `UpdateItem`.
    pub fn update(&mut self, update: Update, refusable: Option<L>) {
        self.push(TransactWriteItem::builder().update(update).build(), refusable);
    }

    /// Adds a built `DeleteItem`.
    pub fn delete(&mut self, delete: Delete, refusable: Option<L>) {
        self.push(TransactWriteItem::builder().delete(delete).build(), refusable);
    }

    /// Adds a condition check (an item that must satisfy a condition but is not written).
    pub fn check(&mut self, check: ConditionCheck, refusable: Option<L>) {
        self.push(TransactWriteItem::builder().condition_check(check).build(), refusable);
    }
}

impl<L: Clone + std::fmt::Debug> Transaction<L> {
    /// Sends the transaction (see the module docs for what is retried and how).
    #[tracing::instrument(skip_all, fields(items = self.items.len()))]
    pub async fn commit(self, client: &Client) -> Result<TxOutcome<L>, StoreError> {
        let mut retry = self.policy.start();
        let mut token = Uuid::new_v4().to_string();
        loop {
            let result =
                client.transact_write_items().set_transact_items(Some(self.items.clone())).client_request_token(&token).send().await;
            let err = match result {
                Ok(_) => return Ok(TxOutcome::Committed),
                Err(err) => err,
            };
            if let Some(reasons) = cancellation_reasons(&err) {
                let failed: Vec<usize> =
                    reasons.iter().enumerate().filter(|(_, r)| r.as_deref() == Some("ConditionalCheckFailed")).map(|(i, _)| i).collect();
                if !failed.is_empty() {
                    return self.refusal(&failed, &reasons);
                }
                if reasons.iter().flatten().all(|r| LOST_RACE.contains(&r.as_str())) {
                    retry.wait().await?;
                    token = Uuid::new_v4().to_string();
                    continue;
                }
                return Err(StoreError::unexpected(format!("transaction cancelled: {reasons:?}")));
            }
            if matches!(err.as_service_error(), Some(TransactWriteItemsError::TransactionInProgressException(_))) {
                retry.wait().await?;
                continue;
            }
            return Err(err.into());
        }
    }

    fn refusal(&self, failed: &[usize], reasons: &[Option<String>]) -> Result<TxOutcome<L>, StoreError> {
        let mut labels = Vec::with_capacity(failed.len());
        for &i in failed {
            match self.labels.get(i).cloned().flatten() {
                Some(label) => labels.push(label),
                None => return Err(StoreError::unexpected(format!("the condition of unlabelled item {i} failed: {reasons:?}"))),
            }
        }
        Ok(TxOutcome::Refused(labels))
    }
}
