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

both!(applications_from_form_to_tickets, racing_approvals_issue_once);

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
    let (_, org) = t.user("organizer").await;
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

async fn applications_from_form_to_tickets(b: Backend) {
    let Setup { t, outbox, ev, org, student, general } = setup(b).await;
    let form = format!("/events/{ev}/ticket-types/{student}/form");
    // The form: checked, the organizer's to set, anyone's to read.
    t.call("PUT", &form, Some(&org), Some(json!({"fields": [{"name": "Bad Name", "type": "text"}]})))
        .await
        .assert_problem(400, Some("fields[0].name"));
    t.call("PUT", &form, Some(&org), Some(json!({"fields": [{"name": "x", "type": "colour"}]})))
        .await
        .assert_problem(400, None);
    t.call("PUT", &format!("/events/{ev}/ticket-types/{general}/form"), Some(&org), Some(student_form()))
        .await
        .assert_problem(400, Some("ticket_type_id"));
    let (_, other_org) = t.user("organizer").await;
    t.call("PUT", &form, Some(&other_org), Some(student_form())).await.assert_problem(403, None);
    t.call("PUT", &form, None, Some(student_form())).await.assert_problem(401, None);
    let set = t.call("PUT", &form, Some(&org), Some(student_form())).await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.body);
    let read = t.get(&form, None).await;
    assert_eq!(read.body["fields"].as_array().unwrap().len(), 4);
    assert_eq!(read.body["fields"][2]["max"], 6.0);
    t.get(&format!("/events/{ev}/ticket-types/{}/form", Uuid::now_v7()), None)
        .await
        .assert_problem(404, None);
    // Applying: answers and guest names checked, one live application per person.
    let apps = format!("/events/{ev}/applications");
    let (_, a) = t.user("attendee").await;
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
    t.post(&apps, Some(&a), application(student, &["A", "B", "C"]))
        .await
        .assert_problem(400, Some("guest_names"));
    t.post(&apps, Some(&a), application(student, &["Aiko", "AIKO"]))
        .await
        .assert_problem(400, Some("guest_names"));
    t.post(&apps, Some(&a), application(general, &["Aiko"]))
        .await
        .assert_problem(400, Some("ticket_type_id"));
    t.post(&apps, Some(&a), application(Uuid::now_v7(), &["Aiko"]))
        .await
        .assert_problem(400, Some("ticket_type_id"));
    t.post(&apps, None, application(student, &["Aiko"])).await.assert_problem(401, None);
    t.post(&format!("/events/{}/applications", Uuid::now_v7()), Some(&a), application(student, &["Aiko"]))
        .await
        .assert_problem(404, None);
    let first = t.post(&apps, Some(&a), application(student, &["Aiko", "Ben"])).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    assert_eq!(
        (first.body["status"].as_str(), first.body["guest_names"].clone()),
        (Some("pending"), json!(["Aiko", "Ben"]))
    );
    let a_app = first.body["application_id"].as_str().unwrap().to_string();
    let again = t.post(&apps, Some(&a), application(student, &["Aiko"])).await;
    again.assert_problem(409, None);
    assert_eq!(again.body["code"], "already_applied");
    // A type sold by approval cannot be reserved around the form.
    t.post("/reservations", Some(&a), json!({"event_id": ev, "ticket_type_id": student, "quantity": 1}))
        .await
        .assert_problem(403, None);
    // Three more applicants: 2 + 1 + 1 guests (the quota is 5).
    let mut others = Vec::new();
    for guests in [&["Chika", "Dai"][..], &["Emi"][..], &["Fumi"][..]] {
        let (_, tok) = t.user("attendee").await;
        let r = t.post(&apps, Some(&tok), application(student, guests)).await;
        assert_eq!(r.status, StatusCode::CREATED);
        others.push((tok, r.body["application_id"].as_str().unwrap().to_string()));
    }
    // The organizer's list.
    let list = t.get(&format!("{apps}?status=pending"), Some(&org)).await;
    assert_eq!(list.body["items"].as_array().unwrap().len(), 4);
    assert_eq!(list.body["items"][0]["application_id"], json!(a_app), "oldest first");
    let page = t.get(&format!("{apps}?limit=3"), Some(&org)).await;
    assert!(page.body["next_cursor"].is_string());
    t.get(&format!("{apps}?status=maybe"), Some(&org)).await.assert_problem(400, Some("status"));
    t.get(&apps, Some(&other_org)).await.assert_problem(403, None);
    t.get(&apps, Some(&a)).await.assert_problem(403, None);
    // Approve: two tickets in the guests' names, e-mailed.
    t.post(&format!("/applications/{a_app}/approve"), Some(&other_org), json!({}))
        .await
        .assert_problem(403, None);
    t.post(&format!("/applications/{a_app}/approve"), Some(&a), json!({})).await.assert_problem(403, None);
    let ok = t.post(&format!("/applications/{a_app}/approve"), Some(&org), json!({})).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    assert_eq!(ok.body["status"], "approved");
    assert!(ok.body["purchase_id"].is_string());
    let mine = t.get("/users/me/tickets", Some(&a)).await;
    let mut names: Vec<String> = mine.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["guest_name"].as_str().unwrap().to_string())
        .collect();
    names.sort();
    assert_eq!(names, ["Aiko", "Ben"]);
    t.post(&format!("/applications/{a_app}/approve"), Some(&org), json!({})).await.assert_problem(409, None);
    // Approve many: two fit; the last one does not (the quota is spent), and a stranger id is
    // reported, not fatal.
    let stranger = Uuid::now_v7();
    let batch = t
        .post(
            &format!("{apps}/approve"),
            Some(&org),
            json!({"application_ids": [others[0].1, others[1].1, others[2].1, stranger]}),
        )
        .await;
    assert_eq!(batch.status, StatusCode::OK, "{}", batch.body);
    let results: Vec<&str> =
        batch.body["results"].as_array().unwrap().iter().map(|r| r["result"].as_str().unwrap()).collect();
    assert_eq!(results, ["approved", "approved", "sold_out", "not_found"]);
    assert_eq!(batch.body["approved"], 2);
    t.post(&format!("{apps}/approve"), Some(&org), json!({"application_ids": []}))
        .await
        .assert_problem(400, Some("application_ids"));
    t.post(&format!("{apps}/approve"), Some(&other_org), json!({"application_ids": [stranger]}))
        .await
        .assert_problem(403, None);
    // Reject the last with a reason, which is e-mailed.
    let last = &others[2].1;
    t.post(&format!("/applications/{last}/reject"), Some(&org), json!({}))
        .await
        .assert_problem(400, Some("reason"));
    let rej = t
        .post(
            &format!("/applications/{last}/reject"),
            Some(&org),
            json!({"reason": "The student quota is full"}),
        )
        .await;
    assert_eq!((rej.status, rej.body["status"].as_str()), (StatusCode::OK, Some("rejected")), "{}", rej.body);
    t.post(&format!("/applications/{last}/reject"), Some(&org), json!({"reason": "again"}))
        .await
        .assert_problem(409, None);
    t.app.run_due_jobs(20).await.unwrap();
    let mails: Vec<String> = std::fs::read_dir(outbox.path())
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect();
    assert_eq!(mails.len(), 4, "three approvals' tickets and one rejection");
    assert!(mails.iter().any(|m| m.contains("was not approved") && m.contains("The student quota is full")));
    // Seeing an application: its applicant and the organizer; no one else.
    let path = format!("/applications/{last}");
    assert_eq!(t.get(&path, Some(&others[2].0)).await.body["reason"], "The student quota is full");
    assert_eq!(t.get(&path, Some(&org)).await.status, StatusCode::OK);
    t.get(&path, Some(&a)).await.assert_problem(404, None);
    t.get(&path, None).await.assert_problem(401, None);
    t.get(&format!("/applications/{}", Uuid::now_v7()), Some(&org)).await.assert_problem(404, None);
    let unknown = Uuid::now_v7();
    t.post(&format!("/applications/{unknown}/approve"), Some(&org), json!({}))
        .await
        .assert_problem(404, None);
    t.post(&format!("/applications/{unknown}/reject"), Some(&org), json!({"reason": "x"}))
        .await
        .assert_problem(404, None);
    t.get(&format!("/events/{unknown}/applications"), Some(&org)).await.assert_problem(404, None);
    t.post(
        &format!("/events/{unknown}/applications/approve"),
        Some(&org),
        json!({"application_ids": [unknown]}),
    )
    .await
    .assert_problem(404, None);
    t.post(&format!("/applications/{last}/reject"), None, json!({"reason": "x"}))
        .await
        .assert_problem(401, None);
    // The export names the guests.
    let export = t.get(&format!("/events/{ev}/export?format=json"), Some(&org)).await;
    let guests: Vec<&str> =
        export.body["items"].as_array().unwrap().iter().filter_map(|i| i["guest_name"].as_str()).collect();
    assert_eq!(guests.len(), 5);
}

