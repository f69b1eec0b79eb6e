//! Chats: opening direct and group chats with people one shares an event with, reading and
//! catching up on a chat, sending (idempotent by client id, rate-limited), editing and deleting,
//! read markers, and the event organizer's moderation (removing messages, muting members).
//! A chat someone is not in answers 404, as one that does not exist.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tessera_domain::chat::{self, SendWindow};
use tessera_domain::id::{ChatId, FileId, MessageId, UserId};
use tessera_domain::page::{Page, page_cursor, parse_limit};
use tessera_domain::records::{
    Chat, ChatKind, ChatMember, ChatSignal, ChatView, MemberState, Membership, Message, NewMessage, Sent,
};
use tessera_store::chats::Created;
use time::OffsetDateTime;

use crate::auth::Principal;
use crate::{App, AppError, Result, cursor};

/// Limits on chat use.
#[derive(Debug, Clone)]
pub struct ChatConfig {
    /// Messages one person may send per second (429 beyond, with Retry-After).
    pub messages_per_second: u32,
    /// Live connections one person may hold on one instance (429 beyond).
    pub connections_per_user: usize,
    /// Deliveries queued for one live connection before it counts as too slow and is closed.
    pub outbox_capacity: usize,
}

impl Default for ChatConfig {
    fn default() -> Self {
        ChatConfig { messages_per_second: 5, connections_per_user: 8, outbox_capacity: 512 }
    }
}

/// The longest a long poll waits, in seconds (under API Gateway's 29 s and the server's 30 s).
pub const MAX_WAIT_SECS: u64 = 25;

/// A request to open a chat, as sent.
#[derive(Debug, Clone, Default)]
pub struct OpenChat {
    pub kind: Option<String>,
    pub name: Option<String>,
    pub member_ids: Option<Vec<UserId>>,
}

/// A chat as its member sees it on its own page.
#[derive(Debug, Clone)]
pub struct ChatDetail {
    pub chat: Chat,
    /// The listed members of a direct or group chat (an event chat's are its ticket holders,
    /// organizer and staff, not listed).
    pub members: Vec<ChatMember>,
    pub state: MemberState,
    /// Whether the caller may remove others' messages and mute members (an event chat's
    /// organizer, admins).
    pub moderator: bool,
}

/// What to read of a chat's messages.
#[derive(Debug, Clone, Default)]
pub struct MessageQuery {
    pub limit: Option<i64>,
    pub cursor: Option<String>,
    /// Catch up: the changes after this change number, oldest first.
    pub after: Option<i64>,
    /// With `after`: wait up to this many seconds for a change when there is none yet.
    pub wait: Option<u64>,
}

/// A message to send, as sent.
#[derive(Debug, Clone, Default)]
pub struct SendInput {
    pub body: Option<String>,
    pub client_id: Option<String>,
    /// A file of the sender's to attach (the body may then be empty).
    pub file_id: Option<FileId>,
}

/// Per-person send windows (this instance's; each instance counts its own).
#[derive(Debug, Default)]
pub(crate) struct SendLimiter(Mutex<HashMap<UserId, SendWindow>>);

impl SendLimiter {
    fn allow(&self, user_id: UserId, now_ms: i64, per_second: u32) -> Result<()> {
        let mut map = self.0.lock().map_err(|_| AppError::internal("send limiter poisoned"))?;
        if map.len() > 100_000 {
            // Windows of people who sent nothing this second are worthless: drop them.
            let second = now_ms.div_euclid(1000);
            map.retain(|_, w| w.second() == second);
        }
        map.entry(user_id).or_default().allow(now_ms, per_second).map_err(|wait_ms| AppError::RateLimited {
            retry_after_secs: u64::try_from(wait_ms).unwrap_or(1).div_ceil(1000).max(1),
        })
    }
}

impl App {
    /// The chat if the caller is in it (admins are in every event chat); 404 otherwise.
    pub(crate) async fn chat_of_member(&self, who: &Principal, chat_id: ChatId) -> Result<Chat> {
        match self.store.chat_for(chat_id, who.user_id).await? {
            Some((c, Membership::Member)) => Ok(c),
            Some((c, Membership::Outsider)) if c.kind == ChatKind::Event && who.is_admin() => Ok(c),
            _ => Err(AppError::NotFound("chat")),
        }
    }

