//! The local X-Ray daemon: collects the segment documents the functions send (UDP, the
//! daemon's wire format) so a trace can be read back at `GET /_local/traces/{traceId}`.
//!
//! In AWS, Lambda records each invocation's segment; here the gateway does
//! ([`segment`]), and the functions' subsegments (every SDK call, every internal invoke) come
//! from the same code as in Lambda (`shop_core::trace`, `shop_aws::xray`).

use std::collections::VecDeque;
use std::net::UdpSocket;
use std::sync::{Mutex, OnceLock};

use serde_json::{Value, json};

/// The documents kept (the oldest go first).
const KEEP: usize = 100_000;

/// The process's collector (one per process: every local cloud of a test run shares it).
pub struct Collector {
    documents: Mutex<VecDeque<Value>>,
}

impl Collector {
    /// Starts the collector once per process and points `shop_core::trace` at it.
    pub fn global() -> &'static Collector {
        static COLLECTOR: OnceLock<&'static Collector> = OnceLock::new();
        COLLECTOR.get_or_init(|| {
            let collector: &'static Collector = Box::leak(Box::new(Collector { documents: Mutex::new(VecDeque::new()) }));
            match UdpSocket::bind("127.0.0.1:0") {
                Ok(socket) => {
                    if let Ok(address) = socket.local_addr() {
                        shop_core::trace::set_daemon_address(address.to_string());
                    }
                    std::thread::Builder::new()
                        .name("xray-collector".into())
                        .spawn(move || collector.receive(&socket))
                        .map(|_| ())
                        .unwrap_or_else(|e| tracing::warn!(error = %e, "x-ray collector not started"));
                }
                Err(e) => tracing::warn!(error = %e, "x-ray collector not started"),
            }
            collector
        })
    }

    fn receive(&self, socket: &UdpSocket) {
        let mut buffer = vec![0u8; 64 * 1024];
        while let Ok(n) = socket.recv(&mut buffer) {
            // `{"format":"json","version":1}\n{document}`
            let Some(document) = buffer[..n].splitn(2, |b| *b == b'\n').nth(1).and_then(|d| serde_json::from_slice::<Value>(d).ok()) else {
                continue;
            };
            let mut documents = self.documents.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if documents.len() == KEEP {
                documents.pop_front();
            }
            documents.push_back(document);
        }
    }

    /// Every document of one trace, in arrival order.
    pub fn trace(&self, trace_id: &str) -> Vec<Value> {
        let documents = self.documents.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        documents.iter().filter(|d| d["trace_id"] == trace_id).cloned().collect()
    }
}

/// The segment Lambda would record for one invocation of `function`.
pub fn segment(function: &str, id: &str, trace_id: &str, start: f64, method: &str, path: &str, status: u16) -> Value {
    let mut doc = json!({
        "name": function,
        "id": id,
        "trace_id": trace_id,
        "start_time": start,
        "end_time": shop_core::trace::now(),
        "origin": "AWS::Lambda::Function",
        "http": {"request": {"method": method, "url": path}, "response": {"status": status}},
    });
    if status >= 500 {
        doc["fault"] = json!(true);
    } else if status >= 400 {
        doc["error"] = json!(true);
    }
    doc
}
