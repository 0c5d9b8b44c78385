//! Cancelled orders (`POST /internal/reservations/{orderId}/cancel`: release or restock, once)
//! and the consumer of order events (`OrderConfirmed` commits, `OrderCancelled` cancels), each
//! delivered several times, concurrently too; stock checked exactly.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use inventory::domain::ReservationStatus;
use inventory::events::Events;
use serde_json::{Value, json};
use shop_aws::events::Publisher;
use shop_internal::CallError;
use uuid::Uuid;

use crate::{Ctx, ctx, refused, seller};

impl Ctx {
    pub async fn cancel(&self, order: Uuid) -> Result<Value, CallError> {
        self.internal.post(&format!("/internal/reservations/{order}/cancel"), &json!({})).await
    }

    pub(crate) async fn status(&self, order: Uuid) -> ReservationStatus {
        self.store.reservation(order).await.unwrap().expect("a reservation").status
    }

    /// (available, reserved) of a product.
    pub(crate) async fn units(&self, id: Uuid) -> (i64, i64) {
        let s = self.stock(id).await;
        (s.available, s.reserved)
    }

    /// The audit entries of a cancelled order's restock on a product.
    pub(crate) async fn restocks(&self, id: Uuid) -> Vec<inventory::domain::AuditEntry> {
        self.store.audit(id).await.unwrap().into_iter().filter(|e| e.reason == "order_cancelled").collect()
    }

    pub(crate) async fn events(&self) -> Events {
        let sqs = aws_sdk_sqs::Client::new(shop_testkit::sdk().await);
        Events::new(self.store.clone(), self.catalog_client.clone(), Publisher::new(sqs, "http://unused", "test"))
    }
}

#[tokio::test]
async fn cancelling_releases_held_stock_and_restocks_sold_stock_exactly_once() {
    let ctx = ctx().await;
    let seller = seller();
    let id = ctx.stocked(&seller, 10, 1).await;

    // Held: released, once, however many calls (concurrent ones included).
    let held = Uuid::now_v7();
    ctx.reserve(held, &[(id, 4)]).await.unwrap();
    assert_eq!(ctx.units(id).await, (6, 4));
    for answer in futures::future::join_all((0..4).map(|_| ctx.cancel(held))).await {
        assert_eq!(answer.unwrap(), json!({"orderId": held, "status": "released"}));
    }
    assert_eq!(ctx.units(id).await, (10, 0));
    assert!(ctx.restocks(id).await.is_empty(), "a release is no restock");

    // Sold: restocked, once, with its audit entry.
    let sold = Uuid::now_v7();
    ctx.reserve(sold, &[(id, 3)]).await.unwrap();
    ctx.commit(sold).await.unwrap();
    assert_eq!(ctx.units(id).await, (7, 0));
    for answer in futures::future::join_all((0..4).map(|_| ctx.cancel(sold))).await {
        assert_eq!(answer.unwrap(), json!({"orderId": sold, "status": "restocked"}));
    }
    assert_eq!(ctx.units(id).await, (10, 0));
    let audit = ctx.restocks(id).await;
    assert_eq!(audit.len(), 1, "{audit:?}");
    assert_eq!((audit[0].delta, audit[0].before, audit[0].after, audit[0].actor), (3, 7, 10, Uuid::nil()));
    assert_eq!(ctx.status(sold).await, ReservationStatus::Restocked);

    // A restocked reservation cannot be committed or reserved again; releasing it is done already.
    let (status, problem) = refused(ctx.commit(sold).await.unwrap_err());
    assert_eq!((status, problem["code"].as_str()), (409, Some("reservation_released")));
    let (status, problem) = refused(ctx.reserve(sold, &[(id, 3)]).await.unwrap_err());
    assert_eq!((status, problem["code"].as_str()), (409, Some("reservation_released")));
    assert_eq!(ctx.release(sold).await.unwrap()["status"], "released");
    assert_eq!(ctx.cancel(sold).await.unwrap()["status"], "restocked");
    assert_eq!(ctx.units(id).await, (10, 0));

    // Expired: nothing to do (its stock went back when it expired).
    let late = Uuid::now_v7();
    let _: Value = ctx
        .internal
        .post("/internal/reservations", &json!({"orderId": late, "lines": [{"productId": id, "quantity": 2}], "ttlSeconds": 60}))
        .await
        .unwrap();
    let events = ctx.events().await;
    events.expire_due(time::OffsetDateTime::now_utc() + time::Duration::minutes(2)).await.unwrap();
    assert_eq!(ctx.cancel(late).await.unwrap(), json!({"orderId": late, "status": "expired"}));
    assert_eq!(ctx.units(id).await, (10, 0));

    // No reservation: 404; a malformed id: 400 naming it.
    let (status, problem) = refused(ctx.cancel(Uuid::now_v7()).await.unwrap_err());
    assert_eq!((status, problem["code"].as_str()), (404, Some("not_found")));
    let (status, problem) = refused(ctx.internal.post::<_, Value>("/internal/reservations/x/cancel", &json!({})).await.unwrap_err());
    assert_eq!(
        (status, problem["code"].as_str(), problem["errors"][0]["field"].as_str()),
        (400, Some("invalid_parameter"), Some("orderId"))
    );
}

