//! The organizer's and admin's pages and the holder's ticket page, in process: their numbers
//! are the API's, each form decides what the API would, and nobody sees what is not theirs.
//! Also the API signed in by a page's cookie (its scripts' way in).

use http::StatusCode;
use serde_json::json;
use uuid::Uuid;

use tessera_app::domain::records::UserChanges;
use tessera_store::Backend;

use crate::both;
use crate::pages::{Visitor, festival, form_token, location, sign_up, text};
use crate::support::TestApp;

both!(
    the_dashboard_shows_what_the_api_counts,
    applications_are_decided_in_bulk_and_tickets_sent,
    door_staff_are_added_by_email,
    only_admins_see_the_user_list,
    holders_see_their_own_tickets_only,
    the_api_takes_a_page_session_only_with_its_token,
);

/// A page visitor signed up and given `role`.
async fn member<'a>(t: &'a TestApp, name: &str, role: &str) -> (Visitor<'a>, Uuid) {
    let (mut v, email) = sign_up(t, name).await;
    let user = t.db.store.user_by_email(&email).await.unwrap().unwrap();
    if role != "attendee" {
        let c = UserChanges { role: Some(role.parse().unwrap()), ..Default::default() };
        t.db.store.update_user(user.user_id, &c, t.app.now()).await.unwrap();
    }
    v.get("/").await;
    (v, user.user_id.into())
}

/// The organizer's token for the API, signed in by the page's own session.
async fn bearer_of(t: &TestApp, user: Uuid) -> String {
    let u = t.db.store.user_by_id(user.into()).await.unwrap().unwrap();
    t.app.access_token(u.user_id, u.role).unwrap()
}

