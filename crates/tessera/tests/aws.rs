//! The binary on AWS, against moto's server on loopback (PyPI, installed into .venv-moto by
//! scripts/moto-venv.sh on first use): secrets from Secrets Manager (the database's, rotated),
//! and ticket e-mail through SES read back from moto with its QR decoded.
#![cfg(feature = "aws")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Killed, free_port};

use aws_sdk_secretsmanager::config::{BehaviorVersion, Credentials, Region};
use serde_json::{Value, json};

/// moto's server on a free port; stopped when dropped.
struct Moto {
    port: u16,
    _child: Killed,
}

impl Moto {
    fn start() -> Moto {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let out = Command::new("bash").arg(root.join("scripts/moto-venv.sh")).output().unwrap();
        assert!(out.status.success(), "installing moto: {}", String::from_utf8_lossy(&out.stderr));
        let program = String::from_utf8(out.stdout).unwrap().trim().to_string();
        let port = free_port();
        let child = Command::new(program)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let moto = Moto { port, _child: Killed(child) };
        let started = Instant::now();
        while http(port, "GET", "/moto-api/data.json", None).is_none() {
            assert!(started.elapsed() < Duration::from_secs(30), "moto did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        moto
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn secrets(&self) -> aws_sdk_secretsmanager::Client {
        let conf = aws_sdk_secretsmanager::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .endpoint_url(self.url())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("test", "test", None, None, "test"))
            .build();
        aws_sdk_secretsmanager::Client::from_conf(conf)
    }

    /// Verifies a sender in moto's SES (its Query API; moto does not check signatures, and the
    /// credential scope names the service).
    fn verify_sender(&self, email: &str) {
        let body = format!(
            "Action=VerifyEmailIdentity&Version=2010-12-01&EmailAddress={}",
            email.replace('@', "%40")
        );
        let headers = [
            ("Content-Type", "application/x-www-form-urlencoded"),
            (
                "Authorization",
                "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/ses/aws4_request, SignedHeaders=host, Signature=0",
            ),
        ];
        let answer = common::http(self.port, "POST", "/", &headers, &body);
        assert!(matches!(answer, Some((200, _))), "{answer:?}");
    }

    async fn secret(&self, name: &str, text: &str) -> String {
        let out = self.secrets().create_secret().name(name).secret_string(text).send().await.unwrap();
        out.arn().unwrap().to_string()
    }

    /// The environment the AWS SDK in the binary reads.
    fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.url()),
            ("AWS_ACCESS_KEY_ID", "test".into()),
            ("AWS_SECRET_ACCESS_KEY", "test".into()),
            ("AWS_REGION", "us-east-1".into()),
            ("AWS_EC2_METADATA_DISABLED", "true".into()),
        ]
    }
}

/// A JSON request on loopback: the status and the body (`None` when nothing answers).
fn http(port: u16, method: &str, path: &str, body: Option<&Value>) -> Option<(u16, String)> {
    let body = body.map(Value::to_string).unwrap_or_default();
    common::http(port, method, path, &[("Content-Type", "application/json")], &body)
}

/// `tessera serve` on a free port with this environment; killed when dropped.
struct Server {
    port: u16,
    child: Killed,
}

