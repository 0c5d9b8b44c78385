//! OpenSearch implementation of [`SearchEngine`] (AWS). Five requests are all it sends (index
//! exists / create, bulk, search, count), so it speaks HTTP itself — hyper's client over rustls
//! with the system's roots, the stack the AWS SDK already links — and signs every request with
//! SigV4 (`aws-sigv4`, service `es`), instead of carrying the `opensearch` crate and reqwest (a
//! second HTTP and TLS stack in every catalog zip).
//!
//! The request bodies and the response parsing are plain functions ([`index_definition`],
//! [`search_body`], [`parse_search_response`], [`bulk_failures`]) so they are tested without a
//! cluster (against response bodies published from real clusters, see
//! `tests/fixtures/opensearch/SOURCES.md`). Semantics match the tantivy engine:
//! - per query word a `multi_match` on `name^3, brand.text^2, tags.text^1.5, description` with
//!   `fuzziness: "AUTO:4,8"` (0 edits ≤ 3 chars, 1 for 4–7, 2 for ≥ 8; transpositions cost 1),
//!   all words required (AND across words, OR across fields); an exact `multi_match` and a
//!   `bool_prefix` one as `should` clauses rank exact and prefix matches above fuzzy ones;
//! - filters in `bool.filter` (no effect on scores); brand and tags are `keyword`s with a lowercase
//!   normalizer and the values are lowercased here too;
//! - facets are `terms`/`range` aggregations over all matches; `track_total_hits: true`; a response
//!   that timed out or missed shards is an error, since its total and facets would not cover all
//!   matches;
//! - [`ProductDoc::source`] is kept as a string in `product`, an `enabled: false` object field
//!   (stored in `_source`, never parsed or indexed), and a search fetches only that field of
//!   `_source`, so [`Hit::source`] is the indexed text byte for byte;
//! - writes use the bulk API with `refresh=wait_for`, so they are searchable when the call returns,
//!   in requests of at most [`MAX_BULK_DOCS`] documents and about [`MAX_BULK_BYTES`]; every failed
//!   item is reported (a `delete` of a missing id is not a failure).

use std::time::Duration;

use bytes::Bytes;
use http::{Method, StatusCode, Uri};
use http_body_util::Full;
use serde_json::{Value, json};
use shop_aws::signed::{HttpsClient, Signer};
use uuid::Uuid;

use crate::{
    BoxFuture, Facet, Facets, Hit, PRICE_BAND_BOUNDS, ProductDoc, SearchEngine, SearchError, SearchQuery, SearchResults, Sort, price_bands,
};

/// Largest number of distinct brands / categories returned as facets.
const FACET_SIZE: u32 = 100;
/// Most documents (actions) in one bulk request.
pub const MAX_BULK_DOCS: usize = 1_000;
/// Soft limit on the body of one bulk request; a single larger document is sent alone.
pub const MAX_BULK_BYTES: usize = 5 * 1024 * 1024;
/// Failed bulk items named in an error message (all are counted and logged).
const MAX_REPORTED_FAILURES: usize = 5;
const MAX_QUERY_WORDS: usize = 10;

/// The X-Ray operation name of a request to the index (the subsegment of `shop_aws::signed`).
fn operation(method: &Method, path: &str) -> &'static str {
    let last = path.rsplit('/').next().unwrap_or("");
    match (method, last) {
        (_, "_bulk") => "Bulk",
        (_, "_search") => "Search",
        (_, "_count") => "Count",
        (&Method::HEAD, _) => "IndexExists",
        (&Method::PUT, _) if path.matches('/').count() == 1 => "CreateIndex",
        (&Method::GET, _) => "Get",
        (&Method::DELETE, _) => "Delete",
        _ => "Request",
    }
}

fn engine_err(e: impl std::fmt::Display) -> SearchError {
    SearchError::Engine(e.to_string())
}

