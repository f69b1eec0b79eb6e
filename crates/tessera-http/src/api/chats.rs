//! Chats: `/chats` (open, list), `/chats/{chat_id}` with its messages, read marker and mutes.
//! Live delivery is `GET /ws` (live.rs); clients without WebSockets long-poll the messages with
//! `?after=…&wait=…`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use tessera_domain::id::{ChatId, EventId, FileId, MessageId, UserId};
use tessera_domain::records::{ChatView, Message};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use tessera_app::chats::{ChatDetail, MessageQuery, OpenChat, SendInput};

use super::Paged;
use crate::AppState;
use crate::error::{ApiResult, Problem};
use crate::extract::{ApiJson, ApiQuery, Auth, path_id};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(open_chat, list_chats))
        .routes(routes!(get_chat))
        .routes(routes!(send_message, list_messages))
        .routes(routes!(edit_message, delete_message))
        .routes(routes!(mark_read))
        .routes(routes!(mute_member, unmute_member))
}

/// A message. A deleted one stays as a tombstone: empty body, `deleted_at` set.
#[derive(Debug, Serialize, ToSchema)]
pub struct MessageBody {
    pub message_id: MessageId,
    pub chat_id: ChatId,
    /// Its place in the chat's history (the change number it was sent with).
    pub seq: i64,
    /// The number of its last change (sent, edited, deleted): pass the highest seen as `after`.
    pub change_seq: i64,
    /// created, edited or deleted: its last change.
    pub change: String,
    pub sender_id: UserId,
    pub body: String,
    /// An attached file (`GET /files/{file_id}`).
    pub file_id: Option<FileId>,
    pub client_id: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub edited_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub deleted_at: Option<OffsetDateTime>,
    pub deleted_by: Option<UserId>,
}

