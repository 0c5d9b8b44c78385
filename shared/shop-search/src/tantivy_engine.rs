//! Embedded search engine on tantivy 0.27 (local runs, tests, benchmarks).
//!
//! Text matching and relevance are tantivy's:
//! - Text analyzer `shop`: `SimpleTokenizer` (splits on non-alphanumerics) + `LowerCaser` +
//!   `AsciiFoldingFilter`, used for name, description, brand text and tag text.
//! - Every query word must match in some field (AND across words, OR across fields). Per word and
//!   field: an exact BM25 term (weight 3), a prefix match (weight 1.5, words of ≥ 3 chars, not on
//!   the description) and a Levenshtein match (weight 1; distance 1 for 4–7 chars, 2 for ≥ 8, none
//!   for ≤ 3; a transposition costs 1), times the field boost (name 3, brand 2, tags 1.5,
//!   description 1). Fuzzy and prefix scorers are constant and an exact word also matches its
//!   prefix and fuzzy clauses, so in a field an exact word always scores above its typo neighbours.
//!
//! Filters, facets and sorts run on a per-segment snapshot of the filter columns ([`SegmentData`]:
//! flags, price, brand and category ordinals in one row per document), built once per segment by
//! a reader warmer before the segment becomes searchable (segments are immutable; deletes are
//! applied from the alive bitset at query time). All results are exact:
//! - Without text or tag filters, `total` and the facets come from *groups* — the documents of a
//!   segment grouped by (brand, categories, flags), each group sorted by price — so a query costs
//!   at most two binary searches per group instead of a pass over every match. With text (or
//!   tags), they are counted over the text matches (or tagged documents).
//! - The page: for relevance, the text matches sorted by score are scanned until the page is
//!   full; for the other sorts, either a per-segment permutation of the documents in sort order
//!   (newest-first built by the warmer, the others on first use) is scanned until the page is
//!   full, or the candidate list is scanned with a bounded heap, whichever the match count says is
//!   cheaper. Ties break by document address (reversed for descending sorts), the same way on
//!   every page.
//! - Per reader generation (every commit or reload starts a new one, so a write is visible at
//!   once) the engine caches the scored text matches per text, and — when computing them looked
//!   at many documents — `total` + facets per query without page and sort, and the first hits per
//!   query and sort. [`TantivyEngine::set_result_caching`] turns these caches off (benchmarks).
//!
//! Ids come back from two u64 fast fields and [`ProductDoc::source`] from the doc store (8 KiB
//! blocks, a block cache), for the page's hits only. The writer is created on the first write, so
//! another engine or process can open the same directory for reads while one holds tantivy's
//! writer lock (a write from it fails with [`SearchError::Engine`]); writes commit and reload the reader before returning; the reader also reloads on commits by
//! other processes (`OnCommitWithDelay`). Blocking work runs in `spawn_blocking`.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap, HashSet, VecDeque};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering as AtomicOrdering};
use std::sync::{Arc, Mutex, OnceLock};

use tantivy::collector::{Collector, SegmentCollector};
use tantivy::directory::MmapDirectory;
use tantivy::fastfield::AliveBitSet;
use tantivy::index::SegmentId;
use tantivy::query::{BooleanQuery, BoostQuery, FuzzyTermQuery, Occur, Query, TermQuery};
use tantivy::schema::{FAST, Field, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing, TextOptions, Value};
use tantivy::tokenizer::{AsciiFoldingFilter, LowerCaser, SimpleTokenizer, TextAnalyzer, TokenStream};
use tantivy::{
    DocAddress, DocId, DocSet, Index, IndexReader, IndexSettings, IndexWriter, ReloadPolicy, Score, Searcher, SearcherGeneration,
    SegmentOrdinal, SegmentReader, TERMINATED, TantivyDocument, TantivyError, Term, Warmer,
};
use uuid::Uuid;

use crate::{
    BoxFuture, Facet, Facets, Hit, PRICE_BAND_BOUNDS, ProductDoc, SearchEngine, SearchError, SearchQuery, SearchResults, Sort,
    price_band_index, price_bands,
};

const ANALYZER: &str = "shop";
const WRITER_MEMORY_BYTES: usize = 50_000_000;
/// Words of a text query beyond this many are ignored (bounds the cost of a query).
const MAX_QUERY_WORDS: usize = 10;
/// Decompressed doc-store blocks kept per segment (hits' `source`).
const DOC_STORE_CACHE_BLOCKS: usize = 1_000;
/// Cached `total` + facets per reader generation.
const FACET_CACHE_ENTRIES: usize = 4_096;
/// Cached pages per reader generation…
const PAGE_CACHE_ENTRIES: usize = 4_096;
/// …of queries whose page looked at this many candidates or more (cheaper ones are recomputed).
const PAGE_CACHE_MIN_SCANNED: u64 = 2_000;
/// Cached scored text matches per reader generation: at most this many texts…
const TEXT_CACHE_ENTRIES: usize = 256;
/// …holding at most this many matches in all (8 bytes each, plus a bitset per segment).
const TEXT_CACHE_MATCHES: usize = 8_000_000;

const NAME_BOOST: f32 = 3.0;
const DESCRIPTION_BOOST: f32 = 1.0;
const BRAND_BOOST: f32 = 2.0;
const TAGS_BOOST: f32 = 1.5;
const EXACT_WEIGHT: f32 = 3.0;
const PREFIX_WEIGHT: f32 = 1.5;
const FUZZY_WEIGHT: f32 = 1.0;

// Fast-field names.
const F_ID_HI: &str = "id_hi";
const F_ID_LO: &str = "id_lo";
const F_BRAND: &str = "brand";
const F_CATEGORY_PATH: &str = "category_path";
const F_PRICE: &str = "price_cents";
const F_RATING: &str = "rating";
const F_CREATED: &str = "created_at_ms";
const F_NAME_SORT: &str = "name_sort";
const F_ACTIVE: &str = "is_active";
const F_FEATURED: &str = "is_featured";
const F_IN_STOCK: &str = "in_stock";

// Bits of `SegmentData::flags`.
const ACTIVE: u8 = 1;
const IN_STOCK: u8 = 2;
const FEATURED: u8 = 4;
/// Ordinal of "no value" (a product without brand).
const NONE: u32 = u32::MAX;
/// Category "ordinal" of a document with several categories.
const MULTI: u32 = u32::MAX - 1;

fn engine_err(e: impl std::fmt::Display) -> SearchError {
    SearchError::Engine(e.to_string())
}

#[derive(Clone, Copy)]
struct Fields {
    id: Field,
    id_hi: Field,
    id_lo: Field,
    name: Field,
    name_sort: Field,
    description: Field,
    brand_text: Field,
    brand: Field,
    category_path: Field,
    tags: Field,
    tags_text: Field,
    price_cents: Field,
    rating: Field,
    created_at_ms: Field,
    is_active: Field,
    is_featured: Field,
    in_stock: Field,
    seller_id: Field,
    source: Field,
}

fn build_schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    // No positions: there are no phrase queries.
    let text = TextOptions::default()
        .set_indexing_options(TextFieldIndexing::default().set_tokenizer(ANALYZER).set_index_option(IndexRecordOption::WithFreqs));
    let fields = Fields {
        id: b.add_text_field("id", STRING),
        id_hi: b.add_u64_field(F_ID_HI, FAST),
        id_lo: b.add_u64_field(F_ID_LO, FAST),
        name: b.add_text_field("name", text.clone()),
        name_sort: b.add_text_field(F_NAME_SORT, FAST),
        description: b.add_text_field("description", text.clone()),
        brand_text: b.add_text_field("brand_text", text.clone()),
        brand: b.add_text_field(F_BRAND, FAST),
        category_path: b.add_text_field(F_CATEGORY_PATH, FAST),
        tags: b.add_text_field("tags", STRING),
        tags_text: b.add_text_field("tags_text", text),
        price_cents: b.add_i64_field(F_PRICE, FAST),
        rating: b.add_f64_field(F_RATING, FAST),
        created_at_ms: b.add_i64_field(F_CREATED, FAST),
        is_active: b.add_bool_field(F_ACTIVE, FAST),
        is_featured: b.add_bool_field(F_FEATURED, FAST),
        in_stock: b.add_bool_field(F_IN_STOCK, FAST),
        seller_id: b.add_text_field("seller_id", STRING),
        source: b.add_text_field("source", STORED),
    };
    (b.build(), fields)
}

