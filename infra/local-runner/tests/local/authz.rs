//! The authorisation matrix: every route of the template (`app.cloud.gateway.routes`, read from
//! template.yaml) called end to end as six callers — anonymous, customer A, customer B, seller A,
//! seller B and the admin — against real resources, checked against the committed table
//! `authz-matrix.txt`. Customer A owns the customer resources the path ids name (orders, an
//! address, a cart line, payments, a review, sessions); seller A owns the product (and its
//! stock); B's columns are the same requests, for A's resources. Destructive routes get fresh
//! fixtures per call, and the routes that end the callers' sessions run last.
//!
//! Besides the table, every call must answer below 500, and no 2xx answer to anonymous,
//! customer B or seller B may contain one of A's private ids (order ids and numbers, the address,
//! payments, sessions, the email) — nor, on the stock and seller routes, seller A's product.
//! A route added or removed, a body that stops passing, or a verdict that changes fails here;
//! regenerate with `AUTHZ_MATRIX_UPDATE=1` and review the diff line by line.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::{Value, json};

use crate::helpers::{ADMIN_PASSWORD, BUYER_PASSWORD, R, Running, order, register_buyer, start};

/// The callers, in the table's column order.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Caller {
    Anonymous,
    CustomerA,
    CustomerB,
    SellerA,
    SellerB,
    Admin,
}

const CALLERS: [Caller; 6] = [Caller::Anonymous, Caller::CustomerA, Caller::CustomerB, Caller::SellerA, Caller::SellerB, Caller::Admin];

const HEADER: &str = "\
# The authorisation matrix (infra/local-runner/tests/local/authz.rs; regenerate with AUTHZ_MATRIX_UPDATE=1).
# Every route of template.yaml's HTTP API, called through the local gateway and the real functions
# as: anonymous | customer (A) | customer-b | seller (A) | seller-b | admin.
# Customer A owns every customer resource a path or body names (orders, address, cart line,
# payments, review, session); seller A owns the product and its stock. B's columns ask for A's.
# Internal routes (/internal/...) are not on the HTTP API and are not called.
# Verdicts: ok = 2xx. 401 = no token (gateway, or the function for public-at-the-edge routes).
# 403 = the gateway's scope check or the function's role check. 404 = not found, which is also the
# answer for someone else's resource (never 403, never 2xx). <status>:<code> = any other 4xx with
# the problem code: the function's own answer after authorisation (409:own_review on one's own
# review; 422:invalid_coupon when the caller's own cart is empty). Cart routes work on the
# caller's own cart: 404 is cart_not_found (a guest without a cart token, a user without a cart)
# or item_not_found (the line is only in A's cart). 422:validation_failed on the stock bulk for
# seller-b is unknown_product: another seller's product is answered as a product that does not
# exist (the ids are in the body). Webhook and reset-password are called without a signature /
# with an unknown token (400): they are authorised by those, not by the bearer.
# METHOD PATH: anonymous customer customer-b seller seller-b admin
";

/// A's resources and everyone's tokens.
struct Fixtures {
    tokens: [Option<String>; 6],
    passwords: [&'static str; 6],
    customer_a: String,
    email_a: String,
    /// A throwaway customer for the routes whose body names an account (login, refresh, logout,
    /// the admin's user update), so A's own sessions stay.
    spare_email: String,
    spare_id: String,
    category: String,
    category_slug: String,
    product: String,
    product_sku: String,
    product_slug: String,
    /// Seller A's product nobody has reviewed (POST /api/reviews), and one for A's reviews that
    /// get deleted.
    review_product: String,
    deletable_review_product: String,
    address: String,
    cod_order: String,
    cod_number: String,
    card_order: String,
    card_payment: String,
    paid_payment: String,
    review: String,
    coupon: String,
}

/// What one call sends.
struct Call {
    path: String,
    body: Option<Value>,
    headers: Vec<(&'static str, String)>,
}

fn call(path: impl Into<String>, body: Option<Value>) -> Call {
    Call { path: path.into(), body, headers: Vec::new() }
}

fn ok(r: &R, what: &str) -> Value {
    assert!((200..300).contains(&r.status), "{what}: {} {}", r.status, r.body);
    r.body.clone()
}

fn id_of(v: &Value, key: &str) -> String {
    v[key].as_str().unwrap_or_else(|| panic!("{key} in {v}")).to_owned()
}

fn address_body() -> Value {
    json!({"firstName": "Ada", "lastName": "Lovelace", "address1": "12 St James's Square", "city": "London",
        "state": "LDN", "postalCode": "SW1Y 4JH", "country": "GB"})
}

/// A new customer: (access token, user id, email).
async fn register(app: &Running) -> (String, String, String) {
    let (r, email) = register_buyer(app).await;
    (id_of(&r, "accessToken"), id_of(&r["user"], "id"), email)
}

async fn login(app: &Running, email: &str, password: &str) -> Value {
    app.login(email, password).await
}

impl Fixtures {
    fn token(&self, caller: Caller) -> Option<&str> {
        self.tokens[caller as usize].as_deref()
    }

