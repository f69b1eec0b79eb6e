//! The event chat on the event page: who sees it, sending from the form (with and without
//! htmx), and the long poll that brings others' messages, edits and removals.

use std::time::{Duration, Instant};

use axum::body::Body;
use http::{Request, StatusCode};
use uuid::Uuid;

use tessera_app::booking::ReserveInput;
use tessera_app::chats::SendInput;
use tessera_app::domain::Role;
use tessera_app::domain::id::{ChatId, MessageId};
use tessera_app::{App, Principal};
use tessera_store::Backend;

use crate::both;
use crate::pages::{Visitor, form_token, location, sign_up, text};
use crate::support::{Res, TestApp};

both!(
    the_event_chat_shows_to_its_members_only,
    the_chat_form_sends_once_and_escapes,
    the_long_poll_brings_new_edited_and_removed_messages,
    members_remove_their_own_and_the_organizer_any,
);

/// An event with a message from its organizer, and a signed-up visitor.
struct Chatroom<'a> {
    t: &'a TestApp,
    event: Uuid,
    organizer: Principal,
    visitor: Visitor<'a>,
}

async fn chatroom(t: &TestApp) -> Chatroom<'_> {
    let ev = t.seated_event(serde_json::json!({"name": "Chat Night"})).await;
    let me = t.get("/users/me", Some(&ev.organizer_token)).await;
    let organizer = Principal {
        user_id: me.body["user_id"].as_str().unwrap().parse::<Uuid>().unwrap().into(),
        role: Role::Organizer,
    };
    say(&t.app, &organizer, ev.id, "Doors open at six").await;
    let (visitor, _) = sign_up(t, "Hana Fan").await;
    Chatroom { t, event: ev.id, organizer, visitor }
}

async fn say(app: &App, who: &Principal, ev: Uuid, body: &str) -> MessageId {
    let input = SendInput { body: Some(body.into()), ..Default::default() };
    app.send_message(who, ChatId::from(ev), input).await.unwrap().0.message_id
}

/// Buys a seat for the visitor (who then is in the event's chat).
async fn buy_for(t: &TestApp, v: &mut Visitor<'_>, ev: Uuid, seat: i64) -> Principal {
    let me = v.api("GET", "/users/me", None, None).await;
    let p = Principal {
        user_id: me.body["user_id"].as_str().unwrap().parse::<Uuid>().unwrap().into(),
        role: Role::Attendee,
    };
    t.app.charge(&p, Some("100")).await.unwrap();
    let input =
        ReserveInput { event_id: Some(ev.into()), seat_numbers: Some(vec![seat]), ..Default::default() };
    let h = t.app.reserve(&p, &input).await.unwrap();
    t.app.pay(&p, Some(h.reservation.reservation_id), None, None).await.unwrap();
    p
}

/// The `after` the page's long poll starts from.
fn poll_after(html: &str) -> i64 {
    let at = html.find("/chat?after=").expect("the chat's long poll in the page") + "/chat?after=".len();
    html[at..].split('"').next().unwrap().parse().unwrap()
}

/// A form post as htmx sends it.
async fn htmx_post(v: &Visitor<'_>, t: &TestApp, path: &str, fields: &[(&str, &str)]) -> Res {
    let body = form_urlencoded::Serializer::new(String::new()).extend_pairs(fields).finish();
    let cookies = v.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ");
    let req = Request::post(path)
        .header("cookie", cookies)
        .header("hx-request", "true")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(body))
        .unwrap();
    t.send(req).await
}

