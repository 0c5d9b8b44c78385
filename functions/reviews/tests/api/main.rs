//! Black-box tests of the reviews function through its router, against DynamoDB Local, each test
//! with its own tables, a real catalog router registered under a unique function name, and
//! orders and accounts answered by small stand-ins of their internal routes (`has-purchased`,
//! `name`): a DELIVERED order takes the whole checkout on PostgreSQL, which the local-runner
//! journey (`infra/local-runner/tests/local/reviews.rs`) goes through with the real functions.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod reading;
mod stream;
mod votes;
mod writing;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, Query};
use axum::routing::get;
use reviews::clients::{Accounts, Catalog, Orders};
use reviews::store::Store;
use serde_json::{Value, json};
use shop_internal::InternalClient;
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

/// What the orders stand-in answers: (user, product) pairs with a DELIVERED order.
pub type Purchases = Arc<Mutex<HashSet<(Uuid, Uuid)>>>;
/// What the accounts stand-in answers: user → (first name, last name).
pub type Names = Arc<Mutex<HashMap<Uuid, (String, String)>>>;

pub struct Ctx {
    pub router: Router,
    pub store: Store,
    pub ddb: aws_sdk_dynamodb::Client,
    pub table: String,
    /// The catalog's router (public routes, for setting up products).
    pub catalog: Router,
    pub catalog_client: Catalog,
    /// A plain internal client of the catalog (for reading what it stored).
    pub catalog_raw: InternalClient,
    pub purchases: Purchases,
    pub names: Names,
    pub admin: Who,
    pub seller: Who,
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

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct PurchaseQuery {
    user_id: Uuid,
    product_id: Uuid,
}

/// orders' `GET /internal/orders/has-purchased` over `purchases`.
fn orders_standin(purchases: Purchases) -> Router {
    Router::new().route(
        "/internal/orders/has-purchased",
        get(move |Query(q): Query<PurchaseQuery>| {
            let purchased = purchases.lock().unwrap().contains(&(q.user_id, q.product_id));
            async move { axum::Json(json!({"purchased": purchased})) }
        }),
    )
}

/// accounts' `GET /internal/users/{userId}/name` over `names` (404 for others).
fn accounts_standin(names: Names) -> Router {
    Router::new().route(
        "/internal/users/{userId}/name",
        get(move |Path(id): Path<Uuid>| {
            let found = names.lock().unwrap().get(&id).cloned();
            async move {
                match found {
                    Some((first, last)) => (http::StatusCode::OK, axum::Json(json!({"userId": id, "firstName": first, "lastName": last}))),
                    None => (http::StatusCode::NOT_FOUND, axum::Json(json!({"code": "not_found"}))),
                }
            }
        }),
    )
}

pub async fn ctx() -> Ctx {
    let sdk = shop_testkit::sdk().await;
    let (ddb, table) = shop_testkit::table("ReviewsTable").await;
    // The concurrency tests queue many transactions on the one DynamoDB Local the test run shares.
    let store = Store::new(ddb.clone(), &table).with_retry_budget(Duration::from_secs(30));

    let catalog = catalog::router(catalog_state().await);
    let catalog_fn = shop_testkit::unique("catalog");
    shop_internal::register_local(&catalog_fn, catalog.clone());
    let catalog_client = Catalog::new(InternalClient::new(sdk, &catalog_fn, reviews::CALLER));
    let catalog_raw = InternalClient::new(sdk, &catalog_fn, "test");

    let purchases: Purchases = Arc::default();
    let orders_fn = shop_testkit::unique("orders");
    shop_internal::register_local(&orders_fn, orders_standin(purchases.clone()));
    let names: Names = Arc::default();
    let accounts_fn = shop_testkit::unique("accounts");
    shop_internal::register_local(&accounts_fn, accounts_standin(names.clone()));

    let state = reviews::AppState::new(
        store.clone(),
        catalog_client.clone(),
        Orders::new(InternalClient::new(sdk, &orders_fn, reviews::CALLER)),
        Accounts::new(InternalClient::new(sdk, &accounts_fn, reviews::CALLER)),
    );
    let router = reviews::router(state);

    let admin = admin();
    let seller = seller();
    let category =
        send_as(&catalog, &admin, Req::post("/api/categories").json(json!({"name": shop_testkit::unique("Reviews")}))).await.expect(201);
    let category = category["id"].as_str().unwrap().to_owned();
    Ctx { router, store, ddb, table, catalog, catalog_client, catalog_raw, purchases, names, admin, seller, category }
}

pub async fn send_as(router: &Router, who: &Who, req: Req) -> Resp {
    req.as_user(&who.0, who.1, &Uuid::now_v7().to_string()).send(router).await
}

impl Ctx {
    pub async fn send_as(&self, who: &Who, req: Req) -> Resp {
        send_as(&self.router, who, req).await
    }

    pub async fn send(&self, req: Req) -> Resp {
        req.send(&self.router).await
    }

    /// A new active catalog product.
    pub async fn product(&self) -> Uuid {
        let sku = shop_testkit::unique("SKU").to_uppercase();
        let body =
            json!({"name": format!("Product {sku}"), "sku": sku, "description": "A thing.", "price": 1999, "categoryId": self.category});
        let product = send_as(&self.catalog, &self.seller, Req::post("/api/products").json(body)).await.expect(201);
        Uuid::parse_str(product["id"].as_str().unwrap()).unwrap()
    }

    /// A customer with a name the accounts stand-in knows.
    pub fn named(&self, first: &str, last: &str) -> Who {
        let who = customer();
        self.names.lock().unwrap().insert(who.id(), (first.into(), last.into()));
        who
    }

    /// `who` has received `product` (a DELIVERED order, as orders would answer).
    pub fn delivered(&self, who: &Who, product: Uuid) {
        self.purchases.lock().unwrap().insert((who.id(), product));
    }

    /// `POST /api/reviews` as `who`.
    pub async fn review(&self, who: &Who, product: Uuid, rating: u8) -> Resp {
        let body = json!({"productId": product, "rating": rating, "title": "My take", "content": "It does what it says."});
        self.send_as(who, Req::post("/api/reviews").json(body)).await
    }

    /// A review of `product` with `rating` by a new customer; its id.
    pub async fn reviewed(&self, product: Uuid, rating: u8) -> (Who, String) {
        let who = self.named("Grace", "Hopper");
        let review = self.review(&who, product, rating).await.expect(201);
        (who, review["id"].as_str().unwrap().to_owned())
    }

    pub async fn summary(&self, product: Uuid) -> Value {
        self.send(Req::get(&format!("/api/reviews/product/{product}/summary"))).await.expect(200)
    }

    pub async fn list(&self, product: Uuid, query: &str) -> Value {
        self.send(Req::get(&format!("/api/reviews/product/{product}{query}"))).await.expect(200)
    }

    /// The catalog's internal view of a product.
    pub async fn catalog_product(&self, id: Uuid) -> Value {
        self.catalog_raw.get(&format!("/internal/products/{id}")).await.unwrap()
    }
}

/// The ids in a page's `data`, in order.
pub fn ids(page: &Value) -> Vec<String> {
    page["data"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap().to_owned()).collect()
}

#[test]
fn the_openapi_document_matches_the_snapshot() {
    insta::assert_json_snapshot!("reviews-openapi", reviews::openapi());
}
