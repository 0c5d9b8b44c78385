//! Brings the template up on the local stand-ins.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use accounts::keys::KeyDocument;
use sam_model::authorizer::JwtAuthorizer;
use sam_model::local::{BoxError, Naming, Provisioned, provision, provision_databases, use_local_database};
use sam_model::{EventSource, Template};

use crate::cli::SigningKeyCommand;
use crate::functions::{self, EventHandler, Function, Registry};
use crate::gateway::Gateway;
use crate::health::Probes;
use crate::pollers::{self, SqsSource};
use crate::streams::{self, StreamSource};
use crate::waf::Waf;

/// The local admin account.
pub const ADMIN_EMAIL: &str = "admin@skyshop.local";
/// The demo seller who owns the seeded products.
pub const SELLER_EMAIL: &str = "seller@skyshop.local";

/// The seed data set shipped with the repository (`infra/seed/dummyjson-products.json`).
pub fn seed_data_path() -> std::path::PathBuf {
    shop_seed::dataset::path()
}

/// How to bring the cloud up.
#[derive(Debug, Clone)]
pub struct Options {
    /// The port the API is served on; the token issuer is `http://127.0.0.1:<port>`.
    pub port: u16,
    /// Appended to every table, queue and secret name (isolation for tests; empty for dev).
    pub suffix: String,
    /// The admin password; `None` generates one.
    pub admin_password: Option<String>,
    /// This cloud serves the API: it sets the admin's (and demo seller's) password at start-up
    /// and points localstripe's webhook at its port. Off for one-shot commands (`seed`,
    /// `reindex`) that run beside a serving runner and must not take those over.
    pub serving: bool,
    /// Scale of the emulated WAF rate rules' limits and windows (see [`crate::waf::Waf::new`]);
    /// `None`: `$SKYSHOP_LOCAL_WAF_SCALE`, else 1 (the template's numbers).
    pub waf_scale: Option<f64>,
}

/// Whether `SKYSHOP_LOCAL_THROTTLE=off` lifts the stage throttles and the WAF rate rules
/// (benchmarks measure the functions, not the edge).
fn edge_limits_lifted() -> bool {
    std::env::var("SKYSHOP_LOCAL_THROTTLE").is_ok_and(|v| v == "off")
}

/// The running local cloud.
pub struct LocalCloud {
    pub template: Template,
    pub provisioned: Provisioned,
    /// Function logical id → resolved environment.
    pub environments: BTreeMap<String, BTreeMap<String, String>>,
    pub gateway: Arc<Gateway>,
    pub sqs_sources: Vec<(SqsSource, EventHandler)>,
    pub stream_sources: Vec<(StreamSource, EventHandler)>,
    /// (function, rule name, period, handler).
    pub schedules: Vec<(String, String, Duration, EventHandler)>,
    pub admin_password: String,
    /// The demo seller's id (owner of the seeded products).
    pub seller_id: Option<uuid::Uuid>,
    pub sdk: aws_config::SdkConfig,
    pub issuer: String,
    /// The local search index could not be opened (built by an older version of the engine)
    /// and was removed: it must be rebuilt from the table ([`LocalCloud::reindex`]).
    pub search_index_reset: bool,
    /// This cloud's Stripe webhook endpoint at localstripe (when the template has payments).
    pub stripe_webhook: Option<crate::stripe::LocalWebhook>,
}

/// localstripe's URL: `$STRIPE_API_BASE` (exported by `scripts/lib/common.sh`), else its
/// default port.
pub fn stripe_api_base() -> String {
    std::env::var("STRIPE_API_BASE").ok().filter(|v| !v.trim().is_empty()).unwrap_or_else(|| "http://127.0.0.1:8420".into())
}

