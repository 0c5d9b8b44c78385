//! DynamoDB stream and schedule event sources, delivered as Lambda delivers them.
//!
//! Streams: every shard of the table's stream is read in order (`GetRecords`), records are
//! batched into a `DynamoDBEvent` (`{"Records": [{eventName, dynamodb: {Keys, NewImage,
//! OldImage, SequenceNumber, ...}}]}`) and handed to the function. With
//! `ReportBatchItemFailures` the batch is retried from the first failed sequence number; after
//! `MaximumRetryAttempts` the batch is skipped and, when the mapping has an on-failure
//! destination, a failure record is sent to that queue — as Lambda does. `FilterCriteria`
//! patterns are applied as Lambda applies them: records matching none are not delivered.
//!
//! Schedules: `rate(N unit)` expressions fire an EventBridge "Scheduled Event".

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_dynamodbstreams::types::{AttributeValue, Record, ShardIteratorType};
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::byte_stream::ByteStream;
use base64::Engine;
use serde_json::{Map, Value, json};

use crate::functions::EventHandler;

/// One stream → function mapping.
#[derive(Clone, Debug)]
pub struct StreamSource {
    pub function: String,
    pub stream_arn: String,
    pub batch_size: u32,
    pub report_batch_item_failures: bool,
    /// `TRIM_HORIZON` or `LATEST` (where reading starts on shards that exist at start-up).
    pub starting_position: String,
    pub maximum_retry_attempts: u32,
    /// Queue URL of the on-failure destination.
    pub on_failure_queue: Option<String>,
    pub timeout: Duration,
    /// Parsed `FilterCriteria` patterns ([`parse_filters`]); empty delivers every record.
    pub filters: Vec<Value>,
}

/// Parses `FilterCriteria.Filters[].Pattern` strings, refusing what Lambda would refuse: a
/// pattern must be a JSON object whose leaves are arrays of values or operators.
pub fn parse_filters(patterns: &[String]) -> Result<Vec<Value>, String> {
    fn check(pattern: &Value) -> Result<(), String> {
        let map = pattern.as_object().ok_or("a filter pattern level must be an object")?;
        for (key, value) in map {
            match value {
                Value::Object(_) => check(value)?,
                Value::Array(_) => {}
                _ => return Err(format!("filter pattern field {key:?} must be an object or an array")),
            }
        }
        Ok(())
    }
    patterns
        .iter()
        .map(|p| {
            let pattern: Value = serde_json::from_str(p).map_err(|e| format!("filter pattern {p} is not JSON: {e}"))?;
            check(&pattern)?;
            Ok(pattern)
        })
        .collect()
}

/// Whether `event` matches an event-filtering `pattern` (Lambda's subset of EventBridge
/// patterns): every field of the pattern must match; a leaf array matches when any of its
/// entries does — a literal, or `prefix`, `suffix`, `equals-ignore-case`, `exists`,
/// `anything-but` (literals or a prefix) or `numeric` (DynamoDB `N` strings count as numbers).
pub fn matches_filter(pattern: &Value, event: &Value) -> bool {
    let Some(fields) = pattern.as_object() else { return false };
    fields.iter().all(|(key, expected)| {
        let actual = event.get(key);
        match expected {
            Value::Object(_) => matches_filter(expected, actual.unwrap_or(&Value::Null)),
            Value::Array(rules) => rules.iter().any(|rule| leaf_matches(rule, actual)),
            _ => false,
        }
    })
}

