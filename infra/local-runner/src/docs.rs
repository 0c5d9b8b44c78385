//! One OpenAPI 3.1 document for the whole API, merged from each function's generated document,
//! and the API reference page: Swagger UI, its assets from the `swagger-ui-dist` npm package
//! that `scripts/lib/common.sh` installs (never a CDN: the local cloud works offline).

use sam_model::{Route, RouteAuth};
use serde_json::{Value, json};
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

/// The schema of API Gateway's own error bodies, `{"message": "..."}` (`application/json`):
/// the authorizer's 401/403, the throttle's and the WAF's 429, the payload limit's 413 and the
/// integration timeout's 503.
pub const GATEWAY_MESSAGE: &str = "GatewayMessage";

/// [`openapi`] completed with what answers before (or instead of) the function: the document
/// `/api/openapi.json` serves, so that it describes every answer a client can get.
///
/// For each operation, from its template route:
/// - a JWT route: `401` (the authorizer's `{"message":"Unauthorized"}` with `WWW-Authenticate`),
///   and `403` (`{"message":"Forbidden"}`) when the route lists scopes;
/// - every route: `429` (the stage throttle's and the WAF's `{"message":"Too Many Requests"}`)
///   and `503` (the integration timeout's `{"message":"Service Unavailable"}`, and the
///   function's own `deadline_exceeded` / dependency problems with `Retry-After`);
/// - a route with a request body: `413` (API Gateway's 10 MB limit, and the function's 1 MiB
///   `payload_too_large`), `415` (`unsupported_media_type`: the body is not JSON), `400`
///   (`malformed_json`) and `422` (`validation_failed`: a wrong type, a missing or unknown field);
/// - a route with parameters: `400` (`invalid_parameter`, naming it).
///
/// A status the operation already declares keeps its problem body; the gateway's media type is
/// added beside it.
pub fn document(routes: &[Route]) -> Value {
    let mut doc = serde_json::to_value(openapi()).unwrap_or_default();
    complete(&mut doc, routes);
    doc
}

/// Adds the edge's answers to `doc` (see [`document`]).
pub fn complete(doc: &mut Value, routes: &[Route]) {
    let schemas = &mut doc["components"]["schemas"];
    schemas[GATEWAY_MESSAGE] = json!({
        "type": "object",
        "description": "API Gateway's own error body (authorizer, throttle, WAF, payload limit, integration timeout).",
        "required": ["message"],
        "properties": {"message": {"type": "string", "examples": ["Unauthorized"]}}
    });
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else { return };
    for (path, item) in paths.iter_mut() {
        let Some(item) = item.as_object_mut() else { continue };
        for (method, operation) in item.iter_mut() {
            let Some(route) = routes.iter().find(|r| r.path == *path && r.method.eq_ignore_ascii_case(method)) else { continue };
            let has_body = operation.get("requestBody").is_some();
            let has_parameters = operation.get("parameters").and_then(Value::as_array).is_some_and(|p| !p.is_empty());
            let responses = &mut operation["responses"];
            if let RouteAuth::Jwt { scopes } = &route.auth {
                add_gateway(responses, "401", "No valid access token (the authorizer; `WWW-Authenticate` says why).", &[]);
                if !scopes.is_empty() {
                    add_gateway(responses, "403", "The token lacks the route's scope (the authorizer).", &[]);
                }
            }
            add_gateway(
                responses,
                "429",
                "Too many requests (the stage throttle or the WAF's rate rules; the WAF sets `Retry-After`).",
                &["Retry-After"],
            );
            add_gateway(
                responses,
                "503",
                "The function did not answer in time (API Gateway's integration timeout), or a dependency is unavailable (problem, with `Retry-After`).",
                &["Retry-After"],
            );
            add_problem(responses, "503");
            if has_body {
                add_gateway(responses, "413", "The body is too large (API Gateway: 10 MB; the function: 1 MiB, `payload_too_large`).", &[]);
                add_problem(responses, "413");
                add_problem(responses, "415");
                add_problem(responses, "422");
            }
            if has_body || has_parameters {
                add_problem(responses, "400");
            }
        }
    }
}

