//! What happens to money: intents priced from the order, settlement (one path for the webhook,
//! the client's confirm and the reconciliation job), refunds, disputes, and the order told once.
//!
//! - **One intent per order attempt**: created under the lock of the order's payment rows, with
//!   Stripe's `Idempotency-Key` `pi-<order>-<attempt>`; a second call answers the same intent
//!   while Stripe can still take a payment on it.
//! - **Settlement** ([`settle`]): the intent's state is absorbed into the payment under its row
//!   lock, forward only; a paid payment whose order was not yet told is confirmed with orders
//!   (exactly once there, by the payment id). If orders answers that the order is cancelled
//!   (expired with its stock gone, or cancelled by someone), the money goes back in full
//!   (`late_payment`).
//! - **Refunds** ([`refund`]): the row (PENDING, holding its amount) is committed before Stripe
//!   hears of it; Stripe's call carries the row's own key and runs under the payment's lock; the
//!   accounting (`refunded` added up, never above `captured`) and the `PaymentRefunded` event are
//!   one transaction. A refund left PENDING by a crash is finished by the reconciliation job,
//!   which first looks for it at Stripe (by our id in its metadata), so it is never made twice.

use std::collections::BTreeMap;

use http::StatusCode;
use shop_aws::messages::payments::{PaymentDisputed, PaymentRefunded};
use shop_aws::outbox::OutboxEvent;
use shop_core::time::Timestamp;
use shop_core::{ApiError, FieldError};
use shop_internal::CallError;
use uuid::Uuid;

use crate::AppState;
use crate::clients::Confirmation;
use crate::domain::{IntentView, Method, Payment, RefundReason, RefundRow, RefundStatus, Status};
use crate::store::{StoreError, Tx};
use crate::stripe::{Failure, Intent, Refund};

