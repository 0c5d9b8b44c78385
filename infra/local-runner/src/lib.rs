//! The Skyshop local cloud: `template.yaml` served on one machine without AWS or Docker.
//!
//! - [`cli`]: the command line of `skyshop-local`.
//! - [`cloud`]: provisions the template's tables, queues, secret and SES identity on the
//!   stand-ins and builds every function in-process with its template environment.
//! - [`gateway`]: the HttpApi — routes from the template, the JWT authorizer, route throttles,
//!   payload-2.0 events handed to each function's router through `lambda_http`.
//! - [`waf`]: the edge's per-IP rate rules (the template's WAF web ACL) in front of the gateway.
//! - [`pollers`]: SQS event sources with `ReportBatchItemFailures` semantics.
//! - [`rie`]: a Lambda Runtime API emulator to run a real function binary (benchmarks, the
//!   events round-trip test).
//! - [`stripe`]: the Stripe secrets' local values and the webhook's registration at localstripe.
//! - [`xray`]: the local X-Ray daemon (`/_local/traces/{traceId}`).
//! - local-only routes: `/_local/mail`, `/_local/metrics`, `/_local/traces/{traceId}`, `/_local/health` (the stand-ins),
//!   `/api/openapi.json`, `/api/docs`.

pub mod cli;
pub mod cloud;
pub mod docs;
pub mod events;
pub mod functions;
pub mod gateway;
pub mod health;
pub mod mail;
pub mod mail_capture;
pub mod pollers;
pub mod rie;
pub mod streams;
pub mod stripe;
pub mod waf;
pub mod xray;
