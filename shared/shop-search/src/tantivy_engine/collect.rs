//! What a query gathers: the scored text matches (a tantivy collector), the facet counts of the
//! matches, and the merge of per-segment sorted candidates into one order.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, OnceLock};

use tantivy::collector::{Collector, SegmentCollector};
use tantivy::query::{EnableScoring, Query};
use tantivy::{DocAddress, DocId, DocSet, Score, Searcher, SegmentOrdinal, SegmentReader, TERMINATED};

use super::engine_err;
use super::schema::{F_CREATED, F_NAME_SORT, F_RATING};
use super::segment::{MULTI, NONE, SegmentData, SortKey};
use crate::{Facet, Facets, SearchError, price_bands};

// ---- text matches ---------------------------------------------------------------------------

/// The live matches of a text query in one generation, per segment ordinal.
pub(super) struct TextMatches {
    pub(super) segments: Vec<SegmentText>,
    /// Whether a query has found these matches in the cache (then sorting them by score once
    /// pays; a query seen for the first time takes its page with a bounded heap).
    pub(super) reused: AtomicBool,
    /// Whether a query has asked for these matches as its whole text (a word's cached matches
    /// may serve only as parts of longer texts until then).
    pub(super) asked: AtomicBool,
}

pub(super) struct SegmentText {
    /// In document order.
    pub(super) docs: Vec<(DocId, Score)>,
    /// `docs` by [`score_order`] (sorted on first use).
    pub(super) by_score: OnceLock<Vec<(DocId, Score)>>,
    /// `docs` as bits with ranks, for a list of at least one match in [`DENSE_RATIO`] documents
    /// (built when an intersection first probes it).
    dense: OnceLock<Dense>,
    /// The segment's `max_doc`.
    max_doc: u32,
}

/// A list is dense when it holds at least one document in this many of its segment: its bits
/// and ranks (12 bytes per 64 documents) then take at most 1.5 times the list's 8 bytes a match,
/// and probing them beats merging with it.
const DENSE_RATIO: u64 = 64;

/// A match list as one bit per document of the segment, with the number of matches before each
/// 64-bit word: whether a document is in the list, and its position in the list, in constant
/// time.
struct Dense {
    bits: Vec<u64>,
    before: Vec<u32>,
}

impl Dense {
    fn build(docs: &[(DocId, Score)], max_doc: u32) -> Dense {
        let bits = doc_bits(docs, max_doc);
        let mut before = Vec::with_capacity(bits.len());
        let mut sum = 0;
        for word in &bits {
            before.push(sum);
            sum += word.count_ones();
        }
        Dense { bits, before }
    }

    /// The position of `doc` in the list, if it is there.
    #[inline]
    fn position(&self, doc: DocId) -> Option<usize> {
        let (at, bit) = (doc as usize / 64, doc % 64);
        let word = *self.bits.get(at)?;
        if (word >> bit) & 1 == 0 {
            return None;
        }
        Some(self.before[at] as usize + (word & ((1u64 << bit) - 1)).count_ones() as usize)
    }
}

/// `docs` as a bitset of `max_doc` bits, 64 to a word.
pub(super) fn doc_bits(docs: &[(DocId, Score)], max_doc: u32) -> Vec<u64> {
    let mut bits = vec![0u64; (max_doc as usize).div_ceil(64)];
    for &(doc, _) in docs {
        // Matches stay below `max_doc`.
        if let Some(word) = bits.get_mut(doc as usize / 64) {
            *word |= 1 << (doc % 64);
        }
    }
    bits
}

/// Whether `doc` is set in a bitset of [`doc_bits`]'s shape.
#[inline]
pub(super) fn has_doc(bits: &[u64], doc: DocId) -> bool {
    bits.get(doc as usize / 64).is_some_and(|word| (word >> (doc % 64)) & 1 == 1)
}

impl TextMatches {
    /// How many matches in all segments.
    pub(super) fn len(&self) -> usize {
        self.segments.iter().map(|s| s.docs.len()).sum()
    }

    /// The cache weight in units of one match (8 bytes): the matches, room for their copy sorted
    /// by score, and for a dense list room for its bits and ranks (each counted whether built or
    /// not) — a query that needs the matches of a sparse list as a bitset builds its own
    /// ([`super::filter::Filter`]).
    pub(super) fn weight(&self) -> usize {
        self.segments.iter().map(|s| 2 * s.docs.len() + 1 + if s.is_dense() { (s.max_doc as usize).div_ceil(64) * 12 / 8 } else { 0 }).sum()
    }

