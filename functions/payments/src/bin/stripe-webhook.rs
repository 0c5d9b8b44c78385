//! Lambda entry point of the Stripe webhook (`POST /api/payments/webhook`, no authorizer).

use lambda_http::Error;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shop_core::telemetry::init();
    let config = payments::config::Config::from_env()?;
    let service = shop_core::http::LazyRouter::new(move || {
        let config = config.clone();
        async move {
            let sdk = shop_aws::config::load().await;
            payments::AppState::from_config(&config, &sdk).await.map(payments::webhook::router)
        }
    });
    shop_core::http::run(service).await
}
