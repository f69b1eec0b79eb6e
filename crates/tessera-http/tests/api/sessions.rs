//! When sessions end: a logout ends the user's access tokens; a password change, an admin's
//! reset or a disabled account ends every session (API keys stay, and the answer says so); a
//! role change applies to live tokens at once — here, and on another instance within a second.

use http::StatusCode;
use serde_json::{Value, json};

use tessera_store::Backend;

use crate::both;
use crate::support::{TestApp, event_body};

both!(
    logout_ends_access_tokens,
    password_changes_end_every_session,
    role_changes_and_disabling_apply_at_once
);

/// One device's session: its access and refresh tokens.
struct Device {
    access: String,
    refresh: String,
}

/// An account signed in on two devices.
struct TwoDevices {
    email: String,
    id: uuid::Uuid,
    devices: Vec<Device>,
}

/// Registers with `role` and signs in twice.
async fn two_devices(t: &TestApp, role: &str) -> TwoDevices {
    let email = format!("{}@example.com", uuid::Uuid::new_v4().simple());
    let r = t
        .post(
            "/auth/register",
            None,
            json!({"name": "S", "email": email, "password": "password123", "role": role}),
        )
        .await;
    let id = r.body["user_id"].as_str().unwrap().parse().unwrap();
    let mut devices = Vec::new();
    for _ in 0..2 {
        let r = login(t, &email, "password123").await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        devices.push(Device {
            access: r.body["access_token"].as_str().unwrap().into(),
            refresh: r.body["refresh_token"].as_str().unwrap().into(),
        });
    }
    TwoDevices { email, id, devices }
}

async fn login(t: &TestApp, email: &str, password: &str) -> crate::support::Res {
    t.post("/auth/login", None, json!({"email": email, "password": password})).await
}

fn refresh(token: &str) -> Value {
    json!({"refresh_token": token})
}

/// Regression (#21): logout left the access token valid for up to 15 minutes.
async fn logout_ends_access_tokens(b: Backend) {
    let t = TestApp::new(b).await;
    let d = two_devices(&t, "attendee").await.devices;
    assert_eq!(t.get("/users/me", Some(&d[0].access)).await.status, StatusCode::OK);
    assert_eq!(t.post("/auth/logout", None, refresh(&d[0].refresh)).await.status, StatusCode::NO_CONTENT);
    // This instance applies its own change at once; both devices' access tokens end.
    t.get("/users/me", Some(&d[0].access)).await.assert_problem(401, None);
    t.get("/users/me", Some(&d[1].access)).await.assert_problem(401, None);
    t.post("/auth/refresh", None, refresh(&d[0].refresh)).await.assert_problem(401, None);
    // The other device's session goes on: it refreshes into a token that works.
    let r = t.post("/auth/refresh", None, refresh(&d[1].refresh)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        t.get("/users/me", Some(r.body["access_token"].as_str().unwrap())).await.status,
        StatusCode::OK
    );
    // Another instance (another process on the same database) hears of a logout within a second.
    let other = tessera_app::App::new(t.db.store.clone(), Default::default(), t.clock.clone()).await.unwrap();
    let d = two_devices(&t, "attendee").await.devices;
    assert!(other.authenticate(&d[0].access).await.is_ok());
    assert_eq!(t.post("/auth/logout", None, refresh(&d[0].refresh)).await.status, StatusCode::NO_CONTENT);
    tokio::time::sleep(tessera_app::sessions::POLL + std::time::Duration::from_millis(100)).await;
    assert!(other.authenticate(&d[0].access).await.is_err(), "ended on the other instance too");
}

