//! Every kind of probe against its real stand-in (up) and pointed at a closed port (down, named,
//! well within the probe timeout).

use std::time::{Duration, Instant};

use shop_core::health::{PROBE_TIMEOUT, Probe, Status, run};

/// Nothing listens here.
const DEAD: &str = "http://127.0.0.1:9";

async fn up(probe: Probe) {
    let check = run(probe, PROBE_TIMEOUT).await;
    assert_eq!(check.status, Status::Up, "{check:?}");
}

async fn down(probe: Probe, name: &str) {
    let started = Instant::now();
    let check = run(probe, PROBE_TIMEOUT).await;
    assert!(started.elapsed() <= PROBE_TIMEOUT + Duration::from_millis(200), "{:?}", started.elapsed());
    assert_eq!((check.name.as_str(), check.status), (name, Status::Down), "{check:?}");
    assert!(!check.error.unwrap_or_default().is_empty());
}

#[tokio::test]
async fn dynamodb_sqs_and_sns_are_up_on_the_stand_ins_and_down_on_a_closed_port() {
    let sdk = shop_testkit::sdk().await;
    let (ddb, table) = shop_testkit::table("InventoryTable").await;
    up(shop_aws::health::dynamodb_table(&ddb, &table)).await;
    down(shop_aws::health::dynamodb_table(&ddb, "no-such-table"), "dynamodb:no-such-table").await;
    let dead_ddb = aws_sdk_dynamodb::Client::from_conf(aws_sdk_dynamodb::config::Builder::from(sdk).endpoint_url(DEAD).build());
    down(shop_aws::health::dynamodb_table(&dead_ddb, &table), &format!("dynamodb:{table}")).await;

    let (sqs, queue) = shop_testkit::queue("NotificationsQueue").await;
    up(shop_aws::health::sqs_queue(&sqs, &queue)).await;
    let dead_sqs = aws_sdk_sqs::Client::from_conf(aws_sdk_sqs::config::Builder::from(sdk).endpoint_url(DEAD).build());
    let name = format!("sqs:{}", queue.rsplit('/').next().unwrap());
    down(shop_aws::health::sqs_queue(&dead_sqs, &queue), &name).await;

    let sns = aws_sdk_sns::Client::new(sdk);
    let topic = sns.create_topic().name(shop_testkit::unique("health-topic")).send().await.unwrap().topic_arn.unwrap();
    up(shop_aws::health::sns_topic(&sns, &topic)).await;
    let dead_sns = aws_sdk_sns::Client::from_conf(aws_sdk_sns::config::Builder::from(sdk).endpoint_url(DEAD).build());
    let name = format!("sns:{}", topic.rsplit(':').next().unwrap());
    down(shop_aws::health::sns_topic(&dead_sns, &topic), &name).await;
}

#[tokio::test]
async fn postgres_is_up_on_the_machines_server_and_down_on_a_closed_port() {
    let base = std::env::var("DATABASE_URL_BASE").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
    let pool =
        sqlx::postgres::PgPoolOptions::new().acquire_timeout(Duration::from_secs(1)).connect_lazy(&format!("{base}/postgres")).unwrap();
    up(shop_aws::health::postgres(&pool)).await;
    let dead = sqlx::postgres::PgPoolOptions::new()
        .acquire_timeout(Duration::from_secs(1))
        .connect_lazy("postgres://postgres@127.0.0.1:9/postgres")
        .unwrap();
    down(shop_aws::health::postgres(&dead), "postgres").await;
}

#[tokio::test]
async fn redis_is_up_on_the_machines_server_and_a_cache_that_could_not_connect_is_down() {
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let cache = shop_cache::Cache::connect(&url, shop_testkit::redis_prefix()).await;
    up(Probe::new("redis", async move { cache.ping().await })).await;
    let dead = shop_cache::Cache::connect("redis://127.0.0.1:9", "x:").await;
    assert!(dead.is_configured() && !dead.is_enabled(), "configured, not connected");
    down(Probe::new("redis", async move { dead.ping().await }), "redis").await;
    assert!(!shop_cache::Cache::disabled().is_configured(), "no URL: no probe to add");
}
