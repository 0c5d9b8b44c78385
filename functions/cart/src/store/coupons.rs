//! Every DynamoDB call of the cart function: coupons and their redemptions in `PromotionsTable`.
//!
//! | pk | sk | item |
//! |---|---|---|
//! | `COUPON#<CODE>` | `COUPON` | [`Coupon`] + `version`; `gsi1pk = COUPONS`, `gsi1sk = <CODE>` (listing) |
//! | `COUPON#<CODE>` | `USER#<userId>` | `count`: the user's redemptions of the coupon |
//! | `REDEMPTION#<orderId>` | `REDEMPTION` | [`Redemption`] (one per order: redeeming is idempotent by order) |
//!
//! A redemption is one transaction of three conditional writes: the redemption item (absent),
//! the coupon's `redemptionCount` (`< maxRedemptions`, active) and the user's counter
//! (`< perUserLimit`). Lost races are retried from a fresh read within the shared retry budget
//! (`shop_core::retry`), so the limits hold under any concurrency. Releasing deletes the
//! redemption item in the same transaction as the decrements, so a release counts once.

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

use crate::domain::{Coupon, Rejection};

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
    /// The coupon: gone, inactive, or at its overall limit.
    Coupon,
    /// The user's counter: at the per-user limit.
    PerUser,
}

#[derive(Debug, Clone)]
pub struct CouponStore {
    client: Client,
    table: String,
}

impl CouponStore {
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

    fn read_coupon(item: Item) -> Result<(Coupon, u64), StoreError> {
        let version = attr(&item, "version")?.ok_or_else(|| StoreError::unexpected("a coupon item has no version"))?;
        Ok((serde_dynamo::from_item(item)?, version))
    }

    /// The coupon with this (upper-case) code and its version.
    #[instrument(skip_all)]
    pub async fn coupon(&self, code: &str) -> Result<Option<(Coupon, u64)>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(coupon_pk(code), "COUPON")))
            .consistent_read(true)
            .send()
            .await?;
        out.item.map(Self::read_coupon).transpose()
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

    /// Creates a coupon; `ConditionFailed` when the code is taken.
    #[instrument(skip_all)]
    pub async fn create(&self, coupon: &Coupon) -> Result<Outcome, StoreError> {
        let item = self.coupon_item(coupon, 1)?;
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        Ok(write_outcome(result)?)
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

    /// Deletes a coupon; `ConditionFailed` when there was none. Redemptions stay (order history).
    #[instrument(skip_all)]
    pub async fn delete(&self, code: &str) -> Result<Outcome, StoreError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(coupon_pk(code), "COUPON")))
            .condition_expression("attribute_exists(pk)")
            .send()
            .await;
        Ok(write_outcome(result)?)
    }

    /// How often `user` has redeemed `code`.
    #[instrument(skip_all)]
    pub async fn used_by(&self, code: &str, user: Uuid) -> Result<u32, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(coupon_pk(code), format!("USER#{user}"))))
            .consistent_read(true)
            .send()
            .await?;
        Ok(match out.item {
            Some(item) => attr(&item, "count")?.unwrap_or(0),
            None => 0,
        })
    }

    /// The redemption made for `order`.
    #[instrument(skip_all)]
    pub async fn redemption(&self, order: Uuid) -> Result<Option<Redemption>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(redemption_pk(order), "REDEMPTION")))
            .consistent_read(true)
            .send()
            .await?;
        Ok(out.item.map(serde_dynamo::from_item).transpose()?)
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
            let Some((coupon, _)) = self.coupon(code).await? else {
                return Err(RedeemError::Rejected(Rejection::Unknown));
            };
            let now = Timestamp::now();
            let used = self.used_by(code, user).await?;
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
            };
            let mut item: Item = serde_dynamo::to_item(&redemption).map_err(StoreError::from)?;
            item.extend(key(redemption_pk(order), "REDEMPTION"));
            let count = Update::builder()
                .table_name(&self.table)
                .set_key(Some(key(coupon_pk(code), "COUPON")))
                .update_expression("SET redemptionCount = redemptionCount + :one")
                .condition_expression("attribute_exists(pk) AND active = :true AND (attribute_not_exists(maxRedemptions) OR redemptionCount < maxRedemptions)")
                .expression_attribute_values(":one", n(1))
                .expression_attribute_values(":true", AttributeValue::Bool(true))
                .build()
                .map_err(StoreError::from)?;
            let mut per_user = Update::builder()
                .table_name(&self.table)
                .set_key(Some(key(coupon_pk(code), format!("USER#{user}"))))
                .update_expression("ADD #count :one")
                .expression_attribute_names("#count", "count")
                .expression_attribute_values(":one", n(1));
            if let Some(limit) = coupon.per_user_limit {
                per_user = per_user
                    .condition_expression("attribute_not_exists(#count) OR #count < :limit")
                    .expression_attribute_values(":limit", n(limit));
            }
            let mut tx = Transaction::new();
            tx.put(&self.table, item, Some("attribute_not_exists(pk)"), Some(Part::Redemption))?;
            tx.update(count, Some(Part::Coupon));
            tx.update(per_user.build().map_err(StoreError::from)?, Some(Part::PerUser));
            match tx.commit(&self.client).await? {
                TxOutcome::Committed => return Ok(redemption),
                // A concurrent call redeemed this order, or the coupon changed (or reached its
                // limit): the next pass returns that redemption or the reason.
                r if r.refused(&Part::Redemption) || r.refused(&Part::Coupon) => {}
                _ => return Err(RedeemError::Rejected(Rejection::LimitReached)),
            }
            retry.wait().await?;
        }
    }

    /// Releases the redemption of `order` once (the counters go back down); true when there
    /// was one to release. Idempotent.
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
            let decrement = |sk: String, attr: &str| {
                Update::builder()
                    .table_name(&self.table)
                    .set_key(Some(key(coupon_pk(code), sk)))
                    .update_expression("SET #c = #c - :one")
                    .condition_expression("#c > :zero")
                    .expression_attribute_names("#c", attr)
                    .expression_attribute_values(":one", n(1))
                    .expression_attribute_values(":zero", n(0))
                    .build()
            };
            // A coupon deleted since keeps no counters to give back.
            if self.coupon(code).await?.is_some() {
                tx.update(decrement("COUPON".into(), "redemptionCount")?, Some(Part::Coupon));
            }
            if self.used_by(code, redemption.user_id).await? > 0 {
                tx.update(decrement(format!("USER#{}", redemption.user_id), "count")?, Some(Part::PerUser));
            }
            if tx.commit(&self.client).await?.is_committed() {
                return Ok(true);
            }
            // Released concurrently, or a counter changed under us: look again.
            retry.wait().await?;
        }
    }
}
