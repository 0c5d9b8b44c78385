//! CloudFormation intrinsics: short-form YAML tags to long-form JSON, and local resolution.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

/// Converts YAML (with `!Ref`, `!GetAtt`, `!Sub`, ... tags) to JSON in CloudFormation's long form.
pub fn to_json(yaml: serde_norway::Value) -> Value {
    use serde_norway::Value as Y;
    match yaml {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => {
            if let Some(i) = n.as_i64() {
                json!(i)
            } else if let Some(u) = n.as_u64() {
                json!(u)
            } else {
                json!(n.as_f64().unwrap_or_default())
            }
        }
        Y::String(s) => Value::String(s),
        Y::Sequence(items) => Value::Array(items.into_iter().map(to_json).collect()),
        Y::Mapping(map) => {
            let mut out = Map::new();
            for (k, v) in map {
                let key = match k {
                    Y::String(s) => s,
                    other => serde_norway::to_string(&other).unwrap_or_default().trim().to_owned(),
                };
                out.insert(key, to_json(v));
            }
            Value::Object(out)
        }
        Y::Tagged(tagged) => {
            let tag = tagged.tag.to_string();
            let tag = tag.trim_start_matches('!');
            let inner = to_json(tagged.value);
            match tag {
                "Ref" => json!({ "Ref": inner }),
                "GetAtt" => match inner {
                    Value::String(s) => {
                        let (id, attr) = s.split_once('.').unwrap_or((s.as_str(), ""));
                        json!({ "Fn::GetAtt": [id, attr] })
                    }
                    other => json!({ "Fn::GetAtt": other }),
                },
                "Condition" => json!({ "Condition": inner }),
                other => json!({ format!("Fn::{other}"): inner }),
            }
        }
    }
}

/// `${Name}` variables of a `Fn::Sub` string (not `${!Literal}`).
pub fn sub_variables(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else { break };
        let name = &after[..end];
        if !name.starts_with('!') {
            out.push(name.to_owned());
        }
        rest = &after[end + 1..];
    }
    out
}

