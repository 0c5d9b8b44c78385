//! Every PostgreSQL statement of the orders function (compile-checked by sqlx against the
//! migrations; the offline data is in `.sqlx/`).
//!
//! A state change and the events it causes are written in one transaction (the outbox); the
//! status machine is applied under the order's row lock ([`Store::transition`]), so two racing
//! changes of one order serialise and the second sees the first's result.

use std::collections::{BTreeMap, HashMap};

use http::StatusCode;
use serde_json::Value;
use shop_aws::messages::orders::{Address, Line};
use shop_aws::pg::Db;
use shop_core::ApiError;
use shop_core::money::Totals;
use shop_core::pagination::PageRequest;
use shop_core::time::Timestamp;
use sqlx::postgres::PgPool;
use sqlx::types::Json;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::domain::{Actor, DayStats, HistoryEntry, Order, PaymentMethod, Stats, Status};

pub use shop_aws::outbox::{OutboxEvent, Pending};
pub use shop_aws::pg::StoreError;

/// The first look at an `Idempotency-Key`.
#[derive(Debug, Clone, PartialEq)]
pub enum Begin {
    /// A new request: run the checkout for this order id.
    Fresh(Uuid),
    /// An earlier request with this key stopped without finishing (its lease ran out): run the
    /// checkout again for the same order id (every step is idempotent by it).
    TakenOver(Uuid),
    /// Completed: the stored response.
    Done(Value),
    /// Another request with this key is running now.
    InProgress,
    /// The key was used with another body.
    Mismatch,
}

/// How [`Store::insert_order`] ended.
#[derive(Debug)]
pub enum Inserted {
    /// Written; the response stored with the checkout request.
    Placed(serde_json::Value),
    /// This order id exists already: a concurrent run of the same request placed it.
    AlreadyPlaced,
    /// Another order has this number (a one-in-1.7-million draw in the same millisecond).
    NumberTaken,
    /// The checkout request is no longer held by this run (let go or being compensated).
    LostRequest,
}

/// Filters of the admin list.
#[derive(Debug, Clone, Default)]
pub struct AdminFilter {
    pub status: Option<Status>,
    pub from: Option<OffsetDateTime>,
    pub to: Option<OffsetDateTime>,
    /// An order number (prefix, any case) or a user id.
    pub q: Option<String>,
    /// Only flagged orders (`true`) or only unflagged ones (`false`).
    pub flagged: Option<bool>,
}

/// Changes a transition writes besides the status.
#[derive(Debug, Clone, Default)]
pub struct Change {
    pub note: Option<String>,
    pub tracking_number: Option<String>,
    pub carrier: Option<String>,
    pub payment_id: Option<String>,
    pub cancel_reason: Option<String>,
}

/// How a transition ended.
#[derive(Debug)]
pub enum Moved<E> {
    /// Moved; the order after, and the events written with the change (to publish now).
    Done(Order, Vec<OutboxEvent>),
    /// The check refused it (nothing written).
    Refused(E),
    NotFound,
}

struct OrderRow {
    id: Uuid,
    order_number: String,
    user_id: Uuid,
    status: String,
    payment_method: String,
    payment_id: Option<String>,
    currency: String,
    subtotal: i64,
    discount: i64,
    shipping_cost: i64,
    tax: i64,
    total: i64,
    coupon_code: Option<String>,
    shipping_address: Json<Address>,
    billing_address: Json<Address>,
    notes: Option<String>,
    tracking_number: Option<String>,
    carrier: Option<String>,
    cancel_reason: Option<String>,
    payment_due_at: Option<OffsetDateTime>,
    created_at: OffsetDateTime,
    updated_at: OffsetDateTime,
    confirmed_at: Option<OffsetDateTime>,
    processing_at: Option<OffsetDateTime>,
    shipped_at: Option<OffsetDateTime>,
    delivered_at: Option<OffsetDateTime>,
    cancelled_at: Option<OffsetDateTime>,
    refunded_at: Option<OffsetDateTime>,
    flagged_reason: Option<String>,
    flagged_at: Option<OffsetDateTime>,
}

struct ItemRow {
    order_id: Uuid,
    product_id: Uuid,
    seller_id: Uuid,
    name: String,
    sku: String,
    price: i64,
    quantity: i32,
    image: Option<String>,
}

fn ts(t: Option<OffsetDateTime>) -> Option<Timestamp> {
    t.map(Timestamp::from)
}