/// Why settling or refunding stopped.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("Stripe: {0}")]
    Stripe(#[from] Failure),
    #[error("orders: {0}")]
    Orders(#[from] CallError),
    #[error("the Stripe configuration cannot be read: {0}")]
    Config(String),
    #[error(transparent)]
    Refused(#[from] Box<ApiError>),
}

impl From<serde_json::Error> for LedgerError {
    fn from(e: serde_json::Error) -> Self {
        LedgerError::Store(StoreError::from(e))
    }
}

impl From<sqlx::Error> for LedgerError {
    fn from(e: sqlx::Error) -> Self {
        LedgerError::Store(StoreError::Db(e))
    }
}

impl LedgerError {
    fn refused(e: ApiError) -> Self {
        LedgerError::Refused(Box::new(e))
    }
}

/// Stripe or orders unreachable, the database down → 503 with `Retry-After` (the request is safe
/// to repeat); Stripe refusing → 502; our own refusals as they are.
impl From<LedgerError> for ApiError {
    fn from(e: LedgerError) -> Self {
        match e {
            LedgerError::Store(e) => e.into(),
            LedgerError::Stripe(Failure::Refused { message, code, decline_code, .. }) => ApiError::new(
                StatusCode::BAD_GATEWAY,
                "payment_provider_refused",
                format!("Stripe refused the request: {message}{}", decline_code.or(code).map(|c| format!(" ({c})")).unwrap_or_default()),
            ),
            // orders unreachable: 503 `dependency_unavailable`, as every function answers it.
            LedgerError::Orders(e) => e.into(),
            e @ (LedgerError::Stripe(Failure::Unavailable(_)) | LedgerError::Config(_)) => ApiError::unavailable(&e),
            LedgerError::Refused(e) => *e,
        }
    }
}

fn metadata(payment: &Payment) -> BTreeMap<&'static str, String> {
    BTreeMap::from([
        ("orderId", payment.order_id.to_string()),
        ("userId", payment.user_id.to_string()),
        ("orderNumber", payment.order_number.clone()),
        ("paymentId", payment.id.to_string()),
    ])
}

// ---------------------------------------------------------------------- intents

/// The intent of a card order for its owner: created once per attempt, or the current one
/// answered again (`false`: not created by this call).
pub async fn intent_for_order(state: &AppState, user_id: Uuid, order_id: Uuid) -> Result<(IntentView, bool), LedgerError> {
    let order = state
        .orders
        .order(order_id)
        .await?
        .filter(|o| o.user_id == user_id)
        .ok_or_else(|| LedgerError::refused(crate::routes::no_order()))?;
    if order.payment_method != "card" {
        return Err(LedgerError::refused(ApiError::conflict(
            "not_card_order",
            "This order is paid cash on delivery; it needs no payment intent.",
        )));
    }
    if order.status != "PENDING" {
        return Err(LedgerError::refused(ApiError::conflict(
            "order_not_pending",
            format!("The order is {}; only a PENDING order can be paid.", order.status),
        )));
    }
    let stripe = state.stripe().await?;
    let mut tx = state.store.begin().await?;
    let mut rows = state.store.lock_order(&mut tx, order_id).await?;
    if rows.is_empty() {
        let first = Payment::new(order_id, 1, order.user_id, &order.order_number, Method::Card, order.total, &order.currency);
        // A concurrent first call inserts the same (order, 1): this insert waits for it and does
        // nothing, and the lock below then holds its row.
        state.store.insert(&mut tx, &first).await?;
        rows = state.store.lock_order(&mut tx, order_id).await?;
    }
    let mut current = rows.pop().ok_or_else(|| LedgerError::Store(StoreError::Corrupt("no payment row after insert".into())))?;
    if let Some(intent_id) = current.intent_id.clone() {
        let intent = stripe.retrieve_intent(&intent_id).await?;
        if current.absorb(&intent) {
            state.store.save(&mut tx, &current).await?;
        }
        if current.status.paid() {
            tx.commit().await?;
            return Err(LedgerError::refused(ApiError::conflict("already_paid", "This order is paid already.")));
        }
        if intent.usable() {
            tx.commit().await?;
            return Ok((intent_view(&current, &intent)?, false));
        }
        // Stripe cancelled that intent: the next attempt gets a new one.
        let next =
            Payment::new(order_id, current.attempt + 1, order.user_id, &order.order_number, Method::Card, order.total, &order.currency);
        state.store.insert(&mut tx, &next).await?;
        current = next;
    }
    let key = format!("pi-{order_id}-{}", current.attempt);
    let intent = stripe.create_intent(current.amount, &current.currency, &metadata(&current), &key).await?;
    current.intent_id = Some(intent.id.clone());
    current.intent_status = Some(intent.status.clone());
    current.status = Status::Processing;
    state.store.save(&mut tx, &current).await?;
    tx.commit().await?;
    tracing::info!(payment_id = %current.id, order_id = %order_id, attempt = current.attempt, "payment intent created");
    Ok((intent_view(&current, &intent)?, true))
}

fn intent_view(payment: &Payment, intent: &Intent) -> Result<IntentView, LedgerError> {
    Ok(IntentView {
        payment_id: payment.id,
        client_secret: intent
            .client_secret
            .clone()
            .ok_or_else(|| LedgerError::Stripe(Failure::Unavailable("the intent has no client secret".into())))?,
        payment_intent_id: intent.id.clone(),
        amount: payment.amount,
        currency: payment.currency.clone(),
        status: payment.status,
    })
}

// ---------------------------------------------------------------------- settlement

/// What settling an intent came to.
#[derive(Debug, Clone)]
pub struct Settled {
    pub payment: Payment,
    /// The order's status when orders was asked (a paid payment); `None` otherwise.
    pub order_status: Option<String>,
}

/// Applies an intent's state and, once paid, tells the order — the same path for the webhook,
/// the client's confirm and the reconciliation job. `None`: no payment has this intent.
pub async fn settle(state: &AppState, intent: &Intent) -> Result<Option<Settled>, LedgerError> {
    let Some((payment, changed)) = state.store.apply_intent(intent).await? else {
        return Ok(None);
    };
    if changed {
        tracing::info!(payment_id = %payment.id, status = payment.status.as_str(), intent_status = %intent.status, "payment moved");
        match payment.status {
            Status::Failed => shop_core::metrics::count(crate::CALLER, "PaymentFailed"),
            Status::Succeeded => shop_core::metrics::count(crate::CALLER, "PaymentSucceeded"),
            _ => {}
        }
    }
    finish(state, payment).await.map(Some)
}

/// Tells orders what it has not yet heard of a payment: paid → confirm (or refund if the order
/// is gone); fully refunded → REFUNDED.
pub async fn finish(state: &AppState, payment: Payment) -> Result<Settled, LedgerError> {
    let mut payment = payment;
    let mut order_status = None;
    if payment.method == Method::Card && payment.status.paid() && payment.order_outcome.is_none() {
        let intent_id = payment.intent_id.clone().unwrap_or_default();
        match state.orders.confirm(payment.order_id, &intent_id).await? {
            Confirmation::Confirmed(status) => {
                state.store.set_outcome(payment.id, "confirmed").await?;
                payment.order_outcome = Some("confirmed".into());
                order_status = Some(status);
            }
            Confirmation::Cancelled => {
                tracing::warn!(payment_id = %payment.id, order_id = %payment.order_id, "paid after the order was cancelled; refunding in full");
                let ask = RefundAsk::automatic("late-payment", RefundReason::LatePayment, None);
                match refund(state, payment.id, ask).await {
                    Ok((_, after)) => payment = after,
                    // Refunded in full already (an admin was quicker): nothing is left to return.
                    Err(LedgerError::Refused(e)) if e.code() == "nothing_to_refund" => {}
                    Err(e) => return Err(e),
                }
                state.store.set_outcome(payment.id, "refunded").await?;
                payment.order_outcome = Some("refunded".into());
                order_status = Some("CANCELLED".into());
            }
        }
    }
    if payment.status == Status::Refunded && payment.order_outcome.as_deref() == Some("confirmed") && !payment.order_refund_reported {
        report_full_refund(state, &payment, None).await?;
        payment.order_refund_reported = true;
    }
    Ok(Settled { payment, order_status })
}

async fn report_full_refund(state: &AppState, payment: &Payment, restock: Option<bool>) -> Result<(), LedgerError> {
    let intent_id = payment.intent_id.clone().unwrap_or_default();
    let status = state.orders.refunded(payment.order_id, &intent_id, payment.refunded, restock).await?;
    state.store.set_refund_reported(payment.id).await?;
    tracing::info!(payment_id = %payment.id, order_status = %status, "full refund reported to orders");
    Ok(())
}

// ---------------------------------------------------------------------- refunds

/// A refund to make.
#[derive(Debug, Clone)]
pub struct RefundAsk {
    /// The caller's `Idempotency-Key`, or the automatic refund's own (`order-cancelled`, …).
    pub key: String,
    /// What the request was (a reused key with another request is refused).
    pub hash: String,
    /// Cents; `None` → all that is still refundable.
    pub amount: Option<i64>,
    pub reason: RefundReason,
    pub note: Option<String>,
    pub restock: Option<bool>,
    pub requested_by: Option<Uuid>,
}

impl RefundAsk {
    /// A full refund the system decides (`key` is fixed per cause, so it happens once).
    pub fn automatic(key: &str, reason: RefundReason, note: Option<String>) -> Self {
        Self { key: key.to_owned(), hash: key.to_owned(), amount: None, reason, note, restock: None, requested_by: None }
    }
}

/// Refunds (part of) a payment once per key; answers the refund and the payment after it.
pub async fn refund(state: &AppState, payment_id: Uuid, ask: RefundAsk) -> Result<(RefundRow, Payment), LedgerError> {
    let mut tx = state.store.begin().await?;
    let payment = state.store.lock(&mut tx, payment_id).await?.ok_or_else(|| LedgerError::refused(crate::routes::no_payment()))?;
    let row = match state.store.refund_by_key(&mut tx, payment_id, &ask.key).await? {
        Some(existing) if existing.request_hash != ask.hash => {
            return Err(LedgerError::refused(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency_key_reused",
                "This Idempotency-Key was used for a different refund request.",
            )));
        }
        Some(existing) if existing.status != RefundStatus::Pending => {
            tx.commit().await?;
            return Ok((existing, payment));
        }
        Some(existing) => existing,
        None => {
            if payment.method == Method::Cod {
                return Err(LedgerError::refused(ApiError::conflict(
                    "cod_not_refundable",
                    "Cash on delivery is refunded by hand; set the order REFUNDED instead.",
                )));
            }
            let pending = state.store.pending_refunds(&mut tx, payment_id).await?;
            let refundable = payment.refundable(pending);
            if refundable == 0 {
                return Err(LedgerError::refused(ApiError::conflict(
                    "nothing_to_refund",
                    format!("Nothing is left to refund on this payment (it is {}).", payment.status.as_str()),
                )));
            }
            let amount = ask.amount.unwrap_or(refundable);
            if amount > refundable {
                return Err(LedgerError::refused(ApiError::validation(vec![FieldError::new(
                    "amount",
                    "too_large",
                    format!("At most {refundable} cents can still be refunded."),
                )])));
            }
            let now = Timestamp::now();
            let row = RefundRow {
                id: shop_core::id::new_id(),
                payment_id,
                idempotency_key: ask.key.clone(),
                request_hash: ask.hash.clone(),
                amount,
                reason: ask.reason,
                note: ask.note.clone(),
                restock: ask.restock,
                status: RefundStatus::Pending,
                stripe_refund_id: None,
                failure_reason: None,
                requested_by: ask.requested_by,
                created_at: now,
                updated_at: now,
            };
            state.store.insert_refund(&mut tx, &row).await?;
            row
        }
    };
    // The PENDING row (and the amount it holds) is durable before Stripe hears of it.
    tx.commit().await?;
    complete_refund(state, row).await
}

