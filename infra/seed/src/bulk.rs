//! Bulk loading of the catalog table: raw BatchGetItem / BatchWriteItem / UpdateItem on
//! `CatalogTable`, with the items the catalog function itself writes (`catalog::store`'s item
//! layout functions), for synthetic catalogs of up to a million products. Never used by the
//! function: its writes go through `catalog::store::Store`, one transaction per product.
//!
//! Unprocessed keys and items (DynamoDB throttled part of a batch) are retried under
//! [`RetryPolicy::BULK`]; transport failures are the SDK's to retry (`shop_core::retry`).

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{KeysAndAttributes, PutRequest, WriteRequest};
use catalog::domain::Product;
use catalog::store::{StoreError, category_key, guard_item, guard_key, product_item, product_key, product_pk, sku_guard_pk, slug_guard_pk};
use futures::StreamExt;
use shop_aws::dynamo::{Item, attr, n};
use shop_core::retry::RetryPolicy;
use uuid::Uuid;

/// The catalog's table (`CatalogTable`), for bulk loads.
#[derive(Debug, Clone)]
pub struct CatalogTable {
    client: Client,
    table: String,
}

impl CatalogTable {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }

    /// What the table holds under the keys of each of `products` (same order): the product
    /// item, and the ids its SKU and slug guards name. BatchGetItem with 33 products (99 keys)
    /// per request, up to `concurrency` requests in flight; unprocessed keys are retried with
    /// backoff, and `Err(Unprocessed)` says how many were still unread after the last attempt.
    #[tracing::instrument(skip_all, fields(products = products.len()))]
    pub async fn bulk_presence(&self, products: &[Product], concurrency: usize) -> Result<Result<Vec<Presence>, Unprocessed>, StoreError> {
        let requests = products.chunks(33).map(|chunk| {
            let keys = chunk
                .iter()
                .flat_map(|p| [product_key(p.id), guard_key(sku_guard_pk(&p.sku)), guard_key(slug_guard_pk(&p.slug))])
                .collect();
            self.batch_get(keys)
        });
        let pages: Vec<_> = futures::stream::iter(requests).buffer_unordered(concurrency.max(1)).collect().await;
        let mut found: HashMap<String, Option<Uuid>> = HashMap::new();
        let mut unread = 0;
        for page in pages {
            match page? {
                Ok(items) => found.extend(items),
                Err(Unprocessed(n)) => unread += n,
            }
        }
        if unread > 0 {
            return Ok(Err(Unprocessed(unread)));
        }
        Ok(Ok(products
            .iter()
            .map(|p| Presence {
                item: found.contains_key(&product_pk(p.id)),
                sku: found.get(&sku_guard_pk(&p.sku)).copied().flatten(),
                slug: found.get(&slug_guard_pk(&p.slug)).copied().flatten(),
            })
            .collect()))
    }

    /// One BatchGetItem (≤ 100 keys) to its end: `pk` → the `id` the item names.
    async fn batch_get(&self, keys: Vec<Item>) -> Result<Result<Vec<(String, Option<Uuid>)>, Unprocessed>, StoreError> {
        let mut out = Vec::with_capacity(keys.len());
        let mut pending = KeysAndAttributes::builder()
            .set_keys(Some(keys))
            .projection_expression("#pk, #id")
            .expression_attribute_names("#pk", "pk")
            .expression_attribute_names("#id", "id")
            .consistent_read(true)
            .build()?;
        let mut retry = RetryPolicy::BULK.start();
        loop {
            let page = self.client.batch_get_item().request_items(&self.table, pending.clone()).send().await?;
            for item in page.responses.and_then(|mut r| r.remove(&self.table)).unwrap_or_default() {
                let pk: String = attr(&item, "pk")?.ok_or_else(|| StoreError::unexpected("a batch-read item has no pk"))?;
                out.push((pk, attr(&item, "id")?));
            }
            match page.unprocessed_keys.and_then(|mut u| u.remove(&self.table)).filter(|k| !k.keys().is_empty()) {
                Some(rest) => pending = rest,
                None => return Ok(Ok(out)),
            }
            if retry.wait().await.is_err() {
                return Ok(Err(Unprocessed(pending.keys().len())));
            }
        }
    }

    /// Writes `products` with their SKU and slug guards by BatchWriteItem — unconditional puts,
    /// 8 products (24 items) per request, up to `concurrency` requests in flight, unprocessed
    /// items retried with backoff. For bulk loads only: the caller checks with
    /// [`CatalogTable::bulk_presence`] that the SKUs and slugs are free (or already the
    /// product's own), and counts new products on their categories with
    /// [`CatalogTable::add_product_counts`]. `Err(Unprocessed)` says how many items were still
    /// unwritten after the last attempt.
    #[tracing::instrument(skip_all, fields(products = products.len()))]
    pub async fn bulk_put_products(&self, products: &[Product], concurrency: usize) -> Result<Result<(), Unprocessed>, StoreError> {
        let mut requests = Vec::with_capacity(products.len().div_ceil(8));
        for chunk in products.chunks(8) {
            let mut writes = Vec::with_capacity(chunk.len() * 3);
            for p in chunk {
                let sku = guard_item(sku_guard_pk(&p.sku), p.id);
                let slug = guard_item(slug_guard_pk(&p.slug), p.id);
                for item in [product_item(p)?, sku, slug] {
                    writes.push(WriteRequest::builder().put_request(PutRequest::builder().set_item(Some(item)).build()?).build());
                }
            }
            requests.push(self.batch_write(writes));
        }
        let results: Vec<_> = futures::stream::iter(requests).buffer_unordered(concurrency.max(1)).collect().await;
        let mut unwritten = 0;
        for result in results {
            if let Err(Unprocessed(n)) = result? {
                unwritten += n;
            }
        }
        Ok(if unwritten == 0 { Ok(()) } else { Err(Unprocessed(unwritten)) })
    }

    /// One BatchWriteItem (≤ 25 items) to its end.
    async fn batch_write(&self, writes: Vec<WriteRequest>) -> Result<Result<(), Unprocessed>, StoreError> {
        let mut pending = writes;
        let mut retry = RetryPolicy::BULK.start();
        loop {
            let out = self.client.batch_write_item().request_items(&self.table, pending).send().await?;
            match out.unprocessed_items.and_then(|mut u| u.remove(&self.table)).filter(|w| !w.is_empty()) {
                Some(rest) => pending = rest,
                None => return Ok(Ok(())),
            }
            if retry.wait().await.is_err() {
                return Ok(Err(Unprocessed(pending.len())));
            }
        }
    }

    /// Adds `delta` to the `productCount` of each category (one UpdateItem `ADD` per category;
    /// the category must exist). The bulk load's counterpart of the per-product counting that
    /// `catalog::store::Store::create_product` does in its transaction.
    #[tracing::instrument(skip_all, fields(categories = counts.len()))]
    pub async fn add_product_counts(&self, counts: &BTreeMap<Uuid, i64>) -> Result<(), StoreError> {
        for (category, delta) in counts.iter().filter(|(_, d)| **d != 0) {
            self.client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(category_key(*category)))
                .update_expression("ADD productCount :d")
                .condition_expression("attribute_exists(pk)")
                .expression_attribute_values(":d", n(*delta))
                .send()
                .await?;
        }
        Ok(())
    }
}

/// What the table holds under a product's keys (see [`CatalogTable::bulk_presence`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Presence {
    /// The product item (`PRODUCT#<id>`) exists.
    pub item: bool,
    /// The product the SKU guard names, if the guard exists.
    pub sku: Option<Uuid>,
    /// The product the slug guard names, if the guard exists.
    pub slug: Option<Uuid>,
}

/// A bulk request still had this many keys or items unprocessed after its retries (DynamoDB
/// kept throttling); nothing else went wrong, so running the load again continues it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{0} keys or items were still unprocessed after the bulk retries")]
pub struct Unprocessed(pub usize);
