//! Seed, bulk load and synthetic data for the local cloud and benchmarks: everything that fills
//! the stores with data and that no Lambda function needs. It writes through the functions'
//! own stores (`catalog::store::Store`, `inventory::store::Store`, `cart::store::CouponStore`)
//! and, for bulk loads, the catalog's own item layout.
//!
//! - [`dataset`]: the DummyJSON data set (`infra/seed/dummyjson-products.json`).
//! - [`catalog`]: the data set into the catalog (categories, products), and synthetic catalogs.
//! - [`synthetic`]: the synthetic product generator (the only one).
//! - [`bulk`]: BatchGetItem / BatchWriteItem loading of `CatalogTable`.
//! - [`stock`]: the data set's stock into inventory.
//! - [`coupons`]: the demo coupons into the cart's promotions table.
//!
//! Used by the local runner (`skyshop-local serve` seeds an empty catalog, its stock and the
//! coupons; `skyshop-local seed`) and `skyshop-bench`.

pub mod bulk;
pub mod catalog;
pub mod coupons;
pub mod dataset;
pub mod stock;
pub mod synthetic;
