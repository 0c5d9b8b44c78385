//! Checkout: `POST /api/orders` with an `Idempotency-Key`, exactly once by construction.
//!
//! 1. The key is claimed in Postgres (`checkout_requests`, per user) with a hash of the body
//!    and a fresh order id. A completed key answers its stored response (200, the same body);
//!    another body under the key is 422; a key held by a running request waits for it.
//! 2. The steps, each idempotent by the order id, each undone if a later one fails: read the
//!    caller's cart → re-price every line from the catalog and snapshot it → redeem the cart's
//!    coupon → reserve stock for every line → ONE transaction: order + lines + history +
//!    outbox events + the key completed with the response.
//! 3. After the commit: the ordered lines leave the cart, the events are published.
//!
//! A request that dies half-way leaves its key `started`; once its lease has run out a retry
//! with the same key runs the same steps again for the same order id (they are idempotent), or
//! the minute job undoes them (release stock and coupon) when nobody retries. A Postgres
//! failure is never undone inline unless the order is known not to exist: a commit whose
//! acknowledgement was lost must keep its stock.

use std::collections::HashMap;

use futures::future::join_all;
use http::StatusCode;
use serde_json::Value;
use shop_aws::messages::orders::{Address, Line, OrderConfirmed, OrderPlaced};
use shop_core::money::Totals;
use shop_core::time::Timestamp;
use shop_core::{ApiError, ApiResult, FieldError};
use shop_internal::CallError;
use uuid::Uuid;

use crate::AppState;
use crate::domain::{CheckoutRequest, MAX_KEY_LEN, MAX_LINES, Order, PAYMENT_WINDOW, PaymentMethod, RESERVATION_GRACE, Status};
use crate::store::{Begin, Inserted, OutboxEvent, StoreError};

/// How long a replay waits for the request holding its key to finish (within the function's own
/// 10 s timeout).
const REPLAY_WAIT: std::time::Duration = std::time::Duration::from_secs(7);
/// Most tries at a unique order number.
const NUMBER_TRIES: usize = 3;

/// The answer: 201 for the request that placed the order, 200 for a replay, same body.
#[derive(Debug)]
pub struct Placed {
    pub status: StatusCode,
    pub body: Value,
}

/// `Idempotency-Key`: 1 to 255 visible ASCII characters.
pub fn check_key(value: Option<&http::HeaderValue>) -> ApiResult<String> {
    shop_core::extract::idempotency_key(value, MAX_KEY_LEN)
}

/// SHA-256 of the request as parsed (field order and whitespace do not matter).
pub fn request_hash(request: &CheckoutRequest) -> String {
    let text = serde_json::to_string(request).unwrap_or_default();
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, text.as_bytes()).as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// Places the caller's order.
pub async fn place(state: &AppState, user: Uuid, key: &str, request: CheckoutRequest) -> ApiResult<Placed> {
    checkout(state, user, key, request, true).await
}

/// A replay's own attempt after the request it waited for let the key go: it does not wait again.
async fn place_once(state: &AppState, user: Uuid, key: &str, request: CheckoutRequest) -> ApiResult<Placed> {
    checkout(state, user, key, request, false).await
}

async fn checkout(state: &AppState, user: Uuid, key: &str, request: CheckoutRequest, may_retry: bool) -> ApiResult<Placed> {
    let mut laps = Laps::new();
    let hash = request_hash(&request);
    let order_id = match state.store.begin_checkout(user, key, &hash, time::OffsetDateTime::now_utc()).await? {
        Begin::Fresh(id) | Begin::TakenOver(id) => id,
        Begin::Done(body) => return Ok(Placed { status: StatusCode::OK, body }),
        Begin::Mismatch => return Err(key_reused()),
        Begin::InProgress => return wait_for(state, user, key, may_retry.then_some(request)).await,
    };
    let mut undo = Undo::default();
    let outcome = run(state, user, key, order_id, &request, &mut undo, &mut laps).await;
    match outcome {
        Ok(Done::Placed(body, order, events)) => {
            after_commit(state, &order, &events).await;
            laps.lap("after_commit");
            laps.log("placed");
            shop_core::metrics::count(crate::CALLER, "OrderPlaced");
            shop_core::metrics::amount(crate::CALLER, "Revenue", order.totals.total);
            Ok(Placed { status: StatusCode::CREATED, body })
        }
        Ok(Done::ByAnother) => wait_for(state, user, key, None).await,
        Err(Failure { error, postgres }) => {
            compensate(state, user, key, order_id, undo, postgres).await;
            laps.lap("undo");
            laps.log(error.code());
            Err(error)
        }
    }
}

