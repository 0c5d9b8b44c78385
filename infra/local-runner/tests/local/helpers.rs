use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use local_runner::cloud::{LocalCloud, Options};
use serde_json::{Value, json};

pub const ADMIN_PASSWORD: &str = "Local-Admin-Pass-1";

/// A local cloud with its own tables, queues and secret, served on a random port.
pub struct Running {
    pub cloud: Arc<LocalCloud>,
    pub base: String,
    pub http: reqwest::Client,
}

pub async fn start(pollers: bool) -> Running {
    start_with(pollers, None).await
}

/// [`start`] with the emulated WAF rate rules scaled by `waf_scale` (limits and windows).
pub async fn start_with(pollers: bool, waf_scale: Option<f64>) -> Running {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let suffix = shop_testkit::unique("");
    let cloud = LocalCloud::start(Options { port, suffix, admin_password: Some(ADMIN_PASSWORD.into()), serving: true, waf_scale })
        .await
        .expect("the local cloud starts");
    if pollers {
        cloud.start_pollers();
    }
    let app = local_runner::gateway::app(cloud.gateway.clone());
    tokio::spawn(async move {
        axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).await.unwrap();
    });
    Running { cloud: Arc::new(cloud), base: format!("http://127.0.0.1:{port}"), http: reqwest::Client::new() }
}

/// A response's status and JSON body.
pub struct R {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Running {
    pub async fn call(&self, method: &str, path: &str, token: Option<&str>, body: Option<Value>) -> R {
        self.call_with(method, path, token, &[], body).await
    }

    /// [`Running::call`] with extra request headers.
    pub async fn call_with(&self, method: &str, path: &str, token: Option<&str>, headers: &[(&str, &str)], body: Option<Value>) -> R {
        Self::send(&self.http, &self.base, method, path, token, headers, body).await
    }

    /// [`Running::call`] from the local address `from` (a loopback address such as 127.0.0.2):
    /// another client IP as the runner sees it (the TCP peer).
    pub async fn call_from(&self, from: [u8; 4], method: &str, path: &str, body: Option<Value>) -> R {
        let client = reqwest::Client::builder().local_address(IpAddr::from(from)).build().unwrap();
        Self::send(&client, &self.base, method, path, None, &[], body).await
    }

    async fn send(
        http: &reqwest::Client,
        base: &str,
        method: &str,
        path: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: Option<Value>,
    ) -> R {
        let mut req = http.request(method.parse().unwrap(), format!("{base}{path}"));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap();
        let body = if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
        R { status, headers, body }
    }

    pub async fn login(&self, email: &str, password: &str) -> Value {
        let r = self.call("POST", "/api/auth/login", None, Some(json!({"email": email, "password": password}))).await;
        assert_eq!(r.status, 200, "{}", r.body);
        r.body
    }

    pub async fn admin_token(&self) -> String {
        self.login(local_runner::cloud::ADMIN_EMAIL, ADMIN_PASSWORD).await["accessToken"].as_str().unwrap().to_owned()
    }
}

/// Places an order from the cart of `token` (`cod` or `card`) with an Idempotency-Key.
pub async fn order(app: &Running, token: &str, key: &str, method: &str) -> R {
    let address = json!({"firstName": "Ada", "lastName": "Lovelace", "address1": "12 St James's Square", "city": "London",
        "state": "LDN", "postalCode": "SW1Y 4JH", "country": "GB"});
    let body = json!({"shippingAddress": address, "paymentMethod": method});
    app.call_with("POST", "/api/orders", Some(token), &[("idempotency-key", key)], Some(body)).await
}

/// Polls until `check` holds (the consumers run behind queues), or fails after 30 s.
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(30) {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("{what}: not after 30 s");
}

/// The mails captured for `email` (`/_local/mail`).
pub async fn mails_to(app: &Running, email: &str) -> Vec<Value> {
    let all = app.call("GET", "/_local/mail", None, None).await.body;
    all.as_array().cloned().unwrap_or_default().into_iter().filter(|m| m["to"].to_string().contains(email)).collect()
}

/// A new category and a product in it with `stock` units (as the admin): the product id.
pub async fn product_with_stock(app: &Running, admin: &str, stock: u32) -> String {
    let category = app.call("POST", "/api/categories", Some(admin), Some(json!({"name": shop_testkit::unique("Lamps")}))).await;
    assert_eq!(category.status, 201, "{}", category.body);
    let p = app
        .call("POST", "/api/products", Some(admin), Some(json!({"name": "Desk lamp", "sku": shop_testkit::unique("SKU"), "description": "Bright.", "price": 4_999, "categoryId": category.body["id"]})))
        .await;
    assert_eq!(p.status, 201, "{}", p.body);
    let product = p.body["id"].as_str().unwrap().to_owned();
    let s =
        app.call("PUT", &format!("/api/inventory/{product}"), Some(admin), Some(json!({"available": stock, "lowStockThreshold": 0}))).await;
    assert_eq!(s.status, 200, "{}", s.body);
    product
}

/// The password of every customer [`register_buyer`] registers.
pub const BUYER_PASSWORD: &str = "Correct-Horse-9";

/// A newly registered customer (Ada Lovelace at a unique address): (registration body, email).
pub async fn register_buyer(app: &Running) -> (Value, String) {
    let email = format!("{}@example.com", shop_testkit::unique("buyer"));
    let registered = app
        .call(
            "POST",
            "/api/auth/register",
            None,
            Some(json!({"email": email, "password": BUYER_PASSWORD, "firstName": "Ada", "lastName": "Lovelace"})),
        )
        .await;
    assert_eq!(registered.status, 201, "{}", registered.body);
    (registered.body, email)
}

/// A newly registered customer's access token ([`register_buyer`]).
pub async fn customer(app: &Running) -> String {
    register_buyer(app).await.0["accessToken"].as_str().unwrap().to_owned()
}
