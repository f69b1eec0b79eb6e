//! The pages end to end in a real headless Chromium, over real HTTP, with a real SMTP server:
//! a student signs up on a phone and applies through the student form; the organizer approves
//! and the ticket arrives by e-mail; the student buys two seats through the waiting room and
//! opens the tickets; door staff scan one online, refuse it a second time, scan the other with
//! the network cut and sync it when it is back; the dashboard's numbers equal the API's. Each
//! page is screenshotted (target/tmp/screenshots) and checked with axe-core.

use std::time::Duration;

use http::StatusCode;
use serde_json::{Value, json};

use tessera_app::AppConfig;
use tessera_app::mail::MailConfig;
use tessera_store::Backend;

use crate::browser::{Chromium, Page};
use crate::support::{SmtpServer, TestApp, decode_qr};

const PASSWORD: &str = "password123";

/// Registers an account over the API (staff are made so in the store); its e-mail and id.
async fn account(t: &TestApp, name: &str, role: &str) -> (String, String) {
    let email = format!("{}-{}@example.com", role, uuid::Uuid::new_v4().simple());
    let self_role = if role == "organizer" { "organizer" } else { "attendee" };
    let r = t
        .post(
            "/auth/register",
            None,
            json!({"name": name, "email": email, "password": PASSWORD, "role": self_role}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let id = r.body["user_id"].as_str().unwrap().to_string();
    if role == "staff" {
        let c = tessera_app::domain::records::UserChanges {
            role: Some("staff".parse().unwrap()),
            ..Default::default()
        };
        t.db.store.update_user(id.parse::<uuid::Uuid>().unwrap().into(), &c, t.app.now()).await.unwrap();
    }
    (email, id)
}

async fn login(t: &TestApp, email: &str) -> String {
    let r = t.post("/auth/login", None, json!({"email": email, "password": PASSWORD})).await;
    r.body["access_token"].as_str().unwrap().to_string()
}

/// Takes the page's screenshot and keeps its serious accessibility problems.
async fn look(b: &Chromium, page: &Page, name: &str, problems: &mut Vec<String>) {
    b.screenshot(page, name).await;
    for v in b.axe(page).await {
        problems.push(format!("{name}: {v}"));
    }
}

/// Fills a form's fields by name and submits it.
async fn submit(b: &Chromium, page: &Page, form: &str, fields: Value) {
    let js = format!(
        "(() => {{ const f = document.querySelector({form:?});
            for (const [k, v] of Object.entries({fields})) {{
              const el = f.querySelector(`[name=\"${{k}}\"]`); el.value = v;
            }}
            f.requestSubmit(); return true; }})()"
    );
    assert_eq!(b.eval(page, &js).await, json!(true));
}

async fn click(b: &Chromium, page: &Page, selector: &str) {
    let js = format!("(() => {{ document.querySelector({selector:?}).click(); return true; }})()");
    assert_eq!(b.eval(page, &js).await, json!(true), "{selector}");
}

