//! The wallet, payments with idempotency, buying in one call, refunds — and the concurrency
//! guarantees: no seat sold twice, no balance below zero, one charge per Idempotency-Key.

use std::collections::HashSet;
use tessera_domain::id::EventId;
use tessera_domain::records::TicketStatus;

use http::StatusCode;
use serde_json::json;
use tessera_app::booking::ReserveInput;
use tessera_store::Backend;
use uuid::Uuid;

use crate::both;
use crate::support::{SeatedEvent, TestApp, User};

both!(
    wallet_charges_and_ledger,
    a_payment_short_of_money_is_402_and_changes_nothing,
    payment_input_and_ownership_are_checked,
    a_payment_replays_under_its_idempotency_key,
    a_payment_sells_the_seats_and_moves_the_money_once,
    buying_short_of_money_gives_the_places_back,
    buying_in_one_call_replays_under_its_key,
    buy_now_input_is_checked,
    a_refund_gives_the_money_and_places_back,
    refund_rules,
    race_500_buyers_for_50_seats,
    race_200_best_available_for_50_seats,
    race_200_near_picks_for_50_seats,
    race_200_payments_on_one_wallet,
    race_20_retries_with_one_key,
    a_crowd_paying_at_once_is_answered_one_by_one,
    a_crowd_holding_at_once_keeps_each_limit,
    a_crowd_takes_lapsed_places_at_once,
    a_crowd_takes_a_ticket_types_places_at_once,
    expired_hold_is_refused_and_never_sold_twice,
    top_ups_honour_idempotency_keys,
);

async fn wallet_charges_and_ledger(b: Backend) {
    let t = TestApp::new(b).await;
    let User { id, token: a } = t.user("attendee").await;
    let r = t.get("/balance", Some(&a)).await;
    assert_eq!(r.body, json!({"user_id": id, "balance": "0.00"}));
    assert_eq!(t.post("/balance", Some(&a), json!({"amount": "100.50"})).await.body["balance"], "100.50");
    assert_eq!(t.post("/balance", Some(&a), json!({"amount": 20})).await.body["balance"], "120.50");
    for bad in [
        json!({}),
        json!({"amount": "0"}),
        json!({"amount": "-5"}),
        json!({"amount": "abc"}),
        json!({"amount": "1000000.01"}),
        json!({"amount": true}),
    ] {
        t.post("/balance", Some(&a), bad).await.assert_problem(400, Some("amount"));
    }
    let l = t.get("/balance/ledger?limit=1", Some(&a)).await;
    assert_eq!(l.body["items"][0]["amount"], "20.00");
    assert_eq!(l.body["items"][0]["kind"], "charge");
    let c = l.body["next_cursor"].as_str().unwrap();
    let l2 = t.get(&format!("/balance/ledger?limit=1&cursor={c}"), Some(&a)).await;
    assert_eq!(l2.body["items"][0]["balance_after"], "100.50");
    t.get("/balance/ledger?cursor=bad", Some(&a)).await.assert_problem(400, Some("cursor"));
    t.get("/balance", None).await.assert_problem(401, None);
    t.post("/balance", None, json!({"amount": "1"})).await.assert_problem(401, None);
    t.get("/balance/ledger", None).await.assert_problem(401, None);
    assert_eq!(t.db.store.ledger_sum(id.into()).await.unwrap(), 12_050);
}

/// A `POST /payments` of `body` by `token` with an Idempotency-Key.
fn pay_with_key(token: &str, key: &str, body: serde_json::Value) -> http::Request<axum::body::Body> {
    http::Request::post("/payments")
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {token}"))
        .header("idempotency-key", key)
        .body(axum::body::Body::from(body.to_string()))
        .unwrap()
}

/// Attendee `a` holds seats 1 and 2 (100.00) of a seated event, with nothing in the wallet.
struct Held {
    t: TestApp,
    event_id: EventId,
    a: User,
    reservation_id: String,
}

async fn held(b: Backend) -> Held {
    let t = TestApp::new(b).await;
    let ev = t.seated_event(json!({})).await.id;
    let a = t.user("attendee").await;
    let hold = t.post("/reservations", Some(&a.token), json!({"event_id": ev, "seat_numbers": [1, 2]})).await;
    let reservation_id = hold.body["reservation_id"].as_str().unwrap().to_string();
    Held { t, event_id: ev.into(), a, reservation_id }
}

