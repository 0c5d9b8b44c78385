//! The API fuzz pass of the security hardening: every route of the template, reached past the
//! authorizer with a customer's, a seller's and the admin's token (and without one), with hostile
//! path parameters, query strings and bodies — wrong types for every field the OpenAPI document
//! names, huge numbers, deep nesting, long strings, unicode, invalid UTF-8, a 2 MB body, a
//! non-JSON content type. Deterministic: the cases are a fixed product, no randomness.
//!
//! What it promises: no answer is a 5xx, and every 4xx a function gives is
//! `application/problem+json` (the runner's own API Gateway-style `{"message": ...}` answers from
//! the authorizer, routing and WAF are fine). Every failure is collected and reported at once.

use std::collections::BTreeSet;
use std::time::Instant;

use futures::StreamExt;
use sam_model::{Route, RouteAuth};
use serde_json::Value;

use crate::helpers::{ADMIN_PASSWORD, Running, start_with};

/// Requests in flight at once (two cores; DynamoDB Local serialises anyway).
const CONCURRENCY: usize = 12;

/// Known 5xx the fuzzer does not fail on, each with its reason: `(route key, case name)`.
/// Empty: every 5xx found so far was fixed in its function.
const ALLOWED_5XX: &[(&str, &str)] = &[];

/// Who sends a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Caller {
    Anonymous,
    Customer,
    Seller,
    Admin,
}

/// A request body as bytes on the wire, with its content type.
#[derive(Debug, Clone)]
struct Body {
    bytes: Vec<u8>,
    content_type: Option<&'static str>,
}

impl Body {
    fn json(text: impl Into<String>) -> Self {
        Self { bytes: text.into().into_bytes(), content_type: Some("application/json") }
    }
}

#[derive(Debug, Clone)]
struct Case {
    route: String,
    method: String,
    name: String,
    /// Path and query, already percent-encoded as they go on the wire.
    target: String,
    caller: Caller,
    body: Option<Body>,
}

/// Hostile values of a path segment, as sent (percent-encoded where needed).
fn hostile_segments() -> Vec<(&'static str, String)> {
    vec![
        ("unknown uuid", UNKNOWN_ID.into()),
        ("not a uuid", "not-a-uuid".into()),
        ("3000 chars", "a".repeat(3_000)),
        ("rtl and emoji", "%E2%80%AEtxt.exe%F0%9F%98%80".into()),
        ("nul", "%00".into()),
        ("invalid utf-8", "%FF%FE".into()),
        ("traversal", "..%2F..%2Fetc%2Fpasswd".into()),
        ("huge number", "99999999999999999999999999".into()),
        ("negative", "-1".into()),
        ("spaces", "%20%20".into()),
    ]
}

/// Hostile values of one query parameter, as sent.
fn hostile_query_values() -> Vec<(&'static str, String)> {
    vec![
        ("empty", String::new()),
        ("word", "x".into()),
        ("negative", "-1".into()),
        ("zero", "0".into()),
        ("huge", "99999999999999999999".into()),
        ("1e309", "1e309".into()),
        ("nan", "NaN".into()),
        ("10 kB", "q".repeat(10_000)),
        ("nul", "%00".into()),
        ("invalid utf-8", "%FF".into()),
        ("unicode", "%E2%80%AE%F0%9F%98%80%E4%B8%AD".into()),
        ("bad escape", "%ZZ".into()),
    ]
}

/// Whole query strings, whatever the route documents.
fn hostile_queries() -> Vec<(&'static str, String)> {
    vec![
        ("page huge", "page=99999999999999999999".into()),
        ("limit -1", "limit=-1".into()),
        ("limit 1e309", "limit=1e309".into()),
        ("page 0 limit 0", "page=0&limit=0".into()),
        ("repeated", "page=1&page=2&limit=5&limit=500&q=a&q=b".into()),
        ("unknown", "unknownParam=1&__proto__=x".into()),
        ("10 kB value", format!("q={}", "z".repeat(10_000))),
        ("unicode", "q=%E2%80%AE%F0%9F%98%80%00&sort=%FF".into()),
        ("bracket keys", "a[b][c]=1&filter[price]=1".into()),
        ("no value", "page&limit&=&&".into()),
    ]
}

