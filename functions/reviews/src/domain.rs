//! Review types and rules, without I/O: the stored review, the per-product summary, the request
//! bodies with their validation, list sorts and the reviewer's shown name.

use garde::Validate;
use serde::{Deserialize, Serialize};
use shop_core::time::Timestamp;
use utoipa::ToSchema;
use uuid::Uuid;

/// Longest review title (characters, after trimming).
pub const MAX_TITLE: usize = 120;
/// Longest review text (characters, after trimming).
pub const MAX_CONTENT: usize = 4_000;
/// Longest moderation reason.
pub const MAX_REASON: usize = 500;

/// A review as stored (one item per review).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Review {
    pub id: Uuid,
    pub product_id: Uuid,
    pub user_id: Uuid,
    pub rating: u8,
    pub title: String,
    pub content: String,
    /// How the reviewer is shown ("Ada L."), fixed at creation; never the email.
    pub reviewer_name: String,
    /// The reviewer had a DELIVERED order with the product (at creation, re-checked on edits).
    pub is_verified_purchase: bool,
    /// Votes present (kept by the vote transactions, never by edits).
    #[serde(default)]
    pub helpful_count: i64,
    /// Hidden by an admin: out of the public lists and of the summary.
    #[serde(default)]
    pub is_hidden: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hidden_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hidden_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// Bumped by every edit, hide and unhide (not by votes): the condition of those writes.
    pub version: u64,
}

impl Review {
    pub fn view(&self) -> ReviewView {
        ReviewView {
            id: self.id,
            product_id: self.product_id,
            user_id: self.user_id,
            rating: self.rating,
            title: self.title.clone(),
            content: self.content.clone(),
            reviewer_name: self.reviewer_name.clone(),
            is_verified_purchase: self.is_verified_purchase,
            helpful_count: u64::try_from(self.helpful_count).unwrap_or(0),
            is_hidden: self.is_hidden,
            hidden_reason: self.hidden_reason.clone(),
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

/// A review as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Review)]
pub struct ReviewView {
    pub id: Uuid,
    pub product_id: Uuid,
    pub user_id: Uuid,
    /// 1 to 5 stars.
    pub rating: u8,
    pub title: String,
    pub content: String,
    /// The reviewer's first name and last initial ("Ada L.").
    pub reviewer_name: String,
    /// The reviewer received the product (a DELIVERED order of theirs contains it).
    pub is_verified_purchase: bool,
    pub helpful_count: u64,
    /// Hidden by an admin (only its author and admins see it).
    pub is_hidden: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hidden_reason: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// `POST /api/reviews`.
#[derive(Debug, Clone, Deserialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateReview {
    #[garde(skip)]
    pub product_id: Uuid,
    /// Whole stars, 1 to 5.
    #[garde(range(min = 1, max = 5))]
    #[schema(minimum = 1, maximum = 5)]
    pub rating: u8,
    /// 1 to 120 characters (trimmed).
    #[serde(deserialize_with = "shop_core::extract::trimmed")]
    #[garde(length(chars, min = 1, max = MAX_TITLE), custom(shop_core::extract::no_control_chars))]
    #[schema(
        min_length = 1,
        max_length = 120,
        pattern = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]*[^\t-\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000\u0000-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069][^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]*$"
    )]
    pub title: String,
    /// 1 to 4,000 characters (trimmed).
    #[serde(deserialize_with = "shop_core::extract::trimmed")]
    #[garde(length(chars, min = 1, max = MAX_CONTENT), custom(shop_core::extract::no_control_chars))]
    #[schema(
        min_length = 1,
        max_length = 4000,
        pattern = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]*[^\t-\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000\u0000-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069][^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]*$"
    )]
    pub content: String,
}

