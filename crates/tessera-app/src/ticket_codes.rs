//! Ticket codes: issuing a ticket's signed code, verifying a scanned one, and the event keys
//! behind them (created on first use, rotated and retired by the organizer).

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use rand::RngCore;
use tessera_domain::id::EventId;
use tessera_domain::records::KeyStatus;
use tessera_domain::records::TicketStatus;
use tessera_domain::records::{EventKey, TicketDetail};

use tessera_domain::key_seal;
use tessera_domain::ticket_code::{self, CodeError, SigningKey, TicketClaims, VerifyingKey};
use tessera_store::{Store, StoreError};

use crate::auth::Principal;
use crate::{App, AppError, Result};

/// Ticket settings.
#[derive(Clone, Default)]
pub struct TicketConfig {
    /// The master key that seals event signing keys at rest: 32 bytes as 64 hex digits or
    /// base64. `None` generates one and keeps it in the database (development only: then a
    /// database dump holds everything needed to open the keys).
    pub master_key: Option<String>,
}

impl std::fmt::Debug for TicketConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TicketConfig")
            .field("master_key", &self.master_key.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

/// The server's master key.
pub(crate) struct MasterKey([u8; 32]);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey([redacted])")
    }
}

/// 32 bytes from 64 hex digits or base64 (standard or URL-safe).
pub fn parse_master_key(text: &str) -> std::result::Result<[u8; 32], String> {
    let t = text.trim();
    let bytes = if t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit()) {
        (0..32).map(|i| u8::from_str_radix(&t[2 * i..2 * i + 2], 16).unwrap_or(0)).collect::<Vec<u8>>()
    } else {
        STANDARD
            .decode(t)
            .or_else(|_| URL_SAFE_NO_PAD.decode(t.trim_end_matches('=')))
            .map_err(|_| "the ticket master key must be 32 bytes as 64 hex digits or base64".to_string())?
    };
    bytes.try_into().map_err(|_| "the ticket master key must be exactly 32 bytes".to_string())
}

impl MasterKey {
    pub(crate) async fn load(store: &Store, cfg: &TicketConfig) -> Result<MasterKey> {
        if let Some(k) = &cfg.master_key {
            return parse_master_key(k).map(MasterKey).map_err(AppError::internal);
        }
        let candidate = hex(&random::<32>());
        let stored = store.secret_or_insert("ticket_master_key", &candidate).await?;
        tracing::warn!(
            "no ticket master key configured (TESSERA_TICKET_MASTER_KEY): event keys are sealed with a \
             key kept in the database itself; configure one in production"
        );
        parse_master_key(&stored).map(MasterKey).map_err(AppError::internal)
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn random<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    rand::rng().fill_bytes(&mut b);
    b
}

/// Unix seconds a ticket's code is valid between: from its issue until a day after the event
/// ends (or starts, when it has no end), as festivals run late. Which days a scan counts for is
/// the door's business, not the code's.
pub fn validity(t: &TicketDetail) -> (i64, i64) {
    let end = t.event_end.unwrap_or(t.event_start);
    // The code holds 32-bit times: an event beyond 2106 is valid until then.
    let cap = i64::from(u32::MAX);
    (t.created_at.unix_timestamp().clamp(0, cap), (end.unix_timestamp() + 24 * 3600).clamp(0, cap))
}

/// Who may see a ticket: its holder, the event's organizer, an admin.
pub(crate) fn may_see(who: &Principal, t: &TicketDetail) -> bool {
    t.user_id == who.user_id || who.owns_or_admin(t.organizer_id)
}

fn key_id_u8(k: i32) -> Result<u8> {
    u8::try_from(k).map_err(|_| AppError::internal(format!("event key id {k} out of range")))
}

impl App {
    fn sealed_key_row(&self, event_id: EventId, key_id: u8) -> Result<(EventKey, SigningKey)> {
        let secret = random::<32>();
        let sealed = key_seal::seal(&self.master.0, event_id, key_id, &secret, &random::<24>())
            .map_err(|e| AppError::internal(e))?;
        let key = ticket_code::signing_key(&secret);
        let row = EventKey {
            event_id,
            key_id: i32::from(key_id),
            public_key: key.verifying_key().as_bytes().to_vec(),
            sealed_secret: sealed,
            status: KeyStatus::Signing,
            created_at: self.now(),
            retired_at: None,
        };
        Ok((row, key))
    }