impl Server {
    fn start(env: &[(&str, String)]) -> Server {
        let port = free_port();
        let child = Command::new(env!("CARGO_BIN_EXE_tessera"))
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .env("TESSERA_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut server = Server { port, child: Killed(child) };
        let started = Instant::now();
        loop {
            if let Some((200, _)) = http(port, "GET", "/health", None) {
                return server;
            }
            if let Ok(Some(status)) = server.child.0.try_wait() {
                let mut err = String::new();
                server.child.0.stderr.take().unwrap().read_to_string(&mut err).unwrap();
                panic!("tessera serve exited with {status}: {err}");
            }
            assert!(started.elapsed() < Duration::from_secs(60), "tessera serve did not answer");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn call(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, String) {
        http(self.port, method, path, body).unwrap_or((0, String::new()))
    }

    fn stderr(mut self) -> String {
        let _ = self.child.0.kill();
        let mut err = String::new();
        if let Some(mut e) = self.child.0.stderr.take() {
            e.read_to_string(&mut err).unwrap();
        }
        err
    }
}

fn register(s: &Server, email: &str) -> (u16, String) {
    s.call(
        "POST",
        "/auth/register",
        Some(&json!({"name": "Aiko", "email": email, "password": "password123"})),
    )
}

/// The JWT secret and the ticket master key come from Secrets Manager: tokens are signed with
/// that secret, and the master key warning never shows. A secret that is not there stops the
/// start with its name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_manager_gives_the_jwt_secret_and_master_key() {
    let moto = Moto::start();
    let jwt = format!("jwt-{}", "s".repeat(40));
    let jwt_arn = moto.secret("tessera/jwt", &jwt).await;
    let key_arn = moto.secret("tessera/ticket-master-key", &"ab".repeat(32)).await;
    let dir = tempfile::tempdir().unwrap();
    let mut env = moto.env();
    env.extend([
        ("TESSERA_DATABASE_URL", format!("sqlite://{}/s.db", dir.path().display())),
        ("TESSERA_FILES_DIR", dir.path().join("files").display().to_string()),
        ("TESSERA_JWT_SECRET_ARN", jwt_arn),
        ("TESSERA_TICKET_MASTER_KEY_ARN", key_arn),
    ]);
    let server = Server::start(&env);
    assert_eq!(register(&server, "aiko@example.com").0, 201);
    let (status, body) = server.call(
        "POST",
        "/auth/login",
        Some(&json!({"email": "aiko@example.com", "password": "password123"})),
    );
    assert_eq!(status, 200, "{body}");
    let token: Value = serde_json::from_str(&body).unwrap();
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    v.validate_aud = false;
    let key = jsonwebtoken::DecodingKey::from_secret(jwt.as_bytes());
    jsonwebtoken::decode::<Value>(token["access_token"].as_str().unwrap(), &key, &v)
        .expect("signed with the secret");
    let log = server.stderr();
    assert!(!log.contains("no ticket master key configured"), "{log}");

    env.retain(|(k, _)| *k != "TESSERA_JWT_SECRET_ARN");
    env.push((
        "TESSERA_JWT_SECRET_ARN",
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:missing".into(),
    ));
    let out = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .arg("migrate")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("reading the secret"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The database user name and password come from an RDS-format secret. After a rotation (the
/// secret names other credentials and the old ones may no longer log in), the server fetches
/// the secret again when PostgreSQL refuses it, and goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(tessera_pg), ignore = "set TESSERA_TEST_DATABASE_URL to run on PostgreSQL")]
async fn the_database_credentials_follow_a_rotated_secret() {
    use sqlx::Connection;
    let admin_url = std::env::var("TESSERA_TEST_DATABASE_URL").unwrap();
    let mut admin = sqlx::PgConnection::connect(&admin_url).await.unwrap();
    let tag = uuid::Uuid::new_v4().simple().to_string()[..10].to_string();
    let (old, new, db) = (format!("rot_old_{tag}"), format!("rot_new_{tag}"), format!("rot_db_{tag}"));
    for sql in [
        format!("CREATE ROLE {old} LOGIN PASSWORD 'old-password'"),
        format!("CREATE ROLE {new} LOGIN PASSWORD 'new-password'"),
        format!("GRANT {old} TO {new}"),
        // Not a superuser in CI (CREATEROLE): owning the database as the old role needs membership.
        format!("GRANT {old} TO CURRENT_USER"),
        format!("CREATE DATABASE {db} OWNER {old}"),
    ] {
        sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&mut admin).await.unwrap();
    }
    let moto = Moto::start();
    let secret = |user: &str, password: &str| {
        json!({"engine": "postgres", "username": user, "password": password}).to_string()
    };
    let arn = moto.secret("tessera/db", &secret(&old, "old-password")).await;
    // postgres://user@host:port/db: the server part, without the user.
    let host_port = admin_url.split('@').nth(1).unwrap().split('/').next().unwrap().to_string();
    let mut env = moto.env();
    env.extend([
        ("TESSERA_DATABASE_URL", format!("postgres://{host_port}/{db}")),
        ("TESSERA_DB_SECRET_ARN", arn.clone()),
        ("TESSERA_DB_MAX_CONNECTIONS", "2".into()),
    ]);
    let server = Server::start(&env);
    assert_eq!(register(&server, "before@example.com").0, 201);

    // The rotation: the secret names the new credentials; the old ones may no longer log in,
    // and their connections end.
    moto.secrets()
        .put_secret_value()
        .secret_id(&arn)
        .secret_string(secret(&new, "new-password"))
        .send()
        .await
        .unwrap();
    for sql in [
        format!("ALTER ROLE {old} NOLOGIN"),
        format!("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{old}'"),
    ] {
        sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&mut admin).await.unwrap();
    }
    let started = Instant::now();
    let mut refused = 0;
    let mut i = 0;
    loop {
        i += 1;
        let (status, body) = register(&server, &format!("after{i}@example.com"));
        if status == 201 {
            break;
        }
        assert_eq!(status, 503, "refused while the credentials change, as unavailable: {body}");
        refused += 1;
        assert!(started.elapsed() < Duration::from_secs(20), "never recovered: {body}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let connected: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT count(*) FROM pg_stat_activity WHERE usename = '{new}'"
    )))
    .fetch_one(&mut admin)
    .await
    .unwrap();
    assert!(connected > 0, "the server connects with the rotated credentials");
    eprintln!("rotation: {refused} request(s) refused with 503 before recovering in {:?}", started.elapsed());
    drop(server);
    // The killed server's connections end a moment after it does; until then, DROP DATABASE's
    // FORCE would have to terminate them, which a role that is not a superuser may be refused.
    let gone = std::time::Instant::now();
    loop {
        let left: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = '{db}' AND pid <> pg_backend_pid()"
        )))
        .fetch_one(&mut admin)
        .await
        .unwrap();
        if left == 0 || gone.elapsed() > Duration::from_secs(10) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for sql in
        [format!("DROP DATABASE {db} WITH (FORCE)"), format!("DROP ROLE {new}"), format!("DROP ROLE {old}")]
    {
        sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&mut admin).await.unwrap();
    }
}

