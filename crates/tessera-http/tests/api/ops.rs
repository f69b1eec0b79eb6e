//! Operations: health, metrics, docs, framework errors as problem+json, request ids, OpenAPI drift.

use axum::body::Body;
use http::{Request, StatusCode};
use tessera_store::Backend;

use crate::both;
use crate::support::TestApp;

both!(health_reports_database, framework_errors_are_problems, overload_is_shed_with_503);

async fn health_reports_database(b: Backend) {
    let t = TestApp::new(b).await;
    let r = t.get("/health", None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["status"], "OK");
    assert!(r.headers.contains_key("x-request-id"));
    t.db.store.close().await;
    let r = t.get("/health", None).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.body["status"], "ERROR");
    // Any other route answers a generic 503 problem with the request id.
    let r = t.get("/events", None).await;
    r.assert_problem(503, None);
    assert_eq!(r.body["request_id"], r.headers["x-request-id"].to_str().unwrap());
}

async fn framework_errors_are_problems(b: Backend) {
    let t = TestApp::new(b).await;
    t.get("/no/such/path", None).await.assert_problem(404, None);
    t.call("PUT", "/events", None, None).await.assert_problem(405, None);
    let big = format!("{{\"name\": \"{}\"}}", "x".repeat(tessera_http::BODY_LIMIT + 10));
    let req = Request::post("/auth/register")
        .header("content-type", "application/json")
        .body(Body::from(big))
        .unwrap();
    let r = t.send(req).await;
    r.assert_problem(413, None);
    // A caller's request id is kept.
    let req = Request::get("/health").header("x-request-id", "abc-123").body(Body::empty()).unwrap();
    assert_eq!(t.send(req).await.headers["x-request-id"], "abc-123");
}

