//! Internal calls between Skyshop functions.
//!
//! A function never reads another function's storage; it asks the owner. The owner serves the
//! question on an **internal route** (`/internal/...`) of its ordinary router, and the caller
//! uses an [`InternalClient`] for that function:
//!
//! - **in AWS** the client invokes the target function directly (`lambda:InvokeFunction`, allowed
//!   by an IAM policy naming exactly that function) with an API Gateway v2 payload, so the
//!   target's `lambda_http` router handles it like any request. Internal routes live under
//!   `/internal/`, are never declared on the HttpApi, and `shop_core::http::finish` (which every
//!   function router goes through) refuses any request under that prefix that did not come
//!   through this client (`requestContext.apiId == "internal"`, which API Gateway never sets).
//! - **locally and in tests** a router registered with [`register_local`] under the function's
//!   name is called in-process with the very same event.
//!
//! Each call has a per-attempt timeout, bounded retries with the shared full-jitter backoff
//! (`shop_core::retry`; the Lambda SDK's own retries are off beneath them) for
//! failures where the target did not answer (timeouts, throttles, crashes, 502/503/504), and a
//! circuit breaker per target that fails fast while the target keeps failing. Because any call
//! may be retried, **every internal route must be idempotent** (reservations and redemptions are
//! keyed by order id).
//!
//! [`optional_bearer`] verifies an optional `Authorization: Bearer` token on routes API Gateway
//! leaves public (the cart serves guests and signed-in users on the same paths).

mod bearer;
mod client;
mod local;

pub use bearer::{OptionalBearer, TokenVerifier, optional_bearer};
pub use client::{CallError, CallPolicy, InternalClient, Reply};
pub use local::{register_local, unregister_local};
pub use shop_core::breaker::CircuitBreaker;
pub use shop_core::http::{INTERNAL_API_ID, INTERNAL_PREFIX, is_internal};
