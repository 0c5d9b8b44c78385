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

/// A product's available stock fell to or below its low-stock threshold. Published by the
/// inventory function once per crossing (a stock change that takes `available` from above the
/// threshold to at or below it); tell the product's seller and the admins.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StockLow {
    pub product_id: Uuid,
    /// The product's seller, when inventory knows it.
    pub seller_id: Option<Uuid>,
    pub product_name: String,
    pub sku: Option<String>,
    pub available: u32,
    pub threshold: u32,
}
impl Event for StockLow {
    const KIND: &'static str = "StockLow";
}