/// Where the time of one checkout goes: one log line per checkout (`checkout steps`) with the
/// microseconds of each step, the benchmark's breakdown.
#[derive(Debug)]
struct Laps {
    last: std::time::Instant,
    laps: Vec<(&'static str, u128)>,
}

impl Laps {
    fn new() -> Self {
        Self { last: std::time::Instant::now(), laps: Vec::new() }
    }

    /// Closes the step named `name`.
    fn lap(&mut self, name: &'static str) {
        let now = std::time::Instant::now();
        self.laps.push((name, (now - self.last).as_micros()));
        self.last = now;
    }

    fn log(&self, outcome: &str) {
        let steps: serde_json::Map<String, Value> = self.laps.iter().map(|(n, us)| ((*n).to_owned(), Value::from(*us as u64))).collect();
        let total: u128 = self.laps.iter().map(|(_, us)| us).sum();
        let steps = Value::Object(steps);
        tracing::info!(outcome, total_us = total as u64, steps_us = %steps, "checkout steps");
    }
}

/// Steps done so far that a failure must undo.
#[derive(Debug, Default, Clone, Copy)]
struct Undo {
    coupon: bool,
    stock: bool,
}

enum Done {
    Placed(Value, Order, Vec<OutboxEvent>),
    /// A concurrent run of the same request (after a takeover) placed it.
    ByAnother,
}

struct Failure {
    error: ApiError,
    /// The failure came from the database step (the commit may have happened).
    postgres: bool,
}

impl From<ApiError> for Failure {
    fn from(error: ApiError) -> Self {
        Failure { error, postgres: false }
    }
}

impl From<CallError> for Failure {
    fn from(e: CallError) -> Self {
        Failure { error: e.into(), postgres: false }
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        Failure { error: e.into(), postgres: true }
    }
}

async fn run(
    state: &AppState,
    user: Uuid,
    key: &str,
    order_id: Uuid,
    request: &CheckoutRequest,
    undo: &mut Undo,
    laps: &mut Laps,
) -> Result<Done, Failure> {
    laps.lap("claim_key");
    let shipping = shipping_address(state, user, request).await?;
    let billing = request.billing_address.clone().map(Address::from).unwrap_or_else(|| shipping.clone());

    let cart = state.cart.read(user).await?;
    laps.lap("cart_read");
    if cart.items.is_empty() {
        return Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "cart_empty", "Your cart is empty.")
            .with_errors(vec![FieldError::new("cart", "empty", "has no items")])
            .into());
    }
    if cart.items.len() > MAX_LINES {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "too_many_lines",
            format!("An order holds at most {MAX_LINES} products."),
        )
        .with_errors(vec![FieldError::new("cart.items", "too_many", format!("at most {MAX_LINES} products"))])
        .into());
    }

    // Re-price from the catalog: the cart's snapshot is what the buyer saw; an order is only
    // placed at the price and availability the catalog has now.
    let products = join_all(cart.items.iter().map(|l| state.catalog.product(l.product_id))).await;
    let mut stale = Vec::new();
    let mut lines = Vec::with_capacity(cart.items.len());
    for (i, (line, product)) in cart.items.iter().zip(products).enumerate() {
        match product? {
            Some(p) if p.is_active && p.deleted_at.is_none() => {
                if p.price != line.price {
                    stale.push(FieldError::new(
                        format!("items[{i}].price"),
                        "price_changed",
                        format!("the price changed from {} to {}", shop_core::money::Cents(line.price), shop_core::money::Cents(p.price)),
                    ));
                }
                lines.push(Line {
                    product_id: p.id,
                    seller_id: p.seller_id,
                    name: p.name,
                    sku: p.sku,
                    price: p.price,
                    quantity: line.quantity,
                    image: p.images.into_iter().next().map(|img| img.url).or_else(|| line.image.clone()),
                });
            }
            _ => stale.push(FieldError::new(format!("items[{i}].productId"), "product_unavailable", "this product is no longer for sale")),
        }
    }
    if !stale.is_empty() {
        return Err(ApiError::conflict(
            "cart_out_of_date",
            "Some cart lines changed since they were added; review the cart and order again.",
        )
        .with_errors(stale)
        .into());
    }
    let subtotal = lines
        .iter()
        .try_fold(0i64, |sum, l| l.price.checked_mul(i64::from(l.quantity)).and_then(|t| sum.checked_add(t)))
        .ok_or_else(|| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "amount_too_large", "The order total is too large."))?;
    laps.lap("catalog_reprice");

    let mut discount = 0;
    let coupon_code = cart.coupon_code.clone();
    if let Some(code) = coupon_code.as_deref() {
        undo.coupon = true;
        match state.cart.redeem(code, order_id, user, subtotal).await {
            Ok(r) => discount = r.discount,
            Err(e) if e.status() == Some(StatusCode::UNPROCESSABLE_ENTITY) => {
                let reason = match &e {
                    CallError::Status { problem: Some(p), .. } => {
                        p.pointer("/errors/0/code").and_then(Value::as_str).unwrap_or("not_applicable").to_owned()
                    }
                    _ => "not_applicable".to_owned(),
                };
                undo.coupon = false;
                return Err(ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid_coupon",
                    "The cart's coupon can no longer be applied; remove it or apply another.",
                )
                .with_errors(vec![FieldError::new("couponCode", reason, "the coupon no longer applies")])
                .into());
            }
            Err(e) => return Err(e.into()),
        }
    }
    let totals = Totals::compute(subtotal, discount, true);
    laps.lap("coupon_redeem");

    undo.stock = true;
    let quantities: Vec<(Uuid, u32)> = lines.iter().map(|l| (l.product_id, l.quantity)).collect();
    if let Err(e) = state.inventory.reserve(order_id, &quantities, PAYMENT_WINDOW + RESERVATION_GRACE).await {
        if e.status() == Some(StatusCode::CONFLICT) && e.problem_code() == Some("insufficient_stock") {
            undo.stock = false;
            return Err(insufficient(state, &e, &lines).await.into());
        }
        if e.status() == Some(StatusCode::CONFLICT) && e.problem_code() == Some("reservation_released") {
            // This order id was cancelled: an earlier attempt under this key was undone (its
            // reservation cancelled) but could not let the key go, and this run took the key
            // over. Nothing is held for it; the undo below lets the key go, so the retry starts
            // afresh under a new order id.
            return Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "service_unavailable",
                "An earlier attempt of this checkout was interrupted and undone; retry with the same Idempotency-Key.",
            )
            .with_header(http::header::RETRY_AFTER, http::HeaderValue::from_static("1"))
            .into());
        }
        return Err(e.into());
    }
    laps.lap("inventory_reserve");

    let now = crate::domain::now();
    let (status, confirmed_at, payment_due_at) = match request.payment_method {
        PaymentMethod::Card => (Status::Pending, None, Some(now + PAYMENT_WINDOW)),
        PaymentMethod::Cod => (Status::Confirmed, Some(now), None),
    };
    let mut order = Order {
        id: order_id,
        order_number: crate::domain::order_number(now),
        user_id: user,
        status,
        payment_method: request.payment_method,
        payment_id: None,
        currency: "usd".into(),
        totals,
        coupon_code,
        shipping_address: shipping,
        billing_address: billing,
        notes: request.notes.as_deref().map(str::trim).filter(|n| !n.is_empty()).map(str::to_owned),
        tracking_number: None,
        carrier: None,
        cancel_reason: None,
        payment_due_at,
        items: lines,
        created_at: now,
        updated_at: now,
        confirmed_at,
        processing_at: None,
        shipped_at: None,
        delivered_at: None,
        cancelled_at: None,
        refunded_at: None,
        flagged_reason: None,
        flagged_at: None,
    };
    let mut history = vec![(None, Status::Pending)];
    let mut events = vec![OutboxEvent::new(crate::CALLER, OrderPlaced { order: order.snapshot() }).map_err(StoreError::from)?];
    if request.payment_method == PaymentMethod::Cod {
        // Cash on delivery: confirmed at placement (stock committed through the event).
        history.push((Some(Status::Pending), Status::Confirmed));
        events.push(
            OutboxEvent::new(crate::CALLER, OrderConfirmed { order: order.snapshot(), payment_id: None, confirmed_at: now })
                .map_err(StoreError::from)?,
        );
    }
    for _ in 0..NUMBER_TRIES {
        match state.store.insert_order(&order, (user, key), &history, &events).await? {
            Inserted::Placed(body) => {
                laps.lap("postgres_tx");
                return Ok(Done::Placed(body, order, events));
            }
            Inserted::AlreadyPlaced => return Ok(Done::ByAnother),
            Inserted::NumberTaken => order.order_number = crate::domain::order_number(Timestamp::now()),
            Inserted::LostRequest => {
                return Err(Failure {
                    error: ApiError::conflict(
                        "idempotency_key_in_use",
                        "This request was taken over by a retry with the same Idempotency-Key.",
                    ),
                    postgres: true,
                });
            }
        }
    }
    let contended = shop_core::retry::Contended { attempts: NUMBER_TRIES as u32, elapsed: std::time::Duration::ZERO };
    Err(Failure { error: contended.into(), postgres: false })
}

