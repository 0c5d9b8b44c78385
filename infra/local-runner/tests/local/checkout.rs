//! The README's checkout walk through the local runner with its pollers on: browse → cart →
//! order with an Idempotency-Key → COD confirmed → admin ships with tracking → emails in
//! `/_local/mail` → the customer cancels another order → its stock is back.

use serde_json::{Value, json};

use crate::helpers::{eventually, mails_to, order, product_with_stock, register_buyer, start};

#[tokio::test]
async fn the_readme_checkout_walk_works_end_to_end() {
    let app = start(true).await;
    let admin = app.admin_token().await;
    let product = product_with_stock(&app, &admin, 10).await;
    let (registered, email) = register_buyer(&app).await;
    let token = registered["accessToken"].as_str().unwrap().to_owned();
    let add = |quantity: u32| app.call("POST", "/api/cart/items", Some(&token), Some(json!({"productId": product, "quantity": quantity})));
    assert_eq!(add(3).await.status, 200);

    // Cash on delivery: CONFIRMED at once; the same key again is the same order.
    let placed = order(&app, &token, "walk-1", "cod").await;
    assert_eq!(placed.status, 201, "{}", placed.body);
    assert_eq!(placed.body["status"], "CONFIRMED");
    let again = order(&app, &token, "walk-1", "cod").await;
    assert_eq!((again.status, &again.body), (200, &placed.body));
    let id = placed.body["id"].as_str().unwrap().to_owned();
    let number = placed.body["orderNumber"].as_str().unwrap().to_owned();

    // The admin ships it with tracking, then it is delivered.
    for body in [
        json!({"status": "PROCESSING"}),
        json!({"status": "SHIPPED", "trackingNumber": "1Z999AA1", "carrier": "UPS"}),
        json!({"status": "DELIVERED"}),
    ] {
        let r = app.call("PATCH", &format!("/api/orders/{id}/status"), Some(&admin), Some(body)).await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    // A customer may not move orders (the route's scopes, then the function).
    assert_eq!(app.call("PATCH", &format!("/api/orders/{id}/status"), Some(&token), Some(json!({"status": "REFUNDED"}))).await.status, 403);

    // Emails: confirmation, shipping update (with tracking), delivered — once each.
    eventually("three order emails", || async {
        mails_to(&app, &email).await.iter().filter(|m| m["subject"].as_str().unwrap_or("").contains(&number)).count() >= 3
    })
    .await;
    let mails: Vec<Value> =
        mails_to(&app, &email).await.into_iter().filter(|m| m["subject"].as_str().unwrap_or("").contains(&number)).collect();
    assert_eq!(mails.len(), 3, "{mails:?}");
    assert!(mails.iter().any(|m| m["subject"].as_str().unwrap().starts_with("Order Confirmation")));
    assert!(mails.iter().any(|m| m["html"].as_str().unwrap_or("").contains("1Z999AA1")));

    // Inventory committed the COD order's reservation (OrderConfirmed): 7 left, none held.
    eventually("the reservation committed", || async {
        let s = app.call("GET", &format!("/api/inventory/{product}"), Some(&admin), None).await;
        s.body["available"] == 7 && s.body["reserved"] == 0
    })
    .await;

    // Another order, cancelled by the customer: its stock comes back once.
    assert_eq!(add(2).await.status, 200);
    let second = order(&app, &token, "walk-2", "card").await;
    assert_eq!(second.status, 201, "{}", second.body);
    let second_id = second.body["id"].as_str().unwrap().to_owned();
    let held = app.call("GET", &format!("/api/inventory/{product}"), Some(&admin), None).await;
    assert_eq!((held.body["available"].as_i64(), held.body["reserved"].as_i64()), (Some(5), Some(2)));
    let cancelled = app.call("POST", &format!("/api/orders/{second_id}/cancel"), Some(&token), None).await;
    assert_eq!((cancelled.status, cancelled.body["status"].as_str()), (200, Some("CANCELLED")), "{}", cancelled.body);
    eventually("the stock back", || async {
        let s = app.call("GET", &format!("/api/inventory/{product}"), Some(&admin), None).await;
        s.body["available"] == 7 && s.body["reserved"] == 0
    })
    .await;
    let second_number = second.body["orderNumber"].as_str().unwrap().to_owned();
    eventually("the cancellation email", || async {
        mails_to(&app, &email).await.iter().any(|m| m["subject"].as_str().unwrap_or("").contains(&second_number))
    })
    .await;

    let mine = app.call("GET", "/api/orders", Some(&token), None).await;
    assert_eq!(mine.body["meta"]["total"], 2, "{}", mine.body);
}
