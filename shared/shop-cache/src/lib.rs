//! A read-through cache on Redis (ElastiCache in AWS) that can never take a request down.
//!
//! - **Versioned namespaces** instead of pattern deletes (never `KEYS`): every key of a namespace
//!   embeds the namespace's version (`<prefix>products:v7:id:<id>`); a write bumps the version
//!   with `INCR`, which makes every older key unreachable at once (they expire by TTL). A reader
//!   that read the old version and then the old data can only fill an already-dead key, so a
//!   write is never hidden by a racing read.
//! - **Failures degrade to misses**: connect and response timeouts are short, errors are logged
//!   and the caller reads the source of truth.
//! - **Isolation**: every key starts with a prefix (tests use one per test).

use std::time::Duration;

use redis::AsyncCommands;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// How long a cache call may take before it counts as a miss.
pub const TIMEOUT: Duration = Duration::from_millis(100);

/// A cache handle; cheap to clone. `Cache::disabled()` is a cache that always misses.
#[derive(Clone)]
pub struct Cache {
    connection: Option<ConnectionManager>,
    prefix: String,
    /// A Redis URL was given (the connection may still have failed).
    configured: bool,
    /// The client the connection came from: readiness pings on a connection of its own, with
    /// the probe's timeout rather than the cache calls' 100 ms.
    client: Option<redis::Client>,
}

impl std::fmt::Debug for Cache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cache").field("enabled", &self.connection.is_some()).field("prefix", &self.prefix).finish()
    }
}

