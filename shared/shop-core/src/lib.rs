//! Building blocks shared by every Skyshop function.
//!
//! - [`problem`]: one error type, rendered as RFC 9457 `application/problem+json`;
//!   [`problem::responses`]: the problem responses of the OpenAPI document, by name.
//! - [`extract`]: JSON body / query / path extractors that validate with `garde` and name the
//!   offending field or parameter.
//! - [`auth`]: claims read from the API Gateway v2 JWT-authorizer request context, role guards.
//! - [`pagination`], [`money`], [`id`], [`time`]: the wire conventions every endpoint shares.
//! - [`telemetry`]: JSON `tracing` set-up.
//! - [`jwt`]: access-token verification as the HttpApi JWT authorizer does it.
//! - [`http`]: the layers and fallbacks every function router gets, and the per-request span.
//! - [`secret`]: [`secret::Secret`], a value that never prints (keys, passwords).
//! - [`types`]: values that cannot be invalid (`Email`, `Quantity`, `Slug`, `Price`), parsed at the edge.
//! - [`trace`]: the X-Ray trace context of a request and subsegments sent to the daemon.
//! - [`health`]: readiness checks run concurrently with short timeouts, one honest report.
//! - [`routes!`]: the handlers' method router; their OpenAPI operations only with the `openapi` feature.
//! - [`breaker`]: [`breaker::CircuitBreaker`], fail fast while a dependency keeps failing.
//! - [`retry`]: the one backoff and retry policy of every store and client; [`retry::Contended`].

pub mod auth;
pub mod breaker;
pub mod extract;
pub mod health;
pub mod http;
pub mod id;
pub mod jwt;
pub mod metrics;
pub mod money;
pub mod pagination;
pub mod problem;
pub mod retry;
pub mod routes;
pub mod secret;
pub mod telemetry;
pub mod time;
pub mod trace;
pub mod types;

pub use problem::{ApiError, FieldError};

/// The result type of every handler.
pub type ApiResult<T> = Result<T, ApiError>;