/// Settings and mappings of the products index.
pub fn index_definition() -> Value {
    json!({
        "settings": {
            "index": { "refresh_interval": "1s" },
            "analysis": {
                "analyzer": {
                    "product_analyzer": { "type": "custom", "tokenizer": "standard", "filter": ["lowercase", "asciifolding"] }
                },
                "normalizer": {
                    "lowercase_ascii": { "type": "custom", "filter": ["lowercase", "asciifolding"] }
                }
            }
        },
        "mappings": {
            "dynamic": "strict",
            "properties": {
                "name": { "type": "text", "analyzer": "product_analyzer",
                          "fields": { "sort": { "type": "keyword", "normalizer": "lowercase_ascii" } } },
                "description": { "type": "text", "analyzer": "product_analyzer" },
                "brand": { "type": "keyword",
                           "fields": { "kw": { "type": "keyword", "normalizer": "lowercase_ascii" },
                                       "text": { "type": "text", "analyzer": "product_analyzer" } } },
                "category_id": { "type": "keyword" },
                "category_path": { "type": "keyword" },
                "tags": { "type": "keyword", "normalizer": "lowercase_ascii",
                          "fields": { "text": { "type": "text", "analyzer": "product_analyzer" } } },
                "price_cents": { "type": "long" },
                "rating": { "type": "double" },
                "created_at": { "type": "date", "format": "epoch_millis" },
                "is_active": { "type": "boolean" },
                "is_featured": { "type": "boolean" },
                "in_stock": { "type": "boolean" },
                "seller_id": { "type": "keyword" },
                "product": { "type": "object", "enabled": false }
            }
        }
    })
}

/// The indexed `_source` of a product (its id is the document `_id`). [`ProductDoc::source`] goes
/// into `product` as a string: an `enabled: false` field accepts any JSON value without parsing it,
/// and a string comes back unchanged (key order and whitespace included).
pub fn source(doc: &ProductDoc) -> Value {
    let mut path: Vec<String> = doc.category_path.iter().map(Uuid::to_string).collect();
    if !doc.category_path.contains(&doc.category_id) {
        path.push(doc.category_id.to_string());
    }
    let mut source = json!({
        "name": doc.name,
        "description": doc.description,
        "brand": doc.brand.as_deref().map(str::trim).filter(|b| !b.is_empty()),
        "category_id": doc.category_id.to_string(),
        "category_path": path,
        "tags": doc.tags,
        "price_cents": doc.price_cents,
        "rating": doc.rating,
        "created_at": (doc.created_at.unix_timestamp_nanos() / 1_000_000) as i64,
        "is_active": doc.is_active,
        "is_featured": doc.is_featured,
        "in_stock": doc.in_stock,
        "seller_id": doc.seller_id.to_string(),
    });
    if let (Some(product), Some(map)) = (&doc.source, source.as_object_mut()) {
        map.insert("product".into(), Value::String(product.clone()));
    }
    source
}

/// Lowercased alphanumeric words of a text query (at most 10, deduplicated).
fn words(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for w in text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()) {
        let w = w.to_lowercase();
        if !out.contains(&w) {
            out.push(w);
        }
    }
    out.truncate(MAX_QUERY_WORDS);
    out
}

const TEXT_FIELDS: [&str; 4] = ["name^3", "brand.text^2", "tags.text^1.5", "description"];

