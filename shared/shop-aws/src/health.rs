//! Readiness probes of the AWS dependencies (see `shop_core::health`): each one cheap call that
//! proves the resource is there and reachable with this function's permissions, and names only
//! the resource in its error.

use shop_core::health::Probe;

/// `DescribeTable`: the table exists and is `ACTIVE` (or `UPDATING`).
pub fn dynamodb_table(client: &aws_sdk_dynamodb::Client, table: &str) -> Probe {
    let (client, table) = (client.clone(), table.to_owned());
    Probe::new(format!("dynamodb:{table}"), async move {
        let described = client.describe_table().table_name(&table).send().await.map_err(|e| sdk_error(&e))?;
        match described.table().and_then(|t| t.table_status()) {
            Some(aws_sdk_dynamodb::types::TableStatus::Active | aws_sdk_dynamodb::types::TableStatus::Updating) | None => Ok(()),
            Some(other) => Err(format!("table status {other}")),
        }
    })
}

/// `GetQueueAttributes`: the queue exists and answers.
pub fn sqs_queue(client: &aws_sdk_sqs::Client, queue_url: &str) -> Probe {
    let (client, url) = (client.clone(), queue_url.to_owned());
    let name = url.rsplit('/').next().unwrap_or(&url).to_owned();
    Probe::new(format!("sqs:{name}"), async move {
        client
            .get_queue_attributes()
            .queue_url(&url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| sdk_error(&e))
    })
}

/// `GetTopicAttributes`: the topic exists and answers.
#[cfg(feature = "postgres")]
pub fn sns_topic(client: &aws_sdk_sns::Client, topic_arn: &str) -> Probe {
    let (client, arn) = (client.clone(), topic_arn.to_owned());
    let name = arn.rsplit(':').next().unwrap_or(&arn).to_owned();
    Probe::new(format!("sns:{name}"), async move {
        client.get_topic_attributes().topic_arn(&arn).send().await.map(|_| ()).map_err(|e| sdk_error(&e))
    })
}

/// `SELECT 1` on the pool (through RDS Proxy in AWS).
#[cfg(feature = "postgres")]
pub fn postgres(pool: &sqlx::PgPool) -> Probe {
    let pool = pool.clone();
    Probe::new("postgres", async move {
        sqlx::query_scalar::<_, i32>("SELECT 1").fetch_one(&pool).await.map(|_| ()).map_err(|e| match e {
            sqlx::Error::PoolTimedOut => "no connection available (pool timed out)".to_owned(),
            other => other.to_string(),
        })
    })
}

/// An SDK error with its cause (the service's code, or why the request did not get there).
fn sdk_error<E: std::error::Error + 'static>(e: &E) -> String {
    shop_core::problem::ErrorChain(e).to_string()
}
