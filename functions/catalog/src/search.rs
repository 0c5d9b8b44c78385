//! The catalog's side of search: what a product looks like in the index (the `catalog-indexer`
//! function writes these documents from the table's stream) and the listing query run against
//! it (`GET /api/products`, parsed in `routes::listing`, cached in [`crate::store::CachedStore`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use shop_core::pagination::{PageMeta, PageRequest};
use shop_search::{ProductDoc, SearchEngine, SearchError, SearchQuery};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::{Category, Product, descendants};
use crate::store::StoreError;

/// Whether a product belongs in the index at all: deleted products are removed from it
/// (inactive ones stay, flagged, for seller/admin views).
pub fn indexable(product: &Product) -> bool {
    product.deleted_at.is_none()
}

/// The index document of a product. The category path holds the product's own category only:
/// listings expand a category to its descendants at query time, so moving a category never
/// needs a reindex. `source` is the product as `GET /api/products/{id}` shows it.
pub fn product_doc(product: &Product) -> ProductDoc {
    ProductDoc {
        id: product.id,
        name: product.name.clone(),
        description: product.description.clone(),
        brand: product.brand.clone(),
        category_id: product.category_id,
        category_path: vec![product.category_id],
        tags: product.tags.clone(),
        price_cents: product.price,
        rating: product.rating_average,
        created_at: product.created_at,
        is_active: product.is_active,
        is_featured: product.is_featured,
        // As inventory last reported it (PUT /internal/products/{id}/availability); a product
        // inventory never reported is out of stock.
        in_stock: product.in_stock,
        seller_id: product.seller_id,
        source: serde_json::to_string(product).ok(),
    }
}

// ---- listing ----------------------------------------------------------------------------------

/// A listing request after parsing: the engine query plus the category as given.
#[derive(Debug, Clone, PartialEq)]
pub struct Listing {
    pub query: SearchQuery,
    /// The `category` parameter (id or slug), resolved against the tree before searching.
    pub category: Option<String>,
}

/// Why a listing could not be answered.
#[derive(Debug, thiserror::Error)]
pub enum ListingError {
    /// The `category` filter names no category (id or slug).
    #[error("category {0} not found")]
    UnknownCategory(String),
    /// The engine refused the query or did not answer.
    #[error(transparent)]
    Search(#[from] SearchError),
    /// A hit's stored product is not JSON (a broken index document).
    #[error("the stored product of hit {0} is not JSON")]
    InvalidSource(Uuid, #[source] serde_json::Error),
    /// The category tree could not be read.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A brand and how many matches carry it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BrandFacet {
    pub value: String,
    pub count: u64,
}

/// A category and how many matches are in it or its descendants.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CategoryFacet {
    pub id: Uuid,
    pub name: String,
    pub slug: String,
    #[serde(default)]
    pub parent_id: Option<Uuid>,
    pub count: u64,
}

/// A price band in cents: `min` inclusive, `max` exclusive (`null`: no upper bound).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PriceBandFacet {
    pub min: i64,
    pub max: Option<i64>,
    pub count: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ListingFacets {
    pub brands: Vec<BrandFacet>,
    pub categories: Vec<CategoryFacet>,
    pub price_bands: Vec<PriceBandFacet>,
}

/// `{data, meta, facets}`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ListingPage {
    /// Products (as `GET /api/products/{id}` shows them).
    #[schema(value_type = Vec<Product>)]
    pub data: Vec<Box<RawValue>>,
    #[schema(value_type = shop_core::pagination::PageMeta)]
    pub meta: Meta,
    pub facets: ListingFacets,
}

/// [`shop_core::pagination::PageMeta`] that also deserializes (cached pages are read back).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Meta {
    pub total: u64,
    pub page: u32,
    pub limit: u32,
    pub total_pages: u64,
}

/// Counts per category rolled up the tree: a product counts for its category and every ancestor.
fn roll_up(counts: &[(Uuid, u64)], categories: &[Category]) -> Vec<CategoryFacet> {
    let by_id: BTreeMap<Uuid, &Category> = categories.iter().map(|c| (c.id, c)).collect();
    let mut totals: BTreeMap<Uuid, u64> = BTreeMap::new();
    for &(id, count) in counts {
        let mut current = by_id.get(&id).copied();
        let mut steps = 0;
        while let Some(c) = current {
            *totals.entry(c.id).or_default() += count;
            steps += 1;
            if steps > categories.len() {
                break;
            }
            current = c.parent_id.and_then(|p| by_id.get(&p).copied());
        }
    }
    let mut out: Vec<CategoryFacet> = totals
        .into_iter()
        .filter_map(|(id, count)| {
            let c = by_id.get(&id)?;
            Some(CategoryFacet { id, name: c.name.clone(), slug: c.slug.clone(), parent_id: c.parent_id, count })
        })
        .collect();
    out.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.name.cmp(&b.name)));
    out
}