/// Not enough money: 402 and nothing changes.
async fn a_payment_short_of_money_is_402_and_changes_nothing(b: Backend) {
    let Held { t, a, reservation_id: rid, .. } = held(b).await;
    t.post("/balance", Some(&a.token), json!({"amount": "99.99"})).await;
    let r = t.post("/payments", Some(&a.token), json!({"reservation_id": rid})).await;
    r.assert_problem(402, None);
    assert_eq!(t.get(&format!("/reservations/{rid}"), Some(&a.token)).await.body["status"], "pending");
    assert_eq!(t.get("/balance", Some(&a.token)).await.body["balance"], "99.99");
}

/// Someone else's hold, unknown holds, bad bodies.
async fn payment_input_and_ownership_are_checked(b: Backend) {
    let Held { t, a, reservation_id: rid, .. } = held(b).await;
    let (a, bob) = (a.token, t.user("attendee").await.token);
    t.post("/balance", Some(&a), json!({"amount": "100"})).await;
    t.post("/payments", Some(&bob), json!({"reservation_id": rid})).await.assert_problem(404, None);
    t.post("/payments", Some(&a), json!({"reservation_id": Uuid::now_v7()})).await.assert_problem(404, None);
    t.post("/payments", Some(&a), json!({})).await.assert_problem(400, Some("reservation_id"));
    t.post("/payments", Some(&a), json!({"reservation_id": rid, "method": "card"}))
        .await
        .assert_problem(400, Some("method"));
    t.post("/payments", None, json!({"reservation_id": rid})).await.assert_problem(401, None);
}

/// `held`, with the money in the wallet, paid with the key `k-1`.
struct Paid {
    held: Held,
    /// The payment's answer.
    first: crate::support::Res,
}

async fn paid(b: Backend) -> Paid {
    let held = held(b).await;
    held.t.post("/balance", Some(&held.a.token), json!({"amount": "100"})).await;
    let body = json!({"reservation_id": held.reservation_id});
    let first = held.t.send(pay_with_key(&held.a.token, "k-1", body)).await;
    Paid { held, first }
}

