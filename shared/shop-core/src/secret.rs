//! [`Secret`]: a value that never prints.
//!
//! Signing keys, passwords and tokens travel through configuration and stores; a stray `{:?}` in
//! a log line must not leak them. A `Secret` has no `Display`, its `Debug` is `[redacted]`, and
//! the value is reached only through [`Secret::expose`], which is easy to find in review. It
//! (de)serialises as the bare value, because writing a secret to the place that keeps it (Secrets
//! Manager) is the one deliberate way out.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    pub fn new(value: T) -> Self {
        Self(value)
    }

    /// The secret value. Never log it.
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T> From<T> for Secret<T> {
    fn from(value: T) -> Self {
        Self(value)
    }
}

impl<T> std::fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

impl<T: Serialize> Serialize for Secret<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Secret<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        T::deserialize(deserializer).map(Self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Serialize, Deserialize)]
    struct Key {
        kid: String,
        pem: Secret<String>,
    }

    #[test]
    fn debug_output_never_holds_the_value_and_serde_is_transparent() {
        let key: Key = serde_json::from_str(r#"{"kid":"k1","pem":"-----BEGIN PRIVATE KEY-----xyz"}"#).expect("decodes");
        let printed = format!("{key:?} {:?} {:#?}", key.pem, key);
        assert!(!printed.contains("BEGIN") && !printed.contains("xyz"), "{printed}");
        assert!(printed.contains("[redacted]"));
        assert_eq!(key.pem.expose(), "-----BEGIN PRIVATE KEY-----xyz");
        assert_eq!(serde_json::to_value(&key).expect("encodes")["pem"], "-----BEGIN PRIVATE KEY-----xyz");
    }
}
