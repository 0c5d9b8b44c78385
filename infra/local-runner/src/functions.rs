//! The functions of the template, built in-process.
//!
//! Each entry maps a template logical id to how the runner invokes it: an HTTP router (the
//! same `router()` Lambda runs) or an event handler taking and returning Lambda JSON.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use futures::future::BoxFuture;
use serde_json::Value;

/// A handler of non-HTTP events: Lambda JSON in, Lambda JSON out.
pub type EventHandler = Arc<dyn Fn(Value) -> BoxFuture<'static, Result<Value, String>> + Send + Sync>;

/// How the runner invokes one function.
#[derive(Clone)]
pub enum Function {
    Http(Router),
    Events(EventHandler),
}

/// Function logical id → function.
pub type Registry = BTreeMap<String, Function>;

/// The function logical ids this runner knows how to build, with their Cargo binary names.
pub const KNOWN: &[(&str, &str)] = &[
    ("AccountsFunction", "accounts"),
    ("CatalogFunction", "catalog"),
    ("CatalogIndexerFunction", "catalog-indexer"),
    ("InventoryFunction", "inventory"),
    ("InventoryEventsFunction", "inventory-events"),
    ("CartFunction", "cart"),
    ("CartEventsFunction", "cart-events"),
    ("OrdersFunction", "orders"),
    ("OrdersEventsFunction", "orders-events"),
    ("PaymentsFunction", "payments"),
    ("StripeWebhookFunction", "stripe-webhook"),
    ("PaymentsEventsFunction", "payments-events"),
    ("ReviewsFunction", "reviews"),
    ("ReviewsEventsFunction", "reviews-events"),
    ("NotificationsFunction", "notifications"),
    ("HealthFunction", "health"),
    ("MailFeedbackFunction", "mail-feedback"),
];

