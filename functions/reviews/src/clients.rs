//! The functions reviews asks, through their internal routes (never their storage): the catalog
//! (does the product sell; where ratings go), orders (verified purchases), accounts (names).

use serde::{Deserialize, Serialize};
use shop_core::time::Timestamp;
use shop_internal::{CallError, InternalClient};
use uuid::Uuid;

/// What reviews needs of a catalog product (`GET /internal/products/{id}`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CatalogProduct {
    pub id: Uuid,
    pub is_active: bool,
    #[serde(default)]
    pub deleted_at: Option<Timestamp>,
}

impl CatalogProduct {
    /// Active and not deleted: a product that can be reviewed.
    pub fn is_reviewable(&self) -> bool {
        self.is_active && self.deleted_at.is_none()
    }
}

/// `PUT /internal/products/{id}/rating`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RatingUpdate {
    pub average: f64,
    pub count: u64,
    /// The summary's version: the catalog keeps the newest it has seen.
    pub version: u64,
}

fn not_found_is_none<T>(result: Result<T, CallError>) -> Result<Option<T>, CallError> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(err) if err.status() == Some(http::StatusCode::NOT_FOUND) => Ok(None),
        Err(err) => Err(err),
    }
}

/// A client of the catalog function.
#[derive(Clone)]
pub struct Catalog(InternalClient);

impl std::fmt::Debug for Catalog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Catalog").finish_non_exhaustive()
    }
}

impl Catalog {
    pub fn new(client: InternalClient) -> Self {
        Self(client)
    }

    /// The product, in any state; `None` if it never existed.
    #[tracing::instrument(skip_all, fields(product_id = %id))]
    pub async fn product(&self, id: Uuid) -> Result<Option<CatalogProduct>, CallError> {
        not_found_is_none(self.0.get::<CatalogProduct>(&format!("/internal/products/{id}")).await)
    }

    /// Tells the catalog a product's rating (idempotent; an older version is ignored there).
    #[tracing::instrument(skip_all, fields(product_id = %id))]
    pub async fn set_rating(&self, id: Uuid, rating: &RatingUpdate) -> Result<(), CallError> {
        self.0.put::<_, ()>(&format!("/internal/products/{id}/rating"), rating).await
    }
}

#[derive(Debug, Deserialize)]
struct Purchased {
    purchased: bool,
}

/// A client of the orders function.
#[derive(Clone)]
pub struct Orders(InternalClient);

impl std::fmt::Debug for Orders {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Orders").finish_non_exhaustive()
    }
}

impl Orders {
    pub fn new(client: InternalClient) -> Self {
        Self(client)
    }

    /// Whether a DELIVERED order of `user` contains `product`.
    #[tracing::instrument(skip_all)]
    pub async fn has_purchased(&self, user: Uuid, product: Uuid) -> Result<bool, CallError> {
        let path = format!("/internal/orders/has-purchased?userId={user}&productId={product}");
        Ok(self.0.get::<Purchased>(&path).await?.purchased)
    }
}

/// A user's name (`GET /internal/users/{id}/name`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserName {
    pub first_name: String,
    pub last_name: String,
}

/// A client of the accounts function.
#[derive(Clone)]
pub struct Accounts(InternalClient);

impl std::fmt::Debug for Accounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Accounts").finish_non_exhaustive()
    }
}

impl Accounts {
    pub fn new(client: InternalClient) -> Self {
        Self(client)
    }

    /// The user's name; `None` for an unknown or deactivated user.
    #[tracing::instrument(skip_all)]
    pub async fn name(&self, user: Uuid) -> Result<Option<UserName>, CallError> {
        not_found_is_none(self.0.get::<UserName>(&format!("/internal/users/{user}/name")).await)
    }
}
