//! The payments database. Every change of a payment happens under its row lock (`FOR UPDATE`)
//! and moves only forward ([`Status::absorb`]), so the webhook, the client's confirm and the
//! reconciliation job can apply the same intent in any order, any number of times.

use serde_json::Value;
use shop_aws::outbox::{OutboxEvent, OutboxStore, Pending};
use shop_aws::pg::Db;
use sqlx::postgres::PgPool;
use sqlx::{Postgres, Transaction};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::domain::{Method, Payment, RefundReason, RefundRow, RefundStatus, Status};
use crate::stripe::Intent;

pub use shop_aws::pg::StoreError;

struct PaymentRow {
    id: Uuid,
    order_id: Uuid,
    attempt: i32,
    user_id: Uuid,
    order_number: String,
    method: String,
    intent_id: Option<String>,
    intent_status: Option<String>,
    amount: i64,
    currency: String,
    status: String,
    captured: i64,
    refunded: i64,
    failure_code: Option<String>,
    failure_reason: Option<String>,
    order_outcome: Option<String>,
    order_refund_reported: bool,
    dispute_id: Option<String>,
    dispute_reason: Option<String>,
    disputed_at: Option<OffsetDateTime>,
    created_at: OffsetDateTime,
    updated_at: OffsetDateTime,
    succeeded_at: Option<OffsetDateTime>,
}

impl TryFrom<PaymentRow> for Payment {
    type Error = StoreError;
    fn try_from(r: PaymentRow) -> Result<Self, StoreError> {
        Ok(Payment {
            id: r.id,
            order_id: r.order_id,
            attempt: r.attempt,
            user_id: r.user_id,
            order_number: r.order_number,
            method: Method::parse(&r.method).ok_or_else(|| StoreError::Corrupt(format!("method {}", r.method)))?,
            intent_id: r.intent_id,
            intent_status: r.intent_status,
            amount: r.amount,
            currency: r.currency,
            status: Status::parse(&r.status).ok_or_else(|| StoreError::Corrupt(format!("status {}", r.status)))?,
            captured: r.captured,
            refunded: r.refunded,
            failure_code: r.failure_code,
            failure_reason: r.failure_reason,
            order_outcome: r.order_outcome,
            order_refund_reported: r.order_refund_reported,
            dispute_id: r.dispute_id,
            dispute_reason: r.dispute_reason,
            disputed_at: r.disputed_at.map(Into::into),
            created_at: r.created_at.into(),
            updated_at: r.updated_at.into(),
            succeeded_at: r.succeeded_at.map(Into::into),
        })
    }
}

struct RefundDbRow {
    id: Uuid,
    payment_id: Uuid,
    idempotency_key: String,
    request_hash: String,
    amount: i64,
    reason: String,
    note: Option<String>,
    restock: Option<bool>,
    status: String,
    stripe_refund_id: Option<String>,
    failure_reason: Option<String>,
    requested_by: Option<Uuid>,
    created_at: OffsetDateTime,
    updated_at: OffsetDateTime,
}

impl TryFrom<RefundDbRow> for RefundRow {
    type Error = StoreError;
    fn try_from(r: RefundDbRow) -> Result<Self, StoreError> {
        Ok(RefundRow {
            id: r.id,
            payment_id: r.payment_id,
            idempotency_key: r.idempotency_key,
            request_hash: r.request_hash,
            amount: r.amount,
            reason: RefundReason::parse(&r.reason).ok_or_else(|| StoreError::Corrupt(format!("reason {}", r.reason)))?,
            note: r.note,
            restock: r.restock,
            status: RefundStatus::parse(&r.status).ok_or_else(|| StoreError::Corrupt(format!("refund status {}", r.status)))?,
            stripe_refund_id: r.stripe_refund_id,
            failure_reason: r.failure_reason,
            requested_by: r.requested_by,
            created_at: r.created_at.into(),
            updated_at: r.updated_at.into(),
        })
    }
}

fn payments(rows: Vec<PaymentRow>) -> Result<Vec<Payment>, StoreError> {
    rows.into_iter().map(Payment::try_from).collect()
}

/// How a Stripe event's delivery was recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// First delivery, or an earlier one that was not processed to the end: process it.
    Process,
    /// Already processed: nothing to do.
    Done,
}

/// Filters of the admin list.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub status: Option<Status>,
    pub method: Option<Method>,
    pub user_id: Option<Uuid>,
    pub order_id: Option<Uuid>,
    pub from: Option<OffsetDateTime>,
    pub to: Option<OffsetDateTime>,
}

