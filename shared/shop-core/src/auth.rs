//! Identity as API Gateway hands it over.
//!
//! The HttpApi JWT authorizer verifies the access token and puts its claims into the request
//! context (`requestContext.authorizer.jwt.claims`). Functions read them from there — the same
//! context the local runner builds — and re-check roles themselves (defence in depth).

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use http::request::Parts;
use lambda_http::request::RequestContext;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::problem::ApiError;

/// A user's role. Serialized as the seed did (`CUSTOMER`, `SELLER`, `ADMIN`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum Role {
    Customer,
    Seller,
    Admin,
}

impl Role {
    /// The OAuth scope the access token carries for this role; route `AuthorizationScopes` in
    /// `template.yaml` name these.
    pub fn scope(self) -> &'static str {
        match self {
            Role::Customer => "customer",
            Role::Seller => "seller",
            Role::Admin => "admin",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Customer => "CUSTOMER",
            Role::Seller => "SELLER",
            Role::Admin => "ADMIN",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "CUSTOMER" => Some(Role::Customer),
            "SELLER" => Some(Role::Seller),
            "ADMIN" => Some(Role::Admin),
            _ => None,
        }
    }
}

/// The verified caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    /// The user id (`sub`).
    pub sub: Uuid,
    pub role: Role,
    /// Space-separated `scope` claim, split.
    pub scopes: Vec<String>,
    /// The session (refresh-token family) the access token was issued for (`sid`).
    pub session_id: Option<Uuid>,
}

impl Claims {
    /// 403 unless the caller has one of `roles`.
    pub fn require_role(&self, roles: &[Role]) -> Result<(), ApiError> {
        if roles.contains(&self.role) { Ok(()) } else { Err(ApiError::forbidden("Your role does not allow this action.")) }
    }

    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    /// Reads the claims the JWT authorizer put into the request context.
    /// `Ok(None)`: no authorizer ran (public route, no token).
    pub fn from_parts(parts: &Parts) -> Result<Option<Self>, ApiError> {
        let Some(RequestContext::ApiGatewayV2(ctx)) = parts.extensions.get::<RequestContext>() else {
            return Ok(None);
        };
        let Some(jwt) = ctx.authorizer.as_ref().and_then(|a| a.jwt.as_ref()) else {
            return Ok(None);
        };
        let claims = &jwt.claims;
        let invalid = || ApiError::unauthorized("invalid_token", "The access token's claims are invalid.");
        let sub = claims.get("sub").and_then(|s| Uuid::parse_str(s).ok()).ok_or_else(invalid)?;
        let role = claims.get("role").and_then(|r| Role::parse(r)).ok_or_else(invalid)?;
        let scopes = claims.get("scope").map(|s| s.split_whitespace().map(str::to_owned).collect()).unwrap_or_default();
        let session_id = claims.get("sid").and_then(|s| Uuid::parse_str(s).ok());
        tracing::Span::current().record("user_id", tracing::field::display(sub));
        Ok(Some(Self { sub, role, scopes, session_id }))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Claims {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Self::from_parts(parts)?.ok_or_else(|| ApiError::unauthorized("unauthenticated", "This route needs a valid access token."))
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for Claims {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Option<Self>, Self::Rejection> {
        Self::from_parts(parts)
    }
}

/// Facts about the caller's connection, from the request context.
#[derive(Debug, Clone, Default)]
pub struct Caller {
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
    /// The API Gateway request id.
    pub request_id: Option<String>,
    /// The host the client called (`requestContext.domainName`).
    pub domain_name: Option<String>,
}

impl Caller {
    pub fn from_parts(parts: &Parts) -> Self {
        let mut caller = Caller {
            user_agent: parts.headers.get(http::header::USER_AGENT).and_then(|v| v.to_str().ok()).map(str::to_owned),
            ..Caller::default()
        };
        if let Some(RequestContext::ApiGatewayV2(ctx)) = parts.extensions.get::<RequestContext>() {
            caller.source_ip = ctx.http.source_ip.clone();
            // Behind the edge, API Gateway's sourceIp is a CloudFront server; the viewer's
            // address is the one CloudFront forwards — trusted only on a request that proved it
            // came through the edge.
            if parts.extensions.get::<crate::http::ThroughEdge>().is_some()
                && let Some(viewer) =
                    parts.headers.get(crate::http::VIEWER_ADDRESS_HEADER).and_then(|v| v.to_str().ok()).and_then(viewer_ip)
            {
                caller.source_ip = Some(viewer);
            }
            if caller.user_agent.is_none() {
                caller.user_agent = ctx.http.user_agent.clone();
            }
            caller.request_id = ctx.request_id.clone();
            caller.domain_name = ctx.domain_name.clone();
        }
        caller
    }
}

impl Caller {
    /// The key per-client limits count under: the IPv4 address, or the /64 prefix of an IPv6
    /// address (one subscriber usually holds a whole /64, so rotating within it is one client);
    /// `unknown` without an address.
    pub fn client_key(&self) -> String {
        match self.source_ip.as_deref().and_then(|ip| ip.parse::<std::net::IpAddr>().ok()) {
            Some(std::net::IpAddr::V6(v6)) => {
                let [a, b, c, d, ..] = v6.segments();
                format!("{a:x}:{b:x}:{c:x}:{d:x}::/64")
            }
            Some(std::net::IpAddr::V4(v4)) => v4.to_string(),
            None => "unknown".to_owned(),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self::from_parts(parts))
    }
}

/// The IP of a `CloudFront-Viewer-Address` value (`192.0.2.1:46532`, `[2001:db8::1]:443` or
/// `2001:db8::1:443`).
fn viewer_ip(value: &str) -> Option<String> {
    let value = value.trim();
    if let Ok(addr) = value.parse::<std::net::SocketAddr>() {
        return Some(addr.ip().to_string());
    }
    let (ip, _port) = value.rsplit_once(':')?;
    ip.trim_matches(|c| c == '[' || c == ']').parse::<std::net::IpAddr>().ok().map(|ip| ip.to_string())
}
