//! Live delivery over real WebSockets on loopback: two clients see each other's messages in
//! commit order, a client that reconnects gets exactly what it missed, typing and read markers
//! and presence reach the others, and (PostgreSQL) two server instances deliver across through
//! LISTEN/NOTIFY.

use std::net::SocketAddr;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use http::StatusCode;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message as Frame;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use uuid::Uuid;

use tessera_app::chats::ChatConfig;
use tessera_app::domain::Role;
use tessera_app::{AppConfig, Principal};
use tessera_store::Backend;

use crate::both;
use crate::chats::{festival, send};
use crate::support::{TestApp, User};

both!(
    two_clients_see_each_others_messages_in_commit_order,
    a_reconnecting_client_gets_exactly_what_it_missed,
    typing_read_markers_and_presence_reach_the_others,
    the_upgrade_is_authenticated_and_limited,
    slow_consumers_are_disconnected,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(tessera_pg), ignore = "set TESSERA_TEST_DATABASE_URL to run on PostgreSQL")]
async fn two_instances_deliver_across_through_postgres() {
    let f = festival(TestApp::new(Backend::Postgres).await).await;
    let second = f.t.second_instance().await;
    let (one, two) = (f.t.serve().await, second.serve().await);
    // A listens on the first instance, B on the second; each sends through the other's.
    let mut a = Client::connect(one, &f.a).await;
    let mut b = Client::connect(two, &f.b).await;
    a.follow(f.event, None).await;
    b.follow(f.event, None).await;
    for i in 0..5 {
        let (t, who) = if i % 2 == 0 { (&second, &f.a) } else { (&f.t, &f.b) };
        assert_eq!(send(t, f.event, who, json!({"body": format!("m{i}")})).await.status, StatusCode::CREATED);
    }
    let want: Vec<String> = (0..5).map(|i| format!("m{i}")).collect();
    assert_eq!(a.bodies(5).await, want);
    assert_eq!(b.bodies(5).await, want);
}

/// A WebSocket client of the live endpoint.
struct Client {
    ws: tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
}

