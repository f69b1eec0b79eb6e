//! `TestApp`: a fresh database, the real router called in-process with real HTTP types (the path
//! Lambda takes), a controllable clock, and helpers to make users of each role.

use std::sync::{Arc, Mutex, OnceLock};
use tessera_domain::id::UserId;
use tessera_domain::records::{User as UserRecord, UserChanges};

use axum::Router;
use axum::body::Body;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use time::OffsetDateTime;
use tower::ServiceExt;
use uuid::Uuid;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tessera_app::{App, AppConfig, Clock, RateLimits};
use tessera_http::{AppState, Shared};
use tessera_store::Backend;
use tessera_store::testing::{TestDb, test_db};

/// The process-wide Prometheus recorder (metrics has one global recorder per process).
fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| PrometheusBuilder::new().install_recorder().unwrap()).clone()
}

/// The metrics token the test apps accept.
pub const METRICS_TOKEN: &str = "test-metrics-token-0123456789";

/// A clock that tests move by hand.
#[derive(Debug)]
pub struct TestClock(Mutex<OffsetDateTime>);

impl TestClock {
    pub fn advance(&self, secs: i64) {
        if let Ok(mut t) = self.0.lock() {
            *t += time::Duration::seconds(secs);
        }
    }
}

impl Clock for TestClock {
    fn now(&self) -> OffsetDateTime {
        self.0.lock().map(|t| *t).unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }
}

pub struct TestApp {
    pub app: App,
    pub clock: Arc<TestClock>,
    router: Router,
    /// The test's database, for reading what a request wrote (the store, below the app).
    pub db: TestDb,
    /// Where e-mail goes when the test names no SMTP server or outbox of its own.
    pub outbox: tempfile::TempDir,
    /// Where uploaded files go when the test names no directory of its own.
    pub files: tempfile::TempDir,
}

/// A registered, signed-in account.
#[derive(Debug, Clone)]
pub struct User {
    pub id: Uuid,
    /// An access token (valid for 15 minutes of the test clock).
    pub token: String,
}

/// A seated event made by a fresh organizer.
#[derive(Debug, Clone)]
pub struct SeatedEvent {
    pub id: Uuid,
    pub organizer_token: String,
}

pub struct Res {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Res {
    /// The `field` names in a problem's `errors`.
    pub fn error_fields(&self) -> Vec<String> {
        self.body["errors"]
            .as_array()
            .map(|a| a.iter().filter_map(|e| e["field"].as_str().map(str::to_string)).collect())
            .unwrap_or_default()
    }

    pub fn content_type(&self) -> &str {
        self.headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("")
    }

    /// Asserts a problem+json answer with this status (and field, when given).
    #[track_caller]
    pub fn assert_problem(&self, status: u16, field: Option<&str>) {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.body);
        assert_eq!(self.content_type(), "application/problem+json", "body: {}", self.body);
        assert_eq!(self.body["status"], status);
        if let Some(f) = field {
            assert!(self.error_fields().iter().any(|x| x == f), "no error for {f}: {}", self.body);
        }
    }
}

impl TestApp {
    pub async fn new(backend: Backend) -> TestApp {
        Self::with_limits(backend, RateLimits::default()).await
    }

    pub async fn with_limits(backend: Backend, rate_limits: RateLimits) -> TestApp {
        Self::with_config(backend, AppConfig { rate_limits, ..Default::default() }).await
    }

    pub async fn with_config(backend: Backend, config: AppConfig) -> TestApp {
        Self::on_db(test_db(backend).await, config, no_shedding()).await
    }

    /// With load-shedding caps of its own.
    pub async fn with_shed_limits(backend: Backend, limits: tessera_http::shed::ShedLimits) -> TestApp {
        Self::on_db(test_db(backend).await, AppConfig::default(), limits).await
    }

    /// On a database the test made itself (it is not deleted afterwards).
    pub async fn on_store(store: tessera_store::Store, config: AppConfig) -> TestApp {
        Self::on_db(TestDb::existing(store), config, no_shedding()).await
    }

