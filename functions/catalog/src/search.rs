//! The catalog's side of search: what a product looks like in the index. The `catalog-indexer`
//! function writes these documents from the table's stream; the listing route reads them back.

use shop_search::ProductDoc;

use crate::domain::Product;

/// Whether a product belongs in the index at all: deleted products are removed from it
/// (inactive ones stay, flagged, for seller/admin views).
pub fn indexable(product: &Product) -> bool {
    product.deleted_at.is_none()
}

/// The index document of a product. The category path holds the product's own category only:
/// listings expand a category to its descendants at query time, so moving a category never
/// needs a reindex. `source` is the product as `GET /api/products/{id}` shows it.
pub fn product_doc(product: &Product) -> ProductDoc {
    ProductDoc {
        id: product.id,
        name: product.name.clone(),
        description: product.description.clone(),
        brand: product.brand.clone(),
        category_id: product.category_id,
        category_path: vec![product.category_id],
        tags: product.tags.clone(),
        price_cents: product.price,
        rating: product.rating_average,
        created_at: product.created_at,
        is_active: product.is_active,
        is_featured: product.is_featured,
        // As inventory last reported it (PUT /internal/products/{id}/availability); a product
        // inventory never reported is out of stock.
        in_stock: product.in_stock,
        seller_id: product.seller_id,
        source: serde_json::to_string(product).ok(),
    }
}