fn leaf_matches(rule: &Value, actual: Option<&Value>) -> bool {
    let values: Vec<&Value> = match actual {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(value) => vec![value],
        None => vec![],
    };
    let Some(operator) = rule.as_object() else { return values.contains(&rule) };
    let Some((name, arg)) = operator.iter().next().filter(|_| operator.len() == 1) else { return false };
    let text = |v: &&Value| v.as_str().map(str::to_owned);
    let number = |v: &Value| v.as_f64().or_else(|| v.as_str().and_then(|s| s.parse().ok()));
    match (name.as_str(), arg) {
        ("exists", Value::Bool(wanted)) => values.is_empty() != *wanted,
        ("prefix", Value::String(p)) => values.iter().filter_map(text).any(|v| v.starts_with(p.as_str())),
        ("suffix", Value::String(p)) => values.iter().filter_map(text).any(|v| v.ends_with(p.as_str())),
        ("equals-ignore-case", Value::String(p)) => values.iter().filter_map(text).any(|v| v.eq_ignore_ascii_case(p)),
        ("anything-but", Value::Object(inner)) => match inner.get("prefix") {
            Some(Value::String(p)) => !values.is_empty() && values.iter().filter_map(text).all(|v| !v.starts_with(p.as_str())),
            _ => false,
        },
        ("anything-but", Value::Array(excluded)) => !values.is_empty() && values.iter().all(|v| !excluded.contains(v)),
        ("anything-but", excluded) => !values.is_empty() && values.iter().all(|v| *v != excluded),
        ("numeric", Value::Array(conditions)) => values.iter().filter_map(|v| number(v)).any(|n| {
            conditions.chunks(2).all(|c| match (c.first().and_then(Value::as_str), c.get(1).and_then(Value::as_f64)) {
                (Some("<"), Some(x)) => n < x,
                (Some("<="), Some(x)) => n <= x,
                (Some("="), Some(x)) => n == x,
                (Some(">"), Some(x)) => n > x,
                (Some(">="), Some(x)) => n >= x,
                _ => false,
            })
        }),
        _ => false,
    }
}

/// A DynamoDB Streams client for DynamoDB Local.
///
/// DynamoDB Local (3.x) writes an empty map attribute into stream records as `{}` instead of
/// `{"M": {}}` (its `GetItem` answers correctly; AWS's streams too). The SDK refuses such a
/// record, so one item with an empty map — a product without `attributes` — would stall its
/// shard for good. This client's connector rewrites those values in `GetRecords` responses
/// before the SDK parses them.
pub fn local_client(sdk: &aws_config::SdkConfig) -> aws_sdk_dynamodbstreams::Client {
    let config =
        aws_sdk_dynamodbstreams::config::Builder::from(sdk).http_client(Intercept { inner: http_client(sdk), call: fix_get_records });
    aws_sdk_dynamodbstreams::Client::from_conf(config.build())
}

/// The configuration's HTTP client, or the SDK's own default when it names none.
fn http_client(sdk: &aws_config::SdkConfig) -> SharedHttpClient {
    sdk.http_client().unwrap_or_else(|| {
        use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
        aws_smithy_http_client::Builder::new().tls_provider(Provider::Rustls(CryptoMode::AwsLc)).build_https()
    })
}

/// Bumped after every DynamoDB write the runner's functions make ([`nudging`]): a stream poller
/// pausing on an idle stream reads again at once (no sooner than [`POLL_EVERY`] after its last
/// read), so a write through the API reaches its consumers as fast as at Lambda's base rate.
static WRITES: std::sync::LazyLock<tokio::sync::watch::Sender<u64>> = std::sync::LazyLock::new(|| tokio::sync::watch::channel(0).0);

/// `sdk` with an HTTP client that tells the stream pollers about every DynamoDB write it makes.
pub fn nudging(sdk: aws_config::SdkConfig) -> aws_config::SdkConfig {
    let inner = http_client(&sdk);
    sdk.into_builder().http_client(Intercept { inner, call: nudge_after_writes }).build()
}

/// An HTTP client whose connectors hand each request to `call` with the connector they wrap.
#[derive(Debug)]
struct Intercept {
    inner: SharedHttpClient,
    call: InterceptFn,
}

type InterceptFn = fn(&SharedHttpConnector, HttpRequest) -> HttpConnectorFuture;

impl HttpClient for Intercept {
    fn http_connector(&self, settings: &HttpConnectorSettings, components: &RuntimeComponents) -> SharedHttpConnector {
        SharedHttpConnector::new(InterceptConnector { inner: self.inner.http_connector(settings, components), call: self.call })
    }
}

#[derive(Debug)]
struct InterceptConnector {
    inner: SharedHttpConnector,
    call: InterceptFn,
}

impl HttpConnector for InterceptConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        (self.call)(&self.inner, request)
    }
}

