//! Every DynamoDB call of the catalog function. One table:
//!
//! | pk | sk | item |
//! |---|---|---|
//! | `CATEGORY#<id>` | `CATEGORY` | [`Category`] + `childCount`, `productCount`; `gsi1pk = CATEGORIES` |
//! | `PRODUCT#<id>` | `PRODUCT` | [`Product`] + `stockAvailable`, `lowStockThreshold`; `gsi1pk = SELLER#<sellerId>`; `gsi2pk = FEATURED` while active, featured and not deleted; `gsi3pk = CATEGORY#<categoryId>` while not deleted; `gsi4pk = LOWSTOCK` (`gsi4sk = <available, 10 digits>#<id>`) while `stockAvailable <= lowStockThreshold` and not deleted |
//! | `SKU#<sku>`, `SLUG#<slug>` | `GUARD` | product uniqueness guards → `id` |
//! | `CATSLUG#<slug>`, `CATNAME#<lower name>` | `GUARD` | category uniqueness guards → `id` |
//!
//! Availability (from the inventory function) and product edits write disjoint attributes:
//! [`Store::set_availability`] sets `stockAvailable`, `lowStockThreshold`, the shown `inStock` /
//! `available` and the sparse `gsi4` keys with one UpdateItem, without touching `version` or
//! `updatedAt`; [`Store::update_product`] (seller/admin edits, conditional on `version`) sets
//! every other attribute and never those, so neither write can lose the other's and a stock
//! change never makes a seller's edit fail as concurrent.
//!
//! Counters on the category item (`childCount`, `productCount`) change in the same transaction
//! as the child or product, so "delete refused while it has children or products" holds under
//! concurrency.

use aws_sdk_dynamodb::Client;
use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, Delete, KeysAndAttributes, PutRequest, Update, WriteRequest};
use serde::Serialize;
use serde::de::DeserializeOwned;
pub use shop_aws::dynamo::StoreError;
use shop_aws::dynamo::{Item, Transaction, TxOutcome, attr, key, n, query_all, s, set_from_item};
use shop_core::retry::RetryPolicy;
use shop_core::time::Timestamp;
use uuid::Uuid;

use crate::domain::{Availability, Category, Product};

fn category_pk(id: Uuid) -> String {
    format!("CATEGORY#{id}")
}
fn product_pk(id: Uuid) -> String {
    format!("PRODUCT#{id}")
}
fn ts(t: Timestamp) -> String {
    t.rfc3339()
}

/// Why a write was refused: the uniqueness guard or rule it lost to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Clash {
    #[error("the SKU is taken")]
    Sku,
    #[error("the slug is taken")]
    Slug,
    #[error("the name is taken")]
    Name,
    /// The referenced category (or parent) does not exist.
    #[error("the category does not exist")]
    MissingCategory,
    /// The category still has children or products.
    #[error("the category is not empty")]
    NotEmpty,
}

/// What an item of a catalog transaction may be refused for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    Clash(Clash),
    /// The item changed since it was read: re-read and retry (inside the store).
    Stale,
}

/// The outcome of a catalog transaction: committed, or the first clash; a stale read is
/// reported as `Err(None)` for the edit loops to retry.
fn clash_of(outcome: TxOutcome<Refusal>) -> Result<(), Option<Clash>> {
    match outcome.first_refusal() {
        None => Ok(()),
        Some(Refusal::Clash(c)) => Err(Some(c)),
        Some(Refusal::Stale) => Err(None),
    }
}

#[derive(Debug, Clone)]
pub struct Store {
    client: Client,
    table: String,
}