/// Hostile JSON values (as text) for one field.
fn hostile_values() -> Vec<(&'static str, String)> {
    vec![
        ("null", "null".into()),
        ("array", "[]".into()),
        ("object", "{}".into()),
        ("string", "\"x\"".into()),
        ("bool", "true".into()),
        ("1e400", "1e400".into()),
        ("below i64", "-9223372036854775809".into()),
        ("above u64", "18446744073709551616".into()),
        ("fraction", "0.5".into()),
        ("negative", "-1".into()),
        ("i64 max", "9223372036854775807".into()),
        ("i64 min", "-9223372036854775808".into()),
        ("above i32", "2147483648".into()),
        ("above u32", "4294967296".into()),
        ("1e300", "1e300".into()),
        ("empty string", "\"\"".into()),
        ("blank string", "\"   \"".into()),
        ("control characters", "\"a\\u0007\\u001b[31m\\r\\nb\"".into()),
        ("100 kB string", format!("\"{}\"", "b".repeat(100_000))),
        ("unicode", "\"\\u202e\\u0000\u{1F600}\\ud800 中文\"".into()),
        ("nested 200", format!("{}{}", "[".repeat(200), "]".repeat(200))),
    ]
}

/// Whole bodies, whatever the route documents.
fn hostile_bodies() -> Vec<(&'static str, Body)> {
    let mut invalid_utf8 = b"{\"name\": \"".to_vec();
    invalid_utf8.extend_from_slice(&[0xff, 0xfe, 0xc3, 0x28]);
    invalid_utf8.extend_from_slice(b"\"}");
    let mut bom = vec![0xef, 0xbb, 0xbf];
    bom.extend_from_slice(b"{}");
    vec![
        ("array", Body::json("[]")),
        ("null", Body::json("null")),
        ("string", Body::json("\"x\"")),
        ("1e400", Body::json("1e400")),
        ("below i64", Body::json("-9223372036854775809")),
        ("empty object", Body::json("{}")),
        ("empty body", Body::json("")),
        ("truncated", Body::json("{\"name\": ")),
        ("duplicate keys", Body::json("{\"name\": \"a\", \"name\": \"b\"}")),
        ("nested 200 objects", Body::json(format!("{}1{}", "{\"a\":".repeat(200), "}".repeat(200)))),
        ("nested 200 arrays", Body::json(format!("{}{}", "[".repeat(200), "]".repeat(200)))),
        ("100 kB key", Body::json(format!("{{\"{}\": 1}}", "k".repeat(100_000)))),
        ("2 MB body", Body::json(format!("{{\"name\": \"{}\"}}", "m".repeat(2 * 1024 * 1024)))),
        ("invalid utf-8", Body { bytes: invalid_utf8, content_type: Some("application/json") }),
        ("bom", Body { bytes: bom, content_type: Some("application/json") }),
        ("text/plain", Body { bytes: b"{}".to_vec(), content_type: Some("text/plain") }),
        ("form", Body { bytes: b"a=1&b=2".to_vec(), content_type: Some("application/x-www-form-urlencoded") }),
        ("no content type", Body { bytes: b"{}".to_vec(), content_type: None }),
        ("json with charset", Body { bytes: b"{}".to_vec(), content_type: Some("application/json; charset=latin1") }),
    ]
}