#[tokio::test]
async fn metrics_and_docs_are_served() {
    let t = TestApp::new(Backend::Sqlite).await;
    t.get("/categories", None).await;
    // Regression (#21): anyone could read the metrics, and every made-up method and path
    // became a label of its own (20,000 methods: /metrics 1.2 KB → 29 MB).
    t.get("/metrics", None).await.assert_problem(401, None);
    let attendee = t.user("attendee").await.token;
    t.get("/metrics", Some(&attendee)).await.assert_problem(403, None);
    t.get("/metrics", Some("wrong-token")).await.assert_problem(401, None);
    let admin = t.user("admin").await.token;
    assert_eq!(t.get("/metrics", Some(&admin)).await.status, StatusCode::OK);
    for i in 0..50 {
        let method = format!("M{i}{}", uuid::Uuid::new_v4().simple());
        assert!(t.call(&method, "/events", None, None).await.status.is_client_error());
        t.get(&format!("/nowhere/{i}"), None).await.assert_problem(404, None);
    }
    let r = t.get("/metrics", Some(crate::support::METRICS_TOKEN)).await;
    assert_eq!(r.status, StatusCode::OK);
    let text = r.body.as_str().unwrap();
    assert!(!text.contains("method=\"M0"), "no label per made-up method");
    assert!(!text.contains("/nowhere/"), "no label per unmatched path");
    assert!(text.contains(r#"method="OTHER""#) && text.contains(r#"route="unmatched""#), "{text}");
    assert!(text.contains(r#"http_requests_total{method="GET",route="/categories",status="200"}"#), "{text}");
    assert!(text.contains("http_request_duration_seconds"), "{text}");
    let r = t.get("/docs/", None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.as_str().unwrap_or("").contains("swagger"), "docs page: {}", r.body);
    let r = t.get("/docs/swagger-ui-bundle.js", None).await;
    assert_eq!(r.status, StatusCode::OK, "the docs UI is embedded, not fetched from the internet");
    let r = t.get("/openapi.json", None).await;
    assert_eq!(r.body["openapi"], "3.1.0");
}

/// The committed openapi.json must match the code. Regenerate with
/// `UPDATE_OPENAPI=1 cargo test -p tessera-http openapi` (or `tessera openapi > openapi.json`).
#[test]
fn openapi_json_is_current() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../openapi.json");
    let generated = tessera_http::openapi_json();
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "openapi.json is stale: run UPDATE_OPENAPI=1 cargo test -p tessera-http openapi"
    );
}

/// Every documented operation has an operation id, a summary and at least one error answer.
#[test]
fn openapi_documents_every_route() {
    let doc: serde_json::Value = serde_json::from_str(&tessera_http::openapi_json()).unwrap();
    let paths = doc["paths"].as_object().unwrap();
    for want in [
        "/health",
        "/metrics",
        "/auth/register",
        "/auth/login",
        "/auth/refresh",
        "/auth/logout",
        "/users/me",
        "/users",
        "/users/{user_id}",
        "/api-keys",
        "/api-keys/{api_key_id}",
        "/events",
        "/events/{event_id}",
        "/categories",
        "/events/{event_id}/purchases",
        "/users/me/purchases",
        "/stats/events/{event_id}",
        "/stats/categories",
        "/stats/overview",
    ] {
        assert!(paths.contains_key(want), "{want} is not documented");
    }
    for (path, ops) in paths {
        for (method, op) in ops.as_object().unwrap() {
            assert!(op["operationId"].is_string(), "{method} {path} has no operationId");
            assert!(op["summary"].is_string(), "{method} {path} has no summary");
        }
    }
}

/// Regression (#21): PostgreSQL refusing connections (`ALLOW_CONNECTIONS false`) answered 500
/// `internal` on API routes while `/health` said 503. Connection-class errors are 503 with
/// Retry-After everywhere. Needs a database of its own (the role must be allowed CREATEDB).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(tessera_pg), ignore = "set TESSERA_TEST_DATABASE_URL to run on PostgreSQL")]
async fn a_database_refusing_connections_is_503() {
    use sqlx::Executor;
    let admin_url = std::env::var(tessera_store::testing::PG_URL_VAR).unwrap();
    let admin = sqlx::PgPool::connect(&admin_url).await.unwrap();
    let name = format!("tessera_outage_{}", uuid::Uuid::new_v4().simple());
    admin.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).await.unwrap();
    let mut url = url::Url::parse(&admin_url).unwrap();
    url.set_path(&name);
    let store =
        tessera_store::Store::connect(&tessera_store::StoreOptions::new(url.to_string())).await.unwrap();
    store.migrate().await.unwrap();
    let t = TestApp::on_store(store, tessera_app::AppConfig::default()).await;
    let register = |email: &str| serde_json::json!({"name": "A", "email": email, "password": "password123"});
    assert_eq!(t.post("/auth/register", None, register("a@example.com")).await.status, StatusCode::CREATED);
    // The database stops taking connections and drops the ones it had.
    admin
        .execute(sqlx::AssertSqlSafe(format!("ALTER DATABASE {name} ALLOW_CONNECTIONS false")))
        .await
        .unwrap();
    admin
        .execute(sqlx::AssertSqlSafe(format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
        )))
        .await
        .unwrap();
    for _ in 0..3 {
        let r = t.post("/auth/register", None, register("b@example.com")).await;
        r.assert_problem(503, None);
        assert_eq!(r.body["code"], "unavailable");
        assert_eq!(r.headers["retry-after"], "2");
        let r = t.post("/auth/login", None, register("a@example.com")).await;
        r.assert_problem(503, None);
    }
    assert_eq!(t.get("/health", None).await.status, StatusCode::SERVICE_UNAVAILABLE);
    t.db.store.close().await;
    admin.execute(sqlx::AssertSqlSafe(format!("DROP DATABASE {name} WITH (FORCE)"))).await.unwrap();
}

/// (#21) Past the cap of requests in flight for a class, the excess is refused at once with 503
/// and Retry-After; other classes and /health go on.
async fn overload_is_shed_with_503(b: Backend) {
    let limits = tessera_http::shed::ShedLimits {
        reads: 64,
        writes: 64,
        logins: 1,
        queue_wait: std::time::Duration::ZERO,
        login_queue_wait: std::time::Duration::ZERO,
        max_lag: std::time::Duration::ZERO,
    };
    let t = TestApp::with_shed_limits(b, limits).await;
    let body = serde_json::json!({"email": "nobody@example.com", "password": "password123"});
    let logins: Vec<_> = (0..12).map(|_| t.post("/auth/login", None, body.clone())).collect();
    let answers = futures::future::join_all(logins).await;
    let shed: Vec<_> = answers.iter().filter(|r| r.status == StatusCode::SERVICE_UNAVAILABLE).collect();
    assert!(!shed.is_empty(), "12 sign-ins at once with room for 1");
    assert!(answers.iter().any(|r| r.status == StatusCode::UNAUTHORIZED), "some were answered");
    for r in shed {
        r.assert_problem(503, None);
        assert_eq!(
            (r.body["code"].as_str(), r.headers["retry-after"].to_str().unwrap()),
            (Some("overloaded"), "1")
        );
    }
    assert_eq!(t.get("/health", None).await.status, StatusCode::OK);
    assert_eq!(t.get("/events", None).await.status, StatusCode::OK);
}
