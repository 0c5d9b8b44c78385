//! Helpful votes: a toggle per user and review, never on one's own review, and a count that
//! always equals the votes present, however many toggles run at once.

use futures::future::join_all;
use shop_testkit::Req;
use uuid::Uuid;

use crate::{Who, ctx, customer};

#[tokio::test]
async fn a_vote_toggles_and_ones_own_review_cannot_be_voted() {
    let ctx = ctx().await;
    let (author, id) = ctx.reviewed(ctx.product().await, 4).await;
    let path = format!("/api/reviews/{id}/helpful");
    ctx.send_as(&author, Req::post(&path)).await.expect_problem(409, "own_review");
    let voter = customer();
    let on = ctx.send_as(&voter, Req::post(&path)).await.expect(200);
    assert_eq!(on, serde_json::json!({"helpful": true, "helpfulCount": 1}));
    let off = ctx.send_as(&voter, Req::post(&path)).await.expect(200);
    assert_eq!(off, serde_json::json!({"helpful": false, "helpfulCount": 0}));
    ctx.send_as(&voter, Req::post(&format!("/api/reviews/{}/helpful", Uuid::now_v7()))).await.expect_problem(404, "not_found");
    ctx.send(Req::post(&path)).await.expect_problem(401, "unauthenticated");
    // An edit never touches the count.
    ctx.send_as(&voter, Req::post(&path)).await.expect(200);
    ctx.send_as(&author, Req::put(&format!("/api/reviews/{id}")).json(serde_json::json!({"rating": 5}))).await.expect(200);
    let review = ctx.store.review(id.parse().unwrap()).await.unwrap().unwrap();
    assert_eq!(review.helpful_count, 1);
}

#[tokio::test]
async fn concurrent_toggles_by_many_users_and_by_one_never_drift() {
    let ctx = ctx().await;
    let (_, id) = ctx.reviewed(ctx.product().await, 5).await;
    let review_id: Uuid = id.parse().unwrap();
    let path = format!("/api/reviews/{id}/helpful");

    // 20 different users at once: 20 votes.
    let voters: Vec<Who> = (0..20).map(|_| customer()).collect();
    let answers = join_all(voters.iter().map(|v| ctx.send_as(v, Req::post(&path)))).await;
    for answer in &answers {
        assert_eq!(answer.expect(200)["helpful"], true);
    }
    assert_eq!(ctx.store.vote_count(review_id).await.unwrap(), 20);
    assert_eq!(ctx.store.review(review_id).await.unwrap().unwrap().helpful_count, 20);

    // One user toggling 20 times at once, while 10 of the others take theirs back: whatever
    // order they land in, the count is the votes present.
    let same = customer();
    let toggles = (0..20).map(|_| ctx.send_as(&same, Req::post(&path)));
    let back = voters[..10].iter().map(|v| ctx.send_as(v, Req::post(&path)));
    let (toggles, back) = tokio::join!(join_all(toggles), join_all(back));
    let added = toggles.iter().filter(|r| r.expect(200)["helpful"] == true).count();
    assert_eq!(added, 10, "20 toggles of one user alternate: 10 add, 10 remove");
    assert!(back.iter().all(|r| r.expect(200)["helpful"] == false));
    let present = ctx.store.vote_count(review_id).await.unwrap();
    assert_eq!(present, 10);
    assert_eq!(ctx.store.review(review_id).await.unwrap().unwrap().helpful_count, present as i64);
    assert!(!ctx.store.has_voted(review_id, same.id()).await.unwrap(), "an even number of toggles");
}
