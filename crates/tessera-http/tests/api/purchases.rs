//! Purchases read API and statistics. Purchases are loaded through the store here (buying is
//! a later issue), exactly as `tessera import` and `seed --demo` load them.

use http::StatusCode;
use serde_json::json;
use tessera_domain::id::PurchaseId;
use tessera_domain::records::Purchase;
use tessera_store::Backend;
use time::macros::datetime;
use uuid::Uuid;

use crate::both;
use crate::support::{TestApp, User, event_body};

both!(event_purchases_owner_only, my_purchases_paginate, event_stats_rules, category_stats_and_overview);

async fn buy(t: &TestApp, user: Uuid, event: Uuid, qty: i32, when: time::OffsetDateTime) {
    let row = Purchase {
        purchase_id: PurchaseId::new(),
        user_id: user.into(),
        event_id: event.into(),
        purchase_time: when,
        ticket_quantity: qty,
        total_price: 350_000 * i64::from(qty),
        status: tessera_domain::records::PurchaseStatus::Completed,
    };
    t.db.store.insert_purchases(&[row]).await.unwrap();
}

async fn event_purchases_owner_only(b: Backend) {
    let t = TestApp::new(b).await;
    let org_t = t.user("organizer").await.token;
    let other_t = t.user("organizer").await.token;
    let admin_t = t.user("admin").await.token;
    let User { id: att, token: att_t } = t.user("attendee").await;
    let ev = t.event(&org_t, event_body("Jazz")).await;
    buy(&t, att, ev, 2, datetime!(2026-04-01 10:00 UTC)).await;
    let path = format!("/events/{ev}/purchases");
    let r = t.get(&path, Some(&org_t)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["items"][0]["ticket_quantity"], 2);
    assert_eq!(r.body["items"][0]["total_price"], "7000.00");
    assert_eq!(r.body["items"][0]["user_id"], att.to_string());
    assert_eq!(t.get(&path, Some(&admin_t)).await.status, StatusCode::OK);
    t.get(&path, Some(&other_t)).await.assert_problem(403, None);
    t.get(&path, Some(&att_t)).await.assert_problem(403, None);
    t.get(&path, None).await.assert_problem(401, None);
    t.get(&format!("/events/{}/purchases", Uuid::now_v7()), Some(&admin_t)).await.assert_problem(404, None);
    t.get("/events/bad/purchases", Some(&admin_t)).await.assert_problem(404, None);
    t.get(&format!("{path}?limit=500"), Some(&org_t)).await.assert_problem(400, Some("limit"));
}

async fn my_purchases_paginate(b: Backend) {
    let t = TestApp::new(b).await;
    let org_t = t.user("organizer").await.token;
    let User { id: att, token: att_t } = t.user("attendee").await;
    let other_t = t.user("attendee").await.token;
    let ev = t.event(&org_t, event_body("Jazz")).await;
    for day in 1..=3 {
        buy(&t, att, ev, 1, datetime!(2026-04-01 10:00 UTC) + time::Duration::days(day)).await;
    }
    let r = t.get("/users/me/purchases?limit=2", Some(&att_t)).await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 2);
    let c = r.body["next_cursor"].as_str().unwrap();
    let r2 = t.get(&format!("/users/me/purchases?limit=2&cursor={c}"), Some(&att_t)).await;
    assert_eq!(r2.body["items"].as_array().unwrap().len(), 1);
    assert!(r2.body["next_cursor"].is_null());
    assert_eq!(t.get("/users/me/purchases", Some(&other_t)).await.body["items"], json!([]));
    t.get("/users/me/purchases", None).await.assert_problem(401, None);
    t.get("/users/me/purchases?cursor=abc", Some(&att_t)).await.assert_problem(400, Some("cursor"));
}

async fn event_stats_rules(b: Backend) {
    let t = TestApp::new(b).await;
    let org_t = t.user("organizer").await.token;
    let other_t = t.user("organizer").await.token;
    let a1 = t.user("attendee").await.id;
    let User { id: a2, token: att_t } = t.user("attendee").await;
    let ev = t.event(&org_t, event_body("Jazz")).await;
    buy(&t, a1, ev, 2, datetime!(2026-04-01 10:00 UTC)).await;
    buy(&t, a2, ev, 3, datetime!(2026-04-02 10:00 UTC)).await;
    buy(&t, a1, ev, 1, datetime!(2026-04-02 11:00 UTC)).await;
    let r = t.get(&format!("/stats/events/{ev}"), Some(&org_t)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["tickets_sold"], 6);
    assert_eq!(r.body["unique_attendees"], 2);
    assert_eq!(r.body["revenue"], "21000.00");
    assert_eq!(r.body["capacity"], 100);
    assert_eq!(r.body["fill_rate"], 0.06);
    assert_eq!(
        r.body["sales_per_day"],
        json!([{"day": "2026-04-01", "tickets_sold": 2, "revenue": "7000.00"},
               {"day": "2026-04-02", "tickets_sold": 4, "revenue": "14000.00"}])
    );
    t.get(&format!("/stats/events/{ev}"), Some(&other_t)).await.assert_problem(403, None);
    t.get(&format!("/stats/events/{ev}"), Some(&att_t)).await.assert_problem(403, None);
    t.get(&format!("/stats/events/{ev}"), None).await.assert_problem(401, None);
    t.get(&format!("/stats/events/{}", Uuid::now_v7()), Some(&org_t)).await.assert_problem(404, None);
}

async fn category_stats_and_overview(b: Backend) {
    let t = TestApp::new(b).await;
    let org_t = t.user("organizer").await.token;
    let admin_t = t.user("admin").await.token;
    let User { id: att, token: att_t } = t.user("attendee").await;
    let ev = t.event(&org_t, event_body("Jazz")).await;
    t.event(&org_t, json!({"name": "Meetup", "start_time": "2027-01-10T10:00:00Z", "category": "tech"}))
        .await;
    buy(&t, att, ev, 2, datetime!(2026-04-01 10:00 UTC)).await;
    let r = t.get("/stats/categories", Some(&org_t)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        r.body["items"],
        json!([{"category": "music", "events": 1, "tickets_sold": 2, "revenue": "7000.00"},
               {"category": "tech", "events": 1, "tickets_sold": 0, "revenue": "0.00"}])
    );
    let r = t.get("/stats/categories?from=2027-01-01T00:00:00Z", Some(&admin_t)).await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 1);
    t.get("/stats/categories?from=soon", Some(&admin_t)).await.assert_problem(400, Some("from"));
    t.get("/stats/categories?from=2027-01-01T00:00:00Z&to=2026-01-01T00:00:00Z", Some(&admin_t))
        .await
        .assert_problem(400, Some("to"));
    t.get("/stats/categories", Some(&att_t)).await.assert_problem(403, None);
    t.get("/stats/categories", None).await.assert_problem(401, None);

    let o = t.get("/stats/overview", Some(&admin_t)).await;
    assert_eq!(o.status, StatusCode::OK);
    assert_eq!((o.body["users"].as_i64(), o.body["events"].as_i64()), (Some(3), Some(2)));
    assert_eq!((o.body["tickets_sold"].as_i64(), o.body["revenue"].as_str()), (Some(2), Some("7000.00")));
    t.get("/stats/overview", Some(&org_t)).await.assert_problem(403, None);
    t.get("/stats/overview", None).await.assert_problem(401, None);
}