    async fn create(app: &Running) -> Fixtures {
        let admin = app.admin_token().await;
        let seller_a = login(app, local_runner::cloud::SELLER_EMAIL, ADMIN_PASSWORD).await["accessToken"].as_str().unwrap().to_owned();
        let (customer_a_token, customer_a, email_a) = register(app).await;
        let (customer_b_token, _, _) = register(app).await;
        let (_, spare_id, spare_email) = register(app).await;
        // Seller B: a customer the admin makes a seller, signed in again for a seller's token.
        let (_, seller_b_id, seller_b_email) = register(app).await;
        ok(&app.call("PATCH", &format!("/api/users/{seller_b_id}"), Some(&admin), Some(json!({"role": "SELLER"}))).await, "seller B");
        let seller_b = login(app, &seller_b_email, BUYER_PASSWORD).await["accessToken"].as_str().unwrap().to_owned();

        let category =
            ok(&app.call("POST", "/api/categories", Some(&admin), Some(json!({"name": shop_testkit::unique("Lamps")}))).await, "category");
        let product_body = |name: &str| json!({"name": name, "sku": shop_testkit::unique("SKU"), "description": "Bright.", "price": 4_999, "categoryId": category["id"]});
        let product = ok(&app.call("POST", "/api/products", Some(&seller_a), Some(product_body("Desk lamp"))).await, "product");
        let product_id = id_of(&product, "id");
        let stock = json!({"available": 1000, "lowStockThreshold": 0});
        ok(&app.call("PUT", &format!("/api/inventory/{product_id}"), Some(&seller_a), Some(stock)).await, "stock");
        let review_product = ok(&app.call("POST", "/api/products", Some(&seller_a), Some(product_body("Floor lamp"))).await, "product 2");
        let deletable = ok(&app.call("POST", "/api/products", Some(&seller_a), Some(product_body("Wall lamp"))).await, "product 3");

        let a = customer_a_token.as_str();
        let address = ok(&app.call("POST", "/api/users/me/addresses", Some(a), Some(address_body())).await, "address");
        let add = json!({"productId": product_id, "quantity": 1});
        let place = |method: &'static str| {
            let add = add.clone();
            async move {
                ok(&app.call("POST", "/api/cart/items", Some(a), Some(add)).await, "cart line");
                ok(&order(app, a, &shop_testkit::unique("authz"), method).await, "order")
            }
        };
        let cod = place("cod").await;
        let card = place("card").await;
        let card_order = id_of(&card, "id");
        let intent = ok(&app.call("POST", "/api/payments/intents", Some(a), Some(json!({"orderId": card_order}))).await, "intent");
        // A paid card order: its intent paid at localstripe, settled through confirm.
        let paid = place("card").await;
        let paid_order = id_of(&paid, "id");
        let paid_intent = ok(&app.call("POST", "/api/payments/intents", Some(a), Some(json!({"orderId": paid_order}))).await, "intent");
        let (status, body) = shop_testkit::stripe::pay(&id_of(&paid_intent, "paymentIntentId"), shop_testkit::stripe::CARD_OK).await;
        assert_eq!(status, 200, "{body}");
        let confirmed = ok(&app.call("POST", "/api/payments/confirm", Some(a), Some(json!({"orderId": paid_order}))).await, "confirm");
        assert_eq!(confirmed["payment"]["status"], "SUCCEEDED", "{confirmed}");

