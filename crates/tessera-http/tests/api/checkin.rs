//! Door check-in: entry, exit and re-entry; every refusal with its own status; one winner among
//! racing scans; offline scans merged the same way in any order; staff and counts.

use http::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use tessera_app::Principal;
use tessera_app::booking::ReserveInput;
use tessera_app::checkin::{Refusal, ScanInput};
use tessera_app::domain::Role;
use tessera_store::Backend;

use crate::both;
use crate::support::TestApp;

both!(
    entry_exit_and_reentry,
    refusals_each_have_their_status,
    racing_entries_admit_once,
    offline_scans_merge_in_any_order,
    staff_and_bundle_authorization,
    export_and_stats,
    a_reissued_ticket_is_the_same_admission,
    a_devices_clock_cannot_revive_an_expired_code
);

/// A seated event with a staff member assigned: (event, organizer token, staff id, staff token).
async fn door(t: &TestApp) -> (Uuid, String, Uuid, String) {
    let (ev, org_t) = t.seated_event(json!({"end_time": "2030-05-03T18:00:00Z"})).await;
    let (staff_id, staff_t) = t.user("staff").await;
    let r = t.call("PUT", &format!("/events/{ev}/staff/{staff_id}"), Some(&org_t), None).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    (ev, org_t, staff_id, staff_t)
}

/// Buys `seat` for a fresh attendee and answers (holder token, principal, ticket id, code).
async fn ticket(t: &TestApp, ev: Uuid, seat: i64) -> (String, Principal, Uuid, String) {
    let (id, token) = t.user("attendee").await;
    let p = Principal { user_id: id, role: Role::Attendee };
    t.app.charge(&p, Some("100")).await.unwrap();
    let input = ReserveInput { event_id: Some(ev), seat_numbers: Some(vec![seat]), ..Default::default() };
    let h = t.app.reserve(&p, &input).await.unwrap();
    let r = t.app.pay(&p, Some(h.reservation.reservation_id), None, None).await.unwrap();
    let tid = r.tickets[0].ticket_id;
    let code =
        t.get(&format!("/tickets/{tid}"), Some(&token)).await.body["code"].as_str().unwrap().to_string();
    (token, p, tid, code)
}

fn scan(code: &str, direction: &str, gate: &str) -> Value {
    json!({"code": code, "direction": direction, "gate": gate, "device_id": "scanner-1"})
}

