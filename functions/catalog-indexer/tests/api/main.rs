//! Black-box tests of the catalog-indexer against real components: a `CatalogTable` on DynamoDB
//! Local created from the template, products written through `catalog::store::Store`, the
//! table's real stream records, and a real tantivy index in a temp dir (OpenSearch through an
//! HTTP server replaying OpenSearch response bodies).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod invoke;
mod reindex;
mod stream;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use catalog::domain::{Category, Product};
use catalog::store::Store;
use catalog_indexer::Indexer;
use serde_json::{Value, json};
use shop_core::time::Timestamp;
use shop_search::{SearchEngine, SearchQuery, TantivyEngine};
use shop_testkit::streams::StreamReader;
use uuid::Uuid;

/// A fresh catalog table with its stream, a category, and an indexer writing to a fresh
/// tantivy index.
pub struct Ctx {
    pub store: Store,
    pub dynamo: aws_sdk_dynamodb::Client,
    pub table: String,
    pub stream: StreamReader,
    pub engine: TantivyEngine,
    pub indexer: Indexer,
    pub category: Category,
    pub seller: Uuid,
    _dir: tempfile::TempDir,
}

pub async fn ctx() -> Ctx {
    let (dynamo, table) = shop_testkit::table("CatalogTable").await;
    let described = dynamo.describe_table().table_name(&table).send().await.unwrap();
    let arn = described.table().and_then(|t| t.latest_stream_arn()).expect("CatalogTable has a stream").to_owned();
    let mut stream = StreamReader::new(arn).await;
    let store = Store::new(dynamo.clone(), &table);
    let now = Timestamp::now();
    let category = Category {
        id: Uuid::now_v7(),
        name: format!("Lamps {}", shop_testkit::unique("")),
        slug: shop_testkit::unique("lamps"),
        description: None,
        parent_id: None,
        is_active: true,
        created_at: now,
        updated_at: now,
    };
    store.create_category(&category).await.unwrap().unwrap();
    // The category and its two guards: not products.
    let records = stream.read_exactly(3).await;
    let dir = tempfile::tempdir().unwrap();
    let engine = TantivyEngine::open(dir.path()).unwrap();
    let indexer = Indexer::new(Arc::new(engine.clone()), dynamo.clone(), &table);
    let ignored = indexer.handle_stream(batch(records)).await;
    assert!(ignored.batch_item_failures.is_empty(), "category records are ignored, not failed");
    assert_eq!(engine.count().await.unwrap(), 0);
    Ctx { store, dynamo, table, stream, engine, indexer, category, seller: Uuid::now_v7(), _dir: dir }
}

impl Ctx {
    /// A valid product in the context's category (not written).
    pub fn product(&self, name: &str) -> Product {
        let now = Timestamp::now();
        let id = Uuid::now_v7();
        let suffix = id.simple().to_string();
        Product {
            id,
            seller_id: self.seller,
            name: name.into(),
            slug: format!("{}-{}", catalog::domain::slugify(name), &suffix[20..]),
            sku: format!("SKU-{}", &suffix[20..]),
            description: "Made to last.".into(),
            price: 4_999,
            compare_price: None,
            currency: "USD".into(),
            category_id: self.category.id,
            brand: Some("Lumen".into()),
            images: vec![],
            tags: vec!["lighting".into()],
            // Not empty: DynamoDB Local writes an empty map into stream records as `{}`, which the
            // streams SDK refuses (the local runner's `streams::local_client` repairs it).
            attributes: BTreeMap::from([("wattage".to_owned(), json!(40))]),
            is_active: true,
            is_featured: false,
            rating_average: 4.5,
            rating_count: 2,
            in_stock: false,
            available: None,
            created_at: now,
            updated_at: now,
            deleted_at: None,
            version: 1,
        }
    }

    /// Writes a new product through the store and returns it with its stream records (the
    /// product, its SKU and slug guards, and the category's product count).
    pub async fn create(&mut self, product: Product) -> (Product, Vec<Value>) {
        let product = self.store.create_product(&product, catalog::store::SlugPolicy::Exact).await.unwrap().unwrap();
        let records = self.stream.read_exactly(4).await;
        (product, records)
    }