/// Regression (#21): a password change left old refresh and access tokens alive.
async fn password_changes_end_every_session(b: Backend) {
    let t = TestApp::new(b).await;
    let TwoDevices { email, id, devices: d } = two_devices(&t, "organizer").await;
    let key = t.post("/api-keys", Some(&d[0].access), json!({"name": "box office"})).await.body["key"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!("/users/{id}");
    let r = t
        .call(
            "PATCH",
            &path,
            Some(&d[0].access),
            Some(json!({"password": "new-password-1", "current_password": "password123"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["sessions_ended"], true);
    assert!(r.body["notice"].as_str().unwrap().contains("API keys"), "{}", r.body);
    for Device { access, refresh: refresh_token } in &d {
        t.get("/users/me", Some(access)).await.assert_problem(401, None);
        t.post("/auth/refresh", None, refresh(refresh_token)).await.assert_problem(401, None);
    }
    assert_eq!(t.get("/users/me", Some(&key)).await.status, StatusCode::OK, "API keys stay");
    login(&t, &email, "password123").await.assert_problem(401, None);
    let fresh = login(&t, &email, "new-password-1").await;
    assert_eq!(fresh.status, StatusCode::OK);
    let fresh = fresh.body["access_token"].as_str().unwrap().to_string();
    assert_eq!(t.get("/users/me", Some(&fresh)).await.status, StatusCode::OK);
    // A name change ends nothing.
    let r = t.call("PATCH", &path, Some(&fresh), Some(json!({"name": "Renamed"}))).await;
    assert_eq!((r.body["sessions_ended"].as_bool(), r.body["notice"].is_null()), (Some(false), true));
    assert_eq!(t.get("/users/me", Some(&fresh)).await.status, StatusCode::OK);
    // An admin's reset ends them too.
    let admin = t.user("admin").await.token;
    let r = t.call("PATCH", &path, Some(&admin), Some(json!({"password": "reset-by-admin-1"}))).await;
    assert_eq!(r.body["sessions_ended"], true, "{}", r.body);
    t.get("/users/me", Some(&fresh)).await.assert_problem(401, None);
}

/// Regression (#21): a demoted organizer kept organizer powers until the token expired.
async fn role_changes_and_disabling_apply_at_once(b: Backend) {
    let t = TestApp::new(b).await;
    let TwoDevices { email, id, devices: d } = two_devices(&t, "organizer").await;
    let token = &d[0].access;
    let key = t.post("/api-keys", Some(token), json!({"name": "k"})).await.body["key"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(t.post("/events", Some(token), event_body("Mine")).await.status, StatusCode::CREATED);
    let admin = t.user("admin").await.token;
    let path = format!("/users/{id}");
    let r = t.call("PATCH", &path, Some(&admin), Some(json!({"role": "attendee"}))).await;
    assert_eq!((r.status, r.body["sessions_ended"].as_bool()), (StatusCode::OK, Some(false)));
    t.post("/events", Some(token), event_body("Not any more")).await.assert_problem(403, None);
    t.post("/events", Some(&key), event_body("Nor by key")).await.assert_problem(403, None);
    assert_eq!(t.get("/users/me", Some(token)).await.body["role"], "attendee");
    // Disabling: only admins, not themselves; every credential stops, sign-in is refused.
    t.call("PATCH", &path, Some(token), Some(json!({"disabled": true}))).await.assert_problem(403, None);
    let (admin_id, _) = (t.app.authenticate(&admin).await.unwrap().user_id, ());
    t.call("PATCH", &format!("/users/{admin_id}"), Some(&admin), Some(json!({"disabled": true})))
        .await
        .assert_problem(400, Some("disabled"));
    let r = t.call("PATCH", &path, Some(&admin), Some(json!({"disabled": true}))).await;
    assert_eq!((r.body["disabled"].as_bool(), r.body["sessions_ended"].as_bool()), (Some(true), Some(true)));
    // Admins see who is disabled, in the list and on the account.
    let list = t.get(&format!("/users?q={}", email.replace('@', "%40")), Some(&admin)).await.body;
    assert_eq!(list["items"][0]["disabled"], true, "{list}");
    assert_eq!(t.get(&path, Some(&admin)).await.body["disabled"], true);
    t.get("/users/me", Some(token)).await.assert_problem(401, None);
    t.get("/users/me", Some(&key)).await.assert_problem(401, None);
    let r = login(&t, &email, "password123").await;
    r.assert_problem(403, None);
    t.post("/auth/refresh", None, refresh(&d[1].refresh)).await.assert_problem(401, None);
    let r = t.call("PATCH", &path, Some(&admin), Some(json!({"disabled": false}))).await;
    assert_eq!(r.body["disabled"], false);
    assert_eq!(login(&t, &email, "password123").await.status, StatusCode::OK);
    assert_eq!(t.get("/users/me", Some(&key)).await.status, StatusCode::OK, "the key works again");
}
