//! Black-box tests of the catalog function through its router, against DynamoDB Local, each
//! test with its own table.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod categories;
mod hostile_input;
mod images;
mod listing;
mod products;
mod stock;

use axum::Router;
use serde_json::{Value, json};
use shop_testkit::{Req, Resp};

pub struct App {
    pub router: Router,
}

pub async fn state() -> catalog::AppState {
    let (ddb, table) = shop_testkit::table("CatalogTable").await;
    let redis = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let cache = shop_cache::Cache::connect(&redis, shop_testkit::redis_prefix()).await;
    assert!(cache.is_enabled(), "Redis runs in the local cloud");
    let (_, bucket) = shop_testkit::bucket("ImagesBucket").await;
    let moto = std::env::var("SKYSHOP_MOTO_URL").unwrap_or_else(|_| "http://127.0.0.1:5000".into());
    let images = catalog::Images::new(shop_testkit::sdk().await, &bucket, &format!("{moto}/{bucket}"));
    let search = std::sync::Arc::new(shop_search::TantivyEngine::in_memory().unwrap());
    catalog::AppState::new(catalog::store::Store::new(ddb, table), cache, images, search)
}

/// What catalog-indexer does from the table's stream: puts products (API responses) in the index.
pub async fn index(state: &catalog::AppState, products: &[Value]) {
    let mut docs = Vec::new();
    let mut gone = Vec::new();
    for p in products {
        let product: catalog::domain::Product = serde_json::from_value(p.clone()).unwrap();
        if catalog::search::indexable(&product) {
            docs.push(catalog::search::product_doc(&product));
        } else {
            gone.push(product.id);
        }
    }
    state.search.upsert(docs).await.unwrap();
    state.search.delete(gone).await.unwrap();
    state.store.cache().invalidate(catalog::store::cached::LISTINGS).await;
}

pub async fn app() -> App {
    App { router: catalog::router(state().await) }
}

/// A caller: (user id, role).
#[derive(Clone)]
pub struct Who(pub String, pub &'static str);

pub fn admin() -> Who {
    Who(uuid::Uuid::now_v7().to_string(), "ADMIN")
}
pub fn seller() -> Who {
    Who(uuid::Uuid::now_v7().to_string(), "SELLER")
}
pub fn customer() -> Who {
    Who(uuid::Uuid::now_v7().to_string(), "CUSTOMER")
}

impl App {
    pub async fn send(&self, req: Req) -> Resp {
        req.send(&self.router).await
    }
    pub async fn send_as(&self, who: &Who, req: Req) -> Resp {
        req.as_user(&who.0, who.1, &uuid::Uuid::now_v7().to_string()).send(&self.router).await
    }
    pub async fn category(&self, admin: &Who, name: &str, parent: Option<&str>) -> Value {
        let mut body = json!({"name": name});
        if let Some(p) = parent {
            body["parentId"] = json!(p);
        }
        self.send_as(admin, Req::post("/api/categories").json(body)).await.expect(201)
    }
    pub async fn product(&self, who: &Who, category: &str, sku: &str, extra: Value) -> Resp {
        let mut body =
            json!({"name": format!("Product {sku}"), "sku": sku, "description": "A thing.", "price": 1999, "categoryId": category});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        self.send_as(who, Req::post("/api/products").json(body)).await
    }
}

#[test]
fn the_openapi_document_matches_the_snapshot() {
    insta::assert_json_snapshot!("catalog-openapi", catalog::openapi());
}
