//! Availability from the inventory function: the internal routes, what the storefront shows,
//! the search index's `inStock`, and the low-stock listing.

use serde_json::{Value, json};
use shop_internal::{CallError, InternalClient};
use shop_testkit::Req;

use crate::{App, Who, admin, customer, index, seller, state};

struct Shop {
    app: App,
    state: catalog::AppState,
    internal: InternalClient,
    category: String,
}

/// The catalog with its router registered for internal calls (as the local runner does).
async fn shop() -> Shop {
    let state = state().await;
    let router = catalog::router(state.clone());
    let name = shop_testkit::unique("catalog");
    shop_internal::register_local(&name, router.clone());
    let internal = InternalClient::new(shop_testkit::sdk().await, name, "inventory");
    let app = App { router };
    let category = app.category(&admin(), "Phones", None).await["id"].as_str().unwrap().to_owned();
    Shop { app, state, internal, category }
}

impl Shop {
    async fn product(&self, who: &Who, sku: &str, extra: Value) -> Value {
        self.app.product(who, &self.category, sku, extra).await.expect(201)
    }
    async fn set_stock(&self, id: &str, available: u32, threshold: u32) -> Result<(), CallError> {
        let body = json!({"available": available, "lowStockThreshold": threshold});
        self.internal.put::<_, ()>(&format!("/internal/products/{id}/availability"), &body).await
    }
    /// What catalog-indexer does with the stream record of the product's last write.
    async fn reindex(&self, id: &str) {
        let stored = self.state.store.product(id.parse().unwrap()).await.unwrap().unwrap();
        index(&self.state, &[serde_json::to_value(stored).unwrap()]).await;
    }
}

fn status(result: Result<(), CallError>) -> u16 {
    match result {
        Ok(()) => 204,
        Err(e) => e.status().map_or(0, |s| s.as_u16()),
    }
}

#[tokio::test]
async fn a_product_inventory_never_reported_is_out_of_stock() {
    let shop = shop().await;
    let p = shop.product(&seller(), "NEW-1", json!({})).await;
    assert_eq!((p["inStock"].clone(), p["available"].clone()), (json!(false), Value::Null), "one stock source: inventory");
    let read = shop.app.send(Req::get(&format!("/api/products/{}", p["id"].as_str().unwrap()))).await.expect(200);
    assert_eq!(read["inStock"], false);
}

#[tokio::test]
async fn inventory_sets_availability_and_the_storefront_shows_only_n_left_when_low() {
    let shop = shop().await;
    let p = shop.product(&seller(), "STK-1", json!({})).await;
    let id = p["id"].as_str().unwrap();
    let url = format!("/api/products/{id}");
    // Read once so the product is cached: the availability write must invalidate it.
    assert_eq!(shop.app.send(Req::get(&url)).await.expect(200)["inStock"], false);

    assert_eq!(status(shop.set_stock(id, 40, 5).await), 204);
    let plenty = shop.app.send(Req::get(&url)).await.expect(200);
    assert_eq!((plenty["inStock"].clone(), plenty["available"].clone()), (json!(true), Value::Null), "{plenty}");
    assert_eq!(plenty["version"], p["version"], "stock is not a product edit");
    assert_eq!(plenty["updatedAt"], p["updatedAt"]);

    assert_eq!(status(shop.set_stock(id, 3, 5).await), 204);
    let low = shop.app.send(Req::get(&url)).await.expect(200);
    assert_eq!((low["inStock"].clone(), low["available"].clone()), (json!(true), json!(3)), "only 3 left");
    assert_eq!(status(shop.set_stock(id, 3, 5).await), 204, "idempotent");

    assert_eq!(status(shop.set_stock(id, 0, 5).await), 204);
    let gone = shop.app.send(Req::get("/api/products/sku/STK-1")).await.expect(200);
    assert_eq!((gone["inStock"].clone(), gone["available"].clone()), (json!(false), json!(0)));
}

