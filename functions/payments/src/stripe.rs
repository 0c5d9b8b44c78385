//! Stripe through async-stripe: PaymentIntents and refunds, each create with an
//! `Idempotency-Key` we derive (one intent per order attempt, one Stripe refund per refund row).
//!
//! async-stripe builds the requests (`RequestBuilder`: paths, form encoding, idempotency
//! strategy) and reads the answers into the small types below, which name only the fields we
//! use: a field Stripe adds, or one a stand-in leaves out, never breaks a payment. The transport
//! is ours ([`Transport`], async-stripe's `StripeClient` trait over hyper + rustls, the stack the
//! AWS SDK links): async-stripe's own client reads every error answer into its complete
//! generated types (an error can carry a whole PaymentIntent, PaymentMethod, SetupIntent or
//! source), some 4 MB of code in each payments binary for the four fields we read
//! ([`ApiError`]). The API base is configuration (`STRIPE_API_BASE`: localstripe locally,
//! Stripe's own in AWS).

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use serde::Serialize;
use stripe::{IdempotencyKey, RequestStrategy};
use stripe_client_core::{CustomizedStripeRequest, RequestBuilder, StripeClient, StripeClientErr, StripeMethod};

/// Each attempt of a Stripe call gives up after this (the function's timeout is 10 s).
const CALL_TIMEOUT: Duration = Duration::from_secs(4);

/// A card error or decline as Stripe reports it on an intent.
#[derive(Debug, Clone, PartialEq, Eq, miniserde::Deserialize, serde::Deserialize)]
pub struct PaymentError {
    pub code: Option<String>,
    pub decline_code: Option<String>,
    pub message: Option<String>,
}

impl PaymentError {
    /// The most specific code: the decline code (`insufficient_funds`) over the error code.
    pub fn best_code(&self) -> Option<&str> {
        self.decline_code.as_deref().or(self.code.as_deref())
    }
}

/// A PaymentIntent: the fields we read.
#[derive(Debug, Clone, PartialEq, Eq, miniserde::Deserialize, serde::Deserialize)]
pub struct Intent {
    pub id: String,
    /// `requires_payment_method`, `requires_confirmation`, `requires_action`, `processing`,
    /// `requires_capture`, `succeeded` or `canceled`.
    pub status: String,
    pub amount: i64,
    pub amount_received: Option<i64>,
    pub currency: String,
    pub client_secret: Option<String>,
    pub last_payment_error: Option<PaymentError>,
    pub metadata: Option<BTreeMap<String, String>>,
}

impl Intent {
    /// Whether the customer can still pay this intent (else a new attempt is needed).
    pub fn usable(&self) -> bool {
        !matches!(self.status.as_str(), "canceled")
    }

    /// What Stripe says was received (`amount_received`, or the amount once succeeded).
    pub fn received(&self) -> i64 {
        match self.amount_received {
            Some(received) if received > 0 => received,
            _ if self.status == "succeeded" => self.amount,
            _ => 0,
        }
    }
}

/// A refund: the fields we read.
#[derive(Debug, Clone, PartialEq, Eq, miniserde::Deserialize, serde::Deserialize)]
pub struct Refund {
    pub id: String,
    pub amount: i64,
    /// `pending`, `succeeded`, `failed`, `canceled` (absent on some stand-ins: succeeded).
    pub status: Option<String>,
    pub payment_intent: Option<String>,
    pub metadata: Option<BTreeMap<String, String>>,
}

impl Refund {
    pub fn failed(&self) -> bool {
        matches!(self.status.as_deref(), Some("failed" | "canceled"))
    }

    /// Our refund id, when the refund was made by us.
    pub fn our_id(&self) -> Option<uuid::Uuid> {
        self.metadata.as_ref()?.get("refundId")?.parse().ok()
    }
}

#[derive(Debug, miniserde::Deserialize)]
struct List<T> {
    data: Vec<T>,
}

/// Why a Stripe call did not give an answer.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// Stripe answered with an error of the request itself (4xx): a decline, an invalid request.
    #[error("Stripe refused the request ({status}): {message}")]
    Refused { status: u16, code: Option<String>, decline_code: Option<String>, message: String },
    /// Stripe could not be reached, timed out, answered 5xx or 429, or something unreadable: the
    /// call may or may not have happened (retry with the same idempotency key).
    #[error("Stripe is unavailable: {0}")]
    Unavailable(String),
}