/// The callers that reach `route` past the authorizer, and one that does not.
fn callers(route: &Route) -> Vec<Caller> {
    match &route.auth {
        RouteAuth::None => vec![Caller::Anonymous, Caller::Customer],
        RouteAuth::Jwt { scopes } if scopes.is_empty() => vec![Caller::Anonymous, Caller::Customer, Caller::Seller, Caller::Admin],
        RouteAuth::Jwt { scopes } if scopes.iter().any(|s| s == "seller") => vec![Caller::Anonymous, Caller::Seller, Caller::Admin],
        RouteAuth::Jwt { .. } => vec![Caller::Anonymous, Caller::Admin],
    }
}

/// A valid id that names nothing.
const UNKNOWN_ID: &str = "018f3b6e-0000-7000-8000-000000000000";

/// Things that exist, so that the hostile value of one parameter or field is the only thing
/// wrong with a request and reaches as deep into a function as it can.
struct Fixtures {
    category_id: String,
    category_slug: String,
    product_id: String,
    product_slug: String,
    product_sku: String,
    address_id: String,
    /// A user of its own for the admin's `PATCH /api/users/{id}` (which may deactivate it).
    user_id: String,
}

impl Fixtures {
    /// A value of path parameter `name` of `route` that exists (deletions get one that does not,
    /// so that the fixtures survive the pass).
    fn param(&self, route: &Route, name: &str) -> String {
        let path = route.path.as_str();
        let value = match name {
            _ if route.method == "DELETE" => UNKNOWN_ID,
            "productId" => &self.product_id,
            "code" => "SAVE10",
            "sku" => &self.product_sku,
            "slug" if path.starts_with("/api/categories") => &self.category_slug,
            "slug" => &self.product_slug,
            "id" if path.starts_with("/api/categories") => &self.category_id,
            "id" if path.starts_with("/api/products") || path.starts_with("/api/seller/products") => &self.product_id,
            "id" if path.starts_with("/api/users/me/addresses") => &self.address_id,
            "id" if path == "/api/users/{id}" => &self.user_id,
            _ => UNKNOWN_ID,
        };
        value.to_owned()
    }

    /// A valid-looking value for a body field, from its name and schema.
    fn field(&self, doc: &Value, name: &str, schema: &Value) -> Value {
        let schema = resolve(doc, schema);
        if let Some(first) = schema["enum"].as_array().and_then(|e| e.first()) {
            return first.clone();
        }
        if let Some(first) = schema["oneOf"].as_array().and_then(|e| e.first()) {
            return self.field(doc, name, first);
        }
        let ty = match &schema["type"] {
            Value::Array(types) => types.iter().find(|t| *t != "null").cloned().unwrap_or(Value::Null),
            other => other.clone(),
        };
        match (ty.as_str().unwrap_or("object"), schema["format"].as_str()) {
            ("string", Some("uuid")) => Value::from(match name {
                // Under itself would be a cycle: a top-level category instead.
                "parentId" => return Value::Null,
                "categoryId" => self.category_id.as_str(),
                "productId" => self.product_id.as_str(),
                _ => UNKNOWN_ID,
            }),
            ("string", Some("email")) => Value::from(format!("{}@example.com", shop_testkit::unique("fuzzf"))),
            ("string", _) if name == "email" => Value::from(format!("{}@example.com", shop_testkit::unique("fuzzf"))),
            ("string", Some("date-time")) if name.starts_with("ends") || name.starts_with("expires") => Value::from("2031-01-01T00:00:00Z"),
            ("string", Some("date-time")) => Value::from("2030-01-01T00:00:00Z"),
            ("string", _) if name == "slug" => Value::from(format!("fuzz-{}", uuid::Uuid::new_v4().simple())),
            ("string", _) if name == "sku" => Value::from(format!("FUZZ-{}", uuid::Uuid::new_v4().simple())),
            ("string", _) if name == "contentType" => Value::from("image/png"),
            ("string", _) if name == "images" => Value::from("https://images.example.com/fuzz.png"),
            ("string", _) if name.to_lowercase().contains("password") => Value::from("Correct-Horse-9"),
            ("string", _) if name == "code" => Value::from("FUZZ10"),
            ("string", _) if name == "country" => Value::from("US"),
            ("string", _) => Value::from("Fuzz value"),
            ("integer" | "number", _) => Value::from(1),
            ("boolean", _) => Value::from(true),
            ("array", _) => Value::Array(vec![self.field(doc, name, &schema["items"])]),
            _ => self.object(doc, schema).unwrap_or_else(|| serde_json::json!({})),
        }
    }