/// Pay with a key; the same key replays; another key finds it paid; a key is for one request.
async fn a_payment_replays_under_its_idempotency_key(b: Backend) {
    let Paid { held: Held { t, event_id: ev, a, reservation_id: rid }, first } = paid(b).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    assert_eq!(first.body["amount"], "100.00");
    assert_eq!(first.body["payment_status"], "success");
    assert_eq!(first.body["purchase"]["ticket_quantity"], 2);
    let seats: Vec<_> = first.body["tickets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["seat_number"].as_i64().unwrap())
        .collect();
    assert_eq!(seats, [1, 2]);
    let again = t.send(pay_with_key(&a.token, "k-1", json!({"reservation_id": rid}))).await;
    assert_eq!(again.status, StatusCode::CREATED);
    assert_eq!(again.headers["idempotent-replayed"], "true");
    assert_eq!(again.body, first.body);
    let other = t.send(pay_with_key(&a.token, "k-2", json!({"reservation_id": rid}))).await;
    other.assert_problem(409, None);
    assert_eq!(other.body["code"], "already_paid");
    let hold2 = t.post("/reservations", Some(&a.token), json!({"event_id": ev, "seat_numbers": [3]})).await;
    let reused =
        t.send(pay_with_key(&a.token, "k-1", json!({"reservation_id": hold2.body["reservation_id"]}))).await;
    reused.assert_problem(409, None);
    assert_eq!(reused.body["code"], "idempotency_key_reused");
    t.send(pay_with_key(&a.token, &"x".repeat(300), json!({"reservation_id": rid})))
        .await
        .assert_problem(400, Some("Idempotency-Key"));
}

/// Seats are sold, the money moved once, the ledger adds up.
async fn a_payment_sells_the_seats_and_moves_the_money_once(b: Backend) {
    let Paid { held: Held { t, event_id: ev, a, reservation_id: rid }, first } = paid(b).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    let again = t.send(pay_with_key(&a.token, "k-1", json!({"reservation_id": rid}))).await;
    assert_eq!(again.status, StatusCode::CREATED);
    let sold = t.get(&format!("/events/{ev}/seats?status=sold"), None).await;
    assert_eq!(sold.body["items"].as_array().unwrap().len(), 2);
    assert_eq!(t.get("/balance", Some(&a.token)).await.body["balance"], "0.00");
    assert_eq!(t.db.store.ledger_sum(a.id.into()).await.unwrap(), 0);
    let mine = t.get("/users/me/purchases", Some(&a.token)).await;
    assert_eq!(mine.body["items"][0]["total_price"], "100.00");
}

/// A general-admission event with a GA type (25, quota 10), and an attendee with an empty
/// wallet.
struct GaSale {
    t: TestApp,
    event_id: EventId,
    ticket_type_id: String,
    a: User,
}

async fn ga_sale(b: Backend) -> GaSale {
    let t = TestApp::new(b).await;
    let org_t = t.user("organizer").await.token;
    let ev = t.event(&org_t, json!({"name": "Fest", "start_time": "2030-05-01T18:00:00Z"})).await;
    let tt = t
        .post(
            &format!("/events/{ev}/ticket-types"),
            Some(&org_t),
            json!({"name": "GA", "price": "25", "quota": 10}),
        )
        .await;
    let ticket_type_id = tt.body["ticket_type_id"].as_str().unwrap().to_string();
    let a = t.user("attendee").await;
    GaSale { t, event_id: ev.into(), ticket_type_id, a }
}

impl GaSale {
    /// `a` buys `qty` places in one call, with an Idempotency-Key.
    async fn buy(&self, key: &str, qty: i64) -> crate::support::Res {
        let body = json!({"ticket_type_id": self.ticket_type_id, "ticket_quantity": qty});
        let req = http::Request::post(format!("/events/{}/purchases", self.event_id))
            .header("content-type", "application/json")
            .header("authorization", format!("Bearer {}", self.a.token))
            .header("idempotency-key", key)
            .body(axum::body::Body::from(body.to_string()))
            .unwrap();
        self.t.send(req).await
    }

    /// The GA type as listed.
    async fn ga(&self) -> serde_json::Value {
        self.t.get(&format!("/events/{}/ticket-types", self.event_id), None).await.body["items"][0].clone()
    }

    /// Tops up the wallet with 100 and buys two places (key `b-1`).
    async fn bought_two(&self) -> crate::support::Res {
        self.t.post("/balance", Some(&self.a.token), json!({"amount": "100"})).await;
        self.buy("b-1", 2).await
    }
}

/// 402 gives the hold back at once.
async fn buying_short_of_money_gives_the_places_back(b: Backend) {
    let sale = ga_sale(b).await;
    sale.buy("b-0", 2).await.assert_problem(402, None);
    assert_eq!(sale.ga().await["available"], 10);
}

async fn buying_in_one_call_replays_under_its_key(b: Backend) {
    let sale = ga_sale(b).await;
    let r = sale.bought_two().await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["tickets"].as_array().unwrap().len(), 2);
    assert!(r.body["tickets"][0]["seat_number"].is_null());
    let replay = sale.buy("b-1", 2).await;
    assert_eq!(replay.body["payment_id"], r.body["payment_id"]);
    sale.buy("b-1", 3).await.assert_problem(409, None);
    let ga = sale.ga().await;
    assert_eq!((ga["sold"].as_i64(), ga["available"].as_i64()), (Some(2), Some(8)));
    assert_eq!(sale.t.get("/balance", Some(&sale.a.token)).await.body["balance"], "50.00");
}

async fn buy_now_input_is_checked(b: Backend) {
    let GaSale { t, event_id: ev, ticket_type_id: tt, a } = ga_sale(b).await;
    let path = format!("/events/{ev}/purchases");
    t.post(&path, Some(&a.token), json!({"ticket_type_id": tt}))
        .await
        .assert_problem(400, Some("ticket_quantity"));
    t.post(&path, Some(&a.token), json!({"ticket_quantity": 1}))
        .await
        .assert_problem(400, Some("ticket_type_id"));
    t.post(&path, None, json!({"ticket_type_id": tt, "ticket_quantity": 1})).await.assert_problem(401, None);
}

/// Refund: money back, places back, tickets void; once.
async fn a_refund_gives_the_money_and_places_back(b: Backend) {
    let sale = ga_sale(b).await;
    let r = sale.bought_two().await;
    let (t, a) = (&sale.t, &sale.a);
    let pid = r.body["purchase"]["purchase_id"].as_str().unwrap();
    let rf = t.post(&format!("/purchases/{pid}/refund"), Some(&a.token), json!({})).await;
    assert_eq!(rf.status, StatusCode::OK, "{}", rf.body);
    assert_eq!(
        (rf.body["refunded_amount"].as_str(), rf.body["purchase"]["status"].as_str()),
        (Some("50.00"), Some("refunded"))
    );
    assert_eq!(t.get("/balance", Some(&a.token)).await.body["balance"], "100.00");
    assert_eq!(t.db.store.ledger_sum(a.id.into()).await.unwrap(), 10_000);
    assert_eq!(sale.ga().await["available"], 10);
    let tickets = t.db.store.tickets_for_purchase(pid.parse().unwrap()).await.unwrap();
    assert!(tickets.iter().all(|x| x.status == TicketStatus::Void));
    t.post(&format!("/purchases/{pid}/refund"), Some(&a.token), json!({})).await.assert_problem(409, None);
}

