//! The template's WAF web ACLs (`AWS::WAFv2::WebACL`), as far as the local runner emulates them:
//! the rate-based rules — limit, evaluation window, scope-down statement and action — and the
//! matching of a request path against a scope-down statement, WAF's text transformations
//! included.
//!
//! Only what the template uses is understood: rules aggregated per client IP, scope-down
//! statements made of byte matches on the URI path and `Not`/`And`/`Or` of them, and the
//! transformations `NONE`, `URL_DECODE`, `NORMALIZE_PATH`, `LOWERCASE`, `COMPRESS_WHITE_SPACE`.
//! Anything else in a rate-based rule is an error, so the runner never claims to emulate a rule
//! it does not; rules that are not rate-based (AWS managed rule groups) are not emulated at all.

use std::collections::BTreeMap;
use std::time::Duration;

use base64::Engine as _;
use serde_json::Value;

use crate::{Resolver, Template, TemplateError};

/// A rate-based rule of a web ACL.
#[derive(Debug, Clone, PartialEq)]
pub struct RateRule {
    /// Logical id of the web ACL.
    pub web_acl: String,
    pub name: String,
    pub priority: i64,
    /// Requests allowed per client IP within `window`; the next ones get `action`.
    pub limit: u64,
    /// `EvaluationWindowSec` (WAF's default: 300 s).
    pub window: Duration,
    /// Only requests the scope-down statement matches are counted (all when `None`).
    pub scope: Option<Scope>,
    pub action: RateAction,
}

/// What happens to a client's requests while it is over a rule's limit.
#[derive(Debug, Clone, PartialEq)]
pub enum RateAction {
    Block(BlockResponse),
    /// Counted and logged only.
    Count,
}

/// WAF's answer to a blocked request: 403 with no body of the template's, unless the rule's
/// `CustomResponse` says otherwise.
#[derive(Debug, Clone, PartialEq)]
pub struct BlockResponse {
    pub status: u16,
    /// `(content type, body)` of the `CustomResponseBodies` entry the rule names.
    pub body: Option<(String, String)>,
    pub headers: Vec<(String, String)>,
}

impl Default for BlockResponse {
    fn default() -> Self {
        Self { status: 403, body: None, headers: Vec::new() }
    }
}

/// A scope-down statement over the request's URI path.
#[derive(Debug, Clone, PartialEq)]
pub enum Scope {
    UriPath { constraint: Constraint, search: String, transforms: Vec<Transform> },
    Not(Box<Scope>),
    And(Vec<Scope>),
    Or(Vec<Scope>),
}

/// `PositionalConstraint` of a byte match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Constraint {
    Exactly,
    StartsWith,
    EndsWith,
    Contains,
    ContainsWord,
}

/// A WAF text transformation, applied in priority order before matching.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transform {
    None,
    UrlDecode,
    NormalizePath,
    Lowercase,
    CompressWhiteSpace,
}

impl Scope {
    /// Whether a request for `path` (the URI path as the client sent it) matches.
    pub fn matches(&self, path: &str) -> bool {
        match self {
            Self::UriPath { constraint, search, transforms } => {
                let value = transforms.iter().fold(path.to_owned(), |v, t| t.apply(&v));
                constraint.matches(&value, search)
            }
            Self::Not(inner) => !inner.matches(path),
            Self::And(all) => all.iter().all(|s| s.matches(path)),
            Self::Or(any) => any.iter().any(|s| s.matches(path)),
        }
    }
}

impl Constraint {
    fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "EXACTLY" => Self::Exactly,
            "STARTS_WITH" => Self::StartsWith,
            "ENDS_WITH" => Self::EndsWith,
            "CONTAINS" => Self::Contains,
            "CONTAINS_WORD" => Self::ContainsWord,
            _ => return None,
        })
    }

    fn matches(self, value: &str, search: &str) -> bool {
        match self {
            Self::Exactly => value == search,
            Self::StartsWith => value.starts_with(search),
            Self::EndsWith => value.ends_with(search),
            Self::Contains => value.contains(search),
            Self::ContainsWord => {
                let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
                value
                    .match_indices(search)
                    .any(|(at, _)| !word(value[..at].chars().next_back()) && !word(value[at + search.len()..].chars().next()))
            }
        }
    }
}