/// Sends `request`; once a DynamoDB write is answered, bumps [`WRITES`].
fn nudge_after_writes(inner: &SharedHttpConnector, request: HttpRequest) -> HttpConnectorFuture {
    const WRITES_OPS: [&str; 5] = ["PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"];
    let write =
        request.headers().get("x-amz-target").and_then(|t| t.strip_prefix("DynamoDB_20120810.")).is_some_and(|op| WRITES_OPS.contains(&op));
    let response = inner.call(request);
    if !write {
        return response;
    }
    HttpConnectorFuture::new(async move {
        let response = response.await;
        // After the answer: the stream record exists once the write is acknowledged.
        WRITES.send_modify(|n| *n = n.wrapping_add(1));
        response
    })
}

/// Sends `request`; a `GetRecords` answer comes back with its empty maps fixed ([`fix_empty_maps`]).
fn fix_get_records(inner: &SharedHttpConnector, request: HttpRequest) -> HttpConnectorFuture {
    let get_records = request.headers().get("x-amz-target").is_some_and(|t| t.ends_with(".GetRecords"));
    let response = inner.call(request);
    if !get_records {
        return response;
    }
    HttpConnectorFuture::new(async move {
        let mut response = response.await?;
        let body = ByteStream::new(response.take_body()).collect().await.map_err(|e| ConnectorError::io(e.into()))?.into_bytes();
        let fixed = match serde_json::from_slice::<Value>(&body) {
            Ok(mut page) => {
                fix_empty_maps(&mut page);
                serde_json::to_vec(&page).unwrap_or_else(|_| body.to_vec())
            }
            Err(_) => body.to_vec(),
        };
        // The checksum and length were of the original body.
        response.headers_mut().remove("x-amz-crc32");
        response.headers_mut().insert("content-length", fixed.len().to_string());
        *response.body_mut() = SdkBody::from(fixed);
        Ok(response)
    })
}

/// Rewrites `{}` attribute values (DynamoDB Local's empty maps) as `{"M": {}}` in the images of a
/// `GetRecords` response. Public for tests.
pub fn fix_empty_maps(page: &mut Value) {
    fn attribute(value: &mut Value) {
        let Value::Object(map) = value else { return };
        if map.is_empty() {
            *value = json!({ "M": {} });
        } else if let Some(Value::Object(inner)) = map.get_mut("M") {
            inner.values_mut().for_each(attribute);
        } else if let Some(Value::Array(items)) = map.get_mut("L") {
            items.iter_mut().for_each(attribute);
        }
    }
    let Some(records) = page.get_mut("Records").and_then(Value::as_array_mut) else { return };
    for record in records {
        for image in ["Keys", "NewImage", "OldImage"] {
            if let Some(Value::Object(item)) = record.get_mut("dynamodb").and_then(|d| d.get_mut(image)) {
                item.values_mut().for_each(attribute);
            }
        }
    }
}

/// DynamoDB JSON (`{"S": "x"}`) of a stream attribute value.
pub fn attribute_json(value: &AttributeValue) -> Value {
    let b64 = |b: &aws_sdk_dynamodbstreams::primitives::Blob| Value::String(base64::engine::general_purpose::STANDARD.encode(b.as_ref()));
    match value {
        AttributeValue::S(s) => json!({ "S": s }),
        AttributeValue::N(n) => json!({ "N": n }),
        AttributeValue::B(b) => json!({ "B": b64(b) }),
        AttributeValue::Bool(b) => json!({ "BOOL": b }),
        AttributeValue::Null(_) => json!({ "NULL": true }),
        AttributeValue::Ss(v) => json!({ "SS": v }),
        AttributeValue::Ns(v) => json!({ "NS": v }),
        AttributeValue::Bs(v) => json!({ "BS": v.iter().map(b64).collect::<Vec<_>>() }),
        AttributeValue::L(v) => json!({ "L": v.iter().map(attribute_json).collect::<Vec<_>>() }),
        AttributeValue::M(m) => json!({ "M": item_json(m) }),
        _ => Value::Null,
    }
}