    /// A valid-looking object for an object schema: every property given.
    fn object(&self, doc: &Value, schema: &Value) -> Option<Value> {
        let schema = resolve(doc, schema);
        let props = schema["properties"].as_object()?;
        Some(Value::Object(props.iter().map(|(name, prop)| (name.clone(), self.field(doc, name, prop))).collect()))
    }
}

/// The route's path with every parameter but `hostile` filled with one that exists.
fn fill(route: &Route, fixtures: &Fixtures, hostile: Option<(&str, &str)>) -> String {
    route
        .path
        .split('/')
        .map(|seg| match seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            Some(name) => match hostile {
                Some((param, value)) if param == name => value.to_owned(),
                _ => fixtures.param(route, name),
            },
            None => seg.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// The operation of `route` in the OpenAPI document.
fn operation<'a>(doc: &'a Value, route: &Route) -> Option<&'a Value> {
    doc["paths"].get(&route.path)?.get(route.method.to_lowercase())
}

fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema.get("$ref").and_then(Value::as_str).and_then(|r| r.strip_prefix("#/components/schemas/")) {
        Some(name) => &doc["components"]["schemas"][name],
        None => schema,
    }
}

/// Field paths of a request schema: top-level properties, and one level into objects and arrays
/// of objects. Each is a list of keys (`[items]` for an array's element).
fn fields(doc: &Value, schema: &Value) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let schema = resolve(doc, schema);
    let Some(props) = schema["properties"].as_object() else { return out };
    for (name, prop) in props {
        out.push(vec![name.clone()]);
        let prop = resolve(doc, prop);
        let nested = if prop["type"] == "array" { resolve(doc, &prop["items"]) } else { prop };
        let prefix = if prop["type"] == "array" { vec![name.clone(), "[]".into()] } else { vec![name.clone()] };
        if let Some(inner) = nested["properties"].as_object() {
            for sub in inner.keys() {
                let mut path = prefix.clone();
                path.push(sub.clone());
                out.push(path);
            }
        }
    }
    out
}

/// `baseline` with its top-level `field` replaced by the raw JSON `value`.
fn replaced(baseline: &Value, field: &str, value: &str) -> String {
    let mut rest = baseline.as_object().cloned().unwrap_or_default();
    rest.remove(field);
    let entry = format!("{}: {value}", serde_json::to_string(field).unwrap());
    if rest.is_empty() {
        return format!("{{{entry}}}");
    }
    let text = serde_json::to_string(&Value::Object(rest)).unwrap();
    format!("{}, {entry}}}", &text[..text.len() - 1])
}

/// `{"a": {"b": [{"c": value}]}}` for the field path `[a, b, [], c]`.
fn body_with(path: &[String], value: &str) -> String {
    match path.split_first() {
        None => value.to_owned(),
        Some((key, rest)) if key == "[]" => format!("[{}]", body_with(rest, value)),
        Some((key, rest)) => format!("{{{}: {}}}", serde_json::to_string(key).unwrap(), body_with(rest, value)),
    }
}

