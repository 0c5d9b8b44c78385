//! Skyshop catalog-indexer: keeps the product search index current.
//!
//! The function consumes `CatalogTable`'s DynamoDB stream (`NEW_AND_OLD_IMAGES`) and mirrors
//! product items (`pk = PRODUCT#<id>`, `sk = PRODUCT`) into the search engine (OpenSearch in AWS,
//! the embedded tantivy index locally). Documents come from [`catalog::search::product_doc`]; a
//! product that is not [`catalog::search::indexable`] (soft-deleted) is removed from the index;
//! inactive products stay, flagged. Categories and uniqueness guards are not indexed.
//!
//! **Stream batches** ([`Indexer::handle_stream`]): each record is decoded on its own; changes are
//! coalesced per product (the last record of a product wins) into one upsert and one delete call
//! (chunks of [`stream::MAX_DOCS_PER_CALL`]). The response reports failures the
//! `ReportBatchItemFailures` way: from the first record an engine failure or an undecodable
//! record affects, every record's `SequenceNumber` — Lambda retries from there, and after
//! `MaximumRetryAttempts` sends the batch's description to the on-failure queue
//! (`CatalogIndexerDLQ`). A failure message there means: fix the cause, then reindex.
//!
//! **Reindex** ([`reindex::reindex`]): rebuilds the index from the table with a parallel Scan.
//! Products are soft-deleted, so the table holds every product the index may know: live ones
//! are upserted, deleted ones removed. In AWS, invoke the function with `{"action":"reindex"}`;
//! it stops shortly before its timeout and answers with a `cursor` to continue from:
//!
//! ```sh
//! FN=$(aws cloudformation describe-stacks --stack-name <stack> \
//!   --query "Stacks[0].Outputs[?OutputKey=='CatalogIndexerFunctionName'].OutputValue" --output text)
//! payload='{"action":"reindex"}'
//! while :; do
//!   aws lambda invoke --function-name "$FN" --cli-binary-format raw-in-base64-out \
//!     --cli-read-timeout 0 --payload "$payload" reindex.json >/dev/null
//!   cat reindex.json; echo
//!   jq -e 'has("errorMessage")' reindex.json >/dev/null && break   # failed: the message names the cursor
//!   jq -e '.complete' reindex.json >/dev/null && break              # done
//!   payload=$(jq -c '{action: "reindex", cursor: .cursor}' reindex.json)
//! done
//! ```
//!
//! (`--cli-read-timeout 0`: the CLI's default 60 s read timeout would otherwise make it retry the
//! invocation.) An invocation that fails answers with an error whose message names the cursor
//! to resume from. Locally: `skyshop-local reindex` (stop `skyshop-local serve` first — the
//! embedded index has one writer).
//!
//! Configuration: `CATALOG_TABLE` and the engine variables of [`shop_search::connect`]
//! (`SEARCH_ENGINE`, `OPENSEARCH_ENDPOINT`, `SEARCH_INDEX`, `SEARCH_INDEX_DIR`).

pub mod config;
pub mod reindex;
pub mod stream;

use crate::config::Config;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use serde::Deserialize;
use serde_json::Value;
use shop_search::{EngineConfig, SearchEngine, SearchError};

pub use crate::reindex::{Counts, ReindexCursor, ReindexError, ReindexOptions, ReindexReport, SegmentCursor};
pub use crate::stream::StreamEvent;

/// The indexer: a search engine and the catalog table. Cheap to clone.
#[derive(Clone)]
pub struct Indexer {
    engine: Arc<dyn SearchEngine>,
    dynamo: aws_sdk_dynamodb::Client,
    table: String,
    cache: shop_cache::Cache,
}

impl std::fmt::Debug for Indexer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Indexer").field("table", &self.table).finish_non_exhaustive()
    }
}

/// Why an invocation failed (Lambda reports it as a function error).
#[derive(Debug, thiserror::Error)]
pub enum InvokeError {
    /// The search engine could not be opened (or its index created).
    #[error("the search engine is not available")]
    Engine(#[source] SearchError),
    /// The payload is neither a stream batch nor a reindex request.
    #[error("unrecognised event: {0}")]
    BadEvent(String),
    #[error(transparent)]
    Reindex(#[from] ReindexError),
}

/// `{"action": "reindex", "segments"?: n, "cursor"?: {...}}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReindexRequest {
    #[allow(dead_code)]
    action: String,
    #[serde(default)]
    segments: Option<u32>,
    #[serde(default)]
    cursor: Option<ReindexCursor>,
}

/// Longest safety margin kept before the invocation deadline when a reindex stops early.
const MAX_DEADLINE_MARGIN: Duration = Duration::from_secs(30);

impl Indexer {
    pub fn new(engine: Arc<dyn SearchEngine>, dynamo: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        Self { engine, dynamo, table: table.into(), cache: shop_cache::Cache::disabled() }
    }

    /// Invalidates the catalog's cached listings (`GET /api/products`) in `cache` after every
    /// index write, so a cached page never hides a write the index already shows.
    pub fn with_cache(mut self, cache: shop_cache::Cache) -> Self {
        self.cache = cache;
        self
    }

    /// After the index changed: cached listings are stale.
    pub(crate) async fn index_changed(&self) {
        self.cache.invalidate(catalog::store::cached::LISTINGS).await;
    }

