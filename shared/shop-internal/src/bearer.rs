//! Optional bearer authentication for routes API Gateway leaves public.
//!
//! An HttpApi route either requires the JWT authorizer (and refuses anonymous callers) or skips
//! it entirely. The cart serves guests and signed-in users on the same paths, so its routes are
//! public and the function checks the token itself, by the authorizer's rules, against the JWKS
//! that accounts publishes (fetched through an internal call, cached, refetched when a token
//! names an unknown key). The verified claims go into the request context exactly where API
//! Gateway puts them, so `shop_core::auth::Claims` works unchanged.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use futures::future::BoxFuture;
use jsonwebtoken::jwk::JwkSet;
use lambda_http::aws_lambda_events::apigw::{ApiGatewayRequestAuthorizer, ApiGatewayRequestAuthorizerJwtDescription};
use lambda_http::request::RequestContext;
use shop_core::ApiError;
use shop_core::jwt::{JwtError, JwtVerifier, bearer};
use tokio::sync::RwLock;

use crate::client::InternalClient;

/// A refetch for an unknown `kid` happens at most this often (a forged kid cannot make every
/// request call accounts).
const REFETCH_INTERVAL: Duration = Duration::from_secs(30);
/// Keys are refetched when older than this even without an unknown `kid`, so a removed key
/// stops verifying (accounts drops a retired key 15 minutes after rotation).
const MAX_AGE: Duration = Duration::from_secs(300);

/// Verifies access tokens against accounts' JWKS.
#[derive(Clone)]
pub struct TokenVerifier {
    inner: Arc<Inner>,
}

struct Inner {
    accounts: InternalClient,
    issuer: String,
    audiences: Vec<String>,
    refetch_interval: Duration,
    max_age: Duration,
    cached: RwLock<Option<(JwtVerifier, Instant)>>,
}

impl std::fmt::Debug for TokenVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenVerifier").field("issuer", &self.inner.issuer).field("audiences", &self.inner.audiences).finish()
    }
}

/// Why a request with a token was refused.
#[derive(Debug, thiserror::Error)]
pub enum BearerError {
    #[error(transparent)]
    Invalid(#[from] JwtError),
    #[error("the signing keys could not be fetched")]
    Keys(#[from] crate::CallError),
}

impl From<BearerError> for ApiError {
    fn from(e: BearerError) -> Self {
        match e {
            BearerError::Invalid(reason) => ApiError::unauthorized("invalid_token", format!("The access token is not valid: {reason}.")),
            BearerError::Keys(cause) => cause.into(),
        }
    }
}

impl TokenVerifier {
    /// `accounts`: the client of the function serving `GET /.well-known/jwks.json`.
    pub fn new(accounts: InternalClient, issuer: String, audiences: Vec<String>) -> Self {
        Self::with_intervals(accounts, issuer, audiences, REFETCH_INTERVAL, MAX_AGE)
    }

    /// As [`TokenVerifier::new`], with the unknown-`kid` refetch interval and the key cache's
    /// maximum age.
    pub fn with_intervals(
        accounts: InternalClient,
        issuer: String,
        audiences: Vec<String>,
        refetch_interval: Duration,
        max_age: Duration,
    ) -> Self {
        Self { inner: Arc::new(Inner { accounts, issuer, audiences, refetch_interval, max_age, cached: RwLock::new(None) }) }
    }

    /// Can the cached keys answer for `token`?
    fn usable(&self, verifier: &JwtVerifier, fetched: Instant, token: &str) -> bool {
        let age = fetched.elapsed();
        age < self.inner.max_age && (age < self.inner.refetch_interval || !verifier.is_unknown_kid(token))
    }

    /// Verifies a bare token.
    pub async fn verify(&self, token: &str) -> Result<shop_core::jwt::VerifiedToken, BearerError> {
        // A token that cannot be one of ours is refused before any key is fetched.
        shop_core::jwt::check_header(token)?;
        let verifier = self.verifier(token).await?;
        Ok(verifier.verify(token)?)
    }

    /// The cached verifier; fetched on first use and again when `token` names an unknown key
    /// (key rotation), at most once per refetch interval, and when older than the maximum age.
    async fn verifier(&self, token: &str) -> Result<JwtVerifier, BearerError> {
        if let Some((verifier, fetched)) = self.inner.cached.read().await.as_ref()
            && self.usable(verifier, *fetched, token)
        {
            return Ok(verifier.clone());
        }
        let mut cached = self.inner.cached.write().await;
        if let Some((verifier, fetched)) = cached.as_ref()
            && self.usable(verifier, *fetched, token)
        {
            return Ok(verifier.clone());
        }
        let jwks: JwkSet = self.inner.accounts.get("/.well-known/jwks.json").await?;
        let verifier = JwtVerifier::new(self.inner.issuer.clone(), self.inner.audiences.clone(), &jwks);
        *cached = Some((verifier.clone(), Instant::now()));
        Ok(verifier)
    }
}

/// The layer: `router.layer(shop_internal::optional_bearer(verifier))`.
pub fn optional_bearer(verifier: TokenVerifier) -> OptionalBearer {
    OptionalBearer { verifier }
}

#[derive(Debug, Clone)]
pub struct OptionalBearer {
    verifier: TokenVerifier,
}

impl<S> tower::Layer<S> for OptionalBearer {
    type Service = OptionalBearerService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        OptionalBearerService { inner, verifier: self.verifier.clone() }
    }
}

#[derive(Debug, Clone)]
pub struct OptionalBearerService<S> {
    inner: S,
    verifier: TokenVerifier,
}

impl<S> tower::Service<Request> for OptionalBearerService<S>
where
    S: tower::Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Response, Infallible>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request) -> Self::Future {
        // The clone that was not polled ready stays behind; the ready one serves this request.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let verifier = self.verifier.clone();
        Box::pin(async move {
            let header = request.headers().get(http::header::AUTHORIZATION).map(|v| v.to_str().map(str::to_owned));
            let token = match header {
                None => return inner.call(request).await,
                Some(Ok(value)) => bearer(&value).map(str::to_owned),
                Some(Err(_)) => None,
            };
            let Some(token) = token else {
                return Ok(ApiError::from(BearerError::Invalid(JwtError::Malformed)).into_response());
            };
            match verifier.verify(&token).await {
                Ok(verified) => {
                    if let Some(RequestContext::ApiGatewayV2(ctx)) = request.extensions_mut().get_mut::<RequestContext>() {
                        let mut jwt = ApiGatewayRequestAuthorizerJwtDescription::default();
                        jwt.claims = verified.claims.into_iter().collect::<HashMap<_, _>>();
                        jwt.scopes = None;
                        let mut authorizer = ApiGatewayRequestAuthorizer::default();
                        authorizer.jwt = Some(jwt);
                        ctx.authorizer = Some(authorizer);
                        inner.call(request).await
                    } else {
                        // Not an API Gateway v2 request: there is nowhere to put the identity.
                        Ok(ApiError::from(BearerError::Invalid(JwtError::Invalid)).into_response())
                    }
                }
                Err(e) => Ok(ApiError::from(e).into_response()),
            }
        })
    }
}
