//! One OpenAPI 3.1 document for the whole API, merged from each function's generated document,
//! and the API reference page: Swagger UI, its assets from the `swagger-ui-dist` npm package
//! that `scripts/lib/common.sh` installs (never a CDN: the local cloud works offline).

use serde_json::json;
use utoipa::openapi::OpenApi;
use utoipa::openapi::path::{HttpMethod, Operation};

/// The merged document of every function's routes.
pub fn openapi() -> OpenApi {
    let mut doc = accounts::openapi();
    doc.merge(catalog::openapi());
    doc.merge(inventory::openapi());
    doc.merge(cart::openapi());
    doc.merge(orders::openapi());
    doc.merge(payments::openapi());
    doc.merge(reviews::openapi());
    doc.merge(health::openapi());
    doc.paths.add_path_operation(payments::webhook::PATH, vec![HttpMethod::Post], stripe_webhook());
    doc.info.title = "Skyshop API".into();
    doc.info.description = Some(
        "The Skyshop HTTP API. Errors are RFC 9457 application/problem+json with a stable `code`. \
         Money is integer cents. Protected routes take `Authorization: Bearer <accessToken>`."
            .into(),
    );
    doc
}

/// `POST /api/payments/webhook`: Stripe's endpoint, not a client's (its own function,
/// `stripe-webhook`, with no authorizer), so it is described here rather than generated.
pub fn stripe_webhook() -> Operation {
    let problem = json!({"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}});
    let operation = json!({
        "tags": ["payments"],
        "operationId": "stripe_webhook",
        "summary": "Stripe's webhook (Stripe calls it; no bearer token)",
        "description": "Stripe delivers its events here. No authorizer and no WAF rate rule: the request \
            is proven by `Stripe-Signature` over the raw body with the endpoint's signing secret \
            (`whsec_…`, 300 s tolerance). Each event is recorded by its id before it is acted on; a \
            processed event delivered again answers 200 with `duplicate: true`. Handled: \
            `payment_intent.succeeded`, `.payment_failed`, `.canceled`, `.processing`, `.requires_action` \
            (the payment and its order are settled), `charge.refunded` (refunds synchronised), \
            `charge.dispute.created` (dispute recorded, order flagged); other types are acknowledged \
            and ignored.",
        "parameters": [{
            "name": "Stripe-Signature",
            "in": "header",
            "required": true,
            "description": "`t=<unix seconds>,v1=<hex HMAC-SHA256 of \"<t>.<raw body>\" with the endpoint secret>` (Stripe may add more `v1=` and a `v0=`)",
            "schema": {"type": "string"}
        }],
        "requestBody": {
            "required": true,
            "description": "A Stripe event, exactly as Stripe sent it (the signature covers these bytes).",
            "content": {"application/json": {"schema": {
                "type": "object",
                "required": ["id", "type", "data"],
                "properties": {
                    "id": {"type": "string", "example": "evt_1Sample"},
                    "type": {"type": "string", "example": "payment_intent.succeeded"},
                    "created": {"type": "integer", "format": "int64"},
                    "data": {"type": "object", "required": ["object"], "properties": {"object": {"type": "object", "description": "The PaymentIntent, Charge or Dispute"}}}
                },
                "additionalProperties": true
            }}}
        },
        "responses": {
            "200": {
                "description": "Verified and handled (or a duplicate of a handled event)",
                "content": {"application/json": {"schema": {
                    "type": "object",
                    "required": ["received"],
                    "properties": {"received": {"type": "boolean"}, "duplicate": {"type": "boolean"}}
                }}}
            },
            "400": {
                "description": "`signature_missing` (no Stripe-Signature), `signature_invalid` (it does not match the body), `signature_expired` (its timestamp is more than 300 s from now), `invalid_event` (verified, but not a Stripe event). Stripe retries; nothing was recorded.",
                "content": problem.clone()
            },
            "503": {
                "description": "The event was recorded but could not be acted on (Stripe, orders, the database or the signing secret unavailable). Stripe retries, and the reconciliation job handles recorded events left unprocessed. Retry-After is set.",
                "content": problem
            }
        }
    });
    serde_json::from_value(operation).unwrap_or_default()
}

/// The environment variable naming the directory of the `swagger-ui-dist` package
/// (`scripts/lib/common.sh` installs it and exports this).
pub const ASSETS_ENV: &str = "SKYSHOP_DOCS_ASSETS";

/// The files of `swagger-ui-dist` the page loads, with their content types. Nothing else is
/// served from the directory (no path from the request reaches the file system).
pub const ASSETS: &[(&str, &str)] = &[
    ("swagger-ui.css", "text/css; charset=utf-8"),
    ("swagger-ui-bundle.js", "text/javascript; charset=utf-8"),
    ("favicon-32x32.png", "image/png"),
    ("favicon-16x16.png", "image/png"),
];

/// Where the assets are, if installed: `$SKYSHOP_DOCS_ASSETS` with `swagger-ui-bundle.js` in it.
pub fn assets_dir() -> Option<std::path::PathBuf> {
    let dir = std::path::PathBuf::from(std::env::var_os(ASSETS_ENV)?);
    dir.join("swagger-ui-bundle.js").is_file().then_some(dir)
}

/// `/api/docs`: Swagger UI over `/api/openapi.json`. "Try it out" sends requests to this
/// server (the document's `servers` is the page's origin) with the bearer token given in
/// "Authorize"; the token stays in the browser's local storage (`persistAuthorization`).
pub const DOCS_HTML: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Skyshop API</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" type="image/png" href="/api/docs/favicon-32x32.png" sizes="32x32">
<link rel="stylesheet" href="/api/docs/swagger-ui.css">
<style>body{margin:0}</style></head><body>
<div id="swagger-ui"></div>
<script src="/api/docs/swagger-ui-bundle.js"></script>
<script>
window.ui = SwaggerUIBundle({
  url: '/api/openapi.json',
  dom_id: '#swagger-ui',
  deepLinking: true,
  persistAuthorization: true,
  displayRequestDuration: true,
  filter: true,
  tryItOutEnabled: false,
  validatorUrl: null,
  presets: [SwaggerUIBundle.presets.apis],
  layout: 'BaseLayout'
});
</script></body></html>"#;
