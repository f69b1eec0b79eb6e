//! Door check-in: entry, exit and re-entry; every refusal with its own status; one winner among
//! racing scans; offline scans merged the same way in any order; staff and counts.

use http::StatusCode;
use serde_json::{Value, json};
use tessera_domain::id::ScanId;
use tessera_domain::id::{EventId, TicketId};
use tessera_domain::records::ScanRecord;
use uuid::Uuid;

use tessera_app::Principal;
use tessera_app::booking::ReserveInput;
use tessera_app::checkin::{Refusal, ScanInput};
use tessera_app::domain::Role;
use tessera_store::Backend;

use crate::both;
use crate::support::{Res, SeatedEvent, TestApp, User};

both!(
    a_second_entry_is_refused_with_the_first_entrys_gate,
    exit_and_reentry_are_allowed_by_default,
    every_scan_is_kept_accepted_or_not,
    the_summary_counts_who_is_inside_per_day_and_gate,
    a_ticket_type_can_forbid_reentry,
    the_next_festival_day_counts_afresh,
    bad_scans_name_the_field,
    only_door_staff_may_scan,
    forged_and_altered_codes_are_422,
    another_events_ticket_is_403_naming_that_event,
    a_genuine_code_for_no_ticket_is_404,
    a_code_outside_its_validity_window_is_403,
    a_refund_racing_the_scan_is_refused_by_the_update,
    a_refunded_ticket_is_410_and_its_scan_kept,
    racing_entries_admit_once,
    a_crowd_at_the_door_is_let_in_once_each,
    offline_scans_merge_in_any_order,
    the_offline_bundle_lists_keys_and_revocations,
    offline_scans_of_a_void_ticket_are_refused,
    sync_input_is_checked,
    strangers_may_not_see_the_door,
    the_organizer_manages_door_staff,
    removed_staff_are_no_longer_let_in,
    export_and_stats,
    a_reissued_ticket_is_the_same_admission,
    a_devices_clock_cannot_revive_an_expired_code
);

/// A seated event (ending 2030-05-03 18:00) with a staff member assigned to its door.
struct Door {
    event_id: EventId,
    organizer_token: String,
    staff_id: Uuid,
    staff_token: String,
}

async fn open_door(t: &TestApp) -> Door {
    let SeatedEvent { id: event_id, organizer_token } =
        t.seated_event(json!({"end_time": "2030-05-03T18:00:00Z"})).await;
    let User { id: staff_id, token: staff_token } = t.user("staff").await;
    let r =
        t.call("PUT", &format!("/events/{event_id}/staff/{staff_id}"), Some(&organizer_token), None).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    Door { event_id: event_id.into(), organizer_token, staff_id, staff_token }
}

/// A ticket bought by a fresh attendee, with the code it shows.
struct Bought {
    holder_token: String,
    holder: Principal,
    ticket_id: TicketId,
    code: String,
}

/// Buys `seat` of `ev` for a fresh attendee.
async fn ticket(t: &TestApp, ev: Uuid, seat: i64) -> Bought {
    let User { id, token } = t.user("attendee").await;
    let p = Principal { user_id: id.into(), role: Role::Attendee };
    t.app.charge(&p, Some("100")).await.unwrap();
    let input =
        ReserveInput { event_id: Some(ev.into()), seat_numbers: Some(vec![seat]), ..Default::default() };
    let h = t.app.reserve(&p, &input).await.unwrap();
    let r = t.app.pay(&p, Some(h.reservation.reservation_id), None, None).await.unwrap();
    let tid = r.tickets[0].ticket_id;
    let code =
        t.get(&format!("/tickets/{tid}"), Some(&token)).await.body["code"].as_str().unwrap().to_string();
    Bought { holder_token: token, holder: p, ticket_id: tid, code }
}

fn scan(code: &str, direction: &str, gate: &str) -> Value {
    json!({"code": code, "direction": direction, "gate": gate, "device_id": "scanner-1"})
}

/// A door and seat 4's ticket, which has been scanned in at North, refused a second entry at
/// South, scanned out, refused a second exit, and scanned back in at East (by the organizer).
struct InOutAndBack {
    t: TestApp,
    door: Door,
    ticket: Bought,
    /// The five answers, in that order.
    answers: Vec<Res>,
}