/// The shipping address of the request: given, or one of the caller's saved ones.
async fn shipping_address(state: &AppState, user: Uuid, request: &CheckoutRequest) -> Result<Address, Failure> {
    match (&request.shipping_address, request.shipping_address_id) {
        (Some(_), Some(_)) => Err(ApiError::validation(vec![FieldError::new(
            "shippingAddressId",
            "conflict",
            "give shippingAddress or shippingAddressId, not both",
        )])
        .into()),
        (Some(address), None) => Ok(address.clone().into()),
        (None, Some(id)) => state.accounts.address(user, id).await?.ok_or_else(|| {
            ApiError::validation(vec![FieldError::new("shippingAddressId", "not_found", "is not one of your saved addresses")]).into()
        }),
        (None, None) => {
            Err(ApiError::validation(vec![FieldError::new("shippingAddress", "required", "or shippingAddressId is required")]).into())
        }
    }
}

/// 409 `insufficient_stock` naming each short line (`items[i].quantity`) with what is available.
async fn insufficient(state: &AppState, e: &CallError, lines: &[Line]) -> ApiError {
    let short: Vec<usize> = match e {
        CallError::Status { problem: Some(p), .. } => p
            .get("errors")
            .and_then(Value::as_array)
            .map(|errors| {
                errors
                    .iter()
                    .filter_map(|err| err.get("field").and_then(Value::as_str))
                    .filter_map(|f| f.strip_prefix("lines[")?.split(']').next()?.parse().ok())
                    .collect()
            })
            .unwrap_or_default(),
        _ => Vec::new(),
    };
    let ids: Vec<Uuid> = short.iter().filter_map(|&i| lines.get(i)).map(|l| l.product_id).collect();
    let available: HashMap<Uuid, u32> = state.inventory.availability(&ids).await.unwrap_or_default();
    let errors = short
        .iter()
        .filter_map(|&i| lines.get(i).map(|l| (i, l)))
        .map(|(i, l)| {
            let n = available.get(&l.product_id).copied().unwrap_or(0);
            FieldError::new(format!("items[{i}].quantity"), "insufficient_stock", format!("only {n} of {} available", l.name))
        })
        .collect();
    ApiError::conflict("insufficient_stock", "Not enough stock for every line; nothing was ordered.").with_errors(errors)
}

