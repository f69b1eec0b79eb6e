//! Cancelling an event: its pending holds end and can no longer be paid, every purchase is
//! refunded to its buyer's wallet once (a resumable job), its tickets are void, even when
//! payments race the cancellation.

use http::StatusCode;
use serde_json::json;
use tessera_domain::id::EventId;
use tessera_domain::records::JobStatus;
use tessera_domain::records::RefundOutcome;
use tessera_domain::records::ReservationStatus;
use uuid::Uuid;

use tessera_app::Principal;
use tessera_app::booking::ReserveInput;
use tessera_app::domain::Role;
use tessera_store::Backend;

use crate::both;
use crate::support::{SeatedEvent, TestApp, User};

both!(
    a_cancelled_events_holds_cannot_be_paid,
    only_the_organizer_may_cancel,
    cancelling_refunds_every_purchase_once,
    each_refunded_buyer_is_told_once,
    payments_racing_a_cancellation
);

/// An attendee with money in their wallet.
struct Buyer {
    principal: Principal,
    token: String,
}

async fn attendee(t: &TestApp, money: &str) -> Buyer {
    let User { id, token } = t.user("attendee").await;
    let p = Principal { user_id: id.into(), role: Role::Attendee };
    t.app.charge(&p, Some(money)).await.unwrap();
    Buyer { principal: p, token }
}

async fn hold(t: &TestApp, p: &Principal, ev: Uuid, seat: i64) -> Uuid {
    let input =
        ReserveInput { event_id: Some(ev.into()), seat_numbers: Some(vec![seat]), ..Default::default() };
    t.app.reserve(p, &input).await.unwrap().reservation.reservation_id.into()
}

/// Regression (#21): reserve → the organizer cancels → the payment gave 201 and valid tickets.
async fn a_cancelled_events_holds_cannot_be_paid(b: Backend) {
    let t = TestApp::new(b).await;
    let SeatedEvent { id: ev, organizer_token: org_t } = t.seated_event(json!({})).await;
    let Buyer { principal: p, token } = attendee(&t, "100").await;
    let rid = hold(&t, &p, ev, 3).await;
    assert_eq!(t.call("DELETE", &format!("/events/{ev}"), Some(&org_t), None).await.status, StatusCode::OK);
    // The hold ended with the event, its seat went back.
    assert_eq!(t.get(&format!("/reservations/{rid}"), Some(&token)).await.body["status"], "cancelled");
    let seats = t.get(&format!("/events/{ev}/seats?status=held"), None).await;
    assert!(seats.body["items"].as_array().unwrap().is_empty(), "{}", seats.body);
    let r = t.post("/payments", Some(&token), json!({"reservation_id": rid})).await;
    r.assert_problem(409, None);
    assert_eq!(r.body["code"], "event_cancelled");
    assert_eq!(t.app.balance(&p).await.unwrap(), 10_000, "nothing was charged");
    assert!(t.get("/users/me/tickets", Some(&token)).await.body["items"].as_array().unwrap().is_empty());
    // A hold that slipped in after the cancellation (its read of the event came first) is refused
    // by the payment's own conditional statement.
    let late = t.db.store.reservation(rid.into(), t.app.now()).await.unwrap().unwrap();
    assert_eq!(late.status, ReservationStatus::Cancelled);
}

/// A seated event with three seats sold to three buyers; the first buyer's purchase was refunded
/// (by the organizer), then the event was cancelled twice and the refund jobs have run.
struct Cancelled {
    t: TestApp,
    event_id: EventId,
    buyers: Vec<Buyer>,
    /// The first buyer's purchase, refunded before the cancellation.
    refunded_first: Uuid,
}

async fn cancelled(b: Backend) -> Cancelled {
    let t = TestApp::new(b).await;
    let SeatedEvent { id: ev, organizer_token: org_t } = t.seated_event(json!({})).await;
    let mut buyers = Vec::new();
    for seat in 1..=3 {
        let buyer = attendee(&t, "100").await;
        let rid = hold(&t, &buyer.principal, ev, seat).await;
        t.app.pay(&buyer.principal, Some(rid.into()), None, None).await.unwrap();
        buyers.push(buyer);
    }
    // A refund made before the cancellation stays as it was (refunded once).
    let first = t.get("/users/me/purchases", Some(&buyers[0].token)).await.body["items"][0]["purchase_id"]
        .as_str()
        .unwrap()
        .parse::<Uuid>()
        .unwrap();
    assert_eq!(
        t.post(&format!("/purchases/{first}/refund"), Some(&org_t), json!({})).await.status,
        StatusCode::OK
    );
    assert_eq!(t.call("DELETE", &format!("/events/{ev}"), Some(&org_t), None).await.status, StatusCode::OK);
    // Cancelling again changes nothing and enqueues no second refund.
    assert_eq!(t.call("DELETE", &format!("/events/{ev}"), Some(&org_t), None).await.status, StatusCode::OK);
    // The tickets are void at once; the refunds come from the job.
    t.app.run_due_jobs(100).await.unwrap();
    Cancelled { t, event_id: ev.into(), buyers, refunded_first: first }
}