impl Store {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }

    /// Adds a uniqueness guard `pk` → `id`, refused with `clash` when taken.
    fn guard(&self, tx: &mut Transaction<Refusal>, pk: String, id: Uuid, clash: Clash) -> Result<(), StoreError> {
        let mut item = key(pk, "GUARD");
        item.insert("id".into(), s(id.to_string()));
        tx.put(&self.table, item, Some("attribute_not_exists(pk)"), Some(Refusal::Clash(clash)))
    }

    fn drop_guard(&self, tx: &mut Transaction<Refusal>, pk: String) -> Result<(), StoreError> {
        tx.delete(Delete::builder().table_name(&self.table).set_key(Some(key(pk, "GUARD"))).build()?, None);
        Ok(())
    }

    /// `ADD <counter> :delta` on a category that must exist (refused as `MissingCategory` when
    /// `refusable`; else its absence is a broken invariant).
    fn count(&self, tx: &mut Transaction<Refusal>, category: Uuid, counter: &str, delta: i64, refusable: bool) -> Result<(), StoreError> {
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(category_pk(category), "CATEGORY")))
            .update_expression(format!("ADD {counter} :d"))
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":d", n(delta))
            .build()?;
        tx.update(update, refusable.then_some(Refusal::Clash(Clash::MissingCategory)));
        Ok(())
    }

    async fn get<T: DeserializeOwned>(&self, pk: String, sk: &str) -> Result<Option<T>, StoreError> {
        let out = self.client.get_item().table_name(&self.table).set_key(Some(key(pk, sk))).consistent_read(true).send().await?;
        out.item.map(serde_dynamo::from_item).transpose().map_err(StoreError::from)
    }

    async fn guarded_id(&self, pk: String) -> Result<Option<Uuid>, StoreError> {
        let out = self.client.get_item().table_name(&self.table).set_key(Some(key(pk, "GUARD"))).consistent_read(true).send().await?;
        match out.item {
            Some(item) => attr(&item, "id"),
            None => Ok(None),
        }
    }

    // ---- categories ---------------------------------------------------------------------------

    fn category_item<T: Serialize>(category: &T, id: Uuid) -> Result<Item, StoreError> {
        let mut item: Item = serde_dynamo::to_item(category)?;
        item.extend(key(category_pk(id), "CATEGORY"));
        item.insert("gsi1pk".into(), s("CATEGORIES"));
        item.insert("gsi1sk".into(), s(id.to_string()));
        Ok(item)
    }

    /// Every category (the tree is small: read whole).
    #[tracing::instrument(skip_all)]
    pub async fn categories(&self) -> Result<Vec<CategoryRecord>, StoreError> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name("gsi1")
            .key_condition_expression("gsi1pk = :c")
            .expression_attribute_values(":c", s("CATEGORIES"));
        query_all(query).await
    }

    #[tracing::instrument(skip_all)]
    pub async fn category(&self, id: Uuid) -> Result<Option<CategoryRecord>, StoreError> {
        self.get(category_pk(id), "CATEGORY").await
    }

    #[tracing::instrument(skip_all)]
    pub async fn category_by_slug(&self, slug: &str) -> Result<Option<CategoryRecord>, StoreError> {
        match self.guarded_id(format!("CATSLUG#{slug}")).await? {
            Some(id) => self.category(id).await,
            None => Ok(None),
        }
    }

    /// Creates a category with its guards; bumps the parent's child count.
    #[tracing::instrument(skip_all)]
    pub async fn create_category(&self, c: &Category) -> Result<Result<(), Clash>, StoreError> {
        let mut tx = Transaction::new();
        tx.put(&self.table, Self::category_item(c, c.id)?, Some("attribute_not_exists(pk)"), None)?;
        self.guard(&mut tx, format!("CATSLUG#{}", c.slug), c.id, Clash::Slug)?;
        self.guard(&mut tx, format!("CATNAME#{}", c.name.to_lowercase()), c.id, Clash::Name)?;
        if let Some(parent) = c.parent_id {
            self.count(&mut tx, parent, "childCount", 1, true)?;
        }
        Ok(clash_of(tx.commit(&self.client).await?).map_err(|c| c.unwrap_or(Clash::Name)))
    }

    /// Read-modify-write of a category: `change` gets the category as stored (`None`: there is
    /// none) and answers the new one or refuses; it is written with its guards and counters
    /// moved, if unchanged since the read, else re-read and retried. Answers the new category.
    #[tracing::instrument(skip_all, fields(category = %id))]
    pub async fn edit_category<E: From<StoreError>>(
        &self,
        id: Uuid,
        mut change: impl FnMut(Option<Category>) -> Result<Category, E>,
    ) -> Result<Result<Category, Clash>, E> {
        let mut retry = RetryPolicy::CONTENDED.start();
        loop {
            let old = self.category(id).await?.map(|r| r.category);
            let mut new = change(old.clone())?;
            let Some(old) = old else { return Err(StoreError::unexpected("edit_category changed a missing category").into()) };
            new.updated_at = Timestamp::now();
            match clash_of(self.update_category(&old, &new).await?) {
                Ok(()) => return Ok(Ok(new)),
                Err(Some(clash)) => return Ok(Err(clash)),
                Err(None) => retry.wait().await.map_err(StoreError::from)?,
            }
        }
    }

    /// Replaces a category (condition: unchanged since read), moving guards and counters.
    async fn update_category(&self, old: &Category, new: &Category) -> Result<TxOutcome<Refusal>, StoreError> {
        let mut tx = Transaction::new();
        let mut item = Self::category_item(new, new.id)?;
        // Counters are maintained by other transactions; keep them out of the replacement.
        for kept in ["pk", "sk", "childCount", "productCount"] {
            item.remove(kept);
        }
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(category_pk(new.id), "CATEGORY")))
            .condition_expression("#updatedAt = :readAt")
            .expression_attribute_values(":readAt", s(ts(old.updated_at)));
        tx.update(set_from_item(update, item, &[]).build()?, Some(Refusal::Stale));
        if old.slug != new.slug {
            self.drop_guard(&mut tx, format!("CATSLUG#{}", old.slug))?;
            self.guard(&mut tx, format!("CATSLUG#{}", new.slug), new.id, Clash::Slug)?;
        }
        if old.name.to_lowercase() != new.name.to_lowercase() {
            self.drop_guard(&mut tx, format!("CATNAME#{}", old.name.to_lowercase()))?;
            self.guard(&mut tx, format!("CATNAME#{}", new.name.to_lowercase()), new.id, Clash::Name)?;
        }
        if old.parent_id != new.parent_id {
            if let Some(p) = old.parent_id {
                self.count(&mut tx, p, "childCount", -1, false)?;
            }
            if let Some(p) = new.parent_id {
                self.count(&mut tx, p, "childCount", 1, true)?;
            }
        }
        tx.commit(&self.client).await
    }

    /// Deletes an empty category and its guards.
    #[tracing::instrument(skip_all)]
    pub async fn delete_category(&self, c: &Category) -> Result<Result<(), Clash>, StoreError> {
        let mut tx = Transaction::new();
        let delete = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(key(category_pk(c.id), "CATEGORY")))
            .condition_expression("attribute_exists(pk) AND (attribute_not_exists(childCount) OR childCount = :zero) AND (attribute_not_exists(productCount) OR productCount = :zero)")
            .expression_attribute_values(":zero", n(0))
            .build()?;
        tx.delete(delete, Some(Refusal::Clash(Clash::NotEmpty)));
        self.drop_guard(&mut tx, format!("CATSLUG#{}", c.slug))?;
        self.drop_guard(&mut tx, format!("CATNAME#{}", c.name.to_lowercase()))?;
        if let Some(p) = c.parent_id {
            self.count(&mut tx, p, "childCount", -1, false)?;
        }
        Ok(clash_of(tx.commit(&self.client).await?).map_err(|c| c.unwrap_or(Clash::NotEmpty)))
    }

    // ---- products -------------------------------------------------------------------------------

    fn product_item(p: &Product) -> Result<Item, StoreError> {
        let mut item: Item = serde_dynamo::to_item(p)?;
        item.extend(key(product_pk(p.id), "PRODUCT"));
        let sort = format!("{}#{}", ts(p.created_at), p.id);
        item.insert("gsi1pk".into(), s(format!("SELLER#{}", p.seller_id)));
        item.insert("gsi1sk".into(), s(sort.clone()));
        if p.deleted_at.is_none() {
            item.insert("gsi3pk".into(), s(format!("CATEGORY#{}", p.category_id)));
            item.insert("gsi3sk".into(), s(sort.clone()));
        }
        if p.is_active && p.is_featured && p.deleted_at.is_none() {
            item.insert("gsi2pk".into(), s("FEATURED"));
            item.insert("gsi2sk".into(), s(sort));
        }
        Ok(item)
    }

    #[tracing::instrument(skip_all)]
    pub async fn product(&self, id: Uuid) -> Result<Option<Product>, StoreError> {
        self.get(product_pk(id), "PRODUCT").await
    }

    #[tracing::instrument(skip_all)]
    pub async fn product_by_slug(&self, slug: &str) -> Result<Option<Product>, StoreError> {
        match self.guarded_id(format!("SLUG#{slug}")).await? {
            Some(id) => self.product(id).await,
            None => Ok(None),
        }
    }

    #[tracing::instrument(skip_all)]
    pub async fn product_by_sku(&self, sku: &str) -> Result<Option<Product>, StoreError> {
        match self.guarded_id(format!("SKU#{}", sku.to_uppercase())).await? {
            Some(id) => self.product(id).await,
            None => Ok(None),
        }
    }

    /// Creates a product with its SKU and slug guards, counting it on its category.
    #[tracing::instrument(skip_all)]
    pub async fn create_product(&self, p: &Product) -> Result<Result<(), Clash>, StoreError> {
        let mut tx = Transaction::new();
        tx.put(&self.table, Self::product_item(p)?, Some("attribute_not_exists(pk)"), None)?;
        self.guard(&mut tx, format!("SKU#{}", p.sku.to_uppercase()), p.id, Clash::Sku)?;
        self.guard(&mut tx, format!("SLUG#{}", p.slug), p.id, Clash::Slug)?;
        self.count(&mut tx, p.category_id, "productCount", 1, true)?;
        Ok(clash_of(tx.commit(&self.client).await?).map_err(|c| c.unwrap_or(Clash::Sku)))
    }

    /// Read-modify-write of a product: `change` gets the product as stored (`None`: there is
    /// none) and answers the new one or refuses; it is written (version and `updatedAt` set
    /// here) with guards and counts moved, if unchanged since the read, else re-read and
    /// retried. Answers the product before and after.
    #[tracing::instrument(skip_all, fields(product = %id))]
    pub async fn edit_product<E: From<StoreError>>(
        &self,
        id: Uuid,
        mut change: impl FnMut(Option<Product>) -> Result<Product, E>,
    ) -> Result<Result<(Product, Product), Clash>, E> {
        let mut retry = RetryPolicy::CONTENDED.start();
        loop {
            let old = self.product(id).await?;
            let mut new = change(old.clone())?;
            let Some(old) = old else { return Err(StoreError::unexpected("edit_product changed a missing product").into()) };
            new.version = old.version + 1;
            new.updated_at = Timestamp::now();
            match clash_of(self.update_product(&old, &new).await?) {
                Ok(()) => return Ok(Ok((old, new))),
                Err(Some(clash)) => return Ok(Err(clash)),
                Err(None) => retry.wait().await.map_err(StoreError::from)?,
            }
        }
    }

    /// Rewrites a product read at `old.version` (every attribute except the availability ones,
    /// which [`Store::set_availability`] owns), moving guards and category counts. Deleting a
    /// product also takes it out of the low-stock index.
    async fn update_product(&self, old: &Product, new: &Product) -> Result<TxOutcome<Refusal>, StoreError> {
        let mut tx = Transaction::new();
        let mut item = Self::product_item(new)?;
        for owned in ["pk", "sk", "inStock", "available", "stockAvailable", "lowStockThreshold"] {
            item.remove(owned);
        }
        let mut absent = vec!["gsi2pk", "gsi2sk", "gsi3pk", "gsi3sk", "deletedAt"];
        if new.deleted_at.is_some() {
            absent.extend(["gsi4pk", "gsi4sk"]);
        }
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(product_pk(new.id), "PRODUCT")))
            .condition_expression("#version = :expectedVersion")
            .expression_attribute_values(":expectedVersion", n(old.version));
        tx.update(set_from_item(update, item, &absent).build()?, Some(Refusal::Stale));
        if old.sku.to_uppercase() != new.sku.to_uppercase() {
            self.drop_guard(&mut tx, format!("SKU#{}", old.sku.to_uppercase()))?;
            self.guard(&mut tx, format!("SKU#{}", new.sku.to_uppercase()), new.id, Clash::Sku)?;
        }
        if old.slug != new.slug {
            self.drop_guard(&mut tx, format!("SLUG#{}", old.slug))?;
            self.guard(&mut tx, format!("SLUG#{}", new.slug), new.id, Clash::Slug)?;
        }
        let was_counted = old.deleted_at.is_none();
        let is_counted = new.deleted_at.is_none();
        if old.category_id != new.category_id || was_counted != is_counted {
            if was_counted {
                self.count(&mut tx, old.category_id, "productCount", -1, false)?;
            }
            if is_counted {
                self.count(&mut tx, new.category_id, "productCount", 1, true)?;
            }
        } else if is_counted {
            // The category must still exist for an edit to keep pointing at it.
            let check = ConditionCheck::builder()
                .table_name(&self.table)
                .set_key(Some(key(category_pk(new.category_id), "CATEGORY")))
                .condition_expression("attribute_exists(pk)")
                .build()?;
            tx.check(check, Some(Refusal::Clash(Clash::MissingCategory)));
        }
        tx.commit(&self.client).await
    }

    /// Stores the stock inventory reports for a product: the raw figures, what the product shows
    /// (`inStock`, `available` while low) and its place in the sparse low-stock index. One
    /// UpdateItem, idempotent, `version` and `updatedAt` untouched (see the module docs).
    #[tracing::instrument(skip_all, fields(product = %id))]
    pub async fn set_availability(&self, id: Uuid, stock: Availability) -> Result<AvailabilityWrite, StoreError> {
        let (in_stock, shown) = stock.shown();
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(product_pk(id), "PRODUCT")))
            .condition_expression("attribute_exists(pk) AND attribute_not_exists(deletedAt)")
            .expression_attribute_values(":a", n(stock.available))
            .expression_attribute_values(":t", n(stock.low_stock_threshold))
            .expression_attribute_values(":in", AttributeValue::Bool(in_stock))
            .expression_attribute_values(":shown", shown.map_or(AttributeValue::Null(true), n));
        let sets = "SET stockAvailable = :a, lowStockThreshold = :t, inStock = :in, #available = :shown";
        update = update.expression_attribute_names("#available", "available");
        update = if stock.is_low() {
            update
                .update_expression(format!("{sets}, gsi4pk = :lp, gsi4sk = :ls"))
                .expression_attribute_values(":lp", s(LOW_STOCK))
                .expression_attribute_values(":ls", s(low_stock_sk(stock.available, id)))
        } else {
            update.update_expression(format!("{sets} REMOVE gsi4pk, gsi4sk"))
        };
        match update.send().await {
            Ok(_) => Ok(AvailabilityWrite::Stored),
            Err(err) if err.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => {
                Ok(match self.product(id).await? {
                    None => AvailabilityWrite::Unknown,
                    Some(_) => AvailabilityWrite::Deleted,
                })
            }
            Err(err) => Err(err.into()),
        }
    }

    /// Products low on stock (`stockAvailable <= lowStockThreshold`), active and not deleted,
    /// fewest available first; one seller's when `seller` is given. Reads the sparse `gsi4`
    /// index, which holds low-stock products only, never the catalog.
    #[tracing::instrument(skip_all)]
    pub async fn low_stock(&self, seller: Option<Uuid>) -> Result<Vec<ProductRecord>, StoreError> {
        let mut filter = "isActive = :active AND attribute_not_exists(deletedAt)".to_owned();
        let mut query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name("gsi4")
            .key_condition_expression("gsi4pk = :low")
            .expression_attribute_values(":low", s(LOW_STOCK))
            .expression_attribute_values(":active", AttributeValue::Bool(true));
        if let Some(seller) = seller {
            filter.push_str(" AND sellerId = :seller");
            query = query.expression_attribute_values(":seller", s(seller.to_string()));
        }
        query_all(query.filter_expression(filter)).await
    }

    /// Active featured products, newest first.
    #[tracing::instrument(skip_all)]
    pub async fn featured(&self, limit: u32) -> Result<Vec<Product>, StoreError> {
        let page = self
            .client
            .query()
            .table_name(&self.table)
            .index_name("gsi2")
            .key_condition_expression("gsi2pk = :f")
            .expression_attribute_values(":f", s("FEATURED"))
            .scan_index_forward(false)
            .limit(limit as i32)
            .send()
            .await?;
        page.items.unwrap_or_default().into_iter().map(|i| serde_dynamo::from_item(i).map_err(StoreError::from)).collect()
    }

    /// Every product of a seller (deleted ones included), newest first.
    #[tracing::instrument(skip_all)]
    pub async fn seller_products(&self, seller_id: Uuid) -> Result<Vec<Product>, StoreError> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name("gsi1")
            .key_condition_expression("gsi1pk = :s")
            .expression_attribute_values(":s", s(format!("SELLER#{seller_id}")))
            .scan_index_forward(false);
        query_all(query).await
    }

    // ---- bulk loading (synthetic catalogs) ----------------------------------------------------

    /// What the table holds under the keys of each of `products` (same order): the product
    /// item, and the ids its SKU and slug guards name. BatchGetItem with 33 products (99 keys)
    /// per request, up to `concurrency` requests in flight; unprocessed keys are retried with
    /// backoff, and `Err(Unprocessed)` says how many were still unread after the last attempt.
    #[tracing::instrument(skip_all, fields(products = products.len()))]
    pub async fn bulk_presence(&self, products: &[Product], concurrency: usize) -> Result<Result<Vec<Presence>, Unprocessed>, StoreError> {
        use futures::StreamExt;
        let requests = products.chunks(33).map(|chunk| {
            let keys = chunk
                .iter()
                .flat_map(|p| {
                    [
                        key(product_pk(p.id), "PRODUCT"),
                        key(format!("SKU#{}", p.sku.to_uppercase()), "GUARD"),
                        key(format!("SLUG#{}", p.slug), "GUARD"),
                    ]
                })
                .collect::<Vec<_>>();
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
                sku: found.get(&format!("SKU#{}", p.sku.to_uppercase())).copied().flatten(),
                slug: found.get(&format!("SLUG#{}", p.slug)).copied().flatten(),
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
    /// [`Store::bulk_presence`] that the SKUs and slugs are free (or already the product's own),
    /// and counts new products on their categories with [`Store::add_product_counts`].
    /// `Err(Unprocessed)` says how many items were still unwritten after the last attempt.
    #[tracing::instrument(skip_all, fields(products = products.len()))]
    pub async fn bulk_put_products(&self, products: &[Product], concurrency: usize) -> Result<Result<(), Unprocessed>, StoreError> {
        use futures::StreamExt;
        let mut requests = Vec::with_capacity(products.len().div_ceil(8));
        for chunk in products.chunks(8) {
            let mut writes = Vec::with_capacity(chunk.len() * 3);
            for p in chunk {
                let mut sku = key(format!("SKU#{}", p.sku.to_uppercase()), "GUARD");
                sku.insert("id".into(), s(p.id.to_string()));
                let mut slug = key(format!("SLUG#{}", p.slug), "GUARD");
                slug.insert("id".into(), s(p.id.to_string()));
                for item in [Self::product_item(p)?, sku, slug] {
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
    /// [`Store::create_product`] does in its transaction.
    #[tracing::instrument(skip_all, fields(categories = counts.len()))]
    pub async fn add_product_counts(&self, counts: &BTreeMap<Uuid, i64>) -> Result<(), StoreError> {
        for (category, delta) in counts.iter().filter(|(_, d)| **d != 0) {
            self.client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(key(category_pk(*category), "CATEGORY")))
                .update_expression("ADD productCount :d")
                .condition_expression("attribute_exists(pk)")
                .expression_attribute_values(":d", n(*delta))
                .send()
                .await?;
        }
        Ok(())
    }
}

/// `gsi4pk` of every product low on stock.
const LOW_STOCK: &str = "LOWSTOCK";

/// `gsi4sk`: available units zero-padded (so the index sorts by them), then the id.
fn low_stock_sk(available: u32, id: Uuid) -> String {
    format!("{available:010}#{id}")
}

/// How [`Store::set_availability`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AvailabilityWrite {
    Stored,
    /// The product was deleted; the update is ignored.
    Deleted,
    /// No such product.
    Unknown,
}

/// A product as stored, with the stock figures inventory last reported.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProductRecord {
    #[serde(flatten)]
    pub product: Product,
    #[serde(default)]
    pub stock_available: Option<u32>,
    #[serde(default)]
    pub low_stock_threshold: Option<u32>,
}

/// What the table holds under a product's keys (see [`Store::bulk_presence`]).
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

/// A category as stored, with its counters.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CategoryRecord {
    #[serde(flatten)]
    pub category: Category,
    #[serde(default)]
    pub child_count: i64,
    #[serde(default)]
    pub product_count: i64,
}
