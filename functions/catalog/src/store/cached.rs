//! The catalog's storage as handlers use it: [`Store`] (DynamoDB) behind a read-through cache
//! of the storefront reads over `shop_cache`'s versioned namespaces (TTLs as the seed: product
//! 300 s, featured 120 s, categories 600 s, listing pages 60 s). Every write made here bumps the
//! namespaces it touches, so no cached read serves data older than the last acknowledged write.
//!
//! Reads come in two kinds, named apart: `*_cached` ones for the storefront (may be served from
//! the cache; their products carry no image keys, which only removals need), and the plain ones
//! for the reads that decide a write or show a seller their own products (always DynamoDB,
//! consistent). Handlers make their one hop to storage here; retries of lost races stay in
//! [`Store`].

use std::future::Future;
use std::time::Duration;

use shop_cache::Cache;
use shop_search::SearchEngine;
use uuid::Uuid;

use super::{AvailabilityWrite, CategoryRecord, Clash, ProductRecord, RatingWrite, SlugPolicy, Store, StoreError};
use crate::domain::{Availability, Category, Product, Rating};
use crate::search::{Listing, ListingError, ListingPage, cache_key, run_listing};

/// Cache namespace of product reads (by id, slug, SKU; featured).
pub const PRODUCTS: &str = "products";
/// Cache namespace of the category tree.
pub const CATEGORIES: &str = "categories";
/// Cache namespace of listing pages, bumped by `catalog-indexer` after every index write.
pub const LISTINGS: &str = "listings";

const PRODUCT_TTL: Duration = Duration::from_secs(300);
const FEATURED_TTL: Duration = Duration::from_secs(120);
const CATEGORIES_TTL: Duration = Duration::from_secs(600);
const LISTING_TTL: Duration = Duration::from_secs(60);

/// [`Store`] with the read cache in front; cheap to clone.
#[derive(Debug, Clone)]
pub struct CachedStore {
    store: Store,
    cache: Cache,
}

impl CachedStore {
    pub fn new(store: Store, cache: Cache) -> Self {
        Self { store, cache }
    }

    /// The DynamoDB store beneath, for bulk tools and tests: its writes invalidate nothing, so
    /// call [`CachedStore::product_written`] / [`CachedStore::category_written`] after them.
    pub fn uncached(&self) -> &Store {
        &self.store
    }

    /// The cache itself (for the indexer's side of the listings namespace, in tests).
    pub fn cache(&self) -> &Cache {
        &self.cache
    }

    // ---- storefront reads (cached) --------------------------------------------------------------

    pub async fn product_cached(&self, id: Uuid) -> Result<Option<Product>, StoreError> {
        self.cache.get_or_load(PRODUCTS, &format!("id:{id}"), PRODUCT_TTL, || self.store.product(id)).await
    }

    pub async fn product_by_slug_cached(&self, slug: &str) -> Result<Option<Product>, StoreError> {
        self.cache.get_or_load(PRODUCTS, &format!("slug:{slug}"), PRODUCT_TTL, || self.store.product_by_slug(slug)).await
    }

    pub async fn product_by_sku_cached(&self, sku: &str) -> Result<Option<Product>, StoreError> {
        let sku = sku.to_uppercase();
        self.cache.get_or_load(PRODUCTS, &format!("sku:{sku}"), PRODUCT_TTL, || self.store.product_by_sku(&sku)).await
    }

    pub async fn featured_cached(&self, limit: u32) -> Result<Vec<Product>, StoreError> {
        self.cache.get_or_load(PRODUCTS, &format!("featured:{limit}"), FEATURED_TTL, || self.store.featured(limit)).await
    }

    /// Every category with its counters (the whole tree is small and read as one value).
    pub async fn categories_cached(&self) -> Result<Vec<CategoryRecord>, StoreError> {
        self.cache.get_or_load(CATEGORIES, "all", CATEGORIES_TTL, || self.store.categories()).await
    }

    /// A listing page from the search index ([`run_listing`]) against the cached category
    /// tree, cached under its normalised query ([`cache_key`]).
    pub async fn listing_cached(&self, engine: &dyn SearchEngine, listing: &Listing) -> Result<ListingPage, ListingError> {
        self.cache
            .get_or_load(LISTINGS, &cache_key(listing), LISTING_TTL, || async {
                let categories: Vec<Category> = self.categories_cached().await?.into_iter().map(|r| r.category).collect();
                run_listing(engine, listing, &categories).await
            })
            .await
    }

    // ---- reads that decide writes or show a seller their own (DynamoDB) --------------------------