    /// Replaces `old` with `change(old)` (version bumped) through the store; returns the new
    /// product and its stream records (`records` of them).
    pub async fn update(&mut self, old: &Product, records: usize, change: impl FnOnce(&mut Product)) -> (Product, Vec<Value>) {
        let mut change = Some(change);
        let (_, new) = self
            .store
            .edit_product(old.id, |stored| {
                let mut product = stored.expect("the product exists");
                assert_eq!(product.version, old.version, "nobody else writes in this test");
                if let Some(change) = change.take() {
                    change(&mut product);
                }
                Ok::<_, catalog::store::StoreError>(product)
            })
            .await
            .unwrap()
            .unwrap();
        let records = self.stream.read_exactly(records).await;
        (new, records)
    }

    /// Ids of the products a text search finds (inactive ones included).
    pub async fn search(&self, q: &str) -> Vec<Uuid> {
        search_ids(&self.engine, q, true).await
    }
}

pub async fn search_ids(engine: &dyn SearchEngine, q: &str, include_inactive: bool) -> Vec<Uuid> {
    let query = SearchQuery { q: Some(q.into()), include_inactive, ..SearchQuery::default() };
    engine.search(&query).await.unwrap().hits.into_iter().map(|h| h.id).collect()
}

/// A Lambda `DynamoDBEvent` of `records`.
pub fn batch(records: Vec<Value>) -> catalog_indexer::StreamEvent {
    serde_json::from_value(json!({ "Records": records })).unwrap()
}

pub fn sequence(record: &Value) -> String {
    record["dynamodb"]["SequenceNumber"].as_str().unwrap().to_owned()
}

pub fn pk(record: &Value) -> String {
    record["dynamodb"]["Keys"]["pk"]["S"].as_str().unwrap().to_owned()
}

/// The failed item identifiers of a response.
pub fn failures(response: &aws_lambda_events::event::streams::DynamoDbEventResponse) -> Vec<String> {
    response.batch_item_failures.iter().map(|f| f.item_identifier.clone().unwrap()).collect()
}

/// A stream record built from a product (for batches no table produced, e.g. against a
/// replayed OpenSearch): the item as the store writes it, in DynamoDB JSON.
pub fn synthetic_record(event: &str, sequence: &str, pk: &str, sk: &str, image: Option<&Product>) -> Value {
    let keys = json!({"pk": {"S": pk}, "sk": {"S": sk}});
    let mut dynamodb = json!({"Keys": keys, "SequenceNumber": sequence, "SizeBytes": 100, "StreamViewType": "NEW_AND_OLD_IMAGES"});
    if let Some(product) = image {
        let mut item: serde_dynamo::Item = serde_dynamo::to_item(product).unwrap();
        item.insert("pk".into(), serde_dynamo::AttributeValue::S(pk.into()));
        item.insert("sk".into(), serde_dynamo::AttributeValue::S(sk.into()));
        dynamodb[if event == "REMOVE" { "OldImage" } else { "NewImage" }] = serde_json::to_value(item).unwrap();
    }
    json!({"eventID": Uuid::now_v7().to_string(), "eventName": event, "eventVersion": "1.1", "eventSource": "aws:dynamodb",
           "awsRegion": "us-east-1", "dynamodb": dynamodb, "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/CatalogTable/stream/x"})
}

/// An HTTP server answering like an OpenSearch domain with index `products`: while
/// `reject_index` is set, bulk requests with `index` actions are rejected (429, OpenSearch's
/// back-pressure answer); deletes always succeed.
pub struct FakeOpenSearch {
    pub url: String,
    pub reject_index: Arc<AtomicBool>,
    log: Log,
}

/// ("METHOD /path", body, status) of every request.
type Log = Arc<Mutex<Vec<(String, String, u16)>>>;

impl FakeOpenSearch {
    /// "METHOD /path" of every request so far.
    pub fn requests(&self) -> Vec<String> {
        self.log.lock().unwrap().iter().map(|(r, _, _)| r.clone()).collect()
    }