impl Cache {
    /// Connects to `url`: `redis://host:port`, or `rediss://host:port` for TLS (ElastiCache
    /// Serverless; certificates checked against the built-in Mozilla roots). Connection errors
    /// leave the cache disabled (logged): the function works without it.
    pub async fn connect(url: &str, prefix: impl Into<String>) -> Self {
        let prefix = prefix.into();
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(TIMEOUT))
            .set_response_timeout(Some(TIMEOUT))
            .set_number_of_retries(1);
        let client = redis::Client::open(url).ok();
        let connection = match redis::Client::open(url) {
            Ok(client) => match tokio::time::timeout(TIMEOUT * 3, ConnectionManager::new_with_config(client, config)).await {
                Ok(Ok(connection)) => Some(connection),
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "cache unavailable; reading through");
                    None
                }
                Err(_) => {
                    tracing::warn!("cache connection timed out; reading through");
                    None
                }
            },
            Err(e) => {
                tracing::warn!(error = %e, "invalid cache URL; reading through");
                None
            }
        };
        Self { connection, prefix, configured: true, client }
    }

    /// A cache that always misses (no Redis configured).
    pub fn disabled() -> Self {
        Self { connection: None, prefix: String::new(), configured: false, client: None }
    }

    pub fn is_enabled(&self) -> bool {
        self.connection.is_some()
    }

    /// A Redis URL was configured ([`Cache::connect`]), whether or not it connected.
    pub fn is_configured(&self) -> bool {
        self.configured
    }

    /// Readiness: Redis answers `PING`. A cache whose connection failed at start-up is down
    /// (the function reads through it, but it is not there).
    pub async fn ping(&self) -> Result<(), String> {
        let (Some(client), Some(_)) = (&self.client, &self.connection) else {
            return Err("not connected (unreachable when the function started)".into());
        };
        let mut connection = client.get_multiplexed_async_connection().await.map_err(|e| e.to_string())?;
        redis::cmd("PING").query_async::<String>(&mut connection).await.map(|_| ()).map_err(|e| e.to_string())
    }

    fn key(&self, parts: &str) -> String {
        format!("{}{parts}", self.prefix)
    }

    async fn run<T, F, Fut>(&self, op: &'static str, f: F) -> Option<T>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: std::future::Future<Output = redis::RedisResult<T>>,
    {
        let connection = self.connection.clone()?;
        match tokio::time::timeout(TIMEOUT, f(connection)).await {
            Ok(Ok(v)) => Some(v),
            Ok(Err(e)) => {
                tracing::warn!(op, error = %e, "cache call failed; reading through");
                None
            }
            Err(_) => {
                tracing::warn!(op, "cache call timed out; reading through");
                None
            }
        }
    }

    /// The current version of a namespace (0 when never bumped or unknown).
    pub async fn version(&self, namespace: &str) -> u64 {
        let key = self.key(&format!("{namespace}:version"));
        self.run("version", |mut c| async move { c.get::<_, Option<u64>>(key).await }).await.flatten().unwrap_or(0)
    }

    /// Bumps a namespace's version: every key cached under the old version is unreachable.
    pub async fn invalidate(&self, namespace: &str) {
        let key = self.key(&format!("{namespace}:version"));
        self.run("invalidate", |mut c| async move { c.incr::<_, _, u64>(key, 1).await }).await;
    }

    /// The full key of `name` in a namespace at a version.
    pub fn versioned_key(&self, namespace: &str, version: u64, name: &str) -> String {
        self.key(&format!("{namespace}:v{version}:{name}"))
    }

    pub async fn get_json<T: DeserializeOwned>(&self, key: &str) -> Option<T> {
        let key = key.to_owned();
        let raw: Option<String> = self.run("get", |mut c| async move { c.get(key).await }).await.flatten();
        raw.and_then(|s| serde_json::from_str(&s).ok())
    }

    pub async fn set_json<T: Serialize>(&self, key: &str, value: &T, ttl: Duration) {
        let Ok(raw) = serde_json::to_string(value) else { return };
        let key = key.to_owned();
        self.run("set", |mut c| async move { c.set_ex::<_, _, ()>(key, raw, ttl.as_secs().max(1)).await }).await;
    }

    /// Read-through: the cached value of `name` in `namespace`, else `load()` cached for `ttl`.
    pub async fn get_or_load<T, E, F, Fut>(&self, namespace: &str, name: &str, ttl: Duration, load: F) -> Result<T, E>
    where
        T: Serialize + DeserializeOwned,
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<T, E>>,
    {
        if !self.is_enabled() {
            return load().await;
        }
        let version = self.version(namespace).await;
        let key = self.versioned_key(namespace, version, name);
        if let Some(hit) = self.get_json(&key).await {
            return Ok(hit);
        }
        let value = load().await?;
        self.set_json(&key, &value, ttl).await;
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url() -> String {
        std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
    }

    #[tokio::test]
    async fn values_are_read_through_and_invalidated_by_version() {
        let cache = Cache::connect(&url(), shop_testkit::redis_prefix()).await;
        assert!(cache.is_enabled(), "Redis runs in the local cloud");
        let mut loads = 0;
        let a: Result<u32, ()> = cache
            .get_or_load("products", "id:1", Duration::from_secs(60), || async {
                loads += 1;
                Ok(1)
            })
            .await;
        assert_eq!(a, Ok(1));
        let b: Result<u32, ()> = cache
            .get_or_load("products", "id:1", Duration::from_secs(60), || async {
                loads += 1;
                Ok(2)
            })
            .await;
        assert_eq!(b, Ok(1), "the second read is a hit");
        cache.invalidate("products").await;
        let c: Result<u32, ()> = cache
            .get_or_load("products", "id:1", Duration::from_secs(60), || async {
                loads += 1;
                Ok(3)
            })
            .await;
        assert_eq!(c, Ok(3), "a bumped version misses");
        assert_eq!(loads, 2);
        // Errors are not cached.
        let e: Result<u32, &str> = cache.get_or_load("products", "id:2", Duration::from_secs(60), || async { Err("db down") }).await;
        assert_eq!(e, Err("db down"));
    }

    #[tokio::test]
    async fn prefixes_isolate_caches() {
        let one = Cache::connect(&url(), shop_testkit::redis_prefix()).await;
        let two = Cache::connect(&url(), shop_testkit::redis_prefix()).await;
        one.invalidate("ns").await;
        assert_eq!(one.version("ns").await, 1);
        assert_eq!(two.version("ns").await, 0);
    }

    #[tokio::test]
    async fn rediss_urls_connect_over_tls() {
        use tokio::io::AsyncReadExt;
        // A server that records the first bytes the client sends: a TLS client opens with a
        // handshake record (0x16, protocol major version 3), a plain Redis client with RESP (`*`).
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut first = [0u8; 3];
            socket.read_exact(&mut first).await.map(|_| first)
        });
        let cache = Cache::connect(&format!("rediss://127.0.0.1:{port}"), "x:").await;
        assert!(!cache.is_enabled(), "the server never completes the handshake");
        let first = tokio::time::timeout(Duration::from_secs(5), server)
            .await
            .expect("the client dialled the rediss:// endpoint (TLS support compiled in)")
            .unwrap()
            .expect("the client sent a first record");
        assert_eq!(first[0], 0x16, "TLS handshake record, got {first:?}");
        assert_eq!(first[1], 0x03, "TLS record version, got {first:?}");
    }

    #[tokio::test]
    async fn a_dead_redis_degrades_to_reading_through() {
        let started = std::time::Instant::now();
        let cache = Cache::connect("redis://127.0.0.1:1", "x:").await;
        assert!(!cache.is_enabled());
        let v: Result<u32, ()> = cache.get_or_load("products", "id:1", Duration::from_secs(60), || async { Ok(7) }).await;
        assert_eq!(v, Ok(7));
        cache.invalidate("products").await;
        assert!(started.elapsed() < Duration::from_secs(2), "failing fast: {:?}", started.elapsed());
        assert!(Cache::disabled().get_json::<u32>("k").await.is_none());
    }
}
