//! The virtual waiting room: organizers switch it on per event; buyers join, poll cheaply, and
//! may reserve only while admitted.

use tessera_domain::event::EventStatus;
use tessera_domain::id::{EventId, QueueEntryId, UserId};
use tessera_domain::records::{QueueConfig, QueueEntry, QueueEntryStatus, QueueState};

use tessera_domain::queue_pace;
use tessera_domain::validation::ValidationErrors;
use tessera_store::StoreError;

use crate::auth::Principal;
use crate::{App, AppError, Result};

/// Queue settings as received; `None` keeps the current (or default) value.
#[derive(Debug, Clone, Default)]
pub struct QueueSettingsInput {
    pub enabled: Option<bool>,
    pub admission_rate_per_minute: Option<i64>,
    pub max_admitted: Option<i64>,
    pub admission_window_seconds: Option<i64>,
    /// A scheduled opening (RFC 3339): `None` keeps the current one, `Some(None)` removes it
    /// (admission runs at once).
    pub opens_at: Option<Option<String>>,
}

/// Where a buyer stands.
#[derive(Debug, Clone)]
pub struct QueueView {
    pub entry: QueueEntry,
    pub queue_token: String,
    /// Waiting entries ahead (an estimate from the serving counter).
    pub ahead: i64,
    /// Estimated seconds until admission at the observed pace (0 once admitted).
    pub wait_secs: i64,
    /// While waiting: when to ask again, in whole seconds (rounded up) and in milliseconds.
    pub poll_after_secs: Option<i64>,
    pub poll_after_ms: Option<i64>,
    /// While waiting: more are waiting ahead than places are left.
    pub beyond_places: bool,
    /// The queue's scheduled opening, if any.
    pub opens_at: Option<time::OffsetDateTime>,
    /// Places still on sale when last counted (every two seconds).
    pub places_left: Option<i32>,
    /// True when this call made the entry.
    pub created: bool,
}

/// An event's queue: settings and live counts.
#[derive(Debug, Clone)]
pub struct QueueInfo {
    pub state: QueueState,
    pub waiting: i64,
    pub admitted: i64,
}

pub const DEFAULT_RATE: i64 = 60;
pub const DEFAULT_MAX_ADMITTED: i64 = 100;
pub const DEFAULT_WINDOW: i64 = 300;

impl App {
    /// Switches the waiting room on or off and sets its pace (the event's organizer or an admin).
    pub async fn set_queue(
        &self,
        who: &Principal,
        event_id: EventId,
        i: QueueSettingsInput,
    ) -> Result<QueueInfo> {
        let event = self.get_event(event_id).await?;
        if !who.owns_or_admin(event.organizer_id) {
            return Err(AppError::Forbidden(
                "only the event's organizer or an admin may configure its queue",
            ));
        }
        let current = self.store.queue_state(event_id).await?;
        let mut e = ValidationErrors::new();
        let mut pick =
            |field: &str, v: Option<i64>, cur: Option<i32>, default: i64, lo: i64, hi: i64| -> i32 {
                let v = v.unwrap_or_else(|| cur.map(i64::from).unwrap_or(default));
                if !(lo..=hi).contains(&v) {
                    e.add(field, format!("must be between {lo} and {hi}"));
                }
                i32::try_from(v).unwrap_or(1)
            };
        let rate = pick(
            "admission_rate_per_minute",
            i.admission_rate_per_minute,
            current.as_ref().map(|c| c.rate_per_min),
            DEFAULT_RATE,
            1,
            1_000_000,
        );
        let max = pick(
            "max_admitted",
            i.max_admitted,
            current.as_ref().map(|c| c.max_active),
            DEFAULT_MAX_ADMITTED,
            1,
            1_000_000,
        );
        let window = pick(
            "admission_window_seconds",
            i.admission_window_seconds,
            current.as_ref().map(|c| c.window_secs),
            DEFAULT_WINDOW,
            30,
            86_400,
        );
        let opens_at = match &i.opens_at {
            None => current.as_ref().and_then(|c| c.opens_at),
            Some(None) => None,
            Some(Some(s)) => match tessera_domain::clock::parse_ts(s) {
                Ok(t) if t >= event.start_time => {
                    e.add("opens_at", "must be before the event starts");
                    None
                }
                Ok(t) => Some(t),
                Err(m) => {
                    e.add("opens_at", m);
                    None
                }
            },
        };
        if !e.is_empty() {
            return Err(e.into());
        }
        let enabled = i.enabled.unwrap_or(current.as_ref().is_none_or(|c| c.enabled));
        let cfg = QueueConfig { enabled, rate_per_min: rate, max_active: max, window_secs: window, opens_at };
        self.store.set_queue_config(event_id, cfg, self.now()).await?;
        self.queue_states.forget(event_id);
        self.queue_info(event_id).await
    }

