//! Request extractors that turn bad input into a precise 4xx naming the field.
//!
//! - [`ValidJson`]: `Content-Type` must be JSON (415), the body at most [`MAX_BODY_BYTES`] (413),
//!   syntax errors are 400 `malformed_json`, shape errors (wrong type, missing or unknown field)
//!   and `garde` rule violations are 422 `validation_failed` with one entry per field.
//! - [`ValidQuery`]: query-string shape errors are 400 `invalid_parameter` naming the parameter.
//! - [`ValidPath`]: path parameters, likewise a 400 `invalid_parameter` naming the parameter
//!   (`id: must be a UUID`), never axum's plain-text rejection.
//!
//! DTOs use `#[serde(deny_unknown_fields)]` so unknown fields are rejected, never ignored.

use axum::extract::path::{ErrorKind, Path, RawPathParams};
use axum::extract::rejection::PathRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use http::{StatusCode, header, request::Parts};
use serde::de::DeserializeOwned;

use crate::problem::{ApiError, FieldError};

/// The largest request body any route accepts (1 MiB).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// A JSON body, deserialized and validated.
#[derive(Debug, Clone)]
pub struct ValidJson<T>(pub T);

impl<S, T> FromRequest<S> for ValidJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned + garde::Validate<Context = ()>,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|mime| {
                let mime = mime.trim().to_ascii_lowercase();
                mime == "application/json" || mime.ends_with("+json")
            })
            .unwrap_or(false);
        if !is_json {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "The request body must be JSON (Content-Type: application/json).",
            ));
        }
        let declared = req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<usize>().ok());
        if declared.is_some_and(|len| len > MAX_BODY_BYTES) {
            return Err(too_large());
        }
        let bytes = axum::body::to_bytes(req.into_body(), MAX_BODY_BYTES).await.map_err(|_| too_large())?;
        let value: T = parse_json(&bytes)?;
        validate(&value)?;
        Ok(Self(value))
    }
}

fn too_large() -> ApiError {
    ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", format!("The request body exceeds {MAX_BODY_BYTES} bytes."))
}

/// Runs the `garde` rules of `value`, mapping each failure to a [`FieldError`].
pub fn validate<T: garde::Validate<Context = ()>>(value: &T) -> Result<(), ApiError> {
    value.validate().map_err(|report| {
        let errors = report
            .iter()
            .map(|(path, error)| {
                let field = camel_case_path(&path.to_string());
                let field = if field.is_empty() { "body".to_owned() } else { field };
                FieldError::new(field, "invalid", error.message())
            })
            .collect();
        ApiError::validation(errors)
    })
}

/// garde names fields as Rust does (`first_name`); the wire is camelCase (`firstName`).
fn camel_case_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut upper = false;
    for c in path.chars() {
        match c {
            '_' => upper = true,
            '.' | '[' | ']' => {
                upper = false;
                out.push(c);
            }
            c if upper => {
                out.extend(c.to_uppercase());
                upper = false;
            }
            c => out.push(c),
        }
    }
    out
}

/// garde rule: the string is not only whitespace (`#[garde(custom(shop_core::extract::not_blank))]`).
pub fn not_blank(value: &str, _: &()) -> garde::Result {
    if value.trim().is_empty() { Err(garde::Error::new("must not be blank")) } else { Ok(()) }
}

/// Whether `c` may not appear in text shown to people: control characters (C0 other than tab,
/// line feed and carriage return; DEL; C1) and the bidirectional embedding, override and isolate
/// characters (U+202A–U+202E, U+2066–U+2069), which make displayed text read differently from
/// what it is (`"invoice\u{202E}fdp.exe"` shows as `invoiceexe.pdf`).
pub fn is_control_char(c: char) -> bool {
    (c.is_control() && !matches!(c, '\t' | '\n' | '\r')) || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// garde rule for text shown to people (names, descriptions, labels): no control characters
/// and no bidirectional overrides, see [`is_control_char`]; tabs and line breaks are allowed
/// (`#[garde(custom(shop_core::extract::no_control_chars))]`).
pub fn no_control_chars(value: &str, _: &()) -> garde::Result {
    match value.chars().find(|c| is_control_char(*c)) {
        Some(c) => {
            Err(garde::Error::new(format!("must not contain control or bidirectional override characters (found U+{:04X})", u32::from(c))))
        }
        None => Ok(()),
    }
}

/// serde helper: deserializes a string trimmed of surrounding whitespace
/// (`#[serde(deserialize_with = "shop_core::extract::trimmed")]`).
pub fn trimmed<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    let value = <String as serde::Deserialize>::deserialize(deserializer)?;
    Ok(value.trim().to_owned())
}

