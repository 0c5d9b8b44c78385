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

pub use shop_core::extract::{no_control_chars, not_blank};

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
    #[garde(length(chars, min = 1, max = 100), custom(not_blank), custom(no_control_chars))]
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]*[^\t-\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000\u0000-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069][^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]*$"
    )]
    pub name: String,
    /// Generated from the name when absent.
    #[garde(inner(length(max = 120), custom(valid_slug)))]
    #[schema(max_length = 120, pattern = r"^[a-z0-9]+(-[a-z0-9]+)*$")]
    pub slug: Option<String>,
    #[garde(inner(length(chars, max = 500), custom(no_control_chars)))]
    #[schema(max_length = 500, pattern = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]*$")]
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
    #[garde(inner(length(chars, min = 1, max = 100), custom(not_blank), custom(no_control_chars)))]
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]*[^\t-\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000\u0000-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069][^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]*$"
    )]
    pub name: Option<String>,
    #[garde(inner(length(max = 120), custom(valid_slug)))]
    #[schema(max_length = 120, pattern = r"^[a-z0-9]+(-[a-z0-9]+)*$")]
    pub slug: Option<String>,
    #[garde(inner(length(chars, max = 500), custom(no_control_chars)))]
    #[schema(max_length = 500, pattern = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]*$")]
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

/// A product image: a file uploaded through `upload-url` (served from the image CDN) or an
/// external `https://` link given in a product body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Image {
    pub id: Uuid,
    pub url: String,
    /// The S3 key `upload-url` issued for this image of this product; `None` for an external
    /// URL (including a copy of another product's image URL). Only a key set here is ever
    /// deleted from the bucket ([`Image::file_of`]). Never part of the wire, cache or index
    /// shape (`serde(skip)`): the store keeps it on the product item apart from the images
    /// (`imageKeys`), so no client can set or see it.
    #[serde(skip)]
    pub key: Option<String>,
}

impl Image {
    /// An image given by URL (its id is stable per URL).
    pub fn external(url: String) -> Self {
        Self { id: Uuid::new_v5(&Uuid::NAMESPACE_URL, url.as_bytes()), url, key: None }
    }

    /// The S3 prefix of the files `upload-url` issues for `product`.
    pub fn upload_prefix(product: Uuid) -> String {
        format!("products/{product}/")
    }

    /// The file to delete with this image of `product`: its key when `upload-url` issued it for
    /// this product (stored on the image, under `products/{product}/`); `None` for anything
    /// else, whatever its URL names.
    pub fn file_of(&self, product: Uuid) -> Option<&str> {
        self.key.as_deref().filter(|key| key.starts_with(&Self::upload_prefix(product)))
    }
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

/// A product's rating as the reviews function reports it (`PUT /internal/products/{id}/rating`).
#[derive(Debug, Clone, Copy, PartialEq, Deserialize, Serialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Rating {
    /// Mean of the visible reviews, 0 to 5 (0 when there are none).
    #[garde(range(min = 0.0, max = 5.0))]
    pub average: f64,
    /// Visible reviews.
    #[garde(skip)]
    pub count: u32,
    /// The reviews summary's version: a rating is kept only over an older one.
    #[garde(skip)]
    pub version: u64,
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

/// `tags`' schema, [`valid_tags`]' rule: at most 30 tags, each 1 to 50 characters, not blank, no
/// control characters.
fn tags_schema() -> utoipa::openapi::schema::Array {
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, SchemaType, Type};
    let tag = ObjectBuilder::new().schema_type(Type::String).min_length(Some(1)).max_length(Some(50)).pattern(Some(
        r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]*[^\t-\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000\u0000-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069][^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]*$",
    ));
    ArrayBuilder::new()
        .schema_type(SchemaType::from_iter([Type::Array, Type::Null]))
        .items(tag)
        .max_items(Some(30))
        .description(Some("At most 30 tags of 1 to 50 characters (not blank, no control characters)."))
        .build()
}

