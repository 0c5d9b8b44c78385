//! Payment emails: a refund goes to the order's user worded by its reason, a dispute to every
//! active admin, each found through the real accounts router (registered in-process, as the
//! local runner does) and sent once however often the event is delivered. A paid card order's
//! `OrderCancelled` and `OrderRefunded` send nothing: the refund's email tells the customer.

use shop_aws::events::Envelope;
use shop_aws::messages::orders::{CancelledBy, OrderCancelled, OrderRefunded};
use shop_aws::messages::payments::{PaymentDisputed, PaymentRefunded, RefundReason};
use shop_core::auth::Role;
use shop_core::time::Timestamp;
use time::macros::datetime;
use uuid::Uuid;

use super::orders::{deliver_three_times, only_mail, order, text_to};
use super::stock_low::{accounts, user};
use super::{FRONTEND_URL, World, inbox_of, logs, s};

/// A refund of `amount` cents of the $50.47 captured for an order of `user`.
fn refunded(user: Uuid, reason: RefundReason, amount: i64, refunded_total: i64, note: Option<&str>) -> Envelope<PaymentRefunded> {
    let order = order(user, "Quokka Desk Lamp");
    Envelope::new(
        "payments",
        PaymentRefunded {
            payment_id: Uuid::now_v7(),
            refund_id: Uuid::now_v7(),
            order_id: order.order_id,
            order_number: order.order_number,
            user_id: user,
            amount,
            refunded_total,
            captured: 5047,
            currency: "usd".into(),
            reason,
            note: note.map(Into::into),
            refunded_at: Timestamp::now(),
        },
    )
}

fn cancelled(user: Uuid, payment_method: &str, previous_status: &str) -> Envelope<OrderCancelled> {
    let mut order = order(user, "Quokka Desk Lamp");
    (order.status, order.payment_method) = ("CANCELLED".into(), payment_method.into());
    Envelope::new(
        "orders",
        OrderCancelled {
            order,
            previous_status: previous_status.into(),
            reason: "customer_request".into(),
            cancelled_by: CancelledBy::Customer,
            refund_amount: None,
            cancelled_at: Timestamp::now(),
        },
    )
}

#[tokio::test]
async fn each_refund_email_is_sent_once_and_worded_by_its_reason() {
    let world = World::new().await;
    let state = accounts().await;
    let (ann, ann_to) = user(&state, Role::Customer, "Ann").await;
    let (bo, bo_to) = user(&state, Role::Customer, "Bo").await;
    let (cy, cy_to) = user(&state, Role::Customer, "Cy").await;
    shop_internal::register_local(&world.accounts_function, accounts::router(state));

    // An admin's partial refund with a note, then one made in the Stripe dashboard that
    // completes a payment, then a payment that came after its order had expired.
    let partial = refunded(ann, RefundReason::Requested, 1000, 1500, Some("<b>Scratched</b> lid"));
    let external = refunded(bo, RefundReason::External, 3547, 5047, None);
    let late = refunded(cy, RefundReason::LatePayment, 5047, 5047, None);
    for envelope in [&partial, &external, &late] {
        deliver_three_times(&world, envelope).await;
    }

    let number = &partial.data.order_number;
    let mail = only_mail(&ann_to).await;
    assert_eq!(mail["subject"], format!("Refund for Order #{number} - Skyshop"));
    let html = mail["body"].as_str().unwrap();
    assert!(html.contains("Hi Ann,") && html.contains("<strong>$10.00</strong>"), "{html}");
    assert!(html.contains("Reason: &lt;b&gt;Scratched&lt;/b&gt; lid") && !html.contains("<b>Scratched"), "{html}");
    assert!(html.contains(&format!("href=\"{FRONTEND_URL}/account/orders/{}\"", partial.data.order_id)), "{html}");
    let text = text_to(&world, &ann_to);
    assert!(text.contains(&format!("We have refunded $10.00 for your order #{number} to your original payment method")), "{text}");
    assert!(text.contains("Refunded so far: $15.00 of the $50.47 you paid. This is a partial refund: $35.47"), "{text}");
    assert!(text.contains("Reason: <b>Scratched</b> lid\n"), "{text}");

    let mail = only_mail(&bo_to).await;
    assert_eq!(mail["subject"], format!("Refund for Order #{} - Skyshop", external.data.order_number));
    let text = text_to(&world, &bo_to);
    assert!(text.contains("We have refunded $35.47 for your order"), "{text}");
    assert!(text.contains("Refunded so far: $50.47 of the $50.47 you paid. Your payment has now been refunded in full."), "{text}");

    let mail = only_mail(&cy_to).await;
    assert_eq!(mail["subject"], format!("Your payment for Order #{} was refunded - Skyshop", late.data.order_number));
    let text = text_to(&world, &cy_to);
    assert!(text.contains("arrived after the order had expired, and its items were no longer available"), "{text}");
    assert!(text.contains("We have refunded the full amount of $50.47"), "{text}");

    let claim = world.claim(&partial.id.to_string()).await.expect("claimed by message id");
    assert_eq!(s(&claim, "status"), "sent");
    assert_eq!(s(&claim, "kind"), "PaymentRefunded");
}