/// The `_search` request body for a query. Errors on invalid queries.
pub fn search_body(q: &SearchQuery) -> Result<Value, SearchError> {
    q.validate()?;
    let (offset, limit) = q.window()?;
    let mut must: Vec<Value> = Vec::new();
    let mut should: Vec<Value> = Vec::new();
    let text_words = q.text().map(words).unwrap_or_default();
    if !text_words.is_empty() {
        for w in &text_words {
            must.push(json!({ "multi_match": {
                "query": w, "fields": TEXT_FIELDS, "fuzziness": "AUTO:4,8", "fuzzy_transpositions": true, "prefix_length": 0
            }}));
        }
        let phrase = text_words.join(" ");
        should.push(json!({ "multi_match": { "query": phrase, "fields": TEXT_FIELDS, "boost": 3.0 } }));
        should
            .push(json!({ "multi_match": { "query": phrase, "type": "bool_prefix", "fields": ["name^3", "brand.text^2"], "boost": 1.5 } }));
    }
    let mut filter: Vec<Value> = Vec::new();
    if !q.include_inactive {
        filter.push(json!({ "term": { "is_active": true } }));
    }
    if let Some(v) = q.in_stock {
        filter.push(json!({ "term": { "in_stock": v } }));
    }
    if let Some(v) = q.featured {
        filter.push(json!({ "term": { "is_featured": v } }));
    }
    if !q.categories.is_empty() {
        let ids: Vec<String> = q.categories.iter().map(Uuid::to_string).collect();
        filter.push(json!({ "terms": { "category_path": ids } }));
    }
    if !q.brands.is_empty() {
        let brands: Vec<String> = q.brands.iter().map(|b| b.trim().to_lowercase()).collect();
        filter.push(json!({ "terms": { "brand.kw": brands } }));
    }
    if !q.tags.is_empty() {
        let tags: Vec<String> = q.tags.iter().map(|t| t.trim().to_lowercase()).collect();
        filter.push(json!({ "terms": { "tags": tags } }));
    }
    if q.min_price_cents.is_some() || q.max_price_cents.is_some() {
        let mut range = serde_json::Map::new();
        if let Some(min) = q.min_price_cents {
            range.insert("gte".into(), json!(min));
        }
        if let Some(max) = q.max_price_cents {
            range.insert("lte".into(), json!(max));
        }
        filter.push(json!({ "range": { "price_cents": range } }));
    }
    let sort = match q.effective_sort() {
        Sort::Relevance => json!(["_score", { "created_at": "desc" }]),
        Sort::Newest => json!([{ "created_at": "desc" }]),
        Sort::PriceAsc => json!([{ "price_cents": "asc" }]),
        Sort::PriceDesc => json!([{ "price_cents": "desc" }]),
        Sort::NameAsc => json!([{ "name.sort": "asc" }]),
        Sort::NameDesc => json!([{ "name.sort": "desc" }]),
        Sort::Rating => json!([{ "rating": "desc" }]),
    };
    let mut ranges: Vec<Value> = Vec::new();
    let mut lower = 0_i64;
    for upper in PRICE_BAND_BOUNDS {
        ranges.push(json!({ "from": lower, "to": upper }));
        lower = upper;
    }
    ranges.push(json!({ "from": lower }));
    Ok(json!({
        "from": offset,
        "size": limit,
        "track_total_hits": true,
        "_source": ["product"],
        "query": { "bool": { "must": must, "should": should, "filter": filter } },
        "sort": sort,
        "aggs": {
            "brands": { "terms": { "field": "brand", "size": FACET_SIZE } },
            "categories": { "terms": { "field": "category_path", "size": FACET_SIZE } },
            "price_bands": { "range": { "field": "price_cents", "ranges": ranges } }
        }
    }))
}

