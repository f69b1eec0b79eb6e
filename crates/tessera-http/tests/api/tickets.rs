//! Tickets and their signed codes: views and QR images, who may see them, key rotation and
//! retirement, and revocation by refund.

use axum::body::Body;
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::json;
use tessera_domain::id::{EventId, TicketId};
use tower::ServiceExt;
use uuid::Uuid;

use tessera_app::booking::ReserveInput;
use tessera_app::domain::Role;
use tessera_app::domain::ticket_code::CodeError;
use tessera_app::ticket_codes::CodeRefusal;
use tessera_app::{App, AppConfig, Principal};
use tessera_store::Backend;

use crate::both;
use crate::support::{SeatedEvent, TestApp, User, decode_qr};

both!(
    a_ticket_shows_one_verifiable_code,
    the_qr_images_and_the_pdf_carry_the_code,
    my_tickets_come_newest_first_in_pages,
    ticket_reads_refuse_bad_input,
    ticket_authorization,
    keys_are_listed_without_their_secret,
    a_rotated_key_signs_new_codes_and_old_ones_still_open_the_door,
    the_signing_key_and_unknown_keys_cannot_be_retired,
    retiring_a_key_gives_its_tickets_new_codes,
    another_master_key_cannot_open_the_events_keys,
    refund_revokes_the_code,
    reissue_and_cancellation_revoke,
    resends_are_limited_and_closed_windows_swept
);

/// A seat bought by a fresh attendee.
struct Bought {
    holder_token: String,
    holder: Principal,
    ticket_id: TicketId,
}

/// Buys `seat` of `ev` for a fresh attendee.
async fn buy_seat(t: &TestApp, ev: Uuid, seat: i64) -> Bought {
    let User { id, token } = t.user("attendee").await;
    let p = Principal { user_id: id.into(), role: Role::Attendee };
    t.app.charge(&p, Some("100")).await.unwrap();
    let input =
        ReserveInput { event_id: Some(ev.into()), seat_numbers: Some(vec![seat]), ..Default::default() };
    let h = t.app.reserve(&p, &input).await.unwrap();
    let r = t.app.pay(&p, Some(h.reservation.reservation_id), None, None).await.unwrap();
    Bought { holder_token: token, holder: p, ticket_id: r.tickets[0].ticket_id }
}

/// An answer read as bytes.
struct Raw {
    status: StatusCode,
    content_type: String,
    bytes: Vec<u8>,
}

/// GET with a token, answering the status, content type and raw body.
async fn raw(t: &TestApp, path: &str, token: &str) -> Raw {
    let req =
        Request::get(path).header("authorization", format!("Bearer {token}")).body(Body::empty()).unwrap();
    let res = t.router().oneshot(req).await.unwrap();
    let content_type =
        res.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let status = res.status();
    Raw { status, content_type, bytes: res.into_body().collect().await.unwrap().to_bytes().to_vec() }
}

/// The code a ticket shows its holder.
async fn shown_code(t: &TestApp, ticket_id: TicketId, token: &str) -> String {
    t.get(&format!("/tickets/{ticket_id}"), Some(token)).await.body["code"].as_str().unwrap().to_string()
}

/// A seated event at Hall A and its ticket for seat 7.
struct HallA {
    t: TestApp,
    event_id: EventId,
    seat_7: Bought,
}

async fn hall_a(b: Backend) -> HallA {
    let t = TestApp::new(b).await;
    let event_id = t.seated_event(json!({"end_time": "2030-05-02T23:00:00Z", "location": "Hall A"})).await.id;
    let seat_7 = buy_seat(&t, event_id, 7).await;
    HallA { t, event_id: event_id.into(), seat_7 }
}

