//! Ticket e-mail through a real SMTP server on loopback: the QR in the message opens the door;
//! jobs never send twice, retry with backoff, and bulk sends report progress.

use http::StatusCode;
use serde_json::json;
use tessera_domain::id::{EventId, TicketId};
use uuid::Uuid;

use tessera_app::booking::ReserveInput;
use tessera_app::domain::Role;
use tessera_app::mail::MailConfig;
use tessera_app::{AppConfig, Principal};
use tessera_store::Backend;

use crate::support::{SeatedEvent, SmtpServer, TestApp, User, decode_qr};

/// Like `both!`, and ignored without python3 (the SMTP server is Python's aiosmtpd).
macro_rules! both_smtp {
    ($($name:ident),* $(,)?) => { $(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            #[cfg_attr(not(tessera_smtp), ignore = "needs python3 for the aiosmtpd test server")]
            async fn sqlite() { super::$name(tessera_store::Backend::Sqlite).await }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            #[cfg_attr(not(all(tessera_pg, tessera_smtp)), ignore = "set TESSERA_TEST_DATABASE_URL (and have python3) to run on PostgreSQL")]
            async fn postgres() { super::$name(tessera_store::Backend::Postgres).await }
        }
    )* };
}

both_smtp!(
    the_ticket_email_carries_a_qr_the_door_accepts,
    a_resend_is_a_job_the_holder_can_follow,
    failed_sends_retry_with_backoff
);
crate::both!(
    only_the_holder_may_resend_or_follow_the_job,
    jobs_outlive_a_restart_and_a_dead_workers_lease,
    a_bulk_send_skips_tickets_already_sent,
    a_bulk_send_to_all_reports_progress,
    bulk_send_input_and_authorization
);

fn smtp_app_config(url: String) -> AppConfig {
    AppConfig {
        mail: MailConfig {
            from: "Tessera <tickets@example.com>".into(),
            smtp_url: Some(url),
            outbox_dir: "unused".into(),
            ses: None,
        },
        ..Default::default()
    }
}

/// A seated event (at the Budokan) and the ticket of one buyer.
struct Sold {
    event_id: EventId,
    organizer_token: String,
    buyer: Principal,
    buyer_token: String,
    ticket_id: TicketId,
}

async fn sold(t: &TestApp, seat: i64) -> Sold {
    let SeatedEvent { id: event_id, organizer_token } = t.seated_event(json!({"location": "Budokan"})).await;
    let Purchase { buyer, buyer_token, ticket_id } = buy(t, event_id, seat).await;
    Sold { event_id: event_id.into(), organizer_token, buyer, buyer_token, ticket_id }
}

/// One seat bought by a fresh attendee.
struct Purchase {
    buyer: Principal,
    buyer_token: String,
    ticket_id: TicketId,
}

async fn buy(t: &TestApp, ev: Uuid, seat: i64) -> Purchase {
    let User { id, token } = t.user("attendee").await;
    let p = Principal { user_id: id.into(), role: Role::Attendee };
    t.app.charge(&p, Some("100")).await.unwrap();
    let input =
        ReserveInput { event_id: Some(ev.into()), seat_numbers: Some(vec![seat]), ..Default::default() };
    let h = t.app.reserve(&p, &input).await.unwrap();
    let r = t.app.pay(&p, Some(h.reservation.reservation_id), None, None).await.unwrap();
    Purchase { buyer: p, buyer_token: token, ticket_id: r.tickets[0].ticket_id }
}

/// The decoded parts of a MIME message: (content type, body bytes).
fn parts(raw: &[u8]) -> Vec<(String, Vec<u8>)> {
    fn walk(m: &mailparse::ParsedMail<'_>, out: &mut Vec<(String, Vec<u8>)>) {
        if m.subparts.is_empty() {
            out.push((m.ctype.mimetype.clone(), m.get_body_raw().unwrap()));
        }
        for s in &m.subparts {
            walk(s, out);
        }
    }
    let mut out = Vec::new();
    walk(&mailparse::parse_mail(raw).unwrap(), &mut out);
    out
}

