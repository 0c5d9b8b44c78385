/// The OpenAPI document is generated from the handlers; a change to any route, schema or
/// response shows up here for review.
#[test]
fn the_openapi_document_matches_the_snapshot() {
    let doc = accounts::openapi();
    insta::assert_json_snapshot!("accounts-openapi", doc);
}
