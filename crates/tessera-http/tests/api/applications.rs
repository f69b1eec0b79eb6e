//! Applications (seed 003's student and teacher forms): forms, applying for named guests,
//! approval issuing tickets and e-mail, rejection with a reason, and who may do what.

use http::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use tessera_app::mail::MailConfig;
use tessera_app::{AppConfig, Principal};
use tessera_store::Backend;

use crate::both;
use crate::support::TestApp;

both!(
    the_form_is_checked_and_the_organizers_to_set,
    answers_and_guest_names_are_checked,
    one_live_application_per_person,
    a_type_sold_by_approval_cannot_be_reserved,
    the_organizer_lists_applications_oldest_first,
    approval_issues_tickets_in_the_guests_names,
    approving_many_reports_each_result,
    a_rejection_needs_a_reason_and_is_emailed,
    an_application_is_seen_by_its_applicant_and_organizer,
    the_export_names_the_guests,
    racing_approvals_issue_once
);

struct Setup {
    t: TestApp,
    outbox: tempfile::TempDir,
    ev: Uuid,
    org: String,
    student: Uuid,
    general: Uuid,
}

async fn setup(b: Backend) -> Setup {
    let outbox = tempfile::tempdir().unwrap();
    let config = AppConfig {
        mail: MailConfig { outbox_dir: outbox.path().to_path_buf(), ..MailConfig::default() },
        ..Default::default()
    };
    let t = TestApp::with_config(b, config).await;
    let org = t.user("organizer").await.token;
    let ev =
        t.event(&org, json!({"name": "School Music Festival", "start_time": "2030-07-01T10:00:00Z"})).await;
    let tt = |body: Value| {
        let (t, org) = (&t, org.clone());
        async move {
            let r = t.post(&format!("/events/{ev}/ticket-types"), Some(&org), body).await;
            assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
            r.body["ticket_type_id"].as_str().unwrap().parse::<Uuid>().unwrap()
        }
    };
    let student = tt(json!({"name": "Student", "price": "0", "quota": 5, "per_person_limit": 2, "requires_approval": true})).await;
    let general = tt(json!({"name": "General", "price": "20", "quota": 50})).await;
    Setup { t, outbox, ev, org, student, general }
}

fn student_form() -> Value {
    json!({"fields": [
        {"name": "student_name", "label": "Student name", "type": "text", "required": true},
        {"name": "email", "type": "email", "required": true},
        {"name": "grade", "type": "number", "required": true, "min": 1, "max": 6},
        {"name": "school", "type": "choice", "required": false, "options": ["North High", "South High"]}
    ]})
}

fn application(tt: Uuid, guests: &[&str]) -> Value {
    json!({"ticket_type_id": tt, "guest_names": guests,
           "answers": {"student_name": "Aiko", "email": "aiko@example.com", "grade": 2, "school": "North High"}})
}

/// The `PUT`/`GET` path of the student type's form.
fn form_path(s: &Setup) -> String {
    format!("/events/{}/ticket-types/{}/form", s.ev, s.student)
}

/// The form: checked, the organizer's to set, anyone's to read.
async fn the_form_is_checked_and_the_organizers_to_set(b: Backend) {
    let s = setup(b).await;
    let (t, org, form) = (&s.t, Some(s.org.as_str()), form_path(&s));
    t.call("PUT", &form, org, Some(json!({"fields": [{"name": "Bad Name", "type": "text"}]})))
        .await
        .assert_problem(400, Some("fields[0].name"));
    t.call("PUT", &form, org, Some(json!({"fields": [{"name": "x", "type": "colour"}]})))
        .await
        .assert_problem(400, None);
    t.call("PUT", &format!("/events/{}/ticket-types/{}/form", s.ev, s.general), org, Some(student_form()))
        .await
        .assert_problem(400, Some("ticket_type_id"));
    let other_org = t.user("organizer").await.token;
    t.call("PUT", &form, Some(&other_org), Some(student_form())).await.assert_problem(403, None);
    t.call("PUT", &form, None, Some(student_form())).await.assert_problem(401, None);
    let set = t.call("PUT", &form, org, Some(student_form())).await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.body);
    let read = t.get(&form, None).await;
    assert_eq!(read.body["fields"].as_array().unwrap().len(), 4);
    assert_eq!(read.body["fields"][2]["max"], 6.0);
    t.get(&format!("/events/{}/ticket-types/{}/form", s.ev, Uuid::now_v7()), None)
        .await
        .assert_problem(404, None);
}

/// The setup with the student form in place, and an attendee who has not applied.
struct WithForm {
    s: Setup,
    attendee: String,
}

