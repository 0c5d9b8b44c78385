//! Every DynamoDB call of the accounts function. One table, these items:
//!
//! | pk | sk | item |
//! |---|---|---|
//! | `USER#<id>` | `PROFILE` | [`User`] (+ `gsi1pk = USERS`, `gsi1sk = <createdAt>#<id>` for the admin list; `gsi2pk = ADMINS`, `gsi2sk = <id>` while the role is ADMIN, written in the same put/update as the role) |
//! | `EMAIL#<normalised email>` | `EMAIL` | uniqueness guard → `userId` |
//! | `USER#<id>` | `SESSION#<sid>` | [`Session`] (TTL `expiresAt`) |
//! | `USER#<id>` | `ADDRESS#<id>` | [`Address`] |
//! | `REFRESH#<sha256>` | `REFRESH` | [`RefreshRecord`] (TTL) |
//! | `RESET#<sha256>` | `RESET` | [`ResetRecord`] (TTL) |
//! | `THROTTLE#<kind>#<key>#<window>` | `THROTTLE` | failed-login counter (TTL) |

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, Delete, Put, TransactWriteItem, Update};
use serde::Serialize;
use serde::de::DeserializeOwned;
pub use shop_aws::dynamo::StoreError;
use shop_aws::dynamo::{self, ConditionFailed, Item, Transaction, TxOutcome, attr, key, n, query_all, s, write_outcome};
use shop_core::auth::Role;
use shop_core::time::Timestamp;
use uuid::Uuid;

use crate::domain::{Address, Email, MAX_ADDRESSES, MAX_SESSIONS, OpenedSession, RefreshRecord, ResetRecord, Session, User};

/// Stale sessions (of an older epoch) deleted per login at most: they are dead already (every
/// check compares epochs) and TTL removes the rest, so this only keeps the listing short.
const STALE_SESSIONS_SWEPT: usize = 25;

/// How a refresh-token rotation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rotation {
    Rotated,
    /// The presented token was not the session's current one any more (a second use).
    Reused,
    /// The user's epoch moved on (password, role, deactivation, logout-all) or the account is
    /// inactive: the session is over.
    Ended,
}

/// Which condition of a session write failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SessionPart {
    /// The user item is no longer as read (password, epoch or active flag changed).
    User,
    /// The session's current refresh-token hash changed.
    Token,
}

/// `#e` / `:e` condition: the user's session epoch is still `epoch` (absent reads as 0).
fn epoch_condition(epoch: u64) -> &'static str {
    if epoch == 0 { "(attribute_not_exists(#e) OR #e = :e)" } else { "#e = :e" }
}

fn ts(value: Timestamp) -> AttributeValue {
    s(value.rfc3339())
}

pub fn user_pk(id: Uuid) -> String {
    format!("USER#{id}")
}
fn email_pk(email: &Email) -> String {
    format!("EMAIL#{email}")
}
fn refresh_pk(hash: &str) -> String {
    format!("REFRESH#{hash}")
}
fn reset_pk(hash: &str) -> String {
    format!("RESET#{hash}")
}
fn session_sk(id: Uuid) -> String {
    format!("SESSION#{id}")
}
fn address_sk(id: Uuid) -> String {
    format!("ADDRESS#{id}")
}

fn item<T: Serialize>(pk: impl Into<String>, sk: impl Into<String>, value: &T) -> Result<Item, StoreError> {
    let mut item: Item = serde_dynamo::to_item(value)?;
    item.extend(key(pk, sk));
    Ok(item)
}

fn user_item(user: &User) -> Result<Item, StoreError> {
    let mut it = item(user_pk(user.id), "PROFILE", user)?;
    it.insert("gsi1pk".into(), s("USERS"));
    let created = user.created_at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default();
    it.insert("gsi1sk".into(), s(format!("{created}#{}", user.id)));
    if user.role == Role::Admin {
        it.insert("gsi2pk".into(), s(ADMINS));
        it.insert("gsi2sk".into(), s(user.id.to_string()));
    }
    Ok(it)
}

/// `gsi2pk` of every ADMIN user (a sparse index: other users carry no `gsi2pk`).
const ADMINS: &str = "ADMINS";

pub use shop_aws::dynamo::Outcome;

/// DynamoDB access for accounts.
#[derive(Debug, Clone)]
pub struct Store {
    client: Client,
    table: String,
}

