//! Ticket types, seat maps, holds and the seed-002 paths.

use http::StatusCode;
use serde_json::json;
use tessera_domain::id::EventId;
use tessera_store::Backend;
use uuid::Uuid;

use crate::both;
use crate::support::{SeatedEvent, TestApp};

both!(
    a_seated_event_gets_seed_002s_default_map,
    sections_make_rows_with_their_own_prices,
    bad_seat_maps_and_queries_name_the_field,
    a_big_map_is_made_in_one_statement,
    ticket_types_are_created_and_listed,
    ticket_type_input_and_authorization,
    a_quota_moves_but_not_below_what_is_held,
    ticket_type_changes_are_checked,
    seat_holds_are_all_or_none,
    seat_hold_input_is_checked_against_the_map_and_the_limit,
    best_available_seats,
    near_seat_picks_the_nearest_free_seats,
    near_seat_misuse_names_the_field,
    near_seat_finds_a_seat_under_a_lapsed_hold,
    near_seat_takes_the_rest_from_lapsed_holds,
    holds_expire_lazily,
    general_admission_keeps_to_the_quota_and_the_limit,
    general_admission_input_is_checked,
    outside_the_sale_window_or_by_application_is_403,
    a_cancelled_event_is_not_on_sale,
    reservations_are_private,
    seed_002_paths_answer,
);

async fn a_seated_event_gets_seed_002s_default_map(b: Backend) {
    let t = TestApp::new(b).await;
    let ev = t.seated_event(json!({})).await.id;
    let r = t.get(&format!("/events/{ev}/seats"), None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let items = r.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 50, "seed 002's default of 50 seats");
    assert_eq!(
        items[0],
        json!({"seat_number": 1, "section": null, "row": "1", "price": "50.00", "status": "available"})
    );
    assert!(r.body["next_cursor"].is_null());
    let page = t.get(&format!("/events/{ev}/seats?limit=20"), None).await;
    let c = page.body["next_cursor"].as_str().unwrap();
    let next = t.get(&format!("/events/{ev}/seats?limit=20&cursor={c}"), None).await;
    assert_eq!(next.body["items"][0]["seat_number"], 21);
}

async fn sections_make_rows_with_their_own_prices(b: Backend) {
    let t = TestApp::new(b).await;
    let org_t = t.user("organizer").await.token;
    let sections = json!({"name": "Arena", "start_time": "2030-05-01T18:00:00Z", "seating": "seated",
        "sections": [{"name": "A", "rows": 2, "seats_per_row": 3, "price": "80"}, {"name": "B", "rows": 1, "seats_per_row": 4}]});
    let ev2 = t.event(&org_t, sections).await;
    let r = t.get(&format!("/events/{ev2}/seats?limit=1000"), None).await;
    let items = r.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 10);
    assert_eq!(
        (items[3]["section"].as_str(), items[3]["row"].as_str(), items[3]["price"].as_str()),
        (Some("A"), Some("2"), Some("80.00"))
    );
    assert_eq!(
        (items[6]["seat_number"].as_i64(), items[6]["section"].as_str(), items[6]["price"].as_str()),
        (Some(7), Some("B"), Some("0.00"))
    );
}

/// A seated event's body, with `extra`'s members in place.
fn seated(extra: serde_json::Value) -> serde_json::Value {
    let mut v = json!({"name": "X", "start_time": "2030-05-01T18:00:00Z", "seating": "seated"});
    for (k, x) in extra.as_object().unwrap() {
        v[k] = x.clone();
    }
    v
}

async fn bad_seat_maps_and_queries_name_the_field(b: Backend) {
    let t = TestApp::new(b).await;
    let SeatedEvent { id: ev, organizer_token: org_t } = t.seated_event(json!({})).await;
    for (body, field) in [
        (seated(json!({"seat_count": 100_001})), "seat_count"),
        (seated(json!({"seat_count": 0})), "seat_count"),
        (seated(json!({"sections": [{"rows": 0, "seats_per_row": 2}]})), "sections[0].rows"),
        (seated(json!({"seating": "standing"})), "seating"),
        (json!({"name": "G", "start_time": "2030-05-01T18:00:00Z", "seat_count": 10}), "seating"),
    ] {
        t.post("/events", Some(&org_t), body).await.assert_problem(400, Some(field));
    }
    t.get(&format!("/events/{ev}/seats?status=lost"), None).await.assert_problem(400, Some("status"));
    t.get(&format!("/events/{ev}/seats?limit=1001"), None).await.assert_problem(400, Some("limit"));
    t.get(&format!("/events/{}/seats", Uuid::now_v7()), None).await.assert_problem(404, None);
}

