//! Provisions the template's resources on the local stand-ins (DynamoDB Local, moto).
//!
//! Tables are created from their `AWS::DynamoDB::Table` properties (keys, GSIs, streams, TTL),
//! queues from `AWS::SQS::Queue` (with their redrive policies), topics from `AWS::SNS::Topic`
//! and their `sqs` subscriptions from `AWS::SNS::Subscription` (raw delivery, filter policy),
//! secrets and SES identities from theirs; a function with a `DB_NAME` gets a database on the
//! machine's PostgreSQL ([`provision_databases`]). Every create is idempotent. Resources whose `Condition` is false (with the local
//! parameters) are not created, as in CloudFormation. The returned [`Resolver`] knows each
//! resource's local `Ref` value and attributes, so function environments resolve exactly as
//! CloudFormation would.

use std::time::Duration;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection, ProjectionType, ScalarAttributeType,
    StreamSpecification, StreamViewType, TimeToLiveSpecification,
};
use aws_sdk_sqs::types::QueueAttributeName;
use serde_json::Value;

use crate::{Resolver, Resource, Template};

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Local physical names: tables and queues are named after their logical id plus `suffix`.
#[derive(Debug, Clone)]
pub struct Naming {
    pub suffix: String,
}

impl Naming {
    pub fn name(&self, logical_id: &str) -> String {
        format!("{logical_id}{}", self.suffix)
    }

    /// Bucket names are lower-case; the suffix keeps tests apart.
    pub fn bucket(&self, logical_id: &str) -> String {
        self.name(logical_id).to_lowercase().replace('_', "-")
    }
}

fn text(v: Option<&Value>) -> String {
    v.and_then(Value::as_str).unwrap_or_default().to_owned()
}

fn key_schema(v: Option<&Value>) -> Result<Vec<KeySchemaElement>, BoxError> {
    let mut out = Vec::new();
    for k in v.and_then(Value::as_array).cloned().unwrap_or_default() {
        out.push(
            KeySchemaElement::builder()
                .attribute_name(text(k.get("AttributeName")))
                .key_type(KeyType::from(text(k.get("KeyType")).as_str()))
                .build()?,
        );
    }
    Ok(out)
}

/// Creates the table `name` from the template resource `table` (no-op if it exists).
/// Returns the stream ARN when the table has a stream.
pub async fn create_table(client: &aws_sdk_dynamodb::Client, table: &Resource, name: &str) -> Result<Option<String>, BoxError> {
    let p = &table.properties;
    if let Ok(existing) = client.describe_table().table_name(name).send().await {
        return Ok(existing.table().and_then(|t| t.latest_stream_arn()).map(str::to_owned));
    }
    let mut request = client.create_table().table_name(name).billing_mode(BillingMode::PayPerRequest);
    for a in p.get("AttributeDefinitions").and_then(Value::as_array).cloned().unwrap_or_default() {
        request = request.attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(text(a.get("AttributeName")))
                .attribute_type(ScalarAttributeType::from(text(a.get("AttributeType")).as_str()))
                .build()?,
        );
    }
    request = request.set_key_schema(Some(key_schema(p.get("KeySchema"))?));
    for g in p.get("GlobalSecondaryIndexes").and_then(Value::as_array).cloned().unwrap_or_default() {
        let projection_type = g.pointer("/Projection/ProjectionType").and_then(Value::as_str).unwrap_or("ALL");
        let mut projection = Projection::builder().projection_type(ProjectionType::from(projection_type));
        for attr in g.pointer("/Projection/NonKeyAttributes").and_then(Value::as_array).cloned().unwrap_or_default() {
            projection = projection.non_key_attributes(attr.as_str().unwrap_or_default());
        }
        request = request.global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(text(g.get("IndexName")))
                .set_key_schema(Some(key_schema(g.get("KeySchema"))?))
                .projection(projection.build())
                .build()?,
        );
    }
    if let Some(view) = p.pointer("/StreamSpecification/StreamViewType").and_then(Value::as_str) {
        request = request.stream_specification(
            StreamSpecification::builder().stream_enabled(true).stream_view_type(StreamViewType::from(view)).build()?,
        );
    }
    let created = match request.send().await {
        Ok(out) => out.table_description().and_then(|t| t.latest_stream_arn()).map(str::to_owned),
        Err(err) => {
            // Lost a race with another creator: fine if it exists now.
            let existing = client.describe_table().table_name(name).send().await.map_err(|_| err)?;
            return Ok(existing.table().and_then(|t| t.latest_stream_arn()).map(str::to_owned));
        }
    };
    if let Some(attr) = p.pointer("/TimeToLiveSpecification/AttributeName").and_then(Value::as_str) {
        let enabled = p.pointer("/TimeToLiveSpecification/Enabled").and_then(Value::as_bool).unwrap_or(true);
        client
            .update_time_to_live()
            .table_name(name)
            .time_to_live_specification(TimeToLiveSpecification::builder().attribute_name(attr).enabled(enabled).build()?)
            .send()
            .await?;
    }
    Ok(created)
}

