//! Chats over HTTP (seed 001's GetChatHistory and SendMessage): event chats that follow tickets,
//! direct and group chats between people who share an event, sending (idempotent by client id),
//! history and catching up, edits, tombstones, read markers, moderation, limits, long polls.

use std::time::{Duration, Instant};

use http::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use tessera_app::AppConfig;
use tessera_app::chats::ChatConfig;
use tessera_store::Backend;

use crate::both;
use crate::support::{TestApp, User};

both!(
    an_event_chat_follows_tickets,
    direct_and_group_chats_need_a_shared_event,
    sending_is_idempotent_and_404_outside,
    history_pages_newest_first_and_catches_up,
    edits_deletions_and_moderation,
    read_markers_count_unread,
    sends_per_second_are_limited,
    a_long_poll_wakes_on_the_next_message,
);

/// An event of a fresh organizer with a free general-admission type, and two attendees holding
/// a ticket each.
pub(crate) struct Festival {
    pub t: TestApp,
    pub org: User,
    pub event: Uuid,
    pub a: User,
    pub b: User,
    pub a_purchase: Uuid,
}

pub(crate) async fn festival(t: TestApp) -> Festival {
    let org = t.user("organizer").await;
    let event = t.event(&org.token, json!({"name": "Chat Fest", "start_time": "2030-07-01T10:00:00Z"})).await;
    let r = t
        .post(
            &format!("/events/{event}/ticket-types"),
            Some(&org.token),
            json!({"name": "GA", "price": "0", "quota": 50}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let ga = r.body["ticket_type_id"].as_str().unwrap().to_string();
    let (a, b) = (t.user("attendee").await, t.user("attendee").await);
    let mut purchases = Vec::new();
    for u in [&a, &b] {
        let r = t
            .post(
                &format!("/events/{event}/purchases"),
                Some(&u.token),
                json!({"ticket_type_id": ga, "ticket_quantity": 1}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        purchases.push(r.body["purchase"]["purchase_id"].as_str().unwrap().parse::<Uuid>().unwrap());
    }
    Festival { t, org, event, a, b, a_purchase: purchases[0] }
}

pub(crate) async fn send(t: &TestApp, chat: Uuid, who: &User, body: Value) -> crate::support::Res {
    t.post(&format!("/chats/{chat}/messages"), Some(&who.token), body).await
}

async fn an_event_chat_follows_tickets(b: Backend) {
    let f = festival(TestApp::new(b).await).await;
    let (t, chat) = (&f.t, f.event);
    // The holders and the organizer see the event's chat, under the event's name.
    for u in [&f.a, &f.b, &f.org] {
        let r = t.get(&format!("/chats/{chat}"), Some(&u.token)).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!((r.body["kind"].as_str(), r.body["name"].as_str()), (Some("event"), Some("Chat Fest")));
    }
    let r = t.get(&format!("/chats/{chat}"), Some(&f.org.token)).await;
    assert_eq!(r.body["moderator"], true);
    let r = t.get("/chats", Some(&f.a.token)).await;
    assert_eq!(r.body["items"][0]["chat_id"], chat.to_string(), "{}", r.body);
    // Someone without a ticket does not (404, as for a chat that does not exist).
    let c = t.user("attendee").await;
    t.get(&format!("/chats/{chat}"), Some(&c.token)).await.assert_problem(404, None);
    t.get(&format!("/chats/{chat}/messages"), Some(&c.token)).await.assert_problem(404, None);
    send(t, chat, &c, json!({"body": "let me in"})).await.assert_problem(404, None);
    assert_eq!(t.get("/chats", Some(&c.token)).await.body["items"], json!([]));
    // An admin may read and moderate every event chat.
    let admin = t.user("admin").await;
    assert_eq!(t.get(&format!("/chats/{chat}"), Some(&admin.token)).await.body["moderator"], true);
    // A refunded holder leaves the chat.
    let r = t.post(&format!("/purchases/{}/refund", f.a_purchase), Some(&f.a.token), json!({})).await;
    assert!(r.status.is_success(), "{}", r.body);
    t.get(&format!("/chats/{chat}"), Some(&f.a.token)).await.assert_problem(404, None);
    assert_eq!(t.get(&format!("/chats/{chat}"), Some(&f.b.token)).await.status, StatusCode::OK);
    // Unknown and malformed ids, and no token.
    t.get(&format!("/chats/{}", Uuid::now_v7()), Some(&f.a.token)).await.assert_problem(404, None);
    t.get("/chats/not-a-uuid", Some(&f.a.token)).await.assert_problem(404, None);
    t.get(&format!("/chats/{chat}"), None).await.assert_problem(401, None);
    t.get("/chats", None).await.assert_problem(401, None);
}

async fn direct_and_group_chats_need_a_shared_event(b: Backend) {
    let f = festival(TestApp::new(b).await).await;
    let t = &f.t;
    let r = t.post("/chats", Some(&f.a.token), json!({"kind": "direct", "member_ids": [f.b.id]})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let direct = r.body["chat_id"].as_str().unwrap().to_string();
    assert_eq!(r.body["members"].as_array().unwrap().len(), 2);
    // The pair's direct chat is one: asking again (either way round) answers it.
    let r = t.post("/chats", Some(&f.b.token), json!({"kind": "direct", "member_ids": [f.a.id]})).await;
    assert_eq!((r.status, r.body["chat_id"].as_str()), (StatusCode::OK, Some(direct.as_str())));
    let r = t
        .post(
            "/chats",
            Some(&f.a.token),
            json!({"kind": "group", "name": "Car pool", "member_ids": [f.b.id, f.org.id]}),
        )
        .await;
    assert_eq!((r.status, r.body["name"].as_str()), (StatusCode::CREATED, Some("Car pool")), "{}", r.body);
    let group = r.body["chat_id"].as_str().unwrap().to_string();
    // B sees both, with the one opened last first.
    let r = t.get("/chats", Some(&f.b.token)).await;
    let ids: Vec<&str> =
        r.body["items"].as_array().unwrap().iter().map(|c| c["chat_id"].as_str().unwrap()).collect();
    assert!(ids.contains(&direct.as_str()) && ids.contains(&group.as_str()), "{ids:?}");
    // Someone sharing no event with A: 403; no such person: 404 (seed 001's user lookups).
    let c = t.user("attendee").await;
    t.post("/chats", Some(&f.a.token), json!({"kind": "direct", "member_ids": [c.id]}))
        .await
        .assert_problem(403, None);
    t.post("/chats", Some(&f.a.token), json!({"kind": "direct", "member_ids": [Uuid::now_v7()]}))
        .await
        .assert_problem(404, None);
    // An outsider of the direct chat does not see it.
    t.get(&format!("/chats/{direct}"), Some(&c.token)).await.assert_problem(404, None);
    t.get(&format!("/chats/{direct}"), Some(&f.org.token)).await.assert_problem(404, None);
    // An admin may open a chat with anyone, but does not read others' direct chats.
    let admin = t.user("admin").await;
    let r = t.post("/chats", Some(&admin.token), json!({"kind": "direct", "member_ids": [c.id]})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    t.get(&format!("/chats/{direct}"), Some(&admin.token)).await.assert_problem(404, None);
    // Bad input names its field.
    for (body, field) in [
        (json!({"member_ids": [f.b.id]}), "kind"),
        (json!({"kind": "event", "member_ids": [f.b.id]}), "kind"),
        (json!({"kind": "direct"}), "member_ids"),
        (json!({"kind": "direct", "member_ids": [f.b.id, f.org.id]}), "member_ids"),
        (json!({"kind": "direct", "name": "x", "member_ids": [f.b.id]}), "name"),
        (json!({"kind": "group", "member_ids": [f.a.id]}), "member_ids"),
        (json!({"kind": "group", "name": "x".repeat(101), "member_ids": [f.b.id]}), "name"),
    ] {
        t.post("/chats", Some(&f.a.token), body).await.assert_problem(400, Some(field));
    }
    t.post("/chats", None, json!({"kind": "direct", "member_ids": [f.b.id]})).await.assert_problem(401, None);
}

async fn sending_is_idempotent_and_404_outside(b: Backend) {
    let f = festival(TestApp::new(b).await).await;
    let (t, chat) = (&f.t, f.event);
    let r = send(t, chat, &f.a, json!({"body": "  hello  ", "client_id": "m-1"})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(
        (r.body["body"].as_str(), r.body["seq"].as_i64(), r.body["change"].as_str()),
        (Some("hello"), Some(1), Some("created"))
    );
    let first = r.body["message_id"].clone();
    // A retry answers the same message; the chat has one.
    let r = send(t, chat, &f.a, json!({"body": "hello", "client_id": "m-1"})).await;
    assert_eq!((r.status, &r.body["message_id"]), (StatusCode::CREATED, &first));
    assert_eq!(
        t.get(&format!("/chats/{chat}/messages"), Some(&f.b.token)).await.body["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // The same client id for another text is a mistake.
    send(t, chat, &f.a, json!({"body": "bye", "client_id": "m-1"})).await.assert_problem(409, None);
    // Seed 001 SendMessage: a chat that does not exist is 404.
    send(t, Uuid::now_v7(), &f.a, json!({"body": "hi"})).await.assert_problem(404, None);
    for (body, field) in [
        (json!({}), "body"),
        (json!({"body": "   "}), "body"),
        (json!({"body": "x".repeat(4001)}), "body"),
        (json!({"body": "ok", "client_id": ""}), "client_id"),
        (json!({"body": "ok", "client_id": "has space"}), "client_id"),
    ] {
        send(t, chat, &f.a, body).await.assert_problem(400, Some(field));
    }
    assert_eq!(send(t, chat, &f.a, json!({"body": "x".repeat(4000)})).await.status, StatusCode::CREATED);
    send(t, chat, &f.a, json!({"body": 5})).await.assert_problem(400, Some("body"));
    let r = t.call("POST", &format!("/chats/{chat}/messages"), None, Some(json!({"body": "hi"}))).await;
    r.assert_problem(401, None);
}

async fn history_pages_newest_first_and_catches_up(b: Backend) {
    let f = festival(TestApp::new(b).await).await;
    let (t, chat) = (&f.t, f.event);
    for i in 1..=5 {
        assert_eq!(send(t, chat, &f.a, json!({"body": format!("m{i}")})).await.status, StatusCode::CREATED);
    }
    let url = format!("/chats/{chat}/messages");
    let r = t.get(&format!("{url}?limit=2"), Some(&f.b.token)).await;
    let bodies = |r: &crate::support::Res| -> Vec<String> {
        r.body["items"].as_array().unwrap().iter().map(|m| m["body"].as_str().unwrap().to_string()).collect()
    };
    assert_eq!(bodies(&r), ["m5", "m4"]);
    let cursor = r.body["next_cursor"].as_str().unwrap().to_string();
    let r = t.get(&format!("{url}?limit=2&cursor={cursor}"), Some(&f.b.token)).await;
    assert_eq!(bodies(&r), ["m3", "m2"]);
    let cursor = r.body["next_cursor"].as_str().unwrap().to_string();
    let r = t.get(&format!("{url}?limit=2&cursor={cursor}"), Some(&f.b.token)).await;
    assert_eq!((bodies(&r), r.body["next_cursor"].clone()), (vec!["m1".to_string()], Value::Null));
    // Catching up: what changed after change 3, oldest first.
    let r = t.get(&format!("{url}?after=3"), Some(&f.b.token)).await;
    assert_eq!(bodies(&r), ["m4", "m5"]);
    assert_eq!(t.get(&format!("{url}?after=5"), Some(&f.b.token)).await.body["items"], json!([]));
    // Seed 001 GetChatHistory: a chat that does not exist is 404.
    t.get(&format!("/chats/{}/messages", Uuid::now_v7()), Some(&f.b.token)).await.assert_problem(404, None);
    for (q, field) in [
        ("after=-1", "after"),
        ("after=x", "after"),
        ("limit=0", "limit"),
        ("cursor=nonsense", "cursor"),
        ("after=1&cursor=abc", "cursor"),
        ("wait=5", "wait"),
        ("after=1&wait=26", "wait"),
    ] {
        t.get(&format!("{url}?{q}"), Some(&f.b.token)).await.assert_problem(400, Some(field));
    }
}

async fn edits_deletions_and_moderation(b: Backend) {
    let f = festival(TestApp::new(b).await).await;
    let (t, chat) = (&f.t, f.event);
    let id = |r: &crate::support::Res| r.body["message_id"].as_str().unwrap().to_string();
    let m1 = id(&send(t, chat, &f.a, json!({"body": "first"})).await);
    let m2 = id(&send(t, chat, &f.a, json!({"body": "second"})).await);
    let at = |m: &str| format!("/chats/{chat}/messages/{m}");
    // Only the sender edits.
    let r = t.call("PATCH", &at(&m1), Some(&f.a.token), Some(json!({"body": "first!"}))).await;
    assert_eq!(
        (r.status, r.body["change"].as_str(), r.body["change_seq"].as_i64()),
        (StatusCode::OK, Some("edited"), Some(3))
    );
    t.call("PATCH", &at(&m1), Some(&f.b.token), Some(json!({"body": "no"}))).await.assert_problem(403, None);
    t.call("PATCH", &at(&m1), Some(&f.a.token), Some(json!({"body": ""})))
        .await
        .assert_problem(400, Some("body"));
    // B may not delete A's message; the organizer (moderator) may; A deletes their own.
    t.call("DELETE", &at(&m1), Some(&f.b.token), None).await.assert_problem(403, None);
    assert_eq!(t.call("DELETE", &at(&m1), Some(&f.org.token), None).await.status, StatusCode::NO_CONTENT);
    assert_eq!(t.call("DELETE", &at(&m2), Some(&f.a.token), None).await.status, StatusCode::NO_CONTENT);
    assert_eq!(
        t.call("DELETE", &at(&m2), Some(&f.a.token), None).await.status,
        StatusCode::NO_CONTENT,
        "again"
    );
    t.call("PATCH", &at(&m2), Some(&f.a.token), Some(json!({"body": "back"})))
        .await
        .assert_problem(409, None);
    // Tombstones stay in the history.
    let r = t.get(&format!("/chats/{chat}/messages"), Some(&f.b.token)).await;
    let items = r.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert!(items.iter().all(|m| m["change"] == "deleted" && m["body"] == ""), "{items:?}");
    assert_eq!(items[1]["deleted_by"], f.org.id.to_string());
    t.call("DELETE", &at(&Uuid::now_v7().to_string()), Some(&f.a.token), None)
        .await
        .assert_problem(404, None);
    // Muting: the organizer mutes A until later; A cannot send, B can; B cannot mute.
    let mute = format!("/chats/{chat}/mutes/{}", f.a.id);
    let later = json!({"until": "2100-01-01T00:00:00Z"});
    t.call("PUT", &mute, Some(&f.b.token), Some(later.clone())).await.assert_problem(403, None);
    assert_eq!(
        t.call("PUT", &mute, Some(&f.org.token), Some(later.clone())).await.status,
        StatusCode::NO_CONTENT
    );
    send(t, chat, &f.a, json!({"body": "am I muted?"})).await.assert_problem(403, None);
    assert_eq!(send(t, chat, &f.b, json!({"body": "not me"})).await.status, StatusCode::CREATED);
    t.call("PUT", &mute, Some(&f.org.token), Some(json!({"until": "2000-01-01T00:00:00Z"})))
        .await
        .assert_problem(400, Some("until"));
    t.call("PUT", &mute, Some(&f.org.token), Some(json!({}))).await.assert_problem(400, Some("until"));
    let nobody = format!("/chats/{chat}/mutes/{}", Uuid::now_v7());
    t.call("PUT", &nobody, Some(&f.org.token), Some(later.clone())).await.assert_problem(404, None);
    assert_eq!(t.call("DELETE", &mute, Some(&f.org.token), None).await.status, StatusCode::NO_CONTENT);
    assert_eq!(send(t, chat, &f.a, json!({"body": "free again"})).await.status, StatusCode::CREATED);
    // A direct chat has no moderators.
    let r = t.post("/chats", Some(&f.a.token), json!({"kind": "direct", "member_ids": [f.b.id]})).await;
    let direct = r.body["chat_id"].as_str().unwrap().to_string();
    t.call("PUT", &format!("/chats/{direct}/mutes/{}", f.b.id), Some(&f.a.token), Some(later))
        .await
        .assert_problem(400, Some("chat_id"));
}

async fn read_markers_count_unread(b: Backend) {
    let f = festival(TestApp::new(b).await).await;
    let (t, chat) = (&f.t, f.event);
    for i in 0..3 {
        send(t, chat, &f.a, json!({"body": format!("m{i}")})).await;
    }
    let unread = |r: crate::support::Res| r.body["items"][0]["unread"].as_i64();
    assert_eq!(unread(t.get("/chats", Some(&f.b.token)).await), Some(3));
    assert_eq!(unread(t.get("/chats", Some(&f.a.token)).await), Some(0), "one's own are read");
    let read = format!("/chats/{chat}/read");
    let r = t.call("PUT", &read, Some(&f.b.token), Some(json!({"seq": 2}))).await;
    assert_eq!(r.body["last_read_seq"], 2, "{}", r.body);
    assert_eq!(unread(t.get("/chats", Some(&f.b.token)).await), Some(1));
    // Markers never move back, nor past the chat's last change.
    assert_eq!(
        t.call("PUT", &read, Some(&f.b.token), Some(json!({"seq": 1}))).await.body["last_read_seq"],
        2
    );
    assert_eq!(
        t.call("PUT", &read, Some(&f.b.token), Some(json!({"seq": 99}))).await.body["last_read_seq"],
        3
    );
    assert_eq!(unread(t.get("/chats", Some(&f.b.token)).await), Some(0));
    t.call("PUT", &read, Some(&f.b.token), Some(json!({}))).await.assert_problem(400, Some("seq"));
    t.call("PUT", &read, Some(&f.b.token), Some(json!({"seq": -1}))).await.assert_problem(400, Some("seq"));
    let c = t.user("attendee").await;
    t.call("PUT", &read, Some(&c.token), Some(json!({"seq": 1}))).await.assert_problem(404, None);
}

async fn sends_per_second_are_limited(b: Backend) {
    let config =
        AppConfig { chat: ChatConfig { messages_per_second: 2, ..Default::default() }, ..Default::default() };
    let f = festival(TestApp::with_config(b, config).await).await;
    let (t, chat) = (&f.t, f.event);
    // The test clock stands still: every send is in the same second.
    for _ in 0..2 {
        assert_eq!(send(t, chat, &f.a, json!({"body": "quick"})).await.status, StatusCode::CREATED);
    }
    let r = send(t, chat, &f.a, json!({"body": "too quick"})).await;
    r.assert_problem(429, None);
    assert!(r.headers.get("retry-after").is_some(), "{:?}", r.headers);
    // Others are not held back; the next second lets A send again.
    assert_eq!(send(t, chat, &f.b, json!({"body": "me"})).await.status, StatusCode::CREATED);
    t.clock.advance(1);
    assert_eq!(send(t, chat, &f.a, json!({"body": "again"})).await.status, StatusCode::CREATED);
}

async fn a_long_poll_wakes_on_the_next_message(b: Backend) {
    let f = festival(TestApp::new(b).await).await;
    let chat = f.event;
    send(&f.t, chat, &f.a, json!({"body": "before"})).await;
    // Nothing after change 1 yet: the poll waits for the next.
    let (router, token) = (f.t.router(), f.b.token.clone());
    let started = Instant::now();
    let poll = tokio::spawn(async move {
        use tower::ServiceExt;
        let req = http::Request::get(format!("/chats/{chat}/messages?after=1&wait=10"))
            .header("authorization", format!("Bearer {token}"))
            .body(axum::body::Body::empty())
            .unwrap();
        let res = router.oneshot(req).await.unwrap();
        let bytes = http_body_util::BodyExt::collect(res.into_body()).await.unwrap().to_bytes();
        serde_json::from_slice::<Value>(&bytes).unwrap()
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!poll.is_finished(), "the poll answered before anything changed");
    send(&f.t, chat, &f.a, json!({"body": "wake up"})).await;
    let body = tokio::time::timeout(Duration::from_secs(5), poll).await.unwrap().unwrap();
    assert_eq!(body["items"][0]["body"], "wake up", "{body}");
    assert!(started.elapsed() < Duration::from_secs(5));
    // With nothing new, a short wait ends empty.
    let r = f.t.get(&format!("/chats/{chat}/messages?after=2&wait=1"), Some(&f.b.token)).await;
    assert_eq!((r.status, r.body["items"].clone()), (StatusCode::OK, json!([])));
}
