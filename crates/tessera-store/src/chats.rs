//! Chats, members and messages. A message, an edit and a deletion each take the chat's next
//! change number by updating the chat's row inside their transaction (so the numbers follow
//! commit order with no gaps) and tell every instance at commit (bus.rs).

use tessera_domain::id::{ChatId, MessageId, UserId};
use tessera_domain::records::{
    Chat, ChatMember, ChatSignal, ChatView, MemberState, Membership, Message, NewMessage, Sent,
};
use time::OffsetDateTime;

use crate::query::{Arg, Sql};
use crate::{Backend, Result, Store, StoreError, WritePool, affected, bind_args, on_db};

const CHAT: &str = "c.chat_id, c.kind, c.event_id, COALESCE(c.name, e.name) AS name, c.created_by, c.last_seq, \
     c.last_message_id, c.created_at, c.updated_at";
const FROM_CHAT: &str = "chats c LEFT JOIN events e ON e.event_id = c.event_id";
const MESSAGE: &str = "message_id, chat_id, seq, change_seq, sender_id, body, file_id, client_id, created_at, \
     edited_at, deleted_at, deleted_by";

/// Whether user `$U` is in chat `c`: a listed member, or for an event's chat one of its ticket
/// holders, its organizer or its door staff. `$U` is replaced by the placeholder.
pub(crate) const IS_MEMBER: &str = "CASE WHEN c.kind = 'event' THEN (
        EXISTS (SELECT 1 FROM tickets t WHERE t.user_id = $U AND t.event_id = c.event_id AND t.status = 'valid')
        OR EXISTS (SELECT 1 FROM events o WHERE o.event_id = c.event_id AND o.organizer_id = $U)
        OR EXISTS (SELECT 1 FROM event_staff s WHERE s.event_id = c.event_id AND s.user_id = $U))
     ELSE EXISTS (SELECT 1 FROM chat_members m WHERE m.chat_id = c.chat_id AND m.user_id = $U AND m.member) END";

/// The chats user `$U` is in.
const MY_CHATS: &str = "SELECT chat_id FROM chat_members WHERE user_id = $U AND member
     UNION SELECT event_id FROM tickets WHERE user_id = $U AND status = 'valid'
     UNION SELECT event_id FROM events WHERE organizer_id = $U
     UNION SELECT event_id FROM event_staff WHERE user_id = $U";

/// The events a user is part of (as for their chats), for "shares an event with".
const MY_EVENTS: &str = "SELECT event_id FROM tickets WHERE user_id = $U AND status = 'valid'
     UNION SELECT event_id FROM events WHERE organizer_id = $U
     UNION SELECT event_id FROM event_staff WHERE user_id = $U";

/// What a chat's creation came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Created {
    New(Chat),
    /// The pair already has a direct chat: that one.
    ExistingDirect(Chat),
}

impl Store {
    /// A chat and whether `user_id` is in it; `None` when there is no such chat.
    pub async fn chat_for(&self, chat_id: ChatId, user_id: UserId) -> Result<Option<(Chat, Membership)>> {
        let sql = format!(
            "SELECT {CHAT}, {} AS is_member FROM {FROM_CHAT} WHERE c.chat_id = $1",
            IS_MEMBER.replace("$U", "$2")
        );
        let row: Option<ChatRow> = on_db!(self, read, |p| {
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(chat_id).bind(user_id).fetch_optional(p).await
        })?;
        Ok(row.map(|r| (r.chat, if r.is_member { Membership::Member } else { Membership::Outsider })))
    }

