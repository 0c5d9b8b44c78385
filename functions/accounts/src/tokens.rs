//! Access tokens (RS256 JWT, 15 min) and opaque refresh / reset tokens (random, stored hashed).

use base64::Engine;
use jsonwebtoken::{Algorithm, Header};
use serde::{Deserialize, Serialize};
use shop_core::auth::Role;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::keys::SigningKeys;

/// Access-token lifetime: 15 minutes.
pub const ACCESS_TTL_SECS: i64 = 15 * 60;
/// Refresh-token lifetime: 7 days from issue (each rotation issues a new one).
pub const REFRESH_TTL_SECS: i64 = 7 * 24 * 60 * 60;
/// How far `nbf` lies before `iat`: a verifier whose clock is up to this much behind the
/// issuing sandbox's (another Lambda host, API Gateway) still accepts a token at once.
pub const NBF_LEEWAY_SECS: i64 = 30;
/// Password-reset token lifetime: 1 hour.
pub const RESET_TTL_SECS: i64 = 60 * 60;

/// The claims of an access token. API Gateway's JWT authorizer checks `iss`, `aud`, `exp`,
/// `nbf` and `scope`; functions read `sub`, `role`, `scope` and `sid`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    pub aud: String,
    pub sub: String,
    pub role: Role,
    /// Space-separated scopes: the role's scope (`customer`, `seller`, `admin`).
    pub scope: String,
    /// Session (refresh-token family) id.
    pub sid: String,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    pub jti: String,
}

/// Signs an access token for `user_id` in `session_id`.
pub fn issue_access_token(
    keys: &SigningKeys,
    issuer: &str,
    audience: &str,
    user_id: Uuid,
    role: Role,
    session_id: Uuid,
) -> Result<String, jsonwebtoken::errors::Error> {
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let claims = AccessClaims {
        iss: issuer.to_owned(),
        aud: audience.to_owned(),
        sub: user_id.to_string(),
        role,
        scope: role.scope().to_owned(),
        sid: session_id.to_string(),
        iat: now,
        nbf: now - NBF_LEEWAY_SECS,
        exp: now + ACCESS_TTL_SECS,
        jti: shop_core::id::new_id().to_string(),
    };
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(keys.active_kid().to_owned());
    jsonwebtoken::encode(&header, &claims, keys.encoding_key())
}

/// 32 random bytes, URL-safe base64 (43 chars). Used for refresh tokens.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    // The system RNG does not fail on supported platforms; an all-zero token would be caught by
    // the uniqueness condition on its hash item.
    let _ = aws_lc_rs::rand::fill(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// 32 random bytes as 64 hex chars (the seed's reset-token format).
pub fn random_hex_token() -> String {
    let mut bytes = [0u8; 32];
    let _ = aws_lc_rs::rand::fill(&mut bytes);
    hex(&bytes)
}

/// SHA-256 of a token, hex. Tokens are high-entropy, so a fast hash is the right tool; only
/// the hash is stored.
pub fn token_hash(token: &str) -> String {
    hex(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes()).as_ref())
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_hashes_stable() {
        let a = random_token();
        let b = random_token();
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert_eq!(random_hex_token().len(), 64);
        assert_eq!(token_hash("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    #[test]
    fn access_tokens_are_valid_from_30_seconds_before_they_are_issued() {
        let mut doc = crate::keys::KeyDocument::default();
        doc.add_generated("k".into(), "2026-12-05T00:00:00Z".into()).expect("a key");
        let keys = SigningKeys::from_document(&doc).expect("keys");
        let token = issue_access_token(&keys, "https://i", "a", Uuid::nil(), Role::Customer, Uuid::nil()).expect("signed");
        let payload = token.split('.').nth(1).expect("a JWT");
        let claims: AccessClaims =
            serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).expect("base64")).expect("claims");
        assert_eq!(claims.iat - claims.nbf, NBF_LEEWAY_SECS, "a verifier whose clock is behind still accepts it");
        assert_eq!(claims.exp - claims.iat, ACCESS_TTL_SECS);
    }
}
