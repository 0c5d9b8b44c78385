//! Rebuilding the index from the table.
//!
//! A parallel Scan (`TotalSegments` segments, each read page by page with consistent reads)
//! selects product items (`sk = PRODUCT`, `pk` beginning `PRODUCT#`); each page's live products
//! are upserted and its deleted ones removed before the next page is read, in calls of at most
//! `chunk_size`. A run can stop early (a deadline, an error) and be resumed from the
//! [`ReindexCursor`] it returns: the segments still pending with the key to continue after.
//!
//! A product written while a reindex runs may be indexed from an image older than the one the
//! stream applied a moment earlier; its next write corrects it. Run reindex when the catalog
//! is quiet, or run it twice.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use aws_sdk_dynamodb::types::AttributeValue;
use catalog::domain::Product;
use catalog::search::{indexable, product_doc};
use serde::{Deserialize, Serialize};
use shop_aws::dynamo::{Item, StoreError};
use shop_core::problem::ErrorChain;
use shop_search::{SearchEngine, SearchError};
use uuid::Uuid;

/// Most segments of one reindex.
pub const MAX_SEGMENTS: u32 = 64;

/// How to run a reindex.
#[derive(Debug, Clone)]
pub struct ReindexOptions {
    /// Scan segments read in parallel (1 to [`MAX_SEGMENTS`]; default 4). Ignored when resuming:
    /// the cursor names its own.
    pub segments: u32,
    /// Most documents per engine call (default 500).
    pub chunk_size: usize,
    /// Stop before reading another page after this instant (and return a cursor).
    pub stop_at: Option<Instant>,
    /// Continue a run that stopped early.
    pub resume: Option<ReindexCursor>,
}

impl Default for ReindexOptions {
    fn default() -> Self {
        Self { segments: 4, chunk_size: 500, stop_at: None, resume: None }
    }
}

/// Where a stopped reindex continues: the segments not finished yet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReindexCursor {
    pub total_segments: u32,
    pub pending: Vec<SegmentCursor>,
}

/// One unfinished Scan segment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SegmentCursor {
    pub segment: u32,
    /// The Scan's `ExclusiveStartKey` (`{"pk": ..., "sk": ...}`); absent: from the segment's start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_key: Option<BTreeMap<String, String>>,
}

/// What a reindex did so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Counts {
    /// Product items read.
    pub scanned: u64,
    /// Live products written to the index.
    pub upserted: u64,
    /// Deleted products removed from the index.
    pub deleted: u64,
    /// Product items that are not valid products (logged with their key, skipped).
    pub invalid: u64,
}

/// The outcome of a reindex run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReindexReport {
    #[serde(flatten)]
    pub counts: Counts,
    /// Every segment was read to its end.
    pub complete: bool,
    /// Where to continue when not complete.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<ReindexCursor>,
}

/// Why a reindex did not run to its end.
#[derive(Debug, thiserror::Error)]
pub enum ReindexError {
    #[error("invalid reindex request: {0}")]
    Invalid(String),
    /// A Scan page or an engine call failed; `resume` continues with the page that failed.
    #[error("reindex stopped by an error; resume with {{\"action\":\"reindex\",\"cursor\":{}}}", cursor_json(resume))]
    Failed {
        #[source]
        cause: Cause,
        resume: ReindexCursor,
        counts: Counts,
    },
}

