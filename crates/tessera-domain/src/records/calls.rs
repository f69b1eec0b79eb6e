//! Calls between two people and the WebRTC signals relayed between them.

use time::OffsetDateTime;

use crate::id::{CallId, ChatId, SignalId, UserId};
use crate::text_enum::text_enum;

text_enum! {
    /// Where a call is: ringing until answered, declined or given up; active once answered;
    /// missed when nobody answered in time.
    pub enum CallStatus {
        Ringing = "ringing",
        Active = "active",
        Declined = "declined",
        Ended = "ended",
        Missed = "missed",
    }
}

impl CallStatus {
    /// Whether the call can still change (and signals may be relayed).
    pub fn is_live(self) -> bool {
        matches!(self, CallStatus::Ringing | CallStatus::Active)
    }
}

/// A call as stored, with its parties' names.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "sqlx", derive(sqlx::FromRow))]
pub struct Call {
    pub call_id: CallId,
    pub caller_id: UserId,
    pub caller_name: String,
    pub receiver_id: UserId,
    pub receiver_name: String,
    pub chat_id: Option<ChatId>,
    #[cfg_attr(feature = "sqlx", sqlx(try_from = "String"))]
    pub status: CallStatus,
    pub created_at: OffsetDateTime,
    pub answered_at: Option<OffsetDateTime>,
    pub ended_at: Option<OffsetDateTime>,
    pub ended_by: Option<UserId>,
}

impl Call {
    /// Whether `user_id` is one of its two parties.
    pub fn has_party(&self, user_id: UserId) -> bool {
        self.caller_id == user_id || self.receiver_id == user_id
    }

    /// The other party to `user_id`.
    pub fn other_party(&self, user_id: UserId) -> UserId {
        if self.caller_id == user_id { self.receiver_id } else { self.caller_id }
    }

    /// How long it was (or has been, at `now`) connected; zero if never answered.
    pub fn duration_secs(&self, now: OffsetDateTime) -> i64 {
        match self.answered_at {
            Some(a) => (self.ended_at.unwrap_or(now) - a).whole_seconds().max(0),
            None => 0,
        }
    }
}

text_enum! {
    /// What a WebRTC signal carries.
    pub enum SignalKind {
        Offer = "offer",
        Answer = "answer",
        Ice = "ice",
    }
}

/// A WebRTC signal on its way from one party of a call to the other.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "sqlx", derive(sqlx::FromRow))]
pub struct CallSignal {
    pub signal_id: SignalId,
    pub call_id: CallId,
    pub from_id: UserId,
    pub to_id: UserId,
    #[cfg_attr(feature = "sqlx", sqlx(try_from = "String"))]
    pub kind: SignalKind,
    /// The SDP or ICE candidate as the client sent it (JSON text).
    pub data: String,
    pub created_at: OffsetDateTime,
}

/// How a call changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallMove {
    /// The receiver answers a ringing call.
    Answer,
    /// The receiver declines a ringing call.
    Decline,
    /// Either party hangs up (or the caller gives up ringing).
    End,
    /// Nobody answered before the cutoff.
    Miss,
}

/// What a call change came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallChange {
    Changed,
    /// The call is not in a state that allows it (or is not the caller's to change).
    Refused,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duration_counts_from_the_answer() {
        let t = OffsetDateTime::UNIX_EPOCH;
        let mut c = Call {
            call_id: CallId::new(),
            caller_id: UserId::new(),
            caller_name: "A".into(),
            receiver_id: UserId::new(),
            receiver_name: "B".into(),
            chat_id: None,
            status: CallStatus::Active,
            created_at: t,
            answered_at: None,
            ended_at: None,
            ended_by: None,
        };
        assert_eq!(c.duration_secs(t + time::Duration::seconds(9)), 0);
        c.answered_at = Some(t + time::Duration::seconds(5));
        assert_eq!(c.duration_secs(t + time::Duration::seconds(9)), 4);
        c.ended_at = Some(t + time::Duration::seconds(65));
        assert_eq!(c.duration_secs(t + time::Duration::seconds(900)), 60);
        assert_eq!(c.other_party(c.caller_id), c.receiver_id);
        assert!(CallStatus::Ringing.is_live() && !CallStatus::Missed.is_live());
    }
}
