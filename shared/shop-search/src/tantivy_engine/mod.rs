//! Embedded search engine on tantivy 0.27 (local runs, tests, benchmarks).
//!
//! Text matching and relevance are tantivy's:
//! - Text analyzer `shop`: `SimpleTokenizer` (splits on non-alphanumerics) + `LowerCaser` +
//!   `AsciiFoldingFilter`, used for name, description, brand text and tag text.
//! - Every query word must match in some field (AND across words, OR across fields). Per word and
//!   field: an exact BM25 term (weight 3), a prefix match (weight 1.5, words of ≥ 3 chars, not on
//!   the description) and, only for a word that is a term of none of the four text fields (a
//!   typo, as far as the index can tell), a Levenshtein match (weight 1; distance 1 for 4–7
//!   chars, 2 for ≥ 8, none for ≤ 3; a transposition costs 1), times the field boost (name 3,
//!   brand 2, tags 1.5, description 1). A word the index knows is matched exactly and by prefix
//!   only: "hand" does not pull in every description holding "and", and a correctly spelled word
//!   costs no Levenshtein automaton and no union of its neighbours' postings. Fuzzy and prefix
//!   scorers are constant and an exact word also matches its prefix clause, so in a field an
//!   exact word always scores above its prefix neighbours.
//!
//! Filters, facets and sorts run on a per-segment snapshot of the filter columns
//! ([`SegmentData`](segment::SegmentData): flags, price band, brand and category ordinals in one
//! row per document, prices in an array of their own), built once per segment by a reader warmer
//! before the segment becomes searchable (segments are immutable; deletes are applied from the
//! alive bitset at query time). All results are exact:
//! - Without text or tag filters, `total` and the facets come from *groups* — the documents of a
//!   segment grouped by (brand, categories, flags), each group sorted by price — so a query costs
//!   at most two binary searches per group instead of a pass over every match. With text (or
//!   tags), they are counted over the text matches (or tagged documents): without a price
//!   filter, each match adds one to its (group, price band) slot — 4 bytes read per match — and
//!   the groups that pass the filters add their slots to the facets.
//! - The page: for relevance, the text matches sorted by score are scanned until the page is
//!   full; for the other sorts, either a per-segment permutation of the documents in sort order
//!   (newest-first built by the warmer, the others on first use) is scanned until the page is
//!   full, or the candidate list is scanned with a bounded heap, whichever the match count says is
//!   cheaper. Ties break by document address (reversed for descending sorts), the same way on
//!   every page.
//! - Per reader generation (every commit or reload starts a new one, so a write is visible at
//!   once) the engine caches the scored text matches per word (least recently used evicted
//!   first, apart from whole texts so that new texts do not evict their words) and per text,
//!   and — when computing them looked at many documents — `total` + facets per query without
//!   page and sort, and the first hits per query and sort.
//!   [`TantivyEngine::set_result_caching`] turns these caches off (benchmarks). A query of
//!   several words intersects its words' cached matches (a word matching one document in 64 or
//!   more is probed through its bits and ranks, others merged or galloped through); a word the
//!   index does not know is scored only on the documents its other words matched, by seeking
//!   each of its clauses in turn (one Levenshtein automaton per word, shared by its fields).
//!
//! Ids come back from two u64 fast fields and [`ProductDoc::source`] from the doc store (8 KiB
//! blocks, a block cache), for the page's hits only. The writer is created on the first write, so
//! another engine or process can open the same directory for reads while one holds tantivy's
//! writer lock (a write from it fails with [`SearchError::Engine`]); writes commit and reload the
//! reader before returning (reloads are serialised: tantivy's own background reload could race
//! one and publish older segments after it, so the reader reloads only when this engine asks);
//! a search picks up commits by other processes within a second. Blocking work runs in
//! `spawn_blocking`.
//!
//! Layout: [`schema`] (fields, analyzer, documents, the text query), [`writer`] (the lazily
//! created writer), [`segment`] (the per-segment column snapshots), [`filter`] (a query's filters
//! on one segment: counting and first matches), [`collect`] (text matches, facet counts, merging
//! sorted pages), [`cache`] (state shared by the clones: snapshots and per-generation caches) and
//! [`search`] (one search from start to end).

