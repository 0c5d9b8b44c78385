//! `GET /api/products`: listing and search are one endpoint with one shape, served from the
//! search index (tantivy locally, OpenSearch in AWS) and cached for 60 s.
//!
//! Parameters (every other key is a 400 naming it):
//! - `q` — free text, typo tolerant (`iphne` finds iPhone), name weighs more than description;
//! - `category` — a category id or slug; products of its descendants are included;
//! - `brand` — repeatable, case-insensitive (`brand=apple&brand=Samsung`);
//! - `minPrice`, `maxPrice` — integer cents, inclusive;
//! - `tags` — comma-separated and/or repeatable, any-match;
//! - `inStock`, `featured` — `true`/`false`;
//! - `sort` — `relevance` (default; `newest` without `q`), `newest`, `price_asc`, `price_desc`,
//!   `name_asc`, `name_desc`, `rating`; the seed's `sortBy`/`sortOrder` pair is accepted for the
//!   whitelisted fields (`createdAt`, `price`, `name`, `rating`, `_score`);
//! - `page` (from 1), `limit` (1–100, default 20); `page × limit` ≤ 10,000.
//!
//! Response: `{data, meta{total, page, limit, totalPages}, facets{brands, categories, priceBands}}`;
//! `data` are products as `GET /api/products/{id}` shows them; facets count all matches.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::Json;
use axum::extract::{RawQuery, State};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use shop_core::pagination::PageMeta;
use shop_core::{ApiError, ApiResult};
use shop_search::{SearchError, SearchQuery, Sort};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::AppState;
use crate::domain::{Category, Product, descendants};

shop_core::problem_responses! {
    /// A listing parameter is invalid.
    InvalidListingParameter: 400 => "A parameter is invalid (named in `errors`)";
    /// The category filter names no category.
    UnknownCategory: 404 => "Unknown category";
    /// The search engine does not answer.
    SearchUnavailable: 503 => "The search index is unavailable";
}

/// Cache namespace of listings, bumped by the indexer after every index write.
pub const LISTINGS: &str = "listings";
const LISTING_TTL: Duration = Duration::from_secs(60);
/// Longest accepted text query, in characters.
const MAX_Q_CHARS: usize = 200;
/// Most `brand` or `tags` values in one query.
const MAX_VALUES: usize = 20;

/// The query parameters (documentation; parsing is [`parse`], which takes repeated keys).
#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct ListingParams {
    /// Free text (typo tolerant), at most 200 characters.
    q: Option<String>,
    /// Category id or slug; descendants included.
    category: Option<String>,
    /// Brand, case-insensitive; repeat for several (any of).
    brand: Option<Vec<String>>,
    /// Lowest price in cents (inclusive).
    #[param(minimum = 0)]
    min_price: Option<i64>,
    /// Highest price in cents (inclusive).
    #[param(minimum = 0)]
    max_price: Option<i64>,
    /// Tags, comma-separated or repeated (any of).
    tags: Option<String>,
    /// Only products in stock (`true`) or out of stock (`false`).
    in_stock: Option<bool>,
    /// Only featured (`true`) or non-featured (`false`) products.
    featured: Option<bool>,
    /// `relevance` (default), `newest`, `price_asc`, `price_desc`, `name_asc`, `name_desc`, `rating`.
    sort: Option<String>,
    /// Page number, from 1.
    #[param(minimum = 1)]
    page: Option<u32>,
    /// Items per page, 1–100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
}

/// A listing request after parsing: the engine query plus the category as given.
#[derive(Debug, Clone, PartialEq)]
pub struct Listing {
    pub query: SearchQuery,
    /// The `category` parameter (id or slug), resolved against the tree before searching.
    pub category: Option<String>,
}

fn bool_param(name: &str, value: &str) -> ApiResult<bool> {
    match value {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(ApiError::invalid_param(name, "must be true or false")),
    }
}