/// `(key, doc_count)` of the buckets of a `terms` aggregation result; numeric keys become their
/// decimal text.
pub fn terms_buckets(agg: &Value) -> Vec<(String, u64)> {
    agg["buckets"]
        .as_array()
        .map(|b| {
            b.iter()
                .filter_map(|b| {
                    let key = match &b["key"] {
                        Value::String(s) => s.clone(),
                        Value::Number(n) => n.to_string(),
                        _ => return None,
                    };
                    Some((key, b["doc_count"].as_u64()?))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// `doc_count` of each bucket of a `range` aggregation result, in the order of the requested ranges.
pub fn range_counts(agg: &Value) -> Vec<u64> {
    agg["buckets"].as_array().map(|b| b.iter().map(|b| b["doc_count"].as_u64().unwrap_or(0)).collect()).unwrap_or_default()
}

/// Fails on a response that does not cover every shard (timed out, or shard failures): its total
/// and facets would silently undercount.
fn check_complete(body: &Value) -> Result<(), SearchError> {
    if body["timed_out"].as_bool() == Some(true) {
        return Err(engine_err("search timed out: partial results"));
    }
    let shards = &body["_shards"];
    let failed = shards["failed"].as_u64().unwrap_or(0);
    if failed > 0 {
        let reason = &shards["failures"][0]["reason"];
        return Err(engine_err(format!(
            "search failed on {failed} of {} shards: {}: {}",
            shards["total"],
            reason["type"].as_str().unwrap_or("unknown"),
            reason["reason"].as_str().unwrap_or("")
        )));
    }
    Ok(())
}

/// Parses a `_search` response produced for [`search_body`]: hits (with the stored product JSON),
/// the exact total, and the brand, category and price-band facets.
pub fn parse_search_response(body: &Value, relevance: bool) -> Result<SearchResults, SearchError> {
    check_complete(body)?;
    let hits_obj = &body["hits"];
    let total = hits_obj["total"]["value"]
        .as_u64()
        .or_else(|| hits_obj["total"].as_u64())
        .ok_or_else(|| engine_err("response without hits.total"))?;
    let hits = hits_obj["hits"]
        .as_array()
        .ok_or_else(|| engine_err("response without hits.hits"))?
        .iter()
        .map(|h| {
            let id = h["_id"]
                .as_str()
                .and_then(|s| Uuid::parse_str(s).ok())
                .ok_or_else(|| engine_err(format!("hit _id {} is not a product uuid", h["_id"])))?;
            // Field sorts return `"_score": null`.
            let score = if relevance { h["_score"].as_f64().unwrap_or(0.0) as f32 } else { 0.0 };
            let source = h["_source"]["product"].as_str().map(str::to_owned);
            Ok(Hit { id, score, source })
        })
        .collect::<Result<Vec<_>, SearchError>>()?;
    let aggs = &body["aggregations"];
    let mut brands: Vec<Facet> = Vec::new();
    for (value, count) in terms_buckets(&aggs["brands"]) {
        match brands.iter_mut().find(|f| f.value.to_lowercase() == value.to_lowercase()) {
            Some(f) => f.count += count,
            None => brands.push(Facet { value, count }),
        }
    }
    let mut categories: Vec<Facet> = terms_buckets(&aggs["categories"]).into_iter().map(|(value, count)| Facet { value, count }).collect();
    for v in [&mut brands, &mut categories] {
        v.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.value.cmp(&b.value)));
    }
    let mut bands = [0_u64; 6];
    for (slot, count) in bands.iter_mut().zip(range_counts(&aggs["price_bands"])) {
        *slot = count;
    }
    Ok(SearchResults { hits, total, facets: Facets { brands, categories, price_bands: price_bands(bands) } })
}

/// One failed item of a bulk request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BulkItemFailure {
    /// `index`, `create`, `update` or `delete`.
    pub action: String,
    /// The document `_id`.
    pub id: String,
    pub status: u16,
    /// `error.type`, e.g. `mapper_parsing_exception`, `version_conflict_engine_exception`.
    pub error_type: String,
    pub reason: String,
}

impl std::fmt::Display for BulkItemFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {} {}: {}", self.action, self.id, self.status, self.error_type, self.reason)
    }
}

/// The failed items of a bulk response, in request order. A `delete` of a missing id (404,
/// `not_found`) is not a failure.
pub fn bulk_failures(body: &Value) -> Vec<BulkItemFailure> {
    let items = body["items"].as_array().map(Vec::as_slice).unwrap_or_default();
    let mut failures = Vec::new();
    for item in items {
        for (action, result) in item.as_object().into_iter().flatten() {
            let status = result["status"].as_u64().unwrap_or(0);
            if action == "delete" && status == 404 && result["error"].is_null() {
                continue;
            }
            if (200..300).contains(&status) && result["error"].is_null() {
                continue;
            }
            let error = &result["error"];
            failures.push(BulkItemFailure {
                action: action.clone(),
                id: result["_id"].as_str().unwrap_or_default().to_owned(),
                status: u16::try_from(status).unwrap_or(0),
                error_type: error["type"].as_str().unwrap_or("unknown").to_owned(),
                reason: error["reason"].as_str().unwrap_or_default().to_owned(),
            });
        }
    }
    failures
}

