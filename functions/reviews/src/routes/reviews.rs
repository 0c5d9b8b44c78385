//! `/api/reviews*`: writing reviews (signed-in users; editing is the author's, deleting the
//! author's or an admin's), reading them (public: a product's visible reviews and summary; a
//! user's own reviews, hidden ones included, for that user and admins) and helpful votes.

use axum::Json;
use axum::extract::State;
use http::StatusCode;
use serde::Deserialize;
use shop_core::auth::Claims;
use shop_core::extract::{ValidJson, ValidPath, ValidQuery};
use shop_core::pagination::{Page, PageQuery};
use shop_core::problem::responses::{
    BadRequest, Forbidden, PayloadTooLarge, ServiceUnavailable, Unauthorized, UnprocessableEntity, UnsupportedMediaType,
};
use shop_core::time::Timestamp;
use shop_core::{ApiError, ApiResult, FieldError};
use utoipa::IntoParams;
use uuid::Uuid;

use crate::AppState;
use crate::domain::{CreateReview, HelpfulView, Review, ReviewView, Sort, SummaryView, UpdateReview, display_name};
use crate::store::Created;

shop_core::problem_responses! {
    /// No such review (also a hidden one, to anyone but its author and admins).
    pub ReviewNotFound: 404 => "No such review";
    /// The product does not exist or is not for sale.
    pub ProductNotFound: 404 => "`product_not_found`: no such active product (names `productId`)";
    /// A second review of the same product.
    pub AlreadyReviewed: 409 => "`already_reviewed`: the caller has reviewed this product already";
    /// A vote on one's own review.
    pub OwnReview: 409 => "`own_review`: one's own review cannot be voted helpful";
    /// Another user's reviews (their existence is not revealed).
    pub UserReviewsNotFound: 404 => "Another user's reviews (only that user and admins list them)";
}

pub(crate) fn no_review() -> ApiError {
    ApiError::not_found("Review not found.")
}

/// Whether the user received the product. Orders unavailable: the request fails (503), never a
/// review wrongly marked unverified.
async fn verified(state: &AppState, user: Uuid, product: Uuid) -> ApiResult<bool> {
    Ok(state.orders.has_purchased(user, product).await?)
}

/// Write a review of a product the caller has not reviewed yet (201).
#[utoipa::path(post, path = "/api/reviews", tag = "reviews", security(("bearer" = [])), request_body = CreateReview,
    responses(
        (status = 201, body = ReviewView),
        Unauthorized,
        ProductNotFound,
        AlreadyReviewed,
        PayloadTooLarge,
        UnsupportedMediaType,
        UnprocessableEntity,
        ServiceUnavailable,
    ))]
#[tracing::instrument(skip_all)]
pub async fn create_review(
    State(state): State<AppState>,
    claims: Claims,
    ValidJson(body): ValidJson<CreateReview>,
) -> ApiResult<(StatusCode, Json<ReviewView>)> {
    let product = state.catalog.product(body.product_id).await?.filter(|p| p.is_reviewable());
    if product.is_none() {
        return Err(ApiError::new(StatusCode::NOT_FOUND, "product_not_found", "No such product for sale.")
            .with_errors(vec![FieldError::new("productId", "unknown_product", "no active product has this id")]));
    }
    let (purchased, name) = tokio::join!(verified(&state, claims.sub, body.product_id), state.accounts.name(claims.sub));
    let reviewer_name = name?.map_or_else(|| display_name("", ""), |n| display_name(&n.first_name, &n.last_name));
    let now = Timestamp::now();
    let review = Review {
        id: Uuid::now_v7(),
        product_id: body.product_id,
        user_id: claims.sub,
        rating: body.rating,
        title: body.title,
        content: body.content,
        reviewer_name,
        is_verified_purchase: purchased?,
        helpful_count: 0,
        is_hidden: false,
        hidden_reason: None,
        hidden_at: None,
        created_at: now,
        updated_at: now,
        version: 1,
    };
    match state.store.create(&review).await? {
        Created::Done(review) => Ok((StatusCode::CREATED, Json(review.view()))),
        Created::Duplicate => Err(ApiError::conflict("already_reviewed", "You have already reviewed this product.")
            .with_errors(vec![FieldError::new("productId", "already_reviewed", "you have reviewed this product already")])),
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ProductReviewsQuery {
    /// Page number, from 1; `page × limit` at most 10,000.
    #[param(minimum = 1, maximum = 10_000)]
    pub page: Option<u32>,
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// `newest` (default), `oldest`, `highest`, `lowest`, `most_helpful`.
    #[param(value_type = Option<Sort>, inline)]
    pub sort: Option<String>,
    /// Only reviews with this many stars (1 to 5).
    #[param(minimum = 1, maximum = 5)]
    pub rating: Option<u8>,
    /// Only verified purchases (`true`) or only the others (`false`).
    pub verified: Option<bool>,
}

/// A product's visible reviews, sorted, filtered and paginated (public).
#[utoipa::path(get, path = "/api/reviews/product/{productId}", tag = "reviews",
    params(("productId" = Uuid, Path, description = "Product id"), ProductReviewsQuery),
    responses(
        (status = 200, body = Page<ReviewView>),
        BadRequest,
        ServiceUnavailable,
    ))]