    fn open_key(&self, k: &EventKey) -> Result<SigningKey> {
        let secret = key_seal::open(&self.master.0, k.event_id, key_id_u8(k.key_id)?, &k.sealed_secret)
            .map_err(|e| AppError::internal(format!("event {} key {}: {e}", k.event_id, k.key_id)))?;
        Ok(ticket_code::signing_key(&secret))
    }

    /// The event's keys, making its first one if it has none.
    pub(crate) async fn keys_of(&self, event_id: EventId) -> Result<Vec<EventKey>> {
        let keys = self.store.event_keys(event_id).await?;
        if !keys.is_empty() {
            return Ok(keys);
        }
        let (row, _) = self.sealed_key_row(event_id, 1)?;
        self.store.insert_first_event_key(&row).await?;
        Ok(self.store.event_keys(event_id).await?)
    }

    /// A ticket's code. The first issue fixes the key that signs it (the event's signing key
    /// then), so the code stays the same until that key is retired.
    pub async fn ticket_code(&self, t: &TicketDetail) -> Result<String> {
        let mut t = t.clone();
        // A rotation can race the first issue; a few tries settle on the new signing key.
        for _ in 0..3 {
            let keys = self.keys_of(t.event_id).await?;
            // A key retired since (its tickets were released from it) counts as none.
            let usable =
                t.key_id.filter(|k| keys.iter().any(|r| r.key_id == *k && r.status != KeyStatus::Retired));
            let key_id = match usable {
                Some(k) => k,
                None => {
                    let signing = keys.iter().find(|k| k.status == KeyStatus::Signing).ok_or_else(|| {
                        AppError::internal(format!("event {} has no signing key", t.event_id))
                    })?;
                    if !self.store.assign_ticket_key(t.ticket_id, signing.key_id).await? {
                        // Another request issued it first, or the keys changed: look again.
                        t = self
                            .store
                            .ticket_detail(t.ticket_id)
                            .await?
                            .ok_or(AppError::NotFound("ticket"))?;
                        continue;
                    }
                    signing.key_id
                }
            };
            let Some(row) = keys.iter().find(|k| k.key_id == key_id) else { continue };
            let (valid_from, valid_until) = validity(&t);
            let claims = TicketClaims {
                event_id: t.event_id,
                ticket_id: t.ticket_id,
                ticket_type_id: t.ticket_type_id,
                valid_from,
                valid_until,
            };
            return ticket_code::encode(&claims, key_id_u8(key_id)?, &self.open_key(row)?)
                .map_err(|e| AppError::internal(e));
        }
        Err(AppError::Conflict {
            code: "keys_changing",
            detail: "the event's keys are being changed; try again".into(),
        })
    }

    /// Verifies a scanned code online: layout, the event's key, signature, revocation and the
    /// validity window. Answers the ticket it names.
    pub async fn verify_ticket_code(&self, code: &str) -> std::result::Result<TicketDetail, CodeRefusal> {
        self.verify_ticket_code_at(code, self.now()).await
    }

    /// [`verify_ticket_code`](Self::verify_ticket_code) with the validity window checked at `at`
    /// (when an offline scanner saw the code).
    pub async fn verify_ticket_code_at(
        &self,
        code: &str,
        at: time::OffsetDateTime,
    ) -> std::result::Result<TicketDetail, CodeRefusal> {
        let parsed = ticket_code::parse(code).map_err(CodeRefusal::Code)?;
        let keys = self.store.event_keys(parsed.claims.event_id).await.map_err(store_refusal)?;
        let ticket = self.store.ticket_detail(parsed.claims.ticket_id).await.map_err(store_refusal)?;
        let public = |event: EventId, kid: u8| {
            keys.iter()
                .find(|k| k.event_id == event && k.key_id == i32::from(kid) && k.status != KeyStatus::Retired)
                .and_then(|k| ticket_code::verifying_key(&k.public_key))
        };
        let void = ticket.as_ref().is_some_and(|t| t.status == TicketStatus::Void);
        ticket_code::verify(code, public, |_| void, at.unix_timestamp()).map_err(CodeRefusal::Code)?;
        // A genuine signature over a ticket we do not have: deleted data, or another server's.
        ticket.filter(|t| t.event_id == parsed.claims.event_id).ok_or(CodeRefusal::UnknownTicket)
    }

