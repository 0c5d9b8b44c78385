//! `GET /api/products`: one endpoint and one shape for listing and search, over a real tantivy
//! index fed the way catalog-indexer feeds it.

use serde_json::{Value, json};
use shop_testkit::Req;

use crate::{App, Who, admin, index, seller, state};

struct Shop {
    app: App,
    state: catalog::AppState,
    electronics: Value,
    phones: Value,
    products: Vec<Value>,
}

/// Electronics > {Phones, Laptops}, Beauty; six products of which one inactive and one deleted.
async fn shop() -> Shop {
    let state = state().await;
    let app = App { router: catalog::router(state.clone()) };
    let admin = admin();
    let electronics = app.category(&admin, "Electronics", None).await;
    let e = electronics["id"].as_str().unwrap();
    let phones = app.category(&admin, "Phones", Some(e)).await;
    let laptops = app.category(&admin, "Laptops", Some(e)).await;
    let beauty = app.category(&admin, "Beauty", None).await;
    let s: Who = seller();
    let mut products = Vec::new();
    for (cat, sku, body) in [
        (
            &phones,
            "IP15",
            json!({"name": "iPhone 15", "brand": "Apple", "price": 99_900, "description": "The phone from Apple.", "tags": ["phone", "5g"]}),
        ),
        (
            &phones,
            "GS24",
            json!({"name": "Galaxy S24", "brand": "Samsung", "price": 89_900, "description": "A phone with a big screen.", "tags": ["phone"]}),
        ),
        (
            &laptops,
            "MBP",
            json!({"name": "MacBook Pro", "brand": "Apple", "price": 199_900, "description": "A laptop, not an iPhone.", "isFeatured": true}),
        ),
        (
            &beauty,
            "LIP",
            json!({"name": "Red Lipstick", "brand": "Essence", "price": 999, "description": "Matte lipstick.", "tags": ["makeup"]}),
        ),
        (&phones, "HID", json!({"name": "Hidden Phone", "brand": "Apple", "price": 100, "isActive": false})),
    ] {
        products.push(app.product(&s, cat["id"].as_str().unwrap(), sku, body).await.expect(201));
    }
    let doomed =
        app.product(&s, phones["id"].as_str().unwrap(), "DEL", json!({"name": "Deleted Phone", "brand": "Apple"})).await.expect(201);
    app.send_as(&s, Req::delete(&format!("/api/products/{}", doomed["id"].as_str().unwrap()))).await.expect(204);
    let deleted = serde_json::to_value(state.store.product(doomed["id"].as_str().unwrap().parse().unwrap()).await.unwrap()).unwrap();
    index(&state, &products).await;
    index(&state, &[deleted]).await;
    Shop { app, state, electronics, phones, products }
}

