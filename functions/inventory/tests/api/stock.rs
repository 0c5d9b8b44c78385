//! `/api/inventory*`: roles, ownership, validation, set / adjust / bulk / low-stock.

use serde_json::json;
use shop_testkit::Req;
use uuid::Uuid;

use crate::{ctx, customer, seller};

#[tokio::test]
async fn a_seller_sets_stock_of_their_product_and_reads_it_back() {
    let ctx = ctx().await;
    let seller = seller();
    let id = ctx.product(&seller).await;
    ctx.send_as(&seller, Req::get(&format!("/api/inventory/{id}"))).await.expect_problem(404, "not_found");

    let body = ctx.send_as(&seller, Req::put(&format!("/api/inventory/{id}")).json(json!({"available": 25}))).await.expect(200);
    assert_eq!(body["productId"], id.to_string());
    assert_eq!(body["available"], 25);
    assert_eq!(body["reserved"], 0);
    assert_eq!(body["lowStockThreshold"], 10, "default threshold");
    assert_eq!(body["inStock"], true);
    assert!(body["updatedAt"].is_string());
    let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
    assert_eq!(keys.len(), 6, "{keys:?}");

    let read = ctx.send_as(&seller, Req::get(&format!("/api/inventory/{id}"))).await.expect(200);
    assert_eq!(read, body);
    let stored = ctx.stock(id).await;
    assert_eq!(stored.seller_id, Some(seller.id()), "the seller comes from the catalog");
    assert!(stored.product_name.starts_with("Product "));
    assert!(stored.sku.is_some());

    // The threshold stays when not given; 0 is out of stock.
    ctx.send_as(&seller, Req::put(&format!("/api/inventory/{id}")).json(json!({"available": 0, "lowStockThreshold": 3}))).await.expect(200);
    let body = ctx.send_as(&seller, Req::put(&format!("/api/inventory/{id}")).json(json!({"available": 0}))).await.expect(200);
    assert_eq!(body["lowStockThreshold"], 3);
    assert_eq!(body["inStock"], false);
    assert_eq!(ctx.stock(id).await.version, 3);
}

#[tokio::test]
async fn customers_other_sellers_and_anonymous_callers_are_refused() {
    let ctx = ctx().await;
    let (owner, other) = (seller(), seller());
    let id = ctx.stocked(&owner, 5, 10).await;
    // Another seller learns nothing of the stock: 404 as for no product, left out of a list, and
    // `unknown_product` in a bulk; never 403, which would say it exists.
    let paths = [
        (Req::get(&format!("/api/inventory/{id}")), 404),
        (Req::get(&format!("/api/inventory?ids={id}")), 200),
        (Req::put(&format!("/api/inventory/{id}")).json(json!({"available": 1})), 404),
        (Req::post(&format!("/api/inventory/{id}/adjust")).json(json!({"delta": 1, "reason": "count"})), 404),
        (Req::post("/api/inventory/bulk").json(json!({"items": [{"productId": id, "available": 1}]})), 422),
    ];
    for (req, for_other) in paths {
        ctx.send_as(&customer(), req.clone()).await.expect_problem(403, "forbidden");
        match for_other {
            200 => assert_eq!(ctx.send_as(&other, req.clone()).await.expect(200)["items"], json!([])),
            404 => {
                ctx.send_as(&other, req.clone()).await.expect_problem(404, "not_found");
            }
            _ => {
                let problem = ctx.send_as(&other, req.clone()).await.expect_problem(422, "validation_failed");
                assert_eq!(problem["errors"][0]["code"], "unknown_product");
            }
        }
        req.send(&ctx.router).await.expect_problem(401, "unauthenticated");
    }
    assert_eq!(ctx.stock(id).await.available, 5, "nothing written by the refused calls");
    ctx.send_as(&customer(), Req::get("/api/inventory/low-stock")).await.expect_problem(403, "forbidden");
    // Admins may do everything.
    ctx.send_as(&ctx.admin, Req::get(&format!("/api/inventory/{id}"))).await.expect(200);
    ctx.send_as(&ctx.admin, Req::put(&format!("/api/inventory/{id}")).json(json!({"available": 7}))).await.expect(200);
    assert_eq!(ctx.stock(id).await.available, 7);
}