    /// Whether the caller moderates the chat: an event chat's organizer, or an admin.
    async fn moderates(&self, who: &Principal, c: &Chat) -> Result<bool> {
        let Some(event_id) = c.event_id else { return Ok(false) };
        let event = self.store.event_by_id(event_id).await?;
        Ok(who.owns_or_admin(event.and_then(|e| e.organizer_id)))
    }

    /// Opens a direct chat (one per pair: asking again answers the same chat, `false`) or a
    /// group, with people who share an event with the caller (admins with anyone).
    pub async fn open_chat(&self, who: &Principal, input: OpenChat) -> Result<(ChatDetail, bool)> {
        let new = chat::new_chat(
            who.user_id,
            input.kind.as_deref(),
            input.name.as_deref(),
            input.member_ids.as_deref(),
        )?;
        for &other in &new.others {
            if self.store.user_by_id(other).await?.is_none() {
                return Err(AppError::NotFound("user"));
            }
            if !who.is_admin() && !self.store.share_an_event(who.user_id, other).await? {
                return Err(AppError::Forbidden(
                    "you can open chats only with people who share an event with you",
                ));
            }
        }
        let now = self.now();
        let row = Chat {
            chat_id: ChatId::new(),
            kind: new.kind,
            event_id: None,
            name: new.name,
            created_by: Some(who.user_id),
            last_seq: 0,
            last_message_id: None,
            created_at: now,
            updated_at: now,
        };
        let key = (new.kind == ChatKind::Direct).then(|| chat::direct_key(who.user_id, new.others[0]));
        let mut members = vec![who.user_id];
        members.extend(&new.others);
        let (c, created) = match self.store.create_chat(&row, key.as_deref(), &members).await? {
            Created::New(c) => (c, true),
            Created::ExistingDirect(c) => (c, false),
        };
        Ok((self.chat_detail(who, c).await?, created))
    }

    async fn chat_detail(&self, who: &Principal, c: Chat) -> Result<ChatDetail> {
        let members =
            if c.kind == ChatKind::Event { Vec::new() } else { self.store.chat_members(c.chat_id).await? };
        let state = self.store.member_state(c.chat_id, who.user_id).await?;
        let moderator = self.moderates(who, &c).await?;
        Ok(ChatDetail { chat: c, members, state, moderator })
    }

    /// One chat the caller is in.
    pub async fn chat(&self, who: &Principal, chat_id: ChatId) -> Result<ChatDetail> {
        let c = self.chat_of_member(who, chat_id).await?;
        self.chat_detail(who, c).await
    }

    /// The caller's chats, the most recently active first, with unread counts and last messages.
    pub async fn my_chats(
        &self,
        who: &Principal,
        limit: Option<i64>,
        cursor: Option<&str>,
    ) -> Result<Page<ChatView>> {
        let limit = parse_limit(limit).map_err(|m| AppError::invalid("limit", m))?;
        let after = match cursor {
            Some(c) => {
                let (v, id) = cursor::decode::<ChatId>(c, "chats")?;
                Some((cursor::parse_ts_value(&v)?, id))
            }
            None => None,
        };
        let mut items = self.store.chats_of(who.user_id, after, limit + 1).await?;
        let next_cursor = page_cursor(&mut items, limit, |v| {
            cursor::encode("chats", &cursor::ts_value(v.chat.updated_at), v.chat.chat_id)
        });
        Ok(Page { items, next_cursor })
    }

    /// The names of these messages' senders, for a member of the chat (a chat's page shows who
    /// wrote what; the API leaves names to the client, which knows the members).
    pub async fn sender_names(
        &self,
        who: &Principal,
        chat_id: ChatId,
        messages: &[Message],
    ) -> Result<HashMap<UserId, String>> {
        self.chat_of_member(who, chat_id).await?;
        let mut ids: Vec<UserId> = messages.iter().map(|m| m.sender_id).collect();
        ids.sort_unstable();
        ids.dedup();
        Ok(self.store.user_names(&ids).await?.into_iter().collect())
    }

