//! A failure after each checkout step leaves no stock, coupon or order behind; a database that
//! is down answers 503 with Retry-After and writes nothing; what was committed is published once
//! the topic is back; a checkout that died half-way is undone by the minute job.

use axum::Router;
use axum::body::Body;
use http::{Request, Response, StatusCode};
use serde_json::json;
use shop_testkit::Req;
use tower::ServiceExt;
use uuid::Uuid;

use crate::{App, app, checkout_body};

/// `real`, except that requests whose path contains `fail` (or is `fail` exactly, when it ends
/// in `$`) answer 503 (a dependency dying).
fn failing(real: Router, fail: &'static str) -> Router {
    Router::new().fallback_service(tower::service_fn(move |req: Request<Body>| {
        let real = real.clone();
        async move {
            let path = req.uri().path();
            let hit = match fail.strip_suffix('$') {
                Some(exact) => path == exact,
                None => path.contains(fail),
            };
            if hit {
                return Ok::<_, std::convert::Infallible>(
                    Response::builder().status(StatusCode::SERVICE_UNAVAILABLE).body(Body::from("injected")).unwrap(),
                );
            }
            Ok(real.oneshot(req).await.unwrap())
        }
    }))
}

async fn orders_count(app: &App) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM orders").fetch_one(&app.db().await).await.unwrap()
}

/// Idempotency keys still held (rows of `checkout_requests`).
async fn keys_held(db: &sqlx::PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM checkout_requests").fetch_one(db).await.unwrap()
}

/// A key held by an attempt that never finished: claimed `created_secs_ago` for `order_id`, its
/// lease over `lease_secs_ago`.
async fn held_key(db: &sqlx::PgPool, user: Uuid, key: &str, hash: &str, order_id: Uuid, lease_secs_ago: f64, created_secs_ago: f64) {
    sqlx::query(
        "INSERT INTO checkout_requests (user_id, idempotency_key, request_hash, order_id, state, lease_until, created_at)
         VALUES ($1, $2, $3, $4, 'started', now() - make_interval(secs => $5), now() - make_interval(secs => $6))",
    )
    .bind(user)
    .bind(key)
    .bind(hash)
    .bind(order_id)
    .bind(lease_secs_ago)
    .bind(created_secs_ago)
    .execute(db)
    .await
    .unwrap();
}

#[tokio::test]
async fn a_failure_after_each_step_leaves_nothing_behind_and_the_same_key_then_succeeds() {
    let app = app().await;
    let (who, product) = app.shopper(3_000, 10, 2).await;
    app.apply_coupon(&who, "SAVE10").await;

    // Catalog down (re-pricing): nothing was taken yet.
    shop_internal::register_local(&app.config.catalog_function, failing(app.catalog.clone(), "/internal/products"));
    let r = app.place(&who, "k", checkout_body("card")).await;
    r.expect_problem(503, "dependency_unavailable");
    assert_eq!(r.header("retry-after"), Some("1"));
    shop_internal::register_local(&app.config.catalog_function, app.catalog.clone());

    // Inventory down after the coupon was redeemed: the redemption is given back.
    shop_internal::register_local(&app.config.inventory_function, failing(app.inventory.clone(), "/internal/reservations$"));
    app.place(&who, "k", checkout_body("card")).await.expect_problem(503, "dependency_unavailable");
    shop_internal::register_local(&app.config.inventory_function, app.inventory.clone());
    assert_eq!(app.coupon_uses("SAVE10").await, 0);
    assert_eq!(app.stock(&product).await, (10, 0));

    // The database fails the order's insert (after stock and coupon were taken): both go back.
    let db = app.db().await;
    sqlx::query(
        "CREATE FUNCTION fail_insert() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'injected' USING ERRCODE = '57P01'; END $$ LANGUAGE plpgsql",
    )
    .execute(&db)
    .await
    .unwrap();
    sqlx::query("CREATE TRIGGER fail_insert BEFORE INSERT ON orders FOR EACH ROW EXECUTE FUNCTION fail_insert()")
        .execute(&db)
        .await
        .unwrap();
    let r = app.place(&who, "k", checkout_body("card")).await;
    r.expect_problem(503, "service_unavailable");
    assert_eq!(r.header("retry-after"), Some("1"));
    assert_eq!(app.coupon_uses("SAVE10").await, 0);
    assert_eq!(app.stock(&product).await, (10, 0));
    sqlx::query("DROP TRIGGER fail_insert ON orders").execute(&db).await.unwrap();
    assert_eq!(orders_count(&app).await, 0);

    // Clearing the cart fails after the commit: the order stands (201); the OrderPlaced
    // consumer of the cart clears it instead.
    shop_internal::register_local(&app.config.cart_function, failing(app.cart.clone(), "/checkout"));
    let order = app.place(&who, "k", checkout_body("card")).await.expect(201);
    shop_internal::register_local(&app.config.cart_function, app.cart.clone());
    assert_eq!(app.stock(&product).await, (8, 2));
    assert_eq!(app.coupon_uses("SAVE10").await, 1);
    assert_eq!(app.cart_of(&who).await["items"].as_array().unwrap().len(), 1, "still in the cart");
    let events = app.published(&["OrderPlaced"]).await;
    let placed = events.iter().find(|e| e["type"] == "OrderPlaced").unwrap();
    assert_eq!(placed["data"]["order"]["orderId"], order["id"]);
    let cart_events = app.cart_events().await;
    let record = json!({"Records": [{"messageId": "m1", "eventSource": "aws:sqs", "body": placed.to_string()}]});
    let response = cart_events.handle(serde_json::from_value(record).unwrap()).await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(app.cart_of(&who).await["items"].as_array().unwrap().len(), 0);
    assert_eq!(orders_count(&app).await, 1);
}

