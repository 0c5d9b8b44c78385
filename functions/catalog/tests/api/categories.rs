use serde_json::json;
use shop_testkit::Req;

use crate::{admin, app, customer, seller};

#[tokio::test]
async fn admins_build_a_tree_of_any_depth_that_everyone_can_read() {
    let app = app().await;
    let admin = admin();
    let electronics = app.category(&admin, "Electronics", None).await;
    let phones = app.category(&admin, "Phones", electronics["id"].as_str()).await;
    let smart = app.category(&admin, "Smartphones", phones["id"].as_str()).await;
    app.category(&admin, "Beauty", None).await;
    assert_eq!(electronics["slug"], "electronics");

    let tree = app.send(Req::get("/api/categories/tree")).await.expect(200);
    let roots: Vec<&str> = tree.as_array().unwrap().iter().map(|n| n["name"].as_str().unwrap()).collect();
    assert_eq!(roots, ["Beauty", "Electronics"]);
    assert_eq!(tree[1]["children"][0]["children"][0]["name"], "Smartphones");

    let detail = app.send(Req::get(&format!("/api/categories/{}", phones["id"].as_str().unwrap()))).await.expect(200);
    assert_eq!(detail["parent"]["name"], "Electronics");
    assert_eq!(detail["children"][0]["name"], "Smartphones");
    assert_eq!(detail["childCount"], 1);
    let by_slug = app.send(Req::get("/api/categories/slug/smartphones")).await.expect(200);
    assert_eq!(by_slug["id"], smart["id"]);
    let list = app.send(Req::get("/api/categories")).await.expect(200);
    assert_eq!(list.as_array().unwrap().len(), 4);
}

#[tokio::test]
async fn only_admins_write_categories() {
    let app = app().await;
    app.send_as(&seller(), Req::post("/api/categories").json(json!({"name": "X"}))).await.expect_problem(403, "forbidden");
    app.send_as(&customer(), Req::post("/api/categories").json(json!({"name": "X"}))).await.expect_problem(403, "forbidden");
    app.send(Req::post("/api/categories").json(json!({"name": "X"}))).await.expect_problem(401, "unauthenticated");
}

#[tokio::test]
async fn names_and_slugs_are_unique_and_parents_must_exist() {
    let app = app().await;
    let admin = admin();
    app.category(&admin, "Phones", None).await;
    app.send_as(&admin, Req::post("/api/categories").json(json!({"name": "PHONES", "slug": "phones-2"})))
        .await
        .expect_problem(409, "name_taken");
    app.send_as(&admin, Req::post("/api/categories").json(json!({"name": "Mobiles", "slug": "phones"})))
        .await
        .expect_problem(409, "slug_taken");
    let orphan = app.send_as(&admin, Req::post("/api/categories").json(json!({"name": "Orphan", "parentId": uuid::Uuid::now_v7()}))).await;
    assert_eq!(orphan.expect_problem(422, "validation_failed")["errors"][0]["field"], "parentId");
    let bad_slug = app.send_as(&admin, Req::post("/api/categories").json(json!({"name": "Bad", "slug": "Not A Slug"}))).await;
    assert_eq!(bad_slug.expect_problem(422, "validation_failed")["errors"][0]["field"], "slug");
}

#[tokio::test]
async fn moving_a_category_under_its_descendant_is_a_422_cycle() {
    let app = app().await;
    let admin = admin();
    let a = app.category(&admin, "A", None).await;
    let b = app.category(&admin, "B", a["id"].as_str()).await;
    let c = app.category(&admin, "C", b["id"].as_str()).await;
    let a_id = a["id"].as_str().unwrap();
    let resp = app.send_as(&admin, Req::put(&format!("/api/categories/{a_id}")).json(json!({"parentId": c["id"]}))).await;
    assert_eq!(resp.expect_problem(422, "category_cycle")["errors"][0]["field"], "parentId");
    app.send_as(&admin, Req::put(&format!("/api/categories/{a_id}")).json(json!({"parentId": a["id"]}))).await.expect(422);
    // Re-parenting elsewhere works, and null makes a root again.
    let moved = app
        .send_as(&admin, Req::put(&format!("/api/categories/{}", c["id"].as_str().unwrap())).json(json!({"parentId": null, "name": "C2"})))
        .await
        .expect(200);
    assert_eq!(moved["parentId"], serde_json::Value::Null);
    assert_eq!(moved["name"], "C2");
    let b_detail = app.send(Req::get(&format!("/api/categories/{}", b["id"].as_str().unwrap()))).await.expect(200);
    assert_eq!(b_detail["childCount"], 0, "the old parent's count moved with the child");
}

#[tokio::test]
async fn a_category_with_children_or_products_cannot_be_deleted() {
    let app = app().await;
    let admin = admin();
    let parent = app.category(&admin, "Parent", None).await;
    let child = app.category(&admin, "Child", parent["id"].as_str()).await;
    let parent_id = parent["id"].as_str().unwrap();
    let child_id = child["id"].as_str().unwrap();
    app.send_as(&admin, Req::delete(&format!("/api/categories/{parent_id}"))).await.expect_problem(409, "category_not_empty");
    let product = app.product(&admin, child_id, "SKU-DEL-1", json!({})).await.expect(201);
    app.send_as(&admin, Req::delete(&format!("/api/categories/{child_id}"))).await.expect_problem(409, "category_not_empty");
    // Deleting the product empties the category.
    app.send_as(&admin, Req::delete(&format!("/api/products/{}", product["id"].as_str().unwrap()))).await.expect(204);
    app.send_as(&admin, Req::delete(&format!("/api/categories/{child_id}"))).await.expect(204);
    app.send_as(&admin, Req::delete(&format!("/api/categories/{parent_id}"))).await.expect(204);
    app.send(Req::get(&format!("/api/categories/{parent_id}"))).await.expect_problem(404, "not_found");
    // The slug is free again.
    app.category(&admin, "Parent", None).await;
}

#[tokio::test]
async fn inactive_categories_and_their_subtrees_are_hidden_from_the_storefront() {
    let app = app().await;
    let admin = admin();
    let hidden = app.category(&admin, "Hidden", None).await;
    let under = app.category(&admin, "Under", hidden["id"].as_str()).await;
    app.send_as(&admin, Req::put(&format!("/api/categories/{}", hidden["id"].as_str().unwrap())).json(json!({"isActive": false})))
        .await
        .expect(200);
    let list = app.send(Req::get("/api/categories")).await.expect(200);
    assert!(list.as_array().unwrap().is_empty(), "{list}");
    app.send(Req::get(&format!("/api/categories/{}", under["id"].as_str().unwrap()))).await.expect(404);
}