#[tracing::instrument(skip_all)]
pub async fn product_reviews(
    State(state): State<AppState>,
    ValidPath(product_id): ValidPath<Uuid>,
    ValidQuery(query): ValidQuery<ProductReviewsQuery>,
) -> ApiResult<Json<Page<ReviewView>>> {
    let page = PageQuery { page: query.page, limit: query.limit }.checked()?;
    let sort = match query.sort.as_deref() {
        None => Sort::default(),
        Some(value) => Sort::parse(value).ok_or_else(|| ApiError::invalid_param("sort", format!("must be one of {}", Sort::NAMES)))?,
    };
    if query.rating.is_some_and(|r| !(1..=5).contains(&r)) {
        return Err(ApiError::invalid_param("rating", "must be 1 to 5"));
    }
    let mut reviews: Vec<Review> = state
        .store
        .product_reviews(product_id)
        .await?
        .into_iter()
        .filter(|r| !r.is_hidden)
        .filter(|r| query.rating.is_none_or(|rating| r.rating == rating))
        .filter(|r| query.verified.is_none_or(|v| r.is_verified_purchase == v))
        .collect();
    sort.apply(&mut reviews);
    Ok(Json(page.slice(reviews.iter().map(Review::view).collect())))
}

/// A product's rating summary: visible reviews per star, their count and mean (public).
#[utoipa::path(get, path = "/api/reviews/product/{productId}/summary", tag = "reviews",
    params(("productId" = Uuid, Path, description = "Product id")),
    responses(
        (status = 200, body = SummaryView),
        BadRequest,
        ServiceUnavailable,
    ))]
#[tracing::instrument(skip_all)]
pub async fn product_summary(State(state): State<AppState>, ValidPath(product_id): ValidPath<Uuid>) -> ApiResult<Json<SummaryView>> {
    Ok(Json(state.store.summary(product_id).await?.view(product_id)))
}

/// A user's reviews, hidden ones included, newest first (the user themself or an ADMIN; 404 for
/// anyone else).
#[utoipa::path(get, path = "/api/reviews/user/{userId}", tag = "reviews", security(("bearer" = [])),
    params(("userId" = Uuid, Path, description = "User id"), PageQuery),
    responses(
        (status = 200, body = Page<ReviewView>),
        BadRequest,
        Unauthorized,
        UserReviewsNotFound,
        ServiceUnavailable,
    ))]
