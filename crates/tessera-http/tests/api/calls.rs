//! Calls (seed 001's StartCall and EndCall): start, answer, decline, end, missed, busy, the
//! history, who may see a call, ICE servers with TURN credentials, and WebRTC signaling relayed
//! over the parties' WebSockets.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use http::StatusCode;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message as Frame;
use uuid::Uuid;

use tessera_app::AppConfig;
use tessera_app::calls::CallConfig;
use tessera_store::Backend;

use crate::both;
use crate::chats::festival;
use crate::support::{TestApp, User};

both!(
    a_call_rings_is_answered_and_ends,
    calls_are_declined_busy_and_checked,
    an_unanswered_call_is_missed,
    ice_servers_carry_turn_credentials,
    signals_reach_only_the_other_party,
);

async fn call(t: &TestApp, from: &User, to: &User) -> crate::support::Res {
    t.post("/calls", Some(&from.token), json!({"receiver_id": to.id})).await
}

fn id(r: &crate::support::Res) -> String {
    r.body["call_id"].as_str().unwrap().to_string()
}

async fn act(t: &TestApp, who: &User, call: &str, what: &str) -> crate::support::Res {
    t.post(&format!("/calls/{call}/{what}"), Some(&who.token), json!({})).await
}

async fn a_call_rings_is_answered_and_ends(b: Backend) {
    let f = festival(TestApp::new(b).await).await;
    let t = &f.t;
    let r = call(t, &f.a, &f.b).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["status"], "ringing");
    assert_eq!(
        (r.body["caller"]["user_id"].as_str(), r.body["receiver"]["user_id"].as_str()),
        (Some(f.a.id.to_string().as_str()), Some(f.b.id.to_string().as_str()))
    );
    assert_eq!(r.body["receiver"]["name"], "A attendee");
    assert!(r.body["ice_servers"].is_array());
    let c = id(&r);
    // Only the two parties see it.
    assert_eq!(t.get(&format!("/calls/{c}"), Some(&f.b.token)).await.body["status"], "ringing");
    t.get(&format!("/calls/{c}"), Some(&f.org.token)).await.assert_problem(404, None);
    let admin = t.user("admin").await;
    t.get(&format!("/calls/{c}"), Some(&admin.token)).await.assert_problem(404, None);
    act(t, &f.org, &c, "end").await.assert_problem(404, None);
    // Only the receiver answers.
    act(t, &f.a, &c, "answer").await.assert_problem(403, None);
    let r = act(t, &f.b, &c, "answer").await;
    assert_eq!((r.status, r.body["status"].as_str()), (StatusCode::OK, Some("active")), "{}", r.body);
    act(t, &f.b, &c, "answer").await.assert_problem(409, None);
    t.clock.advance(42);
    let r = act(t, &f.a, &c, "end").await;
    assert_eq!(
        (r.status, r.body["status"].as_str(), r.body["duration_seconds"].as_i64()),
        (StatusCode::OK, Some("ended"), Some(42))
    );
    assert_eq!(r.body["ended_by"], f.a.id.to_string());
    // Seed 001 EndCall: already ended is 409; a call that does not exist is 404.
    act(t, &f.b, &c, "end").await.assert_problem(409, None);
    act(t, &f.a, &Uuid::now_v7().to_string(), "end").await.assert_problem(404, None);
    act(t, &f.a, "not-a-uuid", "end").await.assert_problem(404, None);
    // Both histories show it; others' are empty.
    for u in [&f.a, &f.b] {
        let h = t.get("/calls", Some(&u.token)).await;
        assert_eq!(
            (h.body["items"][0]["call_id"].as_str(), h.body["items"][0]["duration_seconds"].as_i64()),
            (Some(c.as_str()), Some(42))
        );
    }
    assert_eq!(t.get("/calls", Some(&f.org.token)).await.body["items"], json!([]));
    t.get("/calls", None).await.assert_problem(401, None);
    t.get("/calls?limit=0", Some(&f.a.token)).await.assert_problem(400, Some("limit"));
}