/// Undoes what a failed run did, then lets the key go so a retry starts afresh. A database
/// failure is undone only when the order is known not to exist; otherwise (and when an undo
/// fails) the key stays held and the minute job finishes the work.
async fn compensate(state: &AppState, user: Uuid, key: &str, order_id: Uuid, undo: Undo, postgres: bool) {
    if postgres {
        match state.store.order(order_id).await {
            Ok(None) => {}
            Ok(Some(_)) | Err(_) => return,
        }
    }
    let stock = async { if undo.stock { state.inventory.cancel(order_id).await } else { Ok(()) } };
    let coupon = async { if undo.coupon { state.cart.release_coupon(order_id).await } else { Ok(()) } };
    let (stock, coupon) = futures::join!(stock, coupon);
    if let Err(e) = stock.and(coupon) {
        tracing::warn!(error = %e, order_id = %order_id, "could not undo a failed checkout; the minute job will");
        return;
    }
    if let Err(e) = state.store.forget_checkout(user, key, order_id).await {
        tracing::warn!(error = %shop_core::problem::ErrorChain(&e), order_id = %order_id, "could not let a failed checkout's key go");
    }
}

/// After the commit: the ordered lines leave the cart (the `OrderPlaced` consumer does it too,
/// should this call fail) and the events go out (the sweep publishes what this leaves).
async fn after_commit(state: &AppState, order: &Order, events: &[OutboxEvent]) {
    let lines: Vec<(Uuid, u32)> = order.items.iter().map(|l| (l.product_id, l.quantity)).collect();
    let clear = state.cart.clear_ordered(order.user_id, order.id, &lines, order.coupon_code.as_deref());
    let (cleared, ()) = futures::join!(clear, state.relay.flush(&state.store, order.id, events));
    if let Err(e) = cleared {
        tracing::warn!(error = %e, order_id = %order.id, "could not clear the cart after checkout; the OrderPlaced consumer will");
    }
}