    /// Whether two people share an event (each a ticket holder, organizer or door staff of it).
    pub async fn share_an_event(&self, a: UserId, b: UserId) -> Result<bool> {
        let sql = format!(
            "SELECT EXISTS (SELECT 1 FROM ({}) a JOIN ({}) b ON a.event_id = b.event_id)",
            MY_EVENTS.replace("$U", "$1"),
            MY_EVENTS.replace("$U", "$2")
        );
        let shared: bool = on_db!(self, read, |p| {
            sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).bind(a).bind(b).fetch_one(p).await
        })?;
        Ok(shared)
    }

    /// Makes a direct or group chat with its listed members (the creator among them). A direct
    /// chat is unique per pair: a second one answers the first.
    pub async fn create_chat(
        &self,
        chat: &Chat,
        direct_key: Option<&str>,
        members: &[UserId],
    ) -> Result<Created> {
        let inserted = on_db!(self, write, |p| {
            async {
                let mut tx = p.begin_write().await?;
                let n = sqlx::query(
                    "INSERT INTO chats (chat_id, kind, name, direct_key, created_by, created_at, updated_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $6) ON CONFLICT (direct_key) DO NOTHING",
                )
                .bind(chat.chat_id)
                .bind(chat.kind.as_str())
                .bind(chat.name.as_deref())
                .bind(direct_key)
                .bind(chat.created_by)
                .bind(chat.created_at)
                .execute(&mut *tx)
                .await
                .map(affected)?;
                if n == 0 {
                    tx.rollback().await?;
                    return Ok::<_, sqlx::Error>(false);
                }
                for m in members {
                    sqlx::query(
                        "INSERT INTO chat_members (chat_id, user_id, member, joined_at) VALUES ($1, $2, TRUE, $3)",
                    )
                    .bind(chat.chat_id)
                    .bind(*m)
                    .bind(chat.created_at)
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                Ok(true)
            }
            .await
        })?;
        if inserted {
            for &user_id in members {
                self.after_chat_commit(ChatSignal::Joined { chat_id: chat.chat_id, user_id }).await;
            }
            return Ok(Created::New(chat.clone()));
        }
        let existing: Option<Chat> = match direct_key {
            Some(k) => {
                let sql = format!("SELECT {CHAT} FROM {FROM_CHAT} WHERE c.direct_key = $1");
                on_db!(self, read, |p| {
                    sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(k).fetch_optional(p).await
                })?
            }
            None => None,
        };
        existing.map(Created::ExistingDirect).ok_or_else(|| StoreError::Conflict("chats".into()))
    }

    /// The listed members of a direct or group chat, by name.
    pub async fn chat_members(&self, chat_id: ChatId) -> Result<Vec<ChatMember>> {
        Ok(on_db!(self, read, |p| {
            sqlx::query_as(
                "SELECT u.user_id, u.name FROM chat_members m JOIN users u ON u.user_id = m.user_id
                 WHERE m.chat_id = $1 AND m.member ORDER BY u.name, u.user_id",
            )
            .bind(chat_id)
            .fetch_all(p)
            .await
        })?)
    }

    /// A page of the chats a user is in, the most recently active first: after `(updated_at,
    /// chat_id)` of the previous page's last.
    pub async fn chats_of(
        &self,
        user_id: UserId,
        after: Option<(OffsetDateTime, ChatId)>,
        limit: i64,
    ) -> Result<Vec<ChatView>> {
        let mut q = Sql::new("");
        let u = q.arg(Arg::id(user_id));
        let mut text = format!(
            "SELECT {CHAT}, COALESCE(r.last_read_seq, 0) AS last_read_seq, r.muted_until,
                 (SELECT COUNT(*) FROM messages m WHERE m.chat_id = c.chat_id AND m.seq > COALESCE(r.last_read_seq, 0)
                    AND m.sender_id <> {u} AND m.deleted_at IS NULL) AS unread
             FROM {FROM_CHAT}
             LEFT JOIN chat_members r ON r.chat_id = c.chat_id AND r.user_id = {u}
             WHERE c.chat_id IN ({})",
            MY_CHATS.replace("$U", &u)
        );
        if let Some((t, id)) = after {
            let (pt, pid) = (q.arg(Arg::Ts(t)), q.arg(Arg::id(id)));
            text.push_str(&format!(
                " AND (c.updated_at < {pt} OR (c.updated_at = {pt} AND c.chat_id < {pid}))"
            ));
        }
        let pl = q.arg(Arg::Int(limit));
        text.push_str(&format!(" ORDER BY c.updated_at DESC, c.chat_id DESC LIMIT {pl}"));
        q.text = text;
        let rows: Vec<ViewRow> = on_db!(self, read, |p| {
            bind_args!(sqlx::query_as(sqlx::AssertSqlSafe(q.text.clone())), q.args).fetch_all(p).await
        })?;
        let ids: Vec<MessageId> = rows.iter().filter_map(|r| r.chat.last_message_id).collect();
        let last = self.messages_by_id(&ids).await?;
        Ok(rows
            .into_iter()
            .map(|r| ChatView {
                last_message: r
                    .chat
                    .last_message_id
                    .and_then(|id| last.iter().find(|m| m.message_id == id).cloned()),
                chat: r.chat,
                unread: r.unread,
                last_read_seq: r.last_read_seq,
                muted_until: r.muted_until,
            })
            .collect())
    }

    async fn messages_by_id(&self, ids: &[MessageId]) -> Result<Vec<Message>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut q = Sql::new("");
        let list: Vec<String> = ids.iter().map(|&id| q.arg(Arg::id(id))).collect();
        q.text = format!("SELECT {MESSAGE} FROM messages WHERE message_id IN ({})", list.join(", "));
        Ok(on_db!(self, read, |p| {
            bind_args!(sqlx::query_as(sqlx::AssertSqlSafe(q.text.clone())), q.args).fetch_all(p).await
        })?)
    }

    /// One member's read marker and mute in a chat (defaults when they have neither).
    pub async fn member_state(&self, chat_id: ChatId, user_id: UserId) -> Result<MemberState> {
        let s: Option<MemberState> = on_db!(self, read, |p| {
            sqlx::query_as(
                "SELECT last_read_seq, muted_until FROM chat_members WHERE chat_id = $1 AND user_id = $2",
            )
            .bind(chat_id)
            .bind(user_id)
            .fetch_optional(p)
            .await
        })?;
        Ok(s.unwrap_or_default())
    }

    /// Stores a message with the chat's next change number. A `client_id` the sender already
    /// used in this chat answers the first message instead (`Sent::Replayed`).
    pub async fn send_message(&self, m: &NewMessage) -> Result<Sent> {
        if let Some(first) = self.message_by_client_id(m).await? {
            return Ok(Sent::Replayed(first));
        }
        let channel = self.pg_channel();
        let r = on_db!(self, write, |p| {
            async {
                let mut tx = p.begin_write().await?;
                let seq: Option<i64> = sqlx::query_scalar(
                    "UPDATE chats SET last_seq = last_seq + 1, last_message_id = $1, updated_at = $2
                     WHERE chat_id = $3 RETURNING last_seq",
                )
                .bind(m.message_id)
                .bind(m.created_at)
                .bind(m.chat_id)
                .fetch_optional(&mut *tx)
                .await?;
                let Some(seq) = seq else {
                    tx.rollback().await?;
                    return Ok(None);
                };
                let inserted = sqlx::query(
                    "INSERT INTO messages (message_id, chat_id, seq, change_seq, sender_id, body, client_id, created_at,
                         file_id)
                     VALUES ($1, $2, $3, $3, $4, $5, $6, $7, $8)",
                )
                .bind(m.message_id)
                .bind(m.chat_id)
                .bind(seq)
                .bind(m.sender_id)
                .bind(&m.body)
                .bind(m.client_id.as_deref())
                .bind(m.created_at)
                .bind(m.file_id)
                .execute(&mut *tx)
                .await;
                if let Err(sqlx::Error::Database(db)) = &inserted
                    && db.is_unique_violation()
                {
                    // A retry with the same client id committed first: answer that one.
                    tx.rollback().await?;
                    return Ok(Some(None));
                }
                inserted?;
                if let Some(channel) = &channel {
                    let signal = ChatSignal::Changed { chat_id: m.chat_id, seq }.encode();
                    sqlx::query("SELECT pg_notify($1, $2)").bind(channel).bind(signal).execute(&mut *tx).await?;
                }
                tx.commit().await?;
                Ok::<_, sqlx::Error>(Some(Some(seq)))
            }
            .await
        })?;
        match r {
            None => Err(StoreError::NotFound),
            Some(Some(seq)) => {
                self.after_chat_commit(ChatSignal::Changed { chat_id: m.chat_id, seq }).await;
                let message = self.message(m.message_id).await?.ok_or(StoreError::NotFound)?;
                Ok(Sent::New(message))
            }
            Some(None) => self
                .message_by_client_id(m)
                .await?
                .map(Sent::Replayed)
                .ok_or_else(|| StoreError::Conflict("messages_client_idx".into())),
        }
    }

    async fn message_by_client_id(&self, m: &NewMessage) -> Result<Option<Message>> {
        let Some(client_id) = m.client_id.as_deref() else { return Ok(None) };
        let sql = format!(
            "SELECT {MESSAGE} FROM messages WHERE chat_id = $1 AND sender_id = $2 AND client_id = $3"
        );
        Ok(on_db!(self, read, |p| {
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(m.chat_id)
                .bind(m.sender_id)
                .bind(client_id)
                .fetch_optional(p)
                .await
        })?)
    }

    pub async fn message(&self, message_id: MessageId) -> Result<Option<Message>> {
        let sql = format!("SELECT {MESSAGE} FROM messages WHERE message_id = $1");
        Ok(on_db!(self, read, |p| {
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(message_id).fetch_optional(p).await
        })?)
    }

    /// Changes a message's body; only its sender's, and not once deleted (`None` otherwise).
    pub async fn edit_message(
        &self,
        message_id: MessageId,
        sender_id: UserId,
        body: &str,
        now: OffsetDateTime,
    ) -> Result<Option<Message>> {
        self.change_message(message_id, Change::Edit { sender_id, body }, now).await
    }

    /// Empties a message and marks it deleted by `by` (a tombstone); `None` when it is already.
    pub async fn delete_message(
        &self,
        message_id: MessageId,
        by: UserId,
        now: OffsetDateTime,
    ) -> Result<Option<Message>> {
        self.change_message(message_id, Change::Delete { by }, now).await
    }

    async fn change_message(
        &self,
        message_id: MessageId,
        change: Change<'_>,
        now: OffsetDateTime,
    ) -> Result<Option<Message>> {
        let Some(chat_id) = self.message(message_id).await?.map(|m| m.chat_id) else { return Ok(None) };
        let channel = self.pg_channel();
        let seq = on_db!(self, write, |p| {
            async {
                let mut tx = p.begin_write().await?;
                let seq: Option<i64> = sqlx::query_scalar(
                    "UPDATE chats SET last_seq = last_seq + 1 WHERE chat_id = $1 RETURNING last_seq",
                )
                .bind(chat_id)
                .fetch_optional(&mut *tx)
                .await?;
                let Some(seq) = seq else {
                    tx.rollback().await?;
                    return Ok(None);
                };
                let n = match change {
                    Change::Edit { sender_id, body } => sqlx::query(
                        "UPDATE messages SET body = $1, edited_at = $2, change_seq = $3
                         WHERE message_id = $4 AND sender_id = $5 AND deleted_at IS NULL",
                    )
                    .bind(body)
                    .bind(now)
                    .bind(seq)
                    .bind(message_id)
                    .bind(sender_id),
                    Change::Delete { by } => sqlx::query(
                        "UPDATE messages SET body = '', deleted_at = $1, deleted_by = $2, change_seq = $3
                         WHERE message_id = $4 AND deleted_at IS NULL",
                    )
                    .bind(now)
                    .bind(by)
                    .bind(seq)
                    .bind(message_id),
                }
                .execute(&mut *tx)
                .await
                .map(affected)?;
                if n == 0 {
                    // Nothing changed: the change number is not used.
                    tx.rollback().await?;
                    return Ok(None);
                }
                if let Some(channel) = &channel {
                    let signal = ChatSignal::Changed { chat_id, seq }.encode();
                    sqlx::query("SELECT pg_notify($1, $2)")
                        .bind(channel)
                        .bind(signal)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Ok::<_, sqlx::Error>(Some(seq))
            }
            .await
        })?;
        let Some(seq) = seq else { return Ok(None) };
        self.after_chat_commit(ChatSignal::Changed { chat_id, seq }).await;
        self.message(message_id).await
    }

    /// A page of a chat's history, newest first: messages sent before `before_seq`.
    pub async fn messages_before(
        &self,
        chat_id: ChatId,
        before_seq: Option<i64>,
        limit: i64,
    ) -> Result<Vec<Message>> {
        let sql = format!(
            "SELECT {MESSAGE} FROM messages WHERE chat_id = $1 AND seq < $2 ORDER BY seq DESC LIMIT $3"
        );
        Ok(on_db!(self, read, |p| {
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(chat_id)
                .bind(before_seq.unwrap_or(i64::MAX))
                .bind(limit)
                .fetch_all(p)
                .await
        })?)
    }

    /// What changed in a chat after change `after`, in commit order: each message sent, edited
    /// or deleted since, once, as it is now.
    pub async fn changes_after(&self, chat_id: ChatId, after: i64, limit: i64) -> Result<Vec<Message>> {
        let sql = format!(
            "SELECT {MESSAGE} FROM messages WHERE chat_id = $1 AND change_seq > $2 ORDER BY change_seq LIMIT $3"
        );
        Ok(on_db!(self, read, |p| {
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(chat_id).bind(after).bind(limit).fetch_all(p).await
        })?)
    }

    /// The chat's last change number.
    pub async fn chat_seq(&self, chat_id: ChatId) -> Result<i64> {
        let seq: Option<i64> = on_db!(self, read, |p| {
            sqlx::query_scalar("SELECT last_seq FROM chats WHERE chat_id = $1")
                .bind(chat_id)
                .fetch_optional(p)
                .await
        })?;
        seq.ok_or(StoreError::NotFound)
    }

    /// Moves a member's read marker forward to `seq` (never back); the marker it ends at.
    pub async fn mark_read(
        &self,
        chat_id: ChatId,
        user_id: UserId,
        seq: i64,
        now: OffsetDateTime,
    ) -> Result<i64> {
        let newer = match self.backend() {
            Backend::Sqlite => "MAX(chat_members.last_read_seq, excluded.last_read_seq)",
            Backend::Postgres => "GREATEST(chat_members.last_read_seq, excluded.last_read_seq)",
        };
        let sql = format!(
            "INSERT INTO chat_members (chat_id, user_id, member, last_read_seq, joined_at) VALUES ($1, $2, FALSE, $3, $4)
             ON CONFLICT (chat_id, user_id) DO UPDATE SET last_read_seq = {newer}
             RETURNING last_read_seq"
        );
        Ok(on_db!(self, write, |p| {
            sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                .bind(chat_id)
                .bind(user_id)
                .bind(seq)
                .bind(now)
                .fetch_one(p)
                .await
        })?)
    }

    /// Mutes a member of a chat until a time (`None` lifts the mute).
    pub async fn set_mute(
        &self,
        chat_id: ChatId,
        user_id: UserId,
        until: Option<OffsetDateTime>,
        now: OffsetDateTime,
    ) -> Result<()> {
        on_db!(self, write, |p| {
            sqlx::query(
                "INSERT INTO chat_members (chat_id, user_id, member, muted_until, joined_at) VALUES ($1, $2, FALSE, $3, $4)
                 ON CONFLICT (chat_id, user_id) DO UPDATE SET muted_until = excluded.muted_until",
            )
            .bind(chat_id)
            .bind(user_id)
            .bind(until)
            .bind(now)
            .execute(p)
            .await
            .map(affected)
        })?;
        Ok(())
    }

    fn pg_channel(&self) -> Option<String> {
        match self.backend() {
            Backend::Postgres => Some(self.bus.channel.clone()),
            Backend::Sqlite => None,
        }
    }

    /// After a write committed: tells every instance of it. SQLite tells this process now;
    /// PostgreSQL already told everyone of a chat change at commit (NOTIFY in the transaction)
    /// and tells of the rest now. A signal that cannot be sent is logged: the write stands, and
    /// readers catch up from the database.
    pub(crate) async fn after_chat_commit(&self, s: ChatSignal) {
        match (self.backend(), s) {
            (Backend::Sqlite, _) => self.publish_local(s),
            (Backend::Postgres, ChatSignal::Changed { .. }) => {}
            (Backend::Postgres, _) => {
                if let Err(e) = self.send_chat_signal(s).await {
                    tracing::warn!(cause = %e, "chat signal not sent");
                }
            }
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Change<'a> {
    Edit { sender_id: UserId, body: &'a str },
    Delete { by: UserId },
}

/// A chat with whether the asking user is in it.
#[derive(Debug, sqlx::FromRow)]
struct ChatRow {
    #[sqlx(flatten)]
    chat: Chat,
    is_member: bool,
}

/// A chat in a member's list.
#[derive(Debug, sqlx::FromRow)]
struct ViewRow {
    #[sqlx(flatten)]
    chat: Chat,
    unread: i64,
    last_read_seq: i64,
    muted_until: Option<OffsetDateTime>,
}
