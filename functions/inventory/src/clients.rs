//! The catalog, asked through its internal routes (never its table).

use serde::{Deserialize, Serialize};
use shop_core::time::Timestamp;
use shop_internal::{CallError, InternalClient};
use uuid::Uuid;

/// What inventory needs of a catalog product (`GET /internal/products/{id}`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CatalogProduct {
    pub id: Uuid,
    pub seller_id: Uuid,
    pub name: String,
    pub sku: String,
    #[serde(default)]
    pub deleted_at: Option<Timestamp>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct AvailabilityUpdate {
    available: u32,
    low_stock_threshold: u32,
}

/// A client of the catalog function.
#[derive(Clone)]
pub struct Catalog {
    client: InternalClient,
}

impl std::fmt::Debug for Catalog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Catalog").finish_non_exhaustive()
    }
}

impl Catalog {
    pub fn new(client: InternalClient) -> Self {
        Self { client }
    }

    /// The product, in any state; `None` if it never existed.
    #[tracing::instrument(skip_all, fields(product_id = %id))]
    pub async fn product(&self, id: Uuid) -> Result<Option<CatalogProduct>, CallError> {
        match self.client.get::<CatalogProduct>(&format!("/internal/products/{id}")).await {
            Ok(product) => Ok(Some(product)),
            Err(err) if err.status() == Some(http::StatusCode::NOT_FOUND) => Ok(None),
            Err(err) => Err(err),
        }
    }

    /// Tells the catalog what a product's stock looks like now (idempotent).
    #[tracing::instrument(skip_all, fields(product_id = %id))]
    pub async fn set_availability(&self, id: Uuid, available: u32, low_stock_threshold: u32) -> Result<(), CallError> {
        self.client
            .put::<_, ()>(&format!("/internal/products/{id}/availability"), &AvailabilityUpdate { available, low_stock_threshold })
            .await
    }
}