fn failures_error(failures: &[BulkItemFailure], items: usize) -> SearchError {
    let named: Vec<String> = failures.iter().take(MAX_REPORTED_FAILURES).map(ToString::to_string).collect();
    let more = failures.len().saturating_sub(MAX_REPORTED_FAILURES);
    let more = if more > 0 { format!("; and {more} more") } else { String::new() };
    engine_err(format!("bulk: {} of {items} items failed: {}{more}", failures.len(), named.join("; ")))
}

/// Fails naming the failed items of one bulk response (see [`bulk_failures`]).
pub fn check_bulk_response(body: &Value) -> Result<(), SearchError> {
    let failures = bulk_failures(body);
    if failures.is_empty() {
        return Ok(());
    }
    let items = body["items"].as_array().map_or(failures.len(), Vec::len);
    Err(failures_error(&failures, items))
}

/// Splits bulk actions (each one or two NDJSON lines) into request bodies of at most
/// [`MAX_BULK_DOCS`] actions and, unless one action alone is larger, [`MAX_BULK_BYTES`] bytes.
fn bulk_chunks(actions: Vec<Vec<String>>) -> Vec<Vec<Vec<String>>> {
    let mut chunks: Vec<Vec<Vec<String>>> = Vec::new();
    let mut current: Vec<Vec<String>> = Vec::new();
    let mut bytes = 0_usize;
    for action in actions {
        let size: usize = action.iter().map(|l| l.len() + 1).sum();
        if !current.is_empty() && (current.len() == MAX_BULK_DOCS || bytes + size > MAX_BULK_BYTES) {
            chunks.push(std::mem::take(&mut current));
            bytes = 0;
        }
        bytes += size;
        current.push(action);
    }
    if !current.is_empty() {
        chunks.push(current);
    }
    chunks
}

/// `error.type` of an OpenSearch error body, if it is one.
pub fn error_type(body: &str) -> Option<String> {
    let body: Value = serde_json::from_str(body).ok()?;
    body["error"]["type"].as_str().map(str::to_owned)
}

/// Longest wait for one search, count or index request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(8);
/// Longest wait for one bulk request (`refresh=wait_for` waits for the next refresh).
const BULK_TIMEOUT: Duration = Duration::from_secs(30);

/// OpenSearch-backed [`SearchEngine`].
#[derive(Clone)]
pub struct OpenSearchEngine {
    http: HttpsClient,
    /// Scheme and authority of the node, with any path prefix, without a trailing `/`.
    base: String,
    index: String,
    signer: Option<Signer>,
}

impl std::fmt::Debug for OpenSearchEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenSearchEngine").field("base", &self.base).field("index", &self.index).finish_non_exhaustive()
    }
}

impl OpenSearchEngine {
    fn build(endpoint: &str, index: impl Into<String>, signer: Option<Signer>) -> Result<Self, SearchError> {
        let uri: Uri = endpoint.parse().map_err(|e| engine_err(format!("OpenSearch endpoint {endpoint:?}: {e}")))?;
        if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.host().is_none() {
            return Err(engine_err(format!("OpenSearch endpoint {endpoint:?}: not an http(s) URL")));
        }
        let http = shop_aws::signed::https_client().map_err(|e| engine_err(format!("TLS roots: {e}")))?;
        Ok(Self { http, base: endpoint.trim_end_matches('/').to_owned(), index: index.into(), signer })
    }

