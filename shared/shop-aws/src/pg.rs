//! PostgreSQL through RDS Proxy (orders, payments): where the database is, the connection pool
//! (a URL locally, IAM tokens in AWS) and each function's migrations applied once per cold start
//! (sqlx takes an advisory lock, so concurrent cold starts wait in turn).

use std::sync::Arc;
use std::time::Duration;

use shop_core::breaker::CircuitBreaker;
use sqlx::migrate::Migrator;
use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgSslMode};
use sqlx::{Postgres, Transaction};

use crate::config::{Lookup, MissingEnv, require};

/// Connections per sandbox (`DB_POOL_SIZE`, default 2): one request at a time per Lambda
/// sandbox, plus the publish after commit; RDS Proxy multiplexes them onto few database
/// connections. The local runner, one process serving what would be many sandboxes, sets more.
const DEFAULT_POOL_SIZE: u32 = 2;
/// A fresh IAM token for new connections well before the 15-minute one expires.
const TOKEN_REFRESH: Duration = Duration::from_secs(600);

/// Where the database is, and how many connections a sandbox opens to it.
#[derive(Debug, Clone)]
pub struct Database {
    pub location: Location,
    pub pool_size: u32,
}

/// Where the database is.
#[derive(Debug, Clone)]
pub enum Location {
    /// `DATABASE_URL`: a full connection URL (the local cloud, tests).
    Url(String),
    /// `DB_HOST`, `DB_PORT`, `DB_NAME`, `DB_USER`: RDS Proxy with IAM authentication — the
    /// password is a 15-minute token signed with the function's role, TLS verified.
    Iam { host: String, port: u16, name: String, user: String },
}

impl Database {
    /// A database at a URL, with the default pool.
    pub fn url(url: impl Into<String>) -> Self {
        Self { location: Location::Url(url.into()), pool_size: DEFAULT_POOL_SIZE }
    }

    /// `DATABASE_URL` when set and not empty, else the RDS Proxy variables; `DB_POOL_SIZE`.
    pub fn from_lookup(env: Lookup<'_>) -> Result<Self, MissingEnv> {
        let location = match env("DATABASE_URL").filter(|v| !v.is_empty()) {
            Some(url) => Location::Url(url),
            None => Location::Iam {
                host: require(env, "DB_HOST")?,
                port: env("DB_PORT").and_then(|p| p.parse().ok()).unwrap_or(5432),
                name: require(env, "DB_NAME")?,
                user: require(env, "DB_USER")?,
            },
        };
        let pool_size = env("DB_POOL_SIZE").and_then(|n| n.parse().ok()).filter(|n| (1..=64).contains(n)).unwrap_or(DEFAULT_POOL_SIZE);
        Ok(Self { location, pool_size })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("invalid DATABASE_URL")]
    Url(#[source] sqlx::Error),
    #[error("could not sign an RDS IAM token")]
    Token(#[from] crate::signed::SignError),
    #[error("could not migrate the database")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("could not reach the database")]
    Connect(#[source] sqlx::Error),
}

async fn options(database: &Database, sdk: &aws_config::SdkConfig) -> Result<PgConnectOptions, DbError> {
    match &database.location {
        Location::Url(url) => url.parse::<PgConnectOptions>().map_err(DbError::Url),
        Location::Iam { host, port, name, user } => {
            let token = crate::rds::auth_token(sdk, host, *port, user).await?;
            Ok(PgConnectOptions::new()
                .host(host)
                .port(*port)
                .database(name)
                .username(user)
                .password(&token)
                // RDS Proxy requires TLS (the template sets RequireTLS); its certificate is
                // issued by Amazon's public CA, verified against the built-in roots.
                .ssl_mode(PgSslMode::VerifyFull))
        }
    }
}

/// Opens the pool lazily (no connection until the first query) and applies `migrator`.
pub async fn connect(database: &Database, sdk: &aws_config::SdkConfig, migrator: &Migrator) -> Result<PgPool, DbError> {
    let pool = PgPoolOptions::new()
        .max_connections(database.pool_size)
        .acquire_timeout(Duration::from_secs(3))
        .idle_timeout(Duration::from_secs(300))
        .connect_lazy_with(options(database, sdk).await?);
    migrator.run(&pool).await?;
    if let Location::Iam { .. } = database.location {
        // New connections use a fresh token; open ones are unaffected by a token's expiry.
        let (pool, database, sdk) = (pool.clone(), database.clone(), sdk.clone());
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(TOKEN_REFRESH).await;
                match options(&database, &sdk).await {
                    Ok(options) => pool.set_connect_options(options),
                    Err(e) => tracing::error!(error = %shop_core::problem::ErrorChain(&e), "could not refresh the RDS IAM token"),
                }
            }
        });
    }
    Ok(pool)
}

/// Whether a database error means the statement was not run or the database could not be
/// reached (safe to retry; answered 503 with `Retry-After`).
pub fn is_unavailable(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Tls(_) | sqlx::Error::WorkerCrashed)
        || e.as_database_error().and_then(|d| d.code()).is_some_and(|c| {
            // serialization_failure, deadlock_detected, lock_not_available (lock_timeout),
            // admin/crash shutdown, cannot connect now, too many connections
            matches!(c.as_ref(), "40001" | "40P01" | "55P03" | "57P01" | "57P02" | "57P03" | "53300")
        })
}

