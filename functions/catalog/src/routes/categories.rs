//! `/api/categories*`: the category tree. Reads are public; writes are for ADMINs.

use std::collections::{BTreeMap, BTreeSet};

use axum::Json;
use axum::extract::State;
use http::StatusCode;
use serde::Serialize;
use shop_core::auth::{Claims, Role};
use shop_core::extract::{ValidJson, ValidPath};
use shop_core::problem::responses::{BadRequest, Forbidden, NotFound, Unauthorized};
use shop_core::time::Timestamp;
use shop_core::{ApiError, ApiResult, FieldError};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::AppState;
use crate::domain::{Category, CategoryInput, CategoryNode, CategoryUpdate, creates_cycle, slugify, tree};
use crate::store::{CategoryRecord, Clash};

shop_core::problem_responses! {
    /// A category write whose slug or name is taken.
    SlugOrNameTaken: 409 => "`slug_taken` or `name_taken`";
    /// A new category that is refused.
    InvalidCategory: 422 => "Invalid fields; unknown parent";
    /// A category change that is refused.
    InvalidCategoryChange: 422 => "Invalid fields, unknown parent or a cycle";
    /// Deleting a category that still has subcategories or products.
    CategoryNotEmpty: 409 => "`category_not_empty`";
}

/// A category with its counts.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CategoryView {
    #[serde(flatten)]
    pub category: Category,
    pub child_count: i64,
    pub product_count: i64,
}

impl From<CategoryRecord> for CategoryView {
    fn from(r: CategoryRecord) -> Self {
        Self { category: r.category, child_count: r.child_count.max(0), product_count: r.product_count.max(0) }
    }
}

/// A category with its parent and direct children.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CategoryDetail {
    #[serde(flatten)]
    pub category: CategoryView,
    pub parent: Option<Category>,
    pub children: Vec<Category>,
}

/// Categories visible to the storefront: active, with every ancestor active.
fn visible(all: Vec<CategoryRecord>) -> Vec<CategoryRecord> {
    let by_id: BTreeMap<Uuid, &CategoryRecord> = all.iter().map(|r| (r.category.id, r)).collect();
    let mut ok = BTreeSet::new();
    for r in &all {
        let mut current = Some(r);
        let mut visible = true;
        let mut steps = 0;
        while let Some(c) = current {
            if !c.category.is_active || steps > all.len() {
                visible = false;
                break;
            }
            current = c.category.parent_id.and_then(|p| by_id.get(&p).copied());
            steps += 1;
        }
        if visible {
            ok.insert(r.category.id);
        }
    }
    all.into_iter().filter(|r| ok.contains(&r.category.id)).collect()
}

fn clash(c: Clash) -> ApiError {
    match c {
        Clash::Slug => ApiError::conflict("slug_taken", "A category with this slug already exists.").with_errors(vec![FieldError::new(
            "slug",
            "taken",
            "is already used",
        )]),
        Clash::Name => ApiError::conflict("name_taken", "A category with this name already exists.").with_errors(vec![FieldError::new(
            "name",
            "taken",
            "is already used",
        )]),
        Clash::MissingCategory => ApiError::validation(vec![FieldError::new("parentId", "unknown_category", "does not exist")]),
        Clash::NotEmpty => ApiError::conflict("category_not_empty", "The category still has subcategories or products."),
        // Product rules never refuse a category write.
        Clash::Sku => ApiError::internal(&c),
    }
}

/// Active categories, sorted by name, with their counts.
#[utoipa::path(get, path = "/api/categories", tag = "categories", responses((status = 200, body = Vec<CategoryView>)))]
pub async fn list_categories(State(state): State<AppState>) -> ApiResult<Json<Vec<CategoryView>>> {
    let mut list: Vec<CategoryView> = visible(state.store.categories_cached().await?).into_iter().map(CategoryView::from).collect();
    list.sort_by_key(|c| c.category.name.to_lowercase());
    Ok(Json(list))
}

/// The active tree, any depth, each level sorted by name.
#[utoipa::path(get, path = "/api/categories/tree", tag = "categories", responses((status = 200, body = Vec<CategoryNode>)))]
pub async fn category_tree(State(state): State<AppState>) -> ApiResult<Json<Vec<CategoryNode>>> {
    let categories: Vec<Category> = visible(state.store.categories_cached().await?).into_iter().map(|r| r.category).collect();
    Ok(Json(tree(&categories)))
}

/// The visible category matching `pick`, with parent and children, from the cached tree.
async fn detail(state: &AppState, pick: impl Fn(&Category) -> bool) -> ApiResult<CategoryDetail> {
    let all = visible(state.store.categories_cached().await?);
    let record = all.iter().find(|r| pick(&r.category)).cloned().ok_or_else(|| ApiError::not_found("Category not found."))?;
    let parent = record.category.parent_id.and_then(|p| all.iter().find(|r| r.category.id == p)).map(|r| r.category.clone());
    let mut children: Vec<Category> =
        all.iter().filter(|r| r.category.parent_id == Some(record.category.id)).map(|r| r.category.clone()).collect();
    children.sort_by_key(|c| c.name.to_lowercase());
    Ok(CategoryDetail { category: record.into(), parent, children })
}