fn cases(routes: &[Route], doc: &Value, fixtures: &Fixtures) -> Vec<Case> {
    let mut out = Vec::new();
    let mut push = |route: &Route, name: String, target: String, body: Option<Body>, callers: &[Caller]| {
        for caller in callers {
            out.push(Case {
                route: route.key(),
                method: route.method.clone(),
                name: name.clone(),
                target: target.clone(),
                caller: *caller,
                body: body.clone(),
            });
        }
    };
    for route in routes {
        let who = callers(route);
        // The ones past the authorizer only: an anonymous caller is answered by it.
        let reaching: Vec<Caller> = who.iter().copied().filter(|c| *c != Caller::Anonymous || route.auth == RouteAuth::None).collect();
        let has_body = matches!(route.method.as_str(), "POST" | "PUT" | "PATCH");
        let op = operation(doc, route);
        let schema = op.and_then(|o| o.pointer("/requestBody/content/application~1json/schema"));
        // A valid-looking body: every documented field given.
        let baseline = schema.and_then(|s| fixtures.object(doc, s)).unwrap_or_else(|| serde_json::json!({}));
        let plain_body = has_body.then(|| Body::json(baseline.to_string()));
        let base = fill(route, fixtures, None);
        push(route, "plain".into(), base.clone(), plain_body.clone(), &who);

        // Path parameters.
        let params: Vec<&str> = route.path.split('/').filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}'))).collect();
        for param in &params {
            for (name, value) in hostile_segments() {
                push(route, format!("path {param}: {name}"), fill(route, fixtures, Some((param, &value))), plain_body.clone(), &reaching);
            }
        }

        // Query strings: generic, then each documented query parameter.
        for (name, query) in hostile_queries() {
            push(route, format!("query {name}"), format!("{base}?{query}"), plain_body.clone(), &reaching);
        }
        let documented: BTreeSet<String> = op
            .and_then(|o| o["parameters"].as_array())
            .into_iter()
            .flatten()
            .filter(|p| p["in"] == "query")
            .filter_map(|p| p["name"].as_str().map(str::to_owned))
            .collect();
        for param in &documented {
            for (name, value) in hostile_query_values() {
                push(route, format!("query {param}: {name}"), format!("{base}?{param}={value}"), plain_body.clone(), &reaching);
            }
        }

        // Bodies: generic shapes, then wrong values for every documented field.
        if has_body || schema.is_some() {
            for (name, body) in hostile_bodies() {
                // The 2 MB body once per route, by the most privileged caller that reaches it.
                let callers = if name == "2 MB body" { &reaching[reaching.len() - 1..] } else { &reaching[..] };
                push(route, format!("body {name}"), base.clone(), Some(body), callers);
            }
        }
        if let Some(schema) = schema {
            let fields = fields(doc, schema);
            for field in &fields {
                for (name, value) in hostile_values() {
                    // Alone, and (top-level fields) in an otherwise valid-looking body.
                    let body = Body::json(body_with(field, &value));
                    push(route, format!("body {}: {name}", field.join(".")), base.clone(), Some(body), &reaching);
                    if let [top] = &field[..] {
                        let body = Body::json(replaced(&baseline, top, &value));
                        push(route, format!("body valid but {top}: {name}"), base.clone(), Some(body), &reaching);
                    }
                }
            }
            // Every field hostile at once.
            for (name, value) in hostile_values() {
                let all: Vec<String> =
                    fields.iter().filter(|f| f.len() == 1).map(|f| format!("{}: {value}", serde_json::to_string(&f[0]).unwrap())).collect();
                push(
                    route,
                    format!("body all fields: {name}"),
                    base.clone(),
                    Some(Body::json(format!("{{{}}}", all.join(", ")))),
                    &reaching,
                );
            }
        }
    }
    out
}

/// Tokens for each caller.
struct Tokens {
    customer: String,
    seller: String,
    admin: String,
}

impl Tokens {
    fn of(&self, caller: Caller) -> Option<&str> {
        match caller {
            Caller::Anonymous => None,
            Caller::Customer => Some(&self.customer),
            Caller::Seller => Some(&self.seller),
            Caller::Admin => Some(&self.admin),
        }
    }
}

/// What came back: the status, whether the API Gateway side (the runner) answered rather than
/// the function, and what is wrong with the answer, if anything.
struct Outcome {
    status: u16,
    gateway: bool,
    problem: Option<String>,
}