/// Creates the queue `name` from the template resource (no-op if it exists). `dlq_arn` is the
/// already-created dead-letter queue when the template declares a redrive policy.
pub async fn create_queue(
    client: &aws_sdk_sqs::Client,
    queue: &Resource,
    name: &str,
    dlq_arn: Option<&str>,
) -> Result<(String, String), BoxError> {
    let p = &queue.properties;
    let mut request = client.create_queue().queue_name(name);
    if let Some(v) = p.get("VisibilityTimeout").and_then(Value::as_u64) {
        request = request.attributes(QueueAttributeName::VisibilityTimeout, v.to_string());
    }
    if let Some(v) = p.get("MessageRetentionPeriod").and_then(Value::as_u64) {
        request = request.attributes(QueueAttributeName::MessageRetentionPeriod, v.to_string());
    }
    if let (Some(arn), Some(redrive)) = (dlq_arn, p.get("RedrivePolicy")) {
        let max = redrive.get("maxReceiveCount").and_then(Value::as_u64).unwrap_or(5);
        let policy = serde_json::json!({"deadLetterTargetArn": arn, "maxReceiveCount": max.to_string()});
        request = request.attributes(QueueAttributeName::RedrivePolicy, policy.to_string());
    }
    let url = request.send().await?.queue_url.unwrap_or_default();
    let attrs = client.get_queue_attributes().queue_url(&url).attribute_names(QueueAttributeName::QueueArn).send().await?;
    let arn = attrs.attributes().and_then(|a| a.get(&QueueAttributeName::QueueArn)).cloned().unwrap_or_default();
    Ok((url, arn))
}

/// An S3 client; path-style addressing when an endpoint override points at a local stand-in.
pub fn s3_client(sdk: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    let local = std::env::var("AWS_ENDPOINT_URL_S3").is_ok() || std::env::var("AWS_ENDPOINT_URL").is_ok();
    aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(sdk).force_path_style(local).build())
}

/// Creates the bucket `name` from the template resource (no-op if it exists), with its CORS rules.
pub async fn create_bucket(client: &aws_sdk_s3::Client, bucket: &Resource, name: &str) -> Result<(), BoxError> {
    use aws_sdk_s3::types::{CorsConfiguration, CorsRule};
    if client.head_bucket().bucket(name).send().await.is_err() {
        client.create_bucket().bucket(name).send().await?;
    }
    if let Some(rules) = bucket.properties.pointer("/CorsConfiguration/CorsRules").and_then(Value::as_array) {
        let strings = |v: Option<&Value>| {
            v.and_then(Value::as_array)
                .map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_owned)).collect::<Vec<_>>())
                .unwrap_or_default()
        };
        let mut cors = CorsConfiguration::builder();
        for rule in rules {
            let origins = strings(rule.get("AllowedOrigins"));
            cors = cors.cors_rules(
                CorsRule::builder()
                    .set_allowed_methods(Some(strings(rule.get("AllowedMethods"))))
                    .set_allowed_origins(Some(if origins.is_empty() { vec!["*".into()] } else { origins }))
                    .set_allowed_headers(Some(strings(rule.get("AllowedHeaders"))))
                    .set_max_age_seconds(rule.get("MaxAge").and_then(Value::as_i64).map(|v| v as i32))
                    .build()?,
            );
        }
        client.put_bucket_cors().bucket(name).cors_configuration(cors.build()?).send().await?;
    }
    Ok(())
}

