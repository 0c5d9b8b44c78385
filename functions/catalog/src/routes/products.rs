//! `/api/products*` (except listing and search): product reads for the storefront and writes
//! for SELLERs (their own products) and ADMINs (all). Money is integer cents.

use axum::Json;
use axum::extract::State;
use http::StatusCode;
use serde::{Deserialize, Serialize};
use shop_core::auth::{Claims, Role};
use shop_core::extract::{ValidJson, ValidPath, ValidQuery};
use shop_core::pagination::{Page, PageQuery};
use shop_core::problem::responses::{BadRequest, Forbidden, NotFound, Unauthorized, UnprocessableEntity};
use shop_core::time::Timestamp;
use shop_core::{ApiError, ApiResult, FieldError};
use shop_search::MAX_RESULT_WINDOW;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::AppState;
use crate::domain::{Product, ProductInput, ProductUpdate, check_image_urls, images_from_urls, normalize_tags, slugify};
use crate::store::{Clash, SlugPolicy};

shop_core::problem_responses! {
    /// A product write whose SKU or slug is taken.
    SkuOrSlugTaken: 409 => "`sku_taken` or `slug_taken`";
    /// A new product that is refused.
    InvalidProduct: 422 => "Invalid fields; unknown category";
}

fn not_found() -> ApiError {
    ApiError::not_found("Product not found.")
}

pub(crate) fn clash(c: Clash) -> ApiError {
    match c {
        Clash::Sku => ApiError::conflict("sku_taken", "A product with this SKU already exists.").with_errors(vec![FieldError::new(
            "sku",
            "taken",
            "is already used",
        )]),
        Clash::Slug => ApiError::conflict("slug_taken", "A product with this slug already exists.").with_errors(vec![FieldError::new(
            "slug",
            "taken",
            "is already used",
        )]),
        Clash::MissingCategory => ApiError::validation(vec![FieldError::new("categoryId", "unknown_category", "does not exist")]),
        // Category rules never refuse a product write.
        Clash::Name | Clash::NotEmpty => ApiError::internal(&c),
    }
}

/// Image URLs of a body that are neither `https://` links nor the image CDN's own: 422 naming
/// each (`images[i]`).
fn check_images(urls: Option<&Vec<String>>, state: &AppState) -> ApiResult<()> {
    check_image_urls(urls.map_or(&[], Vec::as_slice), &state.images.base_url).map_err(ApiError::validation)
}

/// The storefront sees active, undeleted products only.
fn storefront(product: Option<Product>) -> ApiResult<Json<Product>> {
    product.filter(|p| p.is_active && p.deleted_at.is_none()).map(Json).ok_or_else(not_found)
}

/// A product the caller may change: not deleted, and theirs unless they are an admin. Another
/// seller's product is 404 as if it did not exist (inactive products are not public).
pub(crate) fn editable(product: Option<Product>, claims: &Claims) -> ApiResult<Product> {
    claims.require_role(&[Role::Seller, Role::Admin])?;
    product.filter(|p| p.deleted_at.is_none() && (claims.is_admin() || p.seller_id == claims.sub)).ok_or_else(not_found)
}

#[utoipa::path(get, path = "/api/products/{id}", tag = "products", params(("id" = Uuid, Path, description = "Product id")),
    responses((status = 200, body = Product), BadRequest, NotFound))]
pub async fn get_product(State(state): State<AppState>, ValidPath(id): ValidPath<Uuid>) -> ApiResult<Json<Product>> {
    storefront(state.store.product_cached(id).await?)
}

#[utoipa::path(get, path = "/api/products/slug/{slug}", tag = "products", params(("slug" = String, Path, description = "Product slug")),
    responses((status = 200, body = Product), NotFound))]
pub async fn product_by_slug(State(state): State<AppState>, ValidPath(slug): ValidPath<String>) -> ApiResult<Json<Product>> {
    storefront(state.store.product_by_slug_cached(&slug).await?)
}

#[utoipa::path(get, path = "/api/products/sku/{sku}", tag = "products", params(("sku" = String, Path, description = "Product SKU (case-insensitive)")),
    responses((status = 200, body = Product), NotFound))]
pub async fn product_by_sku(State(state): State<AppState>, ValidPath(sku): ValidPath<String>) -> ApiResult<Json<Product>> {
    storefront(state.store.product_by_sku_cached(&sku).await?)
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct FeaturedQuery {
    /// How many (1–100, default 10).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
}

/// Active featured products, newest first.
#[utoipa::path(get, path = "/api/products/featured", tag = "products", params(FeaturedQuery),
    responses((status = 200, body = Vec<Product>), BadRequest))]