async fn entry_exit_and_reentry(b: Backend) {
    let t = TestApp::new(b).await;
    let (ev, org_t, staff_id, staff) = door(&t).await;
    let org_id = t.app.get_event(ev).await.unwrap().organizer_id.unwrap();
    let (_, _, tid, code) = ticket(&t, ev, 4).await;
    let r = t.post("/checkin", Some(&staff), scan(&code, "entry", "North")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["ticket_id"], json!(tid));
    assert_eq!((r.body["day"].as_i64(), r.body["inside"].as_bool()), (Some(1), Some(true)));
    assert_eq!(r.body["seat_number"].as_i64(), Some(4));
    // A second entry: 409 with when and where it was first used.
    let again = t.post("/checkin", Some(&staff), scan(&code, "entry", "South")).await;
    again.assert_problem(409, None);
    assert_eq!(again.body["code"], "already_inside");
    assert_eq!(again.body["first_gate"], "North");
    assert!(again.body["first_entry_at"].is_string(), "{}", again.body);
    // Exit, a second exit refused, and back in (re-entry is allowed by default).
    assert_eq!(t.post("/checkin", Some(&staff), scan(&code, "exit", "North")).await.status, StatusCode::OK);
    let out = t.post("/checkin", Some(&staff), scan(&code, "exit", "North")).await;
    out.assert_problem(409, None);
    assert_eq!(out.body["code"], "not_inside");
    let back = t.post("/checkin", Some(&org_t), scan(&code, "entry", "East")).await;
    assert_eq!((back.status, back.body["entries"].as_i64()), (StatusCode::OK, Some(2)));
    // Every scan is kept, accepted or not.
    let scans = t.app.store.scans_of_ticket(tid).await.unwrap();
    let results: Vec<_> = scans.iter().map(|s| s.result.as_str()).collect();
    assert_eq!(results, ["accepted", "already_inside", "accepted", "not_inside", "accepted"]);
    // The door's counts.
    let s = t.get(&format!("/events/{ev}/checkin/summary"), Some(&staff)).await;
    assert_eq!(s.status, StatusCode::OK, "{}", s.body);
    assert_eq!((s.body["inside_now"].as_i64(), s.body["entered_today"].as_i64()), (Some(1), Some(1)));
    assert_eq!(s.body["per_day"], json!([{"day": 1, "entered": 1}]));
    assert_eq!(s.body["per_gate"], json!([{"gate": "East", "entries": 1}, {"gate": "North", "entries": 1}]));
    // A ticket type that forbids re-entry.
    let tt = t
        .post(
            &format!("/events/{ev}/ticket-types"),
            Some(&org_t),
            json!({"name": "Day pass", "price": "10", "quota": 5, "allow_reentry": false}),
        )
        .await;
    assert_eq!(
        (tt.status, tt.body["allow_reentry"].as_bool()),
        (StatusCode::CREATED, Some(false)),
        "{}",
        tt.body
    );
    let tt_id: Uuid = tt.body["ticket_type_id"].as_str().unwrap().parse().unwrap();
    let (uid, a) = t.user("attendee").await;
    let p = Principal { user_id: uid, role: Role::Attendee };
    t.app.charge(&p, Some("100")).await.unwrap();
    let input = ReserveInput {
        event_id: Some(ev),
        ticket_type_id: Some(tt_id),
        quantity: Some(1),
        ..Default::default()
    };
    let h = t.app.reserve(&p, &input).await.unwrap();
    let paid = t.app.pay(&p, Some(h.reservation.reservation_id), None, None).await.unwrap();
    let pass = t.get(&format!("/tickets/{}", paid.tickets[0].ticket_id), Some(&a)).await.body["code"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(t.post("/checkin", Some(&staff), scan(&pass, "entry", "A")).await.status, StatusCode::OK);
    assert_eq!(t.post("/checkin", Some(&staff), scan(&pass, "exit", "A")).await.status, StatusCode::OK);
    t.post("/checkin", Some(&staff), scan(&pass, "entry", "A")).await.assert_problem(409, None);
    // The next festival day counts afresh (the holder is still inside from day 1).
    let start = t.app.store.ticket_detail(tid).await.unwrap().unwrap().event_start;
    let now = t.app.now();
    t.clock.advance((start - now).whole_seconds() + 25 * 3600);
    // (Access tokens are short-lived: fresh ones at the new time.)
    let staff = t.app.access_token(staff_id, Role::Staff).unwrap();
    let org_t = t.app.access_token(org_id, Role::Organizer).unwrap();
    let d2 = t.post("/checkin", Some(&staff), scan(&code, "entry", "North")).await;
    assert_eq!((d2.status, d2.body["day"].as_i64()), (StatusCode::OK, Some(2)), "{}", d2.body);
    let s = t.get(&format!("/events/{ev}/checkin/summary"), Some(&org_t)).await;
    // (Day 1: this ticket and the day pass.)
    assert_eq!(s.body["per_day"], json!([{"day": 1, "entered": 2}, {"day": 2, "entered": 1}]));
}

async fn refusals_each_have_their_status(b: Backend) {
    let t = TestApp::new(b).await;
    let (ev, _, staff_id, staff) = door(&t).await;
    let (holder, p, tid, code) = ticket(&t, ev, 1).await;
    // Bad input.
    t.post("/checkin", Some(&staff), json!({})).await.assert_problem(400, Some("code"));
    t.post("/checkin", Some(&staff), json!({"code": code, "direction": "sideways"}))
        .await
        .assert_problem(400, Some("direction"));
    t.post("/checkin", Some(&staff), json!({"code": code, "gate": "g".repeat(101)}))
        .await
        .assert_problem(400, Some("gate"));
    t.post("/checkin", Some(&staff), json!({"code": 5})).await.assert_problem(400, Some("code"));
    // Who may not scan.
    t.post("/checkin", None, scan(&code, "entry", "A")).await.assert_problem(401, None);
    t.post("/checkin", Some(&holder), scan(&code, "entry", "A")).await.assert_problem(403, None);
    // Forged and altered: 422.
    let forged = t.post("/checkin", Some(&staff), scan("NOTATICKET", "entry", "A")).await;
    forged.assert_problem(422, None);
    assert_eq!(forged.body["code"], "invalid_code");
    let mut altered = code.clone().into_bytes();
    altered[150] = if altered[150] == b'A' { b'B' } else { b'A' };
    let altered = String::from_utf8(altered).unwrap();
    t.post("/checkin", Some(&staff), scan(&altered, "entry", "A")).await.assert_problem(422, None);
    // Another event's ticket: 403 naming that event — for its staff, and for an admin scanning
    // at this event's door.
    let (other_ev, _, _, other_staff) = door(&t).await;
    let wrong = t.post("/checkin", Some(&other_staff), scan(&code, "entry", "A")).await;
    wrong.assert_problem(403, None);
    assert_eq!(
        (wrong.body["code"].as_str(), wrong.body["event_id"].clone()),
        (Some("wrong_event"), json!(ev))
    );
    assert_eq!(wrong.body["event_name"], "Concert");
    let (_, admin) = t.user("admin").await;
    let mut at_other = scan(&code, "entry", "A");
    at_other["event_id"] = json!(other_ev);
    t.post("/checkin", Some(&admin), at_other).await.assert_problem(403, None);
    // A genuine signature over a ticket that does not exist: 404.
    let mut ghost = t.app.store.ticket_detail(tid).await.unwrap().unwrap();
    ghost.ticket_id = Uuid::now_v7();
    let ghost_code = t.app.ticket_code(&ghost).await.unwrap();
    t.post("/checkin", Some(&staff), scan(&ghost_code, "entry", "A")).await.assert_problem(404, None);
    // Outside the validity window: 403.
    t.clock.advance(10 * 365 * 24 * 3600);
    let late_staff = t.app.access_token(staff_id, Role::Staff).unwrap();
    let late = t.post("/checkin", Some(&late_staff), scan(&code, "entry", "A")).await;
    late.assert_problem(403, None);
    assert_eq!(late.body["code"], "not_valid_now");
    t.clock.advance(-10 * 365 * 24 * 3600);
    // A ticket voided between the check of its code and the door's update (a refund racing the
    // scan) is refused by the update itself.
    let raced = ticket(&t, ev, 7).await;
    let purchase = t.app.ticket(&raced.1, raced.2).await.unwrap().ticket.purchase_id;
    assert_eq!(
        t.post(&format!("/purchases/{purchase}/refund"), Some(&raced.0), json!({})).await.status,
        StatusCode::OK
    );
    let now = t.app.now();
    let row = tessera_store::ScanRow {
        scan_id: Uuid::now_v7(),
        event_id: Some(ev),
        ticket_id: Some(raced.2),
        direction: "entry".into(),
        day: Some(1),
        gate: None,
        device_id: None,
        scanned_by: staff_id,
        scanned_at: now,
        recorded_at: now,
        source: "online".into(),
        result: String::new(),
        detail: None,
    };
    let (outcome, _) = t.app.store.scan_ticket(&row, true).await.unwrap();
    assert_eq!(outcome, tessera_app::domain::checkin::Outcome::Void);
    // Revoked by a refund: 410.
    let purchase = t.app.ticket(&p, tid).await.unwrap().ticket.purchase_id;
    assert_eq!(
        t.post(&format!("/purchases/{purchase}/refund"), Some(&holder), json!({})).await.status,
        StatusCode::OK
    );
    let void = t.post("/checkin", Some(&staff), scan(&code, "entry", "A")).await;
    void.assert_problem(410, None);
    assert_eq!(void.body["code"], "ticket_void");
    // Refused scans of this ticket were kept too.
    let kept: Vec<_> =
        t.app.store.scans_of_ticket(tid).await.unwrap().into_iter().map(|s| s.result).collect();
    assert!(
        kept.contains(&"not_valid_now".to_string()) && kept.contains(&"ticket_void".to_string()),
        "{kept:?}"
    );
}

async fn racing_entries_admit_once(b: Backend) {
    let t = TestApp::new(b).await;
    let (ev, _, staff_id, _) = door(&t).await;
    let (_, _, tid, code) = ticket(&t, ev, 9).await;
    let staff = Principal { user_id: staff_id, role: Role::Staff };
    let mut tasks = Vec::new();
    for n in 0..100 {
        let app = t.app.clone();
        let input = ScanInput {
            code: Some(code.clone()),
            direction: Some("entry".into()),
            gate: Some(format!("G{}", n % 4)),
            ..Default::default()
        };
        let who = staff.clone();
        tasks.push(tokio::spawn(async move { app.check_in(&who, &input).await }));
    }
    let (mut ok, mut inside) = (0, 0);
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => ok += 1,
            Err(Refusal::AlreadyInside { .. }) => inside += 1,
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!((ok, inside), (1, 99));
    let p = t.app.store.presence(tid, 1).await.unwrap().unwrap();
    assert_eq!((p.inside, p.entries), (true, 1));
    assert_eq!(t.app.store.scans_of_ticket(tid).await.unwrap().len(), 100);
}

fn offline(id: u128, code: &str, direction: &str, gate: &str, at: &str) -> Value {
    json!({"scan_id": Uuid::from_u128(id), "code": code, "direction": direction, "gate": gate, "scanned_at": at})
}

async fn offline_scans_merge_in_any_order(b: Backend) {
    // Two devices scanned the same ticket while offline; whichever syncs first, the earlier entry
    // wins and the later one is a conflict.
    let mut finals = Vec::new();
    for a_first in [true, false] {
        let t = TestApp::new(b).await;
        let (ev, _, staff_id, _) = door(&t).await;
        let (_, _, tid, code) = ticket(&t, ev, 2).await;
        let start = t.app.store.ticket_detail(tid).await.unwrap().unwrap().event_start;
        let at = |mins: i64| {
            (start + time::Duration::minutes(mins))
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap()
        };
        // The scans happened at the event, which the test clock reaches first.
        let now = t.app.now();
        // Synced ten days later, past the codes' validity: they were valid when scanned.
        t.clock.advance((start - now).whole_seconds() + 10 * 86_400);
        let staff = t.app.access_token(staff_id, Role::Staff).unwrap();
        let device_a = json!({"device_id": "A", "scans": [
            offline(1, &code, "entry", "Gate A", &at(1)),
            offline(2, &code, "exit", "Gate A", &at(30)),
        ]});
        let device_b = json!({"device_id": "B", "scans": [offline(3, &code, "entry", "Gate B", &at(5))]});
        let order = if a_first { [&device_a, &device_b] } else { [&device_b, &device_a] };
        let mut answers = Vec::new();
        for batch in order {
            let r = t.post("/checkin/sync", Some(&staff), batch.clone()).await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.body);
            answers.push(r.body);
        }
        // Sending a batch again changes nothing.
        let before = t.app.store.scans_of_ticket(tid).await.unwrap();
        let again = t.post("/checkin/sync", Some(&staff), device_a.clone()).await;
        assert_eq!(again.status, StatusCode::OK);
        assert_eq!(t.app.store.scans_of_ticket(tid).await.unwrap(), before);
        let results: Vec<(String, String)> =
            before.iter().map(|s| (s.gate.clone().unwrap_or_default(), s.result.clone())).collect();
        let p = t.app.store.presence(tid, 1).await.unwrap().unwrap();
        // B's sync reports its own scan as a conflict when it syncs after A.
        if a_first {
            assert_eq!(answers[1]["results"][0]["result"], "already_inside");
            assert_eq!(answers[1]["conflicts"], 1);
        }
        finals.push((results, p.inside, p.entries, p.first_gate.clone()));
    }
    assert_eq!(finals[0], finals[1], "the same outcome in either order");
    assert_eq!(
        finals[0].0,
        vec![
            ("Gate A".to_string(), "accepted".to_string()),
            ("Gate B".to_string(), "already_inside".to_string()),
            ("Gate A".to_string(), "accepted".to_string()),
        ]
    );
    assert_eq!((finals[0].1, finals[0].2, finals[0].3.as_deref()), (false, 1, Some("Gate A")));
}