/// Sends a PENDING refund to Stripe under the payment's lock and books it.
pub async fn complete_refund(state: &AppState, row: RefundRow) -> Result<(RefundRow, Payment), LedgerError> {
    let stripe = state.stripe().await?;
    let mut tx = state.store.begin().await?;
    let mut payment = state.store.lock(&mut tx, row.payment_id).await?.ok_or_else(|| LedgerError::refused(crate::routes::no_payment()))?;
    let row = state.store.refund(&mut tx, row.id).await?.unwrap_or(row);
    if row.status != RefundStatus::Pending {
        tx.commit().await?;
        return Ok((row, payment));
    }
    let intent_id = payment.intent_id.clone().unwrap_or_default();
    // A refund older than a few seconds may have reached Stripe before a crash: look first.
    let earlier = if Timestamp::now().0 - row.created_at.0 > time::Duration::seconds(5) {
        stripe.refunds_of(&intent_id).await?.into_iter().find(|r| r.our_id() == Some(row.id))
    } else {
        None
    };
    let made = match earlier {
        Some(found) => Ok(found),
        None => {
            let mut meta = metadata(&payment);
            meta.insert("refundId", row.id.to_string());
            stripe.create_refund(&intent_id, row.amount, &meta, &format!("refund-{}", row.id)).await
        }
    };
    match made {
        Ok(made) if !made.failed() => {
            let events = book_refund(state, &mut tx, &mut payment, &row, &made.id).await?;
            tx.commit().await?;
            state.relay.flush(&state.store, payment.order_id, &events).await;
            shop_core::metrics::count(crate::CALLER, "Refunded");
            shop_core::metrics::amount(crate::CALLER, "RefundedAmount", row.amount);
            let row = RefundRow { status: RefundStatus::Succeeded, stripe_refund_id: Some(made.id), ..row };
            if payment.status == Status::Refunded
                && matches!(row.reason, RefundReason::Requested | RefundReason::External)
                && payment.order_outcome.as_deref() == Some("confirmed")
                && !payment.order_refund_reported
            {
                // Best effort here; the reconciliation job reports what fails.
                match report_full_refund(state, &payment, row.restock).await {
                    Ok(()) => payment.order_refund_reported = true,
                    Err(e) => {
                        tracing::warn!(error = %shop_core::problem::ErrorChain(&e), payment_id = %payment.id, "could not report the full refund to orders yet")
                    }
                }
            }
            Ok((row, payment))
        }
        Ok(made) => {
            state
                .store
                .settle_refund(&mut tx, row.id, RefundStatus::Failed, Some(&made.id), Some("Stripe reports the refund failed"))
                .await?;
            tx.commit().await?;
            shop_core::metrics::count(crate::CALLER, "RefundFailed");
            Err(LedgerError::refused(ApiError::new(StatusCode::BAD_GATEWAY, "refund_failed", "Stripe reports the refund failed.")))
        }
        Err(Failure::Refused { message, status, code, decline_code }) => {
            state.store.settle_refund(&mut tx, row.id, RefundStatus::Failed, None, Some(&message)).await?;
            tx.commit().await?;
            shop_core::metrics::count(crate::CALLER, "RefundFailed");
            Err(LedgerError::Stripe(Failure::Refused { message, status, code, decline_code }))
        }
        // Unknown whether Stripe made it: the row stays PENDING (its amount held) for a retry
        // with the same key, or the reconciliation job.
        Err(e) => Err(e.into()),
    }
}