    /// The documents in every one of `parts` (which all come from one searcher), each scored by
    /// the sum of its scores in the parts, added in the order of `parts`. The first part is
    /// walked; a dense part after it is probed (a bit and a rank per document walked), another
    /// is merged or galloped through ([`intersect_sorted`]).
    pub(super) fn intersect(parts: &[Arc<TextMatches>]) -> TextMatches {
        let Some((first, rest)) = parts.split_first() else {
            return TextMatches { segments: Vec::new(), reused: AtomicBool::new(false), asked: AtomicBool::new(false) };
        };
        let segments = first
            .segments
            .iter()
            .enumerate()
            .map(|(ord, seg)| {
                // `None`: still all of the first part's matches (not copied until narrowed).
                let mut docs: Option<Vec<(DocId, Score)>> = None;
                for other in rest {
                    let walked = docs.as_deref().unwrap_or(&seg.docs);
                    let narrowed = match other.segments.get(ord) {
                        None => Vec::new(),
                        Some(other) if other.is_dense() => other.probe(walked),
                        Some(other) => intersect_sorted(walked, &other.docs),
                    };
                    let empty = narrowed.is_empty();
                    docs = Some(narrowed);
                    if empty {
                        break;
                    }
                }
                SegmentText::new(docs.unwrap_or_else(|| seg.docs.clone()), seg.max_doc)
            })
            .collect();
        TextMatches { segments, reused: AtomicBool::new(false), asked: AtomicBool::new(false) }
    }
}

impl TextMatches {
    /// The matches that a word also matches, with its score added: what intersecting with the
    /// word's own matches gives, without collecting every match of the word. `clauses` are the
    /// word's alternatives ([`super::schema::Fields::word_clauses`]); each one's scorer seeks from
    /// one of these documents to the next, and a document's score for the word is the sum of the
    /// scores of the clauses it matches, added in their order — what tantivy's union of the
    /// clauses gives, without the union's buffered window, which costs a refill of every clause
    /// for each sparse document.
    pub(super) fn restrict(&self, searcher: &Searcher, clauses: &[Box<dyn Query>]) -> tantivy::Result<TextMatches> {
        let weights =
            clauses.iter().map(|q| q.weight(EnableScoring::enabled_from_searcher(searcher))).collect::<tantivy::Result<Vec<_>>>()?;
        let mut segments = Vec::with_capacity(self.segments.len());
        for (seg, reader) in self.segments.iter().zip(searcher.segment_readers()) {
            let mut docs = Vec::new();
            if !seg.docs.is_empty() {
                let mut scorers = Vec::with_capacity(weights.len());
                for weight in &weights {
                    let scorer = weight.scorer(reader, 1.0)?;
                    if scorer.doc() != TERMINATED {
                        scorers.push(scorer);
                    }
                }
                for &(doc, score) in &seg.docs {
                    let mut word: Option<Score> = None;
                    for scorer in &mut scorers {
                        let mut at = scorer.doc();
                        if at < doc {
                            at = scorer.seek(doc);
                        }
                        if at == doc {
                            word = Some(word.unwrap_or(0.0) + scorer.score());
                        }
                    }
                    if let Some(word) = word {
                        docs.push((doc, score + word));
                    }
                }
            }
            segments.push(SegmentText::new(docs, seg.max_doc));
        }
        Ok(TextMatches { segments, reused: AtomicBool::new(false), asked: AtomicBool::new(false) })
    }
}

/// The documents of both lists (each in document order), with their scores added. Lists less
/// than [`GALLOP_RATIO`] times apart in length are merged side by side; otherwise it walks the
/// shorter list and gallops through the longer one (an exponential then a binary search from
/// where the last document was found), so a short list against a long one costs about
/// `short × log(long / short)` steps instead of `short + long`.
fn intersect_sorted(a: &[(DocId, Score)], b: &[(DocId, Score)]) -> Vec<(DocId, Score)> {
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    if long.len() < GALLOP_RATIO * short.len() {
        return merge_sorted_lists(short, long);
    }
    let mut out = Vec::with_capacity(short.len());
    let mut from = 0;
    for &(doc, score) in short {
        let rest = &long[from..];
        // Gallop: the first power of two past `doc`, then a binary search below it.
        let mut bound = 1;
        while bound < rest.len() && rest[bound].0 < doc {
            bound *= 2;
        }
        let window = &rest[..rest.len().min(bound + 1)];
        let at = window.partition_point(|&(d, _)| d < doc);
        from += at;
        match long.get(from) {
            None => break,
            Some(&(d, other)) if d == doc => {
                out.push((doc, score + other));
                from += 1;
            }
            Some(_) => {}
        }
    }
    out
}

