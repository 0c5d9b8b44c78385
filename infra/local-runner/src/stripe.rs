//! Stripe locally: localstripe (`$STRIPE_API_BASE`, started by `scripts/lib/common.sh`) stands in
//! for api.stripe.com.
//!
//! The template creates the two Stripe secrets without a value (the operator puts Stripe's in
//! AWS). Locally, once they exist on moto, [`ensure_secrets`] gives the secret key
//! `sk_test_local` (localstripe takes any `sk_test_` key) and the webhook's signing secret a
//! generated `whsec_…`, when they have none; values already there are kept. Then
//! [`register_webhook`] points localstripe's webhook `skyshop<suffix>` at this runner's
//! `POST /api/payments/webhook` with that secret (`POST /_config/webhooks/{id}`, form fields
//! `url` and `secret`; no `events`: every type is sent, the function ignores the ones it does not
//! handle). Registering again under the same id replaces the endpoint, so a restart, or another
//! port, is idempotent; every local cloud (dev, each test's) registers its own id and port.
//! localstripe keeps registrations in memory and delivers every event to every registered
//! endpoint, signed with that endpoint's secret: a test cloud's endpoint also receives the
//! events of other clouds' intents, which its function acknowledges as `unknown_intent`.

use sam_model::local::BoxError;

/// The secret API key put into an empty `StripeSecretKeySecret`.
pub const LOCAL_SECRET_KEY: &str = "sk_test_local";

/// The logical ids of the template's Stripe secrets.
pub const SECRET_KEY_SECRET: &str = "StripeSecretKeySecret";
pub const WEBHOOK_SECRET: &str = "StripeWebhookSecret";

/// The webhook route (the template's `RoutePaymentsWebhook`).
pub const WEBHOOK_PATH: &str = "/api/payments/webhook";

/// This local cloud's webhook endpoint at localstripe.
#[derive(Debug, Clone)]
pub struct LocalWebhook {
    /// localstripe's base URL.
    pub api_base: String,
    /// The registration's id at localstripe (`skyshop<suffix>`).
    pub id: String,
    /// Where localstripe delivers.
    pub url: String,
    /// The signing secret (`whsec_…`), the value of `StripeWebhookSecret`.
    pub secret: String,
    /// Whether localstripe took the registration (false: it was not reachable).
    pub registered: bool,
}

/// `Stripe-Signature` for `payload` signed at `timestamp` (Unix seconds) with `secret`:
/// `t=<timestamp>,v1=<hex HMAC-SHA256 of "<timestamp>.<payload>">`, as Stripe (and localstripe)
/// sign deliveries.
pub fn signature(secret: &str, timestamp: i64, payload: &[u8]) -> String {
    payments::webhook::stripe_signature(secret, timestamp, payload)
}

/// The value of `secret_id`, or `None` when it has none yet (the template creates it empty).
async fn read(client: &aws_sdk_secretsmanager::Client, secret_id: &str) -> Result<Option<String>, BoxError> {
    match client.get_secret_value().secret_id(secret_id).send().await {
        Ok(current) => Ok(current.secret_string().map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned)),
        Err(e) if e.as_service_error().is_some_and(|s| s.is_resource_not_found_exception()) => {
            // "No value" and "no such secret" are the same error; only the latter fails here.
            client.describe_secret().secret_id(secret_id).send().await?;
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

/// The value of `secret_id`, putting `make()` first when it has none.
async fn ensure(client: &aws_sdk_secretsmanager::Client, secret_id: &str, make: impl FnOnce() -> String) -> Result<String, BoxError> {
    if let Some(value) = read(client, secret_id).await? {
        return Ok(value);
    }
    let value = make();
    client.put_secret_value().secret_id(secret_id).secret_string(&value).send().await?;
    Ok(value)
}

/// A new webhook signing secret: `whsec_` and 32 random hex digits.
pub fn generate_webhook_secret() -> String {
    format!("whsec_{}", uuid::Uuid::new_v4().simple())
}

/// Fills the two Stripe secrets when empty (see the module); answers the webhook secret.
pub async fn ensure_secrets(sdk: &aws_config::SdkConfig, secret_key_id: &str, webhook_secret_id: &str) -> Result<String, BoxError> {
    let client = aws_sdk_secretsmanager::Client::new(sdk);
    ensure(&client, secret_key_id, || LOCAL_SECRET_KEY.to_owned()).await?;
    ensure(&client, webhook_secret_id, generate_webhook_secret).await
}

/// The registration id of the local cloud with `suffix`: `skyshop` for dev, `skyshop-<suffix>`
/// for the others (letters, digits, `-` and `_` only: it is a URL path segment).
pub fn webhook_id(suffix: &str) -> String {
    let clean: String = suffix.chars().filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_')).collect();
    match clean.trim_start_matches(['-', '_']) {
        "" => "skyshop".to_owned(),
        rest => format!("skyshop-{rest}"),
    }
}

/// Registers (or replaces) the webhook `id` at localstripe: deliveries to
/// `http://127.0.0.1:<port>/api/payments/webhook`, signed with `secret`. localstripe not
/// answering is logged, not fatal: everything but card payments works without it.
pub async fn register_webhook(api_base: &str, id: &str, port: u16, secret: &str) -> LocalWebhook {
    let url = format!("http://127.0.0.1:{port}{WEBHOOK_PATH}");
    let endpoint = format!("{}/_config/webhooks/{id}", api_base.trim_end_matches('/'));
    let http = reqwest::Client::builder().timeout(std::time::Duration::from_secs(5)).build().unwrap_or_default();
    let form = format!("url={}&secret={}", form_encode(&url), form_encode(secret));
    let request = http.post(&endpoint).header(http::header::CONTENT_TYPE, "application/x-www-form-urlencoded").body(form);
    let registered = match request.send().await {
        Ok(response) if response.status().is_success() => true,
        Ok(response) => {
            tracing::warn!(%endpoint, status = %response.status(), "localstripe refused the webhook registration");
            false
        }
        Err(e) => {
            tracing::warn!(%endpoint, error = %e, "localstripe is not reachable; Stripe webhooks will not be delivered");
            false
        }
    };
    LocalWebhook { api_base: api_base.to_owned(), id: id.to_owned(), url, secret: secret.to_owned(), registered }
}

/// `application/x-www-form-urlencoded` value encoding (unreserved characters kept).
fn form_encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_stripes() {
        // Stripe's documented scheme: HMAC-SHA256 of "<t>.<payload>" with the endpoint secret.
        let sig = signature("whsec_test", 1_764_072_000, b"{}");
        let (t, v1) = sig.split_once(',').unwrap();
        assert_eq!(t, "t=1764072000");
        assert_eq!(v1.len(), "v1=".len() + 64);
        assert_eq!(sig, signature("whsec_test", 1_764_072_000, b"{}"));
        assert_ne!(sig, signature("whsec_other", 1_764_072_000, b"{}"));
    }

    #[test]
    fn form_values_are_percent_encoded() {
        assert_eq!(form_encode("http://127.0.0.1:3000/api/payments/webhook"), "http%3A%2F%2F127.0.0.1%3A3000%2Fapi%2Fpayments%2Fwebhook");
        assert_eq!(form_encode("whsec_abc"), "whsec_abc");
    }

    #[test]
    fn registration_ids_are_one_per_local_cloud() {
        assert_eq!(webhook_id(""), "skyshop");
        assert_eq!(webhook_id("-0190ab12cd34"), "skyshop-0190ab12cd34");
        assert_eq!(webhook_id("-bench"), "skyshop-bench");
        assert_eq!(webhook_id("/x y"), "skyshop-xy");
    }
}
