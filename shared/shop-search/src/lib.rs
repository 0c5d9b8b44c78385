//! Skyshop product search port.
//!
//! The engine-independent model ([`ProductDoc`], [`SearchQuery`], [`SearchResults`]) and the
//! [`SearchEngine`] trait that the catalog and the catalog indexer program against. The embedded
//! engine is [`TantivyEngine`] (local runs and tests); [`OpenSearchEngine`] (AWS) implements the
//! same trait with the same result shape.
//!
//! Semantics every engine must honour (the old platform got most of these wrong, seed-spec §3.2/§13):
//! - inactive products are never returned unless [`SearchQuery::include_inactive`];
//! - the category filter matches a product whose `category_path` (its category and all ancestors)
//!   contains any of the requested ids, so a parent category includes its descendants;
//! - brand and tag filters are case-insensitive;
//! - `Sort::Relevance` without a text query falls back to `Sort::Newest`;
//! - `total` and the facets cover *all* matches of the query, independent of the page;
//! - a write is visible to searches once `upsert`/`delete` has returned.

use std::future::Future;
use std::pin::Pin;

use serde::{Deserialize, Serialize};
use shop_core::time::Timestamp;
use uuid::Uuid;

pub mod connect;
#[cfg(feature = "opensearch")]
pub mod opensearch_engine;
#[cfg(feature = "tantivy")]
mod tantivy_engine;

pub use connect::{ConfigError, EngineConfig, connect};
#[cfg(feature = "opensearch")]
pub use opensearch_engine::OpenSearchEngine;
#[cfg(feature = "tantivy")]
pub use tantivy_engine::TantivyEngine;

/// Largest page size an engine serves; larger `limit`s are clamped.
pub const MAX_LIMIT: u32 = 100;
/// Deepest result an engine pages to (`page * limit`), like OpenSearch's `max_result_window`.
pub const MAX_RESULT_WINDOW: u64 = 10_000;
/// Upper bounds (exclusive, in cents) of the fixed price bands; the last band is open-ended.
pub const PRICE_BAND_BOUNDS: [i64; 5] = [2_500, 5_000, 10_000, 25_000, 50_000];

/// What gets indexed for one product.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProductDoc {
    pub id: Uuid,
    pub name: String,
    pub description: String,
    pub brand: Option<String>,
    pub category_id: Uuid,
    /// The category and all its ancestors (order irrelevant); must contain `category_id`.
    pub category_path: Vec<Uuid>,
    pub tags: Vec<String>,
    pub price_cents: i64,
    /// 0–5.
    pub rating: f64,
    pub created_at: Timestamp,
    pub is_active: bool,
    pub is_featured: bool,
    pub in_stock: bool,
    pub seller_id: Uuid,
    /// The product as the API shows it (compact JSON text), stored but not indexed and returned
    /// with each hit, so a listing is served from the index in one round trip.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// Whitelisted sort orders.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Sort {
    /// Best match first; without a text query this is [`Sort::Newest`].
    #[default]
    Relevance,
    Newest,
    PriceAsc,
    PriceDesc,
    /// Case-insensitive.
    NameAsc,
    NameDesc,
    /// Highest rating first.
    Rating,
}

/// A product search.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SearchQuery {
    /// Free text; typo tolerant. Blank counts as absent.
    pub q: Option<String>,
    /// Matches if any of these is the product's category or one of its ancestors.
    pub categories: Vec<Uuid>,
    /// Case-insensitive exact brand names (any of).
    pub brands: Vec<String>,
    pub min_price_cents: Option<i64>,
    pub max_price_cents: Option<i64>,
    /// Case-insensitive exact tags (any of).
    pub tags: Vec<String>,
    pub in_stock: Option<bool>,
    pub featured: Option<bool>,
    /// Default false: inactive products are never returned.
    pub include_inactive: bool,
    pub sort: Sort,
    /// 1-based; 0 is treated as 1.
    pub page: u32,
    /// Page size, clamped to [`MAX_LIMIT`]; 0 returns no hits but still `total` and facets.
    pub limit: u32,
}

impl Default for SearchQuery {
    fn default() -> Self {
        Self {
            q: None,
            categories: Vec::new(),
            brands: Vec::new(),
            min_price_cents: None,
            max_price_cents: None,
            tags: Vec::new(),
            in_stock: None,
            featured: None,
            include_inactive: false,
            sort: Sort::Relevance,
            page: 1,
            limit: 20,
        }
    }
}

impl SearchQuery {
    /// The text query, trimmed, if there is one.
    pub fn text(&self) -> Option<&str> {
        self.q.as_deref().map(str::trim).filter(|q| !q.is_empty())
    }

    /// The sort actually applied: `Relevance` without text falls back to `Newest`.
    pub fn effective_sort(&self) -> Sort {
        match self.sort {
            Sort::Relevance if self.text().is_none() => Sort::Newest,
            sort => sort,
        }
    }

