//! The problem+json contract, shown whole: for each kind of refusal, the exact body a client
//! gets (RFC 9457 members, the stable `code`, field errors and extension members), as an inline
//! snapshot. Values that differ from run to run (ids, timestamps) are redacted; everything else
//! must match on both databases.
//!
//! To change a snapshot on purpose: `cargo insta test -p tessera-http --test api -- problems`
//! then `cargo insta review`. Without cargo-insta, `INSTA_FORCE_PASS=1 INSTA_UPDATE=always cargo
//! test -p tessera-http --test api problems` writes the new bodies to `.problems.rs.pending-snap`
//! beside this file (insta itself never edits the source); copy them into the `@r#"…"#` literals
//! and delete that file.

use http::StatusCode;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

use tessera_app::RateLimits;
use tessera_store::Backend;

use crate::both;
use crate::support::{Res, SeatedEvent, TestApp, User, event_body};

both!(
    a_registration_with_bad_fields_lists_every_field,
    an_event_ending_before_it_starts_names_end_time,
    malformed_json_is_400_naming_the_body,
    a_body_that_is_not_json_is_415,
    a_missing_token_is_401,
    an_invalid_token_is_401,
    a_wrong_password_is_401,
    a_role_without_the_right_is_403,
    an_unknown_event_is_404,
    an_unknown_route_is_404,
    a_method_the_route_lacks_is_405,
    a_seat_already_held_is_409_naming_the_seats,
    an_email_already_registered_is_409,
    a_second_application_is_409,
    a_reused_idempotency_key_is_409,
    a_second_entry_is_409_with_where_it_was_first_used,
    a_payment_short_of_money_is_402,
    a_lapsed_hold_is_410,
    a_forged_ticket_code_is_422,
    another_events_ticket_is_403_naming_that_event,
    too_many_sign_ins_are_429,
);

/// The body of a problem answer with this status (and the problem+json content type).
#[track_caller]
fn problem(r: &Res, status: u16) -> &Value {
    r.assert_problem(status, None);
    &r.body
}

/// A redaction for a string member that names a time (a `detail` saying when something
/// happened): each RFC 3339 word in it becomes `[timestamp]`.
fn times_masked() -> insta::internals::Redaction {
    insta::dynamic_redaction(|value, _| {
        let text = value.as_str().unwrap_or_default();
        let words: Vec<&str> = text
            .split(' ')
            .map(|w| if OffsetDateTime::parse(w, &Rfc3339).is_ok() { "[timestamp]" } else { w })
            .collect();
        words.join(" ")
    })
}

/// Asserts that `$res` is a problem answer with `$status`, and that its body (after the
/// redactions, if any) is the inline snapshot. `both!` reaches each assertion twice in one
/// process (once per database), which insta allows only when told to; each time, the body must
/// match the same snapshot.
macro_rules! assert_problem_json {
    ($res:expr, $status:expr, $($snapshot:tt)*) => {{
        let body = problem(&$res, $status);
        insta::allow_duplicates! { insta::assert_json_snapshot!(body, $($snapshot)*); }
    }};
}

