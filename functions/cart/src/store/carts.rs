//! Carts in Redis (ElastiCache Serverless in AWS, a cache of their own that never evicts them).
//!
//! | key | value |
//! |---|---|
//! | `<prefix>user:<sub>` | a user's cart: hash `{v: version, d: Cart JSON}` |
//! | `<prefix>guest:<cartId>` | a guest cart, same shape; reachable only with its token |
//!
//! Every write is a compare-and-set on the version in one Lua script (one key per script, so it
//! works on a cluster-mode endpoint), and refreshes the 7-day TTL. Read-modify-write loops
//! retry on a lost race, so concurrent changes to one cart never lose a line. Redis being down
//! is a 503, never a silent miss: carts have no other copy.

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use shop_core::retry::{Backoff, Contended, RetryPolicy};
use shop_core::time::Timestamp;
use tracing::instrument;
use uuid::Uuid;

use crate::domain::Cart;

/// Carts live 7 days after their last write (sliding).
pub const TTL: Duration = Duration::from_secs(7 * 24 * 3600);
/// How long one Redis call may take.
const TIMEOUT: Duration = Duration::from_secs(2);
/// Compare-and-set retries: Redis answers in well under a millisecond, so waits start at 1 ms
/// and stay short; the time budget is the shared one.
const CAS_RETRY: RetryPolicy =
    RetryPolicy { backoff: Backoff::new(Duration::from_millis(1), Duration::from_millis(50)), ..RetryPolicy::CONTENDED };

/// Sets `d` and bumps `v` when `v` is the expected version ('' = the key must not exist).
const CAS: &str = r"
local v = redis.call('HGET', KEYS[1], 'v')
if not v then v = '' end
if v ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'v', ARGV[2], 'd', ARGV[3])
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[4]))
return 1
";

/// Whose cart a key holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    User(Uuid),
    Guest(Uuid),
}

#[derive(Debug, thiserror::Error)]
pub enum CartStoreError {
    #[error("Redis call failed")]
    Redis(#[from] redis::RedisError),
    #[error("Redis call timed out")]
    Timeout,
    #[error("a stored cart does not decode")]
    Decode(#[from] serde_json::Error),
    /// The cart kept changing for the whole retry budget.
    #[error(transparent)]
    Contended(#[from] Contended),
}

impl From<CartStoreError> for shop_core::ApiError {
    fn from(err: CartStoreError) -> Self {
        match err {
            CartStoreError::Decode(_) => shop_core::ApiError::internal(&err),
            CartStoreError::Contended(contended) => contended.into(),
            _ => shop_core::ApiError::unavailable(&err),
        }
    }
}

/// A cart with the version it was read at.
#[derive(Debug, Clone)]
pub struct Stored {
    pub cart: Cart,
    pub version: u64,
}

/// The outcome of [`CartStore::update`].
#[derive(Debug)]
pub enum Updated<E> {
    Done(Cart),
    /// No cart under the key.
    Missing,
    /// The change was refused (the cart is unchanged).
    Refused(E),
}

#[derive(Clone)]
pub struct CartStore {
    connection: ConnectionManager,
    prefix: String,
    script: redis::Script,
}

impl std::fmt::Debug for CartStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CartStore").field("prefix", &self.prefix).finish()
    }
}

impl CartStore {
    /// Connects to `url` (`redis://` or `rediss://`).
    pub async fn connect(url: &str, prefix: impl Into<String>) -> Result<Self, CartStoreError> {
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(TIMEOUT))
            .set_response_timeout(Some(TIMEOUT))
            .set_number_of_retries(2);
        let client = redis::Client::open(url)?;
        let connection = tokio::time::timeout(TIMEOUT * 2, ConnectionManager::new_with_config(client, config))
            .await
            .map_err(|_| CartStoreError::Timeout)??;
        Ok(Self { connection, prefix: prefix.into(), script: redis::Script::new(CAS) })
    }

    fn key(&self, owner: Owner) -> String {
        match owner {
            Owner::User(sub) => format!("{}user:{sub}", self.prefix),
            Owner::Guest(id) => format!("{}guest:{id}", self.prefix),
        }
    }