    async fn on_db(
        db: TestDb,
        mut config: AppConfig,
        shed_limits: tessera_http::shed::ShedLimits,
    ) -> TestApp {
        let outbox = tempfile::tempdir().unwrap();
        if config.mail.smtp_url.is_none() && config.mail.outbox_dir == AppConfig::default().mail.outbox_dir {
            config.mail.outbox_dir = outbox.path().to_path_buf();
        }
        let files = tempfile::tempdir().unwrap();
        if config.files.dir == AppConfig::default().files.dir {
            config.files.dir = files.path().to_path_buf();
        }
        let clock = Arc::new(TestClock(Mutex::new(tessera_app::domain::clock::now())));
        let app = App::new(db.store.clone(), config, clock.clone()).await.unwrap();
        let state = AppState::new(Shared {
            app: app.clone(),
            metrics: Some(metrics_handle()),
            trusted_proxies: tessera_http::client_addr::TrustedProxies::Hops(1),
            metrics_token: Some(METRICS_TOKEN.into()),
            secure_cookies: false,
            answers: Default::default(),
            shed_limits,
        });
        let router = tessera_http::router(state);
        TestApp { app, clock, router, db, outbox, files }
    }

    pub fn router(&self) -> Router {
        self.router.clone()
    }

    /// Serves the router on a free loopback port (real HTTP, for WebSockets); its address.
    pub async fn serve(&self) -> std::net::SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = self.router.clone().into_make_service_with_connect_info::<std::net::SocketAddr>();
        tokio::spawn(async move { axum::serve(listener, app).await });
        addr
    }

    /// A second server instance on the same database (its own app, store and router), as
    /// another process would be.
    pub async fn second_instance(&self) -> TestApp {
        let store = self.db.second_instance().await;
        Self::on_db(TestDb::existing(store), (*self.app.config).clone(), no_shedding()).await
    }

    /// Sends a request; `body` is sent as JSON.
    pub async fn call(&self, method: &str, path: &str, token: Option<&str>, body: Option<Value>) -> Res {
        let mut b = Request::builder().method(Method::from_bytes(method.as_bytes()).unwrap()).uri(path);
        if let Some(t) = token {
            b = b.header("authorization", format!("Bearer {t}"));
        }
        let req = match body {
            Some(v) => b.header("content-type", "application/json").body(Body::from(v.to_string())).unwrap(),
            None => b.body(Body::empty()).unwrap(),
        };
        self.send(req).await
    }

    /// Sends a raw request.
    pub async fn send(&self, req: Request<Body>) -> Res {
        let res = self.router.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()))
        };
        Res { status, headers, body }
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Res {
        self.call("GET", path, token, None).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Res {
        self.call("POST", path, token, Some(body)).await
    }

    /// Registers a user with the role (staff and admin are granted directly in the store) and
    /// signs them in.
    pub async fn user(&self, role: &str) -> User {
        let email = format!("{role}-{}@example.com", Uuid::new_v4().simple());
        let self_role = if role == "organizer" { "organizer" } else { "attendee" };
        let r = self
            .post("/auth/register", None, json!({"name": format!("A {role}"), "email": email, "password": "password123", "role": self_role}))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        let id = Uuid::parse_str(r.body["user_id"].as_str().unwrap()).unwrap();
        if role == "staff" || role == "admin" {
            let c = UserChanges { role: Some(role.parse().unwrap()), ..Default::default() };
            self.db.store.update_user(id.into(), &c, self.app.now()).await.unwrap();
        }
        let r = self.post("/auth/login", None, json!({"email": email, "password": "password123"})).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        User { id, token: r.body["access_token"].as_str().unwrap().to_string() }
    }

    /// Creates an event as `token` and returns its id.
    pub async fn event(&self, token: &str, body: Value) -> Uuid {
        let r = self.post("/events", Some(token), body).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        Uuid::parse_str(r.body["event_id"].as_str().unwrap()).unwrap()
    }
}

/// Load shedding out of the way: the tests share one machine (and their runtime) with each
/// other, so the scheduler lag says nothing about this app, and races of fifty sign-ins are
/// about something else. `ops::overload_is_shed_with_503` tests shedding.
fn no_shedding() -> tessera_http::shed::ShedLimits {
    tessera_http::shed::ShedLimits { logins: 1024, max_lag: std::time::Duration::ZERO, ..Default::default() }
}