/// Books a refund Stripe made: the row SUCCEEDED, the payment's total and status, the event.
async fn book_refund(
    state: &AppState,
    tx: &mut Tx,
    payment: &mut Payment,
    row: &RefundRow,
    stripe_id: &str,
) -> Result<Vec<OutboxEvent>, LedgerError> {
    state.store.settle_refund(tx, row.id, RefundStatus::Succeeded, Some(stripe_id), None).await?;
    payment.refunded = (payment.refunded + row.amount).min(payment.captured);
    payment.status = if payment.refunded >= payment.captured { Status::Refunded } else { Status::PartiallyRefunded };
    state.store.save(tx, payment).await?;
    let events = vec![OutboxEvent::new(
        crate::CALLER,
        PaymentRefunded {
            payment_id: payment.id,
            refund_id: row.id,
            order_id: payment.order_id,
            order_number: payment.order_number.clone(),
            user_id: payment.user_id,
            amount: row.amount,
            refunded_total: payment.refunded,
            captured: payment.captured,
            currency: payment.currency.clone(),
            reason: row.reason,
            note: row.note.clone(),
            refunded_at: Timestamp::now(),
        },
    )?];
    state.store.outbox(tx, payment.order_id, &events).await?;
    Ok(events)
}

/// `charge.refunded`: every refund Stripe has for the intent is booked once — ours that a crash
/// left PENDING, and those made in the Stripe dashboard (`external`).
pub async fn sync_refunds(state: &AppState, intent_id: &str) -> Result<Option<Payment>, LedgerError> {
    let Some(payment) = state.store.by_intent(intent_id).await? else {
        return Ok(None);
    };
    let stripe = state.stripe().await?;
    let refunds: Vec<Refund> = stripe.refunds_of(intent_id).await?.into_iter().filter(|r| !r.failed()).collect();
    let mut tx = state.store.begin().await?;
    let mut payment = state.store.lock(&mut tx, payment.id).await?.unwrap_or(payment);
    let mut events = Vec::new();
    for made in &refunds {
        if state.store.knows_stripe_refund(&mut tx, &made.id).await? {
            continue;
        }
        let ours = match made.our_id() {
            Some(id) => state.store.refund(&mut tx, id).await?.filter(|r| r.payment_id == payment.id && r.status == RefundStatus::Pending),
            None => None,
        };
        let row = match ours {
            Some(row) => row,
            None => {
                let now = Timestamp::now();
                let row = RefundRow {
                    id: shop_core::id::new_id(),
                    payment_id: payment.id,
                    idempotency_key: format!("stripe-{}", made.id),
                    request_hash: made.id.clone(),
                    amount: made.amount.min(payment.captured - payment.refunded).max(1),
                    reason: RefundReason::External,
                    note: None,
                    restock: None,
                    status: RefundStatus::Pending,
                    stripe_refund_id: None,
                    failure_reason: None,
                    requested_by: None,
                    created_at: now,
                    updated_at: now,
                };
                state.store.insert_refund(&mut tx, &row).await?;
                tracing::info!(payment_id = %payment.id, stripe_refund = %made.id, amount = made.amount, "refund made outside Skyshop recorded");
                row
            }
        };
        events.extend(book_refund(state, &mut tx, &mut payment, &row, &made.id).await?);
    }
    tx.commit().await?;
    if !events.is_empty() {
        state.relay.flush(&state.store, payment.order_id, &events).await;
    }
    Ok(Some(finish(state, payment).await?.payment))
}

