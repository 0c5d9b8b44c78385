//! `/api/users/me*`: the caller's profile, password and sessions.

use axum::Json;
use axum::extract::State;
use http::StatusCode;
use serde::Deserialize;
use shop_core::auth::Claims;
use shop_core::extract::{ValidJson, ValidPath};
use shop_core::problem::responses::{Unauthorized, UnprocessableEntity};
use shop_core::time::Timestamp;
use shop_core::{ApiError, ApiResult, FieldError};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::{SessionView, UserView, not_blank};
use crate::routes::auth::password_policy;
use crate::routes::{Message, current_user};
use crate::store::UserChanges;
use crate::{AppState, password};

shop_core::problem_responses! {
    /// A password change that is refused.
    PasswordRejected: 422 => "Wrong current password or policy violation";
    /// Ending a session that is not the caller's.
    NoSuchSession: 404 => "No such session of the caller";
}

#[utoipa::path(get, path = "/api/users/me", tag = "users", security(("bearer" = [])),
    responses((status = 200, body = UserView), Unauthorized))]
pub async fn get_me(State(state): State<AppState>, claims: Claims) -> ApiResult<Json<UserView>> {
    let user = current_user(&state, &claims).await?;
    Ok(Json(UserView::from(&user)))
}

#[derive(Debug, Deserialize, garde::Validate, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateMeRequest {
    #[garde(inner(length(chars, min = 1, max = 50), custom(not_blank)))]
    #[schema(min_length = 1, max_length = 50, pattern = r"[^\t-\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]")]
    pub first_name: Option<String>,
    #[garde(inner(length(chars, min = 1, max = 50), custom(not_blank)))]
    #[schema(min_length = 1, max_length = 50, pattern = r"[^\t-\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]")]
    pub last_name: Option<String>,
}

/// Change the caller's name. The email is the login identity and is not changed here.
#[utoipa::path(patch, path = "/api/users/me", tag = "users", security(("bearer" = [])), request_body = UpdateMeRequest,
    responses(
        (status = 200, body = UserView),
        Unauthorized,
        UnprocessableEntity,
    ))]
pub async fn update_me(
    State(state): State<AppState>,
    claims: Claims,
    ValidJson(body): ValidJson<UpdateMeRequest>,
) -> ApiResult<Json<UserView>> {
    let user = current_user(&state, &claims).await?;
    let changes = UserChanges {
        first_name: body.first_name.map(|s| s.trim().to_owned()),
        last_name: body.last_name.map(|s| s.trim().to_owned()),
        ..UserChanges::default()
    };
    let updated =
        state.store.update_user(user.id, &changes, Timestamp::now()).await?.ok_or_else(|| ApiError::not_found("User not found."))?;
    Ok(Json(UserView::from(&updated)))
}

#[derive(Debug, Deserialize, garde::Validate, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChangePasswordRequest {
    #[garde(length(chars, min = 1, max = 1024))]
    #[schema(min_length = 1, max_length = 1024)]
    pub current_password: String,
    /// 8–128 characters with an upper-case letter, a lower-case letter and a digit or symbol.
    #[garde(custom(password_policy))]
    #[schema(min_length = 8, max_length = 128)]
    pub new_password: String,
}

/// Change the password; every other session ends.
#[utoipa::path(post, path = "/api/users/me/password", tag = "users", security(("bearer" = [])), request_body = ChangePasswordRequest,
    responses(
        (status = 200, body = Message),
        Unauthorized,
        PasswordRejected,
    ))]
#[tracing::instrument(skip_all)]
pub async fn change_password(
    State(state): State<AppState>,
    claims: Claims,
    ValidJson(body): ValidJson<ChangePasswordRequest>,
) -> ApiResult<Json<Message>> {
    let user = current_user(&state, &claims).await?;
    let hash_error = |e: password::HashError| ApiError::internal(&e);
    if !password::verify(body.current_password, Some(user.password_hash.clone())).await.map_err(hash_error)? {
        return Err(ApiError::validation(vec![FieldError::new("currentPassword", "incorrect", "is not the current password")]));
    }
    let new_hash = password::hash(body.new_password).await.map_err(hash_error)?;
    // The epoch moves on in the same transaction, and the caller's session with it.
    if state.store.set_password(&user, &new_hash, claims.session_id, Timestamp::now()).await? == crate::store::Outcome::ConditionFailed {
        return Err(ApiError::unauthorized("session_revoked", "This session has ended; log in again."));
    }
    tracing::info!(user_id = %user.id, "password changed; other sessions ended");
    let event = shop_aws::messages::PasswordChanged { user_id: user.id, email: user.email.to_string(), first_name: user.first_name };
    state.notify(event).await;
    Ok(Message::new("Password changed"))
}

/// The caller's active sessions, most recently used first.
#[utoipa::path(get, path = "/api/users/me/sessions", tag = "users", security(("bearer" = [])),
    responses((status = 200, body = Vec<SessionView>), Unauthorized))]
pub async fn list_sessions(State(state): State<AppState>, claims: Claims) -> ApiResult<Json<Vec<SessionView>>> {
    let user = current_user(&state, &claims).await?;
    let now = Timestamp::now().unix_timestamp();
    let mut sessions: Vec<SessionView> = state
        .store
        .sessions(user.id)
        .await?
        .into_iter()
        .filter(|s| s.expires_at > now && user.honours(s))
        .map(|s| SessionView {
            current: Some(s.id) == claims.session_id,
            id: s.id,
            user_agent: s.user_agent,
            ip_address: s.ip_address,
            created_at: s.created_at,
            last_used_at: s.last_used_at,
        })
        .collect();
    sessions.sort_by_key(|s| std::cmp::Reverse(s.last_used_at));
    Ok(Json(sessions))
}

/// End one of the caller's sessions.
#[utoipa::path(delete, path = "/api/users/me/sessions/{id}", tag = "users", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Session id")),
    responses(
        (status = 204, description = "Session ended"),
        Unauthorized,
        NoSuchSession,
    ))]
pub async fn delete_session(State(state): State<AppState>, claims: Claims, ValidPath(id): ValidPath<Uuid>) -> ApiResult<StatusCode> {
    let user = current_user(&state, &claims).await?;
    match state.store.delete_session(user.id, id).await? {
        crate::store::Outcome::Done => Ok(StatusCode::NO_CONTENT),
        crate::store::Outcome::ConditionFailed => Err(ApiError::not_found("Session not found.")),
    }
}
