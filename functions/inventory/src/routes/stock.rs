//! `/api/inventory*`: stock for SELLERs (products whose stored seller is theirs) and ADMINs
//! (all). Customers get 403.

use axum::Json;
use axum::extract::State;
use futures::StreamExt;
use serde::Deserialize;
use shop_core::auth::{Claims, Role};
use shop_core::extract::{ValidJson, ValidPath, ValidQuery};
use shop_core::pagination::{Page, PageQuery};
use shop_core::problem::responses::{BadRequest, Forbidden, NotFound, UnprocessableEntity};
use shop_core::time::Timestamp;
use shop_core::{ApiError, ApiResult, FieldError};
use utoipa::IntoParams;
use uuid::Uuid;

use crate::AppState;
use crate::clients::CatalogProduct;
use crate::domain::{Adjust, Bulk, DEFAULT_LOW_STOCK_THRESHOLD, MAX_IDS, SetStock, Stock, StockList, StockView, first_duplicate};

shop_core::problem_responses! {
    /// A product without stock.
    NoStockRow: 404 => "No stock row for the product";
    /// A batch read with bad ids.
    InvalidIds: 400 => "`ids` missing, malformed or more than 100";
    /// Stock of a product the catalog does not know.
    UnknownProduct: 404 => "No such product in the catalog";
    /// A stock write that lost every race.
    StockContended: 503 => "`contended`: the row kept changing concurrently; nothing was written";
    /// An adjustment below zero.
    InsufficientStock: 409 => "`insufficient_stock`: the adjustment would go below zero";
    /// A batch of stock rows that is refused.
    InvalidRows: 422 => "Invalid rows; unknown or duplicate products";
}

/// Catalog look-ups in flight for a bulk upsert.
const CATALOG_CONCURRENCY: usize = 8;

fn no_stock() -> ApiError {
    ApiError::not_found("This product has no stock row.")
}

fn no_product() -> ApiError {
    ApiError::not_found("Product not found.")
}

fn staff(claims: &Claims) -> ApiResult<()> {
    claims.require_role(&[Role::Seller, Role::Admin])
}

/// Whether the caller is an admin or the row's seller. Another seller's stock is answered as if
/// it did not exist (404, left out of lists, `unknown_product` in a bulk): never 403, which
/// would tell them it does.
fn owns(claims: &Claims, seller: Option<Uuid>) -> bool {
    claims.is_admin() || seller == Some(claims.sub)
}

/// A catalog product that exists and is not deleted.
async fn live_product(state: &AppState, id: Uuid) -> ApiResult<Option<CatalogProduct>> {
    Ok(state.catalog.product(id).await?.filter(|p| p.deleted_at.is_none()))
}

/// Sets a product's stock from the catalog's facts (seller, name, SKU), creating the row or
/// replacing it (the store retries while concurrent changes win).
async fn upsert(state: &AppState, claims: &Claims, product: &CatalogProduct, available: u32, threshold: Option<u32>) -> ApiResult<Stock> {
    state
        .store
        .set_stock(product.id, |existing| {
            if existing.is_some_and(|e| !owns(claims, e.seller_id)) {
                return Err(no_product());
            }
            Ok(Stock {
                product_id: product.id,
                available: i64::from(available),
                reserved: existing.map_or(0, |e| e.reserved),
                low_stock_threshold: threshold
                    .map(i64::from)
                    .or(existing.map(|e| e.low_stock_threshold))
                    .unwrap_or(i64::from(DEFAULT_LOW_STOCK_THRESHOLD)),
                seller_id: Some(product.seller_id),
                product_name: product.name.clone(),
                sku: Some(product.sku.clone()),
                updated_at: Timestamp::now(),
                version: existing.map_or(1, |e| e.version + 1),
            })
        })
        .await
}

