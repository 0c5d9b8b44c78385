//! Every DynamoDB call of the reviews function. One table, `ReviewsTable`:
//!
//! | pk | sk | item |
//! |---|---|---|
//! | `REVIEW#<id>` | `REVIEW` | [`Review`]; `gsi1pk = PRODUCT#<productId>` while visible (sparse: hidden reviews leave the product's list), `gsi2pk = USER#<userId>`; both sort keys `<createdAt>#<id>` |
//! | `REVIEW#<id>` | `VOTE#<userId>` | a helpful vote (`userId`, `createdAt`) |
//! | `PRODUCT#<productId>` | `AUTHOR#<userId>` | guard: one review per user and product → `reviewId` |
//! | `PRODUCT#<productId>` | `SUMMARY` | [`Summary`] of the visible reviews + `productId`; its stream records carry the rating to the catalog |
//!
//! Every write that changes what the summary counts (create, an edit of the rating, delete,
//! hide, unhide) changes the summary in the same `TransactWriteItems`, conditional on the review
//! still being at the version read, so the counts never drift from the reviews. A helpful vote
//! is its vote item (put if absent / deleted if present) and `ADD helpfulCount ±1` in one
//! transaction: a toggle that lost a race to the same user's re-reads and decides again, so
//! `helpfulCount` always equals the votes present. Edits, hides and unhides never write
//! `helpfulCount`.

use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{Delete, Update};
pub use shop_aws::dynamo::StoreError;
use shop_aws::dynamo::{Item, Transaction, TxOutcome, key, n, query_all, s, set_from_item};
use shop_core::retry::RetryPolicy;
use shop_core::time::Timestamp;
use uuid::Uuid;

use crate::domain::{Review, Summary};

const REVIEW_SK: &str = "REVIEW";
/// Sort key of a product's summary item.
pub const SUMMARY_SK: &str = "SUMMARY";

pub fn review_pk(id: Uuid) -> String {
    format!("REVIEW#{id}")
}
pub fn product_pk(id: Uuid) -> String {
    format!("PRODUCT#{id}")
}
fn author_sk(user: Uuid) -> String {
    format!("AUTHOR#{user}")
}
fn vote_sk(user: Uuid) -> String {
    format!("VOTE#{user}")
}
fn list_sk(review: &Review) -> String {
    format!("{}#{}", shop_aws::dynamo::rfc3339(review.created_at.get()), review.id)
}

/// An item's key, read back from a keys-only query.
#[derive(Debug, serde::Deserialize)]
struct KeyOnly {
    pk: String,
    sk: String,
}

/// The transaction items whose conditions may fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    /// The one-review-per-user-and-product guard exists.
    Guard,
    /// The review is no longer at the version read (or is gone).
    Stale,
    /// The caller's vote appeared or disappeared since it was read.
    Vote,
}

/// How creating a review ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Created {
    Done(Review),
    /// The user has reviewed this product already.
    Duplicate,
}

/// How a helpful toggle ended: the caller's vote now and the review's vote count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Toggled {
    pub helpful: bool,
    pub helpful_count: i64,
}

#[derive(Debug, Clone)]
pub struct Store {
    client: Client,
    table: String,
    retry: RetryPolicy,
}

