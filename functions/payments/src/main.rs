//! Lambda entry point of the payments function (`/api/payments*` but the webhook). Init reads
//! configuration only; the database pool, the secrets and the clients come with the first request.

use lambda_http::Error;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shop_core::telemetry::init();
    let config = payments::config::Config::from_env()?;
    let service = shop_core::http::LazyRouter::new(move || {
        let config = config.clone();
        async move {
            let sdk = shop_aws::config::load().await;
            payments::AppState::from_config(&config, &sdk).await.map(payments::router)
        }
    });
    shop_core::http::run(service).await
}
