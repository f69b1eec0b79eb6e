//! Door check-in: who may scan for an event, online scans, scans synced from offline scanners,
//! the offline bundle they verify with, and the door's counts.

use sha2::{Digest, Sha256};
use tessera_domain::id::{EventId, ScanId, TicketId, TicketTypeId, UserId};
use tessera_domain::records::KeyStatus;
use tessera_domain::records::{
    CheckinSummary, Event, EventKey, PresenceRecord, ScanRecord, ScanSource, StaffMember, TicketDetail,
};
use time::OffsetDateTime;

use tessera_domain::checkin::{Direction, Outcome, event_day};
use tessera_domain::records::TicketStatus;
use tessera_domain::ticket_code::{self, CodeError, TicketClaims, VerifyingKey};
use tessera_store::checkin::{CodeScan, Scanned};

use crate::auth::Principal;
use crate::ticket_codes::{CodeRefusal, EventKeyView};
use crate::{App, AppError, Result};

/// An event's verifying keys that are not retired, by key id, as the door keeps them.
pub(crate) type DoorKeys = std::sync::Arc<Vec<(i32, VerifyingKey)>>;

/// A scan as the door sends it.
#[derive(Debug, Clone, Default)]
pub struct ScanInput {
    pub code: Option<String>,
    pub direction: Option<String>,
    pub gate: Option<String>,
    pub device_id: Option<String>,
    /// The event the door is scanning for (optional: a code names its own event).
    pub event_id: Option<EventId>,
}

/// An accepted scan.
#[derive(Debug, Clone)]
pub struct Admitted {
    pub scan_id: ScanId,
    pub ticket: TicketDetail,
    pub direction: Direction,
    pub day: i32,
    pub presence: Option<PresenceRecord>,
}

/// Why a scan was refused; each has its own status.
#[derive(Debug)]
pub enum Refusal {
    /// 422: not a code of ours, altered, forged, or signed with a retired key.
    InvalidCode(CodeError),
    /// 403: a genuine code for another event.
    WrongEvent { event_id: EventId, event_name: String },
    /// 410: a voided ticket.
    Void,
    /// 404: a genuine code whose ticket does not exist here.
    UnknownTicket,
    /// 403: outside the code's validity window.
    NotValidNow(CodeError),
    /// 409: entered already (when and where first).
    AlreadyInside { first_entry_at: Option<OffsetDateTime>, first_gate: Option<String>, day: i32 },
    /// 409: an exit without an entry.
    NotInside { day: i32 },
    /// Anything else (bad input, not allowed, the database).
    App(AppError),
}

impl From<AppError> for Refusal {
    fn from(e: AppError) -> Self {
        Refusal::App(e)
    }
}

/// What an offline scanner needs to verify codes with no network.
#[derive(Debug, Clone)]
pub struct OfflineBundle {
    pub event_id: EventId,
    pub event_name: String,
    pub start_time: OffsetDateTime,
    pub end_time: Option<OffsetDateTime>,
    /// Changes whenever the keys, the revocation list or the ticket types change.
    pub version: String,
    pub keys: Vec<EventKeyView>,
    pub revoked: Vec<TicketId>,
    /// (ticket type, name, re-entry allowed)
    pub ticket_types: Vec<(TicketTypeId, String, bool)>,
    pub generated_at: OffsetDateTime,
}

/// One scan made offline.
#[derive(Debug, Clone, Default)]
pub struct OfflineScan {
    pub scan_id: Option<ScanId>,
    pub code: Option<String>,
    pub direction: Option<String>,
    pub gate: Option<String>,
    /// RFC 3339, as the device sent it.
    pub scanned_at: Option<String>,
}

/// What became of one synced scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncResult {
    pub scan_id: ScanId,
    pub ticket_id: Option<TicketId>,
    /// accepted, already_inside, not_inside, or why the code was refused.
    pub result: String,
    /// How the scan resolved against the ticket's other scans, when the code was genuine.
    pub outcome: Option<Outcome>,
}

