//! `/api/reviews*` ([`reviews`]: reading and writing, [`moderation`]: hide and unhide).

pub mod moderation;
pub mod reviews;

use shop_core::routes;
use utoipa_axum::router::OpenApiRouter;

use crate::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(reviews::create_review))
        .routes(routes!(reviews::product_reviews))
        .routes(routes!(reviews::product_summary))
        .routes(routes!(reviews::user_reviews))
        .routes(routes!(reviews::update_review, reviews::delete_review))
        .routes(routes!(reviews::toggle_helpful))
        .routes(routes!(moderation::hide_review))
        .routes(routes!(moderation::unhide_review))
}