async fn sign_in(b: &Chromium, page: &Page, base: &str, email: &str) {
    b.goto(page, &format!("{base}/signin")).await;
    submit(b, page, "main form", json!({"email": email, "password": PASSWORD})).await;
    b.wait_for(page, "location.pathname === '/' && document.readyState === 'complete'").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(all(tessera_chromium, tessera_smtp)),
    ignore = "install chromium and python3 to run the browser test of the pages"
)]
async fn apply_approve_buy_and_scan_in_a_real_browser() {
    let smtp = SmtpServer::start().await;
    let config = AppConfig {
        mail: MailConfig {
            from: "Tessera <tickets@example.com>".into(),
            smtp_url: Some(smtp.url()),
            ..Default::default()
        },
        ..Default::default()
    };
    let t = TestApp::with_config(Backend::Sqlite, config).await;
    // What `serve` runs in the background: the waiting room's admissions and the mail jobs.
    // The test's clock keeps step with the real one (admission is paced by it, and the browser
    // stamps offline scans with the real time).
    let (app, clock) = (t.app.clone(), t.clock.clone());
    let worker = tokio::spawn(async move {
        let (start, mut moved) = (std::time::Instant::now(), 0);
        loop {
            let due = i64::try_from(start.elapsed().as_secs()).unwrap();
            clock.advance(due - moved);
            moved = due;
            let _ = app.advance_queues().await;
            let _ = app.run_due_jobs(20).await;
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    });

    let (org_email, _) = account(&t, "Olga Organizer", "organizer").await;
    let org = login(&t, &org_email).await;
    let (staff_email, staff_id) = account(&t, "Sam Staff", "staff").await;
    // The festival: a student form.
    let fest = t
        .event(
            &org,
            json!({"name": "School Festival", "start_time": "2030-07-01T10:00:00Z", "category": "school"}),
        )
        .await;
    let r = t
        .post(
            &format!("/events/{fest}/ticket-types"),
            Some(&org),
            json!({"name": "Student", "price": "0", "quota": 50, "per_person_limit": 2, "requires_approval": true}),
        )
        .await;
    let student_type = r.body["ticket_type_id"].as_str().unwrap().to_string();
    let form = json!({"fields": [
        {"name": "student_name", "label": "Student name", "type": "text", "required": true},
        {"name": "grade", "label": "Grade", "type": "number", "required": true, "min": 1, "max": 6},
        {"name": "school", "label": "School", "type": "choice", "options": ["North High", "South High"]}
    ]});
    let r = t
        .call("PUT", &format!("/events/{fest}/ticket-types/{student_type}/form"), Some(&org), Some(form))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // The concert: 50 seats behind a waiting room, with Sam on the door.
    let concert = t
        .event(&org, json!({"name": "Concert", "start_time": "2030-08-01T18:00:00Z", "seating": "seated", "price": "50.00", "category": "music"}))
        .await;
    let r = t
        .call(
            "PUT",
            &format!("/events/{concert}/queue"),
            Some(&org),
            Some(json!({"enabled": true, "admission_rate_per_minute": 600})),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.body);
    let r = t.call("PUT", &format!("/events/{concert}/staff/{staff_id}"), Some(&org), None).await;
    assert!(r.status.is_success(), "{}", r.body);

    let addr = t.serve().await;
    let base = format!("http://{addr}");
    let b = Chromium::launch().await;
    let mut problems = Vec::new();

    // A student, on a phone: the catalogue, sign-up, the seed's student form.
    let st = b.person(&format!("{base}/")).await;
    b.viewport(&st, 390, 844, true).await;
    b.goto(&st, &format!("{base}/")).await;
    look(&b, &st, "home", &mut problems).await;
    b.goto(&st, &format!("{base}/e/{concert}")).await;
    look(&b, &st, "event", &mut problems).await;
    b.goto(&st, &format!("{base}/signup")).await;
    look(&b, &st, "signup", &mut problems).await;
    let student_email = format!("aiko-{}@example.com", uuid::Uuid::new_v4().simple());
    submit(&b, &st, "main form", json!({"name": "Aiko Sato", "email": student_email, "password": PASSWORD}))
        .await;
    b.wait_for(&st, "location.pathname === '/' && document.body.innerText.includes('Aiko Sato')").await;
    b.goto(&st, &format!("{base}/apply/student")).await;
    look(&b, &st, "apply-form", &mut problems).await;
    submit(&b, &st, "#apply-form", json!({"a.student_name": "Aiko Sato", "a.grade": "2", "a.school": "North High", "guest": "Aiko Sato"})).await;
    b.wait_for(&st, "document.getElementById('review') !== null").await;
    look(&b, &st, "apply-confirm", &mut problems).await;
    click(&b, &st, "button[value=submit]").await;
    b.wait_for(&st, "location.pathname.startsWith('/me/applications/')").await;
    look(&b, &st, "applied", &mut problems).await;

    // The organizer approves it on the dashboard; the ticket is e-mailed.
    let og = b.person(&format!("{base}/")).await;
    b.viewport(&og, 1280, 900, false).await;
    sign_in(&b, &og, &base, &org_email).await;
    b.goto(&og, &format!("{base}/admin/events/{fest}")).await;
    look(&b, &og, "event-admin", &mut problems).await;
    b.eval(&og, "document.querySelectorAll('input[name=id]').forEach(c => c.checked = true); true").await;
    click(&b, &og, "button[value=approve]").await;
    b.wait_for(&og, "document.body.innerText.includes('1 ✓ 0 ✗')").await;
    let mut mailed = None;
    for _ in 0..100 {
        mailed = smtp.messages().into_iter().find(|m| String::from_utf8_lossy(m).contains(&student_email));
        if mailed.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mail = mailed.expect("the student's ticket e-mail");
    let png = png_part(&mail);
    let emailed_code = decode_qr(&png);
    assert_eq!(emailed_code.len(), 196, "a ticket code: {emailed_code}");

    // The student buys two seats through the waiting room.
    b.goto(&st, &format!("{base}/e/{concert}/buy")).await;
    b.wait_for(
        &st,
        "!document.getElementById('pick').hidden && document.querySelectorAll('.seat.available').length > 10",
    )
    .await;
    look(&b, &st, "buy-seats", &mut problems).await;
    click(&b, &st, "button[data-seat='5']").await;
    click(&b, &st, "button[data-seat='6']").await;
    click(&b, &st, "#hold-selected").await;
    b.wait_for(
        &st,
        "!document.getElementById('pay').hidden && document.getElementById('balance').textContent !== '…'",
    )
    .await;
    look(&b, &st, "buy-pay", &mut problems).await;
    b.eval(&st, "document.getElementById('top-up').value = '200'; true").await;
    click(&b, &st, "#top-up-go").await;
    b.wait_for(&st, "document.getElementById('balance').textContent === '200.00'").await;
    click(&b, &st, "#pay-go").await;
    b.wait_for(&st, "!document.getElementById('done').hidden").await;
    look(&b, &st, "paid", &mut problems).await;
    b.goto(&st, &format!("{base}/me/tickets")).await;
    b.wait_for(&st, "[...document.querySelectorAll('img.qr')].every(i => i.complete && i.naturalWidth > 0)")
        .await;
    look(&b, &st, "my-tickets", &mut problems).await;
    let codes = b
        .eval(
            &st,
            "[...document.querySelectorAll('.ticket')].filter(c => c.innerText.includes('Concert'))
               .map(c => c.querySelector('.code').textContent)",
        )
        .await;
    let codes: Vec<String> = serde_json::from_value(codes).unwrap();
    assert_eq!(codes.len(), 2, "two seats");
    let festival_codes = b
        .eval(&st, "[...document.querySelectorAll('.ticket')].filter(c => c.innerText.includes('School Festival')).map(c => c.querySelector('.code').textContent)")
        .await;
    assert_eq!(festival_codes, json!([emailed_code]), "the e-mailed ticket is the one on the page");

    // The event chat: the organizer's open page hears the student's message without reloading.
    b.goto(&og, &format!("{base}/e/{concert}")).await;
    b.wait_for(&og, "!!document.getElementById('chat-poll') && !!window.htmx").await;
    b.goto(&st, &format!("{base}/e/{concert}")).await;
    submit(&b, &st, "#chat-form", json!({"body": "See you in the front row!"})).await;
    let arrived = "document.getElementById('chat-log').innerText.includes('See you in the front row!')";
    // Sent by htmx: the form comes back empty, the message arrives by the long poll.
    b.wait_for(&st, &format!("{arrived} && document.getElementById('chat-body').value === ''")).await;
    b.wait_for(&og, arrived).await;
    // In the reader's time zone, as the page's own times.
    b.wait_for(&og, "document.querySelector('#chat-log .msg:last-child time').dataset.local === '1'").await;
    look(&b, &st, "event-chat", &mut problems).await;

    // Door staff: one ticket online, the same again refused, the other with the network cut.
    let door = b.person(&format!("{base}/")).await;
    b.viewport(&door, 390, 844, true).await;
    sign_in(&b, &door, &base, &staff_email).await;
    b.goto(&door, &format!("{base}/door?event_id={concert}")).await;
    b.wait_for(&door, "document.getElementById('door').dataset.bundle === 'ready'").await;
    look(&b, &door, "door", &mut problems).await;
    let scan = |code: &str| {
        format!(
            "document.getElementById('code').value = {code:?}; document.getElementById('manual').requestSubmit(); true"
        )
    };
    b.eval(&door, &scan(&codes[0])).await;
    b.wait_for(&door, "document.getElementById('answer').className === 'answer ok'").await;
    look(&b, &door, "door-ok", &mut problems).await;
    assert!(
        b.eval(&door, "document.getElementById('answer').innerText").await.to_string().contains("Aiko Sato")
    );
    b.eval(&door, &scan(&codes[0])).await;
    b.wait_for(&door, "document.getElementById('answer').className === 'answer no'").await;
    look(&b, &door, "door-refused", &mut problems).await;
    b.offline(&door, true).await;
    b.eval(&door, "document.getElementById('answer').className = ''; true").await;
    b.eval(&door, &scan(&codes[1])).await;
    b.wait_for(&door, "document.getElementById('answer').className === 'answer ok' && document.getElementById('answer').innerText.includes('offline')").await;
    b.wait_for(&door, "document.getElementById('pending').textContent.endsWith(': 1')").await;
    look(&b, &door, "door-offline", &mut problems).await;
    b.offline(&door, false).await;
    click(&b, &door, "#sync").await;
    b.wait_for(&door, "document.getElementById('pending').textContent.endsWith(': 0')").await;
    let summary = t.get(&format!("/events/{concert}/checkin/summary"), Some(&org)).await;
    assert_eq!(summary.body["inside_now"], 2, "both entered: {}", summary.body);

    // The dashboard's numbers are the API's.
    b.goto(&og, &format!("{base}/admin/dashboard")).await;
    look(&b, &og, "dashboard", &mut problems).await;
    let api = t.get(&format!("/stats/events/{concert}"), Some(&org)).await.body;
    let cell = |f: &str| {
        format!("document.querySelector('tr[data-event-id=\"{concert}\"] [data-field={f}]').textContent")
    };
    assert_eq!(b.eval(&og, &cell("tickets_sold")).await, json!(api["tickets_sold"].to_string()));
    assert_eq!(
        b.eval(&og, &cell("revenue")).await,
        json!(format!("{} JPY", api["revenue"].as_str().unwrap()))
    );
    b.goto(&og, &format!("{base}/admin/analytics?event_id={concert}")).await;
    b.wait_for(&og, "document.querySelectorAll('canvas[data-drawn]').length >= 2").await;
    look(&b, &og, "analytics", &mut problems).await;
    assert_eq!(b.eval(&og, "document.getElementById('inside-now').textContent").await, json!("2"));
    b.goto(&og, &format!("{base}/?lang=ja")).await;
    look(&b, &og, "home-ja", &mut problems).await;

    worker.abort();
    assert!(problems.is_empty(), "axe-core found serious or critical problems:\n{}", problems.join("\n"));
}

/// The PNG part of a MIME message.
fn png_part(raw: &[u8]) -> Vec<u8> {
    fn walk(m: &mailparse::ParsedMail<'_>) -> Option<Vec<u8>> {
        if m.ctype.mimetype == "image/png" {
            return m.get_body_raw().ok();
        }
        m.subparts.iter().find_map(walk)
    }
    walk(&mailparse::parse_mail(raw).unwrap()).expect("a QR image in the e-mail")
}
