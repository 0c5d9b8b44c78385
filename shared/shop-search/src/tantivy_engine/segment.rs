//! Per-segment snapshots of the filter, facet and sort columns ([`SegmentData`]), built once per
//! segment by the reader's warmer (segments are immutable; deletes are applied at query time).

use std::collections::HashMap;
use std::sync::OnceLock;

use tantivy::{DocId, SegmentReader};

use super::schema::{F_ACTIVE, F_BRAND, F_CATEGORY_PATH, F_CREATED, F_FEATURED, F_IN_STOCK, F_NAME_SORT, F_PRICE, F_RATING};
use crate::{PRICE_BAND_BOUNDS, Sort};

// Bits of `Row::flags`.
pub(super) const ACTIVE: u8 = 1;
pub(super) const IN_STOCK: u8 = 2;
pub(super) const FEATURED: u8 = 4;
/// Ordinal of "no value" (a product without brand).
pub(super) const NONE: u32 = u32::MAX;
/// Category "ordinal" of a document with several categories.
pub(super) const MULTI: u32 = u32::MAX - 1;

/// The filter and facet columns of one segment as plain arrays, plus the price-sorted groups and
/// (on first use) the sort permutations.
pub(super) struct SegmentData {
    pub(super) max_doc: u32,
    pub(super) rows: Vec<Row>,
    /// Price in cents of each document.
    pub(super) prices: Vec<i64>,
    pub(super) brand_names: Vec<String>,
    /// `brand_names` lowercased (the brand filter is case-insensitive).
    pub(super) brand_lower: Vec<String>,
    /// Category ordinals of document `d`: `cat_vals[cat_start[d]..cat_start[d + 1]]`.
    cat_start: Vec<u32>,
    cat_vals: Vec<u32>,
    pub(super) cat_names: Vec<String>,
    pub(super) groups: Option<Groups>,
    orders: [OnceLock<SortOrder>; 4],
}

/// The filter and facet values of one document, read together (12 bytes: one cache line).
#[derive(Clone, Copy, Default)]
pub(super) struct Row {
    /// Brand ordinal ([`NONE`] without brand).
    pub(super) brand: u32,
    /// The category ordinal of a document with exactly one ([`NONE`]: none; [`MULTI`]: several,
    /// in `SegmentData::cat_vals`).
    pub(super) cat: u32,
    /// `ACTIVE | IN_STOCK | FEATURED` bits.
    pub(super) flags: u8,
    /// The price band's index (`price_band_index`); the price itself is in `SegmentData::prices`,
    /// read only by a price filter or sort (a row of 12 bytes instead of 24: the rows of a
    /// million documents take half the cache).
    pub(super) band: u8,
}

/// Documents grouped by (brand, categories, flags); within a group sorted by (price, doc).
pub(super) struct Groups {
    pub(super) heads: Vec<GroupHead>,
    /// Category ordinals of the groups (`GroupHead::cats` ranges).
    pub(super) cats: Vec<u32>,
    pub(super) prices: Vec<i64>,
    pub(super) docs: Vec<DocId>,
    /// Each document's group and price band as `group * 8 + band`: counting a list's facets
    /// reads 4 bytes a match and counts per slot ([`super::filter::Filter::count`]).
    pub(super) slot: Vec<u32>,
}

pub(super) struct GroupHead {
    pub(super) brand: u32,
    pub(super) flags: u8,
    pub(super) cats: (u32, u32),
    /// Positions in `prices`/`docs` where each price band starts; `bands[6]` is the group's end.
    pub(super) bands: [u32; 7],
}

/// Documents of a segment in ascending order of a sort key (ties by document), and each
/// document's position in that order.
pub(super) struct SortOrder {
    pub(super) perm: Vec<DocId>,
    pub(super) rank: Vec<u32>,
}

/// The sort keys with a permutation (index into `SegmentData::orders`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum SortKey {
    Created = 0,
    Price = 1,
    Name = 2,
    Rating = 3,
}

impl SortKey {
    /// The key and direction of a non-relevance sort (relevance without text is newest first).
    pub(super) fn of(sort: Sort) -> (SortKey, bool) {
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
    pub(super) fn build(seg: &SegmentReader) -> tantivy::Result<Self> {
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
                band: crate::price_band_index(price[d]) as u8,
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
            prices: price,
            cat_start,
            cat_vals,
            cat_names: names(cat_column.as_ref())?,
            groups,
            orders: Default::default(),
        })
    }

    #[inline]
    pub(super) fn cats(&self, doc: DocId) -> &[u32] {
        let d = doc as usize;
        &self.cat_vals[self.cat_start[d] as usize..self.cat_start[d + 1] as usize]
    }

    /// The permutation of `key` (built on first use).
    pub(super) fn order(&self, seg: &SegmentReader, key: SortKey) -> tantivy::Result<&SortOrder> {
        let slot = &self.orders[key as usize];
        if let Some(order) = slot.get() {
            return Ok(order);
        }
        let n = self.max_doc;
        let mut perm: Vec<DocId> = (0..n).collect();
        let ff = seg.fast_fields();
        match key {
            SortKey::Price => perm.sort_by_key(|&d| (self.prices[d as usize], d)),
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
        let slot = group_of.iter().zip(price).map(|(&g, &p)| g * 8 + crate::price_band_index(p) as u32).collect();
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
        Some(Groups { heads: out, cats: group_cats, prices, docs, slot })
    }
}
