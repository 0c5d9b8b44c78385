//! Black-box tests of the payments function through its routers, against the real stand-ins: a
//! PostgreSQL database per test, localstripe (`$STRIPE_API_BASE`) and an SNS topic on moto.
//! The journeys through orders (intent → pay → webhook → CONFIRMED, refunds, cancellations) run
//! against the whole local cloud in `infra/local-runner/tests/local/payments.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod webhook;

use axum::Router;
use payments::config::{Config, Database, Secret};
use shop_testkit::stripe;

pub struct App {
    pub state: payments::AppState,
    /// The webhook function's router.
    pub webhook: Router,
    /// The payments function's router.
    pub router: Router,
    pub secret: String,
    pub database_url: String,
}

pub async fn app() -> App {
    let sdk = shop_testkit::sdk().await;
    let database_url = shop_testkit::database("skyshop_test_payments").await;
    let sns = aws_sdk_sns::Client::new(sdk);
    let topic = sns.create_topic().name(shop_testkit::unique("PaymentEvents")).send().await.unwrap().topic_arn.unwrap();
    let secret = format!("whsec_{}", uuid::Uuid::new_v4().simple());
    let config = Config {
        database: Database::url(database_url.clone()),
        stripe_key: Secret::Value(stripe::KEY.into()),
        webhook_secret: Secret::Value(secret.clone()),
        stripe_api_base: Some(stripe::base()),
        topic_arn: topic,
        // No orders function is registered: these tests never reach a known order.
        orders_function: shop_testkit::unique("orders-absent"),
    };
    let state = payments::AppState::from_config(&config, sdk).await.expect("database");
    App { webhook: payments::webhook::router(state.clone()), router: payments::router(state.clone()), state, secret, database_url }
}
