//! `shop_seed::catalog::seed_synthetic`: the bulk path (BatchGetItem / BatchWriteItem with guard items,
//! category counters by `ADD`) against DynamoDB Local, checked through the API and the table
//! itself.

use std::collections::BTreeMap;

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{Value, json};
use shop_seed::bulk::CatalogTable;
use shop_seed::catalog::{MAX_SYNTHETIC, SeedError, SyntheticOptions, SyntheticReport, seed_synthetic};
use shop_testkit::{Req, Resp};

use crate::{catalog_state, data};

/// A catalog state on its own table, that table for bulk loads, and its client and name (to
/// look at the items).
async fn state() -> (catalog::AppState, CatalogTable, aws_sdk_dynamodb::Client, String) {
    let (state, ddb, table) = catalog_state().await;
    (state, CatalogTable::new(ddb.clone(), &table), ddb, table)
}

/// A caller: (user id, role).
struct Who(String, &'static str);

/// `POST /api/products` as `who`: a product of `category` with this SKU, `extra` fields merged in.
async fn create_product(app: &axum::Router, who: &Who, category: &str, sku: &str, extra: Value) -> Resp {
    let mut body = json!({"name": format!("Product {sku}"), "sku": sku, "description": "A thing.", "price": 1999, "categoryId": category});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    Req::post("/api/products").json(body).as_user(&who.0, who.1, &uuid::Uuid::now_v7().to_string()).send(app).await
}

/// Every item of the table: (pk, sk) → the `id` or `categoryId` it holds.
async fn items(ddb: &aws_sdk_dynamodb::Client, table: &str) -> BTreeMap<(String, String), BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    let mut start = None;
    loop {
        let page = ddb.scan().table_name(table).consistent_read(true).set_exclusive_start_key(start).send().await.unwrap();
        for item in page.items.unwrap_or_default() {
            let text = |k: &str| item.get(k).and_then(|v| v.as_s().ok()).cloned();
            let mut fields = BTreeMap::new();
            for k in ["id", "categoryId", "sku"] {
                if let Some(v) = text(k) {
                    fields.insert(k.to_owned(), v);
                }
            }
            out.insert((text("pk").unwrap(), text("sk").unwrap()), fields);
        }
        start = page.last_evaluated_key;
        if start.is_none() {
            return out;
        }
    }
}

/// `productCount` of every category by id, from the API.
async fn counters(app: &axum::Router) -> BTreeMap<String, i64> {
    let all = Req::get("/api/categories").send(app).await.expect(200);
    all.as_array().unwrap().iter().map(|c| (c["id"].as_str().unwrap().to_owned(), c["productCount"].as_i64().unwrap_or(0))).collect()
}

fn options(count: u64) -> SyntheticOptions {
    // Small steps and a few requests in flight, so a test crosses step boundaries.
    SyntheticOptions { count, concurrency: 4, step: 128 }
}

