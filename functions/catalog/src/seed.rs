//! Loads the DummyJSON product set (`infra/seed/dummyjson-products.json`) into the catalog:
//! 24 categories under 8 parents (a two-level tree) and 194 products owned by one seller, prices
//! in integer cents. Idempotent: categories are matched by slug, products by SKU.

use std::collections::BTreeMap;

use serde::Deserialize;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::AppState;
use crate::domain::{Category, Product, images_from_urls, normalize_tags, slugify};
use crate::store::{Clash, StoreError};

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
    report
}

async fn load(state: &AppState, json: &str, seller_id: Uuid, mut progress: impl FnMut(usize, usize)) -> Result<SeedReport, SeedError> {
    let store = &state.store;
    let data: Dataset = serde_json::from_str(json)?;
    let now = OffsetDateTime::now_utc();
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
    for (i, source) in data.products.into_iter().enumerate() {
        if store.product_by_sku(&source.sku).await?.is_some() {
            report.products_existing += 1;
            progress(i + 1, total);
            continue;
        }
        let category_id = match ids.get(&source.category) {
            Some(id) => *id,
            None => {
                let (id, created) = ensure(title_case(&source.category), source.category.clone(), None).await?;
                report.categories_created += usize::from(created);
                ids.insert(source.category.clone(), id);
                id
            }
        };
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
        let mut product = Product {
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
            created_at: now,
            updated_at: now,
            deleted_at: None,
            version: 1,
        };
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
    Ok(report)
}