async fn a_registration_with_bad_fields_lists_every_field(b: Backend) {
    let t = TestApp::new(b).await;
    let r = t.post("/auth/register", None, json!({"email": "not-an-email", "password": "short"})).await;
    assert_problem_json!(r, 400, @r#"
    {
      "code": "validation_failed",
      "detail": "name: is required; email: must be an e-mail address such as ada@example.com; password: must be at least 8 characters",
      "errors": [
        {
          "field": "name",
          "message": "is required"
        },
        {
          "field": "email",
          "message": "must be an e-mail address such as ada@example.com"
        },
        {
          "field": "password",
          "message": "must be at least 8 characters"
        }
      ],
      "status": 400,
      "title": "Bad Request",
      "type": "/problems/validation_failed"
    }
    "#);
}

async fn an_event_ending_before_it_starts_names_end_time(b: Backend) {
    let t = TestApp::new(b).await;
    let org = t.user("organizer").await.token;
    let mut body = event_body("Backwards");
    body["end_time"] = json!("2026-05-01T17:00:00+09:00");
    let r = t.post("/events", Some(&org), body).await;
    assert_problem_json!(r, 400, @r#"
    {
      "code": "validation_failed",
      "detail": "end_time: must not be before start_time",
      "errors": [
        {
          "field": "end_time",
          "message": "must not be before start_time"
        }
      ],
      "status": 400,
      "title": "Bad Request",
      "type": "/problems/validation_failed"
    }
    "#);
}

async fn malformed_json_is_400_naming_the_body(b: Backend) {
    let t = TestApp::new(b).await;
    let req = http::Request::post("/auth/register")
        .header("content-type", "application/json")
        .body(axum::body::Body::from("{\"name\": "))
        .unwrap();
    let r = t.send(req).await;
    assert_problem_json!(r, 400, @r#"
    {
      "code": "malformed_json",
      "detail": "the body is not valid JSON: EOF while parsing a value at line 1 column 9",
      "errors": [
        {
          "field": "body",
          "message": "EOF while parsing a value at line 1 column 9"
        }
      ],
      "status": 400,
      "title": "Bad Request",
      "type": "/problems/malformed_json"
    }
    "#);
}

async fn a_body_that_is_not_json_is_415(b: Backend) {
    let t = TestApp::new(b).await;
    let req = http::Request::post("/auth/register").body(axum::body::Body::from("name=a")).unwrap();
    let r = t.send(req).await;
    assert_problem_json!(r, 415, @r#"
    {
      "code": "unsupported_media_type",
      "detail": "send the body as JSON with Content-Type: application/json",
      "status": 415,
      "title": "Unsupported Media Type",
      "type": "/problems/unsupported_media_type"
    }
    "#);
}

async fn a_missing_token_is_401(b: Backend) {
    let t = TestApp::new(b).await;
    let r = t.get("/users/me", None).await;
    assert_eq!(r.headers["www-authenticate"], "Bearer");
    assert_problem_json!(r, 401, @r#"
    {
      "code": "unauthorized",
      "detail": "authentication required: send Authorization: Bearer <token>",
      "status": 401,
      "title": "Unauthorized",
      "type": "/problems/unauthorized"
    }
    "#);
}

async fn an_invalid_token_is_401(b: Backend) {
    let t = TestApp::new(b).await;
    let r = t.get("/users/me", Some("not.a.jwt")).await;
    assert_problem_json!(r, 401, @r#"
    {
      "code": "unauthorized",
      "detail": "invalid access token",
      "status": 401,
      "title": "Unauthorized",
      "type": "/problems/unauthorized"
    }
    "#);
}

/// A wrong password and an unknown e-mail get the same answer.
async fn a_wrong_password_is_401(b: Backend) {
    let t = TestApp::new(b).await;
    let ada = json!({"name": "Ada", "email": "ada@example.com", "password": "password123"});
    assert_eq!(t.post("/auth/register", None, ada).await.status, StatusCode::CREATED);
    let r = t.post("/auth/login", None, json!({"email": "ada@example.com", "password": "nope-nope"})).await;
    assert_problem_json!(r, 401, @r#"
    {
      "code": "unauthorized",
      "detail": "invalid e-mail or password",
      "status": 401,
      "title": "Unauthorized",
      "type": "/problems/unauthorized"
    }
    "#);
}

async fn a_role_without_the_right_is_403(b: Backend) {
    let t = TestApp::new(b).await;
    let attendee = t.user("attendee").await.token;
    let r = t.post("/events", Some(&attendee), event_body("Not mine to make")).await;
    assert_problem_json!(r, 403, @r#"
    {
      "code": "forbidden",
      "detail": "only organizers and admins may create events",
      "status": 403,
      "title": "Forbidden",
      "type": "/problems/forbidden"
    }
    "#);
}

async fn an_unknown_event_is_404(b: Backend) {
    let t = TestApp::new(b).await;
    let r = t.get(&format!("/events/{}", Uuid::now_v7()), None).await;
    assert_problem_json!(r, 404, @r#"
    {
      "code": "not_found",
      "detail": "event not found",
      "status": 404,
      "title": "Not Found",
      "type": "/problems/not_found"
    }
    "#);
}

async fn an_unknown_route_is_404(b: Backend) {
    let t = TestApp::new(b).await;
    let r = t.get("/no/such/path", None).await;
    assert_problem_json!(r, 404, @r#"
    {
      "code": "not_found",
      "detail": "no such path",
      "status": 404,
      "title": "Not Found",
      "type": "/problems/not_found"
    }
    "#);
}

async fn a_method_the_route_lacks_is_405(b: Backend) {
    let t = TestApp::new(b).await;
    let r = t.call("PUT", "/events", None, None).await;
    assert_problem_json!(r, 405, @r#"
    {
      "code": "method_not_allowed",
      "detail": "this method is not allowed on this path",
      "status": 405,
      "title": "Method Not Allowed",
      "type": "/problems/method_not_allowed"
    }
    "#);
}

/// The refusal names the taken seats and suggests the nearest available ones.
async fn a_seat_already_held_is_409_naming_the_seats(b: Backend) {
    let t = TestApp::new(b).await;
    let ev = t.seated_event(json!({})).await.id;
    let a = t.user("attendee").await.token;
    let bob = t.user("attendee").await.token;
    let held = t.post("/reservations", Some(&a), json!({"event_id": ev, "seat_numbers": [1, 2]})).await;
    assert_eq!(held.status, StatusCode::CREATED, "{}", held.body);
    let r = t.post("/reservations", Some(&bob), json!({"event_id": ev, "seat_numbers": [2, 3]})).await;
    assert_problem_json!(r, 409, @r#"
    {
      "available_nearby": [
        4,
        5,
        6,
        7,
        8
      ],
      "code": "seats_taken",
      "detail": "seats 2 are not available",
      "status": 409,
      "taken": [
        2
      ],
      "title": "Conflict",
      "type": "/problems/seats_taken"
    }
    "#);
}

async fn an_email_already_registered_is_409(b: Backend) {
    let t = TestApp::new(b).await;
    let ada = json!({"name": "Ada", "email": "ada@example.com", "password": "password123"});
    assert_eq!(t.post("/auth/register", None, ada).await.status, StatusCode::CREATED);
    let again = json!({"name": "B", "email": "ADA@example.com", "password": "password456"});
    let r = t.post("/auth/register", None, again).await;
    assert_problem_json!(r, 409, @r#"
    {
      "code": "email_taken",
      "detail": "an account with this e-mail already exists",
      "status": 409,
      "title": "Conflict",
      "type": "/problems/email_taken"
    }
    "#);
}

async fn a_second_application_is_409(b: Backend) {
    let t = TestApp::new(b).await;
    let org = t.user("organizer").await.token;
    let ev = t.event(&org, json!({"name": "School Festival", "start_time": "2030-07-01T10:00:00Z"})).await;
    let tt = json!({"name": "Student", "price": "0", "quota": 5, "requires_approval": true});
    let tt = t.post(&format!("/events/{ev}/ticket-types"), Some(&org), tt).await;
    assert_eq!(tt.status, StatusCode::CREATED, "{}", tt.body);
    let apply = json!({"ticket_type_id": tt.body["ticket_type_id"], "guest_names": ["Aiko"]});
    let a = t.user("attendee").await.token;
    let first = t.post(&format!("/events/{ev}/applications"), Some(&a), apply.clone()).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    let r = t.post(&format!("/events/{ev}/applications"), Some(&a), apply).await;
    assert_problem_json!(r, 409, @r#"
    {
      "code": "already_applied",
      "detail": "you already have an application for this ticket type waiting for a decision",
      "status": 409,
      "title": "Conflict",
      "type": "/problems/already_applied"
    }
    "#);
}

/// The same Idempotency-Key for a different request.
async fn a_reused_idempotency_key_is_409(b: Backend) {
    let t = TestApp::new(b).await;
    let a = t.user("attendee").await.token;
    let top_up = |amount: &str| {
        http::Request::post("/balance")
            .header("authorization", format!("Bearer {a}"))
            .header("content-type", "application/json")
            .header("idempotency-key", "k-1")
            .body(axum::body::Body::from(json!({"amount": amount}).to_string()))
            .unwrap()
    };
    assert_eq!(t.send(top_up("10")).await.status, StatusCode::OK);
    let r = t.send(top_up("11")).await;
    assert_problem_json!(r, 409, @r#"
    {
      "code": "idempotency_key_reused",
      "detail": "this Idempotency-Key was used for a different request",
      "status": 409,
      "title": "Conflict",
      "type": "/problems/idempotency_key_reused"
    }
    "#);
}

/// A seated event with door staff, and an attendee with 100 in the wallet who holds seat 1.
struct Sale {
    t: TestApp,
    event: SeatedEvent,
    staff: String,
    buyer: User,
    reservation_id: String,
}

async fn sale(t: TestApp, extra: Value, money: &str) -> Sale {
    let event = t.seated_event(extra).await;
    let User { id: staff_id, token: staff } = t.user("staff").await;
    let path = format!("/events/{}/staff/{staff_id}", event.id);
    assert_eq!(t.call("PUT", &path, Some(&event.organizer_token), None).await.status, StatusCode::CREATED);
    let buyer = t.user("attendee").await;
    let top_up = t.post("/balance", Some(&buyer.token), json!({"amount": money})).await;
    assert_eq!(top_up.status, StatusCode::OK, "{}", top_up.body);
    let hold = json!({"event_id": event.id, "seat_numbers": [1]});
    let hold = t.post("/reservations", Some(&buyer.token), hold).await;
    assert_eq!(hold.status, StatusCode::CREATED, "{}", hold.body);
    let reservation_id = hold.body["reservation_id"].as_str().unwrap().to_string();
    Sale { t, event, staff, buyer, reservation_id }
}

impl Sale {
    async fn pay(&self) -> Res {
        let body = json!({"reservation_id": self.reservation_id});
        self.t.post("/payments", Some(&self.buyer.token), body).await
    }

    /// Pays the hold: the ticket's code.
    async fn code(&self) -> String {
        let paid = self.pay().await;
        assert_eq!(paid.status, StatusCode::CREATED, "{}", paid.body);
        let ticket = paid.body["tickets"][0]["ticket_id"].as_str().unwrap();
        let shown = self.t.get(&format!("/tickets/{ticket}"), Some(&self.buyer.token)).await;
        shown.body["code"].as_str().unwrap().to_string()
    }

    async fn scan(&self, token: &str, code: &str, gate: &str) -> Res {
        self.t.post("/checkin", Some(token), json!({"code": code, "direction": "entry", "gate": gate})).await
    }
}

async fn a_second_entry_is_409_with_where_it_was_first_used(b: Backend) {
    let s = sale(TestApp::new(b).await, json!({}), "100").await;
    let code = s.code().await;
    assert_eq!(s.scan(&s.staff, &code, "North").await.status, StatusCode::OK);
    let r = s.scan(&s.staff, &code, "South").await;
    assert_problem_json!(r, 409, { ".first_entry_at" => "[timestamp]", ".detail" => times_masked() }, @r#"
    {
      "code": "already_inside",
      "day": 1,
      "detail": "this ticket already entered on day 1, first at [timestamp] through gate North",
      "first_entry_at": "[timestamp]",
      "first_gate": "North",
      "status": 409,
      "title": "Conflict",
      "type": "/problems/already_inside"
    }
    "#);
}

async fn a_payment_short_of_money_is_402(b: Backend) {
    let s = sale(TestApp::new(b).await, json!({}), "49.99").await;
    let r = s.pay().await;
    assert_problem_json!(r, 402, @r#"
    {
      "code": "insufficient_balance",
      "detail": "the balance 49.99 does not cover 50.00",
      "status": 402,
      "title": "Payment Required",
      "type": "/problems/insufficient_balance"
    }
    "#);
}

async fn a_lapsed_hold_is_410(b: Backend) {
    let s = sale(TestApp::new(b).await, json!({"hold_seconds": 60}), "100").await;
    s.t.clock.advance(61);
    let r = s.pay().await;
    assert_problem_json!(r, 410, @r#"
    {
      "code": "hold_expired",
      "detail": "the hold expired before payment; reserve again",
      "status": 410,
      "title": "Gone",
      "type": "/problems/hold_expired"
    }
    "#);
}

async fn a_forged_ticket_code_is_422(b: Backend) {
    let s = sale(TestApp::new(b).await, json!({}), "100").await;
    let r = s.scan(&s.staff, "NOTATICKET", "North").await;
    assert_problem_json!(r, 422, @r#"
    {
      "code": "invalid_code",
      "detail": "this is not a ticket code",
      "status": 422,
      "title": "Unprocessable Entity",
      "type": "/problems/invalid_code"
    }
    "#);
}

/// Door staff of another event scanning this event's ticket: refused, naming the ticket's event.
async fn another_events_ticket_is_403_naming_that_event(b: Backend) {
    let s = sale(TestApp::new(b).await, json!({}), "100").await;
    let code = s.code().await;
    let elsewhere = sale(s.t, json!({"name": "Elsewhere"}), "100").await;
    let r = elsewhere.scan(&elsewhere.staff, &code, "North").await;
    assert_eq!(r.body["event_id"], json!(s.event.id));
    assert_problem_json!(r, 403, { ".event_id" => "[event_id]" }, @r#"
    {
      "code": "wrong_event",
      "detail": "this ticket is for another event: Concert",
      "event_id": "[event_id]",
      "event_name": "Concert",
      "status": 403,
      "title": "Forbidden",
      "type": "/problems/wrong_event"
    }
    "#);
}

async fn too_many_sign_ins_are_429(b: Backend) {
    let limits = RateLimits { window_secs: 60, login_per_email: 3, login_per_ip: 100, ..Default::default() };
    let t = TestApp::with_limits(b, limits).await;
    let wrong = json!({"email": "ada@example.com", "password": "wrong-wrong"});
    for _ in 0..3 {
        assert_eq!(t.post("/auth/login", None, wrong.clone()).await.status, StatusCode::UNAUTHORIZED);
    }
    let r = t.post("/auth/login", None, wrong).await;
    assert!(r.headers.contains_key("retry-after"));
    assert_problem_json!(r, 429, @r#"
    {
      "code": "rate_limited",
      "detail": "too many attempts; try again later",
      "status": 429,
      "title": "Too Many Requests",
      "type": "/problems/rate_limited"
    }
    "#);
}