async fn in_out_and_back(b: Backend) -> InOutAndBack {
    let t = TestApp::new(b).await;
    let door = open_door(&t).await;
    let ticket = ticket(&t, door.event_id.into(), 4).await;
    let (staff, code) = (&door.staff_token, &ticket.code);
    let mut answers = Vec::new();
    for (who, direction, gate) in [
        (staff, "entry", "North"),
        (staff, "entry", "South"),
        (staff, "exit", "North"),
        (staff, "exit", "North"),
        (&door.organizer_token, "entry", "East"),
    ] {
        answers.push(t.post("/checkin", Some(who), scan(code, direction, gate)).await);
    }
    InOutAndBack { t, door, ticket, answers }
}

async fn a_second_entry_is_refused_with_the_first_entrys_gate(b: Backend) {
    let InOutAndBack { ticket, answers, .. } = in_out_and_back(b).await;
    let r = &answers[0];
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["ticket_id"], json!(ticket.ticket_id));
    assert_eq!((r.body["day"].as_i64(), r.body["inside"].as_bool()), (Some(1), Some(true)));
    assert_eq!(r.body["seat_number"].as_i64(), Some(4));
    // A second entry: 409 with when and where it was first used.
    let again = &answers[1];
    again.assert_problem(409, None);
    assert_eq!(again.body["code"], "already_inside");
    assert_eq!(again.body["first_gate"], "North");
    assert!(again.body["first_entry_at"].is_string(), "{}", again.body);
}

async fn exit_and_reentry_are_allowed_by_default(b: Backend) {
    let InOutAndBack { answers, .. } = in_out_and_back(b).await;
    // Exit, a second exit refused, and back in (re-entry is allowed by default).
    assert_eq!(answers[2].status, StatusCode::OK);
    let out = &answers[3];
    out.assert_problem(409, None);
    assert_eq!(out.body["code"], "not_inside");
    let back = &answers[4];
    assert_eq!((back.status, back.body["entries"].as_i64()), (StatusCode::OK, Some(2)));
}

async fn every_scan_is_kept_accepted_or_not(b: Backend) {
    let InOutAndBack { t, ticket, .. } = in_out_and_back(b).await;
    let scans = t.db.store.scans_of_ticket(ticket.ticket_id).await.unwrap();
    let results: Vec<_> = scans.iter().map(|s| s.result.as_str()).collect();
    assert_eq!(results, ["accepted", "already_inside", "accepted", "not_inside", "accepted"]);
}

async fn the_summary_counts_who_is_inside_per_day_and_gate(b: Backend) {
    let InOutAndBack { t, door, .. } = in_out_and_back(b).await;
    let s = t.get(&format!("/events/{}/checkin/summary", door.event_id), Some(&door.staff_token)).await;
    assert_eq!(s.status, StatusCode::OK, "{}", s.body);
    assert_eq!((s.body["inside_now"].as_i64(), s.body["entered_today"].as_i64()), (Some(1), Some(1)));
    assert_eq!(s.body["per_day"], json!([{"day": 1, "entered": 1}]));
    assert_eq!(s.body["per_gate"], json!([{"gate": "East", "entries": 1}, {"gate": "North", "entries": 1}]));
}

