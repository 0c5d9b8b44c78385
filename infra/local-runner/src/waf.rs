//! The template's WAF rate-based rules, emulated in front of the gateway.
//!
//! In AWS, `EdgeWebAcl` runs at CloudFront before API Gateway sees a request; here
//! [`Waf::check`] runs before route matching, on every request the gateway serves (not on the
//! runner's own `/_local/*`, health and docs routes). For each rate rule, in priority order, a
//! request its scope-down statement matches is counted against the client's address over the
//! rule's sliding window; while that count is over the limit the rule's action applies: a block
//! answers the rule's custom response (the template's 429 and body) or WAF's default 403.
//! Requests that were blocked are counted too, as in WAF, so a client that keeps hammering stays
//! blocked until it slows down. AWS managed rule groups are not emulated.
//!
//! The client is the TCP peer: the runner trusts no `X-Forwarded-For`, since nothing in front of
//! it adds one that a client could not forge (tests use distinct loopback addresses instead).

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::response::{IntoResponse, Response};
use http::{HeaderName, HeaderValue, StatusCode, header};
use sam_model::waf::{BlockResponse, RateAction, RateRule};

/// WAF's default block (CloudFront shows its own 403 page).
const DEFAULT_BLOCK_BODY: &str =
    "<html><head><title>403 Forbidden</title></head><body><h1>403 Forbidden</h1><p>Request blocked.</p></body></html>";

/// Sweep counters of clients that went quiet every this many checks.
const SWEEP_EVERY: u64 = 4096;

/// The emulated rate rules and their per-client counters.
#[derive(Debug, Default)]
pub struct Waf {
    rules: Vec<RateRule>,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// (rule index, client) → arrival times of the newest `limit + 1` counted requests: enough
    /// to know whether more than `limit` fell within the window.
    seen: BTreeMap<(usize, String), VecDeque<Instant>>,
    checks: u64,
}

impl Waf {
    /// No rules: every request passes (`SKYSHOP_LOCAL_THROTTLE=off`).
    pub fn disabled() -> Self {
        Self::default()
    }

    /// The template's rules, with limits and windows multiplied by `scale` (1.0: as in AWS). A
    /// scale below 1 keeps each rule's rate but trips and recovers sooner: 0.02 turns 100
    /// requests per 300 s into 2 per 6 s. Limits round up and stay at least 1.
    pub fn new(rules: Vec<RateRule>, scale: f64) -> Self {
        let scale = if scale.is_finite() && scale > 0.0 { scale } else { 1.0 };
        let rules = rules
            .into_iter()
            .map(|mut rule| {
                rule.limit = ((rule.limit as f64 * scale).ceil() as u64).max(1);
                rule.window = rule.window.mul_f64(scale).max(Duration::from_millis(1));
                rule
            })
            .collect();
        Self { rules, state: Mutex::default() }
    }

    /// The rules in force, as they apply here (scaled).
    pub fn rules(&self) -> &[RateRule] {
        &self.rules
    }

    /// Counts a request from `client` for `path` (the URI path as sent) and answers the block
    /// response when a rule blocks it.
    pub fn check(&self, client: &str, path: &str) -> Option<Response> {
        self.check_at(client, path, Instant::now())
    }

    fn check_at(&self, client: &str, path: &str, now: Instant) -> Option<Response> {
        if self.rules.is_empty() {
            return None;
        }
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.checks += 1;
        if state.checks.is_multiple_of(SWEEP_EVERY) {
            let rules = &self.rules;
            state.seen.retain(|(rule, _), times| times.back().is_some_and(|last| now.duration_since(*last) < rules[*rule].window));
        }
        for (index, rule) in self.rules.iter().enumerate() {
            if !rule.scope.as_ref().is_none_or(|scope| scope.matches(path)) {
                continue;
            }
            let times = state.seen.entry((index, client.to_owned())).or_default();
            while times.front().is_some_and(|t| now.duration_since(*t) >= rule.window) {
                times.pop_front();
            }
            times.push_back(now);
            while times.len() as u64 > rule.limit + 1 {
                times.pop_front();
            }
            if times.len() as u64 > rule.limit {
                match &rule.action {
                    RateAction::Block(block) => {
                        tracing::info!(rule = %rule.name, client, path, "blocked by the emulated WAF");
                        return Some(block_response(block));
                    }
                    RateAction::Count => tracing::info!(rule = %rule.name, client, path, "over a WAF count rule's limit"),
                }
            }
        }
        None
    }
}