async fn the_ticket_email_carries_a_qr_the_door_accepts(b: Backend) {
    let smtp = SmtpServer::start().await;
    let t = TestApp::with_config(b, smtp_app_config(smtp.url())).await;
    let Sold { event_id: ev, organizer_token: org_t, buyer: p, buyer_token: token, ticket_id } =
        sold(&t, 12).await;
    // The payment queued the e-mail; the worker sends it once.
    assert_eq!(t.app.run_due_jobs(10).await.unwrap(), 1);
    assert_eq!(t.app.run_due_jobs(10).await.unwrap(), 0, "nothing left to send");
    let messages = smtp.messages();
    assert_eq!(messages.len(), 1);
    let parsed = mailparse::parse_mail(&messages[0]).unwrap();
    let header =
        |h: &str| parsed.headers.iter().find(|x| x.get_key().eq_ignore_ascii_case(h)).unwrap().get_value();
    let holder = t.db.store.user_by_id(p.user_id).await.unwrap().unwrap();
    assert!(header("To").contains(&holder.email), "{}", header("To"));
    assert!(header("Subject").contains("Concert"));
    let parts = parts(&messages[0]);
    let html = parts.iter().find(|(ct, _)| ct == "text/html").unwrap();
    assert!(String::from_utf8_lossy(&html.1).contains("cid:qr0"));
    let pdf = parts.iter().find(|(ct, _)| ct == "application/pdf").unwrap();
    assert!(pdf.1.starts_with(b"%PDF"));
    let png = parts.iter().find(|(ct, _)| ct == "image/png").unwrap();
    // The QR in the e-mail decodes to a code the door accepts.
    let code = decode_qr(&png.1);
    let shown = t.get(&format!("/tickets/{ticket_id}"), Some(&token)).await;
    assert_eq!(shown.body["code"].as_str(), Some(code.as_str()));
    let r = t.post("/checkin", Some(&org_t), json!({"code": code, "direction": "entry"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["event_id"], json!(ev));
}

/// Resend: a job the holder can follow; it sends one more message.
async fn a_resend_is_a_job_the_holder_can_follow(b: Backend) {
    let smtp = SmtpServer::start().await;
    let t = TestApp::with_config(b, smtp_app_config(smtp.url())).await;
    let Sold { buyer_token: token, ticket_id, .. } = sold(&t, 12).await;
    assert_eq!(t.app.run_due_jobs(10).await.unwrap(), 1, "the payment's e-mail");
    let rs = t.post(&format!("/tickets/{ticket_id}/resend"), Some(&token), json!({})).await;
    assert_eq!(rs.status, StatusCode::ACCEPTED, "{}", rs.body);
    let job = rs.body["href"].as_str().unwrap().to_string();
    assert_eq!(t.get(&job, Some(&token)).await.body["status"], "queued");
    assert_eq!(t.app.run_due_jobs(10).await.unwrap(), 1);
    let done = t.get(&job, Some(&token)).await;
    assert_eq!(
        (done.body["status"].as_str(), done.body["kind"].as_str()),
        (Some("done"), Some("ticket_mail"))
    );
    assert_eq!(smtp.messages().len(), 2);
}

/// Who may not: another attendee (404 for the ticket and for the job), nobody signed in.
async fn only_the_holder_may_resend_or_follow_the_job(b: Backend) {
    let t = TestApp::new(b).await;
    let Sold { buyer_token: token, ticket_id, .. } = sold(&t, 12).await;
    let rs = t.post(&format!("/tickets/{ticket_id}/resend"), Some(&token), json!({})).await;
    assert_eq!(rs.status, StatusCode::ACCEPTED, "{}", rs.body);
    let job = rs.body["href"].as_str().unwrap().to_string();
    let other = t.user("attendee").await.token;
    t.post(&format!("/tickets/{ticket_id}/resend"), Some(&other), json!({})).await.assert_problem(404, None);
    t.get(&job, Some(&other)).await.assert_problem(404, None);
    t.post(&format!("/tickets/{ticket_id}/resend"), None, json!({})).await.assert_problem(401, None);
    t.get(&job, None).await.assert_problem(401, None);
    t.get(&format!("/jobs/{}", Uuid::now_v7()), Some(&token)).await.assert_problem(404, None);
    t.get("/jobs/nope", Some(&token)).await.assert_problem(404, None);
    t.post(&format!("/tickets/{}/resend", Uuid::now_v7()), Some(&token), json!({}))
        .await
        .assert_problem(404, None);
}

async fn failed_sends_retry_with_backoff(b: Backend) {
    // An SMTP server that is not there: the job fails, is retried later with growing delays,
    // and fails for good after its last attempt. Then a server appears and a resend works.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let t = TestApp::with_config(b, smtp_app_config(format!("smtp://127.0.0.1:{closed}"))).await;
    let Sold { buyer_token: token, ticket_id, .. } = sold(&t, 3).await;
    // The payment's e-mail fails on its first attempt and is queued again.
    assert_eq!(t.app.run_due_jobs(10).await.unwrap(), 1);
    assert_eq!(t.app.run_due_jobs(10).await.unwrap(), 0, "not due again yet");
    // Follow a resend of the same ticket through its retries.
    let rs = t.post(&format!("/tickets/{ticket_id}/resend"), Some(&token), json!({})).await;
    let job_id = rs.body["job_id"].as_str().unwrap().to_string();
    let User { id: admin_id, token: admin } = t.user("admin").await;
    assert_eq!(t.app.run_due_jobs(10).await.unwrap(), 1);
    let job = t.get(&format!("/jobs/{job_id}"), Some(&admin)).await;
    assert_eq!(
        (job.body["status"].as_str(), job.body["attempts"].as_i64()),
        (Some("queued"), Some(1)),
        "{}",
        job.body
    );
    let next = time::OffsetDateTime::parse(
        job.body["run_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    assert_eq!((next - t.app.now()).whole_seconds(), 10, "first retry after 10 s");
    let mut attempts = 0;
    for _ in 0..20 {
        t.clock.advance(3600);
        t.app.run_due_jobs(10).await.unwrap();
        let admin = t.app.access_token(admin_id.into(), Role::Admin).unwrap();
        let j = t.get(&format!("/jobs/{job_id}"), Some(&admin)).await;
        attempts = j.body["attempts"].as_i64().unwrap();
        if j.body["status"] == "failed" {
            assert!(j.body["last_error"].as_str().unwrap().contains("SMTP"), "{}", j.body);
            break;
        }
    }
    assert_eq!(attempts, 8, "eight attempts, then it gives up");
}

/// An app whose e-mail goes to a directory, and a seated event with three seats sold (their
/// e-mails queued, not yet sent).
struct ThreeSold {
    t: TestApp,
    outbox: tempfile::TempDir,
    event_id: EventId,
    organizer_token: String,
}

impl ThreeSold {
    async fn new(b: Backend) -> ThreeSold {
        let outbox = tempfile::tempdir().unwrap();
        let t = TestApp::with_config(b, outbox_config(&outbox)).await;
        let SeatedEvent { id: event_id, organizer_token } = t.seated_event(json!({})).await;
        for seat in 1..=3 {
            buy(&t, event_id, seat).await;
        }
        ThreeSold { t, outbox, event_id: event_id.into(), organizer_token }
    }

    /// How many e-mails have been written.
    fn emails(&self) -> usize {
        std::fs::read_dir(self.outbox.path()).map(|d| d.count()).unwrap_or(0)
    }

    fn send_path(&self) -> String {
        format!("/events/{}/tickets/send", self.event_id)
    }
}

fn outbox_config(outbox: &tempfile::TempDir) -> AppConfig {
    AppConfig {
        mail: MailConfig { outbox_dir: outbox.path().to_path_buf(), ..MailConfig::default() },
        ..Default::default()
    }
}

/// Jobs live in the database: a server that starts afresh (a new App on the same database)
/// finds and runs them; a job whose worker died (its lease lapsed) is taken up again.
async fn jobs_outlive_a_restart_and_a_dead_workers_lease(b: Backend) {
    let fx = ThreeSold::new(b).await;
    let t = &fx.t;
    let restarted =
        tessera_app::App::new(t.db.store.clone(), outbox_config(&fx.outbox), t.clock.clone()).await.unwrap();
    let now = t.app.now();
    let claimed = t.db.store.claim_job(now, now + time::Duration::seconds(60)).await.unwrap().unwrap();
    assert_eq!(claimed.kind, "ticket_mail");
    // (That worker dies here.) Before its lease lapses nobody else takes the job.
    assert_eq!(restarted.run_due_jobs(1).await.unwrap(), 1, "one of the other two");
    t.clock.advance(61);
    assert_eq!(restarted.run_due_jobs(10).await.unwrap(), 2, "the third, and the dead worker's");
    assert_eq!(fx.emails(), 3);
}

/// A send of those not yet sent, once everyone has had theirs: nothing more goes out (an empty
/// body means the same).
async fn a_bulk_send_skips_tickets_already_sent(b: Backend) {
    let fx = ThreeSold::new(b).await;
    let (t, org_t, send) = (&fx.t, &fx.organizer_token, fx.send_path());
    assert_eq!(t.app.run_due_jobs(10).await.unwrap(), 3);
    assert_eq!(fx.emails(), 3);
    let r = t.post(&send, Some(org_t), json!({})).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    let job = r.body["href"].as_str().unwrap().to_string();
    assert_eq!(t.app.run_due_jobs(10).await.unwrap(), 1);
    assert_eq!(fx.emails(), 3);
    let j = t.get(&job, Some(org_t)).await;
    assert_eq!(
        (j.body["status"].as_str(), j.body["kind"].as_str()),
        (Some("done"), Some("bulk_ticket_send"))
    );
    let req = http::Request::post(&send)
        .header("authorization", format!("Bearer {org_t}"))
        .body(axum::body::Body::empty())
        .unwrap();
    assert_eq!(t.send(req).await.status, StatusCode::ACCEPTED);
    t.app.run_due_jobs(10).await.unwrap();
    assert_eq!(fx.emails(), 3);
}

/// Everyone again, with the flag: three more, progress 3 of 3.
async fn a_bulk_send_to_all_reports_progress(b: Backend) {
    let fx = ThreeSold::new(b).await;
    let (t, org_t) = (&fx.t, &fx.organizer_token);
    assert_eq!(t.app.run_due_jobs(10).await.unwrap(), 3);
    let r = t.post(&fx.send_path(), Some(org_t), json!({"all": true})).await;
    let job = r.body["href"].as_str().unwrap().to_string();
    assert_eq!(t.app.run_due_jobs(10).await.unwrap(), 1);
    assert_eq!(fx.emails(), 6);
    let j = t.get(&job, Some(org_t)).await;
    assert_eq!((j.body["progress_done"].as_i64(), j.body["progress_total"].as_i64()), (Some(3), Some(3)));
}

async fn bulk_send_input_and_authorization(b: Backend) {
    let fx = ThreeSold::new(b).await;
    let (t, org_t, send) = (&fx.t, &fx.organizer_token, fx.send_path());
    let job = t.post(&send, Some(org_t), json!({})).await.body["href"].as_str().unwrap().to_string();
    t.post(&send, Some(org_t), json!({"all": "yes"})).await.assert_problem(400, Some("all"));
    let other_org = t.user("organizer").await.token;
    let attendee = t.user("attendee").await.token;
    t.post(&send, Some(&other_org), json!({})).await.assert_problem(403, None);
    t.post(&send, Some(&attendee), json!({})).await.assert_problem(403, None);
    t.post(&send, None, json!({})).await.assert_problem(401, None);
    t.get(&job, Some(&other_org)).await.assert_problem(404, None);
    t.post(&format!("/events/{}/tickets/send", Uuid::now_v7()), Some(org_t), json!({}))
        .await
        .assert_problem(404, None);
}
