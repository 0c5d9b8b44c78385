//! Stream batches from the table's real stream into a real tantivy index.

use std::sync::Arc;

use catalog::domain::Product;
use catalog_indexer::Indexer;
use serde_json::json;
use shop_core::time::Timestamp;
use shop_search::{OpenSearchEngine, SearchEngine, SearchQuery};

use crate::{batch, ctx, failures, fake_opensearch, pk, search_ids, sequence, synthetic_record};

#[tokio::test]
async fn a_created_product_becomes_searchable_and_its_guards_and_category_are_ignored() {
    let mut ctx = ctx().await;
    let product = ctx.product("Quokka Desk Lamp");
    let (product, records) = ctx.create(product).await;
    let mut keys: Vec<String> = records.iter().map(|r| pk(r).split('#').next().unwrap().to_owned()).collect();
    keys.sort();
    assert_eq!(keys, ["CATEGORY", "PRODUCT", "SKU", "SLUG"], "the product, its guards and its category's count");

    let response = ctx.indexer.handle_stream(batch(records)).await;
    assert_eq!(failures(&response), Vec::<String>::new());
    assert_eq!(ctx.search("quokka").await, [product.id]);
    assert_eq!(ctx.search("quoka").await, [product.id], "typo tolerant");
    assert_eq!(ctx.engine.count().await.unwrap(), 1, "only the product is indexed");
    let hits = ctx.engine.search(&SearchQuery { q: Some("quokka".into()), ..SearchQuery::default() }).await.unwrap().hits;
    let shown: Product = serde_json::from_str(hits[0].source.as_deref().unwrap()).unwrap();
    assert_eq!(shown, product, "the hit carries the product as the API shows it");
}

#[tokio::test]
async fn an_update_is_searchable_under_the_new_name_and_no_longer_under_the_old_one() {
    let mut ctx = ctx().await;
    let product = ctx.product("Quokka Desk Lamp");
    let (product, created) = ctx.create(product).await;
    assert!(ctx.indexer.handle_stream(batch(created)).await.batch_item_failures.is_empty());
    assert_eq!(ctx.search("quokka").await, [product.id]);

    let (_, updated) = ctx.update(&product, 1, |p| p.name = "Wombat Floor Lamp".into()).await;
    assert_eq!(updated[0]["eventName"], "MODIFY");
    assert!(ctx.indexer.handle_stream(batch(updated)).await.batch_item_failures.is_empty());
    assert_eq!(ctx.search("wombat").await, [product.id]);
    assert_eq!(ctx.search("quokka").await, Vec::<uuid::Uuid>::new(), "the old name is gone");
    assert_eq!(ctx.engine.count().await.unwrap(), 1, "replaced, not added");
}

#[tokio::test]
async fn a_soft_deleted_product_leaves_the_index() {
    let mut ctx = ctx().await;
    let product = ctx.product("Quokka Desk Lamp");
    let (product, created) = ctx.create(product).await;
    assert!(ctx.indexer.handle_stream(batch(created)).await.batch_item_failures.is_empty());
    assert_eq!(ctx.search("quokka").await, [product.id]);

    // The product item and its category's product count change.
    let (_, deleted) = ctx.update(&product, 2, |p| p.deleted_at = Some(Timestamp::now())).await;
    assert!(ctx.indexer.handle_stream(batch(deleted)).await.batch_item_failures.is_empty());
    assert_eq!(ctx.search("quokka").await, Vec::<uuid::Uuid>::new(), "hidden even from seller/admin searches");
    assert_eq!(ctx.engine.count().await.unwrap(), 0);
}

#[tokio::test]
async fn an_inactive_product_stays_indexed_but_flagged() {
    let mut ctx = ctx().await;
    let mut product = ctx.product("Quokka Desk Lamp");
    product.is_active = false;
    let (product, created) = ctx.create(product).await;
    assert!(ctx.indexer.handle_stream(batch(created)).await.batch_item_failures.is_empty());
    assert_eq!(search_ids(&ctx.engine, "quokka", false).await, Vec::<uuid::Uuid>::new(), "storefront searches skip it");
    assert_eq!(search_ids(&ctx.engine, "quokka", true).await, [product.id], "seller/admin searches see it");

    let (_, activated) = ctx.update(&product, 1, |p| p.is_active = true).await;
    assert!(ctx.indexer.handle_stream(batch(activated)).await.batch_item_failures.is_empty());
    assert_eq!(search_ids(&ctx.engine, "quokka", false).await, [product.id]);
}

