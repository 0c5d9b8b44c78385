//! The local cloud's coupons: SAVE10 and SAVE20 (percent), FLAT50 and FLAT100 (fixed $50 and
//! $100, capped at the subtotal), created through the cart function's own store.

use cart::domain::{Coupon, CouponType};
use cart::store::{CouponStore, StoreError};
use shop_aws::dynamo::Outcome;
use shop_core::time::Timestamp;

/// The seed's coupons: (code, type, value — percent, or cents for fixed).
pub const COUPONS: [(&str, CouponType, i64); 4] = [
    ("SAVE10", CouponType::Percent, 10),
    ("SAVE20", CouponType::Percent, 20),
    ("FLAT50", CouponType::Fixed, 5_000),
    ("FLAT100", CouponType::Fixed, 10_000),
];

/// Creates the seed's [`COUPONS`] unless they exist. Returns how many were created.
#[tracing::instrument(skip_all)]
pub async fn seed_coupons(store: &CouponStore) -> Result<usize, StoreError> {
    let now = Timestamp::now();
    let mut created = 0;
    for (code, kind, value) in COUPONS {
        let coupon = Coupon {
            code: code.into(),
            kind,
            value,
            min_subtotal: 0,
            starts_at: None,
            ends_at: None,
            max_redemptions: None,
            per_user_limit: None,
            active: true,
            redemption_count: 0,
            created_at: now,
            updated_at: now,
        };
        if store.create(&coupon).await? == Outcome::Done {
            created += 1;
        }
    }
    Ok(created)
}
