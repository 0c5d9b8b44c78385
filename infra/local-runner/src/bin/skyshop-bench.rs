//! `skyshop-bench`: benchmarks of the local runner and of a function binary; each prints JSON.
//! `skyshop-bench --help` lists the commands and their flags (scripts/bench runs them).

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use local_runner::cloud::{LocalCloud, Options};
use local_runner::rie::Rie;
use serde_json::{Value, json};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Benchmarks of the Skyshop local runner and of a function binary; each prints a JSON report.
#[derive(Debug, Parser)]
#[command(name = "skyshop-bench")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Cold start (init, init + first invocation) and peak RSS of every function and two
    /// baselines, under the Lambda Runtime API emulator
    Init(InitArgs),
    /// CPU cost of one argon2id hash at the parameters accounts uses
    Argon2,
    /// The embedded search engine over a synthetic catalog (engine level: no HTTP, no Redis)
    Search(search_bench::Args),
    /// Stock reservations and releases through inventory's internal routes (DynamoDB Local)
    Reserve(reserve_bench::Args),
    /// Put synthetic products straight into the local runner's search index (stop the runner
    /// first)
    IndexSynthetic(index_synthetic::Args),
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    match local_runner::cli::parse::<Cli>().command {
        Command::Init(args) => cold_start(args).await,
        Command::Argon2 => argon2_cost().await,
        Command::Search(args) => search_bench::run(args).await,
        Command::Reserve(args) => reserve_bench::run(args).await,
        Command::IndexSynthetic(args) => index_synthetic::run(args).await,
    }
}

/// `skyshop-bench init --bin-dir <dir> [--runs 20] [--invocations 200] [--only <binary>]`.
#[derive(Debug, Args)]
struct InitArgs {
    /// Directory of the release binaries: every function of the template, bench-hello and
    /// bench-skeleton (cargo-lambda leaves them in $CARGO_TARGET_DIR/<triple>/release)
    #[arg(long, value_name = "DIR")]
    bin_dir: PathBuf,
    /// Cold starts of each binary
    #[arg(long, value_name = "N", default_value_t = 20)]
    runs: usize,
    /// Invocations of one warm process per function before its peak RSS is read
    #[arg(long, value_name = "N", default_value_t = 200)]
    invocations: usize,
    /// Only this function binary (and the baselines)
    #[arg(long, value_name = "BINARY")]
    only: Option<String>,
}

/// One binary under test: its name, the template function (none for the baselines), the
/// environment it gets and the event of its first invocation.
struct Subject {
    binary: String,
    logical_id: Option<String>,
    env: Vec<(String, String)>,
    event: Value,
    /// Which sample event that is (`events/…`).
    event_name: String,
}

/// The sample event a function's cold start is measured with: for an HTTP function its first
/// anonymous `GET` route without path parameters (else its first `GET`, else its first route);
/// for an event function its own sample (queue message, stream record or scheduled job).
fn first_event(function: &sam_model::Function, routes: &[sam_model::Route], events: &[(String, Value)]) -> Option<(String, Value)> {
    let own: Vec<&sam_model::Route> = routes.iter().filter(|r| r.function == function.logical_id).collect();
    let route = own
        .iter()
        .find(|r| r.method == "GET" && !r.path.contains('{') && r.auth == sam_model::RouteAuth::None)
        .or_else(|| own.iter().find(|r| r.method == "GET"))
        .or_else(|| own.first());
    let wanted = match route {
        Some(route) => format!("api/{}.json", route.logical_id),
        None => {
            let prefix = format!("{}-", function.binary);
            let found = events.iter().find(|(name, _)| name.split_once('/').is_some_and(|(_, file)| file.starts_with(&prefix)))?;
            found.0.clone()
        }
    };
    events.iter().find(|(name, _)| *name == wanted).cloned()
}

/// Whether an answer is a success for the benchmark: an HTTP response below 500, or any event
/// result that is not an error document.
fn answered(response: &Result<Value, Value>) -> bool {
    match response {
        Ok(body) => body.get("statusCode").and_then(Value::as_u64).is_none_or(|status| status < 500),
        Err(_) => false,
    }
}