impl OrderRow {
    fn into_order(self, items: Vec<Line>) -> Result<Order, StoreError> {
        Ok(Order {
            status: Status::parse(&self.status).ok_or_else(|| StoreError::Corrupt(format!("status {}", self.status)))?,
            payment_method: PaymentMethod::parse(&self.payment_method)
                .ok_or_else(|| StoreError::Corrupt(format!("payment method {}", self.payment_method)))?,
            id: self.id,
            order_number: self.order_number,
            user_id: self.user_id,
            payment_id: self.payment_id,
            currency: self.currency,
            totals: Totals {
                subtotal: self.subtotal,
                discount: self.discount,
                shipping: self.shipping_cost,
                tax: self.tax,
                total: self.total,
            },
            coupon_code: self.coupon_code,
            shipping_address: self.shipping_address.0,
            billing_address: self.billing_address.0,
            notes: self.notes,
            tracking_number: self.tracking_number,
            carrier: self.carrier,
            cancel_reason: self.cancel_reason,
            payment_due_at: ts(self.payment_due_at),
            items,
            created_at: self.created_at.into(),
            updated_at: self.updated_at.into(),
            confirmed_at: ts(self.confirmed_at),
            processing_at: ts(self.processing_at),
            shipped_at: ts(self.shipped_at),
            delivered_at: ts(self.delivered_at),
            cancelled_at: ts(self.cancelled_at),
            refunded_at: ts(self.refunded_at),
            flagged_reason: self.flagged_reason,
            flagged_at: ts(self.flagged_at),
        })
    }
}

impl ItemRow {
    fn into_line(self) -> Result<(Uuid, Line), StoreError> {
        let quantity = u32::try_from(self.quantity).map_err(|_| StoreError::Corrupt(format!("quantity {}", self.quantity)))?;
        Ok((
            self.order_id,
            Line {
                product_id: self.product_id,
                seller_id: self.seller_id,
                name: self.name,
                sku: self.sku,
                price: self.price,
                quantity,
                image: self.image,
            },
        ))
    }
}

/// The orders store.
#[derive(Debug, Clone)]
pub struct Store {
    db: Db,
}

impl Store {
    /// Readiness: the database answers `SELECT 1` (`shop_core::health`).
    pub fn probe(&self) -> shop_core::health::Probe {
        shop_aws::health::postgres(self.db.pool())
    }

    pub fn new(pool: PgPool) -> Self {
        Self { db: Db::new("orders->postgres", pool) }
    }

    pub fn pool(&self) -> &PgPool {
        self.db.pool()
    }

    async fn items_of(&self, ids: &[Uuid]) -> Result<HashMap<Uuid, Vec<Line>>, StoreError> {
        let rows = sqlx::query_as!(
            ItemRow,
            "SELECT order_id, product_id, seller_id, name, sku, price, quantity, image FROM order_items WHERE order_id = ANY($1) ORDER BY order_id, position",
            ids
        )
        .fetch_all(&mut *self.db.conn().await?)
        .await?;
        let mut out: HashMap<Uuid, Vec<Line>> = HashMap::new();
        for row in rows {
            let (order, line) = row.into_line()?;
            out.entry(order).or_default().push(line);
        }
        Ok(out)
    }

    async fn with_items(&self, rows: Vec<OrderRow>) -> Result<Vec<Order>, StoreError> {
        let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
        let mut items = self.items_of(&ids).await?;
        rows.into_iter()
            .map(|r| {
                let lines = items.remove(&r.id).unwrap_or_default();
                r.into_order(lines)
            })
            .collect()
    }

    // ---------------------------------------------------------------- checkout requests