async fn staff_and_bundle_authorization(b: Backend) {
    let t = TestApp::new(b).await;
    let (ev, org_t, staff_id, staff) = door(&t).await;
    let (holder, p, tid, code) = ticket(&t, ev, 5).await;
    // The bundle: keys, revocations, a version that moves when they change.
    let path = format!("/events/{ev}/checkin/offline-bundle");
    let b1 = t.get(&path, Some(&staff)).await;
    assert_eq!(b1.status, StatusCode::OK, "{}", b1.body);
    assert_eq!(b1.body["keys"].as_array().unwrap().len(), 1);
    assert!(b1.body["revoked_ticket_ids"].as_array().unwrap().is_empty());
    let purchase = t.app.ticket(&p, tid).await.unwrap().ticket.purchase_id;
    t.post(&format!("/purchases/{purchase}/refund"), Some(&holder), json!({})).await;
    let b2 = t.get(&path, Some(&staff)).await;
    assert_eq!(b2.body["revoked_ticket_ids"], json!([tid]));
    assert_ne!(b1.body["version"], b2.body["version"]);
    // Offline scans of the void ticket come back refused.
    let now = t.app.now().format(&time::format_description::well_known::Rfc3339).unwrap();
    let r = t
        .post("/checkin/sync", Some(&staff), json!({"scans": [offline(7, &code, "entry", "A", &now)]}))
        .await;
    assert_eq!(r.body["results"][0]["result"], "ticket_void", "{}", r.body);
    // Sync input.
    t.post("/checkin/sync", Some(&staff), json!({})).await.assert_problem(400, Some("scans"));
    t.post("/checkin/sync", Some(&staff), json!({"scans": []})).await.assert_problem(400, Some("scans"));
    t.post("/checkin/sync", Some(&staff), json!({"scans": [{"code": code}]}))
        .await
        .assert_problem(400, Some("scans[0].scan_id"));
    t.post(
        "/checkin/sync",
        Some(&staff),
        json!({"scans": [{"scan_id": Uuid::now_v7(), "code": code, "scanned_at": "2999-01-01T00:00:00Z"}]}),
    )
    .await
    .assert_problem(400, Some("scans[0].scanned_at"));
    t.post("/checkin/sync", Some(&holder), json!({"scans": [offline(8, &code, "entry", "A", &now)]}))
        .await
        .assert_problem(403, None);
    t.post("/checkin/sync", None, json!({"scans": []})).await.assert_problem(401, None);
    // Staff of another event, attendees and strangers may not see this door.
    let (_, _, _, other_staff) = door(&t).await;
    let (_, other_org) = t.user("organizer").await;
    for who in [&other_staff, &holder, &other_org] {
        t.get(&path, Some(who)).await.assert_problem(403, None);
        t.get(&format!("/events/{ev}/checkin/summary"), Some(who)).await.assert_problem(403, None);
    }
    t.get(&path, None).await.assert_problem(401, None);
    t.get(&format!("/events/{}/checkin/offline-bundle", Uuid::now_v7()), Some(&staff))
        .await
        .assert_problem(404, None);
    t.get(&format!("/events/{}/checkin/summary", Uuid::now_v7()), Some(&staff))
        .await
        .assert_problem(404, None);
    t.get(&format!("/events/{}/staff", Uuid::now_v7()), Some(&org_t)).await.assert_problem(404, None);
    t.get("/events/nope/staff", Some(&org_t)).await.assert_problem(404, None);
    // Staff management: the organizer (and admins) only; staff accounts only.
    let staff_path = format!("/events/{ev}/staff");
    let list = t.get(&staff_path, Some(&org_t)).await;
    assert_eq!(list.body["items"][0]["user_id"], json!(staff_id));
    t.get(&staff_path, Some(&staff)).await.assert_problem(403, None);
    assert_eq!(
        t.call("PUT", &format!("{staff_path}/{staff_id}"), Some(&org_t), None).await.status,
        StatusCode::OK
    );
    t.call("PUT", &format!("{staff_path}/{}", p.user_id), Some(&org_t), None)
        .await
        .assert_problem(400, Some("user_id"));
    t.call("PUT", &format!("{staff_path}/{}", Uuid::now_v7()), Some(&org_t), None)
        .await
        .assert_problem(404, None);
    t.call("PUT", &format!("{staff_path}/{staff_id}"), Some(&other_org), None)
        .await
        .assert_problem(403, None);
    t.call("PUT", &format!("{staff_path}/{staff_id}"), None, None).await.assert_problem(401, None);
    t.call("DELETE", &format!("{staff_path}/{staff_id}"), Some(&other_org), None)
        .await
        .assert_problem(403, None);
    assert_eq!(
        t.call("DELETE", &format!("{staff_path}/{staff_id}"), Some(&org_t), None).await.status,
        StatusCode::NO_CONTENT
    );
    t.call("DELETE", &format!("{staff_path}/{staff_id}"), Some(&org_t), None).await.assert_problem(404, None);
    // No longer staff: no longer allowed at this door.
    t.get(&path, Some(&staff)).await.assert_problem(403, None);
}