#[tokio::test]
async fn bad_input_is_a_problem_naming_the_field() {
    let ctx = ctx().await;
    let seller = seller();
    let id = ctx.stocked(&seller, 5, 10).await;
    let put = |body: serde_json::Value| Req::put(&format!("/api/inventory/{id}")).json(body);
    for (body, field) in [
        (json!({"available": -1}), "available"),
        (json!({"available": 1_000_001}), "available"),
        (json!({"available": "ten"}), "available"),
        (json!({}), "available"),
        (json!({"available": 1, "lowStockThreshold": -2}), "lowStockThreshold"),
        (json!({"available": 1, "sellerId": Uuid::now_v7()}), "sellerId"),
    ] {
        let problem = ctx.send_as(&seller, put(body.clone())).await.expect_problem(422, "validation_failed");
        assert_eq!(problem["errors"][0]["field"], field, "{body}: {problem}");
    }
    let adjust = |body: serde_json::Value| Req::post(&format!("/api/inventory/{id}/adjust")).json(body);
    for (body, field) in [
        (json!({"delta": 0, "reason": "x"}), "delta"),
        (json!({"delta": 1, "reason": "  "}), "reason"),
        (json!({"delta": 1}), "reason"),
        (json!({"delta": 1.5, "reason": "x"}), "delta"),
    ] {
        let problem = ctx.send_as(&seller, adjust(body.clone())).await.expect_problem(422, "validation_failed");
        assert_eq!(problem["errors"][0]["field"], field, "{body}: {problem}");
    }
    let problem = ctx.send_as(&seller, Req::get("/api/inventory/not-a-uuid")).await.expect_problem(400, "invalid_parameter");
    assert_eq!(problem["errors"][0]["field"], "productId");
    for query in ["", "?ids=", "?ids=nope", &format!("?ids={}", (0..101).map(|_| Uuid::now_v7().to_string()).collect::<Vec<_>>().join(","))]
    {
        let problem = ctx.send_as(&seller, Req::get(&format!("/api/inventory{query}"))).await.expect_problem(400, "invalid_parameter");
        assert_eq!(problem["errors"][0]["field"], "ids", "{query}");
    }
    let problem = ctx.send_as(&seller, Req::get("/api/inventory/low-stock?limit=500")).await.expect_problem(400, "invalid_parameter");
    assert_eq!(problem["errors"][0]["field"], "limit");
    ctx.send_as(&seller, Req::put(&format!("/api/inventory/{id}")).raw_body("text/plain", b"5".to_vec()))
        .await
        .expect_problem(415, "unsupported_media_type");
    // A product the catalog does not know.
    ctx.send_as(&ctx.admin, Req::put(&format!("/api/inventory/{}", Uuid::now_v7())).json(json!({"available": 1})))
        .await
        .expect_problem(404, "not_found");
    // The stock did not change through any of it.
    assert_eq!(ctx.stock(id).await.available, 5);
}

#[tokio::test]
async fn adjustments_are_atomic_audited_and_never_go_below_zero() {
    let ctx = ctx().await;
    let seller = seller();
    let id = ctx.stocked(&seller, 5, 2).await;
    let adjust =
        |delta: i64, reason: &str| Req::post(&format!("/api/inventory/{id}/adjust")).json(json!({"delta": delta, "reason": reason}));
    let body = ctx.send_as(&seller, adjust(-3, "damaged")).await.expect(200);
    assert_eq!(body["available"], 2);
    let problem = ctx.send_as(&seller, adjust(-3, "too many")).await.expect_problem(409, "insufficient_stock");
    assert_eq!(problem["errors"][0]["field"], "delta");
    ctx.send_as(&ctx.admin, adjust(10, "restock")).await.expect(200);
    ctx.send_as(&seller, Req::post(&format!("/api/inventory/{}/adjust", Uuid::now_v7())).json(json!({"delta": 1, "reason": "x"})))
        .await
        .expect_problem(404, "not_found");

    // 20 concurrent decrements of 1 on 12 units: exactly 12 succeed.
    let results = futures::future::join_all((0..20).map(|_| ctx.send_as(&seller, adjust(-1, "sold offline")))).await;
    let ok = results.iter().filter(|r| r.status == 200).count();
    assert!(results.iter().all(|r| r.status == 200 || r.status == 409), "{:?}", results.iter().map(|r| r.status).collect::<Vec<_>>());
    assert_eq!(ok, 12);
    assert_eq!(ctx.stock(id).await.available, 0);

    let audit = ctx.store.audit(id).await.unwrap();
    assert_eq!(audit.len(), 2 + 12, "one entry per applied adjustment");
    assert_eq!((audit[0].delta, audit[0].before, audit[0].after, audit[0].reason.as_str()), (-3, 5, 2, "damaged"));
    assert_eq!(audit[0].actor, seller.id());
    assert_eq!((audit[1].before, audit[1].after, audit[1].actor), (2, 12, ctx.admin.id()));
    assert!(audit.iter().all(|a| a.after >= 0 && a.after == a.before + a.delta));
}

