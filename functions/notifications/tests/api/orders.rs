//! Order emails: each order event goes to the order's user, looked up through the real accounts
//! router (registered in-process, as the local runner does), once per event id however often
//! the event is delivered.

use aws_lambda_events::event::sqs::SqsMessage;
use serde_json::{Value, json};
use shop_aws::events::{Envelope, Event};
use shop_aws::messages::orders::{
    Address, CancelledBy, Line, OrderCancelled, OrderConfirmed, OrderDelivered, OrderPlaced, OrderShipped, OrderSnapshot,
};
use shop_core::auth::Role;
use shop_core::time::Timestamp;
use time::macros::datetime;
use uuid::Uuid;

use super::stock_low::{accounts, user};
use super::{FRONTEND_URL, World, failures, inbox_of, json_record, logs};

/// An order of `user` with two lines, a coupon and the seed's totals in cents:
/// 2 × $19.99 + 1 × $2.50 = $42.48, −$5.00, $9.99 shipping, $3.00 tax (8% of $37.48), $50.47.
pub(super) fn order(user: Uuid, first_item: &str) -> OrderSnapshot {
    OrderSnapshot {
        order_id: Uuid::now_v7(),
        order_number: format!("SKY-20260501-{}", &Uuid::now_v7().simple().to_string()[24..]),
        user_id: user,
        status: "CONFIRMED".into(),
        payment_method: "card".into(),
        items: vec![
            Line {
                product_id: Uuid::now_v7(),
                seller_id: Uuid::now_v7(),
                name: first_item.into(),
                sku: "LMP-1".into(),
                price: 1999,
                quantity: 2,
                image: None,
            },
            Line {
                product_id: Uuid::now_v7(),
                seller_id: Uuid::now_v7(),
                name: "Spare Bulb".into(),
                sku: "BLB-1".into(),
                price: 250,
                quantity: 1,
                image: None,
            },
        ],
        subtotal: 4248,
        discount: 500,
        shipping_cost: 999,
        tax: 300,
        total: 5047,
        currency: "usd".into(),
        coupon_code: Some("SAVE5".into()),
        shipping_address: Address {
            first_name: "Ann".into(),
            last_name: "Lee".into(),
            address1: "12 Quokka Lane".into(),
            address2: None,
            city: "Springfield".into(),
            state: "IL".into(),
            postal_code: "62701".into(),
            country: "US".into(),
            phone: None,
        },
        placed_at: Timestamp::from(datetime!(2026-05-01 14:00 UTC)),
    }
}

fn confirmed(order: OrderSnapshot) -> Envelope<OrderConfirmed> {
    Envelope::new("orders", OrderConfirmed { order, payment_id: Some("pi_123".into()), confirmed_at: Timestamp::now() })
}

/// Delivers `envelope` three times: twice in one batch (processed concurrently), then once more
/// in a later batch; every delivery is acknowledged.
pub(super) async fn deliver_three_times<T: serde::Serialize>(world: &World, envelope: &Envelope<T>) {
    let batch: Vec<SqsMessage> = vec![json_record("sqs-1", envelope), json_record("sqs-2", envelope)];
    let response = world.handle(batch).await;
    assert!(failures(&response).is_empty(), "{response:?}");
    let response = world.handle(vec![json_record("sqs-3", envelope)]).await;
    assert!(failures(&response).is_empty(), "{response:?}");
}

/// The text part of the only email SES was asked to send to `to`.
pub(super) fn text_to(world: &World, to: &str) -> String {
    let sent = world.captured.sent_to(to);
    assert_eq!(sent.len(), 1, "SES was called once for {to}");
    sent[0]["Body"]["Text"]["Data"].as_str().unwrap().to_owned()
}

/// The one email moto accepted for `to`.
pub(super) async fn only_mail(to: &str) -> Value {
    let inbox = inbox_of(to).await;
    assert_eq!(inbox.len(), 1, "{inbox:#?}");
    inbox[0].clone()
}