// ---------------------------------------------------------------------- disputes

/// `charge.dispute.created`: the payment marks the dispute once, admins are told (event), the
/// order is flagged.
pub async fn dispute(
    state: &AppState,
    intent_id: &str,
    dispute_id: &str,
    amount: i64,
    reason: &str,
) -> Result<Option<Payment>, LedgerError> {
    let mut tx = state.store.begin().await?;
    let Some(mut payment) = state.store.lock_intent(&mut tx, intent_id).await? else {
        return Ok(None);
    };
    if payment.dispute_id.is_none() {
        payment.dispute_id = Some(dispute_id.to_owned());
        payment.dispute_reason = Some(reason.to_owned());
        payment.disputed_at = Some(Timestamp::now());
        state.store.save(&mut tx, &payment).await?;
        let events = vec![OutboxEvent::new(
            crate::CALLER,
            PaymentDisputed {
                payment_id: payment.id,
                order_id: payment.order_id,
                order_number: payment.order_number.clone(),
                dispute_id: dispute_id.to_owned(),
                amount,
                currency: payment.currency.clone(),
                reason: reason.to_owned(),
                disputed_at: Timestamp::now(),
            },
        )?];
        state.store.outbox(&mut tx, payment.order_id, &events).await?;
        tx.commit().await?;
        state.relay.flush(&state.store, payment.order_id, &events).await;
        shop_core::metrics::count(crate::CALLER, "PaymentDisputed");
    } else {
        tx.commit().await?;
    }
    state.orders.flag(payment.order_id, &format!("payment disputed: {reason}")).await?;
    Ok(Some(payment))
}

