//! Carts in Redis (ElastiCache Serverless in AWS, a cache of their own that never evicts them),
//! and the counters of coupon attempts.
//!
//! | key | value | lives |
//! |---|---|---|
//! | `<prefix>user:<sub>` | a user's cart: hash `{v: version, d: Cart JSON}` | 7 days after its last write |
//! | `<prefix>guest:<cartId>` | a guest cart, same shape; reachable only with its token | 7 days after its last write while it has lines, 15 minutes once emptied |
//! | `<prefix>guest:<cartId>` | or a tombstone `{v, x: 1}` of a deleted or merged guest cart | 15 minutes |
//! | `<prefix>tries:cart:<user:sub \| guest:id>` / `<prefix>tries:ip:<ip>` | rejected coupon attempts (integer) | its window (15 minutes from the first) |
//!
//! A guest cart is written only once it holds a line: until then its token (which vouches for
//! its own id, see `domain::token`) opens the empty cart without any key, so anonymous
//! `POST /api/cart` calls store nothing. Deleting or merging a guest cart leaves a tombstone, so
//! the token answers "not found" instead of an empty cart; the tombstone is never read as a cart
//! and no write goes over it.
//!
//! Every cart write is a compare-and-set on the version in one Lua script (one key per script,
//! so it works on a cluster-mode endpoint), and sets the key's TTL. Read-modify-write loops
//! retry on a lost race, so concurrent changes to one cart never lose a line. Redis being down
//! is a 503, never a silent miss: carts have no other copy.

use std::sync::Arc;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use shop_core::retry::{Backoff, Contended, RetryPolicy};
use shop_core::time::Timestamp;
use tracing::instrument;
use uuid::Uuid;

use crate::domain::Cart;

/// Carts live 7 days after their last write (sliding); user carts always, guest carts while
/// they hold a line.
pub const TTL: Duration = Duration::from_secs(7 * 24 * 3600);
/// A guest cart whose last line was removed (or that was cleared) lives this long after that
/// write: nothing in it is worth keeping for days, and anyone can make guest carts.
pub const EMPTY_GUEST_TTL: Duration = Duration::from_secs(15 * 60);
/// How long a deleted or merged guest cart's token keeps answering "not found" (afterwards it
/// opens an empty cart again, as a new token would). Short: anyone can make tombstones.
pub const TOMBSTONE_TTL: Duration = Duration::from_secs(15 * 60);
/// How long one Redis call may take.
const TIMEOUT: Duration = Duration::from_secs(2);
/// Compare-and-set retries: Redis answers in well under a millisecond, so waits start at 1 ms
/// and stay short; the time budget is the shared one.
const CAS_RETRY: RetryPolicy =
    RetryPolicy { backoff: Backoff::new(Duration::from_millis(1), Duration::from_millis(50)), ..RetryPolicy::CONTENDED };

/// Sets `d` and bumps `v` when `v` is the expected version ('' = the key must not exist) and
/// the key is no tombstone; sets the TTL.
const CAS: &str = r"
if redis.call('HEXISTS', KEYS[1], 'x') == 1 then return 0 end
local v = redis.call('HGET', KEYS[1], 'v')
if not v then v = '' end
if v ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'v', ARGV[2], 'd', ARGV[3])
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[4]))
return 1
";

/// Replaces whatever the key holds by a tombstone (a version above any read so far, no cart
/// data) for ARGV[1] seconds; 0 when it is a tombstone already.
const BURY: &str = r"
if redis.call('HEXISTS', KEYS[1], 'x') == 1 then return 0 end
local v = tonumber(redis.call('HGET', KEYS[1], 'v') or '0')
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'v', v + 1, 'x', '1')
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[1]))
return 1
";

/// Counts one attempt: INCR, and the window's TTL set with the first one (or healed when
/// missing). Answers {count, seconds left}.
const COUNT: &str = r"
local n = redis.call('INCR', KEYS[1])
local ttl = redis.call('TTL', KEYS[1])
if n == 1 or ttl < 0 then
  redis.call('EXPIRE', KEYS[1], tonumber(ARGV[1]))
  ttl = tonumber(ARGV[1])
end
return {n, ttl}
";

/// Takes one attempt back (never below zero, never creating the key).
const UNCOUNT: &str = r"
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if n > 0 then redis.call('DECR', KEYS[1]) end
return 0
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

/// What a cart key holds.
#[derive(Debug, Clone)]
pub enum Slot {
    /// Nothing (never written, or expired).
    Empty,
    Cart(Stored),
    /// A deleted or merged guest cart, for [`TOMBSTONE_TTL`].
    Tombstone,
}

/// A counter of coupon attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tries<'a> {
    /// Per cart.
    Cart(Owner),
    /// Per source IP.
    Ip(&'a str),
}

/// An attempt counted by [`CartStore::count_try`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counted {
    /// Attempts in the window, this one included.
    pub count: u64,
    /// Seconds until the window ends.
    pub retry_after: u64,
}

