use serde_json::json;
use shop_testkit::Req;

use crate::{admin, app, customer, seller};

#[tokio::test]
async fn a_seller_creates_a_product_that_the_storefront_reads_by_id_slug_and_sku() {
    let app = app().await;
    let cat = app.category(&admin(), "Phones", None).await;
    let seller = seller();
    let created = app
        .product(
            &seller,
            cat["id"].as_str().unwrap(),
            "apl-ip15",
            json!({"name": "iPhone 15 Pro", "brand": "Apple", "tags": ["Phone", "phone", "5G"], "comparePrice": 109_900, "price": 99_900}),
        )
        .await
        .expect(201);
    assert_eq!(created["sellerId"], seller.0);
    assert_eq!(created["slug"], "iphone-15-pro");
    assert_eq!(created["price"], 99_900, "money is integer cents");
    assert_eq!(created["tags"], json!(["phone", "5g"]));
    let id = created["id"].as_str().unwrap();
    assert_eq!(app.send(Req::get(&format!("/api/products/{id}"))).await.expect(200)["name"], "iPhone 15 Pro");
    assert_eq!(app.send(Req::get("/api/products/slug/iphone-15-pro")).await.expect(200)["id"], id);
    assert_eq!(app.send(Req::get("/api/products/sku/APL-IP15")).await.expect(200)["id"], id, "SKU lookups ignore case");
}

#[tokio::test]
async fn skus_are_unique_and_generated_slugs_get_a_suffix() {
    let app = app().await;
    let admin = admin();
    let cat = app.category(&admin, "Phones", None).await;
    let c = cat["id"].as_str().unwrap();
    let first = app.product(&admin, c, "SKU-1", json!({"name": "Pixel"})).await.expect(201);
    let second = app.product(&admin, c, "SKU-2", json!({"name": "Pixel"})).await.expect(201);
    assert_eq!(first["slug"], "pixel");
    assert_eq!(second["slug"], "pixel-2");
    app.product(&admin, c, "sku-1", json!({})).await.expect_problem(409, "sku_taken");
    app.product(&admin, c, "SKU-3", json!({"slug": "pixel"})).await.expect_problem(409, "slug_taken");
}

#[tokio::test]
async fn concurrent_creations_with_one_sku_make_exactly_one_product() {
    let app = app().await;
    let admin = admin();
    let cat = app.category(&admin, "Phones", None).await;
    let c = cat["id"].as_str().unwrap().to_owned();
    let attempts = (0..8).map(|i| app.product(&admin, &c, "RACE-1", json!({"name": format!("Race {i}")})));
    let statuses: Vec<u16> = futures::future::join_all(attempts).await.iter().map(|r| r.status.as_u16()).collect();
    assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 409).count(), 7, "{statuses:?}");
}

#[tokio::test]
async fn customers_cannot_write_products_and_sellers_only_their_own() {
    let app = app().await;
    let cat = app.category(&admin(), "Phones", None).await;
    let c = cat["id"].as_str().unwrap();
    app.product(&customer(), c, "C-1", json!({})).await.expect_problem(403, "forbidden");
    let owner = seller();
    let product = app.product(&owner, c, "S-1", json!({})).await.expect(201);
    let id = product["id"].as_str().unwrap();
    let other = seller();
    // Another seller's product is not theirs to know of: 404, as for no product.
    app.send_as(&other, Req::put(&format!("/api/products/{id}")).json(json!({"price": 1}))).await.expect_problem(404, "not_found");
    app.send_as(&other, Req::delete(&format!("/api/products/{id}"))).await.expect_problem(404, "not_found");
    let updated = app.send_as(&owner, Req::put(&format!("/api/products/{id}")).json(json!({"price": 2500, "compareprice": 1}))).await;
    assert_eq!(updated.expect_problem(422, "validation_failed")["errors"][0]["field"], "compareprice");
    let updated = app
        .send_as(&owner, Req::put(&format!("/api/products/{id}")).json(json!({"price": 2500, "sku": "S-1B", "slug": "renamed"})))
        .await
        .expect(200);
    assert_eq!(updated["price"], 2500);
    assert_eq!(updated["version"], 2);
    // The old SKU and slug are free, the new ones resolve.
    assert_eq!(app.send(Req::get("/api/products/sku/S-1B")).await.expect(200)["id"], id);
    app.send(Req::get("/api/products/slug/product-s-1")).await.expect(404);
    app.product(&owner, c, "S-1", json!({})).await.expect(201);
    // An admin edits anyone's product.
    app.send_as(&admin(), Req::put(&format!("/api/products/{id}")).json(json!({"isFeatured": true}))).await.expect(200);
}

