//! Lambda entry point of the cart function. Init reads configuration only; clients and the
//! Redis connection are made on the first request.

use lambda_http::Error;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shop_core::telemetry::init();
    let config = cart::config::Config::from_env()?;
    let service = shop_core::http::LazyRouter::new(move || {
        let config = config.clone();
        async move {
            let sdk = shop_aws::config::load().await;
            cart::AppState::from_config(&config, &sdk).await.map(cart::router)
        }
    });
    shop_core::http::run(service).await
}
