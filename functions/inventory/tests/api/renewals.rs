//! Late payments (`POST /internal/reservations/{orderId}/renew`: the order's stock held again,
//! once, every line or none), the cancellations a renewal makes stale, and refunds
//! (`OrderRefunded`: the units back once when asked).

use inventory::domain::ReservationStatus;
use serde_json::{Value, json};
use shop_core::time::Timestamp;
use shop_internal::CallError;
use shop_testkit::Req;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::orders::{batch, confirmed, envelope, failed, order};
use crate::{Ctx, ctx, refused, seller};

impl Ctx {
    async fn renew(&self, order: Uuid, lines: &[(Uuid, u32)]) -> Result<Value, CallError> {
        let lines: Vec<Value> = lines.iter().map(|(p, q)| json!({"productId": p, "quantity": q})).collect();
        self.internal.post(&format!("/internal/reservations/{order}/renew"), &json!({"lines": lines, "ttlSeconds": 600})).await
    }

    /// Holds `quantity` of `product` for `order` for a minute.
    async fn reserve_briefly(&self, order: Uuid, product: Uuid, quantity: u32) {
        let body = json!({"orderId": order, "lines": [{"productId": product, "quantity": quantity}], "ttlSeconds": 60});
        let _: Value = self.internal.post("/internal/reservations", &body).await.unwrap();
    }
}

fn cancelled_at(id: Uuid, lines: &[(Uuid, u32)], at: OffsetDateTime) -> String {
    envelope(
        "OrderCancelled",
        json!({"order": order(id, lines), "previousStatus": "PENDING", "reason": "payment_timeout", "cancelledBy": "system",
            "cancelledAt": Timestamp::from(at)}),
    )
}

fn refunded(id: Uuid, lines: &[(Uuid, u32)], previous: &str, restock: bool) -> String {
    envelope(
        "OrderRefunded",
        json!({"order": order(id, lines), "previousStatus": previous, "restock": restock, "refundAmount": 1107,
            "refundedAt": "2026-01-02T00:00:00Z"}),
    )
}

#[tokio::test]
async fn a_renewal_holds_the_stock_again_once_every_line_or_none() {
    let ctx = ctx().await;
    let seller = seller();
    let events = ctx.events().await;
    let id = ctx.stocked(&seller, 10, 1).await;

    // Expired: held again with a new expiry, once however many renewals race.
    let expired = Uuid::now_v7();
    ctx.reserve_briefly(expired, id, 3).await;
    events.expire_due(OffsetDateTime::now_utc() + time::Duration::minutes(2)).await.unwrap();
    assert_eq!((ctx.units(id).await, ctx.status(expired).await), ((10, 0), ReservationStatus::Expired));
    let lines = [(id, 3)];
    for answer in futures::future::join_all((0..5).map(|_| ctx.renew(expired, &lines))).await {
        let answer = answer.unwrap();
        assert_eq!(answer["status"], "reserved", "{answer}");
    }
    assert_eq!(ctx.units(id).await, (7, 3), "taken once");
    let stored = ctx.store.reservation(expired).await.unwrap().unwrap();
    assert!(stored.expires_at > OffsetDateTime::now_utc() + time::Duration::minutes(9), "{stored:?}");
    assert!(stored.renewed_at.is_some());
    // Not expired again by the schedule before its new expiry; then committed normally.
    assert_eq!(events.expire_due(OffsetDateTime::now_utc() + time::Duration::minutes(2)).await.unwrap().expired, 0);
    assert_eq!(ctx.commit(expired).await.unwrap()["status"], "committed");
    assert_eq!(ctx.units(id).await, (7, 0));
    // Committed: answered as it is (sold), nothing taken.
    assert_eq!(ctx.renew(expired, &[(id, 3)]).await.unwrap()["status"], "committed");
    assert_eq!(ctx.units(id).await, (7, 0));

    // Released: the same.
    let released = Uuid::now_v7();
    ctx.reserve(released, &[(id, 2)]).await.unwrap();
    ctx.release(released).await.unwrap();
    assert_eq!(ctx.renew(released, &[(id, 2)]).await.unwrap()["status"], "reserved");
    assert_eq!(ctx.units(id).await, (5, 2));

    // Still held (past its expiry, the schedule not yet run): kept, its expiry pushed on; nothing taken twice.
    let held = Uuid::now_v7();
    ctx.reserve_briefly(held, id, 1).await;
    assert_eq!(ctx.renew(held, &[(id, 1)]).await.unwrap()["status"], "reserved");
    assert_eq!(ctx.units(id).await, (4, 3));
    assert_eq!(events.expire_due(OffsetDateTime::now_utc() + time::Duration::minutes(2)).await.unwrap().expired, 0, "pushed on");

    // None: created as a reservation is.
    let fresh = Uuid::now_v7();
    let created = ctx.renew(fresh, &[(id, 1)]).await.unwrap();
    assert_eq!(created["status"], "reserved");
    assert!(created["renewedAt"].is_string(), "a renewal, for the cancellations before it: {created}");
    assert_eq!(ctx.units(id).await, (3, 4));

    // Other lines: refused, nothing changed.
    let (status, problem) = refused(ctx.renew(fresh, &[(id, 2)]).await.unwrap_err());
    assert_eq!((status, problem["code"].as_str()), (409, Some("reservation_mismatch")));

    // Restocked (sold, then cancelled): not renewed.
    let (status, problem) = {
        let sold = Uuid::now_v7();
        ctx.reserve(sold, &[(id, 1)]).await.unwrap();
        ctx.commit(sold).await.unwrap();
        ctx.cancel(sold).await.unwrap();
        refused(ctx.renew(sold, &[(id, 1)]).await.unwrap_err())
    };
    assert_eq!((status, problem["code"].as_str()), (409, Some("reservation_released")));
    assert_eq!(ctx.units(id).await, (3, 4));
}