#[derive(Debug, Clone)]
pub struct Store {
    db: Db,
}

pub type Tx = Transaction<'static, Postgres>;

impl Store {
    /// Readiness: the database answers `SELECT 1` (`shop_core::health`).
    pub fn probe(&self) -> shop_core::health::Probe {
        shop_aws::health::postgres(self.db.pool())
    }

    pub fn new(pool: PgPool) -> Self {
        Self { db: Db::new("payments->postgres", pool) }
    }

    pub fn pool(&self) -> &PgPool {
        self.db.pool()
    }

    pub async fn begin(&self) -> Result<Tx, StoreError> {
        let mut tx = self.db.begin().await?;
        // A payment's lock is held across one Stripe call at most (4 s per attempt): waiting
        // longer than that means something is stuck, and the caller gets a 503 to retry.
        sqlx::query!("SET LOCAL lock_timeout = '6s'").execute(&mut *tx).await?;
        Ok(tx)
    }

    // ------------------------------------------------------------------ reads

    pub async fn payment(&self, id: Uuid) -> Result<Option<Payment>, StoreError> {
        let row =
            sqlx::query_as!(PaymentRow, "SELECT * FROM payments WHERE id = $1", id).fetch_optional(&mut *self.db.conn().await?).await?;
        row.map(Payment::try_from).transpose()
    }

    pub async fn by_intent(&self, intent_id: &str) -> Result<Option<Payment>, StoreError> {
        let row = sqlx::query_as!(PaymentRow, "SELECT * FROM payments WHERE intent_id = $1", intent_id)
            .fetch_optional(&mut *self.db.conn().await?)
            .await?;
        row.map(Payment::try_from).transpose()
    }

    /// The payments of an order, newest attempt first.
    pub async fn of_order(&self, order_id: Uuid) -> Result<Vec<Payment>, StoreError> {
        payments(
            sqlx::query_as!(PaymentRow, "SELECT * FROM payments WHERE order_id = $1 ORDER BY attempt DESC", order_id)
                .fetch_all(&mut *self.db.conn().await?)
                .await?,
        )
    }

    pub async fn refunds_of(&self, payment_id: Uuid) -> Result<Vec<RefundRow>, StoreError> {
        let rows = sqlx::query_as!(RefundDbRow, "SELECT * FROM refunds WHERE payment_id = $1 ORDER BY created_at, id", payment_id)
            .fetch_all(&mut *self.db.conn().await?)
            .await?;
        rows.into_iter().map(RefundRow::try_from).collect()
    }

    /// The refunds of several payments (one query), each payment's oldest first.
    pub async fn refunds_of_many(&self, payment_ids: &[Uuid]) -> Result<std::collections::HashMap<Uuid, Vec<RefundRow>>, StoreError> {
        let mut out: std::collections::HashMap<Uuid, Vec<RefundRow>> = std::collections::HashMap::new();
        if payment_ids.is_empty() {
            return Ok(out);
        }
        let rows = sqlx::query_as!(RefundDbRow, "SELECT * FROM refunds WHERE payment_id = ANY($1) ORDER BY created_at, id", payment_ids)
            .fetch_all(&mut *self.db.conn().await?)
            .await?;
        for row in rows {
            let row = RefundRow::try_from(row)?;
            out.entry(row.payment_id).or_default().push(row);
        }
        Ok(out)
    }

    /// The admin list, newest first, with the total.
    pub async fn list(&self, f: &ListFilter, limit: i64, offset: i64) -> Result<(Vec<Payment>, i64), StoreError> {
        let status = f.status.map(|s| s.as_str());
        let method = f.method.map(|m| m.as_str());
        let rows = sqlx::query_as!(
            PaymentRow,
            "SELECT * FROM payments
             WHERE ($1::text IS NULL OR status = $1) AND ($2::text IS NULL OR method = $2)
               AND ($3::uuid IS NULL OR user_id = $3) AND ($4::uuid IS NULL OR order_id = $4)
               AND ($5::timestamptz IS NULL OR created_at >= $5) AND ($6::timestamptz IS NULL OR created_at < $6)
             ORDER BY created_at DESC, id LIMIT $7 OFFSET $8",
            status,
            method,
            f.user_id,
            f.order_id,
            f.from,
            f.to,
            limit,
            offset
        )
        .fetch_all(&mut *self.db.conn().await?)
        .await?;
        let total = sqlx::query_scalar!(
            "SELECT count(*) FROM payments
             WHERE ($1::text IS NULL OR status = $1) AND ($2::text IS NULL OR method = $2)
               AND ($3::uuid IS NULL OR user_id = $3) AND ($4::uuid IS NULL OR order_id = $4)
               AND ($5::timestamptz IS NULL OR created_at >= $5) AND ($6::timestamptz IS NULL OR created_at < $6)",
            status,
            method,
            f.user_id,
            f.order_id,
            f.from,
            f.to
        )
        .fetch_one(&mut *self.db.conn().await?)
        .await?
        .unwrap_or(0);
        Ok((payments(rows)?, total))
    }

