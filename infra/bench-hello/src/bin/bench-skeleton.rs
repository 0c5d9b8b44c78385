//! The cold-start baseline a team would start from: `lambda_http` + axum + `aws-config`'s default
//! loader + the SDK clients Skyshop's functions use (DynamoDB, SQS, SNS, SES v2, S3, Secrets
//! Manager, Lambda), built like the functions. Like them it configures the SDK and its clients on
//! the first request (not at init), then answers `{"hello":"world"}` without calling AWS.

use aws_config::BehaviorVersion;
use axum::{Json, Router, routing::get};
use serde_json::{Value, json};
use tokio::sync::OnceCell;

/// One of each client, kept for the life of the sandbox like the functions' clients.
#[allow(dead_code)]
struct Clients {
    dynamodb: aws_sdk_dynamodb::Client,
    sqs: aws_sdk_sqs::Client,
    sns: aws_sdk_sns::Client,
    ses: aws_sdk_sesv2::Client,
    s3: aws_sdk_s3::Client,
    secrets: aws_sdk_secretsmanager::Client,
    lambda: aws_sdk_lambda::Client,
}

static CLIENTS: OnceCell<Clients> = OnceCell::const_new();

async fn hello() -> Json<Value> {
    CLIENTS
        .get_or_init(|| async {
            let sdk = aws_config::load_defaults(BehaviorVersion::latest()).await;
            Clients {
                dynamodb: aws_sdk_dynamodb::Client::new(&sdk),
                sqs: aws_sdk_sqs::Client::new(&sdk),
                sns: aws_sdk_sns::Client::new(&sdk),
                ses: aws_sdk_sesv2::Client::new(&sdk),
                s3: aws_sdk_s3::Client::new(&sdk),
                secrets: aws_sdk_secretsmanager::Client::new(&sdk),
                lambda: aws_sdk_lambda::Client::new(&sdk),
            }
        })
        .await;
    Json(json!({"hello": "world"}))
}

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let app = Router::new().fallback(get(hello).post(hello));
    lambda_http::run(app).await
}