    /// An event's keys (its organizer or an admin): public halves and states.
    pub async fn event_keys(&self, who: &Principal, event_id: EventId) -> Result<Vec<EventKeyView>> {
        self.owned_event(who, event_id, "only the event's organizer or an admin may see its keys").await?;
        Ok(self.keys_of(event_id).await?.iter().map(EventKeyView::from).collect())
    }

    /// Makes a new signing key; the old one keeps verifying the codes it signed until retired.
    pub async fn rotate_event_key(&self, who: &Principal, event_id: EventId) -> Result<EventKeyView> {
        self.owned_event(who, event_id, "only the event's organizer or an admin may rotate its keys").await?;
        let keys = self.keys_of(event_id).await?;
        let next = keys.iter().map(|k| k.key_id).max().unwrap_or(0) + 1;
        let next = u8::try_from(next).map_err(|_| AppError::Conflict {
            code: "keys_exhausted",
            detail: "this event has used all 255 key ids".into(),
        })?;
        let (row, _) = self.sealed_key_row(event_id, next)?;
        let rotated = self.store.rotate_event_key(&row).await;
        self.forget_door_keys(event_id);
        match rotated {
            Ok(()) => Ok(EventKeyView::from(&row)),
            Err(StoreError::Conflict(_)) => Err(AppError::Conflict {
                code: "rotation_in_progress",
                detail: "another rotation of this event's keys happened at the same time; try again".into(),
            }),
            Err(e) => Err(e.into()),
        }
    }

    /// Retires a key that no longer signs: codes it signed stop working and their tickets get
    /// new codes from the current key.
    pub async fn retire_event_key(&self, who: &Principal, event_id: EventId, key_id: i64) -> Result<()> {
        self.owned_event(who, event_id, "only the event's organizer or an admin may retire its keys").await?;
        let keys = self.store.event_keys(event_id).await?;
        let Some(k) = keys.iter().find(|k| i64::from(k.key_id) == key_id) else {
            return Err(AppError::NotFound("event key"));
        };
        match k.status {
            KeyStatus::Signing => Err(AppError::Conflict {
                code: "key_signing",
                detail: "this key signs new tickets: rotate to a new key before retiring it".into(),
            }),
            KeyStatus::Retired => {
                Err(AppError::Conflict { code: "key_retired", detail: "this key is already retired".into() })
            }
            _ => {
                let retired = self.store.retire_event_key(event_id, k.key_id, self.now()).await?;
                self.forget_door_keys(event_id);
                if retired {
                    Ok(())
                } else {
                    Err(AppError::Conflict {
                        code: "key_changed",
                        detail: "the key changed while retiring it; look again".into(),
                    })
                }
            }
        }
    }
}

/// Why a scanned code was refused.
#[derive(Debug)]
pub enum CodeRefusal {
    Code(CodeError),
    /// The signature is genuine but no such ticket exists here.
    UnknownTicket,
    Store(AppError),
}

fn store_refusal(e: StoreError) -> CodeRefusal {
    CodeRefusal::Store(e.into())
}

/// An event key as shown to its organizer: never the private half.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventKeyView {
    pub key_id: i32,
    /// Base64url Ed25519 public key.
    pub public_key: String,
    pub status: KeyStatus,
    pub created_at: time::OffsetDateTime,
    pub retired_at: Option<time::OffsetDateTime>,
}

impl From<&EventKey> for EventKeyView {
    fn from(k: &EventKey) -> Self {
        EventKeyView {
            key_id: k.key_id,
            public_key: URL_SAFE_NO_PAD.encode(&k.public_key),
            status: k.status,
            created_at: k.created_at,
            retired_at: k.retired_at,
        }
    }
}

/// The verifying key of a stored row (for scanners' bundles).
pub fn public_key(k: &EventKey) -> Option<VerifyingKey> {
    ticket_code::verifying_key(&k.public_key)
}