/// Creates the topic `name` (no-op if it exists: SNS answers with the existing one); returns
/// its ARN. Encryption settings are AWS's business and ignored here.
pub async fn create_topic(client: &aws_sdk_sns::Client, name: &str) -> Result<String, BoxError> {
    Ok(client.create_topic().name(name).send().await?.topic_arn.unwrap_or_default())
}

/// The attributes of an `AWS::SNS::Subscription` that change delivery, as SNS takes them:
/// `RawMessageDelivery` (`"true"`/`"false"`), `FilterPolicy` (JSON text), `FilterPolicyScope`,
/// `RedrivePolicy` (JSON text). `properties` are resolved already.
pub fn subscription_attributes(properties: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if let Some(raw) = properties.get("RawMessageDelivery") {
        let raw = match raw {
            Value::Bool(b) => *b,
            Value::String(s) => s.eq_ignore_ascii_case("true"),
            _ => false,
        };
        out.push(("RawMessageDelivery".to_owned(), raw.to_string()));
    }
    for name in ["FilterPolicy", "RedrivePolicy"] {
        match properties.get(name) {
            Some(Value::String(text)) => out.push((name.to_owned(), text.clone())),
            Some(policy @ Value::Object(_)) => out.push((name.to_owned(), policy.to_string())),
            _ => {}
        }
    }
    if let Some(scope) = properties.get("FilterPolicyScope").and_then(Value::as_str) {
        out.push(("FilterPolicyScope".to_owned(), scope.to_owned()));
    }
    out
}

/// Subscribes `endpoint` (a queue ARN for protocol `sqs`) to `topic_arn` with `attributes`, or
/// brings an existing subscription of that endpoint up to date; returns the subscription ARN.
pub async fn subscribe(
    client: &aws_sdk_sns::Client,
    topic_arn: &str,
    protocol: &str,
    endpoint: &str,
    attributes: &[(String, String)],
) -> Result<String, BoxError> {
    let mut next = None;
    loop {
        let page = client.list_subscriptions_by_topic().topic_arn(topic_arn).set_next_token(next.take()).send().await?;
        for existing in page.subscriptions() {
            if existing.protocol() == Some(protocol) && existing.endpoint() == Some(endpoint) {
                let arn = existing.subscription_arn().unwrap_or_default().to_owned();
                for (name, value) in attributes {
                    client.set_subscription_attributes().subscription_arn(&arn).attribute_name(name).attribute_value(value).send().await?;
                }
                return Ok(arn);
            }
        }
        match page.next_token() {
            Some(token) if !token.is_empty() => next = Some(token.to_owned()),
            _ => break,
        }
    }
    let mut request = client.subscribe().topic_arn(topic_arn).protocol(protocol).endpoint(endpoint).return_subscription_arn(true);
    for (name, value) in attributes {
        request = request.attributes(name, value);
    }
    Ok(request.send().await?.subscription_arn.unwrap_or_default())
}

/// Everything the local cloud created, as a resolver for function environments.
#[derive(Debug, Clone)]
pub struct Provisioned {
    pub resolver: Resolver,
    /// Table logical id → stream ARN, for tables with streams.
    pub streams: Vec<(String, String)>,
    /// Queue logical id → URL.
    pub queues: Vec<(String, String)>,
    /// Topic logical id → ARN.
    pub topics: Vec<(String, String)>,
    /// Subscription logical id → subscription ARN (protocol `sqs` only).
    pub subscriptions: Vec<(String, String)>,
}