    async fn timed<T>(&self, f: impl std::future::Future<Output = redis::RedisResult<T>>) -> Result<T, CartStoreError> {
        Ok(tokio::time::timeout(TIMEOUT, f).await.map_err(|_| CartStoreError::Timeout)??)
    }

    /// The cart under `owner`'s key, with its version.
    #[instrument(skip_all)]
    pub async fn load(&self, owner: Owner) -> Result<Option<Stored>, CartStoreError> {
        let mut c = self.connection.clone();
        let (version, data): (Option<u64>, Option<String>) =
            self.timed(redis::cmd("HMGET").arg(self.key(owner)).arg("v").arg("d").query_async(&mut c)).await?;
        match (version, data) {
            (Some(version), Some(data)) => Ok(Some(Stored { cart: serde_json::from_str(&data)?, version })),
            _ => Ok(None),
        }
    }

    /// Writes `cart` if the stored version is still `expected` (`None`: no cart yet). False
    /// when another write won.
    #[instrument(skip_all)]
    pub async fn put_if(&self, owner: Owner, expected: Option<u64>, cart: &Cart) -> Result<bool, CartStoreError> {
        let data = serde_json::to_string(cart)?;
        let mut c = self.connection.clone();
        let mut invocation = self.script.key(self.key(owner));
        invocation.arg(expected.map(|v| v.to_string()).unwrap_or_default()).arg(expected.unwrap_or(0) + 1).arg(data).arg(TTL.as_secs());
        let written: i64 = self.timed(invocation.invoke_async(&mut c)).await?;
        Ok(written == 1)
    }

    /// Creates `cart` unless one exists; returns the cart now stored and whether it is new.
    #[instrument(skip_all)]
    pub async fn create(&self, owner: Owner, cart: Cart) -> Result<(Cart, bool), CartStoreError> {
        let mut retry = CAS_RETRY.start();
        loop {
            if self.put_if(owner, None, &cart).await? {
                return Ok((cart, true));
            }
            if let Some(existing) = self.load(owner).await? {
                return Ok((existing.cart, false));
            }
            retry.wait().await?;
        }
    }

    /// Read-modify-write: applies `change` to the current cart and stores it if nobody wrote in
    /// between, else retries on the fresh cart. With `create`, a missing cart is made first.
    #[instrument(skip_all)]
    pub async fn update<E: Send>(
        &self,
        owner: Owner,
        create: Option<&(dyn Fn() -> Cart + Send + Sync)>,
        mut change: impl FnMut(&mut Cart) -> Result<(), E> + Send,
    ) -> Result<Updated<E>, CartStoreError> {
        let mut retry = CAS_RETRY.start();
        loop {
            let (mut cart, version) = match (self.load(owner).await?, create) {
                (Some(stored), _) => (stored.cart, Some(stored.version)),
                (None, Some(make)) => (make(), None),
                (None, None) => return Ok(Updated::Missing),
            };
            if let Err(e) = change(&mut cart) {
                return Ok(Updated::Refused(e));
            }
            cart.updated_at = Timestamp::now();
            if self.put_if(owner, version, &cart).await? {
                return Ok(Updated::Done(cart));
            }
            retry.wait().await?;
        }
    }

    /// Deletes the cart; false when there was none.
    #[instrument(skip_all)]
    pub async fn delete(&self, owner: Owner) -> Result<bool, CartStoreError> {
        let mut c = self.connection.clone();
        let removed: i64 = self.timed(redis::cmd("DEL").arg(self.key(owner)).query_async(&mut c)).await?;
        Ok(removed > 0)
    }

    /// Seconds the cart has left (tests check the sliding TTL).
    #[instrument(skip_all)]
    pub async fn ttl(&self, owner: Owner) -> Result<i64, CartStoreError> {
        let mut c = self.connection.clone();
        self.timed(redis::cmd("TTL").arg(self.key(owner)).query_async(&mut c)).await
    }
}