/// Adds the gateway's `application/json` body (and `headers`, optional) to `responses[status]`,
/// creating the response with `description` when the operation does not declare it.
fn add_gateway(responses: &mut Value, status: &str, description: &str, headers: &[&str]) {
    let response = responses[status].as_object_mut().map(std::mem::take).unwrap_or_default();
    let mut response = Value::Object(response);
    if response.get("description").and_then(Value::as_str).is_none_or(str::is_empty) {
        response["description"] = json!(description);
    }
    response["content"]["application/json"] = json!({"schema": {"$ref": format!("#/components/schemas/{GATEWAY_MESSAGE}")}});
    for header in headers {
        response["headers"][*header] = json!({"required": false, "schema": {"type": "string"}});
    }
    responses[status] = response;
}

/// Adds the `application/problem+json` body to `responses[status]` when it has none.
fn add_problem(responses: &mut Value, status: &str) {
    if responses[status].get("description").is_none() {
        responses[status]["description"] = json!("");
    }
    let content = &mut responses[status]["content"][shop_core::problem::PROBLEM_JSON];
    if content.is_null() {
        *content = json!({"schema": {"$ref": "#/components/schemas/Problem"}});
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn route(method: &str, path: &str, auth: RouteAuth) -> Route {
        Route {
            logical_id: format!("{method}{path}"),
            method: method.into(),
            path: path.into(),
            function: "F".into(),
            auth,
            timeout: std::time::Duration::from_secs(10),
        }
    }

    /// The merge keeps the first of two components with one name: two functions naming different
    /// schemas alike would describe one of them wrongly (as orders', payments' and health's
    /// `Status` once did).
    #[test]
    fn no_two_functions_give_one_component_name_to_different_schemas() {
        let docs = [
            ("accounts", accounts::openapi()),
            ("catalog", catalog::openapi()),
            ("inventory", inventory::openapi()),
            ("cart", cart::openapi()),
            ("orders", orders::openapi()),
            ("payments", payments::openapi()),
            ("reviews", reviews::openapi()),
            ("health", health::openapi()),
        ];
        let mut seen: std::collections::BTreeMap<String, (&str, Value)> = std::collections::BTreeMap::new();
        let mut clashes = Vec::new();
        for (function, doc) in docs {
            let doc = serde_json::to_value(doc).unwrap_or_default();
            for (name, schema) in doc["components"]["schemas"].as_object().into_iter().flatten() {
                match seen.get(name) {
                    Some((other, first)) if first != schema => clashes.push(format!("{name}: {other} and {function}")),
                    Some(_) => {}
                    None => {
                        seen.insert(name.clone(), (function, schema.clone()));
                    }
                }
            }
        }
        assert!(clashes.is_empty(), "component names given to different schemas: {clashes:?}");
    }

    #[test]
    fn the_edge_answers_are_added_to_each_operation_from_its_route() {
        let mut doc = json!({"paths": {
            "/api/things": {
                "post": {"requestBody": {"content": {}}, "responses": {"201": {"description": "made"}, "401": {"description": "mine", "content": {"application/problem+json": {}}}}},
                "get": {"parameters": [{"name": "page", "in": "query"}], "responses": {"200": {"description": "ok"}}}
            },
            "/api/open": {"get": {"responses": {"200": {"description": "ok"}}}}
        }});
        let routes = [
            route("POST", "/api/things", RouteAuth::Jwt { scopes: vec!["admin".into()] }),
            route("GET", "/api/things", RouteAuth::Jwt { scopes: vec![] }),
            route("GET", "/api/open", RouteAuth::None),
        ];
        complete(&mut doc, &routes);
        let statuses = |path: &str, method: &str| -> Vec<String> {
            doc["paths"][path][method]["responses"].as_object().unwrap().keys().cloned().collect()
        };
        assert_eq!(statuses("/api/things", "post"), ["201", "400", "401", "403", "413", "415", "422", "429", "503"]);
        assert_eq!(statuses("/api/things", "get"), ["200", "400", "401", "429", "503"]);
        assert_eq!(statuses("/api/open", "get"), ["200", "429", "503"]);
        // A status the function declares keeps its problem body and description; the gateway's is added.
        let unauthorized = &doc["paths"]["/api/things"]["post"]["responses"]["401"];
        assert_eq!(unauthorized["description"], "mine");
        assert!(unauthorized["content"]["application/problem+json"].is_object());
        assert_eq!(unauthorized["content"]["application/json"]["schema"]["$ref"], "#/components/schemas/GatewayMessage");
        assert_eq!(doc["components"]["schemas"][GATEWAY_MESSAGE]["required"], json!(["message"]));
    }
}