impl Store {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into(), retry: RetryPolicy::CONTENDED }
    }

    /// The same store with another time budget for writes that lose races (default 2 s).
    pub fn with_retry_budget(mut self, budget: Duration) -> Self {
        self.retry = self.retry.with_budget(budget);
        self
    }

    fn transaction(&self) -> Transaction<Part> {
        Transaction::with_policy(self.retry)
    }

    fn review_item(review: &Review) -> Result<Item, StoreError> {
        let mut item = shop_aws::dynamo::to_item(review)?;
        item.extend(key(review_pk(review.id), REVIEW_SK));
        item.insert("gsi2pk".into(), s(format!("USER#{}", review.user_id)));
        item.insert("gsi2sk".into(), s(list_sk(review)));
        if !review.is_hidden {
            item.insert("gsi1pk".into(), s(product_pk(review.product_id)));
            item.insert("gsi1sk".into(), s(list_sk(review)));
        }
        Ok(item)
    }

    /// The summary update moving counts by `deltas` (star, change); `None` when nothing moves.
    fn summary_update(&self, product_id: Uuid, deltas: &[(u8, i64)]) -> Result<Option<Update>, StoreError> {
        let mut per_star = [0i64; 5];
        for (star, delta) in deltas {
            if let Some(slot) = per_star.get_mut(usize::from(star.saturating_sub(1))) {
                *slot += delta;
            }
        }
        if per_star.iter().all(|d| *d == 0) {
            return Ok(None);
        }
        let mut adds = vec!["version :one".to_owned()];
        let mut update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(product_pk(product_id), SUMMARY_SK)))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":p", s(product_id.to_string()));
        for (i, delta) in per_star.iter().enumerate().filter(|(_, d)| **d != 0) {
            adds.push(format!("c{} :d{}", i + 1, i + 1));
            update = update.expression_attribute_values(format!(":d{}", i + 1), n(delta));
        }
        Ok(Some(update.update_expression(format!("SET productId = :p ADD {}", adds.join(", "))).build()?))
    }

    /// One review (consistent read).
    #[tracing::instrument(skip_all)]
    pub async fn review(&self, id: Uuid) -> Result<Option<Review>, StoreError> {
        shop_aws::dynamo::get(&self.client, &self.table, key(review_pk(id), REVIEW_SK)).await
    }

    /// A product's summary (zero counts when it has had no review).
    #[tracing::instrument(skip_all)]
    pub async fn summary(&self, product_id: Uuid) -> Result<Summary, StoreError> {
        Ok(shop_aws::dynamo::get(&self.client, &self.table, key(product_pk(product_id), SUMMARY_SK)).await?.unwrap_or_default())
    }

    /// Writes a new review with its guard and its place in the summary, in one transaction.
    #[tracing::instrument(skip_all, fields(product = %review.product_id))]
    pub async fn create(&self, review: &Review) -> Result<Created, StoreError> {
        let mut tx = self.transaction();
        tx.put(&self.table, Self::review_item(review)?, Some("attribute_not_exists(pk)"), None)?;
        let mut guard = key(product_pk(review.product_id), author_sk(review.user_id));
        guard.insert("reviewId".into(), s(review.id.to_string()));
        tx.put(&self.table, guard, Some("attribute_not_exists(pk)"), Some(Part::Guard))?;
        if let Some(update) = self.summary_update(review.product_id, &[(review.rating, 1)])? {
            tx.update(update, None);
        }
        Ok(match tx.commit(&self.client).await? {
            TxOutcome::Committed => Created::Done(review.clone()),
            TxOutcome::Refused(_) => Created::Duplicate,
        })
    }

    /// A product's visible reviews (any order; the caller sorts).
    #[tracing::instrument(skip_all)]
    pub async fn product_reviews(&self, product_id: Uuid) -> Result<Vec<Review>, StoreError> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name("gsi1")
            .key_condition_expression("gsi1pk = :p")
            .expression_attribute_values(":p", s(product_pk(product_id)));
        query_all(query).await
    }

    /// A user's reviews, hidden ones included, newest first.
    #[tracing::instrument(skip_all)]
    pub async fn user_reviews(&self, user_id: Uuid) -> Result<Vec<Review>, StoreError> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name("gsi2")
            .key_condition_expression("gsi2pk = :u")
            .expression_attribute_values(":u", s(format!("USER#{user_id}")))
            .scan_index_forward(false);
        query_all(query).await
    }

    /// Read-modify-write of a review (edit, hide, unhide): `change` gets the review as stored and
    /// answers the review to store (its `version` bumped by the store), or refuses. The review
    /// and the summary change together at the version read; re-read and retried while
    /// concurrent writes win. `None`: no such review.
    #[tracing::instrument(skip_all, fields(review = %id))]
    pub async fn change<E: From<StoreError>>(
        &self,
        id: Uuid,
        mut change: impl FnMut(&Review) -> Result<Review, E>,
    ) -> Result<Option<Review>, E> {
        let mut retry = self.retry.start();
        loop {
            let Some(old) = self.review(id).await? else { return Ok(None) };
            let mut new = change(&old)?;
            new.version = old.version + 1;
            new.updated_at = Timestamp::now();
            if self.replace(&old, &new).await? {
                return Ok(Some(new));
            }
            retry.wait().await.map_err(StoreError::from)?;
        }
    }

    /// Writes `new` over `old` if still at `old.version`, moving the summary counts.
    async fn replace(&self, old: &Review, new: &Review) -> Result<bool, StoreError> {
        let mut item = Self::review_item(new)?;
        for owned in ["pk", "sk", "helpfulCount"] {
            item.remove(owned);
        }
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(review_pk(old.id), REVIEW_SK)))
            .condition_expression("#version = :expectedVersion")
            .expression_attribute_values(":expectedVersion", n(old.version));
        let update = set_from_item(update, item, &["gsi1pk", "gsi1sk", "hiddenReason", "hiddenAt"]).build()?;
        let mut tx = self.transaction();
        tx.update(update, Some(Part::Stale));
        let mut deltas = Vec::new();
        if !old.is_hidden {
            deltas.push((old.rating, -1));
        }
        if !new.is_hidden {
            deltas.push((new.rating, 1));
        }
        if let Some(summary) = self.summary_update(old.product_id, &deltas)? {
            tx.update(summary, None);
        }
        Ok(tx.commit(&self.client).await?.is_committed())
    }

    /// Deletes a review, its guard and its place in the summary in one transaction (its votes
    /// after, best effort: a vote left behind names a review that no longer exists and is never
    /// read). `check` sees the review first and may refuse. `None`: no such review.
    #[tracing::instrument(skip_all, fields(review = %id))]
    pub async fn delete<E: From<StoreError>>(&self, id: Uuid, check: impl Fn(&Review) -> Result<(), E>) -> Result<Option<Review>, E> {
        let mut retry = self.retry.start();
        loop {
            let Some(old) = self.review(id).await? else { return Ok(None) };
            check(&old)?;
            let mut tx = self.transaction();
            let delete = Delete::builder()
                .table_name(&self.table)
                .set_key(Some(key(review_pk(id), REVIEW_SK)))
                .condition_expression("#version = :v")
                .expression_attribute_names("#version", "version")
                .expression_attribute_values(":v", n(old.version))
                .build()
                .map_err(StoreError::from)?;
            tx.delete(delete, Some(Part::Stale));
            let guard = Delete::builder()
                .table_name(&self.table)
                .set_key(Some(key(product_pk(old.product_id), author_sk(old.user_id))))
                .build()
                .map_err(StoreError::from)?;
            tx.delete(guard, None);
            if !old.is_hidden
                && let Some(summary) = self.summary_update(old.product_id, &[(old.rating, -1)])?
            {
                tx.update(summary, None);
            }
            if tx.commit(&self.client).await?.is_committed() {
                if let Err(err) = self.delete_votes(id).await {
                    tracing::warn!(error = %shop_core::problem::ErrorChain(&err), "votes of a deleted review were left behind");
                }
                return Ok(Some(old));
            }
            retry.wait().await.map_err(StoreError::from)?;
        }
    }

    /// The keys of a review's vote items.
    async fn vote_keys(&self, id: Uuid) -> Result<Vec<KeyOnly>, StoreError> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :v)")
            .expression_attribute_values(":pk", s(review_pk(id)))
            .expression_attribute_values(":v", s("VOTE#"))
            .projection_expression("pk, sk");
        query_all(query).await
    }

    async fn delete_votes(&self, id: Uuid) -> Result<(), StoreError> {
        let keys = self.vote_keys(id).await?;
        for k in keys {
            self.client.delete_item().table_name(&self.table).set_key(Some(key(k.pk, k.sk))).send().await?;
        }
        Ok(())
    }

    /// Toggles `user`'s helpful vote on a review: the vote item and `helpfulCount` in one
    /// transaction; a toggle that lost a race (the vote changed since it was read) decides again
    /// from a fresh read. `check` sees the review first and may refuse. `None`: no such review.
    #[tracing::instrument(skip_all, fields(review = %id))]
    pub async fn toggle_vote<E: From<StoreError>>(
        &self,
        id: Uuid,
        user: Uuid,
        check: impl Fn(&Review) -> Result<(), E>,
    ) -> Result<Option<Toggled>, E> {
        let mut retry = self.retry.start();
        loop {
            let Some(review) = self.review(id).await? else { return Ok(None) };
            check(&review)?;
            let vote_key = key(review_pk(id), vote_sk(user));
            let voted = shop_aws::dynamo::get_item(&self.client, &self.table, vote_key.clone()).await?.is_some();
            let mut tx = self.transaction();
            if voted {
                let delete = Delete::builder()
                    .table_name(&self.table)
                    .set_key(Some(vote_key))
                    .condition_expression("attribute_exists(pk)")
                    .build()
                    .map_err(StoreError::from)?;
                tx.delete(delete, Some(Part::Vote));
            } else {
                let mut vote = vote_key;
                vote.insert("userId".into(), s(user.to_string()));
                vote.insert("createdAt".into(), s(shop_aws::dynamo::rfc3339(time::OffsetDateTime::now_utc())));
                tx.put(&self.table, vote, Some("attribute_not_exists(pk)"), Some(Part::Vote))?;
            }
            let count = Update::builder()
                .table_name(&self.table)
                .set_key(Some(key(review_pk(id), REVIEW_SK)))
                .condition_expression("attribute_exists(pk)")
                .update_expression("ADD helpfulCount :d")
                .expression_attribute_values(":d", n(if voted { -1 } else { 1 }))
                .build()
                .map_err(StoreError::from)?;
            tx.update(count, Some(Part::Stale));
            match tx.commit(&self.client).await? {
                TxOutcome::Committed => {
                    let count = self.review(id).await?.map_or(0, |r| r.helpful_count);
                    return Ok(Some(Toggled { helpful: !voted, helpful_count: count }));
                }
                refused if refused.refused(&Part::Stale) && !refused.refused(&Part::Vote) => return Ok(None),
                _ => retry.wait().await.map_err(StoreError::from)?,
            }
        }
    }

    /// Whether `user` has a helpful vote on the review.
    #[tracing::instrument(skip_all)]
    pub async fn has_voted(&self, id: Uuid, user: Uuid) -> Result<bool, StoreError> {
        Ok(shop_aws::dynamo::get_item(&self.client, &self.table, key(review_pk(id), vote_sk(user))).await?.is_some())
    }

    /// The helpful votes present on a review (counted from the vote items).
    #[tracing::instrument(skip_all)]
    pub async fn vote_count(&self, id: Uuid) -> Result<usize, StoreError> {
        Ok(self.vote_keys(id).await?.len())
    }
}
