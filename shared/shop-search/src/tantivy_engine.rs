//! Embedded search engine on tantivy 0.27 (local runs and tests).
//!
//! - Text analyzer `shop`: `SimpleTokenizer` (splits on non-alphanumerics) + `LowerCaser` +
//!   `AsciiFoldingFilter`, used for name, description, brand text and tag text.
//! - Every query word must match in some field (AND across words, OR across fields). Per word and
//!   field: an exact BM25 term (weight 3), a prefix match (weight 1.5, words of ≥ 3 chars, not on
//!   the description) and a Levenshtein match (weight 1; distance 1 for 4–7 chars, 2 for ≥ 8, none
//!   for ≤ 3; a transposition costs 1), times the field boost (name 3, brand 2, tags 1.5,
//!   description 1). Fuzzy and prefix scorers are constant and an exact word also matches its
//!   prefix and fuzzy clauses, so in a field an exact word always scores above its typo neighbours.
//! - Filters are wrapped in a zero-score `ConstScoreQuery` so they never change relevance.
//! - One pass over the matches collects the page (`TopDocs` by score or by fast field), the total
//!   and the facets (term ordinals of fast columns counted per segment, resolved to strings once).
//! - Ids come back from two u64 fast fields (no doc-store decompression on the hot path).
//! - One writer (50 MB budget) behind a mutex; writes commit and reload the reader before
//!   returning, so they are visible immediately; the reader also reloads on commits by other
//!   processes (`OnCommitWithDelay`). Blocking work runs in `spawn_blocking`.

use std::collections::HashMap;
use std::ops::Bound;
use std::path::Path;
use std::sync::{Arc, Mutex};

use tantivy::collector::{Collector, SegmentCollector, TopDocs};
use tantivy::columnar::{Column, StrColumn};
use tantivy::directory::MmapDirectory;
use tantivy::query::{AllQuery, BooleanQuery, BoostQuery, ConstScoreQuery, FuzzyTermQuery, Occur, Query, RangeQuery, TermQuery};
use tantivy::schema::{FAST, Field, INDEXED, IndexRecordOption, STRING, Schema, TextFieldIndexing, TextOptions};
use tantivy::tokenizer::{AsciiFoldingFilter, LowerCaser, SimpleTokenizer, TextAnalyzer, TokenStream};
use tantivy::{
    DocAddress, DocId, Index, IndexReader, IndexWriter, Order, ReloadPolicy, Score, SegmentOrdinal, SegmentReader, TantivyDocument, Term,
};
use uuid::Uuid;

use crate::{
    BoxFuture, Facet, Facets, ProductDoc, SearchEngine, SearchError, SearchQuery, SearchResults, Sort, price_band_index, price_bands,
};

const ANALYZER: &str = "shop";
const WRITER_MEMORY_BYTES: usize = 50_000_000;
/// Words of a text query beyond this many are ignored (bounds the cost of a query).
const MAX_QUERY_WORDS: usize = 10;

const NAME_BOOST: f32 = 3.0;
const DESCRIPTION_BOOST: f32 = 1.0;
const BRAND_BOOST: f32 = 2.0;
const TAGS_BOOST: f32 = 1.5;
const EXACT_WEIGHT: f32 = 3.0;
const PREFIX_WEIGHT: f32 = 1.5;
const FUZZY_WEIGHT: f32 = 1.0;

// Fast-field names used by collectors.
const F_ID_HI: &str = "id_hi";
const F_ID_LO: &str = "id_lo";
const F_BRAND: &str = "brand";
const F_CATEGORY_PATH: &str = "category_path";
const F_PRICE: &str = "price_cents";
const F_RATING: &str = "rating";
const F_CREATED: &str = "created_at_ms";
const F_NAME_SORT: &str = "name_sort";

/// Drops the sort keys of a fast-field sorted page (score 0).
fn zero<K>(page: Vec<(K, DocAddress)>) -> Vec<(f32, DocAddress)> {
    page.into_iter().map(|(_, a)| (0.0, a)).collect()
}

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
    brand_kw: Field,
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
}

