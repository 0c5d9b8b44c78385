//! Every DynamoDB call of the inventory function. One table, `InventoryTable`:
//!
//! | pk | sk | item |
//! |---|---|---|
//! | `PRODUCT#<id>` | `STOCK` | [`Stock`]; `gsi1pk = LOW`, `gsi1sk = <sellerId>#<id>` while `available <= lowStockThreshold` (sparse) |
//! | `PRODUCT#<id>` | `AUDIT#<at>#<uuid>` | [`AuditEntry`] of an adjustment; `ttl` a year later |
//! | `PRODUCT#<id>` | `STOCKLOW` | the last `StockLow` mailed: `version`, `mailedAt` (epoch s), `ttl` a day later (debounce) |
//! | `RESERVATION#<orderId>` | `RESERVATION` | [`Reservation`] + `createdAt`, `updatedAt`; `gsi2pk = RESERVED`, `gsi2sk = expiresAt` (epoch s) while reserved (sparse); `ttl` 30 days after expiry; `restockedLines` while a cancellation restocks it |
//!
//! Stock never goes negative: a reservation decrements `available` per line under the condition
//! `available >= :qty`, all lines and the reservation item (which must not exist yet: the order
//! id is the idempotency key) in one `TransactWriteItems`. Commit, release and expiry move a
//! reservation out of `reserved` under the condition that it is still `reserved`, in the same
//! transaction that moves its units, so each happens at most once. Cancelling a committed
//! reservation (a cancelled order) moves it on to `restocked` in the transaction that adds its
//! units back to `available` with their audit entries ([`Store::cancel`]).
//!
//! The low-stock flag (`gsi1pk`) is written with the absolute stock (set, adjust); after the
//! relative updates of reservations the stream consumer sets it ([`Store::sync_low_flag`]).

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes, Update};
pub use shop_aws::dynamo::StoreError;
use shop_aws::dynamo::{Item, Outcome, Transaction, TxOutcome, attr, key, n, query_all, s, write_outcome};
use shop_core::retry::RetryPolicy;
use shop_core::time::Timestamp;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::domain::{AuditEntry, Line, Reservation, ReservationStatus, Stock};

/// Sort key of stock items.
pub const STOCK_SK: &str = "STOCK";
const RESERVATION_SK: &str = "RESERVATION";
/// Sort key of a product's last `StockLow` mail (the debounce claim).
const STOCK_LOW_SK: &str = "STOCKLOW";
/// At most one `StockLow` mail per product in this window.
pub const STOCK_LOW_DEBOUNCE: time::Duration = time::Duration::hours(24);
/// Finished reservations stay this long after their expiry (then TTL removes them).
const RESERVATION_RETENTION: time::Duration = time::Duration::days(30);
/// Audit entries stay this long.
const AUDIT_RETENTION: time::Duration = time::Duration::days(365);
/// Lines restocked per transaction: each takes its stock update and its audit entry, with the
/// reservation's update one transaction holds at most 100 items.
const RESTOCK_LINES_PER_TRANSACTION: usize = 49;
/// The audit reason of a cancelled order's restock.
pub const RESTOCK_REASON: &str = "order_cancelled";
/// The audit reason of a refunded order's restock.
pub const REFUND_RESTOCK_REASON: &str = "order_refunded";
/// The audit actor of changes no user made (a cancelled order's restock).
pub const SYSTEM_ACTOR: Uuid = Uuid::nil();

/// A new reservation's item: the reservation, its key, creation times, and a `ttl` that keeps it
/// [`RESERVATION_RETENTION`] past `expires_at` (DynamoDB's TTL deletes it then).
fn reservation_item(reservation: &Reservation, now: OffsetDateTime, expires_at: OffsetDateTime) -> Result<Item, StoreError> {
    let mut item: Item = serde_dynamo::to_item(reservation)?;
    item.extend(key(reservation_pk(reservation.order_id), RESERVATION_SK));
    item.insert("createdAt".into(), s(ts(now)));
    item.insert("updatedAt".into(), s(ts(now)));
    item.insert("ttl".into(), n(epoch(expires_at + RESERVATION_RETENTION)));
    Ok(item)
}

pub fn stock_pk(id: Uuid) -> String {
    format!("PRODUCT#{id}")
}
fn reservation_pk(order_id: Uuid) -> String {
    format!("RESERVATION#{order_id}")
}
fn epoch(t: OffsetDateTime) -> i64 {
    t.unix_timestamp()
}
fn ts(t: OffsetDateTime) -> String {
    shop_aws::dynamo::rfc3339(t)
}

/// The parts of a reservation's transaction whose conditions may fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    /// The reservation item (exists already / is no longer in the expected state).
    Reservation,
    /// The stock row of line `i` (not enough available units).
    Line(usize),
    /// A stock row no longer at the version read.
    Stock,
}

/// Why a reservation was not made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReserveOutcome {
    Reserved(Reservation),
    /// The order already has a reservation (returned as stored, whatever its status).
    Existing(Reservation),
    /// These lines (indexes) did not have enough available units; nothing was reserved.
    Insufficient(Vec<usize>),
}

