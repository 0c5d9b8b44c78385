//! Mail suppression: SES bounce and complaint feedback stops further mail to an address.
//!
//! Every email is sent with the SES configuration set (`SES_CONFIGURATION_SET`), whose event
//! destination publishes bounces and complaints to `MailFeedbackTopic` → `MailFeedbackQueue` →
//! the `mail-feedback` binary ([`FeedbackHandler`]). A **permanent** bounce or a complaint
//! suppresses each address it names: one item per address in the notifications table,
//!
//! | pk | attributes |
//! |---|---|
//! | `SUPPRESSED#<lower-cased address>` | `reason` (`bounce` / `complaint`), `suppressedAt`, `feedbackId`, `detail` (bounce subtype or complaint type) |
//!
//! (no TTL: a suppression lasts until an operator deletes it). Transient and undetermined
//! bounces are logged only. The sender asks [`SuppressionStore::is_suppressed`] before each
//! email and skips a suppressed address (counted as `EmailSuppressed`).
//!
//! Both of SES's formats are read: *event publishing* (`{"eventType": "Bounce", ...}`, what a
//! configuration set sends) and the older identity *notifications* (`{"notificationType":
//! "Bounce", ...}`), each either as the SQS body itself (raw delivery) or inside an SNS
//! envelope's `Message`.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Deserialize, Serialize};
use shop_aws::dynamo::{StoreError, rfc3339, to_item};
use shop_core::problem::ErrorChain;
use time::OffsetDateTime;

/// Why an address is suppressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Reason {
    Bounce,
    Complaint,
}

/// One address to suppress, read from a feedback notice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suppression {
    /// Lower-cased.
    pub email: String,
    pub reason: Reason,
    /// SES's feedback id of the bounce or complaint.
    pub feedback_id: String,
    /// The bounce's subtype (`General`, `NoEmail`, ...) or the complaint's feedback type.
    pub detail: String,
}

/// What one feedback notice means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Feedback {
    /// Permanent bounces and complaints: these addresses get no more mail.
    Suppress(Vec<Suppression>),
    /// A transient or undetermined bounce (logged; mail continues), or another event type
    /// (delivery, send, ...) the destination was not meant to send.
    Ignore(String),
}

/// The notice is not SES feedback we can read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("not an SES feedback notice: {0}")]
pub struct Malformed(pub String);

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Notice {
    event_type: Option<String>,
    notification_type: Option<String>,
    bounce: Option<Bounce>,
    complaint: Option<Complaint>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Bounce {
    bounce_type: String,
    #[serde(default)]
    bounce_sub_type: String,
    bounced_recipients: Vec<Recipient>,
    #[serde(default)]
    feedback_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Complaint {
    complained_recipients: Vec<Recipient>,
    #[serde(default)]
    feedback_id: String,
    #[serde(default)]
    complaint_feedback_type: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Recipient {
    email_address: String,
}

/// Reads one SQS body: the SES notice itself, or an SNS envelope carrying it in `Message`.
pub fn parse(body: &str) -> Result<Feedback, Malformed> {
    let value: serde_json::Value = serde_json::from_str(body).map_err(|e| Malformed(format!("not JSON ({:?})", e.classify())))?;
    let value = match value.get("Message").and_then(|m| m.as_str()) {
        Some(inner) if value.get("Type").is_some() => {
            serde_json::from_str(inner).map_err(|e| Malformed(format!("the SNS Message is not JSON ({:?})", e.classify())))?
        }
        _ => value,
    };
    let notice: Notice = serde_json::from_value(value).map_err(|e| Malformed(e.to_string()))?;
    let kind = notice.event_type.or(notice.notification_type).ok_or_else(|| Malformed("no eventType or notificationType".into()))?;
    match kind.as_str() {
        "Bounce" => {
            let bounce = notice.bounce.ok_or_else(|| Malformed("a Bounce without `bounce`".into()))?;
            if bounce.bounce_type != "Permanent" {
                return Ok(Feedback::Ignore(format!("{} bounce ({})", bounce.bounce_type, bounce.bounce_sub_type)));
            }
            Ok(Feedback::Suppress(
                bounce
                    .bounced_recipients
                    .into_iter()
                    .map(|r| Suppression {
                        email: normalise(&r.email_address),
                        reason: Reason::Bounce,
                        feedback_id: bounce.feedback_id.clone(),
                        detail: bounce.bounce_sub_type.clone(),
                    })
                    .collect(),
            ))
        }
        "Complaint" => {
            let complaint = notice.complaint.ok_or_else(|| Malformed("a Complaint without `complaint`".into()))?;
            let detail = complaint.complaint_feedback_type.unwrap_or_default();
            Ok(Feedback::Suppress(
                complaint
                    .complained_recipients
                    .into_iter()
                    .map(|r| Suppression {
                        email: normalise(&r.email_address),
                        reason: Reason::Complaint,
                        feedback_id: complaint.feedback_id.clone(),
                        detail: detail.clone(),
                    })
                    .collect(),
            ))
        }
        other => Ok(Feedback::Ignore(format!("{} event", other.chars().take(32).collect::<String>()))),
    }
}

/// An address as suppressions are keyed: trimmed, lower-cased; a display-name form
/// (`Ada <ada@example.com>`) is reduced to the address.
pub fn normalise(address: &str) -> String {
    let address = match (address.rfind('<'), address.rfind('>')) {
        (Some(start), Some(end)) if start < end => &address[start + 1..end],
        _ => address,
    };
    address.trim().to_lowercase()
}

pub fn suppressed_pk(email: &str) -> String {
    format!("SUPPRESSED#{}", normalise(email))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Item<'a> {
    pk: String,
    reason: Reason,
    suppressed_at: String,
    feedback_id: &'a str,
    detail: &'a str,
}

/// Suppressed addresses in the notifications table.
#[derive(Debug, Clone)]
pub struct SuppressionStore {
    client: Client,
    table: String,
}

impl SuppressionStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }

    /// Records a suppression (a later notice for the same address replaces it).
    #[tracing::instrument(skip_all, fields(reason = ?suppression.reason))]
    pub async fn suppress(&self, suppression: &Suppression) -> Result<(), StoreError> {
        let item = Item {
            pk: suppressed_pk(&suppression.email),
            reason: suppression.reason,
            suppressed_at: rfc3339(OffsetDateTime::now_utc()),
            feedback_id: &suppression.feedback_id,
            detail: &suppression.detail,
        };
        self.client.put_item().table_name(&self.table).set_item(Some(to_item(&item)?)).send().await?;
        Ok(())
    }

    /// Whether mail to `email` is suppressed.
    #[tracing::instrument(skip_all)]
    pub async fn is_suppressed(&self, email: &str) -> Result<bool, StoreError> {
        let found = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(suppressed_pk(email)))
            .projection_expression("pk")
            .send()
            .await?;
        Ok(found.item.is_some())
    }
}

