//! `/api/cart*`: a caller with a verified bearer works on their own cart (bound to `sub`);
//! anyone else on the guest cart whose secret `X-Cart-Token` they present. A guest cart without
//! its token, a malformed token and another user's cart are all simply "not found" (404).
//!
//! A guest token vouches for its own cart id (`domain::token`), so `POST /api/cart` stores
//! nothing: the token opens the empty cart until its first line is added. Coupon codes that do
//! not apply get one answer whatever the reason (the reason is logged), and rejected attempts
//! are limited per cart and per source IP.

use std::collections::HashMap;

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use garde::Validate;
use http::{HeaderMap, StatusCode};
use serde::Deserialize;
use shop_core::auth::{Caller, Claims};
use shop_core::extract::{ValidJson, ValidPath};
use shop_core::problem::responses::{NotFound, Unauthorized};
use shop_core::time::Timestamp;
use shop_core::{ApiError, ApiResult, FieldError};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::AppState;
use crate::clients::{availability, insufficient_stock, sellable_product};
use crate::domain::{
    COUPON_TRIES_PER_CART, COUPON_TRIES_PER_IP, COUPON_TRIES_WINDOW, Cart, CartView, Line, MAX_LINES, MAX_QUANTITY, Rejection, token,
};
use crate::store::{Owner, Slot, StoredCoupon, Tries, Updated};

shop_core::problem_responses! {
    /// A bearer token was sent but is not valid.
    InvalidBearerToken: 401 => "An invalid bearer token";
    /// Adding to a missing cart, or an unknown product.
    NoCartOrProduct: 404 => "No cart, or `product_not_found` naming `productId`";
    /// A line that cannot be added.
    CannotAddItem: 422 => "Invalid quantity, `product_inactive`, `insufficient_stock`";
    /// Changing a line of a missing cart, or a product not in it.
    NoCartOrLine: 404 => "No cart, or the product is not in it";
    /// A quantity that cannot be set.
    CannotSetQuantity: 422 => "Invalid quantity, `insufficient_stock`";
    /// Merging a guest cart that does not exist.
    NoGuestCart: 404 => "No guest cart for this token";
    /// A merge without the guest cart's token.
    NoCartToken: 400 => "`invalid_parameter`: no `X-Cart-Token`";
    /// A coupon that cannot be applied.
    InvalidCoupon: 422 => "`invalid_coupon`: `errors[0].code` is `empty_cart`, or `not_applicable` for any code that does not apply to this cart now (unknown, inactive, expired, not yet valid, used up, below its minimum subtotal: one answer, so codes cannot be told apart)";
    /// Too many coupon codes that did not apply.
    TooManyAttempts: 429 => "`too_many_attempts`: more than 10 codes that did not apply on this cart, or 30 from this source IP, within 15 minutes; `Retry-After` says when to retry";
}

/// How many merged guest cart ids a cart remembers (merges of the same guest cart that race or
/// are retried stay no-ops).
const MERGED_GUESTS_KEPT: usize = 8;

/// The header a guest sends its cart token in.
pub const CART_TOKEN: &str = "x-cart-token";

fn cart_not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "cart_not_found", "No cart was found for this caller.")
}

fn item_not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "item_not_found", "This product is not in the cart.").with_errors(vec![FieldError::new(
        "productId",
        "not_in_cart",
        "the cart has no line for this product",
    )])
}

/// The line would pass [`MAX_QUANTITY`] with what the cart already holds (field code
/// `line_limit`: a refusal for the cart's content, not the request's shape).
fn quantity_error(message: impl Into<String>) -> ApiError {
    ApiError::validation(vec![FieldError::new("quantity", "line_limit", message)])
}

/// A coupon that does not apply, with the precise reason: 422 `invalid_coupon` whose field error
/// on `code` carries it (`unknown`, `inactive`, `expired`, `not_started`, `min_subtotal`,
/// `limit_reached`, `empty_cart`). Only for the internal redemption route (orders); the public
/// route answers [`coupon_not_applicable`].
pub fn coupon_rejected(reason: Rejection) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_coupon", format!("The coupon cannot be applied: {}.", reason.message()))
        .with_errors(vec![FieldError::new("code", reason.code(), reason.message())])
}