fn analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default()).filter(LowerCaser).filter(AsciiFoldingFilter).build()
}

/// Doc-store blocks of 8 KiB: a hit's `source` decompresses half the bytes of tantivy's default
/// 16 KiB block (measured at 1M products: ~4 µs instead of ~5.5 µs per uncached hit), for a
/// slightly larger store.
fn index_settings() -> IndexSettings {
    IndexSettings { docstore_blocksize: 8_192, ..IndexSettings::default() }
}

/// Levenshtein distance allowed for a query word of `chars` characters.
fn fuzzy_distance(chars: usize) -> u8 {
    match chars {
        0..=3 => 0,
        4..=7 => 1,
        _ => 2,
    }
}

/// The distinct analyzed words of a text query, at most [`MAX_QUERY_WORDS`].
fn query_words(text: &str) -> Vec<String> {
    let mut words: Vec<String> = Vec::new();
    let mut analyzer = analyzer();
    let mut stream = analyzer.token_stream(text);
    while stream.advance() {
        let w = &stream.token().text;
        if !words.contains(w) {
            words.push(w.clone());
        }
    }
    words.truncate(MAX_QUERY_WORDS);
    words
}

/// Embedded tantivy implementation of [`SearchEngine`]. Cheap to clone (shared index, reader,
/// writer and caches).
#[derive(Clone)]
pub struct TantivyEngine {
    index: Index,
    reader: IndexReader,
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

    /// A fresh index held in RAM (tests, throw-away local runs).
    pub fn in_memory() -> Result<Self, SearchError> {
        let (schema, fields) = build_schema();
        let index = Index::builder().schema(schema).settings(index_settings()).create_in_ram().map_err(engine_err)?;
        Self::from_index(index, fields)
    }

