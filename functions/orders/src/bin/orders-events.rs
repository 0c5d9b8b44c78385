//! Lambda entry point of the orders-events function (the minute schedule). Init reads
//! configuration only; the database pool is opened by the first invocation.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use orders::config::Config;
use orders::events::LazyEvents;
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
