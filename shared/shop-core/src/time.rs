//! [`Timestamp`]: an instant as every Skyshop wire format and table stores it, RFC 3339 text.

use std::fmt;
use std::ops::{Add, AddAssign, Deref, Sub, SubAssign};

use ::time::format_description::well_known::Rfc3339;
use ::time::{Duration, OffsetDateTime};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, Schema, SchemaFormat, Type};

/// An instant, serialized as RFC 3339 text (`2024-05-01T12:00:00.123Z`): in JSON bodies, in
/// DynamoDB items (an `S` attribute, through serde_dynamo), in events; documented in OpenAPI as
/// `string` with format `date-time`.
///
/// A plain field replaces `#[serde(with = "time::serde::rfc3339")]` and its schema override;
/// `Option<Timestamp>` replaces the `::option` variant (with `#[serde(default)]` where the field
/// may be absent). Everything else is the inner [`OffsetDateTime`]: methods through [`Deref`],
/// conversions both ways, ordering, and `±` a [`Duration`].
///
/// ```
/// use shop_core::time::Timestamp;
///
/// let now = Timestamp::now();
/// let later = now + time::Duration::minutes(15);
/// assert!(later > now);
/// assert_eq!(later - now, time::Duration::minutes(15));
/// assert_eq!(serde_json::to_string(&Timestamp::from(time::macros::datetime!(2024-05-01 12:00 UTC))).ok().as_deref(), Some(r#""2024-05-01T12:00:00Z""#));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub OffsetDateTime);

impl Timestamp {
    /// 1970-01-01T00:00:00Z.
    pub const UNIX_EPOCH: Timestamp = Timestamp(OffsetDateTime::UNIX_EPOCH);

    /// The current time in UTC.
    pub fn now() -> Self {
        Self(OffsetDateTime::now_utc())
    }

    /// The inner [`OffsetDateTime`].
    pub fn get(self) -> OffsetDateTime {
        self.0
    }

    /// The RFC 3339 text, as it goes on the wire.
    pub fn rfc3339(&self) -> String {
        self.0.format(&Rfc3339).unwrap_or_default()
    }
}

impl Deref for Timestamp {
    type Target = OffsetDateTime;

    fn deref(&self) -> &OffsetDateTime {
        &self.0
    }
}

impl From<OffsetDateTime> for Timestamp {
    fn from(value: OffsetDateTime) -> Self {
        Self(value)
    }
}

impl From<Timestamp> for OffsetDateTime {
    fn from(value: Timestamp) -> Self {
        value.0
    }
}

impl PartialEq<OffsetDateTime> for Timestamp {
    fn eq(&self, other: &OffsetDateTime) -> bool {
        self.0 == *other
    }
}

impl PartialOrd<OffsetDateTime> for Timestamp {
    fn partial_cmp(&self, other: &OffsetDateTime) -> Option<std::cmp::Ordering> {
        self.0.partial_cmp(other)
    }
}

impl PartialEq<Timestamp> for OffsetDateTime {
    fn eq(&self, other: &Timestamp) -> bool {
        *self == other.0
    }
}

impl PartialOrd<Timestamp> for OffsetDateTime {
    fn partial_cmp(&self, other: &Timestamp) -> Option<std::cmp::Ordering> {
        self.partial_cmp(&other.0)
    }
}

impl Add<Duration> for Timestamp {
    type Output = Timestamp;

    fn add(self, rhs: Duration) -> Timestamp {
        Self(self.0 + rhs)
    }
}

impl Add<std::time::Duration> for Timestamp {
    type Output = Timestamp;

    fn add(self, rhs: std::time::Duration) -> Timestamp {
        Self(self.0 + rhs)
    }
}

impl AddAssign<Duration> for Timestamp {
    fn add_assign(&mut self, rhs: Duration) {
        self.0 += rhs;
    }
}

impl Sub<Duration> for Timestamp {
    type Output = Timestamp;