#[tokio::test]
async fn postgres_dying_mid_checkout_answers_503_and_once_it_is_back_nothing_is_left_behind() {
    let app = app().await;
    let (who, product) = app.shopper(3_000, 10, 2).await;
    app.apply_coupon(&who, "SAVE10").await;
    let db = app.db().await;
    // The database goes away in the middle of the order's transaction: its backend is killed
    // (as a stopping server does) and no new connection is accepted.
    sqlx::query(
        "CREATE FUNCTION die() RETURNS trigger AS $$ BEGIN
             PERFORM pg_terminate_backend(pg_backend_pid()); RETURN NEW; END $$ LANGUAGE plpgsql",
    )
    .execute(&db)
    .await
    .unwrap();
    sqlx::query("CREATE TRIGGER die BEFORE INSERT ON orders FOR EACH ROW EXECUTE FUNCTION die()").execute(&db).await.unwrap();
    let r = app.place(&who, "k", checkout_body("card")).await;
    r.expect_problem(503, "service_unavailable");
    assert_eq!(r.header("retry-after"), Some("1"));

    // Back up: whether the request undid its steps itself or left them to the minute job, once
    // the job has run nothing is held and nothing was ordered.
    sqlx::query("DROP TRIGGER die ON orders").execute(&db).await.unwrap();
    sqlx::query("UPDATE checkout_requests SET lease_until = now() - interval '5 minutes'").execute(&db).await.unwrap();
    app.run_jobs().await;
    assert_eq!(orders_count(&app).await, 0);
    assert_eq!((app.coupon_uses("SAVE10").await, app.stock(&product).await), (0, (10, 0)));
    let left = keys_held(&db).await;
    assert_eq!(left, 0, "the key was let go");
    // The same key now places the order.
    assert_eq!(app.place(&who, "k", checkout_body("card")).await.expect(201)["status"], "PENDING");
}

#[tokio::test]
async fn a_database_that_is_down_answers_503_with_retry_after_and_nothing_is_taken() {
    let app = app().await;
    let (who, product) = app.shopper(3_000, 10, 1).await;
    let mut config = app.config.clone();
    // Nothing listens on port 1. The function is built as its Lambda entry point builds it: on
    // the first request, answering 503 until the database can be reached.
    config.database = orders::config::Database::url("postgres://postgres@127.0.0.1:1/none");
    let service = shop_core::http::LazyRouter::new(move || {
        let config = config.clone();
        async move { orders::AppState::from_config(&config, shop_testkit::sdk().await).await.map(orders::router) }
    });
    let event = Req::post("/api/orders")
        .header("idempotency-key", "k")
        .json(checkout_body("card"))
        .as_user(&who.0, who.1, &Uuid::now_v7().to_string())
        .event();
    let request = lambda_http::request::from_str(&event.to_string()).unwrap();
    let response = service.oneshot(request).await.unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers().get("retry-after").map(|v| v.to_str().unwrap()), Some("1"));
    assert_eq!(response.headers().get("content-type").map(|v| v.to_str().unwrap()), Some("application/problem+json"));
    assert_eq!(app.stock(&product).await, (10, 0));
}

#[tokio::test]
async fn what_was_committed_is_published_once_the_topic_is_back() {
    let app = app().await;
    let (who, _) = app.shopper(3_000, 10, 1).await;
    let mut config = app.config.clone();
    config.topic_arn = "arn:aws:sns:us-east-1:123456789012:missing".into();
    let cut_off = orders::router(orders::AppState::from_config(&config, shop_testkit::sdk().await).await.unwrap());
    let order = Req::post("/api/orders")
        .header("idempotency-key", "k")
        .json(checkout_body("cod"))
        .as_user(&who.0, who.1, &Uuid::now_v7().to_string())
        .send(&cut_off)
        .await
        .expect(201);
    assert!(app.events().await.is_empty(), "nothing reached the topic");
    let db = app.db().await;
    let waiting: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox WHERE published_at IS NULL").fetch_one(&db).await.unwrap();
    assert_eq!(waiting, 2, "OrderPlaced and OrderConfirmed wait in the outbox");
    // The sweep leaves the newest events to the publish after commit: make these old.
    sqlx::query("UPDATE outbox SET created_at = created_at - interval '1 minute'").execute(&db).await.unwrap();
    assert_eq!(app.run_jobs().await["published"], 2);
    let events = app.published(&["OrderPlaced", "OrderConfirmed"]).await;
    assert_eq!(events.len(), 2);
    assert!(events.iter().all(|e| e["data"]["order"]["orderId"] == order["id"]));
    assert_eq!(app.run_jobs().await["published"], 0, "once");
}

