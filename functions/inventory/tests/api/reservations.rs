//! Internal routes: availability, reservations (all or nothing, idempotent, never oversold),
//! commit, release and expiry.

use serde_json::json;
use shop_testkit::Req;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{ctx, refused, seller};

#[tokio::test]
async fn internal_routes_are_not_reachable_through_the_api() {
    let ctx = ctx().await;
    let r = Req::post("/internal/availability").json(json!({"productIds": [Uuid::now_v7()]})).send(&ctx.router).await;
    assert_eq!(r.status, 404);
    let r = ctx.send_as(&ctx.admin, Req::post("/internal/reservations").json(json!({}))).await;
    assert_eq!(r.status, 404);
}

#[tokio::test]
async fn availability_answers_for_every_product_asked() {
    let ctx = ctx().await;
    let seller = seller();
    let (a, b) = (ctx.stocked(&seller, 4, 10).await, ctx.stocked(&seller, 0, 10).await);
    let none = Uuid::now_v7();
    let body: serde_json::Value = ctx.internal.post("/internal/availability", &json!({"productIds": [none, a, b]})).await.unwrap();
    assert_eq!(
        body,
        json!({"items": [
            {"productId": none, "available": 0, "inStock": false},
            {"productId": a, "available": 4, "inStock": true},
            {"productId": b, "available": 0, "inStock": false},
        ]})
    );
    let (status, problem) =
        refused(ctx.internal.post::<_, serde_json::Value>("/internal/availability", &json!({"productIds": []})).await.unwrap_err());
    assert_eq!((status, problem["errors"][0]["field"].as_str()), (422, Some("productIds")));
}

#[tokio::test]
async fn a_reservation_holds_every_line_or_none() {
    let ctx = ctx().await;
    let seller = seller();
    let (a, b) = (ctx.stocked(&seller, 5, 1).await, ctx.stocked(&seller, 2, 1).await);
    let order = Uuid::now_v7();
    let (status, problem) = refused(ctx.reserve(order, &[(a, 3), (b, 3)]).await.unwrap_err());
    assert_eq!(status, 409);
    assert_eq!(problem["code"], "insufficient_stock");
    assert_eq!(problem["errors"].as_array().unwrap().len(), 1);
    assert_eq!(problem["errors"][0]["field"], "lines[1].quantity");
    assert_eq!((ctx.stock(a).await.available, ctx.stock(b).await.available), (5, 2), "nothing held");
    // A product without stock is never reservable.
    let (status, problem) = refused(ctx.reserve(Uuid::now_v7(), &[(Uuid::now_v7(), 1)]).await.unwrap_err());
    assert_eq!((status, problem["errors"][0]["field"].as_str()), (409, Some("lines[0].quantity")));

    let r = ctx.reserve(order, &[(a, 3), (b, 2)]).await.unwrap();
    assert_eq!(r["orderId"], order.to_string());
    assert_eq!(r["status"], "reserved");
    assert_eq!(r["lines"], json!([{"productId": a, "quantity": 3}, {"productId": b, "quantity": 2}]));
    let expires = OffsetDateTime::parse(r["expiresAt"].as_str().unwrap(), &time::format_description::well_known::Rfc3339).unwrap();
    let ttl = (expires - OffsetDateTime::now_utc()).whole_seconds();
    assert!((890..=900).contains(&ttl), "default 900 s, got {ttl}");
    let (sa, sb) = (ctx.stock(a).await, ctx.stock(b).await);
    assert_eq!((sa.available, sa.reserved, sb.available, sb.reserved), (2, 3, 0, 2));
}

#[tokio::test]
async fn bad_reservations_name_the_field() {
    let ctx = ctx().await;
    let p = Uuid::now_v7();
    for (body, field) in [
        (json!({"orderId": Uuid::now_v7(), "lines": []}), "lines"),
        (json!({"orderId": Uuid::now_v7(), "lines": [{"productId": p, "quantity": 0}]}), "lines[0].quantity"),
        (json!({"orderId": Uuid::now_v7(), "lines": [{"productId": p, "quantity": 100}]}), "lines[0].quantity"),
        (
            json!({"orderId": Uuid::now_v7(), "lines": [{"productId": p, "quantity": 1}, {"productId": p, "quantity": 1}]}),
            "lines[1].productId",
        ),
        (json!({"orderId": "x", "lines": [{"productId": p, "quantity": 1}]}), "orderId"),
        (json!({"orderId": Uuid::now_v7(), "lines": [{"productId": p, "quantity": 1}], "ttlSeconds": 5}), "ttlSeconds"),
    ] {
        let (status, problem) = refused(ctx.internal.post::<_, serde_json::Value>("/internal/reservations", &body).await.unwrap_err());
        assert_eq!(status, 422, "{body}");
        assert_eq!(problem["errors"][0]["field"], field, "{body}: {problem}");
    }
    let (status, problem) = refused(ctx.commit(Uuid::now_v7()).await.unwrap_err());
    assert_eq!((status, problem["code"].as_str()), (404, Some("not_found")));
    let (status, _) =
        refused(ctx.internal.post::<_, serde_json::Value>("/internal/reservations/nope/release", &json!({})).await.unwrap_err());
    assert_eq!(status, 400);
}

