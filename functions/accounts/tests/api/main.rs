//! Black-box tests of the accounts function through its router, against DynamoDB Local and
//! moto (SQS), each test with its own table and queue.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod helpers;

mod addresses;
mod admin;
mod auth;
mod bad_input;
mod hardening;
mod internal;
mod openapi;
mod password;
mod rotation;
mod sessions;
mod token_properties;