/// Below this ratio of lengths a plain merge of the two lists beats galloping.
const GALLOP_RATIO: usize = 8;

/// [`intersect_sorted`] by walking both lists side by side (`short` first in each sum).
fn merge_sorted_lists(short: &[(DocId, Score)], long: &[(DocId, Score)]) -> Vec<(DocId, Score)> {
    let mut out = Vec::with_capacity(short.len());
    let (mut i, mut j) = (0, 0);
    while i < short.len() && j < long.len() {
        let (d, s) = short[i];
        let (e, t) = long[j];
        match d.cmp(&e) {
            Ordering::Less => i += 1,
            Ordering::Greater => j += 1,
            Ordering::Equal => {
                out.push((d, s + t));
                i += 1;
                j += 1;
            }
        }
    }
    out
}

impl SegmentText {
    /// Matches in document order, in a segment of `max_doc` documents.
    fn new(docs: Vec<(DocId, Score)>, max_doc: u32) -> Self {
        SegmentText { docs, by_score: OnceLock::new(), dense: OnceLock::new(), max_doc }
    }

    /// Whether the list holds at least one document in [`DENSE_RATIO`].
    pub(super) fn is_dense(&self) -> bool {
        !self.docs.is_empty() && self.docs.len() as u64 * DENSE_RATIO >= u64::from(self.max_doc)
    }

    /// The documents of `walked` (in document order) that are also in this list, with this
    /// list's score added to theirs.
    fn probe(&self, walked: &[(DocId, Score)]) -> Vec<(DocId, Score)> {
        let dense = self.dense();
        walked.iter().filter_map(|&(doc, score)| dense.position(doc).map(|i| (doc, score + self.docs[i].1))).collect()
    }

    /// The list as a bitset ([`doc_bits`]) when it is dense: cached with it (built on first use).
    pub(super) fn bits(&self) -> Option<&[u64]> {
        self.is_dense().then(|| self.dense().bits.as_slice())
    }

    /// The bits and ranks of the list (built on first use).
    fn dense(&self) -> &Dense {
        self.dense.get_or_init(|| Dense::build(&self.docs, self.max_doc))
    }
}

/// Orders matches by score descending, then document ascending (scores are finite and ≥ 0, so
/// their bits order like the values).
#[inline]
pub(super) fn score_order(doc: DocId, score: Score) -> u64 {
    (u64::from(!score.max(0.0).to_bits()) << 32) | u64::from(doc)
}

/// Collects every live match with its score.
pub(super) struct TextCollector;

pub(super) struct TextSegmentCollector {
    ord: SegmentOrdinal,
    docs: Vec<(DocId, Score)>,
    max_doc: u32,
}

impl Collector for TextCollector {
    type Fruit = TextMatches;
    type Child = TextSegmentCollector;

    fn for_segment(&self, ord: SegmentOrdinal, segment: &SegmentReader) -> tantivy::Result<TextSegmentCollector> {
        Ok(TextSegmentCollector { ord, docs: Vec::new(), max_doc: segment.max_doc() })
    }

    fn requires_scoring(&self) -> bool {
        true
    }

    fn merge_fruits(&self, mut fruits: Vec<(SegmentOrdinal, SegmentText)>) -> tantivy::Result<TextMatches> {
        fruits.sort_by_key(|(ord, _)| *ord);
        Ok(TextMatches {
            segments: fruits.into_iter().map(|(_, s)| s).collect(),
            reused: AtomicBool::new(false),
            asked: AtomicBool::new(false),
        })
    }
}

impl SegmentCollector for TextSegmentCollector {
    type Fruit = (SegmentOrdinal, SegmentText);

    fn collect(&mut self, doc: DocId, score: Score) {
        self.docs.push((doc, score));
    }

    fn harvest(self) -> (SegmentOrdinal, SegmentText) {
        (self.ord, SegmentText::new(self.docs, self.max_doc))
    }
}

// `tantivy::collector::Fruit` is implemented for all `Send + 'static` types.
const _: fn() = || {
    fn fruit<T: tantivy::collector::Fruit>() {}
    fruit::<TextMatches>();
    fruit::<(SegmentOrdinal, SegmentText)>();
};

// ---- facet counts ---------------------------------------------------------------------------

/// Facet counts of one segment, by ordinal.
pub(super) struct Counts {
    pub(super) total: u64,
    pub(super) brands: Vec<u64>,
    pub(super) categories: Vec<u64>,
    pub(super) bands: [u64; 6],
}

impl Counts {
    pub(super) fn new(data: &SegmentData) -> Self {
        Counts { total: 0, brands: vec![0; data.brand_names.len()], categories: vec![0; data.cat_names.len()], bands: [0; 6] }
    }

