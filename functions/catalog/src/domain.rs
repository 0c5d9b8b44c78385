//! Catalog types and rules, no I/O.

use std::collections::BTreeMap;

use garde::Validate;
use serde::{Deserialize, Serialize};
use shop_core::time::Timestamp;
use utoipa::ToSchema;
use uuid::Uuid;

/// The slug of `text` (see [`shop_core::types::Slug::from_text`]); empty when nothing is left.
pub fn slugify(text: &str) -> String {
    shop_core::types::Slug::from_text(text).map(|s| s.as_str().to_owned()).unwrap_or_default()
}

/// garde rule for client-supplied slugs ([`shop_core::types::Slug`]).
pub use shop_core::types::valid_slug;

pub use shop_core::extract::not_blank;

/// A category; `parentId` makes the tree (any depth).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Category {
    pub id: Uuid,
    pub name: String,
    pub slug: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub parent_id: Option<Uuid>,
    pub is_active: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone, Deserialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CategoryInput {
    #[garde(length(chars, min = 1, max = 100), custom(not_blank))]
    pub name: String,
    /// Generated from the name when absent.
    #[garde(inner(length(max = 120), custom(valid_slug)))]
    pub slug: Option<String>,
    #[garde(inner(length(chars, max = 500)))]
    pub description: Option<String>,
    #[garde(skip)]
    pub parent_id: Option<Uuid>,
    #[garde(skip)]
    pub is_active: Option<bool>,
}

/// Partial category update; absent fields stay. `parentId: null` makes it a root.
#[derive(Debug, Clone, Default, Deserialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CategoryUpdate {
    #[garde(inner(length(chars, min = 1, max = 100), custom(not_blank)))]
    pub name: Option<String>,
    #[garde(inner(length(max = 120), custom(valid_slug)))]
    pub slug: Option<String>,
    #[garde(inner(length(chars, max = 500)))]
    pub description: Option<String>,
    /// `null` detaches the category (root); absent leaves the parent.
    #[garde(skip)]
    #[serde(default, with = "double_option")]
    #[schema(value_type = Option<Uuid>)]
    pub parent_id: Option<Option<Uuid>>,
    #[garde(skip)]
    pub is_active: Option<bool>,
}

/// A category with its children, recursively.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CategoryNode {
    #[serde(flatten)]
    pub category: Category,
    #[schema(no_recursion)]
    pub children: Vec<CategoryNode>,
}

/// Builds the tree of `categories` (roots sorted by name, children likewise).
pub fn tree(categories: &[Category]) -> Vec<CategoryNode> {
    let mut by_parent: BTreeMap<Option<Uuid>, Vec<&Category>> = BTreeMap::new();
    for c in categories {
        by_parent.entry(c.parent_id).or_default().push(c);
    }
    fn build(parent: Option<Uuid>, by_parent: &BTreeMap<Option<Uuid>, Vec<&Category>>, depth: usize) -> Vec<CategoryNode> {
        let mut nodes: Vec<CategoryNode> = by_parent
            .get(&parent)
            .into_iter()
            .flatten()
            .map(|c| CategoryNode {
                category: (*c).clone(),
                children: if depth < 64 { build(Some(c.id), by_parent, depth + 1) } else { vec![] },
            })
            .collect();
        nodes.sort_by_key(|n| n.category.name.to_lowercase());
        nodes
    }
    let ids: std::collections::BTreeSet<Uuid> = categories.iter().map(|c| c.id).collect();
    // Roots, plus categories whose parent is not in the set (e.g. an inactive parent filtered out).
    let mut roots = build(None, &by_parent, 0);
    for (parent, _) in by_parent.iter().filter(|(p, _)| p.is_some_and(|p| !ids.contains(&p))) {
        roots.extend(build(*parent, &by_parent, 0));
    }
    roots
}

/// True when making `new_parent` the parent of `id` would create a cycle.
pub fn creates_cycle(id: Uuid, new_parent: Uuid, categories: &[Category]) -> bool {
    let parents: BTreeMap<Uuid, Option<Uuid>> = categories.iter().map(|c| (c.id, c.parent_id)).collect();
    let mut current = Some(new_parent);
    let mut steps = 0;
    while let Some(c) = current {
        if c == id || steps > categories.len() {
            return true;
        }
        current = parents.get(&c).copied().flatten();
        steps += 1;
    }
    false
}

/// `id` and all its descendants.
pub fn descendants(id: Uuid, categories: &[Category]) -> Vec<Uuid> {
    let mut out = vec![id];
    let mut i = 0;
    while i < out.len() {
        let current = out[i];
        out.extend(categories.iter().filter(|c| c.parent_id == Some(current)).map(|c| c.id));
        i += 1;
    }
    out
}

/// A product image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Image {
    pub id: Uuid,
    pub url: String,
}