#[utoipa::path(get, path = "/api/categories/{id}", tag = "categories", params(("id" = Uuid, Path, description = "Category id")),
    responses((status = 200, body = CategoryDetail), BadRequest, NotFound))]
pub async fn get_category(State(state): State<AppState>, ValidPath(id): ValidPath<Uuid>) -> ApiResult<Json<CategoryDetail>> {
    Ok(Json(detail(&state, |c| c.id == id).await?))
}

#[utoipa::path(get, path = "/api/categories/slug/{slug}", tag = "categories", params(("slug" = String, Path, description = "Category slug")),
    responses((status = 200, body = CategoryDetail), NotFound))]
pub async fn category_by_slug(State(state): State<AppState>, ValidPath(slug): ValidPath<String>) -> ApiResult<Json<CategoryDetail>> {
    Ok(Json(detail(&state, |c| c.slug == slug).await?))
}

/// Create a category (ADMIN). The parent must exist.
#[utoipa::path(post, path = "/api/categories", tag = "categories", security(("bearer" = ["admin"])), request_body = CategoryInput,
    responses(
        (status = 201, body = Category),
        Unauthorized,
        Forbidden,
        SlugOrNameTaken,
        InvalidCategory,
    ))]
pub async fn create_category(
    State(state): State<AppState>,
    claims: Claims,
    ValidJson(body): ValidJson<CategoryInput>,
) -> ApiResult<(StatusCode, Json<Category>)> {
    claims.require_role(&[Role::Admin])?;
    let now = Timestamp::now();
    let name = body.name.trim().to_owned();
    let category = Category {
        id: shop_core::id::new_id(),
        slug: body.slug.unwrap_or_else(|| slugify(&name)),
        name,
        description: body.description.map(|d| d.trim().to_owned()).filter(|d| !d.is_empty()),
        parent_id: body.parent_id,
        is_active: body.is_active.unwrap_or(true),
        created_at: now,
        updated_at: now,
    };
    if category.slug.is_empty() {
        return Err(ApiError::validation(vec![FieldError::new("slug", "invalid", "cannot be derived from the name; give one")]));
    }
    state.store.create_category(&category).await?.map_err(clash)?;
    Ok((StatusCode::CREATED, Json(category)))
}

/// Change a category (ADMIN): fields absent stay; `parentId: null` makes it a root. Moving it
/// under itself or a descendant is refused (422 `category_cycle`).
#[utoipa::path(put, path = "/api/categories/{id}", tag = "categories", security(("bearer" = ["admin"])), request_body = CategoryUpdate,
    params(("id" = Uuid, Path, description = "Category id")),
    responses(
        (status = 200, body = Category),
        Forbidden,
        NotFound,
        SlugOrNameTaken,
        InvalidCategoryChange,
    ))]
pub async fn update_category(
    State(state): State<AppState>,
    claims: Claims,
    ValidPath(id): ValidPath<Uuid>,
    ValidJson(body): ValidJson<CategoryUpdate>,
) -> ApiResult<Json<Category>> {
    claims.require_role(&[Role::Admin])?;
    // The tree to check a move against (read once; a concurrent move elsewhere cannot make a
    // cycle through this category without changing it, which the write would see).
    let all: Vec<Category> = match body.parent_id {
        Some(Some(_)) => state.store.categories().await?.into_iter().map(|r| r.category).collect(),
        _ => Vec::new(),
    };
    let new = state
        .store
        .edit_category(id, |stored| {
            let mut new = stored.ok_or_else(|| ApiError::not_found("Category not found."))?;
            if let Some(name) = &body.name {
                new.name = name.trim().to_owned();
            }
            if let Some(slug) = &body.slug {
                new.slug = slug.clone();
            }
            if let Some(description) = &body.description {
                new.description = Some(description.trim().to_owned()).filter(|d| !d.is_empty());
            }
            if let Some(active) = body.is_active {
                new.is_active = active;
            }
            if let Some(parent) = body.parent_id {
                if let Some(p) = parent
                    && creates_cycle(id, p, &all)
                {
                    return Err(ApiError::new(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        "category_cycle",
                        "A category cannot sit under itself or its descendants.",
                    )
                    .with_errors(vec![FieldError::new("parentId", "cycle", "would create a cycle")]));
                }
                new.parent_id = parent;
            }
            Ok(new)
        })
        .await?
        .map_err(clash)?;
    Ok(Json(new))
}

/// Delete a category (ADMIN); refused while it has subcategories or products.
#[utoipa::path(delete, path = "/api/categories/{id}", tag = "categories", security(("bearer" = ["admin"])),
    params(("id" = Uuid, Path, description = "Category id")),
    responses(
        (status = 204, description = "Deleted"),
        Forbidden,
        NotFound,
        CategoryNotEmpty,
    ))]
pub async fn delete_category(State(state): State<AppState>, claims: Claims, ValidPath(id): ValidPath<Uuid>) -> ApiResult<StatusCode> {
    claims.require_role(&[Role::Admin])?;
    let record = state.store.category(id).await?.ok_or_else(|| ApiError::not_found("Category not found."))?;
    state.store.delete_category(&record.category).await?.map_err(clash)?;
    Ok(StatusCode::NO_CONTENT)
}