fn build_schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let text = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default().set_tokenizer(ANALYZER).set_index_option(IndexRecordOption::WithFreqsAndPositions),
    );
    let fields = Fields {
        id: b.add_text_field("id", STRING),
        id_hi: b.add_u64_field(F_ID_HI, FAST),
        id_lo: b.add_u64_field(F_ID_LO, FAST),
        name: b.add_text_field("name", text.clone()),
        name_sort: b.add_text_field(F_NAME_SORT, FAST),
        description: b.add_text_field("description", text.clone()),
        brand_text: b.add_text_field("brand_text", text.clone()),
        brand_kw: b.add_text_field("brand_kw", STRING),
        brand: b.add_text_field(F_BRAND, FAST),
        category_path: b.add_text_field(F_CATEGORY_PATH, STRING | FAST),
        tags: b.add_text_field("tags", STRING),
        tags_text: b.add_text_field("tags_text", text),
        price_cents: b.add_i64_field(F_PRICE, INDEXED | FAST),
        rating: b.add_f64_field(F_RATING, FAST),
        created_at_ms: b.add_i64_field(F_CREATED, FAST),
        is_active: b.add_bool_field("is_active", INDEXED),
        is_featured: b.add_bool_field("is_featured", INDEXED),
        in_stock: b.add_bool_field("in_stock", INDEXED),
        seller_id: b.add_text_field("seller_id", STRING),
    };
    (b.build(), fields)
}

fn analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default()).filter(LowerCaser).filter(AsciiFoldingFilter).build()
}

/// Levenshtein distance allowed for a query word of `chars` characters.
fn fuzzy_distance(chars: usize) -> u8 {
    match chars {
        0..=3 => 0,
        4..=7 => 1,
        _ => 2,
    }
}

/// Embedded tantivy implementation of [`SearchEngine`]. Cheap to clone (shared index, reader and writer).
#[derive(Clone)]
pub struct TantivyEngine {
    reader: IndexReader,
    writer: Arc<Mutex<IndexWriter<TantivyDocument>>>,
    fields: Fields,
}

impl std::fmt::Debug for TantivyEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TantivyEngine").field("docs", &self.reader.searcher().num_docs()).finish_non_exhaustive()
    }
}

impl TantivyEngine {
    /// Opens the persistent index in `dir`, creating the directory and the index if missing.
    /// Fails if `dir` holds an index with a different schema.
    pub fn open(dir: &Path) -> Result<Self, SearchError> {
        std::fs::create_dir_all(dir).map_err(engine_err)?;
        let (schema, fields) = build_schema();
        let directory = MmapDirectory::open(dir).map_err(engine_err)?;
        let index = Index::open_or_create(directory, schema).map_err(engine_err)?;
        Self::from_index(index, fields)
    }

    /// A fresh index held in RAM (tests, throw-away local runs).
    pub fn in_memory() -> Result<Self, SearchError> {
        let (schema, fields) = build_schema();
        Self::from_index(Index::create_in_ram(schema), fields)
    }

    fn from_index(index: Index, fields: Fields) -> Result<Self, SearchError> {
        index.tokenizers().register(ANALYZER, analyzer());
        let reader = index.reader_builder().reload_policy(ReloadPolicy::OnCommitWithDelay).try_into().map_err(engine_err)?;
        let writer = index.writer(WRITER_MEMORY_BYTES).map_err(engine_err)?;
        Ok(Self { reader, writer: Arc::new(Mutex::new(writer)), fields })
    }