async fn the_dashboard_shows_what_the_api_counts(b: Backend) {
    let t = TestApp::new(b).await;
    let (mut org, org_id) = member(&t, "Olga Organizer", "organizer").await;
    let org_t = bearer_of(&t, org_id).await;
    let ev = t
        .event(
            &org_t,
            json!({"name": "Jazz Night", "start_time": "2030-07-01T10:00:00Z", "category": "music"}),
        )
        .await;
    let r = t
        .post(
            &format!("/events/{ev}/ticket-types"),
            Some(&org_t),
            json!({"name": "GA", "price": "20", "quota": 10}),
        )
        .await;
    let ga = r.body["ticket_type_id"].as_str().unwrap().to_string();
    let buyer = t.user("attendee").await.token;
    t.post("/balance", Some(&buyer), json!({"amount": "100"})).await;
    let r = t
        .post(
            &format!("/events/{ev}/purchases"),
            Some(&buyer),
            json!({"ticket_type_id": ga, "ticket_quantity": 3}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let api = t.get(&format!("/stats/events/{ev}"), Some(&org_t)).await.body;
    let html = text(&org.get("/admin/dashboard").await);
    let row = &html[html.find(&format!(r#"data-event-id="{ev}""#)).expect("the event's row")..];
    let cell = |field: &str| {
        let at = row.find(&format!(r#"data-field="{field}">"#)).unwrap() + field.len() + 14;
        row[at..at + row[at..].find('<').unwrap()].to_string()
    };
    assert_eq!(cell("tickets_sold"), api["tickets_sold"].to_string());
    assert_eq!(cell("revenue"), format!("{} JPY", api["revenue"].as_str().unwrap()));
    assert!(row.contains(r#"value="30""#), "3 of 10 sold: 30 % full");
    // Analytics: revenue by category and the event's sales over time, as the API has them.
    let html = text(&org.get(&format!("/admin/analytics?event_id={ev}")).await);
    assert!(html.contains("music") && html.contains("60.00"), "{html}");
    assert!(html.contains(r#"id="inside-now">0<"#));
    // Attendees are refused; the signed-out are sent to sign in.
    let (mut att, _) = member(&t, "Ann", "attendee").await;
    assert_eq!(att.get("/admin/dashboard").await.status, StatusCode::FORBIDDEN);
    assert_eq!(att.get("/admin/analytics").await.status, StatusCode::FORBIDDEN);
    assert_eq!(Visitor::new(&t).get("/admin/dashboard").await.status, StatusCode::SEE_OTHER);
    // Another organizer sees neither the event nor its page.
    let (mut other, _) = member(&t, "Otto", "organizer").await;
    assert!(!text(&other.get("/admin/dashboard").await).contains("Jazz Night"));
    assert_eq!(other.get(&format!("/admin/events/{ev}")).await.status, StatusCode::FORBIDDEN);
}

async fn applications_are_decided_in_bulk_and_tickets_sent(b: Backend) {
    let t = TestApp::new(b).await;
    let (org_t, ev, tt) = festival(&t).await;
    let org_id: Uuid =
        t.get("/users/me", Some(&org_t)).await.body["user_id"].as_str().unwrap().parse().unwrap();
    let mut ids = Vec::new();
    for name in ["Aiko", "Kenji", "Mei"] {
        let s = t.user("attendee").await.token;
        let body = json!({"ticket_type_id": tt, "guest_names": [name], "answers": {"student_name": name, "grade": 2}});
        let r = t.post(&format!("/events/{ev}/applications"), Some(&s), body).await;
        ids.push(r.body["application_id"].as_str().unwrap().to_string());
    }
    // The organizer signs in to the pages with the same account.
    let mut org = Visitor::new(&t);
    let u = t.db.store.user_by_id(tessera_app::domain::id::UserId::from(org_id)).await.unwrap().unwrap();
    let session = t.app.sign_in_browser(&u.email, "password123", "127.0.0.1").await.unwrap();
    org.cookies.insert("tessera_session".into(), session.cookie);
    let page = format!("/admin/events/{ev}");
    let html = text(&org.get(&page).await);
    assert!(html.contains("Aiko") && html.contains("Kenji") && html.contains("Mei"), "{html}");
    let post = format!("/admin/events/{ev}/applications");
    let r = org.submit(&page, &post, &[("action", "approve"), ("id", &ids[0]), ("id", &ids[1])]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", text(&r));
    assert!(text(&r).contains("2 ✓ 0 ✗"));
    // A rejection needs its reason.
    let r = org.submit(&page, &post, &[("action", "reject"), ("id", &ids[2])]).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(text(&r).contains("reason"));
    let r = org.submit(&page, &post, &[("action", "reject"), ("id", &ids[2]), ("reason", "Full")]).await;
    assert_eq!(r.status, StatusCode::OK);
    for (id, status) in [(&ids[0], "approved"), (&ids[1], "approved"), (&ids[2], "rejected")] {
        assert_eq!(t.get(&format!("/applications/{id}"), Some(&org_t)).await.body["status"], status);
    }
    // Seed 003's bulk send: a job whose page shows its progress until it is done.
    let r = org.submit(&page, "/admin/send-tickets", &[("event_id", &ev.to_string()), ("all", "true")]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", text(&r));
    let job = location(&r).to_string();
    assert!(job.starts_with("/admin/jobs/"));
    assert!(text(&org.get(&job).await).contains(r#"hx-trigger="every 1s""#), "polls while running");
    while t.app.run_due_jobs(50).await.unwrap() > 0 {}
    let html = text(&org.get(&job).await);
    assert!(html.contains(r#"id="job-status">done<"#) && !html.contains("every 1s"), "{html}");
    assert!(html.contains(r#"<span id="total">2</span>"#), "two tickets: {html}");
    // Nobody else may decide or send.
    let (mut other, _) = member(&t, "Otto", "organizer").await;
    let r = other.submit("/", &post, &[("action", "approve"), ("id", &ids[2])]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let (mut att, _) = member(&t, "Ann", "attendee").await;
    let r = att.submit("/", "/admin/send-tickets", &[("event_id", &ev.to_string())]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(att.get(&job).await.status, StatusCode::NOT_FOUND, "a job is its starter's");
}

async fn door_staff_are_added_by_email(b: Backend) {
    let t = TestApp::new(b).await;
    let (mut org, org_id) = member(&t, "Olga", "organizer").await;
    let org_t = bearer_of(&t, org_id).await;
    let ev = t.event(&org_t, json!({"name": "Fair", "start_time": "2030-07-01T10:00:00Z"})).await;
    let (_, staff_email) = sign_up(&t, "Sam Staff").await;
    let staff = t.db.store.user_by_email(&staff_email).await.unwrap().unwrap();
    let page = format!("/admin/events/{ev}");
    let post = format!("/admin/events/{ev}/staff");
    // Only a staff account, and only one that exists.
    let r = org.submit(&page, &post, &[("email", &staff_email)]).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(text(&r).contains("only staff accounts"));
    let r = org.submit(&page, &post, &[("email", "nobody@example.com")]).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let c = UserChanges { role: Some("staff".parse().unwrap()), ..Default::default() };
    t.db.store.update_user(staff.user_id, &c, t.app.now()).await.unwrap();
    let r = org.submit(&page, &post, &[("email", &staff_email.to_uppercase())]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", text(&r));
    let api = t.get(&format!("/events/{ev}/staff"), Some(&org_t)).await;
    assert_eq!(api.body["items"][0]["email"], staff_email.as_str(), "{}", api.body);
}

async fn only_admins_see_the_user_list(b: Backend) {
    let t = TestApp::new(b).await;
    let (mut admin, _) = member(&t, "Ada Admin", "admin").await;
    member(&t, "Bea", "attendee").await;
    let html = text(&admin.get("/admin/users").await);
    assert!(html.contains("Bea") && html.contains("attendee") && html.contains("admin"), "{html}");
    let html = text(&admin.get("/admin/users?role=admin").await);
    assert!(!html.contains("Bea"));
    let (mut org, _) = member(&t, "Olga", "organizer").await;
    assert_eq!(org.get("/admin/users").await.status, StatusCode::FORBIDDEN);
    let (mut att, _) = member(&t, "Ann", "attendee").await;
    assert_eq!(att.get("/admin/users").await.status, StatusCode::FORBIDDEN);
}

async fn holders_see_their_own_tickets_only(b: Backend) {
    let t = TestApp::new(b).await;
    let org_t = t.user("organizer").await.token;
    let ev = t.event(&org_t, json!({"name": "Free Concert", "start_time": "2030-07-01T10:00:00Z"})).await;
    let r = t
        .post(
            &format!("/events/{ev}/ticket-types"),
            Some(&org_t),
            json!({"name": "GA", "price": "0", "quota": 10}),
        )
        .await;
    let ga = r.body["ticket_type_id"].as_str().unwrap().to_string();
    let (mut holder, holder_id) = member(&t, "Hiro Holder", "attendee").await;
    let token = bearer_of(&t, holder_id).await;
    let r = t
        .post(
            &format!("/events/{ev}/purchases"),
            Some(&token),
            json!({"ticket_type_id": ga, "ticket_quantity": 1}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let html = text(&holder.get("/me/tickets").await);
    assert!(html.contains("Free Concert") && html.contains("Hiro Holder"), "{html}");
    let at = html.find(r#"data-ticket-id=""#).unwrap() + 16;
    let ticket = html[at..at + 36].to_string();
    // The QR image and the PDF come from the API's routes, signed in by the page's cookie.
    let qr = holder.api("GET", &format!("/tickets/{ticket}/qr.svg"), None, None).await;
    assert_eq!(qr.status, StatusCode::OK);
    assert_eq!(qr.content_type(), "image/svg+xml");
    let r = holder.submit("/me/tickets", &format!("/me/tickets/{ticket}/resend"), &[]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", text(&r));
    // Another person sees none of it.
    let (mut other, _) = member(&t, "Nosy", "attendee").await;
    assert!(!text(&other.get("/me/tickets").await).contains("Free Concert"));
    assert_eq!(
        other.api("GET", &format!("/tickets/{ticket}/qr.svg"), None, None).await.status,
        StatusCode::NOT_FOUND
    );
    let r = other.submit("/me/tickets", &format!("/me/tickets/{ticket}/resend"), &[]).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

async fn the_api_takes_a_page_session_only_with_its_token(b: Backend) {
    let t = TestApp::new(b).await;
    let (mut v, _) = member(&t, "Wallet Owner", "attendee").await;
    let page_token = form_token(&text(&v.get("/me/tickets").await));
    // Reading is signed in by the cookie alone.
    let me = v.api("GET", "/users/me", None, None).await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.body["name"], "Wallet Owner");
    // A change needs the page's token.
    let top_up = Some(json!({"amount": "25"}));
    v.api("POST", "/balance", top_up.clone(), None).await.assert_problem(403, None);
    v.api("POST", "/balance", top_up.clone(), Some("forged")).await.assert_problem(403, None);
    let r = v.api("POST", "/balance", top_up.clone(), Some(&page_token)).await;
    assert!(r.status.is_success(), "{}", r.body);
    assert_eq!(v.api("GET", "/balance", None, None).await.body["balance"], "25.00");
    // Another site's request carries the cookie but is not signed in by it.
    let req = http::Request::get("/users/me")
        .header("cookie", format!("tessera_session={}", v.cookies["tessera_session"]))
        .header("sec-fetch-site", "cross-site")
        .body(axum::body::Body::empty())
        .unwrap();
    t.send(req).await.assert_problem(401, None);
}
