//! Tests of the local cloud: the template served for real on the stand-ins.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod helpers;

mod authz;
mod cart;
mod checkout;
mod docs_page;
mod edge;
mod events_roundtrip;
mod flow;
mod frozen;
mod fuzz;
mod health;
mod mail_feedback;
mod observability;
mod order_emails;
mod parity;
mod payments;
mod payments_wiring;
mod reviews;
mod search;
mod secrets;
mod sqs;
mod streams;
mod traces;
mod waf;