/// The public answer for a code that does not apply to this cart now: the same status, body
/// and field error whatever the reason, so that codes cannot be enumerated. An empty cart is
/// told as such: that is about the cart, whatever the code.
fn coupon_not_applicable(reason: Rejection) -> ApiError {
    if reason == Rejection::EmptyCart {
        return coupon_rejected(reason);
    }
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_coupon", "This code cannot be applied to this cart.")
        .with_errors(vec![FieldError::new("code", "not_applicable", "this code does not apply to this cart")])
}

fn guest_token(headers: &HeaderMap) -> Option<&str> {
    headers.get(CART_TOKEN).and_then(|v| v.to_str().ok()).map(str::trim).filter(|t| !t.is_empty())
}

/// The cart a request is about.
struct Target {
    owner: Owner,
    /// A guest's cart as the token opens it: as stored, or the empty cart when nothing is
    /// stored. `None` for users (their cart is read by the store).
    guest: Option<Cart>,
    /// What [`crate::store::CartStore::update`] starts from when nothing is stored: the empty
    /// guest cart of the token (stored by its first line). `None` for users.
    fresh: Option<Cart>,
}

/// The guest cart a token opens, or 404 (missing, malformed, forged or wrong token, deleted
/// or merged cart). A stored cart opens with the token whose hash it keeps; a cart not stored
/// (new, or expired) with a token whose secret derives its id.
async fn guest_cart(state: &AppState, token: Option<&str>) -> ApiResult<Target> {
    let token = token.ok_or_else(cart_not_found)?;
    let id = token::cart_id(token).ok_or_else(cart_not_found)?;
    let owner = Owner::Guest(id);
    let fresh = Cart::guest(id, token::hash(token), Timestamp::now());
    let cart = match state.carts.read(owner).await? {
        Slot::Cart(stored) => match &stored.cart.token_hash {
            Some(hash) if token::matches(token, hash) => stored.cart,
            _ => return Err(cart_not_found()),
        },
        Slot::Empty if token::vouches_for_its_id(token) => fresh.clone(),
        Slot::Empty | Slot::Tombstone => return Err(cart_not_found()),
    };
    Ok(Target { owner, guest: Some(cart), fresh: Some(fresh) })
}

/// Whose cart this request means: the user's (by `sub`) or the guest cart of the token.
async fn target(state: &AppState, claims: &Option<Claims>, headers: &HeaderMap) -> ApiResult<Target> {
    match claims {
        Some(c) => Ok(Target { owner: Owner::User(c.sub), guest: None, fresh: None }),
        None => guest_cart(state, guest_token(headers)).await,
    }
}

fn done(result: Updated<ApiError>) -> ApiResult<Json<CartView>> {
    match result {
        Updated::Done(cart) => Ok(Json(cart.view())),
        Updated::Missing => Err(cart_not_found()),
        Updated::Refused(e) => Err(e),
    }
}

/// Create a cart. A guest gets a new cart and its secret `cartToken` (send it back as
/// `X-Cart-Token`; it is shown only here); nothing is stored until its first line is added.
/// A signed-in user gets their cart, created if needed.
#[utoipa::path(post, path = "/api/cart", tag = "cart", security((), ("bearer" = [])),
    responses(
        (status = 201, description = "Created (guest carts include `cartToken`)", body = CartView),
        (status = 200, description = "The signed-in user's existing cart", body = CartView),
        InvalidBearerToken,
    ))]
pub async fn create_cart(State(state): State<AppState>, claims: Option<Claims>) -> ApiResult<Response> {
    let now = Timestamp::now();
    if let Some(claims) = claims {
        let (cart, created) = state.carts.create(Owner::User(claims.sub), Cart::new(Some(claims.sub), None, now)).await?;
        let status = if created { StatusCode::CREATED } else { StatusCode::OK };
        return Ok((status, Json(cart.view())).into_response());
    }
    let (id, secret) =
        token::generate().map_err(|_| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal_error", "An internal error occurred."))?;
    let mut view = Cart::guest(id, token::hash(&secret), now).view();
    view.cart_token = Some(secret);
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

/// The caller's cart.
#[utoipa::path(get, path = "/api/cart", tag = "cart", security((), ("bearer" = [])),
    params(("X-Cart-Token" = Option<String>, Header, description = "A guest cart's token")),
    responses((status = 200, body = CartView), NotFound))]
