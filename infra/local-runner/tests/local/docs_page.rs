//! `/api/docs` in a real browser: Debian's Chromium, headless, driven over the DevTools
//! protocol. The page must render every route group and operation of `/api/openapi.json`, and
//! "Try it out" must call the local API with the bearer token given in "Authorize".

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::{self, register_buyer};

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A headless Chromium with one page, killed when dropped.
struct Browser {
    _child: tokio::process::Child,
    _profile: TempDir,
    page: Socket,
    next_id: u64,
}

/// A directory removed when dropped (Chromium's profile).
struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Browser {
    async fn launch() -> Self {
        let binary = std::env::var("SKYSHOP_CHROMIUM").unwrap_or_else(|_| "chromium".into());
        let profile = TempDir(std::env::temp_dir().join(shop_testkit::unique("skyshop-chromium-")));
        let mut child = tokio::process::Command::new(&binary)
            .args([
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--remote-debugging-port=0",
            ])
            .arg(format!("--user-data-dir={}", profile.0.display()))
            .arg("about:blank")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("{binary}: {e} (scripts/test installs Debian's chromium package and sets SKYSHOP_CHROMIUM)"));
        // "DevTools listening on ws://127.0.0.1:<port>/devtools/browser/<id>"
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let browser_ws = tokio::time::timeout(Duration::from_secs(30), async {
            while let Some(line) = lines.next_line().await.unwrap() {
                if let Some(at) = line.find("ws://") {
                    return line[at..].trim().to_owned();
                }
            }
            panic!("chromium exited without a DevTools address");
        })
        .await
        .expect("chromium announces its DevTools address within 30 s");
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let http_base = browser_ws.trim_start_matches("ws://").split('/').next().unwrap().to_owned();
        let targets: Value = reqwest::get(format!("http://{http_base}/json/list")).await.unwrap().json().await.unwrap();
        let page_ws = targets.as_array().unwrap().iter().find(|t| t["type"] == "page").expect("a page target")["webSocketDebuggerUrl"]
            .as_str()
            .unwrap()
            .to_owned();
        let (page, _) = tokio_tungstenite::connect_async(page_ws).await.unwrap();
        Self { _child: child, _profile: profile, page, next_id: 0 }
    }

    /// Sends one DevTools command and waits for its answer (events in between are skipped).
    async fn command(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        self.page.send(Message::text(json!({"id": id, "method": method, "params": params}).to_string())).await.unwrap();
        while let Some(message) = self.page.next().await {
            let Message::Text(text) = message.unwrap() else { continue };
            let answer: Value = serde_json::from_str(&text).unwrap();
            if answer["id"] == id {
                assert!(answer.get("error").is_none(), "{method}: {answer}");
                return answer["result"].clone();
            }
        }
        panic!("the DevTools connection closed");
    }

    /// Evaluates `expression` in the page (promises awaited) and returns its JSON value.
    async fn eval(&mut self, expression: &str) -> Value {
        let result = self.command("Runtime.evaluate", json!({"expression": expression, "awaitPromise": true, "returnByValue": true})).await;
        assert!(result.get("exceptionDetails").is_none(), "{expression}: {result}");
        result["result"]["value"].clone()
    }

    /// Evaluates `expression` until it is truthy; fails after 30 s.
    async fn wait_for(&mut self, what: &str, expression: &str) -> Value {
        let started = Instant::now();
        loop {
            let value = self.eval(expression).await;
            if !(value.is_null() || value == false || value == 0 || value == "" || value == json!([])) {
                return value;
            }
            assert!(started.elapsed() < Duration::from_secs(30), "{what}: not after 30 s");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// The route groups (first tag of each operation) and the operation count of the document.
fn groups_and_operations(doc: &Value) -> (BTreeSet<String>, usize) {
    let mut tags = BTreeSet::new();
    let mut operations = 0;
    for item in doc["paths"].as_object().unwrap().values() {
        for (method, op) in item.as_object().unwrap() {
            if ["get", "put", "post", "delete", "patch", "head", "options", "trace"].contains(&method.as_str()) {
                operations += 1;
                tags.insert(op["tags"][0].as_str().expect("every operation has a tag").to_owned());
            }
        }
    }
    (tags, operations)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_api_reference_renders_every_route_group_and_tries_a_request_with_the_bearer_token() {
    let app = helpers::start(false).await;
    let doc = app.call("GET", "/api/openapi.json", None, None).await.body;
    let (tags, operations) = groups_and_operations(&doc);
    assert!(tags.len() >= 6 && operations >= 60, "{tags:?} {operations}");
    let (registered, email) = register_buyer(&app).await;
    let token = registered["accessToken"].as_str().expect("registration answers an access token").to_owned();

    let mut browser = Browser::launch().await;
    browser.command("Page.enable", json!({})).await;
    browser.command("Page.navigate", json!({"url": format!("{}/api/docs", app.base)})).await;

    // Every route group is rendered, expanded (docExpansion "list"), with all its operations.
    let rendered = browser
        .wait_for(
            "Swagger UI renders the operations",
            &format!(
                "document.querySelectorAll('.opblock').length >= {operations} && \
                 [...document.querySelectorAll('.opblock-tag-section h3.opblock-tag')].map(h => h.dataset.tag)"
            ),
        )
        .await;
    let rendered: BTreeSet<String> = serde_json::from_value(rendered).unwrap();
    assert_eq!(rendered, tags, "every route group of /api/openapi.json is on the page");
    let blocks = browser.eval("document.querySelectorAll('.opblock').length").await;
    assert_eq!(blocks, operations, "one block per operation");
    let title = browser.eval("document.querySelector('.info .title').textContent").await;
    assert!(title.as_str().unwrap().contains("Skyshop API"), "{title}");

    // Authorize: the bearer scheme's dialog, filled as a user would (React needs the native
    // setter and an input event to see a value).
    browser.eval("document.querySelector('.auth-wrapper .authorize').click()").await;
    browser.wait_for("the authorize dialog", "!!document.querySelector('.auth-container input')").await;
    browser
        .eval(&format!(
            "(() => {{ const input = document.querySelector('.auth-container input'); \
               Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value').set.call(input, {token:?}); \
               input.dispatchEvent(new Event('input', {{bubbles: true}})); \
               document.querySelector('.auth-btn-wrapper .authorize').click(); return true; }})()",
            token = token
        ))
        .await;
    browser.wait_for("the scheme is authorized", "!!document.querySelector('.auth-btn-wrapper .btn-done, .auth-container .logout')").await;
    browser.eval("document.querySelector('.auth-btn-wrapper .btn-done').click()").await;

    // Try it out: GET /api/users/me, executed from the page against this server.
    let block = "[...document.querySelectorAll('.opblock-get')].find(b => b.querySelector('.opblock-summary-path')?.dataset.path === '/api/users/me')";
    browser.eval(&format!("{block}.querySelector('.opblock-summary-control').click()")).await;
    browser.wait_for("the operation opens", &format!("!!{block}.querySelector('.try-out__btn')")).await;
    browser.eval(&format!("{block}.querySelector('.try-out__btn').click()")).await;
    browser.wait_for("try-it-out mode", &format!("!!{block}.querySelector('.execute')")).await;
    browser.eval(&format!("{block}.querySelector('.execute').click()")).await;
    let status = browser
        .wait_for(
            "the live response",
            &format!("{block}.querySelector('.live-responses-table tr.response .response-col_status')?.textContent.trim()"),
        )
        .await;
    assert_eq!(status, "200", "the request succeeded with the bearer token");
    let body =
        browser.eval(&format!("{block}.querySelector('.live-responses-table tr.response .response-col_description').textContent")).await;
    assert!(body.as_str().unwrap().contains(&email), "the live response is this user's profile: {body}");
    let curl = browser.eval(&format!("{block}.querySelector('.curl-command').textContent")).await;
    assert!(curl.as_str().unwrap().contains(&format!("Authorization: Bearer {token}")), "{curl}");
    assert!(curl.as_str().unwrap().contains(&format!("{}/api/users/me", app.base)), "sent to the local API: {curl}");

    // The assets are the installed package's, named files only.
    let asset = app.http.get(format!("{}/api/docs/swagger-ui-bundle.js", app.base)).send().await.unwrap();
    assert_eq!(asset.status(), 200);
    assert_eq!(asset.headers()["content-type"], "text/javascript; charset=utf-8");
    for other in ["package.json", "..%2F..%2Fetc%2Fpasswd", "index.html"] {
        let r = app.http.get(format!("{}/api/docs/{other}", app.base)).send().await.unwrap();
        assert_eq!(r.status(), 404, "{other}");
    }
}
