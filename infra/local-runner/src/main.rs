//! `skyshop-local`: the local cloud. Its commands and their flags are declared in
//! [`local_runner::cli`] (`skyshop-local --help` lists them).

use std::process::ExitCode;

use local_runner::cli::{Cli, Command, SeedArgs};
use local_runner::cloud::{ADMIN_EMAIL, LocalCloud, Options};

#[tokio::main]
async fn main() -> ExitCode {
    let command = local_runner::cli::parse::<Cli>().into_command();
    shop_core::telemetry::init();
    let result = match command {
        Command::Serve => serve(true).await,
        Command::Provision => serve(false).await,
        Command::Seed(args) => seed(&args).await,
        Command::Reindex => reindex().await,
        Command::Events => write_events(),
        Command::SigningKey(command) => local_runner::cloud::signing_key_command(&command).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("skyshop-local: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `SKYSHOP_LOCAL_SUFFIX` (unset: none, the dev cloud): a local cloud of its own on the same
/// stand-ins, e.g. `-bench` for `scripts/bench checkout`: tables, queues, cache prefixes and the
/// `orders_bench` database apart from dev's. `serve`, `seed` and `reindex` must be given the same.
fn suffix() -> String {
    std::env::var("SKYSHOP_LOCAL_SUFFIX").unwrap_or_default().trim().to_owned()
}

async fn serve(serving: bool) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let port: u16 = std::env::var("PORT").ok().and_then(|p| p.parse().ok()).unwrap_or(3000);
    let admin_password = std::env::var("SKYSHOP_ADMIN_PASSWORD").ok().filter(|p| !p.is_empty());
    if let Some(p) = &admin_password {
        accounts::password::check_policy(p).map_err(|e| format!("SKYSHOP_ADMIN_PASSWORD {e}"))?;
    }
    let cloud = LocalCloud::start(Options { port, suffix: suffix(), admin_password, serving: true, waf_scale: None }).await?;
    if !serving {
        let databases: std::collections::BTreeSet<&String> =
            cloud.environments.values().filter_map(|env| env.get("DATABASE_URL")).collect();
        println!(
            "provisioned: {} tables, {} queues, {} topics, {} databases",
            cloud.template.resources_of("AWS::DynamoDB::Table").count(),
            cloud.provisioned.queues.len(),
            cloud.provisioned.topics.len(),
            databases.len()
        );
        return Ok(());
    }
    let listener =
        tokio::net::TcpListener::bind(("127.0.0.1", port)).await.map_err(|e| format!("cannot listen on 127.0.0.1:{port}: {e}"))?;
    if cloud.search_index_reset {
        let report = cloud.reindex(&|_| {}).await?;
        println!("rebuilt the local search index from the table: {} products", report.counts.upserted);
    }
    cloud.start_pollers();
    // An empty catalog (a fresh DynamoDB Local) gets the data set and its stock; the API is
    // served (and the banner printed) only once the listings and the index show all of it.
    let waiting = |listed: u64, in_stock: u64| {
        use std::io::Write;
        eprint!("\r  seeding: {listed} products listed, {in_stock} in stock so far (waiting for the index)  ");
        let _ = std::io::stderr().flush();
    };
    if let Some(seed) = cloud.seed_on_start(waiting).await? {
        eprintln!();
        println!(
            "seeded the empty catalog: {} categories, {} products, {} with stock; listed and indexed ({} in stock) after {:.1} s",
            seed.catalog.categories_created,
            seed.catalog.products_created,
            seed.stocked,
            seed.in_stock,
            seed.indexed_in.as_secs_f64()
        );
    }
    let routes = cloud.gateway.routes.len();
    println!();
    println!("Skyshop local cloud");
    println!("  API              http://127.0.0.1:{port}   ({routes} routes from template.yaml)");
    println!("  API docs         http://127.0.0.1:{port}/api/docs   (OpenAPI: /api/openapi.json)");
    println!("  health           http://127.0.0.1:{port}/api/health/ready   (liveness: /api/health; stand-ins: /_local/health)");
    println!("  sent mail        http://127.0.0.1:{port}/_local/mail");
    println!("  token issuer     {}", cloud.issuer);
    for rule in cloud.gateway.waf.rules() {
        println!(
            "  edge (WAF)       {}: {} requests per {:.0} s per client IP (SKYSHOP_LOCAL_WAF_SCALE scales, SKYSHOP_LOCAL_THROTTLE=off lifts)",
            rule.name,
            rule.limit,
            rule.window.as_secs_f64()
        );
    }
    for (function, env) in &cloud.environments {
        let summary: Vec<String> = env
            .iter()
            .filter(|(k, _)| k.ends_with("_TABLE") || k.ends_with("_URL") && k.contains("QUEUE"))
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        println!("  {function:<16} in-process; {}", summary.join(" "));
    }
    for (source, _) in &cloud.sqs_sources {
        println!("  event source     SQS {} -> {}", source.queue_url, source.function);
    }
    for (source, _) in &cloud.stream_sources {
        println!("  event source     stream {} -> {}", source.stream_arn, source.function);
    }
    for (function, rule, period, _) in &cloud.schedules {
        println!("  event source     schedule {rule} every {}s -> {function}", period.as_secs());
    }
    if let Some(hook) = &cloud.stripe_webhook {
        let state = if hook.registered { "registered" } else { "NOT registered (is localstripe running?)" };
        println!("  Stripe (local)   localstripe {}; webhook {} -> {} {state}", hook.api_base, hook.id, hook.url);
    }
    println!("  Redis (cache)    {}", std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into()));
    println!("  DynamoDB Local   {}", std::env::var("AWS_ENDPOINT_URL_DYNAMODB").unwrap_or_default());
    println!("  moto (SQS/SES/S3/Secrets) {}", std::env::var("SKYSHOP_MOTO_URL").unwrap_or_default());
    println!("  admin            {ADMIN_EMAIL} / {}", cloud.admin_password);
    println!("  demo seller      {} / {}", local_runner::cloud::SELLER_EMAIL, cloud.admin_password);
    println!("Ready: the seeded catalog is listed and indexed. Press Ctrl-C to stop.");
    let app = local_runner::gateway::app(cloud.gateway.clone());
    axum::serve(listener, app.into_make_service_with_connect_info::<std::net::SocketAddr>())
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}

async fn reindex() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    use std::io::Write;
    let port: u16 = std::env::var("PORT").ok().and_then(|p| p.parse().ok()).unwrap_or(3000);
    let cloud = LocalCloud::start(Options { port, suffix: suffix(), admin_password: None, serving: false, waf_scale: None }).await?;
    let started = std::time::Instant::now();
    let progress = |c: catalog_indexer::Counts| {
        eprint!("\r  {} products read: {} indexed, {} removed, {} invalid", c.scanned, c.upserted, c.deleted, c.invalid);
        let _ = std::io::stderr().flush();
    };
    let report = cloud
        .reindex(&progress)
        .await
        .map_err(|e| format!("{e} (is `skyshop-local serve` running? It holds the index writer: stop it first)"))?;
    eprintln!();
    let c = report.counts;
    println!("reindexed in {:.1} s: {} indexed, {} removed (deleted products)", started.elapsed().as_secs_f64(), c.upserted, c.deleted);
    if c.invalid > 0 {
        return Err(format!("{} product items are not valid products (see the log)", c.invalid).into());
    }
    Ok(())
}