async fn a_big_map_is_made_in_one_statement(b: Backend) {
    let t = TestApp::new(b).await;
    let org_t = t.user("organizer").await.token;
    let big = t.event(&org_t, seated(json!({"seat_count": 20_000}))).await;
    let r = t.get(&format!("/events/{big}/seats?limit=1&cursor={}", encode_seat_cursor(19_999)), None).await;
    assert_eq!(r.body["items"][0]["seat_number"], 20_000);
}

fn encode_seat_cursor(after: i64) -> String {
    tessera_app::cursor::encode("seats", &after.to_string(), Uuid::nil())
}

/// A general-admission event (Fest) of an organizer with two types: General (30, quota 100)
/// and Student (10, quota 20, 2 a person, on sale from 2026 to the eve of the event).
struct Fest {
    t: TestApp,
    event_id: EventId,
    organizer_token: String,
    /// `/events/{event_id}/ticket-types`
    types: String,
    /// The answer to creating General.
    general: crate::support::Res,
    /// The answer to creating Student.
    student: crate::support::Res,
}

async fn fest(b: Backend) -> Fest {
    let t = TestApp::new(b).await;
    let org_t = t.user("organizer").await.token;
    let ev = t.event(&org_t, json!({"name": "Fest", "start_time": "2030-05-01T18:00:00Z"})).await;
    let types = format!("/events/{ev}/ticket-types");
    let general = t.post(&types, Some(&org_t), json!({"name": "General", "price": "30", "quota": 100})).await;
    let student = t
        .post(
            &types,
            Some(&org_t),
            json!({"name": "Student", "price": 10, "quota": 20, "per_person_limit": 2,
            "sale_starts_at": "2026-01-01T00:00:00Z", "sale_ends_at": "2030-04-30T00:00:00Z"}),
        )
        .await;
    Fest { t, event_id: ev.into(), organizer_token: org_t, types, general, student }
}

async fn ticket_types_are_created_and_listed(b: Backend) {
    let Fest { t, types, general: r, student, .. } = fest(b).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!((r.body["available"].as_i64(), r.body["per_person_limit"].as_i64()), (Some(100), Some(10)));
    assert_eq!(student.status, StatusCode::CREATED, "{}", student.body);
    let list = t.get(&types, None).await;
    assert_eq!(list.body["items"].as_array().unwrap().len(), 2);
}

/// Bad input, duplicates, authorization.
async fn ticket_type_input_and_authorization(b: Backend) {
    let Fest { t, organizer_token: org_t, types: path, .. } = fest(b).await;
    let other_t = t.user("organizer").await.token;
    let att_t = t.user("attendee").await.token;
    t.post(&path, Some(&org_t), json!({"name": "X"})).await.assert_problem(400, Some("quota"));
    t.post(&path, Some(&org_t), json!({"name": "X", "quota": 5, "price": "-1"}))
        .await
        .assert_problem(400, Some("price"));
    t.post(&path, Some(&org_t), json!({"name": "General", "quota": 5})).await.assert_problem(409, None);
    t.post(&path, Some(&other_t), json!({"name": "Y", "quota": 5})).await.assert_problem(403, None);
    t.post(&path, Some(&att_t), json!({"name": "Y", "quota": 5})).await.assert_problem(403, None);
    t.post(&path, None, json!({"name": "Y", "quota": 5})).await.assert_problem(401, None);
    t.post(
        &format!("/events/{}/ticket-types", Uuid::now_v7()),
        Some(&org_t),
        json!({"name": "Y", "quota": 5}),
    )
    .await
    .assert_problem(404, None);
    t.get(&format!("/events/{}/ticket-types", Uuid::now_v7()), None).await.assert_problem(404, None);
}

