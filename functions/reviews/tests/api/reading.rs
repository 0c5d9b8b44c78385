//! Reading reviews: a product's visible reviews (whitelisted sorts, filters, pages) and summary
//! are public; a user's reviews are theirs and the admins'.

use serde_json::json;
use shop_testkit::Req;

use crate::{ctx, customer, ids};

#[tokio::test]
async fn a_products_reviews_sort_filter_and_paginate() {
    let ctx = ctx().await;
    let product = ctx.product().await;
    let mut made = Vec::new();
    for (rating, verified) in [(3, false), (5, true), (1, false), (4, true)] {
        let who = ctx.named("Ada", "Lovelace");
        if verified {
            ctx.delivered(&who, product);
        }
        made.push(ctx.review(&who, product, rating).await.expect(201)["id"].as_str().unwrap().to_owned());
    }
    // Another product's review never shows.
    ctx.reviewed(ctx.product().await, 5).await;

    let newest = ctx.list(product, "").await;
    assert_eq!(ids(&newest), made.iter().rev().cloned().collect::<Vec<_>>());
    assert_eq!(newest["meta"], json!({"total": 4, "page": 1, "limit": 20, "totalPages": 1}));
    assert_eq!(ids(&ctx.list(product, "?sort=oldest").await), made);
    assert_eq!(ids(&ctx.list(product, "?sort=highest").await), [made[1].as_str(), made[3].as_str(), made[0].as_str(), made[2].as_str()]);
    assert_eq!(ids(&ctx.list(product, "?sort=lowest").await), [made[2].as_str(), made[0].as_str(), made[3].as_str(), made[1].as_str()]);
    assert_eq!(ids(&ctx.list(product, "?rating=5").await), [made[1].as_str()]);
    assert_eq!(ids(&ctx.list(product, "?verified=true&sort=oldest").await), [made[1].as_str(), made[3].as_str()]);
    assert_eq!(ids(&ctx.list(product, "?verified=false&sort=oldest").await), [made[0].as_str(), made[2].as_str()]);
    let page = ctx.list(product, "?sort=oldest&page=2&limit=3").await;
    assert_eq!(ids(&page), [made[3].as_str()]);
    assert_eq!(page["meta"], json!({"total": 4, "page": 2, "limit": 3, "totalPages": 2}));

    // One helpful vote puts a review first under most_helpful.
    ctx.send_as(&customer(), Req::post(&format!("/api/reviews/{}/helpful", made[2]))).await.expect(200);
    assert_eq!(ids(&ctx.list(product, "?sort=most_helpful").await)[0], made[2]);

    let summary = ctx.summary(product).await;
    assert_eq!(
        summary,
        json!({"productId": product, "averageRating": 3.3, "totalReviews": 4,
               "ratingDistribution": {"1": 1, "2": 0, "3": 1, "4": 1, "5": 1}})
    );
}

#[tokio::test]
async fn bad_list_parameters_are_a_400_naming_the_parameter() {
    let ctx = ctx().await;
    let product = ctx.product().await;
    for (query, field) in [
        ("?sort=rating", "sort"),
        ("?sort=createdAt", "sort"),
        ("?rating=0", "rating"),
        ("?rating=6", "rating"),
        ("?rating=x", "rating"),
        ("?rating=2.5", "rating"),
        ("?verified=maybe", "verified"),
        ("?page=0", "page"),
        ("?limit=101", "limit"),
        ("?page=101&limit=100", "page"),
        ("?sortBy=rating", "sortBy"),
    ] {
        let resp = ctx.send(Req::get(&format!("/api/reviews/product/{product}{query}"))).await;
        let problem = resp.expect_problem(400, "invalid_parameter");
        assert_eq!(problem["errors"][0]["field"], field, "{query}: {problem}");
    }
    ctx.send(Req::get("/api/reviews/product/not-a-uuid")).await.expect_problem(400, "invalid_parameter");
    ctx.send(Req::get("/api/reviews/product/not-a-uuid/summary")).await.expect_problem(400, "invalid_parameter");
    // A product without reviews: an empty page and a zero summary.
    assert_eq!(ctx.list(product, "?page=100&limit=100").await["data"], json!([]));
    let summary = ctx.summary(product).await;
    assert_eq!(summary["averageRating"], 0.0);
    assert_eq!(summary["ratingDistribution"], json!({"1": 0, "2": 0, "3": 0, "4": 0, "5": 0}));
}

#[tokio::test]
async fn a_users_reviews_are_for_that_user_and_admins() {
    let ctx = ctx().await;
    let (author, first) = ctx.reviewed(ctx.product().await, 4).await;
    let second = ctx.review(&author, ctx.product().await, 2).await.expect(201)["id"].as_str().unwrap().to_owned();
    let path = format!("/api/reviews/user/{}", author.0);
    let mine = ctx.send_as(&author, Req::get(&path)).await.expect(200);
    assert_eq!(ids(&mine), [second.clone(), first.clone()], "newest first");
    assert_eq!(ids(&ctx.send_as(&ctx.admin, Req::get(&path)).await.expect(200)), [second, first]);
    ctx.send_as(&customer(), Req::get(&path)).await.expect_problem(404, "not_found");
    ctx.send(Req::get(&path)).await.expect_problem(401, "unauthenticated");
    ctx.send_as(&author, Req::get(&format!("{path}?limit=0"))).await.expect_problem(400, "invalid_parameter");
}
