//! Writing reviews: one per user and product, of active products only, verified from orders,
//! named from accounts; edits by the author (verified again), deletes by the author or an admin,
//! hiding by admins; every body field checked.

use serde_json::json;
use shop_testkit::Req;

use crate::{admin, ctx, customer};

#[tokio::test]
async fn a_buyer_of_a_delivered_order_writes_a_verified_review_under_a_short_name() {
    let ctx = ctx().await;
    let product = ctx.product().await;
    let ada = ctx.named("Ada", "Lovelace");
    ctx.delivered(&ada, product);
    let review = ctx.review(&ada, product, 5).await.expect(201);
    assert_eq!(review["isVerifiedPurchase"], true);
    assert_eq!(review["reviewerName"], "Ada L.");
    assert_eq!(review["rating"], 5);
    assert_eq!(review["helpfulCount"], 0);
    assert_eq!(review["userId"], ada.0);
    assert!(!review.to_string().contains('@'), "no email anywhere: {review}");

    let other = ctx.named("Alan", "Turing");
    let unverified = ctx.review(&other, product, 3).await.expect(201);
    assert_eq!(unverified["isVerifiedPurchase"], false, "no delivered order of this product");
}

#[tokio::test]
async fn a_second_review_of_the_same_product_is_a_conflict_and_changes_nothing() {
    let ctx = ctx().await;
    let product = ctx.product().await;
    let ada = ctx.named("Ada", "Lovelace");
    ctx.review(&ada, product, 5).await.expect(201);
    let problem = ctx.review(&ada, product, 1).await.expect_problem(409, "already_reviewed");
    assert_eq!(problem["errors"][0]["field"], "productId");
    let summary = ctx.summary(product).await;
    assert_eq!(summary["totalReviews"], 1);
    assert_eq!(summary["averageRating"], 5.0);
    // Another product is fine.
    ctx.review(&ada, ctx.product().await, 4).await.expect(201);
}

#[tokio::test]
async fn unknown_inactive_and_deleted_products_cannot_be_reviewed() {
    let ctx = ctx().await;
    let ada = ctx.named("Ada", "Lovelace");
    let problem = ctx.review(&ada, uuid::Uuid::now_v7(), 5).await.expect_problem(404, "product_not_found");
    assert_eq!(problem["errors"][0]["field"], "productId");

    let inactive = ctx.product().await;
    crate::send_as(&ctx.catalog, &ctx.seller, Req::put(&format!("/api/products/{inactive}")).json(json!({"isActive": false})))
        .await
        .expect(200);
    ctx.review(&ada, inactive, 5).await.expect_problem(404, "product_not_found");

    let deleted = ctx.product().await;
    crate::send_as(&ctx.catalog, &ctx.seller, Req::delete(&format!("/api/products/{deleted}"))).await;
    assert!(ctx.catalog_product(deleted).await["deletedAt"].is_string());
    ctx.review(&ada, deleted, 5).await.expect_problem(404, "product_not_found");
    assert_eq!(ctx.summary(inactive).await["totalReviews"], 0);
}

#[tokio::test]
async fn every_bad_field_is_a_422_naming_it_and_nothing_is_written() {
    let ctx = ctx().await;
    let product = ctx.product().await;
    let ada = ctx.named("Ada", "Lovelace");
    let base = json!({"productId": product, "rating": 4, "title": "Good", "content": "Works."});
    let cases = [
        ("rating", json!(0)),
        ("rating", json!(6)),
        ("rating", json!(2.5)),
        ("rating", json!("x")),
        ("rating", json!(null)),
        ("title", json!("")),
        ("title", json!("   ")),
        ("title", json!("t".repeat(121))),
        ("content", json!("")),
        ("content", json!("c".repeat(4001))),
        ("content", json!("bad \u{202E} text")),
        ("productId", json!("not-a-uuid")),
    ];
    for (field, value) in cases {
        let mut body = base.clone();
        body[field] = value.clone();
        let resp = ctx.send_as(&ada, Req::post("/api/reviews").json(body)).await;
        let problem = resp.expect_problem(422, "validation_failed");
        assert_eq!(problem["errors"][0]["field"], field, "{field} = {value}: {problem}");
    }
    let mut unknown = base.clone();
    unknown["stars"] = json!(5);
    ctx.send_as(&ada, Req::post("/api/reviews").json(unknown)).await.expect_problem(422, "validation_failed");
    // The longest title and text are fine, trimmed.
    let mut longest = base.clone();
    longest["title"] = json!(format!("  {}  ", "t".repeat(120)));
    longest["content"] = json!("c".repeat(4000));
    let review = ctx.send_as(&ada, Req::post("/api/reviews").json(longest)).await.expect(201);
    assert_eq!(review["title"].as_str().unwrap().len(), 120);
    // Without a token: 401.
    ctx.send(Req::post("/api/reviews").json(base)).await.expect_problem(401, "unauthenticated");
}

