//! Property tests (proptest) of the parsers and arithmetic shop-core owns: problem bodies,
//! bearer/JWT header handling, money and the totals the cart and the order share.
//!
//! Case counts are bounded (`CASES`) so the whole file runs in about a second with the rest of
//! `cargo nextest`; `PROPTEST_CASES=100000 cargo nextest run -p shop-core --test properties` runs
//! a long session. (`cargo fuzz` would need a nightly toolchain and libFuzzer on every CI run;
//! proptest runs on stable, shrinks failures and is part of `scripts/test`.)
#![allow(clippy::unwrap_used, clippy::expect_used)]

use axum::response::IntoResponse;
use http::StatusCode;
use http_body_util::BodyExt;
use jsonwebtoken::jwk::JwkSet;
use proptest::prelude::*;
use serde_json::Value;
use shop_core::jwt::{JwtError, JwtVerifier, bearer, check_header};
use shop_core::money::{Cents, FREE_SHIPPING_FROM, SHIPPING, TAX_BP, Totals};
use shop_core::{ApiError, FieldError};

/// Cases per property unless `PROPTEST_CASES` says otherwise.
const CASES: u32 = 512;

fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(CASES);
    ProptestConfig { cases, failure_persistence: None, ..ProptestConfig::default() }
}

/// Codes are `&'static str` in `ApiError`; a sample of real ones (with and without `_`).
const CODES: [&str; 6] = ["validation_failed", "not_found", "email_taken", "x", "cart_out_of_date", "invalid_parameter"];

fn field_error() -> impl Strategy<Value = FieldError> {
    (any::<String>(), "[a-z_]{1,20}", any::<String>()).prop_map(|(f, c, m)| FieldError::new(f, c, m))
}

