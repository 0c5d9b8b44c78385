//! `/api/cart*`: a caller with a verified bearer works on their own cart (bound to `sub`);
//! anyone else on the guest cart whose secret `X-Cart-Token` they present. A guest cart without
//! its token, a malformed token and another user's cart are all simply "not found" (404).

use std::collections::HashMap;

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use garde::Validate;
use http::{HeaderMap, StatusCode};
use serde::Deserialize;
use shop_core::auth::Claims;
use shop_core::extract::{ValidJson, ValidPath};
use shop_core::problem::responses::{NotFound, Unauthorized};
use shop_core::time::Timestamp;
use shop_core::{ApiError, ApiResult, FieldError};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::AppState;
use crate::clients::{availability, insufficient_stock, sellable_product};
use crate::domain::{Cart, CartView, Line, MAX_LINES, MAX_QUANTITY, Rejection, token};
use crate::store::{Owner, Updated};

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
    /// A coupon that cannot be applied.
    InvalidCoupon: 422 => "`invalid_coupon`; `errors[0].code` is the reason: `unknown`, `inactive`, `expired`, `not_started`, `min_subtotal`, `limit_reached`, `empty_cart`";
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

fn quantity_error(message: impl Into<String>) -> ApiError {
    ApiError::validation(vec![FieldError::new("quantity", "invalid", message)])
}

/// A coupon that does not apply: 422 `invalid_coupon`; the field error on `code` carries the
/// reason (`unknown`, `inactive`, `expired`, `not_started`, `min_subtotal`, `limit_reached`,
/// `empty_cart`).
pub fn coupon_rejected(reason: Rejection) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_coupon", format!("The coupon cannot be applied: {}.", reason.message()))
        .with_errors(vec![FieldError::new("code", reason.code(), reason.message())])
}

fn guest_token(headers: &HeaderMap) -> Option<&str> {
    headers.get(CART_TOKEN).and_then(|v| v.to_str().ok()).map(str::trim).filter(|t| !t.is_empty())
}

/// The guest cart a token opens, or 404 (missing, malformed, unknown or wrong token).
async fn guest_cart(state: &AppState, token: Option<&str>) -> ApiResult<(Owner, Cart)> {
    let token = token.ok_or_else(cart_not_found)?;
    let id = token::cart_id(token).ok_or_else(cart_not_found)?;
    let owner = Owner::Guest(id);
    let stored = state.carts.load(owner).await?.ok_or_else(cart_not_found)?;
    match &stored.cart.token_hash {
        Some(hash) if token::matches(token, hash) => Ok((owner, stored.cart)),
        _ => Err(cart_not_found()),
    }
}

/// Whose cart this request means: the user's (by `sub`) or the guest cart of the token.
async fn owner(state: &AppState, claims: &Option<Claims>, headers: &HeaderMap) -> ApiResult<Owner> {
    match claims {
        Some(c) => Ok(Owner::User(c.sub)),
        None => Ok(guest_cart(state, guest_token(headers)).await?.0),
    }
}

/// A new, empty cart for `owner`.
fn fresh(owner: Owner) -> Cart {
    let now = Timestamp::now();
    match owner {
        Owner::User(sub) => Cart::new(Some(sub), None, now),
        Owner::Guest(_) => Cart::new(None, None, now),
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
/// `X-Cart-Token`; it is shown only here). A signed-in user gets their cart, created if needed.
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
    let mut cart = Cart::new(None, None, now);
    let secret = token::generate(cart.id)
        .map_err(|_| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal_error", "An internal error occurred."))?;
    cart.token_hash = Some(token::hash(&secret));
    let (cart, _) = state.carts.create(Owner::Guest(cart.id), cart).await?;
    let mut view = cart.view();
    view.cart_token = Some(secret);
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

/// The caller's cart.
#[utoipa::path(get, path = "/api/cart", tag = "cart", security((), ("bearer" = [])),
    params(("X-Cart-Token" = Option<String>, Header, description = "A guest cart's token")),
    responses((status = 200, body = CartView), NotFound))]
pub async fn get_cart(State(state): State<AppState>, claims: Option<Claims>, headers: HeaderMap) -> ApiResult<Json<CartView>> {
    let owner = owner(&state, &claims, &headers).await?;
    let stored = state.carts.load(owner).await?.ok_or_else(cart_not_found)?;
    Ok(Json(stored.cart.view()))
}

/// Delete the caller's cart.
#[utoipa::path(delete, path = "/api/cart", tag = "cart", security((), ("bearer" = [])),
    params(("X-Cart-Token" = Option<String>, Header, description = "A guest cart's token")),
    responses((status = 204, description = "Deleted"), NotFound))]
pub async fn delete_cart(State(state): State<AppState>, claims: Option<Claims>, headers: HeaderMap) -> ApiResult<StatusCode> {
    let owner = owner(&state, &claims, &headers).await?;
    if state.carts.delete(owner).await? { Ok(StatusCode::NO_CONTENT) } else { Err(cart_not_found()) }
}