        let review = json!({"productId": product_id, "rating": 5, "title": "Lights up the desk", "content": "Warm light."});
        let review = ok(&app.call("POST", "/api/reviews", Some(a), Some(review)).await, "review");
        let coupon = shop_testkit::unique("AUTHZ").to_uppercase();
        let body = json!({"code": coupon, "type": "percent", "value": 10});
        ok(&app.call("POST", "/api/coupons", Some(&admin), Some(body)).await, "coupon");

        Fixtures {
            tokens: [None, Some(customer_a_token.clone()), Some(customer_b_token), Some(seller_a), Some(seller_b), Some(admin)],
            passwords: ["", BUYER_PASSWORD, BUYER_PASSWORD, ADMIN_PASSWORD, BUYER_PASSWORD, ADMIN_PASSWORD],
            customer_a,
            email_a,
            spare_email,
            spare_id,
            category: id_of(&category, "id"),
            category_slug: id_of(&category, "slug"),
            product_sku: id_of(&product, "sku"),
            product_slug: id_of(&product, "slug"),
            product: product_id,
            review_product: id_of(&review_product, "id"),
            deletable_review_product: id_of(&deletable, "id"),
            address: id_of(&address, "id"),
            cod_order: id_of(&cod, "id"),
            cod_number: id_of(&cod, "orderNumber"),
            card_order,
            card_payment: id_of(&intent, "paymentId"),
            paid_payment: id_of(&confirmed["payment"], "id"),
            review: id_of(&review, "id"),
            coupon,
        }
    }

    fn admin(&self) -> &str {
        self.token(Caller::Admin).unwrap()
    }

    fn a(&self) -> &str {
        self.token(Caller::CustomerA).unwrap()
    }

    fn seller(&self) -> &str {
        self.token(Caller::SellerA).unwrap()
    }

    /// A's ids no one else may see.
    fn private(&self) -> Vec<&str> {
        vec![&self.cod_order, &self.cod_number, &self.card_order, &self.card_payment, &self.paid_payment, &self.address, &self.email_a]
    }

    /// The line `productId` in `caller`'s own cart (when they have a token).
    async fn cart_line(&self, app: &Running, caller: Caller) {
        if let Some(token) = self.token(caller) {
            ok(&app.call("POST", "/api/cart/items", Some(token), Some(json!({"productId": self.product, "quantity": 1}))).await, "line");
        }
    }

    /// A fresh cash-on-delivery order of A, with seller A's product.
    async fn fresh_order(&self, app: &Running) -> String {
        self.cart_line(app, Caller::CustomerA).await;
        id_of(&ok(&order(app, self.a(), &shop_testkit::unique("authz"), "cod").await, "order"), "id")
    }

    /// A fresh product of seller A.
    async fn fresh_product(&self, app: &Running) -> String {
        let body = json!({"name": "Spare lamp", "sku": shop_testkit::unique("SKU"), "description": "Bright.", "price": 999, "categoryId": self.category});
        id_of(&ok(&app.call("POST", "/api/products", Some(self.seller()), Some(body)).await, "product"), "id")
    }

    /// A's review of the deletable product (written again after a delete).
    async fn fresh_review(&self, app: &Running) -> String {
        let body = json!({"productId": self.deletable_review_product, "rating": 3, "title": "Fine", "content": "It works."});
        let r = app.call("POST", "/api/reviews", Some(self.a()), Some(body)).await;
        if r.status == 201 {
            return id_of(&r.body, "id");
        }
        assert_eq!(r.body["code"], "already_reviewed", "{}", r.body);
        let mine = ok(&app.call("GET", &format!("/api/reviews/user/{}", self.customer_a), Some(self.a()), None).await, "reviews");
        let found = mine["data"].as_array().unwrap().iter().find(|r| r["productId"] == self.deletable_review_product.as_str());
        id_of(found.expect("A's review of the deletable product"), "id")
    }