fn valid_tags(tags: &[String], _: &()) -> garde::Result {
    if tags.len() > 30 || tags.iter().any(|t| t.trim().is_empty() || t.chars().count() > 50) {
        return Err(garde::Error::new("at most 30 tags of 1 to 50 characters"));
    }
    tags.iter().try_for_each(|t| no_control_chars(t, &()))
}

/// Most attributes on a product.
pub const MAX_ATTRIBUTES: usize = 50;
/// Deepest nesting of attribute values, counting `attributes` itself (`{"a": {"b": 1}}` is 2):
/// well inside DynamoDB's 32 levels of nested attributes.
pub const MAX_ATTRIBUTE_DEPTH: usize = 10;
/// Largest `attributes` object, as compact JSON: 64 KiB keeps the whole product item far below
/// DynamoDB's 400 KB item limit (description, images and tags are bounded too).
pub const MAX_ATTRIBUTES_BYTES: usize = 64 * 1024;
/// Numbers DynamoDB stores: 0, or a magnitude from 1e-130 up to (not including) 1e125 (its
/// range is 1E-130 to 9.99…E+125, 38 significant digits; JSON numbers are at most 17).
const ATTRIBUTE_NUMBER_RANGE: std::ops::Range<f64> = 1e-130..1e125;

/// garde rule for `attributes`: free-form JSON, but only what DynamoDB stores and people can
/// read — at most [`MAX_ATTRIBUTES`] names of 1 to 64 characters, nested names non-empty, no
/// control characters in names or strings, numbers in DynamoDB's range, at most
/// [`MAX_ATTRIBUTE_DEPTH`] levels and [`MAX_ATTRIBUTES_BYTES`] of JSON. Without it such values
/// were refused by DynamoDB itself, as a 500.
fn valid_attributes(attributes: &BTreeMap<String, serde_json::Value>, _: &()) -> garde::Result {
    use serde_json::Value;
    if attributes.len() > MAX_ATTRIBUTES || attributes.keys().any(|k| k.is_empty() || k.chars().count() > 64) {
        return Err(garde::Error::new(format!("at most {MAX_ATTRIBUTES} attributes with names of 1 to 64 characters")));
    }
    // Depth first without recursion: (value, its depth counting `attributes` as 1).
    let mut pending: Vec<(&Value, usize)> = attributes.values().map(|v| (v, 2)).collect();
    let text = |t: &str| no_control_chars(t, &());
    attributes.keys().try_for_each(|k| text(k))?;
    while let Some((value, depth)) = pending.pop() {
        let container = matches!(value, Value::Array(_) | Value::Object(_));
        if container && depth > MAX_ATTRIBUTE_DEPTH {
            return Err(garde::Error::new(format!("values may be nested at most {MAX_ATTRIBUTE_DEPTH} levels deep")));
        }
        match value {
            Value::Null | Value::Bool(_) => {}
            Value::Number(n) => {
                // Integers (i64/u64) are always in range; floats may not be.
                if n.as_i64().is_none() && n.as_u64().is_none() {
                    let magnitude = n.as_f64().map(f64::abs).unwrap_or(f64::INFINITY);
                    if magnitude != 0.0 && !ATTRIBUTE_NUMBER_RANGE.contains(&magnitude) {
                        return Err(garde::Error::new("numbers must be 0 or between 1e-130 and 1e125 in magnitude"));
                    }
                }
            }
            Value::String(s) => text(s)?,
            Value::Array(items) => pending.extend(items.iter().map(|v| (v, depth + 1))),
            Value::Object(fields) => {
                if fields.keys().any(String::is_empty) {
                    return Err(garde::Error::new("nested names must not be empty"));
                }
                fields.keys().try_for_each(|k| text(k))?;
                pending.extend(fields.values().map(|v| (v, depth + 1)));
            }
        }
    }
    let bytes = serde_json::to_vec(attributes).map_or(usize::MAX, |json| json.len());
    if bytes > MAX_ATTRIBUTES_BYTES {
        return Err(garde::Error::new(format!("at most {MAX_ATTRIBUTES_BYTES} bytes as JSON, not {bytes}")));
    }
    Ok(())
}

