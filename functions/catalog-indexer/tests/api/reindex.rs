//! Rebuilding the index from the table.

use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::types::AttributeValue;
use catalog_indexer::{Counts, Indexer, ReindexError, ReindexOptions};
use shop_core::time::Timestamp;
use shop_search::{OpenSearchEngine, SearchEngine};
use uuid::Uuid;

use crate::{Ctx, batch, ctx, fake_opensearch};

/// Writes `live` active products, one inactive and `deleted` soft-deleted ones; returns
/// (indexable ids, deleted ids). Their stream records are read and dropped.
async fn catalog(ctx: &mut Ctx, live: usize, deleted: usize) -> (Vec<Uuid>, Vec<Uuid>) {
    let (mut indexable, mut gone) = (Vec::new(), Vec::new());
    for i in 0..live + 1 + deleted {
        let mut product = ctx.product(&format!("Lantern {i}"));
        product.is_active = i != live;
        let (product, _) = ctx.create(product).await;
        if i > live {
            ctx.update(&product, 2, |p| p.deleted_at = Some(Timestamp::now())).await;
            gone.push(product.id);
        } else {
            indexable.push(product.id);
        }
    }
    (indexable, gone)
}

async fn indexed_ids(engine: &dyn SearchEngine) -> Vec<Uuid> {
    let query = shop_search::SearchQuery { include_inactive: true, limit: 100, ..Default::default() };
    let mut ids: Vec<Uuid> = engine.search(&query).await.unwrap().hits.into_iter().map(|h| h.id).collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn reindex_rebuilds_an_emptied_index_from_the_table() {
    let mut ctx = ctx().await;
    let (mut indexable, gone) = catalog(&mut ctx, 9, 3).await;
    indexable.sort();
    // An item under a product key that is not a product is counted, logged and skipped.
    let broken = Uuid::now_v7();
    ctx.dynamo
        .put_item()
        .table_name(&ctx.table)
        .item("pk", AttributeValue::S(format!("PRODUCT#{broken}")))
        .item("sk", AttributeValue::S("PRODUCT".into()))
        .item("name", AttributeValue::S("half a product".into()))
        .send()
        .await
        .unwrap();
    // The index lost everything except a stale document of a deleted product.
    let stale = ctx.product("Stale Lantern");
    ctx.engine.upsert(vec![catalog::search::product_doc(&catalog::domain::Product { id: gone[0], ..stale })]).await.unwrap();
    assert_eq!(indexed_ids(&ctx.engine).await, [gone[0]]);

    let seen = Mutex::new(Vec::<Counts>::new());
    let options = ReindexOptions { segments: 4, chunk_size: 4, ..ReindexOptions::default() };
    let report = ctx.indexer.reindex(options, &|counts| seen.lock().unwrap().push(counts)).await.unwrap();

    assert_eq!(report.counts, Counts { scanned: 14, upserted: 10, deleted: 3, invalid: 1 });
    assert!(report.complete);
    assert_eq!(report.cursor, None);
    assert_eq!(indexed_ids(&ctx.engine).await, indexable, "live and inactive products, nothing deleted");
    assert_eq!(ctx.search("lantern").await.len(), 10);
    let seen = seen.into_inner().unwrap();
    assert!(seen.len() >= 4, "progress after every page of every segment: {seen:?}");
    assert!(seen.windows(2).all(|w| w[0].scanned <= w[1].scanned), "totals only grow: {seen:?}");
    assert_eq!(seen.last(), Some(&report.counts));
}

#[tokio::test]
async fn a_reindex_stopped_by_its_deadline_resumes_from_its_cursor() {
    let mut ctx = ctx().await;
    let (mut indexable, _) = catalog(&mut ctx, 5, 1).await;
    indexable.sort();

    let stopped = ReindexOptions { segments: 3, stop_at: Some(std::time::Instant::now()), ..ReindexOptions::default() };
    let report = ctx.indexer.reindex(stopped, &|_| {}).await.unwrap();
    assert!(!report.complete);
    assert_eq!(report.counts, Counts::default());
    let cursor = report.cursor.unwrap();
    assert_eq!(cursor.total_segments, 3);
    assert_eq!(cursor.pending.iter().map(|s| s.segment).collect::<Vec<_>>(), [0, 1, 2]);

    let resumed = ReindexOptions { resume: Some(cursor), ..ReindexOptions::default() };
    let report = ctx.indexer.reindex(resumed, &|_| {}).await.unwrap();
    assert!(report.complete);
    assert_eq!((report.counts.upserted, report.counts.deleted), (6, 1));
    assert_eq!(indexed_ids(&ctx.engine).await, indexable);
}

#[tokio::test]
async fn a_reindex_stopped_by_an_engine_failure_resumes_without_losing_products() {
    let mut ctx = ctx().await;
    let (mut indexable, _) = catalog(&mut ctx, 5, 0).await;
    indexable.sort();
    let opensearch = fake_opensearch(true).await;
    opensearch.reject_index.store(true, std::sync::atomic::Ordering::SeqCst);
    let engine = OpenSearchEngine::with_url(&opensearch.url, "products").unwrap();
    let indexer = Indexer::new(Arc::new(engine), ctx.dynamo.clone(), &ctx.table);

    let err = indexer.reindex(ReindexOptions { segments: 1, ..ReindexOptions::default() }, &|_| {}).await.unwrap_err();
    let message = err.to_string();
    let ReindexError::Failed { resume, counts, .. } = err else { panic!("{message}") };
    assert_eq!(counts.upserted, 0);
    assert_eq!(resume.pending.len(), 1, "the failed segment");
    assert_eq!(resume.pending[0].start_key, None, "its first page failed");
    assert!(message.contains(&format!(r#"{{"action":"reindex","cursor":{}}}"#, serde_json::to_string(&resume).unwrap())), "{message}");

    opensearch.reject_index.store(false, std::sync::atomic::Ordering::SeqCst);
    let report = indexer.reindex(ReindexOptions { resume: Some(resume), ..ReindexOptions::default() }, &|_| {}).await.unwrap();
    assert!(report.complete);
    let mut written: Vec<Uuid> = opensearch.accepted().into_iter().map(|(_, id, _)| id).collect();
    written.sort();
    assert_eq!(written, indexable);
}

#[tokio::test]
async fn bad_options_are_refused() {
    let ctx = ctx().await;
    for options in [
        ReindexOptions { segments: 0, ..ReindexOptions::default() },
        ReindexOptions { segments: 65, ..ReindexOptions::default() },
        ReindexOptions { chunk_size: 0, ..ReindexOptions::default() },
    ] {
        let err = ctx.indexer.reindex(options.clone(), &|_| {}).await.unwrap_err();
        assert!(matches!(err, ReindexError::Invalid(_)), "{options:?}: {err}");
    }
    // An empty stream batch is a success.
    assert!(ctx.indexer.handle_stream(batch(vec![])).await.batch_item_failures.is_empty());
}