pub async fn get_cart(State(state): State<AppState>, claims: Option<Claims>, headers: HeaderMap) -> ApiResult<Json<CartView>> {
    let target = target(&state, &claims, &headers).await?;
    let cart = match target.guest {
        Some(cart) => cart,
        None => state.carts.load(target.owner).await?.ok_or_else(cart_not_found)?.cart,
    };
    Ok(Json(cart.view()))
}

/// Delete the caller's cart. A guest's token answers 404 from then on.
#[utoipa::path(delete, path = "/api/cart", tag = "cart", security((), ("bearer" = [])),
    params(("X-Cart-Token" = Option<String>, Header, description = "A guest cart's token")),
    responses((status = 204, description = "Deleted"), NotFound))]
pub async fn delete_cart(State(state): State<AppState>, claims: Option<Claims>, headers: HeaderMap) -> ApiResult<StatusCode> {
    let target = target(&state, &claims, &headers).await?;
    let deleted = match target.owner {
        Owner::User(_) => state.carts.delete(target.owner).await?,
        Owner::Guest(_) => state.carts.bury(target.owner).await?,
    };
    if deleted { Ok(StatusCode::NO_CONTENT) } else { Err(cart_not_found()) }
}

#[derive(Debug, Clone, Deserialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AddItem {
    #[garde(skip)]
    pub product_id: Uuid,
    /// 1–99; the resulting quantity of the line is checked against stock.
    #[garde(range(min = 1, max = MAX_QUANTITY))]
    #[schema(minimum = 1, maximum = 99)]
    pub quantity: u32,
}

/// Add a product (merged into its line if present). The catalog supplies name, price and image;
/// the resulting quantity must be in stock and at most 99.
#[utoipa::path(post, path = "/api/cart/items", tag = "cart", security((), ("bearer" = [])), request_body = AddItem,
    params(("X-Cart-Token" = Option<String>, Header, description = "A guest cart's token")),
    responses(
        (status = 200, body = CartView),
        NoCartOrProduct,
        CannotAddItem,
    ))]
pub async fn add_item(
    State(state): State<AppState>,
    claims: Option<Claims>,
    headers: HeaderMap,
    ValidJson(body): ValidJson<AddItem>,
) -> ApiResult<Json<CartView>> {
    let target = target(&state, &claims, &headers).await?;
    // Product and stock are independent questions to two functions: asked at once. The
    // product's answer decides first (a missing product is a 404 whatever the stock says).
    let ids = [body.product_id];
    let (product, stock) = tokio::join!(sellable_product(&state.catalog, body.product_id), availability(&state.inventory, &ids));
    let product = product?;
    let available = stock?.get(&product.id).copied().unwrap_or(0);
    // A user's first add creates their cart; a guest's stores the cart their token opens.
    let fresh = match target.owner {
        Owner::User(sub) => Some(Cart::new(Some(sub), None, Timestamp::now())),
        Owner::Guest(_) => target.fresh,
    };
    let result = state
        .carts
        .update(target.owner, fresh.as_ref(), |cart| {
            let in_cart = cart.quantity_of(product.id);
            let quantity = in_cart + body.quantity;
            if quantity > MAX_QUANTITY {
                return Err(quantity_error(format!("at most {MAX_QUANTITY} per product; the cart already holds {in_cart}")));
            }
            if quantity > available {
                return Err(insufficient_stock(available, in_cart));
            }
            if in_cart == 0 && cart.items.len() >= MAX_LINES {
                return Err(ApiError::validation(vec![FieldError::new(
                    "productId",
                    "too_many",
                    format!("a cart holds at most {MAX_LINES} products"),
                )]));
            }
            cart.set_line(Line {
                product_id: product.id,
                name: product.name.clone(),
                price: product.price,
                quantity,
                image: product.images.first().map(|i| i.url.clone()),
            });
            Ok(())
        })
        .await?;
    done(result)
}

#[derive(Debug, Clone, Deserialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SetQuantity {
    /// 0–99; 0 removes the line.
    #[garde(range(max = MAX_QUANTITY))]
    #[schema(minimum = 0, maximum = 99)]
    pub quantity: u32,
}