    /// Opens the configured engine; for OpenSearch, creates the index (mapping and analyzers
    /// from [`shop_search::opensearch_engine::index_definition`]) when it does not exist.
    #[tracing::instrument(skip_all)]
    pub async fn connect(config: &Config, sdk: &aws_config::SdkConfig) -> Result<Self, SearchError> {
        let engine: Arc<dyn SearchEngine> = match &config.engine {
            EngineConfig::OpenSearch { endpoint, index } => {
                let engine = shop_search::OpenSearchEngine::aws(endpoint, index.clone(), sdk)?;
                engine.ensure_index().await?;
                Arc::new(engine)
            }
            other => shop_search::connect(other, sdk).await?,
        };
        let cache = match &config.redis_url {
            Some(url) => shop_cache::Cache::connect(url, &config.cache_prefix).await,
            None => shop_cache::Cache::disabled(),
        };
        Ok(Self::new(engine, aws_sdk_dynamodb::Client::new(sdk), &config.table).with_cache(cache))
    }

    /// The search engine written to.
    pub fn engine(&self) -> &Arc<dyn SearchEngine> {
        &self.engine
    }

    /// Rebuilds the index from the table (see [`reindex::reindex`]).
    pub async fn reindex(&self, options: ReindexOptions, progress: &(dyn Fn(Counts) + Send + Sync)) -> Result<ReindexReport, ReindexError> {
        let report = reindex::reindex(&self.dynamo, &self.table, self.engine.as_ref(), options, progress).await;
        self.index_changed().await;
        report
    }

    /// Handles one Lambda invocation: a DynamoDB stream batch (`{"Records": [...]}`) answers
    /// with `{"batchItemFailures": [...]}`; `{"action": "reindex"}` rebuilds the index, stopping
    /// shortly before `deadline`, and answers with a [`ReindexReport`].
    pub async fn invoke(&self, payload: Value, deadline: Option<SystemTime>) -> Result<Value, InvokeError> {
        if payload.get("Records").is_some() {
            let event: StreamEvent = serde_json::from_value(payload)
                .map_err(|e| InvokeError::BadEvent(format!("a stream batch needs a Records array ({e})")))?;
            let response = self.handle_stream(event).await;
            return serde_json::to_value(response).map_err(|e| InvokeError::BadEvent(e.to_string()));
        }
        if payload.get("action").and_then(Value::as_str) == Some("reindex") {
            let request: ReindexRequest =
                serde_json::from_value(payload).map_err(|e| InvokeError::BadEvent(format!("reindex request: {e}")))?;
            let mut options = ReindexOptions { resume: request.cursor, stop_at: deadline.map(stop_before), ..ReindexOptions::default() };
            if let Some(segments) = request.segments {
                options.segments = segments;
            }
            let report = self.reindex(options, &|counts| tracing::info!(?counts, "reindex progress")).await?;
            return serde_json::to_value(report).map_err(|e| InvokeError::BadEvent(e.to_string()));
        }
        Err(InvokeError::BadEvent(r#"expected a DynamoDB stream batch {"Records": [...]} or {"action": "reindex"}"#.into()))
    }
}

/// When a reindex must stop to answer before `deadline`: a margin of a quarter of the time
/// left, at most [`MAX_DEADLINE_MARGIN`].
fn stop_before(deadline: SystemTime) -> Instant {
    let left = deadline.duration_since(SystemTime::now()).unwrap_or_default();
    Instant::now() + left - (left / 4).min(MAX_DEADLINE_MARGIN)
}

/// An [`Indexer`] built on first use: Lambda init reads the configuration only; the SDK, the
/// engine and (OpenSearch) the index check come with the first invocation, and are retried by
/// the next one if they fail. Cheap to clone.
#[derive(Clone)]
pub struct LazyIndexer {
    inner: Arc<LazyInner>,
}

struct LazyInner {
    config: Config,
    sdk: Option<aws_config::SdkConfig>,
    indexer: tokio::sync::OnceCell<Indexer>,
}

impl std::fmt::Debug for LazyIndexer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LazyIndexer").field("config", &self.inner.config).finish_non_exhaustive()
    }
}

impl LazyIndexer {
    /// Loads the SDK configuration from the environment on first use.
    pub fn new(config: Config) -> Self {
        Self { inner: Arc::new(LazyInner { config, sdk: None, indexer: tokio::sync::OnceCell::new() }) }
    }

    /// Uses `sdk` (the local runner's stand-in endpoints).
    pub fn with_sdk(config: Config, sdk: aws_config::SdkConfig) -> Self {
        Self { inner: Arc::new(LazyInner { config, sdk: Some(sdk), indexer: tokio::sync::OnceCell::new() }) }
    }

    /// The indexer, connecting on first use.
    pub async fn get(&self) -> Result<&Indexer, SearchError> {
        self.inner
            .indexer
            .get_or_try_init(|| async {
                let sdk = match &self.inner.sdk {
                    Some(sdk) => sdk.clone(),
                    None => shop_aws::config::load().await,
                };
                Indexer::connect(&self.inner.config, &sdk).await
            })
            .await
    }

    /// [`Indexer::invoke`] on the lazily built indexer.
    pub async fn invoke(&self, payload: Value, deadline: Option<SystemTime>) -> Result<Value, InvokeError> {
        let indexer = match self.get().await {
            Ok(indexer) => indexer,
            Err(err) => {
                tracing::error!(error = %shop_core::problem::ErrorChain(&err), "could not open the search engine");
                return Err(InvokeError::Engine(err));
            }
        };
        indexer.invoke(payload, deadline).await
    }
}