impl SyncResult {
    /// A genuine scan that contradicts the ticket's other scans (an entry while inside, an exit
    /// while outside): two devices saw the same ticket, and someone may want to look.
    pub fn is_conflict(&self) -> bool {
        matches!(self.outcome, Some(Outcome::AlreadyInside | Outcome::NotInside))
    }
}

fn refusal_code(e: CodeError) -> &'static str {
    match e {
        CodeError::Revoked => "ticket_void",
        CodeError::NotYetValid | CodeError::Expired => "not_valid_now",
        _ => "invalid_code",
    }
}

impl App {
    /// May `who` scan for this event: its staff, its organizer, an admin.
    async fn may_scan(
        &self,
        who: &Principal,
        event_id: EventId,
        organizer_id: Option<UserId>,
    ) -> Result<bool> {
        Ok(who.owns_or_admin(organizer_id) || self.is_door_staff(event_id, who.user_id).await?)
    }

    /// Whether the person is the event's door staff; a yes is kept for `recent::TTL`, so a
    /// removal made on another instance is seen within it (this instance forgets at once).
    async fn is_door_staff(&self, event_id: EventId, user_id: UserId) -> Result<bool> {
        if self.door_staff.get((event_id, user_id)).is_some() {
            return Ok(true);
        }
        let yes = self.store.is_staff(event_id, user_id).await?;
        if yes {
            self.door_staff.put((event_id, user_id), ());
        }
        Ok(yes)
    }

    /// The event's verifying key with this id, unless retired. The event's keys are kept for
    /// `recent::TTL`; an id not among them is looked up afresh (a rotation made a moment ago on
    /// another instance), and an event with no keys yet is never kept.
    async fn door_key(&self, event_id: EventId, kid: u8) -> Result<Option<VerifyingKey>> {
        let find =
            |keys: &[(i32, VerifyingKey)]| keys.iter().find(|(id, _)| *id == i32::from(kid)).map(|(_, k)| *k);
        if let Some(k) = self.door_keys.get(event_id).and_then(|keys| find(&keys)) {
            return Ok(Some(k));
        }
        let rows = self.store.event_keys(event_id).await?;
        let keys: Vec<(i32, VerifyingKey)> = rows
            .iter()
            .filter(|k| k.status != KeyStatus::Retired)
            .filter_map(|k| Some((k.key_id, ticket_code::verifying_key(&k.public_key)?)))
            .collect();
        let found = find(&keys);
        if !keys.is_empty() {
            self.door_keys.put(event_id, std::sync::Arc::new(keys));
        }
        Ok(found)
    }

    /// This instance changed the event's keys: the next scan reads them afresh.
    pub(crate) fn forget_door_keys(&self, event_id: EventId) {
        self.door_keys.forget(event_id);
    }

    /// Layout, key, signature and validity window of a scanned code, with the keys a door keeps
    /// (`door_key`). Whether its ticket exists, is void or is inside is the store's to say.
    /// `parsed`: the code as the caller already parsed it.
    async fn genuine(
        &self,
        code: &str,
        parsed: std::result::Result<&ticket_code::ParsedCode, CodeError>,
        at: OffsetDateTime,
    ) -> Result<std::result::Result<TicketClaims, CodeError>> {
        let parsed = match parsed {
            Ok(p) => p,
            Err(e) => return Ok(Err(e)),
        };
        let key = self.door_key(parsed.claims.event_id, parsed.key_id).await?;
        Ok(ticket_code::verify(code, |_, _| key, |_| false, at.unix_timestamp()))
    }

    /// Door staff may scan at all (attendees may not, whatever they hold up).
    fn door_role(who: &Principal) -> Result<()> {
        use tessera_domain::Role;
        match who.role {
            Role::Staff | Role::Organizer | Role::Admin => Ok(()),
            Role::Attendee => {
                Err(AppError::Forbidden("only door staff, organizers and admins may scan tickets"))
            }
        }
    }