#[derive(Debug, Clone, Deserialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AddItem {
    #[garde(skip)]
    pub product_id: Uuid,
    /// 1–99; the resulting quantity of the line is checked against stock.
    #[garde(range(min = 1, max = MAX_QUANTITY))]
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
    let owner = owner(&state, &claims, &headers).await?;
    // Product and stock are independent questions to two functions: asked at once. The
    // product's answer decides first (a missing product is a 404 whatever the stock says).
    let ids = [body.product_id];
    let (product, stock) = tokio::join!(sellable_product(&state.catalog, body.product_id), availability(&state.inventory, &ids));
    let product = product?;
    let available = stock?.get(&product.id).copied().unwrap_or(0);
    let create = move || fresh(owner);
    let create: Option<&(dyn Fn() -> Cart + Send + Sync)> = matches!(owner, Owner::User(_)).then_some(&create);
    let result = state
        .carts
        .update(owner, create, |cart| {
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
    let owner = owner(&state, &claims, &headers).await?;
    let available =
        if body.quantity > 0 { availability(&state.inventory, &[product_id]).await?.get(&product_id).copied().unwrap_or(0) } else { 0 };
    let result = state
        .carts
        .update(owner, None, |cart| {
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
    let owner = owner(&state, &claims, &headers).await?;
    let result = state
        .carts
        .update(owner, None, |cart| {
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
    let owner = owner(&state, &claims, &headers).await?;
    let result = state
        .carts
        .update(owner, None, |cart| {
            cart.clear();
            Ok::<_, ApiError>(())
        })
        .await?;
    done(result)
}

/// After login: moves the guest cart of `X-Cart-Token` into the caller's cart. Quantities are
/// summed per product and capped to stock (and 99; lines with nothing in stock are dropped);
/// the user's coupon is kept, the guest's is used only when the user has none; the guest cart
/// is deleted. A user without a cart simply takes the guest cart over.
#[utoipa::path(post, path = "/api/cart/merge", tag = "cart", security(("bearer" = [])),
    params(("X-Cart-Token" = String, Header, description = "The guest cart's token")),
    responses(
        (status = 200, body = CartView),
        Unauthorized,
        NoGuestCart,
    ))]
pub async fn merge_cart(State(state): State<AppState>, claims: Claims, headers: HeaderMap) -> ApiResult<Json<CartView>> {
    let (guest_owner, guest) = guest_cart(&state, guest_token(&headers)).await?;
    let user = Owner::User(claims.sub);
    let ids: Vec<Uuid> = guest.items.iter().map(|l| l.product_id).collect();
    let stock: HashMap<Uuid, u32> = availability(&state.inventory, &ids).await?;
    let adopted = {
        let mut cart = guest.clone();
        cart.user_id = Some(claims.sub);
        cart.token_hash = None;
        cart
    };
    let create = move || adopted.clone();
    let result = state
        .carts
        .update(user, Some(&create), |cart| {
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
    state.carts.delete(guest_owner).await?;
    Ok(merged)
}

#[derive(Debug, Clone, Deserialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ApplyCoupon {
    /// Case-insensitive.
    #[garde(length(min = 1, max = 64), custom(shop_core::extract::not_blank))]
    pub code: String,
}

/// Apply a coupon (replacing any other). The discount is recomputed on every cart change.
#[utoipa::path(post, path = "/api/cart/coupon", tag = "cart", security((), ("bearer" = [])), request_body = ApplyCoupon,
    params(("X-Cart-Token" = Option<String>, Header, description = "A guest cart's token")),
    responses(
        (status = 200, body = CartView),
        NotFound,
        InvalidCoupon,
    ))]
pub async fn apply_coupon(
    State(state): State<AppState>,
    claims: Option<Claims>,
    headers: HeaderMap,
    ValidJson(body): ValidJson<ApplyCoupon>,
) -> ApiResult<Json<CartView>> {
    let owner = owner(&state, &claims, &headers).await?;
    let code = body.code.trim().to_uppercase();
    let (coupon, _) = state.coupons.coupon(&code).await?.ok_or_else(|| coupon_rejected(Rejection::Unknown))?;
    let used = match &claims {
        Some(c) => state.coupons.used_by(&coupon.code, c.sub).await?,
        None => 0,
    };
    let now = Timestamp::now();
    let result = state
        .carts
        .update(owner, None, |cart| {
            coupon.check(now, cart.subtotal(), used).map_err(coupon_rejected)?;
            cart.coupon = Some(coupon.terms());
            Ok(())
        })
        .await?;
    done(result)
}

/// Remove the coupon.
#[utoipa::path(delete, path = "/api/cart/coupon", tag = "cart", security((), ("bearer" = [])),
    params(("X-Cart-Token" = Option<String>, Header, description = "A guest cart's token")),
    responses((status = 200, body = CartView), NotFound))]
pub async fn remove_coupon(State(state): State<AppState>, claims: Option<Claims>, headers: HeaderMap) -> ApiResult<Json<CartView>> {
    let owner = owner(&state, &claims, &headers).await?;
    let result = state
        .carts
        .update(owner, None, |cart| {
            cart.coupon = None;
            Ok::<_, ApiError>(())
        })
        .await?;
    done(result)
}
