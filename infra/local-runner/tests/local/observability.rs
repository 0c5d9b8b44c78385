//! Operations, seen from the local cloud: what the functions log (every line of a whole
//! shopping run, captured with the JSON subscriber the functions use in Lambda) and what they
//! count (`GET /_local/metrics`, the sums of every EMF document).
//!
//! Each test runs in its own process (nextest), so the captured lines and the metric sums are
//! this test's own.

use std::sync::Mutex;

use serde_json::{Value, json};
use shop_testkit::stripe::{self, CARD_OK};

use crate::helpers::{Running, eventually, mails_to, order, product_with_stock, register_buyer, start};

/// Every byte the subscriber wrote in this process.
static CAPTURED: Mutex<Vec<u8>> = Mutex::new(Vec::new());

struct Capture;

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        CAPTURED.lock().unwrap_or_else(std::sync::PoisonError::into_inner).extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The captured log lines so far.
fn captured() -> Vec<String> {
    let bytes = CAPTURED.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
    String::from_utf8_lossy(&bytes).lines().map(str::to_owned).collect()
}

/// The request lines (`message: "request"`) of public routes, parsed.
fn request_lines(lines: &[String]) -> Vec<Value> {
    lines
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|l| l["message"] == "request" && !l["span"]["route"].as_str().unwrap_or("").starts_with("/internal/"))
        .collect()
}