async fn with_form(b: Backend) -> WithForm {
    let s = setup(b).await;
    let set = s.t.call("PUT", &form_path(&s), Some(&s.org), Some(student_form())).await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.body);
    let attendee = s.t.user("attendee").await.token;
    WithForm { s, attendee }
}

/// Answers and guest names are checked against the form and the type.
async fn answers_and_guest_names_are_checked(b: Backend) {
    let WithForm { s: Setup { t, ev, student, general, .. }, attendee: a } = with_form(b).await;
    let apps = format!("/events/{ev}/applications");
    let mut bad = application(student, &["Aiko"]);
    bad["answers"]["grade"] = json!(9);
    bad["answers"]["email"] = json!("nope");
    let r = t.post(&apps, Some(&a), bad).await;
    r.assert_problem(400, Some("answers.grade"));
    assert!(r.error_fields().contains(&"answers.email".to_string()));
    let mut missing = application(student, &["Aiko"]);
    missing["answers"].as_object_mut().unwrap().remove("student_name");
    t.post(&apps, Some(&a), missing).await.assert_problem(400, Some("answers.student_name"));
    let mut wrong_type = application(student, &["Aiko"]);
    wrong_type["answers"]["grade"] = json!(true);
    t.post(&apps, Some(&a), wrong_type).await.assert_problem(400, None);
    for (body, field) in [
        (application(student, &["A", "B", "C"]), "guest_names"),
        (application(student, &["Aiko", "AIKO"]), "guest_names"),
        (application(general, &["Aiko"]), "ticket_type_id"),
        (application(Uuid::now_v7(), &["Aiko"]), "ticket_type_id"),
    ] {
        t.post(&apps, Some(&a), body).await.assert_problem(400, Some(field));
    }
    t.post(&apps, None, application(student, &["Aiko"])).await.assert_problem(401, None);
    t.post(&format!("/events/{}/applications", Uuid::now_v7()), Some(&a), application(student, &["Aiko"]))
        .await
        .assert_problem(404, None);
}

/// One pending application at a time; the per-person limit counts what was applied for, so
/// someone holding 1 of 2 may apply for 1 more, and no further.
async fn one_live_application_per_person(b: Backend) {
    let WithForm { s: Setup { t, ev, student, org, .. }, attendee: a } = with_form(b).await;
    let apps = format!("/events/{ev}/applications");
    let first = t.post(&apps, Some(&a), application(student, &["Aiko"])).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    assert_eq!(
        (first.body["status"].as_str(), first.body["guest_names"].clone()),
        (Some("pending"), json!(["Aiko"]))
    );
    let again = t.post(&apps, Some(&a), application(student, &["Ben"])).await;
    again.assert_problem(409, None);
    assert_eq!(again.body["code"], "already_applied");
    let id = first.body["application_id"].as_str().unwrap();
    let r = t.post(&format!("/applications/{id}/approve"), Some(&org), json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // Holding 1 of 2: two more are too many, one more is fine.
    let two = t.post(&apps, Some(&a), application(student, &["Ben", "Cara"])).await;
    two.assert_problem(409, None);
    assert_eq!(two.body["code"], "per_person_limit");
    assert!(two.body["detail"].as_str().unwrap().contains("applied for 1"), "{}", two.body);
    let one = t.post(&apps, Some(&a), application(student, &["Ben"])).await;
    assert_eq!(one.status, StatusCode::CREATED, "{}", one.body);
    let id = one.body["application_id"].as_str().unwrap();
    t.post(&format!("/applications/{id}/approve"), Some(&org), json!({})).await;
    let more = t.post(&apps, Some(&a), application(student, &["Cara"])).await;
    assert_eq!(more.body["code"], "per_person_limit");
}

/// A type sold by approval cannot be reserved around the form.
async fn a_type_sold_by_approval_cannot_be_reserved(b: Backend) {
    let WithForm { s: Setup { t, ev, student, .. }, attendee: a } = with_form(b).await;
    t.post("/reservations", Some(&a), json!({"event_id": ev, "ticket_type_id": student, "quantity": 1}))
        .await
        .assert_problem(403, None);
}

/// One applicant: their token and application.
struct Applicant {
    token: String,
    application_id: String,
}

/// Four applicants for the student type (quota 5): `a` for two guests (Aiko and Ben), then the
/// others for 2 + 1 + 1.
struct Applied {
    s: Setup,
    a: Applicant,
    others: Vec<Applicant>,
}

async fn applied(b: Backend) -> Applied {
    let WithForm { s, attendee: a } = with_form(b).await;
    let apps = format!("/events/{}/applications", s.ev);
    let first = s.t.post(&apps, Some(&a), application(s.student, &["Aiko", "Ben"])).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    let a = Applicant { token: a, application_id: first.body["application_id"].as_str().unwrap().into() };
    let mut others = Vec::new();
    for guests in [&["Chika", "Dai"][..], &["Emi"][..], &["Fumi"][..]] {
        let token = s.t.user("attendee").await.token;
        let r = s.t.post(&apps, Some(&token), application(s.student, guests)).await;
        assert_eq!(r.status, StatusCode::CREATED);
        others.push(Applicant { token, application_id: r.body["application_id"].as_str().unwrap().into() });
    }
    Applied { s, a, others }
}

/// The organizer's list.
async fn the_organizer_lists_applications_oldest_first(b: Backend) {
    let Applied { s, a, .. } = applied(b).await;
    let (t, org, apps) = (&s.t, Some(s.org.as_str()), format!("/events/{}/applications", s.ev));
    let list = t.get(&format!("{apps}?status=pending"), org).await;
    assert_eq!(list.body["items"].as_array().unwrap().len(), 4);
    assert_eq!(list.body["items"][0]["application_id"], json!(a.application_id), "oldest first");
    let page = t.get(&format!("{apps}?limit=3"), org).await;
    assert!(page.body["next_cursor"].is_string());
    t.get(&format!("{apps}?status=maybe"), org).await.assert_problem(400, Some("status"));
    let other_org = t.user("organizer").await.token;
    t.get(&apps, Some(&other_org)).await.assert_problem(403, None);
    t.get(&apps, Some(&a.token)).await.assert_problem(403, None);
}

/// Approve: two tickets in the guests' names, e-mailed; the organizer's alone to give, once.
async fn approval_issues_tickets_in_the_guests_names(b: Backend) {
    let Applied { s, a, .. } = applied(b).await;
    let (t, org) = (&s.t, Some(s.org.as_str()));
    let approve = format!("/applications/{}/approve", a.application_id);
    let other_org = t.user("organizer").await.token;
    t.post(&approve, Some(&other_org), json!({})).await.assert_problem(403, None);
    t.post(&approve, Some(&a.token), json!({})).await.assert_problem(403, None);
    let ok = t.post(&approve, org, json!({})).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    assert_eq!(ok.body["status"], "approved");
    assert!(ok.body["purchase_id"].is_string());
    let mine = t.get("/users/me/tickets", Some(&a.token)).await;
    let mut names: Vec<String> = mine.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["guest_name"].as_str().unwrap().to_string())
        .collect();
    names.sort();
    assert_eq!(names, ["Aiko", "Ben"]);
    t.post(&approve, org, json!({})).await.assert_problem(409, None);
}

