//! Access-token verification as the HttpApi JWT authorizer does it.
//!
//! One verifier serves both places a token is checked: the local runner's emulation of the
//! authorizer (JWT routes) and functions whose routes API Gateway leaves public but which still
//! want to know a signed-in caller (the cart: guests and users share its paths). The rules are
//! API Gateway's: RS256 only (never `alg: none`), a known `kid`, `iss`, `aud`, `exp`, `nbf`, no
//! leeway; claims are handed on as strings, arrays rendered `[a b]`.

use std::collections::BTreeMap;

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;

/// Why a token was refused. `Display` is API Gateway's `error_description`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    #[error("the token is missing")]
    Missing,
    #[error("the token is malformed")]
    Malformed,
    #[error("the token uses an unsupported algorithm")]
    UnsupportedAlgorithm,
    #[error("the signing key is unknown")]
    UnknownKey,
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet")]
    NotYetValid,
    #[error("the token has an invalid issuer")]
    InvalidIssuer,
    #[error("the token has an invalid audience")]
    InvalidAudience,
    #[error("the token signature is invalid")]
    InvalidSignature,
    #[error("the token is invalid")]
    Invalid,
}

/// A verified token: every claim as API Gateway renders it, and the token's scopes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerifiedToken {
    pub claims: BTreeMap<String, String>,
    /// The `scope` (space-separated) or `scp` (array) claim, split.
    pub scopes: Vec<String>,
}

/// Verifies access tokens of one issuer against its JWKS.
#[derive(Clone)]
pub struct JwtVerifier {
    pub issuer: String,
    pub audiences: Vec<String>,
    keys: BTreeMap<String, DecodingKey>,
}

impl std::fmt::Debug for JwtVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtVerifier")
            .field("issuer", &self.issuer)
            .field("audiences", &self.audiences)
            .field("kids", &self.keys.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl JwtVerifier {
    /// Keys without a `kid` or of an unusable type are skipped (API Gateway selects by `kid`).
    pub fn new(issuer: impl Into<String>, audiences: Vec<String>, jwks: &JwkSet) -> Self {
        let keys = jwks.keys.iter().filter_map(|jwk| Some((jwk.common.key_id.clone()?, DecodingKey::from_jwk(jwk).ok()?))).collect();
        Self { issuer: issuer.into(), audiences, keys }
    }

    /// True when the token names a key this verifier does not know (time to refetch the JWKS).
    pub fn is_unknown_kid(&self, token: &str) -> bool {
        match jsonwebtoken::decode_header(token) {
            Ok(header) => header.kid.is_some_and(|kid| !self.keys.contains_key(&kid)),
            Err(_) => false,
        }
    }

    /// Verifies a bare token (no `Bearer ` prefix).
    pub fn verify(&self, token: &str) -> Result<VerifiedToken, JwtError> {
        let header = check_header(token)?;
        let key = header.kid.as_deref().and_then(|kid| self.keys.get(kid)).ok_or(JwtError::UnknownKey)?;
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&self.audiences);
        validation.validate_nbf = true;
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        let data = jsonwebtoken::decode::<BTreeMap<String, Value>>(token, key, &validation).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind;
            match e.kind() {
                ErrorKind::ExpiredSignature => JwtError::Expired,
                ErrorKind::ImmatureSignature => JwtError::NotYetValid,
                ErrorKind::InvalidIssuer => JwtError::InvalidIssuer,
                ErrorKind::InvalidAudience => JwtError::InvalidAudience,
                ErrorKind::InvalidSignature => JwtError::InvalidSignature,
                _ => JwtError::Invalid,
            }
        })?;
        let scopes = data
            .claims
            .get("scope")
            .or_else(|| data.claims.get("scp"))
            .map(|v| match v {
                Value::String(s) => s.split_whitespace().map(str::to_owned).collect(),
                Value::Array(a) => a.iter().filter_map(|s| s.as_str().map(str::to_owned)).collect(),
                _ => Vec::new(),
            })
            .unwrap_or_default();
        let claims = data.claims.into_iter().map(|(k, v)| (k, render(v))).collect();
        Ok(VerifiedToken { claims, scopes })
    }
}

/// The header of a token that could be one of ours (RS256), checked without any key.
pub fn check_header(token: &str) -> Result<jsonwebtoken::Header, JwtError> {
    let header = jsonwebtoken::decode_header(token).map_err(|_| JwtError::Malformed)?;
    if header.alg != Algorithm::RS256 {
        return Err(JwtError::UnsupportedAlgorithm);
    }
    Ok(header)
}

/// A claim as API Gateway passes it to the function: strings as they are, arrays `[a b]`,
/// everything else as JSON text.
fn render(value: Value) -> String {
    match value {
        Value::String(s) => s,
        Value::Array(a) => {
            format!("[{}]", a.iter().map(|i| i.as_str().map(str::to_owned).unwrap_or_else(|| i.to_string())).collect::<Vec<_>>().join(" "))
        }
        other => other.to_string(),
    }
}

/// The token of an `Authorization: Bearer <token>` header value (scheme case-insensitive).
/// The token of an `Authorization` value: `Bearer <token>` (any case), or the bare token, as
/// API Gateway's JWT authorizer accepts both.
pub fn bearer(header: &str) -> Option<&str> {
    let header = header.trim();
    match header.split_once(' ') {
        Some((scheme, token)) => scheme.eq_ignore_ascii_case("bearer").then(|| token.trim()).filter(|t| !t.is_empty()),
        None => (!header.is_empty() && !header.eq_ignore_ascii_case("bearer")).then_some(header),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_tokens_are_read_case_insensitively() {
        assert_eq!(bearer("Bearer abc"), Some("abc"));
        assert_eq!(bearer("bearer  abc "), Some("abc"));
        assert_eq!(bearer("Basic abc"), None);
        assert_eq!(bearer("Bearer "), None);
        assert_eq!(bearer("eyJ.a.b"), Some("eyJ.a.b"), "a bare token, as API Gateway accepts it");
        assert_eq!(bearer("  "), None);
    }

    #[test]
    fn tokens_without_a_known_key_or_with_other_algorithms_are_refused() {
        let verifier = JwtVerifier::new("http://issuer", vec!["skyshop".into()], &JwkSet { keys: vec![] });
        // {"alg":"none"} . {} . (no signature)
        assert_eq!(verifier.verify("eyJhbGciOiJub25lIn0.e30."), Err(JwtError::Malformed));
        // {"alg":"HS256","kid":"k"} . {}
        assert_eq!(verifier.verify("eyJhbGciOiJIUzI1NiIsImtpZCI6ImsifQ.e30.c2ln"), Err(JwtError::UnsupportedAlgorithm));
        // {"alg":"RS256","kid":"k"} . {}
        assert_eq!(verifier.verify("eyJhbGciOiJSUzI1NiIsImtpZCI6ImsifQ.e30.c2ln"), Err(JwtError::UnknownKey));
        assert!(verifier.is_unknown_kid("eyJhbGciOiJSUzI1NiIsImtpZCI6ImsifQ.e30.c2ln"));
        assert_eq!(verifier.verify("not a token"), Err(JwtError::Malformed));
    }
}