#[tokio::test]
async fn no_password_token_secret_card_or_address_reaches_the_logs_of_a_whole_shopping_run() {
    // The functions' own JSON subscriber, at the most verbose level the template allows
    // (LogLevel: TRACE; production logs at INFO), from the start.
    assert!(shop_core::telemetry::init_with_writer("trace", || Capture), "no other subscriber in this process");
    let app = start(true).await;
    let planted = shop_testkit::unique("");
    let password = format!("Planted-Pass-{planted}");
    let new_password = format!("Planted-New-{planted}");
    let street = format!("{planted} Planted Lane");
    let email = format!("{}@example.com", shop_testkit::unique("logged"));

    // Accounts: register, a wrong password, a malformed body, login, refresh, a reset by email.
    let registered = app
        .call(
            "POST",
            "/api/auth/register",
            None,
            Some(json!({"email": email, "password": password, "firstName": "Ada", "lastName": "Lovelace"})),
        )
        .await;
    assert_eq!(registered.status, 201, "{}", registered.body);
    let wrong = app.call("POST", "/api/auth/login", None, Some(json!({"email": email, "password": format!("{password}-wrong")}))).await;
    assert_eq!(wrong.status, 401);
    let malformed = app
        .http
        .post(format!("{}/api/auth/login", app.base))
        .header("content-type", "application/json")
        .body(format!(r#"{{"email": "{email}", "password": "{password}""#))
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status().as_u16(), 400);
    let session = app.login(&email, &password).await;
    let first_access = session["accessToken"].as_str().unwrap().to_owned();
    let first_refresh = session["refreshToken"].as_str().unwrap().to_owned();
    let refreshed = app.call("POST", "/api/auth/refresh", None, Some(json!({"refreshToken": first_refresh}))).await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.body);
    assert_eq!(app.call("POST", "/api/auth/forgot-password", None, Some(json!({"email": email}))).await.status, 200);
    eventually("the reset email", || async {
        mails_to(&app, &email).await.iter().any(|m| m["subject"].as_str().unwrap_or("").contains("Reset"))
    })
    .await;
    let mail = mails_to(&app, &email).await.into_iter().find(|m| m["subject"].as_str().unwrap_or("").contains("Reset")).unwrap();
    let html = mail["html"].as_str().unwrap_or_default();
    let reset_token: String = html.split("token=").nth(1).unwrap_or("").chars().take_while(char::is_ascii_hexdigit).collect();
    assert_eq!(reset_token.len(), 64, "{html}");
    let reset = app.call("POST", "/api/auth/reset-password", None, Some(json!({"token": reset_token, "newPassword": new_password}))).await;
    assert_eq!(reset.status, 200, "{}", reset.body);
    let session = app.login(&email, &new_password).await;
    let access = session["accessToken"].as_str().unwrap().to_owned();
    let refresh = session["refreshToken"].as_str().unwrap().to_owned();
    let me = app.call("GET", "/api/users/me", Some(&access), None).await;
    let user_id = me.body["id"].as_str().unwrap_or_else(|| panic!("{}", me.body)).to_owned();

    // A card checkout to a planted street, paid on localstripe; its webhook confirms the order.
    let admin = app.admin_token().await;
    let product = product_with_stock(&app, &admin, 5).await;
    let add = app.call("POST", "/api/cart/items", Some(&access), Some(json!({"productId": product, "quantity": 1}))).await;
    assert_eq!(add.status, 200, "{}", add.body);
    let address = json!({"firstName": "Ada", "lastName": "Lovelace", "address1": street, "city": "London", "state": "LDN",
        "postalCode": "SW1Y 4JH", "country": "GB"});
    let placed = app
        .call_with(
            "POST",
            "/api/orders",
            Some(&access),
            &[("idempotency-key", "logs-1")],
            Some(json!({"shippingAddress": address, "paymentMethod": "card"})),
        )
        .await;
    assert_eq!(placed.status, 201, "{}", placed.body);
    let order_id = placed.body["id"].as_str().unwrap().to_owned();
    let intent = app.call("POST", "/api/payments/intents", Some(&access), Some(json!({"orderId": order_id}))).await;
    assert!(matches!(intent.status, 200 | 201), "{}", intent.body);
    let client_secret = intent.body["clientSecret"].as_str().unwrap_or_else(|| panic!("{}", intent.body)).to_owned();
    let (paid, _) = stripe::pay(intent.body["paymentIntentId"].as_str().unwrap(), CARD_OK).await;
    assert_eq!(paid, 200);
    eventually("the order confirmed by the webhook", || async {
        app.call("GET", &format!("/api/orders/{order_id}"), Some(&access), None).await.body["status"] == "CONFIRMED"
    })
    .await;
    let number = placed.body["orderNumber"].as_str().unwrap().to_owned();
    eventually("the confirmation email", || async {
        mails_to(&app, &email).await.iter().any(|m| m["subject"].as_str().unwrap_or("").contains(&number))
    })
    .await;
    let webhook_secret = app.cloud.stripe_webhook.as_ref().expect("the webhook is wired").secret.clone();
    let stripe_key = app.cloud.environments["PaymentsFunction"].get("STRIPE_SECRET_KEY").cloned().unwrap_or(stripe::KEY.to_owned());

    let lines = captured();
    // The capture is real: it holds the request lines of this run, with their fields.
    let requests = request_lines(&lines);
    let seen = |method: &str, route: &str, status: u64| {
        requests.iter().any(|l| l["span"]["method"] == method && l["span"]["route"] == route && l["status"] == status)
    };
    for (method, route, status) in [
        ("POST", "/api/auth/register", 201),
        ("POST", "/api/auth/login", 401),
        ("POST", "/api/auth/login", 400),
        ("POST", "/api/auth/login", 200),
        ("POST", "/api/auth/refresh", 200),
        ("POST", "/api/auth/reset-password", 200),
        ("POST", "/api/orders", 201),
        ("POST", "/api/payments/intents", 201),
        ("POST", "/api/payments/webhook", 200),
        ("GET", "/api/orders/{id}", 200),
    ] {
        assert!(seen(method, route, status), "a request line for {method} {route} {status} among {} request lines", requests.len());
    }
    for line in &requests {
        let span = &line["span"];
        for field in ["request_id", "trace_id", "function", "method", "route"] {
            assert!(span[field].as_str().is_some_and(|v| !v.is_empty()), "{field} in {line}");
        }
        assert!(span["trace_id"].as_str().unwrap().starts_with("1-"), "{line}");
        assert!(line["latency_ms"].is_number() && line["status"].is_number(), "{line}");
        assert!(!span["route"].as_str().unwrap().contains(&order_id), "routes are templates: {line}");
    }
    let mine: Vec<&Value> = requests.iter().filter(|l| l["span"]["route"] == "/api/orders/{id}").collect();
    assert!(mine.iter().all(|l| l["span"]["user_id"] == user_id.as_str()), "the user id (sub) is logged: {mine:?}");

    // None of the planted values appears anywhere in any line.
    let secrets = [
        ("the password", password.as_str()),
        ("the new password", new_password.as_str()),
        ("the first access token", first_access.as_str()),
        ("the first refresh token", first_refresh.as_str()),
        ("the access token", access.as_str()),
        ("the refresh token", refresh.as_str()),
        ("the password reset token", reset_token.as_str()),
        ("the address line", street.as_str()),
        ("the card number", CARD_OK),
        ("the payment intent's client secret", client_secret.as_str()),
        ("the Stripe secret key", stripe_key.as_str()),
        ("the webhook signing secret", webhook_secret.as_str()),
        ("the email address", email.as_str()),
    ];
    for (what, value) in secrets {
        assert!(value.len() >= 8, "{what} is a real value: {value:?}");
        // A token's signature part alone is as secret as the token.
        let tail = &value[value.len().saturating_sub(24)..];
        let leaks: Vec<&String> = lines.iter().filter(|l| l.contains(value) || (value.len() > 40 && l.contains(tail))).collect();
        assert!(leaks.is_empty(), "{what} is in {} of {} log lines, e.g. {}", leaks.len(), lines.len(), leaks[0]);
    }
}

