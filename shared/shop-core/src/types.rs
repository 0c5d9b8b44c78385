//! Values that cannot be invalid: parse, don't validate.
//!
//! Each type has one constructor that checks (`parse` / `TryFrom`), so a value that exists is
//! valid, and a matching `garde` rule that calls the same constructor, so request DTOs can keep
//! reporting **every** bad field at once (serde stops at the first error) and handlers convert
//! at the edge, where nothing can fail any more. Stored values deserialize through the same
//! constructor: a malformed stored value is an error, never silently accepted.

use serde::{Deserialize, Deserializer, Serialize};

use crate::money::Cents;

/// Why a value was refused (the field error's message).
pub type Refusal = &'static str;

/// An email address: trimmed, lower-cased (addresses are compared case-insensitively), at most
/// 254 characters, one `@` with a non-empty local part and a dotted domain, no spaces or control
/// characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, Refusal> {
        let email = raw.trim().to_lowercase();
        if email.is_empty() || email.chars().count() > 254 {
            return Err("must be an email address of at most 254 characters");
        }
        let (local, domain) = email.split_once('@').ok_or("must be an email address")?;
        let labels_ok = domain.split('.').all(|l| !l.is_empty() && l.chars().all(|c| c.is_alphanumeric() || c == '-'));
        if local.is_empty() || local.len() > 64 || !domain.contains('.') || !labels_ok {
            return Err("must be an email address");
        }
        if email.chars().any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | '(' | ')' | ',' | ';' | '\\' | '"')) {
            return Err("must be an email address");
        }
        Ok(Self(email))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Email {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A quantity of one product on a line: 1 to [`Quantity::MAX`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Quantity(u32);

impl Quantity {
    /// The most units of one product on one line (the seed's cart limit).
    pub const MAX: u32 = 99;

    pub fn new(units: u32) -> Result<Self, Refusal> {
        if (1..=Self::MAX).contains(&units) { Ok(Self(units)) } else { Err("must be between 1 and 99") }
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

/// A URL slug: 1 to 120 characters of `a-z`, `0-9` and single hyphens between them.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Slug(String);

impl Slug {
    pub const MAX_LEN: usize = 120;

    pub fn parse(raw: &str) -> Result<Self, Refusal> {
        match Self::from_text(raw) {
            Some(slug) if slug.0 == raw => Ok(slug),
            _ => Err("must be lower-case letters, digits and single hyphens"),
        }
    }

    /// The slug of `text`: lower-cased, common accents folded (`é` → `e`), ASCII letters and
    /// digits kept, every other run one hyphen, at most [`Slug::MAX_LEN`]; `None` when nothing
    /// is left.
    pub fn from_text(text: &str) -> Option<Self> {
        let mut out = String::with_capacity(text.len().min(Self::MAX_LEN));
        let mut hyphen = false;
        for c in text.chars().flat_map(char::to_lowercase) {
            let c = match c {
                'à' | 'á' | 'â' | 'ä' | 'ã' | 'å' => 'a',
                'ç' => 'c',
                'è' | 'é' | 'ê' | 'ë' => 'e',
                'ì' | 'í' | 'î' | 'ï' => 'i',
                'ñ' => 'n',
                'ò' | 'ó' | 'ô' | 'ö' | 'õ' => 'o',
                'ù' | 'ú' | 'û' | 'ü' => 'u',
                c => c,
            };
            if c.is_ascii_alphanumeric() {
                out.push(c);
                hyphen = false;
            } else if !hyphen && !out.is_empty() {
                out.push('-');
                hyphen = true;
            }
            if out.len() >= Self::MAX_LEN {
                break;
            }
        }
        let slug = out.trim_end_matches('-');
        (!slug.is_empty()).then(|| Self(slug.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A price: a non-negative amount of cents, at most $10,000,000.00.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Price(Cents);

impl Price {
    pub const MAX_CENTS: i64 = 1_000_000_000;

    pub fn new(cents: i64) -> Result<Self, Refusal> {
        if (0..=Self::MAX_CENTS).contains(&cents) { Ok(Self(Cents(cents))) } else { Err("must be 0 to 1000000000 cents") }
    }

    pub fn cents(self) -> Cents {
        self.0
    }
}

macro_rules! parsed_via {
    ($ty:ty, $raw:ty, $arg:ty, $parse:expr, $rule:ident) => {
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let raw = <$raw>::deserialize(deserializer)?;
                $parse(&raw).map_err(serde::de::Error::custom)
            }
        }

        /// garde rule: the value parses as the type (`#[garde(custom(shop_core::types::...))]`).
        pub fn $rule(value: &$arg, _: &()) -> garde::Result {
            $parse(value).map(|_| ()).map_err(garde::Error::new)
        }
    };
}

parsed_via!(Email, String, str, Email::parse, valid_email);
parsed_via!(Quantity, u32, u32, |q: &u32| Quantity::new(*q), valid_quantity);
parsed_via!(Slug, String, str, Slug::parse, valid_slug);
parsed_via!(Price, i64, i64, |c: &i64| Price::new(*c), valid_price);

impl utoipa::PartialSchema for Email {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(utoipa::openapi::KnownFormat::Email)))
            .max_length(Some(254))
            .into()
    }
}
impl utoipa::ToSchema for Email {}

impl utoipa::PartialSchema for Quantity {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::Integer)
            .minimum(Some(1))
            .maximum(Some(Quantity::MAX))
            .into()
    }
}
impl utoipa::ToSchema for Quantity {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_malformed_ones_refused() {
        assert_eq!(Email::parse("  Jane.Doe@Example.COM ").map(|e| e.as_str().to_owned()), Ok("jane.doe@example.com".to_owned()));
        for bad in
            ["", "plain", "@x.com", "a@", "a@b", "a@.com", "a b@c.com", "a@b..com", "a@b.com\u{0}", &format!("{}@x.com", "a".repeat(250))]
        {
            assert!(Email::parse(bad).is_err(), "{bad:?}");
        }
        let stored: Result<Email, _> = serde_json::from_str("\"not an email\"");
        assert!(stored.is_err(), "a malformed stored value does not decode");
        assert!(valid_email("x@y.io", &()).is_ok() && valid_email("x", &()).is_err());
    }

    #[test]
    fn quantities_slugs_and_prices_hold_only_valid_values() {
        assert!(Quantity::new(0).is_err() && Quantity::new(100).is_err());
        assert_eq!(Quantity::new(99).map(Quantity::get), Ok(99));
        assert!(serde_json::from_str::<Quantity>("0").is_err());
        assert_eq!(Slug::from_text("  Hello, Wörld -- 2 ").map(|s| s.as_str().to_owned()), Some("hello-world-2".to_owned()));
        assert_eq!(Slug::from_text("!!!"), None);
        for bad in ["", "-a", "a-", "a--b", "A", "a b", &"a".repeat(121)] {
            assert!(Slug::parse(bad).is_err(), "{bad:?}");
        }
        assert!(Price::new(-1).is_err() && Price::new(Price::MAX_CENTS + 1).is_err());
        assert_eq!(Price::new(1999).map(Price::cents), Ok(Cents(1999)));
    }
}
