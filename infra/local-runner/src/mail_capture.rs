//! The text part of every email the notifications function sends, kept by the runner.
//!
//! moto's SES keeps one body per `Simple` message (the HTML part when there is one), so
//! `GET /_local/mail` could not show the text part. The runner builds the notifications
//! function's SES client with [`CaptureText`], an SDK interceptor that reads the text part from
//! the outgoing `SendEmail` request and files it under the message id SES (moto) answered with.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use aws_sdk_sesv2::operation::send_email::{SendEmailInput, SendEmailOutput};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{BeforeSerializationInterceptorContextRef, FinalizerInterceptorContextRef};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};

/// Text parts by SES message id.
#[derive(Debug, Clone, Default)]
pub struct SentTexts(Arc<Mutex<HashMap<String, String>>>);

impl SentTexts {
    /// The texts of this process (one local cloud per process).
    pub fn global() -> &'static SentTexts {
        static TEXTS: OnceLock<SentTexts> = OnceLock::new();
        TEXTS.get_or_init(SentTexts::default)
    }

    pub fn get(&self, message_id: &str) -> Option<String> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(message_id).cloned()
    }

    fn insert(&self, message_id: &str, text: String) {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(message_id.to_owned(), text);
    }
}

/// The text part of the request in flight.
#[derive(Debug)]
struct Captured(String);

impl Storable for Captured {
    type Storer = StoreReplace<Self>;
}

/// SDK interceptor for an SES v2 client: files each sent email's text part in [`SentTexts`].
#[derive(Debug, Clone)]
pub struct CaptureText(pub SentTexts);

impl Intercept for CaptureText {
    fn name(&self) -> &'static str {
        "CaptureText"
    }

    fn read_before_execution(&self, context: &BeforeSerializationInterceptorContextRef<'_>, cfg: &mut ConfigBag) -> Result<(), BoxError> {
        let text = context
            .input()
            .downcast_ref::<SendEmailInput>()
            .and_then(|input| input.content())
            .and_then(|content| content.simple())
            .and_then(|message| message.body())
            .and_then(|body| body.text())
            .map(|text| text.data().to_owned());
        if let Some(text) = text {
            cfg.interceptor_state().store_put(Captured(text));
        }
        Ok(())
    }

    fn read_after_execution(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let id = context
            .output_or_error()
            .and_then(Result::ok)
            .and_then(|output| output.downcast_ref::<SendEmailOutput>())
            .and_then(|output| output.message_id().map(str::to_owned));
        if let (Some(id), Some(Captured(text))) = (id, cfg.load::<Captured>()) {
            self.0.insert(&id, text.clone());
        }
        Ok(())
    }
}
