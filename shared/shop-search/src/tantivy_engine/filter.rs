//! Query evaluation on one segment: a query's filters resolved against the segment's snapshot
//! ([`Filter`]), counting its matches and finding its first matches in score or key order.

use std::borrow::Cow;
use std::cell::OnceCell;
use std::collections::{BinaryHeap, HashSet};

use fixedbitset::FixedBitSet;
use tantivy::fastfield::AliveBitSet;
use tantivy::schema::IndexRecordOption;
use tantivy::{DocId, DocSet, Score, SegmentReader, TERMINATED, Term};
use uuid::Uuid;

use super::collect::{Counts, SegmentText, doc_bits, has_doc, score_order};
use super::engine_err;
use super::schema::Fields;
use super::segment::{ACTIVE, FEATURED, GroupHead, Groups, IN_STOCK, MULTI, Row, SegmentData, SortKey};
use crate::{SearchError, SearchQuery};

/// A query's filters resolved against one segment.
pub(super) struct Filter<'a> {
    data: &'a SegmentData,
    mask: u8,
    want: u8,
    min: i64,
    max: i64,
    /// Allowed brand ordinals (`None`: no brand filter).
    brands: Option<Vec<bool>>,
    categories: Option<Vec<bool>>,
    tags: Option<FixedBitSet>,
    text: Option<&'a SegmentText>,
    /// `text`'s documents as a bitset of `max_doc` bits, for a scan in another order that asks
    /// whether a document matched: a dense list's own (cached with it), else built per query.
    text_bits: OnceCell<Cow<'a, [u64]>>,
    alive: Option<&'a AliveBitSet>,
}

