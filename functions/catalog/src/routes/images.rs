//! Product images: a presigned S3 upload (the bytes never pass through Lambda or API Gateway)
//! and removal. Only JPEG, PNG, WebP and GIF up to 5 MB are accepted — checked before any URL is
//! issued, and enforced by S3 through the signed `Content-Type` and `Content-Length`.
//!
//! An upload's key (`products/{id}/{imageId}.{ext}`) is stored on its image
//! ([`Image::key`]); removing an image deletes a file only through that key, and only under the
//! product's own prefix ([`Image::file_of`]). Image URLs given in a product body are external
//! images without a key, whatever they point at, so removing them never deletes a file — not
//! even one of another product's uploads whose URL was copied.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use http::StatusCode;
use serde::{Deserialize, Serialize};
use shop_core::auth::Claims;
use shop_core::extract::{ValidJson, ValidPath};
use shop_core::problem::responses::{Forbidden, NotFound};
use shop_core::time::Timestamp;
use shop_core::{ApiError, ApiResult, FieldError};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::AppState;
use crate::domain::Image;
use crate::routes::products::{clash, editable};

shop_core::problem_responses! {
    /// An image beyond the limit.
    ImageLimit: 409 => "`image_limit`: 20 images already";
    /// An image that is refused.
    InvalidImage: 422 => "Wrong type or over 5 MB";
}

/// The largest image accepted: 5 MB.
pub const MAX_IMAGE_BYTES: u64 = 5 * 1024 * 1024;
/// How long an upload URL stays valid.
pub const UPLOAD_URL_TTL: Duration = Duration::from_secs(15 * 60);
/// At most this many images per product.
pub const MAX_IMAGES: usize = 20;

const TYPES: &[(&str, &str)] = &[("image/jpeg", "jpg"), ("image/png", "png"), ("image/webp", "webp"), ("image/gif", "gif")];

fn allowed_type(value: &str, _: &()) -> garde::Result {
    if TYPES.iter().any(|(t, _)| *t == value) {
        Ok(())
    } else {
        Err(garde::Error::new("must be image/jpeg, image/png, image/webp or image/gif"))
    }
}

#[derive(Debug, Deserialize, garde::Validate, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UploadUrlRequest {
    /// `image/jpeg`, `image/png`, `image/webp` or `image/gif`.
    #[garde(custom(allowed_type))]
    #[schema(pattern = r"^image/(jpeg|png|webp|gif)$")]
    pub content_type: String,
    /// Size of the file in bytes, at most 5 MB (5,242,880).
    #[garde(range(min = 1, max = MAX_IMAGE_BYTES))]
    #[schema(minimum = 1, maximum = 5_242_880)]
    pub content_length: u64,
}

/// Upload the image with `PUT uploadUrl`, sending exactly these headers.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UploadUrl {
    pub image_id: Uuid,
    pub upload_url: String,
    pub method: String,
    /// Headers the upload must carry (they are part of the signature).
    #[schema(value_type = Object)]
    pub headers: serde_json::Value,
    /// Where the image is served once uploaded (it is already on the product).
    pub url: String,
    pub expires_at: Timestamp,
}

/// Get a presigned upload URL for a new product image (the product's seller or an admin). The
/// image is added to the product at once.
#[utoipa::path(post, path = "/api/products/{id}/images/upload-url", tag = "products", security(("bearer" = ["seller", "admin"])),
    request_body = UploadUrlRequest, params(("id" = Uuid, Path, description = "Product id")),
    responses(
        (status = 201, body = UploadUrl),
        Forbidden,
        NotFound,
        ImageLimit,
        InvalidImage,
    ))]
pub async fn upload_url(
    State(state): State<AppState>,
    claims: Claims,
    ValidPath(id): ValidPath<Uuid>,
    ValidJson(body): ValidJson<UploadUrlRequest>,
) -> ApiResult<(StatusCode, Json<UploadUrl>)> {
    let image_limit = || ApiError::conflict("image_limit", format!("A product holds at most {MAX_IMAGES} images."));
    // Checked before signing (fail fast) and again in the write (concurrent uploads).
    if editable(state.store.product(id).await?, &claims)?.images.len() >= MAX_IMAGES {
        return Err(image_limit());
    }
    let ext = TYPES.iter().find(|(t, _)| *t == body.content_type).map(|(_, e)| *e).unwrap_or("bin");
    let image_id = shop_core::id::new_id();
    let key = format!("{}{image_id}.{ext}", Image::upload_prefix(id));
    let presigned = state
        .images
        .presigned_put(&key, &body.content_type, body.content_length, UPLOAD_URL_TTL)
        .await
        .map_err(|e| ApiError::unavailable(&e))?;
    let url = state.images.url(&key);
    let image = Image { id: image_id, url: url.clone(), key: Some(key) };
    state
        .store
        .edit_product(id, |stored| {
            let mut product = editable(stored, &claims)?;
            if product.images.len() >= MAX_IMAGES {
                return Err(image_limit());
            }
            product.images.push(image.clone());
            Ok::<_, ApiError>(product)
        })
        .await?
        .map_err(clash)?;
    let response = UploadUrl {
        image_id,
        upload_url: presigned,
        method: "PUT".into(),
        headers: serde_json::json!({"content-type": body.content_type, "content-length": body.content_length.to_string()}),
        url,
        expires_at: Timestamp::now() + UPLOAD_URL_TTL,
    };
    Ok((StatusCode::CREATED, Json(response)))
}

/// Remove an image from a product (and its uploaded file).
///
/// The file is deleted when the image was uploaded for this product through `upload-url`; an
/// image given by URL has no file here, whatever the URL points at.
#[utoipa::path(delete, path = "/api/products/{id}/images/{imageId}", tag = "products", security(("bearer" = ["seller", "admin"])),
    params(("id" = Uuid, Path, description = "Product id"), ("imageId" = Uuid, Path, description = "Image id")),
    responses(
        (status = 204, description = "Removed"),
        Forbidden,
        NotFound,
    ))]
pub async fn delete_image(
    State(state): State<AppState>,
    claims: Claims,
    ValidPath((id, image_id)): ValidPath<(Uuid, Uuid)>,
) -> ApiResult<StatusCode> {
    let (old, _) = state
        .store
        .edit_product(id, |stored| {
            let mut product = editable(stored, &claims)?;
            if !product.images.iter().any(|i| i.id == image_id) {
                return Err(ApiError::not_found("Image not found.").with_errors(vec![FieldError::new(
                    "imageId",
                    "unknown",
                    "is not an image of this product",
                )]));
            }
            product.images.retain(|i| i.id != image_id);
            Ok(product)
        })
        .await?
        .map_err(clash)?;
    let image = old.images.into_iter().find(|i| i.id == image_id).ok_or_else(|| ApiError::not_found("Image not found."))?;
    if let Some(key) = image.file_of(id) {
        state.images.delete(key).await;
    }
    Ok(StatusCode::NO_CONTENT)
}
