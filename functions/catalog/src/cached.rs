//! Cached reads of the storefront (TTLs as the seed: product 300 s, featured 120 s, categories
//! 600 s) over `shop_cache`'s versioned namespaces. Every write bumps the namespaces it touches
//! ([`Writes`]), so no read ever serves data older than the last acknowledged write.

use std::time::Duration;

use uuid::Uuid;

use crate::AppState;
use crate::domain::Product;
use crate::store::{CategoryRecord, StoreError};

pub const PRODUCTS: &str = "products";
pub const CATEGORIES: &str = "categories";

const PRODUCT_TTL: Duration = Duration::from_secs(300);
const FEATURED_TTL: Duration = Duration::from_secs(120);
const CATEGORIES_TTL: Duration = Duration::from_secs(600);

impl AppState {
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

    /// After a product write: product reads and (counts) category reads are stale.
    pub async fn product_written(&self) {
        tokio::join!(self.cache.invalidate(PRODUCTS), self.cache.invalidate(CATEGORIES));
    }

    /// After inventory reported stock: product reads (by id, slug, SKU, featured) are stale;
    /// category counts are not.
    pub async fn availability_written(&self) {
        self.cache.invalidate(PRODUCTS).await;
    }

    /// After a category write.
    pub async fn category_written(&self) {
        self.cache.invalidate(CATEGORIES).await;
    }
}