async fn check(app: &Running, tokens: &Tokens, case: &Case) -> Outcome {
    let mut req = app.http.request(case.method.parse().unwrap(), format!("{}{}", app.base, case.target));
    if let Some(token) = tokens.of(case.caller) {
        req = req.bearer_auth(token);
    }
    if let Some(body) = &case.body {
        if let Some(ct) = body.content_type {
            req = req.header("content-type", ct);
        }
        req = req.body(body.bytes.clone());
    }
    let resp = match req.send().await {
        Ok(resp) => resp,
        Err(e) => return Outcome { status: 0, gateway: false, problem: Some(format!("no answer: {e}")) },
    };
    let status = resp.status().as_u16();
    let content_type = resp.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    let retry_after = resp.headers().contains_key("retry-after");
    let text = resp.text().await.unwrap_or_default();
    let excerpt: String = text.chars().take(300).collect();
    // API Gateway's (the runner's) own answers: authorizer, routing, throttles, WAF.
    let gateway = !content_type.starts_with("application/problem+json")
        && serde_json::from_str::<Value>(&text)
            .is_ok_and(|v| v.as_object().is_some_and(|o| o.len() == 1 && o.get("message").is_some_and(Value::is_string)));
    // The cases of one route run in parallel, so writes to the same fixture race: 503
    // `contended` with `Retry-After` (the retry budget spent, nothing written) is the documented
    // answer to that, not a fault.
    let contended = status == 503
        && retry_after
        && content_type.starts_with("application/problem+json")
        && serde_json::from_str::<Value>(&text).is_ok_and(|v| v["code"] == "contended");
    let problem = if status >= 500 && !contended {
        Some(format!("{status}: {excerpt}"))
    } else if (400..500).contains(&status) && !gateway && !content_type.starts_with("application/problem+json") {
        Some(format!("{status} as {content_type:?}, not problem+json: {excerpt}"))
    } else {
        None
    };
    Outcome { status, gateway, problem }
}

