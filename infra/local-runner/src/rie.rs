//! A Lambda Runtime API emulator: runs a real function binary (the `bootstrap` Lambda runs)
//! and feeds it events, so tests and benchmarks exercise the actual `lambda_http` /
//! `lambda_runtime` entry point.
//!
//! Implements `GET /2018-06-01/runtime/invocation/next`, `POST .../{id}/response`,
//! `POST .../{id}/error` and `POST /2018-06-01/runtime/init/error`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http::StatusCode;
use serde_json::Value;
use tokio::sync::{Mutex, mpsc, oneshot};

type Pending = Arc<Mutex<HashMap<String, oneshot::Sender<Result<Value, Value>>>>>;

struct Shared {
    events: Mutex<mpsc::Receiver<(String, Value)>>,
    pending: Pending,
    first_next: Mutex<Option<oneshot::Sender<Instant>>>,
}

/// A running emulator with one function process attached.
pub struct Rie {
    pub addr: SocketAddr,
    sender: mpsc::Sender<(String, Value)>,
    pending: Pending,
    child: Option<tokio::process::Child>,
    ready: Option<oneshot::Receiver<Instant>>,
    started: Instant,
}

#[derive(Debug, thiserror::Error)]
pub enum RieError {
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    #[error("the function did not answer in time")]
    Timeout,
    #[error("the function process went away")]
    Gone,
}

impl Rie {
    /// Starts the emulator and spawns `binary` against it with `env`.
    pub async fn spawn(binary: &Path, env: &[(String, String)]) -> Result<Self, RieError> {
        let (sender, receiver) = mpsc::channel(16);
        let (ready_tx, ready_rx) = oneshot::channel();
        let shared = Arc::new(Shared { events: Mutex::new(receiver), pending: Arc::default(), first_next: Mutex::new(Some(ready_tx)) });
        let pending = shared.pending.clone();
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route("/2018-06-01/runtime/invocation/{id}/response", post(respond))
            .route("/2018-06-01/runtime/invocation/{id}/error", post(fail))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(shared);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        let started = Instant::now();
        let name = binary.file_name().and_then(|n| n.to_str()).unwrap_or("function").to_owned();
        let child = tokio::process::Command::new(binary)
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
            .env("AWS_LAMBDA_FUNCTION_NAME", &name)
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}"))
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "local")
            .env("RUST_LOG", std::env::var("RIE_RUST_LOG").unwrap_or_else(|_| "warn".into()))
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()?;
        Ok(Self { addr, sender, pending, child: Some(child), ready: Some(ready_rx), started })
    }

    /// Time from process start until the function first asked for an event (its init time).
    pub async fn wait_ready(&mut self, timeout: Duration) -> Result<Duration, RieError> {
        let ready = self.ready.take().ok_or(RieError::Gone)?;
        let at = tokio::time::timeout(timeout, ready).await.map_err(|_| RieError::Timeout)?.map_err(|_| RieError::Gone)?;
        Ok(at.duration_since(self.started))
    }

    /// Sends one event; returns the function's response, or its error document.
    pub async fn invoke(&self, event: Value, timeout: Duration) -> Result<Result<Value, Value>, RieError> {
        let id = uuid::Uuid::now_v7().to_string();
        let (tx, rx) = oneshot::channel();
        self.pending.lock().await.insert(id.clone(), tx);
        self.sender.send((id, event)).await.map_err(|_| RieError::Gone)?;
        tokio::time::timeout(timeout, rx).await.map_err(|_| RieError::Timeout)?.map_err(|_| RieError::Gone)
    }

    /// When the process was started.
    pub fn started(&self) -> Instant {
        self.started
    }

    /// The process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().and_then(tokio::process::Child::id)
    }

    pub async fn stop(mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill().await;
        }
    }
}

async fn next(State(shared): State<Arc<Shared>>) -> Response {
    if let Some(tx) = shared.first_next.lock().await.take() {
        let _ = tx.send(Instant::now());
    }
    let Some((id, event)) = shared.events.lock().await.recv().await else {
        return StatusCode::GONE.into_response();
    };
    let deadline = (std::time::SystemTime::now() + Duration::from_secs(30))
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or_default();
    (
        [
            ("lambda-runtime-aws-request-id", id.clone()),
            ("lambda-runtime-deadline-ms", deadline.to_string()),
            ("lambda-runtime-invoked-function-arn", "arn:aws:lambda:us-east-1:123456789012:function:local".to_owned()),
            ("lambda-runtime-trace-id", format!("Root=1-{}", &id[..8])),
            ("content-type", "application/json".to_owned()),
        ],
        event.to_string(),
    )
        .into_response()
}

async fn respond(State(shared): State<Arc<Shared>>, UrlPath(id): UrlPath<String>, body: Bytes) -> StatusCode {
    if let Some(tx) = shared.pending.lock().await.remove(&id) {
        let _ = tx.send(Ok(serde_json::from_slice(&body).unwrap_or(Value::Null)));
    }
    StatusCode::ACCEPTED
}

async fn fail(State(shared): State<Arc<Shared>>, UrlPath(id): UrlPath<String>, body: Bytes) -> StatusCode {
    if let Some(tx) = shared.pending.lock().await.remove(&id) {
        let _ = tx.send(Err(serde_json::from_slice(&body).unwrap_or(Value::Null)));
    }
    StatusCode::ACCEPTED
}

async fn init_error(body: Bytes) -> StatusCode {
    tracing::error!(error = %String::from_utf8_lossy(&body), "function init failed");
    StatusCode::ACCEPTED
}