    fn sub(self, rhs: Duration) -> Timestamp {
        Self(self.0 - rhs)
    }
}

impl Sub<std::time::Duration> for Timestamp {
    type Output = Timestamp;

    fn sub(self, rhs: std::time::Duration) -> Timestamp {
        Self(self.0 - rhs)
    }
}

impl SubAssign<Duration> for Timestamp {
    fn sub_assign(&mut self, rhs: Duration) {
        self.0 -= rhs;
    }
}

/// The time between two instants.
impl Sub for Timestamp {
    type Output = Duration;

    fn sub(self, rhs: Timestamp) -> Duration {
        self.0 - rhs.0
    }
}

impl Sub<OffsetDateTime> for Timestamp {
    type Output = Duration;

    fn sub(self, rhs: OffsetDateTime) -> Duration {
        self.0 - rhs
    }
}

/// RFC 3339.
impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.rfc3339())
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        ::time::serde::rfc3339::serialize(&self.0, serializer)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        ::time::serde::rfc3339::deserialize(deserializer).map(Self)
    }
}

/// `string`, format `date-time`.
impl utoipa::PartialSchema for Timestamp {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
            .description(Some("An instant, RFC 3339 (`2024-05-01T12:00:00Z`)."))
            .into()
    }
}

impl utoipa::ToSchema for Timestamp {}

#[cfg(test)]
mod tests {
    use ::time::macros::datetime;
    use serde::{Deserialize, Serialize};

    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Before {
        #[serde(with = "time::serde::rfc3339")]
        created_at: OffsetDateTime,
        #[serde(default, with = "time::serde::rfc3339::option", skip_serializing_if = "Option::is_none")]
        deleted_at: Option<OffsetDateTime>,
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct After {
        created_at: Timestamp,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        deleted_at: Option<Timestamp>,
    }

    fn pairs() -> Vec<(Before, After)> {
        let at = datetime!(2024-05-01 12:00:00.123456789 UTC);
        let later = datetime!(2024-05-02 08:30 +02:00);
        vec![
            (Before { created_at: at, deleted_at: None }, After { created_at: at.into(), deleted_at: None }),
            (Before { created_at: at, deleted_at: Some(later) }, After { created_at: at.into(), deleted_at: Some(later.into()) }),
        ]
    }

    #[test]
    fn json_is_the_same_text_as_time_serde_rfc3339() {
        for (before, after) in pairs() {
            let old = serde_json::to_string(&before).unwrap_or_default();
            assert_eq!(serde_json::to_string(&after).unwrap_or_default(), old);
            assert_eq!(serde_json::from_str::<After>(&old).ok(), Some(after));
        }
        let null = serde_json::from_str::<After>(r#"{"createdAt":"2024-05-01T12:00:00Z","deletedAt":null}"#).ok();
        assert_eq!(null.and_then(|a| a.deleted_at), None);
        assert!(serde_json::from_str::<After>(r#"{"createdAt":"yesterday"}"#).is_err());
    }

    #[test]
    fn the_schema_is_a_date_time_string() {
        let schema = serde_json::to_value(<Timestamp as utoipa::PartialSchema>::schema()).unwrap_or_default();
        assert_eq!(schema["type"], "string");
        assert_eq!(schema["format"], "date-time");
    }

    #[test]
    fn arithmetic_and_order_go_through_the_inner_value() {
        let at = Timestamp::from(datetime!(2024-05-01 12:00 UTC));
        assert_eq!(at + Duration::hours(1) - at, Duration::hours(1));
        assert_eq!((at + std::time::Duration::from_secs(60)).minute(), 1);
        assert!(at < at + Duration::SECOND);
        assert_eq!(at.to_string(), "2024-05-01T12:00:00Z");
        assert_eq!(OffsetDateTime::from(at), datetime!(2024-05-01 12:00 UTC));
    }
}
