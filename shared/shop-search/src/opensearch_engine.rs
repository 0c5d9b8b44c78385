//! OpenSearch implementation of [`SearchEngine`] (AWS; SigV4 via the `opensearch` crate's
//! `aws-auth` feature, TLS via rustls).
//!
//! The request bodies and the response parsing are plain functions ([`index_definition`],
//! [`search_body`], [`parse_search_response`]) so they are tested without a cluster.
//! Semantics match the tantivy engine:
//! - per query word a `multi_match` on `name^3, brand.text^2, tags.text^1.5, description` with
//!   `fuzziness: "AUTO:4,8"` (0 edits ≤ 3 chars, 1 for 4–7, 2 for ≥ 8; transpositions cost 1),
//!   all words required (AND across words, OR across fields); an exact `multi_match` and a
//!   `bool_prefix` one as `should` clauses rank exact and prefix matches above fuzzy ones;
//! - filters in `bool.filter` (no effect on scores); brand and tags are `keyword`s with a lowercase
//!   normalizer and the values are lowercased here too;
//! - facets are `terms`/`range` aggregations over all matches; `track_total_hits: true`;
//! - writes use the bulk API with `refresh=wait_for`, so they are searchable when the call returns.

use opensearch::http::request::JsonBody;
use opensearch::http::transport::{SingleNodeConnectionPool, Transport, TransportBuilder};
use opensearch::http::{StatusCode, Url};
use opensearch::indices::{IndicesCreateParts, IndicesExistsParts};
use opensearch::params::Refresh;
use opensearch::{BulkParts, CountParts, OpenSearch, SearchParts};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::{
    BoxFuture, Facet, Facets, Hit, PRICE_BAND_BOUNDS, ProductDoc, SearchEngine, SearchError, SearchQuery, SearchResults, Sort, price_bands,
};

/// Largest number of distinct brands / categories returned as facets.
const FACET_SIZE: u32 = 100;
const MAX_QUERY_WORDS: usize = 10;

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
                "seller_id": { "type": "keyword" }
            }
        }
    })
}

/// The indexed `_source` of a product (its id is the document `_id`).
pub fn source(doc: &ProductDoc) -> Value {
    let mut path: Vec<String> = doc.category_path.iter().map(Uuid::to_string).collect();
    if !doc.category_path.contains(&doc.category_id) {
        path.push(doc.category_id.to_string());
    }
    json!({
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
    })
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
        "_source": false,
        "query": { "bool": { "must": must, "should": should, "filter": filter } },
        "sort": sort,
        "aggs": {
            "brands": { "terms": { "field": "brand", "size": FACET_SIZE } },
            "categories": { "terms": { "field": "category_path", "size": FACET_SIZE } },
            "price_bands": { "range": { "field": "price_cents", "ranges": ranges } }
        }
    }))
}

fn buckets(aggs: &Value, name: &str) -> Vec<(String, u64)> {
    aggs[name]["buckets"]
        .as_array()
        .map(|b| {
            b.iter()
                .filter_map(|b| {
                    let key = match &b["key"] {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    Some((key, b["doc_count"].as_u64()?))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Parses a `_search` response produced for [`search_body`].
pub fn parse_search_response(body: &Value, relevance: bool) -> Result<SearchResults, SearchError> {
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
            let id = h["_id"].as_str().and_then(|s| Uuid::parse_str(s).ok()).ok_or_else(|| engine_err("hit without a uuid _id"))?;
            let score = if relevance { h["_score"].as_f64().unwrap_or(0.0) as f32 } else { 0.0 };
            Ok(Hit { id, score })
        })
        .collect::<Result<Vec<_>, SearchError>>()?;
    let aggs = &body["aggregations"];
    let mut brands: Vec<Facet> = Vec::new();
    for (value, count) in buckets(aggs, "brands") {
        match brands.iter_mut().find(|f| f.value.to_lowercase() == value.to_lowercase()) {
            Some(f) => f.count += count,
            None => brands.push(Facet { value, count }),
        }
    }
    let mut categories: Vec<Facet> = buckets(aggs, "categories").into_iter().map(|(value, count)| Facet { value, count }).collect();
    for v in [&mut brands, &mut categories] {
        v.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.value.cmp(&b.value)));
    }
    let mut bands = [0_u64; 6];
    if let Some(b) = aggs["price_bands"]["buckets"].as_array() {
        for (slot, bucket) in bands.iter_mut().zip(b) {
            *slot = bucket["doc_count"].as_u64().unwrap_or(0);
        }
    }
    Ok(SearchResults { hits, total, facets: Facets { brands, categories, price_bands: price_bands(bands) } })
}

/// Fails with the first item error of a bulk response (a `delete` of a missing id is not an error).
pub fn check_bulk_response(body: &Value) -> Result<(), SearchError> {
    if body["errors"].as_bool() != Some(true) {
        return Ok(());
    }
    let items = body["items"].as_array().map(Vec::as_slice).unwrap_or_default();
    for item in items {
        for (action, result) in item.as_object().into_iter().flatten() {
            let status = result["status"].as_u64().unwrap_or(0);
            if action == "delete" && status == 404 {
                continue;
            }
            if status >= 300 || !result["error"].is_null() {
                return Err(engine_err(format!("bulk {action} of {} failed: {}", result["_id"], result["error"])));
            }
        }
    }
    Ok(())
}

/// OpenSearch-backed [`SearchEngine`].
#[derive(Clone)]
pub struct OpenSearchEngine {
    client: OpenSearch,
    index: String,
}

impl std::fmt::Debug for OpenSearchEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenSearchEngine").field("index", &self.index).finish_non_exhaustive()
    }
}