    /// A session of A other than the one A's token is in.
    async fn fresh_session(&self, app: &Running) -> String {
        login(app, &self.email_a, BUYER_PASSWORD).await;
        let sessions = ok(&app.call("GET", "/api/users/me/sessions", Some(self.a()), None).await, "sessions");
        let newest = sessions
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["current"] == false)
            .max_by_key(|s| s["createdAt"].as_str().map(str::to_owned));
        id_of(newest.expect("another session of A"), "id")
    }

    /// A spare customer's refresh token from a new sign-in.
    async fn spare_refresh(&self, app: &Running) -> String {
        id_of(&login(app, &self.spare_email, BUYER_PASSWORD).await, "refreshToken")
    }

    /// The request for `caller` on one route, with the fixtures it needs made first.
    async fn request(&self, app: &Running, caller: Caller, method: &str, template: &str) -> Call {
        let fx = self;
        let p = &fx.product;
        match (method, template) {
            ("GET", "/.well-known/jwks.json" | "/.well-known/openid-configuration" | "/api/health" | "/api/health/ready") => {
                call(template, None)
            }
            // Accounts.
            ("POST", "/api/auth/forgot-password") => {
                // At most 5 requests per address: an unknown address answers the same.
                call(template, Some(json!({"email": format!("{}@example.com", shop_testkit::unique("nobody"))})))
            }
            ("POST", "/api/auth/login") => call(template, Some(json!({"email": fx.spare_email, "password": BUYER_PASSWORD}))),
            ("POST", "/api/auth/register") => {
                let email = format!("{}@example.com", shop_testkit::unique("authz-new"));
                call(template, Some(json!({"email": email, "password": BUYER_PASSWORD, "firstName": "New", "lastName": "Comer"})))
            }
            ("POST", "/api/auth/refresh" | "/api/auth/logout") => {
                call(template, Some(json!({"refreshToken": fx.spare_refresh(app).await})))
            }
            ("POST", "/api/auth/reset-password") => {
                call(template, Some(json!({"token": "0123456789abcdef0123456789abcdef", "newPassword": "Another-Horse-8"})))
            }
            ("GET", "/api/auth/profile" | "/api/users/me" | "/api/users/me/addresses" | "/api/users/me/sessions" | "/api/users") => {
                call(template, None)
            }
            ("POST", "/api/auth/logout-all") => call(template, None),
            ("PATCH", "/api/users/me") => call(template, Some(json!({"firstName": "Renamed"}))),
            ("POST", "/api/users/me/addresses") => call(template, Some(address_body())),
            ("GET" | "PUT", "/api/users/me/addresses/{id}") => {
                call(format!("/api/users/me/addresses/{}", fx.address), (method == "PUT").then(address_body))
            }
            ("DELETE", "/api/users/me/addresses/{id}") => {
                let fresh = ok(&app.call("POST", "/api/users/me/addresses", Some(fx.a()), Some(address_body())).await, "address");
                call(format!("/api/users/me/addresses/{}", id_of(&fresh, "id")), None)
            }
            ("POST", "/api/users/me/password") => {
                let current = fx.passwords[caller as usize];
                call(
                    template,
                    Some(
                        json!({"currentPassword": if current.is_empty() { BUYER_PASSWORD } else { current }, "newPassword": "Changed-Horse-7"}),
                    ),
                )
            }
            ("DELETE", "/api/users/me/sessions/{id}") => call(format!("/api/users/me/sessions/{}", fx.fresh_session(app).await), None),
            ("PATCH", "/api/users/{id}") => call(format!("/api/users/{}", fx.spare_id), Some(json!({"isActive": true}))),
            // Cart: A's cart holds the product; the others work on their own carts.
            ("GET" | "DELETE", "/api/cart")
            | ("POST", "/api/cart" | "/api/cart/items")
            | ("DELETE", "/api/cart/items" | "/api/cart/coupon") => {
                fx.cart_line(app, Caller::CustomerA).await;
                call(template, (template == "/api/cart/items" && method == "POST").then(|| json!({"productId": p, "quantity": 1})))
            }
            ("POST", "/api/cart/coupon") => {
                fx.cart_line(app, Caller::CustomerA).await;
                call(template, Some(json!({"code": fx.coupon})))
            }
            ("PUT" | "DELETE", "/api/cart/items/{productId}") => {
                // The line is in A's cart only (earlier rows put it in everyone's own cart).
                fx.cart_line(app, Caller::CustomerA).await;
                if let Some(token) = fx.token(caller).filter(|_| caller != Caller::CustomerA) {
                    let cleared = app.call("DELETE", "/api/cart", Some(token), None).await;
                    assert!(matches!(cleared.status, 204 | 404), "{}", cleared.body);
                }
                call(format!("/api/cart/items/{p}"), (method == "PUT").then(|| json!({"quantity": 2})))
            }
            ("POST", "/api/cart/merge") => {
                // A guest's cart with a line, merged by the caller.
                let guest = ok(&app.call("POST", "/api/cart", None, None).await, "guest cart");
                let token = id_of(&guest, "cartToken");
                let line = app
                    .call_with(
                        "POST",
                        "/api/cart/items",
                        None,
                        &[("x-cart-token", token.as_str())],
                        Some(json!({"productId": p, "quantity": 1})),
                    )
                    .await;
                ok(&line, "guest line");
                Call { path: template.into(), body: None, headers: vec![("x-cart-token", token)] }
            }
            // Coupons (admin).
            ("GET", "/api/coupons") => call(template, None),
            ("POST", "/api/coupons") => {
                let code = shop_testkit::unique("NEW").to_uppercase();
                call(template, Some(json!({"code": code, "type": "fixed", "value": 500})))
            }
            ("GET" | "PUT", "/api/coupons/{code}") => {
                call(format!("/api/coupons/{}", fx.coupon), (method == "PUT").then(|| json!({"value": 15})))
            }
            ("DELETE", "/api/coupons/{code}") => {
                let code = shop_testkit::unique("DEL").to_uppercase();
                ok(
                    &app.call("POST", "/api/coupons", Some(fx.admin()), Some(json!({"code": code, "type": "percent", "value": 5}))).await,
                    "coupon",
                );
                call(format!("/api/coupons/{code}"), None)
            }
            // Categories (admin).
            ("GET", "/api/categories" | "/api/categories/tree") => call(template, None),
            ("POST", "/api/categories") => call(template, Some(json!({"name": shop_testkit::unique("Chairs")}))),
            ("GET", "/api/categories/slug/{slug}") => call(format!("/api/categories/slug/{}", fx.category_slug), None),
            ("GET" | "PUT", "/api/categories/{id}") => {
                call(format!("/api/categories/{}", fx.category), (method == "PUT").then(|| json!({"description": "Lights."})))
            }
            ("DELETE", "/api/categories/{id}") => {
                let fresh = ok(
                    &app.call("POST", "/api/categories", Some(fx.admin()), Some(json!({"name": shop_testkit::unique("Gone")}))).await,
                    "category",
                );
                call(format!("/api/categories/{}", id_of(&fresh, "id")), None)
            }
            // Inventory: seller A's product's stock.
            ("GET", "/api/inventory") => call(format!("/api/inventory?ids={p}"), None),
            ("POST", "/api/inventory/bulk") => call(template, Some(json!({"items": [{"productId": p, "available": 1000}]}))),
            ("GET", "/api/inventory/low-stock") => call(template, None),
            ("GET", "/api/inventory/{productId}") => call(format!("/api/inventory/{p}"), None),
            ("PUT", "/api/inventory/{productId}") => call(format!("/api/inventory/{p}"), Some(json!({"available": 1000}))),
            ("POST", "/api/inventory/{productId}/adjust") => {
                call(format!("/api/inventory/{p}/adjust"), Some(json!({"delta": 1, "reason": "authz matrix"})))
            }
            // Orders: A's cash-on-delivery order with seller A's product.
            ("GET", "/api/orders" | "/api/orders/admin" | "/api/orders/seller" | "/api/orders/stats") => call(template, None),
            ("POST", "/api/orders") => {
                fx.cart_line(app, caller).await;
                let body = json!({"shippingAddress": address_body(), "paymentMethod": "cod"});
                Call { path: template.into(), body: Some(body), headers: vec![("idempotency-key", shop_testkit::unique("authz"))] }
            }
            ("GET", "/api/orders/number/{orderNumber}") => call(format!("/api/orders/number/{}", fx.cod_number), None),
            ("GET", "/api/orders/seller/{id}" | "/api/orders/{id}" | "/api/orders/{id}/history") => {
                call(template.replace("{id}", &fx.cod_order), None)
            }
            ("POST", "/api/orders/{id}/cancel") => call(format!("/api/orders/{}/cancel", fx.fresh_order(app).await), None),
            ("PATCH", "/api/orders/{id}/status") => {
                call(format!("/api/orders/{}/status", fx.fresh_order(app).await), Some(json!({"status": "PROCESSING"})))
            }
            // Payments: A's pending card order and its payment; A's paid one for refunds.
            ("GET", "/api/payments") => call(template, None),
            ("POST", "/api/payments/intents" | "/api/payments/confirm") => call(template, Some(json!({"orderId": fx.card_order}))),
            ("GET", "/api/payments/order/{orderId}") => call(format!("/api/payments/order/{}", fx.card_order), None),
            ("GET", "/api/payments/{id}") => call(format!("/api/payments/{}", fx.card_payment), None),
            ("POST", "/api/payments/{id}/refund") => Call {
                path: format!("/api/payments/{}/refund", fx.paid_payment),
                body: Some(json!({"amount": 1})),
                headers: vec![("idempotency-key", shop_testkit::unique("refund"))],
            },
            ("POST", "/api/payments/webhook") => call(template, Some(json!({"id": "evt_1", "type": "payment_intent.succeeded"}))),
            // Products: seller A's.
            ("GET", "/api/products" | "/api/products/featured" | "/api/products/low-stock" | "/api/seller/products") => {
                call(template, None)
            }
            ("POST", "/api/products") => {
                let body = json!({"name": "New lamp", "sku": shop_testkit::unique("SKU"), "description": "Bright.", "price": 999, "categoryId": fx.category});
                call(template, Some(body))
            }
            ("GET", "/api/products/sku/{sku}") => call(format!("/api/products/sku/{}", fx.product_sku), None),
            ("GET", "/api/products/slug/{slug}") => call(format!("/api/products/slug/{}", fx.product_slug), None),
            ("GET" | "PUT", "/api/products/{id}") | ("GET", "/api/seller/products/{id}") => {
                call(template.replace("{id}", p), (method == "PUT").then(|| json!({"description": "Brighter."})))
            }
            ("DELETE", "/api/products/{id}") => call(format!("/api/products/{}", fx.fresh_product(app).await), None),
            ("POST", "/api/products/{id}/images/upload-url") => {
                call(format!("/api/products/{p}/images/upload-url"), Some(json!({"contentType": "image/png", "contentLength": 1000})))
            }
            ("DELETE", "/api/products/{id}/images/{imageId}") => {
                let images = json!({"images": [format!("https://img.example.com/{}.png", shop_testkit::unique("i"))]});
                let product = ok(&app.call("PUT", &format!("/api/products/{p}"), Some(fx.seller()), Some(images)).await, "image");
                call(format!("/api/products/{p}/images/{}", id_of(&product["images"][0], "id")), None)
            }
            // Reviews: A's review of seller A's product.
            ("POST", "/api/reviews") => {
                call(template, Some(json!({"productId": fx.review_product, "rating": 4, "title": "Good", "content": "Good lamp."})))
            }
            ("GET", "/api/reviews/product/{productId}" | "/api/reviews/product/{productId}/summary") => {
                call(template.replace("{productId}", p), None)
            }
            ("GET", "/api/reviews/user/{userId}") => call(format!("/api/reviews/user/{}", fx.customer_a), None),
            ("PUT", "/api/reviews/{id}") => call(format!("/api/reviews/{}", fx.review), Some(json!({"rating": 4}))),
            ("DELETE", "/api/reviews/{id}") => call(format!("/api/reviews/{}", fx.fresh_review(app).await), None),
            ("POST", "/api/reviews/{id}/helpful" | "/api/reviews/{id}/unhide") => call(template.replace("{id}", &fx.review), None),
            ("POST", "/api/reviews/{id}/hide") => call(format!("/api/reviews/{}/hide", fx.review), Some(json!({"reason": "Checking."}))),
            _ => panic!("no request for {method} {template}: add one to authz.rs"),
        }
    }
}