impl LocalCloud {
    pub async fn start(options: Options) -> Result<Self, BoxError> {
        // Before any function sends a segment document: the local X-Ray daemon.
        crate::xray::Collector::global();
        let template = Template::load_repo()?;
        // Every DynamoDB write of the functions wakes the stream pollers (streams::nudging).
        let sdk = streams::nudging(shop_aws::config::load().await);
        let issuer = format!("http://127.0.0.1:{}", options.port);
        let redis = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
        // Each local cloud (dev, every test) gets its own cache key prefix.
        let naming = Naming { suffix: options.suffix.clone() };
        let moto = std::env::var("SKYSHOP_MOTO_URL").unwrap_or_else(|_| "http://127.0.0.1:5000".into());
        let overrides = vec![
            ("IssuerUrl".to_owned(), issuer.clone()),
            // The template has no default (deployed stacks must name their shop); locally the
            // front end is a dev server.
            ("FrontendUrl".to_owned(), std::env::var("SKYSHOP_FRONTEND_URL").unwrap_or_else(|_| "http://localhost:3000".into())),
            ("CacheUrl".to_owned(), redis),
            ("CachePrefix".to_owned(), format!("local{}:", options.suffix)),
            // Carts in the machine's Redis too, under their own prefix per local cloud.
            ("CartCacheUrl".to_owned(), std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())),
            ("CartPrefix".to_owned(), format!("local{}:cart:", options.suffix)),
            // No CDN locally: images are served by the S3 stand-in itself.
            ("ImagesBaseUrl".to_owned(), format!("{moto}/{}", naming.bucket("ImagesBucket"))),
            // The payments functions call localstripe instead of api.stripe.com.
            ("LocalStripeApiBase".to_owned(), stripe_api_base()),
        ];
        let provisioned = provision(&template, &sdk, &naming, &overrides).await?;
        let resolver = &provisioned.resolver;
        // RDS's stand-in: a database on the machine's PostgreSQL ($DATABASE_URL_BASE) for every
        // function with a DB_NAME (`orders` in dev, `orders_<suffix>` per test cloud), created
        // when missing; the function gets its DATABASE_URL below.
        let databases = provision_databases(&template, &naming, &sam_model::postgres::base_url()).await?;

        if let Some(secret) = template.resources_of("AWS::SecretsManager::Secret").find(|s| s.logical_id == "SigningKeysSecret") {
            let id = resolver.refs.get(&secret.logical_id).cloned().unwrap_or_default();
            ensure_signing_keys(&sdk, &id).await?;
        }

        // Stripe's secrets get local values when empty, and localstripe delivers to this
        // cloud's webhook route signed with the webhook secret (crate::stripe).
        let mut stripe_webhook = None;
        if let (Some(key), Some(webhook)) =
            (resolver.refs.get(crate::stripe::SECRET_KEY_SECRET), resolver.refs.get(crate::stripe::WEBHOOK_SECRET))
        {
            let secret = crate::stripe::ensure_secrets(&sdk, key, webhook).await?;
            if options.serving {
                let id = crate::stripe::webhook_id(&options.suffix);
                stripe_webhook = Some(crate::stripe::register_webhook(&stripe_api_base(), &id, options.port, &secret).await);
            }
        }

        // Every EMF document the functions emit is summed for `GET /_local/metrics`.
        shop_core::metrics::install_sink(Box::new(|doc| shop_core::metrics::Totals::global().record(doc)));
        let mut environments = BTreeMap::new();
        let mut registry: Registry = BTreeMap::new();
        let search_dir = match template.resources_of("AWS::DynamoDB::Table").find(|t| t.logical_id == "CatalogTable") {
            Some(table) => Some(local_search_dir(&sdk, &naming.name(&table.logical_id)).await?),
            None => None,
        };
        // An index written by an older engine version cannot be opened: it is only a mirror of
        // the table, so it is removed and rebuilt (`reindex`) once the functions are up.
        let mut search_index_reset = false;
        if let Some(dir) = search_dir.as_ref().filter(|d| d.exists())
            && let Err(e) = shop_search::TantivyEngine::open(dir)
        {
            tracing::warn!(error = %e, dir = %dir.display(), "the local search index cannot be opened; rebuilding it from the table");
            std::fs::remove_dir_all(dir)?;
            search_index_reset = true;
        }
        for function in template.functions() {
            // Variables that resolve to nothing (`!Ref AWS::NoValue`) are not set, as in Lambda.
            // Dynamic references (`{{resolve:secretsmanager:...}}`) are CloudFormation's to
            // resolve at deploy time; the one the template has, the edge's origin secret, has no
            // local counterpart (no CloudFront locally), so such variables are not set either.
            let mut env: BTreeMap<String, String> = function
                .environment
                .iter()
                .map(|(k, v)| (k.clone(), resolver.resolve_string(v)))
                .filter(|(_, v)| !v.is_empty() && !v.contains("{{resolve:"))
                .collect();
            // RDS (the proxy, IAM login) is replaced by the local database's URL.
            if let Some(url) = databases.get(&function.logical_id) {
                use_local_database(&mut env, url);
            }
            // OpenSearch's local stand-in is the embedded tantivy index.
            if let (true, Some(dir)) = (env.contains_key("SEARCH_ENGINE"), &search_dir) {
                env.insert("SEARCH_ENGINE".into(), "tantivy".into());
                env.insert("SEARCH_INDEX_DIR".into(), dir.display().to_string());
                env.remove("OPENSEARCH_ENDPOINT");
            }
            let built = functions::build(&function.logical_id, &env, &sdk).await.map_err(|e| format!("{}: {e}", function.logical_id))?;
            // Each function starts once per runner process, as a Lambda sandbox would.
            shop_core::metrics::cold_start(&function.logical_id);
            // Internal calls to this function (shop-internal) are served in-process, by name.
            if let (Function::Http(router), Some(name)) = (&built, resolver.refs.get(&function.logical_id)) {
                shop_internal::register_local(name, router.clone());
            }
            registry.insert(function.logical_id.clone(), built);
            environments.insert(function.logical_id.clone(), env);
        }