/// Creates every table, queue, topic (with its `sqs` subscriptions), bucket, secret and SES
/// identity of the template. Databases are separate: [`provision_databases`].
pub async fn provision(
    template: &Template,
    sdk: &aws_config::SdkConfig,
    naming: &Naming,
    overrides: &[(String, String)],
) -> Result<Provisioned, BoxError> {
    let mut resolver = Resolver::new(template);
    for (k, v) in overrides {
        resolver.parameters.insert(k.clone(), v.clone());
    }
    let region = resolver.parameters.get("AWS::Region").cloned().unwrap_or_default();
    let account = resolver.parameters.get("AWS::AccountId").cloned().unwrap_or_default();

    // Conditions depend on parameters only, which are all known now.
    let conditions = resolver.clone();
    let created = |r: &&Resource| r.condition.as_deref().is_none_or(|c| conditions.condition(c));
    let ddb = aws_sdk_dynamodb::Client::new(sdk);
    let mut streams = Vec::new();
    let tables: Vec<&Resource> = template.resources_of("AWS::DynamoDB::Table").filter(created).collect();
    for table in tables {
        let name = naming.name(&table.logical_id);
        let stream = retry(|| create_table(&ddb, table, &name)).await?;
        resolver.refs.insert(table.logical_id.clone(), name.clone());
        resolver.attributes.insert((table.logical_id.clone(), "Arn".into()), format!("arn:aws:dynamodb:{region}:{account}:table/{name}"));
        if let Some(arn) = stream {
            resolver.attributes.insert((table.logical_id.clone(), "StreamArn".into()), arn.clone());
            streams.push((table.logical_id.clone(), arn));
        }
    }

    let sqs = aws_sdk_sqs::Client::new(sdk);
    let mut queues = Vec::new();
    let mut pending: Vec<&Resource> = template.resources_of("AWS::SQS::Queue").filter(created).collect();
    // Dead-letter queues first: a queue is created once its redrive target exists.
    while !pending.is_empty() {
        let before = pending.len();
        let mut next = Vec::new();
        for queue in pending {
            let dlq = queue
                .properties
                .get("RedrivePolicy")
                .and_then(|r| r.get("deadLetterTargetArn"))
                .and_then(|d| crate::referenced_ids(d).into_iter().next());
            let dlq_arn = match &dlq {
                Some(id) => match resolver.attributes.get(&(id.clone(), "Arn".into())) {
                    Some(arn) => Some(arn.clone()),
                    None => {
                        next.push(queue);
                        continue;
                    }
                },
                None => None,
            };
            let name = naming.name(&queue.logical_id);
            let (url, arn) = create_queue(&sqs, queue, &name, dlq_arn.as_deref()).await?;
            resolver.refs.insert(queue.logical_id.clone(), url.clone());
            resolver.attributes.insert((queue.logical_id.clone(), "Arn".into()), arn);
            resolver.attributes.insert((queue.logical_id.clone(), "QueueName".into()), name);
            resolver.attributes.insert((queue.logical_id.clone(), "QueueUrl".into()), url.clone());
            queues.push((queue.logical_id.clone(), url));
        }
        if next.len() == before {
            return Err("queues with unresolvable redrive targets".into());
        }
        pending = next;
    }

    // Topics, then their subscriptions (which name topics and queues by `Ref`/`GetAtt`). Only
    // `sqs` subscriptions are made locally: the fan-out to queues is what the functions see;
    // email subscriptions (the alarm topic's) have nobody to deliver to here.
    let sns = aws_sdk_sns::Client::new(sdk);
    let mut topics = Vec::new();
    let topic_resources: Vec<&Resource> = template.resources_of("AWS::SNS::Topic").filter(created).collect();
    for topic in topic_resources {
        let name = naming.name(&topic.logical_id);
        let arn = create_topic(&sns, &name).await?;
        resolver.refs.insert(topic.logical_id.clone(), arn.clone());
        resolver.attributes.insert((topic.logical_id.clone(), "TopicArn".into()), arn.clone());
        resolver.attributes.insert((topic.logical_id.clone(), "TopicName".into()), name);
        topics.push((topic.logical_id.clone(), arn));
    }
    let mut subscriptions = Vec::new();
    let subscription_resources: Vec<&Resource> = template.resources_of("AWS::SNS::Subscription").filter(created).collect();
    for subscription in subscription_resources {
        let p = resolver.resolve(&subscription.properties);
        let (topic_arn, protocol, endpoint) = (text(p.get("TopicArn")), text(p.get("Protocol")), text(p.get("Endpoint")));
        if protocol != "sqs" {
            continue;
        }
        if topic_arn.is_empty() || endpoint.is_empty() {
            return Err(format!("{}: topic or queue not created locally", subscription.logical_id).into());
        }
        let arn = subscribe(&sns, &topic_arn, &protocol, &endpoint, &subscription_attributes(&p)).await?;
        resolver.refs.insert(subscription.logical_id.clone(), arn.clone());
        subscriptions.push((subscription.logical_id.clone(), arn));
    }

    let s3 = s3_client(sdk);
    let buckets: Vec<&Resource> = template.resources_of("AWS::S3::Bucket").filter(created).collect();
    for bucket in buckets {
        let name = naming.bucket(&bucket.logical_id);
        // Intrinsics in the bucket's properties (CORS origins) resolve against local values.
        let resolved = Resource { properties: resolver.resolve(&bucket.properties), ..bucket.clone() };
        create_bucket(&s3, &resolved, &name).await?;
        resolver.refs.insert(bucket.logical_id.clone(), name.clone());
        resolver.attributes.insert((bucket.logical_id.clone(), "Arn".into()), format!("arn:aws:s3:::{name}"));
        let endpoint = std::env::var("AWS_ENDPOINT_URL_S3").unwrap_or_else(|_| "https://s3.amazonaws.com".into());
        resolver.attributes.insert(
            (bucket.logical_id.clone(), "DomainName".into()),
            format!("{}/{name}", endpoint.trim_end_matches('/').trim_start_matches("http://").trim_start_matches("https://")),
        );
        resolver.attributes.insert(
            (bucket.logical_id.clone(), "RegionalDomainName".into()),
            format!("{}/{name}", endpoint.trim_end_matches('/').trim_start_matches("http://").trim_start_matches("https://")),
        );
    }

    let secrets = aws_sdk_secretsmanager::Client::new(sdk);
    let secret_resources: Vec<&Resource> = template.resources_of("AWS::SecretsManager::Secret").filter(created).collect();
    for secret in secret_resources {
        let name = resolver.resolve_string(secret.properties.get("Name").unwrap_or(&Value::Null));
        let name = naming.name(if name.is_empty() { &secret.logical_id } else { &name });
        let arn = match secrets.describe_secret().secret_id(&name).send().await {
            Ok(found) => found.arn().unwrap_or_default().to_owned(),
            Err(_) => {
                let request = secrets.create_secret().name(&name);
                let request = match initial_secret_value(&resolver.resolve(&secret.properties)) {
                    Some(value) => request.secret_string(value),
                    // No value from the template (it is filled later, e.g. the signing keys).
                    None => request,
                };
                request.send().await?.arn().unwrap_or_default().to_owned()
            }
        };
        resolver.refs.insert(secret.logical_id.clone(), arn);
    }

    let ses = aws_sdk_sesv2::Client::new(sdk);
    let identities: Vec<&Resource> = template.resources_of("AWS::SES::EmailIdentity").filter(created).collect();
    for identity in identities {
        let email = resolver.resolve_string(identity.properties.get("EmailIdentity").unwrap_or(&Value::Null));
        if ses.get_email_identity().email_identity(&email).send().await.is_err() {
            ses.create_email_identity().email_identity(&email).send().await?;
        }
        resolver.refs.insert(identity.logical_id.clone(), email);
    }

    // Function names carry the suffix too: internal clients find in-process functions by the
    // name `!Ref` gives them, and several local clouds may share one process (tests).
    for function in template.functions() {
        let name = naming.name(&function.logical_id);
        resolver
            .attributes
            .insert((function.logical_id.clone(), "Arn".into()), format!("arn:aws:lambda:{region}:{account}:function:{name}"));
        resolver.refs.insert(function.logical_id.clone(), name);
    }
    resolver.refs.insert("ShopApi".into(), "local".into());
    Ok(Provisioned { resolver, streams, queues, topics, subscriptions })
}

