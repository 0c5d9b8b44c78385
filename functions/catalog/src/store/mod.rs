//! All storage of the catalog function: every DynamoDB call ([`Store`], this module) and the
//! read-through cache in front of it ([`CachedStore`], [`cached`]), which is what handlers use:
//! cached storefront reads, and writes that invalidate what they touch. One table:
//!
//! | pk | sk | item |
//! |---|---|---|
//! | `CATEGORY#<id>` | `CATEGORY` | [`Category`] + `childCount`, `productCount`; `gsi1pk = CATEGORIES` |
//! | `PRODUCT#<id>` | `PRODUCT` | [`Product`] + `stockAvailable`, `lowStockThreshold`, `imageKeys` (image id → the S3 key `upload-url` issued, see [`Image::key`](crate::domain::Image::key)); `gsi1pk = SELLER#<sellerId>`; `gsi2pk = FEATURED` while active, featured and not deleted; `gsi3pk = CATEGORY#<categoryId>` while not deleted; `gsi4pk = LOWSTOCK` (`gsi4sk = <available, 10 digits>#<id>`) while `stockAvailable <= lowStockThreshold` and not deleted |
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
//! The rating (from the reviews function) is the same kind of disjoint write:
//! [`Store::set_rating`] sets `ratingAverage`, `ratingCount` and `ratingVersion` only while
//! `ratingVersion` is older, so a late or repeated report never takes the rating back, and
//! [`Store::update_product`] never writes them.
//!
//! Lookups by slug or SKU read a guard item; a value whose guard key would exceed DynamoDB's
//! 2,048-byte partition key cannot exist and is not found without asking DynamoDB (which would
//! refuse the request).
//!
//! Counters on the category item (`childCount`, `productCount`) change in the same transaction
//! as the child or product, so "delete refused while it has children or products" holds under
//! concurrency.
//!
//! Bulk loads of synthetic catalogs (BatchWriteItem, outside any Lambda) live in `shop-seed`;
//! they write the items of [`product_item`] and the key functions below, so the layout is defined
//! here only.

use std::collections::BTreeMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, Delete, Update};
use serde::Serialize;
use serde::de::DeserializeOwned;
pub use shop_aws::dynamo::StoreError;
use shop_aws::dynamo::{Item, Transaction, TxOutcome, attr, key, n, query_all, s, set_from_item};
use shop_core::retry::RetryPolicy;
use shop_core::time::Timestamp;
use uuid::Uuid;

use crate::domain::{Availability, Category, Product, Rating};

pub mod cached;

pub use cached::CachedStore;

/// DynamoDB's largest partition key value, in bytes.
const MAX_PARTITION_KEY_BYTES: usize = 2048;

// ---- item layout ------------------------------------------------------------------------------
// Public so that bulk loaders outside the function (`shop-seed`) write the same items.

fn category_pk(id: Uuid) -> String {
    format!("CATEGORY#{id}")
}
/// `pk` of a product item.
pub fn product_pk(id: Uuid) -> String {
    format!("PRODUCT#{id}")
}
fn ts(t: Timestamp) -> String {
    t.rfc3339()
}
/// The key of a category item.
pub fn category_key(id: Uuid) -> Item {
    key(category_pk(id), "CATEGORY")
}
/// The key of a product item.
pub fn product_key(id: Uuid) -> Item {
    key(product_pk(id), "PRODUCT")
}
/// `pk` of a product's SKU guard (SKUs are unique regardless of case).
pub fn sku_guard_pk(sku: &str) -> String {
    format!("SKU#{}", sku.to_uppercase())
}
/// `pk` of a product's slug guard.
pub fn slug_guard_pk(slug: &str) -> String {
    format!("SLUG#{slug}")
}
/// The key of a uniqueness guard.
pub fn guard_key(pk: String) -> Item {
    key(pk, "GUARD")
}
/// A uniqueness guard: `pk` → `id`.
pub fn guard_item(pk: String, id: Uuid) -> Item {
    let mut item = guard_key(pk);
    item.insert("id".into(), s(id.to_string()));
    item
}
/// A product's item: the product, its key, the keys of its uploaded images (`imageKeys`) and
/// its index keys (seller; category while not deleted; featured while active, featured and not
/// deleted). The availability attributes are [`Store::set_availability`]'s.
pub fn product_item(p: &Product) -> Result<Item, StoreError> {
    let mut item: Item = serde_dynamo::to_item(p)?;
    item.extend(product_key(p.id));
    let image_keys: BTreeMap<Uuid, &str> = p.images.iter().filter_map(|i| Some((i.id, i.key.as_deref()?))).collect();
    if !image_keys.is_empty() {
        item.insert(IMAGE_KEYS.into(), serde_dynamo::to_attribute_value(&image_keys)?);
    }
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

/// The product item's map of image id → S3 key of the images `upload-url` issued
/// ([`Image::key`](crate::domain::Image::key), which the product's own serialisation leaves out).
const IMAGE_KEYS: &str = "imageKeys";

/// What to do when a new product's slug is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlugPolicy {
    /// The slug was given: taken is [`Clash::Slug`].
    Exact,
    /// The slug was generated from the name: taken gets a numeric suffix, `name`, `name-2`, …
    /// up to `name-20`, then [`Clash::Slug`].
    Suffix,
}

