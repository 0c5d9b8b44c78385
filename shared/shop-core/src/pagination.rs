//! Page-number pagination: `page` (from 1), `limit` (default 20, at most 100) and
//! `meta {total, page, limit, totalPages}`.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::problem::ApiError;

pub const DEFAULT_LIMIT: u32 = 20;
pub const MAX_LIMIT: u32 = 100;
/// No page reaches past this many results (`page × limit`), on every paginated route: deeper
/// pages are what scrapers ask for, never people, and the search index's result window ends here.
pub const MAX_WINDOW: u64 = 10_000;

/// The raw `page` and `limit` query parameters.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Page number, from 1; `page × limit` at most 10,000.
    #[param(minimum = 1, maximum = 10_000)]
    pub page: Option<u32>,
    /// Items per page, 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
}

/// Checked page parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    pub page: u32,
    pub limit: u32,
}

impl PageQuery {
    /// The page parameters, checked: `page` from 1, `limit` 1 to 100, `page × limit` at most
    /// [`MAX_WINDOW`] (400 naming the parameter).
    pub fn checked(&self) -> Result<PageRequest, ApiError> {
        self.checked_unbounded()?.within(MAX_WINDOW)
    }

    fn checked_unbounded(&self) -> Result<PageRequest, ApiError> {
        let page = self.page.unwrap_or(1);
        if page < 1 {
            return Err(ApiError::invalid_param("page", "must be at least 1"));
        }
        let limit = self.limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(ApiError::invalid_param("limit", format!("must be between 1 and {MAX_LIMIT}")));
        }
        Ok(PageRequest { page, limit })
    }
}

impl PageQuery {
    /// [`PageQuery::checked`], and the page may not reach past the first `window` results
    /// (`page × limit ≤ window`; 400 naming `page`): for lists served from a search index, whose
    /// result window is bounded, and lists read whole and sliced.
    pub fn checked_within(&self, window: u64) -> Result<PageRequest, ApiError> {
        self.checked_unbounded()?.within(window.min(MAX_WINDOW))
    }
}

impl PageRequest {
    /// This page, if it does not reach past the first `window` results (`page × limit ≤
    /// window`); else 400 naming `page`.
    pub fn within(self, window: u64) -> Result<Self, ApiError> {
        if u64::from(self.page) * u64::from(self.limit) > window {
            return Err(ApiError::invalid_param("page", format!("page × limit must not exceed {window}")));
        }
        Ok(self)
    }

    pub fn offset(&self) -> usize {
        (self.page as usize - 1) * self.limit as usize
    }

    /// Cuts one page out of a complete, ordered list.
    pub fn slice<T>(&self, items: Vec<T>) -> Page<T> {
        let total = items.len() as u64;
        let data = items.into_iter().skip(self.offset()).take(self.limit as usize).collect();
        Page { data, meta: PageMeta::new(total, *self) }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PageMeta {
    pub total: u64,
    pub page: u32,
    pub limit: u32,
    pub total_pages: u64,
}

impl PageMeta {
    pub fn new(total: u64, request: PageRequest) -> Self {
        let total_pages = total.div_ceil(u64::from(request.limit));
        Self { total, page: request.page, limit: request.limit, total_pages }
    }
}

/// `{data, meta}`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Page<T> {
    pub data: Vec<T>,
    pub meta: PageMeta,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_bounds() {
        let ok = PageQuery::default().checked().expect("defaults are valid");
        assert_eq!(ok, PageRequest { page: 1, limit: 20 });
        assert_eq!(PageQuery { page: Some(0), limit: None }.checked().unwrap_err().field_errors()[0].field, "page");
        assert_eq!(PageQuery { page: None, limit: Some(101) }.checked().unwrap_err().field_errors()[0].field, "limit");
    }

    #[test]
    fn a_result_window_caps_page_times_limit() {
        let q = |page, limit| PageQuery { page: Some(page), limit: Some(limit) };
        assert_eq!(q(100, 100).checked_within(10_000).expect("the last full page"), PageRequest { page: 100, limit: 100 });
        for (page, limit) in [(101, 100), (10_001, 1), (u32::MAX, 100)] {
            let err = q(page, limit).checked_within(10_000).unwrap_err();
            assert_eq!((err.status().as_u16(), err.field_errors()[0].field.as_str()), (400, "page"), "{page} × {limit}");
        }
        assert_eq!(q(1, 101).checked_within(10_000).unwrap_err().field_errors()[0].field, "limit", "the ordinary bounds first");
    }

    #[test]
    fn no_page_reaches_past_the_window() {
        assert!(PageQuery { page: Some(100), limit: Some(100) }.checked().is_ok());
        let deep = PageQuery { page: Some(101), limit: Some(100) }.checked().unwrap_err();
        assert_eq!((deep.status().as_u16(), deep.field_errors()[0].field.as_str()), (400, "page"));
        assert!(PageQuery { page: Some(u32::MAX), limit: Some(1) }.checked().is_err());
    }

    #[test]
    fn slicing_reports_totals() {
        let page = PageRequest { page: 3, limit: 2 }.slice((1..=5).collect::<Vec<_>>());
        assert_eq!(page.data, vec![5]);
        assert_eq!(page.meta, PageMeta { total: 5, page: 3, limit: 2, total_pages: 3 });
    }
}
