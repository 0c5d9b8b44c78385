//! Loads the DummyJSON product set (`infra/seed/dummyjson-products.json`) into the catalog:
//! 24 categories under 8 parents (a two-level tree) and 194 products owned by one seller, prices
//! in integer cents. Idempotent: categories are matched by slug, products by SKU.
//!
//! [`seed_synthetic`] adds up to a million generated variations of those products (SKUs
//! `SYN-<n>`) in bulk, for benchmarks.

use std::collections::BTreeMap;

use serde::Deserialize;
use shop_core::time::Timestamp;
use uuid::Uuid;

use crate::AppState;
use crate::domain::{Category, Product, images_from_urls, normalize_tags, slugify};
use crate::store::{Clash, StoreError, Unprocessed};

/// The parents of the data set's categories.
pub const TREE: &[(&str, &[&str])] = &[
    ("Beauty & Personal Care", &["beauty", "fragrances", "skin-care"]),
    ("Electronics", &["laptops", "smartphones", "tablets", "mobile-accessories"]),
    ("Home & Kitchen", &["furniture", "home-decoration", "kitchen-accessories"]),
    ("Groceries & Food", &["groceries"]),
    ("Men's Fashion", &["mens-shirts", "mens-shoes", "mens-watches"]),
    ("Women's Fashion", &["tops", "womens-bags", "womens-dresses", "womens-jewellery", "womens-shoes", "womens-watches"]),
    ("Sports & Outdoors", &["sports-accessories", "sunglasses"]),
    ("Vehicles", &["motorcycle", "vehicle"]),
];