#[tokio::test]
async fn synthetic_products_are_bulk_written_with_guards_and_counted_once() {
    let (state, bulk, ddb, table) = state().await;
    let seller = uuid::Uuid::now_v7();
    let mut steps = Vec::new();
    let report = seed_synthetic(&state, &bulk, &data(), seller, &options(300), |done, total| steps.push((done, total))).await.unwrap();
    assert_eq!((report.base.products_created, report.created, report.existing, report.repaired, report.clashed), (194, 300, 0, 0, 0));
    assert_eq!(steps, vec![(128, 300), (256, 300), (300, 300)], "progress after each step");

    // The table: one product item and its two guards per product, counters = products per category.
    let items = items(&ddb, &table).await;
    let products: Vec<_> = items.iter().filter(|((pk, sk), _)| pk.starts_with("PRODUCT#") && sk == "PRODUCT").collect();
    assert_eq!(products.len(), 494);
    for ((pk, _), fields) in &products {
        let id = &pk["PRODUCT#".len()..];
        let sku = fields["sku"].to_uppercase();
        assert_eq!(items.get(&(format!("SKU#{sku}"), "GUARD".to_owned())).map(|g| g["id"].as_str()), Some(id), "SKU guard of {sku}");
    }
    let slug_guards = items.keys().filter(|(pk, _)| pk.starts_with("SLUG#")).count();
    assert_eq!(slug_guards, 494);
    let mut per_category: BTreeMap<String, i64> = BTreeMap::new();
    for (_, fields) in &products {
        *per_category.entry(fields["categoryId"].clone()).or_default() += 1;
    }
    let app = catalog::router(state.clone());
    let counted = counters(&app).await;
    for (category, count) in &counted {
        assert_eq!(*count, per_category.get(category).copied().unwrap_or(0), "productCount of {category}");
    }
    assert_eq!(counted.values().sum::<i64>(), 494);

    // Through the API: a synthetic product reads back; its SKU and slug are taken for everyone.
    let p = Req::get("/api/products/sku/SYN-195").send(&app).await.expect(200);
    assert_eq!(p["sellerId"], seller.to_string());
    let base = Req::get(&format!("/api/products/sku/{}", "BEA-ESS-ESS-001")).send(&app).await.expect(200);
    assert!(p["name"].as_str().unwrap().starts_with(base["name"].as_str().unwrap()), "SYN-195 varies the first product: {}", p["name"]);
    assert_eq!(p["categoryId"], base["categoryId"]);
    let by_slug = Req::get(&format!("/api/products/slug/{}", p["slug"].as_str().unwrap())).send(&app).await.expect(200);
    assert_eq!(by_slug["id"], p["id"]);
    let who = Who(seller.to_string(), "SELLER");
    let category = p["categoryId"].as_str().unwrap();
    let clash = create_product(&app, &who, category, "syn-17", json!({})).await.expect(409);
    assert!(clash.to_string().to_lowercase().contains("sku"), "{clash}");
    let clash = create_product(&app, &who, category, "OWN-1", json!({"slug": p["slug"]})).await.expect(409);
    assert!(clash.to_string().to_lowercase().contains("slug"), "{clash}");

    // Again: nothing written twice, nothing counted twice.
    let again = seed_synthetic(&state, &bulk, &data(), seller, &options(300), |_, _| {}).await.unwrap();
    assert_eq!((again.base.products_existing, again.created, again.existing, again.repaired), (194, 0, 300, 0));
    assert_eq!(items_count(&ddb, &table).await, 494 * 3 + 32 * 3, "products and categories with their guards");
    assert_eq!(counters(&app).await, counted);
}

async fn items_count(ddb: &aws_sdk_dynamodb::Client, table: &str) -> usize {
    items(ddb, table).await.len()
}

#[tokio::test]
async fn a_larger_run_continues_repairs_and_leaves_other_products_alone() {
    let (state, bulk, ddb, table) = state().await;
    let seller = uuid::Uuid::now_v7();
    seed_synthetic(&state, &bulk, &data(), seller, &options(100), |_, _| {}).await.unwrap();
    let app = catalog::router(state.clone());
    let before = counters(&app).await;

    // Someone takes SYN-150 through the API; an interrupted run lost SYN-20's slug guard.
    let who = Who(uuid::Uuid::now_v7().to_string(), "SELLER");
    let theirs: Value =
        create_product(&app, &who, before.keys().next().unwrap(), "SYN-150", json!({"name": "Not synthetic"})).await.expect(201);
    let syn20 = Req::get("/api/products/sku/SYN-20").send(&app).await.expect(200);
    let slug_key = BTreeMap::from([
        ("pk".to_owned(), AttributeValue::S(format!("SLUG#{}", syn20["slug"].as_str().unwrap()))),
        ("sk".to_owned(), AttributeValue::S("GUARD".into())),
    ]);
    ddb.delete_item().table_name(&table).set_key(Some(slug_key.into_iter().collect())).send().await.unwrap();
    Req::get(&format!("/api/products/slug/{}", syn20["slug"].as_str().unwrap())).send(&app).await.expect(404);

    let report: SyntheticReport = seed_synthetic(&state, &bulk, &data(), seller, &options(200), |_, _| {}).await.unwrap();
    assert_eq!((report.created, report.existing, report.repaired, report.clashed), (99, 99, 1, 1));
    Req::get(&format!("/api/products/slug/{}", syn20["slug"].as_str().unwrap())).send(&app).await.expect(200);
    let still_theirs = Req::get("/api/products/sku/SYN-150").send(&app).await.expect(200);
    assert_eq!((still_theirs["id"].clone(), still_theirs["name"].clone()), (theirs["id"].clone(), json!("Not synthetic")));
    let after = counters(&app).await;
    assert_eq!(after.values().sum::<i64>() - before.values().sum::<i64>(), 1 + 99, "their product and the 99 new synthetic ones");
    assert_eq!(items_count(&ddb, &table).await, (194 + 200) * 3 + 32 * 3, "194 + 199 synthetic + theirs and 32 categories, with guards");

    let too_many = seed_synthetic(&state, &bulk, &data(), seller, &options(MAX_SYNTHETIC + 1), |_, _| {}).await;
    assert!(matches!(too_many, Err(SeedError::TooMany(_))), "{too_many:?}");
}