impl Store {
    /// Readiness: the table answers (`shop_core::health`).
    pub fn probe(&self) -> shop_core::health::Probe {
        shop_aws::health::dynamodb_table(&self.client, &self.table)
    }

    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }

    async fn get<T: DeserializeOwned>(&self, pk: String, sk: &str) -> Result<Option<T>, StoreError> {
        dynamo::get(&self.client, &self.table, key(pk, sk)).await
    }

    async fn query_prefix<T: DeserializeOwned>(&self, pk: String, prefix: &str) -> Result<Vec<T>, StoreError> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
            .expression_attribute_values(":pk", s(pk))
            .expression_attribute_values(":prefix", s(prefix))
            .consistent_read(true);
        query_all(query).await
    }

    // ---- users ------------------------------------------------------------------------------

    #[tracing::instrument(skip_all)]
    pub async fn user(&self, id: Uuid) -> Result<Option<User>, StoreError> {
        self.get(user_pk(id), "PROFILE").await
    }

    #[tracing::instrument(skip_all)]
    pub async fn user_by_email(&self, email: &Email) -> Result<Option<User>, StoreError> {
        match dynamo::get_item(&self.client, &self.table, key(email_pk(email), "EMAIL")).await? {
            Some(guard) => match attr::<Uuid>(&guard, "userId")? {
                Some(id) => self.user(id).await,
                None => Err(StoreError::unexpected("an email guard names no user")),
            },
            None => Ok(None),
        }
    }

    /// Creates the user, its email guard, and its first session in one transaction.
    /// `ConditionFailed`: the email is taken.
    #[tracing::instrument(skip_all)]
    pub async fn create_user(
        &self,
        user: &User,
        session: &Session,
        refresh_hash: &str,
        refresh: &RefreshRecord,
    ) -> Result<Outcome, StoreError> {
        let mut guard = key(email_pk(&user.email), "EMAIL");
        guard.insert("userId".into(), s(user.id.to_string()));
        let mut tx = Transaction::new();
        tx.put(&self.table, guard, Some("attribute_not_exists(pk)"), Some(()))?;
        tx.put(&self.table, user_item(user)?, Some("attribute_not_exists(pk)"), None)?;
        tx.put(&self.table, item(user_pk(user.id), session_sk(session.id), session)?, None, None)?;
        tx.put(&self.table, item(refresh_pk(refresh_hash), "REFRESH", refresh)?, Some("attribute_not_exists(pk)"), None)?;
        Ok(tx.commit(&self.client).await?.outcome())
    }

    /// Sets the given profile fields; returns the updated user, `None` when it does not exist.
    /// Only the named attributes are written, so concurrent address or password writes survive.
    #[tracing::instrument(skip_all)]
    pub async fn update_user(&self, id: Uuid, changes: &UserChanges, now: Timestamp) -> Result<Option<User>, StoreError> {
        let mut sets = vec!["updatedAt = :now".to_owned()];
        let mut request = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(user_pk(id), "PROFILE")))
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":now", ts(now))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllNew);
        if let Some(first) = &changes.first_name {
            sets.push("firstName = :first".into());
            request = request.expression_attribute_values(":first", s(first.clone()));
        }
        if let Some(last) = &changes.last_name {
            sets.push("lastName = :last".into());
            request = request.expression_attribute_values(":last", s(last.clone()));
        }
        let mut removes = Vec::new();
        if let Some(role) = changes.role {
            sets.push("#role = :role".into());
            request = request.expression_attribute_names("#role", "role").expression_attribute_values(":role", s(role.as_str()));
            // The admin index follows the role in this very write.
            if role == Role::Admin {
                sets.push("gsi2pk = :admins, gsi2sk = :uid".into());
                request = request.expression_attribute_values(":admins", s(ADMINS)).expression_attribute_values(":uid", s(id.to_string()));
            } else {
                removes.push("gsi2pk, gsi2sk");
            }
        }
        if let Some(active) = changes.is_active {
            sets.push("isActive = :active".into());
            request = request.expression_attribute_values(":active", AttributeValue::Bool(active));
        }
        let mut expression = format!("SET {}", sets.join(", "));
        if !removes.is_empty() {
            expression.push_str(&format!(" REMOVE {}", removes.join(", ")));
        }
        // A role change or (de)activation ends every session in this same write: a demoted
        // admin's sessions cannot outlive the demotion.
        if changes.role.is_some() || changes.is_active.is_some() {
            expression.push_str(" ADD sessionEpoch :one");
            request = request.expression_attribute_values(":one", n(1));
        }
        match request.update_expression(expression).send().await {
            Ok(out) => out.attributes.map(dynamo::from_item).transpose(),
            Err(err) if err.is_condition_failed() => Ok(None),
            Err(err) => Err(err.into()),
        }
    }

    /// Every user, newest first (admin list). Reads the `gsi1` index page by page.
    #[tracing::instrument(skip_all)]
    pub async fn all_users(&self) -> Result<Vec<User>, StoreError> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name("gsi1")
            .key_condition_expression("gsi1pk = :users")
            .expression_attribute_values(":users", s("USERS"))
            .scan_index_forward(false);
        query_all(query).await
    }

    /// Every ADMIN, active or not (the caller filters). Reads the sparse `gsi2` index, which
    /// holds admins only, never the whole user list.
    #[tracing::instrument(skip_all)]
    pub async fn admins(&self) -> Result<Vec<User>, StoreError> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name("gsi2")
            .key_condition_expression("gsi2pk = :admins")
            .expression_attribute_values(":admins", s(ADMINS));
        query_all(query).await
    }

    // ---- sessions and refresh tokens ---------------------------------------------------------

    /// Stores a new session with its first refresh token (login), only if `user` is still as
    /// it was read when the password was checked: same password hash, same session epoch, still
    /// active. `ConditionFailed`: the password (or epoch) changed meanwhile — a login that raced
    /// a reset gets no session. Then trims the user's sessions to [`MAX_SESSIONS`].
    #[tracing::instrument(skip_all)]
    pub async fn create_session(&self, user: &User, opened: &OpenedSession) -> Result<Outcome, StoreError> {
        let check = ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(key(user_pk(user.id), "PROFILE")))
            .condition_expression(format!("isActive = :true AND passwordHash = :h AND {}", epoch_condition(user.session_epoch)))
            .expression_attribute_names("#e", "sessionEpoch")
            .expression_attribute_values(":true", AttributeValue::Bool(true))
            .expression_attribute_values(":h", s(&user.password_hash))
            .expression_attribute_values(":e", n(user.session_epoch))
            .build()?;
        let mut tx = Transaction::new();
        tx.check(check, Some(()));
        tx.put(&self.table, item(user_pk(user.id), session_sk(opened.session.id), &opened.session)?, None, None)?;
        tx.put(&self.table, item(refresh_pk(&opened.hash), "REFRESH", &opened.record)?, Some("attribute_not_exists(pk)"), None)?;
        let outcome = tx.commit(&self.client).await?.outcome();
        if outcome == Outcome::Done {
            self.trim_sessions(user).await?;
        }
        Ok(outcome)
    }

    /// Keeps at most [`MAX_SESSIONS`] live sessions (the oldest go) and deletes a bounded number
    /// of stale ones (of an older epoch; dead already, see [`User::honours`]).
    async fn trim_sessions(&self, user: &User) -> Result<(), StoreError> {
        let (mut live, stale): (Vec<Session>, Vec<Session>) = self.sessions(user.id).await?.into_iter().partition(|s| user.honours(s));
        live.sort_by_key(|s| std::cmp::Reverse((s.created_at, s.id)));
        let evicted: Vec<Uuid> = live.iter().skip(MAX_SESSIONS).chain(stale.iter().take(STALE_SESSIONS_SWEPT)).map(|s| s.id).collect();
        if !evicted.is_empty() {
            tracing::info!(user_id = %user.id, evicted = evicted.len(), "sessions trimmed");
        }
        let deletes = evicted.into_iter().map(|id| self.delete_session(user.id, id));
        for result in futures::future::join_all(deletes).await {
            result?;
        }
        Ok(())
    }

    #[tracing::instrument(skip_all)]
    pub async fn refresh_record(&self, hash: &str) -> Result<Option<RefreshRecord>, StoreError> {
        self.get(refresh_pk(hash), "REFRESH").await
    }

    #[tracing::instrument(skip_all)]
    pub async fn session(&self, user_id: Uuid, session_id: Uuid) -> Result<Option<Session>, StoreError> {
        self.get(user_pk(user_id), &session_sk(session_id)).await
    }

    #[tracing::instrument(skip_all)]
    pub async fn sessions(&self, user_id: Uuid) -> Result<Vec<Session>, StoreError> {
        self.query_prefix(user_pk(user_id), "SESSION#").await
    }

    /// Rotates a session's refresh token: the session's current hash must still be `old_hash`
    /// (else [`Rotation::Reused`]: the token was already used), the user must still be active in
    /// the session's epoch (else [`Rotation::Ended`]), and the new token is stored.
    #[tracing::instrument(skip_all)]
    pub async fn rotate(&self, session: &Session, old_hash: &str, new_hash: &str, refresh: &RefreshRecord) -> Result<Rotation, StoreError> {
        let put_session = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item(user_pk(session.user_id), session_sk(session.id), session)?))
            .condition_expression("currentHash = :old")
            .expression_attribute_values(":old", s(old_hash))
            .build()?;
        let user = ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(key(user_pk(session.user_id), "PROFILE")))
            .condition_expression(format!("isActive = :true AND {}", epoch_condition(session.epoch)))
            .expression_attribute_names("#e", "sessionEpoch")
            .expression_attribute_values(":true", AttributeValue::Bool(true))
            .expression_attribute_values(":e", n(session.epoch))
            .build()?;
        let mut tx = Transaction::new();
        tx.push(TransactWriteItem::builder().put(put_session).build(), Some(SessionPart::Token));
        tx.check(user, Some(SessionPart::User));
        tx.put(&self.table, item(refresh_pk(new_hash), "REFRESH", refresh)?, Some("attribute_not_exists(pk)"), None)?;
        let outcome = tx.commit(&self.client).await?;
        Ok(if outcome.refused(&SessionPart::User) {
            Rotation::Ended
        } else if outcome.refused(&SessionPart::Token) {
            Rotation::Reused
        } else {
            Rotation::Rotated
        })
    }

    /// Deletes one session (its refresh tokens stop working: they point at nothing).
    #[tracing::instrument(skip_all)]
    pub async fn delete_session(&self, user_id: Uuid, session_id: Uuid) -> Result<Outcome, StoreError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(user_pk(user_id), session_sk(session_id))))
            .condition_expression("attribute_exists(pk)")
            .send()
            .await;
        Ok(write_outcome(result)?)
    }

    /// Ends every session of the user at once (logout-all): bumps the user's session epoch.
    #[tracing::instrument(skip_all)]
    pub async fn end_sessions(&self, user_id: Uuid) -> Result<(), StoreError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(user_pk(user_id), "PROFILE")))
            .update_expression("ADD sessionEpoch :one")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":one", n(1))
            .send()
            .await?;
        Ok(())
    }

    // ---- password reset ------------------------------------------------------------------------

    /// Stores a reset token and makes it the user's only valid one.
    #[tracing::instrument(skip_all)]
    pub async fn create_reset(&self, hash: &str, record: &ResetRecord) -> Result<(), StoreError> {
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(user_pk(record.user_id), "PROFILE")))
            .update_expression("SET resetTokenHash = :h")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":h", s(hash))
            .build()?;
        let mut tx = Transaction::<()>::new();
        tx.put(&self.table, item(reset_pk(hash), "RESET", record)?, Some("attribute_not_exists(pk)"), None)?;
        tx.update(update, None);
        tx.commit(&self.client).await?;
        Ok(())
    }

    #[tracing::instrument(skip_all)]
    pub async fn reset_record(&self, hash: &str) -> Result<Option<ResetRecord>, StoreError> {
        self.get(reset_pk(hash), "RESET").await
    }

    /// Uses a reset token once: deletes it and sets the new password, only if it is still the
    /// user's current token and the user is active.
    #[tracing::instrument(skip_all)]
    pub async fn consume_reset(&self, hash: &str, user_id: Uuid, password_hash: &str, now: Timestamp) -> Result<Outcome, StoreError> {
        let delete = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(key(reset_pk(hash), "RESET")))
            .condition_expression("attribute_exists(pk)")
            .build()?;
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(user_pk(user_id), "PROFILE")))
            .update_expression("SET passwordHash = :p, updatedAt = :now REMOVE resetTokenHash ADD sessionEpoch :one")
            .condition_expression("resetTokenHash = :h AND isActive = :true")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":p", s(password_hash))
            .expression_attribute_values(":now", ts(now))
            .expression_attribute_values(":h", s(hash))
            .expression_attribute_values(":true", AttributeValue::Bool(true))
            .build()?;
        let mut tx = Transaction::new();
        tx.delete(delete, Some(()));
        tx.update(update, Some(()));
        Ok(tx.commit(&self.client).await?.outcome())
    }

    /// Sets a new password hash (change while logged in) and ends every session but `keep` in
    /// the same transaction: the user's epoch moves on and `keep` moves with it. Conditional on
    /// the user's epoch still being the one read; `ConditionFailed`: it moved (a reset, a
    /// logout-all) — the caller's session is over.
    #[tracing::instrument(skip_all)]
    pub async fn set_password(&self, user: &User, password_hash: &str, keep: Option<Uuid>, now: Timestamp) -> Result<Outcome, StoreError> {
        let next = user.session_epoch + 1;
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(user_pk(user.id), "PROFILE")))
            .update_expression("SET passwordHash = :p, updatedAt = :now, #e = :next REMOVE resetTokenHash")
            .condition_expression(format!("attribute_exists(pk) AND {}", epoch_condition(user.session_epoch)))
            .expression_attribute_names("#e", "sessionEpoch")
            .expression_attribute_values(":p", s(password_hash))
            .expression_attribute_values(":now", ts(now))
            .expression_attribute_values(":e", n(user.session_epoch))
            .expression_attribute_values(":next", n(next))
            .build()?;
        let mut tx = Transaction::new();
        tx.update(update, Some(()));
        if let Some(session) = keep {
            let moved = Update::builder()
                .table_name(&self.table)
                .set_key(Some(key(user_pk(user.id), session_sk(session))))
                .update_expression("SET epoch = :next")
                .condition_expression("attribute_exists(pk)")
                .expression_attribute_values(":next", n(next))
                .build()?;
            tx.update(moved, Some(()));
        }
        Ok(tx.commit(&self.client).await?.outcome())
    }

    // ---- brute-force counters ------------------------------------------------------------------

    /// Counts one attempt (or failure) atomically; returns the new count. Callers count first
    /// and decide after, so concurrent requests each see their own number.
    #[tracing::instrument(skip_all)]
    pub async fn record_failure(&self, key_name: &str, window: i64, expires_at: i64) -> Result<u32, StoreError> {
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(format!("THROTTLE#{key_name}#{window}"), "THROTTLE")))
            .update_expression("ADD failures :one SET expiresAt = :exp")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":exp", n(expires_at))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::UpdatedNew)
            .send()
            .await?;
        let counted = out.attributes.as_ref().map(|item| attr(item, "failures")).transpose()?.flatten();
        counted.ok_or_else(|| StoreError::unexpected("ADD returned no failure count"))
    }

    /// Takes one counted attempt back (a login that succeeded was counted first).
    #[tracing::instrument(skip_all)]
    pub async fn uncount(&self, key_name: &str, window: i64) -> Result<(), StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(format!("THROTTLE#{key_name}#{window}"), "THROTTLE")))
            .update_expression("ADD failures :minus")
            .condition_expression("failures > :zero")
            .expression_attribute_values(":minus", n(-1))
            .expression_attribute_values(":zero", n(0))
            .send()
            .await;
        write_outcome(result)?;
        Ok(())
    }

    #[tracing::instrument(skip_all)]
    pub async fn clear_failures(&self, key_name: &str, window: i64) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(format!("THROTTLE#{key_name}#{window}"), "THROTTLE")))
            .send()
            .await?;
        Ok(())
    }

    // ---- addresses -------------------------------------------------------------------------------

    #[tracing::instrument(skip_all)]
    pub async fn addresses(&self, user_id: Uuid) -> Result<Vec<Address>, StoreError> {
        self.query_prefix(user_pk(user_id), "ADDRESS#").await
    }

    #[tracing::instrument(skip_all)]
    pub async fn address(&self, user_id: Uuid, id: Uuid) -> Result<Option<Address>, StoreError> {
        self.get(user_pk(user_id), &address_sk(id)).await
    }

    /// Adds an address, keeping the count at most [`MAX_ADDRESSES`]; the first address (or one
    /// marked default) becomes the default. `ConditionFailed`: the book is full.
    #[tracing::instrument(skip_all)]
    pub async fn add_address(&self, address: &Address, make_default: bool, now: Timestamp) -> Result<Outcome, StoreError> {
        let default_expr = if make_default { "defaultAddressId = :id" } else { "defaultAddressId = if_not_exists(defaultAddressId, :id)" };
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(user_pk(address.user_id), "PROFILE")))
            .update_expression(format!("SET addressCount = if_not_exists(addressCount, :zero) + :one, updatedAt = :now, {default_expr}"))
            .condition_expression("attribute_exists(pk) AND (attribute_not_exists(addressCount) OR addressCount < :max)")
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":max", n(MAX_ADDRESSES))
            .expression_attribute_values(":now", ts(now))
            .expression_attribute_values(":id", s(address.id.to_string()))
            .build()?;
        let mut tx = Transaction::new();
        tx.put(&self.table, item(user_pk(address.user_id), address_sk(address.id), address)?, Some("attribute_not_exists(pk)"), None)?;
        tx.update(update, Some(()));
        Ok(tx.commit(&self.client).await?.outcome())
    }

    /// Replaces an existing address; optionally makes it the default.
    /// `ConditionFailed`: no such address.
    #[tracing::instrument(skip_all)]
    pub async fn replace_address(&self, address: &Address, make_default: bool) -> Result<Outcome, StoreError> {
        let mut tx = Transaction::new();
        tx.put(&self.table, item(user_pk(address.user_id), address_sk(address.id), address)?, Some("attribute_exists(pk)"), Some(()))?;
        if make_default {
            let update = Update::builder()
                .table_name(&self.table)
                .set_key(Some(key(user_pk(address.user_id), "PROFILE")))
                .update_expression("SET defaultAddressId = :id")
                .condition_expression("attribute_exists(pk)")
                .expression_attribute_values(":id", s(address.id.to_string()))
                .build()?;
            tx.update(update, None);
        }
        Ok(tx.commit(&self.client).await?.outcome())
    }

    /// Deletes an address and decrements the count; clears the default pointer if it points at
    /// this address — decided inside the transaction (the user item's condition names the
    /// pointer it saw), so a concurrent "make this the default" and this delete can never leave
    /// the pointer dangling: the loser re-reads and retries. `ConditionFailed`: no such address.
    #[tracing::instrument(skip_all)]
    pub async fn delete_address(&self, user_id: Uuid, id: Uuid) -> Result<Outcome, StoreError> {
        let mut retry = shop_core::retry::RetryPolicy::CONTENDED.start();
        loop {
            let Some(user) = self.user(user_id).await? else { return Ok(Outcome::ConditionFailed) };
            let was_default = user.default_address_id == Some(id);
            let delete = Delete::builder()
                .table_name(&self.table)
                .set_key(Some(key(user_pk(user_id), address_sk(id))))
                .condition_expression("attribute_exists(pk)")
                .build()?;
            let update = Update::builder()
                .table_name(&self.table)
                .set_key(Some(key(user_pk(user_id), "PROFILE")))
                .expression_attribute_values(":one", n(1))
                .expression_attribute_values(":id", s(id.to_string()));
            let update = if was_default {
                update
                    .update_expression("SET addressCount = addressCount - :one REMOVE defaultAddressId")
                    .condition_expression("defaultAddressId = :id")
            } else {
                update
                    .update_expression("SET addressCount = addressCount - :one")
                    .condition_expression("attribute_exists(pk) AND (attribute_not_exists(defaultAddressId) OR defaultAddressId <> :id)")
            };
            let mut tx = Transaction::new();
            tx.delete(delete, Some(AddressPart::Address));
            tx.update(update.build()?, Some(AddressPart::Pointer));
            match tx.commit(&self.client).await? {
                TxOutcome::Committed => return Ok(Outcome::Done),
                r if r.refused(&AddressPart::Address) => return Ok(Outcome::ConditionFailed),
                // The default pointer moved between our read and our write: look again.
                _ => retry.wait().await?,
            }
        }
    }
}

/// The items of an address deletion whose conditions may fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AddressPart {
    Address,
    Pointer,
}

/// Profile fields to change; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct UserChanges {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub role: Option<Role>,
    pub is_active: Option<bool>,
}
