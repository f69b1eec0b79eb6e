//! The web pages, in process: what they show, sign-in with a cookie session, the application
//! form's steps, CSRF refusals, and that a page never shows another person's data. The browser
//! test (browser.rs) drives the same pages in Chromium.

use std::collections::BTreeMap;

use axum::body::Body;
use http::{Request, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

use tessera_store::Backend;

use crate::both;
use crate::support::{Res, TestApp};

both!(
    the_home_page_lists_and_searches_upcoming_events,
    pages_speak_the_visitors_language,
    signing_up_and_in_sets_a_session_cookie,
    every_form_is_refused_without_its_token,
    the_student_form_checks_confirms_and_files,
    a_page_never_shows_another_persons_application,
    the_festival_paths_share_the_api_handlers,
    a_queue_token_for_an_event_without_a_waiting_room_is_admitted,
);

/// A browser without scripts: a cookie jar, and forms posted with the token its pages carry.
pub struct Visitor<'a> {
    t: &'a TestApp,
    pub cookies: BTreeMap<String, String>,
    pub lang: Option<&'static str>,
}

impl<'a> Visitor<'a> {
    pub fn new(t: &'a TestApp) -> Self {
        Visitor { t, cookies: BTreeMap::new(), lang: None }
    }

    fn keep(&mut self, r: &Res) {
        for v in r.headers.get_all("set-cookie") {
            let line = v.to_str().unwrap();
            let (pair, attrs) = line.split_once(';').unwrap_or((line, ""));
            let (k, v) = pair.split_once('=').unwrap();
            assert!(attrs.contains("SameSite=Lax"), "{line}");
            if attrs.contains("Max-Age=0") {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.into(), v.into());
            }
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
    }

    pub async fn get(&mut self, path: &str) -> Res {
        let mut b = Request::get(path).header("cookie", self.cookie_header());
        if let Some(l) = self.lang {
            b = b.header("accept-language", l);
        }
        let r = self.t.send(b.body(Body::empty()).unwrap()).await;
        self.keep(&r);
        r
    }

    /// Posts a form as is (the caller adds the token, or leaves it out).
    pub async fn post_raw(&mut self, path: &str, fields: &[(&str, &str)]) -> Res {
        let body = form_urlencoded::Serializer::new(String::new()).extend_pairs(fields).finish();
        let req = Request::post(path)
            .header("cookie", self.cookie_header())
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(body))
            .unwrap();
        let r = self.t.send(req).await;
        self.keep(&r);
        r
    }

    /// Opens `page` and posts to `path` with the token that page carries.
    pub async fn submit(&mut self, page: &str, path: &str, fields: &[(&str, &str)]) -> Res {
        let html = self.get(page).await;
        let token = form_token(&text(&html));
        let mut all = fields.to_vec();
        all.push(("csrf_token", &token));
        self.post_raw(path, &all).await
    }

    /// A request as the page's own script sends it: the session cookie, and for a change the
    /// page's token in X-CSRF-Token.
    pub async fn api(&mut self, method: &str, path: &str, body: Option<Value>, token: Option<&str>) -> Res {
        let mut b = Request::builder()
            .method(method)
            .uri(path)
            .header("cookie", self.cookie_header())
            .header("sec-fetch-site", "same-origin");
        if let Some(t) = token {
            b = b.header("x-csrf-token", t);
        }
        let req = match body {
            Some(v) => b.header("content-type", "application/json").body(Body::from(v.to_string())).unwrap(),
            None => b.body(Body::empty()).unwrap(),
        };
        self.t.send(req).await
    }

    pub fn has_session(&self) -> bool {
        self.cookies.contains_key("tessera_session")
    }
}

pub fn text(r: &Res) -> String {
    r.body.as_str().map(str::to_string).unwrap_or_else(|| r.body.to_string())
}