    /// Adds (`delta` 1) or removes (`u64::MAX`, i.e. -1 wrapping) a document.
    #[inline]
    pub(super) fn add(&mut self, data: &SegmentData, doc: DocId, delta: u64) {
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
        let band = &mut self.bands[row.band as usize];
        *band = band.wrapping_add(delta);
    }
}

/// `total`, facets and the per-segment match counts of a query.
pub(super) struct FacetEntry {
    pub(super) total: u64,
    pub(super) facets: Facets,
    pub(super) segment_totals: Vec<u64>,
}

impl FacetEntry {
    pub(super) fn merge(data: &[Arc<SegmentData>], counts: Vec<Counts>) -> FacetEntry {
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

// ---- merging sorted pages -------------------------------------------------------------------

/// A sort key value, comparable across segments.
#[derive(PartialEq, PartialOrd)]
enum KeyValue {
    Int(i64),
    Float(f64),
    Text(String),
}

/// Merges the per-segment sorted candidates of a keyed sort into one order: by key, then
/// segment, then document (all reversed for a descending sort).
pub(super) fn merge_sorted(
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
                let prices = &data[seg as usize].prices;
                keyed.extend(docs.into_iter().map(|d| (KeyValue::Int(prices[d as usize]), DocAddress::new(seg, d))));
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

#[cfg(test)]
mod tests {
    use super::{SegmentText, intersect_sorted, merge_sorted_lists};

    #[test]
    fn intersecting_sorted_lists_keeps_the_common_documents_with_their_scores_added() {
        let long: Vec<(u32, f32)> = (0..10_000).map(|d| (d * 3, d as f32)).collect();
        let short = vec![(0, 0.5), (3, 0.25), (4, 1.0), (2_997, 2.0), (29_997, 4.0), (30_000, 8.0)];
        let expected = vec![(0, 0.5), (3, 1.25), (2_997, 2.0 + 999.0), (29_997, 4.0 + 9_999.0)];
        assert_eq!(intersect_sorted(&short, &long), expected);
        let swapped: Vec<(u32, f32)> =
            expected.iter().map(|&(d, _)| (d, long[(d / 3) as usize].1 + short.iter().find(|s| s.0 == d).unwrap().1)).collect();
        assert_eq!(intersect_sorted(&long, &short), swapped, "either list may be the shorter");
        assert_eq!(merge_sorted_lists(&short, &long), expected, "the plain merge (lists of close lengths) agrees with galloping");
        // Against the plain merge on irregular lists.
        let a: Vec<(u32, f32)> = (0..5_000u32).filter(|d| d % 7 == 0 || d % 11 == 0).map(|d| (d, 1.0)).collect();
        let b: Vec<(u32, f32)> = (0..5_000u32).filter(|d| d % 13 == 0 || d % 2 == 0).map(|d| (d, 2.0)).collect();
        let merged: Vec<(u32, f32)> = a.iter().filter(|x| b.iter().any(|y| y.0 == x.0)).map(|&(d, s)| (d, s + 2.0)).collect();
        assert_eq!(intersect_sorted(&a, &b), merged);
        assert!(intersect_sorted(&a, &[]).is_empty() && intersect_sorted(&[], &b).is_empty());
    }

    #[test]
    fn probing_a_dense_list_gives_what_merging_with_it_gives() {
        let max_doc = 100_000u32;
        let lists: Vec<Vec<(u32, f32)>> = [3u32, 7, 61, 64, 65, 1_000]
            .iter()
            .map(|&step| (step / 2..max_doc).step_by(step as usize).map(|d| (d, (d % 97) as f32 / 8.0)).collect())
            .collect();
        for (i, walked) in lists.iter().enumerate() {
            for other in &lists {
                let text = SegmentText::new(other.clone(), max_doc);
                assert_eq!(text.is_dense(), other.len() as u64 * 64 >= u64::from(max_doc));
                let probed = text.probe(walked);
                assert_eq!(probed, merge_sorted_lists(walked, other), "list {i}");
                assert_eq!(probed, intersect_sorted(walked, other), "list {i}");
            }
        }
        // Documents of the last 64-bit word (max_doc not a multiple of 64) and of the first.
        let edge = SegmentText::new(vec![(0, 1.0), (1, 2.0), (99_999, 3.0)], max_doc);
        assert_eq!(edge.probe(&[(0, 0.5), (2, 0.5), (99_998, 0.5), (99_999, 0.5)]), vec![(0, 1.5), (99_999, 3.5)]);
        assert!(SegmentText::new(Vec::new(), max_doc).probe(&[(5, 1.0)]).is_empty());
    }
}
