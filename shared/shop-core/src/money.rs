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

#[cfg(test)]
mod tests {
    use super::*;

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