    fn from_index(index: Index, fields: Fields) -> Result<Self, SearchError> {
        index.tokenizers().register(ANALYZER, analyzer());
        let state = Arc::new(State { segments: Mutex::new(HashMap::new()), current: Mutex::new(None), caching: AtomicBool::new(true) });
        // The warmer builds the snapshots of new segments before a reload publishes them.
        let warmer: Arc<dyn Warmer> = Arc::clone(&state) as Arc<dyn Warmer>;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::OnCommitWithDelay)
            .doc_store_cache_num_blocks(DOC_STORE_CACHE_BLOCKS)
            .warmers(vec![Arc::downgrade(&warmer)])
            .try_into()
            .map_err(engine_err)?;
        Ok(Self { index, reader, writer: Arc::new(Mutex::new(None)), fields, state })
    }

    /// Turns the per-generation caches of text matches, facets and pages on or off (on by default);
    /// benchmarks switch them off to measure the uncached cost of every query.
    pub fn set_result_caching(&self, on: bool) {
        self.state.caching.store(on, AtomicOrdering::Relaxed);
    }

    /// Merges all segments into one and reloads the reader: call after a bulk load, since
    /// per-query costs are paid per segment.
    pub async fn compact(&self) -> Result<(), SearchError> {
        let engine = self.clone();
        tokio::task::spawn_blocking(move || {
            engine.with_writer(|writer| {
                // A background merge may hold some of the segments: retry with a fresh list.
                let mut attempts = 0;
                loop {
                    let segments = writer.index().searchable_segment_ids().map_err(engine_err)?;
                    if segments.len() <= 1 {
                        return Ok(());
                    }
                    match writer.merge(&segments).wait() {
                        Ok(_) => return Ok(()),
                        Err(e) if attempts >= 100 => return Err(engine_err(e)),
                        Err(e) => {
                            tracing::debug!(error = %e, "compact: merge refused, retrying");
                            attempts += 1;
                            std::thread::sleep(std::time::Duration::from_millis(200));
                        }
                    }
                }
            })?;
            engine.reader.reload().map_err(engine_err)
        })
        .await
        .map_err(engine_err)?
    }

    /// Number of searchable segments (diagnostics).
    pub fn segment_count(&self) -> usize {
        self.reader.searcher().segment_readers().len()
    }

    /// Runs `f` on the writer, creating it first if this engine has none yet. Fails with
    /// [`SearchError::Engine`] when another engine or process holds the index's writer lock.
    fn with_writer<R>(&self, f: impl FnOnce(&mut IndexWriter<TantivyDocument>) -> Result<R, SearchError>) -> Result<R, SearchError> {
        let mut slot = self.writer.lock().map_err(|_| SearchError::Engine("index writer mutex poisoned".into()))?;
        if slot.is_none() {
            let writer = self.index.writer(WRITER_MEMORY_BYTES).map_err(|e| match e {
                TantivyError::LockFailure(..) => SearchError::Engine(format!(
                    "cannot write to the search index: its writer lock is held by another engine or process ({e}); \
                     tantivy allows one writer per index"
                )),
                e => engine_err(e),
            })?;
            *slot = Some(writer);
        }
        match slot.as_mut() {
            Some(writer) => f(writer),
            None => Err(SearchError::Engine("index writer missing".into())),
        }
    }

    fn to_document(f: &Fields, d: &ProductDoc) -> TantivyDocument {
        let mut doc = TantivyDocument::default();
        let (hi, lo) = d.id.as_u64_pair();
        doc.add_text(f.id, d.id.to_string());
        doc.add_u64(f.id_hi, hi);
        doc.add_u64(f.id_lo, lo);
        doc.add_text(f.name, &d.name);
        doc.add_text(f.name_sort, d.name.to_lowercase());
        doc.add_text(f.description, &d.description);
        if let Some(brand) = d.brand.as_deref().map(str::trim).filter(|b| !b.is_empty()) {
            doc.add_text(f.brand_text, brand);
            doc.add_text(f.brand, brand);
        }
        let mut path = d.category_path.clone();
        if !path.contains(&d.category_id) {
            path.push(d.category_id);
        }
        for c in path {
            doc.add_text(f.category_path, c.to_string());
        }
        for tag in &d.tags {
            doc.add_text(f.tags, tag.trim().to_lowercase());
            doc.add_text(f.tags_text, tag);
        }
        doc.add_i64(f.price_cents, d.price_cents);
        doc.add_f64(f.rating, d.rating);
        doc.add_i64(f.created_at_ms, (d.created_at.unix_timestamp_nanos() / 1_000_000) as i64);
        doc.add_bool(f.is_active, d.is_active);
        doc.add_bool(f.is_featured, d.is_featured);
        doc.add_bool(f.in_stock, d.in_stock);
        doc.add_text(f.seller_id, d.seller_id.to_string());
        if let Some(source) = &d.source {
            doc.add_text(f.source, source);
        }
        doc
    }

    /// Runs `ops` on the writer, commits and reloads the reader, all on a blocking thread.
    async fn write(
        &self,
        ops: impl FnOnce(&IndexWriter<TantivyDocument>) -> tantivy::Result<()> + Send + 'static,
    ) -> Result<(), SearchError> {
        let engine = self.clone();
        tokio::task::spawn_blocking(move || {
            engine.with_writer(|writer| {
                if let Err(e) = ops(writer).and_then(|()| writer.commit().map(|_| ())) {
                    let _ = writer.rollback();
                    return Err(engine_err(e));
                }
                Ok(())
            })?;
            engine.reader.reload().map_err(engine_err)
        })
        .await
        .map_err(engine_err)?
    }

    fn text_query(&self, words: &[String]) -> Box<dyn Query> {
        let f = &self.fields;
        // (field, boost, prefix matching?) — no prefix expansion on descriptions: their term
        // dictionary is the largest and a short prefix would union huge posting lists.
        let text_fields = [
            (f.name, NAME_BOOST, true),
            (f.description, DESCRIPTION_BOOST, false),
            (f.brand_text, BRAND_BOOST, true),
            (f.tags_text, TAGS_BOOST, true),
        ];
        let per_word = words
            .iter()
            .map(|word| {
                let chars = word.chars().count();
                let distance = fuzzy_distance(chars);
                let mut alternatives: Vec<(Occur, Box<dyn Query>)> = Vec::new();
                for (field, boost, prefix) in text_fields {
                    let term = Term::from_field_text(field, word);
                    alternatives.push((
                        Occur::Should,
                        Box::new(BoostQuery::new(
                            Box::new(TermQuery::new(term.clone(), IndexRecordOption::WithFreqs)),
                            boost * EXACT_WEIGHT,
                        )),
                    ));
                    if prefix && chars >= 3 {
                        let prefix = FuzzyTermQuery::new_prefix(term.clone(), 0, true);
                        alternatives.push((Occur::Should, Box::new(BoostQuery::new(Box::new(prefix), boost * PREFIX_WEIGHT))));
                    }
                    if distance > 0 {
                        let fuzzy = FuzzyTermQuery::new(term, distance, true);
                        alternatives.push((Occur::Should, Box::new(BoostQuery::new(Box::new(fuzzy), boost * FUZZY_WEIGHT))));
                    }
                }
                (Occur::Must, Box::new(BooleanQuery::new(alternatives)) as Box<dyn Query>)
            })
            .collect();
        Box::new(BooleanQuery::new(per_word))
    }

    /// The scored matches of `words` in this searcher (cached per generation).
    fn text_matches(&self, searcher: &Searcher, cache: &GenCache, words: &[String]) -> Result<Arc<TextMatches>, SearchError> {
        let caching = self.state.caching.load(AtomicOrdering::Relaxed);
        let key = words.join("\u{1f}");
        if caching && let Some(hit) = cache.texts.lock().ok().and_then(|mut c| c.get(&key)) {
            return Ok(hit);
        }
        let query = self.text_query(words);
        let mut matches = searcher.search(&query, &TextCollector).map_err(engine_err)?;
        matches.reused = caching;
        let matches = Arc::new(matches);
        if caching && let Ok(mut c) = cache.texts.lock() {
            let weight = matches.segments.iter().map(|s| s.docs.len() + 64).sum();
            c.insert(key, Arc::clone(&matches), weight);
        }
        Ok(matches)
    }

    /// The caches of the searcher's generation (a new generation drops the previous one's).
    fn generation(&self, searcher: &Searcher) -> Result<Arc<GenCache>, SearchError> {
        let generation = searcher.generation().generation_id();
        let segments = searcher.segment_readers().len();
        let mut current = self.state.current.lock().map_err(|_| SearchError::Engine("cache mutex poisoned".into()))?;
        let newest = current.as_ref().map(|c| c.generation);
        if let Some(cache) = current.as_ref().filter(|c| c.generation == generation) {
            return Ok(Arc::clone(cache));
        }
        let fresh = Arc::new(GenCache::new(generation, segments));
        if newest.is_some_and(|newest| generation < newest) {
            // A query still running on an older searcher: uncached, and the newer caches stay.
            return Ok(fresh);
        }
        *current = Some(Arc::clone(&fresh));
        Ok(fresh)
    }

    fn search_blocking(&self, q: &SearchQuery) -> Result<SearchResults, SearchError> {
        q.validate()?;
        let (offset, limit) = q.window()?;
        let searcher = self.reader.searcher();
        let cache = self.generation(&searcher)?;
        let data = self.state.segment_data(&searcher)?;
        let words = q.text().map(query_words).unwrap_or_default();
        let text = if words.is_empty() { None } else { Some(self.text_matches(&searcher, &cache, &words)?) };
        let readers = searcher.segment_readers();
        let filters = readers
            .iter()
            .enumerate()
            .map(|(ord, seg)| Filter::new(q, &data[ord], seg, &self.fields, text.as_ref().map(|t| &t.segments[ord])))
            .collect::<Result<Vec<_>, SearchError>>()?;

        let caching = self.state.caching.load(AtomicOrdering::Relaxed);
        let key = facet_key(q, &words);
        let cached = if caching { cache.facets.lock().ok().and_then(|mut c| c.get(&key)) } else { None };
        let counted = match cached {
            Some(entry) => entry,
            None => {
                let mut expensive = false;
                let counts: Vec<Counts> = filters
                    .iter()
                    .enumerate()
                    .map(|(ord, f)| {
                        let (counts, cheap) = f.count(cache.deleted(ord, &readers[ord]));
                        expensive |= !cheap;
                        counts
                    })
                    .collect();
                let entry = Arc::new(FacetEntry::merge(&data, counts));
                if caching
                    && expensive
                    && let Ok(mut c) = cache.facets.lock()
                {
                    c.insert(key.clone(), Arc::clone(&entry), 1);
                }
                entry
            }
        };

        let mut hits = Vec::new();
        if limit > 0 && counted.total > offset as u64 {
            let need = offset + limit;
            let sort = q.effective_sort();
            let page_key = format!("{key}|{sort:?}|{need}");
            let cached = if caching { cache.pages.lock().ok().and_then(|mut c| c.get(&page_key)) } else { None };
            let page = match cached {
                Some(page) => page,
                None => {
                    let (page, scanned) = self.page(&searcher, &cache, &data, &filters, &counted, sort, text.as_deref(), need)?;
                    let page = Arc::new(page);
                    if caching
                        && scanned >= PAGE_CACHE_MIN_SCANNED
                        && let Ok(mut c) = cache.pages.lock()
                    {
                        c.insert(page_key, Arc::clone(&page), 1);
                    }
                    page
                }
            };
            hits = self.hits(&searcher, page.iter().copied().skip(offset).take(limit))?;
        }
        Ok(SearchResults { hits, total: counted.total, facets: counted.facets.clone() })
    }

    /// The first `need` matches in `sort` order, and how many candidates that looked at.
    #[allow(clippy::too_many_arguments)]
    fn page(
        &self,
        searcher: &Searcher,
        cache: &GenCache,
        data: &[Arc<SegmentData>],
        filters: &[Filter<'_>],
        counted: &FacetEntry,
        sort: Sort,
        text: Option<&TextMatches>,
        need: usize,
    ) -> Result<(Vec<(f32, DocAddress)>, u64), SearchError> {
        let readers = searcher.segment_readers();
        let mut scanned = 0;
        if sort == Sort::Relevance
            && let Some(text) = text
        {
            let text_reused = text.reused;
            let mut all: Vec<(f32, DocAddress)> = Vec::new();
            for (ord, f) in filters.iter().enumerate() {
                let seg = ord as SegmentOrdinal;
                let (top, n) = f.top_by_score(need, text_reused);
                scanned += n;
                all.extend(top.into_iter().map(|(doc, score)| (score, DocAddress::new(seg, doc))));
            }
            all.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
            all.truncate(need);
            return Ok((all, scanned));
        }
        let (key, descending) = SortKey::of(sort);
        let mut per_segment = Vec::new();
        for (ord, f) in filters.iter().enumerate() {
            let seg_total = counted.segment_totals[ord];
            if seg_total == 0 {
                continue;
            }
            let (docs, n) = f.top_by_key(&readers[ord], key, descending, need, seg_total, cache.deleted(ord, &readers[ord]))?;
            scanned += n;
            per_segment.push((ord as SegmentOrdinal, docs));
        }
        let mut merged = merge_sorted(readers, data, key, descending, per_segment)?;
        merged.truncate(need);
        Ok((merged.into_iter().map(|a| (0.0, a)).collect(), scanned))
    }

    /// Ids from the u64 fast fields and `source` from the doc store, for the page's hits only.
    fn hits(&self, searcher: &Searcher, page: impl Iterator<Item = (f32, DocAddress)>) -> Result<Vec<Hit>, SearchError> {
        let mut columns = HashMap::new();
        let mut hits = Vec::new();
        for (score, addr) in page {
            let (hi, lo) = match columns.entry(addr.segment_ord) {
                std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::hash_map::Entry::Vacant(e) => {
                    let ff = searcher.segment_reader(addr.segment_ord).fast_fields();
                    e.insert((ff.u64(F_ID_HI).map_err(engine_err)?, ff.u64(F_ID_LO).map_err(engine_err)?))
                }
            };
            let (Some(hi), Some(lo)) = (hi.first(addr.doc_id), lo.first(addr.doc_id)) else {
                return Err(SearchError::Engine("indexed document without id".into()));
            };
            let stored: TantivyDocument = searcher.doc(addr).map_err(engine_err)?;
            let source = stored.get_first(self.fields.source).and_then(|v| v.as_str()).map(str::to_owned);
            hits.push(Hit { id: Uuid::from_u64_pair(hi, lo), score, source });
        }
        Ok(hits)
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
                    let (id, doc) = (d.id, Self::to_document(&fields, d));
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
        Box::pin(async move { Ok(self.reader.searcher().num_docs()) })
    }
}