async fn export_and_stats(b: Backend) {
    let t = TestApp::new(b).await;
    let (ev, org_t, _, staff) = door(&t).await;
    let (_, _, first, code) = ticket(&t, ev, 1).await;
    let (_, _, second, _) = ticket(&t, ev, 2).await;
    assert_eq!(t.post("/checkin", Some(&staff), scan(&code, "entry", "Main")).await.status, StatusCode::OK);
    let stats = t.get(&format!("/stats/events/{ev}"), Some(&org_t)).await;
    assert_eq!(stats.body["checked_in_per_day"], json!([{"day": 1, "checked_in": 1}]), "{}", stats.body);
    let path = format!("/events/{ev}/export");
    let j = t.get(&format!("{path}?format=json"), Some(&org_t)).await;
    assert_eq!(j.status, StatusCode::OK, "{}", j.body);
    let items = j.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["ticket_id"], json!(first));
    assert_eq!((items[0]["days_entered"].as_i64(), items[0]["inside"].as_bool()), (Some(1), Some(true)));
    assert!(items[0]["first_entry_at"].is_string());
    assert_eq!(items[1]["ticket_id"], json!(second));
    assert_eq!((items[1]["days_entered"].as_i64(), items[1]["inside"].as_bool()), (Some(0), Some(false)));
    assert_eq!(items[1]["total_price"], "50.00");
    let csv = t.get(&path, Some(&org_t)).await;
    assert_eq!(csv.status, StatusCode::OK);
    assert!(csv.content_type().starts_with("text/csv"));
    let text = csv.body.as_str().unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3);
    assert!(lines[0].starts_with("ticket_id,status,ticket_type,seat_number"));
    assert!(lines[1].starts_with(&first.to_string()) && lines[1].contains(",true,"));
    t.get(&format!("{path}?format=xml"), Some(&org_t)).await.assert_problem(400, Some("format"));
    let (_, other_org) = t.user("organizer").await;
    for who in [&other_org, &staff] {
        t.get(&path, Some(who)).await.assert_problem(403, None);
    }
    t.get(&path, None).await.assert_problem(401, None);
    t.get(&format!("/events/{}/export", Uuid::now_v7()), Some(&org_t)).await.assert_problem(404, None);
}