pub async fn featured_products(
    State(state): State<AppState>,
    ValidQuery(query): ValidQuery<FeaturedQuery>,
) -> ApiResult<Json<Vec<Product>>> {
    let limit = query.limit.unwrap_or(10);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::invalid_param("limit", "must be between 1 and 100"));
    }
    Ok(Json(state.store.featured_cached(limit).await?))
}

/// Create a product (SELLER or ADMIN; the caller becomes its seller). SKU and slug are unique;
/// a slug is generated from the name when absent.
#[utoipa::path(post, path = "/api/products", tag = "products", security(("bearer" = ["seller", "admin"])), request_body = ProductInput,
    responses(
        (status = 201, body = Product),
        Unauthorized,
        Forbidden,
        SkuOrSlugTaken,
        InvalidProduct,
    ))]
pub async fn create_product(
    State(state): State<AppState>,
    claims: Claims,
    ValidJson(body): ValidJson<ProductInput>,
) -> ApiResult<(StatusCode, Json<Product>)> {
    claims.require_role(&[Role::Seller, Role::Admin])?;
    check_images(body.images.as_ref(), &state)?;
    let now = Timestamp::now();
    let name = body.name.trim().to_owned();
    let slugs = if body.slug.is_some() { SlugPolicy::Exact } else { SlugPolicy::Suffix };
    let slug = body.slug.unwrap_or_else(|| slugify(&name));
    if slug.is_empty() {
        return Err(ApiError::validation(vec![FieldError::new("slug", "invalid", "cannot be derived from the name; give one")]));
    }
    let product = Product {
        id: shop_core::id::new_id(),
        seller_id: claims.sub,
        name,
        slug,
        sku: body.sku.trim().to_owned(),
        description: body.description.trim().to_owned(),
        price: body.price,
        compare_price: body.compare_price,
        currency: "usd".into(),
        category_id: body.category_id,
        brand: body.brand.map(|b| b.trim().to_owned()).filter(|b| !b.is_empty()),
        images: images_from_urls(body.images.unwrap_or_default()),
        tags: normalize_tags(body.tags.unwrap_or_default()),
        attributes: body.attributes.unwrap_or_default(),
        is_active: body.is_active.unwrap_or(true),
        is_featured: body.is_featured.unwrap_or(false),
        rating_average: 0.0,
        rating_count: 0,
        in_stock: false,
        available: None,
        created_at: now,
        updated_at: now,
        deleted_at: None,
        version: 1,
    };
    // A generated slug that is taken gets a numeric suffix (name, name-2, ...) in the store.
    let created = state.store.create_product(&product, slugs).await?.map_err(clash)?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// Change a product: absent fields stay. Sellers change only their own products (403).
#[utoipa::path(put, path = "/api/products/{id}", tag = "products", security(("bearer" = ["seller", "admin"])), request_body = ProductUpdate,
    params(("id" = Uuid, Path, description = "Product id")),
    responses(
        (status = 200, body = Product),
        Forbidden,
        NotFound,
        SkuOrSlugTaken,
        UnprocessableEntity,
    ))]
pub async fn update_product(
    State(state): State<AppState>,
    claims: Claims,
    ValidPath(id): ValidPath<Uuid>,
    ValidJson(body): ValidJson<ProductUpdate>,
) -> ApiResult<Json<Product>> {
    check_images(body.images.as_ref(), &state)?;
    let (_, new) =
        state.store.edit_product(id, |stored| Ok::<_, ApiError>(body.apply(editable(stored, &claims)?))).await?.map_err(clash)?;
    Ok(Json(new))
}

/// Delete a product: hidden everywhere, kept for order history (its SKU and slug stay taken).
#[utoipa::path(delete, path = "/api/products/{id}", tag = "products", security(("bearer" = ["seller", "admin"])),
    params(("id" = Uuid, Path, description = "Product id")),
    responses(
        (status = 204, description = "Deleted"),
        Forbidden,
        NotFound,
    ))]
