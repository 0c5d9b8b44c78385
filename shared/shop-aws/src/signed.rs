//! HTTPS and SigV4 for the calls made without a service SDK: OpenSearch (service `es`), S3 uploads
//! and deletes of product images (`s3`), and Stripe (plain HTTPS). One HTTP stack for all of
//! them — hyper's client over rustls with the system's roots, the stack the AWS SDK links anyway —
//! instead of a second client library (reqwest) or a whole service SDK (S3) in the zips.

use std::time::{Duration, SystemTime};

use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sigv4::http_request::{
    PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SignatureLocation, SigningSettings, UriPathNormalizationMode,
    sign,
};
use aws_sigv4::sign::v4;
use aws_smithy_async::time::SharedTimeSource;
use aws_smithy_runtime_api::client::identity::Identity;
use bytes::Bytes;
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// Bytes kept as they are in a URL path segment: RFC 3986's unreserved characters.
const UNRESERVED: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

/// A `/`-separated object key as a URL path: each segment percent-encoded (unreserved characters
/// kept, UTF-8 bytes encoded one by one), as S3 expects it and signs it.
pub fn encode_path(key: &str) -> String {
    key.split('/').map(|segment| percent_encoding::utf8_percent_encode(segment, UNRESERVED).to_string()).collect::<Vec<_>>().join("/")
}

/// An HTTP/1.1 client for `http` and `https` URLs.
pub type HttpsClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

/// The process's pooled client (idle connections closed after 50 s, before load balancers drop
/// them): built once, so the system's roots are read from disk once per sandbox however many
/// callers (catalog's images and search engine, Stripe) ask for it; clones share the pool.
pub fn https_client() -> std::io::Result<HttpsClient> {
    static CLIENT: std::sync::OnceLock<Result<HttpsClient, String>> = std::sync::OnceLock::new();
    CLIENT
        .get_or_init(|| {
            let connector = hyper_rustls::HttpsConnectorBuilder::new()
                .with_native_roots()
                .map_err(|e| e.to_string())?
                .https_or_http()
                .enable_http1()
                .build();
            Ok(Client::builder(TokioExecutor::new()).pool_idle_timeout(Duration::from_secs(50)).build(connector))
        })
        .clone()
        .map_err(std::io::Error::other)
}

/// What an [`exchange`] is, for its X-Ray subsegment.
#[derive(Debug, Clone, Copy)]
pub enum Traced<'a> {
    /// A call to an AWS service without its SDK (S3 image deletes, OpenSearch): the service and
    /// region are read from the request's signature, the operation is this one.
    Aws { operation: &'a str },
    /// A call outside AWS (Stripe), named by its host.
    Remote,
}

/// Why an [`exchange`] got no whole answer.
#[derive(Debug, thiserror::Error)]
pub enum ExchangeError {
    #[error("{0}")]
    Send(#[from] hyper_util::client::legacy::Error),
    #[error("reading the answer: {0}")]
    Body(String),
    #[error("no answer within {0:?}")]
    Timeout(Duration),
}

/// One request and its whole answer within `timeout` — the one way the calls made without a
/// service SDK go out. Under a sampled trace it is an X-Ray subsegment, as every SDK call is
/// (`shop_aws::xray`): the status, request id, `error` for 4xx, `throttle` for 429, `fault` for
/// 5xx, no answer or the timeout. AWS calls also carry `X-Amzn-Trace-Id` with that subsegment as
/// parent (not part of the signature); calls outside AWS do not.
pub async fn exchange(
    client: &HttpsClient,
    mut request: http::Request<Full<Bytes>>,
    timeout: Duration,
    traced: Traced<'_>,
) -> Result<(http::StatusCode, Bytes), ExchangeError> {
    use http_body_util::BodyExt;

    let subsegment = shop_core::trace::Subsegment::begin();
    if let Traced::Aws { .. } = traced
        && let Some(header) = subsegment.downstream_header()
        && let Ok(value) = http::HeaderValue::from_str(&header.to_header())
    {
        request.headers_mut().insert(shop_core::trace::HEADER, value);
    }
    // Described only when the subsegment will be sent: unsampled requests pay nothing more.
    let described = subsegment.is_recording().then(|| {
        let method = request.method().as_str();
        match traced {
            Traced::Aws { operation } => {
                let authorization = request.headers().get(http::header::AUTHORIZATION).and_then(|v| v.to_str().ok());
                Described::Aws(crate::xray::Call::signed(authorization, operation, method))
            }
            Traced::Remote => Described::Remote(method.to_owned(), request.uri().clone()),
        }
    });
    let answer = async {
        let response = client.request(request).await?;
        let status = response.status();
        let headers = response.headers();
        let request_id = ["x-amzn-requestid", "x-amz-request-id", "request-id"]
            .iter()
            .find_map(|name| headers.get(*name).and_then(|v| v.to_str().ok()).map(str::to_owned));
        let body = response.into_body().collect().await.map_err(|e| ExchangeError::Body(e.to_string()))?.to_bytes();
        Ok((status, request_id, body))
    };
    let result = tokio::time::timeout(timeout, answer).await.unwrap_or(Err(ExchangeError::Timeout(timeout)));
    if let Some(described) = described {
        let status = result.as_ref().ok().map(|(status, _, _)| status.as_u16());
        let request_id = result.as_ref().ok().and_then(|(_, id, _)| id.clone());
        subsegment.end(match described {
            Described::Aws(call) => call.document(status, request_id),
            Described::Remote(method, uri) => crate::xray::remote_document(&method, &uri, status),
        });
    }
    result.map(|(status, _, body)| (status, body))
}

/// An exchange as its subsegment will describe it.
enum Described {
    Aws(crate::xray::Call),
    Remote(String, http::Uri),
}

/// Why a request could not be signed.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    #[error("the SDK configuration has no {0}")]
    Missing(&'static str),
    #[error("could not get credentials: {0}")]
    Credentials(#[from] aws_credential_types::provider::error::CredentialsError),
    #[error("could not sign the request: {0}")]
    Sign(String),
}

fn sign_err(e: impl std::fmt::Display) -> SignError {
    SignError::Sign(e.to_string())
}

/// SigV4 for one service with the region, credentials and clock of an SDK configuration.
#[derive(Clone)]
pub struct Signer {
    credentials: SharedCredentialsProvider,
    region: String,
    time: SharedTimeSource,
    service: &'static str,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer").field("service", &self.service).field("region", &self.region).finish_non_exhaustive()
    }
}

impl Signer {
    /// Fails when `sdk` has no region or no credentials provider.
    pub fn new(sdk: &aws_config::SdkConfig, service: &'static str) -> Result<Self, SignError> {
        let region = sdk.region().ok_or(SignError::Missing("region"))?.to_string();
        let credentials = sdk.credentials_provider().ok_or(SignError::Missing("credentials provider"))?;
        Ok(Self { credentials, region, time: sdk.time_source().unwrap_or_default(), service })
    }