fn body_of(error: ApiError) -> (StatusCode, Option<String>, Vec<u8>) {
    let response = error.into_response();
    let status = response.status();
    let content_type = response.headers().get(http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let runtime = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    let bytes = runtime.block_on(response.into_body().collect()).expect("body").to_bytes();
    (status, content_type, bytes.to_vec())
}

/// i128 reference of tax: 8% of `base`, half away from zero.
fn tax_of(base: i128) -> i128 {
    let product = base * i128::from(TAX_BP);
    if product >= 0 { (product + 5_000) / 10_000 } else { (product - 5_000) / 10_000 }
}

proptest! {
    #![proptest_config(config())]

    /// Any status, code, detail (any Unicode, control characters, quotes) and field errors make a
    /// problem+json body that parses back to exactly what was put in.
    #[test]
    fn problem_bodies_round_trip(
        status in 400u16..600,
        code in prop::sample::select(CODES.to_vec()),
        detail in any::<String>(),
        errors in prop::collection::vec(field_error(), 0..4),
    ) {
        let status = StatusCode::from_u16(status).unwrap();
        let error = ApiError::new(status, code, detail.clone()).with_errors(errors.clone());
        let (got_status, content_type, body) = body_of(error);
        prop_assert_eq!(got_status, status);
        prop_assert_eq!(content_type.as_deref(), Some("application/problem+json"));
        let value: Value = serde_json::from_slice(&body).expect("a problem body is JSON");
        prop_assert_eq!(value["status"].as_u64(), Some(u64::from(status.as_u16())));
        prop_assert_eq!(value["code"].as_str(), Some(code));
        let expected_type = format!("https://skyshop.dev/problems/{}", code.replace('_', "-"));
        prop_assert_eq!(value["type"].as_str(), Some(expected_type.as_str()));
        prop_assert!(value["title"].as_str().is_some_and(|t| !t.is_empty()));
        prop_assert_eq!(value["detail"].as_str(), Some(detail.as_str()));
        let parsed: Vec<(String, String, String)> = value
            .get("errors")
            .and_then(Value::as_array)
            .map(|items| {
                items
                    .iter()
                    .map(|e| (e["field"].as_str().unwrap().to_owned(), e["code"].as_str().unwrap().to_owned(), e["message"].as_str().unwrap().to_owned()))
                    .collect()
            })
            .unwrap_or_default();
        let sent: Vec<(String, String, String)> = errors.into_iter().map(|e| (e.field, e.code, e.message)).collect();
        prop_assert_eq!(parsed, sent);
    }

    /// The validation constructor summarises any list of field errors without panicking and
    /// always answers 422 `validation_failed` naming the one field when there is one.
    #[test]
    fn validation_problems_name_their_field(errors in prop::collection::vec(field_error(), 0..5)) {
        let error = ApiError::validation(errors.clone());
        prop_assert_eq!(error.status(), StatusCode::UNPROCESSABLE_ENTITY);
        prop_assert_eq!(error.code(), "validation_failed");
        let (_, _, body) = body_of(error);
        let value: Value = serde_json::from_slice(&body).expect("JSON");
        let detail = value["detail"].as_str().unwrap().to_owned();
        if let [one] = errors.as_slice() {
            prop_assert!(detail.starts_with(&one.field), "{detail:?} names {:?}", one.field);
        }
    }

    /// `Authorization` values: never a panic, and a token found is a trimmed, non-empty part of
    /// the header without spaces at its ends.
    #[test]
    fn bearer_values_never_panic(header in any::<String>()) {
        if let Some(token) = bearer(&header) {
            prop_assert!(!token.is_empty());
            prop_assert!(header.contains(token));
            prop_assert_eq!(token, token.trim());
        }
    }

    /// Arbitrary text and arbitrary three-part base64url-ish strings never panic the verifier
    /// and never verify (no key is trusted here, so only the header checks run: `alg: none`,
    /// HS256 and friends are refused before any key lookup).
    #[test]
    fn arbitrary_tokens_never_verify(token in prop_oneof![
        any::<String>(),
        "[A-Za-z0-9_-]{0,40}\\.[A-Za-z0-9_-]{0,40}\\.[A-Za-z0-9_-]{0,40}",
        "eyJ[A-Za-z0-9_-]{0,60}\\.[A-Za-z0-9_=+/-]{0,60}\\.?[A-Za-z0-9_-]{0,20}",
    ]) {
        let verifier = JwtVerifier::new("http://issuer", vec!["skyshop".into()], &JwkSet { keys: vec![] });
        prop_assert!(verifier.verify(&token).is_err());
        let _ = verifier.is_unknown_kid(&token);
        if let Ok(header) = check_header(&token) {
            prop_assert_eq!(header.alg, jsonwebtoken::Algorithm::RS256);
        }
    }

    /// A header naming any algorithm but RS256 is refused as such, whatever the rest.
    #[test]
    fn only_rs256_headers_pass(alg in prop::sample::select(vec!["none", "HS256", "HS512", "RS384", "ES256", "PS256", "EdDSA"]), rest in "[A-Za-z0-9_-]{0,40}\\.[A-Za-z0-9_-]{0,40}") {
        use base64::Engine as _;
        let header = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"{alg}","kid":"k"}}"#));
        let token = format!("{header}.{rest}");
        let verifier = JwtVerifier::new("http://issuer", vec!["skyshop".into()], &JwkSet { keys: vec![] });
        let result = verifier.verify(&token);
        prop_assert!(matches!(result, Err(JwtError::UnsupportedAlgorithm | JwtError::Malformed)), "{result:?}");
    }

    /// Carts and orders as the API allows them (1..=100 lines, unit price 0..=$1,000,000.00,
    /// quantity 1..=99, a percent or fixed coupon): the subtotal is the exact sum of the line
    /// totals, the total is subtotal − discount + shipping + tax to the cent, the discount never
    /// exceeds the subtotal and the total is never negative.
    #[test]
    fn totals_add_up_to_the_cent(
        lines in prop::collection::vec((0i64..=100_000_000, 1i64..=99), 1..=100),
        percent in 0i64..=100,
        fixed in 1i64..=100_000_000,
        use_percent in any::<bool>(),
    ) {
        let exact: i128 = lines.iter().map(|&(price, qty)| i128::from(price) * i128::from(qty)).sum();
        let subtotal = lines
            .iter()
            .try_fold(Cents::ZERO, |sum, &(price, qty)| Cents(price).checked_mul(qty).and_then(|t| sum.checked_add(t)))
            .expect("in range");
        prop_assert_eq!(i128::from(subtotal.0), exact);
        let discount = if use_percent { subtotal.percent_bp(percent * 100).0 } else { fixed };
        let t = Totals::compute(subtotal.0, discount, true);
        prop_assert_eq!(t.subtotal, subtotal.0);
        prop_assert!(0 <= t.discount && t.discount <= t.subtotal);
        prop_assert_eq!(t.discount, discount.min(subtotal.0));
        prop_assert_eq!(t.shipping, if subtotal.0 >= FREE_SHIPPING_FROM { 0 } else { SHIPPING });
        prop_assert_eq!(i128::from(t.tax), tax_of(i128::from(t.subtotal - t.discount)));
        prop_assert_eq!(t.total, t.subtotal - t.discount + t.shipping + t.tax);
        prop_assert!(t.total >= 0);
    }

    /// Any i64 subtotal and discount: `Totals::checked` is the exact (i128) result when that fits
    /// in i64 and `None` when it does not — never a wrapped sum; `compute` never panics.
    #[test]
    fn totals_never_overflow_silently(subtotal in any::<i64>(), discount in any::<i64>(), has_items in any::<bool>()) {
        let _ = Totals::compute(subtotal, discount, has_items);
        let clamped = i128::from(discount).clamp(0, i128::from(subtotal.max(0)));
        let shipping: i128 = if !has_items || subtotal >= FREE_SHIPPING_FROM { 0 } else { i128::from(SHIPPING) };
        let tax = tax_of(i128::from(subtotal) - clamped);
        let total = i128::from(subtotal) - clamped + shipping + tax;
        match Totals::checked(subtotal, discount, has_items) {
            Some(t) => {
                prop_assert_eq!(i128::from(t.total), total);
                prop_assert_eq!(i128::from(t.tax), tax);
                prop_assert_eq!(i128::from(t.discount), clamped);
            }
            None => prop_assert!(i64::try_from(total).is_err() || i64::try_from(tax).is_err() || i64::try_from(i128::from(subtotal) - clamped).is_err()),
        }
    }

    /// Percentages of any amount never panic and are within half a cent of the exact value.
    #[test]
    fn percent_is_exact_to_half_a_cent(amount in any::<i64>(), bp in -1_000_000i64..=1_000_000) {
        let got = Cents(amount).percent_bp(bp).0;
        let exact = i128::from(amount) * i128::from(bp);
        if let Ok(expected) = i64::try_from(exact / 10_000) {
            // Rounded half away from zero: |got·10000 − exact| ≤ 5000.
            let diff = (i128::from(got) * 10_000 - exact).abs();
            prop_assert!(diff <= 5_000 || expected == i64::MAX || expected == i64::MIN, "{amount} × {bp}bp = {got}");
        }
    }

    /// Rendering any amount gives `[-]digits.dd` that reads back as the same number of cents.
    #[test]
    fn cents_render_and_read_back(amount in any::<i64>()) {
        let text = Cents(amount).to_string();
        let (units, cents) = text.trim_start_matches('-').split_once('.').expect("a decimal point");
        prop_assert_eq!(cents.len(), 2);
        let magnitude = units.parse::<u128>().unwrap() * 100 + cents.parse::<u128>().unwrap();
        prop_assert_eq!(magnitude, u128::from(amount.unsigned_abs()));
        prop_assert_eq!(text.starts_with('-'), amount < 0);
    }
}