fn item_json(item: &std::collections::HashMap<String, AttributeValue>) -> Value {
    Value::Object(item.iter().map(|(k, v)| (k.clone(), attribute_json(v))).collect::<Map<_, _>>())
}

/// The Lambda `DynamoDBEvent` record of a stream record.
pub fn record_json(record: &Record, stream_arn: &str) -> Value {
    let mut dynamodb = Map::new();
    if let Some(s) = record.dynamodb() {
        if let Some(keys) = s.keys() {
            dynamodb.insert("Keys".into(), item_json(keys));
        }
        if let Some(new) = s.new_image() {
            dynamodb.insert("NewImage".into(), item_json(new));
        }
        if let Some(old) = s.old_image() {
            dynamodb.insert("OldImage".into(), item_json(old));
        }
        if let Some(seq) = s.sequence_number() {
            dynamodb.insert("SequenceNumber".into(), json!(seq));
        }
        if let Some(size) = s.size_bytes() {
            dynamodb.insert("SizeBytes".into(), json!(size));
        }
        if let Some(view) = s.stream_view_type() {
            dynamodb.insert("StreamViewType".into(), json!(view.as_str()));
        }
        if let Some(at) = s.approximate_creation_date_time() {
            dynamodb.insert("ApproximateCreationDateTime".into(), json!(at.secs()));
        }
    }
    json!({
        "eventID": record.event_id(),
        "eventName": record.event_name().map(|n| n.as_str()),
        "eventVersion": record.event_version().unwrap_or("1.1"),
        "eventSource": "aws:dynamodb",
        "awsRegion": record.aws_region().unwrap_or("us-east-1"),
        "dynamodb": dynamodb,
        "eventSourceARN": stream_arn,
    })
}

fn sequence(record: &Record) -> String {
    record.dynamodb().and_then(|d| d.sequence_number()).unwrap_or_default().to_owned()
}

/// How often a poller looks for new shards when none of its shards ended.
const DESCRIBE_EVERY: Duration = Duration::from_secs(5);
/// How often a poller reads its shards while they return records (Lambda's base rate for streams).
const POLL_EVERY: Duration = Duration::from_millis(250);
/// The longest pause of a poller whose shards keep coming back empty: the pause doubles from
/// [`POLL_EVERY`] up to this after each empty pass, and drops back at the first record; a write
/// by one of the runner's functions ends the pause ([`nudging`]). Lambda polls at the base rate
/// whatever it finds; here a `GetRecords` costs DynamoDB Local in proportion to what the stream
/// holds (a shard of 10,000 records of 4 KB: 13 ms a read, measured), so an idle stream read four
/// times a second took a third of a core from the search benchmark. Writes from elsewhere (the
/// seed tool, a test's own client) wait for the next read, at most this long.
const IDLE_POLL_MAX: Duration = Duration::from_secs(1);

/// Reads the stream until `stop` resolves (forever in the runner).
pub async fn run(client: aws_sdk_dynamodbstreams::Client, sqs: aws_sdk_sqs::Client, source: StreamSource, handler: EventHandler) {
    // Shard id → next iterator (None once the shard is closed and drained).
    let mut iterators: BTreeMap<String, Option<String>> = BTreeMap::new();
    // DescribeStream only when needed, as Lambda's poller: at start, while no shard is open, when
    // a shard ended (its children are new shards) or lost its iterator, after an error (what
    // changed is not known), and every DESCRIBE_EVERY otherwise. Describing on every pass made
    // DynamoDB Local list every shard of the stream once per read (4 times a second per idle
    // stream, once per batch under load).
    let mut described: Option<tokio::time::Instant> = None;
    let mut rediscover = true;
    let mut pause = POLL_EVERY;
    let mut writes = WRITES.subscribe();
    loop {
        let started = tokio::time::Instant::now();
        // Writes before this read are seen by it.
        writes.borrow_and_update();
        let first = described.is_none();
        let open = iterators.values().any(Option::is_some);
        let due = rediscover || !open || described.is_none_or(|at| at.elapsed() >= DESCRIBE_EVERY);
        let pass = async {
            if due {
                discover_shards(&client, &source, &mut iterators, first).await?;
                described = Some(tokio::time::Instant::now());
            }
            read_shards(&client, &sqs, &source, &handler, &mut iterators).await
        };
        match pass.await {
            Ok(read) => {
                rediscover = read.changed;
                // A shard that ended or lost its iterator is looked at again at the base rate:
                // its records (a new shard's, or those a fresh iterator reads) are still to come.
                pause = if read.records > 0 || read.changed { POLL_EVERY } else { (pause * 2).min(IDLE_POLL_MAX) };
            }
            Err(e) => {
                tracing::warn!(function = %source.function, error = %e, "stream poll failed");
                rediscover = true;
                pause = POLL_EVERY;
            }
        }
        // Lambda polls each shard at a base rate of four times a second, so records written
        // meanwhile arrive together (up to the batch size) instead of one read per record; an
        // idle stream is read less often (IDLE_POLL_MAX) unless a write comes.
        let written = async {
            if writes.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
            tokio::time::sleep_until(started + POLL_EVERY).await;
        };
        tokio::select! {
            () = tokio::time::sleep_until(started + pause) => {}
            () = written => {}
        }
    }
}

