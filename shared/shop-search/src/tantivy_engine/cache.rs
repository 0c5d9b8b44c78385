//! What the clones of an engine share: the column snapshots of the searchable segments (built by
//! the reader's warmer) and the result caches of the newest reader generation.

use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use lru::LruCache;
use tantivy::index::SegmentId;
use tantivy::{DocAddress, DocId, Searcher, SearcherGeneration, SegmentReader, Warmer};

use super::collect::{FacetEntry, TextMatches};
use super::engine_err;
use super::segment::{SegmentData, SortKey};
use crate::{SearchError, SearchQuery};

/// Cached `total` + facets per reader generation.
const FACET_CACHE_ENTRIES: usize = 4_096;
/// Cached pages per reader generation…
const PAGE_CACHE_ENTRIES: usize = 4_096;
/// …of queries whose page looked at this many candidates or more (cheaper ones are recomputed).
pub(super) const PAGE_CACHE_MIN_SCANNED: u64 = 2_000;
/// Cached scored text matches of whole texts (several words) per reader generation: at most
/// this many texts…
const TEXT_CACHE_ENTRIES: usize = 256;
/// …weighing at most this much in all (in units of 8 bytes: [`super::collect::TextMatches::weight`]).
const TEXT_CACHE_MATCHES: usize = 2_000_000;
/// Cached scored matches of single words per reader generation (kept apart from whole texts so
/// that a stream of new texts does not evict the words they are made of; the least recently
/// used word goes first): at most this many words…
const WORD_CACHE_ENTRIES: usize = 4_096;
/// …weighing at most this much in all (256 MB: matches, their copies sorted by score, and the
/// bits and ranks of dense lists). A shop's searched vocabulary is bounded: at 1,000,000
/// synthetic products (`skyshop-bench search --shape 4`: the 463 words of the data set's names,
/// brands and tags) the words it computed averaged ~25,000 matches, and the earlier bound
/// (64 MB, with each word's unbuilt bitset of 125 KB counted) recomputed about one word per
/// query (6,200 in 6,200 queries).
const WORD_CACHE_MATCHES: usize = 32_000_000;

/// State shared by the clones of an engine.
pub(super) struct State {
    /// Column snapshots by segment (kept while the segment is searchable).
    segments: Mutex<HashMap<SegmentId, Arc<SegmentData>>>,
    /// The caches of the newest reader generation seen.
    current: Mutex<Option<Arc<GenCache>>>,
    caching: AtomicBool,
}

impl State {
    pub(super) fn new() -> Self {
        Self { segments: Mutex::new(HashMap::new()), current: Mutex::new(None), caching: AtomicBool::new(true) }
    }

    /// Whether the per-generation result caches are on.
    pub(super) fn caching(&self) -> bool {
        self.caching.load(Ordering::Relaxed)
    }

    pub(super) fn set_caching(&self, on: bool) {
        self.caching.store(on, Ordering::Relaxed);
    }

    /// The column snapshots of the searcher's segments (built by the warmer, or here if it failed).
    pub(super) fn segment_data(&self, searcher: &Searcher) -> Result<Vec<Arc<SegmentData>>, SearchError> {
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

    /// The caches of the searcher's generation (a new generation drops the previous one's).
    pub(super) fn generation(&self, searcher: &Searcher) -> Result<Arc<GenCache>, SearchError> {
        let generation = searcher.generation().generation_id();
        let segments = searcher.segment_readers().len();
        let mut current = self.current.lock().map_err(|_| SearchError::Engine("cache mutex poisoned".into()))?;
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
pub(super) type Page = Vec<(f32, DocAddress)>;

/// Caches valid for one reader generation (one set of segments and deletes).
pub(super) struct GenCache {
    generation: u64,
    pub(super) facets: Mutex<Fifo<Arc<FacetEntry>>>,
    /// First `need` matches per query (without page, with sort) and `need`.
    pub(super) pages: Mutex<Fifo<Arc<Page>>>,
    pub(super) texts: Mutex<Fifo<Arc<TextMatches>>>,
    /// Matches of single words, least recently used evicted first.
    pub(super) words: Mutex<Fifo<Arc<TextMatches>>>,
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
            words: Mutex::new(Fifo::new(WORD_CACHE_ENTRIES, WORD_CACHE_MATCHES)),
            deleted: (0..segments).map(|_| OnceLock::new()).collect(),
        }
    }

    /// The deleted documents of segment `ord`.
    pub(super) fn deleted<'a>(&'a self, ord: usize, seg: &SegmentReader) -> &'a [DocId] {
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
///
/// [`LruCache`] keeps the insertion order and the entry bound; [`Fifo::get`] reads `peek`, so a
/// hit does not refresh an entry and eviction stays first in, first out, while
/// [`Fifo::get_refresh`] moves the entry to the back (least recently used first). The weight
/// bound (the text caches' total matches) is kept here: `lru` has none.
pub(super) struct Fifo<V> {
    entries: LruCache<String, (V, usize)>,
    max_weight: usize,
    weight: usize,
}

impl<V: Clone> Fifo<V> {
    fn new(max_entries: usize, max_weight: usize) -> Self {
        // `sparse`: a generation's caches are created empty on every commit, most stay small.
        let entries = LruCache::sparse(NonZeroUsize::new(max_entries).unwrap_or(NonZeroUsize::MIN));
        Self { entries, max_weight, weight: 0 }
    }

