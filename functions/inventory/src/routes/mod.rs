//! `/api/inventory*` ([`stock`]) and the internal routes ([`internal`]).

pub mod internal;
pub mod stock;

use shop_core::routes;
use utoipa_axum::router::OpenApiRouter;

use crate::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(stock::list_stock))
        .routes(routes!(stock::low_stock))
        .routes(routes!(stock::bulk_stock))
        .routes(routes!(stock::get_stock, stock::set_stock))
        .routes(routes!(stock::adjust_stock))
}