async fn calls_are_declined_busy_and_checked(b: Backend) {
    let f = festival(TestApp::new(b).await).await;
    let t = &f.t;
    let c = id(&call(t, &f.a, &f.b).await);
    // Either party in a live call is busy.
    call(t, &f.org, &f.b).await.assert_problem(409, None);
    call(t, &f.a, &f.org).await.assert_problem(409, None);
    act(t, &f.a, &c, "decline").await.assert_problem(403, None);
    let r = act(t, &f.b, &c, "decline").await;
    assert_eq!(r.body["status"], "declined", "{}", r.body);
    act(t, &f.b, &c, "answer").await.assert_problem(409, None);
    act(t, &f.a, &c, "end").await.assert_problem(409, None);
    // Free again: the caller may give up ringing (ended, never connected).
    let c2 = id(&call(t, &f.org, &f.b).await);
    let r = act(t, &f.org, &c2, "end").await;
    assert_eq!((r.body["status"].as_str(), r.body["duration_seconds"].as_i64()), (Some("ended"), Some(0)));
    // Bad input, unknown people, and people who share nothing.
    t.post("/calls", Some(&f.a.token), json!({})).await.assert_problem(400, Some("receiver_id"));
    t.post("/calls", Some(&f.a.token), json!({"receiver_id": f.a.id}))
        .await
        .assert_problem(400, Some("receiver_id"));
    t.post("/calls", Some(&f.a.token), json!({"receiver_id": "nope"}))
        .await
        .assert_problem(400, Some("receiver_id"));
    t.post("/calls", Some(&f.a.token), json!({"receiver_id": Uuid::now_v7()}))
        .await
        .assert_problem(404, None);
    let stranger = t.user("attendee").await;
    call(t, &f.a, &stranger).await.assert_problem(403, None);
    call(t, &stranger, &f.a).await.assert_problem(403, None);
    t.post("/calls", None, json!({"receiver_id": f.b.id})).await.assert_problem(401, None);
    // From a chat: both must be in it.
    let r = t.post("/calls", Some(&f.a.token), json!({"receiver_id": f.b.id, "chat_id": f.event})).await;
    assert_eq!(
        (r.status, r.body["chat_id"].as_str()),
        (StatusCode::CREATED, Some(f.event.to_string().as_str()))
    );
    act(t, &f.a, &id(&r), "end").await;
    t.post("/calls", Some(&f.a.token), json!({"receiver_id": stranger.id, "chat_id": f.event}))
        .await
        .assert_problem(403, None);
    t.post("/calls", Some(&stranger.token), json!({"receiver_id": f.a.id, "chat_id": f.event}))
        .await
        .assert_problem(404, None);
}

async fn an_unanswered_call_is_missed(b: Backend) {
    let config =
        AppConfig { calls: CallConfig { ring_secs: 30, ..Default::default() }, ..Default::default() };
    let f = festival(TestApp::with_config(b, config).await).await;
    let t = &f.t;
    let c = id(&call(t, &f.a, &f.b).await);
    t.clock.advance(31);
    assert_eq!(t.get("/calls", Some(&f.b.token)).await.body["items"][0]["status"], "missed");
    act(t, &f.b, &c, "answer").await.assert_problem(409, None);
    assert_eq!(t.get(&format!("/calls/{c}"), Some(&f.a.token)).await.body["status"], "missed");
    // A missed call does not keep anyone busy.
    assert_eq!(call(t, &f.b, &f.a).await.status, StatusCode::CREATED);
}

