//! Calls between two people: start (ringing), answer, decline, end, missed when nobody answers in
//! time; the history; and the WebRTC signals (offers, answers, ICE candidates) relayed between a
//! live call's two parties, with the ICE servers (STUN, TURN with short-lived credentials) from
//! configuration. Only the two parties see a call.

use std::time::Duration;

use base64::Engine;
use hmac::{Hmac, Mac};
use tessera_domain::id::{CallId, ChatId, SignalId, UserId};
use tessera_domain::page::{Page, page_cursor, parse_limit};
use tessera_domain::records::{Call, CallChange, CallMove, CallSignal, CallStatus, Membership, SignalKind};
use tessera_store::calls::NewCall;
use time::OffsetDateTime;

use crate::auth::Principal;
use crate::{App, AppError, Result, cursor};

/// The largest signal (an SDP offer with many candidates fits well under it).
pub const MAX_SIGNAL_BYTES: usize = 12 * 1024;

/// Calls: how long one rings, and the ICE servers clients are given.
#[derive(Debug, Clone)]
pub struct CallConfig {
    /// Seconds a call rings before it counts as missed.
    pub ring_secs: i64,
    /// STUN server URLs (`stun:host:port`).
    pub stun_urls: Vec<String>,
    /// TURN server URLs (`turn:host:port?transport=udp`, `turns:…`).
    pub turn_urls: Vec<String>,
    /// The secret shared with the TURN server (coturn's `static-auth-secret`): credentials are
    /// computed from it, the TURN REST API scheme.
    pub turn_secret: Option<String>,
    /// How long TURN credentials last, in seconds.
    pub turn_ttl_secs: i64,
}

impl Default for CallConfig {
    fn default() -> Self {
        CallConfig {
            ring_secs: 45,
            stun_urls: Vec::new(),
            turn_urls: Vec::new(),
            turn_secret: None,
            turn_ttl_secs: 3600,
        }
    }
}

/// An ICE server as `RTCPeerConnection` takes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IceServer {
    pub urls: Vec<String>,
    pub username: Option<String>,
    pub credential: Option<String>,
}

/// TURN REST credentials: the username is the expiry (Unix seconds) and the user, the password
/// the base64 HMAC-SHA1 of the username under the shared secret; the TURN server checks both.
pub fn turn_credentials(secret: &str, user_id: UserId, expires_at: i64) -> (String, String) {
    let username = format!("{expires_at}:{user_id}");
    let credential = match Hmac::<sha1::Sha1>::new_from_slice(secret.as_bytes()) {
        Ok(mut mac) => {
            mac.update(username.as_bytes());
            base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
        }
        // HMAC takes keys of any length; this arm is never taken.
        Err(_) => String::new(),
    };
    (username, credential)
}

impl App {
    fn ring_cutoff(&self, now: OffsetDateTime) -> OffsetDateTime {
        now - time::Duration::seconds(self.config.calls.ring_secs)
    }

    /// The ICE servers for a user: STUN as configured, TURN with credentials made now.
    pub fn ice_servers(&self, who: &Principal) -> Vec<IceServer> {
        let c = &self.config.calls;
        let mut out = Vec::new();
        if !c.stun_urls.is_empty() {
            out.push(IceServer { urls: c.stun_urls.clone(), username: None, credential: None });
        }
        if let (false, Some(secret)) = (c.turn_urls.is_empty(), &c.turn_secret) {
            let expires = self.now().unix_timestamp() + c.turn_ttl_secs;
            let (username, credential) = turn_credentials(secret, who.user_id, expires);
            out.push(IceServer {
                urls: c.turn_urls.clone(),
                username: Some(username),
                credential: Some(credential),
            });
        }
        out
    }