    // ------------------------------------------------------------------ locked changes

    /// Locks every payment row of an order (the intent creation's mutex), oldest attempt first.
    pub async fn lock_order(&self, tx: &mut Tx, order_id: Uuid) -> Result<Vec<Payment>, StoreError> {
        payments(
            sqlx::query_as!(PaymentRow, "SELECT * FROM payments WHERE order_id = $1 ORDER BY attempt FOR UPDATE", order_id)
                .fetch_all(&mut **tx)
                .await?,
        )
    }

    pub async fn lock(&self, tx: &mut Tx, id: Uuid) -> Result<Option<Payment>, StoreError> {
        let row = sqlx::query_as!(PaymentRow, "SELECT * FROM payments WHERE id = $1 FOR UPDATE", id).fetch_optional(&mut **tx).await?;
        row.map(Payment::try_from).transpose()
    }

    pub async fn lock_intent(&self, tx: &mut Tx, intent_id: &str) -> Result<Option<Payment>, StoreError> {
        let row = sqlx::query_as!(PaymentRow, "SELECT * FROM payments WHERE intent_id = $1 FOR UPDATE", intent_id)
            .fetch_optional(&mut **tx)
            .await?;
        row.map(Payment::try_from).transpose()
    }

    /// Inserts a payment unless its `(order, attempt)` exists; true when inserted.
    pub async fn insert(&self, tx: &mut Tx, p: &Payment) -> Result<bool, StoreError> {
        let done = sqlx::query!(
            "INSERT INTO payments (id, order_id, attempt, user_id, order_number, method, intent_id, intent_status, amount, currency, status, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12)
             ON CONFLICT (order_id, attempt) DO NOTHING",
            p.id,
            p.order_id,
            p.attempt,
            p.user_id,
            p.order_number,
            p.method.as_str(),
            p.intent_id,
            p.intent_status,
            p.amount,
            p.currency,
            p.status.as_str(),
            OffsetDateTime::from(p.created_at),
        )
        .execute(&mut **tx)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Writes a payment's mutable fields as they are in `p` (the caller holds its lock).
    pub async fn save(&self, tx: &mut Tx, p: &Payment) -> Result<(), StoreError> {
        sqlx::query!(
            "UPDATE payments SET intent_id = $2, intent_status = $3, status = $4, captured = $5, refunded = $6,
                failure_code = $7, failure_reason = $8, order_outcome = $9, order_refund_reported = $10,
                dispute_id = $11, dispute_reason = $12, disputed_at = $13, succeeded_at = $14, updated_at = now()
             WHERE id = $1",
            p.id,
            p.intent_id,
            p.intent_status,
            p.status.as_str(),
            p.captured,
            p.refunded,
            p.failure_code,
            p.failure_reason,
            p.order_outcome,
            p.order_refund_reported,
            p.dispute_id,
            p.dispute_reason,
            p.disputed_at.map(OffsetDateTime::from),
            p.succeeded_at.map(OffsetDateTime::from),
        )
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// Applies what Stripe says of an intent to its payment, under the lock: `None` when no payment
    /// has this intent. Returns the payment after, and whether it changed.
    pub async fn apply_intent(&self, intent: &Intent) -> Result<Option<(Payment, bool)>, StoreError> {
        let mut tx = self.begin().await?;
        let Some(mut payment) = self.lock_intent(&mut tx, &intent.id).await? else {
            return Ok(None);
        };
        let changed = payment.absorb(intent);
        if changed {
            self.save(&mut tx, &payment).await?;
        }
        tx.commit().await?;
        Ok(Some((payment, changed)))
    }

    // ------------------------------------------------------------------ refunds

    pub async fn refund_by_key(&self, tx: &mut Tx, payment_id: Uuid, key: &str) -> Result<Option<RefundRow>, StoreError> {
        let row = sqlx::query_as!(RefundDbRow, "SELECT * FROM refunds WHERE payment_id = $1 AND idempotency_key = $2", payment_id, key)
            .fetch_optional(&mut **tx)
            .await?;
        row.map(RefundRow::try_from).transpose()
    }

    pub async fn refund(&self, tx: &mut Tx, id: Uuid) -> Result<Option<RefundRow>, StoreError> {
        let row = sqlx::query_as!(RefundDbRow, "SELECT * FROM refunds WHERE id = $1", id).fetch_optional(&mut **tx).await?;
        row.map(RefundRow::try_from).transpose()
    }

    /// Cents of this payment's refunds still waiting for Stripe (they hold their amount).
    pub async fn pending_refunds(&self, tx: &mut Tx, payment_id: Uuid) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar!(
            "SELECT COALESCE(sum(amount), 0)::bigint FROM refunds WHERE payment_id = $1 AND status = 'PENDING'",
            payment_id
        )
        .fetch_one(&mut **tx)
        .await?
        .unwrap_or(0))
    }