/// A product. Money is integer cents (`price: 1999` is $19.99).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Product {
    pub id: Uuid,
    pub seller_id: Uuid,
    pub name: String,
    pub slug: String,
    pub sku: String,
    pub description: String,
    /// Price in cents.
    pub price: i64,
    /// The "was" price in cents.
    #[serde(default)]
    pub compare_price: Option<i64>,
    pub currency: String,
    pub category_id: Uuid,
    #[serde(default)]
    pub brand: Option<String>,
    #[serde(default)]
    pub images: Vec<Image>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub attributes: BTreeMap<String, serde_json::Value>,
    pub is_active: bool,
    pub is_featured: bool,
    pub rating_average: f64,
    pub rating_count: u32,
    /// Whether the inventory function reports stock (`available > 0`). `false` for a product
    /// inventory has never reported: inventory is the only stock source.
    #[serde(default)]
    pub in_stock: bool,
    /// Units left, shown only while at or below the product's low-stock threshold (the
    /// storefront's "only 3 left"); `null` otherwise.
    #[serde(default)]
    pub available: Option<u32>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// Set when the product was deleted (hidden everywhere, kept for order history).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<Timestamp>,
    /// Optimistic-concurrency version, incremented by every write.
    pub version: u64,
}

/// Stock as the inventory function reports it (`PUT /internal/products/{id}/availability`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Availability {
    /// Units available to sell.
    #[garde(skip)]
    pub available: u32,
    /// At or below this many units the product counts as low on stock.
    #[garde(skip)]
    pub low_stock_threshold: u32,
}

impl Availability {
    /// `available <= lowStockThreshold`.
    pub fn is_low(&self) -> bool {
        self.available <= self.low_stock_threshold
    }

    /// What the product shows: `inStock`, and `available` only while low.
    pub fn shown(&self) -> (bool, Option<u32>) {
        (self.available > 0, self.is_low().then_some(self.available))
    }
}

fn valid_tags(tags: &[String], _: &()) -> garde::Result {
    if tags.len() > 30 || tags.iter().any(|t| t.trim().is_empty() || t.chars().count() > 50) {
        return Err(garde::Error::new("at most 30 tags of 1 to 50 characters"));
    }
    Ok(())
}

fn valid_attributes(attributes: &BTreeMap<String, serde_json::Value>, _: &()) -> garde::Result {
    if attributes.len() > 50 || attributes.keys().any(|k| k.is_empty() || k.len() > 64) {
        return Err(garde::Error::new("at most 50 attributes with names of 1 to 64 characters"));
    }
    Ok(())
}

fn valid_sku(value: &str, _: &()) -> garde::Result {
    if value.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')) {
        Ok(())
    } else {
        Err(garde::Error::new("may contain letters, digits, '-', '_' and '.'"))
    }
}

/// Upper bound of a price: $1,000,000.00.
pub const MAX_PRICE_CENTS: i64 = 100_000_000;

#[derive(Debug, Clone, Deserialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProductInput {
    #[garde(length(chars, min = 1, max = 200), custom(not_blank))]
    pub name: String,
    /// Generated from the name when absent (made unique with a numeric suffix).
    #[garde(inner(length(max = 120), custom(valid_slug)))]
    pub slug: Option<String>,
    #[garde(length(min = 1, max = 50), custom(valid_sku))]
    pub sku: String,
    #[garde(length(chars, min = 1, max = 10_000), custom(not_blank))]
    pub description: String,
    /// Price in cents.
    #[garde(range(min = 0, max = MAX_PRICE_CENTS))]
    pub price: i64,
    #[garde(inner(range(min = 0, max = MAX_PRICE_CENTS)))]
    pub compare_price: Option<i64>,
    #[garde(skip)]
    pub category_id: Uuid,
    #[garde(inner(length(chars, min = 1, max = 100)))]
    pub brand: Option<String>,
    /// Image URLs (uploads come through the image endpoints).
    #[garde(inner(length(max = 20)))]
    pub images: Option<Vec<String>>,
    #[garde(inner(custom(valid_tags)))]
    pub tags: Option<Vec<String>>,
    #[garde(inner(custom(valid_attributes)))]
    #[schema(value_type = Option<Object>)]
    pub attributes: Option<BTreeMap<String, serde_json::Value>>,
    #[garde(skip)]
    pub is_active: Option<bool>,
    #[garde(skip)]
    pub is_featured: Option<bool>,
}

