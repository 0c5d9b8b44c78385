//! Moderation (ADMIN): hiding a review takes it out of the product's public list and summary
//! (and so out of the catalog's rating); unhiding brings it back. Both are idempotent.

use axum::Json;
use axum::extract::State;
use shop_core::auth::{Claims, Role};
use shop_core::extract::{ValidJson, ValidPath};
use shop_core::problem::responses::{
    BadRequest, Forbidden, PayloadTooLarge, ServiceUnavailable, Unauthorized, UnprocessableEntity, UnsupportedMediaType,
};
use shop_core::time::Timestamp;
use shop_core::{ApiError, ApiResult};
use uuid::Uuid;

use super::reviews::{ReviewNotFound, no_review};
use crate::AppState;
use crate::domain::{Hide, Review, ReviewView};

/// Sets `hidden` on a review (nothing is written when it already is so).
async fn set_hidden(state: &AppState, id: Uuid, reason: Option<&str>) -> ApiResult<Review> {
    let hide = reason.is_some();
    if let Some(review) = state.store.review(id).await?
        && review.is_hidden == hide
        && (!hide || review.hidden_reason.as_deref() == reason)
    {
        return Ok(review);
    }
    state
        .store
        .change(id, |old| {
            let mut new = old.clone();
            new.is_hidden = hide;
            new.hidden_reason = reason.map(str::to_owned);
            new.hidden_at = hide.then(Timestamp::now);
            Ok::<_, ApiError>(new)
        })
        .await?
        .ok_or_else(no_review)
}

/// Hide a review (ADMIN): out of the public list and the summary; its author still sees it.
#[utoipa::path(post, path = "/api/reviews/{id}/hide", tag = "reviews", security(("bearer" = ["admin"])), request_body = Hide,
    params(("id" = Uuid, Path, description = "Review id")),
    responses(
        (status = 200, body = ReviewView),
        BadRequest,
        Unauthorized,
        Forbidden,
        ReviewNotFound,
        PayloadTooLarge,
        UnsupportedMediaType,
        UnprocessableEntity,
        ServiceUnavailable,
    ))]
#[tracing::instrument(skip_all)]
pub async fn hide_review(
    State(state): State<AppState>,
    claims: Claims,
    ValidPath(id): ValidPath<Uuid>,
    ValidJson(body): ValidJson<Hide>,
) -> ApiResult<Json<ReviewView>> {
    claims.require_role(&[Role::Admin])?;
    Ok(Json(set_hidden(&state, id, Some(&body.reason)).await?.view()))
}

/// Show a hidden review again (ADMIN): back in the public list and the summary.
#[utoipa::path(post, path = "/api/reviews/{id}/unhide", tag = "reviews", security(("bearer" = ["admin"])),
    params(("id" = Uuid, Path, description = "Review id")),
    responses(
        (status = 200, body = ReviewView),
        BadRequest,
        Unauthorized,
        Forbidden,
        ReviewNotFound,
        ServiceUnavailable,
    ))]
#[tracing::instrument(skip_all)]
pub async fn unhide_review(State(state): State<AppState>, claims: Claims, ValidPath(id): ValidPath<Uuid>) -> ApiResult<Json<ReviewView>> {
    claims.require_role(&[Role::Admin])?;
    Ok(Json(set_hidden(&state, id, None).await?.view()))
}
