//! `GET /api/products`: listing and search are one endpoint with one shape, served from the
//! search index (tantivy locally, OpenSearch in AWS; the query runs in [`crate::search`]) and
//! cached for 60 s ([`crate::store::CachedStore::listing_cached`]). This module parses the query.
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

use axum::Json;
use axum::extract::{RawQuery, State};
use serde::Deserialize;
use shop_core::pagination::PageQuery;
use shop_core::{ApiError, ApiResult};
use shop_search::{SearchError, SearchQuery, Sort};
use utoipa::IntoParams;

use crate::AppState;
use crate::search::{Listing, ListingError, ListingPage};

shop_core::problem_responses! {
    /// A listing parameter is invalid.
    InvalidListingParameter: 400 => "A parameter is invalid (named in `errors`)";
    /// The category filter names no category.
    UnknownCategory: 404 => "Unknown category";
    /// The search engine does not answer.
    SearchUnavailable: 503 => "The search index is unavailable";
}

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
    #[param(max_length = 200)]
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
    #[param(value_type = Option<Sort>, inline)]
    sort: Option<String>,
    /// Page number, from 1; `page × limit` at most 10,000.
    #[param(minimum = 1, maximum = 10_000)]
    page: Option<u32>,
    /// Items per page, 1–100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
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
    use serde::Deserialize as _;
    use serde::de::IntoDeserializer as _;
    Sort::deserialize(value.into_deserializer()).map_err(|_: serde::de::value::Error| {
        ApiError::invalid_param("sort", "must be one of relevance, newest, price_asc, price_desc, name_asc, name_desc, rating")
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
    PageQuery { page: Some(page), limit: Some(limit) }.checked_within(shop_search::MAX_RESULT_WINDOW)?;
    query.sort = match (sort, sort_by) {
        (Some(s), _) => s,
        (None, Some(by)) => legacy_sort(&by, sort_order.as_deref())?,
        (None, None) => Sort::Relevance,
    };
    query.page = page;
    query.limit = limit;
    Ok(Listing { query, category })
}

impl From<ListingError> for ApiError {
    fn from(e: ListingError) -> Self {
        match e {
            ListingError::UnknownCategory(wanted) => ApiError::not_found(format!("Category {wanted} not found.")),
            ListingError::Search(SearchError::InvalidQuery(m)) => ApiError::bad_request("invalid_query", m),
            ListingError::Search(e @ SearchError::Engine(_)) => ApiError::unavailable(&e),
            ListingError::InvalidSource(..) => ApiError::internal(&e),
            ListingError::Store(e) => e.into(),
        }
    }
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
    Ok(Json(state.store.listing_cached(&*state.search, &listing).await?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(e: ApiError) -> String {
        e.field_errors()[0].field.clone()
    }

    #[test]
    fn the_documented_sorts_are_the_accepted_ones() {
        let params = serde_json::to_value(ListingParams::into_params(|| None)).unwrap();
        let sort = params.as_array().and_then(|p| p.iter().find(|p| p["name"] == "sort")).cloned().unwrap_or_default();
        assert!(sort["description"].as_str().is_some_and(|d| d.contains("`relevance` (default)")), "{sort}");
        let values: Vec<&str> = sort["schema"]["enum"].as_array().into_iter().flatten().filter_map(serde_json::Value::as_str).collect();
        assert_eq!(values, ["relevance", "newest", "price_asc", "price_desc", "name_asc", "name_desc", "rating"]);
        for value in values {
            assert!(sort_param(value).is_ok(), "{value}");
        }
        assert!(sort_param("popular").is_err());
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
}
