//! The guard of internal routes.

use std::convert::Infallible;
use std::task::{Context, Poll};

use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use futures::future::BoxFuture;
use http::StatusCode;
use lambda_http::request::RequestContext;
use shop_core::ApiError;

/// The `requestContext.apiId` of internal calls. API Gateway always puts its own API id there,
/// so a request from the public API can never carry it.
pub const INTERNAL_API_ID: &str = "internal";

/// Did this request come through an [`crate::InternalClient`]?
pub fn is_internal(request: &Request) -> bool {
    matches!(
        request.extensions().get::<RequestContext>(),
        Some(RequestContext::ApiGatewayV2(ctx)) if ctx.apiid.as_deref() == Some(INTERNAL_API_ID)
    )
}

/// Layer for internal routes: anything that did not come through an internal client gets the
/// same 404 as a path no route serves, so the public API cannot even tell they exist.
///
/// `Router::new().route("/internal/...", get(h)).route_layer(shop_internal::internal_only())`
pub fn internal_only() -> InternalOnly {
    InternalOnly
}

#[derive(Debug, Clone, Copy, Default)]
pub struct InternalOnly;

impl<S> tower::Layer<S> for InternalOnly {
    type Service = InternalOnlyService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        InternalOnlyService { inner }
    }
}

#[derive(Debug, Clone)]
pub struct InternalOnlyService<S> {
    inner: S,
}

impl<S> tower::Service<Request> for InternalOnlyService<S>
where
    S: tower::Service<Request, Response = Response, Error = Infallible> + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Response, Infallible>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        if is_internal(&request) {
            Box::pin(self.inner.call(request))
        } else {
            tracing::warn!(path = %request.uri().path(), "internal route called from outside");
            let refused = ApiError::new(StatusCode::NOT_FOUND, shop_core::http::ROUTE_NOT_FOUND, "No route matches this path.");
            Box::pin(async move { Ok(refused.into_response()) })
        }
    }
}
