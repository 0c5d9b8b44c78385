//! A reader of Skyshop's `template.yaml` for the local cloud and the tests.
//!
//! The template is the single source of truth: the local runner serves its HttpApi routes,
//! emulates its JWT authorizer and throttles, creates its tables and queues, and delivers its
//! event sources; the route-parity test compares its routes with the handlers. This crate turns
//! the YAML (with CloudFormation's short-form tags) into long-form JSON and answers those
//! questions, and resolves intrinsic functions against local physical values.

pub mod apigw;
pub mod authorizer;
mod intrinsics;
pub mod local;
pub mod postgres;
pub mod waf;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

pub use intrinsics::Resolver;

#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("template is not valid YAML: {0}")]
    Yaml(#[from] serde_norway::Error),
    #[error("template: {0}")]
    Shape(String),
}

fn shape(msg: impl Into<String>) -> TemplateError {
    TemplateError::Shape(msg.into())
}

/// One resource of the template.
#[derive(Debug, Clone)]
pub struct Resource {
    pub logical_id: String,
    pub kind: String,
    pub properties: Value,
    pub metadata: Value,
    /// The name of the condition the resource is created under (`Condition:`), if any.
    pub condition: Option<String>,
}

/// Who may call a route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteAuth {
    /// No authorizer.
    None,
    /// The JWT authorizer; when `scopes` is not empty the token needs one of them.
    Jwt { scopes: Vec<String> },
}

/// One HttpApi route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub logical_id: String,
    pub method: String,
    /// API Gateway path template, e.g. `/api/users/{id}`.
    pub path: String,
    /// Logical id of the function the route's integration invokes.
    pub function: String,
    pub auth: RouteAuth,
    /// The integration's `TimeoutInMillis` (API Gateway's default and maximum for HTTP APIs:
    /// 30 s); past it API Gateway answers 503.
    pub timeout: std::time::Duration,
}

impl Route {
    pub fn key(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

/// An HttpApi's `CorsConfiguration`, as API Gateway applies it: preflight `OPTIONS` requests
/// are answered by the gateway itself, and responses to an allowed origin carry
/// `Access-Control-Allow-Origin`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cors {
    pub allow_origins: Vec<String>,
    pub allow_methods: Vec<String>,
    pub allow_headers: Vec<String>,
    pub max_age: Option<u64>,
}

impl Cors {
    /// Whether `origin` may call the API.
    pub fn allows(&self, origin: &str) -> bool {
        self.allow_origins.iter().any(|o| o == "*" || o.eq_ignore_ascii_case(origin))
    }
}

/// Rate limits of a stage or route.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Throttle {
    pub rate_per_sec: f64,
    pub burst: u32,
}

/// An event source of a function.
#[derive(Debug, Clone, PartialEq)]
pub enum EventSource {
    Sqs {
        queue: String,
        batch_size: u32,
        report_batch_item_failures: bool,
    },
    DynamoDbStream {
        table: String,
        batch_size: u32,
        report_batch_item_failures: bool,
        /// `TRIM_HORIZON` or `LATEST`.
        starting_position: String,
        /// Retries of a failing batch before it is skipped (and reported to `on_failure`).
        maximum_retry_attempts: u32,
        /// Logical id of the on-failure destination queue, if any.
        on_failure: Option<String>,
        /// `FilterCriteria.Filters[].Pattern`: JSON event patterns; a record is delivered when it
        /// matches any of them (all records when there are none).
        filter_patterns: Vec<String>,
    },
    Schedule {
        expression: String,
    },
}

/// A Lambda function.
#[derive(Debug, Clone)]
pub struct Function {
    pub logical_id: String,
    /// Cargo binary name (`Metadata.BuildProperties.Binary`).
    pub binary: String,
    /// Environment variables, unresolved (intrinsics as long-form JSON).
    pub environment: BTreeMap<String, Value>,
    pub events: Vec<EventSource>,
    pub timeout_secs: u64,
}

/// The parsed template.
#[derive(Debug, Clone)]
pub struct Template {
    root: Value,
    resources: BTreeMap<String, Resource>,
}

