//! Lambda entry point of the catalog-indexer function: `CatalogTable`'s stream batches, and
//! `{"action":"reindex"}` invocations. Init reads configuration only; the SDK and the search
//! engine are set up by the first invocation.

use catalog_indexer::LazyIndexer;
use catalog_indexer::config::Config;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shop_core::telemetry::init();
    let indexer = LazyIndexer::new(Config::from_env()?);
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        let indexer = indexer.clone();
        async move { Ok::<Value, Error>(indexer.invoke(event.payload, Some(event.context.deadline())).await?) }
    }))
    .await
}