    pub async fn product(&self, id: Uuid) -> Result<Option<Product>, StoreError> {
        self.store.product(id).await
    }

    pub async fn product_by_slug(&self, slug: &str) -> Result<Option<Product>, StoreError> {
        self.store.product_by_slug(slug).await
    }

    pub async fn product_by_sku(&self, sku: &str) -> Result<Option<Product>, StoreError> {
        self.store.product_by_sku(sku).await
    }

    pub async fn category(&self, id: Uuid) -> Result<Option<CategoryRecord>, StoreError> {
        self.store.category(id).await
    }

    pub async fn category_by_slug(&self, slug: &str) -> Result<Option<CategoryRecord>, StoreError> {
        self.store.category_by_slug(slug).await
    }

    pub async fn categories(&self) -> Result<Vec<CategoryRecord>, StoreError> {
        self.store.categories().await
    }

    pub async fn seller_products(&self, seller_id: Uuid) -> Result<Vec<Product>, StoreError> {
        self.store.seller_products(seller_id).await
    }

    pub async fn low_stock(&self, seller: Option<Uuid>) -> Result<Vec<ProductRecord>, StoreError> {
        self.store.low_stock(seller).await
    }

    // ---- writes (each invalidates what it touches) ---------------------------------------------

    /// [`Store::create_product`], then product and category reads (counts) are stale.
    pub async fn create_product(&self, product: &Product, slugs: SlugPolicy) -> Result<Result<Product, Clash>, StoreError> {
        self.written(self.store.create_product(product, slugs), Touched::Products).await
    }

    /// [`Store::edit_product`], then product and category reads (counts) are stale.
    pub async fn edit_product<E: From<StoreError>>(
        &self,
        id: Uuid,
        change: impl FnMut(Option<Product>) -> Result<Product, E>,
    ) -> Result<Result<(Product, Product), Clash>, E> {
        self.written(self.store.edit_product(id, change), Touched::Products).await
    }

    /// [`Store::create_category`], then category reads are stale.
    pub async fn create_category(&self, category: &Category) -> Result<Result<(), Clash>, StoreError> {
        self.written(self.store.create_category(category), Touched::Categories).await
    }

    /// [`Store::edit_category`], then category reads are stale.
    pub async fn edit_category<E: From<StoreError>>(
        &self,
        id: Uuid,
        change: impl FnMut(Option<Category>) -> Result<Category, E>,
    ) -> Result<Result<Category, Clash>, E> {
        self.written(self.store.edit_category(id, change), Touched::Categories).await
    }

    /// [`Store::delete_category`], then category reads are stale.
    pub async fn delete_category(&self, category: &Category) -> Result<Result<(), Clash>, StoreError> {
        self.written(self.store.delete_category(category), Touched::Categories).await
    }

    /// [`Store::set_availability`]; when stored, product reads (by id, slug, SKU, featured) are
    /// stale, category counts are not.
    pub async fn set_availability(&self, id: Uuid, stock: Availability) -> Result<AvailabilityWrite, StoreError> {
        let written = self.store.set_availability(id, stock).await?;
        if written == AvailabilityWrite::Stored {
            self.cache.invalidate(PRODUCTS).await;
        }
        Ok(written)
    }

    /// [`Store::set_rating`]; when stored, product reads are stale, category counts are not.
    pub async fn set_rating(&self, id: Uuid, rating: Rating) -> Result<RatingWrite, StoreError> {
        let written = self.store.set_rating(id, rating).await?;
        if written == RatingWrite::Stored {
            self.cache.invalidate(PRODUCTS).await;
        }
        Ok(written)
    }

    /// After a product write: product reads and (counts) category reads are stale.
    pub async fn product_written(&self) {
        tokio::join!(self.cache.invalidate(PRODUCTS), self.cache.invalidate(CATEGORIES));
    }

    /// After a category write.
    pub async fn category_written(&self) {
        self.cache.invalidate(CATEGORIES).await;
    }

    /// Runs `write`; when it wrote (neither failed nor refused), invalidates what it touched.
    async fn written<T, E>(
        &self,
        write: impl Future<Output = Result<Result<T, Clash>, E>>,
        touched: Touched,
    ) -> Result<Result<T, Clash>, E> {
        let outcome = write.await;
        if matches!(outcome, Ok(Ok(_))) {
            match touched {
                Touched::Products => self.product_written().await,
                Touched::Categories => self.category_written().await,
            }
        }
        outcome
    }
}

/// What a write touched, for its invalidation.
#[derive(Debug, Clone, Copy)]
enum Touched {
    /// A product (and so its category's count).
    Products,
    Categories,
}