// ---- caches ---------------------------------------------------------------------------------

/// State shared by the clones of an engine.
struct State {
    /// Column snapshots by segment (kept while the segment is searchable).
    segments: Mutex<HashMap<SegmentId, Arc<SegmentData>>>,
    /// The caches of the newest reader generation seen.
    current: Mutex<Option<Arc<GenCache>>>,
    caching: AtomicBool,
}

impl State {
    /// The column snapshots of the searcher's segments (built by the warmer, or here if it failed).
    fn segment_data(&self, searcher: &Searcher) -> Result<Vec<Arc<SegmentData>>, SearchError> {
        let mut known = self.segments.lock().map_err(|_| SearchError::Engine("segment cache mutex poisoned".into()))?;
        searcher
            .segment_readers()
            .iter()
            .map(|seg| match known.get(&seg.segment_id()) {
                Some(data) => Ok(Arc::clone(data)),
                None => {
                    let data = Arc::new(SegmentData::build(seg).map_err(engine_err)?);
                    known.insert(seg.segment_id(), Arc::clone(&data));
                    Ok(data)
                }
            })
            .collect()
    }
}

impl Warmer for State {
    /// Builds the snapshots and the newest-first order (the default listing) of new segments.
    fn warm(&self, searcher: &Searcher) -> tantivy::Result<()> {
        match self.segment_data(searcher) {
            Ok(data) => {
                for (seg, data) in searcher.segment_readers().iter().zip(data) {
                    if let Err(e) = data.order(seg, SortKey::Created) {
                        tracing::warn!(error = %e, "search warmer: sort order not built");
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "search warmer: segment snapshots not built"),
        }
        Ok(())
    }

    /// Drops the snapshots of segments no live searcher uses.
    fn garbage_collect(&self, live_generations: &[&SearcherGeneration]) {
        if let Ok(mut known) = self.segments.lock() {
            known.retain(|id, _| live_generations.iter().any(|g| g.segments().contains_key(id)));
        }
    }
}

/// The first hits of a query in order, with their scores.
type Page = Vec<(f32, DocAddress)>;

/// Caches valid for one reader generation (one set of segments and deletes).
struct GenCache {
    generation: u64,
    facets: Mutex<Fifo<Arc<FacetEntry>>>,
    /// First `need` matches per query (without page, with sort) and `need`.
    pages: Mutex<Fifo<Arc<Page>>>,
    texts: Mutex<Fifo<Arc<TextMatches>>>,
    /// Deleted documents per segment ordinal.
    deleted: Vec<OnceLock<Vec<DocId>>>,
}

impl GenCache {
    fn new(generation: u64, segments: usize) -> Self {
        Self {
            generation,
            facets: Mutex::new(Fifo::new(FACET_CACHE_ENTRIES, usize::MAX)),
            pages: Mutex::new(Fifo::new(PAGE_CACHE_ENTRIES, usize::MAX)),
            texts: Mutex::new(Fifo::new(TEXT_CACHE_ENTRIES, TEXT_CACHE_MATCHES)),
            deleted: (0..segments).map(|_| OnceLock::new()).collect(),
        }
    }

    /// The deleted documents of segment `ord`.
    fn deleted<'a>(&'a self, ord: usize, seg: &SegmentReader) -> &'a [DocId] {
        let compute = || match seg.alive_bitset() {
            Some(alive) => (0..seg.max_doc()).filter(|&d| alive.is_deleted(d)).collect(),
            None => Vec::new(),
        };
        match self.deleted.get(ord) {
            Some(slot) => slot.get_or_init(compute),
            None => &[],
        }
    }
}

/// A bounded map evicting the oldest insertions first, by entry count and total weight.
struct Fifo<V> {
    map: HashMap<String, (V, usize)>,
    order: VecDeque<String>,
    max_entries: usize,
    max_weight: usize,
    weight: usize,
}

impl<V: Clone> Fifo<V> {
    fn new(max_entries: usize, max_weight: usize) -> Self {
        Self { map: HashMap::new(), order: VecDeque::new(), max_entries, max_weight, weight: 0 }
    }

    fn get(&mut self, key: &str) -> Option<V> {
        self.map.get(key).map(|(v, _)| v.clone())
    }

    fn insert(&mut self, key: String, value: V, weight: usize) {
        if weight > self.max_weight || self.map.contains_key(&key) {
            return;
        }
        while self.map.len() >= self.max_entries || self.weight + weight > self.max_weight {
            let Some(old) = self.order.pop_front() else { break };
            if let Some((_, w)) = self.map.remove(&old) {
                self.weight -= w;
            }
        }
        self.weight += weight;
        self.order.push_back(key.clone());
        self.map.insert(key, (value, weight));
    }
}

/// The facet cache key: the query without page, limit and sort.
fn facet_key(q: &SearchQuery, words: &[String]) -> String {
    fn norm(values: &[String]) -> Vec<String> {
        let mut v: Vec<String> = values.iter().map(|s| s.trim().to_lowercase()).collect();
        v.sort();
        v.dedup();
        v
    }
    let mut categories = q.categories.clone();
    categories.sort();
    categories.dedup();
    format!(
        "{words:?}|{categories:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{}",
        norm(&q.brands),
        q.min_price_cents,
        q.max_price_cents,
        norm(&q.tags),
        q.in_stock,
        q.featured,
        q.include_inactive
    )
}

// ---- text matches ---------------------------------------------------------------------------

/// A simple fixed-size bitset over a segment's documents.
struct Bits(Vec<u64>);

impl Bits {
    fn new(max_doc: u32) -> Self {
        Bits(vec![0; (max_doc as usize).div_ceil(64)])
    }

    fn insert(&mut self, doc: DocId) {
        if let Some(w) = self.0.get_mut(doc as usize / 64) {
            *w |= 1 << (doc % 64);
        }
    }

    #[inline]
    fn contains(&self, doc: DocId) -> bool {
        self.0.get(doc as usize / 64).is_some_and(|w| w & (1 << (doc % 64)) != 0)
    }

    fn len(&self) -> usize {
        self.0.iter().map(|w| w.count_ones() as usize).sum()
    }

    fn iter(&self) -> impl Iterator<Item = DocId> + '_ {
        self.0.iter().enumerate().flat_map(|(i, &w)| {
            let mut w = w;
            std::iter::from_fn(move || {
                (w != 0).then(|| {
                    let bit = w.trailing_zeros();
                    w &= w - 1;
                    i as u32 * 64 + bit
                })
            })
        })
    }
}