mod cache;
mod collect;
mod filter;
mod schema;
mod search;
mod segment;
mod writer;

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use tantivy::directory::MmapDirectory;
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, TantivyError, Term, Warmer};
use uuid::Uuid;

use crate::{BoxFuture, ProductDoc, SearchEngine, SearchError, SearchQuery, SearchResults};
use cache::State;
use schema::{ANALYZER, Fields, analyzer, build_schema, index_settings};

/// How often a search checks for commits made by another process (this engine's own writes
/// reload at once).
const EXTERNAL_COMMIT_CHECK: std::time::Duration = std::time::Duration::from_secs(1);

/// Decompressed doc-store blocks kept per segment (hits' `source`).
const DOC_STORE_CACHE_BLOCKS: usize = 1_000;

fn engine_err(e: impl std::fmt::Display) -> SearchError {
    SearchError::Engine(e.to_string())
}

/// Embedded tantivy implementation of [`SearchEngine`]. Cheap to clone (shared index, reader,
/// writer and caches).
#[derive(Clone)]
pub struct TantivyEngine {
    index: Index,
    reader: IndexReader,
    /// Serialises reloads. The reader reloads only when this engine asks (`ReloadPolicy::Manual`):
    /// tantivy's reloads are not serialised, and a background reload racing ours could publish
    /// older segments after ours (a write then seemed undone until the next reload).
    reloading: Arc<Mutex<()>>,
    /// When [`TantivyEngine::searcher`] last compared the reader with the index's newest commit
    /// (commits by another process are picked up within [`EXTERNAL_COMMIT_CHECK`]).
    checked: Arc<Mutex<std::time::Instant>>,
    /// Created on the first write (see [`TantivyEngine::open`]).
    writer: Arc<Mutex<Option<IndexWriter<TantivyDocument>>>>,
    fields: Fields,
    state: Arc<State>,
}

impl std::fmt::Debug for TantivyEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TantivyEngine").field("docs", &self.reader.searcher().num_docs()).finish_non_exhaustive()
    }
}

impl TantivyEngine {
    /// Opens the persistent index in `dir`, creating the directory and the index if missing.
    /// Fails if `dir` holds an index with a different schema. Opening takes no lock: tantivy's
    /// writer lock is taken on the first write, so several engines (or processes) can read the
    /// same directory while one of them writes.
    pub fn open(dir: &Path) -> Result<Self, SearchError> {
        std::fs::create_dir_all(dir).map_err(engine_err)?;
        let (schema, fields) = build_schema();
        let directory = MmapDirectory::open(dir).map_err(engine_err)?;
        let index = Index::builder().schema(schema).settings(index_settings()).open_or_create(directory).map_err(|e| match e {
            TantivyError::SchemaError(_) => SearchError::Engine(format!(
                "the search index in {} was built with another schema ({e}); delete the directory and reindex",
                dir.display()
            )),
            e => engine_err(e),
        })?;
        Self::from_index(index, fields)
    }

    /// The engine of the index in `dir`, opened once per process and directory (tantivy allows
    /// one writer per index): every caller in the process shares it.
    pub fn shared(dir: &Path) -> Result<Self, SearchError> {
        static OPEN: std::sync::LazyLock<Mutex<HashMap<std::path::PathBuf, TantivyEngine>>> = std::sync::LazyLock::new(Default::default);
        std::fs::create_dir_all(dir).map_err(engine_err)?;
        let key = dir.canonicalize().map_err(engine_err)?;
        let mut open = OPEN.lock().map_err(|_| SearchError::Engine("engine registry mutex poisoned".into()))?;
        if let Some(engine) = open.get(&key) {
            return Ok(engine.clone());
        }
        let engine = Self::open(&key)?;
        open.insert(key, engine.clone());
        Ok(engine)
    }

    /// Reloads the reader (one reload at a time, each reading the newest commit).
    pub(super) fn reload(&self) -> Result<(), SearchError> {
        let _one = self.reloading.lock().map_err(|_| SearchError::Engine("reload mutex poisoned".into()))?;
        self.reader.reload().map_err(engine_err)
    }

