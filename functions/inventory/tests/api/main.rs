//! Black-box tests of the inventory function through its router (public routes) and through
//! an internal client (internal routes), against DynamoDB Local and moto, each test with its
//! own tables and queue and a real catalog router registered under a unique function name.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod orders;
mod renewals;
mod reservations;
mod stock;
mod stream;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use http::Request;
use inventory::clients::Catalog;
use inventory::store::Store;
use serde_json::{Value, json};
use shop_internal::{CallError, CallPolicy, InternalClient};
use shop_testkit::{Req, Resp};
use uuid::Uuid;

/// A caller: (user id, role).
#[derive(Clone)]
pub struct Who(pub String, pub &'static str);

impl Who {
    pub fn id(&self) -> Uuid {
        Uuid::parse_str(&self.0).unwrap()
    }
}

pub fn admin() -> Who {
    Who(Uuid::now_v7().to_string(), "ADMIN")
}
pub fn seller() -> Who {
    Who(Uuid::now_v7().to_string(), "SELLER")
}
pub fn customer() -> Who {
    Who(Uuid::now_v7().to_string(), "CUSTOMER")
}

/// (method, path, body, status) of every call the catalog received from inventory.
pub type CatalogCalls = Arc<Mutex<Vec<(String, String, Value, u16)>>>;

pub struct Ctx {
    pub router: Router,
    pub store: Store,
    pub ddb: aws_sdk_dynamodb::Client,
    pub table: String,
    /// The catalog's router (public routes, for setting up products).
    pub catalog: Router,
    /// Inventory's internal routes, called the way other functions call them.
    pub internal: InternalClient,
    /// What the catalog was asked by inventory.
    pub calls: CatalogCalls,
    pub catalog_client: Catalog,
    /// A plain internal client of the catalog (for reading what it stored).
    pub catalog_raw: InternalClient,
    pub admin: Who,
    pub category: String,
}

async fn catalog_state() -> catalog::AppState {
    let (ddb, table) = shop_testkit::table("CatalogTable").await;
    let redis = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let cache = shop_cache::Cache::connect(&redis, shop_testkit::redis_prefix()).await;
    let (_, bucket) = shop_testkit::bucket("ImagesBucket").await;
    let images = catalog::Images::new(shop_testkit::sdk().await, &bucket, "http://127.0.0.1:5000/images");
    let search = Arc::new(shop_search::TantivyEngine::in_memory().unwrap());
    catalog::AppState::new(catalog::store::Store::new(ddb, table), cache, images, search)
}

/// The catalog router with every request inventory makes recorded (method, path, body, status).
fn recorded(router: Router, calls: CatalogCalls) -> Router {
    router.layer(axum::middleware::from_fn(move |request: Request<Body>, next: axum::middleware::Next| {
        let calls = calls.clone();
        async move {
            let (parts, body) = request.into_parts();
            let bytes = axum::body::to_bytes(body, 1 << 20).await.unwrap();
            let value: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            let (method, path) = (parts.method.to_string(), parts.uri.path().to_owned());
            let response = next.run(Request::from_parts(parts, Body::from(bytes))).await;
            calls.lock().unwrap().push((method, path, value, response.status().as_u16()));
            response
        }
    }))
}

pub async fn ctx() -> Ctx {
    let sdk = shop_testkit::sdk().await;
    let (ddb, table) = shop_testkit::table("InventoryTable").await;
    // The concurrency tests queue hundreds of transactions on the one DynamoDB Local the whole
    // test run shares, which serialises them: a contended reservation may wait longer than the
    // 2 s retry budget it gets in Lambda.
    let store = Store::new(ddb.clone(), &table).with_retry_budget(Duration::from_secs(30));

    let catalog = catalog::router(catalog_state().await);
    let calls: CatalogCalls = Arc::default();
    let catalog_fn = shop_testkit::unique("catalog");
    shop_internal::register_local(&catalog_fn, recorded(catalog.clone(), calls.clone()));
    let catalog_client = Catalog::new(InternalClient::new(sdk, &catalog_fn, inventory::CALLER));
    let catalog_raw = InternalClient::new(sdk, &catalog_fn, "test");

    let router = inventory::router(inventory::AppState::new(store.clone(), catalog_client.clone()));
    let inventory_fn = shop_testkit::unique("inventory");
    shop_internal::register_local(&inventory_fn, router.clone());
    // Generous timeouts: the concurrency tests queue hundreds of transactions on DynamoDB Local.
    let policy = CallPolicy { attempt_timeout: Duration::from_secs(60), attempts: 1, breaker_threshold: 1_000, ..CallPolicy::default() };
    let internal = InternalClient::with_policy(sdk, &inventory_fn, "orders", policy);

    let admin = admin();
    let category =
        send_as(&catalog, &admin, Req::post("/api/categories").json(json!({"name": shop_testkit::unique("Stock")}))).await.expect(201);
    let category = category["id"].as_str().unwrap().to_owned();
    Ctx { router, store, ddb, table, catalog, internal, calls, catalog_client, catalog_raw, admin, category }
}

pub async fn send_as(router: &Router, who: &Who, req: Req) -> Resp {
    req.as_user(&who.0, who.1, &Uuid::now_v7().to_string()).send(router).await
}

impl Ctx {
    pub async fn send_as(&self, who: &Who, req: Req) -> Resp {
        send_as(&self.router, who, req).await
    }

    /// A new catalog product of `seller`.
    pub async fn product(&self, seller: &Who) -> Uuid {
        let sku = shop_testkit::unique("SKU").to_uppercase();
        let body =
            json!({"name": format!("Product {sku}"), "sku": sku, "description": "A thing.", "price": 1999, "categoryId": self.category});
        let product = send_as(&self.catalog, seller, Req::post("/api/products").json(body)).await.expect(201);
        Uuid::parse_str(product["id"].as_str().unwrap()).unwrap()
    }

    /// A product of `seller` with this stock (set through the API as its seller).
    pub async fn stocked(&self, seller: &Who, available: u32, threshold: u32) -> Uuid {
        let id = self.product(seller).await;
        self.send_as(
            seller,
            Req::put(&format!("/api/inventory/{id}")).json(json!({"available": available, "lowStockThreshold": threshold})),
        )
        .await
        .expect(200);
        id
    }

    pub async fn stock(&self, id: Uuid) -> inventory::domain::Stock {
        self.store.stock(id).await.unwrap().expect("a stock row")
    }

    /// `POST /internal/reservations`: the reservation, or the error.
    pub fn reserve(&self, order: Uuid, lines: &[(Uuid, u32)]) -> impl Future<Output = Result<Value, CallError>> + use<'_> {
        let lines: Vec<Value> = lines.iter().map(|(p, q)| json!({"productId": p, "quantity": q})).collect();
        let body = json!({"orderId": order, "lines": lines});
        async move { self.internal.post("/internal/reservations", &body).await }
    }

    pub async fn commit(&self, order: Uuid) -> Result<Value, CallError> {
        self.internal.post(&format!("/internal/reservations/{order}/commit"), &json!({})).await
    }

    pub async fn release(&self, order: Uuid) -> Result<Value, CallError> {
        self.internal.post(&format!("/internal/reservations/{order}/release"), &json!({})).await
    }

    /// The catalog's internal view of a product.
    pub async fn catalog_product(&self, id: Uuid) -> Value {
        self.catalog_raw.get(&format!("/internal/products/{id}")).await.unwrap()
    }

    /// The availability updates the catalog received: (product id, body, status).
    pub fn availability_calls(&self) -> Vec<(String, Value, u16)> {
        let calls = self.calls.lock().unwrap();
        calls
            .iter()
            .filter(|(m, p, _, _)| m == "PUT" && p.ends_with("/availability"))
            .map(|(_, p, b, s)| (p.clone(), b.clone(), *s))
            .collect()
    }
}

/// The status and problem code of a failed internal call.
pub fn refused(err: CallError) -> (u16, Value) {
    match err {
        CallError::Status { status, problem } => (status.as_u16(), problem.unwrap_or(Value::Null)),
        other => panic!("expected an answer, got {other:?}"),
    }
}

#[test]
fn the_openapi_document_matches_the_snapshot() {
    insta::assert_json_snapshot!("inventory-openapi", inventory::openapi());
}