#[tokio::test]
async fn an_order_confirmation_is_sent_once_with_lines_totals_address_and_link() {
    let world = World::new().await;
    let state = accounts().await;
    let (customer, to) = user(&state, Role::Customer, "Ann").await;
    shop_internal::register_local(&world.accounts_function, accounts::router(state));
    let envelope = confirmed(order(customer, "Quokka Desk Lamp"));
    let number = envelope.data.order.order_number.clone();
    let order_url = format!("{FRONTEND_URL}/account/orders/{}", envelope.data.order.order_id);

    deliver_three_times(&world, &envelope).await;

    let mail = only_mail(&to).await;
    assert_eq!(mail["subject"], format!("Order Confirmation #{number} - Skyshop"));
    assert_eq!(mail["destinations"]["ToAddresses"], json!([to]));
    let html = mail["body"].as_str().unwrap();
    assert!(html.contains("Hi Ann,"), "{html}");
    assert!(html.contains("Quokka Desk Lamp") && html.contains(">$39.98<") && html.contains(">$2.50<"), "{html}");
    assert!(html.contains("<strong>$50.47</strong>"), "{html}");
    assert!(html.contains(&format!("href=\"{order_url}\"")), "{html}");

    let text = text_to(&world, &to);
    assert!(text.contains(&format!("order #{number}, placed on Friday, May 1, 2026")), "{text}");
    assert!(text.contains("- 2 x Quokka Desk Lamp @ $19.99 = $39.98\n- 1 x Spare Bulb @ $2.50 = $2.50\n"), "{text}");
    assert!(text.contains("Subtotal: $42.48\nDiscount (SAVE5): -$5.00\nShipping: $9.99\nTax: $3.00\nTotal: $50.47\n"), "{text}");
    assert!(text.contains("Shipping to:\nAnn Lee\n12 Quokka Lane\nSpringfield, IL 62701\nUS\n"), "{text}");
    assert!(text.contains(&format!("View your order: {order_url}\n")), "{text}");

    let claim = world.claim(&envelope.id.to_string()).await.expect("claimed by message id");
    assert_eq!(super::s(&claim, "status"), "sent");
    assert_eq!(super::s(&claim, "kind"), "OrderConfirmed");
}

#[tokio::test]
async fn a_shipping_update_carries_the_carrier_and_tracking_number_once() {
    let world = World::new().await;
    let state = accounts().await;
    let (customer, to) = user(&state, Role::Customer, "Ann").await;
    shop_internal::register_local(&world.accounts_function, accounts::router(state));
    let order = order(customer, "Quokka Desk Lamp");
    let number = order.order_number.clone();
    let envelope = Envelope::new(
        "orders",
        OrderShipped {
            order,
            tracking_number: Some("1Z999AA10123456784".into()),
            carrier: Some("UPS".into()),
            shipped_at: Timestamp::from(datetime!(2026-05-03 10:00 UTC)),
        },
    );

    deliver_three_times(&world, &envelope).await;

    let mail = only_mail(&to).await;
    assert_eq!(mail["subject"], format!("Shipping Update for Order #{number} - Skyshop"));
    let html = mail["body"].as_str().unwrap();
    assert!(html.contains("Tracking number: <strong>1Z999AA10123456784</strong>"), "{html}");
    let text = text_to(&world, &to);
    assert!(text.contains(&format!("your order #{number} shipped on Sunday, May 3, 2026.")), "{text}");
    assert!(text.contains("Carrier: UPS\nTracking number: 1Z999AA10123456784\n"), "{text}");
}

#[tokio::test]
async fn a_delivery_email_is_sent_once() {
    let world = World::new().await;
    let state = accounts().await;
    let (customer, to) = user(&state, Role::Customer, "Ann").await;
    shop_internal::register_local(&world.accounts_function, accounts::router(state));
    let order = order(customer, "Quokka Desk Lamp");
    let number = order.order_number.clone();
    let envelope = Envelope::new("orders", OrderDelivered { order, delivered_at: Timestamp::from(datetime!(2026-05-05 15:00 UTC)) });

    deliver_three_times(&world, &envelope).await;

    let mail = only_mail(&to).await;
    assert_eq!(mail["subject"], format!("Order #{number} Delivered - Skyshop"));
    let text = text_to(&world, &to);
    assert!(text.contains(&format!("Your order #{number} was delivered on Tuesday, May 5, 2026.")), "{text}");
}

