//! [`routes!`](crate::routes): `utoipa_axum::routes!` for the function routers, with the OpenAPI
//! half compiled only where the document is served.
//!
//! With the `openapi` feature (the local runner, which serves `/api/openapi.json`, and every
//! function's tests through shop-testkit, which snapshot the document) this is
//! `utoipa_axum::routes!` itself. Without it (the release Lambda builds) each handler contributes
//! only its path and methods: the `#[utoipa::path]` operations, their `ToSchema` schemas and
//! examples are then never referenced, and link-time optimisation leaves them out of the binary
//! (and no Lambda builds a document on its first request that nobody reads). The routing is the
//! same either way: the path and the methods come from the same `#[utoipa::path]` attribute.

/// `utoipa_axum::routes!`: the handlers' method router, with their OpenAPI operations.
#[cfg(feature = "openapi")]
#[macro_export]
macro_rules! routes {
    ($($handlers:tt)*) => {
        ::utoipa_axum::routes!($($handlers)*)
    };
}

/// `utoipa_axum::routes!` without the OpenAPI operations (the `openapi` feature is off): the
/// handlers' method router, each path with an empty operation per method.
#[cfg(not(feature = "openapi"))]
#[macro_export]
macro_rules! routes {
    ($($handlers:tt)*) => {
        $crate::__routes_without_openapi!($($handlers)*)
    };
}

/// What [`routes!`](crate::routes) is without the `openapi` feature (a macro of its own so the
/// tests exercise it whatever the features).
#[doc(hidden)]
#[macro_export]
macro_rules! __routes_without_openapi {
    // Handlers are matched as `ident`s joined by `::`, never as a `path` fragment: a forwarded
    // `path` fragment cannot be taken apart again by `utoipa_axum::routes!(@path ...)`.
    ( $($handler:ident)::+ $(, $($tail:ident)::+)* $(,)? ) => {
        {
            #[allow(unused_imports)]
            use ::utoipa_axum::PathItemExt as _;
            let mut paths = ::utoipa::openapi::path::Paths::new();
            let method_router = ::axum::routing::MethodRouter::new();
            let method_router = $crate::__routes_without_openapi!(@one paths: method_router: $($handler)::+);
            $( let method_router = $crate::__routes_without_openapi!(@one paths: method_router: $($tail)::+); )*
            (::std::vec::Vec::new(), paths, method_router)
        }
    };
    ( @one $paths:ident: $router:ident: $($handler:ident)::+ ) => {
        {
            let path: ::std::string::String = ::utoipa_axum::routes!(@path [path()] of $($handler)::+);
            let types: ::std::vec::Vec<::utoipa::openapi::HttpMethod> = ::utoipa_axum::routes!(@path [methods()] of $($handler)::+);
            let router = types.iter().fold($router, |router, method| router.on(method.to_method_filter(), $($handler)::+));
            $paths.add_path_operation(&path, types, ::utoipa::openapi::path::Operation::new());
            router
        }
    };
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::extract::Path;
    use http::{Request, StatusCode};
    use tower::ServiceExt;
    use utoipa_axum::router::OpenApiRouter;

    /// A thing.
    #[utoipa::path(get, path = "/things/{id}", params(("id" = u32, Path)), responses((status = 200, description = "The thing", body = String)))]
    async fn get_thing(Path(id): Path<u32>) -> String {
        format!("thing {id}")
    }

    /// Deletes a thing.
    #[utoipa::path(delete, path = "/things/{id}", params(("id" = u32, Path)), responses((status = 204, description = "Gone")))]
    async fn delete_thing(Path(_id): Path<u32>) -> StatusCode {
        StatusCode::NO_CONTENT
    }

    #[utoipa::path(post, path = "/things", responses((status = 201, description = "Made")))]
    async fn create_thing() -> StatusCode {
        StatusCode::CREATED
    }

    async fn status(router: &axum::Router, method: &str, uri: &str) -> (StatusCode, String) {
        let request = Request::builder().method(method).uri(uri).body(Body::empty()).unwrap_or_default();
        let response = match router.clone().oneshot(request).await {
            Ok(response) => response,
            Err(never) => match never {},
        };
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), 1024).await.unwrap_or_default();
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    fn without() -> OpenApiRouter {
        OpenApiRouter::new()
            .routes(crate::__routes_without_openapi!(get_thing, delete_thing))
            .routes(crate::__routes_without_openapi!(create_thing))
    }

    fn with() -> OpenApiRouter {
        OpenApiRouter::new().routes(utoipa_axum::routes!(get_thing, delete_thing)).routes(utoipa_axum::routes!(create_thing))
    }

    #[tokio::test]
    async fn routes_the_same_paths_and_methods_as_utoipa_axum() {
        for (name, api) in [("without openapi", without()), ("utoipa_axum", with())] {
            let (router, _) = api.split_for_parts();
            assert_eq!(status(&router, "GET", "/things/7").await, (StatusCode::OK, "thing 7".to_owned()), "{name}");
            assert_eq!(status(&router, "DELETE", "/things/7").await.0, StatusCode::NO_CONTENT, "{name}");
            assert_eq!(status(&router, "POST", "/things").await.0, StatusCode::CREATED, "{name}");
            assert_eq!(status(&router, "PUT", "/things/7").await.0, StatusCode::METHOD_NOT_ALLOWED, "{name}");
            assert_eq!(status(&router, "GET", "/things").await.0, StatusCode::METHOD_NOT_ALLOWED, "{name}");
            assert_eq!(status(&router, "GET", "/other").await.0, StatusCode::NOT_FOUND, "{name}");
        }
    }

    #[test]
    fn leaves_the_operations_out_without_openapi() {
        let full = with().into_openapi();
        let bare = without().into_openapi();
        let operation = |doc: &utoipa::openapi::OpenApi, method: &str| {
            let item = serde_json::to_value(&doc.paths.paths["/things/{id}"]).unwrap_or_default();
            item[method].clone()
        };
        assert_eq!(operation(&full, "get")["summary"], "A thing.");
        assert!(operation(&full, "get")["responses"]["200"].is_object());
        assert_eq!(operation(&bare, "get"), serde_json::json!({"responses": {}}));
        assert_eq!(operation(&bare, "delete"), serde_json::json!({"responses": {}}));
        assert_eq!(bare.paths.paths.keys().collect::<Vec<_>>(), full.paths.paths.keys().collect::<Vec<_>>());
    }
}