/// What a status transition (commit, release, expire) found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transition {
    /// Done now, by this call.
    Done(Reservation),
    /// Already in the wanted state (an idempotent repeat; nothing changed).
    Already(Reservation),
    /// The reservation is in a state the transition cannot leave.
    Refused(Reservation),
    NotFound,
}

/// What cancelling an order's reservation did ([`Store::cancel`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cancellation {
    /// It was `reserved`: released by this call (the units are available again).
    Released(Reservation),
    /// It was `committed`: restocked by this call (the sold units are available again, audited).
    Restocked(Reservation),
    /// Released, expired or restocked before (nothing changed).
    Already(Reservation),
    /// Renewed by a late payment after the cancellation asked about: the cancellation is stale
    /// (nothing changed; [`Store::cancel_unless_renewed`] only).
    Superseded(Reservation),
    /// The order id had no reservation: a tombstone (`released`, no lines) now stands for it, so
    /// a reserve under this order id arriving later takes nothing.
    NotFound,
}

/// What renewing an order's reservation did ([`Store::renew`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Renewal {
    /// The order had none: created now, as [`Store::reserve`] does.
    Reserved(Reservation),
    /// Released or expired before: every line's units taken again by this call, new expiry.
    Renewed(Reservation),
    /// Still held: its expiry pushed to the new one if later, marked renewed.
    Held(Reservation),
    /// Committed (sold) already: as it is.
    Committed(Reservation),
    /// Restocked (committed, then its order cancelled or refunded): not renewed.
    Refused(Reservation),
    /// The lines differ from the reservation's (nothing changed).
    Mismatch(Reservation),
    /// These lines (indexes of the request) lack units; nothing was taken.
    Insufficient(Vec<usize>),
}

/// How one renewing write ended.
enum Retake {
    Done(Reservation),
    Insufficient(Vec<usize>),
    /// The reservation changed since it was read: decide again.
    Lost,
}

/// How one restock transaction ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Restock {
    /// The last lines went back: the reservation is `restocked`.
    Finished,
    /// Some lines went back; more remain.
    Partly,
    /// Nothing written: the reservation or a stock row changed since it was read.
    Lost,
}

/// The stock update of a reservation's line in a transition.
#[derive(Debug, Clone, Copy)]
enum Move {
    /// `available` → `reserved`.
    Reserve,
    /// `reserved` → sold.
    Commit,
    /// `reserved` → `available`.
    Return,
}

#[derive(Debug, Clone)]
pub struct Store {
    client: Client,
    table: String,
    /// How long writes that lose races to concurrent ones keep trying (a hot product during a
    /// sale is served in turn); then `StoreError::Contended`.
    retry: RetryPolicy,
}