/// Set a line's quantity (0 removes it); checked against stock.
#[utoipa::path(put, path = "/api/cart/items/{productId}", tag = "cart", security((), ("bearer" = [])), request_body = SetQuantity,
    params(("productId" = Uuid, Path, description = "Product id"), ("X-Cart-Token" = Option<String>, Header, description = "A guest cart's token")),
    responses(
        (status = 200, body = CartView),
        NoCartOrLine,
        CannotSetQuantity,
    ))]
pub async fn set_quantity(
    State(state): State<AppState>,
    claims: Option<Claims>,
    headers: HeaderMap,
    ValidPath(product_id): ValidPath<Uuid>,
    ValidJson(body): ValidJson<SetQuantity>,
) -> ApiResult<Json<CartView>> {
    let target = target(&state, &claims, &headers).await?;
    let available =
        if body.quantity > 0 { availability(&state.inventory, &[product_id]).await?.get(&product_id).copied().unwrap_or(0) } else { 0 };
    let result = state
        .carts
        .update(target.owner, target.fresh.as_ref(), |cart| {
            let mut line = cart.line(product_id).cloned().ok_or_else(item_not_found)?;
            if body.quantity > available {
                return Err(insufficient_stock(available, 0));
            }
            line.quantity = body.quantity;
            cart.set_line(line);
            Ok(())
        })
        .await?;
    done(result)
}

/// Remove a product from the cart.
#[utoipa::path(delete, path = "/api/cart/items/{productId}", tag = "cart", security((), ("bearer" = [])),
    params(("productId" = Uuid, Path, description = "Product id"), ("X-Cart-Token" = Option<String>, Header, description = "A guest cart's token")),
    responses((status = 200, body = CartView), NotFound))]
pub async fn remove_item(
    State(state): State<AppState>,
    claims: Option<Claims>,
    headers: HeaderMap,
    ValidPath(product_id): ValidPath<Uuid>,
) -> ApiResult<Json<CartView>> {
    let target = target(&state, &claims, &headers).await?;
    let result = state
        .carts
        .update(target.owner, target.fresh.as_ref(), |cart| {
            let mut line = cart.line(product_id).cloned().ok_or_else(item_not_found)?;
            line.quantity = 0;
            cart.set_line(line);
            Ok(())
        })
        .await?;
    done(result)
}

/// Empty the cart; the coupon and its discount go too.
#[utoipa::path(delete, path = "/api/cart/items", tag = "cart", security((), ("bearer" = [])),
    params(("X-Cart-Token" = Option<String>, Header, description = "A guest cart's token")),
    responses((status = 200, body = CartView), NotFound))]
pub async fn clear_cart(State(state): State<AppState>, claims: Option<Claims>, headers: HeaderMap) -> ApiResult<Json<CartView>> {
    let target = target(&state, &claims, &headers).await?;
    let result = state
        .carts
        .update(target.owner, target.fresh.as_ref(), |cart| {
            cart.clear();
            Ok::<_, ApiError>(())
        })
        .await?;
    done(result)
}

/// After login: moves the guest cart of `X-Cart-Token` into the caller's cart. Quantities are
/// summed per product and capped to stock (and 99; lines with nothing in stock are dropped);
/// the user's coupon is kept, the guest's is used only when the user has none; the guest cart
/// is deleted (its token answers 404 from then on). A user without a cart simply takes the
/// guest cart over.
#[utoipa::path(post, path = "/api/cart/merge", tag = "cart", security(("bearer" = [])),
    params(("X-Cart-Token" = String, Header, pattern = r"^[\t -~]*[!-~][\t -~]*$", description = "The guest cart's token")),
    responses(
        (status = 200, body = CartView),
        NoCartToken,
        Unauthorized,
        NoGuestCart,
    ))]
