//! Operator tasks that are not HTTP routes: the local admin and demo seller accounts.

use shop_core::auth::Role;
use shop_core::time::Timestamp;
use uuid::Uuid;

use crate::AppState;
use crate::domain::{Email, Session, User};
use crate::store::{Outcome, StoreError, UserChanges};

/// Makes sure `email` exists as an active ADMIN with `password`. Creates the user or resets
/// its password and role. Used by the local runner at start-up.
pub async fn ensure_admin(state: &AppState, email: &str, password: &str) -> Result<Uuid, AdminError> {
    ensure_account(state, email, password, Role::Admin, ("Local", "Admin")).await
}

/// Makes sure `email` exists as an active user with `role` and `password`; returns its id.
pub async fn ensure_account(state: &AppState, email: &str, password: &str, role: Role, name: (&str, &str)) -> Result<Uuid, AdminError> {
    let email = Email::parse(email).map_err(AdminError::InvalidEmail)?;
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
    let user = User::new(email, name.0, name.1, role, hash, now);
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
    #[error("the account's email {0}")]
    InvalidEmail(&'static str),
}
