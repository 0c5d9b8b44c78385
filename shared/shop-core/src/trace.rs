//! AWS X-Ray: the trace context of the work in progress, and subsegments sent to the X-Ray
//! daemon.
//!
//! Lambda (`Tracing: Active`) records each invocation as a segment and hands the function its
//! trace header (`Root=…;Parent=…;Sampled=1`): in the invocation's context and, for a function
//! serving one event at a time, in `_X_AMZN_TRACE_ID`. What the function itself calls is made
//! visible as **subsegments**: documents sent over UDP to the daemon at
//! `AWS_XRAY_DAEMON_ADDRESS`, each naming its trace and parent. `shop_aws::xray` records every
//! AWS SDK call this way (an internal invoke is one: Lambda `Invoke`) and passes a header whose
//! `Parent` is that subsegment, so the next function's segment hangs under it — one checkout is
//! one trace through every function it touches.
//!
//! [`scope`] sets the context of a request or event (`shop_core::http::finish` does it for
//! every request from the Lambda context, else the `X-Amzn-Trace-Id` header); [`current`] reads
//! it, falling back to `_X_AMZN_TRACE_ID`. Without a daemon address nothing is sent.

use std::net::UdpSocket;
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

/// The HTTP header that carries a trace context between services.
pub const HEADER: &str = "x-amzn-trace-id";

/// The environment variable Lambda sets to the daemon's address (`ip:port`, or
/// `tcp:ip:port udp:ip:port`).
pub const DAEMON_ENV: &str = "AWS_XRAY_DAEMON_ADDRESS";

/// A parsed trace header: `Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceHeader {
    pub root: String,
    pub parent: Option<String>,
    pub sampled: Option<bool>,
}

impl TraceHeader {
    /// Parses a header value; `None` without a well-formed `Root`.
    pub fn parse(value: &str) -> Option<Self> {
        let (mut root, mut parent, mut sampled) = (None, None, None);
        for part in value.split(';') {
            match part.trim().split_once('=') {
                Some(("Root", v)) if valid_root(v) => root = Some(v.to_owned()),
                Some(("Parent", v)) if v.len() == 16 && v.bytes().all(|b| b.is_ascii_hexdigit()) => parent = Some(v.to_owned()),
                Some(("Sampled", "1")) => sampled = Some(true),
                Some(("Sampled", "0")) => sampled = Some(false),
                _ => {}
            }
        }
        Some(Self { root: root?, parent, sampled })
    }

    /// A new sampled trace (what the entry point of a request starts when none came with it).
    pub fn new_root() -> Self {
        Self { root: new_trace_id(), parent: None, sampled: Some(true) }
    }

    pub fn is_sampled(&self) -> bool {
        self.sampled == Some(true)
    }

    /// This context with `parent` as the parent of what comes next.
    pub fn child_of(&self, parent: &str) -> Self {
        Self { root: self.root.clone(), parent: Some(parent.to_owned()), sampled: self.sampled }
    }

    /// The header value.
    pub fn to_header(&self) -> String {
        let mut value = format!("Root={}", self.root);
        if let Some(parent) = &self.parent {
            value.push_str(";Parent=");
            value.push_str(parent);
        }
        match self.sampled {
            Some(true) => value.push_str(";Sampled=1"),
            Some(false) => value.push_str(";Sampled=0"),
            None => {}
        }
        value
    }
}

/// `1-<8 hex digits of epoch seconds>-<24 hex digits>`.
fn valid_root(v: &str) -> bool {
    let mut parts = v.split('-');
    matches!(
        (parts.next(), parts.next(), parts.next(), parts.next()),
        (Some("1"), Some(time), Some(random), None)
            if time.len() == 8 && random.len() == 24 && time.bytes().chain(random.bytes()).all(|b| b.is_ascii_hexdigit())
    )
}

/// A new X-Ray trace id for now.
pub fn new_trace_id() -> String {
    let seconds = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or_default();
    format!("1-{:08x}-{:024x}", seconds as u32, fastrand::u128(..) & ((1u128 << 96) - 1))
}

/// A new segment or subsegment id (16 hex digits).
pub fn new_id() -> String {
    format!("{:016x}", fastrand::u64(1..))
}

tokio::task_local! {
    static CURRENT: Option<TraceHeader>;
}

/// Runs `work` with `header` as its trace context.
pub async fn scope<F: std::future::Future>(header: Option<TraceHeader>, work: F) -> F::Output {
    CURRENT.scope(header, work).await
}

/// The trace context of the work in progress: the one [`scope`] set, else `_X_AMZN_TRACE_ID`.
pub fn current() -> Option<TraceHeader> {
    match CURRENT.try_with(Clone::clone) {
        Ok(Some(header)) => Some(header),
        _ => std::env::var("_X_AMZN_TRACE_ID").ok().as_deref().and_then(TraceHeader::parse),
    }
}

/// Seconds since the epoch with microseconds, as X-Ray wants times.
pub fn now() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or_default()
}

/// One subsegment, begun under the current sampled trace (or inert when there is none).
#[derive(Debug)]
pub struct Subsegment {
    context: Option<TraceHeader>,
    id: String,
    start: f64,
}

