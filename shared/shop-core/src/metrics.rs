//! Business metrics in CloudWatch Embedded Metric Format (EMF).
//!
//! One JSON line on stdout per data point; CloudWatch Logs extracts the metric (namespace
//! `Skyshop`, dimension `service`) without any API call from the function.

use serde_json::{Value, json};

/// The namespace of every Skyshop metric.
pub const NAMESPACE: &str = "Skyshop";

/// The EMF document for one count of `name` by `service`.
pub fn count_document(service: &str, name: &str, value: u64, timestamp_ms: i64) -> Value {
    json!({
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [["service"]],
                "Metrics": [{"Name": name, "Unit": "Count"}]
            }]
        },
        "service": service,
        name: value
    })
}

/// Emits one count of `name` (e.g. `LoginFailed`) for `service`. Outside Lambda (local runner,
/// tests) the data point goes to the debug log instead of stdout.
pub fn count(service: &str, name: &str) {
    static IN_LAMBDA: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    if !*IN_LAMBDA.get_or_init(|| std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some()) {
        tracing::debug!(metric = name, service, "metric");
        return;
    }
    let now = time::OffsetDateTime::now_utc();
    let ms = now.unix_timestamp() * 1000 + i64::from(now.millisecond());
    println!("{}", count_document(service, name, 1, ms));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_follow_the_emf_specification() {
        let doc = count_document("accounts", "LoginFailed", 1, 1_700_000_000_000);
        assert_eq!(doc["_aws"]["CloudWatchMetrics"][0]["Namespace"], "Skyshop");
        assert_eq!(doc["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Name"], "LoginFailed");
        assert_eq!(doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"], json!([["service"]]));
        assert_eq!(doc["LoginFailed"], 1);
        assert_eq!(doc["service"], "accounts");
    }
}
