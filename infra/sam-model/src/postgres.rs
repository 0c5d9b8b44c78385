//! Local PostgreSQL databases: the local cloud's stand-in for RDS.
//!
//! In AWS a function that owns a Postgres database gets `DB_HOST` (the RDS Proxy), `DB_PORT`,
//! `DB_NAME` and `DB_USER` and logs in with an IAM token. Locally every such function (one
//! whose template environment names a `DB_NAME`) gets a database of its own on the machine's
//! PostgreSQL instead, `<DB_NAME><suffix>` (the local cloud's suffix, so dev and every test
//! have their own), created when missing, and a `DATABASE_URL` pointing at it.
//!
//! The server is `$DATABASE_URL_BASE` (default [`DEFAULT_BASE_URL`]): a `postgres://` URL
//! without a database; the maintenance database `postgres` is used to create and drop.

use std::time::Duration;

use sqlx::postgres::PgConnection;
use sqlx::{AssertSqlSafe, Connection};

use crate::local::BoxError;

/// The machine's PostgreSQL as `scripts/lib/common.sh` sets it up (trust authentication).
pub const DEFAULT_BASE_URL: &str = "postgres://postgres@127.0.0.1:5432";

/// `$DATABASE_URL_BASE`, else [`DEFAULT_BASE_URL`].
pub fn base_url() -> String {
    std::env::var("DATABASE_URL_BASE").ok().filter(|v| !v.trim().is_empty()).unwrap_or_else(|| DEFAULT_BASE_URL.to_owned())
}

/// The local database name for `db_name` (the template's `DB_NAME`) in the local cloud named
/// by `suffix`: `orders` for dev (empty suffix), `orders_0190ab12cd34` for a test's
/// `-0190ab12cd34`. Lower case letters, digits and `_` only, at most 63 bytes (PostgreSQL's
/// limit), so it never needs quoting rules beyond double quotes.
pub fn database_name(db_name: &str, suffix: &str) -> Result<String, BoxError> {
    let clean = |s: &str| -> String { s.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' }).collect() };
    let base = clean(db_name);
    if base.is_empty() || !base.starts_with(|c: char| c.is_ascii_lowercase()) {
        return Err(format!("DB_NAME {db_name:?} is not a database name (it must start with a letter)").into());
    }
    let suffix = clean(suffix);
    let name = match suffix.trim_start_matches('_') {
        "" => base,
        rest => format!("{base}_{rest}"),
    };
    if name.len() > 63 {
        return Err(format!("database name {name} is longer than PostgreSQL's 63 bytes").into());
    }
    Ok(name)
}

/// `base` (a server URL, with or without a database path and query) pointing at `database`.
pub fn database_url(base: &str, database: &str) -> String {
    let (without_query, query) = match base.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (base, None),
    };
    let authority_start = without_query.find("://").map_or(0, |i| i + 3);
    let server = match without_query[authority_start..].find('/') {
        Some(slash) => &without_query[..authority_start + slash],
        None => without_query,
    };
    match query {
        Some(q) => format!("{server}/{database}?{q}"),
        None => format!("{server}/{database}"),
    }
}

fn checked(name: &str) -> Result<&str, BoxError> {
    let valid = !name.is_empty()
        && name.len() <= 63
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if valid { Ok(name) } else { Err(format!("{name:?} is not a local database name (a-z, 0-9, _)").into()) }
}

async fn maintenance(base: &str) -> Result<PgConnection, BoxError> {
    let url = database_url(base, "postgres");
    PgConnection::connect(&url).await.map_err(|e| format!("cannot connect to PostgreSQL at {}: {e}", redact(&url)).into())
}

/// The URL without its password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{}{user}{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}

/// SQLSTATE of a database error, if it is one.
fn sqlstate(e: &sqlx::Error) -> Option<String> {
    e.as_database_error().and_then(|d| d.code()).map(|c| c.into_owned())
}

/// Creates the database `name` on the server `base` unless it exists; returns its
/// `DATABASE_URL`. Safe to call concurrently for the same name (the loser of a race finds the
/// winner's database) and again on every start-up.
pub async fn ensure_database(base: &str, name: &str) -> Result<String, BoxError> {
    let name = checked(name)?;
    let mut conn = maintenance(base).await?;
    let mut attempt = 0u32;
    loop {
        let exists: Option<i32> =
            sqlx::query_scalar("SELECT 1 FROM pg_database WHERE datname = $1").bind(name).fetch_optional(&mut conn).await?;
        if exists.is_some() {
            break;
        }
        // `name` passed `checked` (a-z, 0-9, _): nothing in it can leave the quoted identifier.
        match sqlx::raw_sql(AssertSqlSafe(format!("CREATE DATABASE \"{name}\""))).execute(&mut conn).await {
            Ok(_) => break,
            // Created concurrently (by another function of this cloud, another start-up):
            // duplicate_database, or unique_violation on pg_database's name when both creates
            // ran at once - the other one committed. Look again.
            // object_in_use: template1 is being copied by a concurrent CREATE DATABASE.
            Err(e) if matches!(sqlstate(&e).as_deref(), Some("42P04" | "23505" | "55006")) && attempt < 10 => {
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(50 * u64::from(attempt))).await;
            }
            Err(e) => return Err(format!("CREATE DATABASE {name}: {e}").into()),
        }
    }
    conn.close().await.ok();
    Ok(database_url(base, name))
}

/// Drops the database `name` (terminating its connections) if it exists.
pub async fn drop_database(base: &str, name: &str) -> Result<(), BoxError> {
    let name = checked(name)?;
    let mut conn = maintenance(base).await?;
    // `name` passed `checked` (a-z, 0-9, _).
    sqlx::raw_sql(AssertSqlSafe(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))).execute(&mut conn).await?;
    conn.close().await.ok();
    Ok(())
}

/// Whether the database `name` exists on `base`.
pub async fn database_exists(base: &str, name: &str) -> Result<bool, BoxError> {
    let mut conn = maintenance(base).await?;
    let exists: Option<i32> =
        sqlx::query_scalar("SELECT 1 FROM pg_database WHERE datname = $1").bind(name).fetch_optional(&mut conn).await?;
    conn.close().await.ok();
    Ok(exists.is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_template_name_plus_the_clouds_suffix() {
        assert_eq!(database_name("orders", "").unwrap_or_default(), "orders");
        assert_eq!(database_name("orders", "-0190AB12cd34").unwrap_or_default(), "orders_0190ab12cd34");
        assert_eq!(database_name("payments", "_x").unwrap_or_default(), "payments_x");
        assert!(database_name("1orders", "").is_err());
        assert!(database_name("", "-a").is_err());
        assert!(database_name("orders", &"x".repeat(60)).is_err());
    }

    #[test]
    fn urls_point_at_the_database_whatever_the_base_holds() {
        assert_eq!(database_url("postgres://postgres@127.0.0.1:5432", "orders"), "postgres://postgres@127.0.0.1:5432/orders");
        assert_eq!(database_url("postgres://postgres@127.0.0.1:5432/", "orders"), "postgres://postgres@127.0.0.1:5432/orders");
        assert_eq!(database_url("postgres://u:p@db:5433/postgres?sslmode=disable", "o"), "postgres://u:p@db:5433/o?sslmode=disable");
        assert_eq!(redact("postgres://u:secret@db:5433/o"), "postgres://u@db:5433/o");
    }
}