    /// Claims `key` for `user` with the body's hash, or reports what an earlier request did.
    #[tracing::instrument(skip_all)]
    pub async fn begin_checkout(&self, user: Uuid, key: &str, hash: &str, now: OffsetDateTime) -> Result<Begin, StoreError> {
        let order_id = shop_core::id::new_id();
        let lease = now + crate::domain::CHECKOUT_LEASE;
        let inserted = sqlx::query!(
            "INSERT INTO checkout_requests (user_id, idempotency_key, request_hash, order_id, state, lease_until, created_at)
             VALUES ($1, $2, $3, $4, 'started', $5, $6) ON CONFLICT (user_id, idempotency_key) DO NOTHING",
            user,
            key,
            hash,
            order_id,
            lease,
            now
        )
        .execute(&mut *self.db.conn().await?)
        .await?;
        if inserted.rows_affected() == 1 {
            return Ok(Begin::Fresh(order_id));
        }
        let Some(row) = sqlx::query!(
            "SELECT request_hash, order_id, state, response, lease_until FROM checkout_requests WHERE user_id = $1 AND idempotency_key = $2",
            user,
            key
        )
        .fetch_optional(&mut *self.db.conn().await?)
        .await?
        else {
            // Deleted between the two statements (a failed request let its key go): try again.
            return Box::pin(self.begin_checkout(user, key, hash, now)).await;
        };
        if row.request_hash != hash {
            return Ok(Begin::Mismatch);
        }
        match (row.state.as_str(), row.response) {
            ("completed", Some(response)) => Ok(Begin::Done(response)),
            ("started", _) if row.lease_until < now => {
                let taken = sqlx::query!(
                    "UPDATE checkout_requests SET lease_until = $3
                     WHERE user_id = $1 AND idempotency_key = $2 AND state = 'started' AND lease_until < $4",
                    user,
                    key,
                    lease,
                    now
                )
                .execute(&mut *self.db.conn().await?)
                .await?;
                Ok(if taken.rows_affected() == 1 { Begin::TakenOver(row.order_id) } else { Begin::InProgress })
            }
            _ => Ok(Begin::InProgress),
        }
    }

    /// Lets a key go after a checkout that failed and undid its steps: a retry with the same
    /// key runs anew.
    pub async fn forget_checkout(&self, user: Uuid, key: &str, order_id: Uuid) -> Result<(), StoreError> {
        sqlx::query!(
            "DELETE FROM checkout_requests WHERE user_id = $1 AND idempotency_key = $2 AND order_id = $3 AND state <> 'completed'",
            user,
            key,
            order_id
        )
        .execute(&mut *self.db.conn().await?)
        .await?;
        Ok(())
    }