    /// An event's queue settings and counts; 404 when it never had a queue.
    pub async fn queue_info(&self, event_id: EventId) -> Result<QueueInfo> {
        self.get_event(event_id).await?;
        let state = self.store.queue_state(event_id).await?.ok_or(AppError::NotFound("queue"))?;
        let (waiting, admitted) = self.store.queue_counts(event_id, self.now()).await?;
        Ok(QueueInfo { state, waiting, admitted })
    }

    /// Joins an event's waiting room (once per person: joining again answers the same entry);
    /// 404 when the event has none.
    pub async fn join_queue(
        &self,
        who: &Principal,
        event_id: Option<EventId>,
        client_ip: &str,
    ) -> Result<QueueView> {
        self.join(who, event_id, client_ip, false).await
    }

    /// Seed 002's queue token: as `join_queue`, but an event without a waiting room answers an
    /// admitted token, so a client written to its token → status → reserve flow works on any
    /// seated event.
    pub async fn queue_token_for(
        &self,
        who: &Principal,
        event_id: Option<EventId>,
        client_ip: &str,
    ) -> Result<QueueView> {
        self.join(who, event_id, client_ip, true).await
    }

    async fn join(
        &self,
        who: &Principal,
        event_id: Option<EventId>,
        client_ip: &str,
        admit_without_room: bool,
    ) -> Result<QueueView> {
        let event_id = event_id.ok_or_else(|| AppError::invalid("event_id", "is required"))?;
        // As read at most `recent::TTL` ago, as for a hold: a whole crowd joins the same event
        // within seconds, and each join read it afresh (a statement each on PostgreSQL).
        let event = self.recent_event(event_id).await?;
        if event.status != EventStatus::Published || event.start_time <= self.now() {
            return Err(AppError::Forbidden("this event is not on sale"));
        }
        let limits = &self.config.rate_limits;
        let user = who.user_id.to_string();
        self.check_rates(&[
            ("queue:ip:", client_ip, limits.queue_join_per_ip),
            ("queue:user:", &user, limits.queue_join_per_user),
        ])
        .await?;
        let joined = match self.store.join_queue(QueueEntryId::new(), event_id, who.user_id, self.now()).await
        {
            Ok(x) => x,
            // No waiting room: everyone is admitted at once (a client written to the token →
            // status → reserve flow works the same on such an event).
            Err(StoreError::NotFound) if admit_without_room => {
                return self.admitted_without_queue(who.user_id, event_id, QueueEntryId::new(), None);
            }
            Err(StoreError::NotFound) => return Err(AppError::NotFound("queue")),
            Err(e) => return Err(e.into()),
        };
        self.queue_view(joined.entry, joined.state, joined.created).await
    }

