//! Message contracts on `NotificationsQueue`: the events a function publishes and the
//! notifications function turns into email. Fields are camelCase on the wire.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::events::Event;

/// A user registered: send the welcome email.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserRegistered {
    pub user_id: Uuid,
    pub email: String,
    pub first_name: String,
}
impl Event for UserRegistered {
    const KIND: &'static str = "UserRegistered";
}

/// A password reset was requested: send the link with the one-time token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PasswordResetRequested {
    pub user_id: Uuid,
    pub email: String,
    pub first_name: String,
    /// The raw one-time token (only its hash is stored). The queue is encrypted at rest.
    pub token: String,
    /// Minutes until the token expires.
    pub expires_in_minutes: u32,
}
impl Event for PasswordResetRequested {
    const KIND: &'static str = "PasswordResetRequested";
}

/// A password was changed (reset or while logged in): tell the owner.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PasswordChanged {
    pub user_id: Uuid,
    pub email: String,
    pub first_name: String,
}
impl Event for PasswordChanged {
    const KIND: &'static str = "PasswordChanged";
}