/// The live matches of a text query in one generation, per segment ordinal.
struct TextMatches {
    segments: Vec<SegmentText>,
    /// Whether later queries reuse these matches (then sorting them by score once pays).
    reused: bool,
}

struct SegmentText {
    /// In document order.
    docs: Vec<(DocId, Score)>,
    bits: Bits,
    /// `docs` by [`score_order`] (sorted on first use).
    by_score: OnceLock<Vec<(DocId, Score)>>,
}

/// Orders matches by score descending, then document ascending (scores are finite and ≥ 0, so
/// their bits order like the values).
#[inline]
fn score_order(doc: DocId, score: Score) -> u64 {
    (u64::from(!score.max(0.0).to_bits()) << 32) | u64::from(doc)
}

/// Collects every live match with its score.
struct TextCollector;

struct TextSegmentCollector {
    ord: SegmentOrdinal,
    max_doc: u32,
    docs: Vec<(DocId, Score)>,
}

impl Collector for TextCollector {
    type Fruit = TextMatches;
    type Child = TextSegmentCollector;

    fn for_segment(&self, ord: SegmentOrdinal, segment: &SegmentReader) -> tantivy::Result<TextSegmentCollector> {
        Ok(TextSegmentCollector { ord, max_doc: segment.max_doc(), docs: Vec::new() })
    }

    fn requires_scoring(&self) -> bool {
        true
    }

    fn merge_fruits(&self, mut fruits: Vec<(SegmentOrdinal, SegmentText)>) -> tantivy::Result<TextMatches> {
        fruits.sort_by_key(|(ord, _)| *ord);
        Ok(TextMatches { segments: fruits.into_iter().map(|(_, s)| s).collect(), reused: false })
    }
}

impl SegmentCollector for TextSegmentCollector {
    type Fruit = (SegmentOrdinal, SegmentText);

    fn collect(&mut self, doc: DocId, score: Score) {
        self.docs.push((doc, score));
    }

    fn harvest(self) -> (SegmentOrdinal, SegmentText) {
        let mut bits = Bits::new(self.max_doc);
        for &(doc, _) in &self.docs {
            bits.insert(doc);
        }
        (self.ord, SegmentText { docs: self.docs, bits, by_score: OnceLock::new() })
    }
}

// ---- segment snapshots ----------------------------------------------------------------------

/// The filter and facet columns of one segment as plain arrays, plus the price-sorted groups and
/// (on first use) the sort permutations.
struct SegmentData {
    max_doc: u32,
    rows: Vec<Row>,
    brand_names: Vec<String>,
    /// `brand_names` lowercased (the brand filter is case-insensitive).
    brand_lower: Vec<String>,
    /// Category ordinals of document `d`: `cat_vals[cat_start[d]..cat_start[d + 1]]`.
    cat_start: Vec<u32>,
    cat_vals: Vec<u32>,
    cat_names: Vec<String>,
    groups: Option<Groups>,
    orders: [OnceLock<SortOrder>; 4],
}

/// The filter and facet values of one document, read together (one cache line).
#[derive(Clone, Copy, Default)]
struct Row {
    price: i64,
    /// Brand ordinal ([`NONE`] without brand).
    brand: u32,
    /// The category ordinal of a document with exactly one ([`NONE`]: none; [`MULTI`]: several,
    /// in `SegmentData::cat_vals`).
    cat: u32,
    /// `ACTIVE | IN_STOCK | FEATURED` bits.
    flags: u8,
}

/// Documents grouped by (brand, categories, flags); within a group sorted by (price, doc).
struct Groups {
    heads: Vec<GroupHead>,
    /// Category ordinals of the groups (`GroupHead::cats` ranges).
    cats: Vec<u32>,
    prices: Vec<i64>,
    docs: Vec<DocId>,
}

struct GroupHead {
    brand: u32,
    flags: u8,
    cats: (u32, u32),
    /// Positions in `prices`/`docs` where each price band starts; `bands[6]` is the group's end.
    bands: [u32; 7],
}

/// Documents of a segment in ascending order of a sort key (ties by document), and each
/// document's position in that order.
struct SortOrder {
    perm: Vec<DocId>,
    rank: Vec<u32>,
}

fn names(column: Option<&tantivy::columnar::StrColumn>) -> tantivy::Result<Vec<String>> {
    let Some(column) = column else { return Ok(Vec::new()) };
    (0..column.num_terms() as u64)
        .map(|ord| {
            let mut s = String::new();
            column.ord_to_str(ord, &mut s)?;
            Ok(s)
        })
        .collect()
}

impl SegmentData {
    fn build(seg: &SegmentReader) -> tantivy::Result<Self> {
        let max_doc = seg.max_doc();
        let n = max_doc as usize;
        let ff = seg.fast_fields();
        let mut flags = vec![0u8; n];
        for (name, bit) in [(F_ACTIVE, ACTIVE), (F_IN_STOCK, IN_STOCK), (F_FEATURED, FEATURED)] {
            if let Some(column) = ff.column_opt::<bool>(name)? {
                for (doc, f) in flags.iter_mut().enumerate() {
                    if column.first(doc as DocId) == Some(true) {
                        *f |= bit;
                    }
                }
            }
        }
        let mut price = vec![0i64; n];
        if let Some(column) = ff.column_opt::<i64>(F_PRICE)? {
            for (doc, p) in price.iter_mut().enumerate() {
                *p = column.first(doc as DocId).unwrap_or(0);
            }
        }
        let brand_column = ff.str(F_BRAND)?;
        let mut brand = vec![NONE; n];
        if let Some(column) = &brand_column {
            for (doc, b) in brand.iter_mut().enumerate() {
                *b = column.ords().first(doc as DocId).map_or(NONE, |o| o as u32);
            }
        }
        let cat_column = ff.str(F_CATEGORY_PATH)?;
        let mut cat_start = Vec::with_capacity(n + 1);
        let mut cat_vals = Vec::with_capacity(n);
        cat_start.push(0);
        for doc in 0..max_doc {
            if let Some(column) = &cat_column {
                let from = cat_vals.len();
                cat_vals.extend(column.term_ords(doc).map(|o| o as u32));
                cat_vals[from..].sort_unstable();
                let mut end = from;
                for i in from..cat_vals.len() {
                    if i == from || cat_vals[i] != cat_vals[end - 1] {
                        cat_vals[end] = cat_vals[i];
                        end += 1;
                    }
                }
                cat_vals.truncate(end);
            }
            cat_start.push(cat_vals.len() as u32);
        }
        let groups = Groups::build(&flags, &price, &brand, &cat_start, &cat_vals);
        let rows = (0..n)
            .map(|d| Row {
                price: price[d],
                brand: brand[d],
                cat: match cat_start[d + 1] - cat_start[d] {
                    0 => NONE,
                    1 => cat_vals[cat_start[d] as usize],
                    _ => MULTI,
                },
                flags: flags[d],
            })
            .collect();
        let brand_names = names(brand_column.as_ref())?;
        Ok(Self {
            brand_lower: brand_names.iter().map(|b| b.to_lowercase()).collect(),
            brand_names,
            max_doc,
            rows,
            cat_start,
            cat_vals,
            cat_names: names(cat_column.as_ref())?,
            groups,
            orders: Default::default(),
        })
    }

    #[inline]
    fn cats(&self, doc: DocId) -> &[u32] {
        let d = doc as usize;
        &self.cat_vals[self.cat_start[d] as usize..self.cat_start[d + 1] as usize]
    }

