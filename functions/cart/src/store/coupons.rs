//! Every DynamoDB call of the cart function: coupons and their redemptions in `PromotionsTable`.
//!
//! | pk | sk | item |
//! |---|---|---|
//! | `COUPON#<CODE>` | `COUPON` | [`Coupon`] + `version` + `incarnation`; `gsi1pk = COUPONS`, `gsi1sk = <CODE>` (listing) |
//! | `COUPON#<CODE>` | `USER#<userId>` | `count`: the user's redemptions of the coupon; `incarnation`: of the coupon they count |
//! | `REDEMPTION#<orderId>` | `REDEMPTION` | [`Redemption`] (one per order: redeeming is idempotent by order), with the coupon's `couponIncarnation` |
//!
//! A redemption is one transaction of three conditional writes: the redemption item (absent),
//! the coupon's `redemptionCount` (`< maxRedemptions`, active, still the incarnation read) and
//! the user's counter (`< perUserLimit`). Lost races are retried from a fresh read within the
//! shared retry budget (`shop_core::retry`), so the limits hold under any concurrency. Releasing
//! deletes the redemption item in the same transaction as the decrements, so a release counts
//! once.
//!
//! **Incarnations.** A code can be deleted and created again; each creation gets a new
//! `incarnation` (a UUIDv7). Deleting a coupon deletes its per-user counters (a query and
//! conditional deletes in transactions of up to 100, at most [`MAX_COUNTERS_DELETED`] per
//! delete). Counters and redemptions carry the incarnation they count for, so what a delete left
//! behind (more counters than the bound, a delete cut short) is never counted for the new coupon:
//! a counter of another incarnation is read as 0 and reset by the user's next redemption, and
//! releasing a redemption of an older incarnation gives nothing back to the new coupon.
//! Coupons, counters and redemptions written before incarnations have none, and match each
//! other as before.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, ReturnValue, Update};
use serde::{Deserialize, Serialize};
pub use shop_aws::dynamo::StoreError;
use shop_aws::dynamo::{Item, Outcome, Transaction, TxOutcome, attr, key, n, query_all, s, set_from_item, write_outcome};
use shop_core::retry::RetryPolicy;
use shop_core::time::Timestamp;
use tracing::instrument;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::{Coupon, Rejection, is_code};

/// Most per-user counters one coupon delete removes (10 transactions of 100); what is left
/// belongs to a dead incarnation and is ignored.
pub const MAX_COUNTERS_DELETED: usize = 1_000;

fn coupon_pk(code: &str) -> String {
    format!("COUPON#{code}")
}
fn redemption_pk(order: Uuid) -> String {
    format!("REDEMPTION#{order}")
}

/// A coupon redeemed for one order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Redemption {
    pub redemption_id: Uuid,
    pub order_id: Uuid,
    pub code: String,
    pub user_id: Uuid,
    /// The discount in cents on the order's subtotal.
    pub discount: i64,
    pub created_at: Timestamp,
    /// The incarnation of the coupon redeemed (absent for redemptions made before coupons had
    /// one): releasing gives back only to that coupon, never to one re-created with its code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coupon_incarnation: Option<Uuid>,
}

/// A coupon as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCoupon {
    pub coupon: Coupon,
    /// What an admin edit is checked against.
    pub version: u64,
    /// New with each creation of the code; `None` for coupons created before incarnations.
    pub incarnation: Option<Uuid>,
}

impl StoredCoupon {
    /// What `counter` (a user's, as read) counts for this coupon: 0 when it counts for an
    /// earlier coupon with the same code.
    pub fn used(&self, counter: Option<UserCounter>) -> u32 {
        counter.filter(|c| c.incarnation == self.incarnation).map_or(0, |c| c.count)
    }
}

/// A user's counter of a coupon's redemptions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserCounter {
    pub count: u32,
    /// The incarnation of the coupon it counts for.
    pub incarnation: Option<Uuid>,
}

/// The condition "the item's `incarnation` is `incarnation`" (absent for `None`), with its value.
fn incarnation_is(incarnation: Option<Uuid>, placeholder: &str) -> (String, Option<(String, AttributeValue)>) {
    match incarnation {
        Some(id) => (format!("incarnation = {placeholder}"), Some((placeholder.to_owned(), s(id.to_string())))),
        None => ("attribute_not_exists(incarnation)".to_owned(), None),
    }
}

