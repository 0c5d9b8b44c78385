//! Lambda entry point of the health function. Init reads configuration only; the clients are
//! built on the first request.

use lambda_http::Error;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shop_core::telemetry::init();
    let config = health::config::Config::from_env()?;
    let service = shop_core::http::LazyRouter::new(move || {
        let config = config.clone();
        async move {
            let sdk = shop_aws::config::load().await;
            Ok::<_, std::convert::Infallible>(health::router(health::AppState::from_config(&config, &sdk)))
        }
    });
    shop_core::http::run(service).await
}