    /// The permutation of `key` (built on first use).
    fn order(&self, seg: &SegmentReader, key: SortKey) -> tantivy::Result<&SortOrder> {
        let slot = &self.orders[key as usize];
        if let Some(order) = slot.get() {
            return Ok(order);
        }
        let n = self.max_doc;
        let mut perm: Vec<DocId> = (0..n).collect();
        let ff = seg.fast_fields();
        match key {
            SortKey::Price => perm.sort_by_key(|&d| (self.rows[d as usize].price, d)),
            SortKey::Created => {
                let column = ff.column_opt::<i64>(F_CREATED)?;
                let keys: Vec<i64> = (0..n).map(|d| column.as_ref().and_then(|c| c.first(d)).unwrap_or(i64::MIN)).collect();
                perm.sort_by_key(|&d| (keys[d as usize], d));
            }
            SortKey::Rating => {
                let column = ff.column_opt::<f64>(F_RATING)?;
                let keys: Vec<f64> = (0..n).map(|d| column.as_ref().and_then(|c| c.first(d)).unwrap_or(f64::MIN)).collect();
                perm.sort_by(|&a, &b| keys[a as usize].total_cmp(&keys[b as usize]).then(a.cmp(&b)));
            }
            SortKey::Name => {
                // Term ordinals are in byte order of the lowercased names.
                let column = ff.str(F_NAME_SORT)?;
                let keys: Vec<u64> = (0..n).map(|d| column.as_ref().and_then(|c| c.ords().first(d)).unwrap_or(0)).collect();
                perm.sort_by_key(|&d| (keys[d as usize], d));
            }
        }
        let mut rank = vec![0u32; n as usize];
        for (i, &d) in perm.iter().enumerate() {
            rank[d as usize] = i as u32;
        }
        Ok(slot.get_or_init(|| SortOrder { perm, rank }))
    }
}

impl Groups {
    /// `None` when grouping does not pay: more than one group per 8 documents.
    fn build(flags: &[u8], price: &[i64], brand: &[u32], cat_start: &[u32], cat_vals: &[u32]) -> Option<Groups> {
        let n = flags.len();
        let limit = n / 8 + 16;
        let mut catsets: HashMap<&[u32], u32> = HashMap::new();
        let mut keys: HashMap<(u32, u8, u32), u32> = HashMap::new();
        let mut heads: Vec<(u32, u8, &[u32])> = Vec::new();
        let mut group_of = Vec::with_capacity(n);
        for d in 0..n {
            let cats = &cat_vals[cat_start[d] as usize..cat_start[d + 1] as usize];
            let next = catsets.len() as u32;
            let catset = *catsets.entry(cats).or_insert(next);
            let next = heads.len() as u32;
            let g = *keys.entry((brand[d], flags[d], catset)).or_insert(next);
            if g == next {
                heads.push((brand[d], flags[d], cats));
                if heads.len() > limit {
                    return None;
                }
            }
            group_of.push(g);
        }
        let mut start = vec![0u32; heads.len() + 1];
        for &g in &group_of {
            start[g as usize + 1] += 1;
        }
        for i in 0..heads.len() {
            start[i + 1] += start[i];
        }
        let mut fill = start.clone();
        let mut docs = vec![0 as DocId; n];
        for (d, &g) in group_of.iter().enumerate() {
            docs[fill[g as usize] as usize] = d as DocId;
            fill[g as usize] += 1;
        }
        let mut group_cats = Vec::new();
        let mut out = Vec::with_capacity(heads.len());
        let mut prices = vec![0i64; n];
        for (g, (brand, flags, cats)) in heads.into_iter().enumerate() {
            let (s, e) = (start[g] as usize, start[g + 1] as usize);
            docs[s..e].sort_unstable_by_key(|&d| (price[d as usize], d));
            for i in s..e {
                prices[i] = price[docs[i] as usize];
            }
            let mut bands = [s as u32; 7];
            for (b, bound) in PRICE_BAND_BOUNDS.iter().enumerate() {
                bands[b + 1] = (s + prices[s..e].partition_point(|p| p < bound)) as u32;
            }
            bands[6] = e as u32;
            let from = group_cats.len() as u32;
            group_cats.extend_from_slice(cats);
            out.push(GroupHead { brand, flags, cats: (from, group_cats.len() as u32), bands });
        }
        Some(Groups { heads: out, cats: group_cats, prices, docs })
    }
}

// ---- query evaluation -----------------------------------------------------------------------

/// The sort keys with a permutation (index into `SegmentData::orders`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum SortKey {
    Created = 0,
    Price = 1,
    Name = 2,
    Rating = 3,
}

impl SortKey {
    /// The key and direction of a non-relevance sort (relevance without text is newest first).
    fn of(sort: Sort) -> (SortKey, bool) {
        match sort {
            Sort::Relevance | Sort::Newest => (SortKey::Created, true),
            Sort::PriceAsc => (SortKey::Price, false),
            Sort::PriceDesc => (SortKey::Price, true),
            Sort::NameAsc => (SortKey::Name, false),
            Sort::NameDesc => (SortKey::Name, true),
            Sort::Rating => (SortKey::Rating, true),
        }
    }
}

/// Facet counts of one segment, by ordinal.
struct Counts {
    total: u64,
    brands: Vec<u64>,
    categories: Vec<u64>,
    bands: [u64; 6],
}

impl Counts {
    fn new(data: &SegmentData) -> Self {
        Counts { total: 0, brands: vec![0; data.brand_names.len()], categories: vec![0; data.cat_names.len()], bands: [0; 6] }
    }

    /// Adds (`delta` 1) or removes (`u64::MAX`, i.e. -1 wrapping) a document.
    #[inline]
    fn add(&mut self, data: &SegmentData, doc: DocId, delta: u64) {
        let row = &data.rows[doc as usize];
        self.total = self.total.wrapping_add(delta);
        if let Some(c) = self.brands.get_mut(row.brand as usize) {
            *c = c.wrapping_add(delta);
        }
        match row.cat {
            NONE => {}
            MULTI => {
                for &c in data.cats(doc) {
                    self.categories[c as usize] = self.categories[c as usize].wrapping_add(delta);
                }
            }
            c => {
                if let Some(n) = self.categories.get_mut(c as usize) {
                    *n = n.wrapping_add(delta);
                }
            }
        }
        let band = &mut self.bands[price_band_index(row.price)];
        *band = band.wrapping_add(delta);
    }
}

/// `total`, facets and the per-segment match counts of a query.
struct FacetEntry {
    total: u64,
    facets: Facets,
    segment_totals: Vec<u64>,
}

impl FacetEntry {
    fn merge(data: &[Arc<SegmentData>], counts: Vec<Counts>) -> FacetEntry {
        fn sorted(mut v: Vec<Facet>) -> Vec<Facet> {
            v.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.value.cmp(&b.value)));
            v
        }
        let mut total = 0;
        let mut bands = [0u64; 6];
        // Lowercased brand → (first seen spelling, count).
        let mut brands: HashMap<&str, (&str, u64)> = HashMap::new();
        let mut categories: HashMap<&str, u64> = HashMap::new();
        let mut segment_totals = Vec::with_capacity(counts.len());
        for (seg, c) in data.iter().zip(&counts) {
            total += c.total;
            segment_totals.push(c.total);
            for (o, n) in bands.iter_mut().zip(c.bands) {
                *o += n;
            }
            for (ord, &n) in c.brands.iter().enumerate().filter(|(_, n)| **n > 0) {
                brands.entry(seg.brand_lower[ord].as_str()).or_insert((seg.brand_names[ord].as_str(), 0)).1 += n;
            }
            for (ord, &n) in c.categories.iter().enumerate().filter(|(_, n)| **n > 0) {
                *categories.entry(seg.cat_names[ord].as_str()).or_default() += n;
            }
        }
        let facets = Facets {
            brands: sorted(brands.into_values().map(|(value, count)| Facet { value: value.to_owned(), count }).collect()),
            categories: sorted(categories.into_iter().map(|(value, count)| Facet { value: value.to_owned(), count }).collect()),
            price_bands: price_bands(bands),
        };
        FacetEntry { total, facets, segment_totals }
    }
}

