//! `GET /ws`: one WebSocket per client for live chat delivery (live.rs in the app).
//!
//! Client → server, JSON text frames:
//! `{"type":"follow","chat_id":…,"after":N?}` (with `after`, the changes missed since change N
//! come first), `{"type":"unfollow","chat_id":…}`, `{"type":"typing","chat_id":…}`,
//! `{"type":"read","chat_id":…,"seq":N}`, `{"type":"signal","call_id":…,"kind":"offer|answer|ice",
//! "data":…}` (WebRTC signaling, relayed to the other party of a live call), `{"type":"ping"}`.
//! Server → client: `followed {chat_id, seq}`, `message {chat_id, change, message}` (each change
//! of a followed chat once, in commit order), `typing`, `read`, `presence {online}`, `joined`
//! (someone opened a chat with you), `call {call}` (a call of yours rings, was answered, declined,
//! ended or missed), `signal {call_id, from, kind, data}`, `pong`, and `error {code, status, detail}` for a request
//! that failed. A connection that falls too far behind is closed with code 4008; reconnect and
//! follow again with the last `change_seq` seen.

use std::time::Duration;

use axum::extract::ws::{
    CloseFrame, Message as Frame, WebSocket, WebSocketUpgrade, rejection::WebSocketUpgradeRejection,
};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use tessera_app::AppError;
use tessera_app::live::{Live, LiveEvent};
use tessera_domain::id::{CallId, ChatId, UserId};
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::calls::CallBody;
use super::chats::MessageBody;
use crate::AppState;
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::bearer_token;

/// The WebSocket read and write buffers, per connection.
const SOCKET_BUFFER: usize = 4 * 1024;
/// Largest frame a client may send.
const MAX_CLIENT_FRAME: usize = 16 * 1024;
/// A send to the client that takes longer than this means it is not reading.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// How often the server pings an idle connection (proxies close silent ones).
const PING_EVERY: Duration = Duration::from_secs(25);

/// The close code and reason for a client that does not keep up.
const TOO_SLOW: (u16, &str) = (4008, "too slow: reconnect and follow with your last change_seq");

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(live))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LiveQuery {
    /// The access token, for browsers (which cannot set headers on a WebSocket); an
    /// `Authorization: Bearer` header works too.
    pub access_token: Option<String>,
}