fn write_events() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let template = sam_model::Template::load_repo()?;
    let dir = sam_model::repo_root().join("events");
    let written = local_runner::events::write(&template, &dir)?;
    println!("wrote {written} sample events under {}", dir.display());
    Ok(())
}

/// `seed [--synthetic N] [--concurrency C]`.
async fn seed(args: &SeedArgs) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    use std::io::Write;
    let port: u16 = std::env::var("PORT").ok().and_then(|p| p.parse().ok()).unwrap_or(3000);
    let admin_password = std::env::var("SKYSHOP_ADMIN_PASSWORD").ok().filter(|p| !p.is_empty());
    let cloud = LocalCloud::start(Options { port, suffix: suffix(), admin_password, serving: false, waf_scale: None }).await?;
    let started = std::time::Instant::now();
    let bar = |done: u64, total: u64, unit: &str| {
        let filled = (done * 30 / total.max(1)) as usize;
        let rate = done as f64 / started.elapsed().as_secs_f64().max(1e-3);
        eprint!("\r  [{}{}] {done}/{total} {unit} ({rate:.0}/s)  ", "#".repeat(filled), " ".repeat(30 - filled));
        let _ = std::io::stderr().flush();
    };
    if let Some(count) = args.synthetic {
        let mut options = shop_seed::catalog::SyntheticOptions::new(count);
        options.concurrency = args.concurrency.clamp(1, 256) as usize;
        let concurrency = options.concurrency;
        eprintln!("  seeding the data set, then {count} synthetic products ({concurrency} requests in flight)");
        let report = cloud
            .seed_synthetic(&options, |done, total| bar(done, total, "synthetic products"))
            .await?
            .ok_or("the template has no catalog or accounts function")?;
        eprintln!();
        let seconds = started.elapsed().as_secs_f64();
        println!(
            "seeded in {seconds:.1} s: {} categories and {} products of the data set created ({} already there); \
             synthetic: {} created ({:.0}/s), {} already there, {} repaired, {} skipped (SKU or slug taken); {} active",
            report.base.categories_created,
            report.base.products_created,
            report.base.products_existing,
            report.created,
            report.created as f64 / report.synthetic_time.as_secs_f64().max(1e-3),
            report.existing,
            report.repaired,
            report.clashed,
            report.active
        );
        print_stock(&cloud).await?;
        return Ok(());
    }
    let report = cloud
        .seed_catalog(false, |done, total| bar(done as u64, total as u64, "products"))
        .await?
        .ok_or("the template has no catalog or accounts function")?;
    eprintln!();
    println!(
        "seeded in {:.1} s: {} categories created, {} products created, {} already there",
        started.elapsed().as_secs_f64(),
        report.categories_created,
        report.products_created,
        report.products_existing
    );
    print_stock(&cloud).await?;
    Ok(())
}

/// Seeds the data set's stock (inventory) and says what it did.
async fn print_stock(cloud: &LocalCloud) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    if let Some(stock) = cloud.seed_stock().await? {
        println!("stock: {} products stocked from the data set, {} already had stock", stock.created, stock.existing);
    }
    Ok(())
}