/// The form token in a page.
pub fn form_token(html: &str) -> String {
    let at = html.find(r#"name="csrf_token" value=""#).expect("a form token in the page");
    let rest = &html[at + r#"name="csrf_token" value=""#.len()..];
    rest[..rest.find('"').unwrap()].to_string()
}

pub fn location(r: &Res) -> &str {
    r.headers.get("location").and_then(|v| v.to_str().ok()).unwrap_or("")
}

pub async fn sign_up<'a>(t: &'a TestApp, name: &str) -> (Visitor<'a>, String) {
    let mut v = Visitor::new(t);
    let email = format!("{}@example.com", Uuid::new_v4().simple());
    let r = v
        .submit("/signup", "/signup", &[("name", name), ("email", &email), ("password", "password123")])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", text(&r));
    assert!(v.has_session());
    (v, email)
}

/// An organizer's festival: a "Student" type sold by approval (2 per person) with a form.
pub async fn festival(t: &TestApp) -> (String, Uuid, Uuid) {
    let org = t.user("organizer").await.token;
    let ev = t
        .event(
            &org,
            json!({"name": "School Festival", "start_time": "2030-07-01T10:00:00Z", "category": "school"}),
        )
        .await;
    let r = t
        .post(
            &format!("/events/{ev}/ticket-types"),
            Some(&org),
            json!({"name": "Student", "price": "0", "quota": 50, "per_person_limit": 2, "requires_approval": true}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let tt: Uuid = r.body["ticket_type_id"].as_str().unwrap().parse().unwrap();
    let form = json!({"fields": [
        {"name": "student_name", "label": "Student name", "type": "text", "required": true},
        {"name": "grade", "type": "number", "required": true, "min": 1, "max": 6},
        {"name": "school", "type": "choice", "options": ["North High", "South High"]}
    ]});
    let r = t.call("PUT", &format!("/events/{ev}/ticket-types/{tt}/form"), Some(&org), Some(form)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    (org, ev, tt)
}

async fn the_home_page_lists_and_searches_upcoming_events(b: Backend) {
    let t = TestApp::new(b).await;
    let org = t.user("organizer").await.token;
    for (name, cat) in [("Jazz Night", "music"), ("Robot Fair", "science")] {
        t.event(&org, json!({"name": name, "start_time": "2030-07-01T10:00:00Z", "category": cat})).await;
    }
    t.event(&org, json!({"name": "Old Show", "start_time": "2020-07-01T10:00:00Z"})).await;
    let mut v = Visitor::new(&t);
    let r = v.get("/").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.content_type().starts_with("text/html"), "{}", r.content_type());
    let html = text(&r);
    assert!(html.contains("Jazz Night") && html.contains("Robot Fair"), "{html}");
    assert!(!html.contains("Old Show"), "past events are not upcoming");
    assert!(r.headers["content-security-policy"].to_str().unwrap().contains("script-src 'self'"));
    let html = text(&v.get("/?q=robot").await);
    assert!(html.contains("Robot Fair") && !html.contains("Jazz Night"));
    let html = text(&v.get("/?category=music").await);
    assert!(html.contains("Jazz Night") && !html.contains("Robot Fair"));
    // An event's page, and a page for an id that is no event.
    let (_, ev, tt) = festival(&t).await;
    let html = text(&v.get(&format!("/e/{ev}")).await);
    assert!(html.contains("School Festival") && html.contains(&format!("/e/{ev}/apply/{tt}")), "{html}");
    assert_eq!(v.get(&format!("/e/{}", Uuid::now_v7())).await.status, StatusCode::NOT_FOUND);
    assert_eq!(v.get("/e/not-an-id").await.status, StatusCode::NOT_FOUND);
    // The scripts are served by Tessera itself.
    let js = v.get("/assets/htmx.min.js").await;
    assert_eq!(js.status, StatusCode::OK);
    assert!(js.content_type().starts_with("text/javascript"));
    assert!(text(&js).len() > 10_000, "htmx itself, not a stub");
    assert_eq!(v.get("/assets/nope.js").await.status, StatusCode::NOT_FOUND);
}

async fn pages_speak_the_visitors_language(b: Backend) {
    let t = TestApp::new(b).await;
    let mut v = Visitor::new(&t);
    v.lang = Some("ja-JP,ja;q=0.9,en;q=0.5");
    let html = text(&v.get("/").await);
    assert!(html.contains(r#"<html lang="ja">"#) && html.contains("今後のイベント"), "{html}");
    // The switch's choice is remembered over the browser's.
    let html = text(&v.get("/?lang=en").await);
    assert!(html.contains(r#"<html lang="en">"#) && html.contains("Upcoming events"));
    let html = text(&v.get("/signin").await);
    assert!(html.contains(r#"<html lang="en">"#), "the cookie keeps English");
    assert!(html.contains(r#"href="/signin?lang=ja""#), "the switch offers Japanese: {html}");
}

async fn signing_up_and_in_sets_a_session_cookie(b: Backend) {
    let t = TestApp::new(b).await;
    let (mut v, email) = sign_up(&t, "Hana").await;
    let html = text(&v.get("/").await);
    assert!(html.contains("Hana"), "the header names who is signed in");
    // Sign out, then a wrong password, then the right one (back to where the visitor was).
    let r = v.submit("/", "/signout", &[]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(!v.has_session());
    let r = v.submit("/signin", "/signin", &[("email", &email), ("password", "wrong-password")]).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(text(&r).contains("invalid e-mail or password"));
    assert!(!v.has_session());
    let r = v
        .submit(
            "/signin",
            "/signin",
            &[("email", &email), ("password", "password123"), ("next", "/me/applications")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/me/applications");
    assert!(v.has_session());
    // Never back to another site.
    let r = Visitor::new(&t)
        .submit(
            "/signin",
            "/signin",
            &[("email", &email), ("password", "password123"), ("next", "//evil.example/")],
        )
        .await;
    assert_eq!(location(&r), "/");
    // A taken e-mail is shown at its field; so is a short password.
    let mut w = Visitor::new(&t);
    let r = w
        .submit("/signup", "/signup", &[("name", "X"), ("email", &email), ("password", "password123")])
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(text(&r).contains(r#"id="email-error""#));
    let r = w
        .submit("/signup", "/signup", &[("name", "X"), ("email", "x@example.com"), ("password", "short")])
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(text(&r).contains(r#"id="password-error""#));
    // The session cookie is HttpOnly and is not a bearer token.
    let cookie = v.cookies["tessera_session"].clone();
    t.get("/users/me", Some(&cookie)).await.assert_problem(401, None);
    // Signing out ends it for good: the old cookie no longer signs anyone in.
    v.submit("/", "/signout", &[]).await;
    let mut replay = Visitor::new(&t);
    replay.cookies.insert("tessera_session".into(), cookie);
    assert!(!text(&replay.get("/").await).contains("Hana"));
}

async fn every_form_is_refused_without_its_token(b: Backend) {
    let t = TestApp::new(b).await;
    let (_, ev, tt) = festival(&t).await;
    let (mut v, email) = sign_up(&t, "Ken").await;
    v.get("/").await;
    let apply = format!("/e/{ev}/apply/{tt}");
    let chat = format!("/e/{ev}/chat");
    let forms: [(&str, Vec<(&str, &str)>); 5] = [
        (chat.as_str(), vec![("body", "hello"), ("client_id", "c1")]),
        ("/signin", vec![("email", email.as_str()), ("password", "password123")]),
        ("/signup", vec![("name", "Y"), ("email", "y@example.com"), ("password", "password123")]),
        ("/signout", vec![]),
        (
            apply.as_str(),
            vec![("step", "submit"), ("a.student_name", "Ken"), ("a.grade", "2"), ("guest", "Ken")],
        ),
    ];
    // Another browser's token is no better than none.
    let mut other = Visitor::new(&t);
    let foreign = form_token(&text(&other.get("/signin").await));
    for (path, fields) in &forms {
        for token in [None, Some(""), Some("forged"), Some(foreign.as_str())] {
            let mut all = fields.clone();
            if let Some(tok) = token {
                all.push(("csrf_token", tok));
            }
            let r = v.post_raw(path, &all).await;
            assert_eq!(r.status, StatusCode::FORBIDDEN, "{path} with {token:?}: {}", text(&r));
        }
    }
    assert!(v.has_session(), "the refused sign-out signed no one out");
    assert_eq!(t.db.store.applications_of_event(ev.into(), None, None, 10).await.unwrap().len(), 0);
}

async fn the_student_form_checks_confirms_and_files(b: Backend) {
    let t = TestApp::new(b).await;
    let (org, ev, tt) = festival(&t).await;
    // Signed out, the seed's fixed path sends the visitor to sign in and back.
    let mut anon = Visitor::new(&t);
    let r = anon.get("/apply/student").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/signin?next=%2Fapply%2Fstudent");
    assert_eq!(anon.get("/apply/nobody").await.status, StatusCode::NOT_FOUND);

    let (mut v, _) = sign_up(&t, "Aiko").await;
    let html = text(&v.get("/apply/student").await);
    assert!(html.contains("Student name") && html.contains(r#"name="a.grade" type="number""#), "{html}");
    assert!(html.contains(r#"min="1""#) && html.contains("required"), "checked in the browser too");
    assert_eq!(html.matches(r#"name="guest""#).count(), 2, "the per-person limit's guest slots");
    let path = format!("/e/{ev}/apply/{tt}");
    // Checked on the server: a grade out of range and no guest.
    let r = v
        .submit("/apply/student", &path, &[("step", "review"), ("a.student_name", "Aiko"), ("a.grade", "9")])
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let html = text(&r);
    assert!(html.contains(r#"id="a-grade-error""#) && html.contains(r#"value="Aiko""#), "{html}");
    // Reviewed: nothing filed yet.
    let good = [
        ("a.student_name", "Aiko"),
        ("a.grade", "2"),
        ("a.school", "North High"),
        ("guest", "Aiko Sato"),
        ("guest", "Kenji Sato"),
    ];
    let mut review = good.to_vec();
    review.push(("step", "review"));
    let r = v.submit("/apply/student", &path, &review).await;
    assert_eq!(r.status, StatusCode::OK, "{}", text(&r));
    assert!(text(&r).contains("Check your application") && text(&r).contains("Kenji Sato"));
    assert_eq!(t.db.store.applications_of_event(ev.into(), None, None, 10).await.unwrap().len(), 0);
    // Submitted from the confirmation page.
    let mut submit = good.to_vec();
    submit.push(("step", "submit"));
    let r = v.submit("/apply/student", &path, &submit).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", text(&r));
    let done = location(&r).to_string();
    assert!(done.starts_with("/me/applications/") && done.ends_with("?new=1"), "{done}");
    let html = text(&v.get(&done).await);
    assert!(html.contains("Application received") && html.contains("Pending"), "{html}");
    // What the organizer's API sees is what was entered.
    let list = t.get(&format!("/events/{ev}/applications"), Some(&org)).await;
    let a = &list.body["items"][0];
    assert_eq!(a["guest_names"], json!(["Aiko Sato", "Kenji Sato"]));
    assert_eq!(a["answers"]["grade"], json!(2.0));
    // A second application is refused on the form page with the reason.
    let r = v.submit("/apply/student", &path, &submit).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(text(&r).contains("already"));
    let html = text(&v.get("/me/applications").await);
    assert!(html.contains("School Festival") && html.contains("Pending"));
}

async fn a_page_never_shows_another_persons_application(b: Backend) {
    let t = TestApp::new(b).await;
    let (org, ev, tt) = festival(&t).await;
    let (mut a, _) = sign_up(&t, "Alice Applicant").await;
    let path = format!("/e/{ev}/apply/{tt}");
    let fields =
        [("step", "submit"), ("a.student_name", "Alice"), ("a.grade", "3"), ("guest", "Alice Guest")];
    let r = a.submit(&path, &path, &fields).await;
    let mine = location(&r).trim_end_matches("?new=1").to_string();
    let (mut b, _) = sign_up(&t, "Bob").await;
    let r = b.get(&mine).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(!text(&r).contains("Alice Guest"));
    assert!(!text(&b.get("/me/applications").await).contains("School Festival"));
    // Not even the organizer sees it on the applicant's page (they review elsewhere).
    let org_id = t.get("/users/me", Some(&org)).await.body["user_id"].as_str().unwrap().to_string();
    assert!(!org_id.is_empty());
    let mut anon = Visitor::new(&t);
    assert_eq!(anon.get(&mine).await.status, StatusCode::SEE_OTHER, "signed out: sign in first");
}

async fn the_festival_paths_share_the_api_handlers(b: Backend) {
    let t = TestApp::new(b).await;
    let (_, ev, tt) = festival(&t).await;
    let student = t.user("attendee").await;
    let admin = t.user("admin").await;
    // /api/v1/login answers as /auth/login.
    let email = t.get("/users/me", Some(&student.token)).await.body["email"].as_str().unwrap().to_string();
    let r = t.post("/api/v1/login", None, json!({"email": email, "password": "password123"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["token_type"], "Bearer");
    t.post("/api/v1/login", None, json!({"email": email, "password": "nope-nope"}))
        .await
        .assert_problem(401, None);
    t.post("/api/v1/login", None, json!({})).await.assert_problem(400, Some("email"));
    // /api/v1/apply: the event in the body.
    let body = json!({"event_id": ev, "ticket_type_id": tt, "guest_names": ["Mei"],
                      "answers": {"student_name": "Mei", "grade": 1}});
    let r = t.post("/api/v1/apply", Some(&student.token), body.clone()).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    t.post("/api/v1/apply", Some(&student.token), body.clone()).await.assert_problem(409, None);
    t.post("/api/v1/apply", None, body).await.assert_problem(401, None);
    let r = t.post("/api/v1/apply", Some(&student.token), json!({"ticket_type_id": tt})).await;
    r.assert_problem(400, Some("event_id"));
    // /api/v1/users: admins only.
    let r = t.get("/api/v1/users", Some(&admin.token)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body["items"].as_array().unwrap().len() >= 3);
    t.get("/api/v1/users", Some(&student.token)).await.assert_problem(403, None);
    t.get("/api/v1/users", None).await.assert_problem(401, None);
}

async fn a_queue_token_for_an_event_without_a_waiting_room_is_admitted(b: Backend) {
    let t = TestApp::new(b).await;
    let ev = t.seated_event(json!({})).await;
    let buyer = t.user("attendee").await;
    let r = t.post("/queue/token", Some(&buyer.token), json!({"concert_id": ev.id})).await;
    assert!(r.status.is_success(), "{}", r.body);
    assert_eq!(r.body["status"], "admitted", "{}", r.body);
    let token = r.body["queue_token"].as_str().unwrap().to_string();
    // Its status says admitted, and the seed's reserve works with it.
    let st = t.get(&format!("/queue/status?token={token}"), None).await;
    assert_eq!(st.status, StatusCode::OK, "{}", st.body);
    assert_eq!(st.body["status"], "admitted");
    let req = Request::post("/reservation")
        .header("authorization", format!("Bearer {}", buyer.token))
        .header("x-queue-token", &token)
        .header("content-type", "application/json")
        .body(Body::from(json!({"concert_id": ev.id, "seat_numbers": [3]}).to_string()))
        .unwrap();
    let r = t.send(req).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let _: Value = r.body;
}