    pub async fn insert_refund(&self, tx: &mut Tx, r: &RefundRow) -> Result<(), StoreError> {
        sqlx::query!(
            "INSERT INTO refunds (id, payment_id, idempotency_key, request_hash, amount, reason, note, restock, status, stripe_refund_id, requested_by, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12)",
            r.id,
            r.payment_id,
            r.idempotency_key,
            r.request_hash,
            r.amount,
            r.reason.as_str(),
            r.note,
            r.restock,
            r.status.as_str(),
            r.stripe_refund_id,
            r.requested_by,
            OffsetDateTime::from(r.created_at),
        )
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    pub async fn settle_refund(
        &self,
        tx: &mut Tx,
        id: Uuid,
        status: RefundStatus,
        stripe_id: Option<&str>,
        failure: Option<&str>,
    ) -> Result<(), StoreError> {
        sqlx::query!(
            "UPDATE refunds SET status = $2, stripe_refund_id = COALESCE($3, stripe_refund_id), failure_reason = $4, updated_at = now() WHERE id = $1",
            id,
            status.as_str(),
            stripe_id,
            failure
        )
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// Whether a refund with this Stripe id is recorded.
    pub async fn knows_stripe_refund(&self, tx: &mut Tx, stripe_id: &str) -> Result<bool, StoreError> {
        Ok(sqlx::query_scalar!("SELECT 1 FROM refunds WHERE stripe_refund_id = $1", stripe_id).fetch_optional(&mut **tx).await?.is_some())
    }

    // ------------------------------------------------------------------ reconciliation

    /// Card payments whose intent may have moved without us hearing (a lost webhook): not final
    /// and not touched since `before`.
    pub async fn stuck(&self, before: OffsetDateTime, limit: i64) -> Result<Vec<Payment>, StoreError> {
        payments(
            sqlx::query_as!(
                PaymentRow,
                "SELECT * FROM payments WHERE method = 'card' AND intent_id IS NOT NULL AND status IN ('PROCESSING', 'FAILED')
                   AND updated_at < $1 ORDER BY updated_at LIMIT $2",
                before,
                limit
            )
            .fetch_all(&mut *self.db.conn().await?)
            .await?,
        )
    }

    /// Paid card payments whose order was not yet told (confirmed, or refunded as late), or whose
    /// full refund was not yet reported.
    pub async fn unfinished(&self, before: OffsetDateTime, limit: i64) -> Result<Vec<Payment>, StoreError> {
        payments(
            sqlx::query_as!(
                PaymentRow,
                "SELECT * FROM payments WHERE method = 'card' AND updated_at < $1 AND (
                    (status IN ('SUCCEEDED', 'PARTIALLY_REFUNDED', 'REFUNDED') AND order_outcome IS NULL)
                 OR (status = 'REFUNDED' AND order_outcome = 'confirmed' AND NOT order_refund_reported))
                 ORDER BY updated_at LIMIT $2",
                before,
                limit
            )
            .fetch_all(&mut *self.db.conn().await?)
            .await?,
        )
    }

    /// Refunds left waiting for Stripe since before `before`.
    pub async fn stale_refunds(&self, before: OffsetDateTime, limit: i64) -> Result<Vec<RefundRow>, StoreError> {
        let rows = sqlx::query_as!(
            RefundDbRow,
            "SELECT * FROM refunds WHERE status = 'PENDING' AND created_at < $1 ORDER BY created_at LIMIT $2",
            before,
            limit
        )
        .fetch_all(&mut *self.db.conn().await?)
        .await?;
        rows.into_iter().map(RefundRow::try_from).collect()
    }

    // ------------------------------------------------------------------ cash on delivery

    /// The cod record of an order, created once (`OrderPlaced`).
    pub async fn ensure_cod(&self, p: &Payment) -> Result<bool, StoreError> {
        let mut tx = self.begin().await?;
        let inserted = self.insert(&mut tx, p).await?;
        tx.commit().await?;
        Ok(inserted)
    }

    // ------------------------------------------------------------------ webhook events

    /// Records a Stripe event by id (durably, before anything is done about it).
    pub async fn record_event(&self, id: &str, kind: &str, payload: &Value) -> Result<Recorded, StoreError> {
        sqlx::query!("INSERT INTO webhook_events (id, kind, payload) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING", id, kind, payload)
            .execute(&mut *self.db.conn().await?)
            .await?;
        let processed =
            sqlx::query_scalar!("SELECT processed_at FROM webhook_events WHERE id = $1", id).fetch_one(&mut *self.db.conn().await?).await?;
        Ok(if processed.is_some() { Recorded::Done } else { Recorded::Process })
    }

    pub async fn mark_event(&self, id: &str, outcome: &str) -> Result<(), StoreError> {
        sqlx::query!("UPDATE webhook_events SET processed_at = now(), outcome = $2 WHERE id = $1 AND processed_at IS NULL", id, outcome)
            .execute(&mut *self.db.conn().await?)
            .await?;
        Ok(())
    }

    /// Events recorded but never processed to the end (their handler failed), oldest first.
    pub async fn unprocessed_events(&self, before: OffsetDateTime, limit: i64) -> Result<Vec<(String, Value)>, StoreError> {
        let rows = sqlx::query!(
            "SELECT id, payload FROM webhook_events WHERE processed_at IS NULL AND received_at < $1 ORDER BY received_at LIMIT $2",
            before,
            limit
        )
        .fetch_all(&mut *self.db.conn().await?)
        .await?;
        Ok(rows.into_iter().map(|r| (r.id, r.payload)).collect())
    }

    // ------------------------------------------------------------------ outbox

    pub async fn outbox(&self, tx: &mut Tx, order_id: Uuid, events: &[OutboxEvent]) -> Result<(), StoreError> {
        for e in events {
            sqlx::query!(
                "INSERT INTO payment_outbox (id, order_id, kind, body, created_at) VALUES ($1, $2, $3, $4, now())",
                e.id,
                order_id,
                e.kind,
                e.body
            )
            .execute(&mut **tx)
            .await?;
        }
        Ok(())
    }

    /// Events never published, for the operator's metric.
    pub async fn outbox_backlog(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar!("SELECT count(*) FROM payment_outbox WHERE published_at IS NULL")
            .fetch_one(&mut *self.db.conn().await?)
            .await?
            .unwrap_or(0))
    }
}

