//! Password policy and argon2id hashing.
//!
//! Policy (server-side, for register, reset and change): 8–128 characters, at least one upper-case
//! letter, one lower-case letter, and one digit or symbol. Hashing: argon2id with the OWASP
//! parameters (19 MiB memory, 2 iterations, 1 lane), run on the blocking pool.

use std::sync::OnceLock;

use argon2::{Algorithm, Argon2, Params, Version};
use argon2::{PasswordHasher, PasswordVerifier};

/// OWASP Password Storage Cheat Sheet: m=19456 KiB, t=2, p=1.
pub fn hasher() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Checks the policy; `Err` is the message for the field.
pub fn check_policy(password: &str) -> Result<(), &'static str> {
    let len = password.chars().count();
    if len < 8 {
        return Err("must be at least 8 characters");
    }
    if len > 128 {
        return Err("must be at most 128 characters");
    }
    let upper = password.chars().any(char::is_uppercase);
    let lower = password.chars().any(char::is_lowercase);
    let digit_or_symbol = password.chars().any(|c| !c.is_alphabetic() && !c.is_whitespace());
    if !(upper && lower && digit_or_symbol) {
        return Err("must contain an upper-case letter, a lower-case letter, and a digit or symbol");
    }
    Ok(())
}

#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("argon2 failed: {0}")]
    Argon(String),
    #[error("hashing task failed")]
    Join(#[from] tokio::task::JoinError),
}

/// Hashes a password (PHC string) off the async threads.
pub async fn hash(password: String) -> Result<String, HashError> {
    tokio::task::spawn_blocking(move || {
        hasher().hash_password(password.as_bytes()).map(|h| h.to_string()).map_err(|e| HashError::Argon(e.to_string()))
    })
    .await?
}

/// Verifies a password against a PHC hash. With `None` (unknown user) it verifies against a
/// fixed dummy hash so the answer takes the same time either way, then returns false.
pub async fn verify(password: String, phc: Option<String>) -> Result<bool, HashError> {
    tokio::task::spawn_blocking(move || {
        let known = phc.is_some();
        let phc = phc.unwrap_or_else(|| dummy_hash().to_owned());
        let ok = hasher().verify_password(password.as_bytes(), phc.as_str()).is_ok();
        Ok(ok && known)
    })
    .await?
}

fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| hasher().hash_password(b"dummy-password-for-timing").map(|h| h.to_string()).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy() {
        assert!(check_policy("Short1!").is_err());
        assert!(check_policy("alllowercase1").is_err());
        assert!(check_policy("ALLUPPERCASE1").is_err());
        assert!(check_policy("NoDigitsHere").is_err());
        assert!(check_policy("Passw0rd").is_ok());
        assert!(check_policy("Password!").is_ok());
        assert!(check_policy(&"Aa1".repeat(43)).is_err(), "129 chars is too long");
    }

    #[tokio::test]
    async fn hash_then_verify() {
        let phc = hash("Passw0rd!".into()).await.expect("hash");
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(verify("Passw0rd!".into(), Some(phc.clone())).await.expect("verify"));
        assert!(!verify("wrong".into(), Some(phc)).await.expect("verify"));
        assert!(!verify("Passw0rd!".into(), None).await.expect("verify"));
    }
}