#[tokio::test]
async fn deleted_and_inactive_products_are_hidden_from_the_storefront() {
    let app = app().await;
    let admin = admin();
    let cat = app.category(&admin, "Phones", None).await;
    let c = cat["id"].as_str().unwrap();
    let inactive = app.product(&admin, c, "IN-1", json!({"isActive": false})).await.expect(201);
    app.send(Req::get(&format!("/api/products/{}", inactive["id"].as_str().unwrap()))).await.expect_problem(404, "not_found");
    let gone = app.product(&admin, c, "GONE-1", json!({})).await.expect(201);
    let gone_id = gone["id"].as_str().unwrap();
    app.send_as(&admin, Req::delete(&format!("/api/products/{gone_id}"))).await.expect(204);
    app.send(Req::get(&format!("/api/products/{gone_id}"))).await.expect(404);
    app.send(Req::get("/api/products/sku/GONE-1")).await.expect(404);
    app.send_as(&admin, Req::delete(&format!("/api/products/{gone_id}"))).await.expect(404);
    // The SKU of a deleted product stays taken (order history refers to it).
    app.product(&admin, c, "GONE-1", json!({})).await.expect_problem(409, "sku_taken");
}

#[tokio::test]
async fn featured_lists_active_featured_products_newest_first() {
    let app = app().await;
    let admin = admin();
    let cat = app.category(&admin, "Phones", None).await;
    let c = cat["id"].as_str().unwrap();
    app.product(&admin, c, "F-1", json!({"isFeatured": true})).await.expect(201);
    app.product(&admin, c, "F-2", json!({"isFeatured": true})).await.expect(201);
    app.product(&admin, c, "F-3", json!({"isFeatured": true, "isActive": false})).await.expect(201);
    app.product(&admin, c, "N-1", json!({})).await.expect(201);
    let featured = app.send(Req::get("/api/products/featured")).await.expect(200);
    let skus: Vec<&str> = featured.as_array().unwrap().iter().map(|p| p["sku"].as_str().unwrap()).collect();
    assert_eq!(skus, ["F-2", "F-1"]);
    assert_eq!(app.send(Req::get("/api/products/featured?limit=1")).await.expect(200).as_array().unwrap().len(), 1);
    app.send(Req::get("/api/products/featured?limit=101")).await.expect_problem(400, "invalid_parameter");
}

#[tokio::test]
async fn bad_product_input_names_the_field() {
    let app = app().await;
    let admin = admin();
    let cat = app.category(&admin, "Phones", None).await;
    let c = cat["id"].as_str().unwrap();
    for (field, value) in [("price", json!(-1)), ("price", json!("12.50")), ("sku", json!("has space")), ("categoryId", json!("nope"))] {
        let resp = app.product(&admin, c, "BAD-1", json!({ field: value })).await;
        assert_eq!(resp.expect_problem(422, "validation_failed")["errors"][0]["field"], field, "{field}={value}");
    }
    let unknown = app.product(&admin, &uuid::Uuid::now_v7().to_string(), "BAD-2", json!({})).await;
    assert_eq!(unknown.expect_problem(422, "validation_failed")["errors"][0]["code"], "unknown_category");
    app.send(Req::get("/api/products/not-a-uuid")).await.expect_problem(400, "invalid_parameter");
}