/// `applied`, with `a`'s application approved and then the others approved in one batch with
/// a stranger id.
struct Approved {
    applied: Applied,
    /// The answer to the batch.
    batch: crate::support::Res,
}

async fn approved(b: Backend) -> Approved {
    let fx = applied(b).await;
    let (t, org) = (&fx.s.t, Some(fx.s.org.as_str()));
    let ok = t.post(&format!("/applications/{}/approve", fx.a.application_id), org, json!({})).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    let ids: Vec<&str> = fx.others.iter().map(|o| o.application_id.as_str()).collect();
    let body = json!({"application_ids": [ids[0], ids[1], ids[2], Uuid::now_v7()]});
    let batch = t.post(&format!("/events/{}/applications/approve", fx.s.ev), org, body).await;
    Approved { applied: fx, batch }
}

/// Approve many: two fit; the last one does not (the quota is spent), and a stranger id is
/// reported, not fatal.
async fn approving_many_reports_each_result(b: Backend) {
    let Approved { applied: Applied { s, .. }, batch } = approved(b).await;
    assert_eq!(batch.status, StatusCode::OK, "{}", batch.body);
    let results: Vec<&str> =
        batch.body["results"].as_array().unwrap().iter().map(|r| r["result"].as_str().unwrap()).collect();
    assert_eq!(results, ["approved", "approved", "sold_out", "not_found"]);
    assert_eq!(batch.body["approved"], 2);
    let apps = format!("/events/{}/applications", s.ev);
    s.t.post(&format!("{apps}/approve"), Some(&s.org), json!({"application_ids": []}))
        .await
        .assert_problem(400, Some("application_ids"));
    let other_org = s.t.user("organizer").await.token;
    s.t.post(&format!("{apps}/approve"), Some(&other_org), json!({"application_ids": [Uuid::now_v7()]}))
        .await
        .assert_problem(403, None);
}