async fn only_the_organizer_may_cancel(b: Backend) {
    let t = TestApp::new(b).await;
    let ev = t.seated_event(json!({})).await.id;
    let other_org = t.user("organizer").await.token;
    t.call("DELETE", &format!("/events/{ev}"), Some(&other_org), None).await.assert_problem(403, None);
    t.call("DELETE", &format!("/events/{ev}"), None, None).await.assert_problem(401, None);
}

async fn cancelling_refunds_every_purchase_once(b: Backend) {
    let Cancelled { t, event_id: ev, buyers, refunded_first } = cancelled(b).await;
    for Buyer { principal: p, token } in &buyers {
        assert_eq!(t.app.balance(p).await.unwrap(), 10_000, "refunded in full");
        assert_eq!(t.db.store.ledger_sum(p.user_id).await.unwrap(), 10_000, "the ledger agrees");
        let ledger = t.get("/balance/ledger", Some(token)).await;
        let kinds: Vec<_> =
            ledger.body["items"].as_array().unwrap().iter().map(|e| e["kind"].clone()).collect();
        assert_eq!(kinds, [json!("refund"), json!("payment"), json!("charge")], "one refund each");
        let purchases = t.get("/users/me/purchases", Some(token)).await;
        assert_eq!(purchases.body["items"][0]["status"], "refunded", "{}", purchases.body);
        let tickets = t.get("/users/me/tickets", Some(token)).await;
        assert_eq!(tickets.body["items"][0]["status"], "void");
    }
    // Running it again (a restarted job) pays no one twice.
    assert!(t.db.store.completed_purchases_of_event(ev, Uuid::nil().into(), 100).await.unwrap().is_empty());
    let again =
        t.db.store
            .refund_for_cancellation(
                refunded_first.into(),
                i64::MAX,
                tessera_domain::id::JobId::new(),
                t.app.now(),
            )
            .await
            .unwrap();
    assert_eq!(again, RefundOutcome::AlreadyRefunded);
}

async fn each_refunded_buyer_is_told_once(b: Backend) {
    let Cancelled { t, .. } = cancelled(b).await;
    let mails = t.db.store.jobs_of_kind("cancellation_mail").await.unwrap();
    assert_eq!(mails.len(), 2, "the two purchases the cancellation refunded");
    assert!(mails.iter().all(|j| j.status == JobStatus::Done), "{mails:?}");
    let sent: Vec<String> = std::fs::read_dir(t.outbox.path())
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .filter(|m| m.contains("Subject: Cancelled: Concert"))
        .collect();
    assert_eq!(sent.len(), 2, "one e-mail per refunded purchase");
    assert!(sent.iter().all(|m| m.contains("50.00") && m.contains("refunded")), "{sent:?}");
}

/// Payments racing the cancellation: whichever commits first, no purchase of the cancelled
/// event is left unrefunded, no balance disagrees with its ledger, no ticket stays valid.
async fn payments_racing_a_cancellation(b: Backend) {
    let t = TestApp::new(b).await;
    let ev = t.seated_event(json!({"seat_count": 40})).await.id;
    let mut holds = Vec::new();
    for (n, p) in t.principals(30).await.into_iter().enumerate() {
        t.app.charge(&p, Some("100")).await.unwrap();
        holds.push((p.clone(), hold(&t, &p, ev, n as i64 + 1).await));
    }
    let organizer = t.app.get_event(ev.into()).await.unwrap().organizer_id.unwrap();
    let org = Principal { user_id: organizer, role: Role::Organizer };
    let mut tasks = Vec::new();
    for (p, rid) in holds.clone() {
        let app = t.app.clone();
        tasks.push(tokio::spawn(async move { app.pay(&p, Some(rid.into()), None, None).await.is_ok() }));
    }
    let app = t.app.clone();
    let cancel = tokio::spawn(async move { app.cancel_event(&org, ev.into()).await.map(|_| ()) });
    let mut paid = 0;
    for task in tasks {
        paid += usize::from(task.await.unwrap());
    }
    cancel.await.unwrap().unwrap();
    t.app.run_due_jobs(1000).await.unwrap();
    assert!(
        t.db.store.completed_purchases_of_event(ev.into(), Uuid::nil().into(), 100).await.unwrap().is_empty()
    );
    for (p, _) in &holds {
        assert_eq!(t.app.balance(p).await.unwrap(), 10_000, "{paid} paid before the cancellation");
        assert_eq!(t.db.store.ledger_sum(p.user_id).await.unwrap(), 10_000);
    }
    assert_eq!(t.db.store.sale_audit(ev.into()).await.unwrap().tickets_valid, 0);
}
