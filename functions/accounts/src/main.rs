//! Lambda entry point of the accounts function.
//!
//! Init reads and checks the configuration only; the SDK clients and the signing keys are set up
//! on the first request (see `shop_core::http::LazyRouter`), which keeps cold starts short.

use lambda_http::Error;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shop_core::telemetry::init();
    let config = accounts::config::Config::from_env()?;
    let service = shop_core::http::LazyRouter::new(move || {
        let config = config.clone();
        async move {
            let sdk = shop_aws::config::load().await;
            accounts::AppState::from_config(config, &sdk).await.map(accounts::router)
        }
    });
    shop_core::http::run(service).await
}
