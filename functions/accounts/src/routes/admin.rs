//! `/api/users` and `/api/users/{id}`: user management for ADMINs.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use shop_core::auth::{Claims, Role};
use shop_core::extract::{ValidJson, ValidPath, ValidQuery};
use shop_core::pagination::{Page, PageQuery};
use shop_core::problem::responses::{Forbidden, NotFound, Unauthorized};
use shop_core::time::Timestamp;
use shop_core::{ApiError, ApiResult, FieldError};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::AppState;
use crate::domain::UserView;
use crate::routes::current_user;
use crate::store::UserChanges;

shop_core::problem_responses! {
    /// A listing parameter is invalid.
    InvalidQueryParameter: 400 => "Invalid query parameter";
    /// An admin change that is refused.
    RefusedUserChange: 422 => "Empty change, or an admin changing their own role or status";
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UserListQuery {
    /// Case-insensitive search in email, first and last name.
    pub q: Option<String>,
    /// Only users with this role.
    pub role: Option<Role>,
    /// Only active (`true`) or deactivated (`false`) users.
    #[serde(rename = "isActive")]
    pub is_active: Option<bool>,
    /// Page number, from 1; `page × limit` at most 10,000.
    #[param(minimum = 1, maximum = 10_000)]
    pub page: Option<u32>,
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
}

/// List users, newest first, with search and filters.
#[utoipa::path(get, path = "/api/users", tag = "admin", security(("bearer" = ["admin"])), params(UserListQuery),
    responses(
        (status = 200, body = Page<UserView>),
        InvalidQueryParameter,
        Unauthorized,
        Forbidden,
    ))]
pub async fn list_users(
    State(state): State<AppState>,
    claims: Claims,
    ValidQuery(query): ValidQuery<UserListQuery>,
) -> ApiResult<Json<Page<UserView>>> {
    claims.require_role(&[Role::Admin])?;
    let page = PageQuery { page: query.page, limit: query.limit }.checked()?;
    current_user(&state, &claims).await?;
    let needle = query.q.as_deref().map(|q| q.trim().to_lowercase()).filter(|q| !q.is_empty());
    let users: Vec<UserView> = state
        .store
        .all_users()
        .await?
        .iter()
        .filter(|u| query.role.is_none_or(|r| u.role == r))
        .filter(|u| query.is_active.is_none_or(|a| u.is_active == a))
        .filter(|u| {
            needle.as_deref().is_none_or(|n| {
                u.email.as_str().contains(n) || u.first_name.to_lowercase().contains(n) || u.last_name.to_lowercase().contains(n)
            })
        })
        .map(UserView::from)
        .collect();
    Ok(Json(page.slice(users)))
}

#[derive(Debug, Deserialize, garde::Validate, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AdminUserUpdate {
    #[garde(skip)]
    pub role: Option<Role>,
    #[garde(skip)]
    pub is_active: Option<bool>,
}

/// Change a user's role or deactivate / reactivate it. Deactivation ends every session at once.
#[utoipa::path(patch, path = "/api/users/{id}", tag = "admin", security(("bearer" = ["admin"])), request_body = AdminUserUpdate,
    params(("id" = Uuid, Path, description = "User id")),
    responses(
        (status = 200, body = UserView),
        Unauthorized,
        Forbidden,
        NotFound,
        RefusedUserChange,
    ))]
pub async fn update_user(
    State(state): State<AppState>,
    claims: Claims,
    ValidPath(id): ValidPath<Uuid>,
    ValidJson(body): ValidJson<AdminUserUpdate>,
) -> ApiResult<Json<UserView>> {
    claims.require_role(&[Role::Admin])?;
    let admin = current_user(&state, &claims).await?;
    if body.role.is_none() && body.is_active.is_none() {
        return Err(ApiError::validation(vec![FieldError::new("body", "empty", "give role and/or isActive")]));
    }
    if admin.id == id {
        let field = if body.role.is_some() { "role" } else { "isActive" };
        return Err(ApiError::validation(vec![FieldError::new(field, "self", "admins cannot change their own role or status")]));
    }
    let changes = UserChanges { role: body.role, is_active: body.is_active, ..UserChanges::default() };
    let user = state.store.update_user(id, &changes, Timestamp::now()).await?.ok_or_else(|| ApiError::not_found("User not found."))?;
    // The same write moved the user's session epoch on: every session of theirs is over.
    tracing::info!(user_id = %user.id, role = ?body.role, is_active = ?body.is_active, "user changed by an admin; sessions ended");
    Ok(Json(UserView::from(&user)))
}
