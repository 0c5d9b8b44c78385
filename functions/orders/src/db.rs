//! The orders database: the shared pool set-up ([`shop_aws::pg`]) with this function's
//! migrations (`functions/orders/migrations`).

use sqlx::postgres::PgPool;

pub use shop_aws::pg::DbError;

use crate::config::Database;

/// The embedded migrations of this function (`functions/orders/migrations`).
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Opens the pool lazily and migrates.
pub async fn connect(database: &Database, sdk: &aws_config::SdkConfig) -> Result<PgPool, DbError> {
    shop_aws::pg::connect(database, sdk, &MIGRATOR).await
}