/// Ticket e-mail goes through SES: the demo's tickets are sent by `tessera jobs run`, and the
/// message moto received carries the ticket's QR, which decodes to a ticket code.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ticket_mail_goes_through_ses() {
    let moto = Moto::start();
    moto.verify_sender("tickets@example.com");
    let dir = tempfile::tempdir().unwrap();
    let mut env = moto.env();
    env.extend([
        ("TESSERA_DATABASE_URL", format!("sqlite://{}/m.db", dir.path().display())),
        ("TESSERA_FILES_DIR", dir.path().join("files").display().to_string()),
        ("TESSERA_MAIL_TRANSPORT", "ses".into()),
        ("TESSERA_MAIL_FROM", "Tessera <tickets@example.com>".into()),
        ("TESSERA_LOG", "warn".into()),
    ]);
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_tessera"))
            .args(args)
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    run(&["seed", "--demo"]);
    let report = run(&["jobs", "run", "--job", "jobs"]);
    let sent: u64 = report.split_whitespace().nth(1).unwrap().parse().unwrap();
    assert!(sent > 0, "{report}");
    let (_, data) = http(moto.port, "GET", "/moto-api/data.json", None).unwrap();
    let data: Value = serde_json::from_str(&data).unwrap();
    let messages = find_raw_messages(&data);
    assert!(!messages.is_empty(), "SES received the tickets: {data}");
    let raw = &messages[0];
    let mail = mailparse::parse_mail(raw.as_bytes()).unwrap();
    fn png_in(p: &mailparse::ParsedMail) -> Option<Vec<u8>> {
        if p.ctype.mimetype == "image/png" {
            return p.get_body_raw().ok();
        }
        p.subparts.iter().find_map(png_in)
    }
    let png = png_in(&mail).unwrap_or_else(|| panic!("a QR image in the message: {raw}"));
    let code = decode_qr(&png);
    assert_eq!(code.len(), 196, "a ticket code: {code}");
}

/// The raw MIME of every message moto's SES holds (wherever in its data it keeps them).
fn find_raw_messages(v: &Value) -> Vec<String> {
    match v {
        Value::Object(m) => {
            let mut out: Vec<String> =
                m.get("raw_data").and_then(Value::as_str).map(str::to_string).into_iter().collect();
            out.extend(m.values().flat_map(find_raw_messages));
            out
        }
        Value::Array(a) => a.iter().flat_map(find_raw_messages).collect(),
        _ => Vec::new(),
    }
}

fn decode_qr(png_bytes: &[u8]) -> String {
    let mut r = png::Decoder::new(std::io::Cursor::new(png_bytes)).read_info().unwrap();
    let mut buf = vec![0; r.output_buffer_size().unwrap()];
    let info = r.next_frame(&mut buf).unwrap();
    let (w, h) = (info.width as usize, info.height as usize);
    let mut img = rqrr::PreparedImage::prepare_from_greyscale(w, h, |x, y| buf[y * w + x]);
    let grids = img.detect_grids();
    assert_eq!(grids.len(), 1, "one QR symbol");
    grids[0].decode().unwrap().1
}