    /// The body of every request to `request` ("METHOD /path").
    pub fn bodies(&self, request: &str) -> Vec<String> {
        self.log.lock().unwrap().iter().filter(|(r, _, _)| r == request).map(|(_, b, _)| b.clone()).collect()
    }

    /// The (action, id, document) lines of the bulk requests that were accepted.
    pub fn accepted(&self) -> Vec<(String, Uuid, Option<Value>)> {
        let log = self.log.lock().unwrap();
        let mut out = Vec::new();
        for (_, body, _) in log.iter().filter(|(r, _, status)| r == "POST /products/_bulk" && *status == 200) {
            let lines: Vec<Value> = body.lines().filter(|l| !l.trim().is_empty()).map(|l| serde_json::from_str(l).unwrap()).collect();
            let mut i = 0;
            while i < lines.len() {
                let (action, meta) = lines[i].as_object().unwrap().iter().next().unwrap();
                let id = Uuid::parse_str(meta["_id"].as_str().unwrap()).unwrap();
                if action == "index" {
                    out.push((action.clone(), id, Some(lines[i + 1].clone())));
                    i += 2;
                } else {
                    out.push((action.clone(), id, None));
                    i += 1;
                }
            }
        }
        out
    }
}

const REJECTED: &str = r#"{"error":{"root_cause":[{"type":"es_rejected_execution_exception","reason":"rejected execution of coordinating operation [coordinating_and_primary_bytes=104857600, replica_bytes=0, all_bytes=104857600, coordinating_operation_bytes=2048, max_coordinating_and_primary_bytes=104857600]"}],"type":"es_rejected_execution_exception","reason":"rejected execution of coordinating operation [coordinating_and_primary_bytes=104857600, replica_bytes=0, all_bytes=104857600, coordinating_operation_bytes=2048, max_coordinating_and_primary_bytes=104857600]"},"status":429}"#;

/// The bulk answer OpenSearch gives when every action of `body` succeeded.
fn bulk_ok(body: &str) -> String {
    let items: Vec<Value> = body
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|l| {
            let (action, meta) = l.as_object()?.iter().next()?;
            matches!(action.as_str(), "index" | "delete").then(|| {
                let (result, status) = if action == "index" { ("created", 201) } else { ("deleted", 200) };
                json!({ action: {"_index": "products", "_id": meta["_id"], "_version": 1, "result": result,
                    "_shards": {"total": 2, "successful": 1, "failed": 0}, "_seq_no": 0, "_primary_term": 1, "status": status} })
            })
        })
        .collect();
    json!({"took": 4, "errors": false, "items": items}).to_string()
}

pub async fn fake_opensearch(index_exists: bool) -> FakeOpenSearch {
    use axum::body::Bytes;
    use axum::extract::State;
    use axum::http::{Method, StatusCode, Uri};

    let log: Log = Arc::default();
    let reject_index = Arc::new(AtomicBool::new(false));
    let reject = reject_index.clone();
    let handler = move |State(log): State<Log>, method: Method, uri: Uri, body: Bytes| async move {
        let body = String::from_utf8_lossy(&body).into_owned();
        let (status, response): (StatusCode, String) = match (method.as_str(), uri.path()) {
            ("HEAD", "/products") if index_exists => (StatusCode::OK, String::new()),
            ("HEAD", "/products") => (StatusCode::NOT_FOUND, String::new()),
            ("PUT", "/products") => (StatusCode::OK, r#"{"acknowledged":true,"shards_acknowledged":true,"index":"products"}"#.into()),
            ("POST", "/products/_bulk") if reject.load(Ordering::SeqCst) && body.contains(r#"{"index":"#) => {
                (StatusCode::TOO_MANY_REQUESTS, REJECTED.into())
            }
            ("POST", "/products/_bulk") => (StatusCode::OK, bulk_ok(&body)),
            _ => (StatusCode::BAD_REQUEST, r#"{"error":"unexpected request"}"#.into()),
        };
        log.lock().unwrap().push((format!("{method} {}", uri.path()), body, status.as_u16()));
        (status, [("content-type", "application/json")], response)
    };
    let app = axum::Router::new().fallback(handler).with_state(log.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    FakeOpenSearch { url, reject_index, log }
}
