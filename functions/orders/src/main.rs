//! Lambda entry point of the orders function. Init reads configuration only; the database pool
//! and SDK clients are built on the first request.

use lambda_http::Error;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shop_core::telemetry::init();
    let config = orders::config::Config::from_env()?;
    let service = shop_core::http::LazyRouter::new(move || {
        let config = config.clone();
        async move {
            let sdk = shop_aws::config::load().await;
            orders::AppState::from_config(&config, &sdk).await.map(orders::router)
        }
    });
    shop_core::http::run(service).await
}
