//! Lambda entry point of the reviews-events function: `ReviewsTable`'s stream batches (rating
//! summaries → the catalog). Init reads configuration only; the SDK is set up by the first
//! invocation.

#![recursion_limit = "256"]

use lambda_runtime::{Error, LambdaEvent, service_fn};
use reviews::config::EventsConfig;
use reviews::events::LazyEvents;
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shop_core::telemetry::init();
    let events = LazyEvents::new(EventsConfig::from_env()?);
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        let events = events.clone();
        async move { Ok::<Value, Error>(events.invoke(event.payload).await?) }
    }))
    .await
}
