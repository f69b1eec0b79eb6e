//! The catalogue's kept answers (answers.rs): ETags and 304, gzip for clients that ask, and
//! freshness after a change, on this instance at once and on another within a second.

use axum::body::Body;
use http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::json;
use tessera_store::Backend;
use tower::ServiceExt;

use crate::both;
use crate::support::{TestApp, event_body};

both!(
    catalogue_answers_carry_etags_and_answer_304,
    catalogue_answers_are_gzipped_for_clients_that_ask,
    a_change_is_seen_here_at_once_and_elsewhere_within_a_second,
    bad_catalogue_queries_are_not_kept,
);

/// (status, headers, raw body) of a GET with extra headers.
async fn get(
    t: &TestApp,
    path: &str,
    headers: &[(header::HeaderName, &str)],
) -> (StatusCode, http::HeaderMap, Vec<u8>) {
    let mut req = Request::builder().uri(path);
    for (k, v) in headers {
        req = req.header(k, *v);
    }
    let res = t.router().oneshot(req.body(Body::empty()).unwrap()).await.unwrap();
    let (parts, body) = res.into_parts();
    (parts.status, parts.headers, body.collect().await.unwrap().to_bytes().to_vec())
}

async fn catalogue_answers_carry_etags_and_answer_304(b: Backend) {
    let t = TestApp::new(b).await;
    let org = t.user("organizer").await.token;
    let id = t.post("/events", Some(&org), event_body("Jazz Night")).await.body["event_id"]
        .as_str()
        .unwrap()
        .to_string();
    for path in ["/events?limit=5".to_string(), format!("/events/{id}")] {
        let (status, h, body) = get(&t, &path, &[]).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert_eq!(h[header::CONTENT_TYPE], "application/json");
        assert_eq!(h[header::CACHE_CONTROL], "no-cache");
        let etag = h[header::ETAG].to_str().unwrap().to_string();
        assert!(etag.starts_with("W/\""), "{etag}");
        assert!(serde_json::from_slice::<serde_json::Value>(&body).is_ok());
        let (status, h, body) = get(&t, &path, &[(header::IF_NONE_MATCH, &etag)]).await;
        assert_eq!(status, StatusCode::NOT_MODIFIED, "{path}");
        assert_eq!(h[header::ETAG], etag.as_str());
        assert!(body.is_empty());
        // Another tag, or none that matches: the whole answer.
        let (status, _, _) = get(&t, &path, &[(header::IF_NONE_MATCH, "W/\"stale\"")]).await;
        assert_eq!(status, StatusCode::OK);
    }
    // The ETag follows the answer, not the request: a change gives a new one.
    let (_, before, _) = get(&t, &format!("/events/{id}"), &[]).await;
    t.call("PATCH", &format!("/events/{id}"), Some(&org), Some(json!({"name": "Jazz Night II"}))).await;
    let (status, after, _) =
        get(&t, &format!("/events/{id}"), &[(header::IF_NONE_MATCH, before[header::ETAG].to_str().unwrap())])
            .await;
    assert_eq!(status, StatusCode::OK, "a changed event is sent again");
    assert_ne!(before[header::ETAG], after[header::ETAG]);
}

async fn catalogue_answers_are_gzipped_for_clients_that_ask(b: Backend) {
    let t = TestApp::new(b).await;
    let org = t.user("organizer").await.token;
    for i in 0..10 {
        t.post("/events", Some(&org), event_body(&format!("Concert {i}"))).await;
    }
    let (_, plain_h, plain) = get(&t, "/events?limit=10", &[]).await;
    assert!(plain_h.get(header::CONTENT_ENCODING).is_none());
    let (status, h, zipped) = get(&t, "/events?limit=10", &[(header::ACCEPT_ENCODING, "br, gzip")]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(h[header::CONTENT_ENCODING], "gzip");
    assert_eq!(h[header::VARY], "accept-encoding");
    assert_eq!(h[header::ETAG], plain_h[header::ETAG], "one representation for If-None-Match");
    let mut unzipped = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&zipped[..]), &mut unzipped).unwrap();
    assert_eq!(unzipped, plain);
    assert!(zipped.len() < plain.len());
    // gzip refused with q=0: plain.
    let (_, h, _) = get(&t, "/events?limit=10", &[(header::ACCEPT_ENCODING, "gzip;q=0")]).await;
    assert!(h.get(header::CONTENT_ENCODING).is_none());
    // Other JSON answers are compressed on the way out too.
    let (_, h, _) = get(&t, "/openapi.json", &[(header::ACCEPT_ENCODING, "gzip")]).await;
    assert_eq!(h[header::CONTENT_ENCODING], "gzip");
}

async fn a_change_is_seen_here_at_once_and_elsewhere_within_a_second(b: Backend) {
    let t = TestApp::new(b).await;
    let other = t.second_instance().await;
    let org = t.user("organizer").await.token;
    let id = t.post("/events", Some(&org), event_body("Jazz Night")).await.body["event_id"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!("/events/{id}");
    // Both instances keep the answer.
    assert_eq!(t.get(&path, None).await.body["name"], "Jazz Night");
    assert_eq!(other.get(&path, None).await.body["name"], "Jazz Night");
    assert_eq!(t.get("/events", None).await.body["items"][0]["name"], "Jazz Night");
    let r = t.call("PATCH", &path, Some(&org), Some(json!({"name": "Jazz Night II"}))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // The instance that made the change answers the new name at once, the list too.
    assert_eq!(t.get(&path, None).await.body["name"], "Jazz Night II");
    assert_eq!(t.get("/events", None).await.body["items"][0]["name"], "Jazz Night II");
    // The other one within a second (its kept answer expires).
    let start = std::time::Instant::now();
    loop {
        if other.get(&path, None).await.body["name"] == "Jazz Night II" {
            break;
        }
        assert!(start.elapsed() < std::time::Duration::from_millis(1500), "not seen within a second");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // A cancellation is a change too.
    assert_eq!(t.call("DELETE", &path, Some(&org), None).await.status, StatusCode::OK);
    assert_eq!(t.get(&path, None).await.body["status"], "cancelled");
    assert_eq!(t.get("/events", None).await.body["items"].as_array().map(Vec::len), Some(0));
}

async fn bad_catalogue_queries_are_not_kept(b: Backend) {
    let t = TestApp::new(b).await;
    for _ in 0..2 {
        t.get("/events?limit=abc", None).await.assert_problem(400, Some("limit"));
        let r = t.get("/events/not-a-uuid", None).await;
        r.assert_problem(404, None);
        assert!(r.headers.get(header::ETAG).is_none());
    }
}