    /// The searcher to query. At most every [`EXTERNAL_COMMIT_CHECK`] it is compared with the
    /// index's newest commit and reloaded when another process committed since.
    pub(super) fn searcher(&self) -> Result<tantivy::Searcher, SearchError> {
        let searcher = self.reader.searcher();
        let due = {
            let mut checked = self.checked.lock().map_err(|_| SearchError::Engine("check mutex poisoned".into()))?;
            let due = checked.elapsed() >= EXTERNAL_COMMIT_CHECK;
            if due {
                *checked = std::time::Instant::now();
            }
            due
        };
        if !due {
            return Ok(searcher);
        }
        let newest: std::collections::BTreeMap<_, _> =
            self.index.searchable_segment_metas().map_err(engine_err)?.iter().map(|m| (m.id(), m.delete_opstamp())).collect();
        if &newest == searcher.generation().segments() {
            return Ok(searcher);
        }
        self.reload()?;
        Ok(self.reader.searcher())
    }

    /// A fresh index held in RAM (tests, throw-away local runs).
    pub fn in_memory() -> Result<Self, SearchError> {
        let (schema, fields) = build_schema();
        let index = Index::builder().schema(schema).settings(index_settings()).create_in_ram().map_err(engine_err)?;
        Self::from_index(index, fields)
    }

    fn from_index(index: Index, fields: Fields) -> Result<Self, SearchError> {
        index.tokenizers().register(ANALYZER, analyzer());
        let state = Arc::new(State::new());
        // The warmer builds the snapshots of new segments before a reload publishes them.
        let warmer: Arc<dyn Warmer> = Arc::clone(&state) as Arc<dyn Warmer>;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .doc_store_cache_num_blocks(DOC_STORE_CACHE_BLOCKS)
            .warmers(vec![Arc::downgrade(&warmer)])
            .try_into()
            .map_err(engine_err)?;
        let checked = Arc::new(Mutex::new(std::time::Instant::now()));
        Ok(Self { index, reader, reloading: Arc::default(), checked, writer: Arc::new(Mutex::new(None)), fields, state })
    }

    /// Turns the per-generation caches of text matches, facets and pages on or off (on by default);
    /// benchmarks switch them off to measure the uncached cost of every query.
    pub fn set_result_caching(&self, on: bool) {
        self.state.set_caching(on);
    }

    /// Merges all segments into one and reloads the reader: call after a bulk load, since
    /// per-query costs are paid per segment.
    pub async fn compact(&self) -> Result<(), SearchError> {
        let engine = self.clone();
        tokio::task::spawn_blocking(move || {
            engine.with_writer(writer::merge_all)?;
            engine.reload()
        })
        .await
        .map_err(engine_err)?
    }

    /// Number of searchable segments (diagnostics).
    pub fn segment_count(&self) -> usize {
        self.searcher().map(|s| s.segment_readers().len()).unwrap_or_default()
    }
}

impl SearchEngine for TantivyEngine {
    fn upsert(&self, docs: Vec<ProductDoc>) -> BoxFuture<'_, Result<(), SearchError>> {
        Box::pin(async move {
            if docs.is_empty() {
                return Ok(());
            }
            let fields = self.fields;
            self.write(move |w| {
                for d in &docs {
                    let (id, doc) = (d.id, fields.document(d));
                    // A delete only hits documents added before it, so a batch repeating an id keeps the last one.
                    w.delete_term(Term::from_field_text(fields.id, &id.to_string()));
                    w.add_document(doc)?;
                }
                Ok(())
            })
            .await
        })
    }

    fn delete(&self, ids: Vec<Uuid>) -> BoxFuture<'_, Result<(), SearchError>> {
        Box::pin(async move {
            if ids.is_empty() {
                return Ok(());
            }
            let id_field = self.fields.id;
            self.write(move |w| {
                for id in ids {
                    w.delete_term(Term::from_field_text(id_field, &id.to_string()));
                }
                Ok(())
            })
            .await
        })
    }

    fn search<'a>(&'a self, query: &'a SearchQuery) -> BoxFuture<'a, Result<SearchResults, SearchError>> {
        let engine = self.clone();
        let query = query.clone();
        Box::pin(async move { tokio::task::spawn_blocking(move || engine.search_blocking(&query)).await.map_err(engine_err)? })
    }

    fn count(&self) -> BoxFuture<'_, Result<u64, SearchError>> {
        Box::pin(async move { Ok(self.searcher()?.num_docs()) })
    }
}