/// Consecutive connections the pool could not give (each after up to its 3 s acquire timeout)
/// that open a [`Db`]'s circuit.
const BREAKER_THRESHOLD: u32 = 3;
/// How long an open circuit answers at once before one request tries the database again.
const BREAKER_COOLDOWN: Duration = Duration::from_secs(5);

/// A store's pool behind a circuit breaker (orders, payments). While PostgreSQL is down, a
/// connection takes the pool's whole acquire timeout to fail, so a request of several queries
/// would wait several timeouts: after [`BREAKER_THRESHOLD`] such failures in a row the circuit
/// opens and requests fail at once (503 with `Retry-After`) for [`BREAKER_COOLDOWN`], then one
/// request tries again. Queries go through [`Db::conn`] or [`Db::begin`]; only failures to
/// reach the database count, never a query's own error.
#[derive(Debug, Clone)]
pub struct Db {
    pool: PgPool,
    breaker: Arc<CircuitBreaker>,
}

impl Db {
    /// `name` names the breaker in its log lines and metrics (`orders->postgres`).
    pub fn new(name: &str, pool: PgPool) -> Self {
        Self { pool, breaker: Arc::new(CircuitBreaker::named(name, BREAKER_THRESHOLD, BREAKER_COOLDOWN)) }
    }

    /// The pool itself, unguarded (readiness probes, migrations, tests).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// A connection for one or more statements.
    pub async fn conn(&self) -> Result<PoolConnection<Postgres>, StoreError> {
        self.guarded(self.pool.acquire()).await
    }

    /// A transaction on a connection of its own.
    pub async fn begin(&self) -> Result<Transaction<'static, Postgres>, StoreError> {
        self.guarded(self.pool.begin()).await
    }

    async fn guarded<T>(&self, open: impl Future<Output = Result<T, sqlx::Error>>) -> Result<T, StoreError> {
        if !self.breaker.allow() {
            return Err(StoreError::CircuitOpen);
        }
        let result = open.await;
        match &result {
            Err(e) if is_unavailable(e) => self.breaker.record_failure(),
            _ => self.breaker.record_success(),
        }
        Ok(result?)
    }
}

/// A PostgreSQL store's failure (orders, payments).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error")]
    Db(#[from] sqlx::Error),
    #[error("a stored row does not decode: {0}")]
    Corrupt(String),
    #[error("the database failed repeatedly; circuit open")]
    CircuitOpen,
}

impl StoreError {
    /// The database could not be reached or the statement was not run (safe to retry).
    pub fn is_unavailable(&self) -> bool {
        match self {
            StoreError::Db(e) => is_unavailable(e),
            StoreError::Corrupt(_) => false,
            StoreError::CircuitOpen => true,
        }
    }

    /// The unique constraint a statement violated.
    pub fn violated(&self) -> Option<String> {
        match self {
            StoreError::Db(e) => {
                e.as_database_error().filter(|d| d.is_unique_violation()).map(|d| d.constraint().unwrap_or_default().to_owned())
            }
            StoreError::Corrupt(_) | StoreError::CircuitOpen => None,
        }
    }
}

impl From<serde_json::Error> for StoreError {
    fn from(e: serde_json::Error) -> Self {
        StoreError::Corrupt(e.to_string())
    }
}

/// Unreachable database → 503 with `Retry-After`; anything else → opaque 500 (cause logged).
impl From<StoreError> for shop_core::ApiError {
    fn from(e: StoreError) -> Self {
        if e.is_unavailable() { shop_core::ApiError::unavailable(&e) } else { shop_core::ApiError::internal(&e) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[tokio::test]
    async fn an_unreachable_database_opens_the_circuit_and_a_reachable_one_closes_it() {
        // Nothing listens on port 1: each connection fails after the pool's acquire timeout.
        let down: PgConnectOptions = "postgres://postgres@127.0.0.1:1/postgres".parse().unwrap();
        let pool = PgPoolOptions::new().max_connections(1).acquire_timeout(Duration::from_millis(300)).connect_lazy_with(down);
        let db = Db::new("test->postgres", pool.clone());
        for _ in 0..BREAKER_THRESHOLD {
            let err = db.conn().await.expect_err("nothing listens");
            assert!(matches!(err, StoreError::Db(_)) && err.is_unavailable(), "{err:?}");
        }
        let started = Instant::now();
        let err = db.begin().await.expect_err("the circuit is open");
        assert!(matches!(err, StoreError::CircuitOpen) && err.is_unavailable(), "{err:?}");
        assert!(started.elapsed() < Duration::from_millis(50), "an open circuit answers at once: {:?}", started.elapsed());
        let problem = shop_core::ApiError::from(err);
        assert_eq!(problem.status(), http::StatusCode::SERVICE_UNAVAILABLE);

        // The database comes back: after the cooldown one request tries it, and closes the circuit.
        let base = std::env::var("DATABASE_URL_BASE").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
        pool.set_connect_options(format!("{base}/postgres").parse().unwrap());
        assert!(matches!(db.conn().await, Err(StoreError::CircuitOpen)), "still cooling down");
        tokio::time::sleep(BREAKER_COOLDOWN).await;
        let mut conn = db.conn().await.expect("the trial reaches the database");
        let one: i32 = sqlx::query_scalar("SELECT 1").fetch_one(&mut *conn).await.unwrap();
        assert_eq!(one, 1);
        drop(conn);
        db.begin().await.expect("closed: every request goes through").commit().await.unwrap();
    }
}