/// Deserializes JSON, naming the field that does not fit. JSON has one number type, so an
/// integral number written with a fraction or an exponent (`2.0`, `1e2`) is that integer where
/// an integer is expected (as JSON Schema's `integer` says); `2.5` stays a type error.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let result: Result<T, _> = serde_path_to_error::deserialize(&mut de);
    let value = match result {
        Ok(value) => value,
        Err(err) => {
            let path = err.path().to_string();
            let inner = err.into_inner();
            return match inner.classify() {
                serde_json::error::Category::Data => {
                    let message = inner.to_string();
                    if message.starts_with("invalid type: floating point")
                        && let Some(value) = integral_numbers(bytes)
                    {
                        return serde_path_to_error::deserialize(value).map_err(|err| {
                            let path = err.path().to_string();
                            shape_error(&path, &err.into_inner().to_string())
                        });
                    }
                    Err(shape_error(&path, &message))
                }
                _ => Err(ApiError::bad_request("malformed_json", format!("The body is not valid JSON: {inner}"))),
            };
        }
    };
    de.end().map_err(|e| ApiError::bad_request("malformed_json", format!("The body is not valid JSON: {e}")))?;
    Ok(value)
}

/// The body as a JSON value with every integral float (`2.0`) an integer; `None` when it has
/// none (or is not JSON).
fn integral_numbers(bytes: &[u8]) -> Option<serde_json::Value> {
    fn visit(value: &mut serde_json::Value) -> bool {
        match value {
            serde_json::Value::Number(n) if n.is_f64() => {
                let f = n.as_f64().unwrap_or(f64::NAN);
                // Exactly representable: |f| < 2^53.
                if f.fract() == 0.0 && f.abs() < 9_007_199_254_740_992.0 {
                    #[allow(clippy::cast_possible_truncation)]
                    let i = f as i64;
                    *value = serde_json::Value::from(i);
                    true
                } else {
                    false
                }
            }
            // Every item is visited (`|=` does not short-circuit).
            serde_json::Value::Array(items) => items.iter_mut().map(visit).fold(false, |changed, item| changed | item),
            serde_json::Value::Object(map) => map.values_mut().map(visit).fold(false, |changed, item| changed | item),
            _ => false,
        }
    }
    let mut value: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    visit(&mut value).then_some(value)
}

/// Turns a serde "data" error into a field error. Serde's message carries the field name for
/// unknown and missing fields; the path names the field for type errors.
fn shape_error(path: &str, message: &str) -> ApiError {
    let message = message.rfind(" at line ").map_or(message, |at| &message[..at]).to_owned();
    // For unknown fields serde_path_to_error's path already ends with the field's name.
    let join = |name: &str| {
        if path == "." || path.is_empty() {
            name.to_owned()
        } else if path == name || path.ends_with(&format!(".{name}")) {
            path.to_owned()
        } else {
            format!("{path}.{name}")
        }
    };
    let quoted = |prefix: &str| message.strip_prefix(prefix).and_then(|rest| rest.split('`').next()).map(str::to_owned);
    let (field, code) = if let Some(name) = quoted("unknown field `") {
        (join(&name), "unknown_field")
    } else if let Some(name) = quoted("missing field `") {
        (join(&name), "required")
    } else if path == "." || path.is_empty() {
        ("body".to_owned(), "invalid_type")
    } else {
        (path.to_owned(), "invalid_type")
    };
    ApiError::validation(vec![FieldError::new(field, code, message)])
}