/// Why a redemption did not happen.
#[derive(Debug, thiserror::Error)]
pub enum RedeemError {
    #[error("the coupon does not apply: {}", .0.code())]
    Rejected(Rejection),
    /// Includes `StoreError::Contended`: the coupon kept changing for the whole retry budget.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<shop_core::retry::Contended> for RedeemError {
    fn from(err: shop_core::retry::Contended) -> Self {
        RedeemError::Store(err.into())
    }
}

/// The items of a redemption's (or release's) transaction whose conditions may fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    /// The redemption item: this order redeemed already (or was released concurrently).
    Redemption,
    /// The coupon: gone, inactive, at its overall limit, or re-created (another incarnation).
    Coupon,
    /// The user's counter: at the per-user limit, or changed since it was read.
    PerUser,
}

#[derive(Debug, Clone)]
pub struct CouponStore {
    client: Client,
    table: String,
}

impl CouponStore {
    /// Readiness: the table answers (`shop_core::health`).
    pub fn probe(&self) -> shop_core::health::Probe {
        shop_aws::health::dynamodb_table(&self.client, &self.table)
    }

    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }

    fn coupon_item(&self, coupon: &Coupon, version: u64) -> Result<Item, StoreError> {
        let mut item: Item = serde_dynamo::to_item(coupon)?;
        item.extend(key(coupon_pk(&coupon.code), "COUPON"));
        item.insert("gsi1pk".into(), s("COUPONS"));
        item.insert("gsi1sk".into(), s(&coupon.code));
        item.insert("version".into(), n(version));
        Ok(item)
    }

    fn read_coupon(item: Item) -> Result<StoredCoupon, StoreError> {
        let version = attr(&item, "version")?.ok_or_else(|| StoreError::unexpected("a coupon item has no version"))?;
        let incarnation = attr(&item, "incarnation")?;
        Ok(StoredCoupon { coupon: serde_dynamo::from_item(item)?, version, incarnation })
    }

    /// The coupon with this (upper-case) code. A string that cannot be a code names no coupon
    /// and is not looked up.
    #[instrument(skip_all)]
    pub async fn coupon(&self, code: &str) -> Result<Option<StoredCoupon>, StoreError> {
        if !is_code(code) {
            return Ok(None);
        }
        shop_aws::dynamo::get_item(&self.client, &self.table, key(coupon_pk(code), "COUPON")).await?.map(Self::read_coupon).transpose()
    }

    /// Every coupon, by code.
    #[instrument(skip_all)]
    pub async fn coupons(&self) -> Result<Vec<Coupon>, StoreError> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name("gsi1")
            .key_condition_expression("gsi1pk = :p")
            .expression_attribute_values(":p", s("COUPONS"));
        query_all(query).await
    }

    /// Creates a coupon (a new incarnation of its code); `ConditionFailed` when the code is taken.
    #[instrument(skip_all)]
    pub async fn create(&self, coupon: &Coupon) -> Result<Outcome, StoreError> {
        let mut item = self.coupon_item(coupon, 1)?;
        item.insert("incarnation".into(), s(shop_core::id::new_id().to_string()));
        shop_aws::dynamo::put_new(&self.client, &self.table, item).await
    }

    /// Read-modify-write of a coupon's admin-editable fields: `change` gets the coupon as stored
    /// and answers the new one or refuses; it is written if unchanged since the read, else
    /// re-read and retried (then `StoreError::Contended`). `Ok(None)`: no such coupon.
    #[instrument(skip_all)]
    pub async fn edit<E: From<StoreError>>(
        &self,
        code: &str,
        mut change: impl FnMut(Coupon) -> Result<Coupon, E>,
    ) -> Result<Option<Coupon>, E> {
        let mut retry = RetryPolicy::CONTENDED.start();
        loop {
            let Some(stored) = self.coupon(code).await? else { return Ok(None) };
            let coupon = change(stored.coupon)?;
            if self.update(&coupon, stored.version).await? == Outcome::Done {
                return Ok(self.coupon(&coupon.code).await?.map(|fresh| fresh.coupon));
            }
            retry.wait().await.map_err(StoreError::from)?;
        }
    }

    /// Writes the admin-editable fields of `coupon` if it is still at `version` (never the
    /// redemption count, which redemptions change concurrently, nor the creation time).
    /// `ConditionFailed`: changed or gone.
    #[instrument(skip_all)]
    pub async fn update(&self, coupon: &Coupon, version: u64) -> Result<Outcome, StoreError> {
        let mut item = self.coupon_item(coupon, version + 1)?;
        for kept in ["pk", "sk", "gsi1pk", "gsi1sk", "redemptionCount", "createdAt"] {
            item.remove(kept);
        }
        let update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(coupon_pk(&coupon.code), "COUPON")))
            .condition_expression("attribute_exists(pk) AND #version = :expectedVersion")
            .expression_attribute_values(":expectedVersion", n(version));
        let optional = ["startsAt", "endsAt", "maxRedemptions", "perUserLimit"];
        let update = set_from_item(update, item, &optional);
        Ok(write_outcome(update.return_values(ReturnValue::None).send().await)?)
    }

    /// Deletes a coupon and its per-user counters; `ConditionFailed` when there was none.
    /// Redemptions stay (order history).
    #[instrument(skip_all)]
    pub async fn delete(&self, code: &str) -> Result<Outcome, StoreError> {
        if !is_code(code) {
            return Ok(Outcome::ConditionFailed);
        }
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(coupon_pk(code), "COUPON")))
            .condition_expression("attribute_exists(pk)")
            .return_values(ReturnValue::AllOld)
            .send()
            .await;
        let deleted = match result {
            Ok(out) => out.attributes.unwrap_or_default(),
            Err(err) => return Ok(write_outcome::<(), _, _>(Err(err))?),
        };
        let incarnation = attr(&deleted, "incarnation")?;
        self.delete_counters(code, incarnation).await?;
        Ok(Outcome::Done)
    }

    /// Deletes the per-user counters of `code` that count for `incarnation` (at most
    /// [`MAX_COUNTERS_DELETED`]). Each delete is conditional on the incarnation, so a counter
    /// that a re-created coupon started meanwhile is left alone.
    #[instrument(skip_all, fields(code = %code))]
    async fn delete_counters(&self, code: &str, incarnation: Option<Uuid>) -> Result<(), StoreError> {
        let (condition, value) = incarnation_is(incarnation, ":inc");
        let mut query = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :user)")
            .filter_expression(condition.clone())
            .projection_expression("pk, sk")
            .expression_attribute_values(":pk", s(coupon_pk(code)))
            .expression_attribute_values(":user", s("USER#"))
            .consistent_read(true);
        if let Some((name, value)) = &value {
            query = query.expression_attribute_values(name, value.clone());
        }
        let mut keys: Vec<Item> = Vec::new();
        let mut start = None;
        let mut more = false;
        loop {
            let page = query.clone().set_exclusive_start_key(start).send().await?;
            keys.extend(page.items.unwrap_or_default());
            start = page.last_evaluated_key;
            if keys.len() >= MAX_COUNTERS_DELETED {
                more = start.is_some() || keys.len() > MAX_COUNTERS_DELETED;
                keys.truncate(MAX_COUNTERS_DELETED);
                break;
            }
            if start.is_none() {
                break;
            }
        }
        let total = keys.len();
        for chunk in keys.chunks(100) {
            let mut pending: Vec<&Item> = chunk.iter().collect();
            while !pending.is_empty() {
                let mut tx = Transaction::new();
                for (i, item) in pending.iter().enumerate() {
                    let mut delete =
                        Delete::builder().table_name(&self.table).set_key(Some((*item).clone())).condition_expression(condition.clone());
                    if let Some((name, value)) = &value {
                        delete = delete.expression_attribute_values(name, value.clone());
                    }
                    tx.delete(delete.build()?, Some(i));
                }
                match tx.commit(&self.client).await? {
                    TxOutcome::Committed => break,
                    // Counters a re-created coupon took over meanwhile: theirs now.
                    TxOutcome::Refused(taken) => {
                        pending = pending.into_iter().enumerate().filter(|(i, _)| !taken.contains(i)).map(|(_, item)| item).collect();
                    }
                }
            }
        }
        if more {
            tracing::warn!(deleted = total, "a deleted coupon had more per-user counters than one delete removes; the rest are ignored");
        }
        Ok(())
    }

    /// `user`'s counter of `code`, of whichever incarnation wrote it.
    #[instrument(skip_all)]
    pub async fn user_counter(&self, code: &str, user: Uuid) -> Result<Option<UserCounter>, StoreError> {
        if !is_code(code) {
            return Ok(None);
        }
        match shop_aws::dynamo::get_item(&self.client, &self.table, key(coupon_pk(code), format!("USER#{user}"))).await? {
            Some(item) => Ok(Some(UserCounter { count: attr(&item, "count")?.unwrap_or(0), incarnation: attr(&item, "incarnation")? })),
            None => Ok(None),
        }
    }

    /// How often `user` has redeemed this incarnation of the coupon (a counter left by an
    /// earlier coupon with the same code counts 0).
    #[instrument(skip_all)]
    pub async fn used_by(&self, coupon: &StoredCoupon, user: Uuid) -> Result<u32, StoreError> {
        Ok(coupon.used(self.user_counter(&coupon.coupon.code, user).await?))
    }

    /// The redemption made for `order`.
    #[instrument(skip_all)]
    pub async fn redemption(&self, order: Uuid) -> Result<Option<Redemption>, StoreError> {
        shop_aws::dynamo::get(&self.client, &self.table, key(redemption_pk(order), "REDEMPTION")).await
    }

    /// Redeems `code` for `order`: idempotent by order (a repeat returns the first redemption);
    /// the overall and per-user limits hold under concurrency.
    #[instrument(skip_all, fields(order = %order))]
    pub async fn redeem(&self, code: &str, order: Uuid, user: Uuid, subtotal: i64) -> Result<Redemption, RedeemError> {
        let mut retry = RetryPolicy::CONTENDED.start();
        loop {
            if let Some(existing) = self.redemption(order).await? {
                return Ok(existing);
            }
            let Some(stored) = self.coupon(code).await? else {
                return Err(RedeemError::Rejected(Rejection::Unknown));
            };
            let coupon = &stored.coupon;
            let now = Timestamp::now();
            let counter = self.user_counter(code, user).await?;
            // A counter left by an earlier coupon with this code counts nothing: it is reset.
            let stale = counter.filter(|c| c.incarnation != stored.incarnation);
            let used = stored.used(counter);
            coupon.check(now, subtotal, used).map_err(|r| {
                // An order always has a subtotal; "nothing to discount" is below the minimum.
                RedeemError::Rejected(if r == Rejection::EmptyCart { Rejection::MinSubtotal } else { r })
            })?;
            let redemption = Redemption {
                redemption_id: shop_core::id::new_id(),
                order_id: order,
                code: coupon.code.clone(),
                user_id: user,
                discount: coupon.terms().discount(subtotal),
                created_at: now,
                coupon_incarnation: stored.incarnation,
            };
            let mut item: Item = serde_dynamo::to_item(&redemption).map_err(StoreError::from)?;
            item.extend(key(redemption_pk(order), "REDEMPTION"));
            let (same_coupon, inc_value) = incarnation_is(stored.incarnation, ":inc");
            let mut count = Update::builder()
                .table_name(&self.table)
                .set_key(Some(key(coupon_pk(code), "COUPON")))
                .update_expression("SET redemptionCount = redemptionCount + :one")
                .condition_expression(format!(
                    "attribute_exists(pk) AND active = :true AND (attribute_not_exists(maxRedemptions) OR redemptionCount < maxRedemptions) AND {same_coupon}"
                ))
                .expression_attribute_values(":one", n(1))
                .expression_attribute_values(":true", AttributeValue::Bool(true));
            if let Some((name, value)) = &inc_value {
                count = count.expression_attribute_values(name, value.clone());
            }
            let per_user = self.count_for_user(code, user, &stored, stale)?;
            let mut tx = Transaction::new();
            tx.put(&self.table, item, Some("attribute_not_exists(pk)"), Some(Part::Redemption))?;
            tx.update(count.build().map_err(StoreError::from)?, Some(Part::Coupon));
            tx.update(per_user, Some(Part::PerUser));
            if tx.commit(&self.client).await?.is_committed() {
                return Ok(redemption);
            }
            // A concurrent call redeemed this order, the coupon changed (or reached its limit,
            // or was re-created), or the user's counter changed: the next pass returns that
            // redemption or the reason.
            retry.wait().await?;
        }
    }

    /// The update of `user`'s counter in a redemption of `stored`: +1 under the per-user limit,
    /// or, over a counter of an earlier incarnation (`stale`), a reset to 1 if it is still that.
    fn count_for_user(&self, code: &str, user: Uuid, stored: &StoredCoupon, stale: Option<UserCounter>) -> Result<Update, StoreError> {
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(coupon_pk(code), format!("USER#{user}"))))
            .expression_attribute_names("#count", "count")
            .expression_attribute_values(":one", n(1));
        let (expression, condition, values) = match (stale, stored.incarnation) {
            (Some(stale), incarnation) => {
                let (still_stale, stale_value) = incarnation_is(stale.incarnation, ":stale");
                let expression = match incarnation {
                    Some(_) => "SET #count = :one, incarnation = :inc",
                    None => "SET #count = :one REMOVE incarnation",
                };
                let values: Vec<(String, AttributeValue)> =
                    stale_value.into_iter().chain(incarnation.map(|id| (":inc".to_owned(), s(id.to_string())))).collect();
                (expression, format!("attribute_exists(pk) AND {still_stale}"), values)
            }
            (None, incarnation) => {
                let (same, value) = incarnation_is(incarnation, ":inc");
                let expression = if incarnation.is_some() { "SET incarnation = :inc ADD #count :one" } else { "ADD #count :one" };
                let mut condition = format!("(attribute_not_exists(pk) OR {same})");
                let mut values: Vec<(String, AttributeValue)> = value.into_iter().collect();
                if let Some(limit) = stored.coupon.per_user_limit {
                    condition.push_str(" AND (attribute_not_exists(#count) OR #count < :limit)");
                    values.push((":limit".to_owned(), n(limit)));
                }
                (expression, condition, values)
            }
        };
        let mut update = update.update_expression(expression).condition_expression(condition);
        for (name, value) in values {
            update = update.expression_attribute_values(name, value);
        }
        Ok(update.build()?)
    }

    /// Releases the redemption of `order` once; true when there was one to release.
    /// Idempotent. The counters go back down only on the incarnation of the coupon that was
    /// redeemed: a coupon deleted since (or deleted and created again) keeps its counts.
    #[instrument(skip_all, fields(order = %order))]
    pub async fn release(&self, order: Uuid) -> Result<bool, StoreError> {
        let mut retry = RetryPolicy::CONTENDED.start();
        loop {
            let Some(redemption) = self.redemption(order).await? else {
                return Ok(false);
            };
            let code = &redemption.code;
            let delete = Delete::builder()
                .table_name(&self.table)
                .set_key(Some(key(redemption_pk(order), "REDEMPTION")))
                .condition_expression("attribute_exists(pk)")
                .build()?;
            let mut tx = Transaction::new();
            tx.delete(delete, Some(Part::Redemption));
            let (same_coupon, inc_value) = incarnation_is(redemption.coupon_incarnation, ":inc");
            let decrement = |sk: String, attr: &str| {
                let mut update = Update::builder()
                    .table_name(&self.table)
                    .set_key(Some(key(coupon_pk(code), sk)))
                    .update_expression("SET #c = #c - :one")
                    .condition_expression(format!("#c > :zero AND {same_coupon}"))
                    .expression_attribute_names("#c", attr)
                    .expression_attribute_values(":one", n(1))
                    .expression_attribute_values(":zero", n(0));
                if let Some((name, value)) = &inc_value {
                    update = update.expression_attribute_values(name, value.clone());
                }
                update.build()
            };
            // Only the coupon that was redeemed gives back, and only what it still counts (each
            // decrement is conditional on both, so a change meanwhile is a retry from a fresh
            // read, never a decrement of another coupon's counters).
            let coupon = self.coupon(code).await?.filter(|c| c.incarnation == redemption.coupon_incarnation);
            if let Some(coupon) = &coupon {
                if coupon.coupon.redemption_count > 0 {
                    tx.update(decrement("COUPON".into(), "redemptionCount")?, Some(Part::Coupon));
                }
                let counter = self.user_counter(code, redemption.user_id).await?;
                if counter.is_some_and(|c| c.incarnation == redemption.coupon_incarnation && c.count > 0) {
                    tx.update(decrement(format!("USER#{}", redemption.user_id), "count")?, Some(Part::PerUser));
                }
            }
            if tx.commit(&self.client).await?.is_committed() {
                return Ok(true);
            }
            // Released concurrently, or a counter changed under us: look again.
            retry.wait().await?;
        }
    }
}