#[tokio::test]
async fn several_products_are_read_and_set_at_once() {
    let ctx = ctx().await;
    let (seller, other) = (seller(), seller());
    let a = ctx.stocked(&seller, 5, 10).await;
    let b = ctx.product(&seller).await;
    let theirs = ctx.product(&other).await;

    let body = ctx
        .send_as(
            &seller,
            Req::post("/api/inventory/bulk").json(json!({"items": [
                {"productId": a, "available": 50},
                {"productId": b, "available": 3, "lowStockThreshold": 5},
            ]})),
        )
        .await
        .expect(200);
    assert_eq!(body["items"][0]["available"], 50);
    assert_eq!(body["items"][0]["lowStockThreshold"], 10, "kept");
    assert_eq!(body["items"][1]["lowStockThreshold"], 5);

    let missing = Uuid::now_v7();
    let list = ctx.send_as(&seller, Req::get(&format!("/api/inventory?ids={a},{missing},{b}"))).await.expect(200);
    let ids: Vec<&str> = list["items"].as_array().unwrap().iter().map(|i| i["productId"].as_str().unwrap()).collect();
    assert_eq!(ids, [a.to_string(), b.to_string()], "rows in request order; products without stock left out");

    // All rows are checked before any is written.
    let problem = ctx
        .send_as(
            &seller,
            Req::post("/api/inventory/bulk")
                .json(json!({"items": [{"productId": a, "available": 1}, {"productId": missing, "available": 1}]})),
        )
        .await
        .expect_problem(422, "validation_failed");
    assert_eq!(problem["errors"][0]["field"], "items[1].productId");
    ctx.send_as(
        &seller,
        Req::post("/api/inventory/bulk").json(json!({"items": [{"productId": a, "available": 1}, {"productId": theirs, "available": 1}]})),
    )
    .await
    .expect_problem(422, "validation_failed");
    let problem = ctx
        .send_as(
            &seller,
            Req::post("/api/inventory/bulk").json(json!({"items": [{"productId": a, "available": 1}, {"productId": a, "available": 2}]})),
        )
        .await
        .expect_problem(422, "validation_failed");
    assert_eq!(problem["errors"][0]["field"], "items[1].productId");
    let too_many: Vec<_> = (0..101).map(|_| json!({"productId": Uuid::now_v7(), "available": 1})).collect();
    let problem = ctx
        .send_as(&seller, Req::post("/api/inventory/bulk").json(json!({"items": too_many})))
        .await
        .expect_problem(422, "validation_failed");
    assert_eq!(problem["errors"][0]["field"], "items");
    let problem = ctx
        .send_as(&seller, Req::post("/api/inventory/bulk").json(json!({"items": [{"productId": a, "available": -1}]})))
        .await
        .expect_problem(422, "validation_failed");
    assert_eq!(problem["errors"][0]["field"], "items[0].available");
    assert_eq!(ctx.stock(a).await.available, 50, "nothing written by refused bulks");
}

#[tokio::test]
async fn low_stock_lists_products_at_or_below_their_threshold() {
    let ctx = ctx().await;
    let (seller, other) = (seller(), seller());
    let low = ctx.stocked(&seller, 3, 10).await;
    let at = ctx.stocked(&seller, 10, 10).await;
    let _fine = ctx.stocked(&seller, 11, 10).await;
    let theirs = ctx.stocked(&other, 0, 10).await;

    let ids = |body: &serde_json::Value| -> Vec<String> {
        let mut ids: Vec<String> = body["data"].as_array().unwrap().iter().map(|i| i["productId"].as_str().unwrap().to_owned()).collect();
        ids.sort();
        ids
    };
    let mine = ctx.send_as(&seller, Req::get("/api/inventory/low-stock")).await.expect(200);
    let mut want = vec![low.to_string(), at.to_string()];
    want.sort();
    assert_eq!(ids(&mine), want);
    assert_eq!(mine["meta"]["total"], 2);
    let all = ctx.send_as(&ctx.admin, Req::get("/api/inventory/low-stock?limit=100")).await.expect(200);
    let mut want = vec![low.to_string(), at.to_string(), theirs.to_string()];
    want.sort();
    assert_eq!(ids(&all), want);
    let page = ctx.send_as(&ctx.admin, Req::get("/api/inventory/low-stock?page=2&limit=2")).await.expect(200);
    assert_eq!(page["data"].as_array().unwrap().len(), 1);
    assert_eq!(page["meta"]["totalPages"], 2);

    // An adjustment moves a product in and out of the list.
    ctx.send_as(&seller, Req::post(&format!("/api/inventory/{low}/adjust")).json(json!({"delta": 20, "reason": "restock"})))
        .await
        .expect(200);
    let mine = ctx.send_as(&seller, Req::get("/api/inventory/low-stock")).await.expect(200);
    assert_eq!(ids(&mine), vec![at.to_string()]);
}
