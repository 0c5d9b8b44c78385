//! Skyshop notifications: the `NotificationsQueue` consumer.
//!
//! Each SQS record carries an [`Envelope`] (`{id, type, source, occurredAt, data}`). The `type`
//! selects a template ([`templates::render`]), the email goes out through SES v2
//! ([`mailer::Mailer`]), and every message id is sent **at most once** ([`store::ClaimStore`]):
//!
//! 1. parse the envelope and render the email — a malformed body, an unknown `type` or a payload
//!    that does not fit its type is a failure (retried, then moved to the DLQ);
//! 2. claim `MSG#<id>` with a conditional put — an existing claim means the message was already
//!    sent (or is being sent), so the record is acknowledged without sending;
//! 3. send — on failure the claim is released and the record reported in `batchItemFailures`
//!    so the retry may send; on success the claim is marked `sent` with the SES message id. A
//!    send that timed out (SES may have got it) keeps its claim and is acknowledged: one attempt
//!    per send (the SDK's retries are off for SES), never a second copy of a delivered email.
//!
//! `StockLow` (from inventory) has no recipient of its own: the product's seller (when the event
//! names one and accounts knows them as active) and every active admin are looked up through
//! accounts' internal routes (`ACCOUNTS_FUNCTION`), deduplicated by user id, and each gets one
//! email, claimed as `MSG#<id>#<userId>` — at most once per message id **and recipient**. A
//! failed send releases that recipient's claim and fails the record, so the retry sends only to
//! the recipients still unsent; accounts being unavailable fails the record before any claim.
//! `PaymentDisputed` (from payments) goes the same way to every active admin: the amount,
//! Stripe's reason and dispute id, a link to the order's admin page.
//!
//! The order events (from orders, through its topic) go to the order's user, looked up through
//! accounts' `GET /internal/users/{id}/contact`: `OrderConfirmed` → the confirmation (lines,
//! totals, address, link), `OrderShipped` → the shipping update (carrier and tracking number when
//! present), `OrderDelivered` → delivered, `OrderCancelled` → the cancellation (reason, refund
//! amount when present); each claimed as `MSG#<id>` like any single-recipient email.
//! `OrderPlaced` is acknowledged without email (the confirmation goes out once, on
//! `OrderConfirmed`), and so is `OrderRefunded` (payments' `PaymentRefunded` tells the customer).
//! `OrderCancelled` of a **paid card order** (card, cancelled from any status but `PENDING`) is
//! acknowledged without email too: payments refunds it, and its `PaymentRefunded` (reason
//! `order_cancelled`) sends the cancellation with the amount refunded.
//!
//! `PaymentRefunded` (from payments, through its topic) goes to the order's user the same way,
//! claimed as `MSG#<id>`, worded by its reason: `order_cancelled` → the cancellation email (the
//! amount, the note as the reason), `requested`/`external` → the refund (this refund, the total
//! refunded so far, whether that is all of the payment, the note), `late_payment` → the payment
//! came after the order had expired and was refunded in full.
//!
//! A user accounts does not know as active (404) gets nothing and the record is acknowledged;
//! accounts being unavailable fails the record before any claim.
//!
//! Logs name the message id, type and order id, never addresses, names or tokens.
//!
//! [`Notifier::handle`] is what Lambda runs, what the local runner calls and what the tests drive.

pub mod config;
pub mod mailer;
pub mod store;
pub mod suppression;
pub mod templates;

use crate::config::Config;
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use shop_aws::events::{Envelope, Event};
use shop_core::problem::ErrorChain;

use crate::mailer::{Mailer, SendError};
use crate::store::{Claim, ClaimStore, StoreError};
use crate::templates::orders as order_templates;
use crate::templates::payments as payment_templates;
use crate::templates::{Email, ForOrderUser, Links, Recipient, RenderError};
use shop_aws::messages::StockLow;
use shop_aws::messages::orders::{OrderCancelled, OrderConfirmed, OrderDelivered, OrderPlaced, OrderRefunded, OrderShipped};
use shop_aws::messages::payments::{PaymentDisputed, PaymentRefunded};
use shop_internal::InternalClient;
use uuid::Uuid;