    /// A chat's messages: its history newest first (`cursor` for older pages), or with `after`
    /// the changes since that change number oldest first, waiting up to `wait` seconds for one.
    pub async fn messages(&self, who: &Principal, chat_id: ChatId, q: MessageQuery) -> Result<Page<Message>> {
        let limit = parse_limit(q.limit).map_err(|m| AppError::invalid("limit", m))?;
        self.chat_of_member(who, chat_id).await?;
        if let Some(after) = q.after {
            if after < 0 {
                return Err(AppError::invalid("after", "must be a change number (0 or more)"));
            }
            if q.cursor.is_some() {
                return Err(AppError::invalid(
                    "cursor",
                    "is for the history; catching up with `after` needs none",
                ));
            }
            let wait = match q.wait {
                None => 0,
                Some(w) if w <= MAX_WAIT_SECS => w,
                Some(_) => {
                    return Err(AppError::invalid(
                        "wait",
                        format!("must be at most {MAX_WAIT_SECS} seconds"),
                    ));
                }
            };
            let items = self.changes_waiting(chat_id, after, limit, Duration::from_secs(wait)).await?;
            return Ok(Page { items, next_cursor: None });
        }
        if q.wait.is_some() {
            return Err(AppError::invalid("wait", "waiting needs `after`, the last change seen"));
        }
        let before = match q.cursor.as_deref() {
            Some(c) => {
                let (v, _) = cursor::decode::<MessageId>(c, "messages")?;
                Some(v.parse::<i64>().map_err(|_| {
                    AppError::invalid("cursor", "is not a cursor from this list; start again without it")
                })?)
            }
            None => None,
        };
        let mut items = self.store.messages_before(chat_id, before, limit + 1).await?;
        let next_cursor =
            page_cursor(&mut items, limit, |m| cursor::encode("messages", &m.seq.to_string(), m.message_id));
        Ok(Page { items, next_cursor })
    }

