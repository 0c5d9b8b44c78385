//! Every AWS SDK call as an X-Ray subsegment (see `shop_core::trace`).
//!
//! [`TracedHttpClient`] wraps the SDK's HTTPS client and is set on the shared `SdkConfig`
//! ([`crate::config::load`]), so every client built from it — DynamoDB, SQS, SNS, SES, Secrets
//! Manager, S3, and Lambda for internal invokes — is traced without a line in the stores. Each
//! attempt under a sampled trace becomes one subsegment (`namespace: aws`, the service and
//! operation, the request id, the HTTP status; `error` for 4xx, `throttle` for 429, `fault` for
//! 5xx and transport failures), and the request carries `X-Amzn-Trace-Id` with that subsegment
//! as `Parent` — which is what makes a Lambda `Invoke` continue the trace in the callee, and
//! SQS/SNS pass it on to their consumers (`AWSTraceHeader`). The header is not part of the SigV4
//! signature, so setting it after signing is safe.

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use serde_json::{Value, json};
use shop_core::trace::{HEADER, Subsegment};

/// The SDK's HTTPS client with X-Ray subsegments around every request.
#[derive(Debug, Clone)]
pub struct TracedHttpClient {
    inner: SharedHttpClient,
}

impl TracedHttpClient {
    pub fn new(inner: SharedHttpClient) -> Self {
        Self { inner }
    }

    /// The SDK's default HTTPS client (rustls with aws-lc), traced.
    pub fn https() -> Self {
        use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
        Self::new(aws_smithy_http_client::Builder::new().tls_provider(Provider::Rustls(CryptoMode::AwsLc)).build_https())
    }
}

impl HttpClient for TracedHttpClient {
    fn http_connector(&self, settings: &HttpConnectorSettings, components: &RuntimeComponents) -> SharedHttpConnector {
        SharedHttpConnector::new(TracedConnector { inner: self.inner.http_connector(settings, components) })
    }
}

#[derive(Debug)]
struct TracedConnector {
    inner: SharedHttpConnector,
}

impl HttpConnector for TracedConnector {
    fn call(&self, mut request: HttpRequest) -> HttpConnectorFuture {
        let subsegment = Subsegment::begin();
        if let Some(header) = subsegment.downstream_header() {
            request.headers_mut().insert(HEADER, header.to_header());
        }
        // Described only when the subsegment will be sent: unsampled requests pay nothing more.
        let call = subsegment.is_recording().then(|| Call::of(&request));
        let response = self.inner.call(request);
        HttpConnectorFuture::new(async move {
            let result = response.await;
            let Some(call) = call else { return result };
            let status = result.as_ref().ok().map(|r| r.status().as_u16());
            let request_id = result.as_ref().ok().and_then(|r| {
                let headers = r.headers();
                headers.get("x-amzn-requestid").or_else(|| headers.get("x-amz-request-id")).map(str::to_owned)
            });
            subsegment.end(call.document(status, request_id));
            result
        })
    }
}

/// What a subsegment says about one SDK request.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    /// `DynamoDB`, `SQS`, `Lambda`… (from the SigV4 signing name).
    pub service: String,
    /// `GetItem`, `SendMessage`, `Invoke`…
    pub operation: String,
    pub region: Option<String>,
    pub method: String,
    /// The function name of a Lambda `Invoke`.
    pub function: Option<String>,
}

impl Call {
    /// Reads the service and region from the SigV4 credential scope
    /// (`Credential=AKID/20260101/us-east-1/dynamodb/aws4_request`), the operation from the
    /// protocol: `X-Amz-Target` (JSON protocols), `Action=` (query protocols), or the REST path.
    pub fn of(request: &HttpRequest) -> Self {
        let headers = request.headers();
        let (signing, region) = credential_scope(headers.get("authorization"));
        let path = request.uri().split('?').next().unwrap_or("").split("://").last().unwrap_or("");
        let path = path.find('/').map(|i| &path[i..]).unwrap_or("/");
        let mut function = None;
        let operation = if let Some(target) = headers.get("x-amz-target") {
            target.rsplit('.').next().unwrap_or(target).to_owned()
        } else if let Some(action) = request.body().bytes().and_then(query_action) {
            action
        } else if let Some(name) = path.strip_prefix("/2015-03-31/functions/").and_then(|rest| rest.strip_suffix("/invocations")) {
            function = Some(percent_encoding::percent_decode_str(name).decode_utf8_lossy().into_owned());
            "Invoke".to_owned()
        } else if path == "/v2/email/outbound-emails" {
            "SendEmail".to_owned()
        } else {
            request.method().to_owned()
        };
        Self { service: service_name(signing), operation, region, method: request.method().to_owned(), function }
    }