impl OpenSearchEngine {
    /// Uses a configured transport (for AWS: `TransportBuilder::new(pool).auth(sdk_config.try_into()?)
    /// .service_name("es")`, or `"aoss"` for Serverless).
    pub fn new(transport: Transport, index: impl Into<String>) -> Self {
        Self { client: OpenSearch::new(transport), index: index.into() }
    }

    /// An unauthenticated client for one node (local clusters and tests).
    pub fn with_url(url: &str, index: impl Into<String>) -> Result<Self, SearchError> {
        let url = Url::parse(url).map_err(engine_err)?;
        let transport = TransportBuilder::new(SingleNodeConnectionPool::new(url)).disable_proxy().build().map_err(engine_err)?;
        Ok(Self::new(transport, index))
    }

    /// Creates the index with [`index_definition`] if it does not exist.
    pub async fn ensure_index(&self) -> Result<(), SearchError> {
        let exists = self.client.indices().exists(IndicesExistsParts::Index(&[&self.index])).send().await.map_err(engine_err)?;
        if exists.status_code() == StatusCode::OK {
            return Ok(());
        }
        let response = self
            .client
            .indices()
            .create(IndicesCreateParts::Index(&self.index))
            .body(index_definition())
            .send()
            .await
            .map_err(engine_err)?;
        let status = response.status_code();
        if status.is_success() {
            return Ok(());
        }
        let body = response.text().await.map_err(engine_err)?;
        // Lost a creation race with another instance: fine.
        if body.contains("resource_already_exists_exception") {
            return Ok(());
        }
        Err(engine_err(format!("creating index {}: {status}: {body}", self.index)))
    }

    async fn bulk(&self, lines: Vec<JsonBody<Value>>) -> Result<(), SearchError> {
        let response =
            self.client.bulk(BulkParts::Index(&self.index)).refresh(Refresh::WaitFor).body(lines).send().await.map_err(engine_err)?;
        let status = response.status_code();
        let body: Value = response.json().await.map_err(engine_err)?;
        if !status.is_success() {
            return Err(engine_err(format!("bulk: {status}: {body}")));
        }
        check_bulk_response(&body)
    }
}

impl SearchEngine for OpenSearchEngine {
    fn upsert(&self, docs: Vec<ProductDoc>) -> BoxFuture<'_, Result<(), SearchError>> {
        Box::pin(async move {
            if docs.is_empty() {
                return Ok(());
            }
            let mut lines = Vec::with_capacity(docs.len() * 2);
            for d in &docs {
                lines.push(JsonBody::new(json!({ "index": { "_id": d.id.to_string() } })));
                lines.push(JsonBody::new(source(d)));
            }
            self.bulk(lines).await
        })
    }

    fn delete(&self, ids: Vec<Uuid>) -> BoxFuture<'_, Result<(), SearchError>> {
        Box::pin(async move {
            if ids.is_empty() {
                return Ok(());
            }
            let lines = ids.iter().map(|id| JsonBody::new(json!({ "delete": { "_id": id.to_string() } }))).collect();
            self.bulk(lines).await
        })
    }

    fn search<'a>(&'a self, query: &'a SearchQuery) -> BoxFuture<'a, Result<SearchResults, SearchError>> {
        Box::pin(async move {
            let body = search_body(query)?;
            let response = self.client.search(SearchParts::Index(&[&self.index])).body(body).send().await.map_err(engine_err)?;
            let status = response.status_code();
            let body: Value = response.json().await.map_err(engine_err)?;
            if !status.is_success() {
                return Err(engine_err(format!("search: {status}: {body}")));
            }
            parse_search_response(&body, query.effective_sort() == Sort::Relevance)
        })
    }

    fn count(&self) -> BoxFuture<'_, Result<u64, SearchError>> {
        Box::pin(async move {
            let response = self.client.count(CountParts::Index(&[&self.index])).send().await.map_err(engine_err)?;
            let status = response.status_code();
            let body: Value = response.json().await.map_err(engine_err)?;
            if !status.is_success() {
                return Err(engine_err(format!("count: {status}: {body}")));
            }
            body["count"].as_u64().ok_or_else(|| engine_err("count response without count"))
        })
    }
}