/// `{items}` of `GET /internal/users/admins`.
#[derive(Debug, serde::Deserialize)]
struct Recipients {
    items: Vec<Recipient>,
}

/// The consumer: renders, claims and sends. Cheap to clone (SDK clients are shared handles).
#[derive(Debug, Clone)]
pub struct Notifier {
    store: ClaimStore,
    /// Addresses SES feedback suppressed ([`suppression`]): skipped, never sent to.
    suppressions: suppression::SuppressionStore,
    mailer: Mailer,
    links: Links,
    accounts: InternalClient,
}

/// How one record ended when it is acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Sent,
    AlreadyClaimed,
    /// Nobody to write to (a low-stock or dispute event with no active seller or admin, an
    /// order whose user has no active account).
    NoRecipients,
    /// The message is known and sends no email (`OrderPlaced`, `OrderRefunded`, a paid card
    /// order's `OrderCancelled`).
    NoEmail,
    /// The recipient bounced permanently or complained: not sent (`EmailSuppressed`).
    Suppressed,
    /// SES did not answer after the request went out (a timeout): the email may have been sent;
    /// the claim stays, so it is never sent twice (`EmailUncertain`).
    Uncertain,
}

/// Why one record is reported as failed.
#[derive(Debug, thiserror::Error)]
enum Failure {
    /// Only serde's classification and position: its message may quote values.
    #[error("the body is not a message envelope ({category:?} error at line {line}, column {column})")]
    Malformed { category: serde_json::error::Category, line: usize, column: usize },
    #[error(transparent)]
    Render(#[from] RenderError),
    #[error("could not claim the message id")]
    Claim(#[source] StoreError),
    #[error("could not read the recipient's suppression")]
    Suppression(#[source] StoreError),
    #[error(transparent)]
    Send(#[from] SendError),
    /// The recipients could not be looked up (accounts unavailable or answering unexpectedly).
    #[error("could not look up the recipients")]
    Recipients(#[source] shop_internal::CallError),
}

/// Longest `type` value put into logs (the body may be anything).
const MAX_LOGGED_KIND: usize = 64;

impl Notifier {
    pub fn new(config: Config, sdk: &aws_config::SdkConfig) -> Self {
        let configuration_set = config.configuration_set.clone();
        Self::from_parts(
            aws_sdk_dynamodb::Client::new(sdk),
            config.table,
            aws_sdk_sesv2::Client::new(sdk),
            config.mail_from,
            &config.frontend_url,
            InternalClient::new(sdk, config.accounts_function, "notifications"),
        )
        .with_configuration_set(configuration_set)
    }

    /// Sends every email with this SES configuration set (its event destination reports
    /// bounces and complaints); `None`: without one.
    pub fn with_configuration_set(mut self, configuration_set: Option<String>) -> Self {
        self.mailer = self.mailer.with_configuration_set(configuration_set);
        self
    }

    pub fn from_parts(
        dynamo: aws_sdk_dynamodb::Client,
        table: impl Into<String>,
        ses: aws_sdk_sesv2::Client,
        mail_from: impl Into<String>,
        frontend_url: &str,
        accounts: InternalClient,
    ) -> Self {
        let table = table.into();
        Self {
            suppressions: suppression::SuppressionStore::new(dynamo.clone(), &table),
            store: ClaimStore::new(dynamo, table),
            mailer: Mailer::new(ses, mail_from),
            links: Links::new(frontend_url),
            accounts,
        }
    }

    /// Processes every record of the batch (concurrently) and reports the ones to retry by their
    /// SQS `messageId`. A record without a `messageId` is reported with an empty identifier,
    /// which makes Lambda retry the whole batch.
    pub async fn handle(&self, event: SqsEvent) -> SqsBatchResponse {
        let outcomes = futures::future::join_all(event.records.iter().map(|record| self.process(record))).await;
        let mut response = SqsBatchResponse::default();
        let (mut sent, mut skipped) = (0usize, 0usize);
        for (record, outcome) in event.records.iter().zip(outcomes) {
            match outcome {
                Ok(Outcome::Sent | Outcome::Uncertain) => sent += 1,
                Ok(Outcome::AlreadyClaimed | Outcome::NoRecipients | Outcome::NoEmail | Outcome::Suppressed) => skipped += 1,
                Err(_) => response.add_failure(record.message_id.clone().unwrap_or_default()),
            }
        }
        tracing::info!(records = event.records.len(), sent, skipped, failed = response.batch_item_failures.len(), "batch processed");
        response
    }

    #[tracing::instrument(
        skip_all,
        fields(message_id, kind, order_id, sqs_message_id = record.message_id.as_deref().unwrap_or_default())
    )]
    async fn process(&self, record: &SqsMessage) -> Result<Outcome, Failure> {
        let result = self.process_body(record.body.as_deref().unwrap_or_default()).await;
        match &result {
            Ok(Outcome::Sent) => tracing::info!("email sent"),
            Ok(Outcome::AlreadyClaimed) => tracing::info!("message id already claimed; not sent again"),
            Ok(Outcome::NoRecipients) => tracing::info!("no recipients; nothing sent"),
            Ok(Outcome::NoEmail) => tracing::info!("no email for this message; acknowledged"),
            Ok(Outcome::Suppressed) => tracing::info!("the recipient is suppressed (bounce or complaint); not sent"),
            Ok(Outcome::Uncertain) => tracing::info!("SES did not answer; acknowledged without resending"),
            Err(Failure::Send(err)) => tracing::error!(error = %ErrorChain(err), "email not sent; will retry"),
            Err(err) => tracing::error!(error = %ErrorChain(err), "message rejected; will retry, then go to the DLQ"),
        }
        result
    }

    async fn process_body(&self, body: &str) -> Result<Outcome, Failure> {
        let span = tracing::Span::current();
        let envelope: Envelope<serde_json::Value> = match serde_json::from_str(body) {
            Ok(envelope) => envelope,
            Err(err) => {
                // Name what can be named: the type and id, if the body has them.
                let peek = serde_json::from_str::<serde_json::Value>(body).ok();
                let field = |name: &str| peek.as_ref().and_then(|v| v.get(name)).and_then(|v| v.as_str()).map(truncate);
                if let Some(kind) = field("type") {
                    span.record("kind", kind);
                }
                if let Some(id) = field("id") {
                    span.record("message_id", id);
                }
                return Err(Failure::Malformed { category: err.classify(), line: err.line(), column: err.column() });
            }
        };
        let message_id = envelope.id.to_string();
        span.record("message_id", message_id.as_str());
        span.record("kind", truncate(&envelope.kind));

        match envelope.kind.as_str() {
            StockLow::KIND => return self.stock_low(&message_id, envelope.data).await,
            // The confirmation goes out once, on `OrderConfirmed` (cod orders publish both).
            OrderPlaced::KIND => return Ok(Outcome::NoEmail),
            OrderConfirmed::KIND => return self.order_email(&message_id, envelope.data, order_templates::order_confirmation).await,
            OrderShipped::KIND => return self.order_email(&message_id, envelope.data, order_templates::order_shipped).await,
            OrderDelivered::KIND => return self.order_email(&message_id, envelope.data, order_templates::order_delivered).await,
            OrderCancelled::KIND => return self.order_cancelled(&message_id, envelope.data).await,
            // Payments' `PaymentRefunded` tells the customer about the refund.
            OrderRefunded::KIND => return Ok(Outcome::NoEmail),
            PaymentRefunded::KIND => {
                return self.order_email(&message_id, envelope.data, payment_templates::payment_refunded).await;
            }
            PaymentDisputed::KIND => return self.payment_disputed(&message_id, envelope.data).await,
            _ => {}
        }
        let email = templates::render(&envelope.kind, envelope.data, &self.links)?;
        self.claim_and_send(&message_id, &envelope.kind, &email).await
    }

    /// The email about an order or payment event, to the order's user (when accounts knows them
    /// as active), claimed under the message id.
    async fn order_email<E: Event + ForOrderUser>(
        &self,
        message_id: &str,
        data: serde_json::Value,
        template: fn(&E, &Recipient, &templates::Links) -> Email,
    ) -> Result<Outcome, Failure> {
        let event: E = templates::parse(data)?;
        self.email_order_user(message_id, &event, template).await
    }

    /// [`Self::order_email`] for an event already parsed.
    async fn email_order_user<E: Event + ForOrderUser>(
        &self,
        message_id: &str,
        event: &E,
        template: fn(&E, &Recipient, &templates::Links) -> Email,
    ) -> Result<Outcome, Failure> {
        tracing::Span::current().record("order_id", tracing::field::display(event.order_id()));
        let Some(to) = self.contact(event.user_id()).await? else {
            tracing::info!("the order's user has no active account; no email");
            return Ok(Outcome::NoRecipients);
        };
        let email = template(event, &to, &self.links);
        self.claim_and_send(message_id, E::KIND, &email).await
    }

    /// The cancellation email, except for a paid card order: payments refunds it and its
    /// `PaymentRefunded` (reason `order_cancelled`) sends the cancellation with the amount.
    async fn order_cancelled(&self, message_id: &str, data: serde_json::Value) -> Result<Outcome, Failure> {
        let event: OrderCancelled = templates::parse(data)?;
        if order_templates::refunded_by_payments(&event) {
            tracing::Span::current().record("order_id", tracing::field::display(event.order.order_id));
            tracing::info!(
                previous_status = %event.previous_status,
                "a paid card order: the cancellation email goes out with payments' refund (PaymentRefunded), not now"
            );
            return Ok(Outcome::NoEmail);
        }
        self.email_order_user(message_id, &event, order_templates::order_cancelled).await
    }

    /// A user's contact; `None` when accounts does not know them as active (404).
    async fn contact(&self, user_id: Uuid) -> Result<Option<Recipient>, Failure> {
        let path = format!("/internal/users/{user_id}/contact");
        // Boxed: the internal client's future nested in the batch's futures otherwise exceeds
        // rustc's default query depth when laying them out.
        match Box::pin(self.accounts.get::<Recipient>(&path)).await {
            Ok(contact) => Ok(Some(contact)),
            Err(err) if err.status().map(|s| s.as_u16()) == Some(404) => Ok(None),
            Err(err) => Err(Failure::Recipients(err)),
        }
    }

    /// One email per recipient of a low-stock event: the seller (when named and active) and
    /// every active admin (see [`Self::email_each`]).
    async fn stock_low(&self, message_id: &str, data: serde_json::Value) -> Result<Outcome, Failure> {
        let event: StockLow = templates::parse(data)?;
        let recipients = self.stock_low_recipients(&event).await?;
        self.email_each(message_id, &event, &recipients, templates::stock_low).await
    }

    /// One email to every active admin about a disputed payment (see [`Self::email_each`]).
    async fn payment_disputed(&self, message_id: &str, data: serde_json::Value) -> Result<Outcome, Failure> {
        let event: PaymentDisputed = templates::parse(data)?;
        tracing::Span::current().record("order_id", tracing::field::display(event.order_id));
        let admins = self.admins().await?;
        self.email_each(message_id, &event, &admins, payment_templates::payment_disputed).await
    }

    /// One email per recipient, each claimed under `<message id>#<user id>`. Every recipient is
    /// tried; the first failure (after all were tried) fails the record.
    async fn email_each<E: Event>(
        &self,
        message_id: &str,
        event: &E,
        recipients: &[Recipient],
        template: fn(&E, &Recipient, &templates::Links) -> Email,
    ) -> Result<Outcome, Failure> {
        tracing::info!(recipients = recipients.len(), "recipients");
        if recipients.is_empty() {
            return Ok(Outcome::NoRecipients);
        }
        let mut outcome = Outcome::AlreadyClaimed;
        let mut failure = None;
        for to in recipients {
            let email = template(event, to, &self.links);
            match self.claim_and_send(&format!("{message_id}#{}", to.user_id), E::KIND, &email).await {
                Ok(Outcome::Sent) => outcome = Outcome::Sent,
                Ok(_) => {}
                Err(err) => {
                    tracing::error!(error = %ErrorChain(&err), "email to one recipient not sent; will retry");
                    failure.get_or_insert(err);
                }
            }
        }
        match failure {
            Some(err) => Err(err),
            None => Ok(outcome),
        }
    }

    /// The seller's contact (skipped when accounts does not know them as active: 404) and the
    /// active admins, each user once.
    async fn stock_low_recipients(&self, event: &StockLow) -> Result<Vec<Recipient>, Failure> {
        let mut recipients: Vec<Recipient> = Vec::new();
        if let Some(seller) = event.seller_id {
            match self.contact(seller).await? {
                Some(contact) => recipients.push(contact),
                None => tracing::info!("the seller has no active account; only admins are told"),
            }
        }
        for admin in self.admins().await? {
            if !recipients.iter().any(|r| r.user_id == admin.user_id) {
                recipients.push(admin);
            }
        }
        Ok(recipients)
    }

    /// The active admins (accounts' `GET /internal/users/admins`).
    async fn admins(&self) -> Result<Vec<Recipient>, Failure> {
        // Boxed like `contact`'s call (rustc's query depth).
        let admins: Recipients = Box::pin(self.accounts.get("/internal/users/admins")).await.map_err(Failure::Recipients)?;
        Ok(admins.items)
    }

    /// Claims `message_id`, sends, and marks the claim sent (or releases it when the send failed).
    async fn claim_and_send(&self, message_id: &str, kind: &str, email: &Email) -> Result<Outcome, Failure> {
        if self.suppressions.is_suppressed(&email.to).await.map_err(Failure::Suppression)? {
            shop_core::metrics::count("notifications", "EmailSuppressed");
            return Ok(Outcome::Suppressed);
        }
        match self.store.claim(message_id, kind).await.map_err(Failure::Claim)? {
            Claim::AlreadyClaimed => return Ok(Outcome::AlreadyClaimed),
            Claim::Claimed => {}
        }

        match self.mailer.send(email).await {
            Ok(ses_message_id) => {
                if let Err(err) = self.store.mark_sent(message_id, &ses_message_id).await {
                    // The email is out and the claim still blocks a resend: acknowledge.
                    tracing::warn!(error = %ErrorChain(&err), "sent, but the claim could not be marked sent");
                }
                Ok(Outcome::Sent)
            }
            Err(err) if err.may_have_been_sent() => {
                // Sent or not, nobody can tell: the claim stays, so the email goes out at most
                // once (the retry finds the claim and sends nothing).
                tracing::warn!(error = %ErrorChain(&err), "SES did not answer; the email may have been sent, so it is not sent again");
                shop_core::metrics::count("notifications", "EmailUncertain");
                Ok(Outcome::Uncertain)
            }
            Err(err) => {
                if let Err(release) = self.store.release(message_id).await {
                    tracing::error!(
                        error = %ErrorChain(&release),
                        "could not release the claim; the retry will skip this message and it is lost"
                    );
                }
                Err(Failure::Send(err))
            }
        }
    }
}

fn truncate(value: &str) -> &str {
    match value.char_indices().nth(MAX_LOGGED_KIND) {
        Some((at, _)) => &value[..at],
        None => value,
    }
}