    /// A call made without the SDK (`shop_aws::signed`): the service and region from the
    /// request's SigV4 `authorization` header, the operation named by the caller.
    pub fn signed(authorization: Option<&str>, operation: &str, method: &str) -> Self {
        let (signing, region) = credential_scope(authorization);
        Self { service: service_name(signing), operation: operation.to_owned(), region, method: method.to_owned(), function: None }
    }

    /// The subsegment fields for this call and its outcome (`None`: no response).
    pub fn document(&self, status: Option<u16>, request_id: Option<String>) -> Value {
        let mut aws = json!({"operation": self.operation});
        if let Some(region) = &self.region {
            aws["region"] = json!(region);
        }
        if let Some(id) = request_id {
            aws["request_id"] = json!(id);
        }
        if let Some(function) = &self.function {
            aws["function_name"] = json!(function);
        }
        let mut doc = json!({
            "name": self.service,
            "namespace": "aws",
            "aws": aws,
            "http": {"request": {"method": self.method}},
        });
        set_outcome(&mut doc, status);
        doc
    }
}

/// The subsegment fields of a call outside AWS (Stripe): named by the host, in the `remote`
/// namespace, with the URL without its query (`None` status: no answer).
pub fn remote_document(method: &str, uri: &http::Uri, status: Option<u16>) -> Value {
    let host = uri.host().unwrap_or("remote");
    let url = format!("{}://{}{}", uri.scheme_str().unwrap_or("https"), uri.authority().map_or(host, |a| a.as_str()), uri.path());
    let mut doc = json!({
        "name": host,
        "namespace": "remote",
        "http": {"request": {"method": method, "url": url}},
    });
    set_outcome(&mut doc, status);
    doc
}

/// The response status, and the outcome flags as X-Ray defines them: `error` for 4xx,
/// `throttle` too for 429, `fault` for 5xx or no answer.
fn set_outcome(doc: &mut Value, status: Option<u16>) {
    match status {
        Some(status) => {
            doc["http"]["response"] = json!({"status": status});
            if status == 429 {
                doc["throttle"] = json!(true);
            }
            if (400..500).contains(&status) {
                doc["error"] = json!(true);
            } else if status >= 500 {
                doc["fault"] = json!(true);
            }
        }
        None => doc["fault"] = json!(true),
    }
}

/// The SigV4 signing name and region of an `authorization` header's credential scope
/// (`Credential=AKID/20260101/us-east-1/dynamodb/aws4_request`).
fn credential_scope(authorization: Option<&str>) -> (&str, Option<String>) {
    let scope = authorization.and_then(|a| a.split("Credential=").nth(1)).map(|c| c.split(['/', ',']).collect::<Vec<_>>());
    let signing = scope.as_ref().and_then(|s| s.get(3)).copied().unwrap_or("");
    (signing, scope.as_ref().and_then(|s| s.get(2)).map(|r| (*r).to_owned()))
}

/// X-Ray's names for the services we call, from their SigV4 signing names.
fn service_name(signing: &str) -> String {
    match signing {
        "dynamodb" => "DynamoDB",
        "sqs" => "SQS",
        "sns" => "SNS",
        "ses" => "SES",
        "lambda" => "Lambda",
        "secretsmanager" => "SecretsManager",
        "s3" => "S3",
        "es" => "OpenSearch",
        "rds-db" => "RDS",
        "" => "AWS",
        other => other,
    }
    .to_owned()
}

/// `Action=Publish&…` of a query-protocol body (SNS).
fn query_action(body: &[u8]) -> Option<String> {
    form_action(std::str::from_utf8(body).ok()?)
}