#[tokio::test]
async fn a_seller_edit_keeps_the_stock_and_a_stock_change_never_fails_an_edit() {
    let shop = shop().await;
    let s = seller();
    let p = shop.product(&s, "EDIT-1", json!({})).await;
    let id = p["id"].as_str().unwrap();
    shop.set_stock(id, 2, 5).await.unwrap();
    let edited = shop.app.send_as(&s, Req::put(&format!("/api/products/{id}")).json(json!({"price": 2500}))).await.expect(200);
    assert_eq!((edited["price"].clone(), edited["version"].clone()), (json!(2500), json!(2)));
    let read = shop.app.send(Req::get(&format!("/api/products/{id}"))).await.expect(200);
    assert_eq!((read["inStock"].clone(), read["available"].clone(), read["price"].clone()), (json!(true), json!(2), json!(2500)));
    // Many stock changes racing many edits: every edit succeeds (the store retries an edit that
    // lost to another from a fresh read), and the last stock report survives.
    let edits = (0..4).map(|i| shop.app.send_as(&s, Req::put(&format!("/api/products/{id}")).json(json!({"price": 3000 + i}))));
    let stocks = (0..4).map(|i| shop.set_stock(id, 10 + i, 5));
    let (edits, stocks) = tokio::join!(futures::future::join_all(edits), futures::future::join_all(stocks));
    assert!(stocks.into_iter().all(|r| r.is_ok()));
    assert!(edits.iter().all(|r| r.status == 200), "{:?}", edits.iter().map(|r| r.status).collect::<Vec<_>>());
    shop.set_stock(id, 1, 5).await.unwrap();
    shop.app.send_as(&s, Req::put(&format!("/api/products/{id}")).json(json!({"name": "Renamed"}))).await.expect(200);
    let read = shop.app.send(Req::get(&format!("/api/products/{id}"))).await.expect(200);
    assert_eq!((read["available"].clone(), read["name"].clone()), (json!(1), json!("Renamed")));
}

#[tokio::test]
async fn the_internal_read_shows_any_state_with_deleted_at_and_the_public_api_cannot_reach_it() {
    let shop = shop().await;
    let s = seller();
    let hidden = shop.product(&s, "HID-1", json!({"isActive": false})).await;
    let id = hidden["id"].as_str().unwrap();
    let read: Value = shop.internal.get(&format!("/internal/products/{id}")).await.unwrap();
    assert_eq!((read["isActive"].clone(), read["deletedAt"].clone()), (json!(false), Value::Null), "{read}");
    assert_eq!(read["name"], hidden["name"]);

    shop.app.send_as(&s, Req::delete(&format!("/api/products/{id}"))).await.expect(204);
    let deleted: Value = shop.internal.get(&format!("/internal/products/{id}")).await.unwrap();
    assert!(deleted["deletedAt"].is_string(), "{deleted}");
    assert_eq!(status(shop.set_stock(id, 5, 1).await), 204, "an update for a deleted product is ignored");
    let still: Value = shop.internal.get(&format!("/internal/products/{id}")).await.unwrap();
    assert_eq!(still["inStock"], false);

    let unknown = uuid::Uuid::now_v7();
    let missing = shop.internal.get::<Value>(&format!("/internal/products/{unknown}")).await.unwrap_err();
    assert_eq!(missing.status().map(|s| s.as_u16()), Some(404));
    assert_eq!(status(shop.set_stock(&unknown.to_string(), 1, 1).await), 404);

    // Through API Gateway (no internal request context) the routes do not exist.
    for req in [
        Req::get(&format!("/internal/products/{id}")),
        Req::put(&format!("/internal/products/{id}/availability")).json(json!({"available": 1, "lowStockThreshold": 1})),
    ] {
        let r = shop.app.send_as(&admin(), req).await;
        assert_eq!(r.status.as_u16(), 404);
    }
}

#[tokio::test]
async fn bad_availability_bodies_are_4xx_naming_the_field() {
    let shop = shop().await;
    let p = shop.product(&seller(), "BAD-1", json!({})).await;
    let id = p["id"].as_str().unwrap();
    for body in [
        json!({"available": -1, "lowStockThreshold": 1}),
        json!({"available": "many", "lowStockThreshold": 1}),
        json!({"lowStockThreshold": 1}),
        json!({"available": 1, "lowStockThreshold": 1, "extra": true}),
    ] {
        let err = shop.internal.send(http::Method::PUT, &format!("/internal/products/{id}/availability"), Some(body.clone())).await;
        let Err(CallError::Status { status, problem }) = err else { panic!("{body} accepted") };
        assert!(status.is_client_error(), "{body}: {status}");
        assert!(problem.is_some(), "{body}: problem+json");
    }
    let bad_id = shop.set_stock("not-a-uuid", 1, 1).await;
    assert_eq!(status(bad_id), 400);
}

