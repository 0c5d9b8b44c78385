//! The HttpApi JWT authorizer, answering as API Gateway answers.
//!
//! API Gateway validates the `Authorization: Bearer` token against the issuer's JWKS: signature
//! (RS256 only here, never `alg: none`), `iss`, `aud`, `exp`, `nbf`; then, when the route lists
//! `AuthorizationScopes`, the token's `scope`/`scp` must contain one of them. Failures are
//! `401 {"message":"Unauthorized"}` or `403 {"message":"Forbidden"}` with `WWW-Authenticate`.
//! Verified claims are passed to the function as strings.

use std::collections::BTreeMap;

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;

use crate::apigw::AuthorizerClaims;

/// Why the authorizer refused, with what API Gateway sends back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denial {
    pub status: u16,
    pub www_authenticate: String,
    /// The JSON body (`{"message":"Unauthorized"}`).
    pub body: String,
}

impl Denial {
    fn unauthorized(description: &str) -> Self {
        Self {
            status: 401,
            www_authenticate: format!("Bearer scope=\"\" error=\"invalid_token\" error_description=\"{description}\""),
            body: r#"{"message":"Unauthorized"}"#.into(),
        }
    }
    fn forbidden(scopes: &[String]) -> Self {
        Self {
            status: 403,
            www_authenticate: format!(
                "Bearer scope=\"{}\" error=\"insufficient_scope\" error_description=\"expected scopes: [{}]\"",
                scopes.join(" "),
                scopes.join(" ")
            ),
            body: r#"{"message":"Forbidden"}"#.into(),
        }
    }
}

/// A JWT authorizer configured like the template's.
#[derive(Debug, Clone)]
pub struct JwtAuthorizer {
    pub issuer: String,
    pub audiences: Vec<String>,
    keys: BTreeMap<String, DecodingKey>,
}

impl JwtAuthorizer {
    pub fn new(issuer: impl Into<String>, audiences: Vec<String>, jwks: &JwkSet) -> Self {
        let keys = jwks.keys.iter().filter_map(|jwk| Some((jwk.common.key_id.clone()?, DecodingKey::from_jwk(jwk).ok()?))).collect();
        Self { issuer: issuer.into(), audiences, keys }
    }

    /// True when the token names a key this authorizer does not know (time to refetch the JWKS).
    pub fn is_unknown_kid(&self, authorization: Option<&str>) -> bool {
        let Some(token) = authorization.and_then(bearer) else { return false };
        match jsonwebtoken::decode_header(token) {
            Ok(header) => header.kid.is_some_and(|kid| !self.keys.contains_key(&kid)),
            Err(_) => false,
        }
    }

    /// Checks the `Authorization` header for a route needing `scopes` (empty: any valid token).
    pub fn authorize(&self, authorization: Option<&str>, scopes: &[String]) -> Result<AuthorizerClaims, Denial> {
        let token = authorization.and_then(bearer).ok_or_else(|| Denial::unauthorized("the token is missing"))?;
        let header = jsonwebtoken::decode_header(token).map_err(|_| Denial::unauthorized("the token is malformed"))?;
        if header.alg != Algorithm::RS256 {
            return Err(Denial::unauthorized("the token uses an unsupported algorithm"));
        }
        let key =
            header.kid.as_deref().and_then(|kid| self.keys.get(kid)).ok_or_else(|| Denial::unauthorized("the signing key is unknown"))?;
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&self.audiences);
        validation.validate_nbf = true;
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        let data = jsonwebtoken::decode::<BTreeMap<String, Value>>(token, key, &validation).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind;
            Denial::unauthorized(match e.kind() {
                ErrorKind::ExpiredSignature => "the token has expired",
                ErrorKind::ImmatureSignature => "the token is not valid yet",
                ErrorKind::InvalidIssuer => "the token has an invalid issuer",
                ErrorKind::InvalidAudience => "the token has an invalid audience",
                ErrorKind::InvalidSignature => "the token signature is invalid",
                _ => "the token is invalid",
            })
        })?;
        let token_scopes: Vec<String> = data
            .claims
            .get("scope")
            .or_else(|| data.claims.get("scp"))
            .map(|v| match v {
                Value::String(s) => s.split_whitespace().map(str::to_owned).collect(),
                Value::Array(a) => a.iter().filter_map(|s| s.as_str().map(str::to_owned)).collect(),
                _ => Vec::new(),
            })
            .unwrap_or_default();
        if !scopes.is_empty() && !scopes.iter().any(|s| token_scopes.contains(s)) {
            return Err(Denial::forbidden(scopes));
        }
        let claims = data
            .claims
            .into_iter()
            .map(|(k, v)| {
                let rendered = match v {
                    Value::String(s) => s,
                    Value::Array(a) => format!(
                        "[{}]",
                        a.iter().map(|i| i.as_str().map(str::to_owned).unwrap_or_else(|| i.to_string())).collect::<Vec<_>>().join(" ")
                    ),
                    other => other.to_string(),
                };
                (k, rendered)
            })
            .collect();
        Ok(AuthorizerClaims { claims, scopes: if scopes.is_empty() { Vec::new() } else { token_scopes } })
    }
}

fn bearer(header: &str) -> Option<&str> {
    let (scheme, token) = header.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim()).filter(|t| !t.is_empty())
}
