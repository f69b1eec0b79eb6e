//! The virtual waiting room, with a controllable clock: admission in order, never more than the
//! maximum at once, recovery from buyers who walk away, and reservations gated on admission.

use http::StatusCode;
use serde_json::{Value, json};
use tessera_app::booking::ReserveInput;
use tessera_app::{Principal, RateLimits};
use tessera_domain::id::EventId;
use tessera_domain::records::QueueEntryStatus;
use tessera_store::Backend;
use uuid::Uuid;

use crate::both;
use crate::support::{Res, SeatedEvent, TestApp};

both!(
    the_line_is_admitted_in_order_at_the_rate_up_to_the_maximum,
    a_purchase_frees_a_place_at_once,
    lapsed_admissions_stop_counting_and_rejoin_at_the_back,
    a_hold_needs_an_admitted_token_of_ones_own,
    an_ended_admission_refuses_the_hold,
    a_token_is_not_needed_where_there_is_no_queue,
    queue_settings_are_checked_and_the_organizers,
    joining_again_answers_the_same_entry,
    queue_tokens_are_checked,
    joining_is_rate_limited,
    before_any_admission_the_configured_rate_estimates,
    the_observed_pace_replaces_the_configured_rate,
    a_full_line_keeps_its_pace,
    new_settings_restart_the_measurement,
    polls_follow_the_serving_counter,
    opening_times_are_checked_and_kept,
    a_scheduled_opening_admits_nobody_before_it,
    an_opening_can_be_removed_or_in_the_past,
    nothing_is_claimed_before_the_places_are_counted,
    buyers_beyond_the_places_left_are_told_so,
    the_places_left_follow_holds_at_each_count,
    concurrent_joins_place_everyone_once,
    polls_come_within_the_admission_window
);

async fn statuses(t: &TestApp, ev: Uuid, who: &[Principal]) -> Vec<String> {
    let mut out = Vec::new();
    for p in who {
        let e = t.db.store.queue_entry_for(ev.into(), p.user_id, t.app.now()).await.unwrap().unwrap();
        out.push(e.status.as_str().chars().next().unwrap().to_string());
    }
    out
}

/// `GET /queue/status` with the token in the `X-Queue-Token` header.
async fn poll_status(t: &TestApp, token: &str) -> Res {
    let req = http::Request::get("/queue/status")
        .header("x-queue-token", token)
        .body(axum::body::Body::empty())
        .unwrap();
    t.send(req).await
}