/// The sum of `metric` by `dimension` (a service or function) in `GET /_local/metrics`.
fn sum(metrics: &Value, dimension: &str, metric: &str) -> i64 {
    metrics[shop_core::metrics::NAMESPACE][dimension][metric]["sum"].as_i64().unwrap_or(0)
}

async fn metrics(app: &Running) -> Value {
    let r = app.call("GET", "/_local/metrics", None, None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body
}

#[tokio::test]
async fn a_checkout_moves_the_business_metrics_by_what_it_did() {
    let app = start(true).await;
    let started = metrics(&app).await;
    // One cold start per function of the template.
    assert!(!app.cloud.environments.is_empty());
    for function in app.cloud.environments.keys() {
        assert_eq!(sum(&started, function, "ColdStart"), 1, "{function}: {started}");
        assert_eq!(started["Skyshop"][function]["ColdStart"]["unit"], "Count");
    }
    let admin = app.admin_token().await;
    let product = product_with_stock(&app, &admin, 10).await;
    let (registered, email) = register_buyer(&app).await;
    let token = registered["accessToken"].as_str().unwrap().to_owned();
    eventually("the welcome email", || async { !mails_to(&app, &email).await.is_empty() }).await;
    let add = app.call("POST", "/api/cart/items", Some(&token), Some(json!({"productId": product, "quantity": 3}))).await;
    assert_eq!(add.status, 200, "{}", add.body);
    let before = metrics(&app).await;

    // Cash on delivery: placed and confirmed at once, its reservation committed, one email.
    let placed = order(&app, &token, "metrics-1", "cod").await;
    assert_eq!(placed.status, 201, "{}", placed.body);
    let total = placed.body["total"].as_i64().unwrap();
    assert!(total >= 3 * 4_999, "{}", placed.body);
    let number = placed.body["orderNumber"].as_str().unwrap().to_owned();
    eventually("the confirmation email", || async {
        mails_to(&app, &email).await.iter().any(|m| m["subject"].as_str().unwrap_or("").contains(&number))
    })
    .await;
    let expected = [
        ("orders", "OrderPlaced", 1),
        ("orders", "Revenue", total),
        ("inventory", "StockReserved", 1),
        ("inventory", "StockCommitted", 1),
        ("notifications", "EmailSent", 1),
        ("notifications", "EmailFailed", 0),
        ("inventory", "StockOut", 0),
    ];
    let deltas = |now: &Value| expected.map(|(d, m, _)| (d, m, sum(now, d, m) - sum(&before, d, m)));
    eventually("the metrics of the checkout", || async { deltas(&metrics(&app).await) == expected }).await;
    // And no more arrives after a while (the email sent once, the reservation committed once).
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let after = metrics(&app).await;
    assert_eq!(deltas(&after), expected, "{after}");
    assert_eq!(after["Skyshop"]["orders"]["Revenue"]["unit"], "None", "money in minor units");
    assert_eq!(after["Skyshop"]["orders"]["OrderPlaced"]["unit"], "Count");

    // Stock sold elsewhere between the cart and the order: inventory counts a stock-out at the
    // reservation and nothing is placed.
    let add = app.call("POST", "/api/cart/items", Some(&token), Some(json!({"productId": product, "quantity": 3}))).await;
    assert_eq!(add.status, 200, "{}", add.body);
    let s =
        app.call("PUT", &format!("/api/inventory/{product}"), Some(&admin), Some(json!({"available": 1, "lowStockThreshold": 0}))).await;
    assert_eq!(s.status, 200, "{}", s.body);
    let refused = order(&app, &token, "metrics-2", "cod").await;
    assert!((400..500).contains(&refused.status), "{} {}", refused.status, refused.body);
    let now = metrics(&app).await;
    assert_eq!(sum(&now, "inventory", "StockOut") - sum(&after, "inventory", "StockOut"), 1, "{now}");
    assert_eq!(sum(&now, "orders", "OrderPlaced"), sum(&after, "orders", "OrderPlaced"), "{now}");
    assert_eq!(sum(&now, "orders", "Revenue"), sum(&after, "orders", "Revenue"), "{now}");
}