#[tracing::instrument(skip_all)]
pub async fn user_reviews(
    State(state): State<AppState>,
    claims: Claims,
    ValidPath(user_id): ValidPath<Uuid>,
    ValidQuery(query): ValidQuery<PageQuery>,
) -> ApiResult<Json<Page<ReviewView>>> {
    if claims.sub != user_id && !claims.is_admin() {
        return Err(ApiError::not_found("No reviews found."));
    }
    let page = query.checked()?;
    let reviews = state.store.user_reviews(user_id).await?;
    Ok(Json(page.slice(reviews.iter().map(Review::view).collect())))
}

/// Edit one's review (at least one field); whether it is a verified purchase is checked again.
/// Another user's review is 404, as if it did not exist (403 for an admin, who sees it).
#[utoipa::path(put, path = "/api/reviews/{id}", tag = "reviews", security(("bearer" = [])), request_body = UpdateReview,
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
pub async fn update_review(
    State(state): State<AppState>,
    claims: Claims,
    ValidPath(id): ValidPath<Uuid>,
    ValidJson(body): ValidJson<UpdateReview>,
) -> ApiResult<Json<ReviewView>> {
    if body.is_empty() {
        return Err(ApiError::validation(vec![FieldError::new("rating", "required", "give rating, title or content")]));
    }
    let review = state.store.review(id).await?.ok_or_else(no_review)?;
    if review.user_id != claims.sub {
        // An admin sees every review (403); anyone else learns nothing of it (404).
        return Err(if claims.is_admin() { ApiError::forbidden("You can only edit your own reviews.") } else { no_review() });
    }
    let purchased = verified(&state, claims.sub, review.product_id).await?;
    let updated = state
        .store
        .change(id, |old| {
            if old.user_id != claims.sub {
                return Err(if claims.is_admin() { ApiError::forbidden("You can only edit your own reviews.") } else { no_review() });
            }
            let mut new = old.clone();
            new.rating = body.rating.unwrap_or(old.rating);
            new.title = body.title.clone().unwrap_or_else(|| old.title.clone());
            new.content = body.content.clone().unwrap_or_else(|| old.content.clone());
            new.is_verified_purchase = purchased;
            Ok(new)
        })
        .await?
        .ok_or_else(no_review)?;
    Ok(Json(updated.view()))
}

/// Delete a review (its author or an ADMIN); 204. Anyone else's: 404, as if it did not exist.
#[utoipa::path(delete, path = "/api/reviews/{id}", tag = "reviews", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Review id")),
    responses(
        (status = 204, description = "Deleted"),
        BadRequest,
        Unauthorized,
        ReviewNotFound,
        ServiceUnavailable,
    ))]
#[tracing::instrument(skip_all)]
pub async fn delete_review(State(state): State<AppState>, claims: Claims, ValidPath(id): ValidPath<Uuid>) -> ApiResult<StatusCode> {
    state
        .store
        .delete(id, |review| {
            if review.user_id != claims.sub && !claims.is_admin() {
                return Err(no_review());
            }
            Ok(())
        })
        .await?
        .ok_or_else(no_review)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Toggle the caller's helpful vote: added if absent, removed if present. Not on one's own
/// review (409 `own_review`).
#[utoipa::path(post, path = "/api/reviews/{id}/helpful", tag = "reviews", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Review id")),
    responses(
        (status = 200, body = HelpfulView),
        BadRequest,
        Unauthorized,
        ReviewNotFound,
        OwnReview,
        ServiceUnavailable,
    ))]
#[tracing::instrument(skip_all)]
pub async fn toggle_helpful(State(state): State<AppState>, claims: Claims, ValidPath(id): ValidPath<Uuid>) -> ApiResult<Json<HelpfulView>> {
    let toggled = state
        .store
        .toggle_vote(id, claims.sub, |review| {
            if review.is_hidden {
                return Err(no_review());
            }
            if review.user_id == claims.sub {
                return Err(ApiError::conflict("own_review", "You cannot mark your own review as helpful."));
            }
            Ok(())
        })
        .await?
        .ok_or_else(no_review)?;
    Ok(Json(HelpfulView { helpful: toggled.helpful, helpful_count: u64::try_from(toggled.helpful_count).unwrap_or(0) }))
}