    /// Verifies a scanned code and records the scan (accepted or not) with ONE conditional change
    /// of the ticket's state for the day.
    pub async fn check_in(&self, who: &Principal, i: &ScanInput) -> std::result::Result<Admitted, Refusal> {
        Self::door_role(who)?;
        let code = i.code.as_deref().map(str::trim).filter(|c| !c.is_empty());
        let code = code.ok_or_else(|| AppError::invalid("code", "is required"))?;
        let direction = match i.direction.as_deref() {
            None => Direction::Entry,
            Some(d) => {
                Direction::parse(d).ok_or_else(|| AppError::invalid("direction", "must be entry or exit"))?
            }
        };
        let gate = clean(i.gate.as_deref(), "gate")?;
        let device_id = clean(i.device_id.as_deref(), "device_id")?;
        if code.len() > 1024 {
            return Err(AppError::invalid("code", "is too long to be a ticket code").into());
        }
        let now = self.now();
        let mut scan = ScanRecord {
            scan_id: ScanId::new(),
            event_id: None,
            ticket_id: None,
            direction,
            day: None,
            gate,
            device_id,
            scanned_by: who.user_id,
            scanned_at: now,
            recorded_at: now,
            source: ScanSource::Online,
            result: String::new(),
            detail: None,
        };
        // The door's own event, when named: it must exist and be this scanner's to scan for.
        let door = match i.event_id {
            Some(ev) => {
                let event = self.recent_event(ev).await?;
                if !self.may_scan(who, ev, event.organizer_id).await? {
                    return Err(AppError::Forbidden("you may not scan tickets for this event").into());
                }
                Some(ev)
            }
            None => None,
        };
        // Which event the code claims, to check the scanner may see it before saying more. A
        // code naming no event we have is refused below (its key cannot be found).
        let parsed = tessera_domain::ticket_code::parse(code);
        let parsed_event = parsed.as_ref().ok().map(|p| p.claims.event_id);
        let mut claimed = None;
        if let Some(ev) = parsed_event {
            match self.recent_event(ev).await {
                Ok(event) => {
                    if door.is_some_and(|d| d != ev) || !self.may_scan(who, ev, event.organizer_id).await? {
                        scan.result = "wrong_event".into();
                        // Kept in the log of the door it was scanned at, if that is known.
                        if let Some(d) = door {
                            scan.event_id = Some(d);
                            self.store.record_scan(&scan).await.map_err(AppError::from)?;
                        }
                        return Err(Refusal::WrongEvent { event_id: ev, event_name: event.name });
                    }
                    claimed = Some(ev);
                }
                Err(AppError::NotFound(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        let refusal = match self.genuine(code, parsed.as_ref().map_err(|e| *e), now).await? {
            Ok(claims) => {
                let mut s = scan.clone();
                s.event_id = Some(claims.event_id);
                s.ticket_id = Some(claims.ticket_id);
                let scanned = self.store.scan_code(&CodeScan { scan: s }).await.map_err(AppError::from)?;
                match scanned {
                    Scanned::Done { ticket, outcome, presence, day } => {
                        return match outcome {
                            Outcome::Accepted => Ok(Admitted {
                                scan_id: scan.scan_id,
                                ticket: *ticket,
                                direction,
                                day,
                                presence,
                            }),
                            Outcome::AlreadyInside => Err(Refusal::AlreadyInside {
                                first_entry_at: presence.as_ref().and_then(|p| p.first_entry_at),
                                first_gate: presence.and_then(|p| p.first_gate),
                                day,
                            }),
                            Outcome::NotInside => Err(Refusal::NotInside { day }),
                            Outcome::Void => Err(Refusal::Void),
                        };
                    }
                    Scanned::Unknown => Refusal::UnknownTicket,
                }
            }
            // A void ticket is refused as void before its validity window is looked at.
            Err(e @ (CodeError::NotYetValid | CodeError::Expired)) => {
                let ticket_id = parsed.as_ref().ok().map(|p| p.claims.ticket_id);
                let ticket = match ticket_id {
                    Some(id) => self.store.ticket_detail(id).await.map_err(AppError::from)?,
                    None => None,
                };
                if ticket.is_some_and(|t| t.status == TicketStatus::Void) {
                    Refusal::Void
                } else {
                    Refusal::NotValidNow(e)
                }
            }
            Err(e) => Refusal::InvalidCode(e),
        };
        scan.result = match &refusal {
            Refusal::Void => "ticket_void",
            Refusal::NotValidNow(_) => "not_valid_now",
            Refusal::UnknownTicket => "unknown_ticket",
            _ => "invalid_code",
        }
        .into();
        scan.event_id = claimed.filter(|_| !matches!(refusal, Refusal::InvalidCode(_))).or(door);
        if let Refusal::Void | Refusal::NotValidNow(_) = refusal {
            scan.ticket_id = parsed.as_ref().ok().map(|p| p.claims.ticket_id);
        }
        // A scan naming an event this scanner may not see is not worth keeping against it.
        if scan.event_id.is_some() {
            self.store.record_scan(&scan).await.map_err(AppError::from)?;
        }
        Err(refusal)
    }

    async fn door_event(&self, who: &Principal, event_id: EventId) -> Result<Event> {
        let event = self.get_event(event_id).await?;
        if !self.may_scan(who, event_id, event.organizer_id).await? {
            return Err(AppError::Forbidden(
                "only this event's staff, its organizer or an admin may do this",
            ));
        }
        Ok(event)
    }

    /// The public keys, revocation list and ticket types a scanner needs offline.
    pub async fn offline_bundle(&self, who: &Principal, event_id: EventId) -> Result<OfflineBundle> {
        let event = self.door_event(who, event_id).await?;
        let keys: Vec<EventKey> =
            self.keys_of(event_id).await?.into_iter().filter(|k| k.status != KeyStatus::Retired).collect();
        let revoked = self.store.revoked_tickets(event_id).await?;
        let types = self.store.ticket_types(event_id, self.now()).await?;
        let ticket_types: Vec<(TicketTypeId, String, bool)> =
            types.into_iter().map(|t| (t.row.ticket_type_id, t.row.name, t.row.allow_reentry)).collect();
        let mut h = Sha256::new();
        for k in &keys {
            h.update(k.key_id.to_be_bytes());
            h.update(&k.public_key);
            h.update(k.status.as_str().as_bytes());
        }
        for r in &revoked {
            h.update(r.as_uuid().as_bytes());
        }
        for (id, name, reentry) in &ticket_types {
            h.update(id.as_uuid().as_bytes());
            h.update(name.as_bytes());
            h.update([u8::from(*reentry)]);
        }
        let version: String = h.finalize().iter().take(8).map(|b| format!("{b:02x}")).collect();
        Ok(OfflineBundle {
            event_id,
            event_name: event.name,
            start_time: event.start_time,
            end_time: event.end_time,
            version,
            keys: keys.iter().map(EventKeyView::from).collect(),
            revoked,
            ticket_types,
            generated_at: self.now(),
        })
    }

    /// Merges a batch of scans made offline (by one device): the first entry by scan time wins,
    /// later ones are conflicts; sending the same batch again changes nothing.
    pub async fn sync_scans(
        &self,
        who: &Principal,
        device_id: Option<&str>,
        scans: &[OfflineScan],
    ) -> Result<Vec<SyncResult>> {
        Self::door_role(who)?;
        let device_id = clean(device_id, "device_id")?;
        if scans.is_empty() || scans.len() > 1000 {
            return Err(AppError::invalid("scans", "send between 1 and 1000 scans"));
        }
        let now = self.now();
        // Validate the whole batch first: nothing is written for a batch with a bad scan.
        let mut parsed = Vec::with_capacity(scans.len());
        for (n, s) in scans.iter().enumerate() {
            let field = |f: &str| format!("scans[{n}].{f}");
            let scan_id = s.scan_id.ok_or_else(|| AppError::invalid(&field("scan_id"), "is required"))?;
            let code = s.code.as_deref().map(str::trim).filter(|c| !c.is_empty() && c.len() <= 1024);
            let code = code.ok_or_else(|| AppError::invalid(&field("code"), "is required"))?;
            let direction = Direction::parse(s.direction.as_deref().unwrap_or("entry"))
                .ok_or_else(|| AppError::invalid(&field("direction"), "must be entry or exit"))?;
            let at = s
                .scanned_at
                .as_deref()
                .ok_or_else(|| AppError::invalid(&field("scanned_at"), "is required"))?;
            // Stored in UTC, so scans order the same whatever offset the device used.
            let at = tessera_domain::parse_ts(at).map_err(|m| AppError::invalid(&field("scanned_at"), m))?;
            if at > now + time::Duration::minutes(5) {
                return Err(AppError::invalid(&field("scanned_at"), "is in the future"));
            }
            parsed.push((scan_id, code, direction, clean(s.gate.as_deref(), &field("gate"))?, at));
        }
        // The device's clock orders its scans, but it does not decide whether a code was still
        // valid: a scan cannot have been made before this device (or this scanner, when it names
        // none) last synced, so a code is checked as of that time at the earliest. A late sync
        // keeps an evening's entries; a clock set back cannot revive a code that had expired
        // by the last sync.
        let last_sync = self.store.last_offline_sync(who.user_id, device_id.as_deref()).await?;
        let mut out = Vec::with_capacity(parsed.len());
        let mut allowed_events: std::collections::HashMap<EventId, bool> = std::collections::HashMap::new();
        for (scan_id, code, direction, gate, at) in parsed {
            let mut row = ScanRecord {
                scan_id,
                event_id: None,
                ticket_id: None,
                direction,
                day: None,
                gate,
                device_id: device_id.clone(),
                scanned_by: who.user_id,
                scanned_at: at,
                recorded_at: now,
                source: ScanSource::Offline,
                result: "pending".into(),
                detail: None,
            };
            let claimed = tessera_domain::ticket_code::parse(code).ok().map(|p| p.claims.event_id);
            // Whether this scanner may scan for the code's event: looked up once per event in a
            // batch (a door's batch is one event's, scanned hundreds of times).
            let allowed = match claimed {
                Some(ev) => match allowed_events.get(&ev) {
                    Some(a) => *a,
                    None => {
                        let a = match self.get_event(ev).await {
                            Ok(e) => self.may_scan(who, ev, e.organizer_id).await?,
                            Err(AppError::NotFound(_)) => false,
                            Err(e) => return Err(e),
                        };
                        allowed_events.insert(ev, a);
                        a
                    }
                },
                None => false,
            };
            // Valid when it was scanned: a late sync must not lose an evening's entries.
            let checked_at = last_sync.map_or(at, |l| at.max(l));
            let verified =
                if allowed { Some(self.verify_ticket_code_at(code, checked_at).await) } else { None };
            match verified {
                Some(Ok(t)) => {
                    let day = event_day(t.event_start, at);
                    row.event_id = Some(t.event_id);
                    row.ticket_id = Some(t.ticket_id);
                    row.day = Some(day);
                    let outcomes =
                        self.store.merge_scans(t.ticket_id, t.event_id, day, &[row], t.allow_reentry).await?;
                    let outcome = outcomes.iter().find(|(id, _)| *id == scan_id).map(|(_, o)| *o);
                    out.push(SyncResult {
                        scan_id,
                        ticket_id: Some(t.ticket_id),
                        // Absent: the scan id was already used for another ticket's scan.
                        result: outcome.map_or("duplicate_scan_id", Outcome::as_str).into(),
                        outcome,
                    });
                }
                other => {
                    let result = match other {
                        None if claimed.is_some() => "wrong_event",
                        Some(Err(CodeRefusal::Code(e))) => refusal_code(e),
                        Some(Err(CodeRefusal::UnknownTicket)) => "unknown_ticket",
                        Some(Err(CodeRefusal::Store(e))) => return Err(e),
                        _ => "invalid_code",
                    };
                    row.result = result.into();
                    row.event_id = claimed.filter(|_| allowed);
                    if row.event_id.is_some() {
                        self.store.record_scan_once(&row).await?;
                    }
                    out.push(SyncResult { scan_id, ticket_id: None, result: result.into(), outcome: None });
                }
            }
        }
        Ok(out)
    }

    /// The door's counts now (staff, organizer, admin).
    pub async fn checkin_summary(&self, who: &Principal, event_id: EventId) -> Result<(i32, CheckinSummary)> {
        let event = self.door_event(who, event_id).await?;
        let today = event_day(event.start_time, self.now());
        Ok((today, self.store.checkin_summary(event_id, today).await?))
    }

    /// The events whose door `who` may work, soonest first: door staff their assigned events,
    /// organizers their own, admins every published event from a day ago on.
    pub async fn door_events(&self, who: &Principal) -> Result<Vec<Event>> {
        let since = self.now() - time::Duration::days(1);
        let mut events = if who.role == tessera_domain::Role::Staff {
            let mut out = Vec::new();
            for id in self.store.staff_event_ids(who.user_id).await? {
                out.push(self.get_event(id).await?);
            }
            out
        } else if who.role.can_create_events() {
            let q = crate::catalogue::EventQuery {
                organizer_id: (!who.is_admin()).then(|| who.user_id.to_string()),
                start_from: Some(tessera_domain::clock::format_ts(since)),
                limit: Some(100),
                ..Default::default()
            };
            self.list_events(&q).await?.items
        } else {
            Vec::new()
        };
        events.retain(|e| e.end_time.unwrap_or(e.start_time + time::Duration::days(1)) >= since);
        events.sort_by_key(|e| e.start_time);
        Ok(events)
    }

    /// Makes a staff account door staff for the event (its organizer or an admin).
    pub async fn add_event_staff(&self, who: &Principal, event_id: EventId, user_id: UserId) -> Result<bool> {
        self.owned_event(who, event_id, "only the event's organizer or an admin may assign its staff")
            .await?;
        let user = self.store.user_by_id(user_id).await?.ok_or(AppError::NotFound("user"))?;
        if user.role != tessera_domain::Role::Staff {
            return Err(AppError::invalid("user_id", "only staff accounts can be assigned to the door"));
        }
        Ok(self.store.add_staff(event_id, user_id, self.now()).await?)
    }

    /// `add_event_staff` for the account with this e-mail (the dashboard's form).
    pub async fn add_event_staff_by_email(
        &self,
        who: &Principal,
        event_id: EventId,
        email: &str,
    ) -> Result<bool> {
        self.owned_event(who, event_id, "only the event's organizer or an admin may assign its staff")
            .await?;
        let email = email.trim().to_lowercase();
        let user = self.store.user_by_email(&email).await?;
        let user = user.ok_or_else(|| AppError::invalid("email", "no account has this e-mail"))?;
        self.add_event_staff(who, event_id, user.user_id).await.map_err(|e| match e {
            AppError::Invalid(_) => {
                AppError::invalid("email", "only staff accounts can be assigned to the door")
            }
            other => other,
        })
    }

    pub async fn remove_event_staff(
        &self,
        who: &Principal,
        event_id: EventId,
        user_id: UserId,
    ) -> Result<()> {
        self.owned_event(who, event_id, "only the event's organizer or an admin may change its staff")
            .await?;
        let removed = self.store.remove_staff(event_id, user_id).await?;
        self.door_staff.forget((event_id, user_id));
        if removed { Ok(()) } else { Err(AppError::NotFound("staff member")) }
    }

    pub async fn event_staff(&self, who: &Principal, event_id: EventId) -> Result<Vec<StaffMember>> {
        self.owned_event(who, event_id, "only the event's organizer or an admin may see its staff").await?;
        Ok(self.store.staff_of(event_id).await?)
    }
}

/// An optional short label (gate, device): trimmed, at most 100 characters.
fn clean(v: Option<&str>, field: &str) -> Result<Option<String>> {
    match v.map(str::trim).filter(|s| !s.is_empty()) {
        Some(s) if s.chars().count() > 100 => Err(AppError::invalid(field, "must be at most 100 characters")),
        other => Ok(other.map(str::to_string)),
    }
}