impl Transform {
    fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "NONE" => Self::None,
            "URL_DECODE" => Self::UrlDecode,
            "NORMALIZE_PATH" => Self::NormalizePath,
            "LOWERCASE" => Self::Lowercase,
            "COMPRESS_WHITE_SPACE" => Self::CompressWhiteSpace,
            _ => return None,
        })
    }

    /// Applies the transformation as WAF describes it.
    pub fn apply(self, value: &str) -> String {
        match self {
            Self::None => value.to_owned(),
            Self::UrlDecode => url_decode(value),
            Self::NormalizePath => normalize_path(value),
            Self::Lowercase => value.to_lowercase(),
            Self::CompressWhiteSpace => value.split_whitespace().collect::<Vec<_>>().join(" "),
        }
    }
}

/// `%XX` sequences decoded (invalid ones kept as they are); the result read as UTF-8, lossily.
fn url_decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes[i], bytes.get(i + 1).copied().and_then(hex), bytes.get(i + 2).copied().and_then(hex)) {
            (b'%', Some(high), Some(low)) => {
                out.push((high * 16 + low) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Repeated slashes collapsed, `.` segments removed, `..` segments removed with the segment
/// before them (a `..` at the beginning stays), a trailing slash kept.
fn normalize_path(value: &str) -> String {
    let absolute = value.starts_with('/');
    let mut segments: Vec<&str> = Vec::new();
    for segment in value.split('/') {
        match segment {
            "" | "." => {}
            ".." if segments.last().is_some_and(|s| *s != "..") => {
                segments.pop();
            }
            ".." if absolute => {}
            other => segments.push(other),
        }
    }
    let mut out = if absolute { format!("/{}", segments.join("/")) } else { segments.join("/") };
    if value.len() > 1 && value.ends_with('/') && !segments.is_empty() {
        out.push('/');
    }
    out
}

fn shape(msg: impl Into<String>) -> TemplateError {
    TemplateError::Shape(msg.into())
}

/// A number the template may give as a number or (resolved from a parameter) as a string.
fn number(value: Option<&Value>) -> Option<u64> {
    match value? {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn parse_scope(rule: &str, statement: &Value) -> Result<Scope, TemplateError> {
    let unsupported = || {
        shape(format!(
            "WAF rule {rule}: the local runner emulates scope-down statements of URI-path byte matches and Not/And/Or of them only, not {statement}"
        ))
    };
    let map = statement.as_object().filter(|m| m.len() == 1).ok_or_else(unsupported)?;
    let (kind, body) = map.iter().next().ok_or_else(unsupported)?;
    match kind.as_str() {
        "ByteMatchStatement" => {
            if body.pointer("/FieldToMatch/UriPath").is_none() {
                return Err(unsupported());
            }
            let constraint =
                body.get("PositionalConstraint").and_then(Value::as_str).and_then(Constraint::parse).ok_or_else(unsupported)?;
            let search = match (body.get("SearchString").and_then(Value::as_str), body.get("SearchStringBase64").and_then(Value::as_str)) {
                (Some(text), _) => text.to_owned(),
                (None, Some(encoded)) => base64::engine::general_purpose::STANDARD
                    .decode(encoded)
                    .ok()
                    .and_then(|b| String::from_utf8(b).ok())
                    .ok_or_else(unsupported)?,
                (None, None) => return Err(unsupported()),
            };
            let mut transforms: Vec<(i64, Transform)> = Vec::new();
            for t in body.get("TextTransformations").and_then(Value::as_array).into_iter().flatten() {
                let kind = t.get("Type").and_then(Value::as_str).unwrap_or_default();
                let transform =
                    Transform::parse(kind).ok_or_else(|| shape(format!("WAF rule {rule}: text transformation {kind} is not emulated")))?;
                transforms.push((number(t.get("Priority")).unwrap_or(0) as i64, transform));
            }
            transforms.sort_by_key(|(priority, _)| *priority);
            Ok(Scope::UriPath { constraint, search, transforms: transforms.into_iter().map(|(_, t)| t).collect() })
        }
        "NotStatement" => Ok(Scope::Not(Box::new(parse_scope(rule, body.get("Statement").ok_or_else(unsupported)?)?))),
        "AndStatement" | "OrStatement" => {
            let parts = body
                .get("Statements")
                .and_then(Value::as_array)
                .ok_or_else(unsupported)?
                .iter()
                .map(|s| parse_scope(rule, s))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(if kind == "AndStatement" { Scope::And(parts) } else { Scope::Or(parts) })
        }
        _ => Err(unsupported()),
    }
}

fn parse_action(rule: &str, action: Option<&Value>, bodies: &BTreeMap<String, (String, String)>) -> Result<RateAction, TemplateError> {
    let Some(action) = action.and_then(Value::as_object) else {
        return Err(shape(format!("WAF rule {rule}: a rate-based rule needs an Action")));
    };
    if action.contains_key("Count") {
        return Ok(RateAction::Count);
    }
    let Some(block) = action.get("Block") else {
        return Err(shape(format!("WAF rule {rule}: only Block and Count actions are emulated")));
    };
    let Some(custom) = block.get("CustomResponse") else { return Ok(RateAction::Block(BlockResponse::default())) };
    let status = number(custom.get("ResponseCode")).and_then(|c| u16::try_from(c).ok()).unwrap_or(403);
    let body = match custom.get("CustomResponseBodyKey").and_then(Value::as_str) {
        Some(key) => Some(bodies.get(key).cloned().ok_or_else(|| shape(format!("WAF rule {rule}: no custom response body {key}")))?),
        None => None,
    };
    let headers = custom
        .get("ResponseHeaders")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|h| Some((h.get("Name")?.as_str()?.to_owned(), h.get("Value")?.as_str()?.to_owned())))
        .collect();
    Ok(RateAction::Block(BlockResponse { status, body, headers }))
}

/// WAF's content types for custom response bodies, as HTTP content types.
fn content_type(waf: &str) -> String {
    match waf {
        "APPLICATION_JSON" => "application/json",
        "TEXT_HTML" => "text/html",
        _ => "text/plain",
    }
    .to_owned()
}

impl Template {
    /// The rate-based rules of every web ACL the template creates under `resolver`'s
    /// parameters, by web ACL and priority. Rules that are not rate-based are left out.
    pub fn waf_rate_rules(&self, resolver: &Resolver) -> Result<Vec<RateRule>, TemplateError> {
        let mut rules = Vec::new();
        for acl in self.resources_of("AWS::WAFv2::WebACL") {
            if acl.condition.as_deref().is_some_and(|c| !resolver.condition(c)) {
                continue;
            }
            let properties = resolver.resolve(&acl.properties);
            let bodies: BTreeMap<String, (String, String)> = properties
                .get("CustomResponseBodies")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
                .filter_map(|(key, b)| {
                    Some((key.clone(), (content_type(b.get("ContentType")?.as_str()?), b.get("Content")?.as_str()?.to_owned())))
                })
                .collect();
            for rule in properties.get("Rules").and_then(Value::as_array).into_iter().flatten() {
                let Some(rate) = rule.pointer("/Statement/RateBasedStatement") else { continue };
                let name = rule.get("Name").and_then(Value::as_str).unwrap_or_default().to_owned();
                let aggregate = rate.get("AggregateKeyType").and_then(Value::as_str).unwrap_or_default();
                if aggregate != "IP" {
                    return Err(shape(format!("WAF rule {name}: only AggregateKeyType IP is emulated, not {aggregate:?}")));
                }
                let limit = number(rate.get("Limit")).ok_or_else(|| shape(format!("WAF rule {name}: no numeric Limit")))?;
                let window = Duration::from_secs(number(rate.get("EvaluationWindowSec")).unwrap_or(300));
                let scope = rate.get("ScopeDownStatement").map(|s| parse_scope(&name, s)).transpose()?;
                let action = parse_action(&name, rule.get("Action"), &bodies)?;
                let priority = number(rule.get("Priority")).unwrap_or(0) as i64;
                rules.push(RateRule { web_acl: acl.logical_id.clone(), name, priority, limit, window, scope, action });
            }
        }
        rules.sort_by(|a, b| (&a.web_acl, a.priority).cmp(&(&b.web_acl, b.priority)));
        Ok(rules)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_decoding_and_path_normalisation_as_waf_describes_them() {
        assert_eq!(url_decode("/api/%61uth/login%2"), "/api/auth/login%2");
        assert_eq!(normalize_path("/api//auth/./x/../login"), "/api/auth/login");
        assert_eq!(normalize_path("/api/auth/"), "/api/auth/");
        assert_eq!(normalize_path("/../api"), "/api");
        assert_eq!(normalize_path("a/../../b"), "../b");
        assert_eq!(normalize_path("/"), "/");
    }

    #[test]
    fn scope_down_statements_match_the_transformed_path() {
        let auth = Scope::UriPath {
            constraint: Constraint::StartsWith,
            search: "/api/auth/".into(),
            transforms: vec![Transform::UrlDecode, Transform::NormalizePath],
        };
        assert!(auth.matches("/api/auth/login"));
        assert!(auth.matches("/api/%61uth/login"), "encoded");
        assert!(auth.matches("/api//auth/../auth/refresh"), "not normalised");
        assert!(!auth.matches("/api/authors"));
        assert!(!auth.matches("/api/products"));
        let not_webhook = Scope::Not(Box::new(Scope::UriPath {
            constraint: Constraint::Exactly,
            search: "/api/payments/webhook".into(),
            transforms: vec![Transform::UrlDecode, Transform::NormalizePath],
        }));
        assert!(!not_webhook.matches("/api/payments/webhook"));
        assert!(!not_webhook.matches("/api/payments/./webhook"));
        assert!(not_webhook.matches("/api/payments/webhook/x"));
        assert!(not_webhook.matches("/api/products"));
        assert!(Constraint::ContainsWord.matches("/api/auth/login", "auth"));
        assert!(!Constraint::ContainsWord.matches("/api/authors", "auth"));
    }

    const ACL: &str = r#"
Parameters:
  Limit: {Type: Number, Default: 100}
  Other: {Type: String, Default: ""}
Conditions:
  Create: !Equals [!Ref Other, ""]
Resources:
  Acl:
    Type: AWS::WAFv2::WebACL
    Condition: Create
    Properties:
      CustomResponseBodies:
        slow-down: {ContentType: APPLICATION_JSON, Content: '{"message":"slow down"}'}
      Rules:
        - Name: managed
          Priority: 0
          Statement: {ManagedRuleGroupStatement: {VendorName: AWS, Name: AWSManagedRulesCommonRuleSet}}
        - Name: second
          Priority: 2
          Action: {Block: {}}
          Statement: {RateBasedStatement: {Limit: 50, AggregateKeyType: IP}}
        - Name: first
          Priority: 1
          Action:
            Block:
              CustomResponse:
                ResponseCode: 429
                CustomResponseBodyKey: slow-down
                ResponseHeaders: [{Name: retry-after, Value: "60"}]
          Statement:
            RateBasedStatement:
              Limit: !Ref Limit
              EvaluationWindowSec: 60
              AggregateKeyType: IP
              ScopeDownStatement:
                ByteMatchStatement:
                  FieldToMatch: {UriPath: {}}
                  PositionalConstraint: STARTS_WITH
                  SearchString: /api/auth/
                  TextTransformations: [{Priority: 0, Type: NONE}]
"#;

    #[test]
    fn rate_rules_are_read_with_parameters_resolved_and_in_priority_order() {
        let t = Template::parse(ACL).expect("parses");
        let mut r = Resolver::new(&t);
        let rules = t.waf_rate_rules(&r).expect("rules");
        assert_eq!(rules.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(), ["first", "second"], "managed groups are left out");
        assert_eq!((rules[0].limit, rules[0].window), (100, Duration::from_secs(60)));
        assert_eq!(
            rules[0].action,
            RateAction::Block(BlockResponse {
                status: 429,
                body: Some(("application/json".into(), r#"{"message":"slow down"}"#.into())),
                headers: vec![("retry-after".into(), "60".into())],
            })
        );
        assert_eq!(
            (rules[1].window, &rules[1].action, &rules[1].scope),
            (Duration::from_secs(300), &RateAction::Block(BlockResponse::default()), &None)
        );
        r.parameters.insert("Limit".into(), "7".into());
        assert_eq!(t.waf_rate_rules(&r).expect("rules")[0].limit, 7);
        // A web ACL whose condition is false is not created, so not emulated.
        r.parameters.insert("Other".into(), "arn:aws:wafv2:us-east-1:1:global/webacl/x".into());
        assert!(t.waf_rate_rules(&r).expect("rules").is_empty());
    }

    #[test]
    fn rate_rules_the_runner_cannot_emulate_are_refused() {
        for (from, to) in [
            ("AggregateKeyType: IP}}", "AggregateKeyType: FORWARDED_IP}}"),
            ("{UriPath: {}}", "{QueryString: {}}"),
            ("Type: NONE", "Type: HTML_ENTITY_DECODE"),
        ] {
            let t = Template::parse(&ACL.replace(from, to)).expect("parses");
            assert!(t.waf_rate_rules(&Resolver::new(&t)).is_err(), "{to}");
        }
    }
}
