//! Lambda entry point of the catalog function. Init reads configuration only; the SDK client is
//! built on the first request.

use lambda_http::Error;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shop_core::telemetry::init();
    let config = catalog::config::Config::from_env()?;
    let service = shop_core::http::LazyRouter::new(move || {
        let config = config.clone();
        async move {
            let sdk = shop_aws::config::load().await;
            catalog::AppState::from_config(&config, &sdk).await.map(catalog::router)
        }
    });
    shop_core::http::run(service).await
}
