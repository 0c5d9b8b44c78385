//! Loads the DummyJSON data set ([`crate::dataset`]) into the catalog through the catalog's
//! own store: 24 categories under 8 parents (a two-level tree) and 194 products owned by one
//! seller, prices in integer cents. Idempotent: categories are matched by slug, products by SKU.
//!
//! [`seed_synthetic`] adds up to a million synthetic products ([`crate::synthetic`]) made from
//! those, in bulk ([`crate::bulk`]), for benchmarks.

use std::collections::BTreeMap;

use catalog::AppState;
use catalog::domain::{Category, Product, slugify};
use catalog::store::{Clash, SlugPolicy, StoreError};
use shop_core::time::Timestamp;
use uuid::Uuid;

use crate::bulk::{CatalogTable, Unprocessed};
use crate::dataset::{self, DatasetError, TREE, base_product, title_case};
use crate::synthetic::synthetic_product;

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SeedReport {
    pub categories_created: usize,
    pub products_created: usize,
    pub products_existing: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error(transparent)]
    Data(#[from] DatasetError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("could not write {0}: {1:?}")]
    Clash(String, Clash),
    #[error("at most {MAX_SYNTHETIC} synthetic products, not {0}")]
    TooMany(u64),
    #[error("DynamoDB kept refusing part of a bulk write; run the seed again to continue")]
    Unprocessed(#[source] Unprocessed),
}

/// Seeds the data set for `seller_id`; `progress(done, total)` is called after each product.
/// The read caches are invalidated at the end.
pub async fn seed(state: &AppState, json: &str, seller_id: Uuid, progress: impl FnMut(usize, usize)) -> Result<SeedReport, SeedError> {
    let report = load(state, json, seller_id, progress).await;
    state.store.category_written().await;
    state.store.product_written().await;
    report.map(|(report, _)| report)
}

/// Seeds the data set; returns the report and the data set's products as built from it
/// (the bases of synthetic products).
async fn load(
    state: &AppState,
    json: &str,
    seller_id: Uuid,
    mut progress: impl FnMut(usize, usize),
) -> Result<(SeedReport, Vec<Product>), SeedError> {
    // DynamoDB directly (the checks decide writes); the caches are invalidated once at the end.
    let store = state.store.uncached();
    let data = dataset::parse(json).map_err(DatasetError::from)?;
    let now = Timestamp::now();
    let mut report = SeedReport::default();
    let mut ids: BTreeMap<String, Uuid> = BTreeMap::new();

    let ensure = |name: String, slug: String, parent: Option<Uuid>| async move {
        if let Some(found) = store.category_by_slug(&slug).await? {
            return Ok::<_, SeedError>((found.category.id, false));
        }
        let category = Category {
            id: shop_core::id::new_id(),
            name,
            slug: slug.clone(),
            description: None,
            parent_id: parent,
            is_active: true,
            created_at: now,
            updated_at: now,
        };
        store.create_category(&category).await?.map_err(|c| SeedError::Clash(slug, c))?;
        Ok((category.id, true))
    };
    for (parent, children) in TREE {
        let (parent_id, created) = ensure((*parent).to_owned(), slugify(parent), None).await?;
        report.categories_created += usize::from(created);
        for child in *children {
            let (id, created) = ensure(title_case(child), (*child).to_owned(), Some(parent_id)).await?;
            report.categories_created += usize::from(created);
            ids.insert((*child).to_owned(), id);
        }
    }

    let total = data.products.len();
    let mut bases = Vec::with_capacity(total);
    for (i, source) in data.products.into_iter().enumerate() {
        let category_id = match ids.get(&source.category) {
            Some(id) => *id,
            None => {
                let (id, created) = ensure(title_case(&source.category), source.category.clone(), None).await?;
                report.categories_created += usize::from(created);
                ids.insert(source.category.clone(), id);
                id
            }
        };
        let product = base_product(source, category_id, seller_id, now);
        bases.push(product.clone());
        if store.product_by_sku(&product.sku).await?.is_some() {
            report.products_existing += 1;
            progress(i + 1, total);
            continue;
        }
        // Slugs are generated from titles: a taken one gets a numeric suffix.
        store.create_product(&product, SlugPolicy::Suffix).await?.map_err(|c| SeedError::Clash(product.sku.clone(), c))?;
        report.products_created += 1;
        progress(i + 1, total);
    }
    Ok((report, bases))
}

// ---- synthetic catalogs ---------------------------------------------------------------------

/// Most synthetic products one seed generates.
pub const MAX_SYNTHETIC: u64 = 1_000_000;
/// Products per step of a synthetic seed: checked, written and counted before the next step,
/// so an interrupted run loses at most one step's category counts.
pub const SYNTHETIC_STEP: usize = 4_096;
/// DynamoDB requests in flight during a synthetic seed, unless told otherwise.
pub const SYNTHETIC_CONCURRENCY: usize = 16;

/// The data set's products as [`seed_synthetic`] varies them, for `seller_id`, without writing
/// anything: the bases of synthetic products built elsewhere (benchmarks index synthetic
/// products directly). The data set's categories must have been seeded.
pub async fn dataset_products(state: &AppState, json: &str, seller_id: Uuid) -> Result<Vec<Product>, SeedError> {
    let categories: BTreeMap<String, Uuid> =
        state.store.categories().await?.into_iter().map(|r| (r.category.slug, r.category.id)).collect();
    Ok(dataset::products(json, seller_id, Timestamp::now(), |slug| categories.get(slug).copied())?)
}

/// How to run [`seed_synthetic`].
#[derive(Debug, Clone)]
pub struct SyntheticOptions {
    /// How many synthetic products (`SYN-1` … `SYN-<count>`), at most [`MAX_SYNTHETIC`].
    pub count: u64,
    /// DynamoDB requests in flight (at least 1).
    pub concurrency: usize,
    /// Products per step (at least 1; see [`SYNTHETIC_STEP`]).
    pub step: usize,
}

impl SyntheticOptions {
    /// `count` products with the default concurrency and step.
    pub fn new(count: u64) -> Self {
        Self { count, concurrency: SYNTHETIC_CONCURRENCY, step: SYNTHETIC_STEP }
    }
}

/// What [`seed_synthetic`] did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SyntheticReport {
    /// The data set's own seed (categories and the 194 products).
    pub base: SeedReport,
    /// Synthetic products written and counted on their categories.
    pub created: u64,
    /// Synthetic products already complete (a previous run).
    pub existing: u64,
    /// Synthetic products whose item or guards were missing (an interrupted run), rewritten.
    pub repaired: u64,
    /// Synthetic products skipped because their SKU or slug belongs to another product.
    pub clashed: u64,
    /// Active products among `SYN-1` … `SYN-<count>` (what listings show of them).
    pub active: u64,
    /// Time spent on the synthetic products (after the data set's own seed).
    pub synthetic_time: std::time::Duration,
}