/// A seated event (the default map) with its waiting room switched on with `settings`.
async fn queued_event(t: &TestApp, settings: Value) -> SeatedEvent {
    let ev = t.seated_event(json!({})).await;
    let r =
        t.call("PUT", &format!("/events/{}/queue", ev.id), Some(&ev.organizer_token), Some(settings)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    ev
}

/// A waiting room and the buyers who joined its line, in order, each with their queue token.
struct Line {
    t: TestApp,
    event: SeatedEvent,
    buyers: Vec<Principal>,
    tokens: Vec<String>,
}

impl Line {
    /// `n` buyers join the line of an event queued with `settings`.
    async fn new(b: Backend, settings: Value, n: usize) -> Line {
        Self::of(TestApp::new(b).await, json!({}), settings, n).await
    }

    /// The same, with `extra` members for the event.
    async fn of(t: TestApp, extra: Value, settings: Value, n: usize) -> Line {
        let event = t.seated_event(extra).await;
        let path = format!("/events/{}/queue", event.id);
        let r = t.call("PUT", &path, Some(&event.organizer_token), Some(settings)).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        let buyers = t.principals(n).await;
        let mut tokens = Vec::new();
        for (i, p) in buyers.iter().enumerate() {
            tokens.push(
                t.app.join_queue(p, Some(event.id.into()), &format!("10.0.0.{i}")).await.unwrap().queue_token,
            );
        }
        Line { t, event, buyers, tokens }
    }

    /// Each buyer's status, by its initial (w, a, d, e).
    async fn statuses(&self) -> String {
        statuses(&self.t, self.event.id, &self.buyers).await.join("")
    }

    /// Moves the clock on and runs the admission job: how many it admitted.
    async fn tick(&self, secs: i64) -> u64 {
        self.t.clock.advance(secs);
        self.t.app.advance_queues().await.unwrap()
    }

    async fn poll(&self, i: usize) -> Res {
        poll_status(&self.t, &self.tokens[i]).await
    }

    fn queue_path(&self) -> String {
        format!("/events/{}/queue", self.event.id)
    }
}

fn three_at_once() -> Value {
    json!({"admission_rate_per_minute": 120, "max_admitted": 3, "admission_window_seconds": 60})
}

async fn the_line_is_admitted_in_order_at_the_rate_up_to_the_maximum(b: Backend) {
    let t = TestApp::new(b).await;
    let event = queued_event(&t, three_at_once()).await;
    let ev = event.id;
    assert!(!t.app.anyone_waiting().await.unwrap(), "an empty line: a scheduler's admission run stops");
    let buyers = t.principals(8).await;
    for (i, p) in buyers.iter().enumerate() {
        let v = t.app.join_queue(p, Some(ev.into()), &format!("10.0.0.{i}")).await.unwrap();
        assert_eq!(v.entry.queue_position, i as i32 + 1);
        assert_eq!(v.ahead, i as i64);
    }
    assert!(t.app.anyone_waiting().await.unwrap());
    assert_eq!(t.app.advance_queues().await.unwrap(), 0, "no time has passed: nothing earned");
    t.clock.advance(1);
    assert_eq!(t.app.advance_queues().await.unwrap(), 2, "120 a minute is 2 a second");
    assert_eq!(statuses(&t, ev, &buyers).await.join(""), "aawwwwww");
    t.clock.advance(10);
    assert_eq!(t.app.advance_queues().await.unwrap(), 1, "only 3 at once");
    assert_eq!(statuses(&t, ev, &buyers).await.join(""), "aaawwwww");
    t.clock.advance(10);
    assert_eq!(t.app.advance_queues().await.unwrap(), 0, "full: nobody else");
    let v = t
        .app
        .queue_status(Some(&t.app.join_queue(&buyers[5], Some(ev.into()), "x").await.unwrap().queue_token))
        .await
        .unwrap();
    assert_eq!((v.ahead, v.entry.status.as_str()), (2, "waiting"));
    assert!(t.app.anyone_waiting().await.unwrap(), "a full room still has a line");
    let off = json!({"enabled": false});
    let r = t.call("PUT", &format!("/events/{ev}/queue"), Some(&event.organizer_token), Some(off)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(!t.app.anyone_waiting().await.unwrap(), "a room switched off admits no one");
}

/// Eight buyers in a line that admits three at once, the first three admitted; then the first
/// buys seat 1.
async fn first_buyer_bought(b: Backend) -> Line {
    let line = Line::new(b, three_at_once(), 8).await;
    line.tick(1).await;
    line.tick(10).await;
    assert_eq!(line.statuses().await, "aaawwwww");
    let (t, first) = (&line.t, &line.buyers[0]);
    t.app.charge(first, Some("100")).await.unwrap();
    let input = ReserveInput {
        event_id: Some(line.event.id.into()),
        seat_numbers: Some(vec![1]),
        queue_token: Some(line.tokens[0].clone()),
        ..Default::default()
    };
    let h = t.app.reserve(first, &input).await.unwrap();
    t.app.pay(first, Some(h.reservation.reservation_id), None, None).await.unwrap();
    line
}

/// Buyer 1 buys: the slot frees for the next in line at once.
async fn a_purchase_frees_a_place_at_once(b: Backend) {
    let line = first_buyer_bought(b).await;
    assert_eq!(line.tick(1).await, 1);
    assert_eq!(line.statuses().await, "daaawwww");
}

/// Buyers 2-4 walk away: their admissions lapse after the window and stop counting.
async fn lapsed_admissions_stop_counting_and_rejoin_at_the_back(b: Backend) {
    let line = first_buyer_bought(b).await;
    let (t, ev, buyers) = (&line.t, line.event.id, &line.buyers);
    assert_eq!(line.tick(1).await, 1);
    t.clock.advance(61);
    assert_eq!(line.statuses().await, "deeewwww");
    assert_eq!(line.tick(0).await, 3);
    assert_eq!(line.statuses().await, "deeeaaaw");
    let info = t.get(&line.queue_path(), None).await;
    assert_eq!(
        (
            info.body["waiting"].as_i64(),
            info.body["admitted"].as_i64(),
            info.body["serving_position"].as_i64()
        ),
        (Some(1), Some(3), Some(7))
    );
    // Someone whose admission lapsed joins again at the back of the line.
    let again = t.app.join_queue(&buyers[1], Some(ev.into()), "x").await.unwrap();
    assert_eq!(
        (again.entry.queue_position, again.entry.status.as_str(), again.created),
        (9, "waiting", true)
    );
}

/// A waiting room that admits one buyer at a time, joined over HTTP by attendee `a` and then
/// by `bob`; nobody admitted yet.
struct Gated {
    t: TestApp,
    event: SeatedEvent,
    a: String,
    bob: String,
    /// The answer to `a` joining.
    a_joined: Res,
    /// `a`'s queue token.
    ta: String,
    /// `bob`'s queue token.
    tb: String,
}

async fn gated(b: Backend) -> Gated {
    let t = TestApp::new(b).await;
    let settings =
        json!({"admission_rate_per_minute": 60, "max_admitted": 1, "admission_window_seconds": 60});
    let event = queued_event(&t, settings).await;
    let a = t.user("attendee").await.token;
    let bob = t.user("attendee").await.token;
    let path = format!("/events/{}/queue", event.id);
    let a_joined = t.post(&path, Some(&a), json!({})).await;
    let ta = a_joined.body["queue_token"].as_str().unwrap_or_default().to_string();
    let tb = t.post(&path, Some(&bob), json!({})).await.body["queue_token"].as_str().unwrap().to_string();
    Gated { t, event, a, bob, a_joined, ta, tb }
}

impl Gated {
    /// `who` asks to hold `seat`, with the queue token in the `X-Queue-Token` header if any.
    async fn hold(&self, queue_token: Option<&str>, who: &str, seat: i64) -> Res {
        let mut r = http::Request::post("/reservations")
            .header("content-type", "application/json")
            .header("authorization", format!("Bearer {who}"));
        if let Some(tok) = queue_token {
            r = r.header("x-queue-token", tok);
        }
        let body = json!({"event_id": self.event.id, "seat_numbers": [seat]}).to_string();
        self.t.send(r.body(axum::body::Body::from(body)).unwrap()).await
    }

    /// A second later: `a` is admitted (max 1), `bob` still waits.
    async fn admit_a(&self) {
        self.t.clock.advance(1);
        self.t.app.advance_queues().await.unwrap();
    }
}

/// Tokens are personal and per event; waiting is not admitted; forgeries fail.
async fn a_hold_needs_an_admitted_token_of_ones_own(b: Backend) {
    let g = gated(b).await;
    let (a, bob, ta, tb) = (g.a.as_str(), g.bob.as_str(), g.ta.as_str(), g.tb.as_str());
    assert_eq!(g.a_joined.status, StatusCode::CREATED, "{}", g.a_joined.body);
    g.hold(None, a, 1).await.assert_problem(403, None);
    let r = g.hold(Some(ta), a, 1).await;
    r.assert_problem(403, None);
    assert!(r.body["detail"].as_str().unwrap().contains("not admitted yet"));
    g.admit_a().await;
    g.hold(Some(tb), bob, 2).await.assert_problem(403, None);
    g.hold(Some(ta), bob, 2).await.assert_problem(403, None);
    g.hold(Some("forged.token.here"), a, 1).await.assert_problem(403, None);
    assert_eq!(g.hold(Some(ta), a, 1).await.status, StatusCode::CREATED);
}

/// Once the admission window has passed, the hold itself refuses (the check is in its
/// transaction), and for a taken seat too: the ended admission answers before the 409.
async fn an_ended_admission_refuses_the_hold(b: Backend) {
    let g = gated(b).await;
    g.admit_a().await;
    assert_eq!(g.hold(Some(&g.ta), &g.a, 1).await.status, StatusCode::CREATED);
    g.t.clock.advance(61);
    for seat in [2, 1] {
        let r = g.hold(Some(&g.ta), &g.a, seat).await;
        r.assert_problem(403, None);
        assert!(r.body["detail"].as_str().unwrap().contains("admission has ended"), "{seat}: {}", r.body);
    }
}

/// A token for this event does not open another event's sale (which has no queue anyway), and
/// once the organizer switches the queue off, reserving works without a token.
async fn a_token_is_not_needed_where_there_is_no_queue(b: Backend) {
    let g = gated(b).await;
    let other_ev = g.t.seated_event(json!({})).await.id;
    let r =
        g.t.post(
            "/reservations",
            Some(&g.a),
            json!({"event_id": other_ev, "seat_numbers": [1], "queue_token": g.ta}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "no queue there: the token is not needed");
    let path = format!("/events/{}/queue", g.event.id);
    g.t.call("PUT", &path, Some(&g.event.organizer_token), Some(json!({"enabled": false}))).await;
    assert_eq!(g.hold(None, &g.bob, 3).await.status, StatusCode::CREATED);
}

async fn queue_settings_are_checked_and_the_organizers(b: Backend) {
    let t = TestApp::new(b).await;
    let SeatedEvent { id: ev, organizer_token: org_t } = t.seated_event(json!({})).await;
    let other_t = t.user("organizer").await.token;
    let a = t.user("attendee").await.token;
    let qpath = format!("/events/{ev}/queue");
    // No waiting room yet.
    t.get(&qpath, None).await.assert_problem(404, None);
    t.post(&qpath, Some(&a), json!({})).await.assert_problem(404, None);
    for (body, field) in [
        (json!({"admission_rate_per_minute": 0}), "admission_rate_per_minute"),
        (json!({"max_admitted": -1}), "max_admitted"),
        (json!({"admission_window_seconds": 5}), "admission_window_seconds"),
        (json!({"enabled": "yes"}), "enabled"),
    ] {
        t.call("PUT", &qpath, Some(&org_t), Some(body)).await.assert_problem(400, Some(field));
    }
    t.call("PUT", &qpath, Some(&other_t), Some(json!({}))).await.assert_problem(403, None);
    t.call("PUT", &qpath, Some(&a), Some(json!({}))).await.assert_problem(403, None);
    t.call("PUT", &qpath, None, Some(json!({}))).await.assert_problem(401, None);
    t.call("PUT", &format!("/events/{}/queue", Uuid::now_v7()), Some(&org_t), Some(json!({})))
        .await
        .assert_problem(404, None);
    let r = t.call("PUT", &qpath, Some(&org_t), Some(json!({}))).await;
    assert_eq!(
        r.body,
        json!({"event_id": ev, "enabled": true, "admission_rate_per_minute": 60, "max_admitted": 100,
        "admission_window_seconds": 300, "serving_position": 0, "waiting": 0, "admitted": 0,
        "opens_at": null, "places_left": null})
    );
}

/// A waiting room with the default settings, and an attendee who has not joined it.
struct Room {
    t: TestApp,
    event_id: EventId,
    attendee: String,
}

async fn room(b: Backend) -> Room {
    let t = TestApp::new(b).await;
    let event_id = queued_event(&t, json!({})).await.id;
    let attendee = t.user("attendee").await.token;
    Room { t, event_id: event_id.into(), attendee }
}

/// Join, join again (same entry, through seed 002's /queue/token), poll by header and by query.
async fn joining_again_answers_the_same_entry(b: Backend) {
    let Room { t, event_id: ev, attendee: a } = room(b).await;
    let first = t.post(&format!("/events/{ev}/queue"), Some(&a), json!({})).await;
    assert_eq!(first.status, StatusCode::CREATED);
    assert_eq!(
        (
            first.body["queue_position"].as_i64(),
            first.body["status"].as_str(),
            first.body["wait_time"].as_i64()
        ),
        (Some(1), Some("waiting"), Some(1))
    );
    let again = t.post("/queue/token", Some(&a), json!({"concert_id": ev})).await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.body["entry_id"], first.body["entry_id"]);
    let token = first.body["queue_token"].as_str().unwrap();
    let polled = poll_status(&t, token).await;
    assert_eq!((polled.status, polled.body["queue_position"].as_i64()), (StatusCode::OK, Some(1)));
    assert_eq!(t.get(&format!("/queue/status?token={token}"), None).await.status, StatusCode::OK);
}

async fn queue_tokens_are_checked(b: Backend) {
    let Room { t, event_id: ev, attendee: a } = room(b).await;
    t.get("/queue/status", None).await.assert_problem(401, None);
    t.get("/queue/status?token=abc", None).await.assert_problem(403, None);
    t.post("/queue/token", Some(&a), json!({})).await.assert_problem(400, Some("event_id"));
    t.post("/queue/token", Some(&a), json!({"concert_id": "x"}))
        .await
        .assert_problem(400, Some("concert_id"));
    t.post("/queue/token", None, json!({"concert_id": ev})).await.assert_problem(401, None);
    t.post(&format!("/events/{}/queue", Uuid::now_v7()), Some(&a), json!({})).await.assert_problem(404, None);
    // An access token is not a queue token.
    t.get(&format!("/queue/status?token={a}"), None).await.assert_problem(403, None);
}

async fn joining_is_rate_limited(b: Backend) {
    let limits = RateLimits { queue_join_per_user: 3, ..Default::default() };
    let t = TestApp::with_limits(b, limits).await;
    let ev = queued_event(&t, json!({})).await.id;
    let a = t.user("attendee").await.token;
    for _ in 0..3 {
        assert!(t.post(&format!("/events/{ev}/queue"), Some(&a), json!({})).await.status.is_success());
    }
    let r = t.post(&format!("/events/{ev}/queue"), Some(&a), json!({})).await;
    r.assert_problem(429, None);
    assert!(r.headers.contains_key("retry-after"));
}

/// Ten buyers in a line whose configured rate (600 a minute) is held back by `max_admitted` 2.
async fn paced(b: Backend) -> Line {
    Line::new(b, paced_settings(), 10).await
}

fn paced_settings() -> Value {
    json!({"admission_rate_per_minute": 600, "max_admitted": 2, "admission_window_seconds": 60})
}

/// A poll's `ahead`, `wait_time`, `poll_after_ms` and `poll_after_seconds`.
fn estimate(r: &Res) -> (Option<i64>, Option<i64>, Option<i64>, Option<i64>) {
    (
        r.body["ahead"].as_i64(),
        r.body["wait_time"].as_i64(),
        r.body["poll_after_ms"].as_i64(),
        r.body["poll_after_seconds"].as_i64(),
    )
}

/// Nothing observed yet: the configured 10 a second (9 in front of the last: one second), to be
/// asked again at the admission tick after it (a quarter second later).
async fn before_any_admission_the_configured_rate_estimates(b: Backend) {
    let line = paced(b).await;
    assert_eq!(estimate(&line.poll(9).await), (Some(9), Some(1), Some(1_250), Some(2)));
}

/// The configured rate is a ceiling: a tick a second later may admit only 2 (the maximum at
/// once): 120 a minute observed, the first pace measured, so it stands as it is (7 in front:
/// four seconds). The admitted are told to come in, not to poll.
async fn the_observed_pace_replaces_the_configured_rate(b: Backend) {
    let line = paced(b).await;
    assert_eq!(line.tick(1).await, 2);
    assert_eq!(estimate(&line.poll(9).await), (Some(7), Some(4), Some(4_250), Some(5)));
    let first = line.poll(0).await;
    assert_eq!(
        (first.body["status"].as_str(), first.body["wait_time"].as_i64()),
        (Some("admitted"), Some(0))
    );
    assert!(first.body["poll_after_seconds"].is_null(), "{}", first.body);
    assert!(first.body["poll_after_ms"].is_null(), "{}", first.body);
}

/// A full line (everyone admitted still shopping) keeps its pace: busy is not slow.
async fn a_full_line_keeps_its_pace(b: Backend) {
    let line = paced(b).await;
    assert_eq!(line.tick(1).await, 2);
    for _ in 0..3 {
        assert_eq!(line.tick(1).await, 0);
    }
    let last = line.poll(9).await;
    assert_eq!(
        (last.body["wait_time"].as_i64(), last.body["poll_after_seconds"].as_i64()),
        (Some(4), Some(5)),
        "{}",
        last.body
    );
}

/// New settings start the measurement again from the configured rate.
async fn new_settings_restart_the_measurement(b: Backend) {
    let line = paced(b).await;
    assert_eq!(line.tick(1).await, 2);
    assert_eq!(line.poll(9).await.body["wait_time"].as_i64(), Some(4));
    let r = line
        .t
        .call("PUT", &line.queue_path(), Some(&line.event.organizer_token), Some(paced_settings()))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(line.poll(9).await.body["wait_time"].as_i64(), Some(1));
}

/// A poll answers from the serving counter (read at most every `recent::TTL` per instance)
/// and hands the token back while it still names the buyer's place. This instance's own
/// admissions show at once; another instance's within the TTL.
async fn polls_follow_the_serving_counter(b: Backend) {
    let t = TestApp::new(b).await;
    let ev = queued_event(&t, json!({"admission_rate_per_minute": 120, "max_admitted": 10})).await.id;
    let buyers = t.principals(4).await;
    let mut tokens = Vec::new();
    for p in &buyers {
        tokens.push(t.app.join_queue(p, Some(ev.into()), "10.0.0.1").await.unwrap().queue_token);
    }
    let v = t.app.queue_status(Some(&tokens[0])).await.unwrap();
    assert_eq!(
        (v.entry.status.as_str(), v.ahead, v.queue_token.as_str()),
        ("waiting", 0, tokens[0].as_str())
    );
    // Admitted by this instance: the next poll sees it.
    t.clock.advance(1);
    assert_eq!(t.app.advance_queues().await.unwrap(), 2);
    let v = t.app.queue_status(Some(&tokens[0])).await.unwrap();
    assert_eq!((v.entry.status.as_str(), v.queue_token.as_str()), ("admitted", tokens[0].as_str()));
    assert!(v.entry.expires_at.is_some());
    let v = t.app.queue_status(Some(&tokens[2])).await.unwrap();
    assert_eq!((v.entry.status.as_str(), v.ahead), ("waiting", 0));
    // Admitted by another instance on the same database: seen once this one's state is stale.
    let other = tessera_app::App::new(t.db.store.clone(), Default::default(), t.clock.clone()).await.unwrap();
    t.clock.advance(1);
    assert_eq!(other.advance_queues().await.unwrap(), 2);
    tokio::time::sleep(tessera_app::recent::TTL + std::time::Duration::from_millis(50)).await;
    for token in &tokens[2..] {
        let v = t.app.queue_status(Some(token)).await.unwrap();
        assert_eq!(v.entry.status, QueueEntryStatus::Admitted);
    }
    // A token that no longer names the holder's place is replaced: buyer 1's admission lapses
    // and they join again at the back; a poll with the old token answers the new place.
    t.clock.advance(301);
    let again = t.app.join_queue(&buyers[0], Some(ev.into()), "10.0.0.1").await.unwrap();
    assert_eq!((again.entry.status.as_str(), again.entry.queue_position), ("waiting", 5));
    let v = t.app.queue_status(Some(&tokens[0])).await.unwrap();
    assert_eq!((v.entry.status.as_str(), v.entry.queue_position), ("waiting", 5));
    assert_ne!(v.queue_token, tokens[0], "a new token for the new place");
}

/// An RFC 3339 time `secs` from the app's now.
fn from_now(t: &TestApp, secs: i64) -> String {
    tessera_domain::clock::format_ts(t.app.now() + time::Duration::seconds(secs))
}

/// A seated event whose waiting room opens in 30 seconds (120 a minute, 10 at once).
fn opening_in_30s(t: &TestApp) -> Value {
    json!({"admission_rate_per_minute": 120, "max_admitted": 10, "opens_at": from_now(t, 30)})
}

async fn opening_times_are_checked_and_kept(b: Backend) {
    let t = TestApp::new(b).await;
    let SeatedEvent { id: ev, organizer_token: org_t } = t.seated_event(json!({})).await;
    let a = t.user("attendee").await.token;
    let qpath = format!("/events/{ev}/queue");
    for bad in [json!("tomorrow"), json!(5), json!("2031-01-01T00:00:00Z")] {
        t.call("PUT", &qpath, Some(&org_t), Some(json!({ "opens_at": bad })))
            .await
            .assert_problem(400, Some("opens_at"));
    }
    t.call("PUT", &qpath, Some(&a), Some(json!({"opens_at": from_now(&t, 30)})))
        .await
        .assert_problem(403, None);
    let r = t.call("PUT", &qpath, Some(&org_t), Some(opening_in_30s(&t))).await;
    assert_eq!(
        (r.status, r.body["opens_at"].as_str()),
        (StatusCode::OK, Some(from_now(&t, 30).as_str())),
        "{}",
        r.body
    );
    // Other settings changed alone keep the opening.
    let r = t.call("PUT", &qpath, Some(&org_t), Some(json!({"max_admitted": 10}))).await;
    assert_eq!(r.body["opens_at"].as_str(), Some(from_now(&t, 30).as_str()));
}

/// Three buyers join before the opening.
async fn before_the_opening(b: Backend) -> Line {
    let t = TestApp::new(b).await;
    let settings = opening_in_30s(&t);
    Line::of(t, json!({}), settings, 3).await
}

/// Buyers join before a scheduled opening and are told when their turn is likely to come; the
/// rate earns nothing before the opening, so the line starts at its pace, not with a burst.
async fn a_scheduled_opening_admits_nobody_before_it(b: Backend) {
    let line = before_the_opening(b).await;
    let (t, opens_at) = (&line.t, from_now(&line.t, 30));
    // Two ahead at 120 a minute: a second and a half after the opening (rounded up), to be
    // asked again at the admission tick after it.
    let third = t.app.queue_status(Some(&line.tokens[2])).await.unwrap();
    assert_eq!(
        (third.ahead, third.wait_secs, third.poll_after_ms, third.poll_after_secs),
        (2, 32, Some(31_750), Some(32))
    );
    assert_eq!(third.opens_at.map(tessera_domain::clock::format_ts), Some(opens_at));
    assert_eq!(line.tick(20).await, 0, "not open yet");
    assert_eq!(t.app.queue_status(Some(&line.tokens[2])).await.unwrap().wait_secs, 12);
    // A second after the opening: what a second earns (2), not the half minute since joining.
    assert_eq!(line.tick(11).await, 2);
    assert_eq!(line.statuses().await, "aaw");
    let third = t.app.queue_status(Some(&line.tokens[2])).await.unwrap();
    assert_eq!((third.ahead, third.wait_secs), (0, 1));
}

/// null removes the opening; an opening in the past is simply open.
async fn an_opening_can_be_removed_or_in_the_past(b: Backend) {
    let line = before_the_opening(b).await;
    // Past the opening, two are admitted and one waits.
    line.tick(20).await;
    line.tick(11).await;
    assert_eq!(line.statuses().await, "aaw");
    let (t, qpath, org_t) = (&line.t, line.queue_path(), Some(line.event.organizer_token.as_str()));
    let r = t.call("PUT", &qpath, org_t, Some(json!({"opens_at": null}))).await;
    assert!(r.body["opens_at"].is_null(), "{}", r.body);
    let r = t.call("PUT", &qpath, org_t, Some(json!({"opens_at": from_now(t, -60)}))).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(line.tick(1).await, 1);
}

/// Five buyers in the line of a three-seat event that admits one a second, one at a time.
async fn three_seats_five_buyers(b: Backend) -> Line {
    let t = TestApp::new(b).await;
    let settings = json!({"admission_rate_per_minute": 60, "max_admitted": 1});
    Line::of(t, json!({"seat_count": 3}), settings, 5).await
}

/// The admission job counts the places still on sale; before its first tick nothing is
/// claimed.
async fn nothing_is_claimed_before_the_places_are_counted(b: Backend) {
    let line = three_seats_five_buyers(b).await;
    let last = line.poll(4).await;
    assert_eq!(
        (last.body["beyond_places_left"].as_bool(), last.body["places_left"].as_i64()),
        (Some(false), None)
    );
}

/// A buyer with more waiting ahead than places left is told so and asked to poll rarely.
async fn buyers_beyond_the_places_left_are_told_so(b: Backend) {
    let line = three_seats_five_buyers(b).await;
    assert_eq!(line.tick(1).await, 1);
    // 3 places, buyer 1 admitted: buyers 2-4 have 0-2 waiting ahead, buyer 5 has 3.
    let fourth = line.poll(3).await;
    assert_eq!(
        (fourth.body["places_left"].as_i64(), fourth.body["beyond_places_left"].as_bool()),
        (Some(3), Some(false)),
        "{}",
        fourth.body
    );
    let last = line.poll(4).await;
    assert_eq!(
        (
            last.body["beyond_places_left"].as_bool(),
            last.body["wait_time"].as_i64(),
            last.body["poll_after_seconds"].as_i64()
        ),
        // Polls are asked for every half admission window (the default 300 s): their turn comes
        // only if holds lapse or those ahead leave. The wait is at the pace of the first tick (60
        // a minute, 3 ahead).
        (Some(true), Some(4), Some(150)),
        "{}",
        last.body
    );
}

/// Buyers move up (or down) as the count does; admitted buyers are not told anything of the
/// kind.
async fn the_places_left_follow_holds_at_each_count(b: Backend) {
    let line = three_seats_five_buyers(b).await;
    assert_eq!(line.tick(1).await, 1);
    // Buyer 1 holds a seat: 2 left at the next count, and buyer 4 (2 ahead) is beyond too.
    let input = ReserveInput {
        event_id: Some(line.event.id.into()),
        seat_numbers: Some(vec![1]),
        queue_token: Some(line.tokens[0].clone()),
        ..Default::default()
    };
    line.t.app.reserve(&line.buyers[0], &input).await.unwrap();
    // The places are counted every two seconds: a tick a second after the count keeps it.
    line.tick(1).await;
    assert_eq!(line.poll(3).await.body["places_left"].as_i64(), Some(3));
    line.tick(1).await;
    let fourth = line.poll(3).await;
    assert_eq!(
        (fourth.body["places_left"].as_i64(), fourth.body["beyond_places_left"].as_bool()),
        (Some(2), Some(true))
    );
    let first = line.poll(0).await;
    assert_eq!(
        (first.body["status"].as_str(), first.body["beyond_places_left"].as_bool()),
        (Some("admitted"), Some(false))
    );
}
/// A crowd joining at once, each buyer twice at the same moment (a double click): everyone gets
/// exactly one entry, both answers name it, and no two buyers share a position. On PostgreSQL the
/// position counter commits on its own, so a double click may leave a gap; the line's order is
/// still the positions' order.
async fn concurrent_joins_place_everyone_once(b: Backend) {
    let t = TestApp::new(b).await;
    let ev = queued_event(&t, json!({"admission_rate_per_minute": 60})).await.id;
    let buyers = t.principals(40).await;
    let mut tasks = Vec::new();
    for (i, p) in buyers.iter().enumerate() {
        for _ in 0..2 {
            let (app, p) = (t.app.clone(), p.clone());
            tasks.push(tokio::spawn(async move {
                let v = app.join_queue(&p, Some(ev.into()), &format!("10.1.0.{i}")).await.unwrap();
                (p.user_id, v.entry.entry_id, v.entry.queue_position)
            }));
        }
    }
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.unwrap());
    }
    let mut positions = std::collections::BTreeSet::new();
    for p in &buyers {
        let mine: Vec<_> = answers.iter().filter(|a| a.0 == p.user_id).collect();
        assert_eq!(mine.len(), 2);
        assert_eq!((mine[0].1, mine[0].2), (mine[1].1, mine[1].2), "both clicks answer the same entry");
        let stored = t.db.store.queue_entry_for(ev.into(), p.user_id, t.app.now()).await.unwrap().unwrap();
        assert_eq!((stored.entry_id, stored.queue_position), (mine[0].1, mine[0].2));
        assert!(positions.insert(stored.queue_position), "position {} given twice", stored.queue_position);
    }
    assert_eq!(positions.len(), buyers.len());
    // Gaps only where a double click lost its race: never more positions than joins.
    assert!(*positions.last().unwrap() as usize <= 2 * buyers.len());
    // On PostgreSQL the crowd joined in groups, and no group failed whole (which would have run
    // its joins one by one, hiding a broken group statement).
    if let Some((largest, split)) = t.db.store.join_grouping() {
        assert!(largest > 1, "largest group {largest}");
        assert_eq!(split, 0);
    }
}

/// Far back in a slow line with a 30-second admission window, a buyer is told to poll every 15 s,
/// not every minute: admitted just after a poll, they still learn it with half the window left.
async fn polls_come_within_the_admission_window(b: Backend) {
    let t = TestApp::new(b).await;
    let settings = json!({"admission_rate_per_minute": 1, "max_admitted": 1, "admission_window_seconds": 30});
    let ev = queued_event(&t, settings).await.id;
    let buyers = t.principals(3).await;
    let mut tokens = Vec::new();
    for p in &buyers {
        tokens.push(t.app.join_queue(p, Some(ev.into()), "10.0.0.1").await.unwrap().queue_token);
    }
    let r = poll_status(&t, &tokens[2]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // Two ahead at one a minute: three minutes' wait, polled every 15 s.
    assert_eq!(
        (
            r.body["wait_time"].as_i64(),
            r.body["poll_after_seconds"].as_i64(),
            r.body["poll_after_ms"].as_i64()
        ),
        (Some(180), Some(15), Some(15_000)),
        "{}",
        r.body
    );
}