// ---------------------------------------------------------------------- order events

/// `OrderCancelled`: a paid card order is refunded in full (once); an unpaid one's open intent
/// is cancelled at Stripe so nobody pays it any more (if it was paid meanwhile, settling refunds
/// it as a late payment).
pub async fn order_cancelled(state: &AppState, order_id: Uuid, reason: &str) -> Result<(), LedgerError> {
    for payment in state.store.of_order(order_id).await? {
        match payment.method {
            Method::Cod => {
                let mut tx = state.store.begin().await?;
                if let Some(mut locked) = state.store.lock(&mut tx, payment.id).await?
                    && locked.status == Status::Pending
                {
                    locked.status = Status::Cancelled;
                    state.store.save(&mut tx, &locked).await?;
                }
                tx.commit().await?;
            }
            // Paid but the order never heard of it: settling refunds it as a late payment.
            Method::Card if payment.status.paid() && payment.order_outcome.is_none() => {
                finish(state, payment).await?;
            }
            Method::Card if payment.status.paid() => {
                if payment.refunded < payment.captured {
                    let ask = RefundAsk::automatic("order-cancelled", RefundReason::OrderCancelled, Some(reason.to_owned()));
                    match refund(state, payment.id, ask).await {
                        Ok(_) => {}
                        // Refunded in full meanwhile (e.g. by an admin): nothing left to do.
                        Err(LedgerError::Refused(e)) if e.code() == "nothing_to_refund" => {}
                        Err(e) => return Err(e),
                    }
                }
            }
            Method::Card if payment.status.open() => {
                let Some(intent_id) = payment.intent_id.clone() else { continue };
                let stripe = state.stripe().await?;
                let intent = match stripe.cancel_intent(&intent_id).await {
                    Ok(intent) => intent,
                    // Not cancellable (it succeeded or is processing): what it is decides.
                    Err(Failure::Refused { .. }) => stripe.retrieve_intent(&intent_id).await?,
                    Err(e) => return Err(e.into()),
                };
                settle(state, &intent).await?;
            }
            Method::Card => {}
        }
    }
    Ok(())
}

/// `OrderPlaced` of a cash-on-delivery order: its payment record (PENDING until delivery).
pub async fn cod_placed(
    state: &AppState,
    order_id: Uuid,
    user_id: Uuid,
    order_number: &str,
    total: i64,
    currency: &str,
) -> Result<(), LedgerError> {
    let payment = Payment::new(order_id, 1, user_id, order_number, Method::Cod, total, currency);
    if state.store.ensure_cod(&payment).await? {
        tracing::info!(order_id = %order_id, "cash-on-delivery payment recorded");
    }
    Ok(())
}

