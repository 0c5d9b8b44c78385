//! Problem responses for the OpenAPI document: types implementing [`utoipa::IntoResponses`], so a
//! route lists its errors by name instead of repeating the status, the body and the media type.
//!
//! ```ignore
//! use shop_core::problem::responses::{BadRequest, NotFound};
//!
//! #[utoipa::path(get, path = "/api/products/{id}", responses((status = 200, body = Product), BadRequest, NotFound))]
//! ```
//!
//! Each type documents one status with an `application/problem+json` body referencing the
//! [`Problem`](super::Problem) schema (every function's document registers it as a component).
//! The ones here carry no description; a route that says more — which `code`s it answers, when —
//! declares its own with [`problem_responses!`](crate::problem_responses):
//!
//! ```ignore
//! shop_core::problem_responses! {
//!     /// 409 of product writes.
//!     SkuOrSlugTaken: 409 => "`sku_taken` or `slug_taken`";
//! }
//! ```

use std::collections::BTreeMap;

use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder, response::Response};

#[doc(hidden)]
pub use utoipa as __utoipa;

use super::{PROBLEM_JSON, Problem};

/// The one response of a problem type: `status` with an `application/problem+json` body
/// referencing the `Problem` schema, and `description` unless it is empty.
pub fn problem_response(status: &str, description: &str) -> BTreeMap<String, RefOr<Response>> {
    let content = ContentBuilder::new().schema(Some(Ref::from_schema_name(<Problem as utoipa::ToSchema>::name()))).build();
    let response = ResponseBuilder::new().description(description).content(PROBLEM_JSON, content).build();
    BTreeMap::from([(status.to_owned(), RefOr::T(response))])
}

/// Declares problem response types: unit structs implementing [`utoipa::IntoResponses`] with one
/// 4xx/5xx status, an `application/problem+json` body (the `Problem` schema) and an optional
/// description, for `#[utoipa::path(responses(...))]`.
///
/// ```ignore
/// shop_core::problem_responses! {
///     /// The address book is full.
///     AddressLimit: 409 => "The address book is full (`address_limit`)";
///     /// No description: the status says it all.
///     pub Gone: 410;
/// }
/// ```
#[macro_export]
macro_rules! problem_responses {
    ($( $(#[$meta:meta])* $vis:vis $name:ident : $status:literal $(=> $description:literal)? ; )+) => {$(
        $(#[$meta])*
        #[derive(Debug, Clone, Copy)]
        $vis struct $name;

        const _: () = assert!($status >= 400 && $status <= 599, "a problem response has a 4xx or 5xx status");

        impl $crate::problem::responses::__utoipa::IntoResponses for $name {
            fn responses() -> ::std::collections::BTreeMap<
                ::std::string::String,
                $crate::problem::responses::__utoipa::openapi::RefOr<$crate::problem::responses::__utoipa::openapi::response::Response>,
            > {
                $crate::problem::responses::problem_response(stringify!($status), $crate::problem_responses!(@description $($description)?))
            }
        }
    )+};
    (@description $description:literal) => { $description };
    (@description) => { "" };
}

crate::problem_responses! {
    /// 400: a malformed body or an invalid query or path parameter.
    pub BadRequest: 400;
    /// 401: no valid access token, or bad credentials.
    pub Unauthorized: 401;
    /// 403: the caller's role may not do this.
    pub Forbidden: 403;
    /// 404: no such resource (also: another user's).
    pub NotFound: 404;
    /// 409: a conflict with the current state.
    pub Conflict: 409;
    /// 413: the body is too large.
    pub PayloadTooLarge: 413;
    /// 415: the body is not JSON.
    pub UnsupportedMediaType: 415;
    /// 422: the body parsed but is not acceptable (each field named).
    pub UnprocessableEntity: 422;
    /// 429: too many requests; `Retry-After` says when to retry.
    pub TooManyRequests: 429;
    /// 500: an internal error (opaque).
    pub InternalServerError: 500;
    /// 502: another Skyshop function answered unexpectedly.
    pub BadGateway: 502;
    /// 503: a dependency is unavailable or the data is contended; retry.
    pub ServiceUnavailable: 503;
}

#[cfg(test)]
mod tests {
    use utoipa::IntoResponses;

    use super::*;

    crate::problem_responses! {
        /// A described one.
        Described: 409 => "`sku_taken` or `slug_taken`";
    }

    fn json<T: IntoResponses>() -> serde_json::Value {
        serde_json::to_value(T::responses()).unwrap_or_default()
    }

    #[test]
    fn a_problem_response_is_problem_json_referencing_the_problem_schema() {
        let expected = serde_json::json!({
            "404": {"content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}
        });
        assert_eq!(json::<NotFound>(), expected);
    }

    #[test]
    fn a_declared_response_carries_its_description() {
        let expected = serde_json::json!({
            "409": {
                "description": "`sku_taken` or `slug_taken`",
                "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
            }
        });
        assert_eq!(json::<Described>(), expected);
    }
}
