//! Lambda entry point of the cart-events function: the cart's queue of order events
//! (`OrderPlaced`, `OrderCancelled`). Init reads configuration only; Redis and the SDK are set
//! up by the first invocation.

#![recursion_limit = "256"]

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use cart::config::EventsConfig;
use cart::events::LazyEvents;
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    shop_core::telemetry::init();
    let events = LazyEvents::new(EventsConfig::from_env()?);
    lambda_runtime::run(service_fn(|event: LambdaEvent<SqsEvent>| {
        let events = events.clone();
        async move { Ok::<SqsBatchResponse, Error>(events.handle(event.payload).await?) }
    }))
    .await
}
