//! Black-box tests of the catalog function through its router, against DynamoDB Local, each
//! test with its own table.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod categories;
mod products;

use axum::Router;
use serde_json::{Value, json};
use shop_testkit::{Req, Resp};

pub struct App {
    pub router: Router,
}

pub async fn app() -> App {
    let (ddb, table) = shop_testkit::table("CatalogTable").await;
    App { router: catalog::router(catalog::AppState::new(catalog::store::Store::new(ddb, table))) }
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