/// One pass over every shard: [`discover_shards`], then [`read_shards`]. Public for tests.
pub async fn poll_shards(
    client: &aws_sdk_dynamodbstreams::Client,
    sqs: &aws_sdk_sqs::Client,
    source: &StreamSource,
    handler: &EventHandler,
    iterators: &mut BTreeMap<String, Option<String>>,
    at_start: bool,
) -> Result<usize, String> {
    discover_shards(client, source, iterators, at_start).await?;
    Ok(read_shards(client, sqs, source, handler, iterators).await?.delivered)
}

/// Takes an iterator for each shard of the stream not seen before (`DescribeStream`).
pub async fn discover_shards(
    client: &aws_sdk_dynamodbstreams::Client,
    source: &StreamSource,
    iterators: &mut BTreeMap<String, Option<String>>,
    at_start: bool,
) -> Result<(), String> {
    let description = client.describe_stream().stream_arn(&source.stream_arn).send().await.map_err(|e| format!("{e:?}"))?;
    let shards = description.stream_description().map(|d| d.shards().to_vec()).unwrap_or_default();
    for shard in &shards {
        let Some(id) = shard.shard_id() else { continue };
        if iterators.contains_key(id) {
            continue;
        }
        // Shards present at start-up begin at the mapping's starting position; later ones at their start.
        let kind =
            if at_start && source.starting_position == "LATEST" { ShardIteratorType::Latest } else { ShardIteratorType::TrimHorizon };
        let it = client
            .get_shard_iterator()
            .stream_arn(&source.stream_arn)
            .shard_id(id)
            .shard_iterator_type(kind)
            .send()
            .await
            .map_err(|e| format!("{e:?}"))?;
        iterators.insert(id.to_owned(), it.shard_iterator().map(str::to_owned));
    }
    Ok(())
}

/// What one [`read_shards`] pass found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pass {
    /// Records the shards returned, matching the filters or not.
    pub records: usize,
    /// Records handed to the function.
    pub delivered: usize,
    /// A shard ended or lost its iterator (its children, or a fresh iterator, are then found
    /// by the next [`discover_shards`]).
    pub changed: bool,
}