/// Creates the local database of every function that owns one (a `DB_NAME` in its template
/// environment; see [`crate::postgres`]) on the PostgreSQL server `base_url`, when missing.
/// Returns function logical id → `DATABASE_URL`. Functions sharing a `DB_NAME` (orders and
/// orders-events) share the database, as they share it in AWS.
pub async fn provision_databases(
    template: &Template,
    naming: &Naming,
    base_url: &str,
) -> Result<std::collections::BTreeMap<String, String>, BoxError> {
    let mut created = std::collections::BTreeMap::<String, String>::new();
    let mut out = std::collections::BTreeMap::new();
    for function in template.functions() {
        let Some(db_name) = function.db_name() else { continue };
        let name = crate::postgres::database_name(db_name, &naming.suffix)?;
        let url = match created.get(&name) {
            Some(url) => url.clone(),
            None => {
                let url = crate::postgres::ensure_database(base_url, &name).await.map_err(|e| format!("{}: {e}", function.logical_id))?;
                created.insert(name, url.clone());
                url
            }
        };
        out.insert(function.logical_id.clone(), url);
    }
    Ok(out)
}

/// Connections of each local function's pool: the runner's process stands for many sandboxes.
pub const LOCAL_POOL_SIZE: u32 = 16;

/// Points a function's resolved environment at its local database: sets `DATABASE_URL` (and a
/// `DB_POOL_SIZE` of [`LOCAL_POOL_SIZE`]) and
/// removes what addresses RDS (`DB_HOST`, `DB_USER`: the proxy and the IAM login), so the
/// function's configuration takes the URL. `DB_NAME` and `DB_PORT` stay (harmless, and the
/// name tells which database it is).
pub fn use_local_database(environment: &mut std::collections::BTreeMap<String, String>, database_url: &str) {
    environment.insert("DATABASE_URL".to_owned(), database_url.to_owned());
    // One process serves what would be many Lambda sandboxes (each with its own small pool).
    environment.entry("DB_POOL_SIZE".to_owned()).or_insert_with(|| LOCAL_POOL_SIZE.to_string());
    environment.remove("DB_HOST");
    environment.remove("DB_USER");
}