/// `PUT /api/reviews/{id}`: the fields to change (at least one).
#[derive(Debug, Clone, Deserialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(min_properties = 1)]
pub struct UpdateReview {
    #[garde(inner(range(min = 1, max = 5)))]
    #[schema(minimum = 1, maximum = 5)]
    pub rating: Option<u8>,
    #[serde(default, deserialize_with = "trimmed_opt")]
    #[garde(inner(length(chars, min = 1, max = MAX_TITLE), custom(shop_core::extract::no_control_chars)))]
    #[schema(
        min_length = 1,
        max_length = 120,
        pattern = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]*[^\t-\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000\u0000-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069][^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]*$"
    )]
    pub title: Option<String>,
    #[serde(default, deserialize_with = "trimmed_opt")]
    #[garde(inner(length(chars, min = 1, max = MAX_CONTENT), custom(shop_core::extract::no_control_chars)))]
    #[schema(
        min_length = 1,
        max_length = 4000,
        pattern = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]*[^\t-\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000\u0000-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069][^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]*$"
    )]
    pub content: Option<String>,
}

fn trimmed_opt<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    let value = <Option<String> as Deserialize>::deserialize(deserializer)?;
    Ok(value.map(|v| v.trim().to_owned()))
}

impl UpdateReview {
    pub fn is_empty(&self) -> bool {
        self.rating.is_none() && self.title.is_none() && self.content.is_none()
    }
}

/// `POST /api/reviews/{id}/hide`.
#[derive(Debug, Clone, Deserialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Hide {
    /// Why (kept on the review, shown to its author), 1 to 500 characters.
    #[serde(deserialize_with = "shop_core::extract::trimmed")]
    #[garde(length(chars, min = 1, max = MAX_REASON), custom(shop_core::extract::no_control_chars))]
    #[schema(
        min_length = 1,
        max_length = 500,
        pattern = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]*[^\t-\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000\u0000-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069][^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]*$"
    )]
    pub reason: String,
}

/// `POST /api/reviews/{id}/helpful`: the caller's vote after the toggle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HelpfulView {
    /// `true`: the caller's vote was added; `false`: it was removed.
    pub helpful: bool,
    /// Votes on the review now.
    pub helpful_count: u64,
}

/// A product's visible reviews counted per star (one item per product, changed in the same
/// transaction as every review write that changes it).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// Reviews with 1..=5 stars.
    #[serde(default)]
    pub c1: i64,
    #[serde(default)]
    pub c2: i64,
    #[serde(default)]
    pub c3: i64,
    #[serde(default)]
    pub c4: i64,
    #[serde(default)]
    pub c5: i64,
    /// Bumped by every change (orders the pushes to the catalog).
    #[serde(default)]
    pub version: u64,
}

impl Summary {
    pub fn counts(&self) -> [i64; 5] {
        [self.c1, self.c2, self.c3, self.c4, self.c5].map(|c| c.max(0))
    }

    pub fn total(&self) -> u64 {
        self.counts().iter().map(|c| *c as u64).sum()
    }

    /// The mean rating rounded to one decimal; 0 without reviews.
    pub fn average(&self) -> f64 {
        let total = self.total();
        if total == 0 {
            return 0.0;
        }
        let sum: i64 = self.counts().iter().enumerate().map(|(i, c)| (i as i64 + 1) * c).sum();
        // Tenths, rounded half up, in integers: no float drift in the shown value.
        let tenths = (sum as u64 * 20 + total) / (2 * total);
        tenths as f64 / 10.0
    }

    pub fn view(&self, product_id: Uuid) -> SummaryView {
        let [c1, c2, c3, c4, c5] = self.counts().map(|c| c as u64);
        SummaryView {
            product_id,
            average_rating: self.average(),
            total_reviews: self.total(),
            rating_distribution: Distribution { one: c1, two: c2, three: c3, four: c4, five: c5 },
        }
    }
}

/// `GET /api/reviews/product/{productId}/summary`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SummaryView {
    pub product_id: Uuid,
    /// Mean of the visible reviews, one decimal; 0 when there are none.
    pub average_rating: f64,
    pub total_reviews: u64,
    pub rating_distribution: Distribution,
}