/// Most slugs [`SlugPolicy::Suffix`] tries.
pub const SLUG_ATTEMPTS: u32 = 20;

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
    /// Readiness: the table answers (`shop_core::health`).
    pub fn probe(&self) -> shop_core::health::Probe {
        shop_aws::health::dynamodb_table(&self.client, &self.table)
    }

    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }

    /// Adds a uniqueness guard `pk` → `id`, refused with `clash` when taken.
    fn guard(&self, tx: &mut Transaction<Refusal>, pk: String, id: Uuid, clash: Clash) -> Result<(), StoreError> {
        tx.put(&self.table, guard_item(pk, id), Some("attribute_not_exists(pk)"), Some(Refusal::Clash(clash)))
    }

    fn drop_guard(&self, tx: &mut Transaction<Refusal>, pk: String) -> Result<(), StoreError> {
        tx.delete(Delete::builder().table_name(&self.table).set_key(Some(guard_key(pk))).build()?, None);
        Ok(())
    }

    /// `ADD <counter> :delta` on a category that must exist (refused as `MissingCategory` when
    /// `refusable`; else its absence is a broken invariant).
    fn count(&self, tx: &mut Transaction<Refusal>, category: Uuid, counter: &str, delta: i64, refusable: bool) -> Result<(), StoreError> {
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(category_key(category)))
            .update_expression(format!("ADD {counter} :d"))
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":d", n(delta))
            .build()?;
        tx.update(update, refusable.then_some(Refusal::Clash(Clash::MissingCategory)));
        Ok(())
    }

    async fn get<T: DeserializeOwned>(&self, pk: String, sk: &str) -> Result<Option<T>, StoreError> {
        shop_aws::dynamo::get(&self.client, &self.table, key(pk, sk)).await
    }

    async fn guarded_id(&self, pk: String) -> Result<Option<Uuid>, StoreError> {
        if pk.len() > MAX_PARTITION_KEY_BYTES {
            return Ok(None);
        }
        match shop_aws::dynamo::get_item(&self.client, &self.table, guard_key(pk)).await? {
            Some(item) => attr(&item, "id"),
            None => Ok(None),
        }
    }

    // ---- categories ---------------------------------------------------------------------------

    fn category_item<T: Serialize>(category: &T, id: Uuid) -> Result<Item, StoreError> {
        let mut item: Item = serde_dynamo::to_item(category)?;
        item.extend(category_key(id));
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
            .set_key(Some(category_key(new.id)))
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
            .set_key(Some(category_key(c.id)))
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

    /// A product as stored (any state), its images with their keys.
    #[tracing::instrument(skip_all)]
    pub async fn product(&self, id: Uuid) -> Result<Option<Product>, StoreError> {
        Ok(self.get::<ProductRecord>(product_pk(id), "PRODUCT").await?.map(ProductRecord::into_product))
    }

    #[tracing::instrument(skip_all)]
    pub async fn product_by_slug(&self, slug: &str) -> Result<Option<Product>, StoreError> {
        match self.guarded_id(slug_guard_pk(slug)).await? {
            Some(id) => self.product(id).await,
            None => Ok(None),
        }
    }

    #[tracing::instrument(skip_all)]
    pub async fn product_by_sku(&self, sku: &str) -> Result<Option<Product>, StoreError> {
        match self.guarded_id(sku_guard_pk(sku)).await? {
            Some(id) => self.product(id).await,
            None => Ok(None),
        }
    }

    /// Creates a product with its SKU and slug guards, counting it on its category; a taken
    /// slug is refused or suffixed as `slugs` says. Answers the product as written (with the
    /// slug it got).
    #[tracing::instrument(skip_all)]
    pub async fn create_product(&self, p: &Product, slugs: SlugPolicy) -> Result<Result<Product, Clash>, StoreError> {
        let mut product = p.clone();
        for attempt in 1..=SLUG_ATTEMPTS {
            match self.put_new_product(&product).await? {
                Ok(()) => return Ok(Ok(product)),
                Err(Clash::Slug) if slugs == SlugPolicy::Suffix && attempt < SLUG_ATTEMPTS => {
                    product.slug = format!("{}-{}", p.slug, attempt + 1);
                }
                Err(clash) => return Ok(Err(clash)),
            }
        }
        Ok(Err(Clash::Slug))
    }

    /// One transaction of [`Store::create_product`].
    async fn put_new_product(&self, p: &Product) -> Result<Result<(), Clash>, StoreError> {
        let mut tx = Transaction::new();
        tx.put(&self.table, product_item(p)?, Some("attribute_not_exists(pk)"), None)?;
        self.guard(&mut tx, sku_guard_pk(&p.sku), p.id, Clash::Sku)?;
        self.guard(&mut tx, slug_guard_pk(&p.slug), p.id, Clash::Slug)?;
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
        let mut item = product_item(new)?;
        for owned in ["pk", "sk", "inStock", "available", "stockAvailable", "lowStockThreshold", "ratingAverage", "ratingCount"] {
            item.remove(owned);
        }
        let mut absent = vec!["gsi2pk", "gsi2sk", "gsi3pk", "gsi3sk", "deletedAt", IMAGE_KEYS];
        if new.deleted_at.is_some() {
            absent.extend(["gsi4pk", "gsi4sk"]);
        }
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(product_key(new.id)))
            .condition_expression("#version = :expectedVersion")
            .expression_attribute_values(":expectedVersion", n(old.version));
        tx.update(set_from_item(update, item, &absent).build()?, Some(Refusal::Stale));
        if old.sku.to_uppercase() != new.sku.to_uppercase() {
            self.drop_guard(&mut tx, sku_guard_pk(&old.sku))?;
            self.guard(&mut tx, sku_guard_pk(&new.sku), new.id, Clash::Sku)?;
        }
        if old.slug != new.slug {
            self.drop_guard(&mut tx, slug_guard_pk(&old.slug))?;
            self.guard(&mut tx, slug_guard_pk(&new.slug), new.id, Clash::Slug)?;
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
                .set_key(Some(category_key(new.category_id)))
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
            .set_key(Some(product_key(id)))
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

    /// Stores the rating the reviews function reports for a product, if `rating.version` is
    /// newer than the one stored (else nothing changes: an older or repeated report). One
    /// UpdateItem; `version` and `updatedAt` untouched (see the module docs).
    #[tracing::instrument(skip_all, fields(product = %id))]
    pub async fn set_rating(&self, id: Uuid, rating: Rating) -> Result<RatingWrite, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(product_key(id)))
            .condition_expression("attribute_exists(pk) AND (attribute_not_exists(ratingVersion) OR ratingVersion < :v)")
            .update_expression("SET ratingAverage = :a, ratingCount = :c, ratingVersion = :v")
            .expression_attribute_values(":a", n(rating.average))
            .expression_attribute_values(":c", n(rating.count))
            .expression_attribute_values(":v", n(rating.version))
            .send()
            .await;
        match result {
            Ok(_) => Ok(RatingWrite::Stored),
            Err(err) if err.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => {
                Ok(if self.product(id).await?.is_none() { RatingWrite::Unknown } else { RatingWrite::Older })
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
        let records: Vec<ProductRecord> = query_all(query.filter_expression(filter)).await?;
        Ok(records.into_iter().map(ProductRecord::with_image_keys).collect())
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
        page.items
            .unwrap_or_default()
            .into_iter()
            .map(|i| serde_dynamo::from_item(i).map(ProductRecord::into_product).map_err(StoreError::from))
            .collect()
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
        let records: Vec<ProductRecord> = query_all(query).await?;
        Ok(records.into_iter().map(ProductRecord::into_product).collect())
    }
}

/// `gsi4pk` of every product low on stock.
const LOW_STOCK: &str = "LOWSTOCK";

/// `gsi4sk`: available units zero-padded (so the index sorts by them), then the id.
fn low_stock_sk(available: u32, id: Uuid) -> String {
    format!("{available:010}#{id}")
}

/// How [`Store::set_rating`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RatingWrite {
    Stored,
    /// The product holds this version or a newer one; nothing changed.
    Older,
    /// No such product.
    Unknown,
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

/// A product as stored, with the stock figures inventory last reported (and, on its images,
/// the keys of their uploaded files).
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProductRecord {
    #[serde(flatten)]
    pub product: Product,
    #[serde(default)]
    pub stock_available: Option<u32>,
    #[serde(default)]
    pub low_stock_threshold: Option<u32>,
    /// `imageKeys`, already moved onto the product's images by the store's reads.
    #[serde(default)]
    image_keys: BTreeMap<Uuid, String>,
}

impl ProductRecord {
    /// The record with each uploaded image's key on the image ([`Image::key`](crate::domain::Image::key)).
    fn with_image_keys(mut self) -> Self {
        let keys = std::mem::take(&mut self.image_keys);
        for image in &mut self.product.images {
            image.key = keys.get(&image.id).cloned();
        }
        self
    }

    fn into_product(self) -> Product {
        self.with_image_keys().product
    }
}

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