        let routes = template.routes()?;
        for route in &routes {
            if !matches!(registry.get(&route.function), Some(Function::Http(_))) {
                return Err(format!("route {} targets {}, which is not an HTTP function", route.key(), route.function).into());
            }
        }
        let authorizer_issuer = template
            .resources_of("AWS::ApiGatewayV2::Authorizer")
            .filter_map(|a| a.properties.pointer("/JwtConfiguration/Issuer"))
            .map(|i| resolver.resolve_string(i))
            .next()
            .unwrap_or_else(|| issuer.clone());
        let audiences = template.jwt_audiences(resolver);
        let authorizer = JwtAuthorizer::new(authorizer_issuer, audiences, &jsonwebtoken::jwk::JwkSet { keys: vec![] });
        // SKYSHOP_LOCAL_THROTTLE=off lifts the stage's throttles and the WAF's rate rules.
        let throttles = if edge_limits_lifted() { (None, BTreeMap::new()) } else { template.throttles() };
        let mut gateway = Gateway::new(routes, registry.clone(), authorizer, throttles);
        gateway.cors = template.cors(resolver);
        if !edge_limits_lifted() {
            let scale = match options.waf_scale {
                Some(scale) => scale,
                None => match std::env::var("SKYSHOP_LOCAL_WAF_SCALE") {
                    Ok(v) => v.parse().map_err(|e| format!("SKYSHOP_LOCAL_WAF_SCALE={v}: {e}"))?,
                    Err(_) => 1.0,
                },
            };
            gateway.waf = Waf::new(template.waf_rate_rules(resolver)?, scale);
        }
        let moto_url = std::env::var("SKYSHOP_MOTO_URL").unwrap_or_else(|_| "http://127.0.0.1:5000".into());
        gateway.moto_url = moto_url.clone();
        gateway.probes = Some(Probes {
            dynamodb: aws_sdk_dynamodb::Client::new(&sdk),
            sqs: aws_sdk_sqs::Client::new(&sdk),
            moto_url,
            http: reqwest::Client::builder().timeout(Duration::from_secs(2)).build().unwrap_or_default(),
            postgres: std::env::var("SKYSHOP_POSTGRES_ADDR").unwrap_or_else(|_| "127.0.0.1:5432".into()),
            redis: std::env::var("SKYSHOP_REDIS_ADDR").unwrap_or_else(|_| "127.0.0.1:6379".into()),
        });
        let gateway = Arc::new(gateway);
        gateway.refresh_keys().await;

