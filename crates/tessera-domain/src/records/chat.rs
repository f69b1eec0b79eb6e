//! Chats, their members' state and their messages, and the signals that tell every server
//! instance what changed.

use time::OffsetDateTime;

use crate::id::{CallId, ChatId, EventId, FileId, MessageId, SignalId, UserId};
use crate::text_enum::text_enum;

text_enum! {
    /// What a chat is: an event's (its ticket holders, organizer and door staff), a direct chat
    /// between two people, or a small group.
    pub enum ChatKind {
        Event = "event",
        Direct = "direct",
        Group = "group",
    }
}

/// A chat as stored, with the caller's place in it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "sqlx", derive(sqlx::FromRow))]
pub struct Chat {
    pub chat_id: ChatId,
    #[cfg_attr(feature = "sqlx", sqlx(try_from = "String"))]
    pub kind: ChatKind,
    pub event_id: Option<EventId>,
    /// A group's name, or the event's for an event chat.
    pub name: Option<String>,
    pub created_by: Option<UserId>,
    /// The sequence number of the chat's last change (a message sent, edited or deleted).
    pub last_seq: i64,
    pub last_message_id: Option<MessageId>,
    pub created_at: OffsetDateTime,
    /// When the last message was sent (or the chat made).
    pub updated_at: OffsetDateTime,
}

/// A chat as one member sees it in their list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatView {
    pub chat: Chat,
    /// Messages from others after the member's read marker (deleted ones not counted).
    pub unread: i64,
    pub last_read_seq: i64,
    pub muted_until: Option<OffsetDateTime>,
    pub last_message: Option<Message>,
}

/// A member's own state in a chat: the read marker and a moderator's mute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "sqlx", derive(sqlx::FromRow))]
pub struct MemberState {
    pub last_read_seq: i64,
    pub muted_until: Option<OffsetDateTime>,
}

/// Whether a user may see a chat, as the database knows it (admins and moderators are the
/// app's rule on top).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Membership {
    /// A listed member of a direct or group chat, or an event chat's ticket holder, organizer or
    /// door staff.
    Member,
    /// The chat exists; the user is not in it.
    Outsider,
}

/// A member of a chat, for the chat's page.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "sqlx", derive(sqlx::FromRow))]
pub struct ChatMember {
    pub user_id: UserId,
    pub name: String,
}

/// A message as stored. A deleted message stays as a tombstone (empty body, `deleted_at` set),
/// so the history keeps its place and clients learn of the deletion.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "sqlx", derive(sqlx::FromRow))]
pub struct Message {
    pub message_id: MessageId,
    pub chat_id: ChatId,
    /// The chat's sequence number when it was sent: the history's order.
    pub seq: i64,
    /// The sequence number of its last change (its sending, last edit or deletion): what a client
    /// catching up asks for (`after`).
    pub change_seq: i64,
    pub sender_id: UserId,
    pub body: String,
    /// An attached file (kept when the message is deleted, no longer readable through it).
    pub file_id: Option<FileId>,
    pub client_id: Option<String>,
    pub created_at: OffsetDateTime,
    pub edited_at: Option<OffsetDateTime>,
    pub deleted_at: Option<OffsetDateTime>,
    pub deleted_by: Option<UserId>,
}

impl Message {
    /// What its last change was.
    pub fn change(&self) -> MessageChange {
        if self.deleted_at.is_some() {
            MessageChange::Deleted
        } else if self.change_seq != self.seq {
            MessageChange::Edited
        } else {
            MessageChange::Created
        }
    }
}

text_enum! {
    /// A message's last change, as delivered.
    pub enum MessageChange {
        Created = "created",
        Edited = "edited",
        Deleted = "deleted",
    }
}

/// A new message to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMessage {
    pub message_id: MessageId,
    pub chat_id: ChatId,
    pub sender_id: UserId,
    pub body: String,
    pub file_id: Option<FileId>,
    pub client_id: Option<String>,
    pub created_at: OffsetDateTime,
}

/// What became of a send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sent {
    New(Message),
    /// The sender had already sent this `client_id` in this chat: the first message.
    Replayed(Message),
}

/// Something that happened in chats, told to every server instance (PostgreSQL NOTIFY, or in
/// process on SQLite). Ids only: whoever needs the rows reads them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChatSignal {
    /// A chat's change `seq` committed (a message sent, edited or deleted).
    Changed {
        chat_id: ChatId,
        seq: i64,
    },
    Typing {
        chat_id: ChatId,
        user_id: UserId,
    },
    /// A member's read marker moved to `seq`.
    Read {
        chat_id: ChatId,
        user_id: UserId,
        seq: i64,
    },
    /// A member's first connection subscribed to the chat, or the last one left.
    Presence {
        chat_id: ChatId,
        user_id: UserId,
        online: bool,
    },
    /// A user was added to a chat (someone opened a direct or group chat with them).
    Joined {
        chat_id: ChatId,
        user_id: UserId,
    },
    /// A call of the user's changed (it rings, was answered, declined, ended or missed).
    Call {
        call_id: CallId,
        user_id: UserId,
    },
    /// A WebRTC signal waits for the user.
    Relay {
        signal_id: SignalId,
        user_id: UserId,
    },
    /// Signals may have been lost (the listening connection was re-established): everyone
    /// re-reads what they follow.
    Resync,
}