impl Store {
    /// Readiness: the table answers (`shop_core::health`).
    pub fn probe(&self) -> shop_core::health::Probe {
        shop_aws::health::dynamodb_table(&self.client, &self.table)
    }

    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into(), retry: RetryPolicy::CONTENDED }
    }

    /// The same store with another time budget for writes that lose races (default 2 s).
    pub fn with_retry_budget(mut self, budget: Duration) -> Self {
        self.retry = self.retry.with_budget(budget);
        self
    }

    fn transaction<L>(&self) -> Transaction<L> {
        Transaction::with_policy(self.retry)
    }

    // ---- stock ---------------------------------------------------------------------------------

    fn stock_item(stock: &Stock) -> Result<Item, StoreError> {
        let mut item: Item = serde_dynamo::to_item(stock)?;
        item.extend(key(stock_pk(stock.product_id), STOCK_SK));
        if stock.is_low() {
            item.insert("gsi1pk".into(), s("LOW"));
            item.insert("gsi1sk".into(), s(low_sort(stock)));
        }
        Ok(item)
    }

    /// One product's stock (consistent read).
    #[tracing::instrument(skip_all)]
    pub async fn stock(&self, product_id: Uuid) -> Result<Option<Stock>, StoreError> {
        shop_aws::dynamo::get(&self.client, &self.table, key(stock_pk(product_id), STOCK_SK)).await
    }

    /// The stock rows of `ids` that exist (at most 100 ids; unprocessed keys are retried).
    #[tracing::instrument(skip_all, fields(ids = ids.len()))]
    pub async fn stocks(&self, ids: &[Uuid]) -> Result<HashMap<Uuid, Stock>, StoreError> {
        let mut out = HashMap::new();
        let mut keys: Vec<Item> = ids.iter().map(|id| key(stock_pk(*id), STOCK_SK)).collect();
        keys.sort_by(|a, b| format!("{:?}", a.get("pk")).cmp(&format!("{:?}", b.get("pk"))));
        keys.dedup();
        let mut retry = RetryPolicy::BULK.start();
        while !keys.is_empty() {
            let request = KeysAndAttributes::builder().set_keys(Some(keys)).consistent_read(true).build()?;
            let page = self.client.batch_get_item().request_items(&self.table, request).send().await?;
            for item in page.responses.and_then(|mut r| r.remove(&self.table)).unwrap_or_default() {
                let stock: Stock = serde_dynamo::from_item(item)?;
                out.insert(stock.product_id, stock);
            }
            keys = page.unprocessed_keys.and_then(|mut u| u.remove(&self.table)).map(|k| k.keys).unwrap_or_default();
            if !keys.is_empty() {
                retry.wait().await?;
            }
        }
        Ok(out)
    }

    /// Writes a product's whole stock row: created when `expected_version` is `None` (and the
    /// row does not exist), else replaced if still at that version. `ConditionFailed`: retry
    /// from a fresh read.
    #[tracing::instrument(skip_all)]
    pub async fn put_stock(&self, stock: &Stock, expected_version: Option<u64>) -> Result<Outcome, StoreError> {
        let mut put = self.client.put_item().table_name(&self.table).set_item(Some(Self::stock_item(stock)?));
        put = match expected_version {
            None => put.condition_expression("attribute_not_exists(pk)"),
            Some(v) => put.condition_expression("version = :v").expression_attribute_values(":v", n(v)),
        };
        Ok(write_outcome(put.send().await)?)
    }

    /// Read-modify-write of a product's whole stock row: `change` gets the row as it is (`None`
    /// when there is none) and answers the row to store, or refuses; the row is created or
    /// replaced at the version read, re-read and retried while concurrent writes win.
    #[tracing::instrument(skip_all, fields(product = %product_id))]
    pub async fn set_stock<E: From<StoreError>>(
        &self,
        product_id: Uuid,
        mut change: impl FnMut(Option<&Stock>) -> Result<Stock, E>,
    ) -> Result<Stock, E> {
        let mut retry = self.retry.start();
        loop {
            let existing = self.stock(product_id).await?;
            let stock = change(existing.as_ref())?;
            if self.put_stock(&stock, existing.as_ref().map(|e| e.version)).await? == Outcome::Done {
                return Ok(stock);
            }
            retry.wait().await.map_err(StoreError::from)?;
        }
    }

    /// Adds `delta` to a product's available units with its audit entry, in one transaction, at
    /// the version read (re-read and retried while concurrent writes win). `check` sees the row
    /// first and may refuse (ownership, not below zero). `None`: the product has no stock row.
    #[tracing::instrument(skip_all, fields(product = %product_id))]
    pub async fn adjust<E: From<StoreError>>(
        &self,
        product_id: Uuid,
        delta: i64,
        actor: Uuid,
        reason: &str,
        check: impl Fn(&Stock) -> Result<(), E>,
    ) -> Result<Option<Stock>, E> {
        let mut retry = self.retry.start();
        loop {
            let Some(before) = self.stock(product_id).await? else { return Ok(None) };
            check(&before)?;
            if let Some(after) = self.adjust_at_version(&before, delta, actor, reason).await? {
                return Ok(Some(after));
            }
            retry.wait().await.map_err(StoreError::from)?;
        }
    }

    /// Applies `delta` to `before.available` if the row is still at `before.version`, with its
    /// audit entry, in one transaction. `Ok(None)`: the row changed.
    async fn adjust_at_version(&self, before: &Stock, delta: i64, actor: Uuid, reason: &str) -> Result<Option<Stock>, StoreError> {
        let now = OffsetDateTime::now_utc();
        let after = Stock { available: before.available + delta, updated_at: now.into(), version: before.version + 1, ..before.clone() };
        let (update, audit) = self.audited_update(before, delta, actor, reason, now)?;
        let mut tx = self.transaction();
        tx.update(update, Some(Part::Stock));
        tx.put(&self.table, audit, None, None)?;
        Ok(tx.commit(&self.client).await?.is_committed().then_some(after))
    }

    /// The update adding `delta` to `before.available` while the row is still at
    /// `before.version` (the low-stock flag set from the result), and its audit entry.
    fn audited_update(
        &self,
        before: &Stock,
        delta: i64,
        actor: Uuid,
        reason: &str,
        now: OffsetDateTime,
    ) -> Result<(Update, Item), StoreError> {
        let after = Stock { available: before.available + delta, updated_at: now.into(), version: before.version + 1, ..before.clone() };
        let mut update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(stock_pk(before.product_id), STOCK_SK)))
            .condition_expression("version = :v")
            .expression_attribute_values(":v", n(before.version))
            .expression_attribute_values(":d", n(delta))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":now", s(ts(now)));
        update = if after.is_low() {
            update
                .update_expression("ADD available :d, version :one SET updatedAt = :now, gsi1pk = :low, gsi1sk = :lowsk")
                .expression_attribute_values(":low", s("LOW"))
                .expression_attribute_values(":lowsk", s(low_sort(&after)))
        } else {
            update.update_expression("ADD available :d, version :one SET updatedAt = :now REMOVE gsi1pk, gsi1sk")
        };
        let entry = AuditEntry {
            product_id: before.product_id,
            actor,
            delta,
            reason: reason.to_owned(),
            before: before.available,
            after: after.available,
            at: now.into(),
        };
        let mut audit: Item = serde_dynamo::to_item(&entry)?;
        audit.extend(key(stock_pk(before.product_id), format!("AUDIT#{}#{}", ts(now), Uuid::now_v7())));
        audit.insert("ttl".into(), n(epoch(now + AUDIT_RETENTION)));
        Ok((update.build()?, audit))
    }

    /// A product's audit entries, oldest first.
    #[tracing::instrument(skip_all)]
    pub async fn audit(&self, product_id: Uuid) -> Result<Vec<AuditEntry>, StoreError> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :a)")
            .expression_attribute_values(":pk", s(stock_pk(product_id)))
            .expression_attribute_values(":a", s("AUDIT#"));
        query_all(query).await
    }

    /// Products at or below their threshold (by seller, then product id): all of them, or one
    /// seller's.
    #[tracing::instrument(skip_all)]
    pub async fn low_stock(&self, seller: Option<Uuid>) -> Result<Vec<Stock>, StoreError> {
        let mut query = self.client.query().table_name(&self.table).index_name("gsi1").expression_attribute_values(":low", s("LOW"));
        query = match seller {
            Some(seller) => query
                .key_condition_expression("gsi1pk = :low AND begins_with(gsi1sk, :seller)")
                .expression_attribute_values(":seller", s(format!("{seller}#"))),
            None => query.key_condition_expression("gsi1pk = :low"),
        };
        query_all(query).await
    }

    /// Claims the right to mail `StockLow` for the crossing of `stock` (at its version): granted
    /// when no crossing of this product was mailed within [`STOCK_LOW_DEBOUNCE`], or when the
    /// claim is this very crossing's (a retried batch publishes the same envelope id again,
    /// which the notifications function sends once). A seller toggling stock around the
    /// threshold mails the admins once per window, not once per cycle.
    #[tracing::instrument(skip_all, fields(product = %stock.product_id))]
    pub async fn claim_stock_low(&self, stock: &Stock, now: OffsetDateTime) -> Result<bool, StoreError> {
        let mut item = key(stock_pk(stock.product_id), STOCK_LOW_SK);
        item.insert("version".into(), n(stock.version));
        item.insert("mailedAt".into(), n(epoch(now)));
        item.insert("ttl".into(), n(epoch(now + STOCK_LOW_DEBOUNCE)));
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk) OR mailedAt <= :cutoff OR version = :v")
            .expression_attribute_values(":cutoff", n(epoch(now - STOCK_LOW_DEBOUNCE)))
            .expression_attribute_values(":v", n(stock.version))
            .send()
            .await;
        Ok(write_outcome(result)? == Outcome::Done)
    }

    /// Makes the low-stock flag agree with `stock` if the row is still at its version (a later
    /// change gets its own call). Does not change the version.
    #[tracing::instrument(skip_all)]
    pub async fn sync_low_flag(&self, stock: &Stock) -> Result<Outcome, StoreError> {
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(stock_pk(stock.product_id), STOCK_SK)))
            .condition_expression("version = :v")
            .expression_attribute_values(":v", n(stock.version));
        update = if stock.is_low() {
            update
                .update_expression("SET gsi1pk = :low, gsi1sk = :lowsk")
                .expression_attribute_values(":low", s("LOW"))
                .expression_attribute_values(":lowsk", s(low_sort(stock)))
        } else {
            update.update_expression("REMOVE gsi1pk, gsi1sk")
        };
        Ok(write_outcome(update.send().await)?)
    }

    // ---- reservations --------------------------------------------------------------------------

    fn line_update(&self, line: &Line, movement: Move, now: OffsetDateTime) -> Result<Update, StoreError> {
        let q = i64::from(line.quantity.get());
        let mut update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(stock_pk(line.product_id), STOCK_SK)))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":now", s(ts(now)));
        update = match movement {
            Move::Reserve => update
                .update_expression("ADD available :minus, reserved :q, version :one SET updatedAt = :now")
                .condition_expression("available >= :q")
                .expression_attribute_values(":q", n(q))
                .expression_attribute_values(":minus", n(-q)),
            Move::Commit => update
                .update_expression("ADD reserved :minus, version :one SET updatedAt = :now")
                .expression_attribute_values(":minus", n(-q)),
            Move::Return => update
                .update_expression("ADD available :q, reserved :minus, version :one SET updatedAt = :now")
                .expression_attribute_values(":q", n(q))
                .expression_attribute_values(":minus", n(-q)),
        };
        Ok(update.build()?)
    }

    /// The reservation of an order (consistent read).
    #[tracing::instrument(skip_all)]
    pub async fn reservation(&self, order_id: Uuid) -> Result<Option<Reservation>, StoreError> {
        shop_aws::dynamo::get(&self.client, &self.table, key(reservation_pk(order_id), RESERVATION_SK)).await
    }

    /// Reserves every line or none (one transaction); a repeat of the order id returns the
    /// reservation that exists. Lines name distinct products.
    #[tracing::instrument(skip_all, fields(order_id = %order_id, lines = lines.len()))]
    pub async fn reserve(&self, order_id: Uuid, lines: &[Line], ttl: time::Duration) -> Result<ReserveOutcome, StoreError> {
        self.create(order_id, lines, ttl, false).await
    }

    /// [`Store::reserve`]; `renewal`: made by a renewal (`renewedAt` set).
    async fn create(&self, order_id: Uuid, lines: &[Line], ttl: time::Duration, renewal: bool) -> Result<ReserveOutcome, StoreError> {
        if let Some(existing) = self.reservation(order_id).await? {
            return Ok(ReserveOutcome::Existing(existing));
        }
        let now = OffsetDateTime::now_utc();
        // Whole seconds: the index sort key and the wire agree.
        let expires_at = OffsetDateTime::from_unix_timestamp(epoch(now + ttl)).unwrap_or(now + ttl);
        let reservation = Reservation {
            order_id,
            status: ReservationStatus::Reserved,
            expires_at: expires_at.into(),
            lines: lines.to_vec(),
            renewed_at: renewal.then(|| now.into()),
        };
        let mut item = reservation_item(&reservation, now, expires_at)?;
        item.insert("gsi2pk".into(), s("RESERVED"));
        item.insert("gsi2sk".into(), n(epoch(expires_at)));
        let mut tx = self.transaction();
        tx.put(&self.table, item, Some("attribute_not_exists(pk)"), Some(Part::Reservation))?;
        for (i, line) in lines.iter().enumerate() {
            tx.update(self.line_update(line, Move::Reserve, now)?, Some(Part::Line(i)));
        }
        match tx.commit(&self.client).await? {
            TxOutcome::Committed => Ok(ReserveOutcome::Reserved(reservation)),
            r if r.refused(&Part::Reservation) => match self.reservation(order_id).await? {
                Some(existing) => Ok(ReserveOutcome::Existing(existing)),
                None => Err(StoreError::unexpected("the reservation existed but cannot be read")),
            },
            TxOutcome::Refused(parts) => Ok(ReserveOutcome::Insufficient(
                parts.into_iter().filter_map(|p| if let Part::Line(i) = p { Some(i) } else { None }).collect(),
            )),
        }
    }

    /// `reserved` → `committed` (the units are sold). Refused once released or expired, or
    /// when past its expiry (the schedule will release it).
    #[tracing::instrument(skip_all, fields(order_id = %order_id))]
    pub async fn commit(&self, order_id: Uuid) -> Result<Transition, StoreError> {
        self.transition(order_id, ReservationStatus::Committed, OffsetDateTime::now_utc(), None).await
    }

    /// `reserved` → `released` (the units go back, once). Refused once committed.
    #[tracing::instrument(skip_all, fields(order_id = %order_id))]
    pub async fn release(&self, order_id: Uuid) -> Result<Transition, StoreError> {
        self.transition(order_id, ReservationStatus::Released, OffsetDateTime::now_utc(), None).await
    }

    /// `reserved` → `expired` for a reservation past its expiry at `now` (the units go back, once).
    #[tracing::instrument(skip_all, fields(order_id = %order_id))]
    pub async fn expire(&self, order_id: Uuid, now: OffsetDateTime) -> Result<Transition, StoreError> {
        self.transition(order_id, ReservationStatus::Expired, now, None).await
    }

    /// Renews an order's reservation for a late payment, idempotently by order id, holding
    /// `lines` until `ttl` from now:
    ///
    /// - none → created as [`Store::reserve`] creates one (marked renewed);
    /// - `released` or `expired` → `reserved` again with the new expiry, every line's units taken
    ///   again or none: one transaction, conditional on the status read and on each line's
    ///   `available`;
    /// - `reserved` → kept, its expiry pushed to the new one if later (conditional on still being
    ///   `reserved`, so the expiry schedule and this never both act);
    /// - `committed` → as it is (sold); `restocked` → refused.
    ///
    /// Every renewal writes `renewedAt`: an `OrderCancelled` of the cancellation that came before
    /// (still in flight, or redelivered) is then stale ([`Store::cancel_unless_renewed`]).
    #[tracing::instrument(skip_all, fields(order_id = %order_id, lines = lines.len()))]
    pub async fn renew(&self, order_id: Uuid, lines: &[Line], ttl: time::Duration) -> Result<Renewal, StoreError> {
        use ReservationStatus::*;
        let mut retry = self.retry.start();
        loop {
            let Some(current) = self.reservation(order_id).await? else {
                match self.create(order_id, lines, ttl, true).await? {
                    ReserveOutcome::Reserved(r) => return Ok(Renewal::Reserved(r)),
                    ReserveOutcome::Insufficient(short) => return Ok(Renewal::Insufficient(short)),
                    // Created concurrently: decide from it.
                    ReserveOutcome::Existing(_) => continue,
                }
            };
            if !crate::domain::same_lines(&current.lines, lines) {
                return Ok(Renewal::Mismatch(current));
            }
            let now = OffsetDateTime::now_utc();
            // Whole seconds: the index sort key and the wire agree.
            let expires_at = OffsetDateTime::from_unix_timestamp(epoch(now + ttl)).unwrap_or(now + ttl);
            let outcome = match current.status {
                Committed => return Ok(Renewal::Committed(current)),
                Restocked => return Ok(Renewal::Refused(current)),
                Reserved => {
                    let expires_at = expires_at.max(current.expires_at.get());
                    self.retake(&current, lines, expires_at, now, false).await?
                }
                Released | Expired => self.retake(&current, lines, expires_at, now, true).await?,
            };
            match outcome {
                Retake::Done(r) if current.status == Reserved => return Ok(Renewal::Held(r)),
                Retake::Done(r) => return Ok(Renewal::Renewed(r)),
                Retake::Insufficient(short) => return Ok(Renewal::Insufficient(short)),
                Retake::Lost => retry.wait().await?,
            }
        }
    }

    /// Writes a renewal of `current` (still in the status read): the new expiry and
    /// `renewedAt`, and with `take` the units of every line (request order) again.
    async fn retake(
        &self,
        current: &Reservation,
        lines: &[Line],
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
        take: bool,
    ) -> Result<Retake, StoreError> {
        let renewed = Reservation {
            status: ReservationStatus::Reserved,
            expires_at: expires_at.into(),
            renewed_at: Some(now.into()),
            ..current.clone()
        };
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(reservation_pk(current.order_id), RESERVATION_SK)))
            .update_expression(
                "SET #status = :reserved, expiresAt = :expires, renewedAt = :renewed, gsi2pk = :r, gsi2sk = :epoch, #ttl = :ttl, updatedAt = :now",
            )
            .condition_expression("#status = :was")
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#ttl", "ttl")
            .expression_attribute_values(":reserved", s(ReservationStatus::Reserved.as_str()))
            .expression_attribute_values(":was", s(current.status.as_str()))
            .expression_attribute_values(":expires", timestamp_value(renewed.expires_at)?)
            .expression_attribute_values(":renewed", timestamp_value(Timestamp::from(now))?)
            .expression_attribute_values(":r", s("RESERVED"))
            .expression_attribute_values(":epoch", n(epoch(expires_at)))
            .expression_attribute_values(":ttl", n(epoch(expires_at + RESERVATION_RETENTION)))
            .expression_attribute_values(":now", s(ts(now)))
            .build()?;
        let mut tx = self.transaction();
        tx.update(update, Some(Part::Reservation));
        if take {
            for (i, line) in lines.iter().enumerate() {
                tx.update(self.line_update(line, Move::Reserve, now)?, Some(Part::Line(i)));
            }
        }
        Ok(match tx.commit(&self.client).await? {
            TxOutcome::Committed => Retake::Done(renewed),
            r if r.refused(&Part::Reservation) => Retake::Lost,
            TxOutcome::Refused(parts) => {
                Retake::Insufficient(parts.into_iter().filter_map(|p| if let Part::Line(i) = p { Some(i) } else { None }).collect())
            }
        })
    }

    /// Moves a `reserved` reservation to `to` with its units. `unless_renewed_after`: refused
    /// (as it is) when a renewal after that instant is stored, and the write is conditional on
    /// the renewal read (a renewal racing it wins).
    async fn transition(
        &self,
        order_id: Uuid,
        to: ReservationStatus,
        now: OffsetDateTime,
        unless_renewed_after: Option<OffsetDateTime>,
    ) -> Result<Transition, StoreError> {
        use ReservationStatus::*;
        // Whether a reservation in `status` (expired at `now` or not) already is where `to` leads,
        // or can never get there.
        let settled = |r: &Reservation| -> Option<Transition> {
            let past = r.expires_at <= now;
            match (r.status, to) {
                (Reserved, Committed) if past => Some(Transition::Refused(r.clone())),
                (Reserved, Expired) if !past => Some(Transition::Refused(r.clone())),
                (Reserved, _) => None,
                // A restocked reservation's units went back too: releasing it is done already.
                (Committed, Committed) | (Released | Expired | Restocked, Released | Expired) => Some(Transition::Already(r.clone())),
                _ => Some(Transition::Refused(r.clone())),
            }
        };
        for _ in 0..3 {
            let Some(current) = self.reservation(order_id).await? else { return Ok(Transition::NotFound) };
            if let Some(done) = settled(&current) {
                return Ok(done);
            }
            if unless_renewed_after.is_some_and(|at| renewed_since(&current, at)) {
                return Ok(Transition::Refused(current));
            }
            let mut update = Update::builder()
                .table_name(&self.table)
                .set_key(Some(key(reservation_pk(order_id), RESERVATION_SK)))
                .update_expression("SET #status = :to, updatedAt = :now REMOVE gsi2pk, gsi2sk")
                .expression_attribute_names("#status", "status")
                .expression_attribute_values(":to", s(to.as_str()))
                .expression_attribute_values(":reserved", s(Reserved.as_str()))
                .expression_attribute_values(":now", s(ts(now)));
            update = match to {
                Committed => update
                    .condition_expression("#status = :reserved AND gsi2sk > :epoch")
                    .expression_attribute_values(":epoch", n(epoch(now))),
                Expired => update
                    .condition_expression("#status = :reserved AND gsi2sk <= :epoch")
                    .expression_attribute_values(":epoch", n(epoch(now))),
                _ => match (unless_renewed_after, current.renewed_at) {
                    (None, _) => update.condition_expression("#status = :reserved"),
                    (Some(_), None) => update.condition_expression("#status = :reserved AND attribute_not_exists(renewedAt)"),
                    (Some(_), Some(seen)) => update
                        .condition_expression("#status = :reserved AND renewedAt = :renewed")
                        .expression_attribute_values(":renewed", timestamp_value(seen)?),
                },
            };
            let movement = if to == Committed { Move::Commit } else { Move::Return };
            let mut tx = self.transaction();
            tx.update(update.build()?, Some(Part::Reservation));
            for line in &current.lines {
                tx.update(self.line_update(line, movement, now)?, None);
            }
            if tx.commit(&self.client).await?.is_committed() {
                return Ok(Transition::Done(Reservation { status: to, ..current }));
            }
            // Another call moved it first: decide from what it is now.
        }
        Err(StoreError::unexpected("the reservation kept changing"))
    }

    /// Cancels the reservation of a cancelled order, exactly once however often (and however
    /// concurrently) it is asked:
    ///
    /// - `reserved` → `released` (as [`Store::release`]: the held units go back);
    /// - `committed` → `restocked`: each line's units are added back to `available` with an audit
    ///   entry (actor [`SYSTEM_ACTOR`], reason [`RESTOCK_REASON`]), in one transaction with the
    ///   reservation's move (conditional on it still being `committed`, and each stock row on the
    ///   version read, so the audit's before/after are exact). A reservation of more than 49
    ///   lines takes one transaction per 49 lines, in line order; the reservation counts the lines
    ///   restocked (`restockedLines`, conditional on the count read) and becomes `restocked` with
    ///   the last, so each line is restocked once;
    /// - `released`, `expired`, `restocked` → [`Cancellation::Already`];
    /// - none → a tombstone (`released`, no lines) and [`Cancellation::NotFound`]: a reserve
    ///   under this order id arriving after the cancellation takes nothing.
    #[tracing::instrument(skip_all, fields(order_id = %order_id))]
    pub async fn cancel(&self, order_id: Uuid) -> Result<Cancellation, StoreError> {
        self.cancel_with(order_id, RESTOCK_REASON, None).await
    }

    /// [`Store::cancel`] for the `OrderCancelled` of a cancellation at `cancelled_at`: when a
    /// late payment renewed the reservation after that instant, the event is stale and changes
    /// nothing ([`Cancellation::Superseded`]); the release is conditional on the renewal read, so
    /// a renewal racing it wins.
    #[tracing::instrument(skip_all, fields(order_id = %order_id))]
    pub async fn cancel_unless_renewed(&self, order_id: Uuid, cancelled_at: OffsetDateTime) -> Result<Cancellation, StoreError> {
        self.cancel_with(order_id, RESTOCK_REASON, Some(cancelled_at)).await
    }

    /// A refunded order's units back, as [`Store::cancel`] puts a cancelled order's (once; the
    /// audit reason is [`REFUND_RESTOCK_REASON`]): a committed reservation is restocked, one
    /// still held released.
    #[tracing::instrument(skip_all, fields(order_id = %order_id))]
    pub async fn restock_refunded(&self, order_id: Uuid) -> Result<Cancellation, StoreError> {
        self.cancel_with(order_id, REFUND_RESTOCK_REASON, None).await
    }

    async fn cancel_with(
        &self,
        order_id: Uuid,
        reason: &str,
        unless_renewed_after: Option<OffsetDateTime>,
    ) -> Result<Cancellation, StoreError> {
        use ReservationStatus::*;
        let mut retry = self.retry.start();
        loop {
            let Some((current, restocked_lines)) = self.reservation_progress(order_id).await? else {
                if self.tombstone(order_id).await? {
                    return Ok(Cancellation::NotFound);
                }
                // Created meanwhile: cancel it.
                continue;
            };
            if unless_renewed_after.is_some_and(|at| renewed_since(&current, at)) {
                return Ok(Cancellation::Superseded(current));
            }
            match current.status {
                Released | Expired | Restocked => return Ok(Cancellation::Already(current)),
                Reserved => match self.transition(order_id, Released, OffsetDateTime::now_utc(), unless_renewed_after).await? {
                    Transition::Done(r) => return Ok(Cancellation::Released(r)),
                    Transition::Already(r) => return Ok(Cancellation::Already(r)),
                    Transition::NotFound => return Ok(Cancellation::NotFound),
                    // Committed or renewed meanwhile: decide again.
                    Transition::Refused(_) => continue,
                },
                Committed => match self.restock_next(&current, restocked_lines, reason).await? {
                    Restock::Finished => return Ok(Cancellation::Restocked(Reservation { status: Restocked, ..current })),
                    Restock::Partly => continue,
                    // Another call moved the reservation, or a stock row changed since it was read.
                    Restock::Lost => retry.wait().await?,
                },
            }
        }
    }

    /// Cancelling an order id that has no reservation leaves one, `released` with no lines (a
    /// tombstone, kept as long as any reservation): a reserve for that order id arriving after the
    /// cancellation — an attempt that outlived the caller who gave up on it and undid the
    /// checkout — then finds it and takes nothing, instead of holding stock for an order that
    /// will never exist. False when a reservation was created meanwhile (the put is conditional).
    async fn tombstone(&self, order_id: Uuid) -> Result<bool, StoreError> {
        let now = OffsetDateTime::now_utc();
        let tombstone =
            Reservation { order_id, status: ReservationStatus::Released, expires_at: now.into(), lines: Vec::new(), renewed_at: None };
        let item = reservation_item(&tombstone, now, now)?;
        Ok(shop_aws::dynamo::put_new(&self.client, &self.table, item).await? == Outcome::Done)
    }

    /// The reservation and how many of its lines a cancellation restocked so far.
    async fn reservation_progress(&self, order_id: Uuid) -> Result<Option<(Reservation, usize)>, StoreError> {
        let Some(item) = shop_aws::dynamo::get_item(&self.client, &self.table, key(reservation_pk(order_id), RESERVATION_SK)).await? else {
            return Ok(None);
        };
        let done: Option<usize> = attr(&item, "restockedLines")?;
        Ok(Some((serde_dynamo::from_item(item)?, done.unwrap_or(0))))
    }

    /// Restocks the next lines (up to [`RESTOCK_LINES_PER_TRANSACTION`]) of a committed
    /// reservation of which `done` lines were restocked, in one transaction.
    async fn restock_next(&self, reservation: &Reservation, done: usize, reason: &str) -> Result<Restock, StoreError> {
        let now = OffsetDateTime::now_utc();
        let lines = reservation.lines.get(done..).unwrap_or_default();
        let chunk = &lines[..lines.len().min(RESTOCK_LINES_PER_TRANSACTION)];
        let next = done + chunk.len();
        let finished = next >= reservation.lines.len();
        let ids: Vec<Uuid> = chunk.iter().map(|l| l.product_id).collect();
        let stocks = self.stocks(&ids).await?;

        let mut reservation_update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(reservation_pk(reservation.order_id), RESERVATION_SK)))
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":committed", s(ReservationStatus::Committed.as_str()))
            .expression_attribute_values(":next", n(next))
            .expression_attribute_values(":now", s(ts(now)));
        reservation_update = if done == 0 {
            reservation_update.condition_expression("#status = :committed AND attribute_not_exists(restockedLines)")
        } else {
            reservation_update
                .condition_expression("#status = :committed AND restockedLines = :done")
                .expression_attribute_values(":done", n(done))
        };
        reservation_update = if finished {
            reservation_update
                .update_expression("SET #status = :restocked, restockedLines = :next, updatedAt = :now")
                .expression_attribute_values(":restocked", s(ReservationStatus::Restocked.as_str()))
        } else {
            reservation_update.update_expression("SET restockedLines = :next, updatedAt = :now")
        };
        let mut tx = self.transaction();
        tx.update(reservation_update.build()?, Some(Part::Reservation));
        for line in chunk {
            let Some(before) = stocks.get(&line.product_id) else {
                // Stock rows are never deleted; a line without one has nowhere to go back to.
                tracing::warn!(product_id = %line.product_id, "a committed line's product has no stock row; not restocked");
                continue;
            };
            let delta = i64::from(line.quantity.get());
            let (update, audit) = self.audited_update(before, delta, SYSTEM_ACTOR, reason, now)?;
            tx.update(update, Some(Part::Stock));
            tx.put(&self.table, audit, None, None)?;
        }
        Ok(match tx.commit(&self.client).await? {
            TxOutcome::Committed if finished => Restock::Finished,
            TxOutcome::Committed => Restock::Partly,
            TxOutcome::Refused(_) => Restock::Lost,
        })
    }

    /// Order ids of reservations still holding stock whose expiry is at or before `now`, soonest
    /// first (at most `limit`).
    #[tracing::instrument(skip_all)]
    pub async fn due_reservations(&self, now: OffsetDateTime, limit: usize) -> Result<Vec<Uuid>, StoreError> {
        let mut out = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .index_name("gsi2")
                .key_condition_expression("gsi2pk = :r AND gsi2sk <= :now")
                .expression_attribute_values(":r", s("RESERVED"))
                .expression_attribute_values(":now", n(epoch(now)))
                .set_exclusive_start_key(start)
                .send()
                .await?;
            for item in page.items.unwrap_or_default() {
                // The index is KEYS_ONLY: the order id is in the key.
                let pk: Option<String> = attr(&item, "pk")?;
                let id = pk.as_deref().and_then(|pk| pk.strip_prefix("RESERVATION#")).and_then(|id| Uuid::parse_str(id).ok());
                out.push(id.ok_or_else(|| StoreError::unexpected(format!("a reserved item has a malformed key {pk:?}")))?);
            }
            start = page.last_evaluated_key;
            if start.is_none() || out.len() >= limit {
                out.truncate(limit);
                return Ok(out);
            }
        }
    }
}

/// Whether `reservation` was renewed after `at`.
fn renewed_since(reservation: &Reservation, at: OffsetDateTime) -> bool {
    reservation.renewed_at.is_some_and(|r| r.get() > at)
}

/// A timestamp as the reservation item stores it (as `serde_dynamo` writes [`Timestamp`]).
fn timestamp_value(t: Timestamp) -> Result<AttributeValue, StoreError> {
    Ok(serde_dynamo::to_attribute_value(t)?)
}

/// `gsi1sk` of a low stock row: `<sellerId>#<productId>` (`-` without a seller).
fn low_sort(stock: &Stock) -> String {
    format!("{}#{}", stock.seller_id.map(|s| s.to_string()).unwrap_or_else(|| "-".into()), stock.product_id)
}

/// An attribute map as the stream delivers images (for tests and the stream consumer).
pub fn stock_from_item(item: HashMap<String, AttributeValue>) -> Result<Stock, StoreError> {
    Ok(serde_dynamo::from_item(item)?)
}
