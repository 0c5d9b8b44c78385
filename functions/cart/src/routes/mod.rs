//! One module per resource; each public handler carries its OpenAPI description.

pub mod cart;
pub mod coupons;
pub mod internal;

use shop_core::routes;
use utoipa_axum::router::OpenApiRouter;

use crate::AppState;

/// `/api/cart*`: public at the edge; the function verifies an optional bearer itself.
pub fn cart_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(cart::create_cart, cart::get_cart, cart::delete_cart))
        .routes(routes!(cart::add_item, cart::clear_cart))
        .routes(routes!(cart::set_quantity, cart::remove_item))
        .routes(routes!(cart::merge_cart))
        .routes(routes!(cart::apply_coupon, cart::remove_coupon))
}

/// `/api/coupons*`: behind the JWT authorizer (scope `admin`), which supplies the claims.
pub fn coupon_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(coupons::list_coupons, coupons::create_coupon)).routes(routes!(
        coupons::get_coupon,
        coupons::update_coupon,
        coupons::delete_coupon
    ))
}