#[tokio::test]
async fn a_fifty_line_order_is_restocked_line_by_line_exactly_once() {
    let ctx = ctx().await;
    let seller = seller();
    let ids: Vec<Uuid> = futures::future::join_all((0..50).map(|_| ctx.stocked(&seller, 5, 0))).await;
    let order = Uuid::now_v7();
    let lines: Vec<(Uuid, u32)> = ids.iter().enumerate().map(|(i, id)| (*id, 1 + (i % 3) as u32)).collect();
    ctx.reserve(order, &lines).await.unwrap();
    ctx.commit(order).await.unwrap();
    // Three cancellations at once: more lines than one transaction takes, each restocked once.
    for answer in futures::future::join_all((0..3).map(|_| ctx.cancel(order))).await {
        assert_eq!(answer.unwrap()["status"], "restocked");
    }
    for (id, _) in &lines {
        assert_eq!(ctx.units(*id).await, (5, 0), "{id}");
        assert_eq!(ctx.restocks(*id).await.len(), 1, "{id}");
    }
    assert_eq!(ctx.status(order).await, ReservationStatus::Restocked);
}

/// An SQS batch of bodies (`messageId` = `<prefix><i>`).
pub(crate) fn batch(prefix: &str, bodies: &[String]) -> SqsEvent {
    serde_json::from_value(records(prefix, bodies)).unwrap()
}

fn records(prefix: &str, bodies: &[String]) -> Value {
    let records: Vec<Value> = bodies
        .iter()
        .enumerate()
        .map(|(i, body)| json!({"messageId": format!("{prefix}{i}"), "body": body, "eventSource": "aws:sqs", "receiptHandle": "r"}))
        .collect();
    json!({ "Records": records })
}

pub(crate) fn failed(response: &SqsBatchResponse) -> Vec<String> {
    response.batch_item_failures.iter().map(|f| f.item_identifier.clone()).collect()
}

pub(crate) fn order(order: Uuid, lines: &[(Uuid, u32)]) -> Value {
    let items: Vec<Value> = lines
        .iter()
        .map(|(p, q)| json!({"productId": p, "sellerId": Uuid::now_v7(), "name": "X", "sku": "X-1", "price": 100, "quantity": q}))
        .collect();
    json!({
        "orderId": order, "orderNumber": "SKY-1", "userId": Uuid::now_v7(), "status": "CONFIRMED", "paymentMethod": "card", "items": items,
        "subtotal": 100, "discount": 0, "shippingCost": 999, "tax": 8, "total": 1107, "currency": "usd",
        "shippingAddress": {"firstName": "Ada", "lastName": "L", "address1": "1 Main St", "city": "Paris", "state": "IDF", "postalCode": "75001", "country": "FR"},
        "placedAt": "2026-01-01T00:00:00Z",
    })
}

pub(crate) fn envelope(kind: &str, data: Value) -> String {
    json!({"id": Uuid::now_v7(), "type": kind, "source": "orders", "occurredAt": "2026-01-01T00:00:00Z", "data": data}).to_string()
}

pub(crate) fn confirmed(id: Uuid, lines: &[(Uuid, u32)]) -> String {
    envelope("OrderConfirmed", json!({"order": order(id, lines), "paymentId": "pi_1", "confirmedAt": "2026-01-01T00:00:00Z"}))
}