/// Quota up and down; down below what is held is refused.
async fn a_quota_moves_but_not_below_what_is_held(b: Backend) {
    let Fest { t, event_id: ev, organizer_token: org_t, types: path, general, .. } = fest(b).await;
    let tt = general.body["ticket_type_id"].as_str().unwrap().to_string();
    let tpath = format!("{path}/{tt}");
    let r = t.call("PATCH", &tpath, Some(&org_t), Some(json!({"quota": 120, "price": "35"}))).await;
    assert_eq!(
        (r.body["quota"].as_i64(), r.body["available"].as_i64(), r.body["price"].as_str()),
        (Some(120), Some(120), Some("35.00"))
    );
    let buyers = t.principals(1).await;
    let input = tessera_app::booking::ReserveInput {
        event_id: Some(ev),
        ticket_type_id: Some(tt.parse().unwrap()),
        quantity: Some(5),
        ..Default::default()
    };
    t.app.reserve(&buyers[0], &input).await.unwrap();
    let r = t.call("PATCH", &tpath, Some(&org_t), Some(json!({"quota": 10}))).await;
    assert_eq!(
        (r.body["quota"].as_i64(), r.body["held"].as_i64(), r.body["available"].as_i64()),
        (Some(10), Some(5), Some(5))
    );
    t.call("PATCH", &tpath, Some(&org_t), Some(json!({"quota": 4}))).await.assert_problem(409, None);
}

async fn ticket_type_changes_are_checked(b: Backend) {
    let Fest { t, organizer_token: org_t, types: path, general, .. } = fest(b).await;
    let tpath = format!("{path}/{}", general.body["ticket_type_id"].as_str().unwrap());
    let other_t = t.user("organizer").await.token;
    t.call("PATCH", &tpath, Some(&org_t), Some(json!({"quota": 0}))).await.assert_problem(400, Some("quota"));
    t.call("PATCH", &tpath, Some(&org_t), Some(json!({"name": "Student"}))).await.assert_problem(409, None);
    t.call("PATCH", &tpath, Some(&other_t), Some(json!({"quota": 50}))).await.assert_problem(403, None);
    t.call("PATCH", &format!("{path}/{}", Uuid::now_v7()), Some(&org_t), Some(json!({"quota": 50})))
        .await
        .assert_problem(404, None);
}

/// A seated event (3 seats a person) where attendee `a` holds seats 1 and 2.
struct TwoHeld {
    t: TestApp,
    event_id: EventId,
    a: String,
    /// The answer to `a`'s hold.
    held: crate::support::Res,
}

async fn two_held(b: Backend) -> TwoHeld {
    let t = TestApp::new(b).await;
    let ev = t.seated_event(json!({"max_per_person": 3})).await.id;
    let a = t.user("attendee").await.token;
    let held = t.post("/reservations", Some(&a), json!({"event_id": ev, "seat_numbers": [1, 2]})).await;
    TwoHeld { t, event_id: ev.into(), a, held }
}

async fn seat_holds_are_all_or_none(b: Backend) {
    let TwoHeld { t, event_id: ev, held: r, .. } = two_held(b).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["seat_numbers"], json!([1, 2]));
    assert_eq!((r.body["amount"].as_str(), r.body["status"].as_str()), (Some("100.00"), Some("pending")));
    let bob = t.user("attendee").await.token;
    let r = t.post("/reservations", Some(&bob), json!({"event_id": ev, "seat_numbers": [2, 3]})).await;
    r.assert_problem(409, None);
    assert_eq!(r.body["code"], "seats_taken");
    assert!(r.body["detail"].as_str().unwrap().contains("seats 2 "), "{}", r.body);
    // The refusal names the taken seats and suggests the available ones nearest them (not the
    // ones asked for, not held or sold ones).
    assert_eq!((&r.body["taken"], &r.body["available_nearby"]), (&json!([2]), &json!([4, 5, 6, 7, 8])));
    let carol = t.user("attendee").await.token;
    let r = t.post("/reservations", Some(&carol), json!({"event_id": ev, "seat_numbers": [1]})).await;
    assert_eq!((&r.body["taken"], &r.body["available_nearby"]), (&json!([1]), &json!([3, 4, 5, 6, 7])));
    let seat3 = t.get(&format!("/events/{ev}/seats?status=available&limit=1"), None).await;
    assert_eq!(seat3.body["items"][0]["seat_number"], 3, "nothing of the refused request was held");
    let held = t.get(&format!("/events/{ev}/seats?status=held"), None).await;
    assert_eq!(held.body["items"].as_array().unwrap().len(), 2);
}