/// A query string, deserialized with the offending parameter named on failure.
#[derive(Debug, Clone)]
pub struct ValidQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ValidQuery<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parse_query(parts.uri.query().unwrap_or_default()).map(Self)
    }
}

/// Deserializes a query string, naming the offending parameter on failure.
pub fn parse_query<T: DeserializeOwned>(query: &str) -> Result<T, ApiError> {
    let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
    serde_path_to_error::deserialize(de).map_err(|err| {
        let path = err.path().to_string();
        let message = err.into_inner().to_string();
        let field = if let Some(rest) = message.strip_prefix("unknown field `") {
            rest.split('`').next().unwrap_or_default().to_owned()
        } else if let Some(rest) = message.strip_prefix("missing field `") {
            rest.split('`').next().unwrap_or_default().to_owned()
        } else {
            path
        };
        ApiError::invalid_param(&field, message)
    })
}

/// Path parameters, deserialized like axum's [`Path`] (a `Uuid`, a tuple in route order, or a
/// struct by name); a parameter that does not fit is a 400 `invalid_parameter` naming it, with
/// the detail `id: must be a UUID`.
///
/// ```ignore
/// async fn get_product(ValidPath(id): ValidPath<Uuid>) -> ApiResult<Json<Product>> { .. }
/// async fn delete_image(ValidPath((id, image_id)): ValidPath<(Uuid, Uuid)>) -> ApiResult<StatusCode> { .. }
/// ```
#[derive(Debug, Clone)]
pub struct ValidPath<T>(pub T);

impl<S, T> FromRequestParts<S> for ValidPath<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Send,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(value)) => Ok(Self(value)),
            Err(rejection) => {
                // The names in route order, for the errors that carry only a position.
                let names = match RawPathParams::from_request_parts(parts, state).await {
                    Ok(params) => params.iter().map(|(name, _)| name.to_owned()).collect(),
                    Err(_) => Vec::new(),
                };
                Err(path_rejection(rejection, &names))
            }
        }
    }
}

/// Maps axum's path rejection to a problem. A value that does not fit is the caller's 400; a
/// route whose parameters do not match the type (wrong count, unsupported type) is our bug, 500.
fn path_rejection(rejection: PathRejection, names: &[String]) -> ApiError {
    let PathRejection::FailedToDeserializePathParams(err) = rejection else {
        return ApiError::internal(&rejection);
    };
    let name = |index: usize| names.get(index).map_or("path", String::as_str).to_owned();
    let (param, message) = match err.kind() {
        ErrorKind::ParseErrorAtKey { key, expected_type, .. } => (key.clone(), expected(expected_type)),
        ErrorKind::ParseErrorAtIndex { index, expected_type, .. } => (name(*index), expected(expected_type)),
        ErrorKind::ParseError { expected_type, .. } if names.len() == 1 => (name(0), expected(expected_type)),
        ErrorKind::DeserializeError { key, message, .. } => (key.clone(), deserialize_message(message)),
        ErrorKind::InvalidUtf8InPathParam { key } => (key.clone(), "must be valid UTF-8".to_owned()),
        _ => return ApiError::internal(&err),
    };
    ApiError::invalid_param(&param, message)
}

fn expected(expected_type: &str) -> String {
    format!("must be a valid {expected_type}")
}

/// A type's own deserialization message, or the plain rule for the types routes use.
fn deserialize_message(message: &str) -> String {
    // uuid's serde error: "UUID parsing failed: invalid character: ...".
    if message.starts_with("UUID parsing failed") { "must be a UUID".to_owned() } else { message.to_owned() }
}

