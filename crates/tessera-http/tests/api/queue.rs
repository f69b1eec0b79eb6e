//! The virtual waiting room, with a controllable clock: admission in order, never more than the
//! maximum at once, recovery from buyers who walk away, and reservations gated on admission.

use http::StatusCode;
use serde_json::json;
use tessera_app::booking::ReserveInput;
use tessera_app::{Principal, RateLimits};
use tessera_store::Backend;
use uuid::Uuid;

use crate::both;
use crate::support::{Res, TestApp};

both!(
    admits_in_order_within_max_and_recovers,
    reservations_need_admission,
    queue_routes,
    joining_is_rate_limited,
    estimates_follow_the_observed_pace,
    polls_follow_the_serving_counter,
    a_scheduled_opening_admits_nobody_before_it,
    buyers_beyond_the_places_left_are_told_so,
    concurrent_joins_place_everyone_once,
    polls_come_within_the_admission_window
);

async fn statuses(t: &TestApp, ev: Uuid, who: &[Principal]) -> Vec<String> {
    let mut out = Vec::new();
    for p in who {
        let e = t.app.store.queue_entry_for(ev, p.user_id, t.app.now()).await.unwrap().unwrap();
        out.push(e.status.chars().next().unwrap().to_string());
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

/// A seated event (the default map) with its waiting room switched on with `settings`, and the
/// organizer's token.
async fn queued_event(t: &TestApp, settings: serde_json::Value) -> (Uuid, String) {
    let (ev, org_t) = t.seated_event(json!({})).await;
    let r = t.call("PUT", &format!("/events/{ev}/queue"), Some(&org_t), Some(settings)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    (ev, org_t)
}

async fn admits_in_order_within_max_and_recovers(b: Backend) {
    let t = TestApp::new(b).await;
    let settings =
        json!({"admission_rate_per_minute": 120, "max_admitted": 3, "admission_window_seconds": 60});
    let (ev, _) = queued_event(&t, settings).await;
    let buyers = t.principals(8).await;
    for (i, p) in buyers.iter().enumerate() {
        let v = t.app.join_queue(p, Some(ev), &format!("10.0.0.{i}")).await.unwrap();
        assert_eq!(v.entry.queue_position, i as i32 + 1);
        assert_eq!(v.ahead, i as i64);
    }
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
        .queue_status(Some(&t.app.join_queue(&buyers[5], Some(ev), "x").await.unwrap().queue_token))
        .await
        .unwrap();
    assert_eq!((v.ahead, v.entry.status.as_str()), (2, "waiting"));
    // Buyer 1 buys: the slot frees for the next in line at once.
    t.app.charge(&buyers[0], Some("100")).await.unwrap();
    let token = t.app.join_queue(&buyers[0], Some(ev), "x").await.unwrap().queue_token;
    let input = ReserveInput {
        event_id: Some(ev),
        seat_numbers: Some(vec![1]),
        queue_token: Some(token),
        ..Default::default()
    };
    let h = t.app.reserve(&buyers[0], &input).await.unwrap();
    t.app.pay(&buyers[0], Some(h.reservation.reservation_id), None, None).await.unwrap();
    t.clock.advance(1);
    assert_eq!(t.app.advance_queues().await.unwrap(), 1);
    assert_eq!(statuses(&t, ev, &buyers).await.join(""), "daaawwww");
    // Buyers 2-4 walk away: their admissions lapse after the window and stop counting.
    t.clock.advance(61);
    assert_eq!(statuses(&t, ev, &buyers).await.join(""), "deeewwww");
    assert_eq!(t.app.advance_queues().await.unwrap(), 3);
    assert_eq!(statuses(&t, ev, &buyers).await.join(""), "deeeaaaw");
    let info = t.get(&format!("/events/{ev}/queue"), None).await;
    assert_eq!(
        (
            info.body["waiting"].as_i64(),
            info.body["admitted"].as_i64(),
            info.body["serving_position"].as_i64()
        ),
        (Some(1), Some(3), Some(7))
    );
    // Someone whose admission lapsed joins again at the back of the line.
    let again = t.app.join_queue(&buyers[1], Some(ev), "x").await.unwrap();
    assert_eq!(
        (again.entry.queue_position, again.entry.status.as_str(), again.created),
        (9, "waiting", true)
    );
}

async fn reservations_need_admission(b: Backend) {
    let t = TestApp::new(b).await;
    let (ev, org_t) = t.seated_event(json!({})).await;
    let (other_ev, _) = t.seated_event(json!({})).await;
    t.call(
        "PUT",
        &format!("/events/{ev}/queue"),
        Some(&org_t),
        Some(json!({"admission_rate_per_minute": 60, "max_admitted": 1, "admission_window_seconds": 60})),
    )
    .await;
    let (_, a) = t.user("attendee").await;
    let (_, bob) = t.user("attendee").await;
    let hold = |token: Option<&str>, who: &str, seat: i64| {
        let mut r = http::Request::post("/reservations")
            .header("content-type", "application/json")
            .header("authorization", format!("Bearer {who}"));
        if let Some(tok) = token {
            r = r.header("x-queue-token", tok);
        }
        r.body(axum::body::Body::from(json!({"event_id": ev, "seat_numbers": [seat]}).to_string())).unwrap()
    };
    t.send(hold(None, &a, 1)).await.assert_problem(403, None);
    let ja = t.post(&format!("/events/{ev}/queue"), Some(&a), json!({})).await;
    assert_eq!(ja.status, StatusCode::CREATED, "{}", ja.body);
    let ta = ja.body["queue_token"].as_str().unwrap().to_string();
    let tb = t.post(&format!("/events/{ev}/queue"), Some(&bob), json!({})).await.body["queue_token"]
        .as_str()
        .unwrap()
        .to_string();
    let r = t.send(hold(Some(&ta), &a, 1)).await;
    r.assert_problem(403, None);
    assert!(r.body["detail"].as_str().unwrap().contains("not admitted yet"));
    t.clock.advance(1);
    t.app.advance_queues().await.unwrap();
    // a is admitted (max 1), bob still waits; tokens are personal and per event; forgeries fail.
    t.send(hold(Some(&tb), &bob, 2)).await.assert_problem(403, None);
    t.send(hold(Some(&ta), &bob, 2)).await.assert_problem(403, None);
    t.send(hold(Some("forged.token.here"), &a, 1)).await.assert_problem(403, None);
    assert_eq!(t.send(hold(Some(&ta), &a, 1)).await.status, StatusCode::CREATED);
    // Once the admission window has passed, the hold itself refuses (the check is in its
    // transaction), and for a taken seat too: the ended admission answers before the 409.
    t.clock.advance(61);
    for seat in [2, 1] {
        let r = t.send(hold(Some(&ta), &a, seat)).await;
        r.assert_problem(403, None);
        assert!(r.body["detail"].as_str().unwrap().contains("admission has ended"), "{seat}: {}", r.body);
    }
    // A token for this event does not open another event's sale (which has no queue anyway).
    let r = t
        .post(
            "/reservations",
            Some(&a),
            json!({"event_id": other_ev, "seat_numbers": [1], "queue_token": ta}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "no queue there: the token is not needed");
    // The organizer switches the queue off: reserving works without a token.
    t.call("PUT", &format!("/events/{ev}/queue"), Some(&org_t), Some(json!({"enabled": false}))).await;
    assert_eq!(t.send(hold(None, &bob, 3)).await.status, StatusCode::CREATED);
}

async fn queue_routes(b: Backend) {
    let t = TestApp::new(b).await;
    let (ev, org_t) = t.seated_event(json!({})).await;
    let (_, other_t) = t.user("organizer").await;
    let (_, a) = t.user("attendee").await;
    let qpath = format!("/events/{ev}/queue");
    t.get(&qpath, None).await.assert_problem(404, None);
    t.post(&qpath, Some(&a), json!({})).await.assert_problem(404, None);
    t.call("PUT", &qpath, Some(&org_t), Some(json!({"admission_rate_per_minute": 0})))
        .await
        .assert_problem(400, Some("admission_rate_per_minute"));
    t.call("PUT", &qpath, Some(&org_t), Some(json!({"max_admitted": -1})))
        .await
        .assert_problem(400, Some("max_admitted"));
    t.call("PUT", &qpath, Some(&org_t), Some(json!({"admission_window_seconds": 5})))
        .await
        .assert_problem(400, Some("admission_window_seconds"));
    t.call("PUT", &qpath, Some(&org_t), Some(json!({"enabled": "yes"})))
        .await
        .assert_problem(400, Some("enabled"));
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
    // Join, join again (same entry), poll by header and by query, seed 002's /queue/token.
    let first = t.post(&qpath, Some(&a), json!({})).await;
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
    let (ev, org_t) = t.seated_event(json!({})).await;
    t.call("PUT", &format!("/events/{ev}/queue"), Some(&org_t), Some(json!({}))).await;
    let (_, a) = t.user("attendee").await;
    for _ in 0..3 {
        assert!(t.post(&format!("/events/{ev}/queue"), Some(&a), json!({})).await.status.is_success());
    }
    let r = t.post(&format!("/events/{ev}/queue"), Some(&a), json!({})).await;
    r.assert_problem(429, None);
    assert!(r.headers.contains_key("retry-after"));
}

/// The configured rate is a ceiling; a line held back by `max_admitted` moves slower, and the
/// estimates and poll hints follow what was observed.
async fn estimates_follow_the_observed_pace(b: Backend) {
    let t = TestApp::new(b).await;
    let (ev, org_t) = t.seated_event(json!({})).await;
    let qpath = format!("/events/{ev}/queue");
    let settings =
        json!({"admission_rate_per_minute": 600, "max_admitted": 2, "admission_window_seconds": 60});
    assert_eq!(t.call("PUT", &qpath, Some(&org_t), Some(settings.clone())).await.status, StatusCode::OK);
    let buyers = t.principals(10).await;
    let mut tokens = Vec::new();
    for p in &buyers {
        tokens.push(t.app.join_queue(p, Some(ev), "10.0.0.1").await.unwrap().queue_token);
    }
    let poll = |i: usize| poll_status(&t, &tokens[i]);
    // Nothing observed yet: the configured 10 a second (9 in front of the last: one second),
    // to be asked again at the admission tick after it (a quarter second later).
    let last = poll(9).await;
    assert_eq!(
        (
            last.body["ahead"].as_i64(),
            last.body["wait_time"].as_i64(),
            last.body["poll_after_ms"].as_i64(),
            last.body["poll_after_seconds"].as_i64()
        ),
        (Some(9), Some(1), Some(1_250), Some(2))
    );
    // A tick a second later may admit only 2 (the maximum at once): 120 a minute observed, the
    // first pace measured, so it stands as it is (7 in front: four seconds).
    t.clock.advance(1);
    assert_eq!(t.app.advance_queues().await.unwrap(), 2);
    let last = poll(9).await;
    assert_eq!(
        (
            last.body["ahead"].as_i64(),
            last.body["wait_time"].as_i64(),
            last.body["poll_after_ms"].as_i64(),
            last.body["poll_after_seconds"].as_i64()
        ),
        (Some(7), Some(4), Some(4_250), Some(5))
    );
    let first = poll(0).await;
    assert_eq!(
        (first.body["status"].as_str(), first.body["wait_time"].as_i64()),
        (Some("admitted"), Some(0))
    );
    assert!(first.body["poll_after_seconds"].is_null(), "{}", first.body);
    assert!(first.body["poll_after_ms"].is_null(), "{}", first.body);
    // A full line (everyone admitted still shopping) keeps its pace: busy is not slow.
    for _ in 0..3 {
        t.clock.advance(1);
        assert_eq!(t.app.advance_queues().await.unwrap(), 0);
    }
    let last = poll(9).await;
    assert_eq!(
        (last.body["wait_time"].as_i64(), last.body["poll_after_seconds"].as_i64()),
        (Some(4), Some(5)),
        "{}",
        last.body
    );
    // New settings start the measurement again from the configured rate.
    assert_eq!(t.call("PUT", &qpath, Some(&org_t), Some(settings)).await.status, StatusCode::OK);
    let last = poll(9).await;
    assert_eq!(last.body["wait_time"].as_i64(), Some(1));
}

/// A poll answers from the serving counter (read at most every `recent::TTL` per instance)
/// and hands the token back while it still names the buyer's place. This instance's own
/// admissions show at once; another instance's within the TTL.
async fn polls_follow_the_serving_counter(b: Backend) {
    let t = TestApp::new(b).await;
    let (ev, _) = queued_event(&t, json!({"admission_rate_per_minute": 120, "max_admitted": 10})).await;
    let buyers = t.principals(4).await;
    let mut tokens = Vec::new();
    for p in &buyers {
        tokens.push(t.app.join_queue(p, Some(ev), "10.0.0.1").await.unwrap().queue_token);
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
    let other =
        tessera_app::App::new(t.app.store.clone(), Default::default(), t.clock.clone()).await.unwrap();
    t.clock.advance(1);
    assert_eq!(other.advance_queues().await.unwrap(), 2);
    tokio::time::sleep(tessera_app::recent::TTL + std::time::Duration::from_millis(50)).await;
    for token in &tokens[2..] {
        let v = t.app.queue_status(Some(token)).await.unwrap();
        assert_eq!(v.entry.status, "admitted");
    }
    // A token that no longer names the holder's place is replaced: buyer 1's admission lapses
    // and they join again at the back; a poll with the old token answers the new place.
    t.clock.advance(301);
    let again = t.app.join_queue(&buyers[0], Some(ev), "10.0.0.1").await.unwrap();
    assert_eq!((again.entry.status.as_str(), again.entry.queue_position), ("waiting", 5));
    let v = t.app.queue_status(Some(&tokens[0])).await.unwrap();
    assert_eq!((v.entry.status.as_str(), v.entry.queue_position), ("waiting", 5));
    assert_ne!(v.queue_token, tokens[0], "a new token for the new place");
}

/// Buyers join before a scheduled opening and are told when their turn is likely to come; the
/// rate earns nothing before the opening, so the line starts at its pace, not with a burst.
async fn a_scheduled_opening_admits_nobody_before_it(b: Backend) {
    let t = TestApp::new(b).await;
    let (ev, org_t) = t.seated_event(json!({})).await;
    let (_, a) = t.user("attendee").await;
    let qpath = format!("/events/{ev}/queue");
    let at = |secs: i64| tessera_domain::clock::format_ts(t.app.now() + time::Duration::seconds(secs));
    for bad in [json!("tomorrow"), json!(5), json!("2031-01-01T00:00:00Z")] {
        t.call("PUT", &qpath, Some(&org_t), Some(json!({ "opens_at": bad })))
            .await
            .assert_problem(400, Some("opens_at"));
    }
    t.call("PUT", &qpath, Some(&a), Some(json!({"opens_at": at(30)}))).await.assert_problem(403, None);
    let settings = json!({"admission_rate_per_minute": 120, "max_admitted": 10, "opens_at": at(30)});
    let r = t.call("PUT", &qpath, Some(&org_t), Some(settings)).await;
    assert_eq!(
        (r.status, r.body["opens_at"].as_str()),
        (StatusCode::OK, Some(at(30).as_str())),
        "{}",
        r.body
    );
    // Other settings changed alone keep the opening.
    let r = t.call("PUT", &qpath, Some(&org_t), Some(json!({"max_admitted": 10}))).await;
    assert_eq!(r.body["opens_at"].as_str(), Some(at(30).as_str()));
    let buyers = t.principals(3).await;
    let mut joined = Vec::new();
    for p in &buyers {
        joined.push(t.app.join_queue(p, Some(ev), "10.0.0.1").await.unwrap());
    }
    // Two ahead at 120 a minute: a second and a half after the opening (rounded up), to be
    // asked again at the admission tick after it.
    let third = t.app.queue_status(Some(&joined[2].queue_token)).await.unwrap();
    assert_eq!(
        (third.ahead, third.wait_secs, third.poll_after_ms, third.poll_after_secs),
        (2, 32, Some(31_750), Some(32))
    );
    assert_eq!(third.opens_at.map(tessera_domain::clock::format_ts), Some(at(30)));
    t.clock.advance(20);
    assert_eq!(t.app.advance_queues().await.unwrap(), 0, "not open yet");
    assert_eq!(t.app.queue_status(Some(&joined[2].queue_token)).await.unwrap().wait_secs, 12);
    // A second after the opening: what a second earns (2), not the half minute since joining.
    t.clock.advance(11);
    assert_eq!(t.app.advance_queues().await.unwrap(), 2);
    assert_eq!(statuses(&t, ev, &buyers).await.join(""), "aaw");
    let third = t.app.queue_status(Some(&joined[2].queue_token)).await.unwrap();
    assert_eq!((third.ahead, third.wait_secs), (0, 1));
    // null removes the opening; an opening in the past is simply open.
    let r = t.call("PUT", &qpath, Some(&org_t), Some(json!({"opens_at": null}))).await;
    assert!(r.body["opens_at"].is_null(), "{}", r.body);
    let r = t.call("PUT", &qpath, Some(&org_t), Some(json!({"opens_at": at(-60)}))).await;
    assert_eq!(r.status, StatusCode::OK);
    t.clock.advance(1);
    assert_eq!(t.app.advance_queues().await.unwrap(), 1);
}

/// The admission job counts the places still on sale; a buyer with more waiting ahead than that
/// is told so and asked to poll rarely, and moves up as the count does.
async fn buyers_beyond_the_places_left_are_told_so(b: Backend) {
    let t = TestApp::new(b).await;
    let (ev, org_t) = t.seated_event(json!({"seat_count": 3})).await;
    let settings = json!({"admission_rate_per_minute": 60, "max_admitted": 1});
    assert_eq!(
        t.call("PUT", &format!("/events/{ev}/queue"), Some(&org_t), Some(settings)).await.status,
        StatusCode::OK
    );
    let buyers = t.principals(5).await;
    let mut tokens = Vec::new();
    for p in &buyers {
        tokens.push(t.app.join_queue(p, Some(ev), "10.0.0.1").await.unwrap().queue_token);
    }
    let poll = |i: usize| poll_status(&t, &tokens[i]);
    // Nothing counted before the first tick: no claim.
    let last = poll(4).await;
    assert_eq!(
        (last.body["beyond_places_left"].as_bool(), last.body["places_left"].as_i64()),
        (Some(false), None)
    );
    t.clock.advance(1);
    assert_eq!(t.app.advance_queues().await.unwrap(), 1);
    // 3 places, buyer 1 admitted: buyers 2-4 have 0-2 waiting ahead, buyer 5 has 3.
    let fourth = poll(3).await;
    assert_eq!(
        (fourth.body["places_left"].as_i64(), fourth.body["beyond_places_left"].as_bool()),
        (Some(3), Some(false)),
        "{}",
        fourth.body
    );
    let last = poll(4).await;
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
    // Buyer 1 holds a seat: 2 left at the next count, and buyer 4 (2 ahead) is beyond too.
    let input = ReserveInput {
        event_id: Some(ev),
        seat_numbers: Some(vec![1]),
        queue_token: Some(tokens[0].clone()),
        ..Default::default()
    };
    t.app.reserve(&buyers[0], &input).await.unwrap();
    // The places are counted every two seconds: a tick a second after the count keeps it.
    t.clock.advance(1);
    t.app.advance_queues().await.unwrap();
    assert_eq!(poll(3).await.body["places_left"].as_i64(), Some(3));
    t.clock.advance(1);
    t.app.advance_queues().await.unwrap();
    let fourth = poll(3).await;
    assert_eq!(
        (fourth.body["places_left"].as_i64(), fourth.body["beyond_places_left"].as_bool()),
        (Some(2), Some(true))
    );
    // Admitted buyers are not told anything of the kind.
    let first = poll(0).await;
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
    let (ev, _) = queued_event(&t, json!({"admission_rate_per_minute": 60})).await;
    let buyers = t.principals(40).await;
    let mut tasks = Vec::new();
    for (i, p) in buyers.iter().enumerate() {
        for _ in 0..2 {
            let (app, p) = (t.app.clone(), p.clone());
            tasks.push(tokio::spawn(async move {
                let v = app.join_queue(&p, Some(ev), &format!("10.1.0.{i}")).await.unwrap();
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
        let stored = t.app.store.queue_entry_for(ev, p.user_id, t.app.now()).await.unwrap().unwrap();
        assert_eq!((stored.entry_id, stored.queue_position), (mine[0].1, mine[0].2));
        assert!(positions.insert(stored.queue_position), "position {} given twice", stored.queue_position);
    }
    assert_eq!(positions.len(), buyers.len());
    // Gaps only where a double click lost its race: never more positions than joins.
    assert!(*positions.last().unwrap() as usize <= 2 * buyers.len());
}

/// Far back in a slow line with a 30-second admission window, a buyer is told to poll every 15 s,
/// not every minute: admitted just after a poll, they still learn it with half the window left.
async fn polls_come_within_the_admission_window(b: Backend) {
    let t = TestApp::new(b).await;
    let settings = json!({"admission_rate_per_minute": 1, "max_admitted": 1, "admission_window_seconds": 30});
    let (ev, _) = queued_event(&t, settings).await;
    let buyers = t.principals(3).await;
    let mut tokens = Vec::new();
    for p in &buyers {
        tokens.push(t.app.join_queue(p, Some(ev), "10.0.0.1").await.unwrap().queue_token);
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