    pub fn region(&self) -> &str {
        &self.region
    }

    /// S3 signs the path as sent (no second encoding, no normalisation); other services use
    /// SigV4's defaults.
    fn settings(&self) -> SigningSettings {
        let mut settings = SigningSettings::default();
        if self.service == "s3" {
            settings.percent_encoding_mode = PercentEncodingMode::Single;
            settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        }
        settings
    }

    async fn identity(&self) -> Result<Identity, SignError> {
        Ok(self.credentials.provide_credentials().await?.into())
    }

    fn sign_with(
        &self,
        identity: &Identity,
        settings: SigningSettings,
        time: SystemTime,
        request: &mut http::Request<Full<Bytes>>,
        body: SignableBody<'_>,
    ) -> Result<(), SignError> {
        let params = v4::SigningParams::builder()
            .identity(identity)
            .region(&self.region)
            .name(self.service)
            .time(time)
            .settings(settings)
            .build()
            .map_err(sign_err)?
            .into();
        let uri = request.uri().to_string();
        let headers = request
            .headers()
            .iter()
            .map(|(k, v)| Ok((k.as_str(), v.to_str().map_err(sign_err)?)))
            .collect::<Result<Vec<_>, SignError>>()?;
        let signable = SignableRequest::new(request.method().as_str(), &uri, headers.into_iter(), body).map_err(sign_err)?;
        let (instructions, _) = sign(signable, &params).map_err(sign_err)?.into_parts();
        instructions.apply_to_request_http1x(request);
        Ok(())
    }

    /// Signs `request` in its headers (`Authorization`, `X-Amz-Date`, the session token and
    /// `X-Amz-Content-Sha256` of `body`, which is the body the request will carry).
    pub async fn sign(&self, request: &mut http::Request<Full<Bytes>>, body: &[u8]) -> Result<(), SignError> {
        let identity = self.identity().await?;
        let mut settings = self.settings();
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
        self.sign_with(&identity, settings, self.time.now(), request, SignableBody::Bytes(body))
    }

    /// A presigned URL for `method` on `url`, valid for `expires_in`, whose signature covers
    /// `headers` (the caller must send exactly these) and not the body.
    pub async fn presign(
        &self,
        method: http::Method,
        url: &str,
        headers: &[(&str, &str)],
        expires_in: Duration,
    ) -> Result<String, SignError> {
        let identity = self.identity().await?;
        let mut settings = self.settings();
        settings.signature_location = SignatureLocation::QueryParams;
        settings.expires_in = Some(expires_in);
        let mut builder = http::Request::builder().method(method).uri(url);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let mut request = builder.body(Full::new(Bytes::new())).map_err(sign_err)?;
        self.sign_with(&identity, settings, self.time.now(), &mut request, SignableBody::UnsignedPayload)?;
        Ok(request.uri().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::encode_path;

    #[test]
    fn an_object_key_is_encoded_segment_by_segment() {
        assert_eq!(encode_path("products/a1/01-photo.JPG"), "products/a1/01-photo.JPG");
        assert_eq!(encode_path("a b/c+d/e%f"), "a%20b/c%2Bd/e%25f");
        assert_eq!(encode_path("unreserved-_.~/x"), "unreserved-_.~/x");
        assert_eq!(encode_path("é/?#&="), "%C3%A9/%3F%23%26%3D");
        assert_eq!(encode_path("/lead//trail/"), "/lead//trail/");
    }
}