fn cents_param(name: &str, value: &str) -> ApiResult<i64> {
    match value.trim().parse::<i64>() {
        Ok(v) if v >= 0 => Ok(v),
        Ok(_) => Err(ApiError::invalid_param(name, "must not be negative")),
        Err(_) => Err(ApiError::invalid_param(name, "must be a whole number of cents (e.g. 1999 for $19.99)")),
    }
}

fn u32_param(name: &str, value: &str) -> ApiResult<u32> {
    value.trim().parse::<u32>().map_err(|_| ApiError::invalid_param(name, "must be a positive whole number"))
}

fn sort_param(value: &str) -> ApiResult<Sort> {
    Ok(match value {
        "relevance" => Sort::Relevance,
        "newest" => Sort::Newest,
        "price_asc" => Sort::PriceAsc,
        "price_desc" => Sort::PriceDesc,
        "name_asc" => Sort::NameAsc,
        "name_desc" => Sort::NameDesc,
        "rating" => Sort::Rating,
        _ => {
            return Err(ApiError::invalid_param(
                "sort",
                "must be one of relevance, newest, price_asc, price_desc, name_asc, name_desc, rating",
            ));
        }
    })
}

/// The seed's `sortBy` + `sortOrder`, whitelisted.
fn legacy_sort(by: &str, order: Option<&str>) -> ApiResult<Sort> {
    let descending = match order {
        None | Some("desc") => true,
        Some("asc") => false,
        Some(_) => return Err(ApiError::invalid_param("sortOrder", "must be asc or desc")),
    };
    Ok(match (by, descending) {
        ("createdAt", true) => Sort::Newest,
        ("price", false) => Sort::PriceAsc,
        ("price", true) => Sort::PriceDesc,
        ("name", false) => Sort::NameAsc,
        ("name", true) => Sort::NameDesc,
        ("rating" | "ratingAverage", true) => Sort::Rating,
        ("_score" | "relevance", true) => Sort::Relevance,
        _ => {
            return Err(ApiError::invalid_param(
                "sortBy",
                "must be createdAt (desc), price, name, rating (desc) or _score (desc); prefer `sort`",
            ));
        }
    })
}

fn push_values(out: &mut Vec<String>, name: &str, value: &str, split: bool) -> ApiResult<()> {
    let parts: Vec<&str> = if split { value.split(',').collect() } else { vec![value] };
    for part in parts.into_iter().map(str::trim).filter(|p| !p.is_empty()) {
        if part.chars().count() > 100 {
            return Err(ApiError::invalid_param(name, "values must be at most 100 characters"));
        }
        if !out.iter().any(|v| v.eq_ignore_ascii_case(part)) {
            out.push(part.to_owned());
        }
    }
    if out.len() > MAX_VALUES {
        return Err(ApiError::invalid_param(name, format!("at most {MAX_VALUES} values")));
    }
    Ok(())
}

