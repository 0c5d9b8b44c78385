//! RS256 signing keys and the JWKS built from them.
//!
//! The secret holds `{"activeKid": "...", "keys": [{"kid", "privateKeyPem", "createdAt"}]}`.
//! Every key is published in the JWKS; only the active one signs. Warm sandboxes reload the secret
//! at most every minute ([`KeyRing`]). Rotation: add a key (published within a minute), wait two
//! minutes, make it active (verifiers refetch the key set for a key they have not seen), drop the
//! old key 17 minutes later (the reload plus the 15-minute access-token lifetime).

use std::collections::HashMap;

use aws_lc_rs::encoding::AsDer;
use base64::Engine;
use jsonwebtoken::jwk::{Jwk, JwkSet, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use serde::{Deserialize, Serialize};
use shop_core::secret::Secret;

/// One key as stored in the secret.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredKey {
    pub kid: String,
    pub private_key_pem: Secret<String>,
    #[serde(default)]
    pub created_at: Option<String>,
}

/// The secret's JSON document.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyDocument {
    #[serde(default)]
    pub active_kid: Option<String>,
    #[serde(default)]
    pub keys: Vec<StoredKey>,
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("the signing-key secret is not valid JSON")]
    Json(#[from] serde_json::Error),
    #[error("the signing-key secret holds no keys; run scripts/signing-key")]
    Empty,
    #[error("activeKid {0} is not among the keys")]
    UnknownActive(String),
    #[error("key {kid} is not a valid RSA private key")]
    InvalidKey { kid: String, source: jsonwebtoken::errors::Error },
    #[error("could not generate an RSA key")]
    Generate,
}

/// Keys ready to sign and verify.
pub struct SigningKeys {
    active_kid: String,
    encoding: EncodingKey,
    decoding: HashMap<String, DecodingKey>,
    jwks: JwkSet,
}

impl std::fmt::Debug for SigningKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKeys").field("active_kid", &self.active_kid).finish_non_exhaustive()
    }
}

impl SigningKeys {
    pub fn from_json(json: &str) -> Result<Self, KeyError> {
        Self::from_document(&serde_json::from_str(json)?)
    }

    pub fn from_document(doc: &KeyDocument) -> Result<Self, KeyError> {
        let last = doc.keys.last().ok_or(KeyError::Empty)?;
        let active_kid = doc.active_kid.clone().unwrap_or_else(|| last.kid.clone());
        let mut decoding = HashMap::new();
        let mut jwks = Vec::new();
        let mut encoding = None;
        for key in &doc.keys {
            let invalid = |source| KeyError::InvalidKey { kid: key.kid.clone(), source };
            let enc = EncodingKey::from_rsa_pem(key.private_key_pem.expose().as_bytes()).map_err(invalid)?;
            let mut jwk = Jwk::from_encoding_key(&enc, Algorithm::RS256).map_err(invalid)?;
            jwk.common.key_id = Some(key.kid.clone());
            jwk.common.public_key_use = Some(PublicKeyUse::Signature);
            jwk.common.key_algorithm = Some(KeyAlgorithm::RS256);
            decoding.insert(key.kid.clone(), DecodingKey::from_jwk(&jwk).map_err(invalid)?);
            jwks.push(jwk);
            if key.kid == active_kid {
                encoding = Some(enc);
            }
        }
        let encoding = encoding.ok_or_else(|| KeyError::UnknownActive(active_kid.clone()))?;
        Ok(Self { active_kid, encoding, decoding, jwks: JwkSet { keys: jwks } })
    }

    pub fn active_kid(&self) -> &str {
        &self.active_kid
    }
    pub fn encoding_key(&self) -> &EncodingKey {
        &self.encoding
    }
    pub fn decoding_key(&self, kid: &str) -> Option<&DecodingKey> {
        self.decoding.get(kid)
    }
    /// The public keys, as served at `/.well-known/jwks.json`.
    pub fn jwks(&self) -> &JwkSet {
        &self.jwks
    }
}

