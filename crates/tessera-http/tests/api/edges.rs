//! Input at the edges of what a field can hold: every timestamp a client sends is range-checked
//! (400 naming the field), never a panic or a 500.

use http::StatusCode;
use serde_json::json;
use uuid::Uuid;

use tessera_store::Backend;

use crate::both;
use crate::support::{SeatedEvent, TestApp, event_body};

both!(far_timestamps_are_refused_by_name);

/// Regression (#21): year 9999 at offset -23:59 is year 10000 in UTC, and converting it
/// panicked (500, even with no login).
async fn far_timestamps_are_refused_by_name(b: Backend) {
    let t = TestApp::new(b).await;
    const FAR: &str = "9999-12-31T23:59:59-23:59";
    const EARLY: &str = "0000-01-01T00:00:00+23:59";
    for q in ["start_from", "start_to"] {
        for v in [FAR, EARLY, "3000-01-01T00:00:00Z"] {
            t.get(&format!("/events?{q}={v}"), None).await.assert_problem(400, Some(q));
        }
    }
    let org_t = t.user("organizer").await.token;
    for v in [FAR, EARLY] {
        let mut body = event_body("Far");
        body["start_time"] = json!(v);
        t.post("/events", Some(&org_t), body).await.assert_problem(400, Some("start_time"));
    }
    let SeatedEvent { id: ev, organizer_token: org_t } = t.seated_event(json!({})).await;
    let path = format!("/events/{ev}");
    t.call("PATCH", &path, Some(&org_t), Some(json!({"end_time": FAR})))
        .await
        .assert_problem(400, Some("end_time"));
    let r = t
        .call("PUT", &format!("{path}/queue"), Some(&org_t), Some(json!({"enabled": true, "opens_at": FAR})))
        .await;
    r.assert_problem(400, Some("opens_at"));
    let staff = t.user("admin").await.token;
    let r = t
        .post("/checkin/sync", Some(&staff), json!({"device_id": "d", "scans": [
            {"scan_id": Uuid::now_v7(), "code": "X", "direction": "entry", "scanned_at": "2026-01-01T00:00:00Z"},
            {"scan_id": Uuid::now_v7(), "code": "X", "direction": "entry", "scanned_at": FAR}]}))
        .await;
    r.assert_problem(400, Some("scans[1].scanned_at"));
    // Nothing above was a server error, and the server still answers.
    assert_eq!(t.get("/events", None).await.status, StatusCode::OK);
}