    /// Merges all segments into one and reloads the reader: call after a bulk load, since
    /// per-query costs (fast-field columns, facet dictionaries) are paid per segment.
    pub async fn compact(&self) -> Result<(), SearchError> {
        let writer = Arc::clone(&self.writer);
        let reader = self.reader.clone();
        tokio::task::spawn_blocking(move || {
            let mut writer = writer.lock().map_err(|_| SearchError::Engine("index writer mutex poisoned".into()))?;
            // A background merge may hold some of the segments: retry with a fresh list.
            let mut attempts = 0;
            loop {
                let segments = writer.index().searchable_segment_ids().map_err(engine_err)?;
                if segments.len() <= 1 {
                    break;
                }
                match writer.merge(&segments).wait() {
                    Ok(_) => break,
                    Err(e) if attempts >= 100 => return Err(engine_err(e)),
                    Err(e) => {
                        tracing::debug!(error = %e, "compact: merge refused, retrying");
                        attempts += 1;
                        std::thread::sleep(std::time::Duration::from_millis(200));
                    }
                }
            }
            reader.reload().map_err(engine_err)
        })
        .await
        .map_err(engine_err)?
    }

    /// Number of searchable segments (diagnostics).
    pub fn segment_count(&self) -> usize {
        self.reader.searcher().segment_readers().len()
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
            doc.add_text(f.brand_kw, brand.to_lowercase());
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
        doc
    }

    /// Runs `ops` on the writer, commits and reloads the reader, all on a blocking thread.
    async fn write(
        &self,
        ops: impl FnOnce(&IndexWriter<TantivyDocument>) -> tantivy::Result<()> + Send + 'static,
    ) -> Result<(), SearchError> {
        let writer = Arc::clone(&self.writer);
        let reader = self.reader.clone();
        tokio::task::spawn_blocking(move || {
            let mut writer = writer.lock().map_err(|_| SearchError::Engine("index writer mutex poisoned".into()))?;
            if let Err(e) = ops(&writer).and_then(|()| writer.commit().map(|_| ())) {
                let _ = writer.rollback();
                return Err(engine_err(e));
            }
            reader.reload().map_err(engine_err)
        })
        .await
        .map_err(engine_err)?
    }

    fn text_query(&self, text: &str) -> Option<Box<dyn Query>> {
        let f = &self.fields;
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
        if words.is_empty() {
            return None;
        }
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
        Some(Box::new(BooleanQuery::new(per_word)))
    }

    fn filter_queries(&self, q: &SearchQuery) -> Vec<Box<dyn Query>> {
        let f = &self.fields;
        let mut filters: Vec<Box<dyn Query>> = Vec::new();
        let bool_term =
            |field, value| -> Box<dyn Query> { Box::new(TermQuery::new(Term::from_field_bool(field, value), IndexRecordOption::Basic)) };
        let any_of = |field, values: Vec<String>| -> Box<dyn Query> {
            let terms = values.into_iter().map(|v| Term::from_field_text(field, &v)).collect();
            Box::new(BooleanQuery::new_multiterms_query(terms))
        };
        if !q.include_inactive {
            filters.push(bool_term(f.is_active, true));
        }
        if let Some(v) = q.in_stock {
            filters.push(bool_term(f.in_stock, v));
        }
        if let Some(v) = q.featured {
            filters.push(bool_term(f.is_featured, v));
        }
        if !q.categories.is_empty() {
            filters.push(any_of(f.category_path, q.categories.iter().map(Uuid::to_string).collect()));
        }
        if !q.brands.is_empty() {
            filters.push(any_of(f.brand_kw, q.brands.iter().map(|b| b.trim().to_lowercase()).collect()));
        }
        if !q.tags.is_empty() {
            filters.push(any_of(f.tags, q.tags.iter().map(|t| t.trim().to_lowercase()).collect()));
        }
        if q.min_price_cents.is_some() || q.max_price_cents.is_some() {
            let bound = |v: Option<i64>| v.map_or(Bound::Unbounded, |v| Bound::Included(Term::from_field_i64(f.price_cents, v)));
            filters.push(Box::new(RangeQuery::new(bound(q.min_price_cents), bound(q.max_price_cents))));
        }
        filters
    }

