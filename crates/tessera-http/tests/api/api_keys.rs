//! `/api-keys`: create (shown once), list, revoke, and use as a bearer credential.

use http::StatusCode;
use serde_json::json;
use tessera_store::Backend;
use uuid::Uuid;

use crate::both;
use crate::support::{TestApp, User};

both!(api_key_lifecycle);

async fn api_key_lifecycle(b: Backend) {
    let t = TestApp::new(b).await;
    let User { id: org, token: org_t } = t.user("organizer").await;
    let other_t = t.user("organizer").await.token;
    let r = t.post("/api-keys", Some(&org_t), json!({"name": "box office"})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let key = r.body["key"].as_str().unwrap().to_string();
    let id = r.body["api_key_id"].as_str().unwrap().to_string();
    assert!(key.starts_with("tsk_"));
    assert!(key.starts_with(r.body["prefix"].as_str().unwrap()));
    // The key works as a bearer credential, with the owner's role.
    let me = t.get("/users/me", Some(&key)).await;
    assert_eq!(me.body["user_id"], org.to_string());
    let ev = t.post("/events", Some(&key), crate::support::event_body("Via key")).await;
    assert_eq!(ev.status, StatusCode::CREATED);
    // Listed without the secret.
    let list = t.get("/api-keys", Some(&org_t)).await;
    assert_eq!(list.body["items"].as_array().unwrap().len(), 1);
    assert!(list.body["items"][0].get("key").is_none());
    assert_eq!(t.get("/api-keys", Some(&other_t)).await.body["items"].as_array().unwrap().len(), 0);
    // Bad input, someone else's key, unknown and malformed ids.
    t.post("/api-keys", Some(&org_t), json!({})).await.assert_problem(400, Some("name"));
    t.call("DELETE", &format!("/api-keys/{id}"), Some(&other_t), None).await.assert_problem(404, None);
    t.call("DELETE", &format!("/api-keys/{}", Uuid::now_v7()), Some(&org_t), None)
        .await
        .assert_problem(404, None);
    t.call("DELETE", "/api-keys/xyz", Some(&org_t), None).await.assert_problem(404, None);
    t.post("/api-keys", None, json!({"name": "x"})).await.assert_problem(401, None);
    t.get("/api-keys", None).await.assert_problem(401, None);
    // Revoked keys stop working.
    assert_eq!(
        t.call("DELETE", &format!("/api-keys/{id}"), Some(&org_t), None).await.status,
        StatusCode::NO_CONTENT
    );
    t.get("/users/me", Some(&key)).await.assert_problem(401, None);
    t.get("/users/me", Some("tsk_forged")).await.assert_problem(401, None);
}
