//! What the repository's template promises about its edge and its data plane, checked on the
//! template itself (the deployed behaviour follows from these properties; the local runner's
//! emulation of the WAF rules is tested in infra/local-runner/tests/local/waf.rs).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use sam_model::waf::{BlockResponse, RateAction};
use sam_model::{Resolver, Template};
use serde_json::{Value, json};

fn template() -> Template {
    Template::load_repo().expect("template.yaml parses")
}

fn props<'a>(t: &'a Template, id: &str) -> &'a Value {
    &t.resource(id).unwrap_or_else(|| panic!("{id} is in the template")).properties
}

/// Every string in `value` (intrinsics included), for "does it mention X" checks.
fn strings(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => out.push(s.clone()),
        Value::Array(items) => items.iter().for_each(|v| strings(v, out)),
        Value::Object(map) => map.values().for_each(|v| strings(v, out)),
        _ => {}
    }
}

#[test]
fn the_edge_limits_each_client_ip_on_auth_routes_and_exempts_the_stripe_webhook() {
    let t = template();
    let rules = t.waf_rate_rules(&Resolver::new(&t)).expect("the web ACL's rate rules");
    let names: Vec<&str> = rules.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["auth-per-ip", "api-per-ip"]);
    let too_many = RateAction::Block(BlockResponse {
        status: 429,
        body: Some(("application/json".into(), r#"{"message":"Too Many Requests"}"#.into())),
        headers: vec![("retry-after".into(), "60".into())],
    });

    let auth = &rules[0];
    assert_eq!((auth.limit, auth.window, &auth.action), (100, Duration::from_secs(300), &too_many));
    let scope = auth.scope.as_ref().expect("auth paths only");
    for path in ["/api/auth/refresh", "/api/auth/login", "/api/%61uth/login", "/api//auth/../auth/register"] {
        assert!(scope.matches(path), "{path} counts against the auth limit");
    }
    for path in ["/api/products", "/api/users/me", "/api/payments/webhook"] {
        assert!(!scope.matches(path), "{path} is not an auth path");
    }

    let api = &rules[1];
    assert_eq!((api.limit, api.window, &api.action), (2000, Duration::from_secs(300), &too_many));
    let scope = api.scope.as_ref().expect("everything but the webhook");
    assert!(scope.matches("/api/products") && scope.matches("/api/auth/login"));
    assert!(!scope.matches("/api/payments/webhook") && !scope.matches("/api/payments/./webhook"));

    // The web ACL is a CLOUDFRONT one, in front of the API's distribution, with AWS managed
    // rule groups after the rate rules, and logged.
    let acl = props(&t, "EdgeWebAcl");
    assert_eq!(acl["Scope"], "CLOUDFRONT");
    let mut managed = Vec::new();
    for rule in acl["Rules"].as_array().unwrap() {
        if let Some(name) = rule.pointer("/Statement/ManagedRuleGroupStatement/Name") {
            managed.push(name.as_str().unwrap());
        }
    }
    assert_eq!(managed, ["AWSManagedRulesAmazonIpReputationList", "AWSManagedRulesKnownBadInputsRuleSet", "AWSManagedRulesCommonRuleSet"]);
    assert!(
        t.resources_of("AWS::WAFv2::LoggingConfiguration")
            .any(|l| l.properties["ResourceArn"] == json!({"Fn::GetAtt": ["EdgeWebAcl", "Arn"]}))
    );
}

#[test]
fn the_api_distribution_forwards_everything_uncached_over_https_with_a_generated_origin_secret() {
    let t = template();
    let cdn = &props(&t, "ApiCdn")["DistributionConfig"];
    let mut acl = Vec::new();
    strings(&cdn["WebACLId"], &mut acl);
    assert!(acl.contains(&"EdgeWebAcl".to_owned()), "{}", cdn["WebACLId"]);
    let origin = &cdn["Origins"][0];
    assert_eq!(origin["CustomOriginConfig"]["OriginProtocolPolicy"], "https-only");
    assert_eq!(origin["CustomOriginConfig"]["OriginSSLProtocols"], json!(["TLSv1.2"]));
    let header = &origin["OriginCustomHeaders"][0];
    assert_eq!(header["HeaderName"], "X-Origin-Verify");
    // The value is a dynamic reference to the generated secret, never a literal.
    assert_eq!(header["HeaderValue"], json!({"Fn::Sub": "{{resolve:secretsmanager:${EdgeOriginSecret}:SecretString}}"}));
    assert!(props(&t, "EdgeOriginSecret").get("GenerateSecretString").is_some());
    assert!(props(&t, "EdgeOriginSecret").get("SecretString").is_none());

    let behaviour = &cdn["DefaultCacheBehavior"];
    assert_eq!(behaviour["ViewerProtocolPolicy"], "https-only");
    assert_eq!(behaviour["AllowedMethods"], json!(["GET", "HEAD", "OPTIONS", "PUT", "PATCH", "POST", "DELETE"]));
    assert_eq!(behaviour["CachePolicyId"], "4135ea2d-6df8-44a3-9df3-4b5a84be39ad", "managed CachingDisabled");
    assert_eq!(behaviour["OriginRequestPolicyId"], "b689b0a8-53d0-40ab-baf2-68738e2966ac", "managed AllViewerExceptHostHeader");
    assert!(cdn["Logging"]["Bucket"].is_object(), "access logs");
    // With a certificate of its own the viewer policy is TLS 1.2+; prod must have one.
    assert_eq!(cdn["ViewerCertificate"]["Fn::If"][1]["MinimumProtocolVersion"], "TLSv1.2_2021");
    let rules = &t.root()["Rules"];
    assert_eq!(rules["ProdServesTls12Only"]["RuleCondition"], json!({"Fn::Equals": [{"Ref": "Environment"}, "prod"]}));
    assert!(rules["EdgeWebAclInUsEast1"].is_object(), "a CLOUDFRONT web ACL is only created in us-east-1");
    // Tokens name the public URL (the distribution or ApiDomainName), not execute-api.
    let mut issuer = Vec::new();
    strings(&props(&t, "ShopJwtAuthorizer")["JwtConfiguration"]["Issuer"], &mut issuer);
    assert!(issuer.iter().any(|s| s == "https://${ApiCdn.DomainName}"), "{issuer:?}");
    assert!(!issuer.iter().any(|s| s.contains("execute-api")), "{issuer:?}");
}

#[test]
fn route_throttles_are_capacity_limits_and_functions_have_reserved_concurrency() {
    let t = template();
    let (_, per_route) = t.throttles();
    for (route, throttle) in &per_route {
        assert!(throttle.rate_per_sec >= 1000.0, "{route}: {throttle:?} is a per-client limit, which belongs in WAF");
    }
    for function in t.resources_of("AWS::Serverless::Function") {
        let reserved = function.properties["ReservedConcurrentExecutions"].as_u64();
        assert!(reserved.is_some_and(|r| r > 0), "{} has no reserved concurrency", function.logical_id);
    }
    let total: u64 =
        t.resources_of("AWS::Serverless::Function").map(|f| f.properties["ReservedConcurrentExecutions"].as_u64().unwrap()).sum();
    assert!(total + 100 <= 1000, "{total} reserved leaves less than 100 of the default 1,000 unreserved");
    // The SQS consumer never has more batches in flight than its reservation allows.
    let notifications = props(&t, "NotificationsFunction");
    assert!(
        notifications["Events"]["Queue"]["Properties"]["ScalingConfig"]["MaximumConcurrency"].as_u64()
            <= notifications["ReservedConcurrentExecutions"].as_u64()
    );
}

#[test]
fn deployed_environments_get_an_https_frontend_url_and_no_localhost_default() {
    let t = template();
    let parameter = &t.root()["Parameters"]["FrontendUrl"];
    assert!(parameter.get("Default").is_none(), "no default: {parameter}");
    let pattern = regex_lite::Regex::new(parameter["AllowedPattern"].as_str().expect("an AllowedPattern")).expect("a regex");
    for good in ["https://shop.example.com", "https://shop.example.com:8443"] {
        assert!(pattern.is_match(good), "{good}");
    }
    for bad in ["http://localhost:3000", "http://shop.example.com", "https://shop.example.com/", "https://shop.example.com/path", ""] {
        assert!(!pattern.is_match(bad), "{bad}");
    }
    // Every deploy profile names one.
    let samconfig = std::fs::read_to_string(sam_model::repo_root().join("samconfig.toml")).expect("samconfig.toml");
    let profiles: Vec<&str> = samconfig.lines().filter(|l| l.starts_with("parameter_overrides")).collect();
    assert_eq!(profiles.len(), 2, "dev and prod");
    for line in profiles {
        let url = line.split_whitespace().find_map(|p| p.trim_matches('"').strip_prefix("FrontendUrl=")).expect(line);
        assert!(pattern.is_match(url), "{line}");
    }
}

#[test]
fn the_search_domain_grants_the_catalog_search_only_and_the_indexer_its_writes() {
    let t = template();
    let statements = props(&t, "SearchDomain")["AccessPolicies"]["Statement"].as_array().unwrap().clone();
    let of = |role: &str| {
        statements
            .iter()
            .find(|s| s["Principal"]["AWS"] == json!({"Fn::GetAtt": [role, "Arn"]}))
            .unwrap_or_else(|| panic!("a statement for {role} alone"))
            .clone()
    };
    let catalog = of("CatalogFunctionRole");
    assert_eq!(catalog["Action"], json!(["es:ESHttpGet", "es:ESHttpPost"]));
    let mut resources = Vec::new();
    strings(&catalog["Resource"], &mut resources);
    assert!(
        !resources.is_empty() && resources.iter().all(|r| r.ends_with("/products/_search") || r.ends_with("/products/_count")),
        "{resources:?}"
    );
    let indexer = of("CatalogIndexerFunctionRole");
    assert!(indexer["Action"].as_array().unwrap().contains(&json!("es:ESHttpPut")));
    assert!(statements.iter().all(|s| s["Action"] != "es:ESHttp*"), "no wildcard grant");
    // The catalog role's own policy grants no more than the domain's.
    let mut grants = Vec::new();
    strings(&props(&t, "CatalogFunction")["Policies"], &mut grants);
    assert!(!grants.iter().any(|g| g.starts_with("es:ESHttpPut") || g.starts_with("es:ESHttpDelete") || g == "es:ESHttpHead"));
}

#[test]
fn the_signing_keys_secret_gets_no_value_from_the_template() {
    let t = template();
    let secret = props(&t, "SigningKeysSecret");
    assert!(secret.get("SecretString").is_none() && secret.get("GenerateSecretString").is_none(), "{secret}");
}

#[test]
fn only_the_cart_reaches_the_cart_cache_and_it_authenticates() {
    let t = template();
    let ingress = props(&t, "CartCacheSecurityGroup")["SecurityGroupIngress"].as_array().unwrap().clone();
    assert!(!ingress.is_empty());
    for rule in &ingress {
        assert_eq!(rule["SourceSecurityGroupId"], json!({"Ref": "CartFunctionSecurityGroup"}), "{rule}");
    }
    assert_eq!(props(&t, "CartFunction")["VpcConfig"]["SecurityGroupIds"], json!([{"Ref": "CartFunctionSecurityGroup"}]));
    // The cache takes a user group whose only user has a generated password.
    assert_eq!(props(&t, "CartCache")["UserGroupId"], json!({"Ref": "CartCacheUserGroup"}));
    let group = props(&t, "CartCacheUserGroup");
    assert_eq!((group["Engine"].clone(), group["UserIds"].clone()), (json!("valkey"), json!([{"Ref": "CartCacheUser"}])));
    let user = props(&t, "CartCacheUser");
    assert_eq!(user["AuthenticationMode"]["Type"], "password");
    let mut password = Vec::new();
    strings(&user["AuthenticationMode"]["Passwords"], &mut password);
    assert_eq!(password, ["{{resolve:secretsmanager:${CartCacheAuthSecret}:SecretString:password}}"]);
    assert!(props(&t, "CartCacheAuthSecret").get("GenerateSecretString").is_some());
    // The cart's URL is rediss:// with the user's credentials from the same secret.
    let mut url = Vec::new();
    strings(&props(&t, "CartFunction")["Environment"]["Variables"]["REDIS_URL"], &mut url);
    assert!(
        url.iter().any(|u| u
            .starts_with("rediss://skyshop-${Environment}-cart:{{resolve:secretsmanager:${CartCacheAuthSecret}:SecretString:password}}@")),
        "{url:?}"
    );
}

#[test]
fn the_orders_database_is_reached_only_through_its_proxy_with_iam_tokens_over_tls() {
    let t = template();
    let only_from = |group: &str, source: &str| {
        let ingress = props(&t, group)["SecurityGroupIngress"].as_array().unwrap().clone();
        assert!(!ingress.is_empty(), "{group}");
        for rule in &ingress {
            assert_eq!(rule["SourceSecurityGroupId"], json!({"Ref": source}), "{group}: {rule}");
            assert_eq!((rule["FromPort"].as_u64(), rule["ToPort"].as_u64()), (Some(5432), Some(5432)), "{group}: {rule}");
        }
    };
    only_from("OrdersDbSecurityGroup", "OrdersDbProxySecurityGroup");
    // The orders functions and the payments functions (their own group), nothing else.
    let proxy_sources: Vec<Value> = props(&t, "OrdersDbProxySecurityGroup")["SecurityGroupIngress"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["SourceSecurityGroupId"].clone())
        .collect();
    assert_eq!(proxy_sources, [json!({"Ref": "OrdersFunctionSecurityGroup"}), json!({"Ref": "PaymentsFunctionSecurityGroup"})]);

    let db = props(&t, "OrdersDb");
    assert_eq!(db["Engine"], "postgres");
    assert!(db["EngineVersion"].as_str().unwrap().starts_with("16."), "{}", db["EngineVersion"]);
    assert_eq!(db["DBName"], "orders");
    for flag in ["StorageEncrypted", "EnableIAMDatabaseAuthentication", "ManageMasterUserPassword"] {
        assert_eq!(db[flag], true, "{flag}");
    }
    assert_eq!(db["PubliclyAccessible"], false);
    assert!(db.get("MasterUserPassword").is_none(), "the master password lives in Secrets Manager only");
    assert_eq!(db["VPCSecurityGroups"], json!([{"Ref": "OrdersDbSecurityGroup"}]));
    let retention = &t.root()["Parameters"]["OrdersDbBackupRetentionDays"];
    assert!(retention["MinValue"].as_u64() >= Some(7) && retention["Default"].as_u64() >= Some(7), "{retention}");
    assert_eq!(t.root()["Parameters"]["OrdersDbMultiAz"]["Default"], "false", "dev runs single-AZ");

    let proxy = props(&t, "OrdersDbProxy");
    assert_eq!((proxy["EngineFamily"].clone(), proxy["RequireTLS"].clone()), (json!("POSTGRESQL"), json!(true)));
    let auth = proxy["Auth"].as_array().unwrap();
    assert_eq!(auth.len(), 2, "the orders functions' login and the payments role's");
    assert!(auth.iter().all(|a| a["IAMAuth"] == "REQUIRED"), "{auth:?}");
    assert_eq!(auth[0]["SecretArn"], json!({"Fn::GetAtt": ["OrdersDb", "MasterUserSecret.SecretArn"]}));
    assert_eq!(auth[1]["SecretArn"], json!({"Ref": "PaymentsDbSecret"}));
    assert_eq!(props(&t, "OrdersDbProxyTargetGroup")["DBInstanceIdentifiers"], json!([{"Ref": "OrdersDb"}]));
    // The proxy's role reads that secret and nothing else.
    let mut grants = Vec::new();
    strings(&props(&t, "OrdersDbProxyRole")["Policies"], &mut grants);
    assert!(grants.iter().all(|g| !g.contains('*')), "{grants:?}");

    for function in ["OrdersFunction", "OrdersEventsFunction"] {
        let f = props(&t, function);
        assert_eq!(f["VpcConfig"]["SecurityGroupIds"], json!([{"Ref": "OrdersFunctionSecurityGroup"}]), "{function}");
        let env = &f["Environment"]["Variables"];
        assert_eq!(env["DB_HOST"], json!({"Fn::GetAtt": ["OrdersDbProxy", "Endpoint"]}), "{function}: the proxy, never the instance");
        assert_eq!((env["DB_NAME"].clone(), env["DB_PORT"].clone()), (json!("orders"), json!("5432")));
        assert_eq!(env["ORDER_EVENTS_TOPIC_ARN"], json!({"Ref": "OrderEventsTopic"}));
        let statements = f["Policies"][0]["Statement"].as_array().unwrap();
        let connect = statements.iter().find(|s| s["Action"] == json!(["rds-db:connect"])).expect("rds-db:connect");
        let mut resource = Vec::new();
        strings(&connect["Resource"], &mut resource);
        assert!(resource.iter().any(|r| r.contains(":dbuser:${ProxyId}/${OrdersDbUser}")), "{function}: {resource:?}");
        assert!(resource.iter().any(|r| r == "OrdersDbProxy"), "{function}: the proxy's resource id: {resource:?}");
        let publish = statements.iter().find(|s| s["Action"] == json!(["sns:Publish"])).expect("sns:Publish");
        assert_eq!(publish["Resource"], json!({"Ref": "OrderEventsTopic"}), "{function}: the order topic only");
    }
}

#[test]
fn order_events_fan_out_to_one_filtered_raw_queue_per_consumer_with_a_dlq() {
    let t = template();
    assert_eq!(props(&t, "OrderEventsTopic")["KmsMasterKeyId"], "alias/aws/sns");
    let expected = [
        ("InventoryOrderEventsSubscription", "InventoryOrderEventsQueue", vec!["OrderConfirmed", "OrderCancelled", "OrderRefunded"]),
        ("CartOrderEventsSubscription", "CartOrderEventsQueue", vec!["OrderPlaced", "OrderCancelled"]),
        ("PaymentsOrderEventsSubscription", "PaymentsOrderEventsQueue", vec!["OrderPlaced", "OrderDelivered", "OrderCancelled"]),
        (
            "NotificationsOrderEventsSubscription",
            "NotificationsQueue",
            vec!["OrderConfirmed", "OrderShipped", "OrderDelivered", "OrderCancelled"],
        ),
    ];
    let subscriptions: Vec<&str> = t
        .resources_of("AWS::SNS::Subscription")
        .filter(|s| s.properties["TopicArn"] == json!({"Ref": "OrderEventsTopic"}))
        .map(|s| s.logical_id.as_str())
        .collect();
    assert_eq!(subscriptions.len(), expected.len(), "{subscriptions:?}");
    for (subscription, queue, types) in expected {
        let s = props(&t, subscription);
        assert_eq!(s["Protocol"], "sqs");
        assert_eq!(s["Endpoint"], json!({"Fn::GetAtt": [queue, "Arn"]}), "{subscription}");
        assert_eq!(s["RawMessageDelivery"], true, "{subscription}: consumers read the envelope itself");
        assert_eq!(s["FilterPolicyScope"], "MessageAttributes");
        assert_eq!(s["FilterPolicy"], json!({"type": types}), "{subscription}");

        let q = props(&t, queue);
        assert_eq!(q["SqsManagedSseEnabled"], true, "{queue}");
        let dlq = q["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0].as_str().unwrap_or_else(|| panic!("{queue} has a DLQ"));
        // Alarms on the DLQ's depth, and on the queue's oldest message for the new queues.
        let alarmed = |metric: &str, on: &str| {
            t.resources_of("AWS::CloudWatch::Alarm").any(|a| {
                a.properties["MetricName"] == metric && a.properties["Dimensions"][0]["Value"] == json!({"Fn::GetAtt": [on, "QueueName"]})
            })
        };
        assert!(alarmed("ApproximateNumberOfMessagesVisible", dlq), "{dlq} has a depth alarm");
        if queue != "NotificationsQueue" {
            assert!(alarmed("ApproximateAgeOfOldestMessage", queue), "{queue} has an age alarm");
        }
        // The queue's policy lets this topic send, and no one else.
        let policy = t
            .resources_of("AWS::SQS::QueuePolicy")
            .find(|p| p.properties["Queues"] == json!([{"Ref": queue}]))
            .unwrap_or_else(|| panic!("{queue} has a queue policy"));
        let statements = policy.properties["PolicyDocument"]["Statement"].as_array().unwrap();
        for statement in statements {
            assert_eq!(statement["Principal"], json!({"Service": "sns.amazonaws.com"}), "{queue}");
        }
        let sources: Vec<&Value> = statements.iter().map(|s| &s["Condition"]["ArnEquals"]["aws:SourceArn"]).collect();
        // The notifications queue also takes payment events (refunds, disputes).
        let topics: &[Value] = if queue == "NotificationsQueue" {
            &[json!({"Ref": "OrderEventsTopic"}), json!({"Ref": "PaymentEventsTopic"})]
        } else {
            &[json!({"Ref": "OrderEventsTopic"})]
        };
        assert_eq!(sources, topics.iter().collect::<Vec<_>>(), "{queue}");
    }

    // The consumers report partial batch failures and never outrun their reservation.
    for (function, queue) in [
        ("InventoryEventsFunction", "InventoryOrderEventsQueue"),
        ("CartEventsFunction", "CartOrderEventsQueue"),
        ("PaymentsEventsFunction", "PaymentsOrderEventsQueue"),
    ] {
        let consumer = t.functions().into_iter().find(|f| f.logical_id == function).unwrap();
        assert!(
            consumer
                .events
                .iter()
                .any(|e| matches!(e, sam_model::EventSource::Sqs { queue: q, report_batch_item_failures: true, .. } if q == queue)),
            "{function} consumes {queue}"
        );
        let p = props(&t, function);
        let sqs_event = p["Events"].as_object().unwrap().values().find(|e| e["Type"] == "SQS").unwrap();
        assert!(sqs_event["Properties"]["ScalingConfig"]["MaximumConcurrency"].as_u64() <= p["ReservedConcurrentExecutions"].as_u64());
        // Lambda refuses an SQS event source whose queue hides messages for less than the timeout.
        assert!(props(&t, queue)["VisibilityTimeout"].as_u64() >= p["Timeout"].as_u64(), "{queue}");
    }
    assert_eq!(props(&t, "CartEventsFunction")["VpcConfig"]["SecurityGroupIds"], json!([{"Ref": "CartFunctionSecurityGroup"}]));
}

#[test]
fn order_routes_require_a_signed_in_user_and_gate_admin_and_seller_views_by_scope() {
    let t = template();
    let routes = t.routes().unwrap();
    let scopes = |key: &str| match &routes.iter().find(|r| r.key() == key).unwrap_or_else(|| panic!("{key}")).auth {
        sam_model::RouteAuth::Jwt { scopes } => {
            let mut s: Vec<&str> = scopes.iter().map(String::as_str).collect();
            s.sort_unstable();
            s.join(",")
        }
        sam_model::RouteAuth::None => panic!("{key} is public"),
    };
    for key in [
        "POST /api/orders",
        "GET /api/orders",
        "GET /api/orders/{id}",
        "GET /api/orders/number/{orderNumber}",
        "POST /api/orders/{id}/cancel",
    ] {
        assert_eq!(scopes(key), "", "{key}: any signed-in user");
    }
    assert_eq!(scopes("GET /api/orders/admin"), "admin");
    assert_eq!(scopes("GET /api/orders/stats"), "admin");
    assert_eq!(scopes("PATCH /api/orders/{id}/status"), "admin,seller");
    assert_eq!(scopes("GET /api/orders/seller"), "seller");
    assert_eq!(scopes("GET /api/orders/seller/{id}"), "seller");
    assert!(routes.iter().filter(|r| r.path.starts_with("/api/orders")).all(|r| r.function == "OrdersFunction"));
}

#[test]
fn payments_reach_their_own_database_role_stripe_and_their_topic_with_least_privilege() {
    let t = template();
    let routes = t.routes().unwrap();
    let auth = |key: &str| routes.iter().find(|r| r.key() == key).unwrap_or_else(|| panic!("{key}")).auth.clone();
    let scopes = |key: &str| match auth(key) {
        sam_model::RouteAuth::Jwt { scopes } => scopes.join(","),
        sam_model::RouteAuth::None => panic!("{key} is public"),
    };
    for key in ["POST /api/payments/intents", "POST /api/payments/confirm", "GET /api/payments/{id}", "GET /api/payments/order/{orderId}"] {
        assert_eq!(scopes(key), "", "{key}: any signed-in user (the function checks ownership)");
    }
    assert_eq!(scopes("GET /api/payments"), "admin");
    assert_eq!(scopes("POST /api/payments/{id}/refund"), "admin");
    let webhook = routes.iter().find(|r| r.key() == "POST /api/payments/webhook").unwrap();
    assert!(matches!(webhook.auth, sam_model::RouteAuth::None), "Stripe has no token: the signature is the proof");
    assert_eq!(webhook.function, "StripeWebhookFunction");
    assert!(
        routes
            .iter()
            .filter(|r| r.path.starts_with("/api/payments") && r.path != "/api/payments/webhook")
            .all(|r| r.function == "PaymentsFunction")
    );
    // The secrets carry no value: the operator puts Stripe's.
    for secret in ["StripeSecretKeySecret", "StripeWebhookSecret"] {
        let p = props(&t, secret);
        assert!(p.get("SecretString").is_none() && p.get("GenerateSecretString").is_none(), "{secret}");
    }
    for function in ["PaymentsFunction", "StripeWebhookFunction", "PaymentsEventsFunction"] {
        let f = props(&t, function);
        assert_eq!(f["VpcConfig"]["SecurityGroupIds"], json!([{"Ref": "PaymentsFunctionSecurityGroup"}]), "{function}");
        assert_eq!(f["VpcConfig"]["SubnetIds"], json!([{"Ref": "PaymentsSubnetA"}, {"Ref": "PaymentsSubnetB"}]), "{function}");
        let env = &f["Environment"]["Variables"];
        assert_eq!(env["DB_HOST"], json!({"Fn::GetAtt": ["OrdersDbProxy", "Endpoint"]}), "{function}");
        assert_eq!((env["DB_NAME"].clone(), env["DB_USER"].clone()), (json!("payments"), json!({"Ref": "PaymentsDbUser"})), "{function}");
        assert_eq!(env["PAYMENT_EVENTS_TOPIC_ARN"], json!({"Ref": "PaymentEventsTopic"}));
        let statements = f["Policies"][0]["Statement"].as_array().unwrap();
        let find =
            |action: &str| statements.iter().find(|s| s["Action"] == json!([action])).unwrap_or_else(|| panic!("{function}: {action}"));
        let mut connect = Vec::new();
        strings(&find("rds-db:connect")["Resource"], &mut connect);
        assert!(connect.iter().any(|r| r.ends_with(":dbuser:${ProxyId}/${PaymentsDbUser}")), "{function}: {connect:?}");
        assert_eq!(find("sns:Publish")["Resource"], json!({"Ref": "PaymentEventsTopic"}), "{function}");
        assert_eq!(
            find("secretsmanager:GetSecretValue")["Resource"],
            json!([{"Ref": "StripeSecretKeySecret"}, {"Ref": "StripeWebhookSecret"}]),
            "{function}"
        );
        assert_eq!(f["Policies"][1], json!({"LambdaInvokePolicy": {"FunctionName": {"Ref": "OrdersFunction"}}}), "{function}");
        assert_eq!(f["Policies"].as_array().map(Vec::len), Some(2), "{function}: nothing more");
    }
    // Only the payments subnets route to the internet (through the NAT gateway).
    assert_eq!(props(&t, "PaymentsDefaultRoute")["NatGatewayId"], json!({"Ref": "NatGateway"}));
    assert!(t.resources_of("AWS::EC2::Route").all(|r| r.properties["RouteTableId"] != json!({"Ref": "PrivateRouteTable"})));
    let events = t.functions().into_iter().find(|f| f.logical_id == "PaymentsEventsFunction").unwrap();
    assert!(events.events.iter().any(|e| matches!(e, sam_model::EventSource::Schedule { expression } if expression == "rate(5 minutes)")));
    // The business metrics the functions count are alarmed where the EMF puts them.
    for metric in ["WebhookSignatureFailed", "PaymentFailed", "RefundFailed"] {
        assert!(
            t.resources_of("AWS::CloudWatch::Alarm").any(|a| a.properties["Namespace"] == shop_core::metrics::NAMESPACE
                && a.properties["MetricName"] == metric
                && a.properties["Dimensions"] == json!([{"Name": "service", "Value": "payments"}])),
            "{metric} has an alarm"
        );
    }
}

#[test]
fn every_function_is_traced_and_event_topics_pass_the_trace_on() {
    let t = template();
    assert_eq!(t.root().pointer("/Globals/Function/Tracing"), Some(&json!("Active")), "X-Ray active for every function");
    let functions: Vec<_> = t.resources_of("AWS::Serverless::Function").collect();
    assert!(functions.len() >= 10);
    for f in functions {
        let tracing = f.properties.get("Tracing");
        assert!(tracing.is_none() || tracing == Some(&json!("Active")), "{} turns tracing off", f.logical_id);
    }
    // Topics that fan events out to queues (the alarm topic mails people: nothing to trace).
    for topic in t.resources_of("AWS::SNS::Topic") {
        let mut subscribers = Vec::new();
        for sub in t.resources_of("AWS::SNS::Subscription") {
            let mut refs = Vec::new();
            strings(&sub.properties["TopicArn"], &mut refs);
            if refs.contains(&topic.logical_id) && sub.properties["Protocol"] == "sqs" {
                subscribers.push(sub.logical_id.clone());
            }
        }
        if !subscribers.is_empty() {
            assert_eq!(topic.properties.get("TracingConfig"), Some(&json!("Active")), "{} feeds {subscribers:?}", topic.logical_id);
        }
    }
}
/// The alarms that watch a metric of `namespace`/`metric` with a dimension equal to `value`,
/// whether on the alarm itself or in one of its metric-math inputs.
fn alarms_on<'a>(t: &'a Template, namespace: &str, metric: &str, value: &Value) -> Vec<&'a sam_model::Resource> {
    t.resources_of("AWS::CloudWatch::Alarm")
        .filter(|a| {
            let p = &a.properties;
            let direct = p["Namespace"] == namespace
                && p["MetricName"] == metric
                && p["Dimensions"].as_array().is_some_and(|d| d.iter().any(|d| &d["Value"] == value));
            let mathed = p["Metrics"].as_array().is_some_and(|ms| {
                ms.iter().any(|m| {
                    let m = &m["MetricStat"]["Metric"];
                    m["Namespace"] == namespace
                        && m["MetricName"] == metric
                        && m["Dimensions"].as_array().is_some_and(|d| d.iter().any(|d| &d["Value"] == value))
                })
            });
            direct || mathed
        })
        .collect()
}

