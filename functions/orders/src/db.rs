//! The connection pool: a URL locally, RDS Proxy with IAM tokens in AWS; migrations applied
//! once per cold start (sqlx takes an advisory lock, so concurrent cold starts wait in turn).

use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgSslMode};

use crate::config::Database;

/// Connections per sandbox: one request at a time per Lambda sandbox, plus the publish after
/// commit; RDS Proxy multiplexes them onto few database connections.
const MAX_CONNECTIONS: u32 = 2;
/// A fresh IAM token for new connections well before the 15-minute one expires.
const TOKEN_REFRESH: Duration = Duration::from_secs(600);

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("invalid DATABASE_URL")]
    Url(#[source] sqlx::Error),
    #[error("could not sign an RDS IAM token")]
    Token(#[from] shop_aws::rds::TokenError),
    #[error("could not migrate the database")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("could not reach the database")]
    Connect(#[source] sqlx::Error),
}

/// The embedded migrations of this function (`functions/orders/migrations`).
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

async fn options(database: &Database, sdk: &aws_config::SdkConfig) -> Result<PgConnectOptions, DbError> {
    match database {
        Database::Url(url) => url.parse::<PgConnectOptions>().map_err(DbError::Url),
        Database::Iam { host, port, name, user } => {
            let token = shop_aws::rds::auth_token(sdk, host, *port, user).await?;
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

/// Opens the pool lazily (no connection until the first query) and migrates.
pub async fn connect(database: &Database, sdk: &aws_config::SdkConfig) -> Result<PgPool, DbError> {
    let pool = PgPoolOptions::new()
        .max_connections(MAX_CONNECTIONS)
        .acquire_timeout(Duration::from_secs(3))
        .idle_timeout(Duration::from_secs(300))
        .connect_lazy_with(options(database, sdk).await?);
    MIGRATOR.run(&pool).await?;
    if let Database::Iam { .. } = database {
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
