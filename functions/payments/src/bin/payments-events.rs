//! Lambda entry point of payments-events: the order events queue and the reconciliation schedule.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use payments::config::Config;
use payments::events::LazyEvents;
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shop_core::telemetry::init();
    let events = LazyEvents::new(Config::from_env()?);
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        let events = events.clone();
        async move { Ok::<Value, Error>(events.invoke(event.payload).await?) }
    }))
    .await
}
