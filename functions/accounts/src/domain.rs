//! Account types and rules, no I/O.

use garde::Validate;
use serde::{Deserialize, Serialize};
use shop_core::auth::Role;
use shop_core::time::Timestamp;
pub use shop_core::types::Email;
use utoipa::ToSchema;
use uuid::Uuid;

/// At most this many addresses per user.
pub const MAX_ADDRESSES: u32 = 20;
/// At most this many live sessions per user; a new login evicts the oldest beyond it.
pub const MAX_SESSIONS: usize = 10;

/// A stored user (the `PROFILE` item).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub id: Uuid,
    pub email: Email,
    pub first_name: String,
    pub last_name: String,
    pub role: Role,
    pub is_active: bool,
    pub password_hash: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    #[serde(default)]
    pub default_address_id: Option<Uuid>,
    #[serde(default)]
    pub address_count: u32,
    /// Hash of the only reset token that may still be used.
    #[serde(default)]
    pub reset_token_hash: Option<String>,
    /// Sessions are valid only while they carry the user's current epoch. It is bumped in the
    /// same write as a password reset or change, a role change, a deactivation and logout-all,
    /// which ends every older session at once (no deleting them one by one).
    #[serde(default)]
    pub session_epoch: u64,
}

impl User {
    /// A new, active user (a fresh id) with no addresses, reset token or ended sessions.
    pub fn new(email: Email, first_name: &str, last_name: &str, role: Role, password_hash: String, now: Timestamp) -> Self {
        Self {
            id: shop_core::id::new_id(),
            email,
            first_name: first_name.trim().to_owned(),
            last_name: last_name.trim().to_owned(),
            role,
            is_active: true,
            password_hash,
            created_at: now,
            updated_at: now,
            default_address_id: None,
            address_count: 0,
            reset_token_hash: None,
            session_epoch: 0,
        }
    }

    /// Whether `session` belongs to this user's current epoch.
    pub fn honours(&self, session: &Session) -> bool {
        session.user_id == self.id && session.epoch == self.session_epoch
    }
}

/// A user as the API shows it (never the password hash).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserView {
    pub id: Uuid,
    pub email: Email,
    pub first_name: String,
    pub last_name: String,
    pub role: Role,
    pub is_active: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl From<&User> for UserView {
    fn from(u: &User) -> Self {
        Self {
            id: u.id,
            email: u.email.clone(),
            first_name: u.first_name.clone(),
            last_name: u.last_name.clone(),
            role: u.role,
            is_active: u.is_active,
            created_at: u.created_at,
            updated_at: u.updated_at,
        }
    }
}

/// A login session: one refresh-token family.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Session {
    pub id: Uuid,
    pub user_id: Uuid,
    /// Hash of the one refresh token of this family that is still valid.
    pub current_hash: String,
    #[serde(default)]
    pub user_agent: Option<String>,
    #[serde(default)]
    pub ip_address: Option<String>,
    pub created_at: Timestamp,
    pub last_used_at: Timestamp,
    /// Epoch seconds; DynamoDB TTL removes the item after this.
    pub expires_at: i64,
    /// The user's session epoch when the session was opened (see [`User::session_epoch`]).
    #[serde(default)]
    pub epoch: u64,
}

/// A session just opened: the session, its first refresh token (raw, shown once), the token's
/// hash and the record that maps the hash to the session.
#[derive(Debug, Clone)]
pub struct OpenedSession {
    pub session: Session,
    pub token: String,
    pub hash: String,
    pub record: RefreshRecord,
}

impl Session {
    /// A new session of `user` in the user's current epoch, with its first refresh token.
    pub fn open(user: &User, user_agent: Option<String>, ip: Option<String>, now: Timestamp) -> OpenedSession {
        let token = crate::tokens::random_token();
        let hash = crate::tokens::token_hash(&token);
        let expires_at = now.unix_timestamp() + crate::tokens::REFRESH_TTL_SECS;
        let session = Session {
            id: shop_core::id::new_id(),
            user_id: user.id,
            current_hash: hash.clone(),
            user_agent: user_agent.map(|ua| ua.chars().take(256).collect()),
            ip_address: ip,
            created_at: now,
            last_used_at: now,
            expires_at,
            epoch: user.session_epoch,
        };
        let record = RefreshRecord { user_id: user.id, session_id: session.id, expires_at };
        OpenedSession { session, token, hash, record }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionView {
    pub id: Uuid,
    pub user_agent: Option<String>,
    pub ip_address: Option<String>,
    pub created_at: Timestamp,
    pub last_used_at: Timestamp,
    /// True for the session the request's access token belongs to.
    pub current: bool,
}

/// A stored refresh token: points at its session.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RefreshRecord {
    pub user_id: Uuid,
    pub session_id: Uuid,
    pub expires_at: i64,
}

/// A stored password-reset token.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResetRecord {
    pub user_id: Uuid,
    pub expires_at: i64,
}