#[tokio::test]
async fn only_the_author_edits_and_an_edit_checks_the_purchase_again() {
    let ctx = ctx().await;
    let product = ctx.product().await;
    let ada = ctx.named("Ada", "Lovelace");
    let review = ctx.review(&ada, product, 2).await.expect(201);
    assert_eq!(review["isVerifiedPurchase"], false);
    let path = format!("/api/reviews/{}", review["id"].as_str().unwrap());

    let other = customer();
    // Someone else's review is not theirs to know of (404); an admin sees it, and may not edit it.
    ctx.send_as(&other, Req::put(&path).json(json!({"rating": 1}))).await.expect_problem(404, "not_found");
    ctx.send_as(&admin(), Req::put(&path).json(json!({"rating": 1}))).await.expect_problem(403, "forbidden");
    ctx.send_as(&ada, Req::put(&path).json(json!({}))).await.expect_problem(422, "validation_failed");
    let problem = ctx.send_as(&ada, Req::put(&path).json(json!({"rating": 9}))).await.expect_problem(422, "validation_failed");
    assert_eq!(problem["errors"][0]["field"], "rating");
    ctx.send_as(&ada, Req::put(&format!("/api/reviews/{}", uuid::Uuid::now_v7())).json(json!({"rating": 4})))
        .await
        .expect_problem(404, "not_found");

    ctx.delivered(&ada, product);
    let edited = ctx.send_as(&ada, Req::put(&path).json(json!({"rating": 4, "title": "  Better now  "}))).await.expect(200);
    assert_eq!(edited["rating"], 4);
    assert_eq!(edited["title"], "Better now");
    assert_eq!(edited["content"], review["content"]);
    assert_eq!(edited["isVerifiedPurchase"], true, "the edit asked orders again");
    let summary = ctx.summary(product).await;
    assert_eq!(summary["ratingDistribution"], json!({"1": 0, "2": 0, "3": 0, "4": 1, "5": 0}));
    assert_eq!(summary["averageRating"], 4.0);
}

#[tokio::test]
async fn the_author_or_an_admin_deletes_and_the_summary_follows() {
    let ctx = ctx().await;
    let product = ctx.product().await;
    let (author, first) = ctx.reviewed(product, 5).await;
    let (_, second) = ctx.reviewed(product, 1).await;
    assert_eq!(ctx.summary(product).await["averageRating"], 3.0);

    ctx.send_as(&customer(), Req::delete(&format!("/api/reviews/{first}"))).await.expect_problem(404, "not_found");
    ctx.send_as(&author, Req::delete(&format!("/api/reviews/{first}"))).await.expect(204);
    ctx.send_as(&author, Req::delete(&format!("/api/reviews/{first}"))).await.expect_problem(404, "not_found");
    ctx.send_as(&ctx.admin, Req::delete(&format!("/api/reviews/{second}"))).await.expect(204);
    let summary = ctx.summary(product).await;
    assert_eq!(summary["totalReviews"], 0);
    assert_eq!(summary["averageRating"], 0.0);
    // Deleted, the author may review the product again.
    ctx.review(&author, product, 3).await.expect(201);
}

#[tokio::test]
async fn hiding_takes_a_review_out_of_the_list_and_summary_and_unhiding_brings_it_back() {
    let ctx = ctx().await;
    let product = ctx.product().await;
    let (author, hidden) = ctx.reviewed(product, 1).await;
    ctx.reviewed(product, 5).await;
    assert_eq!(ctx.summary(product).await["averageRating"], 3.0);

    let hide = format!("/api/reviews/{hidden}/hide");
    ctx.send_as(&author, Req::post(&hide).json(json!({"reason": "mine"}))).await.expect_problem(403, "forbidden");
    ctx.send_as(&ctx.admin, Req::post(&hide).json(json!({"reason": ""}))).await.expect_problem(422, "validation_failed");
    let view = ctx.send_as(&ctx.admin, Req::post(&hide).json(json!({"reason": "Contains a phone number."}))).await.expect(200);
    assert_eq!(view["isHidden"], true);
    assert_eq!(view["hiddenReason"], "Contains a phone number.");
    // Hiding again changes nothing.
    ctx.send_as(&ctx.admin, Req::post(&hide).json(json!({"reason": "Contains a phone number."}))).await.expect(200);
    let summary = ctx.summary(product).await;
    assert_eq!(summary["totalReviews"], 1);
    assert_eq!(summary["averageRating"], 5.0);
    assert!(!crate::ids(&ctx.list(product, "").await).contains(&hidden));
    // Its author still sees it in their own list; others cannot edit or vote on it.
    let mine = ctx.send_as(&author, Req::get(&format!("/api/reviews/user/{}", author.0))).await.expect(200);
    assert_eq!(mine["data"][0]["isHidden"], true);
    ctx.send_as(&customer(), Req::post(&format!("/api/reviews/{hidden}/helpful"))).await.expect_problem(404, "not_found");
    ctx.send_as(&customer(), Req::delete(&format!("/api/reviews/{hidden}"))).await.expect_problem(404, "not_found");

    let view = ctx.send_as(&ctx.admin, Req::post(&format!("/api/reviews/{hidden}/unhide"))).await.expect(200);
    assert_eq!(view["isHidden"], false);
    assert!(view.get("hiddenReason").is_none());
    ctx.send_as(&ctx.admin, Req::post(&format!("/api/reviews/{hidden}/unhide"))).await.expect(200);
    let summary = ctx.summary(product).await;
    assert_eq!(summary["totalReviews"], 2);
    assert_eq!(summary["averageRating"], 3.0);
    assert!(crate::ids(&ctx.list(product, "").await).contains(&hidden));
    ctx.send_as(&ctx.admin, Req::post(&format!("/api/reviews/{}/unhide", uuid::Uuid::now_v7()))).await.expect_problem(404, "not_found");
}
