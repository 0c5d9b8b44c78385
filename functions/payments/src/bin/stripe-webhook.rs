//! Lambda entry point of the Stripe webhook (`POST /api/payments/webhook`, no authorizer).

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    payments::serve(payments::webhook::router).await
}