/// The failure that stopped a reindex.
#[derive(Debug, thiserror::Error)]
pub enum Cause {
    #[error("scanning the table failed")]
    Scan(#[source] StoreError),
    #[error("writing to the search index failed")]
    Engine(#[source] SearchError),
    #[error("the table returned a key with a non-string attribute")]
    Key,
}

fn cursor_json(cursor: &ReindexCursor) -> String {
    serde_json::to_string(cursor).unwrap_or_default()
}

#[derive(Default)]
struct SharedCounts {
    scanned: AtomicU64,
    upserted: AtomicU64,
    deleted: AtomicU64,
    invalid: AtomicU64,
}

impl SharedCounts {
    fn snapshot(&self) -> Counts {
        Counts {
            scanned: self.scanned.load(Ordering::Relaxed),
            upserted: self.upserted.load(Ordering::Relaxed),
            deleted: self.deleted.load(Ordering::Relaxed),
            invalid: self.invalid.load(Ordering::Relaxed),
        }
    }
}

/// How one segment ended.
enum SegmentEnd {
    Done,
    /// Stopped before its end (deadline, or another segment failed); continue after the key.
    Stopped(Option<BTreeMap<String, String>>),
    Failed(Option<BTreeMap<String, String>>, Cause),
}

struct Run<'a> {
    dynamo: &'a aws_sdk_dynamodb::Client,
    table: &'a str,
    engine: &'a dyn SearchEngine,
    total_segments: u32,
    chunk_size: usize,
    stop_at: Option<Instant>,
    abort: AtomicBool,
    counts: SharedCounts,
    progress: &'a (dyn Fn(Counts) + Send + Sync),
}

/// Rebuilds the search index from `table`: upserts every live product and removes every
/// deleted one, reading `options.segments` Scan segments in parallel. `progress` is called with
/// the running totals after each page. Returns the totals, and a cursor when it stopped at
/// `options.stop_at` before the end.
#[tracing::instrument(skip_all, fields(table = %table))]
pub async fn reindex(
    dynamo: &aws_sdk_dynamodb::Client,
    table: &str,
    engine: &dyn SearchEngine,
    options: ReindexOptions,
    progress: &(dyn Fn(Counts) + Send + Sync),
) -> Result<ReindexReport, ReindexError> {
    if options.chunk_size == 0 {
        return Err(ReindexError::Invalid("chunk size must be at least 1".into()));
    }
    let cursor = match options.resume {
        Some(cursor) => validated(cursor)?,
        None if (1..=MAX_SEGMENTS).contains(&options.segments) => ReindexCursor {
            total_segments: options.segments,
            pending: (0..options.segments).map(|segment| SegmentCursor { segment, start_key: None }).collect(),
        },
        None => return Err(ReindexError::Invalid(format!("segments must be 1 to {MAX_SEGMENTS}"))),
    };
    let run = Run {
        dynamo,
        table,
        engine,
        total_segments: cursor.total_segments,
        chunk_size: options.chunk_size,
        stop_at: options.stop_at,
        abort: AtomicBool::new(false),
        counts: SharedCounts::default(),
        progress,
    };
    tracing::info!(total_segments = cursor.total_segments, pending = cursor.pending.len(), "reindex started");
    let ends = futures::future::join_all(cursor.pending.iter().map(|s| run.segment(s.segment, s.start_key.clone()))).await;

    let mut pending = Vec::new();
    let mut failure = None;
    for (segment, end) in cursor.pending.iter().map(|s| s.segment).zip(ends) {
        match end {
            SegmentEnd::Done => {}
            SegmentEnd::Stopped(start_key) => pending.push(SegmentCursor { segment, start_key }),
            SegmentEnd::Failed(start_key, cause) => {
                pending.push(SegmentCursor { segment, start_key });
                failure.get_or_insert(cause);
            }
        }
    }
    let counts = run.counts.snapshot();
    let resume = ReindexCursor { total_segments: cursor.total_segments, pending };
    if let Some(cause) = failure {
        tracing::error!(?counts, error = %ErrorChain(&cause), "reindex stopped by an error");
        return Err(ReindexError::Failed { cause, resume, counts });
    }
    let complete = resume.pending.is_empty();
    tracing::info!(?counts, complete, "reindex finished");
    Ok(ReindexReport { counts, complete, cursor: (!complete).then_some(resume) })
}

fn validated(cursor: ReindexCursor) -> Result<ReindexCursor, ReindexError> {
    let invalid = |msg: &str| Err(ReindexError::Invalid(format!("cursor: {msg}")));
    if cursor.total_segments == 0 || cursor.total_segments > MAX_SEGMENTS {
        return invalid(&format!("totalSegments must be 1 to {MAX_SEGMENTS}"));
    }
    let mut seen = BTreeSet::new();
    for s in &cursor.pending {
        if s.segment >= cursor.total_segments || !seen.insert(s.segment) {
            return invalid("pending segments must be distinct and below totalSegments");
        }
        if s.start_key.as_ref().is_some_and(|k| k.get("pk").is_none() || k.get("sk").is_none()) {
            return invalid("a startKey needs pk and sk");
        }
    }
    Ok(cursor)
}

impl Run<'_> {
    fn should_stop(&self) -> bool {
        self.abort.load(Ordering::Relaxed) || self.stop_at.is_some_and(|at| Instant::now() >= at)
    }