/// A new 2048-bit RSA key as PKCS#8 PEM.
pub fn generate_private_key_pem() -> Result<Secret<String>, KeyError> {
    let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).map_err(|_| KeyError::Generate)?;
    let der = pair.as_der().map_err(|_| KeyError::Generate)?;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der.as_ref());
    let mut pem = String::from("-----BEGIN PRIVATE KEY-----\n");
    for line in b64.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(line).unwrap_or_default());
        pem.push('\n');
    }
    pem.push_str("-----END PRIVATE KEY-----\n");
    Ok(Secret::new(pem))
}

impl KeyDocument {
    /// Adds a freshly generated key. The first key becomes active; later ones are published
    /// first and activated with [`KeyDocument::activate`].
    pub fn add_generated(&mut self, kid: String, created_at: String) -> Result<(), KeyError> {
        self.keys.push(StoredKey { kid: kid.clone(), private_key_pem: generate_private_key_pem()?, created_at: Some(created_at) });
        if self.active_kid.is_none() {
            self.active_kid = Some(kid);
        }
        Ok(())
    }

    pub fn activate(&mut self, kid: &str) -> Result<(), KeyError> {
        if !self.keys.iter().any(|k| k.kid == kid) {
            return Err(KeyError::UnknownActive(kid.to_owned()));
        }
        self.active_kid = Some(kid.to_owned());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_sign_and_verify_and_publish_rsa_jwks() {
        let mut doc = KeyDocument::default();
        doc.add_generated("k1".into(), "2026-01-01T00:00:00Z".into()).expect("generate k1");
        doc.add_generated("k2".into(), "2026-02-01T00:00:00Z".into()).expect("generate k2");
        let keys = SigningKeys::from_document(&doc).expect("keys load");
        assert_eq!(keys.active_kid(), "k1", "the first key stays active until activated");
        assert_eq!(keys.jwks().keys.len(), 2, "both keys are published for rotation overlap");
        let json = serde_json::to_value(keys.jwks()).expect("jwks serializes");
        assert_eq!(json["keys"][0]["kty"], "RSA");
        assert_eq!(json["keys"][0]["alg"], "RS256");
        assert_eq!(json["keys"][1]["kid"], "k2");
        assert!(json["keys"][0].get("d").is_none(), "no private component is published");

        let mut header = jsonwebtoken::Header::new(Algorithm::RS256);
        header.kid = Some("k1".into());
        let claims = serde_json::json!({"sub": "x", "exp": 4_000_000_000u64});
        let token = jsonwebtoken::encode(&header, &claims, keys.encoding_key()).expect("sign");
        let mut validation = jsonwebtoken::Validation::new(Algorithm::RS256);
        validation.validate_aud = false;
        let decoded = jsonwebtoken::decode::<serde_json::Value>(&token, keys.decoding_key("k1").expect("k1"), &validation);
        assert!(decoded.is_ok(), "{decoded:?}");
        let wrong = jsonwebtoken::decode::<serde_json::Value>(&token, keys.decoding_key("k2").expect("k2"), &validation);
        assert!(wrong.is_err(), "another key must not verify the token");
    }

    #[test]
    fn empty_secret_is_a_clear_error() {
        let err = SigningKeys::from_json(r#"{"keys":[]}"#).expect_err("no keys");
        assert!(err.to_string().contains("scripts/signing-key"));
    }
}

/// Where the signing keys live: a Secrets Manager secret holding a [`KeyDocument`].
#[derive(Debug, Clone)]
pub struct KeySource {
    pub client: aws_sdk_secretsmanager::Client,
    pub secret_id: String,
}

/// Why the keys could not be read.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("could not read the signing-key secret")]
    Secret(#[from] aws_sdk_secretsmanager::Error),
    #[error("the signing-key secret has no string value")]
    Empty,
    #[error(transparent)]
    Keys(#[from] KeyError),
}

impl KeySource {
    pub async fn load(&self) -> Result<SigningKeys, LoadError> {
        let secret = self.client.get_secret_value().secret_id(&self.secret_id).send().await.map_err(aws_sdk_secretsmanager::Error::from)?;
        Ok(SigningKeys::from_json(secret.secret_string().ok_or(LoadError::Empty)?)?)
    }
}

/// The signing keys a warm sandbox uses, reloaded from their secret once they are older than
/// [`KeyRing::RELOAD_AFTER`], so a rotation (`scripts/signing-key add|activate|remove`) reaches
/// every sandbox within a minute: new keys are published in the JWKS and the active one signs.
/// A failed reload keeps the keys in hand (logged) and is tried again on the next request.
pub struct KeyRing {
    current: std::sync::RwLock<std::sync::Arc<SigningKeys>>,
    loaded_at: std::sync::Mutex<std::time::Instant>,
    reloading: tokio::sync::Mutex<()>,
    source: Option<KeySource>,
    reload_after: std::time::Duration,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRing").field("source", &self.source.as_ref().map(|s| &s.secret_id)).finish_non_exhaustive()
    }
}

impl KeyRing {
    /// Readiness: the signing keys' secret is there (`DescribeSecret`, which reads no value).
    /// `None` for keys given in code (tests).
    pub fn probe(&self) -> Option<shop_core::health::Probe> {
        let source = self.source.as_ref()?;
        let (client, id) = (source.client.clone(), source.secret_id.clone());
        Some(shop_core::health::Probe::new("secretsmanager:signing-keys", async move {
            client
                .describe_secret()
                .secret_id(&id)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| aws_sdk_secretsmanager::error::DisplayErrorContext(&e).to_string())
        }))
    }

    /// How old loaded keys may get before the next request reloads them.
    pub const RELOAD_AFTER: std::time::Duration = std::time::Duration::from_secs(60);

    /// Keys that never change (tests, tools).
    pub fn fixed(keys: SigningKeys) -> Self {
        Self::new(keys, None)
    }

    /// Loads the keys from `source` and keeps following it.
    pub async fn load(source: KeySource) -> Result<Self, LoadError> {
        let keys = source.load().await?;
        Ok(Self::new(keys, Some(source)))
    }

    fn new(keys: SigningKeys, source: Option<KeySource>) -> Self {
        Self {
            current: std::sync::RwLock::new(std::sync::Arc::new(keys)),
            loaded_at: std::sync::Mutex::new(std::time::Instant::now()),
            reloading: tokio::sync::Mutex::new(()),
            source,
            reload_after: Self::RELOAD_AFTER,
        }
    }

    /// The same ring with another reload interval (tests).
    pub fn with_reload_after(mut self, after: std::time::Duration) -> Self {
        self.reload_after = after;
        self
    }

    fn snapshot(&self) -> std::sync::Arc<SigningKeys> {
        self.current.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    fn is_stale(&self) -> bool {
        self.loaded_at.lock().unwrap_or_else(std::sync::PoisonError::into_inner).elapsed() >= self.reload_after
    }

    /// The keys to sign and publish with, reloaded first when stale (one reload at a time; the
    /// others use the keys in hand).
    pub async fn current(&self) -> std::sync::Arc<SigningKeys> {
        if let Some(source) = &self.source
            && self.is_stale()
            && let Ok(_guard) = self.reloading.try_lock()
            && self.is_stale()
        {
            match source.load().await {
                Ok(keys) => *self.current.write().unwrap_or_else(std::sync::PoisonError::into_inner) = std::sync::Arc::new(keys),
                Err(err) => {
                    tracing::error!(error = %shop_core::problem::ErrorChain(&err), "could not reload the signing keys; keeping the loaded ones")
                }
            }
            *self.loaded_at.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = std::time::Instant::now();
        }
        self.snapshot()
    }
}