async fn refund_rules(b: Backend) {
    let t = TestApp::new(b).await;
    let SeatedEvent { id: ev, organizer_token: org_t } = t.seated_event(json!({})).await;
    let a = t.user("attendee").await.token;
    let bob = t.user("attendee").await.token;
    t.post("/balance", Some(&a), json!({"amount": "200"})).await;
    let mut pids = Vec::new();
    for seat in [1, 2] {
        let h = t.post("/reservations", Some(&a), json!({"event_id": ev, "seat_numbers": [seat]})).await;
        let p = t.post("/payments", Some(&a), json!({"reservation_id": h.body["reservation_id"]})).await;
        pids.push(p.body["purchase"]["purchase_id"].as_str().unwrap().to_string());
    }
    t.post(&format!("/purchases/{}/refund", pids[0]), Some(&bob), json!({})).await.assert_problem(404, None);
    t.post(&format!("/purchases/{}/refund", Uuid::now_v7()), Some(&a), json!({}))
        .await
        .assert_problem(404, None);
    t.post("/purchases/nope/refund", Some(&a), json!({})).await.assert_problem(404, None);
    t.post(&format!("/purchases/{}/refund", pids[0]), None, json!({})).await.assert_problem(401, None);
    // Within 24 hours of the start the buyer may no longer refund; the organizer still may.
    // (API keys, because access tokens expire when the clock jumps.)
    let a =
        t.post("/api-keys", Some(&a), json!({"name": "k"})).await.body["key"].as_str().unwrap().to_string();
    let org_t = t.post("/api-keys", Some(&org_t), json!({"name": "k"})).await.body["key"]
        .as_str()
        .unwrap()
        .to_string();
    let start =
        time::OffsetDateTime::parse("2030-05-01T18:00:00Z", &time::format_description::well_known::Rfc3339)
            .unwrap();
    let secs = (start - t.app.now()).whole_seconds() - 3600;
    t.clock.advance(secs);
    t.post(&format!("/purchases/{}/refund", pids[0]), Some(&a), json!({})).await.assert_problem(403, None);
    let r = t.post(&format!("/purchases/{}/refund", pids[0]), Some(&org_t), json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let seat = t.get(&format!("/events/{ev}/seats?status=available&limit=1"), None).await;
    assert_eq!(seat.body["items"][0]["seat_number"], 1, "the refunded seat is on sale again");
}

/// 500 buyers race for 50 seats, each picking from the seats it sees available until it holds
/// one or none are left: exactly 50 are sold, each once.
async fn race_500_buyers_for_50_seats(b: Backend) {
    let t = TestApp::new(b).await;
    let ev = t.seated_event(json!({})).await.id;
    let buyers = t.principals(500).await;
    for p in &buyers {
        t.app.charge(p, Some("50")).await.unwrap();
    }
    let mut tasks = Vec::new();
    for (i, who) in buyers.into_iter().enumerate() {
        let app = t.app.clone();
        tasks.push(tokio::spawn(async move {
            loop {
                let free = app.list_seats(ev.into(), Some("available"), Some(50), None).await.unwrap().items;
                if free.is_empty() {
                    return None;
                }
                let seat = i64::from(free[i % free.len()].seat_number);
                let input = ReserveInput {
                    event_id: Some(ev.into()),
                    seat_numbers: Some(vec![seat]),
                    ..Default::default()
                };
                match app.reserve(&who, &input).await {
                    Ok(h) => {
                        let r = app.pay(&who, Some(h.reservation.reservation_id), None, None).await.unwrap();
                        return Some(r.tickets[0].seat_number.unwrap());
                    }
                    Err(
                        tessera_app::AppError::Conflict { .. } | tessera_app::AppError::SeatsTaken { .. },
                    ) => continue,
                    Err(e) => panic!("{e:?}"),
                }
            }
        }));
    }
    let mut sold = Vec::new();
    for task in tasks {
        if let Some(seat) = task.await.unwrap() {
            sold.push(seat);
        }
    }
    let unique: HashSet<_> = sold.iter().collect();
    assert_eq!(unique.len(), sold.len(), "a seat was sold twice");
    assert_eq!(sold.len(), 50);
    assert_eq!(t.db.store.seat_counts(ev.into(), t.app.now()).await.unwrap(), (0, 0, 50));
    let audit = t.db.store.sale_audit(ev.into()).await.unwrap();
    assert_eq!(
        (audit.seats_sold, audit.tickets_valid, audit.ticketed_seats, audit.payments_success),
        (50, 50, 50, 50)
    );
    assert_eq!(audit.oversold(), 0);
}

/// 200 buyers ask for the best available seat at once: exactly 50 holds succeed, on distinct
/// seats, and the rest are told the event is sold out.
async fn race_200_best_available_for_50_seats(b: Backend) {
    race_200_server_picks_for_50_seats(b, |_| None).await;
}

/// 200 buyers ask for the free seat nearest a seat of their own choosing, four of them for each
/// seat: exactly 50 holds succeed, on distinct seats, and the rest are told it is sold out.
async fn race_200_near_picks_for_50_seats(b: Backend) {
    race_200_server_picks_for_50_seats(b, |i| Some(i as i64 % 50 + 1)).await;
}

/// 200 buyers each ask the server for one seat of 50 (buyer `i` near `near(i)`, if any).
async fn race_200_server_picks_for_50_seats(b: Backend, near: fn(usize) -> Option<i64>) {
    let t = TestApp::new(b).await;
    let ev = t.seated_event(json!({})).await.id;
    let buyers = t.principals(200).await;
    let mut tasks = Vec::new();
    for (i, who) in buyers.into_iter().enumerate() {
        let app = t.app.clone();
        tasks.push(tokio::spawn(async move {
            let input = ReserveInput {
                event_id: Some(ev.into()),
                quantity: Some(1),
                near_seat: near(i),
                ..Default::default()
            };
            match app.reserve(&who, &input).await {
                Ok(h) => Some(h.seat_numbers),
                Err(tessera_app::AppError::Conflict { code: "sold_out", .. }) => None,
                Err(e) => panic!("{e:?}"),
            }
        }));
    }
    let mut held = Vec::new();
    for task in tasks {
        if let Some(seats) = task.await.unwrap() {
            assert_eq!(seats.len(), 1);
            held.push(seats[0]);
        }
    }
    let unique: HashSet<_> = held.iter().collect();
    assert_eq!((held.len(), unique.len()), (50, 50), "each seat held once");
    assert_eq!(t.db.store.seat_counts(ev.into(), t.app.now()).await.unwrap(), (0, 50, 0));
    assert_grouped(t.db.store.hold_grouping(), "holds");
}

/// On PostgreSQL a crowd's requests ran in groups, and no group failed whole (which would have
/// run its members one by one, hiding a broken group call). `None` on SQLite.
fn assert_grouped(grouping: Option<(usize, u64)>, what: &str) {
    if let Some((largest, split)) = grouping {
        assert!(largest > 1, "the largest group of {what} was {largest}");
        assert_eq!(split, 0, "groups of {what} failed whole");
    }
}

/// 40 buyers pay at once, with keys, a third of them twice at the same moment (a double
/// click), and a quarter of them short of money. Each is answered as if alone: the others pay
/// once (the double click replays the same payment), the short are refused with nothing
/// written, so their key is free for the retry once they have topped up; the seats and the
/// money add up.
async fn a_crowd_paying_at_once_is_answered_one_by_one(b: Backend) {
    let t = TestApp::new(b).await;
    let ev = t.seated_event(json!({})).await.id;
    let buyers = t.principals(40).await;
    let short = |i: usize| i.is_multiple_of(4);
    let mut holds = Vec::new();
    for (i, p) in buyers.iter().enumerate() {
        t.app.charge(p, Some(if short(i) { "10" } else { "50" })).await.unwrap();
        let input = ReserveInput { event_id: Some(ev.into()), quantity: Some(1), ..Default::default() };
        holds.push(t.app.reserve(p, &input).await.unwrap().reservation.reservation_id);
    }
    let mut tasks = Vec::new();
    for (i, p) in buyers.iter().enumerate() {
        for _ in 0..if i.is_multiple_of(3) { 2 } else { 1 } {
            let (app, p, rid) = (t.app.clone(), p.clone(), holds[i]);
            tasks.push(tokio::spawn(async move {
                (i, app.pay(&p, Some(rid), None, Some(&format!("crowd-{i}"))).await)
            }));
        }
    }
    let mut paid: Vec<HashSet<Uuid>> = vec![HashSet::new(); buyers.len()];
    let mut fresh = vec![0; buyers.len()];
    for task in tasks {
        match task.await.unwrap() {
            (i, Ok(r)) => {
                assert!(!short(i), "buyer {i} paid short of money");
                paid[i].insert(r.payment.payment_id.into());
                fresh[i] += usize::from(r.created);
            }
            (i, Err(tessera_app::AppError::PaymentRequired(_))) => assert!(short(i), "buyer {i} was refused"),
            (i, Err(e)) => panic!("buyer {i}: {e:?}"),
        }
    }
    for (i, p) in buyers.iter().enumerate() {
        let balance = t.db.store.balance(p.user_id).await.unwrap().unwrap();
        assert_eq!(t.db.store.ledger_sum(p.user_id).await.unwrap(), balance, "buyer {i}'s ledger");
        if short(i) {
            assert_eq!(balance, 1_000, "buyer {i} was charged");
        } else {
            assert_eq!((paid[i].len(), fresh[i], balance), (1, 1, 0), "buyer {i} paid once");
        }
    }
    let sold = buyers.len() - buyers.len().div_ceil(4);
    assert_eq!(t.db.store.seat_counts(ev.into(), t.app.now()).await.unwrap().2, sold as i64);
    let audit = t.db.store.sale_audit(ev.into()).await.unwrap();
    assert_eq!((audit.seats_sold, audit.payments_success), (sold as i64, sold as i64));
    assert_eq!(audit.oversold(), 0);
    assert_grouped(t.db.store.pay_grouping(), "payments");
    // A refusal kept nothing of the key: with the money topped up, the same key pays.
    t.app.charge(&buyers[0], Some("100")).await.unwrap();
    let r = t.app.pay(&buyers[0], Some(holds[0]), None, Some("crowd-0")).await.unwrap();
    assert!(r.created);
}

/// 20 buyers each ask for three places at once (of 50) where two is the most a person may hold: each
/// gets exactly two, the third is refused over the limit, whichever groups their holds ran in.
async fn a_crowd_holding_at_once_keeps_each_limit(b: Backend) {
    let t = TestApp::new(b).await;
    let ev = t.seated_event(json!({"max_per_person": 2})).await.id;
    let buyers = t.principals(20).await;
    let mut tasks = Vec::new();
    for (i, p) in buyers.iter().enumerate() {
        for k in 0..3 {
            let (app, p) = (t.app.clone(), p.clone());
            let input = ReserveInput {
                event_id: Some(ev.into()),
                quantity: Some(1),
                near_seat: (k == 0).then_some(i as i64 + 1),
                ..Default::default()
            };
            tasks.push(tokio::spawn(async move { (i, app.reserve(&p, &input).await) }));
        }
    }
    let mut held = vec![0; buyers.len()];
    let mut seats = HashSet::new();
    for task in tasks {
        match task.await.unwrap() {
            (i, Ok(h)) => {
                held[i] += 1;
                assert!(seats.insert(h.seat_numbers[0]), "seat {} held twice", h.seat_numbers[0]);
            }
            (_, Err(tessera_app::AppError::Invalid(e))) => assert!(format!("{e:?}").contains("limit of 2")),
            (i, Err(e)) => panic!("buyer {i}: {e:?}"),
        }
    }
    assert!(held.iter().all(|&n| n == 2), "{held:?}");
    assert_eq!(t.db.store.seat_counts(ev.into(), t.app.now()).await.unwrap().1, 40);
    assert_grouped(t.db.store.hold_grouping(), "holds");
}

/// Fifty seats held by others whose holds have lapsed; 30 buyers then ask for two seats each
/// at once, a third of them near a seat: 25 get two of the lapsed seats (no seat twice), 5 are
/// refused sold out, whichever groups their holds ran in.
async fn a_crowd_takes_lapsed_places_at_once(b: Backend) {
    let t = TestApp::new(b).await;
    let ev = t.seated_event(json!({"seat_count": 50, "hold_seconds": 60})).await.id;
    let early = t.principals(25).await;
    for p in &early {
        let input = ReserveInput { event_id: Some(ev.into()), quantity: Some(2), ..Default::default() };
        t.app.reserve(p, &input).await.unwrap();
    }
    assert_eq!(t.db.store.seat_counts(ev.into(), t.app.now()).await.unwrap().0, 0, "all held");
    t.clock.advance(61);
    let buyers = t.principals(30).await;
    let mut tasks = Vec::new();
    for (i, p) in buyers.iter().enumerate() {
        let (app, p) = (t.app.clone(), p.clone());
        let input = ReserveInput {
            event_id: Some(ev.into()),
            quantity: Some(2),
            near_seat: i.is_multiple_of(3).then_some(i as i64 + 1),
            ..Default::default()
        };
        tasks.push(tokio::spawn(async move { app.reserve(&p, &input).await }));
    }
    let (mut seats, mut refused) = (HashSet::new(), 0);
    for task in tasks {
        match task.await.unwrap() {
            Ok(h) => {
                assert_eq!(h.seat_numbers.len(), 2);
                for s in h.seat_numbers {
                    assert!(seats.insert(s), "seat {s} held twice");
                }
            }
            Err(tessera_app::AppError::Conflict { code: "sold_out", .. }) => refused += 1,
            Err(e) => panic!("{e:?}"),
        }
    }
    assert_eq!((seats.len(), refused), (50, 5));
    assert_grouped(t.db.store.hold_grouping(), "holds");
}

/// A ticket type of 30 places: 20 buyers ask for two at once, then (once those holds have
/// lapsed) 20 others do: each time 15 get two and 5 are refused sold out.
async fn a_crowd_takes_a_ticket_types_places_at_once(b: Backend) {
    let t = TestApp::new(b).await;
    let org = t.user("organizer").await.token;
    let ev = t
        .event(&org, json!({"name": "Fest", "start_time": "2030-05-01T18:00:00Z", "hold_seconds": 60}))
        .await;
    let tt = t
        .post(
            &format!("/events/{ev}/ticket-types"),
            Some(&org),
            json!({"name": "GA", "price": "20", "quota": 30}),
        )
        .await;
    let tt: Uuid = tt.body["ticket_type_id"].as_str().unwrap().parse().unwrap();
    for round in 0..2 {
        let buyers = t.principals(20).await;
        let mut tasks = Vec::new();
        for p in &buyers {
            let (app, p) = (t.app.clone(), p.clone());
            let input = ReserveInput {
                event_id: Some(ev.into()),
                ticket_type_id: Some(tt.into()),
                quantity: Some(2),
                ..Default::default()
            };
            tasks.push(tokio::spawn(async move { app.reserve(&p, &input).await }));
        }
        let (mut held, mut refused) = (0, 0);
        for task in tasks {
            match task.await.unwrap() {
                Ok(h) => held += h.reservation.quantity,
                Err(tessera_app::AppError::Conflict { code: "sold_out", .. }) => refused += 1,
                Err(e) => panic!("round {round}: {e:?}"),
            }
        }
        assert_eq!((held, refused), (30, 5), "round {round}");
        t.clock.advance(61);
    }
    assert_grouped(t.db.store.hold_grouping(), "holds");
}

/// 200 payments race on one wallet that covers 50: exactly 50 succeed, the balance never goes
/// below zero and the ledger sums to it.
async fn race_200_payments_on_one_wallet(b: Backend) {
    let t = TestApp::new(b).await;
    let org_t = t.user("organizer").await.token;
    let who = t.principals(1).await.remove(0);
    let mut holds = Vec::new();
    for e in 0..4 {
        let ev = t
            .event(
                &org_t,
                json!({"name": format!("E{e}"), "start_time": "2030-05-01T18:00:00Z", "max_per_person": 100}),
            )
            .await;
        let tt = t
            .post(
                &format!("/events/{ev}/ticket-types"),
                Some(&org_t),
                json!({"name": "GA", "price": "10", "quota": 50, "per_person_limit": 100}),
            )
            .await;
        let tt = Uuid::parse_str(tt.body["ticket_type_id"].as_str().unwrap()).unwrap();
        for _ in 0..50 {
            let input = ReserveInput {
                event_id: Some(ev.into()),
                ticket_type_id: Some(tt.into()),
                quantity: Some(1),
                ..Default::default()
            };
            holds.push(t.app.reserve(&who, &input).await.unwrap().reservation.reservation_id);
        }
    }
    t.app.charge(&who, Some("500")).await.unwrap();
    let mut tasks = Vec::new();
    for rid in holds {
        let app = t.app.clone();
        let who = who.clone();
        tasks.push(tokio::spawn(async move { app.pay(&who, Some(rid), None, None).await }));
    }
    let (mut ok, mut poor) = (0, 0);
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => ok += 1,
            Err(tessera_app::AppError::PaymentRequired(_)) => poor += 1,
            Err(e) => panic!("{e:?}"),
        }
    }
    assert_eq!((ok, poor), (50, 150));
    let balance = t.db.store.balance(who.user_id).await.unwrap().unwrap();
    assert_eq!(balance, 0);
    assert_eq!(t.db.store.ledger_sum(who.user_id).await.unwrap(), balance);
}