#[tokio::test]
async fn two_hundred_concurrent_reservations_for_twenty_units_never_oversell() {
    let ctx = ctx().await;
    let seller = seller();
    let id = ctx.stocked(&seller, 20, 5).await;
    let results = futures::future::join_all((0..200).map(|_| ctx.reserve(Uuid::now_v7(), &[(id, 1)]))).await;
    let mut ok = 0;
    for result in results {
        match result {
            Ok(r) => {
                assert_eq!(r["status"], "reserved");
                ok += 1;
            }
            Err(err) => {
                let (status, problem) = refused(err);
                assert_eq!((status, problem["code"].as_str()), (409, Some("insufficient_stock")), "{problem}");
            }
        }
    }
    assert_eq!(ok, 20, "exactly the 20 units were reserved");
    let stock = ctx.stock(id).await;
    assert_eq!((stock.available, stock.reserved), (0, 20));
    assert_eq!(stock.version, 1 + 20, "one stock change per reservation");
}

/// With no retry budget every lost race is answered at once: a retryable 503
/// `contended` that wrote nothing, never a 500, and the units still add up.
#[tokio::test]
async fn contention_beyond_the_retry_budget_is_a_retryable_503_that_changes_nothing() {
    let ctx = ctx().await;
    let seller = seller();
    let id = ctx.stocked(&seller, 1_000, 5).await;
    let store = ctx.store.clone().with_retry_budget(std::time::Duration::ZERO);
    let name = shop_testkit::unique("inventory-impatient");
    shop_internal::register_local(&name, inventory::router(inventory::AppState::new(store, ctx.catalog_client.clone())));
    let policy = shop_internal::CallPolicy {
        attempt_timeout: std::time::Duration::from_secs(60),
        attempts: 1,
        breaker_threshold: 1_000,
        ..shop_internal::CallPolicy::default()
    };
    let client = shop_internal::InternalClient::with_policy(shop_testkit::sdk().await, &name, "orders", policy);
    let results = futures::future::join_all((0..40).map(|_| {
        let client = client.clone();
        async move {
            let body = json!({"orderId": Uuid::now_v7(), "lines": [{"productId": id, "quantity": 1}]});
            client.post::<_, serde_json::Value>("/internal/reservations", &body).await
        }
    }))
    .await;
    let (mut reserved, mut contended) = (0, 0);
    for result in results {
        match result {
            Ok(r) => {
                assert_eq!(r["status"], "reserved");
                reserved += 1;
            }
            Err(err) => {
                let (status, problem) = refused(err);
                assert_eq!((status, problem["code"].as_str()), (503, Some("contended")), "{problem}");
                contended += 1;
            }
        }
    }
    assert_eq!(reserved + contended, 40);
    let stock = ctx.stock(id).await;
    assert_eq!((stock.available, stock.reserved), (1_000 - reserved, reserved), "only the answered reservations took units");
}

#[tokio::test]
async fn repeating_reserve_commit_and_release_changes_stock_once() {
    let ctx = ctx().await;
    let seller = seller();
    let id = ctx.stocked(&seller, 10, 1).await;
    let order = Uuid::now_v7();
    let first = ctx.reserve(order, &[(id, 4)]).await.unwrap();
    // Repeats of the same request (also concurrent ones) return the same reservation; the same
    // order id with other lines is a conflict that changes nothing.
    let repeats = futures::future::join_all((0..5).map(|_| ctx.reserve(order, &[(id, 4)]))).await;
    for r in repeats {
        assert_eq!(r.unwrap(), first);
    }
    let (status, problem) = refused(ctx.reserve(order, &[(id, 1)]).await.unwrap_err());
    assert_eq!(
        (status, problem["code"].as_str(), problem["errors"][0]["field"].as_str()),
        (409, Some("reservation_mismatch"), Some("lines"))
    );
    assert_eq!(ctx.stock(id).await.available, 6);

    let commits = futures::future::join_all((0..4).map(|_| ctx.commit(order))).await;
    for c in commits {
        assert_eq!(c.unwrap(), json!({"orderId": order, "status": "committed"}));
    }
    let stock = ctx.stock(id).await;
    assert_eq!((stock.available, stock.reserved), (6, 0), "sold: not back in stock, no longer reserved");
    let (status, problem) = refused(ctx.release(order).await.unwrap_err());
    assert_eq!((status, problem["code"].as_str()), (409, Some("reservation_committed")));

    // Release returns the units exactly once.
    let other = Uuid::now_v7();
    ctx.reserve(other, &[(id, 5)]).await.unwrap();
    assert_eq!(ctx.stock(id).await.available, 1);
    let releases = futures::future::join_all((0..6).map(|_| ctx.release(other))).await;
    for r in releases {
        assert_eq!(r.unwrap(), json!({"orderId": other, "status": "released"}));
    }
    let stock = ctx.stock(id).await;
    assert_eq!((stock.available, stock.reserved), (6, 0));
    let (status, problem) = refused(ctx.commit(other).await.unwrap_err());
    assert_eq!((status, problem["code"].as_str()), (409, Some("reservation_released")));
    // Re-reserving a released order id does not reserve again, and says so (never a 200 for
    // stock that is not held).
    let (status, problem) = refused(ctx.reserve(other, &[(id, 5)]).await.unwrap_err());
    assert_eq!((status, problem["code"].as_str()), (409, Some("reservation_released")));
    assert_eq!(ctx.stock(id).await.available, 6);
}