/// The value a secret is created with: its `SecretString`, or one made the way
/// `GenerateSecretString` describes (random letters and digits, of `PasswordLength`, 32 by
/// default, under `GenerateStringKey` of `SecretStringTemplate` when both are given); `None`
/// when the template gives it no value.
pub fn initial_secret_value(properties: &Value) -> Option<String> {
    if let Some(value) = properties.get("SecretString").and_then(Value::as_str) {
        return Some(value.to_owned());
    }
    let generate = properties.get("GenerateSecretString")?;
    let length = generate.get("PasswordLength").and_then(Value::as_u64).unwrap_or(32) as usize;
    let mut password = String::new();
    while password.len() < length {
        password.push_str(&uuid::Uuid::new_v4().simple().to_string());
    }
    password.truncate(length);
    let template = generate.get("SecretStringTemplate").and_then(Value::as_str);
    let key = generate.get("GenerateStringKey").and_then(Value::as_str);
    match (template.and_then(|t| serde_json::from_str::<serde_json::Map<String, Value>>(t).ok()), key) {
        (Some(mut object), Some(key)) => {
            object.insert(key.to_owned(), Value::String(password));
            Some(Value::Object(object).to_string())
        }
        _ => Some(password),
    }
}

/// DynamoDB Local occasionally refuses the first request while it warms up.
async fn retry<T, F, Fut>(mut f: F) -> Result<T, BoxError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, BoxError>>,
{
    let mut attempt = 0;
    loop {
        match f().await {
            Ok(v) => return Ok(v),
            Err(e) if attempt < 3 => {
                attempt += 1;
                tracing::warn!(error = %e, attempt, "retrying");
                tokio::time::sleep(Duration::from_millis(200 * attempt)).await;
            }
            Err(e) => return Err(e),
        }
    }
}