        let admin_password = options.admin_password.clone().unwrap_or_else(generate_password);
        let mut seller_id = None;
        if let Some(env) = environments.get("AccountsFunction") {
            let state = functions::accounts_state(env, &sdk).await?;
            let role = shop_core::auth::Role::Seller;
            let seller_email = accounts::domain::Email::parse(SELLER_EMAIL).map_err(|e| format!("{SELLER_EMAIL}: {e}"))?;
            let existing_seller = state.store.user_by_email(&seller_email).await?;
            if options.serving {
                accounts::admin::ensure_admin(&state, ADMIN_EMAIL, &admin_password).await?;
            }
            seller_id = match existing_seller {
                Some(seller) if !options.serving => Some(seller.id),
                // The demo seller shares the admin's password (local only).
                _ => Some(accounts::admin::ensure_account(&state, SELLER_EMAIL, &admin_password, role, ("Demo", "Seller")).await?),
            };
        }

        let sqs = aws_sdk_sqs::Client::new(&sdk);
        let mut sqs_sources = Vec::new();
        let mut stream_sources = Vec::new();
        let mut schedules = Vec::new();
        for function in template.functions() {
            let Some(Function::Events(handler)) = registry.get(&function.logical_id).cloned() else { continue };
            for event in &function.events {
                if let EventSource::DynamoDbStream {
                    table,
                    batch_size,
                    report_batch_item_failures,
                    starting_position,
                    maximum_retry_attempts,
                    on_failure,
                    filter_patterns,
                } = event
                {
                    let Some(stream_arn) = resolver.attributes.get(&(table.clone(), "StreamArn".into())).cloned() else {
                        return Err(format!("{}: table {table} has no stream", function.logical_id).into());
                    };
                    let source = StreamSource {
                        function: function.logical_id.clone(),
                        stream_arn,
                        batch_size: *batch_size,
                        report_batch_item_failures: *report_batch_item_failures,
                        starting_position: starting_position.clone(),
                        maximum_retry_attempts: *maximum_retry_attempts,
                        on_failure_queue: on_failure.as_ref().and_then(|q| resolver.refs.get(q).cloned()),
                        timeout: Duration::from_secs(function.timeout_secs),
                        filters: streams::parse_filters(filter_patterns).map_err(|e| format!("{}: {e}", function.logical_id))?,
                    };
                    stream_sources.push((source, handler.clone()));
                }
                if let EventSource::Schedule { expression } = event {
                    let period = streams::rate_period(expression)
                        .ok_or_else(|| format!("{}: unsupported schedule {expression}", function.logical_id))?;
                    schedules.push((function.logical_id.clone(), format!("{}-schedule", function.logical_id), period, handler.clone()));
                }
                if let EventSource::Sqs { queue, batch_size, report_batch_item_failures } = event {
                    let handler = handler.clone();
                    let queue_url = resolver.refs.get(queue).cloned().unwrap_or_default();
                    let queue_arn = pollers::queue_arn(&sqs, &queue_url).await;
                    let source = SqsSource {
                        function: function.logical_id.clone(),
                        queue_url,
                        queue_arn,
                        batch_size: *batch_size,
                        report_batch_item_failures: *report_batch_item_failures,
                        timeout: Duration::from_secs(function.timeout_secs),
                    };
                    sqs_sources.push((source, handler));
                }
            }
        }
        Ok(Self {
            template,
            provisioned,
            environments,
            gateway,
            sqs_sources,
            stream_sources,
            schedules,
            admin_password,
            seller_id,
            sdk,
            issuer,
            search_index_reset,
            stripe_webhook,
        })
    }

    /// Starts every event-source poller in the background.
    pub fn start_pollers(&self) {
        let sqs = aws_sdk_sqs::Client::new(&self.sdk);
        for (source, handler) in &self.sqs_sources {
            tokio::spawn(pollers::run(sqs.clone(), source.clone(), handler.clone()));
        }
        let streams_client = streams::local_client(&self.sdk);
        for (source, handler) in &self.stream_sources {
            tokio::spawn(streams::run(streams_client.clone(), sqs.clone(), source.clone(), handler.clone()));
        }
        for (function, rule, period, handler) in &self.schedules {
            tokio::spawn(streams::run_schedule(function.clone(), rule.clone(), *period, handler.clone()));
        }
    }
}

