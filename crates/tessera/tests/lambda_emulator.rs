//! The `aws` build under a local Lambda runtime: cargo-lambda's emulator (PyPI, installed into
//! .venv-cargo-lambda by scripts/cargo-lambda-venv.sh on first use) serves the Lambda runtime
//! API, the real `tessera` binary polls it as it would on AWS, and the test invokes the function
//! with API Gateway HTTP API (v2) events for each route family and with a scheduled event. The
//! cold start (process start to the first answered invocation) is measured and printed.
#![cfg(feature = "aws")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Killed, free_port};

use serde_json::{Value, json};

/// Invokes the function through the emulator's Invoke API; the function's answer.
fn invoke(port: u16, payload: &Value) -> Value {
    let path = "/2015-03-31/functions/_/invocations";
    let (status, body) =
        common::http(port, "POST", path, &[("Content-Type", "application/json")], &payload.to_string())
            .expect("the emulator answers");
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

/// An API Gateway HTTP API (v2) request event.
fn request(method: &str, path: &str, body: Option<Value>, token: Option<&str>) -> Value {
    let (raw_path, query) = path.split_once('?').unwrap_or((path, ""));
    let mut headers =
        json!({"host": "abc123.execute-api.us-east-1.amazonaws.com", "content-type": "application/json"});
    if let Some(t) = token {
        headers["authorization"] = json!(format!("Bearer {t}"));
    }
    json!({
        "version": "2.0", "routeKey": "$default", "rawPath": raw_path, "rawQueryString": query,
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012", "apiId": "abc123", "domainName": "abc123.execute-api.us-east-1.amazonaws.com",
            "http": {"method": method, "path": raw_path, "protocol": "HTTP/1.1", "sourceIp": "198.51.100.7", "userAgent": "test"},
            "requestId": "r", "routeKey": "$default", "stage": "$default", "time": "06/Dec/2026:12:00:00 +0000", "timeEpoch": 0
        },
        "body": body.map(|b| b.to_string()), "isBase64Encoded": false
    })
}

/// Sends a request event; the status and the JSON body of API Gateway's response.
fn call(port: u16, method: &str, path: &str, body: Option<Value>, token: Option<&str>) -> (u64, Value) {
    let answer = invoke(port, &request(method, path, body, token));
    let status = answer["statusCode"].as_u64().unwrap_or_else(|| panic!("{answer}"));
    let body = answer["body"]
        .as_str()
        .map(|b| serde_json::from_str(b).unwrap_or(Value::Null))
        .unwrap_or(Value::Null);
    (status, body)
}

fn sign_up(port: u16, email: &str, role: &str) -> String {
    let who = json!({"name": "Someone", "email": email, "password": "password123", "role": role});
    assert_eq!(call(port, "POST", "/auth/register", Some(who), None).0, 201);
    let (status, body) =
        call(port, "POST", "/auth/login", Some(json!({"email": email, "password": "password123"})), None);
    assert_eq!(status, 200, "{body}");
    body["access_token"].as_str().unwrap().to_string()
}

#[test]
fn the_function_answers_under_a_local_lambda_runtime() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = Command::new("bash").arg(root.join("scripts/cargo-lambda-venv.sh")).output().unwrap();
    assert!(out.status.success(), "installing cargo-lambda: {}", String::from_utf8_lossy(&out.stderr));
    let cargo_lambda = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let port = free_port();
    // The runtime API only: the test starts the function itself, as Lambda would.
    let _emulator = Killed(
        Command::new(&cargo_lambda)
            .args(["lambda", "watch", "--only-lambda-apis", "--invoke-address", "127.0.0.1"])
            .args(["--invoke-port", &port.to_string()])
            .current_dir(&root)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(started.elapsed() < Duration::from_secs(30), "the emulator did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    let dir = tempfile::tempdir().unwrap();
    let start = Instant::now();
    let _function = Killed(
        Command::new(env!("CARGO_BIN_EXE_tessera"))
            .env("AWS_LAMBDA_RUNTIME_API", format!("http://127.0.0.1:{port}/.rt"))
            .env("AWS_LAMBDA_FUNCTION_NAME", "_")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512")
            .env("TESSERA_DATABASE_URL", format!("sqlite://{}/lambda.db", dir.path().display()))
            .env("TESSERA_FILES_DIR", dir.path().join("files"))
            .env("TESSERA_MAIL_OUTBOX", dir.path().join("outbox"))
            .env("TESSERA_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let (status, health) = call(port, "GET", "/health", None, None);
    let cold = start.elapsed();
    assert_eq!(status, 200, "{health}");
    eprintln!("cold start (process start to the first answer, migrating a new SQLite file): {cold:?}");
    let warm = Instant::now();
    assert_eq!(call(port, "GET", "/health", None, None).0, 200);
    eprintln!("a warm invocation: {:?}", warm.elapsed());

    // Accounts, and the catalogue.
    let organizer = sign_up(port, "org@example.com", "organizer");
    let event = json!({"name": "Lambda Live", "start_time": "2030-05-01T18:00:00Z", "seating": "seated",
                       "price": "10.00", "location": "Hall L"});
    let (status, ev) = call(port, "POST", "/events", Some(event), Some(&organizer));
    assert_eq!(status, 201, "{ev}");
    let event_id = ev["event_id"].as_str().unwrap().to_string();
    let (status, list) = call(port, "GET", "/events?q=Lambda", None, None);
    assert_eq!((status, list["items"][0]["event_id"].as_str()), (200, Some(event_id.as_str())), "{list}");
    // Booking: a seat held and paid from the wallet.
    let buyer = sign_up(port, "buyer@example.com", "attendee");
    assert_eq!(call(port, "POST", "/balance", Some(json!({"amount": "50"})), Some(&buyer)).0, 200);
    let (status, hold) = call(
        port,
        "POST",
        "/reservations",
        Some(json!({"event_id": event_id, "seat_numbers": [3]})),
        Some(&buyer),
    );
    assert_eq!(status, 201, "{hold}");
    let hold_id = hold["reservation_id"].as_str().unwrap();
    let (status, paid) =
        call(port, "POST", "/payments", Some(json!({"reservation_id": hold_id})), Some(&buyer));
    assert_eq!(status, 201, "{paid}");
    // Check-in: the ticket's code at the door, then refused as used.
    let (_, tickets) = call(port, "GET", "/users/me/tickets", None, Some(&buyer));
    let code = tickets["items"][0]["code"].as_str().unwrap().to_string();
    let scan = json!({"code": code, "event_id": event_id});
    let (status, entered) = call(port, "POST", "/checkin", Some(scan.clone()), Some(&organizer));
    assert_eq!(status, 200, "{entered}");
    assert_eq!(call(port, "POST", "/checkin", Some(scan), Some(&organizer)).0, 409);

    // A scheduled event runs a job instead of a request.
    let report = invoke(port, &json!({"tessera_job": "holds"}));
    assert_eq!(report["job"], "holds", "{report}");
}
