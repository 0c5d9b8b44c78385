//! Local provisioning against the real stand-ins `scripts/test` starts: the template's order
//! events fan-out on moto (SNS topic → SQS queues, raw delivery, filter policies) and the local
//! databases on the machine's PostgreSQL. Every test uses names of its own.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};

use sam_model::Template;
use sam_model::local::{Naming, provision, provision_databases, use_local_database};
use sam_model::postgres;
use sqlx::Connection;

fn unique() -> String {
    let id = uuid::Uuid::now_v7().simple().to_string();
    format!("-{}", &id[id.len() - 12..])
}

async fn sdk() -> aws_config::SdkConfig {
    for service in ["SNS", "SQS", "DYNAMODB"] {
        assert!(
            std::env::var(format!("AWS_ENDPOINT_URL_{service}")).is_ok(),
            "AWS_ENDPOINT_URL_{service} is not set: run the tests with scripts/test (or source scripts/lib/common.sh; setup_local_cloud)"
        );
    }
    aws_config::defaults(aws_config::BehaviorVersion::latest()).load().await
}

/// Every message on the queue (type attribute, body), read until it stays empty.
async fn receive_all(sqs: &aws_sdk_sqs::Client, url: &str) -> Vec<(String, serde_json::Value)> {
    let mut out = Vec::new();
    let mut empty_rounds = 0;
    while empty_rounds < 2 {
        let received = sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .message_attribute_names("All")
            .send()
            .await
            .unwrap();
        let messages = received.messages.unwrap_or_default();
        if messages.is_empty() {
            empty_rounds += 1;
            continue;
        }
        for m in messages {
            let kind = m.message_attributes().and_then(|a| a.get("type")).and_then(|v| v.string_value()).unwrap_or("<none>").to_owned();
            let body: serde_json::Value = serde_json::from_str(m.body().unwrap_or_default()).expect("a raw body is the envelope itself");
            out.push((kind, body));
            sqs.delete_message().queue_url(url).receipt_handle(m.receipt_handle().unwrap_or_default()).send().await.unwrap();
        }
    }
    out
}

#[tokio::test]
async fn an_order_event_reaches_exactly_the_queues_whose_filter_names_its_type_raw() {
    let sdk = sdk().await;
    let template = Template::load_repo().unwrap();
    let naming = Naming { suffix: unique() };
    let overrides = [("FrontendUrl".to_owned(), "http://localhost:3000".to_owned())];
    // Twice: a second start-up of the same local cloud must not subscribe the queues again
    // (each event would then arrive twice).
    provision(&template, &sdk, &naming, &overrides).await.unwrap();
    let provisioned = provision(&template, &sdk, &naming, &overrides).await.unwrap();

    let topic = provisioned.topics.iter().find(|(id, _)| id == "OrderEventsTopic").map(|(_, arn)| arn.clone()).expect("the topic");
    assert!(topic.starts_with("arn:aws:sns:") && topic.ends_with(&naming.name("OrderEventsTopic")), "{topic}");
    assert_eq!(provisioned.resolver.refs.get("OrderEventsTopic"), Some(&topic), "!Ref of a topic is its ARN");
    let subscribed: BTreeSet<&str> = provisioned.subscriptions.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(
        subscribed,
        BTreeSet::from([
            "CartOrderEventsSubscription",
            "MailFeedbackSubscription",
            "InventoryOrderEventsSubscription",
            "NotificationsOrderEventsSubscription",
            "NotificationsPaymentEventsSubscription",
            "PaymentsOrderEventsSubscription"
        ])
    );

    let sns = aws_sdk_sns::Client::new(&sdk);
    let kinds = ["OrderPlaced", "OrderConfirmed", "OrderShipped", "OrderDelivered", "OrderCancelled", "OrderRefunded"];
    for (n, kind) in kinds.iter().enumerate() {
        let envelope = serde_json::json!({
            "id": format!("0190a000-0000-7000-8000-00000000000{n}"),
            "type": kind,
            "source": "orders",
            "occurredAt": "2026-11-25T12:00:00Z",
            "data": {"order": {"orderId": "0190a000-0000-7000-8000-000000000001"}}
        });
        sns.publish()
            .topic_arn(&topic)
            .message(envelope.to_string())
            .message_attributes(
                "type",
                aws_sdk_sns::types::MessageAttributeValue::builder().data_type("String").string_value(*kind).build().unwrap(),
            )
            .send()
            .await
            .unwrap();
    }
    // Something nobody subscribed to reaches no queue.
    sns.publish()
        .topic_arn(&topic)
        .message("{}")
        .message_attributes(
            "type",
            aws_sdk_sns::types::MessageAttributeValue::builder().data_type("String").string_value("OrderArchived").build().unwrap(),
        )
        .send()
        .await
        .unwrap();

    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let url = |id: &str| provisioned.queues.iter().find(|(q, _)| q == id).map(|(_, u)| u.clone()).unwrap_or_else(|| panic!("{id}"));
    let expected: BTreeMap<&str, Vec<&str>> = BTreeMap::from([
        ("InventoryOrderEventsQueue", vec!["OrderCancelled", "OrderConfirmed", "OrderRefunded"]),
        ("CartOrderEventsQueue", vec!["OrderCancelled", "OrderPlaced"]),
        ("PaymentsOrderEventsQueue", vec!["OrderCancelled", "OrderDelivered", "OrderPlaced"]),
        ("PaymentsOrderEventsDLQ", vec![]),
        ("NotificationsQueue", vec!["OrderCancelled", "OrderConfirmed", "OrderDelivered", "OrderShipped"]),
        ("InventoryOrderEventsDLQ", vec![]),
        ("CartOrderEventsDLQ", vec![]),
    ]);
    for (queue, want) in expected {
        let messages = receive_all(&sqs, &url(queue)).await;
        let mut got: Vec<&str> = messages.iter().map(|(kind, _)| kind.as_str()).collect();
        got.sort_unstable();
        assert_eq!(got, want, "{queue}");
        for (kind, body) in &messages {
            // Raw delivery: the body is the envelope, not SNS's notification wrapper.
            assert_eq!(body["type"], kind.as_str(), "{queue}: {body}");
            assert_eq!(body["source"], "orders");
            assert!(body.get("Type").is_none() && body.get("TopicArn").is_none(), "{queue}: SNS wrapper in {body}");
        }
    }
}

