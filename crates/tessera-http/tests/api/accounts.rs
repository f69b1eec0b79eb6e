//! `/auth/*`: registration, login, refresh rotation, logout, rate limits.

use http::StatusCode;
use serde_json::json;
use tessera_app::RateLimits;
use tessera_store::Backend;

use crate::both;
use crate::support::TestApp;

both!(
    register_creates_user,
    register_rejects_bad_input,
    register_taken_email_is_409,
    concurrent_registrations_one_wins,
    login_issues_tokens,
    login_failures_look_alike,
    login_is_rate_limited,
    login_is_rate_limited_per_address,
    refresh_rotates_and_detects_reuse,
    logout_revokes_session,
    access_token_expires,
);

async fn register_creates_user(b: Backend) {
    let t = TestApp::new(b).await;
    let r = t
        .post(
            "/auth/register",
            None,
            json!({"name": "Ada", "email": "Ada@Example.com", "password": "password123"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(r.body["email"], "ada@example.com");
    assert_eq!(r.body["role"], "attendee");
    assert!(r.body.get("password_hash").is_none());
}

async fn register_rejects_bad_input(b: Backend) {
    let t = TestApp::new(b).await;
    let r = t.post("/auth/register", None, json!({"email": "not-an-email", "password": "short"})).await;
    r.assert_problem(400, Some("email"));
    assert_eq!(r.error_fields(), ["name", "email", "password"]);
    let r = t
        .post("/auth/register", None, json!({"name": 5, "email": "a@b.co", "password": "password123"}))
        .await;
    r.assert_problem(400, Some("name"));
    let r = t
        .post(
            "/auth/register",
            None,
            json!({"name": "A", "email": "a@b.co", "password": "password123", "role": "admin"}),
        )
        .await;
    r.assert_problem(400, Some("role"));
    // Malformed JSON and a wrong content type.
    let req = http::Request::post("/auth/register")
        .header("content-type", "application/json")
        .body(axum::body::Body::from("{\"name\": "))
        .unwrap();
    let r = t.send(req).await;
    r.assert_problem(400, Some("body"));
    assert_eq!(r.body["code"], "malformed_json");
    let req = http::Request::post("/auth/register").body(axum::body::Body::from("name=a")).unwrap();
    t.send(req).await.assert_problem(415, None);
    // Nothing was written.
    assert_eq!(t.db.store.count_users().await.unwrap(), 0);
}

async fn register_taken_email_is_409(b: Backend) {
    let t = TestApp::new(b).await;
    let body = json!({"name": "Ada", "email": "ada@example.com", "password": "password123"});
    assert_eq!(t.post("/auth/register", None, body.clone()).await.status, StatusCode::CREATED);
    let r = t
        .post(
            "/auth/register",
            None,
            json!({"name": "B", "email": "ADA@example.com", "password": "password456"}),
        )
        .await;
    r.assert_problem(409, None);
    assert_eq!(r.body["code"], "email_taken");
}

/// 50 simultaneous registrations of one e-mail: exactly one 201 and 49 × 409.
async fn concurrent_registrations_one_wins(b: Backend) {
    let t = TestApp::new(b).await;
    let router = t.router();
    let mut tasks = Vec::new();
    for i in 0..50 {
        let router = router.clone();
        tasks.push(tokio::spawn(async move {
            use tower::ServiceExt;
            let body =
                json!({"name": format!("Racer {i}"), "email": "race@example.com", "password": "password123"});
            let req = http::Request::post("/auth/register")
                .header("content-type", "application/json")
                .body(axum::body::Body::from(body.to_string()))
                .unwrap();
            router.oneshot(req).await.unwrap().status()
        }));
    }
    let mut created = 0;
    let mut conflicts = 0;
    for task in tasks {
        match task.await.unwrap() {
            StatusCode::CREATED => created += 1,
            StatusCode::CONFLICT => conflicts += 1,
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!((created, conflicts), (1, 49));
    assert_eq!(t.db.store.count_users().await.unwrap(), 1);
}

async fn login_issues_tokens(b: Backend) {
    let t = TestApp::new(b).await;
    t.post(
        "/auth/register",
        None,
        json!({"name": "Ada", "email": "ada@example.com", "password": "password123"}),
    )
    .await;
    let r = t.post("/auth/login", None, json!({"email": "ADA@example.com", "password": "password123"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["token_type"], "Bearer");
    assert_eq!(r.body["expires_in"], 900);
    assert_eq!(r.body["user"]["email"], "ada@example.com");
    let token = r.body["access_token"].as_str().unwrap();
    let me = t.get("/users/me", Some(token)).await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.body["email"], "ada@example.com");
    t.post("/auth/login", None, json!({"email": "ada@example.com"}))
        .await
        .assert_problem(400, Some("password"));
}

async fn login_failures_look_alike(b: Backend) {
    let t = TestApp::new(b).await;
    t.post(
        "/auth/register",
        None,
        json!({"name": "Ada", "email": "ada@example.com", "password": "password123"}),
    )
    .await;
    let wrong =
        t.post("/auth/login", None, json!({"email": "ada@example.com", "password": "nope-nope"})).await;
    let unknown =
        t.post("/auth/login", None, json!({"email": "bob@example.com", "password": "nope-nope"})).await;
    wrong.assert_problem(401, None);
    unknown.assert_problem(401, None);
    assert_eq!(wrong.body, unknown.body);
}

async fn login_is_rate_limited(b: Backend) {
    let limits = RateLimits { window_secs: 60, login_per_email: 3, login_per_ip: 100, ..Default::default() };
    let t = TestApp::with_limits(b, limits).await;
    t.post(
        "/auth/register",
        None,
        json!({"name": "Ada", "email": "ada@example.com", "password": "password123"}),
    )
    .await;
    for _ in 0..3 {
        let r =
            t.post("/auth/login", None, json!({"email": "ada@example.com", "password": "wrong-wrong"})).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    let r = t.post("/auth/login", None, json!({"email": "ada@example.com", "password": "password123"})).await;
    r.assert_problem(429, None);
    let retry: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry));
    // Another e-mail is not limited; the window passing lifts the limit.
    let other =
        t.post("/auth/login", None, json!({"email": "other@example.com", "password": "x-x-x-x-x"})).await;
    assert_eq!(other.status, StatusCode::UNAUTHORIZED);
    t.clock.advance(61);
    let r = t.post("/auth/login", None, json!({"email": "ada@example.com", "password": "password123"})).await;
    assert_eq!(r.status, StatusCode::OK);
}

async fn refresh_rotates_and_detects_reuse(b: Backend) {
    let t = TestApp::new(b).await;
    t.post(
        "/auth/register",
        None,
        json!({"name": "Ada", "email": "ada@example.com", "password": "password123"}),
    )
    .await;
    let login =
        t.post("/auth/login", None, json!({"email": "ada@example.com", "password": "password123"})).await;
    let r1 = login.body["refresh_token"].as_str().unwrap().to_string();
    let r = t.post("/auth/refresh", None, json!({"refresh_token": r1})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r2 = r.body["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(r1, r2);
    // Replaying the spent token is refused and revokes the family, so r2 dies too.
    t.post("/auth/refresh", None, json!({"refresh_token": r1})).await.assert_problem(401, None);
    t.post("/auth/refresh", None, json!({"refresh_token": r2})).await.assert_problem(401, None);
    t.post("/auth/refresh", None, json!({})).await.assert_problem(400, Some("refresh_token"));
    t.post("/auth/refresh", None, json!({"refresh_token": "garbage"})).await.assert_problem(401, None);
}

async fn logout_revokes_session(b: Backend) {
    let t = TestApp::new(b).await;
    t.post(
        "/auth/register",
        None,
        json!({"name": "Ada", "email": "ada@example.com", "password": "password123"}),
    )
    .await;
    let login =
        t.post("/auth/login", None, json!({"email": "ada@example.com", "password": "password123"})).await;
    let rt = login.body["refresh_token"].as_str().unwrap();
    let r = t.post("/auth/logout", None, json!({"refresh_token": rt})).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    t.post("/auth/refresh", None, json!({"refresh_token": rt})).await.assert_problem(401, None);
    t.post("/auth/logout", None, json!({})).await.assert_problem(400, Some("refresh_token"));
}

async fn access_token_expires(b: Backend) {
    let t = TestApp::new(b).await;
    let token = t.user("attendee").await.token;
    assert_eq!(t.get("/users/me", Some(&token)).await.status, StatusCode::OK);
    t.clock.advance(901);
    let r = t.get("/users/me", Some(&token)).await;
    r.assert_problem(401, None);
    assert_eq!(r.headers["www-authenticate"], "Bearer");
    t.get("/users/me", Some("not.a.jwt")).await.assert_problem(401, None);
    t.get("/users/me", None).await.assert_problem(401, None);
}

async fn login_is_rate_limited_per_address(b: Backend) {
    let limits = RateLimits { window_secs: 60, login_per_email: 100, login_per_ip: 3, ..Default::default() };
    let t = TestApp::with_limits(b, limits).await;
    let login = |email: String, ip: &'static str| {
        let body = json!({"email": email, "password": "whatever-1"}).to_string();
        http::Request::post("/auth/login")
            .header("content-type", "application/json")
            .header("x-forwarded-for", ip)
            .body(axum::body::Body::from(body))
            .unwrap()
    };
    for i in 0..3 {
        let r = t.send(login(format!("u{i}@example.com"), "198.51.100.7")).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    let r = t.send(login("fresh@example.com".into(), "198.51.100.7")).await;
    r.assert_problem(429, None);
    assert!(r.headers.contains_key("retry-after"));
    let r = t.send(login("fresh@example.com".into(), "198.51.100.8")).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "another address is not limited");
    // Regression (#21): the leftmost entry is the client's to write; the one the trusted proxy
    // added (the rightmost, with one proxy) is the address that is limited.
    for spoof in ["1.1.1.1, 198.51.100.7", "2.2.2.2, 198.51.100.7", "203.0.113.1,198.51.100.7"] {
        t.send(login("fresh@example.com".into(), spoof)).await.assert_problem(429, None);
    }
}