/// A query's filters resolved against one segment.
struct Filter<'a> {
    data: &'a SegmentData,
    mask: u8,
    want: u8,
    min: i64,
    max: i64,
    /// Allowed brand ordinals (`None`: no brand filter).
    brands: Option<Vec<bool>>,
    categories: Option<Vec<bool>>,
    tags: Option<Bits>,
    text: Option<&'a SegmentText>,
    alive: Option<&'a AliveBitSet>,
}

impl<'a> Filter<'a> {
    fn new(
        q: &SearchQuery,
        data: &'a SegmentData,
        seg: &'a SegmentReader,
        fields: &Fields,
        text: Option<&'a SegmentText>,
    ) -> Result<Self, SearchError> {
        let (mut mask, mut want) = (0, 0);
        if !q.include_inactive {
            mask |= ACTIVE;
            want |= ACTIVE;
        }
        if let Some(v) = q.in_stock {
            mask |= IN_STOCK;
            want |= if v { IN_STOCK } else { 0 };
        }
        if let Some(v) = q.featured {
            mask |= FEATURED;
            want |= if v { FEATURED } else { 0 };
        }
        let brands = (!q.brands.is_empty()).then(|| {
            let wanted: HashSet<String> = q.brands.iter().map(|b| b.trim().to_lowercase()).collect();
            data.brand_lower.iter().map(|name| wanted.contains(name)).collect()
        });
        let categories = (!q.categories.is_empty()).then(|| {
            let wanted: HashSet<String> = q.categories.iter().map(Uuid::to_string).collect();
            data.cat_names.iter().map(|name| wanted.contains(name)).collect()
        });
        let tags = if q.tags.is_empty() {
            None
        } else {
            let mut bits = Bits::new(data.max_doc);
            let index = seg.inverted_index(fields.tags).map_err(engine_err)?;
            for tag in &q.tags {
                let term = Term::from_field_text(fields.tags, &tag.trim().to_lowercase());
                if let Some(mut postings) = index.read_postings(&term, IndexRecordOption::Basic).map_err(engine_err)? {
                    let mut doc = postings.doc();
                    while doc != TERMINATED {
                        bits.insert(doc);
                        doc = postings.advance();
                    }
                }
            }
            Some(bits)
        };
        Ok(Filter {
            data,
            mask,
            want,
            min: q.min_price_cents.unwrap_or(i64::MIN),
            max: q.max_price_cents.unwrap_or(i64::MAX),
            brands,
            categories,
            tags,
            text,
            alive: seg.alive_bitset(),
        })
    }

    /// Flags, price, brand and categories.
    #[inline]
    fn attributes(&self, doc: DocId) -> bool {
        self.row_passes(&self.data.rows[doc as usize], doc)
    }

    /// [`Filter::attributes`] of document `doc` whose row is `row`.
    #[inline]
    fn row_passes(&self, row: &Row, doc: DocId) -> bool {
        if row.flags & self.mask != self.want || row.price < self.min || row.price > self.max {
            return false;
        }
        if let Some(ok) = &self.brands
            && !ok.get(row.brand as usize).copied().unwrap_or(false)
        {
            return false;
        }
        if let Some(ok) = &self.categories {
            return match row.cat {
                MULTI => self.data.cats(doc).iter().any(|&c| ok[c as usize]),
                c => ok.get(c as usize).copied().unwrap_or(false),
            };
        }
        true
    }

    /// Attributes and tags (what a text match or a live document still has to pass).
    #[inline]
    fn filters(&self, doc: DocId) -> bool {
        self.attributes(doc) && self.tags.as_ref().is_none_or(|t| t.contains(doc))
    }

    /// Everything: filters, text and liveness.
    #[inline]
    fn matches(&self, doc: DocId) -> bool {
        self.filters(doc) && self.is_live(doc)
    }

    fn group_matches(&self, groups: &Groups, h: &GroupHead) -> bool {
        if h.flags & self.mask != self.want {
            return false;
        }
        if let Some(ok) = &self.brands
            && !ok.get(h.brand as usize).copied().unwrap_or(false)
        {
            return false;
        }
        if let Some(ok) = &self.categories
            && !groups.cats[h.cats.0 as usize..h.cats.1 as usize].iter().any(|&c| ok[c as usize])
        {
            return false;
        }
        true
    }

    /// The `[from, to)` range of group `h` within the price filter.
    #[inline]
    fn group_range(&self, groups: &Groups, h: &GroupHead) -> (usize, usize) {
        let (s, e) = (h.bands[0] as usize, h.bands[6] as usize);
        let prices = &groups.prices[s..e];
        // Most groups lie wholly inside or outside the range: no binary search for them.
        match (prices.first(), prices.last()) {
            (Some(&lo), Some(&hi)) if lo >= self.min && hi <= self.max => return (s, e),
            (Some(&lo), Some(&hi)) if hi < self.min || lo > self.max => return (s, s),
            _ => {}
        }
        let from = if self.min == i64::MIN { s } else { s + prices.partition_point(|&p| p < self.min) };
        let to = if self.max == i64::MAX { e } else { s + prices.partition_point(|&p| p <= self.max) };
        (from, to.max(from))
    }

