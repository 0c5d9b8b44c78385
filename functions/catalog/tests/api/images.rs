use serde_json::json;
use shop_testkit::Req;

use crate::{admin, seller};

#[tokio::test]
async fn a_seller_uploads_an_image_through_a_presigned_url_and_removes_it() {
    let state = crate::state().await;
    let app = crate::App { router: catalog::router(state.clone()) };
    let cat = app.category(&admin(), "Phones", None).await;
    let owner = seller();
    let product = app.product(&owner, cat["id"].as_str().unwrap(), "IMG-1", json!({})).await.expect(201);
    let id = product["id"].as_str().unwrap();
    let bytes = b"RIFF\x24\x00\x00\x00WEBPVP8 fake image bytes".to_vec();

    let grant = app
        .send_as(
            &owner,
            Req::post(&format!("/api/products/{id}/images/upload-url"))
                .json(json!({"contentType": "image/webp", "contentLength": bytes.len()})),
        )
        .await
        .expect(201);
    assert_eq!(grant["method"], "PUT");
    // The upload goes straight to S3 (moto), with the signed headers.
    let put = reqwest::Client::new()
        .put(grant["uploadUrl"].as_str().unwrap())
        .header("content-type", "image/webp")
        .body(bytes.clone())
        .send()
        .await
        .unwrap();
    assert!(put.status().is_success(), "upload refused: {} {}", put.status(), put.text().await.unwrap_or_default());
    let key = format!("products/{id}/{}.webp", grant["imageId"].as_str().unwrap());
    let stored = state.images.s3.get_object().bucket(&state.images.bucket).key(&key).send().await.unwrap();
    assert_eq!(stored.content_type(), Some("image/webp"));
    assert_eq!(stored.body.collect().await.unwrap().into_bytes().to_vec(), bytes);

    // The product lists the image with its public URL.
    let shown = app.send(Req::get(&format!("/api/products/{id}"))).await.expect(200);
    assert_eq!(shown["images"][0]["id"], grant["imageId"]);
    assert_eq!(shown["images"][0]["url"], grant["url"]);
    assert!(grant["url"].as_str().unwrap().ends_with(&key));

    // Removing it drops it from the product and deletes the file.
    let image_id = grant["imageId"].as_str().unwrap();
    app.send_as(&owner, Req::delete(&format!("/api/products/{id}/images/{image_id}"))).await.expect(204);
    assert!(app.send(Req::get(&format!("/api/products/{id}"))).await.expect(200)["images"].as_array().unwrap().is_empty());
    assert!(state.images.s3.head_object().bucket(&state.images.bucket).key(&key).send().await.is_err(), "the file is gone");
    app.send_as(&owner, Req::delete(&format!("/api/products/{id}/images/{image_id}"))).await.expect_problem(404, "not_found");
}

#[tokio::test]
async fn wrong_types_and_oversized_images_are_refused_before_any_url_is_issued() {
    let app = crate::app().await;
    let cat = app.category(&admin(), "Phones", None).await;
    let owner = seller();
    let product = app.product(&owner, cat["id"].as_str().unwrap(), "IMG-2", json!({})).await.expect(201);
    let path = format!("/api/products/{}/images/upload-url", product["id"].as_str().unwrap());
    let svg = app.send_as(&owner, Req::post(&path).json(json!({"contentType": "image/svg+xml", "contentLength": 100}))).await;
    assert_eq!(svg.expect_problem(422, "validation_failed")["errors"][0]["field"], "contentType");
    let big = app.send_as(&owner, Req::post(&path).json(json!({"contentType": "image/png", "contentLength": 5 * 1024 * 1024 + 1}))).await;
    assert_eq!(big.expect_problem(422, "validation_failed")["errors"][0]["field"], "contentLength");
    app.send_as(&seller(), Req::post(&path).json(json!({"contentType": "image/png", "contentLength": 10})))
        .await
        .expect_problem(403, "forbidden");
    let unchanged = app.send(Req::get(&format!("/api/products/{}", product["id"].as_str().unwrap()))).await.expect(200);
    assert!(unchanged["images"].as_array().unwrap().is_empty(), "no image was added by a refused request");
}