async fn racing_approvals_issue_once(b: Backend) {
    let Setup { t, ev, student, .. } = setup(b).await;
    let (_, a) = t.user("attendee").await;
    // No form defined: no questions to answer.
    let body = json!({"ticket_type_id": student, "guest_names": ["Aiko", "Ben"]});
    let r = t.post(&format!("/events/{ev}/applications"), Some(&a), body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let id: Uuid = r.body["application_id"].as_str().unwrap().parse().unwrap();
    let org_id = t.app.get_event(ev).await.unwrap().organizer_id.unwrap();
    let who = Principal { user_id: org_id, role: tessera_app::domain::Role::Organizer };
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let (app, who) = (t.app.clone(), who.clone());
            tokio::spawn(async move { app.approve_application(&who, id).await.is_ok() })
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
    let (_, b2) = t.user("attendee").await;
    let body = json!({"ticket_type_id": student, "guest_names": ["Chika"]});
    let r = t.post(&format!("/events/{ev}/applications"), Some(&b2), body).await;
    let pending: Uuid = r.body["application_id"].as_str().unwrap().parse().unwrap();
    t.app.cancel_event(&who, ev).await.unwrap();
    match t.app.approve_application(&who, pending).await {
        Err(tessera_app::AppError::Conflict { code, .. }) => assert_eq!(code, "event_cancelled"),
        other => panic!("approved for a cancelled event: {other:?}"),
    }
}