#[tokio::test]
async fn storefront_reads_are_cached_and_every_write_invalidates_them() {
    let state = crate::state().await;
    let app = crate::App { router: catalog::router(state.clone()) };
    let admin = admin();
    let cat = app.category(&admin, "Phones", None).await;
    let c = cat["id"].as_str().unwrap();
    let created = app.product(&admin, c, "CACHE-1", json!({"price": 1000})).await.expect(201);
    let id = created["id"].as_str().unwrap();
    assert_eq!(app.send(Req::get(&format!("/api/products/{id}"))).await.expect(200)["price"], 1000);

    // A change behind the API's back is not seen: the read was served from the cache.
    let uuid = uuid::Uuid::parse_str(id).unwrap();
    state
        .store
        .uncached()
        .edit_product(uuid, |p| Ok::<_, catalog::store::StoreError>(catalog::domain::Product { price: 1, ..p.unwrap() }))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(app.send(Req::get(&format!("/api/products/{id}"))).await.expect(200)["price"], 1000, "served from the cache");

    // A write through the API invalidates every product read at once.
    app.send_as(&admin, Req::put(&format!("/api/products/{id}")).json(json!({"name": "Renamed"}))).await.expect(200);
    let fresh = app.send(Req::get(&format!("/api/products/{id}"))).await.expect(200);
    assert_eq!((fresh["name"].as_str(), fresh["price"].as_i64()), (Some("Renamed"), Some(1)));
    assert_eq!(app.send(Req::get("/api/products/sku/CACHE-1")).await.expect(200)["name"], "Renamed");

    // Category counts follow product writes, and new categories appear at once.
    let before = app.send(Req::get("/api/categories")).await.expect(200);
    assert_eq!(before[0]["productCount"], 1);
    app.product(&admin, c, "CACHE-2", json!({})).await.expect(201);
    app.category(&admin, "Tablets", None).await;
    let after = app.send(Req::get("/api/categories")).await.expect(200);
    assert_eq!(after.as_array().unwrap().len(), 2);
    assert_eq!(after.as_array().unwrap().iter().find(|x| x["name"] == "Phones").unwrap()["productCount"], 2);
}

#[tokio::test]
async fn sellers_see_all_their_own_products_and_admins_anyones() {
    let app = app().await;
    let admin = admin();
    let cat = app.category(&admin, "Phones", None).await;
    let c = cat["id"].as_str().unwrap();
    let owner = seller();
    app.product(&owner, c, "MINE-1", json!({})).await.expect(201);
    app.product(&owner, c, "MINE-2", json!({"isActive": false})).await.expect(201);
    let gone = app.product(&owner, c, "MINE-3", json!({})).await.expect(201);
    app.send_as(&owner, Req::delete(&format!("/api/products/{}", gone["id"].as_str().unwrap()))).await.expect(204);
    app.product(&seller(), c, "THEIRS-1", json!({})).await.expect(201);

    let mine = app.send_as(&owner, Req::get("/api/seller/products")).await.expect(200);
    let skus: Vec<&str> = mine["data"].as_array().unwrap().iter().map(|p| p["sku"].as_str().unwrap()).collect();
    assert_eq!(skus, ["MINE-2", "MINE-1"], "newest first, the inactive one included, the deleted one not");
    assert_eq!(mine["meta"]["total"], 2);
    let inactive = app.send_as(&owner, Req::get("/api/seller/products?isActive=false")).await.expect(200);
    assert_eq!(inactive["meta"]["total"], 1);
    // Another seller's list is for admins only.
    let path = format!("/api/seller/products?sellerId={}", owner.0);
    app.send_as(&seller(), Req::get(&path)).await.expect_problem(403, "forbidden");
    assert_eq!(app.send_as(&admin, Req::get(&path)).await.expect(200)["meta"]["total"], 2);
    app.send_as(&customer(), Req::get("/api/seller/products")).await.expect_problem(403, "forbidden");
    app.send_as(&owner, Req::get("/api/seller/products?limit=0")).await.expect_problem(400, "invalid_parameter");
}

#[tokio::test]
async fn an_inactive_product_is_readable_by_its_seller_and_admins_only() {
    let app = app().await;
    let admin = admin();
    let cat = app.category(&admin, "Phones", None).await;
    let owner = seller();
    let hidden = app.product(&owner, cat["id"].as_str().unwrap(), "HIDDEN-1", json!({"isActive": false})).await.expect(201);
    let id = hidden["id"].as_str().unwrap();
    app.send(Req::get(&format!("/api/products/{id}"))).await.expect_problem(404, "not_found");
    let path = format!("/api/seller/products/{id}");
    assert_eq!(app.send_as(&owner, Req::get(&path)).await.expect(200)["isActive"], false);
    assert_eq!(app.send_as(&admin, Req::get(&path)).await.expect(200)["id"], id);
    app.send_as(&seller(), Req::get(&path)).await.expect_problem(404, "not_found");
    app.send_as(&customer(), Req::get(&path)).await.expect_problem(403, "forbidden");
    app.send_as(&owner, Req::get("/api/seller/products/not-a-uuid")).await.expect_problem(400, "invalid_parameter");
    app.send_as(&owner, Req::delete(&format!("/api/products/{id}"))).await.expect(204);
    app.send_as(&owner, Req::get(&path)).await.expect_problem(404, "not_found");
}