    /// A client for an Amazon OpenSearch Service domain: requests are SigV4-signed (service `es`)
    /// with the region, credentials and clock (time source) of `sdk`.
    pub fn aws(endpoint: &str, index: impl Into<String>, sdk: &aws_config::SdkConfig) -> Result<Self, SearchError> {
        Self::build(endpoint, index, Some(Signer::new(sdk, "es").map_err(engine_err)?))
    }

    /// An unauthenticated client for one node (local clusters and tests).
    pub fn with_url(url: &str, index: impl Into<String>) -> Result<Self, SearchError> {
        Self::build(url, index, None)
    }

    /// Sends one request (`path` starts with `/`, `query` without `?`) and reads the whole answer.
    async fn send(
        &self,
        method: Method,
        path: &str,
        query: &str,
        body: Vec<u8>,
        content_type: &str,
    ) -> Result<(StatusCode, Bytes), SearchError> {
        let timeout = if path.ends_with("/_bulk") { BULK_TIMEOUT } else { REQUEST_TIMEOUT };
        let uri = if query.is_empty() { format!("{}{path}", self.base) } else { format!("{}{path}?{query}", self.base) };
        let mut request = http::Request::builder()
            .method(method.clone())
            .uri(&uri)
            .header(http::header::ACCEPT, "application/json")
            .header(http::header::CONTENT_TYPE, content_type)
            .body(Full::new(Bytes::new()))
            .map_err(engine_err)?;
        if let Some(signer) = &self.signer {
            signer.sign(&mut request, &body).await.map_err(engine_err)?;
        }
        *request.body_mut() = Full::new(Bytes::from(body));
        let traced = shop_aws::signed::Traced::Aws { operation: operation(&method, path) };
        shop_aws::signed::exchange(&self.http, request, timeout, traced).await.map_err(|e| engine_err(format!("{method} {path}: {e}")))
    }

    async fn send_json(&self, method: Method, path: &str, body: Option<&Value>) -> Result<(StatusCode, Bytes), SearchError> {
        let body = body.map(serde_json::to_vec).transpose().map_err(engine_err)?.unwrap_or_default();
        self.send(method, path, "", body, "application/json").await
    }

    /// Creates the index with [`index_definition`] if it does not exist. Losing a creation race to
    /// another instance (`resource_already_exists_exception`, status 400 today, 409 once
    /// opensearch-project/OpenSearch#20072 lands) is success.
    pub async fn ensure_index(&self) -> Result<(), SearchError> {
        let path = format!("/{}", self.index);
        let (exists, _) = self.send_json(Method::HEAD, &path, None).await?;
        match exists {
            StatusCode::OK => return Ok(()),
            StatusCode::NOT_FOUND => {}
            status => return Err(engine_err(format!("checking index {}: {status}", self.index))),
        }
        let (status, body) = self.send_json(Method::PUT, &path, Some(&index_definition())).await?;
        if status.is_success() {
            return Ok(());
        }
        let body = String::from_utf8_lossy(&body);
        if error_type(&body).as_deref() == Some("resource_already_exists_exception") {
            return Ok(());
        }
        Err(engine_err(format!("creating index {}: {status}: {body}", self.index)))
    }

    /// Sends `actions` in as many bulk requests as [`MAX_BULK_DOCS`] / [`MAX_BULK_BYTES`] need. A
    /// request that fails as a whole stops the write; item failures are collected over all requests
    /// (the other items are written) and reported together.
    async fn bulk(&self, actions: Vec<Vec<String>>) -> Result<(), SearchError> {
        let total = actions.len();
        let chunks = bulk_chunks(actions);
        let requests = chunks.len();
        let mut failures: Vec<BulkItemFailure> = Vec::new();
        for (n, chunk) in chunks.into_iter().enumerate() {
            let mut lines = String::new();
            for line in chunk.into_iter().flatten() {
                lines.push_str(&line);
                lines.push('\n');
            }
            let path = format!("/{}/_bulk", self.index);
            let (status, body) = self.send(Method::POST, &path, "refresh=wait_for", lines.into_bytes(), "application/x-ndjson").await?;
            let body = String::from_utf8_lossy(&body);
            if !status.is_success() {
                return Err(engine_err(format!("bulk request {} of {requests}: {status}: {body}", n + 1)));
            }
            let body: Value = serde_json::from_str(&body).map_err(|e| engine_err(format!("bulk response is not JSON: {e}")))?;
            failures.extend(bulk_failures(&body));
        }
        if failures.is_empty() {
            return Ok(());
        }
        for failure in failures.iter().take(100) {
            tracing::warn!(index = %self.index, action = %failure.action, id = %failure.id, status = failure.status,
                error_type = %failure.error_type, reason = %failure.reason, "bulk item failed");
        }
        Err(failures_error(&failures, total))
    }
}

