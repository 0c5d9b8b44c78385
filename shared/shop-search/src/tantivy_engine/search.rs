//! A search from start to end: the text matches, `total` and facets, the page in sort order and
//! its hits, each through the caches of the reader generation.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use tantivy::schema::Value;
use tantivy::{DocAddress, Searcher, SegmentOrdinal, TantivyDocument};
use uuid::Uuid;

use super::cache::{GenCache, PAGE_CACHE_MIN_SCANNED, facet_key};
use super::collect::{Counts, FacetEntry, TextCollector, TextMatches, merge_sorted};
use super::filter::Filter;
use super::schema::{F_ID_HI, F_ID_LO, query_words};
use super::segment::{SegmentData, SortKey};
use super::{TantivyEngine, engine_err};
use crate::{Hit, SearchError, SearchQuery, SearchResults, Sort};

impl TantivyEngine {
    /// The scored matches of `words` in this searcher (cached per generation).
    ///
    /// With caching on, each word's matches are cached on their own and a query of several words
    /// is the intersection of its words' matches with their scores added — what tantivy's boolean
    /// query of one `Must` clause per word computes (every clause's weight depends only on the
    /// searcher's statistics, not on the other clauses), so a query never seen before that is made
    /// of words seen before costs a merge of sorted lists instead of a scoring pass over every
    /// posting of every fuzzy and prefix expansion. With caching off the whole query goes to
    /// tantivy at once (the tests compare the two).
    fn text_matches(&self, searcher: &Searcher, cache: &GenCache, words: &[String]) -> Result<Arc<TextMatches>, SearchError> {
        if !self.state.caching() {
            let query = self.fields.text_query(searcher, words).map_err(engine_err)?;
            return Ok(Arc::new(searcher.search(&query, &TextCollector).map_err(engine_err)?));
        }
        if let [word] = words {
            let matches = self.word_matches(searcher, cache, word)?;
            // Sorting all the matches by score pays when the same text is asked again; a word
            // cached as a part of longer texts is asked alone for the first time here.
            if matches.asked.swap(true, Ordering::Relaxed) {
                matches.reused.store(true, Ordering::Relaxed);
            }
            return Ok(matches);
        }
        let key = words.join("\u{1f}");
        if let Some(hit) = cache.texts.lock().ok().and_then(|c| c.get(&key)) {
            hit.reused.store(true, Ordering::Relaxed);
            return Ok(hit);
        }
        // Words the index knows (a bounded vocabulary) are computed once and cached; a word it
        // does not know (a typo: fuzzy clauses, and seldom asked again) is scored only on the
        // documents the other words left, unless every word is unknown.
        let mut parts = Vec::with_capacity(words.len());
        let mut unknown = Vec::new();
        for word in words {
            let cached = cache.words.lock().ok().is_some_and(|c| c.contains(word));
            if cached || self.fields.is_known(searcher, word).map_err(engine_err)? {
                parts.push(self.word_matches(searcher, cache, word)?);
            } else {
                unknown.push(word);
            }
        }
        if parts.is_empty()
            && let Some((first, _)) = unknown.split_first()
        {
            parts.push(self.word_matches(searcher, cache, first)?);
            unknown.remove(0);
        }
        // Smallest first: the intersection never grows past it.
        parts.sort_by_key(|p| p.len());
        let mut matches = TextMatches::intersect(&parts);
        for word in unknown {
            if matches.len() == 0 {
                break;
            }
            let clauses = self.fields.word_clauses(searcher, word).map_err(engine_err)?;
            matches = matches.restrict(searcher, &clauses).map_err(engine_err)?;
        }
        let matches = Arc::new(matches);
        if let Ok(mut c) = cache.texts.lock() {
            c.insert(key, Arc::clone(&matches), matches.weight());
        }
        Ok(matches)
    }

    /// The scored matches of one word, from the word cache or computed and cached.
    fn word_matches(&self, searcher: &Searcher, cache: &GenCache, word: &str) -> Result<Arc<TextMatches>, SearchError> {
        if let Some(hit) = cache.words.lock().ok().and_then(|mut c| c.get_refresh(word)) {
            return Ok(hit);
        }
        let query = self.fields.text_query(searcher, &[word.to_owned()]).map_err(engine_err)?;
        let matches = Arc::new(searcher.search(&query, &TextCollector).map_err(engine_err)?);
        if let Ok(mut c) = cache.words.lock() {
            c.insert(word.to_owned(), Arc::clone(&matches), matches.weight());
        }
        Ok(matches)
    }

    pub(super) fn search_blocking(&self, q: &SearchQuery) -> Result<SearchResults, SearchError> {
        q.validate()?;
        let (offset, limit) = q.window()?;
        let searcher = self.searcher()?;
        let cache = self.state.generation(&searcher)?;
        let data = self.state.segment_data(&searcher)?;
        let words = q.text().map(query_words).unwrap_or_default();
        let text = if words.is_empty() { None } else { Some(self.text_matches(&searcher, &cache, &words)?) };
        let readers = searcher.segment_readers();
        let filters = readers
            .iter()
            .enumerate()
            .map(|(ord, seg)| Filter::new(q, &data[ord], seg, &self.fields, text.as_ref().map(|t| &t.segments[ord])))
            .collect::<Result<Vec<_>, SearchError>>()?;

        let caching = self.state.caching();
        let key = facet_key(q, &words);
        let cached = if caching { cache.facets.lock().ok().and_then(|c| c.get(&key)) } else { None };
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
            let cached = if caching { cache.pages.lock().ok().and_then(|c| c.get(&page_key)) } else { None };
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
            let text_reused = text.reused.load(Ordering::Relaxed);
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
                Entry::Occupied(e) => e.into_mut(),
                Entry::Vacant(e) => {
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
