//! Sending through SES v2: simple content with an HTML and a text part.

use aws_sdk_sesv2::Client;
use aws_sdk_sesv2::config::retry::RetryConfig;
use aws_sdk_sesv2::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sesv2::operation::send_email::SendEmailError;
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};

use crate::templates::{BRAND, Email};

/// Why SES did not accept a message. The display never carries the message's addresses or
/// content (SES error messages can quote recipients), only the error code.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// SES answered with an error (`MessageRejected`, `TooManyRequestsException`, ...).
    #[error("SES refused the message: {code}")]
    Refused { code: String },
    /// No answer: timeout, connection failure, unreadable response.
    #[error("SES request failed")]
    Transport(#[source] SdkError<SendEmailError>),
    #[error("could not build the SES request")]
    Build(#[from] aws_sdk_sesv2::error::BuildError),
}

impl SendError {
    /// True when the request may have reached SES: it timed out or its answer was lost. A
    /// request that could not be sent (connection refused) or that SES refused was not.
    pub fn may_have_been_sent(&self) -> bool {
        matches!(self, SendError::Transport(SdkError::TimeoutError(_) | SdkError::ResponseError(_)))
    }
}

impl From<SdkError<SendEmailError>> for SendError {
    fn from(err: SdkError<SendEmailError>) -> Self {
        match err {
            SdkError::ServiceError(service) => {
                let code = service.err().code().unwrap_or("Unknown").to_owned();
                SendError::Refused { code }
            }
            other => SendError::Transport(other),
        }
    }
}

/// SES v2 with a fixed sender.
#[derive(Debug, Clone)]
pub struct Mailer {
    client: Client,
    from: String,
    /// The SES configuration set every email is sent with (bounce and complaint feedback).
    configuration_set: Option<String>,
}

impl Mailer {
    /// `mail_from` is the verified identity (`noreply@example.com`); mail goes out as
    /// `Skyshop <noreply@example.com>` unless it already names a display name.
    pub fn new(client: Client, mail_from: impl Into<String>) -> Self {
        // One attempt per send, whatever client is given: an attempt that timed out may still be
        // delivered (SES, or a stand-in that was frozen, processes it later), and the SDK
        // resending it would mail the same email again. The SQS redelivery of a record that
        // failed before reaching SES is the retry.
        let client = Client::from_conf(client.config().to_builder().retry_config(RetryConfig::disabled()).build());
        let mail_from = mail_from.into();
        let from = if mail_from.contains('<') { mail_from } else { format!("{BRAND} <{}>", mail_from.trim()) };
        Self { client, from, configuration_set: None }
    }

    /// Sends with `configuration_set` (`None`: without one).
    pub fn with_configuration_set(mut self, configuration_set: Option<String>) -> Self {
        self.configuration_set = configuration_set.filter(|c| !c.trim().is_empty());
        self
    }

    pub fn from_address(&self) -> &str {
        &self.from
    }

    /// Sends one email; returns the SES message id.
    pub async fn send(&self, email: &Email) -> Result<String, SendError> {
        let sent = self.send_once(email).await;
        shop_core::metrics::count("notifications", if sent.is_ok() { "EmailSent" } else { "EmailFailed" });
        sent
    }

    async fn send_once(&self, email: &Email) -> Result<String, SendError> {
        let utf8 = |data: &str| Content::builder().data(data).charset("UTF-8").build();
        let message = Message::builder()
            .subject(utf8(&email.subject)?)
            .body(Body::builder().html(utf8(&email.html)?).text(utf8(&email.text)?).build())
            .build();
        let output = self
            .client
            .send_email()
            .from_email_address(&self.from)
            .destination(Destination::builder().to_addresses(&email.to).build())
            .content(EmailContent::builder().simple(message).build())
            .set_configuration_set_name(self.configuration_set.clone())
            .send()
            .await?;
        Ok(output.message_id().unwrap_or_default().to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_request_that_may_have_reached_ses_counts_as_maybe_sent() {
        let timeout = SendError::from(SdkError::<SendEmailError>::timeout_error("attempt timed out"));
        assert!(timeout.may_have_been_sent(), "a timeout: SES may have the request");
        let unsent = SendError::from(SdkError::<SendEmailError>::construction_failure("bad request"));
        assert!(!unsent.may_have_been_sent(), "never sent");
        assert!(!SendError::Refused { code: "MessageRejected".into() }.may_have_been_sent(), "SES answered no");
    }
}