/// The body of a Stripe error answer: the fields we read.
#[derive(Debug, serde::Deserialize)]
struct ApiError {
    error: ApiErrorDetail,
}

#[derive(Debug, serde::Deserialize)]
struct ApiErrorDetail {
    code: Option<String>,
    decline_code: Option<String>,
    message: Option<String>,
}

impl Failure {
    /// The failure an error answer means: a request error (4xx but 409 and 429) is refused with
    /// Stripe's codes; anything else may succeed when retried with the same key.
    fn from_answer(status: u16, body: &[u8]) -> Self {
        let detail = serde_json::from_slice::<ApiError>(body).ok().map(|e| e.error);
        if (400..500).contains(&status) && status != 429 && status != 409 {
            let (code, decline_code, message) = match detail {
                Some(d) => (d.code, d.decline_code, d.message.unwrap_or_else(|| "refused".into())),
                None => (None, None, "refused".into()),
            };
            return Failure::Refused { status, code, decline_code, message };
        }
        let message = detail.and_then(|d| d.message).unwrap_or_default();
        Failure::Unavailable(format!("Stripe answered {status} {message}").trim_end().to_owned())
    }
}

impl StripeClientErr for Failure {
    fn deserialize_err(msg: impl std::fmt::Display) -> Self {
        Failure::Unavailable(format!("unreadable answer: {msg}"))
    }
}

/// The HTTP side of the Stripe client: one attempt per call ([`CALL_TIMEOUT`]), the secret key as
/// bearer token, async-stripe's `Stripe-Version`, and the `Idempotency-Key` of the request's
/// strategy. Retries are the caller's, with the same key.
#[derive(Clone)]
pub struct Transport {
    http: shop_aws::signed::HttpsClient,
    /// `https://api.stripe.com/` or the stand-in's, ending in `/`.
    api_base: String,
    authorization: http::HeaderValue,
    /// The API version async-stripe's types are generated for.
    version: http::HeaderValue,
}

impl Transport {
    fn new(secret_key: &str, api_base: &str) -> Result<Self, Failure> {
        let mut authorization = http::HeaderValue::from_str(&format!("Bearer {secret_key}"))
            .map_err(|_| Failure::Unavailable("the secret key is not a header value".into()))?;
        authorization.set_sensitive(true);
        let http = shop_aws::signed::https_client().map_err(|e| Failure::Unavailable(format!("TLS roots: {e}")))?;
        let api_base = if api_base.ends_with('/') { api_base.to_owned() } else { format!("{api_base}/") };
        let version = http::HeaderValue::from_str(stripe_shared::version::VERSION.as_str())
            .map_err(|_| Failure::Unavailable("the Stripe version is not a header value".into()))?;
        Ok(Self { http, api_base, authorization, version })
    }

    fn request(&self, request: RequestBuilder, key: Option<&str>) -> Result<http::Request<Full<Bytes>>, Failure> {
        let method = match request.method {
            StripeMethod::Get => http::Method::GET,
            StripeMethod::Post => http::Method::POST,
            StripeMethod::Delete => http::Method::DELETE,
        };
        let mut uri = format!("{}v1{}", self.api_base, request.path);
        if let Some(query) = &request.query {
            uri.push('?');
            uri.push_str(query);
        }
        let mut builder = http::Request::builder()
            .method(method)
            .uri(uri)
            .header(http::header::AUTHORIZATION, self.authorization.clone())
            .header(http::header::USER_AGENT, "Skyshop (async-stripe)")
            .header("stripe-version", self.version.clone());
        if let Some(key) = key {
            builder = builder.header("idempotency-key", key);
        }
        let body = match request.body {
            Some(body) => {
                builder = builder.header(http::header::CONTENT_TYPE, "application/x-www-form-urlencoded");
                Bytes::from(body)
            }
            None => Bytes::new(),
        };
        builder.body(Full::new(body)).map_err(|e| Failure::Unavailable(e.to_string()))
    }
}

impl StripeClient for Transport {
    type Err = Failure;

    async fn execute(&self, request: CustomizedStripeRequest) -> Result<Bytes, Failure> {
        let (request, config) = request.into_pieces();
        let key = config.request_strategy.as_ref().and_then(RequestStrategy::get_key);
        let request = self.request(request, key.as_ref().map(IdempotencyKey::as_str))?;
        let (status, body) = shop_aws::signed::exchange(&self.http, request, CALL_TIMEOUT, shop_aws::signed::Traced::Remote)
            .await
            .map_err(|e| Failure::Unavailable(e.to_string()))?;
        if status.is_success() { Ok(body) } else { Err(Failure::from_answer(status.as_u16(), &body)) }
    }
}