    /// Where the token's holder stands. Reads only: polling costs no write, and while the
    /// holder's place is still behind the serving counter (a recently read one), no read either.
    /// The token is answered back as it came while it still names the holder's place.
    pub async fn queue_status(&self, token: Option<&str>) -> Result<QueueView> {
        let token =
            token.filter(|t| !t.trim().is_empty()).ok_or(AppError::Unauthorized("send the queue token"))?;
        let t = self.verify_queue_token(token)?;
        let state = self.queue_state_cached(t.event_id).await?;
        if let Some(state) = state.as_ref().filter(|s| s.enabled && t.position > s.serving_position) {
            // Admission goes in position order up to the serving counter, and the counter only
            // moves forward: a place past it is still waiting.
            let entry = QueueEntry {
                entry_id: t.entry_id,
                event_id: t.event_id,
                user_id: t.user_id,
                queue_position: t.position,
                status: QueueEntryStatus::Waiting,
                admitted_at: None,
                expires_at: None,
                created_at: time::OffsetDateTime::from_unix_timestamp(t.issued_at)
                    .unwrap_or(time::OffsetDateTime::UNIX_EPOCH),
            };
            return self.queue_view_with(entry, state, false, Some(token.trim()));
        }
        let Some(state) = state else {
            // The event has no waiting room: the token was admitted when it was given.
            return self.admitted_without_queue(t.user_id, t.event_id, t.entry_id, Some(token.trim()));
        };
        let entry =
            self.store.queue_entry(t.entry_id, self.now()).await?.ok_or(AppError::NotFound("queue entry"))?;
        let same_place = entry.queue_position == t.position;
        self.queue_view_with(entry, &state, false, same_place.then_some(token.trim()))
    }

    /// The answer for an event without a waiting room: admitted now, nothing stored (a hold
    /// on such an event asks for no token).
    fn admitted_without_queue(
        &self,
        user_id: UserId,
        event_id: EventId,
        entry_id: QueueEntryId,
        token: Option<&str>,
    ) -> Result<QueueView> {
        let now = self.now();
        let entry = QueueEntry {
            entry_id,
            event_id,
            user_id,
            queue_position: 0,
            status: QueueEntryStatus::Admitted,
            admitted_at: Some(now),
            expires_at: None,
            created_at: now,
        };
        let queue_token = match token {
            Some(t) => t.to_string(),
            None => self.queue_token(user_id, event_id, entry_id, 0)?,
        };
        Ok(QueueView {
            entry,
            queue_token,
            ahead: 0,
            wait_secs: 0,
            poll_after_secs: None,
            poll_after_ms: None,
            beyond_places: false,
            opens_at: None,
            places_left: None,
            created: token.is_none(),
        })
    }

    /// The event's queue state, read at most once per `recent::TTL` on this instance.
    pub(crate) async fn queue_state_cached(&self, event_id: EventId) -> Result<Option<QueueState>> {
        if let Some(s) = self.queue_states.get(event_id) {
            return Ok(Some(s));
        }
        let state = self.store.queue_state(event_id).await?;
        if let Some(s) = &state {
            self.queue_states.put(s.event_id, s.clone());
        }
        Ok(state)
    }

    async fn queue_view(
        &self,
        entry: QueueEntry,
        state: Option<QueueState>,
        created: bool,
    ) -> Result<QueueView> {
        let state = match state {
            Some(s) => s,
            None => self.store.queue_state(entry.event_id).await?.ok_or(AppError::NotFound("queue"))?,
        };
        self.queue_view_with(entry, &state, created, None)
    }

    /// The answer for `entry`: its estimates from `state`, and `token` (or a new one).
    fn queue_view_with(
        &self,
        entry: QueueEntry,
        state: &QueueState,
        created: bool,
        token: Option<&str>,
    ) -> Result<QueueView> {
        let waiting = entry.status == QueueEntryStatus::Waiting;
        let ahead =
            if waiting { i64::from(entry.queue_position - state.serving_position - 1).max(0) } else { 0 };
        let pace = queue_pace::estimate_pace(state.admitted_per_min, state.rate_per_min);
        // To the millisecond: with whole seconds, a buyer who asks partway through a second would
        // be sent back up to a second after their turn.
        let to_open = state
            .opens_at
            .map_or(0, |o| i64::try_from((o - self.precise_now()).whole_milliseconds()).unwrap_or(i64::MAX));
        let hint = queue_pace::waiting_hint(ahead, pace, to_open, state.places_left.map(i64::from))
            .within_window(i64::from(state.window_secs));
        let queue_token = match token {
            Some(t) => t.to_string(),
            None => self.queue_token(entry.user_id, entry.event_id, entry.entry_id, entry.queue_position)?,
        };
        Ok(QueueView {
            entry,
            queue_token,
            ahead,
            wait_secs: if waiting { hint.wait_secs } else { 0 },
            poll_after_secs: waiting.then_some(hint.poll_after_secs()),
            poll_after_ms: waiting.then_some(hint.poll_after_ms),
            beyond_places: waiting && hint.beyond_places,
            opens_at: state.opens_at,
            places_left: state.places_left,
            created,
        })
    }

