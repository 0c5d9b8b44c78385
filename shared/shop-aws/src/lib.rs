//! AWS set-up shared by every Skyshop function.
//!
//! - [`config`]: the SDK configuration, read once from the environment. Service endpoints follow the
//!   SDK's own `AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_<SERVICE>` variables, which is how the local
//!   cloud points functions at DynamoDB Local and moto.
//! - [`events`]: the SQS message envelope and its publisher.
//! - [`dynamo`]: classification of DynamoDB errors (conditional failures, cancelled transactions).
//! - [`rds`]: IAM authentication tokens for RDS Proxy connections.
//! - `pg` and `outbox` (feature `postgres`): the PostgreSQL pool through RDS Proxy, and the
//!   transactional outbox relay to SNS.
//! - [`streams`]: DynamoDB stream records as Lambda delivers them, decoded one by one.
//! - [`xray`]: every SDK call as an X-Ray subsegment, the trace passed on downstream.

pub mod config;
pub mod dynamo;
pub mod events;
pub mod health;
pub mod messages;
#[cfg(feature = "postgres")]
pub mod outbox;
#[cfg(feature = "postgres")]
pub mod pg;
pub mod rds;
pub mod signed;
pub mod streams;
pub mod xray;