fn cancelled(id: Uuid, lines: &[(Uuid, u32)]) -> String {
    envelope(
        "OrderCancelled",
        json!({"order": order(id, lines), "previousStatus": "CONFIRMED", "reason": "customer_request", "cancelledBy": "customer",
            "cancelledAt": "2026-01-01T01:00:00Z"}),
    )
}

#[tokio::test]
async fn order_events_commit_cancel_and_restock_exactly_once_however_often_delivered() {
    let ctx = ctx().await;
    let seller = seller();
    let events = ctx.events().await;
    let id = ctx.stocked(&seller, 20, 1).await;

    // Confirmed three times (two in one batch, one concurrently in another): committed once.
    let paid = Uuid::now_v7();
    ctx.reserve(paid, &[(id, 4)]).await.unwrap();
    let event = confirmed(paid, &[(id, 4)]);
    let (a, b) =
        tokio::join!(events.handle_orders(batch("a", &[event.clone(), event.clone()])), events.handle_orders(batch("b", &[event])));
    assert!(failed(&a).is_empty() && failed(&b).is_empty());
    assert_eq!(ctx.units(id).await, (16, 0), "sold once");
    assert_eq!(ctx.status(paid).await, ReservationStatus::Committed);

    // Then cancelled three times, concurrently: restocked once.
    let event = cancelled(paid, &[(id, 4)]);
    let (a, b) =
        tokio::join!(events.handle_orders(batch("a", &[event.clone(), event.clone()])), events.handle_orders(batch("b", &[event])));
    assert!(failed(&a).is_empty() && failed(&b).is_empty());
    assert_eq!(ctx.units(id).await, (20, 0), "back in stock once");
    assert_eq!(ctx.restocks(id).await.len(), 1);
    assert_eq!(ctx.status(paid).await, ReservationStatus::Restocked);

    // A held order cancelled three times: released once; a late confirmation is refused and
    // acknowledged (the payments work handles late payments).
    let unpaid = Uuid::now_v7();
    ctx.reserve(unpaid, &[(id, 5)]).await.unwrap();
    assert_eq!(ctx.units(id).await, (15, 5));
    let event = cancelled(unpaid, &[(id, 5)]);
    let (a, b) =
        tokio::join!(events.handle_orders(batch("a", &[event.clone(), event.clone()])), events.handle_orders(batch("b", &[event])));
    assert!(failed(&a).is_empty() && failed(&b).is_empty());
    assert_eq!(ctx.units(id).await, (20, 0));
    assert_eq!(ctx.status(unpaid).await, ReservationStatus::Released);
    let late = events.handle_orders(batch("c", &[confirmed(unpaid, &[(id, 5)])])).await;
    assert!(failed(&late).is_empty(), "acknowledged");
    assert_eq!(ctx.status(unpaid).await, ReservationStatus::Released);
    assert_eq!(ctx.units(id).await, (20, 0));
    assert!(ctx.restocks(id).await.len() == 1, "a release is no restock");

    // Orders without a reservation and other types are acknowledged; malformed records fail alone.
    let unknown = Uuid::now_v7();
    let bodies = [
        confirmed(unknown, &[(id, 1)]),
        cancelled(unknown, &[(id, 1)]),
        envelope("OrderShipped", json!({"whatever": 1})),
        "not json".to_owned(),
        envelope("OrderConfirmed", json!({"order": {"orderId": "x"}})),
    ];
    let response = events.handle_orders(batch("d", &bodies)).await;
    assert_eq!(failed(&response), vec!["d3".to_owned(), "d4".to_owned()]);
    assert_eq!(ctx.units(id).await, (20, 0));

    // Through the Lambda entry point, which tells SQS batches from stream batches.
    let again = Uuid::now_v7();
    ctx.reserve(again, &[(id, 2)]).await.unwrap();
    let answer = events.invoke(records("e", &[confirmed(again, &[(id, 2)]), "{}".to_owned()])).await.unwrap();
    assert_eq!(answer, json!({"batchItemFailures": [{"itemIdentifier": "e1"}]}));
    assert_eq!(ctx.status(again).await, ReservationStatus::Committed);
    assert_eq!(ctx.units(id).await, (18, 0));
}