    /// Whether the groups answer this query cheaply (no text or tags, few deletes).
    fn use_groups(&self, deleted: usize) -> Option<&'a Groups> {
        let groups = self.data.groups.as_ref()?;
        (self.text.is_none() && self.tags.is_none() && groups.heads.len() + deleted < self.data.max_doc as usize / 2).then_some(groups)
    }

    /// Counts the matches; the flag says whether that was cheap (no pass over the matches).
    fn count(&self, deleted: &[DocId]) -> (Counts, bool) {
        let data = self.data;
        let mut counts = Counts::new(data);
        if let Some(text) = self.text {
            self.count_list(text.bits.iter(), &mut counts);
            return (counts, false);
        }
        if let Some(tags) = &self.tags {
            self.count_list(tags.iter(), &mut counts);
            return (counts, false);
        }
        let Some(groups) = self.use_groups(deleted.len()) else {
            for doc in 0..data.max_doc {
                if self.matches(doc) {
                    counts.add(data, doc, 1);
                }
            }
            return (counts, false);
        };
        for h in groups.heads.iter().filter(|h| self.group_matches(groups, h)) {
            let (from, to) = self.group_range(groups, h);
            if from == to {
                continue;
            }
            let n = (to - from) as u64;
            counts.total += n;
            if let Some(c) = counts.brands.get_mut(h.brand as usize) {
                *c += n;
            }
            for &c in &groups.cats[h.cats.0 as usize..h.cats.1 as usize] {
                counts.categories[c as usize] += n;
            }
            for (b, count) in counts.bands.iter_mut().enumerate() {
                let (bs, be) = (h.bands[b] as usize, h.bands[b + 1] as usize);
                *count += be.min(to).saturating_sub(bs.max(from)) as u64;
            }
        }
        for &doc in deleted {
            if self.attributes(doc) {
                counts.add(data, doc, u64::MAX);
            }
        }
        (counts, true)
    }

    /// Counts the documents of `docs` that match. Rows are read in batches of independent loads
    /// so that their cache misses overlap (the documents are sparse in a large segment).
    fn count_list(&self, mut docs: impl Iterator<Item = DocId>, counts: &mut Counts) {
        const BATCH: usize = 32;
        let rows = &self.data.rows;
        let mut ids = [0 as DocId; BATCH];
        let mut got = [Row::default(); BATCH];
        loop {
            let mut n = 0;
            while n < BATCH {
                let Some(doc) = docs.next() else { break };
                ids[n] = doc;
                n += 1;
            }
            if n == 0 {
                return;
            }
            for (row, &doc) in got.iter_mut().zip(&ids[..n]) {
                *row = rows[doc as usize];
            }
            for (row, &doc) in got.iter().zip(&ids[..n]) {
                if self.row_passes(row, doc) && self.tags.as_ref().is_none_or(|t| t.contains(doc)) && self.is_live(doc) {
                    counts.add(self.data, doc, 1);
                }
            }
        }
    }

    /// Whether `doc` is live and, with text, a text match.
    #[inline]
    fn is_live(&self, doc: DocId) -> bool {
        self.text.is_none_or(|t| t.bits.contains(doc)) && self.alive.is_none_or(|a| a.is_alive(doc))
    }

    /// The best `need` text matches passing the filters, by score, and how many were looked at.
    fn top_by_score(&self, need: usize, reused: bool) -> (Vec<(DocId, Score)>, u64) {
        let Some(text) = self.text else { return (Vec::new(), 0) };
        if !reused {
            // Used once: a bounded heap over the matches instead of sorting them all.
            let mut heap: BinaryHeap<u64> = BinaryHeap::with_capacity(need + 1);
            for &(doc, score) in text.docs.iter().filter(|(doc, _)| self.filters(*doc)) {
                let key = score_order(doc, score);
                if heap.len() < need {
                    heap.push(key);
                } else if heap.peek().is_some_and(|&top| key < top) {
                    heap.pop();
                    heap.push(key);
                }
            }
            let mut keys = heap.into_vec();
            keys.sort_unstable();
            let top = keys.into_iter().map(|k| (k as DocId, f32::from_bits(!((k >> 32) as u32)))).collect();
            return (top, text.docs.len() as u64);
        }
        let by_score = text.by_score.get_or_init(|| {
            let mut v = text.docs.clone();
            v.sort_unstable_by_key(|&(doc, score)| score_order(doc, score));
            v
        });
        let mut scanned = 0;
        let top = by_score.iter().copied().inspect(|_| scanned += 1).filter(|&(doc, _)| self.filters(doc)).take(need).collect();
        (top, scanned)
    }

    /// The first `need` matches in the order of `key`: by scanning the permutation when matches
    /// are dense enough, else by a bounded heap over a candidate list that holds all matches.
    fn top_by_key(
        &self,
        seg: &SegmentReader,
        key: SortKey,
        descending: bool,
        need: usize,
        seg_total: u64,
        deleted: &[DocId],
    ) -> Result<(Vec<DocId>, u64), SearchError> {
        let data = self.data;
        let order = data.order(seg, key).map_err(engine_err)?;
        let scan_cost = (need as u64).saturating_mul(u64::from(data.max_doc)) / seg_total.max(1);
        let groups = self.use_groups(deleted.len());
        let list_cost = match (self.text, &self.tags, groups) {
            (Some(text), _, _) => text.docs.len() as u64,
            (None, Some(tags), _) => tags.len() as u64,
            (None, None, Some(groups)) => seg_total + groups.heads.len() as u64 + deleted.len() as u64,
            (None, None, None) => u64::from(data.max_doc),
        };
        if scan_cost <= list_cost {
            let mut scanned = 0;
            let perm = order.perm.iter().copied().inspect(|_| scanned += 1);
            let top = if descending {
                perm.rev().filter(|&d| self.matches(d)).take(need).collect()
            } else {
                perm.filter(|&d| self.matches(d)).take(need).collect()
            };
            return Ok((top, scanned));
        }
        // Max-heap of the best `need` ranks (ascending order: smallest ranks are best).
        let mut heap: BinaryHeap<u32> = BinaryHeap::with_capacity(need + 1);
        let mut offer = |doc: DocId| {
            let r = order.rank[doc as usize];
            let r = if descending { u32::MAX - r } else { r };
            if heap.len() < need {
                heap.push(r);
            } else if heap.peek().is_some_and(|&top| r < top) {
                heap.pop();
                heap.push(r);
            }
        };
        match (self.text, &self.tags, groups) {
            // In document order: the column reads stay sequential.
            (Some(text), _, _) => text.bits.iter().filter(|&d| self.filters(d)).for_each(offer),
            (None, Some(tags), _) => tags.iter().filter(|&d| self.matches(d)).for_each(offer),
            (None, None, Some(groups)) => {
                for h in groups.heads.iter().filter(|h| self.group_matches(groups, h)) {
                    let (from, to) = self.group_range(groups, h);
                    groups.docs[from..to].iter().copied().filter(|&d| self.alive.is_none_or(|a| a.is_alive(d))).for_each(&mut offer);
                }
            }
            (None, None, None) => (0..data.max_doc).filter(|&d| self.matches(d)).for_each(offer),
        }
        let mut ranks = heap.into_vec();
        ranks.sort_unstable();
        let top = ranks.into_iter().map(|r| order.perm[(if descending { u32::MAX - r } else { r }) as usize]).collect();
        Ok((top, list_cost))
    }
}

/// A sort key value, comparable across segments.
#[derive(PartialEq, PartialOrd)]
enum KeyValue {
    Int(i64),
    Float(f64),
    Text(String),
}

/// Merges the per-segment sorted candidates of a keyed sort into one order: by key, then
/// segment, then document (all reversed for a descending sort).
fn merge_sorted(
    readers: &[SegmentReader],
    data: &[Arc<SegmentData>],
    key: SortKey,
    descending: bool,
    per_segment: Vec<(SegmentOrdinal, Vec<DocId>)>,
) -> Result<Vec<DocAddress>, SearchError> {
    if per_segment.len() <= 1 {
        return Ok(per_segment.into_iter().flat_map(|(seg, docs)| docs.into_iter().map(move |d| DocAddress::new(seg, d))).collect());
    }
    let mut keyed: Vec<(KeyValue, DocAddress)> = Vec::new();
    for (seg, docs) in per_segment {
        let ff = readers[seg as usize].fast_fields();
        match key {
            SortKey::Price => {
                let rows = &data[seg as usize].rows;
                keyed.extend(docs.into_iter().map(|d| (KeyValue::Int(rows[d as usize].price), DocAddress::new(seg, d))));
            }
            SortKey::Created => {
                let column = ff.column_opt::<i64>(F_CREATED).map_err(engine_err)?;
                keyed.extend(
                    docs.into_iter()
                        .map(|d| (KeyValue::Int(column.as_ref().and_then(|c| c.first(d)).unwrap_or(i64::MIN)), DocAddress::new(seg, d))),
                );
            }
            SortKey::Rating => {
                let column = ff.column_opt::<f64>(F_RATING).map_err(engine_err)?;
                keyed.extend(
                    docs.into_iter()
                        .map(|d| (KeyValue::Float(column.as_ref().and_then(|c| c.first(d)).unwrap_or(f64::MIN)), DocAddress::new(seg, d))),
                );
            }
            SortKey::Name => {
                let column = ff.str(F_NAME_SORT).map_err(engine_err)?;
                for d in docs {
                    let mut name = String::new();
                    if let Some(c) = &column
                        && let Some(ord) = c.ords().first(d)
                    {
                        c.ord_to_str(ord, &mut name).map_err(engine_err)?;
                    }
                    keyed.push((KeyValue::Text(name), DocAddress::new(seg, d)));
                }
            }
        }
    }
    keyed.sort_by(|a, b| {
        let o = match (&a.0, &b.0) {
            (KeyValue::Float(x), KeyValue::Float(y)) => x.total_cmp(y),
            (x, y) => x.partial_cmp(y).unwrap_or(Ordering::Equal),
        }
        .then_with(|| a.1.cmp(&b.1));
        if descending { o.reverse() } else { o }
    });
    Ok(keyed.into_iter().map(|(_, a)| a).collect())
}

// `tantivy::collector::Fruit` is implemented for all `Send + 'static` types.
const _: fn() = || {
    fn fruit<T: tantivy::collector::Fruit>() {}
    fruit::<TextMatches>();
    fruit::<(SegmentOrdinal, SegmentText)>();
};