/// The `mail-feedback` consumer: suppresses the addresses of permanent bounces and complaints.
#[derive(Debug, Clone)]
pub struct FeedbackHandler {
    store: SuppressionStore,
}

impl FeedbackHandler {
    pub fn new(store: SuppressionStore) -> Self {
        Self { store }
    }

    /// Handles a batch: a notice that cannot be read is logged and acknowledged (retrying it
    /// would not make it readable); a suppression that could not be stored is retried.
    pub async fn handle(&self, event: SqsEvent) -> SqsBatchResponse {
        let mut response = SqsBatchResponse::default();
        for record in &event.records {
            let id = record.message_id.clone().unwrap_or_default();
            match parse(record.body.as_deref().unwrap_or_default()) {
                Err(malformed) => tracing::warn!(sqs_message_id = %id, error = %malformed, "feedback notice skipped"),
                Ok(Feedback::Ignore(what)) => tracing::info!(sqs_message_id = %id, what, "feedback does not suppress"),
                Ok(Feedback::Suppress(suppressions)) => {
                    for suppression in &suppressions {
                        if let Err(err) = self.store.suppress(suppression).await {
                            tracing::error!(sqs_message_id = %id, error = %ErrorChain(&err), "suppression not stored; will retry");
                            response.add_failure(id.clone());
                            break;
                        }
                        // The address itself is personal data: only its reason is logged.
                        tracing::info!(sqs_message_id = %id, reason = ?suppression.reason, "address suppressed");
                        shop_core::metrics::count("notifications", "EmailAddressSuppressed");
                    }
                }
            }
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PERMANENT: &str = r#"{"eventType":"Bounce","bounce":{"feedbackId":"0100-fb","bounceType":"Permanent","bounceSubType":"General","bouncedRecipients":[{"emailAddress":"Ada@Example.com","action":"failed","status":"5.1.1"}],"timestamp":"2026-12-06T03:00:00.000Z"},"mail":{"timestamp":"2026-12-06T02:59:59.000Z","source":"noreply@skyshop.example.com","messageId":"0100-m","destination":["Ada@Example.com"]}}"#;

    #[test]
    fn a_permanent_bounce_suppresses_each_recipient_lower_cased() {
        let Feedback::Suppress(s) = parse(PERMANENT).unwrap() else { panic!("suppresses") };
        assert_eq!(
            s,
            [Suppression {
                email: "ada@example.com".into(),
                reason: Reason::Bounce,
                feedback_id: "0100-fb".into(),
                detail: "General".into()
            }]
        );
    }

    #[test]
    fn the_sns_envelope_and_the_notification_format_are_read_too() {
        let envelope =
            serde_json::json!({"Type": "Notification", "MessageId": "m", "TopicArn": "arn:aws:sns:x", "Message": PERMANENT}).to_string();
        assert!(matches!(parse(&envelope).unwrap(), Feedback::Suppress(s) if s.len() == 1));
        let old = PERMANENT.replace("eventType", "notificationType");
        assert!(matches!(parse(&old).unwrap(), Feedback::Suppress(s) if s[0].email == "ada@example.com"));
        let complaint = r#"{"notificationType":"Complaint","complaint":{"feedbackId":"c1","complaintFeedbackType":"abuse","complainedRecipients":[{"emailAddress":"b@example.com"}]},"mail":{}}"#;
        assert!(matches!(parse(complaint).unwrap(), Feedback::Suppress(s) if s[0].reason == Reason::Complaint && s[0].detail == "abuse"));
    }

    #[test]
    fn transient_bounces_and_other_events_do_not_suppress_and_garbage_is_malformed() {
        let transient = PERMANENT.replace("Permanent", "Transient");
        assert!(matches!(parse(&transient).unwrap(), Feedback::Ignore(w) if w.starts_with("Transient")));
        assert!(matches!(parse(r#"{"eventType":"Delivery","mail":{}}"#).unwrap(), Feedback::Ignore(_)));
        assert!(parse("not json").is_err());
        assert!(parse(r#"{"eventType":"Bounce"}"#).is_err());
        assert!(parse(r#"{"hello":1}"#).is_err());
        assert!(parse(r#"{"Type":"Notification","Message":"{broken"}"#).is_err());
    }

    #[test]
    fn addresses_are_normalised() {
        assert_eq!(normalise(" Ada Lovelace <ADA@Example.COM> "), "ada@example.com");
        assert_eq!(suppressed_pk("X@Y.z"), "SUPPRESSED#x@y.z");
    }
}
