//! Calls: `/calls` (start, history), `/calls/{call_id}` with answer, decline and end. WebRTC
//! signaling travels over the parties' WebSockets (`GET /ws`, `signal` frames).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use tessera_app::calls::IceServer;
use tessera_domain::id::{CallId, ChatId, UserId};
use tessera_domain::records::{Call, CallMove};
use time::OffsetDateTime;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::Paged;
use super::chats::PageQuery;
use crate::AppState;
use crate::error::{ApiResult, Problem};
use crate::extract::{ApiJson, ApiQuery, Auth, path_id};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(start_call, list_calls))
        .routes(routes!(ice_servers))
        .routes(routes!(get_call))
        .routes(routes!(answer_call))
        .routes(routes!(decline_call))
        .routes(routes!(end_call))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PartyBody {
    pub user_id: UserId,
    pub name: String,
}

/// An ICE server for `RTCPeerConnection` (`iceServers`).
#[derive(Debug, Serialize, ToSchema)]
pub struct IceServerBody {
    pub urls: Vec<String>,
    /// TURN: `<expiry>:<user_id>`, valid until the expiry.
    pub username: Option<String>,
    pub credential: Option<String>,
}

impl From<IceServer> for IceServerBody {
    fn from(s: IceServer) -> Self {
        IceServerBody { urls: s.urls, username: s.username, credential: s.credential }
    }
}

/// A call as its parties see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct CallBody {
    pub call_id: CallId,
    /// ringing, active, declined, ended or missed.
    pub status: String,
    pub caller: PartyBody,
    pub receiver: PartyBody,
    pub chat_id: Option<ChatId>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub answered_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub ended_at: Option<OffsetDateTime>,
    pub ended_by: Option<UserId>,
    /// Seconds connected (so far, while active).
    pub duration_seconds: i64,
    /// For starting and answering: the ICE servers to connect through.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ice_servers: Option<Vec<IceServerBody>>,
}

impl CallBody {
    pub fn new(c: Call, now: OffsetDateTime) -> Self {
        CallBody {
            duration_seconds: c.duration_secs(now),
            call_id: c.call_id,
            status: c.status.to_string(),
            caller: PartyBody { user_id: c.caller_id, name: c.caller_name },
            receiver: PartyBody { user_id: c.receiver_id, name: c.receiver_name },
            chat_id: c.chat_id,
            created_at: c.created_at,
            answered_at: c.answered_at,
            ended_at: c.ended_at,
            ended_by: c.ended_by,
            ice_servers: None,
        }
    }

    fn with_ice(mut self, servers: Vec<IceServer>) -> Self {
        self.ice_servers = Some(servers.into_iter().map(IceServerBody::from).collect());
        self
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct StartCallRequest {
    pub receiver_id: UserId,
    /// The chat the call is placed from (both must be in it); without one, the two must share
    /// an event.
    pub chat_id: Option<ChatId>,
}

/// Start a call (seed 001 StartCall): it rings at the receiver's live connections
#[utoipa::path(post, path = "/calls", tag = "calls", security(("bearer" = [])),
    request_body = StartCallRequest,
    responses(
        (status = 201, description = "Ringing: the call id, caller and receiver, and the ICE servers", body = CallBody),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "No shared event or chat", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such receiver or chat", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "One of the two is in another call", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn start_call(
    State(s): State<AppState>,
    Auth(who): Auth,
    ApiJson(b): ApiJson<StartCallRequest>,
) -> ApiResult<(StatusCode, Json<CallBody>)> {
    let c = s.app.start_call(&who, Some(b.receiver_id), b.chat_id).await?;
    let body = CallBody::new(c, s.app.now()).with_ice(s.app.ice_servers(&who));
    Ok((StatusCode::CREATED, Json(body)))
}

/// My calls, the newest first, with their states and durations
#[utoipa::path(get, path = "/calls", tag = "calls", security(("bearer" = [])),
    params(PageQuery),
    responses(
        (status = 200, body = Paged<CallBody>),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list_calls(
    State(s): State<AppState>,
    Auth(who): Auth,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> ApiResult<Json<Paged<CallBody>>> {
    let page = s.app.calls(&who, q.limit, q.cursor.as_deref()).await?;
    let now = s.app.now();
    Ok(Json(Paged::from_page(page, |c| CallBody::new(c, now))))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct IceServersBody {
    pub ice_servers: Vec<IceServerBody>,
}

/// The ICE servers to connect calls through (TURN credentials made for the caller, short-lived)
#[utoipa::path(get, path = "/calls/ice-servers", tag = "calls", security(("bearer" = [])),
    responses(
        (status = 200, body = IceServersBody),
        (status = 401, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn ice_servers(State(s): State<AppState>, Auth(who): Auth) -> ApiResult<Json<IceServersBody>> {
    let ice_servers = s.app.ice_servers(&who).into_iter().map(IceServerBody::from).collect();
    Ok(Json(IceServersBody { ice_servers }))
}

fn call_id(raw: &str) -> Result<CallId, crate::error::ApiError> {
    path_id(raw, "call")
}

/// A call of mine (404 for anyone but its two parties)
#[utoipa::path(get, path = "/calls/{call_id}", tag = "calls", security(("bearer" = [])),
    params(("call_id" = String, Path, description = "Call id (UUID)")),
    responses(
        (status = 200, body = CallBody),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_call(
    State(s): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<CallBody>> {
    let c = s.app.call(&who, call_id(&id)?).await?;
    Ok(Json(CallBody::new(c, s.app.now())))
}

async fn moved(s: &AppState, who: &tessera_app::Principal, id: &str, how: CallMove) -> ApiResult<CallBody> {
    let c = s.app.move_call(who, call_id(id)?, how).await?;
    Ok(CallBody::new(c, s.app.now()))
}

/// Answer a ringing call (its receiver)
#[utoipa::path(post, path = "/calls/{call_id}/answer", tag = "calls", security(("bearer" = [])),
    params(("call_id" = String, Path, description = "Call id (UUID)")),
    responses(
        (status = 200, description = "Active, with the ICE servers", body = CallBody),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not the receiver", body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "No longer ringing", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn answer_call(
    State(s): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<CallBody>> {
    let body = moved(&s, &who, &id, CallMove::Answer).await?.with_ice(s.app.ice_servers(&who));
    Ok(Json(body))
}

/// Decline a ringing call (its receiver)
#[utoipa::path(post, path = "/calls/{call_id}/decline", tag = "calls", security(("bearer" = [])),
    params(("call_id" = String, Path, description = "Call id (UUID)")),
    responses(
        (status = 200, body = CallBody),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not the receiver", body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "No longer ringing", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn decline_call(
    State(s): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<CallBody>> {
    Ok(Json(moved(&s, &who, &id, CallMove::Decline).await?))
}

/// End a call (seed 001 EndCall): either party, ringing or active
#[utoipa::path(post, path = "/calls/{call_id}/end", tag = "calls", security(("bearer" = [])),
    params(("call_id" = String, Path, description = "Call id (UUID)")),
    responses(
        (status = 200, body = CallBody),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such call (or not a party to it)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already over", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn end_call(
    State(s): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<CallBody>> {
    Ok(Json(moved(&s, &who, &id, CallMove::End).await?))
}
