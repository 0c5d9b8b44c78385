//! API Gateway HTTP API (payload 2.0) events, built the way API Gateway builds them.
//!
//! The local runner turns each HTTP request into one of these and hands it to `lambda_http`'s
//! own conversion, so a function sees exactly what it would see in AWS: raw path, query string,
//! cookies, base64 bodies and the JWT authorizer's claims in the request context.

use std::collections::BTreeMap;

use base64::Engine;
use serde_json::{Map, Value, json};
use time::OffsetDateTime;

/// Claims the JWT authorizer verified; they become `requestContext.authorizer.jwt`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthorizerClaims {
    /// Every claim rendered as API Gateway renders it (strings; arrays as `[a b]`).
    pub claims: BTreeMap<String, String>,
    pub scopes: Vec<String>,
}

/// One HTTP request as API Gateway sees it.
#[derive(Debug, Clone)]
pub struct HttpEvent {
    pub method: String,
    /// Path as sent, without the query string.
    pub path: String,
    pub raw_query: String,
    /// The matched route (`GET /api/users/{id}`), or `$default`.
    pub route_key: String,
    /// Values of `{param}` segments.
    pub path_parameters: BTreeMap<String, String>,
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
    pub source_ip: String,
    pub domain_name: String,
    pub authorizer: Option<AuthorizerClaims>,
    pub request_id: String,
    /// When API Gateway received the request.
    pub received_at: OffsetDateTime,
}

impl HttpEvent {
    pub fn new(method: &str, path_and_query: &str) -> Self {
        let (path, query) = path_and_query.split_once('?').unwrap_or((path_and_query, ""));
        Self {
            method: method.to_uppercase(),
            path: path.to_owned(),
            raw_query: query.to_owned(),
            route_key: "$default".into(),
            path_parameters: BTreeMap::new(),
            headers: Vec::new(),
            body: None,
            source_ip: "127.0.0.1".into(),
            domain_name: "127.0.0.1".into(),
            authorizer: None,
            request_id: uuid::Uuid::now_v7().to_string(),
            received_at: OffsetDateTime::now_utc(),
        }
    }

    /// The payload-2.0 JSON event.
    pub fn to_json(&self) -> Value {
        let mut headers = Map::new();
        let mut cookies = Vec::new();
        for (name, value) in &self.headers {
            let name = name.to_lowercase();
            if name == "cookie" {
                cookies.extend(value.split(';').map(|c| Value::String(c.trim().to_owned())));
                continue;
            }
            match headers.get_mut(&name) {
                // API Gateway joins repeated headers with commas.
                Some(Value::String(existing)) => {
                    existing.push(',');
                    existing.push_str(value);
                }
                _ => {
                    headers.insert(name, Value::String(value.clone()));
                }
            }
        }
        let user_agent = headers.get("user-agent").and_then(Value::as_str).unwrap_or_default().to_owned();
        let mut query = Map::new();
        for (k, v) in form_pairs(&self.raw_query) {
            match query.get_mut(&k) {
                Some(Value::String(existing)) => {
                    existing.push(',');
                    existing.push_str(&v);
                }
                _ => {
                    query.insert(k, Value::String(v));
                }
            }
        }
        let now = self.received_at;
        let mut context = json!({
            "accountId": "123456789012",
            "apiId": "local",
            "domainName": self.domain_name,
            "domainPrefix": self.domain_name.split('.').next().unwrap_or_default(),
            "http": {
                "method": self.method,
                "path": self.path,
                "protocol": "HTTP/1.1",
                "sourceIp": self.source_ip,
                "userAgent": user_agent,
            },
            "requestId": self.request_id,
            "routeKey": self.route_key,
            "stage": "$default",
            "time": now.format(&time::format_description::well_known::Rfc2822).unwrap_or_default(),
            "timeEpoch": now.unix_timestamp() * 1000 + i64::from(now.millisecond()),
        });
        if let Some(auth) = &self.authorizer {
            context["authorizer"] = json!({ "jwt": { "claims": auth.claims, "scopes": if auth.scopes.is_empty() { Value::Null } else { json!(auth.scopes) } } });
        }
        let mut event = json!({
            "version": "2.0",
            "routeKey": self.route_key,
            "rawPath": self.path,
            "rawQueryString": self.raw_query,
            "headers": headers,
            "requestContext": context,
            "isBase64Encoded": false,
        });
        if !cookies.is_empty() {
            event["cookies"] = Value::Array(cookies);
        }
        if !query.is_empty() {
            event["queryStringParameters"] = Value::Object(query);
        }
        if !self.path_parameters.is_empty() {
            event["pathParameters"] = json!(self.path_parameters);
        }
        if let Some(body) = &self.body {
            match std::str::from_utf8(body) {
                Ok(text) => event["body"] = Value::String(text.to_owned()),
                Err(_) => {
                    event["body"] = Value::String(base64::engine::general_purpose::STANDARD.encode(body));
                    event["isBase64Encoded"] = Value::Bool(true);
                }
            }
        }
        event
    }
}

fn form_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn decode(s: &str) -> String {
    percent_encoding::percent_decode_str(&s.replace('+', " ")).decode_utf8_lossy().into_owned()
}

/// Matches a concrete path against an API Gateway path template (`/api/users/{id}`,
/// greedy `{proxy+}`), returning the path parameters.
pub fn match_path(template: &str, path: &str) -> Option<BTreeMap<String, String>> {
    let t: Vec<&str> = template.trim_matches('/').split('/').collect();
    let p: Vec<&str> = path.trim_matches('/').split('/').collect();
    let mut params = BTreeMap::new();
    for (i, seg) in t.iter().enumerate() {
        if let Some(name) = seg.strip_prefix('{').and_then(|s| s.strip_suffix("+}")) {
            if i >= p.len() {
                return None;
            }
            params.insert(name.to_owned(), p[i..].join("/"));
            return Some(params);
        }
        let actual = p.get(i)?;
        if let Some(name) = seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            if actual.is_empty() {
                return None;
            }
            params.insert(name.to_owned(), decode(actual));
        } else if seg != actual {
            return None;
        }
    }
    (t.len() == p.len()).then_some(params)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_templates_match_like_api_gateway() {
        assert_eq!(match_path("/api/users/{id}", "/api/users/42").map(|p| p["id"].clone()), Some("42".into()));
        assert!(match_path("/api/users/{id}", "/api/users").is_none());
        assert!(match_path("/api/users", "/api/users/42").is_none());
        assert_eq!(match_path("/a/{proxy+}", "/a/b/c").map(|p| p["proxy"].clone()), Some("b/c".into()));
    }

    #[test]
    fn events_carry_query_headers_and_claims() {
        let mut e = HttpEvent::new("get", "/api/users?q=a%20b&page=2");
        e.headers.push(("User-Agent".into(), "curl/8".into()));
        e.authorizer = Some(AuthorizerClaims { claims: BTreeMap::from([("sub".into(), "u1".into())]), scopes: vec!["admin".into()] });
        let json = e.to_json();
        assert_eq!(json["queryStringParameters"]["q"], "a b");
        assert_eq!(json["headers"]["user-agent"], "curl/8");
        assert_eq!(json["requestContext"]["http"]["userAgent"], "curl/8");
        assert_eq!(json["requestContext"]["authorizer"]["jwt"]["claims"]["sub"], "u1");
    }
}