#[tokio::test]
async fn changes_of_one_batch_are_coalesced_per_product_and_applied_in_one_call_each() {
    let mut ctx = ctx().await;
    let a = ctx.product("Quokka Desk Lamp");
    let (a, mut records) = ctx.create(a).await;
    let (_, renamed) = ctx.update(&a, 1, |p| p.name = "Wombat Floor Lamp".into()).await;
    records.extend(renamed);
    let b = ctx.product("Numbat Reading Lamp");
    let (b, created_b) = ctx.create(b).await;
    records.extend(created_b);
    let (_, deleted_b) = ctx.update(&b, 2, |p| p.deleted_at = Some(Timestamp::now())).await;
    records.extend(deleted_b);

    // The same real records through OpenSearch's bulk API: one index call, one delete call.
    let opensearch = fake_opensearch(true).await;
    let engine = OpenSearchEngine::with_url(&opensearch.url, "products").unwrap();
    let counted = Indexer::new(Arc::new(engine), ctx.dynamo.clone(), &ctx.table);
    assert!(counted.handle_stream(batch(records.clone())).await.batch_item_failures.is_empty());
    assert_eq!(opensearch.requests(), ["POST /products/_bulk", "POST /products/_bulk"]);
    let mut accepted: Vec<(String, uuid::Uuid, Option<String>)> = opensearch
        .accepted()
        .into_iter()
        .map(|(action, id, doc)| (action, id, doc.map(|d| d["name"].as_str().unwrap().to_owned())))
        .collect();
    accepted.sort();
    assert_eq!(accepted, [("delete".into(), b.id, None), ("index".into(), a.id, Some("Wombat Floor Lamp".into()))], "the last record wins");

    assert!(ctx.indexer.handle_stream(batch(records)).await.batch_item_failures.is_empty());
    assert_eq!(ctx.search("wombat").await, [a.id]);
    assert_eq!(ctx.search("quokka").await, Vec::<uuid::Uuid>::new());
    assert_eq!(ctx.search("numbat").await, Vec::<uuid::Uuid>::new());
}

#[tokio::test]
async fn an_undecodable_record_is_reported_with_its_sequence_number_and_the_rest_is_applied() {
    let mut ctx = ctx().await;
    let a = ctx.product("Quokka Desk Lamp");
    let (a, records_a) = ctx.create(a).await;
    let b = ctx.product("Wombat Floor Lamp");
    let (b, mut records_b) = ctx.create(b).await;
    let at = records_b.iter().position(|r| pk(r) == format!("PRODUCT#{}", b.id)).unwrap();
    records_b[at]["dynamodb"]["NewImage"]["price"] = json!({"S": "cheap"});
    let records: Vec<_> = records_a.into_iter().chain(records_b).collect();
    let bad = records.len() - 4 + at;

    let response = ctx.indexer.handle_stream(batch(records.clone())).await;
    let expected: Vec<String> = records[bad..].iter().map(sequence).collect();
    assert_eq!(failures(&response), expected, "from the undecodable record on");
    assert_eq!(ctx.search("quokka").await, [a.id], "the decodable product is indexed");
    assert_eq!(ctx.search("wombat").await, Vec::<uuid::Uuid>::new(), "the undecodable one is not");

    // A record without keys is reported too, by its own sequence number.
    let garbage = json!({"eventName": "INSERT", "dynamodb": {"SequenceNumber": "000000000000000999999", "NewImage": {"x": {"S": "y"}}}});
    let response = ctx.indexer.handle_stream(batch(vec![records[0].clone(), garbage])).await;
    assert_eq!(failures(&response), ["000000000000000999999"]);
}

#[tokio::test]
async fn an_engine_failure_is_reported_from_the_first_record_it_affects() {
    let ctx = ctx().await;
    let opensearch = fake_opensearch(true).await;
    opensearch.reject_index.store(true, std::sync::atomic::Ordering::SeqCst);
    let engine = OpenSearchEngine::with_url(&opensearch.url, "products").unwrap();
    let indexer = Indexer::new(Arc::new(engine), ctx.dynamo.clone(), &ctx.table);
    let (gone, kept, also_gone) = (ctx.product("Gone Lamp"), ctx.product("Kept Lamp"), ctx.product("Also Gone Lamp"));
    let product_pk = |p: &Product| format!("PRODUCT#{}", p.id);
    let category_pk = format!("CATEGORY#{}", ctx.category.id);
    let records = vec![
        synthetic_record("REMOVE", "100000000000000000001", &product_pk(&gone), "PRODUCT", Some(&gone)),
        synthetic_record("INSERT", "100000000000000000002", &category_pk, "CATEGORY", None),
        synthetic_record("INSERT", "100000000000000000003", &product_pk(&kept), "PRODUCT", Some(&kept)),
        synthetic_record("REMOVE", "100000000000000000004", &product_pk(&also_gone), "PRODUCT", Some(&also_gone)),
    ];
    let response = indexer.handle_stream(batch(records)).await;
    assert_eq!(
        failures(&response),
        ["100000000000000000003", "100000000000000000004"],
        "the upsert was rejected; the deletes went through"
    );
    let mut deleted: Vec<uuid::Uuid> = opensearch.accepted().into_iter().map(|(_, id, _)| id).collect();
    deleted.sort();
    let mut expected = vec![gone.id, also_gone.id];
    expected.sort();
    assert_eq!(deleted, expected);

    // An engine that does not answer at all: every product record from the first is retried.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap();
    let unreachable = Indexer::new(
        Arc::new(OpenSearchEngine::with_url(&format!("http://{closed}"), "products").unwrap()),
        ctx.dynamo.clone(),
        &ctx.table,
    );
    let records = vec![
        synthetic_record("MODIFY", "200000000000000000001", &category_pk, "CATEGORY", None),
        synthetic_record("INSERT", "200000000000000000002", &product_pk(&kept), "PRODUCT", Some(&kept)),
    ];
    assert_eq!(failures(&unreachable.handle_stream(batch(records)).await), ["200000000000000000002"]);
}