    fn build_query(&self, q: &SearchQuery) -> Box<dyn Query> {
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        if let Some(text) = q.text().and_then(|t| self.text_query(t)) {
            clauses.push((Occur::Must, text));
        }
        let filters = self.filter_queries(q);
        if !filters.is_empty() {
            let all: Vec<(Occur, Box<dyn Query>)> = filters.into_iter().map(|f| (Occur::Must, f)).collect();
            clauses.push((Occur::Must, Box::new(ConstScoreQuery::new(Box::new(BooleanQuery::new(all)), 0.0))));
        }
        match clauses.len() {
            0 => Box::new(AllQuery),
            1 => clauses.pop().map(|(_, q)| q).unwrap_or_else(|| Box::new(AllQuery)),
            _ => Box::new(BooleanQuery::new(clauses)),
        }
    }

    fn search_blocking(&self, q: &SearchQuery) -> Result<SearchResults, SearchError> {
        q.validate()?;
        let (offset, limit) = q.window()?;
        let searcher = self.reader.searcher();
        let query = self.build_query(q);
        let facets = FacetCollector;
        let page: Vec<(f32, DocAddress)>;
        let counts: FacetCounts;
        if limit == 0 {
            counts = searcher.search(&query, &facets).map_err(engine_err)?;
            page = Vec::new();
        } else {
            let top = TopDocs::with_limit(limit).and_offset(offset);
            (page, counts) = match q.effective_sort() {
                Sort::Relevance => searcher.search(&query, &(top.order_by_score(), facets)).map_err(engine_err)?,
                Sort::Newest => {
                    let (p, c) =
                        searcher.search(&query, &(top.order_by_fast_field::<i64>(F_CREATED, Order::Desc), facets)).map_err(engine_err)?;
                    (zero(p), c)
                }
                Sort::PriceAsc | Sort::PriceDesc => {
                    let order = if q.effective_sort() == Sort::PriceAsc { Order::Asc } else { Order::Desc };
                    let (p, c) = searcher.search(&query, &(top.order_by_fast_field::<i64>(F_PRICE, order), facets)).map_err(engine_err)?;
                    (zero(p), c)
                }
                Sort::NameAsc | Sort::NameDesc => {
                    let order = if q.effective_sort() == Sort::NameAsc { Order::Asc } else { Order::Desc };
                    let (p, c) =
                        searcher.search(&query, &(top.order_by_string_fast_field(F_NAME_SORT, order), facets)).map_err(engine_err)?;
                    (zero(p), c)
                }
                Sort::Rating => {
                    let (p, c) =
                        searcher.search(&query, &(top.order_by_fast_field::<f64>(F_RATING, Order::Desc), facets)).map_err(engine_err)?;
                    (zero(p), c)
                }
            };
        }
        // Resolve ids from the u64 fast fields, opening each segment's columns once.
        let mut columns: HashMap<SegmentOrdinal, (Column<u64>, Column<u64>)> = HashMap::new();
        let mut hits = Vec::with_capacity(page.len());
        for (score, addr) in page {
            let (hi, lo) = match columns.get(&addr.segment_ord) {
                Some(c) => c,
                None => {
                    let ff = searcher.segment_reader(addr.segment_ord).fast_fields();
                    let pair = (ff.u64(F_ID_HI).map_err(engine_err)?, ff.u64(F_ID_LO).map_err(engine_err)?);
                    columns.entry(addr.segment_ord).or_insert(pair)
                }
            };
            let (Some(hi), Some(lo)) = (hi.first(addr.doc_id), lo.first(addr.doc_id)) else {
                return Err(SearchError::Engine("indexed document without id".into()));
            };
            hits.push(crate::Hit { id: Uuid::from_u64_pair(hi, lo), score });
        }
        Ok(SearchResults { hits, total: counts.total, facets: counts.into_facets() })
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

// ---- facets ---------------------------------------------------------------------------------

/// Counts all matches, brands, category-path ids and price bands from fast columns.
struct FacetCollector;

struct FacetSegmentCollector {
    total: u64,
    brand: Option<StrColumn>,
    brand_counts: Vec<u64>,
    categories: Option<StrColumn>,
    category_counts: Vec<u64>,
    price: Column<i64>,
    bands: [u64; 6],
}

struct SegmentFacets {
    total: u64,
    brands: Vec<(String, u64)>,
    categories: Vec<(String, u64)>,
    bands: [u64; 6],
}

#[derive(Default)]
struct FacetCounts {
    total: u64,
    /// Lowercased brand → (first seen spelling, count).
    brands: HashMap<String, (String, u64)>,
    categories: HashMap<String, u64>,
    bands: [u64; 6],
}

impl FacetCounts {
    fn into_facets(self) -> Facets {
        fn sorted(mut v: Vec<Facet>) -> Vec<Facet> {
            v.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.value.cmp(&b.value)));
            v
        }
        Facets {
            brands: sorted(self.brands.into_values().map(|(value, count)| Facet { value, count }).collect()),
            categories: sorted(self.categories.into_iter().map(|(value, count)| Facet { value, count }).collect()),
            price_bands: price_bands(self.bands),
        }
    }
}