/// Parses the query string (repeated `brand`/`tags` keys allowed), naming the offending parameter.
pub fn parse(raw: &str) -> ApiResult<Listing> {
    let mut query = SearchQuery::default();
    let mut category = None;
    let (mut sort, mut sort_by, mut sort_order) = (None, None, None);
    let (mut page, mut limit) = (1_u32, shop_core::pagination::DEFAULT_LIMIT);
    for (key, value) in form_urlencoded::parse(raw.as_bytes()) {
        let value = value.as_ref();
        match key.as_ref() {
            "q" => {
                if value.chars().count() > MAX_Q_CHARS {
                    return Err(ApiError::invalid_param("q", format!("must be at most {MAX_Q_CHARS} characters")));
                }
                query.q = Some(value.to_owned()).filter(|q| !q.trim().is_empty());
            }
            "category" => category = Some(value.trim().to_owned()).filter(|c| !c.is_empty()),
            "brand" => push_values(&mut query.brands, "brand", value, false)?,
            "tags" | "tag" => push_values(&mut query.tags, "tags", value, true)?,
            "minPrice" => query.min_price_cents = Some(cents_param("minPrice", value)?),
            "maxPrice" => query.max_price_cents = Some(cents_param("maxPrice", value)?),
            "inStock" => query.in_stock = Some(bool_param("inStock", value)?),
            "featured" => query.featured = Some(bool_param("featured", value)?),
            "sort" => sort = Some(sort_param(value)?),
            "sortBy" => sort_by = Some(value.to_owned()),
            "sortOrder" => sort_order = Some(value.to_owned()),
            "page" => page = u32_param("page", value)?,
            "limit" => limit = u32_param("limit", value)?,
            other => return Err(ApiError::invalid_param(other, "is not a known parameter")),
        }
    }
    if let (Some(min), Some(max)) = (query.min_price_cents, query.max_price_cents)
        && min > max
    {
        return Err(ApiError::invalid_param("minPrice", "must not exceed maxPrice"));
    }
    if page < 1 {
        return Err(ApiError::invalid_param("page", "must be at least 1"));
    }
    if !(1..=shop_core::pagination::MAX_LIMIT).contains(&limit) {
        return Err(ApiError::invalid_param("limit", format!("must be between 1 and {}", shop_core::pagination::MAX_LIMIT)));
    }
    if u64::from(page) * u64::from(limit) > shop_search::MAX_RESULT_WINDOW {
        return Err(ApiError::invalid_param("page", format!("page × limit must not exceed {}", shop_search::MAX_RESULT_WINDOW)));
    }
    query.sort = match (sort, sort_by) {
        (Some(s), _) => s,
        (None, Some(by)) => legacy_sort(&by, sort_order.as_deref())?,
        (None, None) => Sort::Relevance,
    };
    query.page = page;
    query.limit = limit;
    Ok(Listing { query, category })
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
    #[schema(value_type = PageMeta)]
    pub meta: Meta,
    pub facets: ListingFacets,
}

/// [`PageMeta`] that also deserializes (cached pages are read back).
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

fn search_error(e: SearchError) -> ApiError {
    match e {
        SearchError::InvalidQuery(m) => ApiError::bad_request("invalid_query", m),
        SearchError::Engine(_) => ApiError::unavailable(&e),
    }
}

impl AppState {
    /// Runs a parsed listing against the index (uncached).
    pub async fn listing(&self, listing: &Listing, categories: &[Category]) -> ApiResult<ListingPage> {
        let mut query = listing.query.clone();
        if let Some(wanted) = &listing.category {
            let category = categories
                .iter()
                .find(|c| c.id.to_string() == *wanted || c.slug == *wanted)
                .ok_or_else(|| ApiError::not_found(format!("Category {wanted} not found.")))?;
            query.categories = descendants(category.id, categories);
        }
        let results = self.search.search(&query).await.map_err(search_error)?;
        let mut data = Vec::with_capacity(results.hits.len());
        for hit in results.hits {
            let source = hit.source.ok_or_else(|| search_error(SearchError::Engine(format!("hit {} has no stored product", hit.id))))?;
            data.push(RawValue::from_string(source).map_err(|e| ApiError::internal(&e))?);
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
        let page = shop_core::pagination::PageRequest { page: query.page, limit: query.limit };
        let meta = PageMeta::new(results.total, page);
        Ok(ListingPage {
            data,
            meta: Meta { total: meta.total, page: meta.page, limit: meta.limit, total_pages: meta.total_pages },
            facets,
        })
    }
}

/// Canonical cache key of a parsed listing (parameter order and spelling do not matter).
fn cache_key(listing: &Listing) -> String {
    let mut q = listing.query.clone();
    q.brands = q.brands.iter().map(|b| b.to_lowercase()).collect();
    q.brands.sort();
    q.tags = q.tags.iter().map(|t| t.to_lowercase()).collect();
    q.tags.sort();
    q.q = q.text().map(str::to_lowercase);
    let query = serde_json::to_string(&q).unwrap_or_default();
    format!("{}|{query}", listing.category.as_deref().unwrap_or_default())
}

/// List and search active products: full-text (typo tolerant), filters, whitelisted sorts,
/// facets over all matches, pagination. Money in integer cents.
#[utoipa::path(get, path = "/api/products", tag = "products", params(ListingParams),
    responses(
        (status = 200, body = ListingPage),
        InvalidListingParameter,
        UnknownCategory,
        SearchUnavailable,
    ))]