/// Reads an `Idempotency-Key` header: required, 1 to `max` visible ASCII characters (400
/// `idempotency_key_required` naming the header otherwise).
pub fn idempotency_key(value: Option<&http::HeaderValue>, max: usize) -> Result<String, ApiError> {
    let field = |message: &str| {
        ApiError::new(http::StatusCode::BAD_REQUEST, "idempotency_key_required", format!("The Idempotency-Key header {message}."))
            .with_errors(vec![crate::problem::FieldError::new("Idempotency-Key", "invalid", message)])
    };
    let Some(value) = value else { return Err(field("is required")) };
    let key = value.to_str().map_err(|_| field("must be visible ASCII"))?.trim();
    if key.is_empty() || key.len() > max || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(field(&format!("must be 1 to {max} visible ASCII characters")));
    }
    Ok(key.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize, garde::Validate)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    struct Dto {
        #[garde(length(min = 2))]
        first_name: String,
        #[garde(range(min = 1))]
        #[serde(default)]
        count: Option<u32>,
    }

    fn fields(err: &ApiError) -> Vec<(String, String)> {
        err.field_errors().iter().map(|e| (e.field.clone(), e.code.clone())).collect()
    }

    #[test]
    fn shape_errors_name_the_field() {
        let err = parse_json::<Dto>(br#"{"firstName": 1}"#).unwrap_err();
        assert_eq!(fields(&err), vec![("firstName".to_owned(), "invalid_type".to_owned())]);
        let err = parse_json::<Dto>(br#"{}"#).unwrap_err();
        assert_eq!(fields(&err), vec![("firstName".to_owned(), "required".to_owned())]);
        let err = parse_json::<Dto>(br#"{"firstName": "ab", "extra": true}"#).unwrap_err();
        assert_eq!(fields(&err), vec![("extra".to_owned(), "unknown_field".to_owned())]);
        let err = parse_json::<Dto>(br#"{"firstName": "ab""#).unwrap_err();
        assert_eq!((err.status().as_u16(), err.code()), (400, "malformed_json"));
        let err = parse_json::<Dto>(br#"{"firstName": "ab"} trailing"#).unwrap_err();
        assert_eq!(err.code(), "malformed_json");
    }

    #[test]
    fn an_integral_number_is_an_integer_wherever_it_is_written() {
        #[derive(Debug, serde::Deserialize)]
        struct Counts {
            count: u32,
            nested: Vec<i64>,
            ratio: f64,
        }
        let counts = parse_json::<Counts>(br#"{"count": 2.0, "nested": [-3.0, 1e2, 4], "ratio": 0.5}"#).expect("integral");
        assert_eq!((counts.count, counts.nested, counts.ratio), (2, vec![-3, 100, 4], 0.5));
        let err = parse_json::<Counts>(br#"{"count": 2.5, "nested": [], "ratio": 1}"#).unwrap_err();
        assert_eq!(fields(&err), vec![("count".to_owned(), "invalid_type".to_owned())]);
        let err = parse_json::<Counts>(br#"{"count": 2.0, "nested": [1.5], "ratio": 1}"#).unwrap_err();
        assert_eq!(fields(&err), vec![("nested[0]".to_owned(), "invalid_type".to_owned())]);
        let err = parse_json::<Counts>(br#"{"count": -1.0, "nested": [], "ratio": 1}"#).unwrap_err();
        assert_eq!(fields(&err), vec![("count".to_owned(), "invalid_type".to_owned())]);
    }

    #[test]
    fn rule_errors_use_wire_names() {
        let dto = parse_json::<Dto>(br#"{"firstName": "a", "count": 0}"#).expect("shape is fine");
        let err = validate(&dto).unwrap_err();
        let mut names: Vec<String> = fields(&err).into_iter().map(|(f, _)| f).collect();
        names.sort();
        assert_eq!(names, vec!["count".to_owned(), "firstName".to_owned()]);
        assert_eq!(err.status().as_u16(), 422);
    }

    #[test]
    fn control_and_bidi_override_characters_are_refused_in_display_text() {
        for bad in ["nul\u{0}", "bell\u{7}", "del\u{7F}", "c1\u{85}", "rlo\u{202E}", "lre\u{202A}", "lri\u{2066}", "pdi\u{2069}"] {
            assert!(no_control_chars(bad, &()).is_err(), "{bad:?}");
        }
        for good in ["", "plain", "tab\tnew\nline\r\n", "Téléphone 電話 هاتف", "emoji 📱", "lrm\u{200E}"] {
            assert!(no_control_chars(good, &()).is_ok(), "{good:?}");
        }
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Query {
        page: Option<u32>,
    }

    #[test]
    fn query_errors_name_the_parameter() {
        let err = parse_query::<Query>("page=abc").unwrap_err();
        assert_eq!(fields(&err)[0].0, "page");
        let err = parse_query::<Query>("sort=x").unwrap_err();
        assert_eq!(fields(&err)[0].0, "sort");
        assert!(parse_query::<Query>("page=2").is_ok());
    }

    mod path {
        use axum::Router;
        use axum::body::Body;
        use axum::routing::get;
        use tower::ServiceExt;
        use uuid::Uuid;

        use super::super::ValidPath;

        /// The status and problem body `uri` gets from a router of ValidPath routes.
        async fn call(uri: &str) -> (u16, serde_json::Value) {
            #[derive(serde::Deserialize)]
            #[serde(rename_all = "camelCase")]
            struct Ids {
                id: Uuid,
                image_id: Uuid,
            }
            let router = Router::new()
                .route("/one/{id}", get(|ValidPath(id): ValidPath<Uuid>| async move { id.to_string() }))
                .route("/pair/{id}/{imageId}", get(|ValidPath((a, b)): ValidPath<(Uuid, Uuid)>| async move { format!("{a} {b}") }))
                .route("/named/{id}/{imageId}", get(|ValidPath(ids): ValidPath<Ids>| async move { format!("{} {}", ids.id, ids.image_id) }))
                .route("/count/{count}", get(|ValidPath(count): ValidPath<u32>| async move { count.to_string() }))
                .route("/slug/{slug}", get(|ValidPath(slug): ValidPath<String>| async move { slug }));
            let request = http::Request::builder().uri(uri).body(Body::empty()).unwrap_or_default();
            let response = match router.oneshot(request).await {
                Ok(response) => response,
                Err(never) => match never {},
            };
            let status = response.status().as_u16();
            let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap_or_default();
            (status, serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null))
        }

        fn problem(param: &str, message: &str) -> (u16, serde_json::Value) {
            (
                400,
                serde_json::json!({
                    "type": "https://skyshop.dev/problems/invalid-parameter",
                    "title": "Bad Request",
                    "status": 400,
                    "detail": format!("{param}: {message}"),
                    "code": "invalid_parameter",
                    "errors": [{"field": param, "code": "invalid", "message": message}],
                }),
            )
        }

        #[tokio::test]
        async fn a_malformed_uuid_is_a_400_naming_the_parameter() {
            assert_eq!(call("/one/not-a-uuid").await, problem("id", "must be a UUID"));
            let id = Uuid::now_v7();
            assert_eq!(call(&format!("/one/{id}")).await, (200, serde_json::Value::Null));
        }

        #[tokio::test]
        async fn a_tuple_or_struct_names_the_parameter_that_does_not_fit() {
            let id = Uuid::now_v7();
            assert_eq!(call(&format!("/pair/{id}/nope")).await, problem("imageId", "must be a UUID"));
            assert_eq!(call(&format!("/pair/nope/{id}")).await, problem("id", "must be a UUID"));
            assert_eq!(call(&format!("/named/{id}/nope")).await, problem("imageId", "must be a UUID"));
            assert_eq!(call(&format!("/pair/{id}/{id}")).await.0, 200);
            assert_eq!(call(&format!("/named/{id}/{id}")).await.0, 200);
        }

        #[tokio::test]
        async fn other_types_and_bad_utf8_are_problems_too() {
            assert_eq!(call("/count/many").await, problem("count", "must be a valid u32"));
            assert_eq!(call("/slug/%FF").await, problem("slug", "must be valid UTF-8"));
            assert_eq!(call("/slug/mug").await.0, 200);
        }
    }
}
