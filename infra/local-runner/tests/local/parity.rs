use std::collections::BTreeSet;

use sam_model::{RouteAuth, Template};

use crate::helpers::start;

/// Every HttpApi route in the template has a handler, and every handler has a route.
#[test]
fn template_routes_and_handlers_match_one_to_one() {
    let template = Template::load_repo().unwrap();
    let routes: BTreeSet<(String, String)> = template.routes().unwrap().into_iter().map(|r| (r.method, r.path)).collect();
    let doc = serde_json::to_value(local_runner::docs::openapi()).unwrap();
    let mut handlers = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            handlers.insert((method.to_uppercase(), path.clone()));
        }
    }
    let missing_handlers: Vec<_> = routes.difference(&handlers).collect();
    let missing_routes: Vec<_> = handlers.difference(&routes).collect();
    assert!(missing_handlers.is_empty(), "template routes without a handler: {missing_handlers:?}");
    assert!(missing_routes.is_empty(), "handlers without a template route: {missing_routes:?}");
    // Every function of the template is one the runner can build, and vice versa.
    let in_template: BTreeSet<String> = template.functions().into_iter().map(|f| f.logical_id).collect();
    let known: BTreeSet<String> = local_runner::functions::KNOWN.iter().map(|(id, _)| (*id).to_owned()).collect();
    assert_eq!(in_template, known);
}

/// Every template route is served by the local runner: a request reaches the function's
/// handler (never the runner's or the router's "no route" answer).
#[tokio::test]
async fn every_template_route_is_served_locally() {
    let app = start(false).await;
    let admin = app.admin_token().await;
    let template = Template::load_repo().unwrap();
    for route in template.routes().unwrap() {
        let (path, _) = local_runner::events::sample_path(&route);
        let token = matches!(route.auth, RouteAuth::Jwt { .. }).then_some(admin.as_str());
        let body = matches!(route.method.as_str(), "POST" | "PUT" | "PATCH").then(|| serde_json::json!({}));
        let r = app.call(&route.method, &path, token, body).await;
        assert_ne!(r.body["code"], shop_core::http::ROUTE_NOT_FOUND, "{} reached no handler", route.key());
        assert_ne!(r.body["code"], "method_not_allowed", "{}", route.key());
        assert_ne!(r.body, serde_json::json!({"message": "Not Found"}), "{} is not routed", route.key());
        assert!(r.status < 500, "{} answered {}: {}", route.key(), r.status, r.body);
    }
}