    /// Requests that stopped half-way (lease long gone, no order): marked `compensating` for
    /// the caller to undo their steps, then [`Store::forget_abandoned`].
    pub async fn claim_abandoned(&self, now: OffsetDateTime, limit: i64) -> Result<Vec<(Uuid, String, Uuid)>, StoreError> {
        let stale = now - time::Duration::minutes(1);
        let retry_at = now + time::Duration::minutes(2);
        let rows = sqlx::query!(
            "UPDATE checkout_requests SET state = 'compensating', lease_until = $3
             WHERE (user_id, idempotency_key) IN (
                 SELECT c.user_id, c.idempotency_key FROM checkout_requests c
                 WHERE c.state <> 'completed' AND c.lease_until < $1
                   AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.id = c.order_id)
                 ORDER BY c.lease_until LIMIT $2 FOR UPDATE SKIP LOCKED)
             RETURNING user_id, idempotency_key, order_id",
            stale,
            limit,
            retry_at
        )
        .fetch_all(&mut *self.db.conn().await?)
        .await?;
        Ok(rows.into_iter().map(|r| (r.user_id, r.idempotency_key, r.order_id)).collect())
    }

    pub async fn forget_abandoned(&self, user: Uuid, key: &str, order_id: Uuid) -> Result<(), StoreError> {
        sqlx::query!(
            "DELETE FROM checkout_requests WHERE user_id = $1 AND idempotency_key = $2 AND order_id = $3 AND state = 'compensating'",
            user,
            key,
            order_id
        )
        .execute(&mut *self.db.conn().await?)
        .await?;
        Ok(())
    }

    /// Completed keys older than the retention go.
    pub async fn purge_keys(&self, now: OffsetDateTime) -> Result<u64, StoreError> {
        let before = now - crate::domain::IDEMPOTENCY_RETENTION;
        let done = sqlx::query!("DELETE FROM checkout_requests WHERE state = 'completed' AND created_at < $1", before)
            .execute(&mut *self.db.conn().await?)
            .await?;
        Ok(done.rows_affected())
    }

    // ---------------------------------------------------------------- placing

    /// Writes the order, its lines, its history and events, and completes the checkout request
    /// with the response — in one transaction.
    #[tracing::instrument(skip_all, fields(order_id = %order.id))]
    pub async fn insert_order(
        &self,
        order: &Order,
        request: (Uuid, &str),
        history: &[(Option<Status>, Status)],
        events: &[OutboxEvent],
    ) -> Result<Inserted, StoreError> {
        let response = serde_json::to_value(order.view()).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let mut tx = self.db.begin().await?;
        let inserted = sqlx::query!(
            "INSERT INTO orders (id, order_number, user_id, status, payment_method, currency, subtotal, discount, shipping_cost, tax, total,
                 coupon_code, shipping_address, billing_address, notes, payment_due_at, created_at, updated_at, confirmed_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $17, $18)",
            order.id,
            order.order_number,
            order.user_id,
            order.status.as_str(),
            order.payment_method.as_str(),
            order.currency,
            order.totals.subtotal,
            order.totals.discount,
            order.totals.shipping,
            order.totals.tax,
            order.totals.total,
            order.coupon_code,
            Json(&order.shipping_address) as _,
            Json(&order.billing_address) as _,
            order.notes,
            order.payment_due_at.map(Timestamp::get),
            order.created_at.get(),
            order.confirmed_at.map(Timestamp::get),
        )
        .execute(&mut *tx)
        .await
        .map_err(StoreError::from);
        if let Err(e) = inserted {
            return match e.violated().as_deref() {
                Some("orders_pkey") => Ok(Inserted::AlreadyPlaced),
                Some("orders_order_number_key") => Ok(Inserted::NumberTaken),
                _ => Err(e),
            };
        }
        for (position, line) in order.items.iter().enumerate() {
            sqlx::query!(
                "INSERT INTO order_items (order_id, position, product_id, seller_id, name, sku, price, quantity, image)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                order.id,
                i32::try_from(position).unwrap_or(i32::MAX),
                line.product_id,
                line.seller_id,
                line.name,
                line.sku,
                line.price,
                i32::try_from(line.quantity).unwrap_or(i32::MAX),
                line.image,
            )
            .execute(&mut *tx)
            .await?;
        }
        let actor = Actor { id: Some(order.user_id), role: "CUSTOMER" };
        for (from, to) in history {
            Self::record(&mut tx, order.id, *from, *to, actor, None, order.created_at.get()).await?;
        }
        for event in events {
            Self::enqueue(&mut tx, order.id, event, order.created_at.get()).await?;
        }
        let completed = sqlx::query!(
            "UPDATE checkout_requests SET state = 'completed', response = $4
             WHERE user_id = $1 AND idempotency_key = $2 AND order_id = $3 AND state = 'started'",
            request.0,
            request.1,
            order.id,
            response
        )
        .execute(&mut *tx)
        .await?;
        if completed.rows_affected() != 1 {
            // The key was let go or is being compensated: this run must not place the order.
            tx.rollback().await?;
            return Ok(Inserted::LostRequest);
        }
        tx.commit().await?;
        Ok(Inserted::Placed(response))
    }

    /// Where a checkout request stands: `None` when its key is free (never used, or let go after
    /// a failure), else `Some(response)`, the response once completed.
    pub async fn checkout_response(&self, user: Uuid, key: &str) -> Result<Option<Option<Value>>, StoreError> {
        let row = sqlx::query!("SELECT state, response FROM checkout_requests WHERE user_id = $1 AND idempotency_key = $2", user, key)
            .fetch_optional(&mut *self.db.conn().await?)
            .await?;
        Ok(row.map(|r| if r.state == "completed" { r.response } else { None }))
    }

    async fn record(
        tx: &mut sqlx::Transaction<'static, sqlx::Postgres>,
        order: Uuid,
        from: Option<Status>,
        to: Status,
        actor: Actor,
        note: Option<&str>,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        sqlx::query!(
            "INSERT INTO order_status_history (order_id, from_status, to_status, actor_id, actor_role, note, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            order,
            from.map(Status::as_str),
            to.as_str(),
            actor.id,
            actor.role,
            note,
            at
        )
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    async fn enqueue(
        tx: &mut sqlx::Transaction<'static, sqlx::Postgres>,
        order: Uuid,
        event: &OutboxEvent,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        sqlx::query!(
            "INSERT INTO outbox (id, order_id, kind, body, created_at) VALUES ($1, $2, $3, $4, $5)",
            event.id,
            order,
            event.kind,
            event.body,
            at
        )
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    // ---------------------------------------------------------------- reading

    pub async fn order(&self, id: Uuid) -> Result<Option<Order>, StoreError> {
        let row = sqlx::query_as!(OrderRow, r#"SELECT id, order_number, user_id, status, payment_method, payment_id, currency, subtotal, discount, shipping_cost, tax, total, coupon_code, shipping_address AS "shipping_address: Json<Address>", billing_address AS "billing_address: Json<Address>", notes, tracking_number, carrier, cancel_reason, payment_due_at, created_at, updated_at, confirmed_at, processing_at, shipped_at, delivered_at, cancelled_at, refunded_at, flagged_reason, flagged_at FROM orders WHERE id = $1"#, id).fetch_optional(&mut *self.db.conn().await?).await?;
        Ok(self.with_items(row.into_iter().collect()).await?.pop())
    }

    pub async fn order_by_number(&self, number: &str) -> Result<Option<Order>, StoreError> {
        let row = sqlx::query_as!(OrderRow, r#"SELECT id, order_number, user_id, status, payment_method, payment_id, currency, subtotal, discount, shipping_cost, tax, total, coupon_code, shipping_address AS "shipping_address: Json<Address>", billing_address AS "billing_address: Json<Address>", notes, tracking_number, carrier, cancel_reason, payment_due_at, created_at, updated_at, confirmed_at, processing_at, shipped_at, delivered_at, cancelled_at, refunded_at, flagged_reason, flagged_at FROM orders WHERE order_number = $1"#, number)
            .fetch_optional(&mut *self.db.conn().await?)
            .await?;
        Ok(self.with_items(row.into_iter().collect()).await?.pop())
    }

    /// A user's orders, newest first, and how many they have.
    pub async fn orders_of(&self, user: Uuid, page: PageRequest) -> Result<(Vec<Order>, u64), StoreError> {
        let total = sqlx::query_scalar!("SELECT count(*) FROM orders WHERE user_id = $1", user)
            .fetch_one(&mut *self.db.conn().await?)
            .await?
            .unwrap_or(0);
        let rows = sqlx::query_as!(
            OrderRow,
            r#"SELECT id, order_number, user_id, status, payment_method, payment_id, currency, subtotal, discount, shipping_cost, tax, total, coupon_code, shipping_address AS "shipping_address: Json<Address>", billing_address AS "billing_address: Json<Address>", notes, tracking_number, carrier, cancel_reason, payment_due_at, created_at, updated_at, confirmed_at, processing_at, shipped_at, delivered_at, cancelled_at, refunded_at, flagged_reason, flagged_at FROM orders WHERE user_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3"#,
            user,
            i64::from(page.limit),
            page.offset() as i64
        )
        .fetch_all(&mut *self.db.conn().await?)
        .await?;
        Ok((self.with_items(rows).await?, u64::try_from(total).unwrap_or(0)))
    }

    /// Every order matching `filter`, newest first.
    pub async fn admin_orders(&self, filter: &AdminFilter, page: PageRequest) -> Result<(Vec<Order>, u64), StoreError> {
        let status = filter.status.map(Status::as_str);
        let q = filter.q.as_deref().map(str::trim).filter(|q| !q.is_empty());
        let user = q.and_then(|q| Uuid::parse_str(q).ok());
        let number = q.filter(|_| user.is_none()).map(|q| format!("{}%", q.to_uppercase().replace(['%', '_', '\\'], "")));
        let total = sqlx::query_scalar!(
            "SELECT count(*) FROM orders
             WHERE ($1::text IS NULL OR status = $1) AND ($2::timestamptz IS NULL OR created_at >= $2) AND ($3::timestamptz IS NULL OR created_at < $3)
               AND ($4::uuid IS NULL OR user_id = $4) AND ($5::text IS NULL OR order_number LIKE $5)
               AND ($6::bool IS NULL OR (flagged_at IS NOT NULL) = $6)",
            status,
            filter.from,
            filter.to,
            user,
            number,
            filter.flagged
        )
        .fetch_one(&mut *self.db.conn().await?)
        .await?
        .unwrap_or(0);
        let rows = sqlx::query_as!(
            OrderRow,
            r#"SELECT id, order_number, user_id, status, payment_method, payment_id, currency, subtotal, discount, shipping_cost, tax, total, coupon_code, shipping_address AS "shipping_address: Json<Address>", billing_address AS "billing_address: Json<Address>", notes, tracking_number, carrier, cancel_reason, payment_due_at, created_at, updated_at, confirmed_at, processing_at, shipped_at, delivered_at, cancelled_at, refunded_at, flagged_reason, flagged_at FROM orders
             WHERE ($1::text IS NULL OR status = $1) AND ($2::timestamptz IS NULL OR created_at >= $2) AND ($3::timestamptz IS NULL OR created_at < $3)
               AND ($4::uuid IS NULL OR user_id = $4) AND ($5::text IS NULL OR order_number LIKE $5)
               AND ($8::bool IS NULL OR (flagged_at IS NOT NULL) = $8)
             ORDER BY created_at DESC, id DESC LIMIT $6 OFFSET $7"#,
            status,
            filter.from,
            filter.to,
            user,
            number,
            i64::from(page.limit),
            page.offset() as i64,
            filter.flagged
        )
        .fetch_all(&mut *self.db.conn().await?)
        .await?;
        Ok((self.with_items(rows).await?, u64::try_from(total).unwrap_or(0)))
    }

    /// Orders with at least one line of `seller`, newest first.
    pub async fn seller_orders(&self, seller: Uuid, status: Option<Status>, page: PageRequest) -> Result<(Vec<Order>, u64), StoreError> {
        let status = status.map(Status::as_str);
        let total = sqlx::query_scalar!(
            "SELECT count(*) FROM orders o WHERE EXISTS (SELECT 1 FROM order_items i WHERE i.order_id = o.id AND i.seller_id = $1)
               AND ($2::text IS NULL OR o.status = $2)",
            seller,
            status
        )
        .fetch_one(&mut *self.db.conn().await?)
        .await?
        .unwrap_or(0);
        let rows = sqlx::query_as!(
            OrderRow,
            r#"SELECT id, order_number, user_id, status, payment_method, payment_id, currency, subtotal, discount, shipping_cost, tax, total, coupon_code, shipping_address AS "shipping_address: Json<Address>", billing_address AS "billing_address: Json<Address>", notes, tracking_number, carrier, cancel_reason, payment_due_at, created_at, updated_at, confirmed_at, processing_at, shipped_at, delivered_at, cancelled_at, refunded_at, flagged_reason, flagged_at FROM orders o
             WHERE EXISTS (SELECT 1 FROM order_items i WHERE i.order_id = o.id AND i.seller_id = $1) AND ($2::text IS NULL OR o.status = $2)
             ORDER BY created_at DESC, id DESC LIMIT $3 OFFSET $4"#,
            seller,
            status,
            i64::from(page.limit),
            page.offset() as i64
        )
        .fetch_all(&mut *self.db.conn().await?)
        .await?;
        Ok((self.with_items(rows).await?, u64::try_from(total).unwrap_or(0)))
    }

    pub async fn history(&self, order: Uuid) -> Result<Vec<HistoryEntry>, StoreError> {
        let rows = sqlx::query!(
            "SELECT from_status, to_status, actor_id, actor_role, note, created_at FROM order_status_history WHERE order_id = $1 ORDER BY id",
            order
        )
        .fetch_all(&mut *self.db.conn().await?)
        .await?;
        rows.into_iter()
            .map(|r| {
                Ok(HistoryEntry {
                    from: r
                        .from_status
                        .as_deref()
                        .map(|s| Status::parse(s).ok_or_else(|| StoreError::Corrupt(s.to_owned())))
                        .transpose()?,
                    to: Status::parse(&r.to_status).ok_or_else(|| StoreError::Corrupt(r.to_status.clone()))?,
                    actor_id: r.actor_id,
                    actor_role: r.actor_role,
                    note: r.note,
                    at: r.created_at.into(),
                })
            })
            .collect()
    }

    /// Whether `user` has a DELIVERED order containing `product`.
    pub async fn has_purchased(&self, user: Uuid, product: Uuid) -> Result<bool, StoreError> {
        let found = sqlx::query_scalar!(
            "SELECT EXISTS (SELECT 1 FROM orders o JOIN order_items i ON i.order_id = o.id
                            WHERE o.user_id = $1 AND i.product_id = $2 AND o.status = 'DELIVERED')",
            user,
            product
        )
        .fetch_one(&mut *self.db.conn().await?)
        .await?;
        Ok(found.unwrap_or(false))
    }

    /// Counts per status, revenue of paid orders, per day, for orders placed in `[from, to)`.
    pub async fn stats(&self, from: OffsetDateTime, to: OffsetDateTime) -> Result<Stats, StoreError> {
        let counts =
            sqlx::query!("SELECT status, count(*) AS n FROM orders WHERE created_at >= $1 AND created_at < $2 GROUP BY status", from, to)
                .fetch_all(&mut *self.db.conn().await?)
                .await?;
        let mut by_status: BTreeMap<String, i64> = Status::ALL.iter().map(|s| (s.as_str().to_owned(), 0)).collect();
        for row in counts {
            by_status.insert(row.status, row.n.unwrap_or(0));
        }
        let days = sqlx::query!(
            r#"SELECT to_char(date_trunc('day', created_at AT TIME ZONE 'UTC'), 'YYYY-MM-DD') AS "day!", count(*) AS "orders!",
                      coalesce(sum(total) FILTER (WHERE (payment_method = 'card' AND status IN ('CONFIRMED', 'PROCESSING', 'SHIPPED', 'DELIVERED'))
                                                     OR (payment_method = 'cod' AND status = 'DELIVERED')), 0)::bigint AS "revenue!"
               FROM orders WHERE created_at >= $1 AND created_at < $2 GROUP BY 1 ORDER BY 1"#,
            from,
            to
        )
        .fetch_all(&mut *self.db.conn().await?)
        .await?;
        let per_day: Vec<DayStats> = days.into_iter().map(|d| DayStats { day: d.day, orders: d.orders, revenue: d.revenue }).collect();
        Ok(Stats {
            from: from.into(),
            to: to.into(),
            total_orders: by_status.values().sum(),
            by_status,
            revenue: per_day.iter().map(|d| d.revenue).sum(),
            currency: "usd".into(),
            per_day,
        })
    }

    // ---------------------------------------------------------------- transitions

    /// Moves an order to `to` under its row lock: `check` sees the order as locked (ownership,
    /// role, the status machine) and may refuse; `events` builds the outbox events from the
    /// order after the change. All in one transaction.
    #[tracing::instrument(skip_all, fields(order_id = %id, to = to.as_str()))]
    pub async fn transition<E>(
        &self,
        id: Uuid,
        to: Status,
        actor: Actor,
        change: Change,
        check: impl FnOnce(&Order) -> Result<(), E>,
        events: impl FnOnce(&Order, Status) -> Result<Vec<OutboxEvent>, StoreError>,
    ) -> Result<Moved<E>, StoreError> {
        let mut tx = self.db.begin().await?;
        let Some(row) = sqlx::query_as!(OrderRow, r#"SELECT id, order_number, user_id, status, payment_method, payment_id, currency, subtotal, discount, shipping_cost, tax, total, coupon_code, shipping_address AS "shipping_address: Json<Address>", billing_address AS "billing_address: Json<Address>", notes, tracking_number, carrier, cancel_reason, payment_due_at, created_at, updated_at, confirmed_at, processing_at, shipped_at, delivered_at, cancelled_at, refunded_at, flagged_reason, flagged_at FROM orders WHERE id = $1 FOR UPDATE"#, id)
            .fetch_optional(&mut *tx)
            .await?
        else {
            return Ok(Moved::NotFound);
        };
        let items = sqlx::query_as!(
            ItemRow,
            "SELECT order_id, product_id, seller_id, name, sku, price, quantity, image FROM order_items WHERE order_id = $1 ORDER BY position",
            id
        )
        .fetch_all(&mut *tx)
        .await?
        .into_iter()
        .map(|r| r.into_line().map(|(_, l)| l))
        .collect::<Result<Vec<_>, _>>()?;
        let mut order = row.into_order(items)?;
        if let Err(refused) = check(&order) {
            return Ok(Moved::Refused(refused));
        }
        let from = order.status;
        let now = OffsetDateTime::now_utc();
        let updated = sqlx::query_as!(
            OrderRow,
            r#"UPDATE orders SET status = $2, updated_at = $3,
                 confirmed_at = CASE WHEN $2 = 'CONFIRMED' THEN $3 ELSE confirmed_at END,
                 processing_at = CASE WHEN $2 = 'PROCESSING' THEN $3 ELSE processing_at END,
                 shipped_at = CASE WHEN $2 = 'SHIPPED' THEN $3 ELSE shipped_at END,
                 delivered_at = CASE WHEN $2 = 'DELIVERED' THEN $3 ELSE delivered_at END,
                 cancelled_at = CASE WHEN $2 = 'CANCELLED' THEN $3 WHEN $2 = 'CONFIRMED' THEN NULL ELSE cancelled_at END,
                 refunded_at = CASE WHEN $2 = 'REFUNDED' THEN $3 ELSE refunded_at END,
                 tracking_number = coalesce($4, tracking_number), carrier = coalesce($5, carrier),
                 payment_id = coalesce($6, payment_id),
                 cancel_reason = CASE WHEN $2 = 'CONFIRMED' THEN NULL ELSE coalesce($7, cancel_reason) END
             WHERE id = $1
             RETURNING id, order_number, user_id, status, payment_method, payment_id, currency, subtotal, discount, shipping_cost, tax, total, coupon_code, shipping_address AS "shipping_address: Json<Address>", billing_address AS "billing_address: Json<Address>", notes, tracking_number, carrier, cancel_reason, payment_due_at, created_at, updated_at, confirmed_at, processing_at, shipped_at, delivered_at, cancelled_at, refunded_at, flagged_reason, flagged_at"#,
            id,
            to.as_str(),
            now,
            change.tracking_number,
            change.carrier,
            change.payment_id,
            change.cancel_reason,
        )
        .fetch_one(&mut *tx)
        .await?;
        order = updated.into_order(order.items)?;
        Self::record(&mut tx, id, Some(from), to, actor, change.note.as_deref().or(change.cancel_reason.as_deref()), now).await?;
        let events = events(&order, from)?;
        for event in &events {
            Self::enqueue(&mut tx, id, event, now).await?;
        }
        tx.commit().await?;
        Ok(Moved::Done(order, events))
    }

    /// Flags an order (a disputed payment) once: the first reason and instant stay, with a
    /// history entry (the status unchanged). `None`: no such order; `Some((order, flagged_now))`.
    #[tracing::instrument(skip_all, fields(order_id = %id))]
    pub async fn flag(&self, id: Uuid, reason: &str, actor: Actor) -> Result<Option<(Order, bool)>, StoreError> {
        let mut tx = self.db.begin().await?;
        let now = OffsetDateTime::now_utc();
        let flagged = sqlx::query!(
            "UPDATE orders SET flagged_reason = $2, flagged_at = $3, updated_at = $3 WHERE id = $1 AND flagged_at IS NULL RETURNING status",
            id,
            reason,
            now
        )
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(row) = &flagged {
            let status = Status::parse(&row.status).ok_or_else(|| StoreError::Corrupt(format!("status {}", row.status)))?;
            let note = format!("flagged: {reason}");
            Self::record(&mut tx, id, Some(status), status, actor, Some(&note), now).await?;
        }
        tx.commit().await?;
        Ok(self.order(id).await?.map(|o| (o, flagged.is_some())))
    }

    /// PENDING card orders past their payment deadline.
    pub async fn overdue(&self, now: OffsetDateTime, limit: i64) -> Result<Vec<Uuid>, StoreError> {
        Ok(sqlx::query_scalar!(
            "SELECT id FROM orders WHERE status = 'PENDING' AND payment_due_at < $1 ORDER BY payment_due_at LIMIT $2",
            now,
            limit
        )
        .fetch_all(&mut *self.db.conn().await?)
        .await?)
    }

    // ---------------------------------------------------------------- outbox

    /// Unpublished events written before `older_than` (the sweep leaves the newest to the
    /// publish after commit), oldest first.
    /// Events never published, for the operator's metric.
    pub async fn outbox_backlog(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar!("SELECT count(*) FROM outbox WHERE published_at IS NULL")
            .fetch_one(&mut *self.db.conn().await?)
            .await?
            .unwrap_or(0))
    }
}

/// 409 `illegal_transition` naming both statuses.
pub fn illegal(from: Status, to: Status) -> ApiError {
    ApiError::new(StatusCode::CONFLICT, "illegal_transition", format!("Cannot move an order from {} to {}.", from.as_str(), to.as_str()))
        .with_errors(vec![shop_core::FieldError::new(
            "status",
            "illegal_transition",
            format!("{} → {} is not allowed", from.as_str(), to.as_str()),
        )])
}

impl shop_aws::outbox::OutboxStore for Store {
    type Error = StoreError;

    async fn unpublished(&self, older_than: OffsetDateTime, limit: i64) -> Result<Vec<Pending>, StoreError> {
        let rows = sqlx::query!(
            "SELECT id, kind, body FROM outbox WHERE published_at IS NULL AND created_at < $1 ORDER BY created_at, id LIMIT $2",
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
        sqlx::query!("UPDATE outbox SET published_at = now(), attempts = attempts + 1 WHERE id = ANY($1) AND published_at IS NULL", ids)
            .execute(&mut *self.db.conn().await?)
            .await?;
        Ok(())
    }

    async fn mark_failed(&self, ids: &[Uuid]) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        sqlx::query!("UPDATE outbox SET attempts = attempts + 1 WHERE id = ANY($1)", ids).execute(&mut *self.db.conn().await?).await?;
        Ok(())
    }
}