impl Template {
    /// Reads `template.yaml`.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, TemplateError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| TemplateError::Read { path: path.to_owned(), source })?;
        Self::parse(&text)
    }

    /// The repository's `template.yaml` (found from this crate's location).
    pub fn load_repo() -> Result<Self, TemplateError> {
        Self::load(repo_root().join("template.yaml"))
    }

    pub fn parse(text: &str) -> Result<Self, TemplateError> {
        let yaml: serde_norway::Value = serde_norway::from_str(text)?;
        let root = intrinsics::to_json(yaml);
        let mut resources = BTreeMap::new();
        let map = root.get("Resources").and_then(Value::as_object).ok_or_else(|| shape("no Resources"))?;
        for (id, res) in map {
            resources.insert(
                id.clone(),
                Resource {
                    logical_id: id.clone(),
                    kind: res.get("Type").and_then(Value::as_str).unwrap_or_default().to_owned(),
                    properties: res.get("Properties").cloned().unwrap_or(Value::Object(Map::new())),
                    metadata: res.get("Metadata").cloned().unwrap_or(Value::Null),
                    condition: res.get("Condition").and_then(Value::as_str).map(str::to_owned),
                },
            );
        }
        Ok(Self { root, resources })
    }

    pub fn root(&self) -> &Value {
        &self.root
    }

    pub fn resource(&self, id: &str) -> Option<&Resource> {
        self.resources.get(id)
    }

    /// Resources of one type, e.g. `AWS::DynamoDB::Table`.
    pub fn resources_of(&self, kind: &str) -> impl Iterator<Item = &Resource> {
        self.resources.values().filter(move |r| r.kind == kind)
    }

    /// Parameter defaults.
    pub fn parameter_defaults(&self) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        if let Some(params) = self.root.get("Parameters").and_then(Value::as_object) {
            for (name, p) in params {
                let default = match p.get("Default") {
                    Some(Value::String(s)) => s.clone(),
                    Some(Value::Number(n)) => n.to_string(),
                    Some(Value::Bool(b)) => b.to_string(),
                    _ => String::new(),
                };
                out.insert(name.clone(), default);
            }
        }
        out
    }

    /// Every HttpApi route (`AWS::ApiGatewayV2::Route`), sorted by path then method.
    pub fn routes(&self) -> Result<Vec<Route>, TemplateError> {
        let mut routes = Vec::new();
        for res in self.resources_of("AWS::ApiGatewayV2::Route") {
            let p = &res.properties;
            let key = p.get("RouteKey").and_then(Value::as_str).ok_or_else(|| shape(format!("{}: no RouteKey", res.logical_id)))?;
            let (method, path) = key.split_once(' ').ok_or_else(|| shape(format!("{}: bad RouteKey {key}", res.logical_id)))?;
            let target = p.get("Target").ok_or_else(|| shape(format!("{}: no Target", res.logical_id)))?;
            let integration = referenced_ids(target)
                .into_iter()
                .next()
                .ok_or_else(|| shape(format!("{}: Target names no integration", res.logical_id)))?;
            let integration =
                self.resource(&integration).ok_or_else(|| shape(format!("{}: unknown integration {integration}", res.logical_id)))?;
            let uri = integration
                .properties
                .get("IntegrationUri")
                .ok_or_else(|| shape(format!("{}: no IntegrationUri", integration.logical_id)))?;
            let function = referenced_ids(uri)
                .into_iter()
                .next()
                .ok_or_else(|| shape(format!("{}: IntegrationUri names no function", integration.logical_id)))?;
            let auth = match p.get("AuthorizationType").and_then(Value::as_str) {
                Some("JWT") => Route::jwt(p),
                _ => RouteAuth::None,
            };
            let timeout = integration.properties.get("TimeoutInMillis").and_then(Value::as_u64).unwrap_or(30_000);
            routes.push(Route {
                logical_id: res.logical_id.clone(),
                method: method.to_owned(),
                path: path.to_owned(),
                function,
                auth,
                timeout: std::time::Duration::from_millis(timeout),
            });
        }
        routes.sort_by(|a, b| (&a.path, &a.method).cmp(&(&b.path, &b.method)));
        Ok(routes)
    }

    /// The audiences of the JWT authorizer.
    pub fn jwt_audiences(&self, resolver: &Resolver) -> Vec<String> {
        self.resources_of("AWS::ApiGatewayV2::Authorizer")
            .filter_map(|a| a.properties.pointer("/JwtConfiguration/Audience"))
            .flat_map(|aud| match resolver.resolve(aud) {
                Value::Array(items) => items.into_iter().filter_map(|v| v.as_str().map(str::to_owned)).collect(),
                Value::String(s) => vec![s],
                _ => vec![],
            })
            .collect()
    }

    /// The HttpApi's CORS configuration, resolved (`None` when the API declares none).
    pub fn cors(&self, resolver: &Resolver) -> Option<Cors> {
        let config = self.resources_of("AWS::ApiGatewayV2::Api").find_map(|api| api.properties.get("CorsConfiguration"))?;
        let list = |name: &str| -> Vec<String> {
            match config.get(name).map(|v| resolver.resolve(v)) {
                Some(Value::Array(items)) => items.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect(),
                Some(Value::String(s)) => vec![s],
                _ => vec![],
            }
        };
        Some(Cors {
            allow_origins: list("AllowOrigins"),
            allow_methods: list("AllowMethods"),
            allow_headers: list("AllowHeaders"),
            max_age: config.get("MaxAge").and_then(Value::as_u64),
        })
    }

    /// Default and per-route throttles of the `$default` stage.
    pub fn throttles(&self) -> (Option<Throttle>, BTreeMap<String, Throttle>) {
        let mut per_route = BTreeMap::new();
        let mut default = None;
        for stage in self.resources_of("AWS::ApiGatewayV2::Stage") {
            default = stage.properties.get("DefaultRouteSettings").and_then(throttle);
            if let Some(routes) = stage.properties.get("RouteSettings").and_then(Value::as_object) {
                for (key, settings) in routes {
                    if let Some(t) = throttle(settings) {
                        per_route.insert(key.clone(), t);
                    }
                }
            }
        }
        (default, per_route)
    }

    /// Every `AWS::Serverless::Function`.
    pub fn functions(&self) -> Vec<Function> {
        let globals = self.root.pointer("/Globals/Function").cloned().unwrap_or(Value::Null);
        self.resources_of("AWS::Serverless::Function")
            .map(|res| {
                let p = &res.properties;
                let binary = res.metadata.pointer("/BuildProperties/Binary").and_then(Value::as_str).unwrap_or(&res.logical_id).to_owned();
                let mut environment = BTreeMap::new();
                for source in [globals.pointer("/Environment/Variables"), p.pointer("/Environment/Variables")].into_iter().flatten() {
                    if let Some(vars) = source.as_object() {
                        environment.extend(vars.iter().map(|(k, v)| (k.clone(), v.clone())));
                    }
                }
                let timeout_secs = p.get("Timeout").or_else(|| globals.get("Timeout")).and_then(Value::as_u64).unwrap_or(3);
                let mut events = Vec::new();
                if let Some(map) = p.get("Events").and_then(Value::as_object) {
                    for event in map.values() {
                        let ep = event.get("Properties").cloned().unwrap_or(Value::Null);
                        let batch_size = ep.get("BatchSize").and_then(Value::as_u64).unwrap_or(10) as u32;
                        let partial = ep
                            .get("FunctionResponseTypes")
                            .and_then(Value::as_array)
                            .is_some_and(|t| t.iter().any(|v| v == "ReportBatchItemFailures"));
                        match event.get("Type").and_then(Value::as_str) {
                            Some("SQS") => {
                                if let Some(queue) = ep.get("Queue").and_then(|q| referenced_ids(q).into_iter().next()) {
                                    events.push(EventSource::Sqs { queue, batch_size, report_batch_item_failures: partial });
                                }
                            }
                            Some("DynamoDB") => {
                                if let Some(table) = ep.get("Stream").and_then(|q| referenced_ids(q).into_iter().next()) {
                                    events.push(EventSource::DynamoDbStream {
                                        table,
                                        batch_size,
                                        report_batch_item_failures: partial,
                                        starting_position: ep
                                            .get("StartingPosition")
                                            .and_then(Value::as_str)
                                            .unwrap_or("LATEST")
                                            .to_owned(),
                                        maximum_retry_attempts: ep.get("MaximumRetryAttempts").and_then(Value::as_u64).unwrap_or(3) as u32,
                                        on_failure: ep
                                            .pointer("/DestinationConfig/OnFailure/Destination")
                                            .and_then(|d| referenced_ids(d).into_iter().next()),
                                        filter_patterns: ep
                                            .pointer("/FilterCriteria/Filters")
                                            .and_then(Value::as_array)
                                            .map(|f| f.iter().filter_map(|f| f.get("Pattern")?.as_str().map(str::to_owned)).collect())
                                            .unwrap_or_default(),
                                    });
                                }
                            }
                            Some("Schedule") | Some("ScheduleV2") => {
                                if let Some(expr) = ep.get("Schedule").or_else(|| ep.get("ScheduleExpression")).and_then(Value::as_str) {
                                    events.push(EventSource::Schedule { expression: expr.to_owned() });
                                }
                            }
                            _ => {}
                        }
                    }
                }
                Function { logical_id: res.logical_id.clone(), binary, environment, events, timeout_secs }
            })
            .collect()
    }
}

