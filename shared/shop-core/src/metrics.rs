//! Business metrics in CloudWatch Embedded Metric Format (EMF).
//!
//! One JSON line on stdout per data point; CloudWatch Logs extracts the metric (namespace
//! `Skyshop`, dimension `service`, or `function` for [`COLD_START`]) without any API call from
//! the function. [`count`] is a count of one; [`value`] a data point with a [`Unit`] (e.g.
//! [`amount`] for money in minor units).
//!
//! Outside Lambda (the local runner, tests) nothing is printed: the data point goes to the debug
//! log and to the process-wide sink, if one is installed ([`install_sink`]). The local runner
//! installs one that sums every document ([`Totals`]) and serves the sums at `GET /_local/metrics`.

use std::collections::BTreeMap;
use std::sync::{Mutex, OnceLock};

use serde_json::{Map, Value, json};

/// The namespace of every Skyshop metric.
pub const NAMESPACE: &str = "Skyshop";

/// The metric counting each process start (`function` dimension), emitted once per process.
pub const COLD_START: &str = "ColdStart";

/// The CloudWatch unit of a data point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Occurrences.
    Count,
    /// Durations.
    Milliseconds,
    /// A plain number; money is this, in minor units (cents) of the shop's currency.
    None,
}

impl Unit {
    /// CloudWatch's name of the unit.
    pub fn as_str(self) -> &'static str {
        match self {
            Unit::Count => "Count",
            Unit::Milliseconds => "Milliseconds",
            Unit::None => "None",
        }
    }
}

/// The EMF document for one data point of `name` with the given dimensions (name, value).
pub fn document(dimensions: &[(&str, &str)], name: &str, value: f64, unit: Unit, timestamp_ms: i64) -> Value {
    let mut doc = Map::new();
    doc.insert(
        "_aws".into(),
        json!({
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [dimensions.iter().map(|(k, _)| *k).collect::<Vec<_>>()],
                "Metrics": [{"Name": name, "Unit": unit.as_str()}]
            }]
        }),
    );
    for (key, val) in dimensions {
        doc.insert((*key).to_owned(), Value::String((*val).to_owned()));
    }
    // Whole numbers print as integers (counts, cents).
    let number = if value.fract() == 0.0 && value.abs() < 9.0e15 {
        Value::from(value as i64)
    } else {
        serde_json::Number::from_f64(value).map(Value::Number).unwrap_or(Value::Null)
    };
    doc.insert(name.to_owned(), number);
    Value::Object(doc)
}

/// The EMF document for one count of `name` by `service`.
pub fn count_document(service: &str, name: &str, value: u64, timestamp_ms: i64) -> Value {
    document(&[("service", service)], name, value as f64, Unit::Count, timestamp_ms)
}

/// Emits one count of `name` (e.g. `LoginFailed`) for `service`.
pub fn count(service: &str, name: &str) {
    value(service, name, 1.0, Unit::Count);
}

/// Emits one data point of `name` for `service` in `unit`.
pub fn value(service: &str, name: &str, value: f64, unit: Unit) {
    emit(&[("service", service)], name, value, unit);
}

/// Emits an amount of money (`Revenue`, `RefundedAmount`) in minor units of the shop's currency.
pub fn amount(service: &str, name: &str, minor_units: i64) {
    value(service, name, minor_units as f64, Unit::None);
}

/// Emits [`COLD_START`] for `function`, at most once per process and function.
pub fn cold_start(function: &str) {
    static SEEN: Mutex<Vec<String>> = Mutex::new(Vec::new());
    {
        let mut seen = SEEN.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if seen.iter().any(|f| f == function) {
            return;
        }
        seen.push(function.to_owned());
    }
    emit(&[("function", function)], COLD_START, 1.0, Unit::Count);
}

fn in_lambda() -> bool {
    static IN_LAMBDA: OnceLock<bool> = OnceLock::new();
    *IN_LAMBDA.get_or_init(|| std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some())
}

fn emit(dimensions: &[(&str, &str)], name: &str, value: f64, unit: Unit) {
    let now = time::OffsetDateTime::now_utc();
    let ms = now.unix_timestamp() * 1000 + i64::from(now.millisecond());
    let doc = document(dimensions, name, value, unit, ms);
    if let Some(sink) = SINK.get() {
        sink(&doc);
    }
    if in_lambda() {
        println!("{doc}");
    } else {
        tracing::debug!(metric = name, value, unit = unit.as_str(), "metric");
    }
}

/// Where every EMF document also goes (the local runner's [`Totals`]).
pub type Sink = Box<dyn Fn(&Value) + Send + Sync>;

static SINK: OnceLock<Sink> = OnceLock::new();

/// Installs the process-wide sink; the first one stays (false: one was installed before).
pub fn install_sink(sink: Sink) -> bool {
    SINK.set(sink).is_ok()
}

