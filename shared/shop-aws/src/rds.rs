//! RDS IAM authentication: the password of a connection through RDS Proxy (or to an instance)
//! is a token — a SigV4-presigned `connect` request for the user, valid 15 minutes — signed with
//! the function's own role. No database password exists in the function's configuration.

use std::time::{Duration, SystemTime};

use aws_credential_types::provider::ProvideCredentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SignatureLocation, SigningSettings, sign};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;

use crate::signed::SignError;

/// How long a token may be used to open a connection (RDS's maximum).
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(900);

/// The auth token for `user` at `host:port` (what `aws rds generate-db-auth-token` prints).
pub async fn auth_token(sdk: &aws_config::SdkConfig, host: &str, port: u16, user: &str) -> Result<String, SignError> {
    let credentials = sdk.credentials_provider().ok_or(SignError::Missing("credentials provider"))?.provide_credentials().await?;
    let region = sdk.region().ok_or(SignError::Missing("region"))?.to_string();
    sign_token(&credentials.into(), &region, host, port, user, SystemTime::now())
}

/// Signs the token with `identity` at `time` (pure: the tests pin time and keys).
pub fn sign_token(identity: &Identity, region: &str, host: &str, port: u16, user: &str, time: SystemTime) -> Result<String, SignError> {
    let mut settings = SigningSettings::default();
    settings.expires_in = Some(TOKEN_LIFETIME);
    settings.signature_location = SignatureLocation::QueryParams;
    let params = v4::SigningParams::builder()
        .identity(identity)
        .region(region)
        .name("rds-db")
        .time(time)
        .settings(settings)
        .build()
        .map_err(|e| SignError::Sign(e.to_string()))?
        .into();
    let user: String = url_encode(user);
    let url = format!("https://{host}:{port}/?Action=connect&DBUser={user}");
    let signable =
        SignableRequest::new("GET", &url, std::iter::empty(), SignableBody::Bytes(&[])).map_err(|e| SignError::Sign(e.to_string()))?;
    let (instructions, _) = sign(signable, &params).map_err(|e| SignError::Sign(e.to_string()))?.into_parts();
    let mut request = http::Request::builder().uri(&url).body(()).map_err(|e| SignError::Sign(e.to_string()))?;
    instructions.apply_to_request_http1x(&mut request);
    let uri = request.uri().to_string();
    Ok(uri.strip_prefix("https://").unwrap_or(&uri).to_owned())
}

fn url_encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => char::from(b).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_a_presigned_connect_request() {
        let credentials = aws_credential_types::Credentials::new("AKIDEXAMPLE", "secret", None, None, "test");
        let time = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let token = sign_token(&credentials.into(), "eu-west-1", "proxy.example.com", 5432, "orders app", time).expect("signs");
        assert!(token.starts_with("proxy.example.com:5432/?Action=connect&DBUser=orders%20app&"), "{token}");
        for part in [
            "X-Amz-Algorithm=AWS4-HMAC-SHA256",
            "X-Amz-Credential=AKIDEXAMPLE%2F20231114%2Feu-west-1%2Frds-db%2Faws4_request",
            "X-Amz-Expires=900",
            "X-Amz-Signature=",
        ] {
            assert!(token.contains(part), "{part} missing from {token}");
        }
        // Deterministic for the same inputs; another user signs differently.
        let again = sign_token(
            &aws_credential_types::Credentials::new("AKIDEXAMPLE", "secret", None, None, "test").into(),
            "eu-west-1",
            "proxy.example.com",
            5432,
            "orders app",
            time,
        )
        .expect("signs");
        assert_eq!(token, again);
        let other = sign_token(
            &aws_credential_types::Credentials::new("AKIDEXAMPLE", "secret", None, None, "test").into(),
            "eu-west-1",
            "proxy.example.com",
            5432,
            "payments",
            time,
        )
        .expect("signs");
        assert_ne!(token.split("X-Amz-Signature=").nth(1), other.split("X-Amz-Signature=").nth(1));
    }
}