thread_local! {
    /// The named conditions being evaluated on this thread, outermost first (see
    /// [`Resolver::condition`]).
    static CONDITIONS_IN_PROGRESS: std::cell::RefCell<Vec<String>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Resolves intrinsics against local values: parameters, pseudo parameters, and each logical
/// id's `Ref` value and attributes (as the local cloud created them).
///
/// Resources the local cloud does not create (the VPC, the OpenSearch domain, the ElastiCache
/// cache, the CDN, ...) have no local values: a `Ref` or `Fn::GetAtt` of one resolves to an empty
/// string, and so does a whole `Fn::Sub` that names one (`https://${SearchDomain.DomainEndpoint}`
/// gives `""`, not `"https://"`), so the variable is left unset rather than set to half a URL.
#[derive(Debug, Clone, Default)]
pub struct Resolver {
    pub parameters: BTreeMap<String, String>,
    /// Logical id → value of `Ref`.
    pub refs: BTreeMap<String, String>,
    /// (logical id, attribute) → value of `Fn::GetAtt`.
    pub attributes: BTreeMap<(String, String), String>,
    /// Condition name → its definition (long form), evaluated on demand.
    pub conditions: BTreeMap<String, Value>,
}

impl Resolver {
    pub fn new(template: &crate::Template) -> Self {
        let mut parameters = template.parameter_defaults();
        parameters.insert("AWS::Region".into(), "us-east-1".into());
        parameters.insert("AWS::AccountId".into(), "123456789012".into());
        parameters.insert("AWS::Partition".into(), "aws".into());
        parameters.insert("AWS::URLSuffix".into(), "amazonaws.com".into());
        parameters.insert("AWS::StackName".into(), "skyshop-local".into());
        let conditions = template
            .root()
            .get("Conditions")
            .and_then(Value::as_object)
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default();
        Self { parameters, refs: BTreeMap::new(), attributes: BTreeMap::new(), conditions }
    }

    fn lookup_ref(&self, name: &str) -> Option<String> {
        if name == "AWS::NoValue" {
            return None;
        }
        self.parameters.get(name).or_else(|| self.refs.get(name)).cloned()
    }

    fn lookup_attr(&self, id: &str, attr: &str) -> Option<String> {
        self.attributes.get(&(id.to_owned(), attr.to_owned())).cloned()
    }

    /// Resolves every intrinsic in `value`; unknown references become empty strings.
    pub fn resolve(&self, value: &Value) -> Value {
        match value {
            Value::Object(map) if map.len() == 1 => {
                let (k, v) = map.iter().next().map(|(k, v)| (k.as_str(), v)).unwrap_or(("", &Value::Null));
                match k {
                    "Ref" => Value::String(v.as_str().and_then(|n| self.lookup_ref(n)).unwrap_or_default()),
                    "Fn::GetAtt" => {
                        let parts: Vec<&str> = v.as_array().map(|a| a.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
                        Value::String(match parts.as_slice() {
                            [id, attr] => self.lookup_attr(id, attr).unwrap_or_default(),
                            _ => String::new(),
                        })
                    }
                    "Fn::Sub" => Value::String(self.sub(v).unwrap_or_default()),
                    "Fn::If" => {
                        let parts = v.as_array().cloned().unwrap_or_default();
                        let cond = parts.first().and_then(Value::as_str).map(|c| self.condition(c)).unwrap_or(false);
                        let pick = if cond { parts.get(1) } else { parts.get(2) };
                        pick.map(|p| self.resolve(p)).unwrap_or(Value::Null)
                    }
                    "Fn::Select" => {
                        let parts = v.as_array().cloned().unwrap_or_default();
                        let index = parts.first().map(|i| self.resolve_string(i)).and_then(|i| i.parse::<usize>().ok());
                        let items = parts.get(1).map(|l| self.resolve(l)).and_then(|l| l.as_array().cloned()).unwrap_or_default();
                        index.and_then(|i| items.get(i).cloned()).unwrap_or_else(|| Value::String(String::new()))
                    }
                    // The local "region" has three zones, named as AWS names them.
                    "Fn::GetAZs" => {
                        let region = self.parameters.get("AWS::Region").cloned().unwrap_or_default();
                        Value::Array(["a", "b", "c"].iter().map(|z| Value::String(format!("{region}{z}"))).collect())
                    }
                    "Fn::Join" => {
                        let parts = v.as_array().cloned().unwrap_or_default();
                        let sep = parts.first().and_then(Value::as_str).unwrap_or_default().to_owned();
                        let items = parts.get(1).map(|i| self.resolve(i)).and_then(|i| i.as_array().cloned()).unwrap_or_default();
                        Value::String(items.iter().map(|i| i.as_str().unwrap_or_default().to_owned()).collect::<Vec<_>>().join(&sep))
                    }
                    _ => Value::Object(map.iter().map(|(k, v)| (k.clone(), self.resolve(v))).collect()),
                }
            }
            Value::Object(map) => Value::Object(map.iter().map(|(k, v)| (k.clone(), self.resolve(v))).collect()),
            Value::Array(items) => Value::Array(items.iter().map(|v| self.resolve(v)).collect()),
            other => other.clone(),
        }
    }

    /// Resolves to a string (numbers and booleans rendered).
    pub fn resolve_string(&self, value: &Value) -> String {
        match self.resolve(value) {
            Value::String(s) => s,
            Value::Null => String::new(),
            other => other.to_string(),
        }
    }

    /// `None` when a variable names something without a local value.
    fn sub(&self, v: &Value) -> Option<String> {
        let (text, vars) = match v {
            Value::String(s) => (s.clone(), Map::new()),
            Value::Array(a) => (
                a.first().and_then(Value::as_str).unwrap_or_default().to_owned(),
                a.get(1).and_then(Value::as_object).cloned().unwrap_or_default(),
            ),
            _ => return None,
        };
        let mut out = text.clone();
        for name in sub_variables(&text) {
            let value = if let Some(local) = vars.get(&name) {
                self.resolve_string(local)
            } else if let Some((id, attr)) = name.split_once('.').filter(|(id, _)| !id.starts_with("AWS:")) {
                self.lookup_attr(id, attr)?
            } else {
                self.lookup_ref(&name)?
            };
            out = out.replace(&format!("${{{name}}}"), &value);
        }
        Some(out)
    }

    /// Evaluates a named condition. CloudFormation refuses circular conditions; here a condition
    /// met again while it is being evaluated is false, instead of recursing until the stack
    /// overflows.
    pub fn condition(&self, name: &str) -> bool {
        let Some(definition) = self.conditions.get(name) else { return false };
        let entered = CONDITIONS_IN_PROGRESS.with(|p| {
            let mut p = p.borrow_mut();
            if p.iter().any(|n| n == name) {
                return false;
            }
            p.push(name.to_owned());
            true
        });
        if !entered {
            return false;
        }
        let result = self.eval(definition);
        CONDITIONS_IN_PROGRESS.with(|p| p.borrow_mut().pop());
        result
    }

    fn eval(&self, c: &Value) -> bool {
        let Some((k, v)) = c.as_object().and_then(|m| m.iter().next()) else { return false };
        let args = v.as_array().cloned().unwrap_or_default();
        match k.as_str() {
            "Fn::Equals" => args.len() == 2 && self.resolve(&args[0]) == self.resolve(&args[1]),
            "Fn::Not" => !args.first().is_some_and(|a| self.eval(a)),
            "Fn::And" => args.iter().all(|a| self.eval(a)),
            "Fn::Or" => args.iter().any(|a| self.eval(a)),
            "Condition" => v.as_str().is_some_and(|n| self.condition(n)),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_sub_if_and_getatt() {
        let t = crate::Template::parse(
            r#"
Parameters:
  IssuerUrl: {Type: String, Default: ""}
Conditions:
  HasIssuerUrl: !Not [!Equals [!Ref IssuerUrl, ""]]
Resources:
  Q: {Type: AWS::SQS::Queue}
  F:
    Type: AWS::Serverless::Function
    Properties:
      Environment:
        Variables:
          A: !If [HasIssuerUrl, !Ref IssuerUrl, !Sub "https://${Q}.execute-api.${AWS::Region}.${AWS::URLSuffix}"]
          B: !GetAtt Q.Arn
"#,
        )
        .expect("parses");
        let mut r = Resolver::new(&t);
        r.refs.insert("Q".into(), "queue-url".into());
        r.attributes.insert(("Q".into(), "Arn".into()), "arn:q".into());
        let f = &t.functions()[0];
        assert_eq!(r.resolve_string(&f.environment["A"]), "https://queue-url.execute-api.us-east-1.amazonaws.com");
        assert_eq!(r.resolve_string(&f.environment["B"]), "arn:q");
        r.parameters.insert("IssuerUrl".into(), "https://api.example.com".into());
        assert_eq!(r.resolve_string(&f.environment["A"]), "https://api.example.com");
    }

    /// The shape of the catalog's data plane: a VPC function whose environment names an
    /// OpenSearch domain and a conditional ElastiCache cache, none of which exist locally.
    const DATA_PLANE: &str = r#"
Parameters:
  CacheUrl: {Type: String, Default: ""}
  Environment: {Type: String, Default: dev}
Conditions:
  HasCacheUrl: !Not [!Equals [!Ref CacheUrl, ""]]
  CreateCache: !Equals [!Ref CacheUrl, ""]
Resources:
  Vpc: {Type: AWS::EC2::VPC, Properties: {CidrBlock: 10.40.0.0/16}}
  PrivateSubnetB:
    Type: AWS::EC2::Subnet
    Properties:
      VpcId: !Ref Vpc
      AvailabilityZone: !Select [1, !GetAZs ""]
  SearchDomain: {Type: AWS::OpenSearchService::Domain}
  CatalogCache: {Type: AWS::ElastiCache::ServerlessCache, Condition: CreateCache}
  CatalogTable: {Type: AWS::DynamoDB::Table}
  CatalogFunction:
    Type: AWS::Serverless::Function
    Properties:
      VpcConfig:
        SecurityGroupIds: [!Ref LambdaSecurityGroup]
        SubnetIds: [!Ref PrivateSubnetB]
      Environment:
        Variables:
          CATALOG_TABLE: !Ref CatalogTable
          REDIS_URL: !If [HasCacheUrl, !Ref CacheUrl, !Sub "rediss://${CatalogCache.Endpoint.Address}:${CatalogCache.Endpoint.Port}"]
          SEARCH_ENGINE: opensearch
          OPENSEARCH_ENDPOINT: !Sub "https://${SearchDomain.DomainEndpoint}"
          SEARCH_HOST: !GetAtt SearchDomain.DomainEndpoint
          SEARCH_DOMAIN: !Ref SearchDomain
          LOG_GROUP: !Sub "/skyshop/${Environment}/catalog"
"#;

    #[test]
    fn resources_missing_locally_leave_variables_unset() {
        let t = crate::Template::parse(DATA_PLANE).expect("parses");
        let f = t.functions().into_iter().find(|f| f.logical_id == "CatalogFunction").expect("the VPC function is a function");
        let mut r = Resolver::new(&t);
        // What the local cloud provisions: the table, not the VPC, domain or cache.
        r.refs.insert("CatalogTable".into(), "CatalogTable-local".into());
        let env = |r: &Resolver, k: &str| r.resolve_string(&f.environment[k]);

        assert_eq!(env(&r, "CATALOG_TABLE"), "CatalogTable-local");
        assert_eq!(env(&r, "SEARCH_ENGINE"), "opensearch");
        assert_eq!(env(&r, "OPENSEARCH_ENDPOINT"), "", "a Sub naming a missing resource is unset, not half a URL");
        assert_eq!(env(&r, "SEARCH_HOST"), "");
        assert_eq!(env(&r, "SEARCH_DOMAIN"), "");
        assert_eq!(env(&r, "LOG_GROUP"), "/skyshop/dev/catalog", "a Sub of known values still resolves");
        // No CacheUrl: the AWS cache is chosen, which does not exist here, so no cache at all.
        assert_eq!(env(&r, "REDIS_URL"), "");
        // The local runner's override points the catalog at the local Redis.
        r.parameters.insert("CacheUrl".into(), "redis://127.0.0.1:6379".into());
        assert_eq!(env(&r, "REDIS_URL"), "redis://127.0.0.1:6379");
        // Once a value exists (as for provisioned resources), the same Sub resolves in full.
        r.attributes.insert(("SearchDomain".into(), "DomainEndpoint".into()), "vpc-search.example".into());
        assert_eq!(env(&r, "OPENSEARCH_ENDPOINT"), "https://vpc-search.example");

        let subnet = t.resource("PrivateSubnetB").expect("subnet");
        assert_eq!(r.resolve_string(&subnet.properties["AvailabilityZone"]), "us-east-1b");
        assert_eq!(r.resolve_string(&subnet.properties["VpcId"]), "");
    }
}