impl From<Message> for MessageBody {
    fn from(m: Message) -> Self {
        MessageBody {
            change: m.change().to_string(),
            message_id: m.message_id,
            chat_id: m.chat_id,
            seq: m.seq,
            change_seq: m.change_seq,
            sender_id: m.sender_id,
            body: m.body,
            file_id: m.file_id,
            client_id: m.client_id,
            created_at: m.created_at,
            edited_at: m.edited_at,
            deleted_at: m.deleted_at,
            deleted_by: m.deleted_by,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MemberBody {
    pub user_id: UserId,
    pub name: String,
}

/// A chat as its member sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChatBody {
    pub chat_id: ChatId,
    /// event, direct or group.
    pub kind: String,
    /// An event chat's event (its id is the chat's).
    pub event_id: Option<EventId>,
    /// A group's name, or the event's.
    pub name: Option<String>,
    pub created_by: Option<UserId>,
    /// The chat's last change number.
    pub last_seq: i64,
    /// Listed members of a direct or group chat; an event chat's members are its ticket
    /// holders, organizer and door staff, not listed.
    pub members: Vec<MemberBody>,
    /// The caller's read marker (a change number).
    pub last_read_seq: i64,
    #[serde(with = "time::serde::rfc3339::option")]
    pub muted_until: Option<OffsetDateTime>,
    /// Whether the caller may delete others' messages and mute members.
    pub moderator: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl From<ChatDetail> for ChatBody {
    fn from(d: ChatDetail) -> Self {
        let c = d.chat;
        ChatBody {
            chat_id: c.chat_id,
            kind: c.kind.to_string(),
            event_id: c.event_id,
            name: c.name,
            created_by: c.created_by,
            last_seq: c.last_seq,
            members: d.members.into_iter().map(|m| MemberBody { user_id: m.user_id, name: m.name }).collect(),
            last_read_seq: d.state.last_read_seq,
            muted_until: d.state.muted_until,
            moderator: d.moderator,
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

/// A chat in the caller's list.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChatSummaryBody {
    pub chat_id: ChatId,
    pub kind: String,
    pub event_id: Option<EventId>,
    pub name: Option<String>,
    pub last_seq: i64,
    /// Messages from others after the caller's read marker.
    pub unread: i64,
    pub last_read_seq: i64,
    #[serde(with = "time::serde::rfc3339::option")]
    pub muted_until: Option<OffsetDateTime>,
    pub last_message: Option<MessageBody>,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl From<ChatView> for ChatSummaryBody {
    fn from(v: ChatView) -> Self {
        ChatSummaryBody {
            chat_id: v.chat.chat_id,
            kind: v.chat.kind.to_string(),
            event_id: v.chat.event_id,
            name: v.chat.name,
            last_seq: v.chat.last_seq,
            unread: v.unread,
            last_read_seq: v.last_read_seq,
            muted_until: v.muted_until,
            last_message: v.last_message.map(MessageBody::from),
            updated_at: v.chat.updated_at,
        }
    }
}

/// What kind of chat to open (an event's chat is made with the event).
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum NewChatKind {
    Direct,
    Group,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct OpenChatRequest {
    /// direct (one other person) or group.
    pub kind: NewChatKind,
    /// A group's name (a direct chat has none).
    #[schema(max_length = 100)]
    pub name: Option<String>,
    /// The other members: people who share an event with the caller (a ticket, or organizing or
    /// staffing it). A direct chat has one.
    #[schema(min_items = 1, max_items = 49)]
    pub member_ids: Vec<UserId>,
}

/// Open a direct or group chat
///
/// A pair has one direct chat: asking again answers it (200). Members must share an event with
/// the caller (admins may open chats with anyone).
#[utoipa::path(post, path = "/chats", tag = "chats", security(("bearer" = [])),
    request_body = OpenChatRequest,
    responses(
        (status = 201, description = "Opened", body = ChatBody),
        (status = 200, description = "The pair's existing direct chat", body = ChatBody),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "A member shares no event with the caller", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "A member does not exist", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn open_chat(
    State(s): State<AppState>,
    Auth(who): Auth,
    ApiJson(b): ApiJson<OpenChatRequest>,
) -> ApiResult<(StatusCode, Json<ChatBody>)> {
    let kind = match b.kind {
        NewChatKind::Direct => "direct",
        NewChatKind::Group => "group",
    };
    let input = OpenChat { kind: Some(kind.to_string()), name: b.name, member_ids: Some(b.member_ids) };
    let (chat, created) = s.app.open_chat(&who, input).await?;
    Ok((if created { StatusCode::CREATED } else { StatusCode::OK }, Json(chat.into())))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// My chats, the most recently active first, with unread counts and last messages
#[utoipa::path(get, path = "/chats", tag = "chats", security(("bearer" = [])),
    params(PageQuery),
    responses(
        (status = 200, body = Paged<ChatSummaryBody>),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list_chats(
    State(s): State<AppState>,
    Auth(who): Auth,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> ApiResult<Json<Paged<ChatSummaryBody>>> {
    let page = s.app.my_chats(&who, q.limit, q.cursor.as_deref()).await?;
    Ok(Json(Paged::from_page(page, ChatSummaryBody::from)))
}

fn chat_id(raw: &str) -> Result<ChatId, crate::error::ApiError> {
    path_id(raw, "chat")
}

/// A chat I am in (404 for a chat that does not exist or that I am not in)
#[utoipa::path(get, path = "/chats/{chat_id}", tag = "chats", security(("bearer" = [])),
    params(("chat_id" = String, Path, description = "Chat id (UUID); an event's chat has the event's id")),
    responses(
        (status = 200, body = ChatBody),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_chat(
    State(s): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<ChatBody>> {
    Ok(Json(s.app.chat(&who, chat_id(&id)?).await?.into()))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MessagesQuery {
    pub limit: Option<i64>,
    /// The history's next page (older messages).
    pub cursor: Option<String>,
    /// Catch up: the changes after this change number (`change_seq`), oldest first.
    #[param(minimum = 0)]
    pub after: Option<i64>,
    /// With `after`: wait up to this many seconds (at most 25) for a change when there is none
    /// yet (a long poll, for clients without WebSockets).
    #[param(minimum = 0, maximum = 25)]
    pub wait: Option<u64>,
}

/// A chat's messages: the history newest first, or with `after` what changed since
///
/// 404 for a chat that does not exist or that the caller is not in.
#[utoipa::path(get, path = "/chats/{chat_id}/messages", tag = "chats", security(("bearer" = [])),
    params(("chat_id" = String, Path, description = "Chat id (UUID)"), MessagesQuery),
    responses(
        (status = 200, body = Paged<MessageBody>),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list_messages(
    State(s): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<MessagesQuery>,
) -> ApiResult<Json<Paged<MessageBody>>> {
    let q = MessageQuery { limit: q.limit, cursor: q.cursor, after: q.after, wait: q.wait };
    let page = s.app.messages(&who, chat_id(&id)?, q).await?;
    Ok(Json(Paged::from_page(page, MessageBody::from)))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct SendRequest {
    /// 1 to 4000 characters (may be empty with a file).
    #[schema(max_length = 4000)]
    pub body: Option<String>,
    /// A file of yours (uploaded with `POST /files`) to attach: the chat's members may then read
    /// it.
    pub file_id: Option<FileId>,
    /// The client's id for this send: a retry with the same one answers the first message
    /// instead of sending again (1–64 visible ASCII characters).
    #[schema(pattern = "^[!-~]{1,64}$")]
    pub client_id: Option<String>,
}

/// Send a message
///
/// A retry with the same `client_id` answers the message first sent (201 again).
#[utoipa::path(post, path = "/chats/{chat_id}/messages", tag = "chats", security(("bearer" = [])),
    params(("chat_id" = String, Path, description = "Chat id (UUID)")),
    request_body = SendRequest,
    responses(
        (status = 201, body = MessageBody),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Muted in this chat", body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The client_id was used for another message", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many messages per second", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn send_message(
    State(s): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<SendRequest>,
) -> ApiResult<(StatusCode, Json<MessageBody>)> {
    let input = SendInput { body: b.body, client_id: b.client_id, file_id: b.file_id };
    let (m, _replayed) = s.app.send_message(&who, chat_id(&id)?, input).await?;
    Ok((StatusCode::CREATED, Json(m.into())))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct EditRequest {
    /// 1 to 4000 characters.
    #[schema(min_length = 1, max_length = 4000)]
    pub body: String,
}

fn ids(chat: &str, message: &str) -> Result<(ChatId, MessageId), crate::error::ApiError> {
    Ok((chat_id(chat)?, path_id(message, "message")?))
}

/// Edit my message
#[utoipa::path(patch, path = "/chats/{chat_id}/messages/{message_id}", tag = "chats", security(("bearer" = [])),
    params(("chat_id" = String, Path, description = "Chat id (UUID)"), ("message_id" = String, Path, description = "Message id (UUID)")),
    request_body = EditRequest,
    responses(
        (status = 200, body = MessageBody),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not the sender", body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Deleted", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn edit_message(
    State(s): State<AppState>,
    Auth(who): Auth,
    Path((chat, message)): Path<(String, String)>,
    ApiJson(b): ApiJson<EditRequest>,
) -> ApiResult<Json<MessageBody>> {
    let (c, m) = ids(&chat, &message)?;
    Ok(Json(s.app.edit_message(&who, c, m, Some(&b.body)).await?.into()))
}

/// Delete a message: my own, or any in an event chat I moderate (a tombstone stays)
#[utoipa::path(delete, path = "/chats/{chat_id}/messages/{message_id}", tag = "chats", security(("bearer" = [])),
    params(("chat_id" = String, Path, description = "Chat id (UUID)"), ("message_id" = String, Path, description = "Message id (UUID)")),
    responses(
        (status = 204, description = "Deleted (or already)"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn delete_message(
    State(s): State<AppState>,
    Auth(who): Auth,
    Path((chat, message)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let (c, m) = ids(&chat, &message)?;
    s.app.delete_message(&who, c, m).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ReadRequest {
    /// The change number read up to (a message's `change_seq` or `seq`).
    #[schema(minimum = 0)]
    pub seq: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReadBody {
    pub last_read_seq: i64,
}

/// Move my read marker forward
#[utoipa::path(put, path = "/chats/{chat_id}/read", tag = "chats", security(("bearer" = [])),
    params(("chat_id" = String, Path, description = "Chat id (UUID)")),
    request_body = ReadRequest,
    responses(
        (status = 200, body = ReadBody),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn mark_read(
    State(s): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<ReadRequest>,
) -> ApiResult<Json<ReadBody>> {
    Ok(Json(ReadBody { last_read_seq: s.app.mark_read(&who, chat_id(&id)?, Some(b.seq)).await? }))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct MuteRequest {
    /// Until when (RFC 3339, in the future).
    #[serde(with = "time::serde::rfc3339")]
    pub until: OffsetDateTime,
}

/// Mute a member of an event chat (the event's organizer, admins)
#[utoipa::path(put, path = "/chats/{chat_id}/mutes/{user_id}", tag = "chats", security(("bearer" = [])),
    params(("chat_id" = String, Path, description = "Chat id (UUID)"), ("user_id" = String, Path, description = "User id (UUID)")),
    request_body = MuteRequest,
    responses(
        (status = 204, description = "Muted"),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn mute_member(
    State(s): State<AppState>,
    Auth(who): Auth,
    Path((chat, user)): Path<(String, String)>,
    ApiJson(b): ApiJson<MuteRequest>,
) -> ApiResult<StatusCode> {
    s.app.mute(&who, chat_id(&chat)?, path_id(&user, "user")?, Some(b.until)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Lift a member's mute (the event's organizer, admins)
#[utoipa::path(delete, path = "/chats/{chat_id}/mutes/{user_id}", tag = "chats", security(("bearer" = [])),
    params(("chat_id" = String, Path, description = "Chat id (UUID)"), ("user_id" = String, Path, description = "User id (UUID)")),
    responses(
        (status = 204, description = "Not muted"),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn unmute_member(
    State(s): State<AppState>,
    Auth(who): Auth,
    Path((chat, user)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    s.app.mute(&who, chat_id(&chat)?, path_id(&user, "user")?, None).await?;
    Ok(StatusCode::NO_CONTENT)
}