/// The outcome of [`CartStore::update`].
#[derive(Debug)]
pub enum Updated<E> {
    Done(Cart),
    /// No cart under the key (or a tombstone).
    Missing,
    /// The change was refused (the cart is unchanged).
    Refused(E),
}

/// The Lua scripts, hashed once.
struct Scripts {
    cas: redis::Script,
    bury: redis::Script,
    count: redis::Script,
    uncount: redis::Script,
}

impl Scripts {
    fn new() -> Self {
        Self {
            cas: redis::Script::new(CAS),
            bury: redis::Script::new(BURY),
            count: redis::Script::new(COUNT),
            uncount: redis::Script::new(UNCOUNT),
        }
    }
}

#[derive(Clone)]
pub struct CartStore {
    connection: ConnectionManager,
    prefix: String,
    scripts: Arc<Scripts>,
}

impl std::fmt::Debug for CartStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CartStore").field("prefix", &self.prefix).finish()
    }
}

impl CartStore {
    /// Readiness: Redis answers `PING` (`shop_core::health`).
    pub fn probe(&self) -> shop_core::health::Probe {
        let mut connection = self.connection.clone();
        shop_core::health::Probe::new("redis", async move {
            redis::cmd("PING").query_async::<String>(&mut connection).await.map(|_| ()).map_err(|e| e.to_string())
        })
    }

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
        Ok(Self { connection, prefix: prefix.into(), scripts: Arc::new(Scripts::new()) })
    }

    fn key(&self, owner: Owner) -> String {
        match owner {
            Owner::User(sub) => format!("{}user:{sub}", self.prefix),
            Owner::Guest(id) => format!("{}guest:{id}", self.prefix),
        }
    }

    fn tries_key(&self, tries: Tries<'_>) -> String {
        match tries {
            Tries::Cart(Owner::User(sub)) => format!("{}tries:cart:user:{sub}", self.prefix),
            Tries::Cart(Owner::Guest(id)) => format!("{}tries:cart:guest:{id}", self.prefix),
            Tries::Ip(ip) => format!("{}tries:ip:{ip}", self.prefix),
        }
    }

    /// How long `cart` lives after this write: a guest cart without lines 15 minutes, any other
    /// cart 7 days.
    fn ttl_of(owner: Owner, cart: &Cart) -> Duration {
        match owner {
            Owner::Guest(_) if cart.items.is_empty() => EMPTY_GUEST_TTL,
            _ => TTL,
        }
    }

    async fn timed<T>(&self, f: impl std::future::Future<Output = redis::RedisResult<T>>) -> Result<T, CartStoreError> {
        Ok(tokio::time::timeout(TIMEOUT, f).await.map_err(|_| CartStoreError::Timeout)??)
    }

    /// What `owner`'s key holds.
    #[instrument(skip_all)]
    pub async fn read(&self, owner: Owner) -> Result<Slot, CartStoreError> {
        let mut c = self.connection.clone();
        let (version, data, tombstone): (Option<u64>, Option<String>, Option<String>) =
            self.timed(redis::cmd("HMGET").arg(self.key(owner)).arg("v").arg("d").arg("x").query_async(&mut c)).await?;
        Ok(match (version, data, tombstone) {
            (_, _, Some(_)) => Slot::Tombstone,
            (Some(version), Some(data), None) => Slot::Cart(Stored { cart: serde_json::from_str(&data)?, version }),
            _ => Slot::Empty,
        })
    }

    /// The cart under `owner`'s key, with its version (`None`: no cart, or a tombstone).
    #[instrument(skip_all)]
    pub async fn load(&self, owner: Owner) -> Result<Option<Stored>, CartStoreError> {
        Ok(match self.read(owner).await? {
            Slot::Cart(stored) => Some(stored),
            Slot::Empty | Slot::Tombstone => None,
        })
    }

    /// Writes `cart` if the stored version is still `expected` (`None`: no cart yet). False
    /// when another write won.
    #[instrument(skip_all)]
    pub async fn put_if(&self, owner: Owner, expected: Option<u64>, cart: &Cart) -> Result<bool, CartStoreError> {
        let data = serde_json::to_string(cart)?;
        let mut c = self.connection.clone();
        let mut invocation = self.scripts.cas.key(self.key(owner));
        invocation
            .arg(expected.map(|v| v.to_string()).unwrap_or_default())
            .arg(expected.unwrap_or(0) + 1)
            .arg(data)
            .arg(Self::ttl_of(owner, cart).as_secs());
        let written: i64 = self.timed(invocation.invoke_async(&mut c)).await?;
        Ok(written == 1)
    }

    /// Creates `cart` unless one exists; returns the cart now stored and whether it is new.
    /// For user carts (a guest cart is stored by its first line, through [`CartStore::update`]).
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
    /// between, else retries on the fresh cart. With `create`, a missing cart starts as that
    /// one; a guest cart started so is stored only if the change gave it a line (else the
    /// changed cart is answered and nothing is written). A tombstone is [`Updated::Missing`],
    /// whatever `create`.
    #[instrument(skip_all)]
    pub async fn update<E: Send>(
        &self,
        owner: Owner,
        create: Option<&Cart>,
        mut change: impl FnMut(&mut Cart) -> Result<(), E> + Send,
    ) -> Result<Updated<E>, CartStoreError> {
        let mut retry = CAS_RETRY.start();
        loop {
            let (mut cart, version) = match (self.read(owner).await?, create) {
                (Slot::Cart(stored), _) => (stored.cart, Some(stored.version)),
                (Slot::Empty, Some(template)) => (template.clone(), None),
                (Slot::Empty, None) | (Slot::Tombstone, _) => return Ok(Updated::Missing),
            };
            if let Err(e) = change(&mut cart) {
                return Ok(Updated::Refused(e));
            }
            cart.updated_at = Timestamp::now();
            if version.is_none() && matches!(owner, Owner::Guest(_)) && cart.items.is_empty() {
                return Ok(Updated::Done(cart));
            }
            if self.put_if(owner, version, &cart).await? {
                return Ok(Updated::Done(cart));
            }
            retry.wait().await?;
        }
    }

    /// Takes what order `order_id` bought out of `user`'s cart ([`Cart::check_out`]) with the
    /// optimistic [`CartStore::update`], so a concurrent edit is never lost. A repeat of the
    /// same order writes nothing. The cart after; `None` when the user has no cart.
    #[instrument(skip_all, fields(order_id = %order_id))]
    pub async fn check_out(
        &self,
        user: Uuid,
        order_id: Uuid,
        bought: &[(Uuid, u32)],
        coupon_code: Option<&str>,
    ) -> Result<Option<Cart>, CartStoreError> {
        /// The order was checked out of this cart already.
        struct Repeat;
        let owner = Owner::User(user);
        let result =
            self.update(owner, None, |cart| if cart.check_out(order_id, bought, coupon_code) { Ok(()) } else { Err(Repeat) }).await?;
        match result {
            Updated::Done(cart) => Ok(Some(cart)),
            Updated::Refused(Repeat) => Ok(self.load(owner).await?.map(|s| s.cart)),
            Updated::Missing => Ok(None),
        }
    }

    /// Deletes a user's cart; false when there was none.
    #[instrument(skip_all)]
    pub async fn delete(&self, owner: Owner) -> Result<bool, CartStoreError> {
        let mut c = self.connection.clone();
        let removed: i64 = self.timed(redis::cmd("DEL").arg(self.key(owner)).query_async(&mut c)).await?;
        Ok(removed > 0)
    }

    /// Deletes a guest cart (stored or not) by leaving a tombstone for [`TOMBSTONE_TTL`]; false
    /// when there was one already.
    #[instrument(skip_all)]
    pub async fn bury(&self, owner: Owner) -> Result<bool, CartStoreError> {
        let mut c = self.connection.clone();
        let mut invocation = self.scripts.bury.key(self.key(owner));
        invocation.arg(TOMBSTONE_TTL.as_secs());
        let buried: i64 = self.timed(invocation.invoke_async(&mut c)).await?;
        Ok(buried == 1)
    }

    /// Counts one attempt on `tries` in a window of `window` that starts with its first attempt.
    /// The count is incremented before anything is decided, so concurrent attempts each see
    /// their own number.
    #[instrument(skip_all)]
    pub async fn count_try(&self, tries: Tries<'_>, window: Duration) -> Result<Counted, CartStoreError> {
        let mut c = self.connection.clone();
        let mut invocation = self.scripts.count.key(self.tries_key(tries));
        invocation.arg(window.as_secs().max(1));
        let (count, retry_after): (i64, i64) = self.timed(invocation.invoke_async(&mut c)).await?;
        Ok(Counted { count: count.unsigned_abs(), retry_after: retry_after.max(1).unsigned_abs() })
    }

    /// Takes back an attempt counted by [`CartStore::count_try`] that turned out not to count
    /// (it succeeded, or failed for another reason).
    #[instrument(skip_all)]
    pub async fn uncount_try(&self, tries: Tries<'_>) -> Result<(), CartStoreError> {
        let mut c = self.connection.clone();
        let _: i64 = self.timed(self.scripts.uncount.key(self.tries_key(tries)).invoke_async(&mut c)).await?;
        Ok(())
    }

    /// Seconds the cart (or tombstone) has left; -2 when there is no key (tests check the TTLs).
    #[instrument(skip_all)]
    pub async fn ttl(&self, owner: Owner) -> Result<i64, CartStoreError> {
        let mut c = self.connection.clone();
        self.timed(redis::cmd("TTL").arg(self.key(owner)).query_async(&mut c)).await
    }
}