fn names(page: &Value) -> Vec<&str> {
    page["data"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect()
}

#[tokio::test]
async fn a_typo_still_finds_the_product_and_the_name_weighs_more_than_the_description() {
    let shop = shop().await;
    let page = shop.app.send(Req::get("/api/products?q=iphne")).await.expect(200);
    assert_eq!(names(&page)[0], "iPhone 15", "{page}");
    assert!(!names(&page).contains(&"Hidden Phone"), "inactive products are never listed");
    // "iPhone" is in the MacBook's description only: it ranks below the product named so. The
    // index knows the word, so it is not taken for a typo of "phone": the Galaxy, which only
    // "phone" (one edit away) would match, is not listed.
    let exact = shop.app.send(Req::get("/api/products?q=iphone")).await.expect(200);
    assert_eq!(names(&exact), ["iPhone 15", "MacBook Pro"]);
}

#[tokio::test]
async fn listing_and_search_have_one_shape_with_products_as_the_detail_route_shows_them() {
    let shop = shop().await;
    let page = shop.app.send(Req::get("/api/products?limit=2&sort=price_asc")).await.expect(200);
    assert_eq!(page["meta"], json!({"total": 4, "page": 1, "limit": 2, "totalPages": 2}));
    assert_eq!(names(&page), ["Red Lipstick", "Galaxy S24"]);
    let first = &page["data"][0];
    let detail = shop.app.send(Req::get(&format!("/api/products/{}", first["id"].as_str().unwrap()))).await.expect(200);
    assert_eq!(first, &detail, "a listed product is the product as GET /api/products/{{id}} shows it");
    let second = shop.app.send(Req::get("/api/products?limit=2&page=2&sort=price_asc")).await.expect(200);
    assert_eq!(names(&second), ["iPhone 15", "MacBook Pro"]);
    let searched = shop.app.send(Req::get("/api/products?q=phone")).await.expect(200);
    for key in ["data", "meta", "facets"] {
        assert!(searched.get(key).is_some() && page.get(key).is_some(), "{key} in both");
    }
}

#[tokio::test]
async fn a_parent_category_includes_its_descendants_by_id_or_slug() {
    let shop = shop().await;
    let by_slug = shop.app.send(Req::get("/api/products?category=electronics&sort=name_asc")).await.expect(200);
    assert_eq!(names(&by_slug), ["Galaxy S24", "iPhone 15", "MacBook Pro"]);
    let id = shop.electronics["id"].as_str().unwrap();
    let by_id = shop.app.send(Req::get(&format!("/api/products?category={id}&sort=name_asc"))).await.expect(200);
    assert_eq!(by_id["data"], by_slug["data"]);
    let phones = shop.app.send(Req::get(&format!("/api/products?category={}", shop.phones["id"].as_str().unwrap()))).await.expect(200);
    assert_eq!(phones["meta"]["total"], 2);
    shop.app.send(Req::get("/api/products?category=no-such-category")).await.expect_problem(404, "not_found");
}

#[tokio::test]
async fn brands_are_case_insensitive_and_repeatable_and_filters_combine() {
    let shop = shop().await;
    let apple = shop.app.send(Req::get("/api/products?brand=aPPLE&sort=name_asc")).await.expect(200);
    assert_eq!(names(&apple), ["iPhone 15", "MacBook Pro"]);
    let two = shop.app.send(Req::get("/api/products?brand=apple&brand=SAMSUNG")).await.expect(200);
    assert_eq!(two["meta"]["total"], 3);
    let ranged = shop.app.send(Req::get("/api/products?minPrice=50000&maxPrice=100000&sort=price_desc")).await.expect(200);
    assert_eq!(names(&ranged), ["iPhone 15", "Galaxy S24"]);
    let tagged = shop.app.send(Req::get("/api/products?tags=makeup,5g&sort=name_asc")).await.expect(200);
    assert_eq!(names(&tagged), ["iPhone 15", "Red Lipstick"]);
    let featured = shop.app.send(Req::get("/api/products?featured=true")).await.expect(200);
    assert_eq!(names(&featured), ["MacBook Pro"]);
    let combined = shop.app.send(Req::get("/api/products?q=phone&brand=apple&maxPrice=150000")).await.expect(200);
    assert_eq!(names(&combined), ["iPhone 15"]);
}

#[tokio::test]
async fn facets_count_every_match_and_roll_categories_up_the_tree() {
    let shop = shop().await;
    let page = shop.app.send(Req::get("/api/products?limit=1")).await.expect(200);
    let facets = &page["facets"];
    assert_eq!(
        facets["brands"],
        json!([{"value": "Apple", "count": 2}, {"value": "Essence", "count": 1}, {"value": "Samsung", "count": 1}])
    );
    let cats: Vec<(&str, u64)> =
        facets["categories"].as_array().unwrap().iter().map(|c| (c["name"].as_str().unwrap(), c["count"].as_u64().unwrap())).collect();
    assert_eq!(cats, [("Electronics", 3), ("Phones", 2), ("Beauty", 1), ("Laptops", 1)]);
    let bands = facets["priceBands"].as_array().unwrap();
    assert_eq!(bands.len(), 6);
    assert_eq!(bands.iter().map(|b| b["count"].as_u64().unwrap()).sum::<u64>(), 4, "bands cover all matches, not the page");
    assert_eq!(bands[0], json!({"min": 0, "max": 2500, "count": 1}));
    assert_eq!(bands[5], json!({"min": 50000, "max": null, "count": 3}));
}

#[tokio::test]
async fn bad_parameters_get_a_400_naming_them() {
    let shop = shop().await;
    for (query, param) in [
        ("minPrice=900&maxPrice=100", "minPrice"),
        ("limit=101", "limit"),
        ("page=0", "page"),
        ("sort=popularity", "sort"),
        ("minPrice=ten", "minPrice"),
        ("maxPrice=9.99", "maxPrice"),
        ("inStock=maybe", "inStock"),
        ("sortBy=passwordHash", "sortBy"),
        ("colour=red", "colour"),
    ] {
        let problem = shop.app.send(Req::get(&format!("/api/products?{query}"))).await.expect_problem(400, "invalid_parameter");
        assert_eq!(problem["errors"][0]["field"], param, "{query}");
    }
}

#[tokio::test]
async fn listings_are_cached_until_the_index_changes() {
    let shop = shop().await;
    let before = shop.app.send(Req::get("/api/products?q=lipstick")).await.expect(200);
    assert_eq!(before["meta"]["total"], 1);
    // Change the index behind the API's back without invalidating: the cached page is served.
    let lipstick: uuid::Uuid = shop.products[3]["id"].as_str().unwrap().parse().unwrap();
    shop.state.search.delete(vec![lipstick]).await.unwrap();
    let cached = shop.app.send(Req::get("/api/products?q=LIPSTICK")).await.expect(200);
    assert_eq!(cached["meta"]["total"], 1, "same query in another spelling hits the cache");
    // The indexer invalidates the listings after every index write.
    shop.state.store.cache().invalidate(catalog::store::cached::LISTINGS).await;
    let after = shop.app.send(Req::get("/api/products?q=lipstick")).await.expect(200);
    assert_eq!(after["meta"]["total"], 0);
}
