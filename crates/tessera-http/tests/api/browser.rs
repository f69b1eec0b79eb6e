//! A real browser: two headless Chromium pages (Debian's chromium) sign in as two users, one
//! calls the other, and they open a WebRTC data channel through Tessera's signaling on loopback
//! and exchange a message each way. Chromium is driven over its DevTools protocol (a WebSocket)
//! and runs browser/call.js in each page.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use http::StatusCode;
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message as Frame;

use tessera_store::Backend;

use crate::support::TestApp;

const CLIENT: &str = include_str!("browser/call.js");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(tessera_chromium),
    ignore = "install chromium (apt-get install chromium) to run the browser test"
)]
async fn two_browsers_open_a_data_channel_through_the_signaling() {
    let t = TestApp::new(Backend::Sqlite).await;
    // Two people who share an event: its organizer and a ticket holder.
    let (org, holder) = (account(&t, "organizer").await, account(&t, "attendee").await);
    let org_token = login(&t, &org.0).await;
    let event =
        t.event(&org_token, json!({"name": "Call Night", "start_time": "2030-07-01T10:00:00Z"})).await;
    let r = t
        .post(
            &format!("/events/{event}/ticket-types"),
            Some(&org_token),
            json!({"name": "GA", "price": "0", "quota": 5}),
        )
        .await;
    let ga = r.body["ticket_type_id"].as_str().unwrap().to_string();
    let holder_token = login(&t, &holder.0).await;
    let r = t
        .post(
            &format!("/events/{event}/purchases"),
            Some(&holder_token),
            json!({"ticket_type_id": ga, "ticket_quantity": 1}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let addr = t.serve().await;

    let browser = Chromium::launch().await;
    let origin = format!("http://{addr}/health");
    let (caller, receiver) = (browser.page(&origin).await, browser.page(&origin).await);
    for page in [&caller, &receiver] {
        browser.eval(page, CLIENT).await;
    }
    let received = {
        let (browser, receiver, email) = (browser.clone(), receiver.clone(), holder.0.clone());
        tokio::spawn(
            async move { browser.eval(&receiver, &format!("receive({email:?}, 'password123')")).await },
        )
    };
    // The receiver's page is listening before the call is placed.
    for _ in 0..100 {
        if browser.eval(&receiver, "window.__ready === true").await == json!(true) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let place = format!("place({:?}, 'password123', {:?})", org.0, holder.1);
    let at_caller = browser.eval(&caller, &place).await;
    let at_receiver = received.await.unwrap();
    assert_eq!(at_caller, json!("pong from the receiver"), "caller's page: {at_caller}");
    assert_eq!(at_receiver, json!("hello from the caller"), "receiver's page: {at_receiver}");
    // The call is in both histories, answered and ended.
    let h = t.get("/calls", Some(&holder_token)).await;
    assert_eq!(h.body["items"][0]["status"], "ended", "{}", h.body);
    assert!(h.body["items"][0]["answered_at"].is_string());
}

/// Registers an account with a known password; its e-mail and id.
async fn account(t: &TestApp, role: &str) -> (String, String) {
    let email = format!("{role}-{}@example.com", uuid::Uuid::new_v4().simple());
    let r = t
        .post(
            "/auth/register",
            None,
            json!({"name": format!("A {role}"), "email": email, "password": "password123", "role": role}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    (email, r.body["user_id"].as_str().unwrap().to_string())
}

async fn login(t: &TestApp, email: &str) -> String {
    let r = t.post("/auth/login", None, json!({"email": email, "password": "password123"})).await;
    r.body["access_token"].as_str().unwrap().to_string()
}

/// Headless Chromium and a DevTools connection to it. Dropping the last handle kills it.
#[derive(Clone)]
pub struct Chromium(Arc<Inner>);

struct Inner {
    child: Mutex<std::process::Child>,
    _profile: tempfile::TempDir,
    next_id: AtomicU64,
    pending: Arc<Mutex<HashMap<u64, oneshot::Sender<Value>>>>,
    out: mpsc::UnboundedSender<String>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Ok(mut c) = self.child.lock() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A page's DevTools session.
#[derive(Clone)]
pub struct Page(String);

fn chromium_path() -> PathBuf {
    if let Some(p) = std::env::var_os("TESSERA_CHROMIUM") {
        return PathBuf::from(p);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .flat_map(|d| ["chromium", "chromium-browser"].map(|n| d.join(n)))
        .find(|p| p.is_file())
        .expect("chromium on PATH (apt-get install chromium)")
}

impl Chromium {
    pub async fn launch() -> Chromium {
        let profile = tempfile::tempdir().unwrap();
        let child = std::process::Command::new(chromium_path())
            .args([
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                // WebRTC between two pages on this machine: host candidates as addresses (not
                // mDNS names), loopback included.
                "--allow-loopback-in-peer-connection",
                "--disable-features=WebRtcHideLocalIpsWithMdns",
                "--remote-debugging-port=0",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        // Chromium writes the port it chose and the browser's DevTools path here.
        let file = profile.path().join("DevToolsActivePort");
        let mut text = String::new();
        for _ in 0..200 {
            if let Ok(t) = std::fs::read_to_string(&file)
                && t.lines().count() >= 2
            {
                text = t;
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let mut lines = text.lines();
        let (port, path) = (lines.next().expect("DevToolsActivePort"), lines.next().unwrap());
        let (ws, _) = tokio_tungstenite::connect_async(format!("ws://127.0.0.1:{port}{path}")).await.unwrap();
        let (mut sink, mut stream) = ws.split();
        let (out, mut rx) = mpsc::unbounded_channel::<String>();
        tokio::spawn(async move {
            while let Some(text) = rx.recv().await {
                if sink.send(Frame::Text(text.into())).await.is_err() {
                    return;
                }
            }
        });
        let pending: Arc<Mutex<HashMap<u64, oneshot::Sender<Value>>>> = Arc::default();
        let answers = pending.clone();
        tokio::spawn(async move {
            while let Some(Ok(frame)) = stream.next().await {
                let Frame::Text(t) = frame else { continue };
                let v: Value = serde_json::from_str(t.as_str()).unwrap_or_default();
                if let Some(id) = v["id"].as_u64()
                    && let Some(tx) = answers.lock().unwrap().remove(&id)
                {
                    let _ = tx.send(v);
                }
            }
        });
        Chromium(Arc::new(Inner {
            child: Mutex::new(child),
            _profile: profile,
            next_id: AtomicU64::new(1),
            pending,
            out,
        }))
    }

    /// Sends a DevTools command (to a page's session, or the browser) and waits for its answer.
    async fn command(&self, session: Option<&str>, method: &str, params: Value) -> Value {
        let id = self.0.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        self.0.pending.lock().unwrap().insert(id, tx);
        let mut msg = json!({"id": id, "method": method, "params": params});
        if let Some(s) = session {
            msg["sessionId"] = json!(s);
        }
        self.0.out.send(msg.to_string()).unwrap();
        let answer =
            tokio::time::timeout(Duration::from_secs(30), rx).await.expect("DevTools answers").unwrap();
        assert!(answer.get("error").is_none(), "{method}: {answer}");
        answer["result"].clone()
    }

    /// Opens a page at `url` and attaches to it.
    pub async fn page(&self, url: &str) -> Page {
        let target = self.command(None, "Target.createTarget", json!({"url": url})).await;
        let attached = self
            .command(None, "Target.attachToTarget", json!({"targetId": target["targetId"], "flatten": true}))
            .await;
        let page = Page(attached["sessionId"].as_str().unwrap().to_string());
        // Wait for the document to be there.
        for _ in 0..100 {
            if self.eval(&page, "document.readyState").await == json!("complete") {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        page
    }

    /// Opens a page in a browser context of its own (its own cookies: another person).
    pub async fn person(&self, url: &str) -> Page {
        let ctx = self.command(None, "Target.createBrowserContext", json!({})).await;
        let target = self
            .command(
                None,
                "Target.createTarget",
                json!({"url": url, "browserContextId": ctx["browserContextId"]}),
            )
            .await;
        let attached = self
            .command(None, "Target.attachToTarget", json!({"targetId": target["targetId"], "flatten": true}))
            .await;
        let page = Page(attached["sessionId"].as_str().unwrap().to_string());
        self.command(Some(&page.0), "Page.enable", json!({})).await;
        self.command(Some(&page.0), "Network.enable", json!({})).await;
        self.wait_for(&page, "document.readyState === 'complete'").await;
        page
    }

    /// Evaluates JavaScript; `None` when it throws or the page is between documents.
    pub async fn try_eval(&self, page: &Page, expression: &str) -> Option<Value> {
        let id = self.0.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        self.0.pending.lock().unwrap().insert(id, tx);
        let msg = json!({"id": id, "method": "Runtime.evaluate", "sessionId": page.0,
                         "params": {"expression": expression, "awaitPromise": true, "returnByValue": true}});
        self.0.out.send(msg.to_string()).unwrap();
        let answer = tokio::time::timeout(Duration::from_secs(30), rx).await.ok()?.ok()?;
        let r = answer.get("result")?;
        if r.get("exceptionDetails").is_some() {
            return None;
        }
        Some(r["result"]["value"].clone())
    }

    /// Waits (up to 20 s) until `condition` is true in the page.
    pub async fn wait_for(&self, page: &Page, condition: &str) {
        for _ in 0..400 {
            if self.try_eval(page, condition).await == Some(json!(true)) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let at = self.try_eval(page, "location.href + ' ' + document.body.innerText.slice(0, 2000)").await;
        panic!("waited in vain for {condition} at {at:?}");
    }

    /// Goes to `url` and waits for the page to load.
    pub async fn goto(&self, page: &Page, url: &str) {
        self.command(Some(&page.0), "Page.navigate", json!({"url": url})).await;
        self.wait_for(page, "document.readyState === 'complete'").await;
    }

    /// Saves a PNG of the page as `name` in the run's screenshot directory.
    pub async fn screenshot(&self, page: &Page, name: &str) -> std::path::PathBuf {
        use base64::Engine;
        let r = self
            .command(
                Some(&page.0),
                "Page.captureScreenshot",
                json!({"format": "png", "captureBeyondViewport": true}),
            )
            .await;
        let png = base64::engine::general_purpose::STANDARD.decode(r["data"].as_str().unwrap()).unwrap();
        let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).unwrap();
        path
    }

    /// Cuts the page's network (or gives it back).
    pub async fn offline(&self, page: &Page, offline: bool) {
        self.command(
            Some(&page.0),
            "Network.emulateNetworkConditions",
            json!({"offline": offline, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1}),
        )
        .await;
    }

    /// Sets a phone's viewport (or a desktop's).
    pub async fn viewport(&self, page: &Page, width: u32, height: u32, mobile: bool) {
        self.command(
            Some(&page.0),
            "Emulation.setDeviceMetricsOverride",
            json!({"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile}),
        )
        .await;
    }

    /// Runs axe-core in the page; its serious and critical violations ("id: target …").
    pub async fn axe(&self, page: &Page) -> Vec<String> {
        let source = std::str::from_utf8(tessera_http::web::assets::AXE).unwrap();
        self.command(Some(&page.0), "Runtime.evaluate", json!({"expression": source, "returnByValue": true}))
            .await;
        let v = self
            .eval(
                page,
                "axe.run(document, {resultTypes: ['violations']}).then(r => r.violations
                   .filter(v => v.impact === 'serious' || v.impact === 'critical')
                   .map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).join(', ')))",
            )
            .await;
        serde_json::from_value(v).unwrap()
    }

    /// Evaluates JavaScript in a page, awaiting a promise; its value, or a panic with the error.
    pub async fn eval(&self, page: &Page, expression: &str) -> Value {
        let r = self
            .command(
                Some(&page.0),
                "Runtime.evaluate",
                json!({"expression": expression, "awaitPromise": true, "returnByValue": true}),
            )
            .await;
        assert!(r.get("exceptionDetails").is_none(), "{expression}: {}", r["exceptionDetails"]);
        r["result"]["value"].clone()
    }
}
