//! Chat rules: what a message, a client id and a new chat may be, and the per-user send rate.

use std::collections::BTreeSet;

use crate::id::UserId;
use crate::records::ChatKind;
use crate::validation::{ValidationErrors, optional_text, required_text};

/// The longest message body, in characters.
pub const MAX_BODY_CHARS: usize = 4000;
/// The most people in a group chat, its creator included.
pub const MAX_GROUP_MEMBERS: usize = 50;

/// A message body: trimmed, not empty, at most [`MAX_BODY_CHARS`].
pub fn message_body(body: Option<&str>) -> Result<String, String> {
    required_text(body, MAX_BODY_CHARS)
}

/// A client's id for a send (its retries carry the same one): 1–64 visible ASCII characters.
pub fn client_id(id: Option<&str>) -> Result<Option<String>, String> {
    match id {
        None => Ok(None),
        Some(s) if (1..=64).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_graphic()) => {
            Ok(Some(s.to_string()))
        }
        Some(_) => Err("must be 1 to 64 visible ASCII characters".into()),
    }
}

/// A new direct or group chat, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewChat {
    pub kind: ChatKind,
    pub name: Option<String>,
    /// The other members (the creator is not among them), without repeats.
    pub others: Vec<UserId>,
}

/// Checks a request to open a chat: a direct chat has exactly one other member, a group one to
/// `MAX_GROUP_MEMBERS - 1`; event chats are made with their events, not asked for.
pub fn new_chat(
    creator: UserId,
    kind: Option<&str>,
    name: Option<&str>,
    member_ids: Option<&[UserId]>,
) -> Result<NewChat, ValidationErrors> {
    let mut errs = ValidationErrors::new();
    let kind = match kind.map(str::parse::<ChatKind>) {
        None => {
            errs.add("kind", "is required");
            None
        }
        Some(Ok(ChatKind::Event)) => {
            errs.add("kind", "an event's chat is made with the event; open a direct or group chat");
            None
        }
        Some(Ok(k)) => Some(k),
        Some(Err(_)) => {
            errs.add("kind", "must be direct or group");
            None
        }
    };
    let name = errs.check("name", optional_text(name, 100)).flatten();
    let others: Vec<UserId> = match member_ids {
        None => {
            errs.add("member_ids", "is required");
            Vec::new()
        }
        Some(ids) => {
            let set: BTreeSet<UserId> = ids.iter().copied().filter(|&u| u != creator).collect();
            set.into_iter().collect()
        }
    };
    match kind {
        Some(ChatKind::Direct) if member_ids.is_some() && others.len() != 1 => {
            errs.add("member_ids", "a direct chat has exactly one other person");
        }
        Some(ChatKind::Direct) if name.is_some() => errs.add("name", "a direct chat has no name"),
        Some(ChatKind::Group) if member_ids.is_some() && others.is_empty() => {
            errs.add("member_ids", "name at least one other person");
        }
        Some(ChatKind::Group) if others.len() >= MAX_GROUP_MEMBERS => {
            errs.add("member_ids", format!("a group has at most {MAX_GROUP_MEMBERS} members"));
        }
        _ => {}
    }
    errs.finish(())?;
    match kind {
        Some(kind) => Ok(NewChat { kind, name, others }),
        None => Err(ValidationErrors::single("kind", "is required")),
    }
}

/// The key that makes a pair's direct chat unique: both ids, the lower first.
pub fn direct_key(a: UserId, b: UserId) -> String {
    let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
    format!("{lo}:{hi}")
}

/// A fixed one-second window of sends per user: `allow` says whether one more fits, and when
/// not, how many milliseconds until the window turns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SendWindow {
    /// The window's second (Unix milliseconds / 1000).
    second: i64,
    count: u32,
}

impl SendWindow {
    /// The second this window counts.
    pub fn second(&self) -> i64 {
        self.second
    }

    pub fn allow(&mut self, now_ms: i64, per_second: u32) -> Result<(), i64> {
        let second = now_ms.div_euclid(1000);
        if second != self.second {
            *self = SendWindow { second, count: 0 };
        }
        if self.count >= per_second {
            return Err(1000 - now_ms.rem_euclid(1000));
        }
        self.count += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_and_client_ids_are_checked() {
        assert_eq!(message_body(Some("  hi  ")).as_deref(), Ok("hi"));
        assert!(message_body(Some("   ")).is_err());
        assert!(message_body(None).is_err());
        assert!(message_body(Some(&"x".repeat(MAX_BODY_CHARS))).is_ok());
        assert!(message_body(Some(&"x".repeat(MAX_BODY_CHARS + 1))).is_err());
        assert_eq!(client_id(Some("abc-1")), Ok(Some("abc-1".into())));
        assert_eq!(client_id(None), Ok(None));
        assert!(client_id(Some("")).is_err());
        assert!(client_id(Some("has space")).is_err());
        assert!(client_id(Some(&"a".repeat(65))).is_err());
    }

    #[test]
    fn new_chats_are_checked() {
        let (me, a, b) = (UserId::new(), UserId::new(), UserId::new());
        let d = new_chat(me, Some("direct"), None, Some(&[a, me, a])).unwrap();
        assert_eq!((d.kind, d.others), (ChatKind::Direct, vec![a]));
        let fields = |r: Result<NewChat, ValidationErrors>| -> Vec<String> {
            r.err().map(|e| e.0.into_iter().map(|f| f.field).collect()).unwrap_or_default()
        };
        assert_eq!(fields(new_chat(me, Some("direct"), None, Some(&[a, b]))), ["member_ids"]);
        assert_eq!(fields(new_chat(me, Some("direct"), Some("x"), Some(&[a]))), ["name"]);
        assert_eq!(fields(new_chat(me, Some("group"), None, Some(&[me]))), ["member_ids"]);
        assert_eq!(fields(new_chat(me, Some("event"), None, Some(&[a]))), ["kind"]);
        assert_eq!(fields(new_chat(me, None, None, None)), ["kind", "member_ids"]);
        let many: Vec<UserId> = (0..MAX_GROUP_MEMBERS).map(|_| UserId::new()).collect();
        assert_eq!(fields(new_chat(me, Some("group"), Some("g"), Some(&many))), ["member_ids"]);
        assert!(new_chat(me, Some("group"), Some("g"), Some(&many[1..])).is_ok());
    }

    #[test]
    fn a_pair_has_one_direct_key() {
        let (a, b) = (UserId::new(), UserId::new());
        assert_eq!(direct_key(a, b), direct_key(b, a));
    }

    #[test]
    fn sends_per_second_are_counted_per_window() {
        let mut w = SendWindow::default();
        assert_eq!(w.allow(10_000, 2), Ok(()));
        assert_eq!(w.allow(10_100, 2), Ok(()));
        assert_eq!(w.allow(10_250, 2), Err(750));
        assert_eq!(w.allow(11_000, 2), Ok(()));
    }
}