pub async fn merge_cart(State(state): State<AppState>, claims: Claims, headers: HeaderMap) -> ApiResult<Json<CartView>> {
    // The header is required: without it there is nothing to merge (a 400, not "no such cart").
    let Some(token) = guest_token(&headers) else {
        return Err(ApiError::invalid_param("X-Cart-Token", "is required: the guest cart's token"));
    };
    let target = guest_cart(&state, Some(token)).await?;
    let (guest_owner, guest) = (target.owner, target.guest.ok_or_else(cart_not_found)?);
    let user = Owner::User(claims.sub);
    let ids: Vec<Uuid> = guest.items.iter().map(|l| l.product_id).collect();
    let stock: HashMap<Uuid, u32> = availability(&state.inventory, &ids).await?;
    let adopted = {
        let mut cart = guest.clone();
        cart.user_id = Some(claims.sub);
        cart.token_hash = None;
        cart
    };
    let result = state
        .carts
        .update(user, Some(&adopted), |cart| {
            // Merged already (a retried or concurrent merge of the same guest cart): its
            // quantities are in; adding them again would double them.
            if cart.merged_guests.contains(&guest.id) {
                return Ok::<_, ApiError>(());
            }
            for line in &guest.items {
                let base = if cart.id == guest.id { 0 } else { cart.quantity_of(line.product_id) };
                let available = stock.get(&line.product_id).copied().unwrap_or(0);
                let quantity = (base + line.quantity).min(available).min(MAX_QUANTITY);
                let existing = cart.line(line.product_id).cloned();
                if existing.is_none() && quantity > 0 && cart.items.len() >= MAX_LINES {
                    continue;
                }
                let mut merged = existing.unwrap_or_else(|| line.clone());
                merged.quantity = quantity;
                // Quantity 0 (nothing in stock) drops the line.
                cart.set_line(merged);
            }
            if cart.coupon.is_none() {
                cart.coupon = guest.coupon.clone();
            }
            cart.merged_guests.push(guest.id);
            let keep = cart.merged_guests.len().saturating_sub(MERGED_GUESTS_KEPT);
            cart.merged_guests.drain(..keep);
            Ok(())
        })
        .await?;
    let merged = done(result)?;
    // A tombstone, not just a delete: the token must not open an empty cart again.
    state.carts.bury(guest_owner).await?;
    Ok(merged)
}

#[derive(Debug, Clone, Deserialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ApplyCoupon {
    /// Case-insensitive.
    #[garde(length(min = 1, max = 64), custom(shop_core::extract::not_blank))]
    #[schema(min_length = 1, max_length = 64, pattern = r"[^\t-\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]")]
    pub code: String,
}

/// Apply a coupon (replacing any other). The discount is recomputed on every cart change. A
/// code that does not apply gets one answer whatever the reason; more than 10 such codes on a
/// cart, or 30 from one source IP, within 15 minutes are answered 429 whatever the code.
#[utoipa::path(post, path = "/api/cart/coupon", tag = "cart", security((), ("bearer" = [])), request_body = ApplyCoupon,
    params(("X-Cart-Token" = Option<String>, Header, description = "A guest cart's token")),
    responses(
        (status = 200, body = CartView),
        NotFound,
        InvalidCoupon,
        TooManyAttempts,
    ))]
pub async fn apply_coupon(
    State(state): State<AppState>,
    claims: Option<Claims>,
    caller: Caller,
    headers: HeaderMap,
    ValidJson(body): ValidJson<ApplyCoupon>,
) -> ApiResult<Json<CartView>> {
    let target = target(&state, &claims, &headers).await?;
    let ip = caller.client_key();
    let tries = [Tries::Ip(&ip), Tries::Cart(target.owner)];
    count_coupon_try(&state, &tries).await?;
    let code = body.code.trim().to_uppercase();
    match try_coupon(&state, &claims, &target, &code).await {
        Ok(Ok(cart)) => {
            uncount_coupon_try(&state, &tries).await;
            Ok(Json(cart.view()))
        }
        Ok(Err((reason, cart_id))) => {
            log_rejection(reason, &code, cart_id);
            Err(coupon_not_applicable(reason))
        }
        Err(e) => {
            uncount_coupon_try(&state, &tries).await;
            Err(e)
        }
    }
}