/// Longest image URL accepted, in bytes.
pub const MAX_IMAGE_URL_BYTES: usize = 2048;

/// Why an image URL given in a body is refused, if it is: at most [`MAX_IMAGE_URL_BYTES`], no
/// whitespace or control characters, and either served from the catalog's own image CDN
/// (`cdn_base`, as configured: an upload's URL, kept as it is) or an external `https://` link
/// with a host and no user information. Script, data, plain-http and other schemes are refused.
pub fn image_url_problem(url: &str, cdn_base: &str) -> Option<String> {
    if url.len() > MAX_IMAGE_URL_BYTES {
        return Some(format!("must be at most {MAX_IMAGE_URL_BYTES} characters"));
    }
    if url.chars().any(|c| c.is_whitespace() || shop_core::extract::is_control_char(c)) {
        return Some("must not contain whitespace or control characters".to_owned());
    }
    if !cdn_base.is_empty() && url.strip_prefix(cdn_base).is_some_and(|rest| rest.starts_with('/')) {
        return None;
    }
    let https = "must be an https:// URL with a host";
    let Ok(uri) = url.parse::<http::Uri>() else { return Some(https.to_owned()) };
    let host = uri.host().unwrap_or_default();
    let userinfo = uri.authority().is_some_and(|a| a.as_str().contains('@'));
    if uri.scheme_str() != Some("https") || host.is_empty() || userinfo {
        return Some(https.to_owned());
    }
    None
}