/// Where the local search index of the catalog table `table` lives:
/// `$SKYSHOP_SEARCH_DIR` (default `$SKYSHOP_HOME/data/search`, else the temp dir) `/<table>-<created>`.
///
/// The index mirrors the table, and DynamoDB Local runs in memory: a table created anew (a
/// restarted DynamoDB Local, every test's own table) gets a new, empty index, filled from the
/// table's stream; indexes of earlier incarnations of the same table are removed.
pub async fn local_search_dir(sdk: &aws_config::SdkConfig, table: &str) -> Result<std::path::PathBuf, BoxError> {
    let described = aws_sdk_dynamodb::Client::new(sdk).describe_table().table_name(table).send().await?;
    let created = described.table().and_then(|t| t.creation_date_time()).map(|t| t.as_nanos()).unwrap_or_default();
    let root = match std::env::var_os("SKYSHOP_SEARCH_DIR") {
        Some(dir) => std::path::PathBuf::from(dir),
        None => std::env::var_os("SKYSHOP_HOME")
            .map_or_else(|| std::env::temp_dir().join("skyshop"), std::path::PathBuf::from)
            .join("data/search"),
    };
    std::fs::create_dir_all(&root)?;
    let current = format!("{table}-{created}");
    for entry in std::fs::read_dir(&root)?.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let earlier = name.rsplit_once('-').is_some_and(|(t, ts)| t == table && ts.bytes().all(|b| b.is_ascii_digit()));
        if earlier && name != current {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
    Ok(root.join(current))
}

/// The signing-key document of `secret_id`; `None` when the secret has no value yet (the
/// template creates it empty).
async fn read_key_document(client: &aws_sdk_secretsmanager::Client, secret_id: &str) -> Result<Option<String>, BoxError> {
    match client.get_secret_value().secret_id(secret_id).send().await {
        Ok(current) => Ok(current.secret_string().map(str::to_owned)),
        Err(e) if e.as_service_error().is_some_and(|s| s.is_resource_not_found_exception()) => {
            // "No value" and "no such secret" are the same error; only the latter fails here.
            client.describe_secret().secret_id(secret_id).send().await?;
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

/// Makes sure the signing-key secret holds at least one key; generates one if it is empty.
pub async fn ensure_signing_keys(sdk: &aws_config::SdkConfig, secret_id: &str) -> Result<(), BoxError> {
    let client = aws_sdk_secretsmanager::Client::new(sdk);
    let current = read_key_document(&client, secret_id).await?;
    let mut doc: KeyDocument = serde_json::from_str(current.as_deref().unwrap_or("{}")).unwrap_or_default();
    if !doc.keys.is_empty() {
        return Ok(());
    }
    let now = time::OffsetDateTime::now_utc();
    doc.add_generated(format!("local-{}", now.unix_timestamp()), now.format(&time::format_description::well_known::Rfc3339)?)?;
    client.put_secret_value().secret_id(secret_id).secret_string(serde_json::to_string(&doc)?).send().await?;
    Ok(())
}

/// A random password that satisfies the policy.
pub fn generate_password() -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    format!("Sky-{}-{}", &id[..8], &id[8..16].to_uppercase())
}

/// `skyshop-local signing-key list|add|activate <kid>|remove <kid> --secret-id <id>`.
pub async fn signing_key_command(command: &SigningKeyCommand) -> Result<(), BoxError> {
    let secret_id = command.secret_id();
    let sdk = shop_aws::config::load().await;
    let client = aws_sdk_secretsmanager::Client::new(&sdk);
    // A freshly deployed stack's secret has no value: the first `add` writes the first key.
    let current = read_key_document(&client, secret_id).await?;
    let mut doc: KeyDocument = serde_json::from_str(current.as_deref().unwrap_or(r#"{"keys":[]}"#))?;
    match command {
        SigningKeyCommand::List(_) => {
            for key in &doc.keys {
                let active = if doc.active_kid.as_deref() == Some(&key.kid) { " (active)" } else { "" };
                println!("{}{active} created {}", key.kid, key.created_at.as_deref().unwrap_or("?"));
            }
            return Ok(());
        }
        SigningKeyCommand::Add(_) => {
            let now = time::OffsetDateTime::now_utc();
            let kid = format!("k-{}", now.unix_timestamp());
            doc.add_generated(kid.clone(), now.format(&time::format_description::well_known::Rfc3339)?)?;
            println!("added {kid}; it is published now and signs once activated");
        }
        SigningKeyCommand::Activate { kid, .. } => {
            doc.activate(kid)?;
            println!("{kid} is now the signing key");
        }
        SigningKeyCommand::Remove { kid, .. } => {
            if doc.active_kid.as_deref() == Some(kid.as_str()) {
                return Err("cannot remove the active key".into());
            }
            doc.keys.retain(|k| &k.kid != kid);
            println!("removed {kid}");
        }
    }
    client.put_secret_value().secret_id(secret_id).secret_string(serde_json::to_string(&doc)?).send().await?;
    Ok(())
}

impl LocalCloud {
    /// The catalog function's configuration in the local cloud.
    fn catalog_config(&self) -> Option<catalog::config::Config> {
        let env = self.environments.get("CatalogFunction")?;
        catalog::config::Config::from_lookup(&|name: &str| env.get(name).cloned()).ok()
    }

    /// The catalog state of the local cloud (for seeding), from the function's environment.
    pub async fn catalog_state(&self) -> Option<catalog::AppState> {
        catalog::AppState::from_config(&self.catalog_config()?, &self.sdk).await.ok()
    }

    /// Seeds the DummyJSON catalog for the demo seller; with `only_if_empty`, only when the
    /// catalog has no categories yet. `progress(done, total)` reports each product.
    pub async fn seed_catalog(
        &self,
        only_if_empty: bool,
        progress: impl FnMut(usize, usize),
    ) -> Result<Option<shop_seed::catalog::SeedReport>, BoxError> {
        let (Some(state), Some(seller)) = (self.catalog_state().await, self.seller_id) else { return Ok(None) };
        if only_if_empty && !state.store.categories().await?.is_empty() {
            return Ok(None);
        }
        let data = std::fs::read_to_string(seed_data_path())?;
        Ok(Some(shop_seed::catalog::seed(&state, &data, seller, progress).await?))
    }

    /// Seeds the DummyJSON catalog and `options.count` synthetic products made from it for the
    /// demo seller, in bulk on the catalog's table (see [`shop_seed::catalog::seed_synthetic`]).
    /// `progress(done, total)` reports each step.
    pub async fn seed_synthetic(
        &self,
        options: &shop_seed::catalog::SyntheticOptions,
        progress: impl FnMut(u64, u64),
    ) -> Result<Option<shop_seed::catalog::SyntheticReport>, BoxError> {
        let (Some(config), Some(state), Some(seller)) = (self.catalog_config(), self.catalog_state().await, self.seller_id) else {
            return Ok(None);
        };
        let table = shop_seed::bulk::CatalogTable::new(aws_sdk_dynamodb::Client::new(&self.sdk), config.table);
        let data = std::fs::read_to_string(seed_data_path())?;
        Ok(Some(shop_seed::catalog::seed_synthetic(&state, &table, &data, seller, options, progress).await?))
    }

    /// Gives the data set's products (seeded by [`Self::seed_catalog`]) their stock from the
    /// data set, where they have none yet (see [`shop_seed::stock::seed_stock`]).
    pub async fn seed_stock(&self) -> Result<Option<shop_seed::stock::SeedReport>, BoxError> {
        let (Some(state), Some(env)) = (self.catalog_state().await, self.environments.get("InventoryFunction")) else { return Ok(None) };
        let config = inventory::config::Config::from_lookup(&|name: &str| env.get(name).cloned())?;
        let store = inventory::store::Store::new(aws_sdk_dynamodb::Client::new(&self.sdk), &config.table);
        let mut rows = Vec::new();
        for (sku, available) in shop_seed::dataset::stock_by_sku(&std::fs::read_to_string(seed_data_path())?)? {
            if let Some(p) = state.store.product_by_sku(&sku).await? {
                rows.push(shop_seed::stock::SeedRow {
                    product_id: p.id,
                    seller_id: p.seller_id,
                    product_name: p.name,
                    sku: p.sku,
                    available,
                });
            }
        }
        Ok(Some(shop_seed::stock::seed_stock(&store, rows).await?))
    }
}

/// What [`LocalCloud::seed_on_start`] did.
#[derive(Debug, Clone)]
pub struct StartSeed {
    pub catalog: shop_seed::catalog::SeedReport,
    /// Products given stock.
    pub stocked: usize,
    /// Products of the data set in stock, all of which the storefront now lists as such.
    pub in_stock: usize,
    /// How long the seed took to reach the listings and the index after it was written.
    pub indexed_in: Duration,
}

/// How long [`LocalCloud::seed_on_start`] waits for the seed to reach the listings.
pub const SEED_VISIBLE_TIMEOUT: Duration = Duration::from_secs(180);

impl LocalCloud {
    /// `scripts/dev`'s start-up seed: an empty catalog gets the data set and its stock, and this
    /// returns only once the storefront shows it — every seeded product listed, and the listing
    /// filtered `inStock=true` showing every product the data set has in stock (stock flows
    /// inventory → its stream → the catalog → the catalog's stream → the index, so it lands
    /// seconds after the write). `None` when the catalog was not empty (nothing to wait for).
    /// The pollers must be running ([`Self::start_pollers`]). `progress(listed, in_stock)` is
    /// called while waiting.
    pub async fn seed_on_start(&self, mut progress: impl FnMut(u64, u64)) -> Result<Option<StartSeed>, BoxError> {
        let Some(catalog) = self.seed_catalog(true, |_, _| {}).await? else { return Ok(None) };
        let stocked = self.seed_stock().await?.map(|s| s.created).unwrap_or_default();
        let in_stock = shop_seed::dataset::stock_by_sku(&std::fs::read_to_string(seed_data_path())?)?.values().filter(|s| **s > 0).count();
        let products = catalog.products_created + catalog.products_existing;
        let started = std::time::Instant::now();
        loop {
            let listed = self.listing_total("/api/products?limit=1").await?;
            let listed_in_stock = self.listing_total("/api/products?inStock=true&limit=1").await?;
            if listed >= products as u64 && listed_in_stock == in_stock as u64 {
                break;
            }
            if started.elapsed() > SEED_VISIBLE_TIMEOUT {
                return Err(format!(
                    "the seed did not reach the listings within {} s: {listed} of {products} products listed, \
                     {listed_in_stock} of {in_stock} in stock",
                    SEED_VISIBLE_TIMEOUT.as_secs()
                )
                .into());
            }
            progress(listed, listed_in_stock);
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        Ok(Some(StartSeed { catalog, stocked, in_stock, indexed_in: started.elapsed() }))
    }

    /// `meta.total` of a public catalog listing, asked of the catalog function in-process.
    async fn listing_total(&self, path_and_query: &str) -> Result<u64, BoxError> {
        use http_body_util::BodyExt;
        use tower::ServiceExt;
        let Some(Function::Http(router)) = self.gateway.functions.get("CatalogFunction").cloned() else {
            return Err("the template has no catalog function".into());
        };
        let request = shop_core::http::request_from_event(sam_model::apigw::HttpEvent::new("GET", path_and_query).to_json())?;
        let Ok(response) = router.oneshot(request).await;
        let status = response.status();
        let body = response.into_body().collect().await?.to_bytes();
        if !status.is_success() {
            return Err(format!("GET {path_and_query}: {status} {}", String::from_utf8_lossy(&body)).into());
        }
        let json: serde_json::Value = serde_json::from_slice(&body)?;
        Ok(json["meta"]["total"].as_u64().unwrap_or_default())
    }
}

impl LocalCloud {
    /// Rebuilds the local search index from the catalog table (what `{"action":"reindex"}` does
    /// in AWS), in this process: the index's one writer is shared with the running functions.
    pub async fn reindex(
        &self,
        progress: &(dyn Fn(catalog_indexer::Counts) + Send + Sync),
    ) -> Result<catalog_indexer::ReindexReport, BoxError> {
        let env = self.environments.get("CatalogIndexerFunction").ok_or("the template has no CatalogIndexerFunction")?;
        let config = catalog_indexer::config::Config::from_lookup(&|name| env.get(name).cloned())?;
        let indexer = catalog_indexer::Indexer::connect(&config, &self.sdk).await?;
        Ok(indexer.reindex(catalog_indexer::ReindexOptions::default(), progress).await?)
    }
}