/// Consecutive unavailable answers that open the circuit to Stripe, and how long it then stays
/// open: while Stripe is down each request fails at once (503) instead of waiting
/// [`CALL_TIMEOUT`] on it.
const BREAKER_THRESHOLD: u32 = 5;
const BREAKER_COOLDOWN: Duration = Duration::from_secs(5);

/// The Stripe API.
#[derive(Clone)]
pub struct Stripe {
    client: Transport,
    breaker: std::sync::Arc<shop_internal::CircuitBreaker>,
}

impl std::fmt::Debug for Stripe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Stripe { .. }")
    }
}

#[derive(Debug, Serialize)]
struct NewIntent<'a> {
    amount: i64,
    currency: &'a str,
    metadata: &'a BTreeMap<&'static str, String>,
}

#[derive(Debug, Serialize)]
struct NewRefund<'a> {
    payment_intent: &'a str,
    amount: i64,
    metadata: &'a BTreeMap<&'static str, String>,
}

#[derive(Debug, Serialize)]
struct RefundsOf<'a> {
    payment_intent: &'a str,
    limit: u32,
}

impl Stripe {
    /// A client with the secret key, pointed at `api_base` when given (a URL ending in `/`).
    pub fn new(secret_key: &str, api_base: Option<&str>) -> Result<Self, Failure> {
        let client = Transport::new(secret_key, api_base.unwrap_or("https://api.stripe.com/"))?;
        let breaker = shop_internal::CircuitBreaker::named("payments->stripe", BREAKER_THRESHOLD, BREAKER_COOLDOWN);
        Ok(Self { client, breaker: std::sync::Arc::new(breaker) })
    }

    async fn send<T: miniserde::Deserialize>(&self, request: RequestBuilder, key: Option<&str>) -> Result<T, Failure> {
        let mut request = request.customize::<T>().request_strategy(RequestStrategy::Once);
        if let Some(key) = key {
            let key = IdempotencyKey::new(key).map_err(|e| Failure::Unavailable(e.to_string()))?;
            request = request.request_strategy(RequestStrategy::Idempotent(key));
        }
        if !self.breaker.allow() {
            return Err(Failure::Unavailable("circuit open after repeated failures".into()));
        }
        let result = request.send(&self.client).await;
        match &result {
            Err(Failure::Unavailable(_)) => self.breaker.record_failure(),
            _ => self.breaker.record_success(),
        }
        result
    }

    /// Creates the intent of an order attempt (`key` makes a repeat return the same intent).
    pub async fn create_intent(
        &self,
        amount: i64,
        currency: &str,
        metadata: &BTreeMap<&'static str, String>,
        key: &str,
    ) -> Result<Intent, Failure> {
        let request = RequestBuilder::new(StripeMethod::Post, "/payment_intents").form(&NewIntent { amount, currency, metadata });
        self.send(request, Some(key)).await
    }

    pub async fn retrieve_intent(&self, id: &str) -> Result<Intent, Failure> {
        self.send(RequestBuilder::new(StripeMethod::Get, format!("/payment_intents/{id}")), None).await
    }

    /// Cancels an intent nobody may pay any more (its order was cancelled before payment).
    pub async fn cancel_intent(&self, id: &str) -> Result<Intent, Failure> {
        let request = RequestBuilder::new(StripeMethod::Post, format!("/payment_intents/{id}/cancel"));
        self.send(request, Some(&format!("cancel-{id}"))).await
    }

    /// Refunds `amount` of an intent; `key` is the refund row's own, so a retry never refunds twice.
    pub async fn create_refund(
        &self,
        intent: &str,
        amount: i64,
        metadata: &BTreeMap<&'static str, String>,
        key: &str,
    ) -> Result<Refund, Failure> {
        let request = RequestBuilder::new(StripeMethod::Post, "/refunds").form(&NewRefund { payment_intent: intent, amount, metadata });
        self.send(request, Some(key)).await
    }

    /// Every refund of an intent (the dashboard's included), newest first.
    pub async fn refunds_of(&self, intent: &str) -> Result<Vec<Refund>, Failure> {
        let request = RequestBuilder::new(StripeMethod::Get, "/refunds").query(&RefundsOf { payment_intent: intent, limit: 100 });
        Ok(self.send::<List<Refund>>(request, None).await?.data)
    }
}
