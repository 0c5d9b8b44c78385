//! Lambda entry point of the inventory-events function: `InventoryTable`'s stream batches, the
//! expiry schedule and the inventory's queue of order events (`OrderConfirmed`, `OrderCancelled`).
//! Init reads configuration only; the SDK is set up by the first invocation.

#![recursion_limit = "256"]

use inventory::config::EventsConfig;
use inventory::events::LazyEvents;
use lambda_runtime::{Error, LambdaEvent, service_fn};
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