async fn the_event_chat_shows_to_its_members_only(b: Backend) {
    let t = TestApp::new(b).await;
    let Chatroom { t, event: ev, mut visitor, .. } = chatroom(&t).await;
    let page = format!("/e/{ev}");
    // Signed out: an invitation to sign in, nothing of the chat.
    let mut anon = Visitor::new(t);
    let html = text(&anon.get(&page).await);
    assert!(html.contains("Sign in to read the event chat") && !html.contains("Doors open"), "{html}");
    assert_eq!(anon.get(&format!("{page}/chat?after=0")).await.status, StatusCode::UNAUTHORIZED);
    // Signed in without a ticket: not in the chat, and its poll and form say it does not exist.
    let html = text(&visitor.get(&page).await);
    assert!(html.contains("Chat opens to ticket holders") && !html.contains("Doors open"), "{html}");
    assert_eq!(visitor.get(&format!("{page}/chat?after=0")).await.status, StatusCode::NOT_FOUND);
    let r = visitor.submit(&page, &format!("{page}/chat"), &[("body", "let me in")]).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", text(&r));
    // With a ticket: the organizer's message, by name, and the form.
    buy_for(t, &mut visitor, ev, 4).await;
    let html = text(&visitor.get(&page).await);
    assert!(html.contains("Doors open at six") && html.contains("A organizer"), "{html}");
    assert!(html.contains(r#"id="chat-form""#) && poll_after(&html) >= 1, "{html}");
    // In Japanese too.
    let mut ja = Visitor::new(t);
    ja.lang = Some("ja");
    ja.cookies = visitor.cookies.clone();
    assert!(text(&ja.get(&page).await).contains("イベントチャット"));
}

async fn the_chat_form_sends_once_and_escapes(b: Backend) {
    let t = TestApp::new(b).await;
    let Chatroom { t, event: ev, mut visitor, .. } = chatroom(&t).await;
    buy_for(t, &mut visitor, ev, 5).await;
    let page = format!("/e/{ev}");
    let form = format!("{page}/chat");
    // Without its token the form is refused, and nothing is sent.
    let r = visitor.post_raw(&form, &[("body", "forged"), ("csrf_token", "forged")]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // Without scripts: sent, then back to the chat; the text is shown as text.
    let r =
        visitor.submit(&page, &form, &[("body", "Hi <script>alert(1)</script>"), ("client_id", "c-1")]).await;
    assert_eq!((r.status, location(&r)), (StatusCode::SEE_OTHER, format!("{page}#chat").as_str()));
    let html = text(&visitor.get(&page).await);
    assert!(
        html.contains("Hi &#60;script&#62;alert(1)&#60;/script&#62;") || html.contains("Hi &lt;script&gt;"),
        "{html}"
    );
    assert!(!html.contains("<script>alert(1)"), "escaped");
    assert!(html.contains("Hana Fan (you)"), "{html}");
    // From htmx: the same client id again (a double click) is still one message, and the
    // answer is a fresh form with a new id. (The ids are matched as attribute values: the
    // form's action holds the event's time-ordered UUID, which can contain "c-2" itself.)
    let token = form_token(&html);
    let fields = [("body", "Hi again"), ("client_id", "c-2"), ("csrf_token", token.as_str())];
    for _ in 0..2 {
        let r = htmx_post(&visitor, t, &form, &fields).await;
        assert_eq!(r.status, StatusCode::OK);
        let fragment = text(&r);
        assert!(
            fragment.starts_with("<form id=\"chat-form\"") && !fragment.contains("value=\"c-2\""),
            "{fragment}"
        );
        assert!(!fragment.contains("<html"), "a fragment, not a page");
    }
    let html = text(&visitor.get(&page).await);
    assert_eq!(html.matches("Hi again").count(), 1, "{html}");
    // A refusal keeps the text and the id, and says why, in the form.
    let fields = [("body", "   "), ("client_id", "c-3"), ("csrf_token", token.as_str())];
    let fragment = text(&htmx_post(&visitor, t, &form, &fields).await);
    assert!(fragment.contains("role=\"alert\"") && fragment.contains("value=\"c-3\""), "{fragment}");
}

async fn the_long_poll_brings_new_edited_and_removed_messages(b: Backend) {
    let t = TestApp::new(b).await;
    let Chatroom { t, event: ev, organizer, mut visitor } = chatroom(&t).await;
    buy_for(t, &mut visitor, ev, 6).await;
    let page = format!("/e/{ev}");
    let after = poll_after(&text(&visitor.get(&page).await));
    // Nothing new yet: the poll waits until the organizer writes, then answers at once.
    let started = Instant::now();
    let poll = format!("{page}/chat?after={after}");
    let writes = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        say(&t.app, &organizer, ev, "Encore at nine").await
    };
    let (r, encore) = tokio::join!(visitor.get(&poll), writes);
    assert!(started.elapsed() < Duration::from_secs(10), "woken by the message, not the 25 s timeout");
    let fragment = text(&r);
    assert!(fragment.contains(r#"hx-swap-oob="beforeend:#chat-log""#) && fragment.contains("Encore at nine"));
    let next = poll_after(&fragment);
    assert!(next > after, "{fragment}");
    // The organizer removes it: the next answer replaces it in place.
    t.app.delete_message(&organizer, ChatId::from(ev), encore).await.unwrap();
    let fragment = text(&visitor.get(&format!("{page}/chat?after={next}")).await);
    assert!(fragment.contains(&format!(r#"id="m-{encore}""#)), "{fragment}");
    assert!(fragment.contains(r#"hx-swap-oob="outerHTML""#) && fragment.contains("(message removed)"));
    assert!(!fragment.contains("Encore at nine") && !fragment.contains("beforeend"), "{fragment}");
    assert!(poll_after(&fragment) > next);
    // A poll that asks for nonsense is refused with the reason.
    for bad in ["-1", "x"] {
        let r = visitor.get(&format!("{page}/chat?after={bad}")).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}");
        assert!(text(&r).contains("change number"), "{}", text(&r));
    }
}

async fn members_remove_their_own_and_the_organizer_any(b: Backend) {
    let t = TestApp::new(b).await;
    let Chatroom { t, event: ev, organizer, mut visitor } = chatroom(&t).await;
    let hana = buy_for(t, &mut visitor, ev, 7).await;
    let (mut ken, _) = sign_up(t, "Ken Holder").await;
    buy_for(t, &mut ken, ev, 8).await;
    let mine = say(&t.app, &hana, ev, "Mine to remove").await;
    let also_mine = say(&t.app, &hana, ev, "Also mine").await;
    let theirs = say(&t.app, &organizer, ev, "The organizer's").await;
    let page = format!("/e/{ev}");
    let remove = |id: MessageId| format!("{page}/chat/{id}/delete");
    // Hana may remove her own messages, not the organizer's; Ken none of hers.
    let html = text(&visitor.get(&page).await);
    assert!(html.contains(&remove(mine)) && !html.contains(&remove(theirs)), "{html}");
    assert!(!text(&ken.get(&page).await).contains(&remove(mine)));
    let r = ken.submit(&page, &remove(mine), &[]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", text(&r));
    let r = visitor.post_raw(&remove(mine), &[("csrf_token", "forged")]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // The organizer, signed in on the pages, may remove anyone's.
    let org_token = t.app.access_token(organizer.user_id, Role::Organizer).unwrap();
    let email = t.get("/users/me", Some(&org_token)).await.body["email"].as_str().unwrap().to_string();
    let mut org = Visitor::new(t);
    let r = org.submit("/signin", "/signin", &[("email", &email), ("password", "password123")]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", text(&r));
    assert!(text(&org.get(&page).await).contains(&remove(mine)));
    let r = org.submit(&page, &remove(mine), &[]).await;
    assert_eq!((r.status, location(&r)), (StatusCode::SEE_OTHER, format!("{page}#chat").as_str()));
    let html = text(&visitor.get(&page).await);
    assert!(!html.contains("Mine to remove") && html.contains("(message removed)"), "{html}");
    assert!(!html.contains(&remove(mine)), "nothing left to remove");
    // From htmx the answer is empty: the long poll brings the removal to the page.
    let token = form_token(&html);
    let r = htmx_post(&visitor, t, &remove(also_mine), &[("csrf_token", token.as_str())]).await;
    assert_eq!((r.status, &r.body), (StatusCode::OK, &serde_json::Value::Null), "an empty answer");
    assert!(!text(&visitor.get(&page).await).contains("Also mine"));
}
