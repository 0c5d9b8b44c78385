//! Every email of an order's lifecycle appears once in `/_local/mail`, with each event delivered
//! three times: published to the order events topic (SNS on moto), fanned out to the
//! notifications queue by the template's filtered subscription, consumed by the notifications
//! function, which sends each event id once.

use std::time::{Duration, Instant};

use serde_json::Value;
use shop_aws::events::{Envelope, Event};
use shop_aws::messages::orders::{
    Address, CancelledBy, Line, OrderCancelled, OrderConfirmed, OrderDelivered, OrderPlaced, OrderShipped, OrderSnapshot,
};
use shop_core::time::Timestamp;
use uuid::Uuid;

use crate::helpers::{register_buyer, start};

async fn publish_three_times<T: Event + Clone>(sns: &aws_sdk_sns::Client, topic: &str, data: T) {
    let envelope = Envelope::new("orders", data);
    let body = serde_json::to_string(&envelope).unwrap();
    for _ in 0..3 {
        let kind = aws_sdk_sns::types::MessageAttributeValue::builder().data_type("String").string_value(T::KIND).build().unwrap();
        sns.publish().topic_arn(topic).message(&body).message_attributes("type", kind).send().await.unwrap();
    }
}

#[tokio::test]
async fn each_lifecycle_email_is_sent_once_when_every_event_arrives_three_times() {
    let app = start(true).await;
    let (registered, email) = register_buyer(&app).await;
    let user = Uuid::parse_str(registered["user"]["id"].as_str().unwrap()).unwrap();
    let number = format!("ORD-{}-TEST", Uuid::now_v7().simple().to_string()[20..].to_uppercase());
    let order = |status: &str| OrderSnapshot {
        order_id: Uuid::now_v7(),
        order_number: number.clone(),
        user_id: user,
        status: status.into(),
        payment_method: "cod".into(),
        items: vec![Line {
            product_id: Uuid::now_v7(),
            seller_id: Uuid::now_v7(),
            name: "Desk lamp".into(),
            sku: "LAMP-1".into(),
            price: 4_999,
            quantity: 2,
            image: None,
        }],
        subtotal: 9_998,
        discount: 0,
        shipping_cost: 999,
        tax: 800,
        total: 11_797,
        currency: "usd".into(),
        coupon_code: None,
        shipping_address: Address {
            first_name: "Ada".into(),
            last_name: "Lovelace".into(),
            address1: "12 St James's Square".into(),
            address2: None,
            city: "London".into(),
            state: "LDN".into(),
            postal_code: "SW1Y 4JH".into(),
            country: "GB".into(),
            phone: None,
        },
        placed_at: Timestamp::now(),
    };
    let topic = app.cloud.provisioned.resolver.refs["OrderEventsTopic"].clone();
    let sns = aws_sdk_sns::Client::new(&app.cloud.sdk);
    let now = Timestamp::now();
    publish_three_times(&sns, &topic, OrderPlaced { order: order("PENDING") }).await;
    publish_three_times(&sns, &topic, OrderConfirmed { order: order("CONFIRMED"), payment_id: None, confirmed_at: now }).await;
    publish_three_times(
        &sns,
        &topic,
        OrderShipped { order: order("SHIPPED"), tracking_number: Some("1Z999AA1".into()), carrier: Some("UPS".into()), shipped_at: now },
    )
    .await;
    publish_three_times(&sns, &topic, OrderDelivered { order: order("DELIVERED"), delivered_at: now }).await;
    publish_three_times(
        &sns,
        &topic,
        OrderCancelled {
            order: order("CANCELLED"),
            previous_status: "CONFIRMED".into(),
            reason: "customer_request".into(),
            cancelled_by: CancelledBy::Customer,
            refund_amount: None,
            cancelled_at: now,
        },
    )
    .await;

    // Four order emails (OrderPlaced sends none; the welcome email is not one); wait for them, then a while longer for duplicates.
    let mine = || async {
        let all = app.call("GET", "/_local/mail", None, None).await.body;
        all.as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|m| m["to"].to_string().contains(&email) && m["subject"].as_str().unwrap_or("").contains(&number))
            .collect::<Vec<Value>>()
    };
    let started = Instant::now();
    while mine().await.len() < 4 && started.elapsed() < Duration::from_secs(30) {
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mails = mine().await;
    let mut subjects: Vec<String> = mails
        .iter()
        .map(|m| m["subject"].as_str().unwrap().split(" #").next().unwrap().split(&number).next().unwrap().trim().to_owned())
        .collect();
    subjects.sort();
    assert_eq!(mails.len(), 4, "{subjects:?}");
    assert_eq!(
        subjects,
        vec!["Order", "Order", "Order Confirmation", "Shipping Update for Order"],
        "delivered, cancelled, confirmation, shipping"
    );
    assert!(mails.iter().any(|m| m["html"].as_str().unwrap_or("").contains("1Z999AA1")), "the tracking number is in the shipping update");
}
