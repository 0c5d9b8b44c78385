//! One module per resource; each handler carries its OpenAPI description.

pub mod categories;
pub mod images;
pub mod internal;
pub mod listing;
pub mod products;

use shop_core::routes;
use utoipa_axum::router::OpenApiRouter;

use crate::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(categories::list_categories, categories::create_category))
        .routes(routes!(categories::category_tree))
        .routes(routes!(categories::category_by_slug))
        .routes(routes!(categories::get_category, categories::update_category, categories::delete_category))
        .routes(routes!(listing::list_products, products::create_product))
        .routes(routes!(products::featured_products))
        .routes(routes!(products::low_stock_products))
        .routes(routes!(products::product_by_slug))
        .routes(routes!(products::product_by_sku))
        .routes(routes!(products::get_product, products::update_product, products::delete_product))
        .routes(routes!(products::seller_products))
        .routes(routes!(products::seller_product))
        .routes(routes!(images::upload_url))
        .routes(routes!(images::delete_image))
}
