//! The DummyJSON data set (`infra/seed/dummyjson-products.json`): 194 products in 24 categories
//! with brands, prices in dollars, stock, images and reviews. Read here once, for the catalog
//! ([`crate::catalog`]), the stock ([`crate::stock`]) and the bases of synthetic products.

use std::collections::BTreeMap;
use std::path::PathBuf;

use catalog::domain::{Product, images_from_urls, normalize_tags, slugify};
use serde::Deserialize;
use shop_core::time::Timestamp;
use uuid::Uuid;

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

/// The data set shipped with the repository (next to this crate's manifest).
pub fn path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("dummyjson-products.json")
}

/// Why the data set could not be used.
#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    #[error("the data set is not valid: {0}")]
    Invalid(#[from] serde_json::Error),
    /// A product's category is not in the catalog (seed the data set first).
    #[error("the data set's category {0} is not in the catalog")]
    UnknownCategory(String),
}

#[derive(Debug, Deserialize)]
pub(crate) struct Dataset {
    pub(crate) products: Vec<Source>,
}

/// One product of the data set, as DummyJSON spells it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Source {
    title: String,
    description: String,
    /// The category's slug.
    pub(crate) category: String,
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
    stock: u32,
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

pub(crate) fn parse(json: &str) -> Result<Dataset, serde_json::Error> {
    serde_json::from_str(json)
}

/// The name of a category slug: `skin-care` → `Skin Care`.
pub(crate) fn title_case(slug: &str) -> String {
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

/// The catalog product of a data set entry (a fresh id; prices in cents; featured from a rating
/// of 4.5; weight, warranty, shipping and return policy as attributes).
pub(crate) fn base_product(source: Source, category_id: Uuid, seller_id: Uuid, now: Timestamp) -> Product {
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

/// The data set's products as the catalog seed builds them, for `seller_id`, created at `now`,
/// without writing anything: `category(slug)` is the id of a product's category. The bases of
/// synthetic products ([`crate::synthetic`]).
pub fn products(
    json: &str,
    seller_id: Uuid,
    now: Timestamp,
    category: impl Fn(&str) -> Option<Uuid>,
) -> Result<Vec<Product>, DatasetError> {
    parse(json)?
        .products
        .into_iter()
        .map(|source| match category(&source.category) {
            Some(id) => Ok(base_product(source, id, seller_id, now)),
            None => Err(DatasetError::UnknownCategory(source.category)),
        })
        .collect()
}

/// SKU → stock of the data set's products.
pub fn stock_by_sku(json: &str) -> Result<BTreeMap<String, u32>, serde_json::Error> {
    Ok(parse(json)?.products.into_iter().map(|p| (p.sku, p.stock)).collect())
}