/// The table's verdict on one answer.
fn verdict(r: &R) -> String {
    match r.status {
        200..=299 => "ok".into(),
        401 | 403 | 404 => r.status.to_string(),
        status => match r.body.get("code").and_then(Value::as_str) {
            Some(code) => format!("{status}:{code}"),
            None => status.to_string(),
        },
    }
}

/// Routes in the order they are called: those that end the callers' sessions or change their
/// passwords last.
fn rank(method: &str, path: &str) -> u8 {
    match (method, path) {
        ("POST", "/api/users/me/password") => 1,
        ("POST", "/api/auth/logout-all") => 2,
        _ => 0,
    }
}

fn table_path() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/local/authz-matrix.txt")
}

#[tokio::test]
async fn every_route_answers_each_caller_as_the_committed_matrix_says() {
    let app = start(false).await;
    let fx = Fixtures::create(&app).await;
    let private = fx.private();

    let mut routes: Vec<(String, String)> = app.cloud.gateway.routes.iter().map(|r| (r.method.clone(), r.path.clone())).collect();
    assert!(routes.len() > 80, "the template's routes: {}", routes.len());
    assert!(routes.iter().all(|(_, path)| !path.starts_with("/internal")), "internal routes are not on the gateway");
    routes.sort_by(|(m1, p1), (m2, p2)| (rank(m1, p1), p1, m1).cmp(&(rank(m2, p2), p2, m2)));

    let mut actual = String::from(HEADER);
    let mut leaks = Vec::new();
    for (method, template) in &routes {
        let mut row = Vec::new();
        for caller in CALLERS {
            let Call { path, body, headers } = fx.request(&app, caller, method, template).await;
            let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let r = app.call_with(method, &path, fx.token(caller), &headers, body).await;
            assert!(r.status < 500, "{method} {path} as {caller:?}: {} {}", r.status, r.body);
            let outsider = matches!(caller, Caller::Anonymous | Caller::CustomerB | Caller::SellerB);
            if outsider && (200..300).contains(&r.status) {
                let text = r.body.to_string();
                let stock_route = ["/api/inventory", "/api/seller/", "/api/orders/seller"].iter().any(|s| template.starts_with(s));
                for id in private.iter().copied().chain(stock_route.then_some(fx.product.as_str())) {
                    if text.contains(id) {
                        leaks.push(format!("{method} {path} as {caller:?} shows {id}: {text}"));
                    }
                }
            }
            row.push(verdict(&r));
        }
        writeln!(actual, "{method} {template}: {}", row.join(" ")).unwrap();
    }
    assert!(leaks.is_empty(), "A's resources shown to others:\n{}", leaks.join("\n"));

    if std::env::var_os("AUTHZ_MATRIX_UPDATE").is_some() {
        std::fs::write(table_path(), &actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(table_path()).expect("authz-matrix.txt (AUTHZ_MATRIX_UPDATE=1 writes it)");
    // Row by row, keyed by route: a changed verdict, a route gone, a route new; then the header.
    let rows = |table: &str| -> BTreeMap<String, String> {
        table
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| l.split_once(": "))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    };
    let (want, got) = (rows(&expected), rows(&actual));
    let mut differences: Vec<String> = want
        .iter()
        .filter(|(route, verdicts)| got.get(*route) != Some(verdicts))
        .map(|(route, verdicts)| format!("{route}: expected {verdicts}, got {}", got.get(route).map_or("no such route", String::as_str)))
        .chain(got.keys().filter(|route| !want.contains_key(*route)).map(|route| format!("{route}: a new route, not in the table")))
        .collect();
    let header = |table: &str| table.lines().filter(|l| l.starts_with('#')).collect::<Vec<_>>().join("\n");
    if header(&expected) != header(&actual) {
        differences.push("the header changed".into());
    }
    assert!(differences.is_empty(), "the authorisation matrix changed:\n{}\n\nactual table:\n{actual}", differences.join("\n"));
}