/// A valid event body.
pub fn event_body(name: &str) -> Value {
    json!({
        "name": name,
        "description": "An evening of jazz",
        "location": "Tokyo Hall",
        "start_time": "2026-05-01T18:00:00+09:00",
        "end_time": "2026-05-01T21:00:00+09:00",
        "category": "music",
        "price": "3500.00",
        "max_attendees": 100,
        "url": "https://example.com/jazz"
    })
}

impl TestApp {
    /// Makes `n` attendees straight in the store (no password hashing) for concurrency tests.
    pub async fn principals(&self, n: usize) -> Vec<tessera_app::Principal> {
        let now = self.app.now();
        let rows: Vec<UserRecord> = (0..n)
            .map(|i| UserRecord {
                user_id: UserId::new(),
                name: format!("Buyer {i}"),
                email: format!("buyer-{i}-{}@example.com", Uuid::new_v4().simple()),
                password_hash: "$argon2id$unused".into(),
                role: tessera_domain::Role::Attendee,
                phone_number: None,
                created_at: now,
                updated_at: now,
                disabled_at: None,
            })
            .collect();
        self.db.store.insert_users(&rows).await.unwrap();
        rows.iter()
            .map(|u| tessera_app::Principal { user_id: u.user_id, role: tessera_app::domain::Role::Attendee })
            .collect()
    }

    /// Creates a seated event (as a fresh organizer): the defaults below, with `extra`'s members
    /// in their place.
    pub async fn seated_event(&self, extra: Value) -> SeatedEvent {
        let org_t = self.user("organizer").await.token;
        let mut body = json!({"name": "Concert", "start_time": "2030-05-01T18:00:00Z", "seating": "seated",
                              "price": "50.00"});
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                b.insert(k.clone(), v.clone());
            }
        }
        SeatedEvent { id: self.event(&org_t, body).await, organizer_token: org_t }
    }
}

/// A real SMTP server on loopback (Python's aiosmtpd, installed into .venv-smtp on first use)
/// that keeps every message it receives in a maildir.
pub struct SmtpServer {
    pub port: u16,
    child: std::process::Child,
    dir: tempfile::TempDir,
}

impl SmtpServer {
    pub async fn start() -> SmtpServer {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let out = std::process::Command::new("bash").arg(root.join("scripts/smtp-venv.sh")).output().unwrap();
        assert!(out.status.success(), "installing aiosmtpd: {}", String::from_utf8_lossy(&out.stderr));
        let python = String::from_utf8(out.stdout).unwrap().trim().to_string();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let dir = tempfile::tempdir().unwrap();
        let child = std::process::Command::new(python)
            .args([
                "-m",
                "aiosmtpd",
                "-n",
                "-l",
                &format!("127.0.0.1:{port}"),
                "-c",
                "aiosmtpd.handlers.Mailbox",
            ])
            // A path that does not exist yet: Python's Maildir makes its new/cur/tmp only then.
            .arg(dir.path().join("maildir"))
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        // Owned by the guard at once, so it is killed and reaped however the wait ends.
        let server = SmtpServer { port, child, dir };
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                return server;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("the SMTP server did not start on port {port}");
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// The raw messages received so far.
    pub fn messages(&self) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        for sub in ["new", "cur"] {
            if let Ok(rd) = std::fs::read_dir(self.dir.path().join("maildir").join(sub)) {
                for e in rd.flatten() {
                    out.push(std::fs::read(e.path()).unwrap());
                }
            }
        }
        out
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads the one QR symbol in a PNG (as the server renders them) with an independent decoder.
pub fn decode_qr(png_bytes: &[u8]) -> String {
    let mut r = png::Decoder::new(std::io::Cursor::new(png_bytes)).read_info().unwrap();
    let mut buf = vec![0; r.output_buffer_size().unwrap()];
    let info = r.next_frame(&mut buf).unwrap();
    let (w, h) = (info.width as usize, info.height as usize);
    let mut img = rqrr::PreparedImage::prepare_from_greyscale(w, h, |x, y| buf[y * w + x]);
    let grids = img.detect_grids();
    assert_eq!(grids.len(), 1, "one QR symbol");
    grids[0].decode().unwrap().1
}