    /// The changes after `after`; when there are none, waits (up to `wait`) for the next.
    async fn changes_waiting(
        &self,
        chat_id: ChatId,
        after: i64,
        limit: i64,
        wait: Duration,
    ) -> Result<Vec<Message>> {
        let now = self.store.changes_after(chat_id, after, limit).await?;
        if !now.is_empty() || wait.is_zero() {
            return Ok(now);
        }
        let mut watch = self.watch_chat(chat_id).await?;
        // A change may have committed between the read above and the watch starting.
        let now = self.store.changes_after(chat_id, after, limit).await?;
        if !now.is_empty() {
            return Ok(now);
        }
        // Woken by a change, or by a resync that may be about nothing here: read, and wait on
        // while there is still nothing and time left.
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if tokio::time::timeout_at(deadline, watch.changed()).await.is_err() {
                return Ok(Vec::new());
            }
            let now = self.store.changes_after(chat_id, after, limit).await?;
            if !now.is_empty() {
                return Ok(now);
            }
        }
    }

    /// Sends a message. A `client_id` the caller already sent in this chat answers that message
    /// (`true`: replayed) without sending again.
    pub async fn send_message(
        &self,
        who: &Principal,
        chat_id: ChatId,
        input: SendInput,
    ) -> Result<(Message, bool)> {
        let body = match (input.body.as_deref().map(str::trim), input.file_id) {
            (None | Some(""), Some(_)) => String::new(),
            (b, _) => chat::message_body(b).map_err(|m| AppError::invalid("body", m))?,
        };
        let client_id =
            chat::client_id(input.client_id.as_deref()).map_err(|m| AppError::invalid("client_id", m))?;
        self.chat_of_member(who, chat_id).await?;
        if let Some(f) = input.file_id {
            self.attachable(who, f).await?;
        }
        let now = self.now();
        if let Some(until) = self.store.member_state(chat_id, who.user_id).await?.muted_until
            && until > now
        {
            return Err(AppError::Forbidden("a moderator muted you in this chat for now"));
        }
        let now_ms = i64::try_from(self.precise_now().unix_timestamp_nanos() / 1_000_000).unwrap_or(0);
        self.send_limiter.allow(who.user_id, now_ms, self.config.chat.messages_per_second)?;
        let m = NewMessage {
            message_id: MessageId::new(),
            chat_id,
            sender_id: who.user_id,
            body,
            file_id: input.file_id,
            client_id,
            created_at: now,
        };
        match self.store.send_message(&m).await? {
            Sent::New(m) => Ok((m, false)),
            Sent::Replayed(first) if first.body == m.body => Ok((first, true)),
            Sent::Replayed(_) => Err(AppError::Conflict {
                code: "client_id_reused",
                detail: "this client_id was already used for a different message in this chat".into(),
            }),
        }
    }

    /// A message of this chat, for a member.
    async fn message_in(&self, chat_id: ChatId, message_id: MessageId) -> Result<Message> {
        self.store
            .message(message_id)
            .await?
            .filter(|m| m.chat_id == chat_id)
            .ok_or(AppError::NotFound("message"))
    }

    /// Edits one's own message.
    pub async fn edit_message(
        &self,
        who: &Principal,
        chat_id: ChatId,
        message_id: MessageId,
        body: Option<&str>,
    ) -> Result<Message> {
        let body = chat::message_body(body).map_err(|m| AppError::invalid("body", m))?;
        self.chat_of_member(who, chat_id).await?;
        let m = self.message_in(chat_id, message_id).await?;
        if m.sender_id != who.user_id {
            return Err(AppError::Forbidden("only its sender may edit a message"));
        }
        if m.deleted_at.is_some() {
            return Err(AppError::Conflict {
                code: "message_deleted",
                detail: "the message was deleted".into(),
            });
        }
        match self.store.edit_message(message_id, who.user_id, &body, self.now()).await? {
            Some(m) => Ok(m),
            None => {
                Err(AppError::Conflict { code: "message_deleted", detail: "the message was deleted".into() })
            }
        }
    }

    /// Deletes a message (a tombstone stays): one's own, or any in an event chat one moderates.
    /// Deleting a deleted message changes nothing.
    pub async fn delete_message(
        &self,
        who: &Principal,
        chat_id: ChatId,
        message_id: MessageId,
    ) -> Result<()> {
        let c = self.chat_of_member(who, chat_id).await?;
        let m = self.message_in(chat_id, message_id).await?;
        if m.sender_id != who.user_id && !self.moderates(who, &c).await? {
            return Err(AppError::Forbidden("only its sender or the event's organizer may delete a message"));
        }
        if m.deleted_at.is_none() {
            self.store.delete_message(message_id, who.user_id, self.now()).await?;
        }
        Ok(())
    }

    /// Moves the caller's read marker forward to `seq` (at most the chat's last change) and tells
    /// the chat; answers the marker.
    pub async fn mark_read(&self, who: &Principal, chat_id: ChatId, seq: Option<i64>) -> Result<i64> {
        let c = self.chat_of_member(who, chat_id).await?;
        let seq = match seq {
            Some(s) if s >= 0 => s.min(self.store.chat_seq(c.chat_id).await?),
            Some(_) => return Err(AppError::invalid("seq", "must be a change number (0 or more)")),
            None => return Err(AppError::invalid("seq", "is required")),
        };
        let marker = self.store.mark_read(chat_id, who.user_id, seq, self.now()).await?;
        self.signal(ChatSignal::Read { chat_id, user_id: who.user_id, seq: marker }).await;
        Ok(marker)
    }

    /// Tells the chat the caller is typing.
    pub async fn typing(&self, who: &Principal, chat_id: ChatId) -> Result<()> {
        self.chat_of_member(who, chat_id).await?;
        self.signal(ChatSignal::Typing { chat_id, user_id: who.user_id }).await;
        Ok(())
    }

    /// Mutes a member of an event chat until a time, or lifts the mute (`None`); the event's
    /// organizer and admins only.
    pub async fn mute(
        &self,
        who: &Principal,
        chat_id: ChatId,
        user_id: UserId,
        until: Option<OffsetDateTime>,
    ) -> Result<()> {
        let c = self.chat_of_member(who, chat_id).await?;
        if c.kind != ChatKind::Event {
            return Err(AppError::invalid("chat_id", "only an event's chat has moderators who mute"));
        }
        if !self.moderates(who, &c).await? {
            return Err(AppError::Forbidden("only the event's organizer or an admin may mute members"));
        }
        if self.store.user_by_id(user_id).await?.is_none() {
            return Err(AppError::NotFound("user"));
        }
        let now = self.now();
        if let Some(t) = until
            && t <= now
        {
            return Err(AppError::invalid("until", "must be in the future"));
        }
        self.store.set_mute(chat_id, user_id, until, now).await?;
        Ok(())
    }

    /// Tells every instance; a signal that cannot be sent is logged, not an error for the caller
    /// (the change it tells of is stored, and readers catch up from the database).
    pub(crate) async fn signal(&self, s: ChatSignal) {
        if let Err(e) = self.store.send_chat_signal(s).await {
            tracing::warn!(cause = %e, "chat signal not sent");
        }
    }
}