impl<'a> Filter<'a> {
    pub(super) fn new(
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
            let mut bits = FixedBitSet::with_capacity(data.max_doc as usize);
            let index = seg.inverted_index(fields.tags).map_err(engine_err)?;
            for tag in &q.tags {
                let term = Term::from_field_text(fields.tags, &tag.trim().to_lowercase());
                if let Some(mut postings) = index.read_postings(&term, IndexRecordOption::Basic).map_err(engine_err)? {
                    let mut doc = postings.doc();
                    while doc != TERMINATED {
                        // Postings stay below `max_doc`: this never grows the set.
                        bits.grow_and_insert(doc as usize);
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
            text_bits: OnceCell::new(),
            alive: seg.alive_bitset(),
        })
    }

    /// Whether a price bound narrows the range (`min`/`max` are not the whole of it).
    #[inline]
    fn priced(&self) -> bool {
        self.min != i64::MIN || self.max != i64::MAX
    }

    /// Flags, price, brand and categories.
    #[inline]
    fn attributes(&self, doc: DocId) -> bool {
        self.row_passes(&self.data.rows[doc as usize], doc)
    }

    /// [`Filter::attributes`] of document `doc` whose row is `row`.
    #[inline]
    fn row_passes(&self, row: &Row, doc: DocId) -> bool {
        if row.flags & self.mask != self.want {
            return false;
        }
        if self.priced() {
            let price = self.data.prices[doc as usize];
            if price < self.min || price > self.max {
                return false;
            }
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

    /// Whether `doc` has one of the requested tags (true without a tag filter).
    #[inline]
    fn tagged(&self, doc: DocId) -> bool {
        self.tags.as_ref().is_none_or(|t| t.contains(doc as usize))
    }

    /// Attributes and tags (what a text match or a live document still has to pass).
    #[inline]
    fn filters(&self, doc: DocId) -> bool {
        self.attributes(doc) && self.tagged(doc)
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
    pub(super) fn count(&self, deleted: &[DocId]) -> (Counts, bool) {
        let data = self.data;
        let mut counts = Counts::new(data);
        if let Some(text) = self.text {
            let docs = text.docs.iter().map(|&(doc, _)| doc);
            match data.groups.as_ref().filter(|g| !self.priced() && g.heads.len() * MATCHES_PER_GROUP <= text.docs.len()) {
                Some(groups) => self.count_slots(groups, docs, &mut counts),
                None => self.count_list(docs, &mut counts),
            }
            return (counts, false);
        }
        if let Some(tags) = &self.tags {
            self.count_list(ones(tags), &mut counts);
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

    /// Counts the documents of `docs` (text matches) that are tagged and live and whose group
    /// passes the filters, without a price filter: each match adds one to its (group, price band)
    /// slot (4 bytes read per match instead of its row), then each group that passes adds its
    /// slots to the counts.
    fn count_slots(&self, groups: &Groups, docs: impl Iterator<Item = DocId>, counts: &mut Counts) {
        let mut per_slot = vec![0u32; groups.heads.len() * 8];
        for doc in docs {
            if self.tagged(doc) && self.alive.is_none_or(|a| a.is_alive(doc)) {
                per_slot[groups.slot[doc as usize] as usize] += 1;
            }
        }
        for (h, slots) in groups.heads.iter().zip(per_slot.chunks_exact(8)) {
            let n: u64 = slots.iter().map(|&n| u64::from(n)).sum();
            if n == 0 || !self.group_matches(groups, h) {
                continue;
            }
            counts.total += n;
            if let Some(c) = counts.brands.get_mut(h.brand as usize) {
                *c += n;
            }
            for &c in &groups.cats[h.cats.0 as usize..h.cats.1 as usize] {
                counts.categories[c as usize] += n;
            }
            for (band, &n) in counts.bands.iter_mut().zip(slots) {
                *band += u64::from(n);
            }
        }
    }

    /// Counts the documents of `docs` (text matches, or tagged documents when there is no text)
    /// that pass the filters and are live. Rows are read in batches of independent loads
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
                if self.row_passes(row, doc) && self.tagged(doc) && self.alive.is_none_or(|a| a.is_alive(doc)) {
                    counts.add(self.data, doc, 1);
                }
            }
        }
    }

    /// Whether `doc` is live and, with text, a text match.
    #[inline]
    fn is_live(&self, doc: DocId) -> bool {
        self.text.is_none_or(|t| has_doc(self.text_bits(t), doc)) && self.alive.is_none_or(|a| a.is_alive(doc))
    }

    /// The text matches as a bitset (on first use): a dense list's cached bits, else this
    /// query's own.
    fn text_bits(&self, text: &'a SegmentText) -> &[u64] {
        self.text_bits.get_or_init(|| match text.bits() {
            Some(bits) => Cow::Borrowed(bits),
            None => Cow::Owned(doc_bits(&text.docs, self.data.max_doc)),
        })
    }

    /// The best `need` text matches passing the filters, by score, and how many were looked at.
    pub(super) fn top_by_score(&self, need: usize, reused: bool) -> (Vec<(DocId, Score)>, u64) {
        let Some(text) = self.text else { return (Vec::new(), 0) };
        if !reused {
            // Used once: a bounded heap over the matches instead of sorting them all.
            // Once the heap is full, most matches score below its worst: they are turned away
            // before their filter row is read (a cache miss each in a large segment).
            let mut heap: BinaryHeap<u64> = BinaryHeap::with_capacity(need + 1);
            for &(doc, score) in &text.docs {
                let key = score_order(doc, score);
                if heap.len() < need {
                    if self.filters(doc) {
                        heap.push(key);
                    }
                } else if heap.peek().is_some_and(|&top| key < top) && self.filters(doc) {
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
    pub(super) fn top_by_key(
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
            (None, Some(tags), _) => tags.count_ones(..) as u64,
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
            (Some(text), _, _) => text.docs.iter().map(|&(d, _)| d).filter(|&d| self.filters(d)).for_each(offer),
            (None, Some(tags), _) => ones(tags).filter(|&d| self.matches(d)).for_each(offer),
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

/// Slot counting ([`Filter::count_slots`]) pays when a list has at least this many matches per
/// group (each group has 8 slots to clear and add up).
const MATCHES_PER_GROUP: usize = 4;

/// The documents of a bitset, ascending.
#[inline]
fn ones(bits: &FixedBitSet) -> impl Iterator<Item = DocId> + '_ {
    bits.ones().map(|d| d as DocId)
}