/// Builds one function from its resolved environment.
pub async fn build(logical_id: &str, env: &BTreeMap<String, String>, sdk: &aws_config::SdkConfig) -> Result<Function, String> {
    let lookup = |name: &str| env.get(name).cloned();
    match logical_id {
        "AccountsFunction" => {
            let config = accounts::config::Config::from_lookup(&lookup).map_err(|e| e.to_string())?;
            let state =
                accounts::AppState::from_config(config, sdk).await.map_err(|e| format!("{e}: {}", shop_core::problem::ErrorChain(&e)))?;
            Ok(Function::Http(accounts::router(state)))
        }
        "CatalogFunction" => {
            let config = catalog::config::Config::from_lookup(&lookup).map_err(|e| e.to_string())?;
            let state = catalog::AppState::from_config(&config, sdk).await.map_err(|e| e.to_string())?;
            Ok(Function::Http(catalog::router(state)))
        }
        "CartFunction" => {
            let config = cart::config::Config::from_lookup(&lookup).map_err(|e| e.to_string())?;
            let state = cart::AppState::from_config(&config, sdk).await.map_err(|e| shop_core::problem::ErrorChain(&e).to_string())?;
            // The seed's coupons (SAVE10, SAVE20, FLAT50, FLAT100), created once.
            shop_seed::coupons::seed_coupons(&state.coupons).await.map_err(|e| shop_core::problem::ErrorChain(&e).to_string())?;
            Ok(Function::Http(cart::router(state)))
        }
        "CartEventsFunction" => {
            let config = cart::config::EventsConfig::from_lookup(&lookup).map_err(|e| e.to_string())?;
            let events = cart::events::LazyEvents::with_sdk(config, sdk.clone());
            let handler: EventHandler = Arc::new(move |event: Value| {
                let events = events.clone();
                Box::pin(async move {
                    let event = serde_json::from_value(event).map_err(|e| e.to_string())?;
                    let response = events.handle(event).await.map_err(|e| shop_core::problem::ErrorChain(&e).to_string())?;
                    serde_json::to_value(response).map_err(|e| e.to_string())
                })
            });
            Ok(Function::Events(handler))
        }
        "OrdersFunction" => {
            let config = orders::config::Config::from_lookup(&lookup).map_err(|e| e.to_string())?;
            let state = orders::AppState::from_config(&config, sdk).await.map_err(|e| shop_core::problem::ErrorChain(&e).to_string())?;
            Ok(Function::Http(orders::router(state)))
        }
        "OrdersEventsFunction" => {
            let config = orders::config::Config::from_lookup(&lookup).map_err(|e| e.to_string())?;
            let events = orders::events::LazyEvents::with_sdk(config, sdk.clone());
            let handler: EventHandler = Arc::new(move |event: Value| {
                let events = events.clone();
                Box::pin(async move { events.invoke(event).await.map_err(|e| shop_core::problem::ErrorChain(&e).to_string()) })
            });
            Ok(Function::Events(handler))
        }
        // Both HTTP functions of the payments crate build the same state: the routes, and the
        // Stripe webhook's one route (no authorizer), each its own function as in AWS.
        "PaymentsFunction" | "StripeWebhookFunction" => {
            let config = payments::config::Config::from_lookup(&lookup).map_err(|e| e.to_string())?;
            let state = payments::AppState::from_config(&config, sdk).await.map_err(|e| shop_core::problem::ErrorChain(&e).to_string())?;
            Ok(Function::Http(if logical_id == "PaymentsFunction" { payments::router(state) } else { payments::webhook::router(state) }))
        }
        "PaymentsEventsFunction" => {
            let config = payments::config::Config::from_lookup(&lookup).map_err(|e| e.to_string())?;
            let events = payments::events::LazyEvents::with_sdk(config, sdk.clone());
            let handler: EventHandler = Arc::new(move |event: Value| {
                let events = events.clone();
                Box::pin(async move { events.invoke(event).await.map_err(|e| shop_core::problem::ErrorChain(&e).to_string()) })
            });
            Ok(Function::Events(handler))
        }
        "CatalogIndexerFunction" => {
            // The engine is opened on the first event, as in Lambda: one-shot commands that
            // build every function (`seed`) never touch the index.
            let config = catalog_indexer::config::Config::from_lookup(&lookup).map_err(|e| e.to_string())?;
            let indexer = catalog_indexer::LazyIndexer::with_sdk(config, sdk.clone());
            let handler: EventHandler = Arc::new(move |event: Value| {
                let indexer = indexer.clone();
                Box::pin(async move { indexer.invoke(event, None).await.map_err(|e| shop_core::problem::ErrorChain(&e).to_string()) })
            });
            Ok(Function::Events(handler))
        }
        "InventoryFunction" => {
            let config = inventory::config::Config::from_lookup(&lookup).map_err(|e| e.to_string())?;
            Ok(Function::Http(inventory::router(inventory::AppState::from_config(&config, sdk))))
        }
        "InventoryEventsFunction" => {
            let config = inventory::config::EventsConfig::from_lookup(&lookup).map_err(|e| e.to_string())?;
            let events = inventory::events::LazyEvents::with_sdk(config, sdk.clone());
            let handler: EventHandler = Arc::new(move |event: Value| {
                let events = events.clone();
                Box::pin(async move { events.invoke(event).await.map_err(|e| shop_core::problem::ErrorChain(&e).to_string()) })
            });
            Ok(Function::Events(handler))
        }
        "ReviewsFunction" => {
            let config = reviews::config::Config::from_lookup(&lookup).map_err(|e| e.to_string())?;
            Ok(Function::Http(reviews::router(reviews::AppState::from_config(&config, sdk))))
        }
        "ReviewsEventsFunction" => {
            let config = reviews::config::EventsConfig::from_lookup(&lookup).map_err(|e| e.to_string())?;
            let events = reviews::events::LazyEvents::with_sdk(config, sdk.clone());
            let handler: EventHandler = Arc::new(move |event: Value| {
                let events = events.clone();
                Box::pin(async move { events.invoke(event).await.map_err(|e| shop_core::problem::ErrorChain(&e).to_string()) })
            });
            Ok(Function::Events(handler))
        }
        "NotificationsFunction" => {
            let config = notifications::config::Config::from_lookup(&lookup).map_err(|e| e.to_string())?;
            // The SES client keeps each email's text part for `/_local/mail` (moto drops it).
            let ses_config = aws_sdk_sesv2::config::Builder::from(sdk)
                .interceptor(crate::mail_capture::CaptureText(crate::mail_capture::SentTexts::global().clone()))
                .build();
            let notifier = Arc::new(notifications::Notifier::from_parts(
                aws_sdk_dynamodb::Client::new(sdk),
                config.table.clone(),
                aws_sdk_sesv2::Client::from_conf(ses_config),
                config.mail_from.clone(),
                &config.frontend_url,
                shop_internal::InternalClient::new(sdk, config.accounts_function.clone(), "notifications"),
            ));
            let handler: EventHandler = Arc::new(move |event: Value| {
                let notifier = notifier.clone();
                Box::pin(async move {
                    let event = serde_json::from_value(event).map_err(|e| e.to_string())?;
                    let response = notifier.handle(event).await;
                    serde_json::to_value(response).map_err(|e| e.to_string())
                })
            });
            Ok(Function::Events(handler))
        }
        "MailFeedbackFunction" => {
            let config = notifications::config::FeedbackConfig::from_lookup(&lookup).map_err(|e| e.to_string())?;
            let handler = notifications::suppression::FeedbackHandler::new(notifications::suppression::SuppressionStore::new(
                aws_sdk_dynamodb::Client::new(sdk),
                config.table,
            ));
            let handler: EventHandler = Arc::new(move |event: Value| {
                let handler = handler.clone();
                Box::pin(async move {
                    let event = serde_json::from_value(event).map_err(|e| e.to_string())?;
                    serde_json::to_value(handler.handle(event).await).map_err(|e| e.to_string())
                })
            });
            Ok(Function::Events(handler))
        }
        "HealthFunction" => {
            let config = health::config::Config::from_lookup(&lookup).map_err(|e| e.to_string())?;
            Ok(Function::Http(health::router(health::AppState::from_config(&config, sdk))))
        }
        other => Err(format!("the local runner does not know how to build {other}")),
    }
}

/// The accounts state for operator tasks (admin bootstrap) from the same environment.
pub async fn accounts_state(env: &BTreeMap<String, String>, sdk: &aws_config::SdkConfig) -> Result<accounts::AppState, String> {
    let lookup = |name: &str| env.get(name).cloned();
    let config = accounts::config::Config::from_lookup(&lookup).map_err(|e| e.to_string())?;
    accounts::AppState::from_config(config, sdk).await.map_err(|e| e.to_string())
}
