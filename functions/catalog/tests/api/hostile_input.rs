//! No 5xx from client input: every value a client can send is either stored or refused with a
//! 4xx naming it — never passed on to DynamoDB to fail there (key size, number range, nesting,
//! item size) as a 500.

use serde_json::{Value, json};
use shop_testkit::Req;

use crate::{admin, app, seller};

/// `{"a": {"a": ... 1 ...}}`, `depth` objects deep.
fn nested(depth: usize) -> Value {
    (0..depth).fold(json!(1), |inner, _| json!({ "a": inner }))
}

#[tokio::test]
async fn lookups_by_slugs_and_skus_longer_than_any_key_are_not_found() {
    let app = app().await;
    let cat = app.category(&admin(), "Phones", None).await;
    app.product(&seller(), cat["id"].as_str().unwrap(), "LONG-1", json!({})).await.expect(201);
    let mut wrong = Vec::new();
    for long in ["a".repeat(2_000), "a".repeat(2_100), "é".repeat(1_100), "a".repeat(121)] {
        let encoded: String = form_urlencoded::byte_serialize(long.as_bytes()).collect();
        for route in ["/api/products/slug", "/api/products/sku", "/api/categories/slug"] {
            let status = app.send(Req::get(&format!("{route}/{encoded}"))).await.status.as_u16();
            if status != 404 {
                wrong.push(format!("{route}/<{} chars, {} bytes>: {status}", long.chars().count(), long.len()));
            }
        }
    }
    assert!(wrong.is_empty(), "not 404: {wrong:#?}");
    // What exists is still found.
    app.send(Req::get("/api/products/sku/long-1")).await.expect(200);
    app.send(Req::get("/api/products/slug/product-long-1")).await.expect(200);
    app.send(Req::get("/api/categories/slug/phones")).await.expect(200);
}

#[tokio::test]
async fn display_text_with_control_or_bidi_override_characters_is_refused_naming_the_field() {
    let app = app().await;
    let admin = admin();
    let cat = app.category(&admin, "Phones", None).await;
    let c = cat["id"].as_str().unwrap();
    let owner = seller();
    let hostile = ["Null\u{0}byte", "Evil \u{202E}gpj.exe", "Isolate \u{2066}x\u{2069}", "Bell\u{7}", "C1 \u{85}"];
    let mut wrong = Vec::new();
    let mut check = |what: String, answer: shop_testkit::Resp, field: &str| {
        let named = answer.json()["errors"][0]["field"].clone();
        if (answer.status.as_u16(), named.as_str()) != (422, Some(field)) {
            wrong.push(format!("{what}: {} {named}", answer.status.as_u16()));
        }
    };
    for (i, text) in hostile.iter().enumerate() {
        for field in ["name", "description", "brand"] {
            let created = app.product(&owner, c, &format!("CTL-{field}-{i}"), json!({ field: text })).await;
            check(format!("product {field} {text:?}"), created, field);
        }
        let tagged = app.product(&owner, c, &format!("CTL-tags-{i}"), json!({"tags": ["ok", text]})).await;
        check(format!("product tags {text:?}"), tagged, "tags");
        for field in ["name", "description"] {
            let category = app.send_as(&admin, Req::post("/api/categories").json(json!({"name": format!("Cat {i}"), field: text}))).await;
            check(format!("category {field} {text:?}"), category, field);
        }
    }
    assert!(wrong.is_empty(), "not 422 naming the field: {wrong:#?}");
    // Edits too.
    let product = app.product(&owner, c, "CTL-OK", json!({"description": "Line one.\nLine two,\ttabbed."})).await.expect(201);
    let id = product["id"].as_str().unwrap();
    let edit = app.send_as(&owner, Req::put(&format!("/api/products/{id}")).json(json!({"name": "x\u{202D}y"}))).await;
    assert_eq!(edit.expect_problem(422, "validation_failed")["errors"][0]["field"], "name");
    let cat_edit = app.send_as(&admin, Req::put(&format!("/api/categories/{c}")).json(json!({"description": "\u{0}"}))).await;
    assert_eq!(cat_edit.expect_problem(422, "validation_failed")["errors"][0]["field"], "description");
    // Ordinary text, newlines and tabs in descriptions, and non-Latin scripts stay fine.
    app.product(&owner, c, "CTL-OK-2", json!({"name": "Téléphone 電話 هاتف", "description": "a\r\nb"})).await.expect(201);
}