/// Bad input names the field (two more seats would pass the limit of 3); within the limit, one
/// more seat is fine.
async fn seat_hold_input_is_checked_against_the_map_and_the_limit(b: Backend) {
    let TwoHeld { t, event_id: ev, a, .. } = two_held(b).await;
    let cases = [
        (json!({"event_id": ev, "seat_numbers": [51]}), "seat_numbers"),
        (json!({"event_id": ev, "seat_numbers": []}), "seat_numbers"),
        (json!({"event_id": ev, "seat_numbers": [4, 4]}), "seat_numbers"),
        (json!({"event_id": ev, "seat_numbers": ["x"]}), "seat_numbers[0]"),
        (json!({"seat_numbers": [4]}), "event_id"),
        (json!({"event_id": "nope", "seat_numbers": [4]}), "event_id"),
        (json!({"event_id": ev}), "seat_numbers"),
        (json!({"event_id": ev, "seat_numbers": [3, 4]}), "seat_numbers"),
    ];
    for (body, field) in cases {
        t.post("/reservations", Some(&a), body).await.assert_problem(400, Some(field));
    }
    t.post("/reservations", Some(&a), json!({"event_id": Uuid::now_v7(), "seat_numbers": [4]}))
        .await
        .assert_problem(404, None);
    t.post("/reservations", None, json!({"event_id": ev, "seat_numbers": [4]}))
        .await
        .assert_problem(401, None);
    assert_eq!(
        t.post("/reservations", Some(&a), json!({"event_id": ev, "seat_numbers": [10]})).await.status,
        StatusCode::CREATED
    );
}