    /// `(offset, limit)` of the requested page after clamping, or an error past the result window.
    pub fn window(&self) -> Result<(usize, usize), SearchError> {
        let limit = self.limit.min(MAX_LIMIT);
        let page = u64::from(self.page.max(1));
        let offset = (page - 1) * u64::from(limit);
        if offset + u64::from(limit) > MAX_RESULT_WINDOW {
            return Err(SearchError::InvalidQuery(format!("page * limit must not exceed {MAX_RESULT_WINDOW}")));
        }
        // Both fit in usize: bounded by MAX_RESULT_WINDOW.
        Ok((offset as usize, limit as usize))
    }

    /// Rejects contradictory filters and pages beyond the result window.
    pub fn validate(&self) -> Result<(), SearchError> {
        if let (Some(min), Some(max)) = (self.min_price_cents, self.max_price_cents)
            && min > max
        {
            return Err(SearchError::InvalidQuery("min_price_cents must not exceed max_price_cents".into()));
        }
        self.window().map(|_| ())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hit {
    pub id: Uuid,
    /// Relevance score for `Sort::Relevance`, 0 for the other sorts.
    pub score: f32,
    /// [`ProductDoc::source`] as indexed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Facet {
    pub value: String,
    pub count: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriceBand {
    pub min_cents: i64,
    /// Exclusive; `None` for the open-ended top band.
    pub max_cents: Option<i64>,
    pub count: u64,
}

/// Facets over all matches of a query (not just the page). Value facets are sorted by count
/// descending, then value ascending; price bands are always all six, in ascending order.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Facets {
    /// Brand names as indexed (case variants merged, first seen spelling kept).
    pub brands: Vec<Facet>,
    /// Category ids; a product counts for its category and every ancestor.
    pub categories: Vec<Facet>,
    pub price_bands: Vec<PriceBand>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SearchResults {
    pub hits: Vec<Hit>,
    pub total: u64,
    pub facets: Facets,
}

#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    /// The query is malformed (caller error, maps to 400).
    #[error("invalid search query: {0}")]
    InvalidQuery(String),
    /// The engine failed (maps to 5xx).
    #[error("search engine error: {0}")]
    Engine(String),
}

/// Index of the fixed price band a price falls in.
pub fn price_band_index(price_cents: i64) -> usize {
    PRICE_BAND_BOUNDS.iter().position(|&upper| price_cents < upper).unwrap_or(PRICE_BAND_BOUNDS.len())
}

/// The six fixed price bands with the given counts.
pub fn price_bands(counts: [u64; 6]) -> Vec<PriceBand> {
    (0..6)
        .map(|i| PriceBand {
            min_cents: if i == 0 { 0 } else { PRICE_BAND_BOUNDS[i - 1] },
            max_cents: PRICE_BAND_BOUNDS.get(i).copied(),
            count: counts[i],
        })
        .collect()
}

/// A boxed `Send` future: keeps [`SearchEngine`] dyn-compatible without a proc-macro dependency.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The search port. Object safe: use it as `Arc<dyn SearchEngine>`.
pub trait SearchEngine: Send + Sync {
    /// Inserts or replaces products by id. Visible to `search` once the future resolves.
    fn upsert(&self, docs: Vec<ProductDoc>) -> BoxFuture<'_, Result<(), SearchError>>;
    /// Removes products by id (unknown ids are ignored). Visible once the future resolves.
    fn delete(&self, ids: Vec<Uuid>) -> BoxFuture<'_, Result<(), SearchError>>;
    fn search<'a>(&'a self, query: &'a SearchQuery) -> BoxFuture<'a, Result<SearchResults, SearchError>>;
    /// Number of indexed products (active or not).
    fn count(&self) -> BoxFuture<'_, Result<u64, SearchError>>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relevance_without_text_falls_back_to_newest_and_windows_are_clamped() {
        let q = SearchQuery { q: Some("  ".into()), ..SearchQuery::default() };
        assert_eq!(q.effective_sort(), Sort::Newest);
        let q = SearchQuery { q: Some("shoe".into()), page: 3, limit: 500, ..SearchQuery::default() };
        assert_eq!(q.effective_sort(), Sort::Relevance);
        assert_eq!(q.window().unwrap(), (200, 100));
        let deep = SearchQuery { page: 1_000, limit: 100, ..SearchQuery::default() };
        assert!(matches!(deep.validate(), Err(SearchError::InvalidQuery(_))));
        let bad = SearchQuery { min_price_cents: Some(10), max_price_cents: Some(5), ..SearchQuery::default() };
        assert!(matches!(bad.validate(), Err(SearchError::InvalidQuery(_))));
        assert_eq!(price_band_index(0), 0);
        assert_eq!(price_band_index(2_499), 0);
        assert_eq!(price_band_index(2_500), 1);
        assert_eq!(price_band_index(50_000), 5);
        assert_eq!(price_bands([1, 2, 3, 4, 5, 6])[5], PriceBand { min_cents: 50_000, max_cents: None, count: 6 });
    }
}
