//! Black-box tests of the cart function through its router: carts in Redis (a key prefix per
//! test), coupons in a DynamoDB Local table per test, and the REAL catalog and inventory
//! routers registered for internal calls under names unique to the test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod carts;
mod checkout;
mod coupons;
mod redemptions;

use axum::Router;
use serde_json::{Value, json};
use shop_internal::InternalClient;
use shop_testkit::{Req, Resp};
use uuid::Uuid;

/// A caller: (user id, role).
#[derive(Clone, Debug)]
pub struct Who(pub String, pub &'static str);

pub fn admin() -> Who {
    Who(Uuid::now_v7().to_string(), "ADMIN")
}
pub fn customer() -> Who {
    Who(Uuid::now_v7().to_string(), "CUSTOMER")
}

pub struct App {
    pub router: Router,
    pub state: cart::AppState,
    pub catalog: Router,
    pub inventory: Router,
    /// The cart router's name for internal calls (redemptions).
    pub cart_function: String,
    pub admin: Who,
    category: String,
    keys: accounts::keys::SigningKeys,
}

fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

async fn catalog_router() -> Router {
    let (ddb, table) = shop_testkit::table("CatalogTable").await;
    let cache = shop_cache::Cache::connect(&redis_url(), shop_testkit::redis_prefix()).await;
    let (_, bucket) = shop_testkit::bucket("ImagesBucket").await;
    let images = catalog::Images::new(shop_testkit::sdk().await, &bucket, "http://images.test");
    let search = std::sync::Arc::new(shop_search::TantivyEngine::in_memory().unwrap());
    catalog::router(catalog::AppState::new(catalog::store::Store::new(ddb, table), cache, images, search))
}

pub async fn app() -> App {
    let sdk = shop_testkit::sdk().await;
    let catalog_name = shop_testkit::unique("catalog");
    let catalog = catalog_router().await;
    shop_internal::register_local(&catalog_name, catalog.clone());

    let inventory_name = shop_testkit::unique("inventory");
    let (ddb, inventory_table) = shop_testkit::table("InventoryTable").await;
    let inventory_catalog = inventory::clients::Catalog::new(InternalClient::new(sdk, &catalog_name, "inventory"));
    let inventory = inventory::router(inventory::AppState::new(inventory::store::Store::new(ddb, inventory_table), inventory_catalog));
    shop_internal::register_local(&inventory_name, inventory.clone());

    let (ddb, promotions) = shop_testkit::table("PromotionsTable").await;
    let carts = cart::store::CartStore::connect(&redis_url(), shop_testkit::redis_prefix()).await.expect("Redis runs in the local cloud");
    let coupons = cart::store::CouponStore::new(ddb, promotions);
    // The local cloud's coupons (SAVE10, SAVE20, FLAT50, FLAT100), as `skyshop-local` seeds them.
    shop_seed::coupons::seed_coupons(&coupons).await.unwrap();
    // Access tokens signed with accounts' own key code; its JWKS served under the accounts name.
    let mut doc = accounts::keys::KeyDocument::default();
    doc.add_generated("k1".to_owned(), "2026-12-03T00:00:00Z".into()).unwrap();
    let keys = accounts::keys::SigningKeys::from_document(&doc).unwrap();
    let accounts_name = shop_testkit::unique("accounts");
    let jwks = serde_json::to_value(keys.jwks()).unwrap();
    shop_internal::register_local(
        &accounts_name,
        Router::new().route("/.well-known/jwks.json", axum::routing::get(move || async move { axum::Json(jwks) })),
    );
    let auth = cart::Auth {
        accounts: InternalClient::new(sdk, &accounts_name, cart::CALLER),
        issuer: "http://issuer.test".into(),
        audiences: vec!["skyshop".into()],
    };
    let state = cart::AppState::new(
        carts,
        coupons,
        InternalClient::new(sdk, &catalog_name, cart::CALLER),
        InternalClient::new(sdk, &inventory_name, cart::CALLER),
        auth,
    );
    let router = cart::router(state.clone());
    let cart_function = shop_testkit::unique("cart");
    shop_internal::register_local(&cart_function, router.clone());

    let admin = admin();
    let category = Req::post("/api/categories")
        .json(json!({"name": shop_testkit::unique("Category")}))
        .as_user(&admin.0, admin.1, &Uuid::now_v7().to_string())
        .send(&catalog)
        .await
        .expect(201)["id"]
        .as_str()
        .unwrap()
        .to_owned();
    App { router, state, catalog, inventory, cart_function, admin, category, keys }
}

impl App {
    pub async fn send(&self, req: Req) -> Resp {
        req.send(&self.router).await
    }

    pub async fn send_as(&self, who: &Who, req: Req) -> Resp {
        req.as_user(&who.0, who.1, &Uuid::now_v7().to_string()).send(&self.router).await
    }

    /// A real access token for `who` (RS256, verified by the cart's optional-bearer layer).
    pub fn bearer(&self, who: &Who) -> String {
        let role = shop_core::auth::Role::parse(who.1).unwrap();
        let sub = Uuid::parse_str(&who.0).unwrap();
        let token = accounts::tokens::issue_access_token(&self.keys, "http://issuer.test", "skyshop", sub, role, Uuid::now_v7()).unwrap();
        format!("Bearer {token}")
    }

    /// A guest request carrying a cart token.
    pub async fn send_guest(&self, token: &str, req: Req) -> Resp {
        req.header("x-cart-token", token).send(&self.router).await
    }

    /// A product in the catalog (`price` in cents) with `stock` units in inventory.
    pub async fn product(&self, name: &str, price: i64, stock: u32) -> String {
        let sku = shop_testkit::unique("SKU").to_uppercase();
        let body = json!({"name": name, "sku": sku, "description": "A thing.", "price": price, "categoryId": self.category,
            "images": ["https://images.test/a.webp", "https://images.test/b.webp"]});
        let sid = Uuid::now_v7().to_string();
        let product =
            Req::post("/api/products").json(body).as_user(&self.admin.0, self.admin.1, &sid).send(&self.catalog).await.expect(201);
        let id = product["id"].as_str().unwrap().to_owned();
        self.stock(&id, stock).await;
        id
    }

    /// Sets a product's stock in inventory.
    pub async fn stock(&self, product: &str, available: u32) {
        let sid = Uuid::now_v7().to_string();
        Req::put(&format!("/api/inventory/{product}"))
            .json(json!({"available": available, "lowStockThreshold": 0}))
            .as_user(&self.admin.0, self.admin.1, &sid)
            .send(&self.inventory)
            .await
            .expect(200);
    }

    /// A new guest cart: (cart, token).
    pub async fn guest_cart(&self) -> (Value, String) {
        let cart = self.send(Req::post("/api/cart")).await.expect(201);
        let token = cart["cartToken"].as_str().unwrap().to_owned();
        (cart, token)
    }

    /// An internal client of this cart router, as the orders function would hold one.
    pub async fn internal(&self) -> InternalClient {
        InternalClient::new(shop_testkit::sdk().await, &self.cart_function, "orders")
    }
}

#[test]
fn the_openapi_document_matches_the_snapshot() {
    insta::assert_json_snapshot!("cart-openapi", cart::openapi());
}