/// Runs a parsed listing against the index (uncached): resolves the category filter against
/// `categories` (the whole tree) and expands it to its descendants, runs one engine query and
/// rolls category counts up the tree.
pub async fn run_listing(engine: &dyn SearchEngine, listing: &Listing, categories: &[Category]) -> Result<ListingPage, ListingError> {
    let mut query = listing.query.clone();
    if let Some(wanted) = &listing.category {
        let category = categories
            .iter()
            .find(|c| c.id.to_string() == *wanted || c.slug == *wanted)
            .ok_or_else(|| ListingError::UnknownCategory(wanted.clone()))?;
        query.categories = descendants(category.id, categories);
    }
    let results = engine.search(&query).await?;
    let mut data = Vec::with_capacity(results.hits.len());
    for hit in results.hits {
        let source = hit.source.ok_or_else(|| SearchError::Engine(format!("hit {} has no stored product", hit.id)))?;
        data.push(RawValue::from_string(source).map_err(|e| ListingError::InvalidSource(hit.id, e))?);
    }
    let counts: Vec<(Uuid, u64)> =
        results.facets.categories.iter().filter_map(|f| Some((Uuid::parse_str(&f.value).ok()?, f.count))).collect();
    let facets = ListingFacets {
        brands: results.facets.brands.into_iter().map(|f| BrandFacet { value: f.value, count: f.count }).collect(),
        categories: roll_up(&counts, categories),
        price_bands: results
            .facets
            .price_bands
            .into_iter()
            .map(|b| PriceBandFacet { min: b.min_cents, max: b.max_cents, count: b.count })
            .collect(),
    };
    let page = PageRequest { page: query.page, limit: query.limit };
    let meta = PageMeta::new(results.total, page);
    Ok(ListingPage { data, meta: Meta { total: meta.total, page: meta.page, limit: meta.limit, total_pages: meta.total_pages }, facets })
}

/// Canonical cache key of a parsed listing (parameter order and spelling do not matter).
pub fn cache_key(listing: &Listing) -> String {
    let mut q = listing.query.clone();
    q.brands = q.brands.iter().map(|b| b.to_lowercase()).collect();
    q.brands.sort();
    q.tags = q.tags.iter().map(|t| t.to_lowercase()).collect();
    q.tags.sort();
    q.q = q.text().map(str::to_lowercase);
    let query = serde_json::to_string(&q).unwrap_or_default();
    format!("{}|{query}", listing.category.as_deref().unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routes::listing::parse;

    #[test]
    fn category_counts_roll_up_to_every_ancestor() {
        let now = shop_core::time::Timestamp::UNIX_EPOCH;
        let cat = |id: u128, parent: Option<u128>, name: &str| Category {
            id: Uuid::from_u128(id),
            name: name.into(),
            slug: name.to_lowercase(),
            description: None,
            parent_id: parent.map(Uuid::from_u128),
            is_active: true,
            created_at: now,
            updated_at: now,
        };
        let cats = [cat(1, None, "Electronics"), cat(2, Some(1), "Phones"), cat(3, Some(1), "Laptops"), cat(4, None, "Beauty")];
        let facets = roll_up(&[(Uuid::from_u128(2), 5), (Uuid::from_u128(3), 2), (Uuid::from_u128(4), 1), (Uuid::from_u128(99), 7)], &cats);
        let counts: Vec<(&str, u64)> = facets.iter().map(|f| (f.name.as_str(), f.count)).collect();
        assert_eq!(counts, [("Electronics", 7), ("Phones", 5), ("Laptops", 2), ("Beauty", 1)], "unknown categories are dropped");
    }

    #[test]
    fn cache_keys_ignore_order_and_case() {
        let a = parse("brand=Apple&brand=Sony&q=Phone").unwrap();
        let b = parse("q=phone&brand=sony&brand=apple").unwrap();
        assert_eq!(cache_key(&a), cache_key(&b));
        assert_ne!(cache_key(&a), cache_key(&parse("brand=Apple&q=Phone").unwrap()));
    }
}