#[tokio::test]
async fn functions_with_a_db_name_get_one_local_database_created_once() {
    let template = Template::load_repo().unwrap();
    let base = postgres::base_url();
    let naming = Naming { suffix: unique() };
    let name = postgres::database_name("orders", &naming.suffix).unwrap();

    let databases = provision_databases(&template, &naming, &base).await.unwrap();
    let owners: BTreeSet<&str> = databases.keys().map(String::as_str).collect();
    assert_eq!(
        owners,
        BTreeSet::from(["OrdersEventsFunction", "OrdersFunction", "PaymentsEventsFunction", "PaymentsFunction", "StripeWebhookFunction"])
    );
    assert_eq!(databases["OrdersFunction"], databases["OrdersEventsFunction"], "orders and orders-events share `orders`");
    // The payments functions share `payments` (its own database on the same server).
    let payments = postgres::database_url(&base, &postgres::database_name("payments", &naming.suffix).unwrap());
    for function in ["PaymentsFunction", "StripeWebhookFunction", "PaymentsEventsFunction"] {
        assert_eq!(databases[function], payments, "{function}");
    }
    assert_eq!(databases["OrdersFunction"], postgres::database_url(&base, &name));
    // Again (the next start-up): the same database, nothing new.
    assert_eq!(provision_databases(&template, &naming, &base).await.unwrap(), databases);

    let mut conn = sqlx::postgres::PgConnection::connect(&databases["OrdersFunction"]).await.unwrap();
    let current: String = sqlx::query_scalar("SELECT current_database()").fetch_one(&mut conn).await.unwrap();
    assert_eq!(current, name);
    conn.close().await.unwrap();

    // The function's environment: the local URL instead of the proxy and the IAM user.
    let mut env = BTreeMap::from([
        ("DB_HOST".to_owned(), "proxy.example".to_owned()),
        ("DB_PORT".to_owned(), "5432".to_owned()),
        ("DB_NAME".to_owned(), "orders".to_owned()),
        ("DB_USER".to_owned(), "skyshop".to_owned()),
    ]);
    use_local_database(&mut env, &databases["OrdersFunction"]);
    assert_eq!(env.get("DATABASE_URL"), Some(&databases["OrdersFunction"]));
    assert!(!env.contains_key("DB_HOST") && !env.contains_key("DB_USER"), "{env:?}");

    postgres::drop_database(&base, &name).await.unwrap();
    assert!(!postgres::database_exists(&base, &name).await.unwrap());
}

#[tokio::test]
async fn concurrent_creations_of_one_database_all_succeed() {
    let base = postgres::base_url();
    let name = postgres::database_name("samtest", &unique()).unwrap();
    let attempts = (0..4).map(|_| {
        let (base, name) = (base.clone(), name.clone());
        async move { postgres::ensure_database(&base, &name).await }
    });
    for url in join_all(attempts).await {
        assert_eq!(url.unwrap(), postgres::database_url(&base, &name));
    }
    assert!(postgres::database_exists(&base, &name).await.unwrap());
    postgres::drop_database(&base, &name).await.unwrap();
    postgres::drop_database(&base, &name).await.unwrap();
    assert!(!postgres::database_exists(&base, &name).await.unwrap());
}

/// Runs the futures concurrently on this runtime and collects their results in order.
async fn join_all<F, T>(futures: impl IntoIterator<Item = F>) -> Vec<T>
where
    F: std::future::Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let handles: Vec<_> = futures.into_iter().map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}