impl Subsegment {
    /// Starts a subsegment under the current context, if that context is sampled.
    pub fn begin() -> Self {
        Self::begin_under(current())
    }

    /// Starts a subsegment under `context`, if it is sampled.
    pub fn begin_under(context: Option<TraceHeader>) -> Self {
        Self { context: context.filter(TraceHeader::is_sampled), id: new_id(), start: now() }
    }

    /// Whether this subsegment will be sent (its trace is sampled): callers describe the call
    /// only then.
    pub fn is_recording(&self) -> bool {
        self.context.as_ref().is_some_and(|c| c.parent.is_some())
    }

    /// The header to send downstream: this subsegment as the parent (or the context unchanged
    /// when not sampled; `None` without any context).
    pub fn downstream_header(&self) -> Option<TraceHeader> {
        match &self.context {
            Some(context) => Some(context.child_of(&self.id)),
            None => current(),
        }
    }

    /// Ends the subsegment: `fields` (name, namespace, aws, http, error/fault/throttle) are
    /// merged into the document, which goes to the daemon.
    pub fn end(self, fields: Value) {
        let Some(context) = &self.context else { return };
        let Some(parent) = &context.parent else { return };
        let mut document = json!({
            "type": "subsegment",
            "id": self.id,
            "trace_id": context.root,
            "parent_id": parent,
            "start_time": self.start,
            "end_time": now(),
        });
        if let (Some(doc), Value::Object(extra)) = (document.as_object_mut(), fields) {
            doc.extend(extra);
        }
        send(&document);
    }
}

static DAEMON_OVERRIDE: OnceLock<String> = OnceLock::new();

/// Sends documents to `address` instead of `AWS_XRAY_DAEMON_ADDRESS` (the local runner's
/// collector). Only before the first document is sent; later calls change nothing.
pub fn set_daemon_address(address: String) {
    let _ = DAEMON_OVERRIDE.set(address);
}

/// Where documents go: the daemon's UDP address, read once.
fn daemon() -> Option<&'static (UdpSocket, String)> {
    static DAEMON: OnceLock<Option<(UdpSocket, String)>> = OnceLock::new();
    DAEMON
        .get_or_init(|| {
            let address = DAEMON_OVERRIDE.get().cloned().or_else(|| std::env::var(DAEMON_ENV).ok())?;
            // `tcp:127.0.0.1:2000 udp:127.0.0.2:2001` or just `127.0.0.1:2000`.
            let udp = address.split_whitespace().find_map(|p| p.strip_prefix("udp:")).unwrap_or(address.trim()).to_owned();
            let socket = UdpSocket::bind("0.0.0.0:0").ok()?;
            socket.set_nonblocking(true).ok()?;
            Some((socket, udp))
        })
        .as_ref()
}

/// Sends one segment document to the daemon (fire and forget: a lost datagram loses a
/// subsegment, never a request).
pub fn send(document: &Value) {
    let Some((socket, address)) = daemon() else { return };
    let datagram = format!("{{\"format\":\"json\",\"version\":1}}\n{document}");
    if let Err(e) = socket.send_to(datagram.as_bytes(), address.as_str()) {
        tracing::debug!(error = %e, "x-ray document not sent");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_parse_and_print_as_x_ray_writes_them() {
        let h = TraceHeader::parse("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1").unwrap();
        assert_eq!(h.root, "1-5759e988-bd862e3fe1be46a994272793");
        assert_eq!(h.parent.as_deref(), Some("53995c3f42cd8ad8"));
        assert!(h.is_sampled());
        assert_eq!(h.to_header(), "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1");
        let unsampled = TraceHeader::parse("Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=0;Lineage=a:1").unwrap();
        assert!(!unsampled.is_sampled());
        assert_eq!(unsampled.to_header(), "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=0");
        for bad in [
            "",
            "Root=2-5759e988-bd862e3fe1be46a994272793",
            "Root=1-5759e98-bd862e3fe1be46a994272793",
            "Parent=53995c3f42cd8ad8",
            "Root=1-zzzzzzzz-bd862e3fe1be46a994272793",
        ] {
            assert_eq!(TraceHeader::parse(bad), None, "{bad}");
        }
        let fresh = TraceHeader::new_root();
        assert_eq!(TraceHeader::parse(&fresh.to_header()), Some(fresh));
    }

    #[tokio::test]
    async fn the_scope_is_the_current_context_and_children_name_their_parent() {
        let h = TraceHeader::parse("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1").unwrap();
        let inside = scope(Some(h.clone()), async {
            let sub = Subsegment::begin();
            (current(), sub.downstream_header())
        })
        .await;
        assert_eq!(inside.0, Some(h.clone()));
        let downstream = inside.1.unwrap();
        assert_eq!(downstream.root, h.root);
        assert_ne!(downstream.parent, h.parent, "the subsegment is the next parent");
        let unsampled = TraceHeader { sampled: Some(false), ..h };
        let passed_on = scope(Some(unsampled.clone()), async { Subsegment::begin().downstream_header() }).await;
        assert_eq!(passed_on, Some(unsampled), "an unsampled context is passed on unchanged");
    }
}