#[tokio::test]
async fn a_checkout_that_died_half_way_is_undone_by_the_minute_job() {
    let app = app().await;
    let (who, product) = app.shopper(3_000, 10, 2).await;
    app.apply_coupon(&who, "SAVE10").await;
    // A request that claimed its key, redeemed and reserved, then died (its lease long gone).
    let order_id = Uuid::now_v7();
    let db = app.db().await;
    held_key(&db, who.id(), "dead", "h", order_id, 300.0, 300.0).await;
    let sdk = shop_testkit::sdk().await;
    let cart = orders::clients::Cart(shop_internal::InternalClient::new(sdk, &app.config.cart_function, "orders"));
    let inventory = orders::clients::Inventory(shop_internal::InternalClient::new(sdk, &app.config.inventory_function, "orders"));
    cart.redeem("SAVE10", order_id, who.id(), 6_000).await.unwrap();
    inventory.reserve(order_id, &[(Uuid::parse_str(&product).unwrap(), 2)], time::Duration::minutes(45)).await.unwrap();
    assert_eq!((app.coupon_uses("SAVE10").await, app.stock(&product).await), (1, (8, 2)));

    let summary = app.run_jobs().await;
    assert_eq!(summary["undone"], 1, "{summary}");
    assert_eq!((app.coupon_uses("SAVE10").await, app.stock(&product).await), (0, (10, 0)));
    let left = keys_held(&db).await;
    assert_eq!(left, 0);
    assert_eq!(app.run_jobs().await["undone"], 0, "once");
}

#[tokio::test]
async fn a_retry_taking_over_a_checkout_already_undone_starts_afresh_and_holds_stock_once() {
    let app = app().await;
    let (who, product) = app.shopper(3_000, 10, 2).await;
    // An attempt claimed key "k" for an order id, was undone (its reservation cancelled before
    // any was made: the cancellation stands for the order id), but could not let the key go.
    let order_id = Uuid::now_v7();
    let request: orders::domain::CheckoutRequest = serde_json::from_value(checkout_body("card")).unwrap();
    let db = app.db().await;
    held_key(&db, who.id(), "k", &orders::checkout::request_hash(&request), order_id, 5.0, 60.0).await;
    let sdk = shop_testkit::sdk().await;
    let inventory = orders::clients::Inventory(shop_internal::InternalClient::new(sdk, &app.config.inventory_function, "orders"));
    inventory.cancel(order_id).await.unwrap();

    // The retry takes the key over, finds the order id cancelled: a retryable 503 that holds
    // nothing and lets the key go.
    let r = app.place(&who, "k", checkout_body("card")).await;
    r.expect_problem(503, "service_unavailable");
    assert_eq!(r.header("retry-after"), Some("1"));
    assert_eq!(app.stock(&product).await, (10, 0));
    let left = keys_held(&db).await;
    assert_eq!(left, 0, "the key was let go");
    // The next retry places the order under a new order id, its units held once.
    let order = app.place(&who, "k", checkout_body("card")).await.expect(201);
    assert_ne!(order["id"], json!(order_id));
    assert_eq!(app.stock(&product).await, (8, 2));
    assert_eq!(orders_count(&app).await, 1);
}

/// `real`, with requests to `path` held for `delay` first (a slow dependency).
fn slow(real: Router, path: &'static str, delay: std::time::Duration) -> Router {
    Router::new().fallback_service(tower::service_fn(move |req: Request<Body>| {
        let real = real.clone();
        async move {
            if req.uri().path() == path {
                tokio::time::sleep(delay).await;
            }
            Ok::<_, std::convert::Infallible>(real.oneshot(req).await.unwrap())
        }
    }))
}

#[tokio::test]
async fn a_replay_waiting_for_a_request_that_fails_gets_its_own_answer_at_once() {
    let app = app().await;
    let (who, product) = app.shopper(3_000, 10, 3).await;
    app.set_stock(&product, 2).await;
    shop_internal::register_local(
        &app.config.inventory_function,
        slow(app.inventory.clone(), "/internal/reservations", std::time::Duration::from_millis(400)),
    );
    let started = std::time::Instant::now();
    let first = app.place(&who, "k", checkout_body("card"));
    let replay = async {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        app.place(&who, "k", checkout_body("card")).await
    };
    let (first, replay) = futures::join!(first, replay);
    first.expect_problem(409, "insufficient_stock");
    // The replay waited while the first held the key, then, the key let go, tried itself.
    replay.expect_problem(409, "insufficient_stock");
    assert!(started.elapsed() < std::time::Duration::from_secs(5), "{:?}", started.elapsed());
    shop_internal::register_local(&app.config.inventory_function, app.inventory.clone());
    app.set_stock(&product, 3).await;
    assert_eq!(app.place(&who, "k", checkout_body("card")).await.expect(201)["status"], "PENDING");
}