/// A checkout undone (its reservation cancelled) before its reserve arrived — an attempt that
/// outlived the caller who gave up on it — must not hold stock for an order that will never exist.
#[tokio::test]
async fn a_reserve_arriving_after_its_order_was_cancelled_takes_nothing() {
    let ctx = ctx().await;
    let seller = seller();
    let id = ctx.stocked(&seller, 10, 1).await;
    let order = Uuid::now_v7();
    let (status, problem) = refused(ctx.cancel(order).await.unwrap_err());
    assert_eq!((status, problem["code"].as_str()), (404, Some("not_found")), "nothing was reserved");

    let (status, problem) = refused(ctx.reserve(order, &[(id, 4)]).await.unwrap_err());
    assert_eq!((status, problem["code"].as_str()), (409, Some("reservation_released")));
    let stock = ctx.stock(id).await;
    assert_eq!((stock.available, stock.reserved), (10, 0), "no unit taken");
    // Cancelling again answers the cancellation that stands; a commit is refused.
    assert_eq!(ctx.cancel(order).await.unwrap(), json!({"orderId": order, "status": "released"}));
    let (status, problem) = refused(ctx.commit(order).await.unwrap_err());
    assert_eq!((status, problem["code"].as_str()), (409, Some("reservation_released")));

    // Cancel and reserve racing: either the reservation is made and then released, or the
    // cancellation stands first and nothing is taken; never units held afterwards.
    for _ in 0..10 {
        let order = Uuid::now_v7();
        let (reserved, cancelled) = futures::join!(ctx.reserve(order, &[(id, 1)]), ctx.cancel(order));
        let cancelled = match cancelled {
            Ok(_) => true,
            Err(e) => refused(e).0 == 404,
        };
        assert!(cancelled, "the cancellation stands either way");
        if let Err(e) = reserved {
            assert_eq!(refused(e).1["code"].as_str(), Some("reservation_released"));
        }
        let stock = ctx.stock(id).await;
        assert_eq!((stock.available, stock.reserved), (10, 0), "no unit held after cancel and reserve raced");
    }
}

#[tokio::test]
async fn expired_reservations_are_released_exactly_once() {
    let ctx = ctx().await;
    let seller = seller();
    let id = ctx.stocked(&seller, 10, 1).await;
    let (late, fresh) = (Uuid::now_v7(), Uuid::now_v7());
    let lines = |q: u32| json!([{"productId": id, "quantity": q}]);
    let _: serde_json::Value =
        ctx.internal.post("/internal/reservations", &json!({"orderId": late, "lines": lines(3), "ttlSeconds": 60})).await.unwrap();
    let _: serde_json::Value = ctx.internal.post("/internal/reservations", &json!({"orderId": fresh, "lines": lines(2)})).await.unwrap();
    assert_eq!(ctx.stock(id).await.available, 5);

    let events = inventory::events::Events::new(
        ctx.store.clone(),
        ctx.catalog_client.clone(),
        shop_aws::events::Publisher::new(aws_sdk_sqs::Client::new(shop_testkit::sdk().await), "http://unused", "test"),
    );
    // Nothing is due yet.
    assert_eq!(events.expire_due(OffsetDateTime::now_utc()).await.unwrap().expired, 0);
    // Two minutes later (as the schedule would see it), twice at once.
    let later = OffsetDateTime::now_utc() + time::Duration::minutes(2);
    let (one, two) = tokio::join!(events.expire_due(later), events.expire_due(later));
    assert_eq!(one.unwrap().expired + two.unwrap().expired, 1, "released by exactly one run");
    assert_eq!(events.expire_due(later).await.unwrap(), inventory::events::ExpiryReport { due: 0, expired: 0 }, "no longer indexed");
    let stock = ctx.stock(id).await;
    assert_eq!((stock.available, stock.reserved), (8, 2), "the late one's 3 units are back; the fresh one still holds 2");

    assert_eq!(ctx.store.reservation(late).await.unwrap().unwrap().status, inventory::domain::ReservationStatus::Expired);
    // An expired reservation cannot be committed; releasing it is a no-op success.
    let (status, problem) = refused(ctx.commit(late).await.unwrap_err());
    assert_eq!((status, problem["code"].as_str()), (409, Some("reservation_released")));
    assert_eq!(ctx.release(late).await.unwrap()["status"], "released");
    assert_eq!(ctx.stock(id).await.available, 8);
    // The scheduled-event entry point runs the same job.
    let report = events.invoke(json!({"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}})).await.unwrap();
    assert_eq!(report, json!({"due": 0, "expired": 0}));
}