    pub(super) fn get(&self, key: &str) -> Option<V> {
        self.entries.peek(key).map(|(v, _)| v.clone())
    }

    pub(super) fn contains(&self, key: &str) -> bool {
        self.entries.contains(key)
    }

    /// Like [`Fifo::get`], and a hit becomes the most recent entry.
    pub(super) fn get_refresh(&mut self, key: &str) -> Option<V> {
        self.entries.get(key).map(|(v, _)| v.clone())
    }

    /// Inserts unless `key` is present or `weight` alone exceeds the bound, evicting the oldest
    /// entries until the new one fits.
    pub(super) fn insert(&mut self, key: String, value: V, weight: usize) {
        if weight > self.max_weight || self.entries.contains(&key) {
            return;
        }
        while self.entries.len() >= self.entries.cap().get() || self.weight + weight > self.max_weight {
            let Some((_, (_, w))) = self.entries.pop_lru() else { break };
            self.weight -= w;
        }
        self.weight += weight;
        self.entries.push(key, (value, weight));
    }
}

/// The facet cache key: the query without page, limit and sort.
pub(super) fn facet_key(q: &SearchQuery, words: &[String]) -> String {
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

#[cfg(test)]
mod tests {
    use super::Fifo;

    #[test]
    fn fifo_evicts_the_oldest_insertion_first_whether_read_or_not() {
        let mut c = Fifo::new(2, usize::MAX);
        c.insert("a".into(), 1, 1);
        c.insert("b".into(), 2, 1);
        assert_eq!(c.get("a"), Some(1), "a read does not refresh");
        c.insert("c".into(), 3, 1);
        assert_eq!((c.get("a"), c.get("b"), c.get("c")), (None, Some(2), Some(3)));
        c.insert("b".into(), 20, 1);
        assert_eq!(c.get("b"), Some(2), "a present key keeps its first value");
    }

    #[test]
    fn fifo_bounds_the_total_weight_and_refuses_an_entry_heavier_than_the_bound() {
        let mut c = Fifo::new(10, 10);
        c.insert("a".into(), 1, 4);
        c.insert("b".into(), 2, 4);
        c.insert("c".into(), 3, 4);
        assert_eq!((c.get("a"), c.get("b"), c.get("c")), (None, Some(2), Some(3)));
        c.insert("huge".into(), 4, 11);
        assert_eq!((c.get("huge"), c.get("b"), c.get("c")), (None, Some(2), Some(3)));
        c.insert("d".into(), 5, 10);
        assert_eq!((c.get("b"), c.get("c"), c.get("d")), (None, None, Some(5)));
    }

    #[test]
    fn a_refreshing_read_keeps_an_entry_past_later_insertions() {
        let mut c = Fifo::new(2, usize::MAX);
        c.insert("a".into(), 1, 1);
        c.insert("b".into(), 2, 1);
        assert_eq!(c.get_refresh("a"), Some(1));
        c.insert("c".into(), 3, 1);
        assert_eq!((c.get("a"), c.get("b"), c.get("c")), (Some(1), None, Some(3)), "b, least recently used, went first");
    }
}