/// A replay while the original request runs: waits for its response. When the original failed
/// and let the key go, the replay is answered by trying the checkout itself (once).
async fn wait_for(state: &AppState, user: Uuid, key: &str, request: Option<CheckoutRequest>) -> ApiResult<Placed> {
    let started = std::time::Instant::now();
    let backoff = shop_core::retry::Backoff::new(std::time::Duration::from_millis(50), std::time::Duration::from_millis(400));
    let mut attempt = 0;
    while started.elapsed() < REPLAY_WAIT {
        attempt += 1;
        tokio::time::sleep(backoff.delay(attempt)).await;
        match state.store.checkout_response(user, key).await? {
            Some(Some(body)) => return Ok(Placed { status: StatusCode::OK, body }),
            Some(None) => {}
            None => match request {
                Some(request) => return Box::pin(place_once(state, user, key, request)).await,
                None => break,
            },
        }
    }
    Err(ApiError::conflict("idempotency_key_in_use", "A request with this Idempotency-Key is still running; retry shortly.")
        .with_header(http::header::RETRY_AFTER, http::HeaderValue::from_static("1")))
}

fn key_reused() -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "idempotency_key_reused", "This Idempotency-Key was used with another request body.")
        .with_errors(vec![FieldError::new("Idempotency-Key", "reused", "was used with another request body")])
}