/// Address fields (seed-spec §3.6), as accepted on create and replace.
#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AddressInput {
    #[garde(length(chars, min = 1, max = 100), custom(not_blank))]
    #[schema(min_length = 1, max_length = 100, pattern = r"[^\t-\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]")]
    pub first_name: String,
    #[garde(length(chars, min = 1, max = 100), custom(not_blank))]
    #[schema(min_length = 1, max_length = 100, pattern = r"[^\t-\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]")]
    pub last_name: String,
    #[garde(length(chars, min = 1, max = 200), custom(not_blank))]
    #[schema(min_length = 1, max_length = 200, pattern = r"[^\t-\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]")]
    pub address1: String,
    #[garde(inner(length(chars, max = 200)))]
    #[schema(max_length = 200)]
    #[serde(default)]
    pub address2: Option<String>,
    #[garde(length(chars, min = 1, max = 100), custom(not_blank))]
    #[schema(min_length = 1, max_length = 100, pattern = r"[^\t-\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]")]
    pub city: String,
    #[garde(length(chars, min = 1, max = 100), custom(not_blank))]
    #[schema(min_length = 1, max_length = 100, pattern = r"[^\t-\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]")]
    pub state: String,
    #[garde(length(chars, min = 1, max = 20), custom(not_blank))]
    #[schema(min_length = 1, max_length = 20, pattern = r"[^\t-\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]")]
    pub postal_code: String,
    /// Country name or ISO 3166 code.
    #[garde(length(chars, min = 2, max = 60), custom(not_blank))]
    #[schema(min_length = 2, max_length = 60, pattern = r"[^\t-\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]")]
    pub country: String,
    #[garde(inner(length(chars, max = 30)))]
    #[schema(max_length = 30)]
    #[serde(default)]
    pub phone: Option<String>,
    /// Make this the default address.
    #[garde(skip)]
    #[serde(default)]
    pub is_default: Option<bool>,
}

pub use shop_core::extract::not_blank;

/// A stored address.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Address {
    pub id: Uuid,
    pub user_id: Uuid,
    pub first_name: String,
    pub last_name: String,
    pub address1: String,
    #[serde(default)]
    pub address2: Option<String>,
    pub city: String,
    pub state: String,
    pub postal_code: String,
    pub country: String,
    #[serde(default)]
    pub phone: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl Address {
    pub fn from_input(id: Uuid, user_id: Uuid, input: AddressInput, created_at: Timestamp, now: Timestamp) -> Self {
        let trim = |s: String| s.trim().to_owned();
        let opt = |s: Option<String>| s.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        Self {
            id,
            user_id,
            first_name: trim(input.first_name),
            last_name: trim(input.last_name),
            address1: trim(input.address1),
            address2: opt(input.address2),
            city: trim(input.city),
            state: trim(input.state),
            postal_code: trim(input.postal_code),
            country: trim(input.country),
            phone: opt(input.phone),
            created_at,
            updated_at: now,
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AddressView {
    pub id: Uuid,
    pub first_name: String,
    pub last_name: String,
    pub address1: String,
    pub address2: Option<String>,
    pub city: String,
    pub state: String,
    pub postal_code: String,
    pub country: String,
    pub phone: Option<String>,
    pub is_default: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl AddressView {
    pub fn new(a: Address, default_id: Option<Uuid>) -> Self {
        Self {
            is_default: default_id == Some(a.id),
            id: a.id,
            first_name: a.first_name,
            last_name: a.last_name,
            address1: a.address1,
            address2: a.address2,
            city: a.city,
            state: a.state,
            postal_code: a.postal_code,
            country: a.country,
            phone: a.phone,
            created_at: a.created_at,
            updated_at: a.updated_at,
        }
    }
}