impl OutboxStore for Store {
    type Error = StoreError;

    async fn unpublished(&self, older_than: OffsetDateTime, limit: i64) -> Result<Vec<Pending>, StoreError> {
        let rows = sqlx::query!(
            "SELECT id, kind, body FROM payment_outbox WHERE published_at IS NULL AND created_at < $1 ORDER BY created_at, id LIMIT $2",
            older_than,
            limit
        )
        .fetch_all(&mut *self.db.conn().await?)
        .await?;
        Ok(rows.into_iter().map(|r| Pending { id: r.id, kind: r.kind, body: r.body }).collect())
    }

    async fn mark_published(&self, ids: &[Uuid]) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        sqlx::query!(
            "UPDATE payment_outbox SET published_at = now(), attempts = attempts + 1 WHERE id = ANY($1) AND published_at IS NULL",
            ids
        )
        .execute(&mut *self.db.conn().await?)
        .await?;
        Ok(())
    }

    async fn mark_failed(&self, ids: &[Uuid]) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        sqlx::query!("UPDATE payment_outbox SET attempts = attempts + 1 WHERE id = ANY($1)", ids)
            .execute(&mut *self.db.conn().await?)
            .await?;
        Ok(())
    }
}

impl Store {
    /// Records what orders answered for a paid payment (once).
    pub async fn set_outcome(&self, id: Uuid, outcome: &str) -> Result<(), StoreError> {
        sqlx::query!("UPDATE payments SET order_outcome = $2, updated_at = now() WHERE id = $1 AND order_outcome IS NULL", id, outcome)
            .execute(&mut *self.db.conn().await?)
            .await?;
        Ok(())
    }

    /// Orders acknowledged the full refund.
    pub async fn set_refund_reported(&self, id: Uuid) -> Result<(), StoreError> {
        sqlx::query!("UPDATE payments SET order_refund_reported = true, updated_at = now() WHERE id = $1", id)
            .execute(&mut *self.db.conn().await?)
            .await?;
        Ok(())
    }
}