impl Function {
    /// The database the function owns: its `DB_NAME` (a plain string in the template), if any.
    /// Locally such a function gets a PostgreSQL database of its own
    /// ([`local::provision_databases`]).
    pub fn db_name(&self) -> Option<&str> {
        self.environment.get("DB_NAME").and_then(Value::as_str).filter(|n| !n.is_empty())
    }
}

impl Route {
    fn jwt(p: &Value) -> RouteAuth {
        let scopes = p
            .get("AuthorizationScopes")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_owned)).collect())
            .unwrap_or_default();
        RouteAuth::Jwt { scopes }
    }
}

fn throttle(settings: &Value) -> Option<Throttle> {
    let rate = settings.get("ThrottlingRateLimit").and_then(Value::as_f64)?;
    let burst = settings.get("ThrottlingBurstLimit").and_then(Value::as_u64).unwrap_or(rate as u64) as u32;
    Some(Throttle { rate_per_sec: rate, burst })
}

/// Logical ids an intrinsic refers to: `Ref`, `Fn::GetAtt`, and `${Id}` / `${Id.Attr}` in `Fn::Sub`.
pub fn referenced_ids(value: &Value) -> Vec<String> {
    let mut out = Vec::new();
    collect_refs(value, &mut out);
    out
}

fn collect_refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(id)) = map.get("Ref") {
                out.push(id.clone());
            }
            if let Some(Value::Array(parts)) = map.get("Fn::GetAtt")
                && let Some(Value::String(id)) = parts.first()
            {
                out.push(id.clone());
            }
            if let Some(sub) = map.get("Fn::Sub") {
                let text = match sub {
                    Value::String(s) => Some(s.as_str()),
                    Value::Array(a) => a.first().and_then(Value::as_str),
                    _ => None,
                };
                if let Some(text) = text {
                    for var in intrinsics::sub_variables(text) {
                        let id = var.split('.').next().unwrap_or_default();
                        if !id.starts_with("AWS::") {
                            out.push(id.to_owned());
                        }
                    }
                }
            }
            for v in map.values() {
                if !matches!(v, Value::String(_)) {
                    collect_refs(v, out);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

/// The repository root (two levels above this crate).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_repository_template() {
        let t = Template::load_repo().expect("template.yaml parses");
        let routes = t.routes().expect("routes resolve");
        let register = routes.iter().find(|r| r.key() == "POST /api/auth/register").expect("register route");
        assert_eq!(register.function, "AccountsFunction");
        assert_eq!(register.auth, RouteAuth::None);
        let users = routes.iter().find(|r| r.key() == "GET /api/users").expect("admin route");
        assert_eq!(users.auth, RouteAuth::Jwt { scopes: vec!["admin".into()] });
        let (default, per_route) = t.throttles();
        assert_eq!(default.map(|d| d.rate_per_sec), Some(5000.0));
        assert_eq!(per_route.get("POST /api/auth/login").map(|t| t.rate_per_sec), Some(1000.0));
        let notifications = t.functions().into_iter().find(|f| f.logical_id == "NotificationsFunction").expect("notifications");
        assert_eq!(notifications.binary, "notifications");
        assert!(
            matches!(&notifications.events[0], EventSource::Sqs { queue, report_batch_item_failures: true, .. } if queue == "NotificationsQueue")
        );
        // The catalog's AWS-only data plane (VPC, OpenSearch, ElastiCache) has no local values:
        // its endpoint variables resolve to nothing, the local overrides win.
        let catalog = t.functions().into_iter().find(|f| f.logical_id == "CatalogFunction").expect("catalog");
        let mut r = Resolver::new(&t);
        r.parameters.insert("CacheUrl".into(), "redis://127.0.0.1:6379".into());
        assert_eq!(r.resolve_string(&catalog.environment["SEARCH_ENGINE"]), "opensearch");
        assert_eq!(r.resolve_string(&catalog.environment["OPENSEARCH_ENDPOINT"]), "");
        assert_eq!(r.resolve_string(&catalog.environment["REDIS_URL"]), "redis://127.0.0.1:6379");
        assert!(t.resources_of("AWS::OpenSearchService::Domain").any(|d| d.logical_id == "SearchDomain"));
    }
}