impl Client {
    /// Connects with the token in the query, as a browser does.
    async fn connect(addr: SocketAddr, who: &User) -> Client {
        let url = format!("ws://{addr}/ws?access_token={}", who.token);
        let (ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
        Client { ws }
    }

    /// Connects with an Authorization header.
    async fn connect_with_header(addr: SocketAddr, who: &User) -> Client {
        let mut req = format!("ws://{addr}/ws").into_client_request().unwrap();
        req.headers_mut().insert("authorization", format!("Bearer {}", who.token).parse().unwrap());
        let (ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
        Client { ws }
    }

    async fn send(&mut self, v: Value) {
        self.ws.send(Frame::Text(v.to_string().into())).await.unwrap();
    }

    /// The next JSON frame (within 5 s).
    async fn next(&mut self) -> Value {
        loop {
            let frame = tokio::time::timeout(Duration::from_secs(5), self.ws.next())
                .await
                .expect("a frame within 5 s")
                .expect("the connection open")
                .unwrap();
            match frame {
                Frame::Text(t) => return serde_json::from_str(t.as_str()).unwrap(),
                Frame::Close(c) => panic!("closed: {c:?}"),
                _ => {}
            }
        }
    }

    /// The next frame of a type (others skipped).
    async fn next_of(&mut self, kind: &str) -> Value {
        loop {
            let v = self.next().await;
            if v["type"] == kind {
                return v;
            }
        }
    }

    /// Follows a chat; the chat's current change number.
    async fn follow(&mut self, chat: Uuid, after: Option<i64>) -> i64 {
        self.send(json!({"type": "follow", "chat_id": chat, "after": after})).await;
        let v = self.next_of("followed").await;
        assert_eq!(v["chat_id"], chat.to_string(), "{v}");
        v["seq"].as_i64().unwrap()
    }

    /// The next `n` message frames.
    async fn messages(&mut self, n: usize) -> Vec<Value> {
        let mut out = Vec::new();
        while out.len() < n {
            out.push(self.next_of("message").await);
        }
        out
    }

    async fn bodies(&mut self, n: usize) -> Vec<String> {
        self.messages(n).await.iter().map(|m| m["message"]["body"].as_str().unwrap().to_string()).collect()
    }

    /// Whether another frame comes within a short while.
    async fn quiet(&mut self) -> bool {
        tokio::time::timeout(Duration::from_millis(300), self.ws.next()).await.is_err()
    }
}

async fn two_clients_see_each_others_messages_in_commit_order(b: Backend) {
    let config = AppConfig {
        chat: ChatConfig { messages_per_second: 100, ..Default::default() },
        ..Default::default()
    };
    let f = festival(TestApp::with_config(b, config).await).await;
    let addr = f.t.serve().await;
    let mut a = Client::connect_with_header(addr, &f.a).await;
    let mut bb = Client::connect(addr, &f.b).await;
    assert_eq!(a.follow(f.event, None).await, 0);
    bb.follow(f.event, None).await;
    // Both send at once, many times: each client sees every message once, in commit order.
    let mut tasks = Vec::new();
    for i in 0..20 {
        let (router_t, who, chat) =
            (f.t.router(), if i % 2 == 0 { f.a.clone() } else { f.b.clone() }, f.event);
        tasks.push(tokio::spawn(async move {
            use tower::ServiceExt;
            let req = http::Request::post(format!("/chats/{chat}/messages"))
                .header("authorization", format!("Bearer {}", who.token))
                .header("content-type", "application/json")
                .body(axum::body::Body::from(json!({"body": format!("m{i}")}).to_string()))
                .unwrap();
            router_t.oneshot(req).await.unwrap().status()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), StatusCode::CREATED);
    }
    let seqs = |ms: &[Value]| ms.iter().map(|m| m["message"]["seq"].as_i64().unwrap()).collect::<Vec<_>>();
    let (from_a, from_b) = (a.messages(20).await, bb.messages(20).await);
    assert_eq!(seqs(&from_a), (1..=20).collect::<Vec<i64>>());
    assert_eq!(seqs(&from_b), seqs(&from_a));
    assert!(from_a.iter().all(|m| m["change"] == "created" && m["chat_id"] == f.event.to_string()));
    assert!(a.quiet().await, "nothing twice");
}

async fn a_reconnecting_client_gets_exactly_what_it_missed(b: Backend) {
    let f = festival(TestApp::new(b).await).await;
    let addr = f.t.serve().await;
    let mut bb = Client::connect(addr, &f.b).await;
    bb.follow(f.event, None).await;
    let first = send(&f.t, f.event, &f.a, json!({"body": "one"})).await.body;
    let seen = bb.messages(1).await;
    let last = seen[0]["message"]["change_seq"].as_i64().unwrap();
    drop(bb);
    // While B is away: two messages, an edit of the first, one deleted.
    send(&f.t, f.event, &f.a, json!({"body": "two"})).await;
    let three = send(&f.t, f.event, &f.a, json!({"body": "three"})).await.body;
    let at = |m: &Value| format!("/chats/{}/messages/{}", f.event, m["message_id"].as_str().unwrap());
    f.t.call("PATCH", &at(&first), Some(&f.a.token), Some(json!({"body": "one (edited)"}))).await;
    f.t.call("DELETE", &at(&three), Some(&f.a.token), None).await;
    let mut bb = Client::connect(addr, &f.b).await;
    assert_eq!(bb.follow(f.event, Some(last)).await, 5);
    let missed = bb.messages(3).await;
    let got: Vec<(String, String)> = missed
        .iter()
        .map(|m| {
            (m["change"].as_str().unwrap().to_string(), m["message"]["body"].as_str().unwrap().to_string())
        })
        .collect();
    assert_eq!(
        got,
        [
            ("created".into(), "two".into()),
            ("edited".into(), "one (edited)".into()),
            ("deleted".into(), String::new())
        ]
    );
    assert!(bb.quiet().await, "exactly what was missed");
    // And then live again.
    send(&f.t, f.event, &f.a, json!({"body": "four"})).await;
    assert_eq!(bb.bodies(1).await, ["four"]);
}

async fn typing_read_markers_and_presence_reach_the_others(b: Backend) {
    let f = festival(TestApp::new(b).await).await;
    let addr = f.t.serve().await;
    let mut a = Client::connect(addr, &f.a).await;
    a.follow(f.event, None).await;
    let mut bb = Client::connect(addr, &f.b).await;
    bb.follow(f.event, None).await;
    let p = a.next_of("presence").await;
    assert_eq!(
        (p["user_id"].as_str(), p["online"].as_bool()),
        (Some(f.b.id.to_string().as_str()), Some(true))
    );
    bb.send(json!({"type": "typing", "chat_id": f.event})).await;
    assert_eq!(a.next_of("typing").await["user_id"], f.b.id.to_string());
    send(&f.t, f.event, &f.a, json!({"body": "read me"})).await;
    bb.messages(1).await;
    bb.send(json!({"type": "read", "chat_id": f.event, "seq": 1})).await;
    let r = a.next_of("read").await;
    assert_eq!((r["user_id"].as_str(), r["seq"].as_i64()), (Some(f.b.id.to_string().as_str()), Some(1)));
    // Someone opening a chat with B tells B's connection.
    let r = f.t.post("/chats", Some(&f.a.token), json!({"kind": "direct", "member_ids": [f.b.id]})).await;
    assert_eq!(bb.next_of("joined").await["chat_id"], r.body["chat_id"]);
    // B leaves: A sees B offline.
    drop(bb);
    let p = a.next_of("presence").await;
    assert_eq!(p["online"], false);
    // Bad frames and chats one is not in are answered with an error frame.
    a.send(json!({"type": "dance"})).await;
    assert_eq!(a.next_of("error").await["code"], "bad_frame");
    a.send(json!({"type": "follow", "chat_id": Uuid::now_v7()})).await;
    assert_eq!(a.next_of("error").await["status"], 404);
    a.send(json!({"type": "ping"})).await;
    a.next_of("pong").await;
}

async fn the_upgrade_is_authenticated_and_limited(b: Backend) {
    let config = AppConfig {
        chat: ChatConfig { connections_per_user: 2, ..Default::default() },
        ..Default::default()
    };
    let f = festival(TestApp::with_config(b, config).await).await;
    let addr = f.t.serve().await;
    // No token, a bad token: 401 before any upgrade.
    let refused = |url: String| async move {
        match tokio_tungstenite::connect_async(url).await {
            Err(tokio_tungstenite::tungstenite::Error::Http(res)) => res.status(),
            other => panic!("connected: {:?}", other.map(|_| ())),
        }
    };
    assert_eq!(refused(format!("ws://{addr}/ws")).await, StatusCode::UNAUTHORIZED);
    assert_eq!(refused(format!("ws://{addr}/ws?access_token=nonsense")).await, StatusCode::UNAUTHORIZED);
    // Two connections per person here; the third is refused until one closes.
    let one = Client::connect(addr, &f.a).await;
    let _two = Client::connect(addr, &f.a).await;
    assert_eq!(
        refused(format!("ws://{addr}/ws?access_token={}", f.a.token)).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    drop(one);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let _three = Client::connect(addr, &f.a).await;
    // A plain GET is told to upgrade.
    f.t.get("/ws", Some(&f.a.token)).await.assert_problem(426, None);
    f.t.get("/ws", None).await.assert_problem(401, None);
}

/// A connection whose deliveries pile up past its queue is told to go (the socket loop closes
/// it with 4008) instead of being buffered without bound.
async fn slow_consumers_are_disconnected(b: Backend) {
    let config =
        AppConfig { chat: ChatConfig { outbox_capacity: 4, ..Default::default() }, ..Default::default() };
    let f = festival(TestApp::with_config(b, config).await).await;
    let principal = |u: &User| Principal { user_id: u.id.into(), role: Role::Attendee };
    // A connection that keeps up is not told to go. (Its first typing also shows the
    // instance's PostgreSQL listener is up: typing is not stored, so none sent before is seen.)
    let mut quick = f.t.app.live(&principal(&f.b)).await.unwrap();
    quick.follow(f.event.into(), None).await.unwrap();
    let quick_alarm = quick.too_slow();
    for _ in 0..20 {
        let e = loop {
            f.t.app.typing(&principal(&f.a), f.event.into()).await.unwrap();
            if let Ok(e) = tokio::time::timeout(Duration::from_millis(500), quick.next()).await {
                break e.unwrap().unwrap();
            }
        };
        assert!(matches!(e, tessera_app::live::LiveEvent::Typing { .. }), "{e:?}");
    }
    assert!(tokio::time::timeout(Duration::from_millis(200), quick_alarm.wait()).await.is_err());
    drop(quick);
    // B's other connection reads nothing while A types twenty times.
    let mut slow = f.t.app.live(&principal(&f.b)).await.unwrap();
    slow.follow(f.event.into(), None).await.unwrap();
    let alarm = slow.too_slow();
    for _ in 0..20 {
        f.t.app.typing(&principal(&f.a), f.event.into()).await.unwrap();
    }
    tokio::time::timeout(Duration::from_secs(5), alarm.wait())
        .await
        .expect("the slow connection is told to go");
}
