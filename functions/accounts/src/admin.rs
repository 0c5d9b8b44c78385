//! Operator tasks that are not HTTP routes: the local admin and demo seller accounts.

use shop_core::auth::Role;
use shop_core::time::Timestamp;
use uuid::Uuid;

use crate::AppState;
use crate::domain::{Session, User, normalize_email};
use crate::store::{Outcome, StoreError, UserChanges};

/// Makes sure `email` exists as an active ADMIN with `password`. Creates the user or resets
/// its password and role. Used by the local runner at start-up.
pub async fn ensure_admin(state: &AppState, email: &str, password: &str) -> Result<Uuid, AdminError> {
    ensure_account(state, email, password, Role::Admin, ("Local", "Admin")).await
}

/// Makes sure `email` exists as an active user with `role` and `password`; returns its id.
pub async fn ensure_account(state: &AppState, email: &str, password: &str, role: Role, name: (&str, &str)) -> Result<Uuid, AdminError> {
    let email = normalize_email(email);
    let hash = crate::password::hash(password.to_owned()).await?;
    let now = Timestamp::now();
    if let Some(user) = state.store.user_by_email(&email).await? {
        if state.store.set_password(&user, &hash, None, now).await? == Outcome::ConditionFailed {
            return Err(AdminError::Race);
        }
        let changes = UserChanges { role: Some(role), is_active: Some(true), ..UserChanges::default() };
        state.store.update_user(user.id, &changes, now).await?;
        return Ok(user.id);
    }
    let user = User {
        id: shop_core::id::new_id(),
        email,
        first_name: name.0.into(),
        last_name: name.1.into(),
        role,
        is_active: true,
        password_hash: hash,
        created_at: now,
        updated_at: now,
        default_address_id: None,
        address_count: 0,
        reset_token_hash: None,
        session_epoch: 0,
    };
    // The admin's first session is created and dropped at once: create_user writes one.
    let opened = Session::open(&user, None, None, now);
    if state.store.create_user(&user, &opened.session, &opened.hash, &opened.record).await? == Outcome::ConditionFailed {
        return Err(AdminError::Race);
    }
    let Session { id, user_id, .. } = opened.session;
    state.store.delete_session(user_id, id).await?;
    Ok(user_id)
}

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Hash(#[from] crate::password::HashError),
    #[error("the admin account was created concurrently; run again")]
    Race,
}