/// One metric's total so far.
#[derive(Debug, Clone, PartialEq)]
pub struct Total {
    pub sum: f64,
    pub samples: u64,
    pub unit: String,
}

/// Sums of EMF documents by namespace, dimension values and metric name.
#[derive(Debug, Default)]
pub struct Totals {
    sums: Mutex<BTreeMap<(String, String, String), Total>>,
}

impl Totals {
    /// The process-wide totals (what the local runner installs as its sink).
    pub fn global() -> &'static Totals {
        static TOTALS: OnceLock<Totals> = OnceLock::new();
        TOTALS.get_or_init(Totals::default)
    }

    /// Adds one EMF document: each metric it declares, under its namespace and the values of
    /// its dimensions joined by `/` (e.g. `orders`).
    pub fn record(&self, doc: &Value) {
        let Some(directives) = doc.pointer("/_aws/CloudWatchMetrics").and_then(Value::as_array) else { return };
        let mut sums = self.sums.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        for directive in directives {
            let namespace = directive["Namespace"].as_str().unwrap_or_default().to_owned();
            let dims: Vec<&str> = directive["Dimensions"]
                .get(0)
                .and_then(Value::as_array)
                .map(|d| d.iter().filter_map(Value::as_str).filter_map(|k| doc[k].as_str()).collect())
                .unwrap_or_default();
            for metric in directive["Metrics"].as_array().into_iter().flatten() {
                let Some(name) = metric["Name"].as_str() else { continue };
                let Some(value) = doc[name].as_f64() else { continue };
                let unit = metric["Unit"].as_str().unwrap_or("None").to_owned();
                let total =
                    sums.entry((namespace.clone(), dims.join("/"), name.to_owned())).or_insert(Total { sum: 0.0, samples: 0, unit });
                total.sum += value;
                total.samples += 1;
            }
        }
    }

    /// `{namespace: {dimension: {metric: {sum, samples, unit}}}}`.
    pub fn to_json(&self) -> Value {
        let sums = self.sums.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut out = Map::new();
        for ((namespace, dims, name), total) in sums.iter() {
            let ns = out.entry(namespace.clone()).or_insert_with(|| Value::Object(Map::new()));
            let by_dims = ns.as_object_mut().map(|m| m.entry(dims.clone()).or_insert_with(|| Value::Object(Map::new())));
            if let Some(Value::Object(metrics)) = by_dims {
                let sum = if total.sum.fract() == 0.0 { Value::from(total.sum as i64) } else { json!(total.sum) };
                metrics.insert(name.clone(), json!({"sum": sum, "samples": total.samples, "unit": total.unit}));
            }
        }
        Value::Object(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_follow_the_emf_specification() {
        let doc = count_document("accounts", "LoginFailed", 1, 1_700_000_000_000);
        assert_eq!(doc["_aws"]["CloudWatchMetrics"][0]["Namespace"], "Skyshop");
        assert_eq!(doc["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Name"], "LoginFailed");
        assert_eq!(doc["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Unit"], "Count");
        assert_eq!(doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"], json!([["service"]]));
        assert_eq!(doc["LoginFailed"], 1);
        assert_eq!(doc["service"], "accounts");
        let revenue = document(&[("service", "orders")], "Revenue", 14_997.0, Unit::None, 0);
        assert_eq!(
            (revenue["Revenue"].as_i64(), revenue["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Unit"].as_str()),
            (Some(14_997), Some("None"))
        );
        let latency = document(&[("function", "OrdersFunction")], "Latency", 1.5, Unit::Milliseconds, 0);
        assert_eq!((latency["Latency"].as_f64(), latency["function"].as_str()), (Some(1.5), Some("OrdersFunction")));
    }

    #[test]
    fn totals_sum_each_metric_by_dimension_with_its_unit() {
        let totals = Totals::default();
        totals.record(&count_document("orders", "OrderPlaced", 1, 0));
        totals.record(&count_document("orders", "OrderPlaced", 1, 0));
        totals.record(&document(&[("service", "orders")], "Revenue", 4_999.0, Unit::None, 0));
        totals.record(&document(&[("service", "orders")], "Revenue", 1_000.0, Unit::None, 0));
        totals.record(&count_document("payments", "OrderPlaced", 1, 0));
        totals.record(&json!({"not": "emf"}));
        let json = totals.to_json();
        assert_eq!(json["Skyshop"]["orders"]["OrderPlaced"], json!({"sum": 2, "samples": 2, "unit": "Count"}));
        assert_eq!(json["Skyshop"]["orders"]["Revenue"], json!({"sum": 5_999, "samples": 2, "unit": "None"}));
        assert_eq!(json["Skyshop"]["payments"]["OrderPlaced"]["sum"], 1);
    }
}
