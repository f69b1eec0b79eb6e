//! `/users*`: me, one user, the admin list, profile changes.

use http::StatusCode;
use serde_json::json;
use tessera_store::Backend;
use uuid::Uuid;

use crate::both;
use crate::support::{TestApp, User};

both!(get_user_self_or_admin, list_users_admin_only, patch_user_rules);

async fn get_user_self_or_admin(b: Backend) {
    let t = TestApp::new(b).await;
    let User { id: alice, token: alice_t } = t.user("attendee").await;
    let bob_t = t.user("attendee").await.token;
    let admin_t = t.user("admin").await.token;
    assert_eq!(t.get(&format!("/users/{alice}"), Some(&alice_t)).await.status, StatusCode::OK);
    assert_eq!(t.get(&format!("/users/{alice}"), Some(&admin_t)).await.status, StatusCode::OK);
    // Another user's account is hidden as 404, like an unknown or malformed id.
    t.get(&format!("/users/{alice}"), Some(&bob_t)).await.assert_problem(404, None);
    t.get(&format!("/users/{}", Uuid::now_v7()), Some(&admin_t)).await.assert_problem(404, None);
    t.get("/users/not-a-uuid", Some(&admin_t)).await.assert_problem(404, None);
    t.get(&format!("/users/{alice}"), None).await.assert_problem(401, None);
}

async fn list_users_admin_only(b: Backend) {
    let t = TestApp::new(b).await;
    let admin_t = t.user("admin").await.token;
    let org_t = t.user("organizer").await.token;
    for _ in 0..3 {
        t.user("attendee").await;
    }
    let r = t.get("/users?limit=2", Some(&admin_t)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["items"].as_array().unwrap().len(), 2);
    let cursor = r.body["next_cursor"].as_str().unwrap().to_string();
    let r2 = t.get(&format!("/users?limit=2&cursor={cursor}"), Some(&admin_t)).await;
    assert_eq!(r2.body["items"].as_array().unwrap().len(), 2);
    let r3 = t
        .get(&format!("/users?limit=2&cursor={}", r2.body["next_cursor"].as_str().unwrap()), Some(&admin_t))
        .await;
    assert_eq!(r3.body["items"].as_array().unwrap().len(), 1);
    assert!(r3.body["next_cursor"].is_null());
    let r = t.get("/users?role=organizer", Some(&admin_t)).await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 1);
    let r = t.get("/users?q=ADMIN-", Some(&admin_t)).await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 1);
    t.get("/users?role=king", Some(&admin_t)).await.assert_problem(400, Some("role"));
    t.get("/users?limit=0", Some(&admin_t)).await.assert_problem(400, Some("limit"));
    t.get("/users?limit=abc", Some(&admin_t)).await.assert_problem(400, Some("limit"));
    t.get("/users?cursor=zzz", Some(&admin_t)).await.assert_problem(400, Some("cursor"));
    t.get("/users", Some(&org_t)).await.assert_problem(403, None);
    t.get("/users", None).await.assert_problem(401, None);
}

async fn patch_user_rules(b: Backend) {
    let t = TestApp::new(b).await;
    let User { id: alice, token: alice_t } = t.user("attendee").await;
    let bob_t = t.user("attendee").await.token;
    let admin_t = t.user("admin").await.token;
    let path = format!("/users/{alice}");
    let r = t
        .call("PATCH", &path, Some(&alice_t), Some(json!({"name": "Alice", "phone_number": "090-1234-5678"})))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        (r.body["name"].as_str(), r.body["phone_number"].as_str()),
        (Some("Alice"), Some("090-1234-5678"))
    );
    let r = t.call("PATCH", &path, Some(&alice_t), Some(json!({"phone_number": null}))).await;
    assert!(r.body["phone_number"].is_null());
    t.call("PATCH", &path, Some(&alice_t), Some(json!({"name": ""}))).await.assert_problem(400, Some("name"));
    t.call("PATCH", &path, Some(&alice_t), Some(json!({"role": "admin"}))).await.assert_problem(403, None);
    t.call("PATCH", &path, Some(&bob_t), Some(json!({"name": "X"}))).await.assert_problem(404, None);
    t.call("PATCH", &path, None, Some(json!({"name": "X"}))).await.assert_problem(401, None);
    // Changing one's own password needs the current one.
    t.call("PATCH", &path, Some(&alice_t), Some(json!({"password": "new-password-1"})))
        .await
        .assert_problem(400, Some("current_password"));
    let r = t
        .call(
            "PATCH",
            &path,
            Some(&alice_t),
            Some(json!({"password": "new-password-1", "current_password": "password123"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    // Admins change roles.
    let r = t.call("PATCH", &path, Some(&admin_t), Some(json!({"role": "organizer"}))).await;
    assert_eq!(r.body["role"], "organizer");
    t.call("PATCH", &path, Some(&admin_t), Some(json!({"role": "king"})))
        .await
        .assert_problem(400, Some("role"));
    t.call("PATCH", &format!("/users/{}", Uuid::now_v7()), Some(&admin_t), Some(json!({"name": "X"})))
        .await
        .assert_problem(404, None);
}