async fn ice_servers_carry_turn_credentials(b: Backend) {
    let calls = CallConfig {
        stun_urls: vec!["stun:stun.example.org:3478".into()],
        turn_urls: vec!["turn:turn.example.org:3478?transport=udp".into()],
        turn_secret: Some("turn-shared-secret".into()),
        turn_ttl_secs: 600,
        ..Default::default()
    };
    let f = festival(TestApp::with_config(b, AppConfig { calls, ..Default::default() }).await).await;
    let r = call(&f.t, &f.a, &f.b).await;
    let ice = r.body["ice_servers"].as_array().unwrap();
    assert_eq!(ice[0]["urls"], json!(["stun:stun.example.org:3478"]));
    let user = ice[1]["username"].as_str().unwrap();
    let (expiry, who) = user.split_once(':').unwrap();
    assert_eq!(who, f.a.id.to_string());
    assert_eq!(expiry.parse::<i64>().unwrap(), f.t.app.now().unix_timestamp() + 600);
    let (_, expected) =
        tessera_app::calls::turn_credentials("turn-shared-secret", f.a.id.into(), expiry.parse().unwrap());
    assert_eq!(ice[1]["credential"], expected);
    let r = f.t.get("/calls/ice-servers", Some(&f.b.token)).await;
    assert!(r.body["ice_servers"][1]["username"].as_str().unwrap().ends_with(&f.b.id.to_string()));
    f.t.get("/calls/ice-servers", None).await.assert_problem(401, None);
}

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn ws(addr: std::net::SocketAddr, who: &User) -> Ws {
    tokio_tungstenite::connect_async(format!("ws://{addr}/ws?access_token={}", who.token)).await.unwrap().0
}

async fn next_of(ws: &mut Ws, kind: &str) -> Value {
    loop {
        let frame =
            tokio::time::timeout(Duration::from_secs(5), ws.next()).await.expect("a frame").unwrap().unwrap();
        if let Frame::Text(t) = frame {
            let v: Value = serde_json::from_str(t.as_str()).unwrap();
            if v["type"] == kind {
                return v;
            }
        }
    }
}

/// The next `call` frame with this status (the caller's own devices hear it ring too).
async fn call_frame(ws: &mut Ws, status: &str) -> Value {
    loop {
        let v = next_of(ws, "call").await;
        if v["call"]["status"] == status {
            return v;
        }
    }
}

async fn signals_reach_only_the_other_party(b: Backend) {
    let f = festival(TestApp::new(b).await).await;
    let addr = f.t.serve().await;
    let (mut a, mut bb, mut org) = (ws(addr, &f.a).await, ws(addr, &f.b).await, ws(addr, &f.org).await);
    let c = id(&call(&f.t, &f.a, &f.b).await);
    // The receiver's connection rings.
    let ring = next_of(&mut bb, "call").await;
    assert_eq!(
        (ring["call"]["call_id"].as_str(), ring["call"]["status"].as_str()),
        (Some(c.as_str()), Some("ringing"))
    );
    act(&f.t, &f.b, &c, "answer").await;
    call_frame(&mut a, "active").await;
    // Offer, answer and a candidate cross between the two, as sent.
    let offer = json!({"type": "offer", "sdp": "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n"});
    let send = |kind: &str, data: Value| {
        json!({"type": "signal", "call_id": c, "kind": kind, "data": data}).to_string()
    };
    a.send(Frame::Text(send("offer", offer.clone()).into())).await.unwrap();
    let got = next_of(&mut bb, "signal").await;
    assert_eq!(
        (got["kind"].as_str(), &got["data"], got["from"].as_str()),
        (Some("offer"), &offer, Some(f.a.id.to_string().as_str()))
    );
    bb.send(Frame::Text(send("answer", json!({"type": "answer", "sdp": "v=0"})).into())).await.unwrap();
    assert_eq!(next_of(&mut a, "signal").await["kind"], "answer");
    let candidate =
        json!({"candidate": "candidate:1 1 udp 2122260223 127.0.0.1 5000 typ host", "sdpMid": "0"});
    for _ in 0..3 {
        a.send(Frame::Text(send("ice", candidate.clone()).into())).await.unwrap();
    }
    for _ in 0..3 {
        assert_eq!(next_of(&mut bb, "signal").await["data"], candidate);
    }
    // Someone else's signal is refused, and reaches nobody; so is an unknown kind.
    org.send(Frame::Text(send("offer", offer.clone()).into())).await.unwrap();
    assert_eq!(next_of(&mut org, "error").await["status"], 404);
    a.send(Frame::Text(send("dance", offer.clone()).into())).await.unwrap();
    assert_eq!(next_of(&mut a, "error").await["status"], 400);
    // Once ended, nothing more is relayed.
    act(&f.t, &f.b, &c, "end").await;
    call_frame(&mut a, "ended").await;
    a.send(Frame::Text(send("ice", candidate).into())).await.unwrap();
    assert_eq!(next_of(&mut a, "error").await["status"], 409);
}