/// Counts a coupon attempt per source IP, then per cart, before anything is looked up (so
/// concurrent attempts cannot all slip under the limit); 429 `too_many_attempts` over either
/// limit. An attempt refused by the cart's limit gives its IP count back (no code was tried).
async fn count_coupon_try(state: &AppState, tries: &[Tries<'_>; 2]) -> ApiResult<()> {
    let [by_ip, by_cart] = *tries;
    let ip = state.carts.count_try(by_ip, COUPON_TRIES_WINDOW).await?;
    if ip.count > COUPON_TRIES_PER_IP {
        tracing::info!(limit = "ip", attempts = ip.count, "coupon attempts throttled");
        return Err(too_many_coupon_tries(ip.retry_after));
    }
    let cart = state.carts.count_try(by_cart, COUPON_TRIES_WINDOW).await?;
    if cart.count > COUPON_TRIES_PER_CART {
        uncount_coupon_try(state, &[by_ip]).await;
        tracing::info!(limit = "cart", attempts = cart.count, "coupon attempts throttled");
        return Err(too_many_coupon_tries(cart.retry_after));
    }
    Ok(())
}

/// Gives back attempts that did not count (the code applied, or the request failed for
/// another reason). Best effort: the answer is already decided.
async fn uncount_coupon_try(state: &AppState, tries: &[Tries<'_>]) {
    for tries in tries {
        if let Err(err) = state.carts.uncount_try(*tries).await {
            tracing::warn!(error = %shop_core::problem::ErrorChain(&err), "a coupon attempt could not be given back");
        }
    }
}

fn too_many_coupon_tries(retry_after: u64) -> ApiError {
    ApiError::too_many_requests("too_many_attempts", retry_after, "Too many coupon codes were tried; try again later.")
}

/// Applies `code` to the target's cart: the cart, or why the code does not apply (with the
/// cart's id, for the log). The work is the same whether the code exists or not (the coupon and
/// the user's counter are both looked up, the cart is read and checked either way), so timing
/// does not tell codes apart either.
async fn try_coupon(
    state: &AppState,
    claims: &Option<Claims>,
    target: &Target,
    code: &str,
) -> ApiResult<Result<Cart, (Rejection, Option<Uuid>)>> {
    let counter = async {
        match claims {
            Some(c) => state.coupons.user_counter(code, c.sub).await,
            None => Ok(None),
        }
    };
    let (stored, counter) = tokio::try_join!(state.coupons.coupon(code), counter)?;
    let used = stored.as_ref().map_or(0, |s: &StoredCoupon| s.used(counter));
    let now = Timestamp::now();
    let mut cart_id = None;
    let result = state
        .carts
        .update(target.owner, target.fresh.as_ref(), |cart| {
            cart_id = Some(cart.id);
            // About the cart, whatever the code.
            if cart.items.is_empty() {
                return Err(Rejection::EmptyCart);
            }
            let stored = stored.as_ref().ok_or(Rejection::Unknown)?;
            // A cart with lines is never "empty": a zero subtotal is below any minimum.
            stored
                .coupon
                .check(now, cart.subtotal(), used)
                .map_err(|r| if r == Rejection::EmptyCart { Rejection::MinSubtotal } else { r })?;
            cart.coupon = Some(stored.coupon.terms());
            Ok(())
        })
        .await?;
    match result {
        Updated::Done(cart) => Ok(Ok(cart)),
        Updated::Missing => Err(cart_not_found()),
        Updated::Refused(reason) => Ok(Err((reason, cart_id))),
    }
}

/// Logs why a code did not apply (the caller only hears "not applicable"). An existing code is
/// logged as it is: admins know it, and support needs it. A code that names no coupon is logged
/// as a short SHA-256 only: it is whatever the caller typed (a typo, a guess, at worst personal
/// data pasted in the wrong field), and the hash still tells repeated guesses apart.
fn log_rejection(reason: Rejection, code: &str, cart_id: Option<Uuid>) {
    let cart_id = cart_id.map(|id| id.to_string());
    if reason == Rejection::Unknown {
        let hash = crate::domain::sha256_hex(code);
        tracing::info!(reason = reason.code(), code_sha256 = &hash[..16], cart_id, "coupon not applied");
    } else {
        tracing::info!(reason = reason.code(), coupon = code, cart_id, "coupon not applied");
    }
}

/// Remove the coupon.
#[utoipa::path(delete, path = "/api/cart/coupon", tag = "cart", security((), ("bearer" = [])),
    params(("X-Cart-Token" = Option<String>, Header, description = "A guest cart's token")),
    responses((status = 200, body = CartView), NotFound))]
pub async fn remove_coupon(State(state): State<AppState>, claims: Option<Claims>, headers: HeaderMap) -> ApiResult<Json<CartView>> {
    let target = target(&state, &claims, &headers).await?;
    let result = state
        .carts
        .update(target.owner, target.fresh.as_ref(), |cart| {
            cart.coupon = None;
            Ok::<_, ApiError>(())
        })
        .await?;
    done(result)
}