/// A product's stock.
#[utoipa::path(get, path = "/api/inventory/{productId}", tag = "inventory", security(("bearer" = ["seller", "admin"])),
    params(("productId" = Uuid, Path, description = "Product id")),
    responses(
        (status = 200, body = StockView),
        BadRequest,
        Forbidden,
        NoStockRow,
    ))]
pub async fn get_stock(State(state): State<AppState>, claims: Claims, ValidPath(id): ValidPath<Uuid>) -> ApiResult<Json<StockView>> {
    staff(&claims)?;
    let stock = state.store.stock(id).await?.filter(|s| owns(&claims, s.seller_id)).ok_or_else(no_stock)?;
    Ok(Json(stock.view()))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct IdsQuery {
    /// 1 to 100 comma-separated product ids.
    #[param(
        required = true,
        pattern = r"^\s*[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}\s*(,\s*[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}\s*){0,99}$"
    )]
    pub ids: Option<String>,
}

/// The stock of several products (those without a row, and other sellers', are left out).
#[utoipa::path(get, path = "/api/inventory", tag = "inventory", security(("bearer" = ["seller", "admin"])), params(IdsQuery),
    responses(
        (status = 200, body = StockList),
        InvalidIds,
        Forbidden,
    ))]
pub async fn list_stock(
    State(state): State<AppState>,
    claims: Claims,
    ValidQuery(query): ValidQuery<IdsQuery>,
) -> ApiResult<Json<StockList>> {
    staff(&claims)?;
    let raw = query.ids.unwrap_or_default();
    let parts: Vec<&str> = raw.split(',').map(str::trim).filter(|p| !p.is_empty()).collect();
    if parts.is_empty() || parts.len() > MAX_IDS {
        return Err(ApiError::invalid_param("ids", format!("give 1 to {MAX_IDS} comma-separated product ids")));
    }
    let ids = parts
        .iter()
        .map(|p| Uuid::parse_str(p))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| ApiError::invalid_param("ids", "must be comma-separated UUIDs"))?;
    let found = state.store.stocks(&ids).await?;
    let mut seen = std::collections::HashSet::new();
    let mut items = Vec::new();
    for id in ids {
        if let Some(stock) = found.get(&id).filter(|s| owns(&claims, s.seller_id) && seen.insert(id)) {
            items.push(stock.view());
        }
    }
    Ok(Json(StockList { items }))
}

/// Set a product's stock; creates the row (the product must exist in the catalog). The seller,
/// name and SKU come from the catalog.
#[utoipa::path(put, path = "/api/inventory/{productId}", tag = "inventory", security(("bearer" = ["seller", "admin"])),
    request_body = SetStock, params(("productId" = Uuid, Path, description = "Product id")),
    responses(
        (status = 200, body = StockView),
        Forbidden,
        UnknownProduct,
        UnprocessableEntity,
        StockContended,
    ))]
pub async fn set_stock(
    State(state): State<AppState>,
    claims: Claims,
    ValidPath(id): ValidPath<Uuid>,
    ValidJson(body): ValidJson<SetStock>,
) -> ApiResult<Json<StockView>> {
    staff(&claims)?;
    let product = live_product(&state, id).await?.filter(|p| owns(&claims, Some(p.seller_id))).ok_or_else(no_product)?;
    Ok(Json(upsert(&state, &claims, &product, body.available, body.low_stock_threshold).await?.view()))
}

/// Add or remove units atomically; audited. Never below zero (409 `insufficient_stock`).
#[utoipa::path(post, path = "/api/inventory/{productId}/adjust", tag = "inventory", security(("bearer" = ["seller", "admin"])),
    request_body = Adjust, params(("productId" = Uuid, Path, description = "Product id")),
    responses(
        (status = 200, body = StockView),
        Forbidden,
        NotFound,
        InsufficientStock,
        UnprocessableEntity,
    ))]