/// The logical id a `!Ref X` or `!GetAtt X.Attr` names.
fn named(value: &Value) -> Option<&str> {
    value.get("Ref").and_then(Value::as_str).or_else(|| value.pointer("/Fn::GetAtt/0").and_then(Value::as_str))
}

#[test]
fn every_function_has_a_retained_log_group_request_metrics_and_throttle_and_error_alarms() {
    let t = template();
    let functions: Vec<&sam_model::Resource> = t.resources_of("AWS::Serverless::Function").collect();
    assert!(functions.len() >= 13, "{}", functions.len());
    // HTTP functions: the targets of the API's integrations.
    let http: Vec<&str> = t.resources_of("AWS::ApiGatewayV2::Integration").filter_map(|i| named(&i.properties["IntegrationUri"])).collect();
    assert!(http.contains(&"OrdersFunction") && http.contains(&"AccountsFunction"), "{http:?}");
    let queries: Vec<&sam_model::Resource> = t.resources_of("AWS::Logs::QueryDefinition").collect();
    assert_eq!(queries.len(), 3, "errors by route, slowest routes, one user's requests");
    let dashboard = props(&t, "Dashboard")["DashboardBody"]["Fn::Sub"].as_str().expect("the dashboard body is one !Sub string").to_owned();
    for f in &functions {
        let id = f.logical_id.as_str();
        let function = json!({"Ref": id});
        // Its own log group, retained, and named in every saved query.
        let group = named(&f.properties["LoggingConfig"]["LogGroup"]).unwrap_or_else(|| panic!("{id}: LoggingConfig.LogGroup"));
        let logs = t.resource(group).unwrap_or_else(|| panic!("{id}: {group} is in the template"));
        assert_eq!(logs.kind, "AWS::Logs::LogGroup", "{id}");
        assert_eq!(logs.properties["RetentionInDays"], json!({"Ref": "LogRetentionDays"}), "{id}: {group} is retained");
        for q in &queries {
            assert!(
                q.properties["LogGroupNames"].as_array().is_some_and(|g| g.contains(&json!({"Ref": group}))),
                "{}: covers {group}",
                q.logical_id
            );
        }
        assert!(!alarms_on(&t, "AWS/Lambda", "Throttles", &function).is_empty(), "{id} has a throttle alarm");
        assert!(dashboard.contains(&format!("\"${{{id}}}\"")), "{id} is on the dashboard");
        if http.contains(&id) {
            // Request and 5xx counts from its JSON request lines, and an alarm on their ratio.
            for (metric, pattern) in
                [("Requests", r#"{ $.message = "request" }"#), ("Http5xx", r#"{ $.message = "request" && $.status >= 500 }"#)]
            {
                assert!(
                    t.resources_of("AWS::Logs::MetricFilter").any(|m| {
                        let p = &m.properties;
                        p["LogGroupName"] == json!({"Ref": group})
                            && p["FilterPattern"] == pattern
                            && p["MetricTransformations"][0]["MetricNamespace"] == "Skyshop/Http"
                            && p["MetricTransformations"][0]["MetricName"] == metric
                            && p["MetricTransformations"][0]["Dimensions"] == json!([{"Key": "function", "Value": "$.span.function"}])
                    }),
                    "{id}: a {metric} metric filter on {group}"
                );
            }
            let rate = alarms_on(&t, "Skyshop/Http", "Http5xx", &function);
            assert!(
                rate.iter().any(|a| !alarms_on(&t, "Skyshop/Http", "Requests", &function).is_empty() && a.properties["Metrics"].is_array()),
                "{id} has a 5xx-rate alarm"
            );
        } else {
            assert!(!alarms_on(&t, "AWS/Lambda", "Errors", &function).is_empty(), "{id} has an error alarm");
        }
    }
}

#[test]
fn every_alarm_notifies_the_alarm_topic_and_every_dead_letter_queue_has_a_depth_alarm() {
    let t = template();
    for alarm in t.resources_of("AWS::CloudWatch::Alarm") {
        assert!(
            alarm.properties["AlarmActions"].as_array().is_some_and(|a| a.contains(&json!({"Ref": "AlarmTopic"}))),
            "{} notifies AlarmTopic",
            alarm.logical_id
        );
    }
    assert_eq!(props(&t, "AlarmEmailSubscription")["TopicArn"], json!({"Ref": "AlarmTopic"}));
    // Dead-letter queues: the redrive targets of queues, and the on-failure destinations and
    // dead-letter queues of functions.
    let mut dlqs: Vec<String> = Vec::new();
    let queues: Vec<&sam_model::Resource> = t.resources_of("AWS::SQS::Queue").collect();
    for q in &queues {
        if let Some(target) = named(&q.properties["RedrivePolicy"]["deadLetterTargetArn"]) {
            dlqs.push(target.to_owned());
        }
    }
    for f in t.resources_of("AWS::Serverless::Function") {
        if let Some(target) = named(&f.properties["DeadLetterQueue"]["TargetArn"]) {
            dlqs.push(target.to_owned());
        }
        for event in f.properties["Events"].as_object().into_iter().flat_map(|e| e.values()) {
            if let Some(target) = named(&event["Properties"]["DestinationConfig"]["OnFailure"]["Destination"]) {
                dlqs.push(target.to_owned());
            }
        }
    }
    dlqs.sort();
    dlqs.dedup();
    assert!(dlqs.len() >= 6, "{dlqs:?}");
    let dashboard = props(&t, "Dashboard")["DashboardBody"]["Fn::Sub"].as_str().unwrap_or_default().to_owned();
    for dlq in &dlqs {
        assert_eq!(t.resource(dlq).map(|r| r.kind.as_str()), Some("AWS::SQS::Queue"), "{dlq} is a queue");
        let depth = alarms_on(&t, "AWS/SQS", "ApproximateNumberOfMessagesVisible", &json!({"Fn::GetAtt": [dlq, "QueueName"]}));
        assert!(!depth.is_empty(), "{dlq} has a depth alarm");
        assert!(dashboard.contains(&format!("${{{dlq}.QueueName}}")), "{dlq} is on the dashboard");
    }
    // Every queue is a DLQ or has one.
    for q in &queues {
        assert!(
            dlqs.contains(&q.logical_id) || q.properties["RedrivePolicy"]["deadLetterTargetArn"].is_object(),
            "{} has a DLQ",
            q.logical_id
        );
    }
}

#[test]
fn route_latency_alarms_watch_routes_that_exist_with_detailed_metrics_on() {
    let t = template();
    assert_eq!(props(&t, "ShopApiStage")["DefaultRouteSettings"]["DetailedMetricsEnabled"], true);
    let keys: Vec<String> = t.routes().unwrap().iter().map(sam_model::Route::key).collect();
    let mut watched = 0;
    for alarm in t.resources_of("AWS::CloudWatch::Alarm") {
        let p = &alarm.properties;
        let dims = p["Dimensions"].as_array().cloned().unwrap_or_default();
        let dim = |name: &str| dims.iter().find(|d| d["Name"] == name).and_then(|d| d["Value"].as_str()).map(str::to_owned);
        if p["Namespace"] != "AWS/ApiGateway" {
            continue;
        }
        if let (Some(method), Some(resource)) = (dim("Method"), dim("Resource")) {
            assert!(keys.contains(&format!("{method} {resource}")), "{}: {method} {resource} is a route", alarm.logical_id);
            assert_eq!(p["ExtendedStatistic"], "p99", "{}", alarm.logical_id);
            watched += 1;
        }
    }
    assert!(watched >= 6, "one route of each group: {watched}");
    // The business alarms read what the functions emit.
    for (service, metric) in [("payments", "PaymentFailed"), ("payments", "PaymentSucceeded"), ("notifications", "EmailFailed")] {
        assert!(!alarms_on(&t, shop_core::metrics::NAMESPACE, metric, &json!(service)).is_empty(), "{metric} is alarmed");
    }
}

#[test]
fn health_routes_are_public_on_their_own_function_which_may_invoke_only_the_functions_it_asks() {
    let t = template();
    let routes = t.routes().unwrap();
    for key in ["GET /api/health", "GET /api/health/ready"] {
        let route = routes.iter().find(|r| r.key() == key).unwrap_or_else(|| panic!("{key}"));
        assert!(matches!(route.auth, sam_model::RouteAuth::None), "{key} is public");
        assert_eq!(route.function, "HealthFunction", "{key}");
    }
    let health = props(&t, "HealthFunction");
    let env = &health["Environment"]["Variables"];
    let mut invoked = Vec::new();
    for policy in health["Policies"].as_array().unwrap() {
        if let Some(target) = policy.get("LambdaInvokePolicy") {
            invoked.push(target["FunctionName"]["Ref"].as_str().unwrap().to_owned());
        }
    }
    let asked: Vec<String> = ["ACCOUNTS", "CATALOG", "INVENTORY", "CART", "ORDERS", "PAYMENTS"]
        .iter()
        .map(|s| env[format!("{s}_FUNCTION")]["Ref"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(invoked, asked, "it may invoke exactly the functions it asks");
    // The metric each readiness check counts is alarmed for every service that counts it.
    let alarm = props(&t, "DependencyDownAlarm");
    let services: Vec<&str> = alarm["Metrics"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m.pointer("/MetricStat/Metric"))
        .inspect(|m| {
            assert_eq!((m["Namespace"].as_str(), m["MetricName"].as_str()), (Some(shop_core::metrics::NAMESPACE), Some("DependencyDown")))
        })
        .map(|m| m["Dimensions"][0]["Value"].as_str().unwrap())
        .collect();
    assert_eq!(services, ["accounts", "catalog", "inventory", "cart", "orders", "payments", "health"]);
}

#[test]
fn bounces_and_complaints_of_mail_sent_with_the_configuration_set_reach_mail_feedback() {
    let t = template();
    let notifications = props(&t, "NotificationsFunction");
    assert_eq!(notifications["Environment"]["Variables"]["SES_CONFIGURATION_SET"], json!({"Ref": "MailConfigurationSet"}));
    let destination = &props(&t, "MailFeedbackEventDestination")["EventDestination"];
    assert_eq!(destination["MatchingEventTypes"], json!(["bounce", "complaint"]));
    assert_eq!(destination["SnsDestination"]["TopicARN"], json!({"Ref": "MailFeedbackTopic"}));
    let subscription = props(&t, "MailFeedbackSubscription");
    assert_eq!(
        (subscription["TopicArn"].clone(), subscription["Endpoint"].clone()),
        (json!({"Ref": "MailFeedbackTopic"}), json!({"Fn::GetAtt": ["MailFeedbackQueue", "Arn"]}))
    );
    assert_eq!(props(&t, "MailFeedbackQueue")["RedrivePolicy"]["deadLetterTargetArn"], json!({"Fn::GetAtt": ["MailFeedbackDLQ", "Arn"]}));
    assert!(
        t.resources_of("AWS::CloudWatch::Alarm")
            .any(|a| a.properties["Dimensions"][0]["Value"] == json!({"Fn::GetAtt": ["MailFeedbackDLQ", "QueueName"]}))
    );
    let feedback = t.functions().into_iter().find(|f| f.logical_id == "MailFeedbackFunction").unwrap();
    assert!(feedback.events.iter().any(|e| matches!(e, sam_model::EventSource::Sqs { queue, .. } if queue == "MailFeedbackQueue")));
    // It writes suppressions and nothing else.
    let policies = &props(&t, "MailFeedbackFunction")["Policies"];
    assert_eq!(policies.as_array().map(Vec::len), Some(1));
    assert_eq!(policies[0]["Statement"][0]["Action"], json!(["dynamodb:PutItem"]));
}