pub async fn list_products(State(state): State<AppState>, RawQuery(raw): RawQuery) -> ApiResult<Json<ListingPage>> {
    let listing = parse(raw.as_deref().unwrap_or_default())?;
    let key = cache_key(&listing);
    let page = state
        .cache
        .get_or_load(LISTINGS, &key, LISTING_TTL, || async {
            let categories: Vec<Category> =
                state.categories_cached().await.map_err(|e| ApiError::internal(&e))?.into_iter().map(|r| r.category).collect();
            state.listing(&listing, &categories).await
        })
        .await?;
    Ok(Json(page))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(e: ApiError) -> String {
        e.field_errors()[0].field.clone()
    }

    #[test]
    fn parameters_parse_with_repeats_and_defaults() {
        let l = parse("q=iphne&brand=Apple&brand=samsung&brand=apple&tags=a,b&tags=c&minPrice=100&maxPrice=5000&inStock=true&sort=price_asc&page=2&limit=50&category=phones").unwrap();
        assert_eq!(l.query.q.as_deref(), Some("iphne"));
        assert_eq!(l.query.brands, ["Apple", "samsung"], "case-insensitive duplicates collapse");
        assert_eq!(l.query.tags, ["a", "b", "c"]);
        assert_eq!((l.query.min_price_cents, l.query.max_price_cents), (Some(100), Some(5000)));
        assert_eq!((l.query.in_stock, l.query.sort, l.query.page, l.query.limit), (Some(true), Sort::PriceAsc, 2, 50));
        assert_eq!(l.category.as_deref(), Some("phones"));
        let d = parse("").unwrap();
        assert_eq!((d.query.page, d.query.limit, d.query.sort), (1, 20, Sort::Relevance));
        assert_eq!(parse("sortBy=price&sortOrder=asc").unwrap().query.sort, Sort::PriceAsc);
        assert_eq!(parse("sortBy=createdAt").unwrap().query.sort, Sort::Newest);
    }

    #[test]
    fn bad_parameters_are_named() {
        assert_eq!(field(parse("minPrice=500&maxPrice=100").unwrap_err()), "minPrice");
        assert_eq!(field(parse("limit=101").unwrap_err()), "limit");
        assert_eq!(field(parse("limit=0").unwrap_err()), "limit");
        assert_eq!(field(parse("page=0").unwrap_err()), "page");
        assert_eq!(field(parse("page=-1").unwrap_err()), "page");
        assert_eq!(field(parse("page=200&limit=100").unwrap_err()), "page");
        assert_eq!(field(parse("sort=price").unwrap_err()), "sort");
        assert_eq!(field(parse("minPrice=abc").unwrap_err()), "minPrice");
        assert_eq!(field(parse("maxPrice=19.99").unwrap_err()), "maxPrice");
        assert_eq!(field(parse("minPrice=-1").unwrap_err()), "minPrice");
        assert_eq!(field(parse("inStock=yes").unwrap_err()), "inStock");
        assert_eq!(field(parse("sortBy=password").unwrap_err()), "sortBy");
        assert_eq!(field(parse("sortBy=price&sortOrder=up").unwrap_err()), "sortOrder");
        assert_eq!(field(parse("color=red").unwrap_err()), "color");
        assert_eq!(field(parse(&format!("q={}", "a".repeat(201))).unwrap_err()), "q");
        for e in [parse("limit=101").unwrap_err(), parse("color=red").unwrap_err()] {
            assert_eq!(e.status(), http::StatusCode::BAD_REQUEST);
        }
    }

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
