//! The synthetic product generator, the one of Skyshop: deterministic variations of the data
//! set's products for large catalogs. `skyshop-local seed --synthetic` writes them to the table
//! ([`crate::catalog::seed_synthetic`]); `skyshop-bench index-synthetic` and `skyshop-bench
//! search` index them directly (through `catalog::search::product_doc`, as the indexer would).

use catalog::domain::{Product, slugify};
use shop_core::time::Timestamp;
use uuid::Uuid;

/// SKUs of synthetic products are `SYN-<n>`, `n` = 1, 2, …
pub const SYNTHETIC_SKU_PREFIX: &str = "SYN-";

/// Namespace of synthetic product ids (UUID v5 of the SKU): the same `n` always gets the same id.
const SYNTHETIC_NAMESPACE: Uuid = Uuid::from_u128(0x6b1f_0c6e_5a3d_4f7e_9c2b_8d4e_1a7f_3c50);
const VARIANT_WORDS: [&str; 12] = ["Pro", "Max", "Lite", "Plus", "Mini", "Ultra", "Classic", "Sport", "Eco", "Deluxe", "Air", "Neo"];
const VARIANT_COLOURS: [&str; 8] = ["Black", "White", "Silver", "Blue", "Red", "Green", "Gold", "Graphite"];

/// SplitMix64: the generator's hash of `n`, well spread in every bit. Benchmarks draw their
/// query mixes from it too.
pub fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// The SKU of the `n`-th synthetic product.
pub fn synthetic_sku(n: u64) -> String {
    format!("{SYNTHETIC_SKU_PREFIX}{n}")
}

/// The `n`-th synthetic product (`n` ≥ 1), a variation of `base[(n - 1) % base.len()]`: SKU
/// `SYN-<n>` and an id derived from it; the name plus a variant word, a colour and the round
/// number (`iPhone 9 Pro Black 3`); a slug ending in the SKU (unique by construction); price (and
/// compare price) 0.5×–2× the base's; rating ±0.5; creation spread over the year before `now`;
/// about 2 % featured and 1 % inactive. Category, brand, description, tags, images and
/// attributes are the base's. Deterministic in its arguments; `None` when `base` is empty or
/// `n` is 0.
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use catalog::domain::valid_slug;

    use super::*;

    fn base(name: &str, price: i64, category: u128) -> Product {
        let at = Timestamp::from(time::OffsetDateTime::UNIX_EPOCH + time::Duration::days(20_000));
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
        let now = Timestamp::from(time::OffsetDateTime::UNIX_EPOCH + time::Duration::days(20_500));
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