#[tokio::test]
async fn every_paginated_catalog_route_caps_page_times_limit() {
    let app = app().await;
    let owner = seller();
    let mut wrong = Vec::new();
    for route in ["/api/seller/products", "/api/products/low-stock", "/api/products"] {
        for query in ["page=101&limit=100", "page=10001&limit=1", "page=4294967295&limit=100"] {
            let answer = app.send_as(&owner, Req::get(&format!("{route}?{query}"))).await;
            let (status, body) = (answer.status.as_u16(), answer.json());
            if (status, body["code"].as_str(), body["errors"][0]["field"].as_str()) != (400, Some("invalid_parameter"), Some("page")) {
                wrong.push(format!("{route}?{query}: {status}"));
            }
        }
        app.send_as(&owner, Req::get(&format!("{route}?page=100&limit=100"))).await.expect(200);
    }
    assert!(wrong.is_empty(), "not 400 naming page: {wrong:#?}");
}

#[tokio::test]
async fn attributes_out_of_dynamodbs_range_depth_or_size_are_refused_naming_attributes() {
    let app = app().await;
    let cat = app.category(&admin(), "Phones", None).await;
    let c = cat["id"].as_str().unwrap();
    let owner = seller();
    let hostile = [
        ("a number beyond ±1e125", json!({"weight": 1e200})),
        ("a number below 1e-130", json!({"weight": 1e-200})),
        ("a number in a nested list", json!({"sizes": [1, 2, {"x": -1e130}]})),
        ("nesting 40 deep", json!({"deep": nested(40)})),
        ("a 450 kB value", json!({"blob": "x".repeat(450_000)})),
        ("many small values adding up", json!({"list": vec!["y".repeat(1_000); 420]})),
        ("an empty nested key", json!({"dims": {"": 1}})),
        ("a control character in a value", json!({"color": "red\u{0}"})),
    ];
    let mut wrong = Vec::new();
    for (i, (what, attributes)) in hostile.iter().enumerate() {
        let created = app.product(&owner, c, &format!("ATTR-{i}"), json!({ "attributes": attributes })).await;
        let field = created.json()["errors"][0]["field"].clone();
        if (created.status.as_u16(), field.as_str()) != (422, Some("attributes")) {
            wrong.push(format!("{what}: {} {field}", created.status.as_u16()));
        }
    }
    assert!(wrong.is_empty(), "not 422 naming attributes: {wrong:#?}");
    let product = app.product(&owner, c, "ATTR-OK", json!({"attributes": {"weight": 1.5, "sizes": [38, 39], "dims": {"w": 10}}})).await;
    let id = product.expect(201)["id"].as_str().unwrap().to_owned();
    for (what, attributes) in hostile.iter().take(5) {
        let edit = app.send_as(&owner, Req::put(&format!("/api/products/{id}")).json(json!({ "attributes": attributes }))).await;
        assert_eq!(edit.expect_problem(422, "validation_failed")["errors"][0]["field"], "attributes", "edit: {what}");
    }
    // Reasonable attributes are kept as given, big and small numbers within range included.
    let fine = json!({"mass": 6.02e23, "tiny": 1.5e-9, "grid": nested(8), "note": "n".repeat(10_000)});
    let edited = app.send_as(&owner, Req::put(&format!("/api/products/{id}")).json(json!({ "attributes": fine }))).await.expect(200);
    assert_eq!(edited["attributes"], fine);
    assert_eq!(app.send(Req::get(&format!("/api/products/{id}"))).await.expect(200)["attributes"], fine);
}
