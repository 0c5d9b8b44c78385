//! Black-box tests of the orders function through its router, against the real stand-ins: a
//! PostgreSQL database per test, the REAL catalog, inventory, cart and accounts routers
//! (DynamoDB Local tables, Redis prefixes per test) registered for internal calls under names
//! unique to the test, and an SNS topic on moto with a raw-delivery SQS queue that shows what
//! the outbox published.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod checkout;
mod failures;
mod lifecycle;
mod payments;
mod races;

use std::time::Duration;

use axum::Router;
use serde_json::{Value, json};
use shop_internal::InternalClient;
use shop_testkit::{Req, Resp};
use uuid::Uuid;

/// A caller: (user id, role).
#[derive(Clone, Debug)]
pub struct Who(pub String, pub &'static str);

impl Who {
    pub fn id(&self) -> Uuid {
        Uuid::parse_str(&self.0).unwrap()
    }
}

pub fn customer() -> Who {
    Who(Uuid::now_v7().to_string(), "CUSTOMER")
}
pub fn admin() -> Who {
    Who(Uuid::now_v7().to_string(), "ADMIN")
}
pub fn seller() -> Who {
    Who(Uuid::now_v7().to_string(), "SELLER")
}

pub struct App {
    pub router: Router,
    pub state: orders::AppState,
    pub config: orders::config::Config,
    pub catalog: Router,
    pub inventory: Router,
    /// The inventory function's table (for its order-events consumer).
    pub inventory_table: String,
    pub cart: Router,
    pub accounts: Router,
    pub admin: Who,
    pub database_url: String,
    pub sqs: aws_sdk_sqs::Client,
    /// The queue subscribed (raw) to the order events topic.
    pub events_queue: String,
    category: String,
    keys: accounts::keys::SigningKeys,
    /// The cart's Redis prefix and coupons table (for its events consumer).
    pub cart_prefix: String,
    pub promotions: String,
}

fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// A fresh database for one test (migrated by the function at start).
pub async fn database() -> String {
    shop_testkit::database("skyshop_test_orders").await
}

/// An SNS topic with a raw-delivery queue subscribed: (topic ARN, queue URL).
async fn topic() -> (String, String) {
    let sdk = shop_testkit::sdk().await;
    let sns = aws_sdk_sns::Client::new(sdk);
    let sqs = aws_sdk_sqs::Client::new(sdk);
    let topic = sns.create_topic().name(shop_testkit::unique("OrderEvents")).send().await.unwrap().topic_arn.unwrap();
    let queue = sqs.create_queue().queue_name(shop_testkit::unique("OrderEventsTap")).send().await.unwrap().queue_url.unwrap();
    let arn = sqs
        .get_queue_attributes()
        .queue_url(&queue)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap()[&aws_sdk_sqs::types::QueueAttributeName::QueueArn]
        .clone();
    sns.subscribe().topic_arn(&topic).protocol("sqs").endpoint(arn).attributes("RawMessageDelivery", "true").send().await.unwrap();
    (topic, queue)
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
    let inventory =
        inventory::router(inventory::AppState::new(inventory::store::Store::new(ddb, inventory_table.clone()), inventory_catalog));
    shop_internal::register_local(&inventory_name, inventory.clone());

    // Accounts: the real router (saved addresses, and the JWKS the cart verifies tokens with).
    let mut doc = accounts::keys::KeyDocument::default();
    doc.add_generated("k1".to_owned(), "2026-12-03T00:00:00Z".into()).unwrap();
    let keys = accounts::keys::SigningKeys::from_document(&doc).unwrap();
    let (ddb, accounts_table) = shop_testkit::table("AccountsTable").await;
    let (sqs, notifications) = shop_testkit::queue("NotificationsQueue").await;
    let accounts_config = accounts::config::Config {
        table: accounts_table.clone(),
        notifications_queue_url: notifications.clone(),
        signing_keys_secret_id: "unused".into(),
        jwt_issuer: "http://issuer.test".into(),
        jwt_audience: "skyshop".into(),
        frontend_url: "http://localhost:3000".into(),
    };
    let accounts_state = accounts::AppState::new(
        accounts::store::Store::new(ddb, accounts_table),
        shop_aws::events::Publisher::new(sqs.clone(), &notifications, "accounts"),
        accounts::keys::KeyRing::fixed(accounts::keys::SigningKeys::from_document(&doc).unwrap()),
        &accounts_config,
    );
    let accounts = accounts::router(accounts_state);
    let accounts_name = shop_testkit::unique("accounts");
    shop_internal::register_local(&accounts_name, accounts.clone());

    let (ddb, promotions) = shop_testkit::table("PromotionsTable").await;
    let cart_prefix = shop_testkit::redis_prefix();
    let carts = cart::store::CartStore::connect(&redis_url(), cart_prefix.clone()).await.expect("Redis runs");
    let coupons = cart::store::CouponStore::new(ddb, promotions.clone());
    shop_seed::coupons::seed_coupons(&coupons).await.unwrap();
    let auth = cart::Auth {
        accounts: InternalClient::new(sdk, &accounts_name, cart::CALLER),
        issuer: "http://issuer.test".into(),
        audiences: vec!["skyshop".into()],
    };
    let cart_state = cart::AppState::new(
        carts,
        coupons,
        InternalClient::new(sdk, &catalog_name, cart::CALLER),
        InternalClient::new(sdk, &inventory_name, cart::CALLER),
        auth,
    );
    let cart = cart::router(cart_state);
    let cart_name = shop_testkit::unique("cart");
    shop_internal::register_local(&cart_name, cart.clone());

    let database_url = database().await;
    let (topic_arn, events_queue) = topic().await;
    let config = orders::config::Config {
        database: orders::config::Database::url(database_url.clone()),
        topic_arn,
        cart_function: cart_name,
        catalog_function: catalog_name,
        inventory_function: inventory_name,
        accounts_function: accounts_name,
    };
    let state = orders::AppState::from_config(&config, sdk).await.expect("orders state");
    let router = orders::router(state.clone());

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
    App {
        router,
        state,
        config,
        catalog,
        inventory,
        inventory_table,
        cart,
        accounts,
        admin,
        database_url,
        sqs: aws_sdk_sqs::Client::new(sdk),
        events_queue,
        category,
        keys,
        cart_prefix,
        promotions,
    }
}

pub fn address() -> Value {
    json!({"firstName": "Ada", "lastName": "Lovelace", "address1": "12 St James's Square", "city": "London", "state": "LDN",
           "postalCode": "SW1Y 4JH", "country": "GB"})
}

pub fn checkout_body(method: &str) -> Value {
    json!({"shippingAddress": address(), "paymentMethod": method})
}

impl App {
    pub async fn send_as(&self, who: &Who, req: Req) -> Resp {
        req.as_user(&who.0, who.1, &Uuid::now_v7().to_string()).send(&self.router).await
    }

    /// `POST /api/orders` with `key`.
    pub async fn place(&self, who: &Who, key: &str, body: Value) -> Resp {
        self.send_as(who, Req::post("/api/orders").header("idempotency-key", key).json(body)).await
    }

    /// A real access token for `who`, as the cart's optional-bearer layer verifies it.
    pub fn bearer(&self, who: &Who) -> String {
        let role = shop_core::auth::Role::parse(who.1).unwrap();
        let token =
            accounts::tokens::issue_access_token(&self.keys, "http://issuer.test", "skyshop", who.id(), role, Uuid::now_v7()).unwrap();
        format!("Bearer {token}")
    }

    /// The accounts signing keys' JWKS (what the gateway's authorizer trusts).
    pub fn jwks(&self) -> &jsonwebtoken::jwk::JwkSet {
        self.keys.jwks()
    }

    /// A product in the catalog (`price` in cents) with `stock` units, sold by `seller` (the
    /// admin when `None`).
    pub async fn product(&self, name: &str, price: i64, stock: u32, seller: Option<&Who>) -> String {
        let owner = seller.unwrap_or(&self.admin);
        let sku = shop_testkit::unique("SKU").to_uppercase();
        let body = json!({"name": name, "sku": sku, "description": "A thing.", "price": price, "categoryId": self.category,
            "images": ["https://images.test/a.webp"]});
        let product = Req::post("/api/products")
            .json(body)
            .as_user(&owner.0, owner.1, &Uuid::now_v7().to_string())
            .send(&self.catalog)
            .await
            .expect(201);
        let id = product["id"].as_str().unwrap().to_owned();
        self.set_stock(&id, stock).await;
        id
    }

    pub async fn set_stock(&self, product: &str, available: u32) {
        Req::put(&format!("/api/inventory/{product}"))
            .json(json!({"available": available, "lowStockThreshold": 0}))
            .as_user(&self.admin.0, self.admin.1, &Uuid::now_v7().to_string())
            .send(&self.inventory)
            .await
            .expect(200);
    }

    /// `{available, reserved}` of a product.
    pub async fn stock(&self, product: &str) -> (i64, i64) {
        let s = Req::get(&format!("/api/inventory/{product}"))
            .as_user(&self.admin.0, self.admin.1, &Uuid::now_v7().to_string())
            .send(&self.inventory)
            .await
            .expect(200);
        (s["available"].as_i64().unwrap(), s["reserved"].as_i64().unwrap())
    }

    /// Adds `quantity` of `product` to `who`'s cart.
    pub async fn add_to_cart(&self, who: &Who, product: &str, quantity: u32) -> Value {
        Req::post("/api/cart/items")
            .header("authorization", &self.bearer(who))
            .json(json!({"productId": product, "quantity": quantity}))
            .send(&self.cart)
            .await
            .expect(200)
    }

    pub async fn cart_of(&self, who: &Who) -> Value {
        Req::get("/api/cart").header("authorization", &self.bearer(who)).send(&self.cart).await.expect(200)
    }

    pub async fn apply_coupon(&self, who: &Who, code: &str) -> Value {
        Req::post("/api/cart/coupon")
            .header("authorization", &self.bearer(who))
            .json(json!({"code": code}))
            .send(&self.cart)
            .await
            .expect(200)
    }

    /// A customer with `quantity` of a new product (price, stock) in their cart.
    pub async fn shopper(&self, price: i64, stock: u32, quantity: u32) -> (Who, String) {
        let who = customer();
        let product = self.product("Lamp", price, stock, None).await;
        self.add_to_cart(&who, &product, quantity).await;
        (who, product)
    }

    /// Every event published so far (drains the tap queue), as envelopes.
    pub async fn events(&self) -> Vec<Value> {
        shop_testkit::drain(&self.sqs, &self.events_queue).await
    }

    /// Waits until the published events include `kind` for `order` `n` times (or fails).
    pub async fn published(&self, kinds: &[&str]) -> Vec<Value> {
        let mut seen = Vec::new();
        for _ in 0..50 {
            seen.extend(self.events().await);
            let got: Vec<&str> = seen.iter().filter_map(|e| e["type"].as_str()).collect();
            if kinds.iter().all(|k| got.contains(k)) {
                return seen;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("events {kinds:?} not all published: {seen:?}");
    }

    /// The cart's order-events consumer on the test's cart store and coupons.
    pub async fn cart_events(&self) -> cart::events::Events {
        let carts = cart::store::CartStore::connect(&redis_url(), self.cart_prefix.clone()).await.unwrap();
        let coupons = cart::store::CouponStore::new(aws_sdk_dynamodb::Client::new(shop_testkit::sdk().await), self.promotions.clone());
        cart::events::Events::new(carts, coupons)
    }

    /// Inventory's order-events consumer (and expiry job) on the test's inventory table.
    pub async fn inventory_events(&self) -> inventory::events::Events {
        let sdk = shop_testkit::sdk().await;
        let store = inventory::store::Store::new(aws_sdk_dynamodb::Client::new(sdk), &self.inventory_table);
        let catalog = inventory::clients::Catalog::new(InternalClient::new(sdk, &self.config.catalog_function, "inventory"));
        inventory::events::Events::new(store, catalog, shop_aws::events::Publisher::new(self.sqs.clone(), "http://unused", "test"))
    }

    /// Delivers published events (envelopes) to inventory's consumer, in this order, as its
    /// queue would; each must be acknowledged.
    pub async fn to_inventory(&self, events: &[&Value]) {
        let records: Vec<Value> = events
            .iter()
            .enumerate()
            .map(|(i, e)| json!({"messageId": format!("m{i}"), "eventSource": "aws:sqs", "receiptHandle": "r", "body": e.to_string()}))
            .collect();
        let batch = serde_json::from_value(json!({ "Records": records })).unwrap();
        let response = self.inventory_events().await.handle_orders(batch).await;
        assert!(response.batch_item_failures.is_empty(), "{:?}", response.batch_item_failures);
    }

    /// A pool on the test's database, for checks of what is stored.
    pub async fn db(&self) -> sqlx::PgPool {
        sqlx::PgPool::connect(&self.database_url).await.unwrap()
    }

    /// The minute job, once.
    pub async fn run_jobs(&self) -> Value {
        let events = orders::events::Events::from_config(&self.config, shop_testkit::sdk().await).await.unwrap();
        events.invoke(json!({})).await.unwrap()
    }

    /// How many times `code` was redeemed (the coupon's `redemptionCount`, as an admin reads it).
    pub async fn coupon_uses(&self, code: &str) -> i64 {
        let c = Req::get(&format!("/api/coupons/{code}"))
            .as_user(&self.admin.0, self.admin.1, &Uuid::now_v7().to_string())
            .send(&self.cart)
            .await
            .expect(200);
        c["redemptionCount"].as_i64().unwrap()
    }
}

#[test]
fn the_openapi_document_matches_the_snapshot() {
    insta::assert_json_snapshot!("orders-openapi", orders::openapi());
}

/// A checkout's key is taken over only after the request holding it is surely dead: its lease
/// outlives the function's timeout (Lambda stops an invocation at its timeout).
#[test]
fn the_checkout_lease_outlives_the_functions_timeout() {
    let function = shop_testkit::template().functions().into_iter().find(|f| f.logical_id == "OrdersFunction").expect("OrdersFunction");
    let lease = orders::domain::CHECKOUT_LEASE.whole_seconds();
    assert!(lease > i64::try_from(function.timeout_secs).unwrap() + 5, "lease {lease} s, timeout {} s", function.timeout_secs);
}