/// Checks the image URLs of a body ([`image_url_problem`]), naming each refused entry
/// (`images[i]`).
pub fn check_image_urls(urls: &[String], cdn_base: &str) -> Result<(), Vec<shop_core::FieldError>> {
    let errors: Vec<shop_core::FieldError> = urls
        .iter()
        .enumerate()
        .filter_map(|(i, url)| Some(shop_core::FieldError::new(format!("images[{i}]"), "invalid", image_url_problem(url, cdn_base)?)))
        .collect();
    if errors.is_empty() { Ok(()) } else { Err(errors) }
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
    #[garde(length(chars, min = 1, max = 200), custom(not_blank), custom(no_control_chars))]
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]*[^\t-\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000\u0000-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069][^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]*$"
    )]
    pub name: String,
    /// Generated from the name when absent (made unique with a numeric suffix).
    #[garde(inner(length(max = 120), custom(valid_slug)))]
    #[schema(max_length = 120, pattern = r"^[a-z0-9]+(-[a-z0-9]+)*$")]
    pub slug: Option<String>,
    #[garde(length(min = 1, max = 50), custom(valid_sku))]
    #[schema(min_length = 1, max_length = 50, pattern = r"^[A-Za-z0-9._-]+$")]
    pub sku: String,
    #[garde(length(chars, min = 1, max = 10_000), custom(not_blank), custom(no_control_chars))]
    #[schema(
        min_length = 1,
        max_length = 10_000,
        pattern = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]*[^\t-\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000\u0000-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069][^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]*$"
    )]
    pub description: String,
    /// Price in cents.
    #[garde(range(min = 0, max = MAX_PRICE_CENTS))]
    #[schema(minimum = 0, maximum = 100_000_000)]
    pub price: i64,
    #[garde(inner(range(min = 0, max = MAX_PRICE_CENTS)))]
    #[schema(minimum = 0, maximum = 100_000_000)]
    pub compare_price: Option<i64>,
    #[garde(skip)]
    pub category_id: Uuid,
    #[garde(inner(length(chars, min = 1, max = 100), custom(no_control_chars)))]
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]*$"
    )]
    pub brand: Option<String>,
    /// Image URLs: `https://` links of at most 2,048 characters (uploads come through the image
    /// endpoints; their URLs may be given again).
    #[garde(inner(length(max = 20)))]
    pub images: Option<Vec<String>>,
    #[garde(inner(custom(valid_tags)))]
    #[schema(schema_with = tags_schema)]
    pub tags: Option<Vec<String>>,
    /// Free-form JSON: at most 50 names of 1 to 64 characters, values nested at most 10 levels,
    /// 64 KiB in all, numbers 0 or of magnitude 1e-130 to 1e125, no control characters.
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
    #[garde(inner(length(chars, min = 1, max = 200), custom(not_blank), custom(no_control_chars)))]
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]*[^\t-\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000\u0000-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069][^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]*$"
    )]
    pub name: Option<String>,
    #[garde(inner(length(max = 120), custom(valid_slug)))]
    #[schema(max_length = 120, pattern = r"^[a-z0-9]+(-[a-z0-9]+)*$")]
    pub slug: Option<String>,
    #[garde(inner(length(min = 1, max = 50), custom(valid_sku)))]
    #[schema(min_length = 1, max_length = 50, pattern = r"^[A-Za-z0-9._-]+$")]
    pub sku: Option<String>,
    #[garde(inner(length(chars, min = 1, max = 10_000), custom(not_blank), custom(no_control_chars)))]
    #[schema(
        min_length = 1,
        max_length = 10_000,
        pattern = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]*[^\t-\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000\u0000-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069][^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]*$"
    )]
    pub description: Option<String>,
    #[garde(inner(range(min = 0, max = MAX_PRICE_CENTS)))]
    #[schema(minimum = 0, maximum = 100_000_000)]
    pub price: Option<i64>,
    /// `null` removes the compare price.
    #[garde(skip)]
    #[serde(default, with = "double_option")]
    #[schema(value_type = Option<i64>)]
    pub compare_price: Option<Option<i64>>,
    #[garde(skip)]
    pub category_id: Option<Uuid>,
    #[garde(inner(length(chars, min = 1, max = 100), custom(no_control_chars)))]
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]*$"
    )]
    pub brand: Option<String>,
    /// The whole image list, in order: a URL the product already shows keeps its image (id and
    /// uploaded file); other URLs are external `https://` links.
    #[garde(inner(length(max = 20)))]
    pub images: Option<Vec<String>>,
    #[garde(inner(custom(valid_tags)))]
    #[schema(schema_with = tags_schema)]
    pub tags: Option<Vec<String>>,
    /// Free-form JSON: at most 50 names of 1 to 64 characters, values nested at most 10 levels,
    /// 64 KiB in all, numbers 0 or of magnitude 1e-130 to 1e125, no control characters.
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
            new.images = merge_images(std::mem::take(&mut new.images), v.clone());
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

/// Image records for URLs (ids are stable per URL); a URL given twice is one image.
pub fn images_from_urls(urls: Vec<String>) -> Vec<Image> {
    merge_images(Vec::new(), urls)
}