#[tokio::test]
async fn an_unpaid_orders_cancellation_gives_the_reason_once() {
    let world = World::new().await;
    let state = accounts().await;
    let (customer, to) = user(&state, Role::Customer, "Ann").await;
    let (other, other_to) = user(&state, Role::Customer, "Bo").await;
    shop_internal::register_local(&world.accounts_function, accounts::router(state));
    // Cash on delivery, cancelled once confirmed (a paid card order's cancellation is sent by its
    // refund, see payments.rs).
    let mut cancelled = order(customer, "Quokka Desk Lamp");
    (cancelled.status, cancelled.payment_method) = ("CANCELLED".into(), "cod".into());
    let number = cancelled.order_number.clone();
    let envelope = Envelope::new(
        "orders",
        OrderCancelled {
            order: cancelled,
            previous_status: "CONFIRMED".into(),
            reason: "customer_request".into(),
            cancelled_by: CancelledBy::Customer,
            refund_amount: None,
            cancelled_at: Timestamp::now(),
        },
    );

    deliver_three_times(&world, &envelope).await;

    let mail = only_mail(&to).await;
    assert_eq!(mail["subject"], format!("Order #{number} Cancelled - Skyshop"));
    let html = mail["body"].as_str().unwrap();
    assert!(html.contains("It was cancelled at your request.") && html.contains("Quokka Desk Lamp"), "{html}");
    let text = text_to(&world, &to);
    assert!(text.contains("It was cancelled at your request.\n\n- 2 x Quokka Desk Lamp"), "{text}");
    assert!(!text.contains("refund"), "nothing was paid: {text}");

    // An unpaid order that timed out: the reason in words, no refund.
    let mut unpaid = order(other, "Lamp");
    unpaid.status = "CANCELLED".into();
    let timeout = Envelope::new(
        "orders",
        OrderCancelled {
            order: unpaid,
            previous_status: "PENDING".into(),
            reason: "payment_timeout".into(),
            cancelled_by: CancelledBy::System,
            refund_amount: None,
            cancelled_at: Timestamp::now(),
        },
    );
    let response = world.handle(vec![json_record("sqs-4", &timeout)]).await;
    assert!(failures(&response).is_empty(), "{response:?}");
    let text = text_to(&world, &other_to);
    assert!(text.contains("The payment was not completed in time"), "{text}");
    assert!(!text.contains("refund"), "{text}");
}

#[tokio::test]
async fn order_placed_is_acknowledged_without_email_or_claim() {
    let world = World::new().await;
    let state = accounts().await;
    let (customer, to) = user(&state, Role::Customer, "Ann").await;
    shop_internal::register_local(&world.accounts_function, accounts::router(state));
    let mut order = order(customer, "Quokka Desk Lamp");
    order.status = "PENDING".into();
    let envelope = Envelope::new("orders", OrderPlaced { order });

    deliver_three_times(&world, &envelope).await;

    assert!(inbox_of(&to).await.is_empty());
    assert!(world.captured.sent_to(&to).is_empty());
    assert!(world.claim(&envelope.id.to_string()).await.is_none(), "nothing to claim");
}