fn block_response(block: &BlockResponse) -> Response {
    let status = StatusCode::from_u16(block.status).unwrap_or(StatusCode::FORBIDDEN);
    let (content_type, body) = block.body.clone().unwrap_or_else(|| ("text/html".into(), DEFAULT_BLOCK_BODY.into()));
    let mut response = (status, body).into_response();
    if let Ok(value) = HeaderValue::from_str(&content_type) {
        response.headers_mut().insert(header::CONTENT_TYPE, value);
    }
    for (name, value) in &block.headers {
        if let (Ok(name), Ok(value)) = (HeaderName::try_from(name.as_str()), HeaderValue::from_str(value)) {
            response.headers_mut().insert(name, value);
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use sam_model::waf::{Constraint, Scope, Transform};

    use super::*;

    fn rule(name: &str, limit: u64, window_secs: u64, scope: Option<Scope>, action: RateAction) -> RateRule {
        RateRule { web_acl: "Acl".into(), name: name.into(), priority: 0, limit, window: Duration::from_secs(window_secs), scope, action }
    }

    fn auth_scope() -> Option<Scope> {
        Some(Scope::UriPath { constraint: Constraint::StartsWith, search: "/api/auth/".into(), transforms: vec![Transform::NormalizePath] })
    }

    fn too_many() -> RateAction {
        RateAction::Block(BlockResponse {
            status: 429,
            body: Some(("application/json".into(), r#"{"message":"Too Many Requests"}"#.into())),
            headers: vec![("retry-after".into(), "60".into())],
        })
    }

    #[test]
    fn a_client_over_the_limit_is_blocked_until_its_window_has_passed() {
        let waf = Waf::new(vec![rule("auth", 3, 10, auth_scope(), too_many())], 1.0);
        let t0 = Instant::now();
        for i in 0..3 {
            assert!(waf.check_at("10.0.0.1", "/api/auth/login", t0 + Duration::from_secs(i)).is_none(), "request {i}");
        }
        let blocked = waf.check_at("10.0.0.1", "/api/auth/login", t0 + Duration::from_secs(3)).expect("the 4th is blocked");
        assert_eq!(blocked.status(), 429);
        assert_eq!(blocked.headers()["retry-after"], "60");
        assert!(waf.check_at("10.0.0.2", "/api/auth/login", t0 + Duration::from_secs(3)).is_none(), "another client is not");
        assert!(waf.check_at("10.0.0.1", "/api/products", t0 + Duration::from_secs(3)).is_none(), "outside the scope");
        // Blocked requests count: hammering keeps it blocked; a quiet window lets it back in.
        assert!(waf.check_at("10.0.0.1", "/api/auth/login", t0 + Duration::from_secs(9)).is_some());
        assert!(waf.check_at("10.0.0.1", "/api/auth/login", t0 + Duration::from_secs(30)).is_none());
    }

    #[test]
    fn without_a_custom_response_the_block_is_wafs_403_and_count_rules_never_block() {
        let waf = Waf::new(
            vec![rule("count", 1, 10, None, RateAction::Count), rule("block", 2, 10, None, RateAction::Block(BlockResponse::default()))],
            1.0,
        );
        let t0 = Instant::now();
        assert!(waf.check_at("c", "/x", t0).is_none());
        assert!(waf.check_at("c", "/x", t0).is_none(), "over the count rule only");
        let blocked = waf.check_at("c", "/x", t0).expect("over the block rule");
        assert_eq!(blocked.status(), 403);
        assert_eq!(blocked.headers()[header::CONTENT_TYPE], "text/html");
    }

    #[test]
    fn scaling_keeps_the_rate_and_shortens_the_window() {
        let waf = Waf::new(vec![rule("auth", 100, 300, None, too_many()), rule("api", 2000, 300, None, too_many())], 0.02);
        let scaled: Vec<(u64, Duration)> = waf.rules().iter().map(|r| (r.limit, r.window)).collect();
        assert_eq!(scaled, [(2, Duration::from_secs(6)), (40, Duration::from_secs(6))]);
        assert_eq!(Waf::new(vec![rule("tiny", 10, 60, None, too_many())], 0.001).rules()[0].limit, 1, "never below 1");
        assert!(Waf::disabled().check("c", "/api/auth/login").is_none());
    }
}
