//! The authorisation matrix at the edge: every route of the template, called as anonymous, a
//! customer, a seller and the admin, against the committed table `authz-matrix.txt` (what the
//! gateway answers: `401` no or bad token, `403` the token lacks the route's scope, `pass` the
//! request reaches the function, which then checks roles and ownership itself). A route added,
//! removed or re-scoped without the table changing fails here; regenerate with
//! `AUTHZ_MATRIX_UPDATE=1` and review the diff.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::Value;

use crate::helpers::{ADMIN_PASSWORD, R, start};

const CALLERS: [&str; 4] = ["anonymous", "customer", "seller", "admin"];

/// A value for a path parameter: an id that names nothing, or a word.
fn param(name: &str) -> &'static str {
    if name.ends_with("Id") || name == "id" { "018f3b6e-0000-7000-8000-000000000000" } else { "nothing-here" }
}

fn path_of(template: &str) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('}').map_or(rest.len(), |e| start + e);
        out.push_str(param(rest[start + 1..end].trim_end_matches('+')));
        rest = &rest[(end + 1).min(rest.len())..];
    }
    out.push_str(rest);
    out
}

/// The gateway's verdict on one answer.
fn verdict(r: &R) -> &'static str {
    let gateway = |message: &str| r.body.get("message").and_then(Value::as_str) == Some(message) && r.body.get("code").is_none();
    match r.status {
        401 if gateway("Unauthorized") => "401",
        403 if gateway("Forbidden") => "403",
        _ => "pass",
    }
}

fn table_path() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/local/authz-matrix.txt")
}

#[tokio::test]
async fn every_route_answers_each_role_as_the_committed_matrix_says() {
    let app = start(false).await;
    let email = format!("{}@example.com", shop_testkit::unique("authz"));
    let registered = app
        .call(
            "POST",
            "/api/auth/register",
            None,
            Some(serde_json::json!({"email": email, "password": "Correct-Horse-9", "firstName": "Au", "lastName": "Thz"})),
        )
        .await;
    assert_eq!(registered.status, 201, "{}", registered.body);
    let tokens: BTreeMap<&str, Option<String>> = BTreeMap::from([
        ("anonymous", None),
        ("customer", Some(registered.body["accessToken"].as_str().unwrap().to_owned())),
        ("seller", Some(app.login(local_runner::cloud::SELLER_EMAIL, ADMIN_PASSWORD).await["accessToken"].as_str().unwrap().to_owned())),
        ("admin", Some(app.admin_token().await)),
    ]);

    // Routes that end sessions go last (their verdicts do not depend on it).
    let mut routes = app.cloud.gateway.routes.clone();
    routes.sort_by_key(|r| (r.path.starts_with("/api/auth/logout"), r.path.clone(), r.method.clone()));
    let mut actual = String::from("# METHOD PATH: anonymous customer seller admin (401, 403 or pass at the gateway)\n");
    for route in &routes {
        let path = path_of(&route.path);
        let mut row = Vec::new();
        for caller in CALLERS {
            let r = app.call(&route.method, &path, tokens[caller].as_deref(), None).await;
            assert!(r.status < 500 || r.status == 503, "{} {path} as {caller}: {} {}", route.method, r.status, r.body);
            row.push(verdict(&r));
        }
        writeln!(actual, "{} {}: {}", route.method, route.path, row.join(" ")).unwrap();
    }

    if std::env::var_os("AUTHZ_MATRIX_UPDATE").is_some() {
        std::fs::write(table_path(), &actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(table_path()).expect("authz-matrix.txt (AUTHZ_MATRIX_UPDATE=1 writes it)");
    let differences: Vec<String> = expected
        .lines()
        .zip(actual.lines())
        .filter(|(e, a)| e != a)
        .map(|(e, a)| format!("expected {e}\n     got {a}"))
        .chain(
            (expected.lines().count() != actual.lines().count())
                .then(|| format!("{} rows expected, {} found", expected.lines().count(), actual.lines().count())),
        )
        .collect();
    assert!(differences.is_empty(), "the authorisation matrix changed:\n{}\n\nactual table:\n{actual}", differences.join("\n"));
}