#[tokio::test]
async fn an_indexed_batch_invalidates_the_catalogs_cached_listings() {
    let mut ctx = ctx().await;
    let redis = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let cache = shop_cache::Cache::connect(&redis, shop_testkit::redis_prefix()).await;
    assert!(cache.is_enabled(), "Redis runs in the local cloud");
    let indexer = ctx.indexer.clone().with_cache(cache.clone());
    let listings = catalog::store::cached::LISTINGS;
    let before = cache.version(listings).await;

    let (_, records) = ctx.create(ctx.product("Quokka Desk Lamp")).await;
    assert!(indexer.handle_stream(batch(records)).await.batch_item_failures.is_empty());
    let after = cache.version(listings).await;
    assert!(after > before, "a write to the index makes every cached listing unreachable ({before} -> {after})");

    // A batch with nothing to index (a category change) leaves the listings cached.
    ctx.store
        .create_category(&catalog::domain::Category {
            id: uuid::Uuid::now_v7(),
            slug: shop_testkit::unique("c"),
            name: shop_testkit::unique("C"),
            ..ctx.category.clone()
        })
        .await
        .unwrap()
        .unwrap();
    let records = ctx.stream.read_exactly(3).await;
    assert!(indexer.handle_stream(batch(records)).await.batch_item_failures.is_empty());
    assert_eq!(cache.version(listings).await, after);
}

#[tokio::test]
async fn availability_from_inventory_reaches_the_index_through_the_stream() {
    let mut ctx = ctx().await;
    let product = ctx.product("Quokka Desk Lamp");
    let (product, created) = ctx.create(product).await;
    assert!(ctx.indexer.handle_stream(batch(created)).await.batch_item_failures.is_empty());
    let in_stock = |value: bool| SearchQuery { q: Some("quokka".into()), in_stock: Some(value), ..SearchQuery::default() };
    assert_eq!(ctx.engine.search(&in_stock(true)).await.unwrap().total, 0, "never reported: out of stock");

    let stock = catalog::domain::Availability { available: 3, low_stock_threshold: 5 };
    assert_eq!(ctx.store.set_availability(product.id, stock).await.unwrap(), catalog::store::AvailabilityWrite::Stored);
    let records = ctx.stream.read_exactly(1).await;
    assert_eq!(records[0]["eventName"], "MODIFY");
    assert!(ctx.indexer.handle_stream(batch(records)).await.batch_item_failures.is_empty());
    let hits = ctx.engine.search(&in_stock(true)).await.unwrap().hits;
    assert_eq!(hits.len(), 1);
    let shown: Product = serde_json::from_str(hits[0].source.as_deref().unwrap()).unwrap();
    assert_eq!((shown.in_stock, shown.available, shown.version), (true, Some(3), product.version), "stock is not an edit");

    // A seller's edit afterwards keeps the stock in the item and so in the index.
    let (_, edited) = ctx.update(&product, 1, |p| p.price = 5_999).await;
    assert!(ctx.indexer.handle_stream(batch(edited)).await.batch_item_failures.is_empty());
    let hits = ctx.engine.search(&in_stock(true)).await.unwrap().hits;
    let shown: Product = serde_json::from_str(hits[0].source.as_deref().unwrap()).unwrap();
    assert_eq!((shown.price, shown.in_stock, shown.available), (5_999, true, Some(3)));

    ctx.store.set_availability(product.id, catalog::domain::Availability { available: 0, low_stock_threshold: 5 }).await.unwrap();
    let records = ctx.stream.read_exactly(1).await;
    assert!(ctx.indexer.handle_stream(batch(records)).await.batch_item_failures.is_empty());
    assert_eq!(ctx.engine.search(&in_stock(true)).await.unwrap().total, 0);
    assert_eq!(ctx.engine.search(&in_stock(false)).await.unwrap().total, 1);
}