    /// Starts a call: it rings at the receiver's live connections. The two must share an event
    /// (admins may call anyone) or, with `chat_id`, both be in that chat; 409 when either is
    /// already in a call.
    pub async fn start_call(
        &self,
        who: &Principal,
        receiver_id: Option<UserId>,
        chat_id: Option<ChatId>,
    ) -> Result<Call> {
        let receiver_id = receiver_id.ok_or_else(|| AppError::invalid("receiver_id", "is required"))?;
        if receiver_id == who.user_id {
            return Err(AppError::invalid("receiver_id", "you cannot call yourself"));
        }
        if self.store.user_by_id(receiver_id).await?.is_none() {
            return Err(AppError::NotFound("user"));
        }
        match chat_id {
            Some(chat_id) => {
                self.chat_of_member(who, chat_id).await?;
                if !matches!(self.store.chat_for(chat_id, receiver_id).await?, Some((_, Membership::Member)))
                {
                    return Err(AppError::Forbidden("the person you call is not in this chat"));
                }
            }
            None if who.is_admin() => {}
            None => {
                if !self.store.share_an_event(who.user_id, receiver_id).await? {
                    return Err(AppError::Forbidden(
                        "you can call only people who share an event or a chat with you",
                    ));
                }
            }
        }
        let now = self.now();
        let call_id = CallId::new();
        let c = NewCall { call_id, caller_id: who.user_id, receiver_id, chat_id, created_at: now };
        if !self.store.start_call(&c, self.ring_cutoff(now)).await? {
            return Err(AppError::Conflict {
                code: "busy",
                detail: "you or the person you call is in another call".into(),
            });
        }
        // Tell both when nobody answered (the state itself never waits for this timer).
        let (app, ring) = (self.clone(), self.config.calls.ring_secs);
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(u64::try_from(ring).unwrap_or(45) + 1)).await;
            let now = app.now();
            let _ =
                app.store.move_call(call_id, receiver_id, CallMove::Miss, now, app.ring_cutoff(now)).await;
        });
        self.store.call(call_id).await?.ok_or(AppError::NotFound("call"))
    }

    /// A call of the caller's (404 for anyone else: only the two parties see a call).
    pub async fn call(&self, who: &Principal, call_id: CallId) -> Result<Call> {
        let c = self.party_call(who, call_id).await?;
        let now = self.now();
        if c.status == CallStatus::Ringing && c.created_at < self.ring_cutoff(now) {
            self.store.move_call(call_id, who.user_id, CallMove::Miss, now, self.ring_cutoff(now)).await?;
            return self.party_call(who, call_id).await;
        }
        Ok(c)
    }

    async fn party_call(&self, who: &Principal, call_id: CallId) -> Result<Call> {
        self.store.call(call_id).await?.filter(|c| c.has_party(who.user_id)).ok_or(AppError::NotFound("call"))
    }

    /// The caller's calls, the newest first (a ringing call past its time shows as missed).
    pub async fn calls(
        &self,
        who: &Principal,
        limit: Option<i64>,
        cursor: Option<&str>,
    ) -> Result<Page<Call>> {
        let limit = parse_limit(limit).map_err(|m| AppError::invalid("limit", m))?;
        let before = match cursor {
            Some(c) => {
                let (v, id) = cursor::decode::<CallId>(c, "calls")?;
                Some((cursor::parse_ts_value(&v)?, id))
            }
            None => None,
        };
        let mut items = self.store.calls_of(who.user_id, before, limit + 1).await?;
        let next_cursor = page_cursor(&mut items, limit, |c| {
            cursor::encode("calls", &cursor::ts_value(c.created_at), c.call_id)
        });
        let cutoff = self.ring_cutoff(self.now());
        for c in &mut items {
            if c.status == CallStatus::Ringing && c.created_at < cutoff {
                c.status = CallStatus::Missed;
            }
        }
        Ok(Page { items, next_cursor })
    }

    /// Answers, declines or ends a call: 404 for anyone but its parties, 403 when it is not
    /// theirs to do (only the receiver answers or declines), 409 when the call has moved on.
    pub async fn move_call(&self, who: &Principal, call_id: CallId, how: CallMove) -> Result<Call> {
        let c = self.call(who, call_id).await?;
        if matches!(how, CallMove::Answer | CallMove::Decline) && c.receiver_id != who.user_id {
            return Err(AppError::Forbidden("only the person called answers or declines"));
        }
        let now = self.now();
        match self.store.move_call(call_id, who.user_id, how, now, self.ring_cutoff(now)).await? {
            CallChange::Changed => self.party_call(who, call_id).await,
            CallChange::Refused => {
                let c = self.call(who, call_id).await?;
                let (code, detail) = match c.status {
                    CallStatus::Active => ("call_active", "the call was already answered".to_string()),
                    s => ("call_ended", format!("the call is over ({s})")),
                };
                Err(AppError::Conflict { code, detail })
            }
        }
    }

    /// Relays a WebRTC signal to the other party of a live call.
    pub async fn relay_signal(
        &self,
        who: &Principal,
        call_id: CallId,
        kind: &str,
        data: String,
    ) -> Result<()> {
        let kind: SignalKind = kind.parse().map_err(|m: String| AppError::invalid("kind", m))?;
        if data.len() > MAX_SIGNAL_BYTES {
            return Err(AppError::invalid("data", format!("must be at most {MAX_SIGNAL_BYTES} bytes")));
        }
        let c = self.party_call(who, call_id).await?;
        let now = self.now();
        let s = CallSignal {
            signal_id: SignalId::new(),
            call_id,
            from_id: who.user_id,
            to_id: c.other_party(who.user_id),
            kind,
            data,
            created_at: now,
        };
        if self.store.relay_signal(&s, self.ring_cutoff(now)).await? {
            Ok(())
        } else {
            Err(AppError::Conflict { code: "call_ended", detail: "the call is over".into() })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn turn_credentials_follow_the_rest_scheme() {
        // The HMAC-SHA1 of "1700000000:<uuid>" under "secret", as coturn computes it.
        let user = UserId::from_uuid(uuid::Uuid::nil());
        let (u, p) = turn_credentials("secret", user, 1_700_000_000);
        assert_eq!(u, "1700000000:00000000-0000-0000-0000-000000000000");
        let mut mac = Hmac::<sha1::Sha1>::new_from_slice(b"secret").unwrap();
        mac.update(u.as_bytes());
        let expected = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
        assert_eq!(p, expected);
        assert_eq!(p.len(), 28, "20 bytes of SHA-1, base64");
    }
}
