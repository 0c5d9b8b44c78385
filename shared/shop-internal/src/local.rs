//! The in-process transport: routers registered under a function name.

use std::collections::HashMap;
use std::sync::{LazyLock, RwLock};

use axum::Router;

static LOCAL: LazyLock<RwLock<HashMap<String, Router>>> = LazyLock::new(|| RwLock::new(HashMap::new()));

/// Registers `router` as function `function`: clients for that name call it in-process instead
/// of invoking Lambda. The local runner registers every function it builds (under the name
/// `!Ref` resolves to); tests register the functions they need under unique names.
pub fn register_local(function: &str, router: Router) {
    let mut map = LOCAL.write().unwrap_or_else(std::sync::PoisonError::into_inner);
    map.insert(function.to_owned(), router);
}

/// Removes a registration (a stopped local cloud).
pub fn unregister_local(function: &str) {
    let mut map = LOCAL.write().unwrap_or_else(std::sync::PoisonError::into_inner);
    map.remove(function);
}

pub(crate) fn lookup(function: &str) -> Option<Router> {
    LOCAL.read().unwrap_or_else(std::sync::PoisonError::into_inner).get(function).cloned()
}
