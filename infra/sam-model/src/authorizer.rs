//! The HttpApi JWT authorizer, answering as API Gateway answers.
//!
//! API Gateway validates the `Authorization: Bearer` token against the issuer's JWKS
//! ([`shop_core::jwt::JwtVerifier`]: RS256 only, `iss`, `aud`, `exp`, `nbf`); then, when the route lists
//! `AuthorizationScopes`, the token's `scope`/`scp` must contain one of them. Failures are
//! `401 {"message":"Unauthorized"}` or `403 {"message":"Forbidden"}` with `WWW-Authenticate`.
//! Verified claims are passed to the function as strings.

use jsonwebtoken::jwk::JwkSet;
use shop_core::jwt::{JwtError, JwtVerifier, bearer};

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
    verifier: JwtVerifier,
}

impl JwtAuthorizer {
    pub fn new(issuer: impl Into<String>, audiences: Vec<String>, jwks: &JwkSet) -> Self {
        let issuer = issuer.into();
        let verifier = JwtVerifier::new(issuer.clone(), audiences.clone(), jwks);
        Self { issuer, audiences, verifier }
    }

    /// True when the token names a key this authorizer does not know (time to refetch the JWKS).
    pub fn is_unknown_kid(&self, authorization: Option<&str>) -> bool {
        authorization.and_then(bearer).is_some_and(|token| self.verifier.is_unknown_kid(token))
    }

    /// Checks the `Authorization` header for a route needing `scopes` (empty: any valid token).
    pub fn authorize(&self, authorization: Option<&str>, scopes: &[String]) -> Result<AuthorizerClaims, Denial> {
        let token = authorization.and_then(bearer).ok_or_else(|| Denial::unauthorized(&JwtError::Missing.to_string()))?;
        let verified = self.verifier.verify(token).map_err(|e| Denial::unauthorized(&e.to_string()))?;
        if !scopes.is_empty() && !scopes.iter().any(|s| verified.scopes.contains(s)) {
            return Err(Denial::forbidden(scopes));
        }
        Ok(AuthorizerClaims { claims: verified.claims, scopes: if scopes.is_empty() { Vec::new() } else { verified.scopes } })
    }
}