/// A JSON answer; a failed request whose body is not JSON is reported with its status and text.
fn json_body(what: &str, status: StatusCode, body: &[u8]) -> Result<Value, SearchError> {
    serde_json::from_slice(body).map_err(|e| {
        if status.is_success() {
            engine_err(format!("{what}: answer is not JSON: {e}"))
        } else {
            engine_err(format!("{what}: {status}: {}", String::from_utf8_lossy(body)))
        }
    })
}

fn to_line(value: &Value) -> Result<String, SearchError> {
    serde_json::to_string(value).map_err(engine_err)
}

impl SearchEngine for OpenSearchEngine {
    fn upsert(&self, docs: Vec<ProductDoc>) -> BoxFuture<'_, Result<(), SearchError>> {
        Box::pin(async move {
            if docs.is_empty() {
                return Ok(());
            }
            let actions = docs
                .iter()
                .map(|d| Ok(vec![to_line(&json!({ "index": { "_id": d.id.to_string() } }))?, to_line(&source(d))?]))
                .collect::<Result<Vec<_>, SearchError>>()?;
            self.bulk(actions).await
        })
    }

    fn delete(&self, ids: Vec<Uuid>) -> BoxFuture<'_, Result<(), SearchError>> {
        Box::pin(async move {
            if ids.is_empty() {
                return Ok(());
            }
            let actions = ids
                .iter()
                .map(|id| Ok(vec![to_line(&json!({ "delete": { "_id": id.to_string() } }))?]))
                .collect::<Result<Vec<_>, SearchError>>()?;
            self.bulk(actions).await
        })
    }

    fn search<'a>(&'a self, query: &'a SearchQuery) -> BoxFuture<'a, Result<SearchResults, SearchError>> {
        Box::pin(async move {
            let body = search_body(query)?;
            let (status, body) = self.send_json(Method::POST, &format!("/{}/_search", self.index), Some(&body)).await?;
            let body = json_body("search", status, &body)?;
            if !status.is_success() {
                return Err(engine_err(format!("search: {status}: {body}")));
            }
            parse_search_response(&body, query.effective_sort() == Sort::Relevance)
        })
    }

    fn count(&self) -> BoxFuture<'_, Result<u64, SearchError>> {
        Box::pin(async move {
            let (status, body) = self.send_json(Method::GET, &format!("/{}/_count", self.index), None).await?;
            let body = json_body("count", status, &body)?;
            if !status.is_success() {
                return Err(engine_err(format!("count: {status}: {body}")));
            }
            body["count"].as_u64().ok_or_else(|| engine_err("count response without count"))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_to_the_index_are_named_for_x_ray() {
        assert_eq!(operation(&Method::POST, "/products/_search"), "Search");
        assert_eq!(operation(&Method::POST, "/products/_bulk"), "Bulk");
        assert_eq!(operation(&Method::GET, "/products/_count"), "Count");
        assert_eq!(operation(&Method::HEAD, "/products"), "IndexExists");
        assert_eq!(operation(&Method::PUT, "/products"), "CreateIndex");
        assert_eq!(operation(&Method::GET, "/products/_doc/1"), "Get");
    }
}