#[tokio::test]
async fn a_renewal_short_of_stock_takes_nothing_and_names_the_lines() {
    let ctx = ctx().await;
    let seller = seller();
    let (plenty, scarce) = (ctx.stocked(&seller, 10, 1).await, ctx.stocked(&seller, 3, 1).await);
    let late = Uuid::now_v7();
    let lines = [(plenty, 2), (scarce, 3)];
    ctx.reserve(late, &lines).await.unwrap();
    ctx.release(late).await.unwrap();
    // Meanwhile the scarce product sold out but one.
    ctx.send_as(&seller, Req::put(&format!("/api/inventory/{scarce}")).json(json!({"available": 1}))).await.expect(200);
    let (status, problem) = refused(ctx.renew(late, &lines).await.unwrap_err());
    assert_eq!((status, problem["code"].as_str()), (409, Some("insufficient_stock")));
    assert_eq!(problem["errors"].as_array().unwrap().len(), 1, "{problem}");
    assert_eq!(problem["errors"][0]["field"], "lines[1].quantity");
    assert_eq!((ctx.units(plenty).await, ctx.units(scarce).await), ((10, 0), (1, 0)), "nothing taken");
    assert_eq!(ctx.status(late).await, ReservationStatus::Released);
}

#[tokio::test]
async fn a_cancellation_from_before_a_renewal_releases_nothing_and_a_later_one_does() {
    let ctx = ctx().await;
    let seller = seller();
    let events = ctx.events().await;
    let id = ctx.stocked(&seller, 10, 1).await;

    // The expiry job cancelled the order, its OrderCancelled still in flight, when the late
    // payment renewed the (still held) reservation: that OrderCancelled, delivered now and
    // again after the commit, changes nothing.
    let order_id = Uuid::now_v7();
    ctx.reserve_briefly(order_id, id, 2).await;
    let cancelled = OffsetDateTime::now_utc() - time::Duration::seconds(1);
    ctx.renew(order_id, &[(id, 2)]).await.unwrap();
    let stale = cancelled_at(order_id, &[(id, 2)], cancelled);
    assert!(failed(&events.handle_orders(batch("a", &[stale.clone(), stale.clone()])).await).is_empty());
    assert_eq!((ctx.units(id).await, ctx.status(order_id).await), ((8, 2), ReservationStatus::Reserved));
    assert!(failed(&events.handle_orders(batch("b", &[confirmed(order_id, &[(id, 2)]), stale])).await).is_empty());
    assert_eq!((ctx.units(id).await, ctx.status(order_id).await), ((8, 0), ReservationStatus::Committed));

    // A cancellation after the renewal (the confirmed order cancelled later) restocks as ever.
    let later = cancelled_at(order_id, &[(id, 2)], OffsetDateTime::now_utc() + time::Duration::seconds(1));
    assert!(failed(&events.handle_orders(batch("c", &[later])).await).is_empty());
    assert_eq!((ctx.units(id).await, ctx.status(order_id).await), ((10, 0), ReservationStatus::Restocked));

    // Released by its cancellation before the renewal: the redelivered event leaves the renewed stock held.
    let other = Uuid::now_v7();
    ctx.reserve(other, &[(id, 4)]).await.unwrap();
    let cancelled = cancelled_at(other, &[(id, 4)], OffsetDateTime::now_utc());
    assert!(failed(&events.handle_orders(batch("d", std::slice::from_ref(&cancelled))).await).is_empty());
    assert_eq!(ctx.units(id).await, (10, 0));
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    ctx.renew(other, &[(id, 4)]).await.unwrap();
    assert!(failed(&events.handle_orders(batch("e", &[cancelled])).await).is_empty());
    assert_eq!((ctx.units(id).await, ctx.status(other).await), ((6, 4), ReservationStatus::Reserved));
}

#[tokio::test]
async fn a_refund_puts_the_units_back_once_only_when_asked() {
    let ctx = ctx().await;
    let seller = seller();
    let events = ctx.events().await;
    let id = ctx.stocked(&seller, 20, 1).await;

    let refund = Uuid::now_v7();
    ctx.reserve(refund, &[(id, 4)]).await.unwrap();
    ctx.commit(refund).await.unwrap();
    let keep = Uuid::now_v7();
    ctx.reserve(keep, &[(id, 3)]).await.unwrap();
    ctx.commit(keep).await.unwrap();
    assert_eq!(ctx.units(id).await, (13, 0));

    // Goods back (delivered three times, two batches at once): restocked once, audited.
    let event = refunded(refund, &[(id, 4)], "CONFIRMED", true);
    let (a, b) =
        tokio::join!(events.handle_orders(batch("a", &[event.clone(), event.clone()])), events.handle_orders(batch("b", &[event])));
    assert!(failed(&a).is_empty() && failed(&b).is_empty());
    assert_eq!(ctx.units(id).await, (17, 0));
    assert_eq!(ctx.status(refund).await, ReservationStatus::Restocked);
    let audit: Vec<_> = ctx.store.audit(id).await.unwrap().into_iter().filter(|e| e.reason == "order_refunded").collect();
    assert_eq!(audit.len(), 1, "{audit:?}");
    assert_eq!((audit[0].delta, audit[0].before, audit[0].after), (4, 13, 17));

    // Goods kept by the customer (delivered, refunded without restock): nothing.
    let response = events.handle_orders(batch("c", &[refunded(keep, &[(id, 3)], "DELIVERED", false)])).await;
    assert!(failed(&response).is_empty());
    assert_eq!((ctx.units(id).await, ctx.status(keep).await), ((17, 0), ReservationStatus::Committed));
}