/// One payment retried 20 times at once with the same Idempotency-Key charges once.
async fn race_20_retries_with_one_key(b: Backend) {
    let t = TestApp::new(b).await;
    let ev = t.seated_event(json!({})).await.id;
    let who = t.principals(1).await.remove(0);
    t.app.charge(&who, Some("500")).await.unwrap();
    let input =
        ReserveInput { event_id: Some(ev.into()), seat_numbers: Some(vec![9, 10]), ..Default::default() };
    let rid = t.app.reserve(&who, &input).await.unwrap().reservation.reservation_id;
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let app = t.app.clone();
        let who = who.clone();
        tasks.push(tokio::spawn(
            async move { app.pay(&who, Some(rid), None, Some("retry-key")).await.unwrap() },
        ));
    }
    let mut ids = HashSet::new();
    let mut fresh = 0;
    for task in tasks {
        let r = task.await.unwrap();
        ids.insert(r.payment.payment_id);
        if r.created {
            fresh += 1;
        }
    }
    assert_eq!((ids.len(), fresh), (1, 1));
    assert_eq!(t.db.store.balance(who.user_id).await.unwrap(), Some(40_000));
    assert_eq!(t.db.store.ledger_sum(who.user_id).await.unwrap(), 40_000);
}

/// A hold that expires before payment is refused (410); the seat, sold to someone else, is
/// never sold twice.
async fn expired_hold_is_refused_and_never_sold_twice(b: Backend) {
    let t = TestApp::new(b).await;
    let ev = t.seated_event(json!({"hold_seconds": 60})).await.id;
    let ps = t.principals(2).await;
    for p in &ps {
        t.app.charge(p, Some("100")).await.unwrap();
    }
    let input = ReserveInput { event_id: Some(ev.into()), seat_numbers: Some(vec![1]), ..Default::default() };
    let first = t.app.reserve(&ps[0], &input).await.unwrap().reservation.reservation_id;
    t.clock.advance(61);
    let second = t.app.reserve(&ps[1], &input).await.unwrap().reservation.reservation_id;
    t.app.pay(&ps[1], Some(second), None, None).await.unwrap();
    let late = t.app.pay(&ps[0], Some(first), None, None).await;
    assert!(matches!(late, Err(tessera_app::AppError::Gone(_))), "{late:?}");
    assert_eq!(t.db.store.balance(ps[0].user_id).await.unwrap(), Some(10_000), "nothing charged");
    let (_, _, sold) = t.db.store.seat_counts(ev.into(), t.app.now()).await.unwrap();
    assert_eq!(sold, 1);
}

