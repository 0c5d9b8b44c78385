use serde_json::json;
use shop_testkit::Req;

use crate::{admin, seller};

/// An S3 client on the stand-in, to look at what the function wrote.
async fn s3() -> aws_sdk_s3::Client {
    sam_model::local::s3_client(shop_testkit::sdk().await)
}

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
    let stored = s3().await.get_object().bucket(&state.images.bucket).key(&key).send().await.unwrap();
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
    assert!(s3().await.head_object().bucket(&state.images.bucket).key(&key).send().await.is_err(), "the file is gone");
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
        .expect_problem(404, "not_found");
    let unchanged = app.send(Req::get(&format!("/api/products/{}", product["id"].as_str().unwrap()))).await.expect(200);
    assert!(unchanged["images"].as_array().unwrap().is_empty(), "no image was added by a refused request");
}

/// A seller who copies another seller's uploaded image URL onto their own product and then
/// removes it there must not delete the other seller's file: only a key issued by `upload-url`
/// for this very product is ever deleted.
#[tokio::test]
async fn removing_a_copied_image_url_never_deletes_another_sellers_file() {
    let state = crate::state().await;
    let app = crate::App { router: catalog::router(state.clone()) };
    let cat = app.category(&admin(), "Phones", None).await;
    let c = cat["id"].as_str().unwrap();
    let (victim, attacker) = (seller(), seller());
    let theirs = app.product(&victim, c, "IMG-V", json!({})).await.expect(201);
    let theirs_id = theirs["id"].as_str().unwrap();
    let grant = app
        .send_as(
            &victim,
            Req::post(&format!("/api/products/{theirs_id}/images/upload-url"))
                .json(json!({"contentType": "image/png", "contentLength": 4})),
        )
        .await
        .expect(201);
    let put = reqwest::Client::new()
        .put(grant["uploadUrl"].as_str().unwrap())
        .header("content-type", "image/png")
        .body(b"\x89PNG".to_vec())
        .send()
        .await
        .unwrap();
    assert!(put.status().is_success());
    let key = format!("products/{theirs_id}/{}.png", grant["imageId"].as_str().unwrap());

    let mine = app.product(&attacker, c, "IMG-A", json!({})).await.expect(201);
    let mine_id = mine["id"].as_str().unwrap();
    let copied =
        app.send_as(&attacker, Req::put(&format!("/api/products/{mine_id}")).json(json!({"images": [grant["url"]]}))).await.expect(200);
    let copied_id = copied["images"][0]["id"].as_str().unwrap();
    app.send_as(&attacker, Req::delete(&format!("/api/products/{mine_id}/images/{copied_id}"))).await.expect(204);
    assert!(s3().await.head_object().bucket(&state.images.bucket).key(&key).send().await.is_ok(), "the other seller's file must survive");
    let still = app.send(Req::get(&format!("/api/products/{theirs_id}"))).await.expect(200);
    assert_eq!(still["images"][0]["url"], grant["url"]);

    // The owner re-saving the product's image list keeps the upload's file deletable.
    app.send_as(&victim, Req::put(&format!("/api/products/{theirs_id}")).json(json!({"images": [grant["url"]]}))).await.expect(200);
    let image_id = grant["imageId"].as_str().unwrap();
    app.send_as(&victim, Req::delete(&format!("/api/products/{theirs_id}/images/{image_id}"))).await.expect(204);
    assert!(s3().await.head_object().bucket(&state.images.bucket).key(&key).send().await.is_err(), "the owner's own upload is removed");
}

/// Image URLs given in a product body are https links of bounded length; script and data URLs
/// are refused naming the entry.
#[tokio::test]
async fn external_image_urls_must_be_https_links() {
    let app = crate::app().await;
    let cat = app.category(&admin(), "Phones", None).await;
    let c = cat["id"].as_str().unwrap();
    let owner = seller();
    let long = format!("https://cdn.example.com/{}", "a".repeat(2100));
    for (i, bad) in
        ["javascript:alert(1)", "data:image/png;base64,AAAA", "http://cdn.example.com/x.png", "ftp://x/y.png", long.as_str(), "https://"]
            .into_iter()
            .enumerate()
    {
        let created = app.product(&owner, c, &format!("BADURL-{i}"), json!({"images": [bad]})).await;
        assert_eq!(created.expect_problem(422, "validation_failed")["errors"][0]["field"], "images[0]", "{bad}");
    }
    let ok = app.product(&owner, c, "GOODURL-1", json!({"images": ["https://cdn.example.com/a.png"]})).await.expect(201);
    let id = ok["id"].as_str().unwrap();
    let bad = app
        .send_as(&owner, Req::put(&format!("/api/products/{id}")).json(json!({"images": ["https://ok.example.com/b.png", "javascript:x"]})))
        .await;
    assert_eq!(bad.expect_problem(422, "validation_failed")["errors"][0]["field"], "images[1]");
}

/// The key `upload-url` issued is stored with the product (so removal can trust it) but is no
/// part of any answer, and edits that do not name the images keep it.
#[tokio::test]
async fn an_uploads_key_is_stored_apart_never_shown_and_kept_by_other_edits() {
    let state = crate::state().await;
    let app = crate::App { router: catalog::router(state.clone()) };
    let cat = app.category(&admin(), "Phones", None).await;
    let owner = seller();
    let product = app.product(&owner, cat["id"].as_str().unwrap(), "IMG-K", json!({})).await.expect(201);
    let id = product["id"].as_str().unwrap();
    let grant = app
        .send_as(
            &owner,
            Req::post(&format!("/api/products/{id}/images/upload-url")).json(json!({"contentType": "image/gif", "contentLength": 6})),
        )
        .await
        .expect(201);
    let put = reqwest::Client::new()
        .put(grant["uploadUrl"].as_str().unwrap())
        .header("content-type", "image/gif")
        .body(b"GIF89a".to_vec())
        .send()
        .await
        .unwrap();
    assert!(put.status().is_success());
    let image_id = grant["imageId"].as_str().unwrap();
    let key = format!("products/{id}/{image_id}.gif");

    let shown_image = |product: &serde_json::Value| {
        let mut fields: Vec<String> = product["images"][0].as_object().unwrap().keys().cloned().collect();
        fields.sort();
        fields
    };
    for path in [format!("/api/products/{id}"), format!("/api/seller/products/{id}")] {
        assert_eq!(shown_image(&app.send_as(&owner, Req::get(&path)).await.expect(200)), ["id", "url"], "{path}");
    }
    let item = state.store.uncached().product(id.parse().unwrap()).await.unwrap().unwrap();
    assert_eq!(item.images[0].key.as_deref(), Some(key.as_str()), "the store reads the key back onto the image");

    // An edit that does not name the images keeps the key.
    let edited = app.send_as(&owner, Req::put(&format!("/api/products/{id}")).json(json!({"name": "Renamed"}))).await.expect(200);
    assert_eq!(shown_image(&edited), ["id", "url"]);
    app.send_as(&owner, Req::delete(&format!("/api/products/{id}/images/{image_id}"))).await.expect(204);
    assert!(s3().await.head_object().bucket(&state.images.bucket).key(&key).send().await.is_err(), "the upload is removed");
    let after = state.store.uncached().product(id.parse().unwrap()).await.unwrap().unwrap();
    assert!(after.images.is_empty());
}