pub async fn delete_product(State(state): State<AppState>, claims: Claims, ValidPath(id): ValidPath<Uuid>) -> ApiResult<StatusCode> {
    state
        .store
        .edit_product(id, |stored| {
            let product = editable(stored, &claims)?;
            Ok::<_, ApiError>(Product { deleted_at: Some(Timestamp::now()), ..product })
        })
        .await?
        .map_err(clash)?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SellerProductsQuery {
    /// ADMIN only: whose products (default: the caller's).
    pub seller_id: Option<uuid::Uuid>,
    /// Only active (`true`) or inactive (`false`) products.
    pub is_active: Option<bool>,
    /// Page number, from 1; `page × limit` at most 10,000.
    #[param(minimum = 1, maximum = 10_000)]
    pub page: Option<u32>,
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
}

/// A seller's own products, inactive ones included (deleted ones excluded), newest first. The
/// storefront routes show active products only; this is where a seller (or an admin, with
/// `sellerId`) sees everything they manage.
#[utoipa::path(get, path = "/api/seller/products", tag = "products", security(("bearer" = ["seller", "admin"])), params(SellerProductsQuery),
    responses(
        (status = 200, body = Page<Product>),
        BadRequest,
        Forbidden,
    ))]
pub async fn seller_products(
    State(state): State<AppState>,
    claims: Claims,
    ValidQuery(query): ValidQuery<SellerProductsQuery>,
) -> ApiResult<Json<Page<Product>>> {
    claims.require_role(&[Role::Seller, Role::Admin])?;
    let page = PageQuery { page: query.page, limit: query.limit }.checked_within(MAX_RESULT_WINDOW)?;
    let seller = match query.seller_id {
        Some(other) if other != claims.sub => {
            claims.require_role(&[Role::Admin])?;
            other
        }
        _ => claims.sub,
    };
    let products: Vec<Product> = state
        .store
        .seller_products(seller)
        .await?
        .into_iter()
        .filter(|p| p.deleted_at.is_none())
        .filter(|p| query.is_active.is_none_or(|a| p.is_active == a))
        .collect();
    Ok(Json(page.slice(products)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LowStockQuery {
    /// ADMIN only: one seller's products (default for an admin: every seller's).
    pub seller_id: Option<uuid::Uuid>,
    /// Page number, from 1; `page × limit` at most 10,000.
    #[param(minimum = 1, maximum = 10_000)]
    pub page: Option<u32>,
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
}

/// A product low on stock, with the threshold it is at or below.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LowStockProduct {
    #[serde(flatten)]
    pub product: Product,
    /// Units left (also in `available`).
    pub stock_available: u32,
    pub low_stock_threshold: u32,
}

/// Active products at or below their low-stock threshold (`available <= lowStockThreshold`, as
/// inventory last reported), fewest available first. A SELLER sees their own; an ADMIN sees
/// every seller's, or one seller's with `sellerId`. Read from a sparse index of low-stock
/// products only.
#[utoipa::path(get, path = "/api/products/low-stock", tag = "products", security(("bearer" = ["seller", "admin"])), params(LowStockQuery),
    responses(
        (status = 200, body = Page<LowStockProduct>),
        BadRequest,
        Unauthorized,
        Forbidden,
    ))]
pub async fn low_stock_products(
    State(state): State<AppState>,
    claims: Claims,
    ValidQuery(query): ValidQuery<LowStockQuery>,
) -> ApiResult<Json<Page<LowStockProduct>>> {
    claims.require_role(&[Role::Seller, Role::Admin])?;
    let page = PageQuery { page: query.page, limit: query.limit }.checked_within(MAX_RESULT_WINDOW)?;
    let seller = match query.seller_id {
        Some(other) if other != claims.sub => {
            claims.require_role(&[Role::Admin])?;
            Some(other)
        }
        Some(own) => Some(own),
        None if claims.is_admin() => None,
        None => Some(claims.sub),
    };
    let products: Vec<LowStockProduct> = state
        .store
        .low_stock(seller)
        .await?
        .into_iter()
        .filter_map(|r| {
            Some(LowStockProduct { stock_available: r.stock_available?, low_stock_threshold: r.low_stock_threshold?, product: r.product })
        })
        .collect();
    Ok(Json(page.slice(products)))
}

/// One product the caller manages, inactive included: a seller's own (404 for another seller's),
/// any for an ADMIN. Deleted products are gone (404).
#[utoipa::path(get, path = "/api/seller/products/{id}", tag = "products", security(("bearer" = ["seller", "admin"])),
    params(("id" = Uuid, Path, description = "Product id")),
    responses(
        (status = 200, body = Product),
        Forbidden,
        NotFound,
    ))]
pub async fn seller_product(State(state): State<AppState>, claims: Claims, ValidPath(id): ValidPath<Uuid>) -> ApiResult<Json<Product>> {
    editable(state.store.product(id).await?, &claims).map(Json)
}