    #[tracing::instrument(skip(self, start_key))]
    async fn segment(&self, segment: u32, mut start_key: Option<BTreeMap<String, String>>) -> SegmentEnd {
        loop {
            if self.should_stop() {
                return SegmentEnd::Stopped(start_key);
            }
            let page = self
                .dynamo
                .scan()
                .table_name(self.table)
                .segment(segment as i32)
                .total_segments(self.total_segments as i32)
                .filter_expression("sk = :sk AND begins_with(pk, :prefix)")
                .expression_attribute_values(":sk", AttributeValue::S("PRODUCT".into()))
                .expression_attribute_values(":prefix", AttributeValue::S("PRODUCT#".into()))
                .consistent_read(true)
                .set_exclusive_start_key(start_key.as_ref().map(to_item))
                .send()
                .await;
            let page = match page {
                Ok(page) => page,
                Err(err) => return self.fail(start_key, Cause::Scan(err.into())),
            };
            if let Err(cause) = self.apply(page.items.unwrap_or_default()).await {
                return self.fail(start_key, cause);
            }
            (self.progress)(self.counts.snapshot());
            match page.last_evaluated_key {
                None => return SegmentEnd::Done,
                Some(key) => match from_item(&key) {
                    Some(key) => start_key = Some(key),
                    None => return self.fail(start_key, Cause::Key),
                },
            }
        }
    }

    fn fail(&self, start_key: Option<BTreeMap<String, String>>, cause: Cause) -> SegmentEnd {
        self.abort.store(true, Ordering::Relaxed);
        SegmentEnd::Failed(start_key, cause)
    }

    /// Writes one page's products to the index.
    async fn apply(&self, items: Vec<Item>) -> Result<(), Cause> {
        let mut docs = Vec::new();
        let mut deleted: Vec<Uuid> = Vec::new();
        for item in items {
            self.counts.scanned.fetch_add(1, Ordering::Relaxed);
            let pk = item.get("pk").and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
            match serde_dynamo::from_item::<_, Product>(item) {
                Ok(product) if indexable(&product) => docs.push(product_doc(&product)),
                Ok(product) => deleted.push(product.id),
                Err(err) => {
                    self.counts.invalid.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(pk, error = %ErrorChain(&err), "item is not a valid product; skipped");
                }
            }
        }
        while !docs.is_empty() {
            let rest = docs.split_off(docs.len().min(self.chunk_size));
            let n = docs.len() as u64;
            self.engine.upsert(docs).await.map_err(Cause::Engine)?;
            self.counts.upserted.fetch_add(n, Ordering::Relaxed);
            docs = rest;
        }
        while !deleted.is_empty() {
            let rest = deleted.split_off(deleted.len().min(self.chunk_size));
            let n = deleted.len() as u64;
            self.engine.delete(deleted).await.map_err(Cause::Engine)?;
            self.counts.deleted.fetch_add(n, Ordering::Relaxed);
            deleted = rest;
        }
        Ok(())
    }
}

fn to_item(key: &BTreeMap<String, String>) -> Item {
    key.iter().map(|(k, v)| (k.clone(), AttributeValue::S(v.clone()))).collect()
}

fn from_item(item: &Item) -> Option<BTreeMap<String, String>> {
    item.iter().map(|(k, v)| v.as_s().ok().map(|s| (k.clone(), s.clone()))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_bad_ones_are_refused() {
        let cursor = ReindexCursor {
            total_segments: 4,
            pending: vec![
                SegmentCursor {
                    segment: 1,
                    start_key: Some(BTreeMap::from([("pk".into(), "PRODUCT#a".into()), ("sk".into(), "PRODUCT".into())])),
                },
                SegmentCursor { segment: 3, start_key: None },
            ],
        };
        let json = serde_json::to_value(&cursor).unwrap_or_default();
        assert_eq!(
            json,
            serde_json::json!({"totalSegments": 4, "pending": [{"segment": 1, "startKey": {"pk": "PRODUCT#a", "sk": "PRODUCT"}}, {"segment": 3}]})
        );
        assert!(validated(cursor.clone()).is_ok());
        let beyond = ReindexCursor { pending: vec![SegmentCursor { segment: 4, start_key: None }], ..cursor.clone() };
        assert!(matches!(validated(beyond), Err(ReindexError::Invalid(_))));
        let twice = ReindexCursor { pending: vec![cursor.pending[1].clone(), cursor.pending[1].clone()], ..cursor.clone() };
        assert!(matches!(validated(twice), Err(ReindexError::Invalid(_))));
        let no_segments = ReindexCursor { total_segments: 0, pending: vec![] };
        assert!(matches!(validated(no_segments), Err(ReindexError::Invalid(_))));
        let half_key = ReindexCursor {
            total_segments: 1,
            pending: vec![SegmentCursor { segment: 0, start_key: Some(BTreeMap::from([("pk".into(), "PRODUCT#a".into())])) }],
        };
        assert!(matches!(validated(half_key), Err(ReindexError::Invalid(_))));
    }
}