#[tokio::test]
async fn a_hostile_product_name_is_escaped_in_html_and_nothing_personal_is_logged() {
    let world = World::new().await;
    let state = accounts().await;
    let first_name = format!("Nm{}", Uuid::now_v7().simple());
    let (customer, to) = user(&state, Role::Customer, &first_name).await;
    shop_internal::register_local(&world.accounts_function, accounts::router(state));
    let hostile = "<img src=x onerror=alert(1)> \"Lamp\" & <b>co</b>";
    let mut order = order(customer, hostile);
    let street = format!("{} <Quokka> Lane", Uuid::now_v7().simple());
    order.shipping_address.address1 = street.clone();
    let envelope = confirmed(order);

    let response = world.handle(vec![json_record("sqs-1", &envelope)]).await;
    assert!(failures(&response).is_empty(), "{response:?}");

    let mail = only_mail(&to).await;
    let html = mail["body"].as_str().unwrap();
    assert!(html.contains("&lt;img src=x onerror=alert(1)&gt; &quot;Lamp&quot; &amp; &lt;b&gt;co&lt;/b&gt;"), "{html}");
    assert!(!html.contains("<img") && !html.contains("<b>co</b>") && !html.contains("<Quokka>"), "{html}");
    let text = text_to(&world, &to);
    assert!(text.contains(&format!("- 2 x {hostile} @ $19.99")), "the text part is not HTML: {text}");

    let logs = logs();
    let id = envelope.id.to_string();
    assert!(
        logs.lines().any(|l| l.contains(&id)
            && l.contains("\"kind\":\"OrderConfirmed\"")
            && l.contains(&envelope.data.order.order_id.to_string())
            && l.contains("email sent")),
        "the message id, type and order id are logged"
    );
    for secret in [to.as_str(), first_name.as_str(), street.as_str()] {
        assert!(!logs.contains(secret), "{secret} leaked into the logs");
    }
}

#[tokio::test]
async fn an_unknown_or_deactivated_user_gets_no_email_and_the_event_is_acknowledged() {
    let world = World::new().await;
    let state = accounts().await;
    let (retired, retired_to) = user(&state, Role::Customer, "Rex").await;
    let changes = accounts::store::UserChanges { is_active: Some(false), ..Default::default() };
    state.store.update_user(retired, &changes, Timestamp::now()).await.unwrap();
    shop_internal::register_local(&world.accounts_function, accounts::router(state));

    let unknown = confirmed(order(Uuid::now_v7(), "Lamp"));
    let deactivated = confirmed(order(retired, "Lamp"));
    let response = world.handle(vec![json_record("unknown", &unknown), json_record("deactivated", &deactivated)]).await;

    assert!(failures(&response).is_empty(), "acknowledged: {response:?}");
    assert!(inbox_of(&retired_to).await.is_empty());
    assert!(world.claim(&unknown.id.to_string()).await.is_none());
    assert!(world.claim(&deactivated.id.to_string()).await.is_none());
    let id = unknown.id.to_string();
    assert!(logs().lines().any(|l| l.contains(&id) && l.contains("no active account")), "logged");
}

#[tokio::test]
async fn while_accounts_is_unavailable_an_order_email_is_retried_and_then_sent_once() {
    let world = World::new().await;
    let state = accounts().await;
    let (customer, to) = user(&state, Role::Customer, "Ann").await;
    let envelope = confirmed(order(customer, "Lamp"));

    // Nothing answers under the accounts name yet: the record fails before any claim or send.
    let response = world.handle(vec![json_record("sqs-1", &envelope)]).await;
    assert_eq!(failures(&response), ["sqs-1"]);
    assert!(world.claim(&envelope.id.to_string()).await.is_none());

    shop_internal::register_local(&world.accounts_function, accounts::router(state));
    deliver_three_times(&world, &envelope).await;
    assert_eq!(inbox_of(&to).await.len(), 1);
}

#[tokio::test]
async fn a_malformed_order_event_fails_the_record_naming_the_field() {
    let world = World::new().await;
    let mut body = serde_json::to_value(confirmed(order(Uuid::now_v7(), "Lamp"))).unwrap();
    body["data"]["order"]["total"] = json!("fifty");
    assert_eq!(body["type"], OrderConfirmed::KIND);
    let response = world.handle(vec![super::record("sqs-1", body.to_string())]).await;
    assert_eq!(failures(&response), ["sqs-1"]);
    assert!(logs().contains("order.total"), "the field is named in the log");
}