fn form_action(body: &str) -> Option<String> {
    body.split('&')
        .find_map(|pair| pair.strip_prefix("Action="))
        .filter(|a| !a.is_empty() && a.bytes().all(|b| b.is_ascii_alphanumeric()))
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_smithy_types::body::SdkBody;

    fn request(method: &str, uri: &str, headers: &[(&str, &str)], body: &'static str) -> HttpRequest {
        let mut builder = http::Request::builder().method(method).uri(uri);
        for (k, v) in headers {
            builder = builder.header(*k, *v);
        }
        HttpRequest::try_from(builder.body(SdkBody::from(body)).unwrap()).unwrap()
    }

    const AUTH: &str = "AWS4-HMAC-SHA256 Credential=AKID/20261206/eu-west-1/SERVICE/aws4_request, SignedHeaders=host, Signature=abc";

    #[test]
    fn calls_are_named_by_service_and_operation_in_every_protocol() {
        let dynamo = request(
            "POST",
            "https://dynamodb.eu-west-1.amazonaws.com/",
            &[("authorization", &AUTH.replace("SERVICE", "dynamodb")), ("x-amz-target", "DynamoDB_20120810.TransactWriteItems")],
            "{}",
        );
        let call = Call::of(&dynamo);
        assert_eq!(
            (call.service.as_str(), call.operation.as_str(), call.region.as_deref()),
            ("DynamoDB", "TransactWriteItems", Some("eu-west-1"))
        );

        let sns = request(
            "POST",
            "https://sns.eu-west-1.amazonaws.com/",
            &[("authorization", &AUTH.replace("SERVICE", "sns"))],
            "Action=Publish&Version=2010-03-31",
        );
        assert_eq!((Call::of(&sns).service.as_str(), Call::of(&sns).operation.as_str()), ("SNS", "Publish"));

        let invoke = request(
            "POST",
            "https://lambda.eu-west-1.amazonaws.com/2015-03-31/functions/skyshop-prod-Inventory%2Dx/invocations",
            &[("authorization", &AUTH.replace("SERVICE", "lambda"))],
            "{}",
        );
        let call = Call::of(&invoke);
        assert_eq!(
            (call.service.as_str(), call.operation.as_str(), call.function.as_deref()),
            ("Lambda", "Invoke", Some("skyshop-prod-Inventory-x"))
        );

        let mail = request(
            "POST",
            "https://email.eu-west-1.amazonaws.com/v2/email/outbound-emails",
            &[("authorization", &AUTH.replace("SERVICE", "ses"))],
            "{}",
        );
        assert_eq!(Call::of(&mail).operation, "SendEmail");
    }

    #[test]
    fn outcomes_set_error_throttle_and_fault_as_x_ray_defines_them() {
        let call = Call { service: "DynamoDB".into(), operation: "GetItem".into(), region: None, method: "POST".into(), function: None };
        let ok = call.document(Some(200), Some("REQ1".into()));
        assert_eq!(ok["aws"]["request_id"], "REQ1");
        assert_eq!(ok["http"]["response"]["status"], 200);
        assert!(ok.get("error").is_none() && ok.get("fault").is_none());
        let throttled = call.document(Some(429), None);
        assert_eq!((throttled["error"].clone(), throttled["throttle"].clone()), (json!(true), json!(true)));
        assert_eq!(call.document(Some(503), None)["fault"], true);
        assert_eq!(call.document(None, None)["fault"], true, "no response is a fault");
    }

    #[test]
    fn calls_without_the_sdk_are_named_like_the_sdks() {
        let s3 = Call::signed(Some(&AUTH.replace("SERVICE", "s3")), "DeleteObject", "DELETE");
        assert_eq!((s3.service.as_str(), s3.operation.as_str(), s3.region.as_deref()), ("S3", "DeleteObject", Some("eu-west-1")));
        let search = Call::signed(Some(&AUTH.replace("SERVICE", "es")), "Search", "POST");
        assert_eq!(search.service, "OpenSearch");
        // Unsigned (a local stand-in without credentials): still a call, of no known service.
        assert_eq!(Call::signed(None, "Search", "POST").service, "AWS");
    }

    #[test]
    fn remote_calls_are_named_by_host_without_the_query() {
        let uri: http::Uri = "https://api.stripe.com/v1/payment_intents/pi_1?expand[]=latest_charge".parse().unwrap();
        let doc = remote_document("GET", &uri, Some(402));
        assert_eq!(doc["name"], "api.stripe.com");
        assert_eq!(doc["namespace"], "remote");
        assert_eq!(doc["http"]["request"]["url"], "https://api.stripe.com/v1/payment_intents/pi_1");
        assert_eq!((doc["http"]["response"]["status"].clone(), doc["error"].clone()), (json!(402), json!(true)));
        let local: http::Uri = "http://127.0.0.1:8420/v1/payment_intents".parse().unwrap();
        let doc = remote_document("POST", &local, None);
        assert_eq!((doc["name"].clone(), doc["fault"].clone()), (json!("127.0.0.1"), json!(true)));
        assert_eq!(doc["http"]["request"]["url"], "http://127.0.0.1:8420/v1/payment_intents");
    }
}