#[tokio::test]
async fn availability_reaches_the_index_so_the_in_stock_filter_is_correct() {
    let shop = shop().await;
    let s = seller();
    let a = shop.product(&s, "IDX-A", json!({"name": "Alpha Phone"})).await;
    let b = shop.product(&s, "IDX-B", json!({"name": "Beta Phone"})).await;
    let (a, b) = (a["id"].as_str().unwrap(), b["id"].as_str().unwrap());
    shop.reindex(a).await;
    shop.reindex(b).await;
    let names = |page: &Value| page["data"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap().to_owned()).collect::<Vec<_>>();
    assert!(names(&shop.app.send(Req::get("/api/products?inStock=true")).await.expect(200)).is_empty());

    shop.set_stock(a, 7, 2).await.unwrap();
    shop.reindex(a).await;
    let in_stock = shop.app.send(Req::get("/api/products?inStock=true")).await.expect(200);
    assert_eq!(names(&in_stock), ["Alpha Phone"]);
    assert_eq!(in_stock["data"][0]["inStock"], true, "the listed product carries its availability");
    assert_eq!(names(&shop.app.send(Req::get("/api/products?inStock=false")).await.expect(200)), ["Beta Phone"]);

    shop.set_stock(a, 0, 2).await.unwrap();
    shop.reindex(a).await;
    assert!(names(&shop.app.send(Req::get("/api/products?inStock=true")).await.expect(200)).is_empty());
}

#[tokio::test]
async fn low_stock_lists_a_sellers_own_fewest_first_and_admins_everyones() {
    let shop = shop().await;
    let (s1, s2) = (seller(), seller());
    let mut ids = Vec::new();
    for (who, sku, available, threshold) in
        [(&s1, "L-1", 4, 5), (&s1, "L-2", 0, 5), (&s1, "L-3", 50, 5), (&s1, "L-4", 1, 5), (&s2, "L-5", 2, 10), (&s1, "L-6", 5, 5)]
    {
        let p = shop.product(who, sku, json!({})).await;
        let id = p["id"].as_str().unwrap().to_owned();
        shop.set_stock(&id, available, threshold).await.unwrap();
        ids.push(id);
    }
    let skus = |page: &Value| page["data"].as_array().unwrap().iter().map(|p| p["sku"].as_str().unwrap().to_owned()).collect::<Vec<_>>();

    let mine = shop.app.send_as(&s1, Req::get("/api/products/low-stock")).await.expect(200);
    assert_eq!(skus(&mine), ["L-2", "L-4", "L-1", "L-6"], "fewest first, at or below the threshold, own only");
    assert_eq!(mine["meta"]["total"], 4);
    assert_eq!((mine["data"][1]["stockAvailable"].clone(), mine["data"][1]["lowStockThreshold"].clone()), (json!(1), json!(5)));

    let all = shop.app.send_as(&admin(), Req::get("/api/products/low-stock")).await.expect(200);
    assert_eq!(skus(&all), ["L-2", "L-4", "L-5", "L-1", "L-6"]);
    let theirs = shop.app.send_as(&admin(), Req::get(&format!("/api/products/low-stock?sellerId={}", s2.0))).await.expect(200);
    assert_eq!(skus(&theirs), ["L-5"]);
    let paged = shop.app.send_as(&s1, Req::get("/api/products/low-stock?limit=2&page=2")).await.expect(200);
    assert_eq!(skus(&paged), ["L-1", "L-6"]);
    assert_eq!(paged["meta"]["totalPages"], 2);

    // Restocked, deactivated or deleted products leave the list.
    shop.set_stock(&ids[1], 30, 5).await.unwrap();
    shop.app.send_as(&s1, Req::put(&format!("/api/products/{}", ids[3])).json(json!({"isActive": false}))).await.expect(200);
    shop.app.send_as(&s1, Req::delete(&format!("/api/products/{}", ids[0]))).await.expect(204);
    let now = shop.app.send_as(&s1, Req::get("/api/products/low-stock")).await.expect(200);
    assert_eq!(skus(&now), ["L-6"]);
}