/// The image list `urls` replacing `existing`: a URL already among `existing` keeps its image
/// (id and uploaded file), any other URL becomes an external image; a URL given twice is one
/// image. Images of `existing` not named are dropped.
pub fn merge_images(mut existing: Vec<Image>, urls: Vec<String>) -> Vec<Image> {
    let mut out: Vec<Image> = Vec::with_capacity(urls.len());
    for url in urls {
        if out.iter().any(|i| i.url == url) {
            continue;
        }
        match existing.iter().position(|i| i.url == url) {
            Some(at) => out.push(existing.swap_remove(at)),
            None => out.push(Image::external(url)),
        }
    }
    out
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
    fn image_urls_are_https_links_or_the_cdns_own() {
        let cdn = "http://127.0.0.1:5000/images";
        for ok in
            ["https://cdn.example.com/a.png", "https://cdn.example.com:8443/a.png?v=2", "http://127.0.0.1:5000/images/products/x/y.png"]
        {
            assert_eq!(image_url_problem(ok, cdn), None, "{ok}");
        }
        let long = format!("https://cdn.example.com/{}", "a".repeat(2100));
        for bad in [
            "javascript:alert(1)",
            "data:image/png;base64,AAAA",
            "http://cdn.example.com/x.png",
            "ftp://x/y.png",
            "https://",
            "https:///path",
            "https://user:pw@cdn.example.com/a.png",
            "https://cdn.example.com/a b.png",
            "https://cdn.example.com/\u{202E}gnp.png",
            "http://127.0.0.1:5000/imagesX/a.png",
            "//cdn.example.com/a.png",
            long.as_str(),
        ] {
            assert!(image_url_problem(bad, cdn).is_some(), "{bad}");
        }
        let errors = check_image_urls(&["https://ok.example.com/b.png".into(), "javascript:x".into()], cdn).unwrap_err();
        assert_eq!(errors.iter().map(|e| e.field.as_str()).collect::<Vec<_>>(), ["images[1]"]);
    }

    #[test]
    fn resaving_an_image_list_keeps_the_images_it_names() {
        let upload = Image { id: Uuid::from_u128(7), url: "https://cdn/products/p/7.png".into(), key: Some("products/p/7.png".into()) };
        let merged = merge_images(
            vec![upload.clone(), Image::external("https://x/old.png".into())],
            vec!["https://x/new.png".into(), upload.url.clone(), upload.url.clone()],
        );
        assert_eq!(merged, vec![Image::external("https://x/new.png".into()), upload]);
    }

    #[test]
    fn only_a_key_issued_under_the_products_prefix_is_its_file() {
        let product = Uuid::from_u128(1);
        let mine = Image { id: Uuid::from_u128(2), url: "u".into(), key: Some(format!("products/{product}/2.png")) };
        assert_eq!(mine.file_of(product), mine.key.as_deref());
        assert_eq!(mine.file_of(Uuid::from_u128(3)), None, "another product's key");
        assert_eq!(Image::external(format!("https://cdn/products/{product}/2.png")).file_of(product), None, "a URL is never a key");
    }

    #[test]
    fn attributes_stay_within_what_dynamodb_stores() {
        let attrs = |v: serde_json::Value| -> BTreeMap<String, serde_json::Value> { serde_json::from_value(v).unwrap() };
        let deep = |n: usize| (0..n).fold(serde_json::json!(1), |inner, _| serde_json::json!({ "a": inner }));
        for ok in [
            serde_json::json!({"w": 1.5, "n": -3, "big": 9.9e124, "small": 1e-130, "zero": 0.0, "u": u64::MAX}),
            serde_json::json!({"d": deep(9), "s": "line\nbreak"}),
        ] {
            assert!(valid_attributes(&attrs(ok.clone()), &()).is_ok(), "{ok}");
        }
        for bad in [
            serde_json::json!({"n": 1e125}),
            serde_json::json!({"n": -1e200}),
            serde_json::json!({"n": 1e-131}),
            serde_json::json!({"d": deep(10)}),
            serde_json::json!({"d": {"": 1}}),
            serde_json::json!({"s": "x".repeat(MAX_ATTRIBUTES_BYTES)}),
            serde_json::json!({"s": "nul\u{0}"}),
            serde_json::json!({"k\u{202E}": 1}),
            serde_json::json!({"": 1}),
        ] {
            assert!(valid_attributes(&attrs(bad.clone()), &()).is_err(), "{}", &bad.to_string()[..bad.to_string().len().min(80)]);
        }
    }

    #[test]
    fn tags_are_normalised() {
        assert_eq!(normalize_tags(vec![" Phone".into(), "phone".into(), "".into(), "5G".into()]), vec!["phone", "5g"]);
    }
}
