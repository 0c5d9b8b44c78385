//! All storage of the cart function: carts in Redis ([`carts`]), coupons and their redemptions
//! in DynamoDB ([`coupons`]). Lost races are retried here (`shop_core::retry`), never in handlers.

pub mod carts;
pub mod coupons;

pub use carts::{CartStore, CartStoreError, Counted, Owner, Slot, Stored, Tries, Updated};
pub use coupons::{CouponStore, RedeemError, Redemption, StoreError, StoredCoupon, UserCounter};