#[tokio::test]
async fn low_stock_is_for_sellers_and_admins_with_sane_parameters() {
    let shop = shop().await;
    let s = seller();
    shop.app.send_as(&customer(), Req::get("/api/products/low-stock")).await.expect_problem(403, "forbidden");
    let r = shop.app.send(Req::get("/api/products/low-stock")).await;
    assert_eq!(r.status.as_u16(), 401);
    shop.app.send_as(&s, Req::get(&format!("/api/products/low-stock?sellerId={}", seller().0))).await.expect_problem(403, "forbidden");
    let own = shop.app.send_as(&s, Req::get(&format!("/api/products/low-stock?sellerId={}", s.0))).await.expect(200);
    assert_eq!(own["meta"]["total"], 0);
    for (query, field) in [("limit=101", "limit"), ("page=0", "page"), ("sellerId=nope", "sellerId"), ("colour=red", "colour")] {
        let problem = shop.app.send_as(&admin(), Req::get(&format!("/api/products/low-stock?{query}"))).await;
        assert_eq!(problem.status.as_u16(), 400, "{query}: {}", problem.json());
        assert!(problem.json().to_string().contains(field), "{query}: {}", problem.json());
    }
}

#[tokio::test]
async fn ratings_from_reviews_are_kept_only_when_newer_survive_edits_and_reach_the_rating_sort() {
    let shop = shop().await;
    let s = seller();
    let a = shop.product(&s, "RAT-A", json!({"name": "Alpha Lamp"})).await;
    let b = shop.product(&s, "RAT-B", json!({"name": "Beta Lamp"})).await;
    let (a, b) = (a["id"].as_str().unwrap().to_owned(), b["id"].as_str().unwrap().to_owned());
    let rate = |id: String, average: f64, count: u32, version: u64| {
        let body = json!({"average": average, "count": count, "version": version});
        let internal = shop.internal.clone();
        async move { internal.put::<_, ()>(&format!("/internal/products/{id}/rating"), &body).await }
    };
    let shown = |id: String| {
        let app = &shop.app;
        async move {
            let p = app.send(Req::get(&format!("/api/products/{id}"))).await.expect(200);
            (p["ratingAverage"].as_f64().unwrap(), p["ratingCount"].as_u64().unwrap())
        }
    };
    // Read once so the product is cached: the rating write must invalidate it.
    assert_eq!(shown(a.clone()).await, (0.0, 0));
    assert_eq!(status(rate(a.clone(), 4.5, 2, 3).await), 204);
    assert_eq!(shown(a.clone()).await, (4.5, 2));
    assert_eq!(status(rate(a.clone(), 1.0, 1, 2).await), 204, "an older report is acknowledged");
    assert_eq!(status(rate(a.clone(), 1.0, 1, 3).await), 204, "and so is a repeat");
    assert_eq!(shown(a.clone()).await, (4.5, 2), "neither changed it");
    // A seller's edit never writes the rating.
    shop.app.send_as(&s, Req::put(&format!("/api/products/{a}")).json(json!({"price": 2_999}))).await.expect(200);
    assert_eq!(shown(a.clone()).await, (4.5, 2));
    assert_eq!(status(rate(b.clone(), 2.0, 1, 1).await), 204);

    // The index sorts by it.
    shop.reindex(&a).await;
    shop.reindex(&b).await;
    let page = shop.app.send(Req::get("/api/products?q=lamp&sort=rating")).await.expect(200);
    let names: Vec<&str> = page["data"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Alpha Lamp", "Beta Lamp"]);
    assert_eq!(status(rate(b.clone(), 5.0, 3, 2).await), 204);
    shop.reindex(&b).await;
    let page = shop.app.send(Req::get("/api/products?q=lamp&sort=rating")).await.expect(200);
    let names: Vec<&str> = page["data"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Beta Lamp", "Alpha Lamp"]);

    assert_eq!(status(rate(uuid::Uuid::now_v7().to_string(), 3.0, 1, 1).await), 404);
    for body in [
        json!({"average": 5.1, "count": 1, "version": 1}),
        json!({"average": 3.0, "count": -1, "version": 1}),
        json!({"average": 3.0, "count": 1}),
    ] {
        let err = shop.internal.send(http::Method::PUT, &format!("/internal/products/{a}/rating"), Some(body.clone())).await;
        let Err(CallError::Status { status, problem }) = err else { panic!("{body} accepted") };
        assert_eq!(status.as_u16(), 422, "{body}");
        assert!(problem.is_some(), "{body}: problem+json");
    }
    assert_eq!(shown(a).await, (4.5, 2));
}
