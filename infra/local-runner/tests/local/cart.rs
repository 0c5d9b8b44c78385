use serde_json::{Value, json};

use crate::helpers::{R, Running, customer, start};

/// A request with an optional bearer and an optional guest cart token.
async fn cart_call(app: &Running, method: &str, path: &str, bearer: Option<&str>, cart_token: Option<&str>, body: Option<Value>) -> R {
    let headers: Vec<(&str, &str)> = cart_token.map(|t| ("x-cart-token", t)).into_iter().collect();
    app.call_with(method, path, bearer, &headers, body).await
}

/// The "done when": through the local runner (API Gateway emulation, real functions,
/// internal calls in-process) a guest fills a cart, logs in, merges it, applies SAVE10 with the
/// seed's numbers and cannot exceed stock; a second user cannot touch the first user's cart.
#[tokio::test]
async fn a_guest_cart_becomes_the_users_with_save10_and_never_exceeds_stock() {
    let app = start(false).await;
    let admin = app.admin_token().await;
    let category = app.call("POST", "/api/categories", Some(&admin), Some(json!({"name": shop_testkit::unique("Mugs")}))).await;
    assert_eq!(category.status, 201, "{}", category.body);
    let mut products = Vec::new();
    for (name, price, stock) in [("Mug", 1999, 5), ("Lamp", 4999, 2)] {
        let body = json!({"name": name, "sku": shop_testkit::unique("SKU"), "description": "A thing.", "price": price, "categoryId": category.body["id"]});
        let p = app.call("POST", "/api/products", Some(&admin), Some(body)).await;
        assert_eq!(p.status, 201, "{}", p.body);
        let id = p.body["id"].as_str().unwrap().to_owned();
        let s =
            app.call("PUT", &format!("/api/inventory/{id}"), Some(&admin), Some(json!({"available": stock, "lowStockThreshold": 0}))).await;
        assert_eq!(s.status, 200, "{}", s.body);
        products.push(id);
    }
    let (mug, lamp) = (&products[0], &products[1]);

    let created = cart_call(&app, "POST", "/api/cart", None, None, None).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let token = created.body["cartToken"].as_str().unwrap().to_owned();
    for (product, quantity) in [(mug, 3), (lamp, 1)] {
        let r =
            cart_call(&app, "POST", "/api/cart/items", None, Some(&token), Some(json!({"productId": product, "quantity": quantity}))).await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    assert_eq!(cart_call(&app, "GET", "/api/cart", None, None, None).await.status, 404, "a guest cart needs its token");

    let user = customer(&app).await;
    let merged = cart_call(&app, "POST", "/api/cart/merge", Some(&user), Some(&token), None).await;
    assert_eq!(merged.status, 200, "{}", merged.body);
    assert_eq!(merged.body["subtotal"], 10_996);
    assert_eq!(cart_call(&app, "GET", "/api/cart", None, Some(&token), None).await.status, 404, "the guest cart is gone");

    let cart = cart_call(&app, "POST", "/api/cart/coupon", Some(&user), None, Some(json!({"code": "SAVE10"}))).await;
    assert_eq!(cart.status, 200, "{}", cart.body);
    let totals: Vec<&Value> =
        ["subtotal", "discount", "estimatedShipping", "estimatedTax", "total"].iter().map(|k| &cart.body[*k]).collect();
    assert_eq!(totals, vec![&json!(10_996), &json!(1_100), &json!(0), &json!(792), &json!(10_688)]);

    let over = cart_call(&app, "POST", "/api/cart/items", Some(&user), None, Some(json!({"productId": mug, "quantity": 3}))).await;
    assert_eq!(over.status, 422, "{}", over.body);
    assert_eq!(over.body["code"], "insufficient_stock");

    let other = customer(&app).await;
    assert_eq!(cart_call(&app, "GET", "/api/cart", Some(&other), None, None).await.status, 404);
    let put = cart_call(&app, "PUT", &format!("/api/cart/items/{mug}"), Some(&other), None, Some(json!({"quantity": 1}))).await;
    assert_eq!(put.status, 404, "{}", put.body);
    assert_eq!(cart_call(&app, "DELETE", "/api/cart", Some(&other), Some(&token), None).await.status, 404);
    let mine = cart_call(&app, "GET", "/api/cart", Some(&user), None, None).await;
    assert_eq!(mine.body["total"], 10_688, "{}", mine.body);

    // Coupon administration is admin-only at the edge.
    let r = app.call("GET", "/api/coupons", Some(&user), None).await;
    assert_eq!(r.status, 403, "{}", r.body);
    let r = app.call("GET", "/api/coupons", Some(&admin), None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["meta"]["total"], 4, "the seed's coupons");
}
