//! `/api/inventory*` ([`stock`]) and the internal routes ([`internal`]).

pub mod internal;
pub mod stock;

use utoipa_axum::{router::OpenApiRouter, routes};

use crate::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(stock::list_stock))
        .routes(routes!(stock::low_stock))
        .routes(routes!(stock::bulk_stock))
        .routes(routes!(stock::get_stock, stock::set_stock))
        .routes(routes!(stock::adjust_stock))
}

/// Parses a product id path segment; a malformed id names the parameter.
pub fn parse_product_id(raw: &str) -> shop_core::ApiResult<uuid::Uuid> {
    shop_core::extract::parse_uuid("productId", raw)
}
