//! Property tests (proptest) of access-token handling: the verifier the gateway emulation and
//! the cart use (`shop_core::jwt::JwtVerifier`) against tokens the accounts function really
//! signs. A valid token verifies; any one-character change, cut, insertion or segment swap of
//! it, a token signed by another key under the same `kid`, and arbitrary text never verify —
//! and nothing panics. Bounded case counts (`PROPTEST_CASES=N` raises them).

use std::sync::OnceLock;

use accounts::keys::{KeyDocument, SigningKeys};
use accounts::tokens::issue_access_token;
use proptest::prelude::*;
use shop_core::auth::Role;
use shop_core::jwt::JwtVerifier;
use uuid::Uuid;

use crate::helpers::{AUDIENCE, ISSUER, key_document};

fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(256);
    ProptestConfig { cases, failure_persistence: None, ..ProptestConfig::default() }
}

fn keys() -> &'static SigningKeys {
    static KEYS: OnceLock<SigningKeys> = OnceLock::new();
    KEYS.get_or_init(|| SigningKeys::from_document(key_document()).unwrap())
}

fn verifier() -> JwtVerifier {
    JwtVerifier::new(ISSUER, vec![AUDIENCE.into()], keys().jwks())
}

fn token(role: Role) -> String {
    issue_access_token(keys(), ISSUER, AUDIENCE, Uuid::new_v4(), role, Uuid::new_v4()).unwrap()
}

/// What can be done to one character of a token.
#[derive(Debug, Clone)]
enum Mutation {
    Replace(prop::sample::Index, char),
    Remove(prop::sample::Index),
    Insert(prop::sample::Index, char),
    Truncate(prop::sample::Index),
    SwapSegments(usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let ch = prop_oneof![
        proptest::char::range('A', 'Z'),
        proptest::char::range('a', 'z'),
        proptest::char::range('0', '9'),
        prop::sample::select(vec!['-', '_', '.', '=', '+', '/', ' ', '\u{e9}'])
    ];
    prop_oneof![
        (any::<prop::sample::Index>(), ch.clone()).prop_map(|(i, c)| Mutation::Replace(i, c)),
        any::<prop::sample::Index>().prop_map(Mutation::Remove),
        (any::<prop::sample::Index>(), ch).prop_map(|(i, c)| Mutation::Insert(i, c)),
        any::<prop::sample::Index>().prop_map(Mutation::Truncate),
        (0usize..3, 0usize..3).prop_map(|(a, b)| Mutation::SwapSegments(a, b)),
    ]
}

fn apply(token: &str, m: &Mutation) -> String {
    let mut chars: Vec<char> = token.chars().collect();
    match m {
        Mutation::Replace(i, c) => {
            let i = i.index(chars.len());
            chars[i] = *c;
        }
        Mutation::Remove(i) => {
            chars.remove(i.index(chars.len()));
        }
        Mutation::Insert(i, c) => chars.insert(i.index(chars.len() + 1), *c),
        Mutation::Truncate(i) => chars.truncate(i.index(chars.len())),
        Mutation::SwapSegments(a, b) => {
            let mut parts: Vec<&str> = token.split('.').collect();
            parts.swap(*a, *b);
            return parts.join(".");
        }
    }
    chars.into_iter().collect()
}

#[test]
fn a_signed_token_verifies_with_its_role_scope() {
    let verified = verifier().verify(&token(Role::Seller)).expect("a fresh token verifies");
    assert_eq!(verified.scopes, vec!["seller".to_owned()]);
    assert_eq!(verified.claims.get("iss").map(String::as_str), Some(ISSUER));
}

#[test]
fn a_token_of_another_key_under_the_same_kid_never_verifies() {
    let mut other = KeyDocument::default();
    other.add_generated(keys().active_kid().to_owned(), "2026-01-01T00:00:00Z".into()).unwrap();
    let other = SigningKeys::from_document(&other).unwrap();
    let forged = issue_access_token(&other, ISSUER, AUDIENCE, Uuid::new_v4(), Role::Admin, Uuid::new_v4()).unwrap();
    assert_eq!(verifier().verify(&forged), Err(shop_core::jwt::JwtError::InvalidSignature));
}

proptest! {
    #![proptest_config(config())]

    /// Any single change to a valid token makes it fail verification (unless the change gave
    /// back the same text), without a panic.
    #[test]
    fn mutated_tokens_never_verify(role in prop::sample::select(vec![Role::Customer, Role::Seller, Role::Admin]), m in mutation()) {
        let original = token(role);
        let mutated = apply(&original, &m);
        let result = verifier().verify(&mutated);
        if mutated == original {
            prop_assert!(result.is_ok());
        } else {
            prop_assert!(result.is_err(), "{m:?} gave a token that verifies: {mutated}");
        }
    }

    /// The header and claims of a valid token re-signed as `alg: none` or with the payload of
    /// another token never verify.
    #[test]
    fn spliced_tokens_never_verify(a in prop::sample::select(vec![Role::Customer, Role::Admin]), b in prop::sample::select(vec![Role::Customer, Role::Admin])) {
        let (x, y) = (token(a), token(b));
        let xs: Vec<&str> = x.split('.').collect();
        let ys: Vec<&str> = y.split('.').collect();
        let none = format!("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{}.", xs[1]);
        prop_assert!(verifier().verify(&none).is_err());
        let spliced = format!("{}.{}.{}", xs[0], ys[1], xs[2]);
        prop_assert!(verifier().verify(&spliced).is_err());
    }

    /// Arbitrary text never verifies and never panics.
    #[test]
    fn arbitrary_text_never_verifies(text in prop_oneof![any::<String>(), "eyJ[A-Za-z0-9_-]{10,80}\\.[A-Za-z0-9_-]{0,80}\\.[A-Za-z0-9_-]{0,400}"]) {
        prop_assert!(verifier().verify(&text).is_err());
    }
}