/// An OpenSearch stand-in for the release binaries, which carry only the OpenSearch engine (the
/// local cloud's tantivy is the runner's): on loopback, the index exists, every bulk write
/// succeeds, a search finds nothing and the index counts 0 — answers in the shape real clusters
/// give (the engine's tests check its parsing against recorded ones).
async fn opensearch_standin() -> Result<String, BoxError> {
    use axum::routing::{get, post};
    let app = axum::Router::new()
        .route(
            "/{index}",
            get(|| async { axum::Json(json!({})) }).head(|| async {}).put(|| async { axum::Json(json!({"acknowledged": true})) }),
        )
        .route("/{index}/_bulk", post(|| async { axum::Json(json!({"took": 1, "errors": false, "items": []})) }))
        .route(
            "/{index}/_search",
            post(|| async {
                axum::Json(json!({
                    "took": 1, "timed_out": false,
                    "_shards": {"total": 1, "successful": 1, "skipped": 0, "failed": 0},
                    "hits": {"total": {"value": 0, "relation": "eq"}, "max_score": null, "hits": []},
                    "aggregations": {
                        "brands": {"doc_count_error_upper_bound": 0, "sum_other_doc_count": 0, "buckets": []},
                        "categories": {"doc_count_error_upper_bound": 0, "sum_other_doc_count": 0, "buckets": []},
                        "price_bands": {"buckets": []}
                    }
                }))
            }),
        )
        .route(
            "/{index}/_count",
            get(|| async { axum::Json(json!({"count": 0, "_shards": {"total": 1, "successful": 1, "skipped": 0, "failed": 0}})) }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(url)
}

/// Peak resident set of a process (`VmHWM`, KiB), Linux only.
fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|l| l.strip_prefix("VmHWM:")).and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// `skyshop-bench init`: for every function of the template and the two baselines (bench-hello,
/// a bare `lambda_runtime`; bench-skeleton, `lambda_http` + axum + `aws-config` + the SDK
/// clients), `runs` cold starts each under the Runtime API emulator, interleaved so all see the
/// same machine state: **init** (process start → first `GET /runtime/invocation/next`) and
/// **init + first invocation** (the cold start a caller sees: the first event includes each
/// function's lazy set-up — SDK configuration, clients, secrets, first store call). Then one warm
/// process per binary answers `invocations` more events and its peak RSS (`VmHWM`) is read.
/// Functions get the template's environment resolved against a freshly provisioned local cloud
/// (stand-ins must be running); the search engine is [`opensearch_standin`].
async fn cold_start(args: InitArgs) -> Result<(), BoxError> {
    let InitArgs { bin_dir, runs, invocations, only } = args;
    // A cloud of its own whose databases start empty: the first invocation of orders-events
    // (the minute schedule) over a store another run filled — `-bench`'s thousands of unpaid
    // card orders — would measure that backlog's expiry, 100 orders per event, not a cold start.
    let suffix = "-coldstart";
    let base = sam_model::postgres::base_url();
    for function in sam_model::Template::load_repo()?.functions() {
        if let Some(db) = function.db_name() {
            sam_model::postgres::drop_database(&base, &sam_model::postgres::database_name(db, suffix)?).await?;
        }
    }
    let cloud = LocalCloud::start(Options {
        port: 3000,
        suffix: suffix.into(),
        admin_password: Some("Bench-Admin-Pass-1".into()),
        serving: true,
        waf_scale: None,
    })
    .await?;
    let routes = cloud.template.routes()?;
    let events = local_runner::events::all(&cloud.template)?;
    let opensearch = opensearch_standin().await?;
    let mut subjects = vec![
        Subject { binary: "bench-hello".into(), logical_id: None, env: Vec::new(), event: json!({}), event_name: "{}".into() },
        Subject {
            binary: "bench-skeleton".into(),
            logical_id: None,
            env: Vec::new(),
            event: events.iter().find(|(n, _)| n == "api/RouteHealth.json").map(|(_, e)| e.clone()).ok_or("no health sample event")?,
            event_name: "api/RouteHealth.json".into(),
        },
    ];
    for function in cloud.template.functions() {
        if only.as_ref().is_some_and(|o| *o != function.binary) {
            continue;
        }
        let (event_name, event) =
            first_event(&function, &routes, &events).ok_or_else(|| format!("no sample event for {}", function.logical_id))?;
        let mut env = cloud.environments.get(&function.logical_id).cloned().unwrap_or_default();
        if env.get("SEARCH_ENGINE").is_some_and(|engine| engine == "tantivy") {
            env.insert("SEARCH_ENGINE".into(), "opensearch".into());
            env.insert("OPENSEARCH_ENDPOINT".into(), opensearch.clone());
            env.remove("SEARCH_INDEX_DIR");
        }
        let env = env.into_iter().collect();
        subjects.push(Subject { binary: function.binary.clone(), logical_id: Some(function.logical_id.clone()), env, event, event_name });
    }
    for subject in &subjects {
        if !bin_dir.join(&subject.binary).is_file() {
            return Err(format!("no {} in {} (scripts/build builds it)", subject.binary, bin_dir.display()).into());
        }
    }

    // (init ms, init + first invocation ms) per subject.
    let mut samples: Vec<Vec<(f64, f64)>> = vec![Vec::new(); subjects.len()];
    let mut failures: Vec<String> = Vec::new();
    for run in 0..runs {
        for (i, subject) in subjects.iter().enumerate() {
            let mut rie = Rie::spawn(&bin_dir.join(&subject.binary), &subject.env).await?;
            let init = rie.wait_ready(Duration::from_secs(30)).await?;
            let response = rie.invoke(subject.event.clone(), Duration::from_secs(30)).await?;
            let total = rie.started().elapsed();
            rie.stop().await;
            if !answered(&response) && run == 0 {
                failures.push(format!("{} answered {} with {response:?}", subject.binary, subject.event_name));
            }
            samples[i].push((init.as_secs_f64() * 1000.0, total.as_secs_f64() * 1000.0));
        }
    }

    let mut rss_kib: Vec<Option<u64>> = Vec::new();
    for subject in &subjects {
        let mut rie = Rie::spawn(&bin_dir.join(&subject.binary), &subject.env).await?;
        rie.wait_ready(Duration::from_secs(30)).await?;
        let mut unanswered = 0;
        for _ in 0..invocations {
            if !answered(&rie.invoke(subject.event.clone(), Duration::from_secs(30)).await?) {
                unanswered += 1;
            }
        }
        if unanswered > 0 {
            failures.push(format!("{}: {unanswered} of {invocations} warm invocations of {} failed", subject.binary, subject.event_name));
        }
        rss_kib.push(rie.pid().and_then(peak_rss_kib));
        rie.stop().await;
    }

    let stats = |v: &[f64]| -> Value {
        let mut v = v.to_vec();
        v.sort_by(f64::total_cmp);
        let at = |q: f64| (v[((v.len() as f64 - 1.0) * q).round() as usize] * 100.0).round() / 100.0;
        json!({"min": at(0.0), "p50": at(0.5), "p90": at(0.9), "max": at(1.0)})
    };
    let size = |binary: &str| std::fs::metadata(bin_dir.join(binary)).map(|m| m.len()).ok();
    let rows: Vec<Value> = subjects
        .iter()
        .zip(&samples)
        .zip(&rss_kib)
        .map(|((subject, samples), rss)| {
            let init: Vec<f64> = samples.iter().map(|s| s.0).collect();
            let total: Vec<f64> = samples.iter().map(|s| s.1).collect();
            json!({
                "binary": subject.binary,
                "function": subject.logical_id,
                "event": subject.event_name,
                "binary_bytes": size(&subject.binary),
                "init_ms": stats(&init),
                "init_and_first_invocation_ms": stats(&total),
                "peak_rss_kib": rss,
            })
        })
        .collect();
    println!(
        "{}",
        serde_json::to_string_pretty(&json!({"runs": runs, "invocations_for_rss": invocations, "functions": rows, "failures": failures}))?
    );
    if failures.is_empty() {
        Ok(())
    } else {
        Err(format!("{} function(s) did not answer their first event: see failures", failures.len()).into())
    }
}

/// CPU cost of one argon2id hash at the parameters accounts uses (one core, blocking pool).
async fn argon2_cost() -> Result<(), BoxError> {
    let runs = 20;
    let mut times = Vec::new();
    for _ in 0..runs {
        let started = std::time::Instant::now();
        accounts::password::hash("Correct-Horse-9".into()).await?;
        times.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    let report = json!({"argon2id": "m=19456 KiB, t=2, p=1", "runs": runs, "hash_ms": {"min": times[0], "p50": times[runs / 2], "max": times[runs - 1]}});
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}

/// `skyshop-bench search`: the embedded tantivy engine over a synthetic catalog of `--docs`
/// products (default 1,000,000) made from the 194 DummyJSON products by the seed's generator
/// (`shop_seed::synthetic`) and indexed as the catalog indexes products, at engine level (no
/// HTTP, no Redis). Builds the index in `--dir` (or reuses it with `--reuse` when it holds `--docs`
/// products), then runs the seed's search-benchmark query shapes — text, brand filter, price
/// range, text + brand + price + price_asc; page 1, limit 20, total and facets — with one
/// client and with two concurrent clients, and prints JSON: per shape and overall q/s and
/// p50/p95/p99 latency.
mod search_bench {
    use std::path::{Path, PathBuf};
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use catalog::domain::Product;
    use catalog::search::product_doc;
    use serde_json::{Value, json};
    use shop_core::time::Timestamp;
    use shop_search::{ProductDoc, SearchEngine, SearchQuery, Sort, TantivyEngine};
    use shop_seed::synthetic::{splitmix64, synthetic_product};
    use time::OffsetDateTime;
    use uuid::Uuid;

    use super::BoxError;

    /// The text terms of the seed's search-benchmark.
    const TERMS: [&str; 20] = [
        "laptop",
        "phone",
        "watch",
        "shoes",
        "lipstick",
        "perfume",
        "sofa",
        "chair",
        "lamp",
        "bag",
        "dress",
        "shirt",
        "sunglasses",
        "bottle",
        "knife",
        "mascara",
        "headphones",
        "tablet",
        "apple",
        "chicken",
    ];
    /// The seed's eight brands, then brands of the data set.
    const BRANDS: [&str; 14] =
        ["Apple", "Samsung", "Sony", "Dell", "HP", "Lenovo", "LG", "Asus", "Rolex", "Oppo", "Vivo", "Nike", "Gucci", "Calvin Klein"];
    const SHAPES: [&str; 5] = ["text", "brand", "price_range", "combined", "new_text"];

    /// Shape 4: text queries never asked before in the run — one to three words of one base
    /// product's name, brand, category and tags, in random order, one query in ten with one
    /// letter replaced (a typo); a query already asked is drawn again.
    struct NewText {
        words: Vec<Vec<String>>,
        seen: std::sync::Mutex<std::collections::HashSet<String>>,
    }

    static NEW_TEXT: std::sync::OnceLock<NewText> = std::sync::OnceLock::new();

    impl NewText {
        fn new(bases: &[Product]) -> Self {
            let words = bases
                .iter()
                .map(|p| {
                    let mut text = format!("{} {} {}", p.name, p.brand.as_deref().unwrap_or(""), p.tags.join(" "));
                    text.make_ascii_lowercase();
                    let mut words: Vec<String> =
                        text.split(|c: char| !c.is_alphanumeric()).filter(|w| w.len() >= 3).map(str::to_owned).collect();
                    words.sort();
                    words.dedup();
                    words
                })
                .filter(|w| !w.is_empty())
                .collect();
            Self { words, seen: std::sync::Mutex::new(std::collections::HashSet::new()) }
        }

        fn query(&self, i: u64) -> String {
            for attempt in 0.. {
                let mut h = splitmix64((i << 8) ^ attempt ^ 0xFEED);
                let words = &self.words[(h % self.words.len() as u64) as usize];
                h = splitmix64(h);
                let n = [1, 2, 2, 2, 3, 3][(h % 6) as usize].min(words.len());
                let mut picked: Vec<String> = Vec::new();
                while picked.len() < n {
                    h = splitmix64(h);
                    let w = &words[(h % words.len() as u64) as usize];
                    if !picked.contains(w) {
                        picked.push(w.clone());
                    }
                }
                h = splitmix64(h);
                if h.is_multiple_of(10) {
                    let w = &mut picked[((h >> 8) % n as u64) as usize];
                    let at = 1 + ((h >> 16) % (w.len() as u64 - 1)) as usize;
                    let letter = (b'a' + ((h >> 24) % 26) as u8) as char;
                    w.replace_range(at..=at, &letter.to_string());
                }
                let q = picked.join(" ");
                if self.seen.lock().map(|mut s| s.insert(q.clone())).unwrap_or(true) {
                    return q;
                }
            }
            unreachable!("the attempts are unbounded")
        }
    }

    fn named_uuid(kind: &str, name: &str) -> Uuid {
        Uuid::new_v5(&Uuid::NAMESPACE_OID, format!("skyshop:{kind}:{name}").as_bytes())
    }

    /// The 194 DummyJSON products as the catalog seed builds them for `seller` (a category id
    /// per category slug, created at `now`): the bases of the synthetic ones.
    fn base_products(path: &Path, seller: Uuid, now: Timestamp) -> Result<Vec<Product>, BoxError> {
        let json = std::fs::read_to_string(path)?;
        Ok(shop_seed::dataset::products(&json, seller, now, |slug| Some(named_uuid("category", slug)))?)
    }

    fn dir_size(dir: &Path) -> u64 {
        std::fs::read_dir(dir)
            .map(|entries| entries.filter_map(Result::ok).filter_map(|e| e.metadata().ok()).filter(|m| m.is_file()).map(|m| m.len()).sum())
            .unwrap_or(0)
    }

    /// `--shape K`: run only shape K (profiling).
    static ONLY_SHAPE: std::sync::OnceLock<Option<usize>> = std::sync::OnceLock::new();

    /// Query `i` of the mix: shape `i % 4`, parameters from a seeded generator.
    fn query(i: u64) -> (usize, SearchQuery) {
        let h = splitmix64(i ^ 0x5EED);
        let shape = ONLY_SHAPE.get().copied().flatten().unwrap_or((i % 4) as usize);
        let term = TERMS[(h % TERMS.len() as u64) as usize];
        let brand = BRANDS[((h >> 16) % BRANDS.len() as u64) as usize];
        let base = SearchQuery { limit: 20, ..SearchQuery::default() };
        let q = match shape {
            0 => SearchQuery { q: Some(term.into()), ..base },
            4 => SearchQuery { q: NEW_TEXT.get().map(|t| t.query(i)), ..base },
            1 => SearchQuery { brands: vec![brand.into()], ..base },
            2 => {
                let min_dollars = ((h >> 24) % 500) as i64;
                let width = 100 + ((h >> 40) % 1_000) as i64;
                SearchQuery { min_price_cents: Some(min_dollars * 100), max_price_cents: Some((min_dollars + width) * 100), ..base }
            }
            _ => SearchQuery {
                q: Some(term.into()),
                brands: vec![brand.into()],
                min_price_cents: Some(5_000),
                max_price_cents: Some(200_000),
                sort: Sort::PriceAsc,
                ..base
            },
        };
        (shape, q)
    }

    struct Sample {
        shape: usize,
        latency: Duration,
        total: u64,
    }

    /// Runs queries `from..from + n` on `clients` concurrent sequential clients.
    async fn run_mix(engine: &Arc<TantivyEngine>, from: u64, n: u64, clients: u64) -> Result<(Vec<Sample>, Duration), BoxError> {
        let started = Instant::now();
        let tasks: Vec<_> = (0..clients)
            .map(|c| {
                let engine = Arc::clone(engine);
                tokio::spawn(async move {
                    let mut samples = Vec::new();
                    for i in (from + c..from + n).step_by(clients as usize) {
                        let (shape, q) = query(i);
                        let t0 = Instant::now();
                        let r = engine.search(&q).await?;
                        samples.push(Sample { shape, latency: t0.elapsed(), total: r.total });
                        if q.limit > 0 && r.total > 0 && r.hits.iter().any(|h| h.source.is_none()) {
                            return Err::<_, BoxError>("a hit came back without its stored source".into());
                        }
                    }
                    Ok(samples)
                })
            })
            .collect();
        let mut samples = Vec::new();
        for task in tasks {
            samples.extend(task.await??);
        }
        Ok((samples, started.elapsed()))
    }

    fn stats(samples: &[&Sample], wall: Duration) -> Value {
        let mut ms: Vec<f64> = samples.iter().map(|s| s.latency.as_secs_f64() * 1000.0).collect();
        ms.sort_by(f64::total_cmp);
        if ms.is_empty() {
            return json!(null);
        }
        let at = |q: f64| (ms[((ms.len() as f64 - 1.0) * q).round() as usize] * 1000.0).round() / 1000.0;
        let mean = ms.iter().sum::<f64>() / ms.len() as f64;
        json!({
            "queries": ms.len(),
            "qps": (samples.len() as f64 / wall.as_secs_f64()).round(),
            "mean_ms": (mean * 1000.0).round() / 1000.0,
            "p50_ms": at(0.5), "p95_ms": at(0.95), "p99_ms": at(0.99), "max_ms": at(1.0),
            "avg_total": samples.iter().map(|s| s.total).sum::<u64>() / samples.len() as u64,
        })
    }

    /// Per-shape q/s is the shape's share of the mix's wall time (shapes are interleaved).
    fn report(samples: &[Sample], wall: Duration) -> Value {
        let busy: f64 = samples.iter().map(|s| s.latency.as_secs_f64()).sum();
        let mut shapes = serde_json::Map::new();
        for (k, name) in SHAPES.iter().enumerate() {
            let of: Vec<&Sample> = samples.iter().filter(|s| s.shape == k).collect();
            let share = of.iter().map(|s| s.latency.as_secs_f64()).sum::<f64>() / busy.max(f64::MIN_POSITIVE);
            shapes.insert((*name).into(), stats(&of, wall.mul_f64(share)));
        }
        json!({"overall": stats(&samples.iter().collect::<Vec<_>>(), wall), "shapes": shapes})
    }

    /// `skyshop-bench search [--docs 1000000] [--dir DIR] [--reuse] [--queries 8000] [--data FILE] [--shape K [--uncached] [--clients N]]`.
    #[derive(Debug, clap::Args)]
    pub struct Args {
        /// Synthetic products in the index
        #[arg(long, value_name = "N", default_value_t = 1_000_000)]
        docs: usize,
        /// Where the index is built [default: $TMPDIR/skyshop-search-<docs>]
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
        /// Keep the index in --dir when it holds --docs products
        #[arg(long)]
        reuse: bool,
        /// Queries per measured mix
        #[arg(long, value_name = "N", default_value_t = 8_000)]
        queries: u64,
        /// The DummyJSON products the synthetic ones are made from [default: infra/seed/dummyjson-products.json]
        #[arg(long, value_name = "FILE")]
        data: Option<PathBuf>,
        /// Run only query shape K (0 text, 1 brand, 2 price range, 3 combined, 4 text never asked before)
        #[arg(long, value_name = "K")]
        shape: Option<usize>,
        /// With --shape: the engine's result caches off
        #[arg(long)]
        uncached: bool,
        /// With --shape: concurrent clients
        #[arg(long, value_name = "N", default_value_t = 1)]
        clients: u64,
    }

    pub async fn run(args: Args) -> Result<(), BoxError> {
        let Args { docs, dir, reuse, queries, data, shape, uncached, clients } = args;
        let dir = dir.unwrap_or_else(|| std::env::temp_dir().join(format!("skyshop-search-{docs}")));
        let data = data.unwrap_or_else(shop_seed::dataset::path);
        // Synthetic products are dated over the year before 2025-01-01: the same index on every build.
        let (seller, now) = (named_uuid("seller", "bench"), Timestamp::from(OffsetDateTime::from_unix_timestamp(1_735_689_600)?));
        let bases = base_products(&data, seller, now)?;
        let _ = NEW_TEXT.set(NewText::new(&bases));

        let mut build = json!(null);
        if !(reuse && dir.exists() && TantivyEngine::open(&dir)?.count().await? == docs as u64) {
            if dir.exists() {
                std::fs::remove_dir_all(&dir)?;
            }
            let engine = TantivyEngine::open(&dir)?;
            let started = Instant::now();
            // Generated and indexed 100,000 at a time: a million documents with their stored
            // product JSON would not fit in memory at once.
            let mut generated = Duration::ZERO;
            for first in (1..=docs as u64).step_by(100_000) {
                let generating = Instant::now();
                let last = (first + 99_999).min(docs as u64);
                let chunk: Vec<ProductDoc> =
                    (first..=last).filter_map(|n| synthetic_product(&bases, seller, n, now)).map(|p| product_doc(&p)).collect();
                generated += generating.elapsed();
                engine.upsert(chunk).await?;
                eprintln!("indexed {} docs in {:.1?}", engine.count().await?, started.elapsed());
            }
            let indexed = started.elapsed();
            engine.compact().await?;
            let total = started.elapsed();
            build = json!({
                "docs": docs,
                "seconds": (total.as_secs_f64() * 10.0).round() / 10.0,
                "generate_seconds": (generated.as_secs_f64() * 10.0).round() / 10.0,
                "index_seconds": ((indexed - generated).as_secs_f64() * 10.0).round() / 10.0,
                "merge_seconds": ((total - indexed).as_secs_f64() * 10.0).round() / 10.0,
                "segments": engine.segment_count(),
                "index_bytes": dir_size(&dir),
            });
            eprintln!("build: {build}");
        }

        let load_at_start =
            std::fs::read_to_string("/proc/loadavg").ok().map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "));
        let engine = Arc::new(TantivyEngine::open(&dir)?);
        if let Some(shape) = shape {
            // One shape on `--clients` clients, caches as `--uncached` says.
            let _ = ONLY_SHAPE.set(Some(shape));
            engine.set_result_caching(!uncached);
            run_mix(&engine, 2_000_000, 200, 1).await?;
            let (samples, wall) = run_mix(&engine, 0, queries, clients.max(1)).await?;
            println!("{}", serde_json::to_string_pretty(&report(&samples, wall))?);
            return Ok(());
        }
        let opened = Instant::now();
        let warmup = queries / 4;
        let (first, _) = run_mix(&engine, 1_000_000, 4, 1).await?;
        let first_ms: Vec<f64> = first.iter().map(|s| (s.latency.as_secs_f64() * 10_000.0).round() / 10.0).collect();
        run_mix(&engine, 2_000_000, warmup, 2).await?;
        let warm_seconds = opened.elapsed().as_secs_f64();
        let (one, one_wall) = run_mix(&engine, 0, queries, 1).await?;
        let (two, two_wall) = run_mix(&engine, queries, queries, 2).await?;
        // The same mix with the engine's result caches off: every query pays in full.
        engine.set_result_caching(false);
        let (one_uncached, one_uncached_wall) = run_mix(&engine, 2 * queries, queries / 2, 1).await?;
        let (two_uncached, two_uncached_wall) = run_mix(&engine, 3 * queries, queries / 2, 2).await?;
        engine.set_result_caching(true);
        let load = || std::fs::read_to_string("/proc/loadavg").map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" ")).ok();
        let out = json!({
            "benchmark": "skyshop-bench search (engine level: TantivyEngine::search, no HTTP, no Redis)",
            "cpus": std::thread::available_parallelism().map(usize::from).ok(),
            "load_average_at_start_and_end": [load_at_start, load()],
            "docs": engine.count().await?,
            "index_dir": dir.display().to_string(),
            "index_bytes": dir_size(&dir),
            "segments": engine.segment_count(),
            "build": build,
            "first_query_ms_per_shape_after_open": first_ms,
            "warmup": {"queries": warmup + 4, "seconds_incl_first": (warm_seconds * 10.0).round() / 10.0},
            "mix": "equal shares of text (20 terms), brand (14 brands), price range (min $0-499, width $100-1,099), text+brand+$50-2,000+price_asc; page 1, limit 20",
            "one_client": report(&one, one_wall),
            "two_clients": report(&two, two_wall),
            "uncached": {
                "note": "result caches (text matches, total + facets per query) off; segment snapshots and sort permutations stay",
                "one_client": report(&one_uncached, one_uncached_wall),
                "two_clients": report(&two_uncached, two_uncached_wall),
            },
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
        Ok(())
    }
}

/// `skyshop-bench index-synthetic --from A --to B [--chunk 50000]`: puts the synthetic products
/// `SYN-A` … `SYN-B` (made as `skyshop-local seed --synthetic` makes them) straight into the local
/// runner's search index, not into the table, so that benchmarks get a larger catalog index than
/// DynamoDB Local can be loaded with in reasonable time (scripts/bench search). They are dated a
/// year earlier than the table's, so the newest listing pages show products the table has (their
/// details open). The index is compacted at the end. Stop `skyshop-local serve` first (tantivy has one writer per index); the
/// data set must have been seeded (its categories and the demo seller). Prints a JSON report.
mod index_synthetic {
    use std::path::Path;
    use std::time::Instant;

    use catalog::search::product_doc;
    use local_runner::cli::count;
    use local_runner::cloud::{LocalCloud, Options, seed_data_path};
    use serde_json::json;
    use shop_core::time::Timestamp;
    use shop_search::{SearchEngine, TantivyEngine};
    use shop_seed::catalog::dataset_products;
    use shop_seed::synthetic::synthetic_product;

    use super::BoxError;

    /// `skyshop-bench index-synthetic --from A --to B [--chunk 50000]` (counts may have `_` separators).
    #[derive(Debug, clap::Args)]
    pub struct Args {
        /// The first synthetic product (SYN-A; at least 1)
        #[arg(long, value_name = "A", value_parser = count)]
        from: u64,
        /// The last synthetic product (SYN-B)
        #[arg(long, value_name = "B", value_parser = count)]
        to: u64,
        /// Products indexed per batch
        #[arg(long, value_name = "N", value_parser = count, default_value_t = 50_000)]
        chunk: u64,
    }

    fn dir_size(dir: &Path) -> u64 {
        std::fs::read_dir(dir)
            .map(|entries| {
                entries
                    .flatten()
                    .map(|e| match e.metadata() {
                        Ok(m) if m.is_dir() => dir_size(&e.path()),
                        Ok(m) => m.len(),
                        Err(_) => 0,
                    })
                    .sum()
            })
            .unwrap_or(0)
    }

    pub async fn run(args: Args) -> Result<(), BoxError> {
        use std::io::Write;
        let (from, to, chunk) = (args.from.max(1), args.to, args.chunk.max(1));
        let port: u16 = std::env::var("PORT").ok().and_then(|p| p.parse().ok()).unwrap_or(3000);
        let cloud = LocalCloud::start(Options { port, suffix: String::new(), admin_password: None, serving: false, waf_scale: None })
            .await
            .map_err(|e| format!("{e} (is `skyshop-local serve` running? It holds the index writer: stop it first)"))?;
        let state = cloud.catalog_state().await.ok_or("the template has no catalog function")?;
        let seller = cloud.seller_id.ok_or("no demo seller")?;
        let dir =
            cloud.environments.get("CatalogFunction").and_then(|e| e.get("SEARCH_INDEX_DIR")).ok_or("the catalog has no local index")?;
        let bases = dataset_products(&state, &std::fs::read_to_string(seed_data_path())?, seller).await?;
        let engine = TantivyEngine::shared(Path::new(dir))?;
        let before = engine.count().await?;
        // Dated the year before the table's synthetic products (which spread over the last year):
        // the newest listing pages, whose products browsing opens, show products the table has.
        let now = Timestamp::now() - time::Duration::days(366);
        let started = Instant::now();
        let (mut next, mut active) = (from, 0u64);
        while next <= to {
            let last = (next + chunk - 1).min(to);
            let products: Vec<_> = (next..=last).filter_map(|n| synthetic_product(&bases, seller, n, now)).collect();
            active += products.iter().filter(|p| p.is_active).count() as u64;
            engine.upsert(products.iter().map(product_doc).collect()).await?;
            let rate = (last + 1 - from) as f64 / started.elapsed().as_secs_f64().max(1e-3);
            eprint!("\r  {}/{} synthetic products indexed ({rate:.0}/s)  ", last + 1 - from, to + 1 - from);
            let _ = std::io::stderr().flush();
            next = last + 1;
        }
        eprintln!();
        let indexed = started.elapsed();
        engine.compact().await?;
        let total = started.elapsed();
        let docs = to.saturating_sub(from) + 1;
        let round = |s: f64| (s * 10.0).round() / 10.0;
        let report = json!({
            "benchmark": "skyshop-bench index-synthetic (direct build of the local runner's index, no table)",
            "from": from,
            "to": to,
            "docs": docs,
            "active": active,
            "index_docs_before": before,
            "index_docs": engine.count().await?,
            "seconds": round(total.as_secs_f64()),
            "index_seconds": round(indexed.as_secs_f64()),
            "merge_seconds": round((total - indexed).as_secs_f64()),
            "docs_per_second": (docs as f64 / indexed.as_secs_f64().max(1e-3)).round(),
            "index_dir": dir,
            "index_bytes": dir_size(Path::new(dir)),
        });
        println!("{}", serde_json::to_string_pretty(&report)?);
        Ok(())
    }
}

/// `skyshop-bench reserve`: stock reservations against DynamoDB Local, the way the orders
/// function will make them — through inventory's internal routes (`POST /internal/reservations`
/// then `POST /internal/reservations/{orderId}/release`) with an internal client, in-process.
/// A fresh `InventoryTable` holds `--products` products with ample stock; `--clients` concurrent
/// clients run for `--seconds` twice: `spread` (1–3 random lines per order over all products)
/// and `hot` (every order takes one unit of the same product: the contended case). Prints JSON:
/// reservations/s, releases/s and latency percentiles per mode.
mod reserve_bench {
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use serde_json::{Value, json};
    use uuid::Uuid;

    use super::BoxError;

    /// `skyshop-bench reserve [--products 1000] [--clients 16] [--seconds 20]`.
    #[derive(Debug, clap::Args)]
    pub struct Args {
        /// Products in the fresh InventoryTable, each with ample stock
        #[arg(long, value_name = "N", default_value_t = 1000)]
        products: u64,
        /// Concurrent clients
        #[arg(long, value_name = "N", default_value_t = 16)]
        clients: u64,
        /// How long each mode (spread, hot) runs
        #[arg(long, value_name = "S", default_value_t = 20)]
        seconds: u64,
    }

    fn percentiles(mut ms: Vec<f64>, wall: Duration) -> Value {
        if ms.is_empty() {
            return Value::Null;
        }
        ms.sort_by(f64::total_cmp);
        let at = |q: f64| (ms[((ms.len() as f64 - 1.0) * q).round() as usize] * 100.0).round() / 100.0;
        json!({"count": ms.len(), "per_s": (ms.len() as f64 / wall.as_secs_f64()).round(), "p50_ms": at(0.5), "p95_ms": at(0.95), "p99_ms": at(0.99), "max_ms": at(1.0)})
    }

    pub async fn run(args: Args) -> Result<(), BoxError> {
        let products = args.products.max(1) as usize;
        let clients = args.clients.max(1);
        let seconds = args.seconds.max(1);
        let sdk = shop_aws::config::load().await;
        let template = sam_model::Template::load_repo()?;
        let resource = template.resource("InventoryTable").ok_or("no InventoryTable in template.yaml")?;
        let ddb = aws_sdk_dynamodb::Client::new(&sdk);
        let table = format!("InventoryTable-bench-{}", &Uuid::now_v7().simple().to_string()[20..]);
        sam_model::local::create_table(&ddb, resource, &table).await?;
        let store = inventory::store::Store::new(ddb, &table);
        let ids: Vec<Uuid> = (0..products).map(|_| Uuid::now_v7()).collect();
        let rows = ids
            .iter()
            .enumerate()
            .map(|(i, id)| shop_seed::stock::SeedRow {
                product_id: *id,
                seller_id: Uuid::nil(),
                product_name: format!("Bench product {i}"),
                sku: format!("BENCH-{i}"),
                available: 10_000_000,
            })
            .collect();
        shop_seed::stock::seed_stock(&store, rows).await?;
        // The catalog is never called on these routes; the name only has to be unique.
        let catalog = shop_internal::InternalClient::new(&sdk, format!("{table}-catalog"), "bench");
        let state = inventory::AppState::new(store, inventory::clients::Catalog::new(catalog));
        let function = format!("{table}-function");
        shop_internal::register_local(&function, inventory::router(state));
        let client = shop_internal::InternalClient::new(&sdk, function, "bench");
        let ids = Arc::new(ids);

        let mut report = serde_json::Map::new();
        for mode in ["spread", "hot"] {
            let deadline = Instant::now() + Duration::from_secs(seconds);
            let started = Instant::now();
            let mut tasks = Vec::new();
            for worker in 0..clients {
                let client = client.clone();
                let ids = ids.clone();
                tasks.push(tokio::spawn(async move {
                    let (mut reserve, mut release, mut refused) = (Vec::new(), Vec::new(), 0u64);
                    let mut n = worker.wrapping_mul(0x9E37_79B9_7F4A_7C15);
                    while Instant::now() < deadline {
                        n = n.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
                        let lines: Vec<Value> = if mode == "hot" {
                            vec![json!({"productId": ids[0], "quantity": 1})]
                        } else {
                            let count = 1 + (n >> 60) as usize % 3;
                            let first = (n >> 16) as usize % ids.len();
                            (0..count).map(|k| json!({"productId": ids[(first + k * 7919) % ids.len()], "quantity": 1})).collect()
                        };
                        let order = Uuid::now_v7();
                        let t = Instant::now();
                        let reserved: Result<Value, _> =
                            client.post("/internal/reservations", &json!({"orderId": order, "lines": lines, "ttlSeconds": 900})).await;
                        reserve.push(t.elapsed().as_secs_f64() * 1000.0);
                        if reserved.is_err() {
                            refused += 1;
                            continue;
                        }
                        let t = Instant::now();
                        let released: Result<Value, _> = client.post(&format!("/internal/reservations/{order}/release"), &json!({})).await;
                        if released.is_ok() {
                            release.push(t.elapsed().as_secs_f64() * 1000.0);
                        }
                    }
                    (reserve, release, refused)
                }));
            }
            let (mut reserve, mut release, mut refused) = (Vec::new(), Vec::new(), 0);
            for task in tasks {
                let (a, b, c) = task.await?;
                reserve.extend(a);
                release.extend(b);
                refused += c;
            }
            let wall = started.elapsed();
            report.insert(
                mode.into(),
                json!({"reserve": percentiles(reserve, wall), "release": percentiles(release, wall), "failed_reservations": refused}),
            );
        }
        let out = json!({"products": products, "clients": clients, "seconds_per_mode": seconds, "table": table, "modes": report});
        println!("{}", serde_json::to_string_pretty(&out)?);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use local_runner::cli::{command, try_parse_from};

    use super::{Cli, Command};

    fn parse(args: &[&str]) -> Result<Command, clap::Error> {
        try_parse_from::<Cli>(std::iter::once("skyshop-bench").chain(args.iter().copied())).map(|cli| cli.command)
    }

    #[test]
    fn the_command_line_is_consistent() {
        command::<Cli>().debug_assert();
    }

    #[test]
    fn the_invocations_of_scripts_bench_parse() {
        let Ok(Command::Init(init)) = parse(&["init", "--bin-dir", "d", "--runs", "5"]) else { panic!("not init") };
        assert_eq!((init.runs, init.invocations, init.only), (5, 200, None));
        assert!(matches!(parse(&["argon2"]), Ok(Command::Argon2)));
        assert!(matches!(parse(&["index-synthetic", "--from", "100001", "--to", "1_000_000"]), Ok(Command::IndexSynthetic(_))));
        assert!(matches!(parse(&["reserve", "--clients", "16", "--seconds", "20"]), Ok(Command::Reserve(_))));
        assert!(matches!(parse(&["search", "--docs", "1000000"]), Ok(Command::Search(_))));
    }

    #[test]
    fn missing_and_unknown_arguments_are_refused() {
        assert!(parse(&[]).is_err());
        assert!(parse(&["init", "--runs", "5"]).is_err(), "--bin-dir is required");
        assert!(parse(&["index-synthetic", "--to", "10"]).is_err());
        assert!(parse(&["search", "--doc", "10"]).is_err());
    }
}