async fn fixtures(app: &Running, tokens: &Tokens) -> Fixtures {
    let admin = Some(tokens.admin.as_str());
    let category = app.call("POST", "/api/categories", admin, Some(serde_json::json!({"name": shop_testkit::unique("Fuzz")}))).await;
    assert_eq!(category.status, 201, "{}", category.body);
    let sku = shop_testkit::unique("FUZZ");
    let body =
        serde_json::json!({"name": "Fuzz mug", "sku": sku, "description": "A thing.", "price": 1999, "categoryId": category.body["id"]});
    let product = app.call("POST", "/api/products", admin, Some(body)).await;
    assert_eq!(product.status, 201, "{}", product.body);
    let stock = serde_json::json!({"available": 5, "lowStockThreshold": 0});
    let id = product.body["id"].as_str().unwrap();
    let r = app.call("PUT", &format!("/api/inventory/{id}"), admin, Some(stock)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let address = serde_json::json!({"firstName": "Ada", "lastName": "Lovelace", "address1": "1 Main St", "city": "Paris", "state": "CA", "postalCode": "94000", "country": "US"});
    let address = app.call("POST", "/api/users/me/addresses", Some(&tokens.customer), Some(address)).await;
    assert_eq!(address.status, 201, "{}", address.body);
    let email = format!("{}@example.com", shop_testkit::unique("fuzzu"));
    let user = serde_json::json!({"email": email, "password": "Correct-Horse-9", "firstName": "Fuzz", "lastName": "Target"});
    let user = app.call("POST", "/api/auth/register", None, Some(user)).await;
    assert_eq!(user.status, 201, "{}", user.body);
    let me = app.call("GET", "/api/users/me", user.body["accessToken"].as_str(), None).await;
    let text = |v: &Value| v.as_str().unwrap().to_owned();
    Fixtures {
        category_id: text(&category.body["id"]),
        category_slug: text(&category.body["slug"]),
        product_id: text(&product.body["id"]),
        product_slug: text(&product.body["slug"]),
        product_sku: sku,
        address_id: text(&address.body["id"]),
        user_id: text(&me.body["id"]),
    }
}

#[tokio::test]
async fn no_route_answers_5xx_to_hostile_paths_queries_or_bodies() {
    // The WAF's per-IP rules scaled 1000× (never reached); the stage throttles (5,000/s, 500 on
    // the auth routes) are far above what this pass sends.
    let app = start_with(false, Some(1_000.0)).await;
    let email = format!("{}@example.com", shop_testkit::unique("fuzz"));
    let registered = app
        .call(
            "POST",
            "/api/auth/register",
            None,
            Some(serde_json::json!({"email": email, "password": "Correct-Horse-9", "firstName": "Fuzz", "lastName": "Er"})),
        )
        .await;
    assert_eq!(registered.status, 201, "{}", registered.body);
    let tokens = Tokens {
        customer: registered.body["accessToken"].as_str().unwrap().to_owned(),
        seller: app.login(local_runner::cloud::SELLER_EMAIL, ADMIN_PASSWORD).await["accessToken"].as_str().unwrap().to_owned(),
        admin: app.admin_token().await,
    };

    let fixtures = fixtures(&app, &tokens).await;

    // Every route of the template as the gateway serves it; the ones that end sessions last.
    let mut routes = app.cloud.gateway.routes.clone();
    routes.sort_by_key(|r| r.path.starts_with("/api/auth/logout"));
    let doc = serde_json::to_value(local_runner::docs::openapi()).unwrap();
    let cases = cases(&routes, &doc, &fixtures);

    let started = Instant::now();
    let mut failures: Vec<String> = Vec::new();
    let mut allowed = 0;
    let mut statuses: std::collections::BTreeMap<u16, usize> = std::collections::BTreeMap::new();
    let mut by_functions = 0;
    // Route by route (in order, so the session-ending routes run last), cases of a route in parallel.
    for route in &routes {
        let key = route.key();
        let mine: Vec<&Case> = cases.iter().filter(|c| c.route == key).collect();
        let found: Vec<(&Case, Outcome)> = futures::stream::iter(mine)
            .map(|case| {
                let (app, tokens) = (&app, &tokens);
                async move { (case, check(app, tokens, case).await) }
            })
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        for (case, outcome) in found {
            *statuses.entry(outcome.status).or_default() += 1;
            by_functions += usize::from(!outcome.gateway);
            let Some(problem) = outcome.problem else { continue };
            if problem.starts_with('5') && ALLOWED_5XX.contains(&(case.route.as_str(), case.name.as_str())) {
                allowed += 1;
                continue;
            }
            // Readiness answers 503 when a probe of the stand-ins missed its timeout (a loaded
            // machine): a report of the dependencies, not an answer to the hostile input.
            if case.route == "GET /api/health/ready" && problem.starts_with("503") && problem.contains("\"status\":\"unavailable\"") {
                allowed += 1;
                continue;
            }
            failures.push(format!("{} [{}] as {:?}: {problem}", case.route, case.name, case.caller));
        }
    }
    failures.sort();
    eprintln!(
        "fuzz: {} routes, {} requests ({by_functions} answered by functions), statuses {statuses:?}, {allowed} allowed 5xx, {} failures in {:.1} s",
        routes.len(),
        cases.len(),
        failures.len(),
        started.elapsed().as_secs_f64()
    );
    // The pass reaches the functions: only the anonymous callers of protected routes stop at
    // the authorizer.
    assert!(by_functions * 4 > cases.len() * 3, "only {by_functions} of {} requests reached a function", cases.len());
    assert!(failures.is_empty(), "{} hostile requests were answered wrongly:\n{}", failures.len(), failures.join("\n"));
}
