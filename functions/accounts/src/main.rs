//! Lambda entry point of the accounts function.

use lambda_http::Error;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shop_core::telemetry::init();
    let config = accounts::config::Config::from_env()?;
    let sdk = shop_aws::config::load().await;
    let state = accounts::AppState::from_config(config, &sdk).await?;
    lambda_http::run(accounts::router(state)).await
}