fn resolve(column: Option<&StrColumn>, counts: Vec<u64>) -> Vec<(String, u64)> {
    let Some(column) = column else { return Vec::new() };
    counts
        .into_iter()
        .enumerate()
        .filter(|&(_, c)| c > 0)
        .filter_map(|(ord, c)| {
            let mut s = String::new();
            matches!(column.ord_to_str(ord as u64, &mut s), Ok(true)).then_some((s, c))
        })
        .collect()
}

impl Collector for FacetCollector {
    type Fruit = FacetCounts;
    type Child = FacetSegmentCollector;

    fn for_segment(&self, _segment_local_id: SegmentOrdinal, segment: &SegmentReader) -> tantivy::Result<FacetSegmentCollector> {
        let ff = segment.fast_fields();
        let brand = ff.str(F_BRAND)?;
        let categories = ff.str(F_CATEGORY_PATH)?;
        Ok(FacetSegmentCollector {
            total: 0,
            brand_counts: vec![0; brand.as_ref().map_or(0, |c| c.num_terms())],
            brand,
            category_counts: vec![0; categories.as_ref().map_or(0, |c| c.num_terms())],
            categories,
            price: ff.i64(F_PRICE)?,
            bands: [0; 6],
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, segment_fruits: Vec<SegmentFacets>) -> tantivy::Result<FacetCounts> {
        let mut out = FacetCounts::default();
        for s in segment_fruits {
            out.total += s.total;
            for (brand, c) in s.brands {
                out.brands.entry(brand.to_lowercase()).or_insert_with(|| (brand, 0)).1 += c;
            }
            for (cat, c) in s.categories {
                *out.categories.entry(cat).or_default() += c;
            }
            for (o, c) in out.bands.iter_mut().zip(s.bands) {
                *o += c;
            }
        }
        Ok(out)
    }
}

impl SegmentCollector for FacetSegmentCollector {
    type Fruit = SegmentFacets;

    fn collect(&mut self, doc: DocId, _score: Score) {
        self.total += 1;
        if let Some(brand) = &self.brand {
            for ord in brand.term_ords(doc) {
                self.brand_counts[ord as usize] += 1;
            }
        }
        if let Some(categories) = &self.categories {
            for ord in categories.term_ords(doc) {
                self.category_counts[ord as usize] += 1;
            }
        }
        if let Some(price) = self.price.first(doc) {
            self.bands[price_band_index(price)] += 1;
        }
    }

    fn harvest(self) -> SegmentFacets {
        SegmentFacets {
            total: self.total,
            brands: resolve(self.brand.as_ref(), self.brand_counts),
            categories: resolve(self.categories.as_ref(), self.category_counts),
            bands: self.bands,
        }
    }
}

// `tantivy::collector::Fruit` is implemented for all `Send + 'static` types.
const _: fn() = || {
    fn fruit<T: tantivy::collector::Fruit>() {}
    fruit::<FacetCounts>();
    fruit::<SegmentFacets>();
};