impl ChatSignal {
    /// The NOTIFY payload: a letter and ids, well under PostgreSQL's 8000-byte limit.
    pub fn encode(&self) -> String {
        match *self {
            ChatSignal::Changed { chat_id, seq } => format!("c:{chat_id}:{seq}"),
            ChatSignal::Typing { chat_id, user_id } => format!("t:{chat_id}:{user_id}"),
            ChatSignal::Read { chat_id, user_id, seq } => format!("r:{chat_id}:{user_id}:{seq}"),
            ChatSignal::Presence { chat_id, user_id, online } => {
                format!("p:{chat_id}:{user_id}:{}", u8::from(online))
            }
            ChatSignal::Joined { chat_id, user_id } => format!("j:{chat_id}:{user_id}"),
            ChatSignal::Call { call_id, user_id } => format!("k:{call_id}:{user_id}"),
            ChatSignal::Relay { signal_id, user_id } => format!("g:{signal_id}:{user_id}"),
            ChatSignal::Resync => "s".to_string(),
        }
    }

    /// Reads a payload made by [`ChatSignal::encode`]; `None` for anything else.
    pub fn decode(s: &str) -> Option<ChatSignal> {
        let mut parts = s.split(':');
        let tag = parts.next()?;
        let mut next = || parts.next();
        let signal = match tag {
            "c" => ChatSignal::Changed { chat_id: next()?.parse().ok()?, seq: next()?.parse().ok()? },
            "t" => ChatSignal::Typing { chat_id: next()?.parse().ok()?, user_id: next()?.parse().ok()? },
            "r" => ChatSignal::Read {
                chat_id: next()?.parse().ok()?,
                user_id: next()?.parse().ok()?,
                seq: next()?.parse().ok()?,
            },
            "p" => ChatSignal::Presence {
                chat_id: next()?.parse().ok()?,
                user_id: next()?.parse().ok()?,
                online: next()? == "1",
            },
            "j" => ChatSignal::Joined { chat_id: next()?.parse().ok()?, user_id: next()?.parse().ok()? },
            "k" => ChatSignal::Call { call_id: next()?.parse().ok()?, user_id: next()?.parse().ok()? },
            "g" => ChatSignal::Relay { signal_id: next()?.parse().ok()?, user_id: next()?.parse().ok()? },
            "s" => ChatSignal::Resync,
            _ => return None,
        };
        Some(signal)
    }

    /// The chat it concerns, if one.
    pub fn chat_id(&self) -> Option<ChatId> {
        match *self {
            ChatSignal::Changed { chat_id, .. }
            | ChatSignal::Typing { chat_id, .. }
            | ChatSignal::Read { chat_id, .. }
            | ChatSignal::Presence { chat_id, .. }
            | ChatSignal::Joined { chat_id, .. } => Some(chat_id),
            ChatSignal::Call { .. } | ChatSignal::Relay { .. } | ChatSignal::Resync => None,
        }
    }

    /// The user it is addressed to, if one.
    pub fn addressee(&self) -> Option<UserId> {
        match *self {
            ChatSignal::Joined { user_id, .. }
            | ChatSignal::Call { user_id, .. }
            | ChatSignal::Relay { user_id, .. } => Some(user_id),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_round_trip_through_their_payload() {
        let (chat_id, user_id) = (ChatId::new(), UserId::new());
        for s in [
            ChatSignal::Changed { chat_id, seq: 42 },
            ChatSignal::Typing { chat_id, user_id },
            ChatSignal::Read { chat_id, user_id, seq: 7 },
            ChatSignal::Presence { chat_id, user_id, online: true },
            ChatSignal::Presence { chat_id, user_id, online: false },
            ChatSignal::Joined { chat_id, user_id },
            ChatSignal::Call { call_id: CallId::new(), user_id },
            ChatSignal::Relay { signal_id: SignalId::new(), user_id },
            ChatSignal::Resync,
        ] {
            assert_eq!(ChatSignal::decode(&s.encode()), Some(s));
        }
        assert_eq!(ChatSignal::decode("c:not-a-uuid:1"), None);
        assert_eq!(ChatSignal::decode("x"), None);
        assert!(ChatSignal::Changed { chat_id, seq: i64::MAX }.encode().len() < 100);
    }

    #[test]
    fn a_message_says_what_its_last_change_was() {
        let t = OffsetDateTime::UNIX_EPOCH;
        let mut m = Message {
            message_id: MessageId::new(),
            chat_id: ChatId::new(),
            seq: 3,
            change_seq: 3,
            sender_id: UserId::new(),
            body: "hi".into(),
            file_id: None,
            client_id: None,
            created_at: t,
            edited_at: None,
            deleted_at: None,
            deleted_by: None,
        };
        assert_eq!(m.change(), MessageChange::Created);
        m.change_seq = 5;
        assert_eq!(m.change(), MessageChange::Edited);
        m.deleted_at = Some(t);
        assert_eq!(m.change(), MessageChange::Deleted);
    }
}
