//! The Lambda entry: configuration, engine set-up, and event dispatch.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use catalog_indexer::config::{Config, ConfigError};
use catalog_indexer::{InvokeError, LazyIndexer, ReindexError};
use serde_json::{Value, json};
use shop_search::EngineConfig;

use crate::{ctx, fake_opensearch, synthetic_record};

fn lookup(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let vars: BTreeMap<String, String> = vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    move |name| vars.get(name).cloned()
}

#[test]
fn the_configuration_names_what_is_missing() {
    let err = Config::from_lookup(&lookup(&[("SEARCH_ENGINE", "tantivy"), ("SEARCH_INDEX_DIR", "/tmp/x")])).unwrap_err();
    assert!(matches!(&err, ConfigError::Missing(m) if m.0 == "CATALOG_TABLE"), "{err}");
    let err = Config::from_lookup(&lookup(&[("CATALOG_TABLE", "t")])).unwrap_err();
    assert!(matches!(&err, ConfigError::Search(e) if e.name == "SEARCH_ENGINE"), "{err}");
    let config = Config::from_lookup(&lookup(&[
        ("CATALOG_TABLE", "t"),
        ("SEARCH_ENGINE", "opensearch"),
        ("OPENSEARCH_ENDPOINT", "search-x.es.amazonaws.com"),
    ]))
    .unwrap();
    assert_eq!(config.table, "t");
    assert_eq!(config.engine, EngineConfig::OpenSearch { endpoint: "https://search-x.es.amazonaws.com".into(), index: "products".into() });
}

#[tokio::test]
async fn the_first_invocation_creates_the_opensearch_index_once_and_signs_its_requests() {
    let opensearch = fake_opensearch(false).await;
    let config = Config {
        table: "unused".into(),
        engine: EngineConfig::OpenSearch { endpoint: opensearch.url.clone(), index: "products".into() },
        redis_url: None,
        cache_prefix: "catalog:".into(),
    };
    let indexer = LazyIndexer::with_sdk(config, shop_testkit::sdk().await.clone());
    assert!(opensearch.requests().is_empty(), "nothing happens before the first invocation");

    let ctx = ctx().await;
    let product = ctx.product("Quokka Desk Lamp");
    let pk = format!("PRODUCT#{}", product.id);
    let event = json!({"Records": [synthetic_record("INSERT", "300000000000000000001", &pk, "PRODUCT", Some(&product))]});
    let response = indexer.invoke(event.clone(), None).await.unwrap();
    assert_eq!(response, json!({"batchItemFailures": []}));
    indexer.invoke(event, None).await.unwrap();
    assert_eq!(opensearch.requests(), ["HEAD /products", "PUT /products", "POST /products/_bulk", "POST /products/_bulk"]);
    let definition: Value = serde_json::from_str(&opensearch.bodies("PUT /products")[0]).unwrap();
    assert_eq!(definition, shop_search::opensearch_engine::index_definition(), "mapping and analyzers from code");
}

#[tokio::test]
async fn an_engine_that_cannot_be_opened_fails_the_invocation_and_is_retried_by_the_next() {
    let opensearch = fake_opensearch(false).await;
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap();
    let config = Config {
        table: "unused".into(),
        engine: EngineConfig::OpenSearch { endpoint: format!("http://{closed}"), index: "products".into() },
        redis_url: None,
        cache_prefix: "catalog:".into(),
    };
    let down = LazyIndexer::with_sdk(config, shop_testkit::sdk().await.clone());
    let err = down.invoke(json!({"Records": []}), None).await.unwrap_err();
    assert!(matches!(err, InvokeError::Engine(_)), "{err}");
    assert!(matches!(down.invoke(json!({"Records": []}), None).await, Err(InvokeError::Engine(_))), "tried again, not cached");
    assert!(opensearch.requests().is_empty());
}

#[tokio::test]
async fn reindex_invocations_stop_before_the_deadline_and_continue_from_the_returned_cursor() {
    let mut ctx = ctx().await;
    let mut ids = Vec::new();
    for name in ["Quokka Lamp", "Wombat Lamp", "Numbat Lamp"] {
        let product = ctx.product(name);
        ids.push(ctx.create(product).await.0.id);
    }
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        table: ctx.table.clone(),
        engine: EngineConfig::Tantivy { dir: dir.path().to_owned() },
        redis_url: None,
        cache_prefix: "catalog:".into(),
    };
    let indexer = LazyIndexer::with_sdk(config, shop_testkit::sdk().await.clone());

    // The deadline has passed: nothing is read, every segment is pending.
    let past = SystemTime::now() - Duration::from_secs(1);
    let stopped = indexer.invoke(json!({"action": "reindex", "segments": 2}), Some(past)).await.unwrap();
    assert_eq!(
        stopped,
        json!({"scanned": 0, "upserted": 0, "deleted": 0, "invalid": 0, "complete": false,
               "cursor": {"totalSegments": 2, "pending": [{"segment": 0}, {"segment": 1}]}})
    );
    let next = json!({"action": "reindex", "cursor": stopped["cursor"]});
    let done = indexer.invoke(next, Some(SystemTime::now() + Duration::from_secs(60))).await.unwrap();
    assert_eq!(done, json!({"scanned": 3, "upserted": 3, "deleted": 0, "invalid": 0, "complete": true}));
    let engine = indexer.get().await.unwrap().engine().clone();
    for (id, name) in ids.iter().zip(["quokka", "wombat", "numbat"]) {
        assert_eq!(crate::search_ids(engine.as_ref(), name, false).await, [*id]);
    }
}

#[tokio::test]
async fn events_that_are_neither_stream_batches_nor_reindex_requests_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        table: "unused".into(),
        engine: EngineConfig::Tantivy { dir: dir.path().to_owned() },
        redis_url: None,
        cache_prefix: "catalog:".into(),
    };
    let indexer = LazyIndexer::with_sdk(config, shop_testkit::sdk().await.clone());
    for event in
        [json!({"hello": "world"}), json!({"action": "rebuild"}), json!({"action": "reindex", "force": true}), json!({"Records": 3})]
    {
        let err = indexer.invoke(event.clone(), None).await.unwrap_err();
        assert!(matches!(err, InvokeError::BadEvent(_)), "{event}: {err}");
    }
    let err = indexer.invoke(json!({"action": "reindex", "segments": 0}), None).await.unwrap_err();
    assert!(matches!(err, InvokeError::Reindex(ReindexError::Invalid(_))), "{err}");
    let err =
        indexer.invoke(json!({"action": "reindex", "cursor": {"totalSegments": 2, "pending": [{"segment": 2}]}}), None).await.unwrap_err();
    assert!(matches!(err, InvokeError::Reindex(ReindexError::Invalid(_))), "{err}");
}