/// Partial product update; absent fields stay.
#[derive(Debug, Clone, Default, Deserialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProductUpdate {
    #[garde(inner(length(chars, min = 1, max = 200), custom(not_blank)))]
    pub name: Option<String>,
    #[garde(inner(length(max = 120), custom(valid_slug)))]
    pub slug: Option<String>,
    #[garde(inner(length(min = 1, max = 50), custom(valid_sku)))]
    pub sku: Option<String>,
    #[garde(inner(length(chars, min = 1, max = 10_000), custom(not_blank)))]
    pub description: Option<String>,
    #[garde(inner(range(min = 0, max = MAX_PRICE_CENTS)))]
    pub price: Option<i64>,
    /// `null` removes the compare price.
    #[garde(skip)]
    #[serde(default, with = "double_option")]
    #[schema(value_type = Option<i64>)]
    pub compare_price: Option<Option<i64>>,
    #[garde(skip)]
    pub category_id: Option<Uuid>,
    #[garde(inner(length(chars, min = 1, max = 100)))]
    pub brand: Option<String>,
    #[garde(inner(length(max = 20)))]
    pub images: Option<Vec<String>>,
    #[garde(inner(custom(valid_tags)))]
    pub tags: Option<Vec<String>>,
    #[garde(inner(custom(valid_attributes)))]
    #[schema(value_type = Option<Object>)]
    pub attributes: Option<BTreeMap<String, serde_json::Value>>,
    #[garde(skip)]
    pub is_active: Option<bool>,
    #[garde(skip)]
    pub is_featured: Option<bool>,
}

/// Normalises tags: trimmed, lower-case, unique, in order.
impl ProductUpdate {
    /// `product` with this update's fields changed (absent fields stay). Version and
    /// `updatedAt` are the store's to set.
    pub fn apply(&self, product: Product) -> Product {
        let mut new = product;
        if let Some(v) = &self.name {
            new.name = v.trim().to_owned();
        }
        if let Some(v) = &self.slug {
            new.slug = v.clone();
        }
        if let Some(v) = &self.sku {
            new.sku = v.trim().to_owned();
        }
        if let Some(v) = &self.description {
            new.description = v.trim().to_owned();
        }
        if let Some(v) = self.price {
            new.price = v;
        }
        if let Some(v) = self.compare_price {
            new.compare_price = v;
        }
        if let Some(v) = self.category_id {
            new.category_id = v;
        }
        if let Some(v) = &self.brand {
            new.brand = Some(v.trim().to_owned()).filter(|b| !b.is_empty());
        }
        if let Some(v) = &self.images {
            new.images = images_from_urls(v.clone());
        }
        if let Some(v) = &self.tags {
            new.tags = normalize_tags(v.clone());
        }
        if let Some(v) = &self.attributes {
            new.attributes = v.clone();
        }
        if let Some(v) = self.is_active {
            new.is_active = v;
        }
        if let Some(v) = self.is_featured {
            new.is_featured = v;
        }
        new
    }
}

pub fn normalize_tags(tags: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for t in tags {
        let t = t.trim().to_lowercase();
        if !t.is_empty() && !out.contains(&t) {
            out.push(t);
        }
    }
    out
}

/// Image records for URLs (ids are stable per URL within a product).
pub fn images_from_urls(urls: Vec<String>) -> Vec<Image> {
    urls.into_iter().map(|url| Image { id: Uuid::new_v5(&Uuid::NAMESPACE_URL, url.as_bytes()), url }).collect()
}

/// serde helper for `Option<Option<T>>`: absent → `None`, `null` → `Some(None)`.
mod double_option {
    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, T: Deserialize<'de>, D: Deserializer<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
        Option::<T>::deserialize(d).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cat(id: u128, parent: Option<u128>, name: &str) -> Category {
        let now = Timestamp::UNIX_EPOCH;
        Category {
            id: Uuid::from_u128(id),
            name: name.into(),
            slug: slugify(name),
            description: None,
            parent_id: parent.map(Uuid::from_u128),
            is_active: true,
            created_at: now,
            updated_at: now,
        }
    }

    #[test]
    fn slugs() {
        assert_eq!(slugify("  iPhone 15 Pro — Max!! "), "iphone-15-pro-max");
        assert_eq!(slugify("Crème brûlée"), "creme-brulee");
        assert!(valid_slug("a-b-1", &()).is_ok());
        assert!(valid_slug("A b", &()).is_err());
        assert!(valid_slug("a--b", &()).is_err());
    }

    #[test]
    fn trees_cycles_and_descendants() {
        let cats = vec![cat(1, None, "Electronics"), cat(2, Some(1), "Phones"), cat(3, Some(2), "Smartphones"), cat(4, None, "Beauty")];
        let t = tree(&cats);
        assert_eq!(t.iter().map(|n| n.category.name.as_str()).collect::<Vec<_>>(), ["Beauty", "Electronics"]);
        assert_eq!(t[1].children[0].children[0].category.name, "Smartphones");
        assert!(creates_cycle(Uuid::from_u128(1), Uuid::from_u128(3), &cats), "a category under its own grandchild");
        assert!(creates_cycle(Uuid::from_u128(1), Uuid::from_u128(1), &cats), "its own parent");
        assert!(!creates_cycle(Uuid::from_u128(4), Uuid::from_u128(3), &cats));
        let mut d = descendants(Uuid::from_u128(1), &cats);
        d.sort();
        assert_eq!(d, vec![Uuid::from_u128(1), Uuid::from_u128(2), Uuid::from_u128(3)]);
    }

    #[test]
    fn tags_are_normalised() {
        assert_eq!(normalize_tags(vec![" Phone".into(), "phone".into(), "".into(), "5G".into()]), vec!["phone", "5g"]);
    }
}