/// Creates a ticket type of the door's event that forbids re-entry, and buys one place of it
/// for a fresh attendee: its code.
async fn day_pass(t: &TestApp, door: &Door) -> String {
    let ev = door.event_id;
    let tt = t
        .post(
            &format!("/events/{ev}/ticket-types"),
            Some(&door.organizer_token),
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
    let User { id: uid, token: a } = t.user("attendee").await;
    let p = Principal { user_id: uid.into(), role: Role::Attendee };
    t.app.charge(&p, Some("100")).await.unwrap();
    let input = ReserveInput {
        event_id: Some(ev),
        ticket_type_id: Some(tt_id.into()),
        quantity: Some(1),
        ..Default::default()
    };
    let h = t.app.reserve(&p, &input).await.unwrap();
    let paid = t.app.pay(&p, Some(h.reservation.reservation_id), None, None).await.unwrap();
    t.get(&format!("/tickets/{}", paid.tickets[0].ticket_id), Some(&a)).await.body["code"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn a_ticket_type_can_forbid_reentry(b: Backend) {
    let t = TestApp::new(b).await;
    let door = open_door(&t).await;
    let pass = day_pass(&t, &door).await;
    let staff = &door.staff_token;
    assert_eq!(t.post("/checkin", Some(staff), scan(&pass, "entry", "A")).await.status, StatusCode::OK);
    assert_eq!(t.post("/checkin", Some(staff), scan(&pass, "exit", "A")).await.status, StatusCode::OK);
    t.post("/checkin", Some(staff), scan(&pass, "entry", "A")).await.assert_problem(409, None);
}

async fn the_next_festival_day_counts_afresh(b: Backend) {
    let InOutAndBack { t, door, ticket, .. } = in_out_and_back(b).await;
    let pass = day_pass(&t, &door).await;
    let entered = t.post("/checkin", Some(&door.staff_token), scan(&pass, "entry", "A")).await;
    assert_eq!(entered.status, StatusCode::OK);
    // The next festival day (the holder is still inside from day 1).
    let start = t.db.store.ticket_detail(ticket.ticket_id).await.unwrap().unwrap().event_start;
    let now = t.app.now();
    t.clock.advance((start - now).whole_seconds() + 25 * 3600);
    // (Access tokens are short-lived: fresh ones at the new time.)
    let org_id = t.app.get_event(door.event_id).await.unwrap().organizer_id.unwrap();
    let staff = t.app.access_token(door.staff_id.into(), Role::Staff).unwrap();
    let org_t = t.app.access_token(org_id, Role::Organizer).unwrap();
    let d2 = t.post("/checkin", Some(&staff), scan(&ticket.code, "entry", "North")).await;
    assert_eq!((d2.status, d2.body["day"].as_i64()), (StatusCode::OK, Some(2)), "{}", d2.body);
    let s = t.get(&format!("/events/{}/checkin/summary", door.event_id), Some(&org_t)).await;
    // (Day 1: this ticket and the day pass.)
    assert_eq!(s.body["per_day"], json!([{"day": 1, "entered": 2}, {"day": 2, "entered": 1}]));
}

/// A door and a ticket for seat 1 of its event.
struct AtTheDoor {
    t: TestApp,
    door: Door,
    ticket: Bought,
}

async fn door_and_ticket(b: Backend) -> AtTheDoor {
    let t = TestApp::new(b).await;
    let door = open_door(&t).await;
    let ticket = ticket(&t, door.event_id.into(), 1).await;
    AtTheDoor { t, door, ticket }
}

async fn bad_scans_name_the_field(b: Backend) {
    let AtTheDoor { t, door, ticket: Bought { code, .. } } = door_and_ticket(b).await;
    let staff = Some(door.staff_token.as_str());
    t.post("/checkin", staff, json!({})).await.assert_problem(400, Some("code"));
    t.post("/checkin", staff, json!({"code": code, "direction": "sideways"}))
        .await
        .assert_problem(400, Some("direction"));
    t.post("/checkin", staff, json!({"code": code, "gate": "g".repeat(101)}))
        .await
        .assert_problem(400, Some("gate"));
    t.post("/checkin", staff, json!({"code": 5})).await.assert_problem(400, Some("code"));
}

async fn only_door_staff_may_scan(b: Backend) {
    let AtTheDoor { t, ticket: Bought { holder_token, code, .. }, .. } = door_and_ticket(b).await;
    t.post("/checkin", None, scan(&code, "entry", "A")).await.assert_problem(401, None);
    t.post("/checkin", Some(&holder_token), scan(&code, "entry", "A")).await.assert_problem(403, None);
}

async fn forged_and_altered_codes_are_422(b: Backend) {
    let AtTheDoor { t, door, ticket: Bought { code, .. } } = door_and_ticket(b).await;
    let staff = Some(door.staff_token.as_str());
    let forged = t.post("/checkin", staff, scan("NOTATICKET", "entry", "A")).await;
    forged.assert_problem(422, None);
    assert_eq!(forged.body["code"], "invalid_code");
    let mut altered = code.into_bytes();
    altered[150] = if altered[150] == b'A' { b'B' } else { b'A' };
    let altered = String::from_utf8(altered).unwrap();
    t.post("/checkin", staff, scan(&altered, "entry", "A")).await.assert_problem(422, None);
}

/// Another event's ticket: 403 naming that event — for its staff, and for an admin scanning at
/// this event's door.
async fn another_events_ticket_is_403_naming_that_event(b: Backend) {
    let AtTheDoor { t, door, ticket: Bought { code, .. } } = door_and_ticket(b).await;
    let other = open_door(&t).await;
    let wrong = t.post("/checkin", Some(&other.staff_token), scan(&code, "entry", "A")).await;
    wrong.assert_problem(403, None);
    assert_eq!(
        (wrong.body["code"].as_str(), wrong.body["event_id"].clone()),
        (Some("wrong_event"), json!(door.event_id))
    );
    assert_eq!(wrong.body["event_name"], "Concert");
    let admin = t.user("admin").await.token;
    let mut at_other = scan(&code, "entry", "A");
    at_other["event_id"] = json!(other.event_id);
    t.post("/checkin", Some(&admin), at_other).await.assert_problem(403, None);
}

/// A genuine signature over a ticket that does not exist: 404.
async fn a_genuine_code_for_no_ticket_is_404(b: Backend) {
    let AtTheDoor { t, door, ticket: Bought { ticket_id, .. } } = door_and_ticket(b).await;
    let mut ghost = t.db.store.ticket_detail(ticket_id).await.unwrap().unwrap();
    ghost.ticket_id = TicketId::new();
    let ghost_code = t.app.ticket_code(&ghost).await.unwrap();
    t.post("/checkin", Some(&door.staff_token), scan(&ghost_code, "entry", "A"))
        .await
        .assert_problem(404, None);
}

/// The scans of one ticket, as stored: their results.
async fn kept(t: &TestApp, ticket_id: TicketId) -> Vec<String> {
    t.db.store.scans_of_ticket(ticket_id).await.unwrap().into_iter().map(|s| s.result).collect()
}

/// Outside the validity window: 403, and the refused scan is kept.
async fn a_code_outside_its_validity_window_is_403(b: Backend) {
    let AtTheDoor { t, door, ticket: Bought { ticket_id, code, .. } } = door_and_ticket(b).await;
    t.clock.advance(10 * 365 * 24 * 3600);
    let late_staff = t.app.access_token(door.staff_id.into(), Role::Staff).unwrap();
    let late = t.post("/checkin", Some(&late_staff), scan(&code, "entry", "A")).await;
    late.assert_problem(403, None);
    assert_eq!(late.body["code"], "not_valid_now");
    let kept = kept(&t, ticket_id).await;
    assert!(kept.contains(&"not_valid_now".to_string()), "{kept:?}");
}

/// A ticket voided after its code was checked (a refund racing the scan) is refused by the
/// store's scan itself, in the transaction that would have let it in.
async fn a_refund_racing_the_scan_is_refused_by_the_update(b: Backend) {
    let AtTheDoor { t, door, ticket: raced } = door_and_ticket(b).await;
    let purchase = t.app.ticket(&raced.holder, raced.ticket_id).await.unwrap().ticket.purchase_id;
    assert_eq!(
        t.post(&format!("/purchases/{purchase}/refund"), Some(&raced.holder_token), json!({})).await.status,
        StatusCode::OK
    );
    let now = t.app.now();
    let row = ScanRecord {
        scan_id: ScanId::new(),
        event_id: Some(door.event_id),
        ticket_id: Some(raced.ticket_id),
        direction: tessera_domain::checkin::Direction::Entry,
        day: None,
        gate: None,
        device_id: None,
        scanned_by: door.staff_id.into(),
        scanned_at: now,
        recorded_at: now,
        source: tessera_domain::records::ScanSource::Online,
        result: String::new(),
        detail: None,
    };
    let scanned = t.db.store.scan_code(&tessera_store::checkin::CodeScan { scan: row }).await.unwrap();
    let tessera_store::checkin::Scanned::Done { outcome, .. } = scanned else { panic!("{scanned:?}") };
    assert_eq!(outcome, tessera_app::domain::checkin::Outcome::Void);
}

/// Revoked by a refund: 410, and the refused scan is kept.
async fn a_refunded_ticket_is_410_and_its_scan_kept(b: Backend) {
    let AtTheDoor { t, door, ticket: Bought { holder_token, holder, ticket_id, code } } =
        door_and_ticket(b).await;
    let purchase = t.app.ticket(&holder, ticket_id).await.unwrap().ticket.purchase_id;
    assert_eq!(
        t.post(&format!("/purchases/{purchase}/refund"), Some(&holder_token), json!({})).await.status,
        StatusCode::OK
    );
    let void = t.post("/checkin", Some(&door.staff_token), scan(&code, "entry", "A")).await;
    void.assert_problem(410, None);
    assert_eq!(void.body["code"], "ticket_void");
    let kept = kept(&t, ticket_id).await;
    assert!(kept.contains(&"ticket_void".to_string()), "{kept:?}");
}

async fn racing_entries_admit_once(b: Backend) {
    let t = TestApp::new(b).await;
    let door = open_door(&t).await;
    let Bought { ticket_id: tid, code, .. } = ticket(&t, door.event_id.into(), 9).await;
    let staff = Principal { user_id: door.staff_id.into(), role: Role::Staff };
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
    let p = t.db.store.presence(tid, 1).await.unwrap().unwrap();
    assert_eq!((p.inside, p.entries), (true, 1));
    assert_eq!(t.db.store.scans_of_ticket(tid).await.unwrap().len(), 100);
}

/// Scans many tickets at once (on PostgreSQL, scans that arrive together run as one
/// statement): three entries racing for each ticket let it in once; then each goes out once
/// while its second exit is refused; a refunded ticket among them is refused as void.
async fn a_crowd_at_the_door_is_let_in_once_each(b: Backend) {
    let t = TestApp::new(b).await;
    let door = open_door(&t).await;
    let mut crowd = Vec::new();
    for seat in 1..=12 {
        crowd.push(ticket(&t, door.event_id.into(), seat).await);
    }
    let refunded = crowd.pop().unwrap();
    let purchase = t.app.ticket(&refunded.holder, refunded.ticket_id).await.unwrap().ticket.purchase_id;
    assert_eq!(
        t.post(&format!("/purchases/{purchase}/refund"), Some(&refunded.holder_token), json!({}))
            .await
            .status,
        StatusCode::OK
    );
    let staff = Principal { user_id: door.staff_id.into(), role: Role::Staff };
    let scan_all = |codes: Vec<(TicketId, String)>, direction: &'static str| {
        let tasks: Vec<_> = codes
            .into_iter()
            .map(|(tid, code)| {
                let (app, who) = (t.app.clone(), staff.clone());
                let input = ScanInput {
                    code: Some(code),
                    direction: Some(direction.into()),
                    gate: Some("Main".into()),
                    ..Default::default()
                };
                tokio::spawn(async move { (tid, app.check_in(&who, &input).await) })
            })
            .collect();
        async move {
            let mut answers = Vec::new();
            for task in tasks {
                answers.push(task.await.unwrap());
            }
            answers
        }
    };
    let mut entries: Vec<(TicketId, String)> = Vec::new();
    for _ in 0..3 {
        entries.extend(crowd.iter().map(|c| (c.ticket_id, c.code.clone())));
    }
    entries.push((refunded.ticket_id, refunded.code.clone()));
    let answers = scan_all(entries, "entry").await;
    for c in &crowd {
        let mine: Vec<_> = answers.iter().filter(|(tid, _)| *tid == c.ticket_id).collect();
        assert_eq!(mine.iter().filter(|(_, a)| a.is_ok()).count(), 1, "{mine:?}");
        assert!(
            mine.iter().all(|(_, a)| matches!(a, Ok(_) | Err(Refusal::AlreadyInside { .. }))),
            "{mine:?}"
        );
        let p = t.db.store.presence(c.ticket_id, 1).await.unwrap().unwrap();
        assert_eq!((p.inside, p.entries, p.first_gate.as_deref()), (true, 1, Some("Main")));
    }
    let void = answers.iter().find(|(tid, _)| *tid == refunded.ticket_id).unwrap();
    assert!(matches!(void.1, Err(Refusal::Void)), "{void:?}");

    let mut exits: Vec<(TicketId, String)> = Vec::new();
    for _ in 0..2 {
        exits.extend(crowd.iter().map(|c| (c.ticket_id, c.code.clone())));
    }
    let answers = scan_all(exits, "exit").await;
    for c in &crowd {
        let mine: Vec<_> = answers.iter().filter(|(tid, _)| *tid == c.ticket_id).collect();
        assert_eq!(mine.iter().filter(|(_, a)| a.is_ok()).count(), 1, "{mine:?}");
        assert!(mine.iter().all(|(_, a)| matches!(a, Ok(_) | Err(Refusal::NotInside { .. }))), "{mine:?}");
        let p = t.db.store.presence(c.ticket_id, 1).await.unwrap().unwrap();
        assert_eq!((p.inside, p.entries), (false, 1));
        assert_eq!(t.db.store.scans_of_ticket(c.ticket_id).await.unwrap().len(), 5);
    }
    // On PostgreSQL the crowd really was scanned in groups, and no group failed whole (which
    // would have run its scans one by one, hiding a broken group statement).
    if let Some((largest, split)) = t.db.store.scan_grouping() {
        assert!(largest > 1, "largest group {largest}");
        assert_eq!(split, 0);
    }
}

fn offline(id: u128, code: &str, direction: &str, gate: &str, at: &str) -> Value {
    json!({"scan_id": Uuid::from_u128(id), "code": code, "direction": direction, "gate": gate, "scanned_at": at})
}

/// How two devices' offline scans of one ticket were merged.
#[derive(Debug, PartialEq)]
struct Merged {
    /// Each stored scan's gate and result, in the order of the scans.
    results: Vec<(String, String)>,
    inside: bool,
    entries: i32,
    first_gate: Option<String>,
}

/// Device A scanned the ticket in at Gate A a minute into the event and out at 30 minutes;
/// device B scanned it in at Gate B at 5 minutes. Both sync ten days later (past the codes'
/// validity: they were valid when scanned), in the order asked, and A's batch is sent again.
async fn sync_two_devices(b: Backend, a_first: bool) -> Merged {
    let t = TestApp::new(b).await;
    let door = open_door(&t).await;
    let Bought { ticket_id: tid, code, .. } = ticket(&t, door.event_id.into(), 2).await;
    let start = t.db.store.ticket_detail(tid).await.unwrap().unwrap().event_start;
    let at = |mins: i64| {
        (start + time::Duration::minutes(mins))
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap()
    };
    // The scans happened at the event, which the test clock reaches first.
    let now = t.app.now();
    t.clock.advance((start - now).whole_seconds() + 10 * 86_400);
    let staff = t.app.access_token(door.staff_id.into(), Role::Staff).unwrap();
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
    let before = t.db.store.scans_of_ticket(tid).await.unwrap();
    let again = t.post("/checkin/sync", Some(&staff), device_a.clone()).await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(t.db.store.scans_of_ticket(tid).await.unwrap(), before);
    // B's sync reports its own scan as a conflict when it syncs after A.
    if a_first {
        assert_eq!(answers[1]["results"][0]["result"], "already_inside");
        assert_eq!(answers[1]["conflicts"], 1);
    }
    let p = t.db.store.presence(tid, 1).await.unwrap().unwrap();
    Merged {
        results: before.iter().map(|s| (s.gate.clone().unwrap_or_default(), s.result.clone())).collect(),
        inside: p.inside,
        entries: p.entries,
        first_gate: p.first_gate.clone(),
    }
}

/// Two devices scanned the same ticket while offline; whichever syncs first, the earlier entry
/// wins and the later one is a conflict.
async fn offline_scans_merge_in_any_order(b: Backend) {
    let a_first = sync_two_devices(b, true).await;
    let b_first = sync_two_devices(b, false).await;
    assert_eq!(a_first, b_first, "the same outcome in either order");
    assert_eq!(
        a_first.results,
        vec![
            ("Gate A".to_string(), "accepted".to_string()),
            ("Gate B".to_string(), "already_inside".to_string()),
            ("Gate A".to_string(), "accepted".to_string()),
        ]
    );
    assert_eq!((a_first.inside, a_first.entries, a_first.first_gate.as_deref()), (false, 1, Some("Gate A")));
}

/// The door's offline bundle: its path.
fn bundle_path(door: &Door) -> String {
    format!("/events/{}/checkin/offline-bundle", door.event_id)
}

/// The bundle: keys, revocations, a version that moves when they change.
async fn the_offline_bundle_lists_keys_and_revocations(b: Backend) {
    let AtTheDoor { t, door, ticket: Bought { holder_token, holder, ticket_id: tid, .. } } =
        door_and_ticket(b).await;
    let path = bundle_path(&door);
    let b1 = t.get(&path, Some(&door.staff_token)).await;
    assert_eq!(b1.status, StatusCode::OK, "{}", b1.body);
    assert_eq!(b1.body["keys"].as_array().unwrap().len(), 1);
    assert!(b1.body["revoked_ticket_ids"].as_array().unwrap().is_empty());
    let purchase = t.app.ticket(&holder, tid).await.unwrap().ticket.purchase_id;
    t.post(&format!("/purchases/{purchase}/refund"), Some(&holder_token), json!({})).await;
    let b2 = t.get(&path, Some(&door.staff_token)).await;
    assert_eq!(b2.body["revoked_ticket_ids"], json!([tid]));
    assert_ne!(b1.body["version"], b2.body["version"]);
}

async fn offline_scans_of_a_void_ticket_are_refused(b: Backend) {
    let AtTheDoor { t, door, ticket: Bought { holder_token, holder, ticket_id: tid, code } } =
        door_and_ticket(b).await;
    let purchase = t.app.ticket(&holder, tid).await.unwrap().ticket.purchase_id;
    t.post(&format!("/purchases/{purchase}/refund"), Some(&holder_token), json!({})).await;
    let now = t.app.now().format(&time::format_description::well_known::Rfc3339).unwrap();
    let r = t
        .post(
            "/checkin/sync",
            Some(&door.staff_token),
            json!({"scans": [offline(7, &code, "entry", "A", &now)]}),
        )
        .await;
    assert_eq!(r.body["results"][0]["result"], "ticket_void", "{}", r.body);
}

async fn sync_input_is_checked(b: Backend) {
    let AtTheDoor { t, door, ticket: Bought { holder_token: holder, code, .. } } = door_and_ticket(b).await;
    let staff = Some(door.staff_token.as_str());
    let now = t.app.now().format(&time::format_description::well_known::Rfc3339).unwrap();
    t.post("/checkin/sync", staff, json!({})).await.assert_problem(400, Some("scans"));
    t.post("/checkin/sync", staff, json!({"scans": []})).await.assert_problem(400, Some("scans"));
    t.post("/checkin/sync", staff, json!({"scans": [{"code": code}]}))
        .await
        .assert_problem(400, Some("scans[0].scan_id"));
    t.post(
        "/checkin/sync",
        staff,
        json!({"scans": [{"scan_id": Uuid::now_v7(), "code": code, "scanned_at": "2999-01-01T00:00:00Z"}]}),
    )
    .await
    .assert_problem(400, Some("scans[0].scanned_at"));
    t.post("/checkin/sync", Some(&holder), json!({"scans": [offline(8, &code, "entry", "A", &now)]}))
        .await
        .assert_problem(403, None);
    t.post("/checkin/sync", None, json!({"scans": []})).await.assert_problem(401, None);
}

/// Staff of another event, attendees and strangers may not see this door; unknown doors are 404.
async fn strangers_may_not_see_the_door(b: Backend) {
    let AtTheDoor { t, door, ticket: Bought { holder_token: holder, .. } } = door_and_ticket(b).await;
    let (ev, path) = (door.event_id, bundle_path(&door));
    let other_staff = open_door(&t).await.staff_token;
    let other_org = t.user("organizer").await.token;
    for who in [&other_staff, &holder, &other_org] {
        t.get(&path, Some(who)).await.assert_problem(403, None);
        t.get(&format!("/events/{ev}/checkin/summary"), Some(who)).await.assert_problem(403, None);
    }
    t.get(&path, None).await.assert_problem(401, None);
    let staff = Some(door.staff_token.as_str());
    t.get(&format!("/events/{}/checkin/offline-bundle", Uuid::now_v7()), staff)
        .await
        .assert_problem(404, None);
    t.get(&format!("/events/{}/checkin/summary", Uuid::now_v7()), staff).await.assert_problem(404, None);
    let org_t = Some(door.organizer_token.as_str());
    t.get(&format!("/events/{}/staff", Uuid::now_v7()), org_t).await.assert_problem(404, None);
    t.get("/events/nope/staff", org_t).await.assert_problem(404, None);
}

/// Staff management: the organizer (and admins) only; staff accounts only.
async fn the_organizer_manages_door_staff(b: Backend) {
    let AtTheDoor { t, door, ticket: Bought { holder, .. } } = door_and_ticket(b).await;
    let Door { event_id: ev, organizer_token: org_t, staff_id, staff_token: staff } = door;
    let other_org = t.user("organizer").await.token;
    let staff_path = format!("/events/{ev}/staff");
    let list = t.get(&staff_path, Some(&org_t)).await;
    assert_eq!(list.body["items"][0]["user_id"], json!(staff_id));
    t.get(&staff_path, Some(&staff)).await.assert_problem(403, None);
    assert_eq!(
        t.call("PUT", &format!("{staff_path}/{staff_id}"), Some(&org_t), None).await.status,
        StatusCode::OK
    );
    t.call("PUT", &format!("{staff_path}/{}", holder.user_id), Some(&org_t), None)
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
}

async fn removed_staff_are_no_longer_let_in(b: Backend) {
    let t = TestApp::new(b).await;
    let door = open_door(&t).await;
    let member = format!("/events/{}/staff/{}", door.event_id, door.staff_id);
    let org_t = Some(door.organizer_token.as_str());
    assert_eq!(t.call("DELETE", &member, org_t, None).await.status, StatusCode::NO_CONTENT);
    t.call("DELETE", &member, org_t, None).await.assert_problem(404, None);
    // No longer staff: no longer allowed at this door.
    t.get(&bundle_path(&door), Some(&door.staff_token)).await.assert_problem(403, None);
}

async fn export_and_stats(b: Backend) {
    let t = TestApp::new(b).await;
    let Door { event_id: ev, organizer_token: org_t, staff_token: staff, .. } = open_door(&t).await;
    let Bought { ticket_id: first, code, .. } = ticket(&t, ev.into(), 1).await;
    let second = ticket(&t, ev.into(), 2).await.ticket_id;
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
    let other_org = t.user("organizer").await.token;
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
    let Door { event_id: ev, staff_token: staff, .. } = open_door(&t).await;
    let Bought { holder_token: token, ticket_id: old, code: old_code, .. } = ticket(&t, ev.into(), 9).await;
    let enter = |code: &str, gate: &str| t.post("/checkin", Some(&staff), scan(code, "entry", gate));
    assert_eq!(enter(&old_code, "North").await.status, StatusCode::OK);
    let r = t.post(&format!("/tickets/{old}/reissue"), Some(&token), json!({})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let new: Uuid = r.body["ticket_id"].as_str().unwrap().parse().unwrap();
    let code = r.body["code"].as_str().unwrap().to_string();
    // The new code finds its holder already inside, first in at the old code's gate.
    let again = enter(&code, "South").await;
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
    let back = enter(&code, "East").await;
    assert_eq!((back.status, back.body["entries"].as_i64()), (StatusCode::OK, Some(2)), "{}", back.body);
    // A chain of reissues still admits one person, and keeps the whole history.
    let r = t.post(&format!("/tickets/{new}/reissue"), Some(&token), json!({})).await;
    let third = r.body["code"].as_str().unwrap().to_string();
    let third_id: Uuid = r.body["ticket_id"].as_str().unwrap().parse().unwrap();
    enter(&third, "East").await.assert_problem(409, None);
    let summary = t.get(&format!("/events/{ev}/checkin/summary"), Some(&staff)).await;
    assert_eq!(summary.body["inside_now"].as_i64(), Some(1), "{}", summary.body);
    let history: Vec<_> =
        t.db.store.scans_of_ticket(third_id.into()).await.unwrap().into_iter().map(|s| s.ticket_id).collect();
    assert_eq!(history.len(), 7, "every scan of the admission: {history:?}");
    assert!(
        history.contains(&Some(old))
            && history.contains(&Some(new.into()))
            && history.contains(&Some(third_id.into()))
    );
    let p = t.db.store.presence(third_id.into(), 1).await.unwrap().unwrap();
    assert_eq!((p.inside, p.entries), (true, 2));
}

/// Regression (#21): offline sync trusted the device's `scanned_at` for the validity window, so a
/// device whose clock was set back could admit an expired code. A scan is checked no earlier than
/// the device's last sync.
async fn a_devices_clock_cannot_revive_an_expired_code(b: Backend) {
    let t = TestApp::new(b).await;
    let door = open_door(&t).await;
    let code = ticket(&t, door.event_id.into(), 2).await.code;
    let other = ticket(&t, door.event_id.into(), 3).await.code;
    // The event ended 2030-05-03 18:00; its codes open the door until a day later.
    let after = time::macros::datetime!(2030-05-05 12:00 UTC);
    t.clock.advance((after - t.app.now()).whole_seconds());
    let staff = t.app.access_token(door.staff_id.into(), Role::Staff).unwrap();
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