/// `OrderDelivered` of a cash-on-delivery order: the cash was collected (SUCCEEDED, once).
pub async fn cod_delivered(
    state: &AppState,
    order_id: Uuid,
    user_id: Uuid,
    order_number: &str,
    total: i64,
    currency: &str,
) -> Result<(), LedgerError> {
    cod_placed(state, order_id, user_id, order_number, total, currency).await?;
    let mut tx = state.store.begin().await?;
    for mut payment in state.store.lock_order(&mut tx, order_id).await? {
        if payment.method == Method::Cod && matches!(payment.status, Status::Pending) {
            payment.status = Status::Succeeded;
            payment.captured = payment.amount;
            payment.succeeded_at = Some(Timestamp::now());
            payment.order_outcome = Some("confirmed".into());
            state.store.save(&mut tx, &payment).await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

// ---------------------------------------------------------------------- reconciliation

/// How long an intent may sit in a non-final state before the job asks Stripe about it.
pub const STUCK_AFTER: time::Duration = time::Duration::minutes(10);
/// How long a paid payment may wait for orders, or a refund for Stripe, before the job retries.
pub const RETRY_AFTER: time::Duration = time::Duration::minutes(1);

/// What one reconciliation run did.
#[derive(Debug, Default, Clone, Copy, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Reconciled {
    pub intents_checked: usize,
    pub orders_told: usize,
    pub refunds_finished: usize,
    pub events_reprocessed: usize,
    pub failures: usize,
}

/// The reconciliation job: intents stuck past [`STUCK_AFTER`] are retrieved and settled (a lost
/// webhook never leaves an order unpaid), paid payments orders has not heard of are told,
/// refunds left PENDING are finished, webhook events whose handling failed are handled again.
pub async fn reconcile(state: &AppState, now: time::OffsetDateTime) -> Result<Reconciled, LedgerError> {
    let mut done = Reconciled::default();
    let failed = |e: LedgerError, what: &str| {
        tracing::warn!(error = %shop_core::problem::ErrorChain(&e), what, "reconciliation step failed; next run retries");
    };
    for payment in state.store.stuck(now - STUCK_AFTER, 100).await? {
        let Some(intent_id) = payment.intent_id.as_deref() else { continue };
        let stripe = state.stripe().await?;
        match stripe.retrieve_intent(intent_id).await {
            Ok(intent) => match settle(state, &intent).await {
                Ok(_) => done.intents_checked += 1,
                Err(e) => {
                    done.failures += 1;
                    failed(e, "settle a stuck intent");
                }
            },
            Err(e) => {
                done.failures += 1;
                failed(e.into(), "retrieve a stuck intent");
            }
        }
    }
    for payment in state.store.unfinished(now - RETRY_AFTER, 100).await? {
        match finish(state, payment).await {
            Ok(_) => done.orders_told += 1,
            Err(e) => {
                done.failures += 1;
                failed(e, "tell orders");
            }
        }
    }
    for row in state.store.stale_refunds(now - RETRY_AFTER, 100).await? {
        match complete_refund(state, row).await {
            Ok(_) => done.refunds_finished += 1,
            Err(e) => {
                done.failures += 1;
                failed(e, "finish a refund");
            }
        }
    }
    for (id, payload) in state.store.unprocessed_events(now - RETRY_AFTER, 100).await? {
        let event = match serde_json::from_value::<crate::webhook::StripeEvent>(payload) {
            Ok(event) => event,
            Err(e) => {
                done.failures += 1;
                tracing::error!(event_id = %id, error = %e, "a recorded webhook event does not read");
                continue;
            }
        };
        match crate::webhook::process(state, &event).await {
            Ok(_) => done.events_reprocessed += 1,
            Err(e) => {
                done.failures += 1;
                failed(e, "handle a recorded webhook event");
            }
        }
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn automatic_refunds_are_keyed_by_their_cause() {
        let a = RefundAsk::automatic("order-cancelled", RefundReason::OrderCancelled, Some("customer_request".into()));
        assert_eq!((a.key.as_str(), a.hash.as_str(), a.amount), ("order-cancelled", "order-cancelled", None));
        assert_eq!(RefundReason::parse(a.reason.as_str()), Some(RefundReason::OrderCancelled));
    }
}