/// One `GetRecords` on every open shard, the records handed to the function.
pub async fn read_shards(
    client: &aws_sdk_dynamodbstreams::Client,
    sqs: &aws_sdk_sqs::Client,
    source: &StreamSource,
    handler: &EventHandler,
    iterators: &mut BTreeMap<String, Option<String>>,
) -> Result<Pass, String> {
    let mut pass = Pass::default();
    let ids: Vec<String> = iterators.keys().cloned().collect();
    for id in ids {
        let Some(Some(iterator)) = iterators.get(&id).cloned() else { continue };
        let page = match client.get_records().shard_iterator(&iterator).limit(source.batch_size.clamp(1, 1000) as i32).send().await {
            Ok(page) => page,
            Err(err) if err.as_service_error().is_some_and(|e| e.is_trimmed_data_access_exception()) => {
                // DynamoDB Local refuses a TRIM_HORIZON iterator taken on an empty shard once the
                // shard's first records come from a transaction; a fresh one reads them. (In AWS:
                // the records aged out, and the shard's horizon is where reading resumes.)
                tracing::debug!(function = %source.function, shard = %id, "stream iterator refused; taking a new one");
                iterators.remove(&id);
                pass.changed = true;
                continue;
            }
            Err(err) => return Err(format!("{err:?}")),
        };
        pass.records += page.records().len();
        // Records no filter pattern matches are dropped, as Lambda drops them.
        let records: Vec<Record> = page
            .records()
            .iter()
            .filter(|r| source.filters.is_empty() || source.filters.iter().any(|f| matches_filter(f, &record_json(r, &source.stream_arn))))
            .cloned()
            .collect();
        if !records.is_empty() {
            deliver(sqs, source, handler, &records).await;
            pass.delivered += records.len();
        }
        let next = page.next_shard_iterator().map(str::to_owned);
        pass.changed |= next.is_none();
        iterators.insert(id, next);
    }
    Ok(pass)
}

/// Hands `records` to the function with retries; returns when they are processed or skipped.
async fn deliver(sqs: &aws_sdk_sqs::Client, source: &StreamSource, handler: &EventHandler, records: &[Record]) {
    let mut pending: Vec<Record> = records.to_vec();
    let mut attempt = 0;
    while !pending.is_empty() {
        let event = json!({ "Records": pending.iter().map(|r| record_json(r, &source.stream_arn)).collect::<Vec<_>>() });
        let result = tokio::time::timeout(source.timeout, handler(event)).await.unwrap_or_else(|_| Err("function timed out".into()));
        let failed_from = match result {
            Ok(response) if source.report_batch_item_failures => response["batchItemFailures"]
                .as_array()
                .and_then(|f| f.iter().filter_map(|x| x["itemIdentifier"].as_str()).min().map(str::to_owned)),
            Ok(_) => None,
            Err(e) => {
                tracing::error!(function = %source.function, error = %e, "stream batch failed");
                pending.first().map(sequence)
            }
        };
        let Some(from) = failed_from else { return };
        attempt += 1;
        if attempt > source.maximum_retry_attempts {
            tracing::error!(function = %source.function, records = pending.len(), "stream batch skipped after retries");
            if let Some(queue) = &source.on_failure_queue {
                let failure = json!({
                    "requestContext": {"condition": "RetryAttemptsExhausted", "approximateInvokeCount": attempt},
                    "DDBStreamBatchInfo": {
                        "streamArn": source.stream_arn,
                        "startSequenceNumber": pending.first().map(sequence),
                        "endSequenceNumber": pending.last().map(sequence),
                        "batchSize": pending.len(),
                    }
                });
                let _ = sqs.send_message().queue_url(queue).message_body(failure.to_string()).send().await;
            }
            return;
        }
        // Retry from the first failed record (records before it succeeded).
        pending.retain(|r| sequence(r) >= from);
    }
}

/// The period of a `rate(...)` schedule expression.
pub fn rate_period(expression: &str) -> Option<Duration> {
    let inner = expression.strip_prefix("rate(")?.strip_suffix(')')?;
    let (n, unit) = inner.trim().split_once(' ')?;
    let n: u64 = n.parse().ok().filter(|n| *n > 0)?;
    let secs = match unit.trim() {
        "minute" | "minutes" => 60,
        "hour" | "hours" => 3600,
        "day" | "days" => 86_400,
        _ => return None,
    };
    Some(Duration::from_secs(n * secs))
}

/// The EventBridge event a schedule delivers.
pub fn scheduled_event(rule: &str) -> Value {
    let now = time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339).unwrap_or_default();
    json!({
        "version": "0",
        "id": uuid::Uuid::now_v7().to_string(),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": now,
        "region": "us-east-1",
        "resources": [format!("arn:aws:events:us-east-1:123456789012:rule/{rule}")],
        "detail": {}
    })
}

