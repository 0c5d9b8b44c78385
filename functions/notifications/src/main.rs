//! Lambda entry point of the notifications function (NotificationsQueue consumer).

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use notifications::Notifier;
use notifications::config::Config;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shop_core::telemetry::init();
    let config = Config::from_env()?;
    let sdk = shop_aws::config::load().await;
    let notifier = Notifier::new(config, &sdk);
    lambda_runtime::run(service_fn(|event: LambdaEvent<SqsEvent>| {
        let notifier = notifier.clone();
        async move { Ok::<SqsBatchResponse, Error>(notifier.handle(event.payload).await) }
    }))
    .await
}