#[tokio::test]
async fn a_paid_card_orders_cancellation_is_sent_once_by_its_refund_with_the_amount() {
    let world = World::new().await;
    let state = accounts().await;
    let (customer, to) = user(&state, Role::Customer, "Ann").await;
    let (cod_customer, cod_to) = user(&state, Role::Customer, "Bo").await;
    shop_internal::register_local(&world.accounts_function, accounts::router(state));

    // The order's cancellation: nothing yet (payments refunds it), acknowledged, not claimed.
    let cancellation = cancelled(customer, "card", "CONFIRMED");
    deliver_three_times(&world, &cancellation).await;
    assert!(inbox_of(&to).await.is_empty());
    assert!(world.captured.sent_to(&to).is_empty());
    assert!(world.claim(&cancellation.id.to_string()).await.is_none(), "nothing to claim");
    let id = cancellation.id.to_string();
    assert!(
        logs().lines().any(|l| l.contains(&id) && l.contains("a paid card order") && l.contains("PaymentRefunded")),
        "the reason is logged"
    );

    // Payments' refund of that order sends the cancellation, with the amount and the reason.
    let mut refund = refunded(customer, RefundReason::OrderCancelled, 5047, 5047, Some("customer_request"));
    refund.data.order_id = cancellation.data.order.order_id;
    refund.data.order_number = cancellation.data.order.order_number.clone();
    deliver_three_times(&world, &refund).await;

    let mail = only_mail(&to).await;
    let number = &cancellation.data.order.order_number;
    assert_eq!(mail["subject"], format!("Order #{number} Cancelled - Skyshop"));
    let html = mail["body"].as_str().unwrap();
    assert!(html.contains("A refund of $50.47 has been issued"), "{html}");
    let text = text_to(&world, &to);
    assert!(text.contains(&format!("Your order #{number} was cancelled.\n")), "{text}");
    assert!(text.contains("It was cancelled at your request.\nA refund of $50.47 has been issued"), "{text}");
    assert_eq!(s(&world.claim(&refund.id.to_string()).await.expect("claimed"), "kind"), "PaymentRefunded");

    // A cash-on-delivery order cancelled after confirmation was never paid: its email as before.
    let cod = cancelled(cod_customer, "cod", "CONFIRMED");
    deliver_three_times(&world, &cod).await;
    assert_eq!(only_mail(&cod_to).await["subject"], format!("Order #{} Cancelled - Skyshop", cod.data.order.order_number));
    let text = text_to(&world, &cod_to);
    assert!(text.contains("It was cancelled at your request.\n") && !text.contains("refund"), "{text}");
}

#[tokio::test]
async fn order_refunded_is_acknowledged_without_email_or_claim() {
    let world = World::new().await;
    let state = accounts().await;
    let (customer, to) = user(&state, Role::Customer, "Ann").await;
    shop_internal::register_local(&world.accounts_function, accounts::router(state));
    let mut order = order(customer, "Quokka Desk Lamp");
    order.status = "REFUNDED".into();
    let envelope = Envelope::new(
        "orders",
        OrderRefunded { order, previous_status: "DELIVERED".into(), restock: false, refund_amount: 5047, refunded_at: Timestamp::now() },
    );

    deliver_three_times(&world, &envelope).await;

    assert!(inbox_of(&to).await.is_empty());
    assert!(world.captured.sent_to(&to).is_empty());
    assert!(world.claim(&envelope.id.to_string()).await.is_none(), "nothing to claim");
}

#[tokio::test]
async fn a_dispute_emails_every_active_admin_once() {
    let world = World::new().await;
    let state = accounts().await;
    let (ada, ada_to) = user(&state, Role::Admin, "Ada").await;
    let (_, grace_to) = user(&state, Role::Admin, "Grace").await;
    let (retired, retired_to) = user(&state, Role::Admin, "Rex").await;
    let (customer, customer_to) = user(&state, Role::Customer, "Cat").await;
    let changes = accounts::store::UserChanges { is_active: Some(false), ..Default::default() };
    state.store.update_user(retired, &changes, Timestamp::now()).await.unwrap();
    shop_internal::register_local(&world.accounts_function, accounts::router(state));
    let order = order(customer, "Quokka Desk Lamp");
    let envelope = Envelope::new(
        "payments",
        PaymentDisputed {
            payment_id: Uuid::now_v7(),
            order_id: order.order_id,
            order_number: order.order_number.clone(),
            dispute_id: "dp_1Sample".into(),
            amount: 5047,
            currency: "usd".into(),
            reason: "product_not_received".into(),
            disputed_at: Timestamp::from(datetime!(2026-05-03 10:00 UTC)),
        },
    );

    deliver_three_times(&world, &envelope).await;

    let admin_url = format!("{FRONTEND_URL}/admin/orders/{}", order.order_id);
    for admin in [&ada_to, &grace_to] {
        let mail = only_mail(admin).await;
        assert_eq!(mail["subject"], format!("Payment disputed for Order #{} - Skyshop", order.order_number));
        let html = mail["body"].as_str().unwrap();
        assert!(html.contains(&format!("href=\"{admin_url}\"")), "{html}");
        let text = text_to(&world, admin);
        assert!(text.contains("Amount disputed: $50.47\nReason: product_not_received\nDispute: dp_1Sample\n"), "{text}");
        assert!(text.contains(&format!("Review the order: {admin_url}\n")), "{text}");
    }
    assert!(text_to(&world, &ada_to).starts_with("Hi Ada,\n"));
    assert!(inbox_of(&retired_to).await.is_empty(), "deactivated admins are not written to");
    assert!(inbox_of(&customer_to).await.is_empty(), "nor the customer");
    let claim = world.claim(&format!("{}#{ada}", envelope.id)).await.expect("claimed per recipient");
    assert_eq!(s(&claim, "status"), "sent");
    assert_eq!(s(&claim, "kind"), "PaymentDisputed");
}
