//! Seeding stock: the DummyJSON data set has a `stock` per product
//! ([`crate::dataset::stock_by_sku`]). The local runner seeds the catalog first, then hands the
//! created products with their data-set stock to [`seed_stock`], which writes inventory's rows
//! through inventory's own store.

use futures::StreamExt;
use inventory::domain::{DEFAULT_LOW_STOCK_THRESHOLD, Stock};
use inventory::store::{Store, StoreError};
use shop_aws::dynamo::Outcome;
use shop_core::time::Timestamp;
use uuid::Uuid;

/// Stock rows written in parallel.
const CONCURRENCY: usize = 16;

/// One product to seed stock for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedRow {
    pub product_id: Uuid,
    pub seller_id: Uuid,
    pub product_name: String,
    pub sku: String,
    pub available: u32,
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SeedReport {
    pub created: usize,
    /// Rows that existed already (left as they are: seeding never resets stock).
    pub existing: usize,
}

/// Creates the stock row of every product in `rows` that has none (threshold 10).
pub async fn seed_stock(store: &Store, rows: Vec<SeedRow>) -> Result<SeedReport, StoreError> {
    let now = Timestamp::now();
    let writes = rows.into_iter().map(|row| async move {
        let stock = Stock {
            product_id: row.product_id,
            available: i64::from(row.available),
            reserved: 0,
            low_stock_threshold: i64::from(DEFAULT_LOW_STOCK_THRESHOLD),
            seller_id: Some(row.seller_id),
            product_name: row.product_name,
            sku: Some(row.sku),
            updated_at: now,
            version: 1,
        };
        store.put_stock(&stock, None).await
    });
    let outcomes: Vec<Result<Outcome, StoreError>> = futures::stream::iter(writes).buffer_unordered(CONCURRENCY).collect().await;
    let mut report = SeedReport::default();
    for outcome in outcomes {
        match outcome? {
            Outcome::Done => report.created += 1,
            Outcome::ConditionFailed => report.existing += 1,
        }
    }
    Ok(report)
}
