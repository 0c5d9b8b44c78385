//! Lambda entry point of the payments function (`/api/payments*` but the webhook).

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    payments::serve(payments::router).await
}