/// Regression (#21): a holder inside who had their ticket reissued could let a second person in
/// with the new code (`inside_now: 2` for one seat).
async fn a_reissued_ticket_is_the_same_admission(b: Backend) {
    let t = TestApp::new(b).await;
    let (ev, _, _, staff) = door(&t).await;
    let (token, _, old, old_code) = ticket(&t, ev, 9).await;
    assert_eq!(
        t.post("/checkin", Some(&staff), scan(&old_code, "entry", "North")).await.status,
        StatusCode::OK
    );
    let r = t.post(&format!("/tickets/{old}/reissue"), Some(&token), json!({})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let new: Uuid = r.body["ticket_id"].as_str().unwrap().parse().unwrap();
    let code = r.body["code"].as_str().unwrap().to_string();
    // The new code finds its holder already inside, first in at the old code's gate.
    let again = t.post("/checkin", Some(&staff), scan(&code, "entry", "South")).await;
    again.assert_problem(409, None);
    assert_eq!(
        (again.body["code"].as_str(), again.body["first_gate"].as_str()),
        (Some("already_inside"), Some("North"))
    );
    let summary = t.get(&format!("/events/{ev}/checkin/summary"), Some(&staff)).await;
    assert_eq!(summary.body["inside_now"].as_i64(), Some(1), "{}", summary.body);
    // Offline, the same: an entry with the new code while inside is a conflict.
    let sync = t
        .post("/checkin/sync", Some(&staff), json!({"device_id": "d1", "scans": [{"scan_id": Uuid::now_v7(), "code": code,
               "direction": "entry", "gate": "West", "scanned_at": tessera_app::domain::clock::format_ts(t.app.now())}]}))
        .await;
    assert_eq!(sync.status, StatusCode::OK, "{}", sync.body);
    assert_eq!(sync.body["results"][0]["result"], "already_inside", "{}", sync.body);
    // The old code is void; the new one leaves and comes back in, counted as the same ticket.
    t.post("/checkin", Some(&staff), scan(&old_code, "exit", "North")).await.assert_problem(410, None);
    assert_eq!(t.post("/checkin", Some(&staff), scan(&code, "exit", "North")).await.status, StatusCode::OK);
    let back = t.post("/checkin", Some(&staff), scan(&code, "entry", "East")).await;
    assert_eq!((back.status, back.body["entries"].as_i64()), (StatusCode::OK, Some(2)), "{}", back.body);
    // A chain of reissues still admits one person, and keeps the whole history.
    let r = t.post(&format!("/tickets/{new}/reissue"), Some(&token), json!({})).await;
    let third = r.body["code"].as_str().unwrap().to_string();
    let third_id: Uuid = r.body["ticket_id"].as_str().unwrap().parse().unwrap();
    t.post("/checkin", Some(&staff), scan(&third, "entry", "East")).await.assert_problem(409, None);
    let summary = t.get(&format!("/events/{ev}/checkin/summary"), Some(&staff)).await;
    assert_eq!(summary.body["inside_now"].as_i64(), Some(1), "{}", summary.body);
    let history: Vec<_> =
        t.app.store.scans_of_ticket(third_id).await.unwrap().into_iter().map(|s| s.ticket_id).collect();
    assert_eq!(history.len(), 7, "every scan of the admission: {history:?}");
    assert!(
        history.contains(&Some(old)) && history.contains(&Some(new)) && history.contains(&Some(third_id))
    );
    let p = t.app.store.presence(third_id, 1).await.unwrap().unwrap();
    assert_eq!((p.inside, p.entries), (true, 2));
}

/// Regression (#21): offline sync trusted the device's `scanned_at` for the validity window, so a
/// device whose clock was set back could admit an expired code. A scan is checked no earlier than
/// the device's last sync.
async fn a_devices_clock_cannot_revive_an_expired_code(b: Backend) {
    let t = TestApp::new(b).await;
    let (ev, _, staff_id, _) = door(&t).await;
    let (_, _, _, code) = ticket(&t, ev, 2).await;
    let (_, _, _, other) = ticket(&t, ev, 3).await;
    // The event ended 2030-05-03 18:00; its codes open the door until a day later.
    let after = time::macros::datetime!(2030-05-05 12:00 UTC);
    t.clock.advance((after - t.app.now()).whole_seconds());
    let staff = t.app.access_token(staff_id, Role::Staff).unwrap();
    let during = "2030-05-03T10:00:00Z";
    let sync = |device: &'static str, code: String| {
        let (t, staff) = (&t, staff.clone());
        async move {
            let body = json!({"device_id": device, "scans": [offline(Uuid::now_v7().as_u128(), &code, "entry", "A", during)]});
            let r = t.post("/checkin/sync", Some(&staff), body).await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.body);
            r.body["results"][0]["result"].as_str().unwrap().to_string()
        }
    };
    // A device that last synced before the window closed: its late sync keeps the entry.
    assert_eq!(sync("late", code.clone()).await, "accepted");
    // The same device syncing again later cannot have scanned anything before its last sync,
    // which was after the code had expired.
    t.clock.advance(60);
    assert_eq!(sync("late", other.clone()).await, "not_valid_now");
    // (A device never seen before has nothing to bound it by but the time of the sync.)
    assert_eq!(sync("new", other).await, "accepted");
}