/// Reject the last with a reason, which is e-mailed (after the three approvals' tickets).
async fn a_rejection_needs_a_reason_and_is_emailed(b: Backend) {
    let Approved { applied: Applied { s, others, .. }, .. } = approved(b).await;
    let (t, org) = (&s.t, Some(s.org.as_str()));
    let reject = format!("/applications/{}/reject", others[2].application_id);
    t.post(&reject, org, json!({})).await.assert_problem(400, Some("reason"));
    let rej = t.post(&reject, org, json!({"reason": "The student quota is full"})).await;
    assert_eq!((rej.status, rej.body["status"].as_str()), (StatusCode::OK, Some("rejected")), "{}", rej.body);
    t.post(&reject, org, json!({"reason": "again"})).await.assert_problem(409, None);
    t.app.run_due_jobs(20).await.unwrap();
    let mails: Vec<String> = std::fs::read_dir(s.outbox.path())
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect();
    assert_eq!(mails.len(), 4, "three approvals' tickets and one rejection");
    assert!(mails.iter().any(|m| m.contains("was not approved") && m.contains("The student quota is full")));
}

/// Seeing an application: its applicant and the organizer; no one else. Unknown ids are 404.
async fn an_application_is_seen_by_its_applicant_and_organizer(b: Backend) {
    let Applied { s, a, others } = applied(b).await;
    let (t, org) = (&s.t, Some(s.org.as_str()));
    let last = &others[2];
    let reject = format!("/applications/{}/reject", last.application_id);
    let rej = t.post(&reject, org, json!({"reason": "The student quota is full"})).await;
    assert_eq!(rej.status, StatusCode::OK, "{}", rej.body);
    let path = format!("/applications/{}", last.application_id);
    assert_eq!(t.get(&path, Some(&last.token)).await.body["reason"], "The student quota is full");
    assert_eq!(t.get(&path, org).await.status, StatusCode::OK);
    t.get(&path, Some(&a.token)).await.assert_problem(404, None);
    t.get(&path, None).await.assert_problem(401, None);
    t.post(&reject, None, json!({"reason": "x"})).await.assert_problem(401, None);
    t.get(&format!("/applications/{}", Uuid::now_v7()), org).await.assert_problem(404, None);
    let unknown = Uuid::now_v7();
    t.post(&format!("/applications/{unknown}/approve"), org, json!({})).await.assert_problem(404, None);
    t.post(&format!("/applications/{unknown}/reject"), org, json!({"reason": "x"}))
        .await
        .assert_problem(404, None);
    t.get(&format!("/events/{unknown}/applications"), org).await.assert_problem(404, None);
    t.post(&format!("/events/{unknown}/applications/approve"), org, json!({"application_ids": [unknown]}))
        .await
        .assert_problem(404, None);
}

/// The export names the guests of every approved application.
async fn the_export_names_the_guests(b: Backend) {
    let Approved { applied: Applied { s, .. }, batch } = approved(b).await;
    assert_eq!(batch.body["approved"], 2, "{}", batch.body);
    let export = s.t.get(&format!("/events/{}/export?format=json", s.ev), Some(&s.org)).await;
    let guests: Vec<&str> =
        export.body["items"].as_array().unwrap().iter().filter_map(|i| i["guest_name"].as_str()).collect();
    assert_eq!(guests.len(), 5);
}

async fn racing_approvals_issue_once(b: Backend) {
    let Setup { t, ev, student, .. } = setup(b).await;
    let a = t.user("attendee").await.token;
    // No form defined: no questions to answer.
    let body = json!({"ticket_type_id": student, "guest_names": ["Aiko", "Ben"]});
    let r = t.post(&format!("/events/{ev}/applications"), Some(&a), body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let id: Uuid = r.body["application_id"].as_str().unwrap().parse().unwrap();
    let org_id = t.app.get_event(ev.into()).await.unwrap().organizer_id.unwrap();
    let who = Principal { user_id: org_id, role: tessera_app::domain::Role::Organizer };
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let (app, who) = (t.app.clone(), who.clone());
            tokio::spawn(async move { app.approve_application(&who, id.into()).await.is_ok() })
        })
        .collect();
    let mut ok = 0;
    for task in tasks {
        ok += usize::from(task.await.unwrap());
    }
    assert_eq!(ok, 1);
    let tickets = t.get("/users/me/tickets", Some(&a)).await;
    assert_eq!(tickets.body["items"].as_array().unwrap().len(), 2, "two tickets, not twenty");
    // Once the event is cancelled, pending applications can no longer be approved.
    let b2 = t.user("attendee").await.token;
    let body = json!({"ticket_type_id": student, "guest_names": ["Chika"]});
    let r = t.post(&format!("/events/{ev}/applications"), Some(&b2), body).await;
    let pending: Uuid = r.body["application_id"].as_str().unwrap().parse().unwrap();
    t.app.cancel_event(&who, ev.into()).await.unwrap();
    match t.app.approve_application(&who, pending.into()).await {
        Err(tessera_app::AppError::Conflict { code, .. }) => assert_eq!(code, "event_cancelled"),
        other => panic!("approved for a cancelled event: {other:?}"),
    }
}