/// Seated events without seat numbers: the server picks the best available seats.
async fn best_available_seats(b: Backend) {
    let t = TestApp::new(b).await;
    let ev = t.seated_event(json!({"seat_count": 5, "max_per_person": 3})).await.id;
    let a = t.user("attendee").await.token;
    let bob = t.user("attendee").await.token;
    t.post("/reservations", Some(&a), json!({"event_id": ev, "seat_numbers": [1]})).await;
    let r = t.post("/reservations", Some(&bob), json!({"event_id": ev, "quantity": 3})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let got: Vec<i64> =
        r.body["seat_numbers"].as_array().unwrap().iter().filter_map(|v| v.as_i64()).collect();
    assert_eq!(got.len(), 3);
    assert!(!got.contains(&1), "seat 1 is held by someone else: {got:?}");
    assert_eq!(r.body["amount"], "150.00");
    for (q, status) in [(0, 400), (4, 400)] {
        t.post("/reservations", Some(&a), json!({"event_id": ev, "quantity": q}))
            .await
            .assert_problem(status, Some("quantity"));
    }
    let r = t.post("/reservations", Some(&a), json!({"event_id": ev, "quantity": 2})).await;
    r.assert_problem(409, None);
    assert_eq!(r.body["code"], "sold_out", "only one seat is left");
    t.post("/reservations", None, json!({"event_id": ev, "quantity": 1})).await.assert_problem(401, None);
    // General admission still needs its ticket type.
    let org_t = t.user("organizer").await.token;
    let ga = t.event(&org_t, json!({"name": "GA", "start_time": "2030-05-01T18:00:00Z"})).await;
    t.post("/reservations", Some(&a), json!({"event_id": ga, "quantity": 1}))
        .await
        .assert_problem(400, Some("seat_numbers"));
}

/// The seat numbers of a hold.
fn seats(r: &crate::support::Res) -> Vec<i64> {
    r.body["seat_numbers"].as_array().unwrap().iter().filter_map(|v| v.as_i64()).collect()
}

/// `near_seat` with `quantity`: the free seats nearest that seat (the lower on a tie).
async fn near_seat_picks_the_nearest_free_seats(b: Backend) {
    let t = TestApp::new(b).await;
    let ev = t.seated_event(json!({"seat_count": 20, "max_per_person": 4, "hold_seconds": 60})).await.id;
    let a = t.user("attendee").await.token;
    let bob = t.user("attendee").await.token;
    let cy = t.user("attendee").await.token;
    let r = t.post("/reservations", Some(&a), json!({"event_id": ev, "seat_numbers": [9, 10, 11]})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    // 8 and 12 are both two away from 10: the lower one.
    let r =
        t.post("/reservations", Some(&bob), json!({"event_id": ev, "quantity": 1, "near_seat": 10})).await;
    assert_eq!((r.status, seats(&r)), (StatusCode::CREATED, vec![8]), "{}", r.body);
    // Then 12 (two away) and 7 (three away, tied with 13: the lower).
    let r =
        t.post("/reservations", Some(&bob), json!({"event_id": ev, "quantity": 2, "near_seat": 10})).await;
    assert_eq!((r.status, seats(&r)), (StatusCode::CREATED, vec![7, 12]), "{}", r.body);
    // At the edge, and past the last seat: the nearest there is.
    let r = t.post("/reservations", Some(&cy), json!({"event_id": ev, "quantity": 1, "near_seat": 20})).await;
    assert_eq!(seats(&r), vec![20], "{}", r.body);
    let r =
        t.post("/reservations", Some(&cy), json!({"event_id": ev, "quantity": 1, "near_seat": 500})).await;
    assert_eq!(seats(&r), vec![19], "{}", r.body);
}

/// Misuse names the field.
async fn near_seat_misuse_names_the_field(b: Backend) {
    let t = TestApp::new(b).await;
    let ev = t.seated_event(json!({"seat_count": 20, "max_per_person": 4, "hold_seconds": 60})).await.id;
    let cy = t.user("attendee").await.token;
    for body in [
        json!({"event_id": ev, "seat_numbers": [1], "near_seat": 1}),
        json!({"event_id": ev, "near_seat": 1}),
        json!({"event_id": ev, "quantity": 1, "near_seat": 0}),
        json!({"event_id": ev, "quantity": 1, "near_seat": 100_001}),
        json!({"event_id": ev, "quantity": 1, "near_seat": "ten"}),
    ] {
        t.post("/reservations", Some(&cy), body.clone()).await.assert_problem(400, Some("near_seat"));
    }
    let org_t = t.user("organizer").await.token;
    let ga = t.event(&org_t, json!({"name": "GA", "start_time": "2030-05-01T18:00:00Z"})).await;
    t.post("/reservations", Some(&cy), json!({"event_id": ga, "quantity": 1, "near_seat": 3}))
        .await
        .assert_problem(400, Some("near_seat"));
    t.post("/reservations", None, json!({"event_id": ev, "quantity": 1, "near_seat": 3}))
        .await
        .assert_problem(401, None);
    t.post("/reservations", Some(&cy), json!({"event_id": Uuid::now_v7(), "quantity": 1, "near_seat": 3}))
        .await
        .assert_problem(404, None);
}

/// A three-seat event: all held, then the holds lapse; nothing is marked available yet, and
/// the pick still finds a seat under a lapsed hold (409 while none are free).
async fn near_seat_finds_a_seat_under_a_lapsed_hold(b: Backend) {
    let t = TestApp::new(b).await;
    let a = t.user("attendee").await.token;
    let bob = t.user("attendee").await.token;
    let small = t.seated_event(json!({"seat_count": 3, "hold_seconds": 60})).await.id;
    let r =
        t.post("/reservations", Some(&a), json!({"event_id": small, "quantity": 3, "near_seat": 2})).await;
    assert_eq!(seats(&r), vec![1, 2, 3], "{}", r.body);
    let r =
        t.post("/reservations", Some(&bob), json!({"event_id": small, "quantity": 1, "near_seat": 2})).await;
    r.assert_problem(409, None);
    assert_eq!(r.body["code"], "sold_out");
    t.clock.advance(61);
    let r =
        t.post("/reservations", Some(&bob), json!({"event_id": small, "quantity": 1, "near_seat": 2})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(seats(&r).len(), 1);
}

/// Part near, the rest anywhere: two available seats near 3, the third under a lapsed hold.
async fn near_seat_takes_the_rest_from_lapsed_holds(b: Backend) {
    let t = TestApp::new(b).await;
    let a = t.user("attendee").await.token;
    let bob = t.user("attendee").await.token;
    let part = t.seated_event(json!({"seat_count": 3, "hold_seconds": 60})).await.id;
    t.post("/reservations", Some(&a), json!({"event_id": part, "seat_numbers": [1]})).await;
    t.clock.advance(61);
    let r =
        t.post("/reservations", Some(&bob), json!({"event_id": part, "quantity": 3, "near_seat": 3})).await;
    assert_eq!((r.status, seats(&r)), (StatusCode::CREATED, vec![1, 2, 3]), "{}", r.body);
}

async fn holds_expire_lazily(b: Backend) {
    let t = TestApp::new(b).await;
    let ev = t.seated_event(json!({"hold_seconds": 60})).await.id;
    let a = t.user("attendee").await.token;
    let bob = t.user("attendee").await.token;
    let r = t.post("/reservations", Some(&a), json!({"event_id": ev, "seat_numbers": [7]})).await;
    let rid = r.body["reservation_id"].as_str().unwrap().to_string();
    t.clock.advance(61);
    // Expired means available everywhere, before any sweeper has run.
    let seat = t.get(&format!("/events/{ev}/seats?status=held"), None).await;
    assert_eq!(seat.body["items"], json!([]));
    assert_eq!(t.get(&format!("/reservations/{rid}"), Some(&a)).await.body["status"], "expired");
    let r = t.post("/reservations", Some(&bob), json!({"event_id": ev, "seat_numbers": [7]})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    // The sweeper tidies the expired reservation without touching bob's live hold.
    assert_eq!(t.app.sweep_expired_holds().await.unwrap(), 1);
    let seat = t.get(&format!("/events/{ev}/seats?status=held"), None).await;
    assert_eq!(seat.body["items"][0]["seat_number"], 7);
    t.call("DELETE", &format!("/reservations/{rid}"), Some(&a), None).await.assert_problem(409, None);
}

/// A general-admission event with one type, GA (20, quota 5, 3 a person), and two attendees.
struct GaFest {
    t: TestApp,
    event_id: EventId,
    organizer_token: String,
    /// `/events/{event_id}/ticket-types`
    types: String,
    ga: String,
    a: String,
    bob: String,
}

async fn ga_fest(b: Backend) -> GaFest {
    let t = TestApp::new(b).await;
    let org_t = t.user("organizer").await.token;
    let ev = t.event(&org_t, json!({"name": "Fest", "start_time": "2030-05-01T18:00:00Z"})).await;
    let types = format!("/events/{ev}/ticket-types");
    let tt = t
        .post(&types, Some(&org_t), json!({"name": "GA", "price": "20", "quota": 5, "per_person_limit": 3}))
        .await;
    let ga = tt.body["ticket_type_id"].as_str().unwrap().to_string();
    let a = t.user("attendee").await.token;
    let bob = t.user("attendee").await.token;
    GaFest { t, event_id: ev.into(), organizer_token: org_t, types, ga, a, bob }
}

async fn general_admission_keeps_to_the_quota_and_the_limit(b: Backend) {
    let GaFest { t, event_id: ev, ga: tt, a, bob, .. } = ga_fest(b).await;
    let r =
        t.post("/reservations", Some(&a), json!({"event_id": ev, "ticket_type_id": tt, "quantity": 3})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!((r.body["amount"].as_str(), r.body["seat_numbers"].clone()), (Some("60.00"), json!([])));
    t.post("/reservations", Some(&a), json!({"event_id": ev, "ticket_type_id": tt, "quantity": 1}))
        .await
        .assert_problem(400, Some("quantity"));
    let r = t
        .post("/reservations", Some(&bob), json!({"event_id": ev, "ticket_type_id": tt, "quantity": 3}))
        .await;
    r.assert_problem(409, None);
    assert_eq!(r.body["code"], "sold_out");
    assert_eq!(
        t.post("/reservations", Some(&bob), json!({"event_id": ev, "ticket_type_id": tt, "quantity": 2}))
            .await
            .status,
        StatusCode::CREATED
    );
}

async fn general_admission_input_is_checked(b: Backend) {
    let GaFest { t, event_id: ev, ga: tt, bob, .. } = ga_fest(b).await;
    t.post("/reservations", Some(&bob), json!({"event_id": ev, "ticket_type_id": tt}))
        .await
        .assert_problem(400, Some("quantity"));
    t.post(
        "/reservations",
        Some(&bob),
        json!({"event_id": ev, "ticket_type_id": Uuid::now_v7(), "quantity": 1}),
    )
    .await
    .assert_problem(400, Some("ticket_type_id"));
    t.post("/reservations", Some(&bob), json!({"event_id": ev, "seat_numbers": [1]}))
        .await
        .assert_problem(400, Some("seat_numbers"));
}

/// Outside the sale window, or sold by application: 403.
async fn outside_the_sale_window_or_by_application_is_403(b: Backend) {
    let GaFest { t, event_id: ev, organizer_token: org_t, types: path, bob, .. } = ga_fest(b).await;
    let later = t
        .post(
            &path,
            Some(&org_t),
            json!({"name": "Later", "quota": 5, "sale_starts_at": "2029-01-01T00:00:00Z"}),
        )
        .await;
    let later = later.body["ticket_type_id"].as_str().unwrap().to_string();
    t.post("/reservations", Some(&bob), json!({"event_id": ev, "ticket_type_id": later, "quantity": 1}))
        .await
        .assert_problem(403, None);
    let form =
        t.post(&path, Some(&org_t), json!({"name": "Teachers", "quota": 5, "requires_approval": true})).await;
    let form = form.body["ticket_type_id"].as_str().unwrap().to_string();
    t.post("/reservations", Some(&bob), json!({"event_id": ev, "ticket_type_id": form, "quantity": 1}))
        .await
        .assert_problem(403, None);
}

async fn a_cancelled_event_is_not_on_sale(b: Backend) {
    let GaFest { t, event_id: ev, organizer_token: org_t, ga: tt, bob, .. } = ga_fest(b).await;
    t.call("DELETE", &format!("/events/{ev}"), Some(&org_t), None).await;
    t.post("/reservations", Some(&bob), json!({"event_id": ev, "ticket_type_id": tt, "quantity": 1}))
        .await
        .assert_problem(403, None);
}

async fn reservations_are_private(b: Backend) {
    let t = TestApp::new(b).await;
    let ev = t.seated_event(json!({})).await.id;
    let a = t.user("attendee").await.token;
    let bob = t.user("attendee").await.token;
    let admin = t.user("admin").await.token;
    let r = t.post("/reservations", Some(&a), json!({"event_id": ev, "seat_numbers": [1]})).await;
    let path = format!("/reservations/{}", r.body["reservation_id"].as_str().unwrap());
    assert_eq!(t.get(&path, Some(&a)).await.status, StatusCode::OK);
    assert_eq!(t.get(&path, Some(&admin)).await.status, StatusCode::OK);
    t.get(&path, Some(&bob)).await.assert_problem(404, None);
    t.get(&path, None).await.assert_problem(401, None);
    t.get("/reservations/xyz", Some(&a)).await.assert_problem(404, None);
    t.call("DELETE", &path, Some(&bob), None).await.assert_problem(404, None);
    assert_eq!(t.call("DELETE", &path, Some(&a), None).await.status, StatusCode::NO_CONTENT);
    assert_eq!(t.get(&path, Some(&a)).await.body["status"], "cancelled");
    t.call("DELETE", &path, Some(&a), None).await.assert_problem(409, None);
    let seats = t.get(&format!("/events/{ev}/seats?status=available"), None).await;
    assert_eq!(seats.body["items"].as_array().unwrap().len(), 50, "released seats are available again");
}

async fn seed_002_paths_answer(b: Backend) {
    let t = TestApp::new(b).await;
    let SeatedEvent { id: ev, organizer_token: org_t } = t.seated_event(json!({})).await;
    t.event(&org_t, json!({"name": "Not a concert", "start_time": "2030-05-01T18:00:00Z"})).await;
    t.event(&org_t, json!({"name": "Past", "start_time": "2020-05-01T18:00:00Z", "seating": "seated"})).await;
    let r = t.get("/concerts", None).await;
    assert_eq!(r.status, StatusCode::OK);
    let names: Vec<_> =
        r.body["items"].as_array().unwrap().iter().map(|e| e["event_id"].as_str().unwrap()).collect();
    assert_eq!(names, [ev.to_string()]);
    let seats = t.get(&format!("/concerts/{ev}/seats"), None).await;
    assert_eq!(seats.body["items"].as_array().unwrap().len(), 50);
    t.get("/concerts/nope/seats", None).await.assert_problem(404, None);
    let a = t.user("attendee").await.token;
    let r = t.post("/reservation", Some(&a), json!({"concert_id": ev, "seat_numbers": [5]})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let rid = r.body["reservation_id"].as_str().unwrap();
    t.post("/balance", Some(&a), json!({"amount": "100"})).await;
    let p = t.post("/payment", Some(&a), json!({"reservation_id": rid})).await;
    assert_eq!(p.status, StatusCode::CREATED, "{}", p.body);
    assert_eq!(p.body["tickets"][0]["seat_number"], 5);
    t.post("/payment", None, json!({"reservation_id": rid})).await.assert_problem(401, None);
    t.post("/reservation", Some(&a), json!({"concert_id": ev, "seat_numbers": [5]}))
        .await
        .assert_problem(409, None);
}