/// Fires `handler` every `period` (first after one period).
pub async fn run_schedule(function: String, rule: String, period: Duration, handler: EventHandler) {
    let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    loop {
        ticker.tick().await;
        if let Err(e) = handler(scheduled_event(&rule)).await {
            tracing::error!(function = %function, error = %e, "scheduled invocation failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_expressions() {
        assert_eq!(rate_period("rate(1 minute)"), Some(Duration::from_secs(60)));
        assert_eq!(rate_period("rate(5 minutes)"), Some(Duration::from_secs(300)));
        assert_eq!(rate_period("rate(2 hours)"), Some(Duration::from_secs(7200)));
        assert_eq!(rate_period("rate(0 minutes)"), None);
        assert_eq!(rate_period("cron(0 12 * * ? *)"), None);
    }

    #[test]
    fn filter_patterns_match_as_lambda_event_filtering() {
        let products =
            parse_filters(&[r#"{"dynamodb": {"Keys": {"pk": {"S": [{"prefix": "PRODUCT#"}]}, "sk": {"S": ["PRODUCT"]}}}}"#.into()])
                .unwrap();
        let record = |pk: &str, sk: &str| json!({"eventName": "INSERT", "dynamodb": {"Keys": {"pk": {"S": pk}, "sk": {"S": sk}}}});
        assert!(matches_filter(&products[0], &record("PRODUCT#1", "PRODUCT")));
        assert!(!matches_filter(&products[0], &record("PRODUCT#1", "GUARD")));
        assert!(!matches_filter(&products[0], &record("CATEGORY#1", "CATEGORY")));
        assert!(!matches_filter(&products[0], &json!({"eventName": "INSERT"})), "a missing field does not match");

        let [events, price, no_image, not_removed] = [
            r#"{"eventName": ["INSERT", "MODIFY"]}"#,
            r#"{"dynamodb": {"NewImage": {"price": {"N": [{"numeric": [">", 100, "<=", 500]}]}}}}"#,
            r#"{"dynamodb": {"NewImage": [{"exists": false}]}}"#,
            r#"{"eventName": [{"anything-but": ["REMOVE"]}]}"#,
        ]
        .map(|p| parse_filters(&[p.to_owned()]).unwrap().remove(0));
        let modify = json!({"eventName": "MODIFY", "dynamodb": {"NewImage": {"price": {"N": "250"}}}});
        let remove = json!({"eventName": "REMOVE", "dynamodb": {"OldImage": {"price": {"N": "50"}}}});
        assert!(matches_filter(&events, &modify) && !matches_filter(&events, &remove));
        assert!(matches_filter(&price, &modify) && !matches_filter(&price, &remove));
        assert!(!matches_filter(&no_image, &modify) && matches_filter(&no_image, &remove));
        assert!(matches_filter(&not_removed, &modify) && !matches_filter(&not_removed, &remove));

        assert!(parse_filters(&["not json".into()]).is_err());
        assert!(parse_filters(&[r#"{"eventName": "INSERT"}"#.into()]).is_err(), "leaves must be arrays");
    }

    #[test]
    fn empty_maps_of_dynamodb_local_are_repaired() {
        let mut page = json!({"Records": [{"dynamodb": {
            "Keys": {"pk": {"S": "a"}},
            "NewImage": {"pk": {"S": "a"}, "attributes": {}, "nested": {"M": {"x": {}, "l": {"L": [{}, {"S": "y"}]}}}},
            "OldImage": {"attributes": {"M": {}}}
        }}], "NextShardIterator": "it"});
        fix_empty_maps(&mut page);
        assert_eq!(
            page,
            json!({"Records": [{"dynamodb": {
                "Keys": {"pk": {"S": "a"}},
                "NewImage": {"pk": {"S": "a"}, "attributes": {"M": {}}, "nested": {"M": {"x": {"M": {}}, "l": {"L": [{"M": {}}, {"S": "y"}]}}}},
                "OldImage": {"attributes": {"M": {}}}
            }}], "NextShardIterator": "it"})
        );
    }

    #[test]
    fn scheduled_events_look_like_eventbridge() {
        let e = scheduled_event("expire");
        assert_eq!(e["detail-type"], "Scheduled Event");
        assert_eq!(e["source"], "aws.events");
    }
}