/// (#21) A top-up retried with its Idempotency-Key is applied once, even when the retries race.
async fn top_ups_honour_idempotency_keys(b: Backend) {
    let t = TestApp::new(b).await;
    let User { id, token: a } = t.user("attendee").await;
    let top_up = |key: &'static str, amount: &'static str| {
        let (t, a) = (&t, a.clone());
        async move {
            let req = http::Request::post("/balance")
                .header("authorization", format!("Bearer {a}"))
                .header("content-type", "application/json")
                .header("idempotency-key", key)
                .body(axum::body::Body::from(json!({"amount": amount}).to_string()))
                .unwrap();
            t.send(req).await
        }
    };
    let first = top_up("k-1", "10").await;
    assert_eq!((first.status, first.body["balance"].as_str()), (StatusCode::OK, Some("10.00")));
    assert!(first.headers.get("idempotent-replayed").is_none());
    let again = top_up("k-1", "10").await;
    assert_eq!((again.status, again.body["balance"].as_str()), (StatusCode::OK, Some("10.00")));
    assert_eq!(again.headers["idempotent-replayed"], "true");
    top_up("k-1", "11").await.assert_problem(409, None);
    // Racing retries of one top-up: one applies.
    let racing: Vec<_> = (0..20).map(|_| top_up("k-2", "5")).collect();
    for r in futures::future::join_all(racing).await {
        assert_eq!((r.status, r.body["balance"].as_str()), (StatusCode::OK, Some("15.00")), "{}", r.body);
    }
    assert_eq!(t.db.store.balance(id.into()).await.unwrap(), Some(1500));
    assert_eq!(t.db.store.ledger_sum(id.into()).await.unwrap(), 1500);
    // A key is the caller's own, and a payment's key is not a top-up's.
    let other = t.user("attendee").await.token;
    let r = t
        .send(
            http::Request::post("/balance")
                .header("authorization", format!("Bearer {other}"))
                .header("content-type", "application/json")
                .header("idempotency-key", "k-1")
                .body(axum::body::Body::from(json!({"amount": "1"}).to_string()))
                .unwrap(),
        )
        .await;
    assert_eq!(r.body["balance"], "1.00");
    top_up("", "1").await.assert_problem(400, Some("Idempotency-Key"));
}