/// Visible reviews per star.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Distribution {
    #[serde(rename = "1")]
    pub one: u64,
    #[serde(rename = "2")]
    pub two: u64,
    #[serde(rename = "3")]
    pub three: u64,
    #[serde(rename = "4")]
    pub four: u64,
    #[serde(rename = "5")]
    pub five: u64,
}

/// The order of a product's reviews.
// Its schema is the `sort` parameter's: the names `Sort::parse` takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum Sort {
    #[default]
    Newest,
    Oldest,
    Highest,
    Lowest,
    MostHelpful,
}

impl Sort {
    pub const NAMES: &'static str = "newest, oldest, highest, lowest, most_helpful";

    pub fn parse(value: &str) -> Option<Self> {
        Some(match value {
            "newest" => Sort::Newest,
            "oldest" => Sort::Oldest,
            "highest" => Sort::Highest,
            "lowest" => Sort::Lowest,
            "most_helpful" => Sort::MostHelpful,
            _ => return None,
        })
    }

    /// Sorts `reviews` in place; ties newest first, then by id (a stable page order).
    pub fn apply(self, reviews: &mut [Review]) {
        let newest = |a: &Review, b: &Review| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id));
        match self {
            Sort::Newest => reviews.sort_by(newest),
            Sort::Oldest => reviews.sort_by(|a, b| newest(b, a)),
            Sort::Highest => reviews.sort_by(|a, b| b.rating.cmp(&a.rating).then_with(|| newest(a, b))),
            Sort::Lowest => reviews.sort_by(|a, b| a.rating.cmp(&b.rating).then_with(|| newest(a, b))),
            Sort::MostHelpful => reviews.sort_by(|a, b| b.helpful_count.cmp(&a.helpful_count).then_with(|| newest(a, b))),
        }
    }
}

/// "Ada L.": the first name and the initial of the last; "Ada" without a last name; "Customer"
/// when there is no name at all.
pub fn display_name(first: &str, last: &str) -> String {
    let first = first.trim();
    let initial = last.trim().chars().next();
    match (first.is_empty(), initial) {
        (true, _) => "Customer".to_owned(),
        (false, None) => first.to_owned(),
        (false, Some(c)) => format!("{first} {}.", c.to_uppercase()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn averages_are_rounded_to_one_decimal_and_zero_without_reviews() {
        assert_eq!(Summary::default().average(), 0.0);
        let s = Summary { c5: 2, c4: 1, ..Summary::default() };
        assert_eq!(s.average(), 4.7);
        assert_eq!(s.total(), 3);
        let s = Summary { c1: 1, c2: 1, ..Summary::default() };
        assert_eq!(s.average(), 1.5);
        let s = Summary { c1: -1, c5: 1, ..Summary::default() };
        assert_eq!(s.average(), 5.0, "a negative count (never written) counts as none");
    }

    #[test]
    fn display_names_show_the_last_initial_only() {
        assert_eq!(display_name("Ada", "Lovelace"), "Ada L.");
        assert_eq!(display_name(" Ada ", "lovelace"), "Ada L.");
        assert_eq!(display_name("Ada", ""), "Ada");
        assert_eq!(display_name("", "Lovelace"), "Customer");
    }

    #[test]
    fn only_whitelisted_sorts_parse() {
        assert_eq!(Sort::parse("most_helpful"), Some(Sort::MostHelpful));
        assert_eq!(Sort::parse("rating"), None);
        assert_eq!(Sort::parse("createdAt"), None);
    }

    #[test]
    fn the_documented_sorts_are_the_parsed_ones() {
        let schema = serde_json::to_value(<Sort as utoipa::PartialSchema>::schema()).unwrap_or_default();
        let names: Vec<&str> = schema["enum"].as_array().into_iter().flatten().filter_map(serde_json::Value::as_str).collect();
        assert_eq!(names.join(", "), Sort::NAMES);
        assert!(names.iter().all(|name| Sort::parse(name).is_some()), "{names:?}");
    }
}