async fn a_ticket_shows_one_verifiable_code(b: Backend) {
    let HallA { t, event_id: ev, seat_7: Bought { holder_token: token, ticket_id, .. } } = hall_a(b).await;
    let list = t.get("/users/me/tickets", Some(&token)).await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.body);
    let items = list.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    let item = &items[0];
    assert_eq!(item["ticket_id"], json!(ticket_id));
    assert_eq!((item["seat_number"].as_i64(), item["status"].as_str()), (Some(7), Some("valid")));
    assert_eq!((item["event_name"].as_str(), item["location"].as_str()), (Some("Concert"), Some("Hall A")));
    let code = item["code"].as_str().unwrap().to_string();
    assert_eq!(code.len(), 196);
    // The same code every time it is shown.
    let one = t.get(&format!("/tickets/{ticket_id}"), Some(&token)).await;
    assert_eq!(one.status, StatusCode::OK);
    assert_eq!(one.body["code"].as_str(), Some(code.as_str()));
    // It verifies, and names this ticket.
    let verified = t.app.verify_ticket_code(&code).await.unwrap();
    assert_eq!((verified.ticket_id, verified.event_id), (ticket_id, ev));
}

async fn the_qr_images_and_the_pdf_carry_the_code(b: Backend) {
    let HallA { t, seat_7: Bought { holder_token: token, ticket_id, .. }, .. } = hall_a(b).await;
    let code = shown_code(&t, ticket_id, &token).await;
    let svg = raw(&t, &format!("/tickets/{ticket_id}/qr.svg"), &token).await;
    assert_eq!((svg.status, svg.content_type.as_str()), (StatusCode::OK, "image/svg+xml"));
    assert!(String::from_utf8(svg.bytes).unwrap().contains("<svg"));
    let png = raw(&t, &format!("/tickets/{ticket_id}/qr.png"), &token).await;
    assert_eq!((png.status, png.content_type.as_str()), (StatusCode::OK, "image/png"));
    assert_eq!(decode_qr(&png.bytes), code);
    let pdf = raw(&t, &format!("/tickets/{ticket_id}/ticket.pdf"), &token).await;
    assert_eq!((pdf.status, pdf.content_type.as_str()), (StatusCode::OK, "application/pdf"));
    // What it says is read back by a PDF reader in `printed_names_read_back_as_written`.
    let pdf = pdf.bytes;
    assert!(pdf.starts_with(b"%PDF") && pdf.windows(6).any(|w| w == b"/Image"), "a PDF with the QR");
}

/// The printable ticket prints a Japanese name as written, in a subset of Noto Sans CJK embedded
/// in it: poppler (the PDF library of most Linux viewers) reads the text back and finds the font
/// embedded, and the QR on the page it renders still decodes to the ticket's code.
#[tokio::test]
#[cfg_attr(not(tessera_cjk_pdf), ignore = "install poppler-utils and fonts-noto-cjk (.ci/run does)")]
async fn printed_names_read_back_as_written() {
    let t = TestApp::new(Backend::Sqlite).await;
    let event_id = t.seated_event(json!({"name": "東京学園祭 2027", "location": "体育館 Gym"})).await.id;
    let Bought { holder_token: token, holder, ticket_id } = buy_seat(&t, event_id, 3).await;
    let rename =
        tessera_domain::records::UserChanges { name: Some("山田 花子".into()), ..Default::default() };
    t.db.store.update_user(holder.user_id, &rename, t.app.now()).await.unwrap();
    let code = shown_code(&t, ticket_id, &token).await;
    let pdf = raw(&t, &format!("/tickets/{ticket_id}/ticket.pdf"), &token).await.bytes;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ticket.pdf");
    std::fs::write(&file, &pdf).unwrap();
    let run = |program: &str, args: &[&std::ffi::OsStr]| {
        let out = std::process::Command::new(program).args(args).output().unwrap();
        assert!(out.status.success(), "{program}: {}", String::from_utf8_lossy(&out.stderr));
        out.stdout
    };
    let text = String::from_utf8(run("pdftotext", &[file.as_os_str(), "-".as_ref()])).unwrap();
    for expected in ["東京学園祭 2027", "体育館 Gym", "Seat 3 - 山田 花子", &ticket_id.to_string()]
    {
        assert!(text.contains(expected), "{expected:?} in {text:?}");
    }
    assert!(!text.contains('?'), "nothing printed as '?': {text:?}");
    let fonts = String::from_utf8(run("pdffonts", &[file.as_os_str()])).unwrap();
    let font = fonts.lines().find(|l| l.contains("NotoSansCJK")).unwrap_or_else(|| panic!("{fonts}"));
    // emb, sub, uni: embedded, a subset, with a map back to the text.
    assert!(font.contains("yes yes yes"), "{fonts}");
    assert!(pdf.len() < 64 * 1024, "a subset, not the whole font: {} bytes", pdf.len());
    // The page rendered in grey (PGM: a header of three numbers, then one byte per pixel).
    let pgm = run("pdftoppm", &["-r".as_ref(), "100".as_ref(), "-gray".as_ref(), file.as_os_str()]);
    let mut header = pgm.split(|b| b.is_ascii_whitespace()).filter(|f| !f.is_empty()).take(4);
    let mut number = || std::str::from_utf8(header.next().unwrap()).unwrap().to_string();
    let (magic, w, h) = (number(), number().parse::<usize>().unwrap(), number().parse::<usize>().unwrap());
    assert_eq!(magic, "P5");
    let pixels = &pgm[pgm.len() - w * h..];
    let mut img = rqrr::PreparedImage::prepare_from_greyscale(w, h, |x, y| pixels[y * w + x]);
    let grids = img.detect_grids();
    assert_eq!(grids.len(), 1, "one QR symbol on the page");
    assert_eq!(grids[0].decode().unwrap().1, code);
}

