//! Lambda entry point of mail-feedback (MailFeedbackQueue consumer): SES bounces and complaints
//! suppress the addresses they name (`notifications::suppression`).

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use notifications::config::FeedbackConfig;
use notifications::suppression::{FeedbackHandler, SuppressionStore};

#[tokio::main]
async fn main() -> Result<(), Error> {
    shop_core::telemetry::init();
    let config = FeedbackConfig::from_env()?;
    let sdk = shop_aws::config::load().await;
    let handler = FeedbackHandler::new(SuppressionStore::new(aws_sdk_dynamodb::Client::new(&sdk), config.table));
    lambda_runtime::run(service_fn(|event: LambdaEvent<SqsEvent>| {
        let handler = handler.clone();
        async move { Ok::<SqsBatchResponse, Error>(handler.handle(event.payload).await) }
    }))
    .await
}