    /// Whether anyone waits in a waiting room that is on.
    pub async fn anyone_waiting(&self) -> Result<bool> {
        Ok(self.store.anyone_waiting().await?)
    }

    /// Admits the next buyers of every event with a queue (the admission job).
    pub async fn advance_queues(&self) -> Result<u64> {
        let mut n = 0;
        for event_id in self.store.enabled_queues().await? {
            n += self.store.advance_queue(event_id, self.precise_now()).await?;
            self.queue_states.forget(event_id);
        }
        Ok(n)
    }

    /// When the queue is on, the caller must hold an admitted, unexpired entry: its id, which
    /// the hold checks again in its own transaction (`HoldOutcome::NotAdmitted`). `None` when the
    /// event has no waiting room switched on.
    ///
    /// Refused here from the token alone, without a read: no token, a bad one, someone else's.
    /// A place still behind the serving counter is read afresh (the counter may have passed it
    /// within the cache's moment). Otherwise the entry is not read here at all: the hold's
    /// transaction checks it, on the writer that has it cached, instead of a reader that starts
    /// every read from an empty page cache (a read on every hold of a sale, for nothing the hold
    /// does not check again).
    pub(crate) async fn admission(
        &self,
        who: &Principal,
        event_id: EventId,
        token: Option<&str>,
    ) -> Result<Option<QueueEntryId>> {
        // As read at most `recent::TTL` ago: a waiting room switched on or off a moment ago
        // answers as it would have a moment earlier.
        let Some(state) = self.queue_state_cached(event_id).await? else { return Ok(None) };
        if !state.enabled {
            return Ok(None);
        }
        let token = token.filter(|t| !t.trim().is_empty()).ok_or(AppError::Forbidden(
            "this event has a waiting room: join it and reserve with your queue token once admitted",
        ))?;
        let t = self.verify_queue_token(token)?;
        if t.user_id != who.user_id || t.event_id != event_id {
            return Err(AppError::Forbidden("this queue token is for another event or person"));
        }
        if t.position > state.serving_position {
            let entry = self.store.queue_entry(t.entry_id, self.now()).await?;
            if let Some(refused) = not_admitted(entry.as_ref()) {
                return Err(refused);
            }
        }
        Ok(Some(t.entry_id))
    }

    /// Why the entry is not admitted now (read afresh), for a hold its transaction refused.
    pub(crate) async fn not_admitted(&self, entry_id: QueueEntryId) -> AppError {
        match self.store.queue_entry(entry_id, self.now()).await {
            Ok(entry) => not_admitted(entry.as_ref())
                .unwrap_or(AppError::Forbidden("your admission has ended: join the queue again")),
            Err(e) => e.into(),
        }
    }
}

/// The refusal for an entry in this state (with its effective status), or `None` when admitted.
fn not_admitted(entry: Option<&QueueEntry>) -> Option<AppError> {
    match entry.map(|e| e.status) {
        Some(QueueEntryStatus::Admitted) => None,
        Some(QueueEntryStatus::Waiting) => {
            Some(AppError::Forbidden("not admitted yet: keep your place in the queue"))
        }
        _ => Some(AppError::Forbidden("your admission has ended: join the queue again")),
    }
}
