//! `GET /_local/health`: 200 only when every stand-in answers, else 503 naming what is down.
//! (The API's own `/api/health` and `/api/health/ready` are the template's health function's,
//! routed like every other route.)

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// What the health check probes.
#[derive(Clone)]
pub struct Probes {
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub moto_url: String,
    pub http: reqwest::Client,
    pub postgres: String,
    pub redis: String,
}

async fn timed<F: std::future::Future<Output = Result<(), String>>>(f: F) -> Value {
    let started = Instant::now();
    let result = tokio::time::timeout(Duration::from_secs(2), f).await.unwrap_or_else(|_| Err("timed out".into()));
    let ms = (started.elapsed().as_secs_f64() * 1000.0 * 10.0).round() / 10.0;
    match result {
        Ok(()) => json!({"status": "up", "latencyMs": ms}),
        Err(e) => json!({"status": "down", "error": e, "latencyMs": ms}),
    }
}

impl Probes {
    /// Probes every stand-in concurrently. Returns (all up, body).
    pub async fn check(&self) -> (bool, Value) {
        let (dynamodb, sqs, moto, postgres, redis) = tokio::join!(
            timed(async { self.dynamodb.list_tables().limit(1).send().await.map(|_| ()).map_err(|e| format!("{e}")) }),
            timed(async { self.sqs.list_queues().max_results(1).send().await.map(|_| ()).map_err(|e| format!("{e}")) }),
            timed(async {
                let r = self.http.get(format!("{}/moto-api/", self.moto_url)).send().await.map_err(|e| e.to_string())?;
                if r.status().is_success() { Ok(()) } else { Err(format!("HTTP {}", r.status())) }
            }),
            timed(tcp(&self.postgres, None)),
            timed(tcp(&self.redis, Some((b"PING\r\n", b"+PONG")))),
        );
        let checks = json!({"dynamodb": dynamodb, "sqs": sqs, "ses-s3-secrets (moto)": moto, "postgres": postgres, "redis": redis});
        let down: Vec<String> =
            checks.as_object().into_iter().flatten().filter(|(_, v)| v["status"] != "up").map(|(k, _)| k.clone()).collect();
        let ok = down.is_empty();
        let body = json!({"status": if ok { "ok" } else { "unavailable" }, "down": down, "checks": checks, "service": "skyshop-local"});
        (ok, body)
    }
}

async fn tcp(addr: &str, exchange: Option<(&[u8], &[u8])>) -> Result<(), String> {
    let mut stream = tokio::net::TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    if let Some((send, expect)) = exchange {
        stream.write_all(send).await.map_err(|e| e.to_string())?;
        let mut buf = [0u8; 16];
        let n = stream.read(&mut buf).await.map_err(|e| e.to_string())?;
        if !buf[..n].starts_with(expect) {
            return Err(format!("unexpected answer {:?}", String::from_utf8_lossy(&buf[..n])));
        }
    }
    Ok(())
}