/// Live chat delivery over a WebSocket
///
/// Upgrade with `Authorization: Bearer <token>` or `?access_token=`. Then follow chats and get
/// their messages (sent, edited, deleted) in commit order, typing, read markers and presence;
/// reconnecting with `after` (the last change seen) delivers exactly what was missed.
#[utoipa::path(get, path = "/ws", tag = "chats", security(("bearer" = [])),
    params(LiveQuery),
    responses(
        (status = 101, description = "Switching to the WebSocket protocol"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 426, description = "Not a WebSocket upgrade request", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many live connections for this user", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn live(
    State(s): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<LiveQuery>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> ApiResult<Response> {
    let token = match q.access_token.as_deref() {
        Some(t) if !t.is_empty() => t,
        _ => bearer_token(&headers)?,
    };
    let who = s.app.authenticate(token).await?;
    let upgrade = upgrade.map_err(|_| {
        ApiError::new(StatusCode::UPGRADE_REQUIRED, "websocket_required", "connect with a WebSocket upgrade")
    })?;
    let live = s.app.live(&who).await?;
    Ok(upgrade
        // Most connections sit idle: small buffers (tungstenite's default is 128 KiB each way)
        // keep 10,000 of them in tens of megabytes rather than gigabytes.
        .read_buffer_size(SOCKET_BUFFER)
        .write_buffer_size(SOCKET_BUFFER)
        .max_message_size(MAX_CLIENT_FRAME)
        .max_frame_size(MAX_CLIENT_FRAME)
        .on_upgrade(move |socket| serve(socket, live))
        .into_response())
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ClientFrame {
    Follow {
        chat_id: ChatId,
        after: Option<i64>,
    },
    Unfollow {
        chat_id: ChatId,
    },
    Typing {
        chat_id: ChatId,
    },
    Read {
        chat_id: ChatId,
        seq: Option<i64>,
    },
    /// A WebRTC signal for the other party of a live call: `kind` offer, answer or ice; `data`
    /// any JSON (the SDP or candidate), relayed as sent.
    Signal {
        call_id: CallId,
        kind: String,
        data: serde_json::Value,
    },
    Ping,
}

#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ServerFrame {
    Followed { chat_id: ChatId, seq: i64 },
    Message { chat_id: ChatId, change: String, message: MessageBody },
    Typing { chat_id: ChatId, user_id: UserId },
    Read { chat_id: ChatId, user_id: UserId, seq: i64 },
    Presence { chat_id: ChatId, user_id: UserId, online: bool },
    Joined { chat_id: ChatId },
    Call { call: CallBody },
    Signal { call_id: CallId, from: UserId, kind: String, data: serde_json::Value },
    Pong,
    Error { code: String, status: u16, detail: String },
}

impl From<LiveEvent> for ServerFrame {
    fn from(e: LiveEvent) -> Self {
        match e {
            LiveEvent::Message(m) => {
                ServerFrame::Message { chat_id: m.chat_id, change: m.change().to_string(), message: m.into() }
            }
            LiveEvent::Typing { chat_id, user_id } => ServerFrame::Typing { chat_id, user_id },
            LiveEvent::Read { chat_id, user_id, seq } => ServerFrame::Read { chat_id, user_id, seq },
            LiveEvent::Presence { chat_id, user_id, online } => {
                ServerFrame::Presence { chat_id, user_id, online }
            }
            LiveEvent::Joined { chat_id } => ServerFrame::Joined { chat_id },
            LiveEvent::Call(c) => ServerFrame::Call { call: CallBody::new(c, tessera_domain::clock::now()) },
            LiveEvent::Signal(s) => ServerFrame::Signal {
                call_id: s.call_id,
                from: s.from_id,
                kind: s.kind.to_string(),
                data: serde_json::from_str(&s.data).unwrap_or(serde_json::Value::Null),
            },
        }
    }
}

fn error_frame(e: AppError) -> ServerFrame {
    let e = ApiError::from(e);
    ServerFrame::Error { code: e.code.to_string(), status: e.status.as_u16(), detail: e.detail.clone() }
}

/// Runs one connection until the client leaves, stops reading, or falls too far behind.
async fn serve(mut socket: WebSocket, mut live: Live) {
    let too_slow = live.too_slow();
    let mut ping = tokio::time::interval(PING_EVERY);
    ping.tick().await;
    let close = loop {
        let frame = tokio::select! {
            incoming = socket.recv() => match incoming {
                Some(Ok(Frame::Text(text))) => handle(&mut live, text.as_str()).await,
                Some(Ok(Frame::Binary(_))) => Some(ServerFrame::Error {
                    code: "bad_frame".into(), status: 400, detail: "send JSON text frames".into(),
                }),
                Some(Ok(_)) => None,
                Some(Err(_)) | None => break None,
            },
            event = live.next() => match event {
                Some(Ok(e)) => Some(ServerFrame::from(e)),
                Some(Err(e)) => Some(error_frame(e)),
                None => break Some((1012, "server restarting")),
            },
            () = too_slow.wait() => break Some(TOO_SLOW),
            _ = ping.tick() => {
                match tokio::time::timeout(SEND_TIMEOUT, socket.send(Frame::Ping(Vec::new().into()))).await {
                    Ok(Ok(())) => None,
                    _ => break None,
                }
            }
        };
        let Some(frame) = frame else { continue };
        let Ok(text) = serde_json::to_string(&frame) else { continue };
        tokio::select! {
            sent = tokio::time::timeout(SEND_TIMEOUT, socket.send(Frame::Text(text.into()))) => match sent {
                Ok(Ok(())) => {}
                Ok(Err(_)) => break None,
                Err(_) => break Some(TOO_SLOW),
            },
            () = too_slow.wait() => break Some(TOO_SLOW),
        }
    };
    if let Some((code, reason)) = close {
        let frame = CloseFrame { code, reason: reason.into() };
        let _ = tokio::time::timeout(Duration::from_secs(1), socket.send(Frame::Close(Some(frame)))).await;
    }
}

/// Answers one client frame (`None`: nothing to answer).
async fn handle(live: &mut Live, text: &str) -> Option<ServerFrame> {
    let req: ClientFrame = match serde_json::from_str(text) {
        Ok(r) => r,
        Err(e) => {
            return Some(ServerFrame::Error { code: "bad_frame".into(), status: 400, detail: e.to_string() });
        }
    };
    let done = match req {
        ClientFrame::Follow { chat_id, after } => {
            live.follow(chat_id, after).await.map(|seq| Some(ServerFrame::Followed { chat_id, seq }))
        }
        ClientFrame::Unfollow { chat_id } => {
            live.unfollow(chat_id).await;
            Ok(None)
        }
        ClientFrame::Typing { chat_id } => live.typing(chat_id).await.map(|()| None),
        // The marker comes back to every follower of the chat, this connection included.
        ClientFrame::Read { chat_id, seq } => live.mark_read(chat_id, seq).await.map(|_| None),
        ClientFrame::Signal { call_id, kind, data } => {
            live.relay(call_id, &kind, data.to_string()).await.map(|()| None)
        }
        ClientFrame::Ping => Ok(Some(ServerFrame::Pong)),
    };
    done.unwrap_or_else(|e| Some(error_frame(e)))
}