/// Seeds the data set (as [`seed`]) and then `options.count` synthetic products made from it
/// ([`synthetic_product`]) for `seller_id`, in bulk on `table` (the state's catalog table): in
/// steps of `options.step` products, each step reads what the table holds under the products'
/// keys ([`CatalogTable::bulk_presence`]), writes the missing products with their SKU and slug
/// guards ([`CatalogTable::bulk_put_products`]) and adds the new products to their categories'
/// `productCount` (one `ADD` per category). Products already there are skipped, so running it
/// again continues an interrupted run. `progress(done, total)` is called after each step. The
/// read caches are invalidated at the end.
pub async fn seed_synthetic(
    state: &AppState,
    table: &CatalogTable,
    json: &str,
    seller_id: Uuid,
    options: &SyntheticOptions,
    progress: impl FnMut(u64, u64),
) -> Result<SyntheticReport, SeedError> {
    if options.count > MAX_SYNTHETIC {
        return Err(SeedError::TooMany(options.count));
    }
    let result = load_synthetic(state, table, json, seller_id, options, progress).await;
    state.store.category_written().await;
    state.store.product_written().await;
    result
}

async fn load_synthetic(
    state: &AppState,
    table: &CatalogTable,
    json: &str,
    seller_id: Uuid,
    options: &SyntheticOptions,
    mut progress: impl FnMut(u64, u64),
) -> Result<SyntheticReport, SeedError> {
    let (base_report, bases) = load(state, json, seller_id, |_, _| {}).await?;
    let mut report = SyntheticReport { base: base_report, ..SyntheticReport::default() };
    let started = std::time::Instant::now();
    let now = Timestamp::now();
    let total = if bases.is_empty() { 0 } else { options.count };
    let mut next = 1;
    while next <= total {
        let last = (next + options.step.max(1) as u64 - 1).min(total);
        let products: Vec<Product> = (next..=last).filter_map(|n| synthetic_product(&bases, seller_id, n, now)).collect();
        report.active += products.iter().filter(|p| p.is_active).count() as u64;
        let presence = table.bulk_presence(&products, options.concurrency).await?.map_err(SeedError::Unprocessed)?;
        let mut writes = Vec::with_capacity(products.len());
        let mut counts: BTreeMap<Uuid, i64> = BTreeMap::new();
        for (product, found) in products.into_iter().zip(presence) {
            let ours = |guard: Option<Uuid>| guard.is_none_or(|id| id == product.id);
            if !ours(found.sku) || !ours(found.slug) {
                report.clashed += 1;
            } else if found.item && found.sku.is_some() && found.slug.is_some() {
                report.existing += 1;
            } else {
                if found.item {
                    report.repaired += 1;
                } else {
                    report.created += 1;
                    *counts.entry(product.category_id).or_default() += 1;
                }
                writes.push(product);
            }
        }
        table.bulk_put_products(&writes, options.concurrency).await?.map_err(SeedError::Unprocessed)?;
        table.add_product_counts(&counts).await?;
        progress(last, total);
        next = last + 1;
    }
    report.synthetic_time = started.elapsed();
    Ok(report)
}