/// Paging: a second ticket, one per page.
async fn my_tickets_come_newest_first_in_pages(b: Backend) {
    let HallA { t, event_id: ev, seat_7: Bought { holder_token: token, holder: p, ticket_id: first_bought } } =
        hall_a(b).await;
    let input = ReserveInput { event_id: Some(ev), seat_numbers: Some(vec![8]), ..Default::default() };
    let h = t.app.reserve(&p, &input).await.unwrap();
    t.app.pay(&p, Some(h.reservation.reservation_id), None, None).await.unwrap();
    let first = t.get("/users/me/tickets?limit=1", Some(&token)).await;
    assert_eq!(first.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(first.body["items"][0]["seat_number"].as_i64(), Some(8), "newest first");
    let cursor = first.body["next_cursor"].as_str().unwrap();
    let second = t.get(&format!("/users/me/tickets?limit=1&cursor={cursor}"), Some(&token)).await;
    assert_eq!(second.body["items"][0]["ticket_id"], json!(first_bought));
    assert!(second.body["next_cursor"].is_null());
}

async fn ticket_reads_refuse_bad_input(b: Backend) {
    let HallA { t, seat_7: Bought { holder_token: token, .. }, .. } = hall_a(b).await;
    t.get("/users/me/tickets?limit=0", Some(&token)).await.assert_problem(400, Some("limit"));
    t.get("/users/me/tickets?limit=x", Some(&token)).await.assert_problem(400, Some("limit"));
    t.get("/users/me/tickets?cursor=nope", Some(&token)).await.assert_problem(400, Some("cursor"));
    t.get("/tickets/not-a-uuid", Some(&token)).await.assert_problem(404, None);
    t.get(&format!("/tickets/{}", Uuid::now_v7()), Some(&token)).await.assert_problem(404, None);
    t.get(&format!("/tickets/{}/qr.png", Uuid::now_v7()), Some(&token)).await.assert_problem(404, None);
}

async fn ticket_authorization(b: Backend) {
    let t = TestApp::new(b).await;
    let SeatedEvent { id: ev, organizer_token: org_t } = t.seated_event(json!({})).await;
    let ticket_id = buy_seat(&t, ev, 1).await.ticket_id;
    let path = format!("/tickets/{ticket_id}");
    // The event's organizer and admins see it; other people cannot learn it exists.
    assert_eq!(t.get(&path, Some(&org_t)).await.status, StatusCode::OK);
    let admin = t.user("admin").await.token;
    assert_eq!(t.get(&path, Some(&admin)).await.status, StatusCode::OK);
    let other = t.user("attendee").await.token;
    let other_org = t.user("organizer").await.token;
    let staff = t.user("staff").await.token;
    for who in [&other, &other_org, &staff] {
        t.get(&path, Some(who)).await.assert_problem(404, None);
        t.get(&format!("{path}/qr.svg"), Some(who)).await.assert_problem(404, None);
        t.get(&format!("{path}/qr.png"), Some(who)).await.assert_problem(404, None);
    }
    assert!(t.get("/users/me/tickets", Some(&other)).await.body["items"].as_array().unwrap().is_empty());
    t.get(&format!("{path}/ticket.pdf"), Some(&other)).await.assert_problem(404, None);
    for p in [
        path.clone(),
        format!("{path}/qr.svg"),
        format!("{path}/qr.png"),
        format!("{path}/ticket.pdf"),
        "/users/me/tickets".into(),
    ] {
        t.get(&p, None).await.assert_problem(401, None);
    }
    // Keys: the organizer and admins only.
    let keys = format!("/events/{ev}/keys");
    for who in [&other, &other_org, &staff] {
        t.get(&keys, Some(who)).await.assert_problem(403, None);
        t.post(&format!("{keys}/rotate"), Some(who), json!({})).await.assert_problem(403, None);
        t.post(&format!("{keys}/1/retire"), Some(who), json!({})).await.assert_problem(403, None);
    }
    t.get(&keys, None).await.assert_problem(401, None);
    t.post(&format!("{keys}/rotate"), None, json!({})).await.assert_problem(401, None);
    assert_eq!(t.get(&keys, Some(&admin)).await.status, StatusCode::OK);
    let missing = format!("/events/{}/keys", Uuid::now_v7());
    t.get(&missing, Some(&admin)).await.assert_problem(404, None);
    t.post(&format!("{missing}/rotate"), Some(&admin), json!({})).await.assert_problem(404, None);
}

/// A seated event whose key 1 signed seat 1's code before the organizer rotated in key 2,
/// which signed seat 2's.
struct Rotated {
    t: TestApp,
    organizer_token: String,
    /// `/events/{event_id}/keys`
    keys: String,
    /// The answer to the rotation.
    rotated: crate::support::Res,
    old: Bought,
    old_code: String,
    new: Bought,
    new_code: String,
}

async fn rotated(b: Backend) -> Rotated {
    let t = TestApp::new(b).await;
    let SeatedEvent { id: ev, organizer_token } = t.seated_event(json!({})).await;
    let old = buy_seat(&t, ev, 1).await;
    let old_code = shown_code(&t, old.ticket_id, &old.holder_token).await;
    let keys = format!("/events/{ev}/keys");
    let rotated = t.post(&format!("{keys}/rotate"), Some(&organizer_token), json!({})).await;
    let new = buy_seat(&t, ev, 2).await;
    let new_code = shown_code(&t, new.ticket_id, &new.holder_token).await;
    Rotated { t, organizer_token, keys, rotated, old, old_code, new, new_code }
}

async fn keys_are_listed_without_their_secret(b: Backend) {
    let t = TestApp::new(b).await;
    let SeatedEvent { id: ev, organizer_token: org_t } = t.seated_event(json!({})).await;
    buy_seat(&t, ev, 1).await;
    let listed = t.get(&format!("/events/{ev}/keys"), Some(&org_t)).await;
    assert_eq!(listed.status, StatusCode::OK);
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(listed.body["items"][0]["status"].as_str(), Some("signing"));
    assert!(listed.body["items"][0].get("sealed_secret").is_none());
}

/// Rotate: key 2 signs new codes; key 1's codes still open the door.
async fn a_rotated_key_signs_new_codes_and_old_ones_still_open_the_door(b: Backend) {
    let Rotated { t, rotated, old, old_code, new_code, .. } = rotated(b).await;
    assert_eq!(rotated.status, StatusCode::CREATED, "{}", rotated.body);
    assert_eq!(
        (rotated.body["key_id"].as_i64(), rotated.body["status"].as_str()),
        (Some(2), Some("signing"))
    );
    assert!(t.app.verify_ticket_code(&old_code).await.is_ok());
    assert!(t.app.verify_ticket_code(&new_code).await.is_ok());
    // The old ticket keeps its code while key 1 verifies.
    assert_eq!(shown_code(&t, old.ticket_id, &old.holder_token).await, old_code);
}

/// The signing key cannot be retired; unknown keys are 404.
async fn the_signing_key_and_unknown_keys_cannot_be_retired(b: Backend) {
    let Rotated { t, organizer_token: org_t, keys, .. } = rotated(b).await;
    t.post(&format!("{keys}/2/retire"), Some(&org_t), json!({})).await.assert_problem(409, None);
    t.post(&format!("{keys}/99/retire"), Some(&org_t), json!({})).await.assert_problem(404, None);
    t.post(&format!("{keys}/x/retire"), Some(&org_t), json!({})).await.assert_problem(404, None);
}

/// Retire key 1: its codes stop working and the ticket gets a new code from key 2.
async fn retiring_a_key_gives_its_tickets_new_codes(b: Backend) {
    let Rotated { t, organizer_token: org_t, keys, old, old_code, .. } = rotated(b).await;
    let r = t.post(&format!("{keys}/1/retire"), Some(&org_t), json!({})).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    assert!(matches!(
        t.app.verify_ticket_code(&old_code).await,
        Err(CodeRefusal::Code(CodeError::UnknownKey))
    ));
    let reissued = shown_code(&t, old.ticket_id, &old.holder_token).await;
    assert_ne!(reissued, old_code);
    assert!(t.app.verify_ticket_code(&reissued).await.is_ok());
    t.post(&format!("{keys}/1/retire"), Some(&org_t), json!({})).await.assert_problem(409, None);
    let listed = t.get(&keys, Some(&org_t)).await;
    let states: Vec<_> =
        listed.body["items"].as_array().unwrap().iter().map(|k| k["status"].clone()).collect();
    assert_eq!(states, vec![json!("retired"), json!("signing")]);
}

/// A different master key cannot open this event's keys: issuing fails rather than signing
/// with something else.
async fn another_master_key_cannot_open_the_events_keys(b: Backend) {
    let Rotated { t, organizer_token: org_t, keys, new, .. } = rotated(b).await;
    let r = t.post(&format!("{keys}/1/retire"), Some(&org_t), json!({})).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    let other = App::new(
        t.db.store.clone(),
        AppConfig {
            tickets: tessera_app::ticket_codes::TicketConfig { master_key: Some("11".repeat(32)) },
            ..Default::default()
        },
        t.clock.clone(),
    )
    .await
    .unwrap();
    let p = Principal { user_id: Uuid::nil().into(), role: Role::Admin };
    assert!(other.ticket(&p, new.ticket_id).await.is_err());
}

async fn refund_revokes_the_code(b: Backend) {
    let t = TestApp::new(b).await;
    let ev = t.seated_event(json!({})).await.id;
    let Bought { holder_token: token, holder: p, ticket_id } = buy_seat(&t, ev, 3).await;
    let code = t.get(&format!("/tickets/{ticket_id}"), Some(&token)).await.body["code"]
        .as_str()
        .unwrap()
        .to_string();
    let purchase_id = t.app.ticket(&p, ticket_id).await.unwrap().ticket.purchase_id;
    let r = t.post(&format!("/purchases/{purchase_id}/refund"), Some(&token), json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(matches!(t.app.verify_ticket_code(&code).await, Err(CodeRefusal::Code(CodeError::Revoked))));
    assert_eq!(t.db.store.revoked_tickets(ev.into()).await.unwrap(), vec![ticket_id]);
    let shown = t.get(&format!("/tickets/{ticket_id}"), Some(&token)).await;
    assert_eq!(shown.body["status"].as_str(), Some("void"));
    assert!(shown.body["code"].is_null() && shown.body["voided_at"].is_string());
    t.get(&format!("/tickets/{ticket_id}/qr.png"), Some(&token)).await.assert_problem(410, None);
    t.get(&format!("/tickets/{ticket_id}/ticket.pdf"), Some(&token)).await.assert_problem(410, None);
    // Forged and altered codes are refused as such.
    assert!(matches!(t.app.verify_ticket_code("HELLO").await, Err(CodeRefusal::Code(CodeError::Malformed))));
    let mut altered = code.into_bytes();
    altered[100] = if altered[100] == b'A' { b'B' } else { b'A' };
    let altered = String::from_utf8(altered).unwrap();
    assert!(t.app.verify_ticket_code(&altered).await.is_err());
}

async fn reissue_and_cancellation_revoke(b: Backend) {
    let t = TestApp::new(b).await;
    let SeatedEvent { id: ev, organizer_token: org_t } = t.seated_event(json!({})).await;
    let Bought { holder_token: token, ticket_id: old, .. } = buy_seat(&t, ev, 6).await;
    let code = |id: Uuid| {
        let (t, token) = (&t, token.clone());
        async move {
            t.get(&format!("/tickets/{id}"), Some(&token)).await.body["code"].as_str().map(str::to_string)
        }
    };
    let old_code = code(old.into()).await.unwrap();
    let other = t.user("attendee").await.token;
    t.post(&format!("/tickets/{old}/reissue"), Some(&other), json!({})).await.assert_problem(404, None);
    t.post(&format!("/tickets/{old}/reissue"), None, json!({})).await.assert_problem(401, None);
    t.post(&format!("/tickets/{}/reissue", Uuid::now_v7()), Some(&token), json!({}))
        .await
        .assert_problem(404, None);
    let r = t.post(&format!("/tickets/{old}/reissue"), Some(&token), json!({})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let new: tessera_domain::id::TicketId = r.body["ticket_id"].as_str().unwrap().parse().unwrap();
    assert_ne!(new, old);
    assert_eq!(r.body["seat_number"].as_i64(), Some(6));
    let new_code = r.body["code"].as_str().unwrap().to_string();
    assert_ne!(new_code, old_code);
    assert!(matches!(t.app.verify_ticket_code(&old_code).await, Err(CodeRefusal::Code(CodeError::Revoked))));
    assert!(t.app.verify_ticket_code(&new_code).await.is_ok());
    t.post(&format!("/tickets/{old}/reissue"), Some(&token), json!({})).await.assert_problem(410, None);
    // Cancelling the event voids every ticket it still had.
    assert_eq!(t.call("DELETE", &format!("/events/{ev}"), Some(&org_t), None).await.status, StatusCode::OK);
    assert!(matches!(t.app.verify_ticket_code(&new_code).await, Err(CodeRefusal::Code(CodeError::Revoked))));
    let mut revoked = t.db.store.revoked_tickets(ev.into()).await.unwrap();
    revoked.sort();
    let mut both = vec![old, new];
    both.sort();
    assert_eq!(revoked, both);
    assert!(code(new.into()).await.is_none(), "a void ticket shows no code");
}

/// (#21) `POST /tickets/{id}/resend` had no limit: anyone who could see a ticket could flood its
/// holder's inbox. And login rate-limit rows grew without bound: closed windows are swept.
async fn resends_are_limited_and_closed_windows_swept(b: Backend) {
    let t = TestApp::new(b).await;
    let SeatedEvent { id: ev, organizer_token: org_t } = t.seated_event(json!({})).await;
    let Bought { holder_token: token, holder, ticket_id: ticket } = buy_seat(&t, ev, 2).await;
    let path = format!("/tickets/{ticket}/resend");
    for _ in 0..3 {
        assert_eq!(t.post(&path, Some(&token), json!({})).await.status, StatusCode::ACCEPTED);
    }
    let r = t.post(&path, Some(&token), json!({})).await;
    r.assert_problem(429, None);
    assert!(r.headers.contains_key("retry-after"));
    // Per ticket, whoever asks (the organizer too).
    t.post(&path, Some(&org_t), json!({})).await.assert_problem(429, None);
    for i in 0..5 {
        t.post(
            "/auth/login",
            None,
            json!({"email": format!("nobody{i}@example.com"), "password": "x-password"}),
        )
        .await;
    }
    t.clock.advance(3600);
    assert!(t.app.resend_ticket(&holder, ticket).await.is_ok(), "a new hour");
    t.clock.advance(3600);
    let swept = t.app.sweep_expired_limits().await.unwrap();
    assert!(swept >= 7, "the login and resend windows that closed: {swept}");
    assert_eq!(t.app.sweep_expired_limits().await.unwrap(), 0);
}