pub async fn adjust_stock(
    State(state): State<AppState>,
    claims: Claims,
    ValidPath(id): ValidPath<Uuid>,
    ValidJson(body): ValidJson<Adjust>,
) -> ApiResult<Json<StockView>> {
    staff(&claims)?;
    let reason = body.reason.trim();
    let after = state
        .store
        .adjust(id, body.delta, claims.sub, reason, |stock| {
            if !owns(&claims, stock.seller_id) {
                return Err(no_stock());
            }
            if stock.available + body.delta < 0 {
                return Err(ApiError::conflict("insufficient_stock", format!("Only {} units are available.", stock.available))
                    .with_errors(vec![FieldError::new(
                        "delta",
                        "below_zero",
                        format!("would take available below 0 (available {})", stock.available),
                    )]));
            }
            Ok(())
        })
        .await?
        .ok_or_else(no_stock)?;
    Ok(Json(after.view()))
}

/// Set the stock of up to 100 products at once (each as `PUT` would). Every row is checked
/// (product exists, caller may change it) before any is written.
#[utoipa::path(post, path = "/api/inventory/bulk", tag = "inventory", security(("bearer" = ["seller", "admin"])), request_body = Bulk,
    responses(
        (status = 200, body = StockList),
        Forbidden,
        InvalidRows,
    ))]
pub async fn bulk_stock(State(state): State<AppState>, claims: Claims, ValidJson(body): ValidJson<Bulk>) -> ApiResult<Json<StockList>> {
    staff(&claims)?;
    if let Some(i) = first_duplicate(body.items.iter().map(|i| i.product_id)) {
        return Err(ApiError::validation(vec![FieldError::new(format!("items[{i}].productId"), "duplicate", "is listed twice")]));
    }
    let ids: Vec<Uuid> = body.items.iter().map(|i| i.product_id).collect();
    let lookups: Vec<ApiResult<Option<CatalogProduct>>> = futures::stream::iter(ids)
        .map(|id| {
            let state = state.clone();
            async move { live_product(&state, id).await }
        })
        .buffered(CATALOG_CONCURRENCY)
        .collect()
        .await;
    let mut products = Vec::with_capacity(lookups.len());
    let mut unknown = Vec::new();
    for (i, found) in lookups.into_iter().enumerate() {
        match found?.filter(|p| owns(&claims, Some(p.seller_id))) {
            Some(p) => products.push(p),
            None => unknown.push(FieldError::new(format!("items[{i}].productId"), "unknown_product", "does not exist")),
        }
    }
    if !unknown.is_empty() {
        return Err(ApiError::validation(unknown));
    }
    let written: Vec<ApiResult<Stock>> = futures::stream::iter(body.items.into_iter().zip(products))
        .map(|(item, product)| {
            let (state, claims) = (state.clone(), claims.clone());
            async move { upsert(&state, &claims, &product, item.available, item.low_stock_threshold).await }
        })
        .buffered(CATALOG_CONCURRENCY)
        .collect()
        .await;
    let items = written.into_iter().map(|r| r.map(|s| s.view())).collect::<ApiResult<Vec<_>>>()?;
    Ok(Json(StockList { items }))
}

/// Products at or below their low-stock threshold: an admin's are all, a seller's their own.
#[utoipa::path(get, path = "/api/inventory/low-stock", tag = "inventory", security(("bearer" = ["seller", "admin"])), params(PageQuery),
    responses(
        (status = 200, body = Page<StockView>),
        BadRequest,
        Forbidden,
    ))]
pub async fn low_stock(
    State(state): State<AppState>,
    claims: Claims,
    ValidQuery(query): ValidQuery<PageQuery>,
) -> ApiResult<Json<Page<StockView>>> {
    staff(&claims)?;
    let page = query.checked()?;
    let seller = (!claims.is_admin()).then_some(claims.sub);
    let rows = state.store.low_stock(seller).await?;
    // The index is updated after relative changes (reservations) by the stream consumer: trust
    // the row's own numbers.
    let views: Vec<StockView> = rows.into_iter().filter(Stock::is_low).map(|s| s.view()).collect();
    Ok(Json(page.slice(views)))
}
