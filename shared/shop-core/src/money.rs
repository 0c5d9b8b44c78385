//! Money is integer minor units (cents) — never floats.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// An amount in cents. `1999` is $19.99.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize, ToSchema)]
#[serde(transparent)]
pub struct Cents(pub i64);

impl Cents {
    pub const ZERO: Cents = Cents(0);

    pub fn checked_add(self, other: Cents) -> Option<Cents> {
        self.0.checked_add(other.0).map(Cents)
    }
    pub fn checked_sub(self, other: Cents) -> Option<Cents> {
        self.0.checked_sub(other.0).map(Cents)
    }
    pub fn checked_mul(self, quantity: i64) -> Option<Cents> {
        self.0.checked_mul(quantity).map(Cents)
    }

    /// `basis_points / 10_000` of the amount, rounded half away from zero (8% = 800 bp).
    pub fn percent_bp(self, basis_points: i64) -> Cents {
        let product = i128::from(self.0) * i128::from(basis_points);
        let rounded = if product >= 0 { (product + 5_000) / 10_000 } else { (product - 5_000) / 10_000 };
        Cents(i64::try_from(rounded).unwrap_or(if rounded > 0 { i64::MAX } else { i64::MIN }))
    }
}

impl std::fmt::Display for Cents {
    /// `$`-less decimal rendering for emails: `1999` → `19.99`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        write!(f, "{sign}{}.{:02}", abs / 100, abs % 100)
    }
}

/// Shipping is free from this pre-discount subtotal ($100.00) (seed-spec §5.1).
pub const FREE_SHIPPING_FROM: i64 = 10_000;
/// Flat shipping below [`FREE_SHIPPING_FROM`] ($9.99).
pub const SHIPPING: i64 = 999;
/// Tax rate in basis points (8%), on subtotal − discount; shipping is not taxed.
pub const TAX_BP: i64 = 800;

/// Subtotal, discount, shipping, tax and total of a cart or an order, in cents: the one
/// computation both the cart's estimate and the order use, so they agree to the cent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Totals {
    pub subtotal: i64,
    pub discount: i64,
    pub shipping: i64,
    pub tax: i64,
    pub total: i64,
}

impl Totals {
    /// Shipping 0 from $100.00 of pre-discount subtotal (and for nothing to ship), else $9.99;
    /// tax 8% of subtotal − discount rounded half up; total = subtotal − discount + shipping + tax.
    /// The discount is clamped to `0..=subtotal`.
    ///
    /// Amounts past `i64` (far beyond any cart the API admits: 100 lines × 99 × $1,000,000.00 is
    /// about 10^12 cents) saturate rather than wrap; [`Totals::checked`] answers `None` for them.
    pub fn compute(subtotal: i64, discount: i64, has_items: bool) -> Self {
        Self::checked(subtotal, discount, has_items).unwrap_or_else(|| {
            let discount = discount.clamp(0, subtotal.max(0));
            let shipping = if !has_items || subtotal >= FREE_SHIPPING_FROM { 0 } else { SHIPPING };
            let base = subtotal.saturating_sub(discount);
            let tax = Cents(base).percent_bp(TAX_BP).0;
            Totals { subtotal, discount, shipping, tax, total: base.saturating_add(shipping).saturating_add(tax) }
        })
    }

    /// [`Totals::compute`], or `None` when a sum does not fit in `i64` cents.
    pub fn checked(subtotal: i64, discount: i64, has_items: bool) -> Option<Self> {
        let discount = discount.clamp(0, subtotal.max(0));
        let shipping = if !has_items || subtotal >= FREE_SHIPPING_FROM { 0 } else { SHIPPING };
        let base = subtotal.checked_sub(discount)?;
        let tax = Cents(base).percent_bp(TAX_BP).0;
        let total = base.checked_add(shipping)?.checked_add(tax)?;
        Some(Totals { subtotal, discount, shipping, tax, total })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_follow_the_seed_rules() {
        // Below the threshold: $9.99 shipping, 8% of (subtotal − discount), shipping untaxed.
        assert_eq!(Totals::compute(5_000, 500, true), Totals { subtotal: 5_000, discount: 500, shipping: 999, tax: 360, total: 5_859 });
        // The threshold compares the pre-discount subtotal.
        assert_eq!(Totals::compute(10_000, 2_000, true).shipping, 0);
        assert_eq!(Totals::compute(9_999, 0, true).shipping, 999);
        // Half-up rounding of tax: 8% of 12.34 = 0.9872 → 0.99; of 0.06 = 0.0048 → 0.00.
        assert_eq!(Totals::compute(1_234, 0, true).tax, 99);
        assert_eq!(Totals::compute(6, 0, true).tax, 0);
        // Nothing to ship, nothing to pay; a discount never exceeds the subtotal.
        assert_eq!(Totals::compute(0, 0, false).total, 0);
        assert_eq!(Totals::compute(1_000, 5_000, true).discount, 1_000);
    }

    #[test]
    fn percent_rounds_half_away_from_zero() {
        assert_eq!(Cents(12345).percent_bp(800), Cents(988)); // 987.6 → 988
        assert_eq!(Cents(1000).percent_bp(1000), Cents(100));
        assert_eq!(Cents(5).percent_bp(1000), Cents(1)); // 0.5 → 1
        assert_eq!(Cents(-5).percent_bp(1000), Cents(-1));
    }

    #[test]
    fn display_is_decimal() {
        assert_eq!(Cents(1999).to_string(), "19.99");
        assert_eq!(Cents(-5).to_string(), "-0.05");
    }
}