#[derive(Debug, Deserialize)]
struct Dataset {
    products: Vec<Source>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Source {
    title: String,
    description: String,
    category: String,
    price: f64,
    #[serde(default)]
    discount_percentage: f64,
    #[serde(default)]
    rating: f64,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    brand: Option<String>,
    sku: String,
    #[serde(default)]
    weight: Option<f64>,
    #[serde(default)]
    warranty_information: Option<String>,
    #[serde(default)]
    shipping_information: Option<String>,
    #[serde(default)]
    return_policy: Option<String>,
    #[serde(default)]
    reviews: Vec<serde_json::Value>,
    #[serde(default)]
    images: Vec<String>,
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SeedReport {
    pub categories_created: usize,
    pub products_created: usize,
    pub products_existing: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error("the data set is not valid: {0}")]
    Data(#[from] serde_json::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("could not write {0}: {1:?}")]
    Clash(String, Clash),
    #[error("at most {MAX_SYNTHETIC} synthetic products, not {0}")]
    TooMany(u64),
    #[error("DynamoDB kept refusing part of a bulk write; run the seed again to continue")]
    Unprocessed(#[source] Unprocessed),
}

fn title_case(slug: &str) -> String {
    slug.split('-')
        .map(|w| {
            let mut c = w.chars();
            c.next().map(|f| f.to_uppercase().collect::<String>() + c.as_str()).unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn cents(dollars: f64) -> i64 {
    (dollars * 100.0).round() as i64
}

/// Seeds the data set for `seller_id`; `progress(done, total)` is called after each product.
/// The read caches are invalidated at the end.
pub async fn seed(state: &AppState, json: &str, seller_id: Uuid, progress: impl FnMut(usize, usize)) -> Result<SeedReport, SeedError> {
    let report = load(state, json, seller_id, progress).await;
    state.category_written().await;
    state.product_written().await;
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
    let store = &state.store;
    let data: Dataset = serde_json::from_str(json)?;
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
        let mut product = base_product(source, category_id, seller_id, now);
        bases.push(product.clone());
        if store.product_by_sku(&product.sku).await?.is_some() {
            report.products_existing += 1;
            progress(i + 1, total);
            continue;
        }
        let base = product.slug.clone();
        let mut attempt = 1;
        loop {
            match store.create_product(&product).await? {
                Ok(()) => break,
                Err(Clash::Slug) if attempt < 20 => {
                    attempt += 1;
                    product.slug = format!("{base}-{attempt}");
                }
                Err(c) => return Err(SeedError::Clash(product.sku.clone(), c)),
            }
        }
        report.products_created += 1;
        progress(i + 1, total);
    }
    Ok((report, bases))
}

/// The catalog product of a data set entry (a fresh id; prices in cents).
fn base_product(source: Source, category_id: Uuid, seller_id: Uuid, now: Timestamp) -> Product {
    let price = cents(source.price);
    let compare_price = (source.discount_percentage > 0.0 && source.discount_percentage < 100.0)
        .then(|| cents(source.price / (1.0 - source.discount_percentage / 100.0)))
        .filter(|c| *c > price);
    let mut attributes = BTreeMap::new();
    for (key, value) in [
        ("weight", source.weight.map(serde_json::Value::from)),
        ("warranty", source.warranty_information.map(Into::into)),
        ("shipping", source.shipping_information.map(Into::into)),
        ("returnPolicy", source.return_policy.map(Into::into)),
    ] {
        if let Some(v) = value {
            attributes.insert(key.to_owned(), v);
        }
    }
    Product {
        id: shop_core::id::new_id(),
        seller_id,
        slug: slugify(&source.title),
        name: source.title,
        sku: source.sku,
        description: source.description,
        price,
        compare_price,
        currency: "usd".into(),
        category_id,
        brand: source.brand,
        images: images_from_urls(source.images),
        tags: normalize_tags(source.tags),
        attributes,
        is_active: true,
        is_featured: source.rating >= 4.5,
        rating_average: (source.rating * 100.0).round() / 100.0,
        rating_count: source.reviews.len() as u32,
        in_stock: false,
        available: None,
        created_at: now,
        updated_at: now,
        deleted_at: None,
        version: 1,
    }
}

// ---- synthetic catalogs ---------------------------------------------------------------------

/// SKUs of synthetic products are `SYN-<n>`, `n` = 1, 2, …
pub const SYNTHETIC_SKU_PREFIX: &str = "SYN-";
/// Most synthetic products one seed generates.
pub const MAX_SYNTHETIC: u64 = 1_000_000;
/// Products per step of a synthetic seed: checked, written and counted before the next step,
/// so an interrupted run loses at most one step's category counts.
pub const SYNTHETIC_STEP: usize = 4_096;
/// DynamoDB requests in flight during a synthetic seed, unless told otherwise.
pub const SYNTHETIC_CONCURRENCY: usize = 16;

/// Namespace of synthetic product ids (UUID v5 of the SKU): the same `n` always gets the same id.
const SYNTHETIC_NAMESPACE: Uuid = Uuid::from_u128(0x6b1f_0c6e_5a3d_4f7e_9c2b_8d4e_1a7f_3c50);
const VARIANT_WORDS: [&str; 12] = ["Pro", "Max", "Lite", "Plus", "Mini", "Ultra", "Classic", "Sport", "Eco", "Deluxe", "Air", "Neo"];
const VARIANT_COLOURS: [&str; 8] = ["Black", "White", "Silver", "Blue", "Red", "Green", "Gold", "Graphite"];

fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// The SKU of the `n`-th synthetic product.
pub fn synthetic_sku(n: u64) -> String {
    format!("{SYNTHETIC_SKU_PREFIX}{n}")
}

/// The `n`-th synthetic product (`n` ≥ 1), a variation of `base[(n - 1) % base.len()]` the way
/// `shop_search::synthetic` varies index documents: SKU `SYN-<n>` and an id derived from it;
/// the name plus a variant word, a colour and the round number (`iPhone 9 Pro Black 3`); a slug
/// ending in the SKU (unique by construction); price (and compare price) 0.5×–2× the base's;
/// rating ±0.5; creation spread over the year before `now`; about 2 % featured and 1 % inactive.
/// Category, brand, description, tags, images and attributes are the base's. Deterministic in
/// its arguments; `None` when `base` is empty or `n` is 0.
pub fn synthetic_product(base: &[Product], seller_id: Uuid, n: u64, now: Timestamp) -> Option<Product> {
    let i = n.checked_sub(1)?;
    let len = base.len() as u64;
    let b = base.get(usize::try_from(i % len.max(1)).ok()?)?;
    let h = splitmix64(n);
    let sku = synthetic_sku(n);
    let name = format!("{} {} {} {}", b.name, VARIANT_WORDS[(h % 12) as usize], VARIANT_COLOURS[((h >> 8) % 8) as usize], i / len + 1);
    let suffix = format!("-{}", sku.to_lowercase());
    let mut slug = slugify(&name);
    slug.truncate(120 - suffix.len());
    let slug = format!("{}{suffix}", slug.trim_end_matches('-'));
    let factor = |cents: i64| (cents.max(1) * (50 + ((h >> 16) % 151) as i64) / 100).max(1); // 50..=200 %
    let jitter = ((h >> 24) % 101) as f64 / 100.0 - 0.5;
    let created_at = now - time::Duration::minutes(((h >> 32) % 525_600) as i64);
    Some(Product {
        id: Uuid::new_v5(&SYNTHETIC_NAMESPACE, sku.as_bytes()),
        seller_id,
        name,
        slug,
        sku,
        description: b.description.clone(),
        price: factor(b.price),
        compare_price: b.compare_price.map(factor),
        currency: b.currency.clone(),
        category_id: b.category_id,
        brand: b.brand.clone(),
        images: b.images.clone(),
        tags: b.tags.clone(),
        attributes: b.attributes.clone(),
        is_active: !(h >> 48).is_multiple_of(100),
        is_featured: (h >> 44).is_multiple_of(50),
        rating_average: ((b.rating_average + jitter).clamp(0.0, 5.0) * 100.0).round() / 100.0,
        rating_count: b.rating_count + (h >> 56) as u32 % 50,
        in_stock: false,
        available: None,
        created_at,
        updated_at: created_at,
        deleted_at: None,
        version: 1,
    })
}

/// The data set's products as [`seed_synthetic`] varies them, for `seller_id`, without writing
/// anything: the bases of synthetic products built elsewhere (benchmarks index synthetic
/// products directly). The data set's categories must have been seeded.
pub async fn dataset_products(state: &AppState, json: &str, seller_id: Uuid) -> Result<Vec<Product>, SeedError> {
    let data: Dataset = serde_json::from_str(json)?;
    let categories: BTreeMap<String, Uuid> =
        state.store.categories().await?.into_iter().map(|r| (r.category.slug, r.category.id)).collect();
    let now = Timestamp::now();
    data.products
        .into_iter()
        .map(|source| match categories.get(&source.category) {
            Some(id) => Ok(base_product(source, *id, seller_id, now)),
            None => Err(SeedError::Clash(source.category, Clash::MissingCategory)),
        })
        .collect()
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
/// ([`synthetic_product`]) for `seller_id`, in bulk: in steps of `options.step` products,
/// each step reads what the table holds under the products' keys ([`Store::bulk_presence`]),
/// writes the missing products with their SKU and slug guards ([`Store::bulk_put_products`])
/// and adds the new products to their categories' `productCount` (one `ADD` per category).
/// Products already there are skipped, so running it again continues an interrupted run.
/// `progress(done, total)` is called after each step. The read caches are invalidated at the end.
///
/// [`Store::bulk_presence`]: crate::store::Store::bulk_presence
/// [`Store::bulk_put_products`]: crate::store::Store::bulk_put_products
pub async fn seed_synthetic(
    state: &AppState,
    json: &str,
    seller_id: Uuid,
    options: &SyntheticOptions,
    progress: impl FnMut(u64, u64),
) -> Result<SyntheticReport, SeedError> {
    if options.count > MAX_SYNTHETIC {
        return Err(SeedError::TooMany(options.count));
    }
    let result = load_synthetic(state, json, seller_id, options, progress).await;
    state.category_written().await;
    state.product_written().await;
    result
}

async fn load_synthetic(
    state: &AppState,
    json: &str,
    seller_id: Uuid,
    options: &SyntheticOptions,
    mut progress: impl FnMut(u64, u64),
) -> Result<SyntheticReport, SeedError> {
    let store = &state.store;
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
        let presence = store.bulk_presence(&products, options.concurrency).await?.map_err(SeedError::Unprocessed)?;
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
        store.bulk_put_products(&writes, options.concurrency).await?.map_err(SeedError::Unprocessed)?;
        store.add_product_counts(&counts).await?;
        progress(last, total);
        next = last + 1;
    }
    report.synthetic_time = started.elapsed();
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::valid_slug;

    fn base(name: &str, price: i64, category: u128) -> Product {
        let at = Timestamp::UNIX_EPOCH + time::Duration::days(20_000);
        Product {
            id: Uuid::from_u128(category << 8),
            seller_id: Uuid::nil(),
            name: name.into(),
            slug: slugify(name),
            sku: format!("BASE-{category}"),
            description: format!("About {name}."),
            price,
            compare_price: Some(price * 2),
            currency: "usd".into(),
            category_id: Uuid::from_u128(category),
            brand: Some("Acme".into()),
            images: vec![],
            tags: vec!["tag".into()],
            attributes: BTreeMap::new(),
            is_active: true,
            is_featured: false,
            rating_average: 4.0,
            rating_count: 3,
            in_stock: false,
            available: None,
            created_at: at,
            updated_at: at,
            deleted_at: None,
            version: 1,
        }
    }

    #[test]
    fn synthetic_products_are_distinct_deterministic_variations_of_their_bases() {
        let long = "A very long product name that goes on and on ".repeat(4);
        let bases = vec![base("Trail Shoe", 10_000, 1), base("Rain Jacket", 4_000, 2), base(&long, 1, 3)];
        let seller = Uuid::from_u128(42);
        let now = Timestamp::UNIX_EPOCH + time::Duration::days(20_500);
        let products: Vec<Product> = (1..=3_000).map(|n| synthetic_product(&bases, seller, n, now).unwrap()).collect();

        let distinct = |f: fn(&Product) -> String| products.iter().map(f).collect::<std::collections::HashSet<_>>().len();
        assert_eq!(distinct(|p| p.id.to_string()), 3_000);
        assert_eq!(distinct(|p| p.slug.clone()), 3_000);
        assert_eq!(distinct(|p| p.name.clone()), 3_000, "round numbers keep names apart");
        for (i, p) in products.iter().enumerate() {
            let n = i as u64 + 1;
            let b = &bases[i % 3];
            assert_eq!(p.sku, format!("SYN-{n}"));
            assert!(p.name.starts_with(&b.name) && p.name.ends_with(&format!(" {}", i / 3 + 1)), "{}", p.name);
            assert!(p.slug.ends_with(&format!("-syn-{n}")) && p.slug.len() <= 120 && valid_slug(&p.slug, &()).is_ok(), "{}", p.slug);
            assert!((b.price / 2..=b.price * 2).contains(&p.price) && p.price >= 1, "{} from {}", p.price, b.price);
            let compare = p.compare_price.unwrap();
            assert!(
                compare >= p.price && (b.price < 100 || (2 * p.price - 1..=2 * p.price + 1).contains(&compare)),
                "compare price scaled too"
            );
            assert_eq!((p.category_id, &p.brand, &p.description, p.seller_id), (b.category_id, &b.brand, &b.description, seller));
            assert!((3.5..=4.5).contains(&p.rating_average));
            assert!(p.created_at <= now && p.created_at > now - time::Duration::days(366) && p.updated_at == p.created_at);
        }
        let shoes: std::collections::HashSet<i64> = products.iter().step_by(3).map(|p| p.price).collect();
        assert!(shoes.len() > 100, "prices spread: {} distinct", shoes.len());
        let featured = products.iter().filter(|p| p.is_featured).count();
        let inactive = products.iter().filter(|p| !p.is_active).count();
        assert!((20..=100).contains(&featured) && (10..=60).contains(&inactive), "{featured} featured, {inactive} inactive");

        assert_eq!(synthetic_product(&bases, seller, 77, now), Some(products[76].clone()), "deterministic");
        assert_eq!(synthetic_product(&bases, seller, 0, now), None);
        assert_eq!(synthetic_product(&[], seller, 1, now), None);
    }
}
