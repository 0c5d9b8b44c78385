//! `/api/orders*`: customers ([`orders`]), admins and sellers ([`manage`]); the internal
//! routes for payments and reviews ([`internal`]).

pub mod internal;
pub mod manage;
pub mod orders;

use shop_core::routes;
use utoipa_axum::router::OpenApiRouter;

use crate::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(orders::place, orders::list))
        .routes(routes!(orders::get_order))
        .routes(routes!(orders::history))
        .routes(routes!(orders::by_number))
        .routes(routes!(orders::cancel))
        .routes(routes!(manage::admin_list))
        .routes(routes!(manage::stats))
        .routes(routes!(manage::set_status))
        .routes(routes!(manage::seller_list))
        .routes(routes!(manage::seller_order))
}
