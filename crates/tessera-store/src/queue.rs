//! The virtual waiting room: positions from a per-event counter, admission in position order by a
//! serving counter that advances with the admission rate and never leaves more than `max_active`
//! admissions live. An admission lasts `window_secs`; one that is used up (a purchase) or lapses
//! stops counting at once, so users who walk away never stall the line.

use tessera_domain::id::{EventId, QueueEntryId, UserId};
use tessera_domain::records::{Joined, QueueConfig, QueueEntry, QueueEntryStatus, QueueState};
use time::OffsetDateTime;

use crate::hot_path::{QueuePath, hot};
use crate::{Backend, Result, Store, StoreError, affected, on_db};

pub(crate) fn unix_ms(t: OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// A join as `Store::join_queue` hands it to a database (pg/queue.rs, sqlite/queue.rs): a new
/// position from the counter, then the entry made or put back at it.
#[derive(Debug)]
pub(crate) struct Join {
    pub(crate) entry_id: QueueEntryId,
    pub(crate) event_id: EventId,
    pub(crate) user_id: UserId,
    pub(crate) now: OffsetDateTime,
    /// The person's ended entry, to put at the back of the line (`None`: a new entry).
    pub(crate) requeue: Option<QueueEntryId>,
}

/// Takes `$2` positions at once from event `$1`'s counter when its queue is switched on,
/// returning the state in `STATE_COLUMNS` order: the counter at the last position taken. A lone
/// join takes one; a group of joins on PostgreSQL (pg/queue.rs) takes one each.
pub(crate) fn take_positions_sql() -> String {
    format!(
        "UPDATE queue_state SET next_position = next_position + $2
         WHERE event_id = $1 AND enabled = TRUE RETURNING {STATE_COLUMNS}"
    )
}

/// An admission tick as `Store::advance_queue` hands it to a database (pg/queue.rs,
/// sqlite/queue.rs).
#[derive(Debug)]
pub(crate) struct Advance {
    pub(crate) event_id: EventId,
    /// The time to the millisecond (the rate clock's).
    pub(crate) at: OffsetDateTime,
    /// `at` in whole seconds (stored timestamps').
    pub(crate) now: OffsetDateTime,
    /// Reads the state (`$1` event), locking it where the database needs that.
    pub(crate) state_sql: String,
}

/// Puts an ended entry at the back of the line: `$1` position, `$2` now, `$3` entry.
pub(crate) const REQUEUE: &str =
    "UPDATE queue_entries SET queue_position = $1, status = 'waiting', admitted_at = NULL,
         expires_at = NULL, updated_at = $2
     WHERE entry_id = $3 AND (status IN ('done', 'expired') OR (status = 'admitted' AND expires_at <= $2))";

/// A new entry: `$1` id, `$2` event, `$3` user, `$4` position, `$5` now.
pub(crate) const INSERT_ENTRY: &str =
    "INSERT INTO queue_entries (entry_id, event_id, user_id, queue_position, status, created_at, updated_at)
     VALUES ($1, $2, $3, $4, 'waiting', $5, $5) ON CONFLICT (event_id, user_id) DO NOTHING";

pub(crate) const STATE_COLUMNS: &str = "event_id, enabled, rate_per_min, max_active, window_secs, next_position, \
     serving_position, last_advanced_at, admitted_per_min, updated_at, opens_at, places_left, places_counted_at, \
     rate_clock_ms, ticked_ms";

/// Counts 1 when entry `$1` is admitted and its admission still runs at `$2` (the effective status
/// `admitted` of `ENTRY_COLUMNS`), else 0.
pub(crate) const ADMITTED_ENTRY: &str =
    "SELECT COUNT(*) FROM queue_entries WHERE entry_id = $1 AND status = 'admitted' AND expires_at > $2";

/// `ADMITTED_ENTRY` with the entry row share-locked (PostgreSQL; SQLite's single writer needs none).
pub(crate) const ADMITTED_ENTRY_LOCKED: &str = "SELECT COUNT(*) FROM (SELECT 1 FROM queue_entries
     WHERE entry_id = $1 AND status = 'admitted' AND expires_at > $2 FOR SHARE) AS e";

/// Entry columns with the effective status at `$1`.
pub(crate) const ENTRY_COLUMNS: &str = "entry_id, event_id, user_id, queue_position, \
     CASE WHEN status = 'admitted' AND expires_at <= $1 THEN 'expired' ELSE status END AS status, \
     admitted_at, expires_at, created_at";

impl Store {
    /// Creates or changes an event's queue settings. The observed pace starts again: it was
    /// measured under the old settings.
    pub async fn set_queue_config(
        &self,
        event_id: EventId,
        c: QueueConfig,
        now: OffsetDateTime,
    ) -> Result<()> {
        on_db!(self, write, |p| {
            sqlx::query(
                "INSERT INTO queue_state (event_id, enabled, rate_per_min, max_active, window_secs, last_advanced_at,
                     updated_at, opens_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $6, $7)
                 ON CONFLICT (event_id) DO UPDATE SET enabled = excluded.enabled, rate_per_min = excluded.rate_per_min,
                     max_active = excluded.max_active, window_secs = excluded.window_secs, updated_at = excluded.updated_at,
                     opens_at = excluded.opens_at, admitted_per_min = 0, rate_clock_ms = NULL,
                     ticked_ms = NULL",
            )
            .bind(event_id)
            .bind(c.enabled)
            .bind(c.rate_per_min)
            .bind(c.max_active)
            .bind(c.window_secs)
            .bind(now)
            .bind(c.opens_at)
            .execute(p)
            .await
            .map(affected)
        })?;
        Ok(())
    }

    pub async fn queue_state(&self, event_id: EventId) -> Result<Option<QueueState>> {
        let sql = format!("SELECT {STATE_COLUMNS} FROM queue_state WHERE event_id = $1");
        hot!(self, |h| h.queue_state(sql, event_id).await)
    }

    /// Events whose queue is switched on (for the admission job).
    pub async fn enabled_queues(&self) -> Result<Vec<EventId>> {
        Ok(on_db!(self, read, |p| {
            sqlx::query_scalar("SELECT event_id FROM queue_state WHERE enabled = $1")
                .bind(true)
                .fetch_all(p)
                .await
        })?)
    }

    /// Whether someone waits in a waiting room that is on (a scheduler's admission run stops
    /// early when no one does).
    pub async fn anyone_waiting(&self) -> Result<bool> {
        Ok(on_db!(self, read, |p| {
            sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM queue_state WHERE enabled = $1 AND next_position > serving_position)",
            )
            .bind(true)
            .fetch_one(p)
            .await
        })?)
    }

    /// The user's entry for the event.
    pub async fn queue_entry_for(
        &self,
        event_id: EventId,
        user_id: UserId,
        now: OffsetDateTime,
    ) -> Result<Option<QueueEntry>> {
        let sql = format!("SELECT {ENTRY_COLUMNS} FROM queue_entries WHERE event_id = $2 AND user_id = $3");
        hot!(self, |h| h.queue_entry_for(sql, event_id, user_id, now).await)
    }

    /// Whether the entry is admitted and its admission has not run out at `now`.
    pub(crate) async fn admission_holds(&self, entry_id: QueueEntryId, now: OffsetDateTime) -> Result<bool> {
        Ok(self.queue_entry(entry_id, now).await?.is_some_and(|e| e.status == QueueEntryStatus::Admitted))
    }

    pub async fn queue_entry(
        &self,
        entry_id: QueueEntryId,
        now: OffsetDateTime,
    ) -> Result<Option<QueueEntry>> {
        let sql = format!("SELECT {ENTRY_COLUMNS} FROM queue_entries WHERE entry_id = $2");
        hot!(self, |h| h.queue_entry(sql, entry_id, now).await)
    }

    /// PostgreSQL: how new joins were grouped so far (the largest group, and the groups that
    /// failed whole and were run one join at a time); `None` on SQLite.
    pub fn join_grouping(&self) -> Option<(usize, u64)> {
        self.joins.as_deref().map(crate::pg::JoinGroups::tally)
    }

    /// Joins the queue: a new position from the event's counter, or the user's live entry as it
    /// is (`false`). An entry whose admission ended (bought or lapsed) goes to the back of the
    /// line. `NotFound` when the event has no queue switched on.
    pub async fn join_queue(
        &self,
        entry_id: QueueEntryId,
        event_id: EventId,
        user_id: UserId,
        now: OffsetDateTime,
    ) -> Result<Joined> {
        let existing = self.queue_entry_for(event_id, user_id, now).await?;
        if let Some(e) = &existing
            && matches!(e.status, QueueEntryStatus::Waiting | QueueEntryStatus::Admitted)
        {
            return Ok(Joined { entry: e.clone(), state: None, created: false });
        }
        let requeue = existing.map(|e| e.entry_id);
        let join = Join { entry_id, event_id, user_id, now, requeue };
        // (made the entry, its position, the queue's state), or None when the queue is off.
        let inserted = hot!(self, |h| h.join(join).await)?;
        match inserted {
            None => Err(StoreError::NotFound),
            // A new entry is exactly what was inserted: no need to read it back.
            Some((true, pos, state)) if requeue.is_none() => Ok(Joined {
                entry: QueueEntry {
                    entry_id,
                    event_id,
                    user_id,
                    queue_position: pos,
                    status: QueueEntryStatus::Waiting,
                    admitted_at: None,
                    expires_at: None,
                    created_at: now,
                },
                state: Some(state),
                created: true,
            }),
            Some((created, _, _)) => {
                let entry =
                    self.queue_entry_for(event_id, user_id, now).await?.ok_or(StoreError::NotFound)?;
                Ok(Joined { entry, state: None, created })
            }
        }
    }

    /// Advances the serving counter: admits the next waiting entries in position order, as many
    /// as the rate has earned since the last advance and the free admission slots allow. Returns
    /// how many were admitted. Serialized per event (row lock on PostgreSQL, the single writer on
    /// SQLite), so two instances cannot over-admit.
    ///
    /// `at` is the time to the millisecond: the rate earns from it and the pace is measured with
    /// it. What is stored as a timestamp (admissions, the tick) takes it in whole seconds.
    pub async fn advance_queue(&self, event_id: EventId, at: OffsetDateTime) -> Result<u64> {
        let now = tessera_domain::clock::normalize_ts(at);
        let backend = self.backend();
        let lock = if backend == Backend::Postgres { " FOR UPDATE" } else { "" };
        let state_sql = format!("SELECT {STATE_COLUMNS} FROM queue_state WHERE event_id = $1{lock}");
        hot!(self, |h| h.advance(Advance { event_id, at, now, state_sql }).await)
    }

    /// Admissions live at `now` for an event (from the status index alone, as the admission job
    /// counts them).
    pub async fn live_admissions(&self, event_id: EventId, now: OffsetDateTime) -> Result<i64> {
        Ok(on_db!(self, read, |p| {
            sqlx::query_scalar(ACTIVE_ADMISSIONS).bind(event_id).bind(now).fetch_one(p).await
        })?)
    }

    /// (waiting, admitted and live) for an event.
    pub async fn queue_counts(&self, event_id: EventId, now: OffsetDateTime) -> Result<(i64, i64)> {
        Ok(on_db!(self, read, |p| {
            sqlx::query_as(
                "SELECT CAST(COALESCE(SUM(CASE WHEN status = 'waiting' THEN 1 ELSE 0 END), 0) AS BIGINT),
                        CAST(COALESCE(SUM(CASE WHEN status = 'admitted' AND expires_at > $2 THEN 1 ELSE 0 END), 0) AS BIGINT)
                 FROM queue_entries WHERE event_id = $1",
            )
            .bind(event_id)
            .bind(now)
            .fetch_one(p)
            .await
        })?)
    }
}

/// Admissions live now: `$1` event, `$2` now (from `queue_entries_status_idx` alone, which ends
/// with `expires_at`).
pub(crate) const ACTIVE_ADMISSIONS: &str =
    "SELECT COUNT(*) FROM queue_entries WHERE event_id = $1 AND status = 'admitted' AND expires_at > $2";

/// Admits the next `$2` waiting entries of event `$1` in position order (`$3` now, `$4` until).
pub(crate) const ADMIT_NEXT: &str = "WITH picked AS MATERIALIZED (
         SELECT entry_id FROM queue_entries WHERE event_id = $1 AND status = 'waiting'
         ORDER BY queue_position LIMIT $2)
     UPDATE queue_entries SET status = 'admitted', admitted_at = $3, expires_at = $4, updated_at = $3
     WHERE entry_id IN (SELECT entry_id FROM picked) AND status = 'waiting'
     RETURNING queue_position";

/// Saves a tick: serving counter, rate clock, tick time and observed pace of event `$5`, and the
/// places left (`$6`) counted at `$7` when they were counted (NULL keeps the last count). The
/// rate clock and tick time go in whole seconds (`$2`, `$3`) and in milliseconds (`$8`, `$9`).
pub(crate) const SAVE_TICK: &str =
    "UPDATE queue_state SET serving_position = $1, last_advanced_at = $2, updated_at = $3,
         admitted_per_min = $4, places_left = COALESCE($6, places_left),
         places_counted_at = COALESCE($7, places_counted_at), rate_clock_ms = $8, ticked_ms = $9
     WHERE event_id = $5";

/// How often the admission job counts the places left. The count is a hint for waiting buyers,
/// and on PostgreSQL it visits every place of the event: at every admission tick it would cost
/// far more than a hint is worth.
const PLACES_RECOUNT: time::Duration = time::Duration::seconds(2);

pub(crate) fn recount_places(st: &QueueState, now: OffsetDateTime) -> bool {
    st.places_counted_at.is_none_or(|at| now - at >= PLACES_RECOUNT || now < at)
}

/// Places of event `$1` still on sale at `$2`: available, or held past the hold's deadline (as
/// `seats::effective_status` reads them).
pub(crate) const PLACES_LEFT: &str = "SELECT COUNT(*) FROM seats WHERE event_id = $1
     AND (status = 'available' OR (status = 'held' AND held_until < $2))";

/// One admission tick's arithmetic, the same on both databases.
pub(crate) struct AdmissionTick {
    /// Where the rate clock runs from: the last advance, or the opening if that is later.
    from: OffsetDateTime,
    /// Admissions the rate has earned since `from`.
    tokens: i64,
    /// Free admission slots.
    capacity: i64,
    /// How many to admit now.
    pub(crate) n: i64,
}

impl AdmissionTick {
    pub(crate) fn plan(st: &QueueState, active: i64, now: OffsetDateTime) -> AdmissionTick {
        // Nothing is earned before a scheduled opening, so the line does not start with a burst of
        // what the waiting time before it would have earned.
        let from = st.opens_at.map_or(st.rate_clock(), |o| o.max(st.rate_clock()));
        // In milliseconds, so ticks shorter than a second earn their share.
        let elapsed = i64::try_from((now - from).whole_milliseconds().max(0)).unwrap_or(i64::MAX);
        let tokens = elapsed.saturating_mul(i64::from(st.rate_per_min)) / 60_000;
        let capacity = i64::from(st.max_active) - active;
        AdmissionTick { from, tokens, capacity, n: tokens.min(capacity).max(0) }
    }

    /// (serving position, rate clock, observed pace) after admitting the entries at `admitted`.
    pub(crate) fn outcome(
        &self,
        st: &QueueState,
        admitted: &[i32],
        now: OffsetDateTime,
    ) -> (i32, OffsetDateTime, i32) {
        let count = admitted.len() as i64;
        let rate = i64::from(st.rate_per_min);
        // Earned admissions are spent, not banked: time moves on by what was used, and to now
        // when the line was empty or full (so no burst follows a quiet spell).
        let last = if self.tokens == 0 {
            self.from.min(now)
        } else if count == self.tokens {
            (self.from + time::Duration::milliseconds((count * 60_000 + rate - 1) / rate)).min(now)
        } else {
            now
        };
        let serving = admitted.iter().copied().max().unwrap_or(0).max(st.serving_position);
        // Time before a scheduled opening is not time the line could have moved in.
        let since_tick = (now - st.ticked().max(self.from)).as_seconds_f64().max(0.0);
        // A full line (everyone admitted still shopping) says nothing about its pace: keep the
        // last one, or the estimates would stretch while the line is merely busy.
        let pace = if self.capacity <= 0 {
            st.admitted_per_min
        } else {
            tessera_domain::queue_pace::observed_pace(st.admitted_per_min, count, since_tick)
        };
        (serving, last, pace)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(rate_per_min: i32, max_active: i32, last: OffsetDateTime) -> QueueState {
        QueueState {
            event_id: EventId::from(uuid::Uuid::nil()),
            enabled: true,
            rate_per_min,
            max_active,
            window_secs: 300,
            next_position: 1_000,
            serving_position: 10,
            last_advanced_at: last,
            admitted_per_min: 600,
            updated_at: last,
            opens_at: None,
            places_left: None,
            places_counted_at: None,
            rate_clock_ms: None,
            ticked_ms: None,
        }
    }

    #[test]
    fn the_rate_clock_keeps_milliseconds() {
        // An opening at a whole second; ticks a quarter second apart at 600,000 a minute (10 a
        // millisecond). With whole seconds only, every tick within the opening second would see
        // no time pass and the first admissions would wait for the next second.
        let open = OffsetDateTime::UNIX_EPOCH + time::Duration::seconds(60);
        let mut st = state(600_000, 100_000, OffsetDateTime::UNIX_EPOCH);
        st.admitted_per_min = 0;
        st.opens_at = Some(open);
        let first = open + time::Duration::milliseconds(250);
        let tick = AdmissionTick::plan(&st, 0, first);
        assert_eq!(tick.n, 2_500);
        let (_, last, pace) = tick.outcome(&st, &(11..2_511).collect::<Vec<_>>(), first);
        assert_eq!((last, pace), (first, 600_000));
        // Saved and read back as milliseconds, the next quarter second earns a quarter second's
        // worth again: not the half second since the whole second the timestamps keep.
        st.serving_position = 2_510;
        st.last_advanced_at = tessera_domain::clock::normalize_ts(last);
        st.updated_at = tessera_domain::clock::normalize_ts(first);
        st.rate_clock_ms = Some(unix_ms(last));
        st.ticked_ms = Some(unix_ms(first));
        st.admitted_per_min = pace;
        let second = first + time::Duration::milliseconds(250);
        assert_eq!(AdmissionTick::plan(&st, 2_500, second).n, 2_500);
        // Without them (before the first tick, or after new settings) the whole seconds stand.
        st.rate_clock_ms = None;
        assert_eq!(AdmissionTick::plan(&st, 2_500, second).n, 5_000);
        st.rate_clock_ms = Some(unix_ms(second));
        assert_eq!(st.rate_clock(), second);
    }

    #[test]
    fn a_tick_admits_what_the_rate_earned_within_the_free_slots() {
        let t0 = OffsetDateTime::UNIX_EPOCH;
        // 60 a minute for 250 ms earns 0; for 2.5 s earns 2.
        assert_eq!(AdmissionTick::plan(&state(60, 100, t0), 0, t0 + time::Duration::milliseconds(250)).n, 0);
        assert_eq!(
            AdmissionTick::plan(&state(60, 100, t0), 0, t0 + time::Duration::milliseconds(2_500)).n,
            2
        );
        // 600 a minute for 10 s earns 100, but only 5 of 100 slots are free.
        let full = AdmissionTick::plan(&state(600, 100, t0), 95, t0 + time::Duration::seconds(10));
        assert_eq!((full.tokens, full.capacity, full.n), (100, 5, 5));
    }

    #[test]
    fn earned_admissions_are_spent_not_banked() {
        let t0 = OffsetDateTime::UNIX_EPOCH;
        let now = t0 + time::Duration::milliseconds(2_500);
        let st = state(60, 100, t0);
        let tick = AdmissionTick::plan(&st, 0, now);
        // Both earned admissions used: the clock moves on by the two seconds they took.
        let (serving, last, _) = tick.outcome(&st, &[11, 12], now);
        assert_eq!((serving, last), (12, t0 + time::Duration::seconds(2)));
        // Nobody waiting: the clock moves to now, so no burst follows the quiet spell.
        let (serving, last, _) = tick.outcome(&st, &[], now);
        assert_eq!((serving, last), (10, now));
    }

    #[test]
    fn nothing_is_earned_before_the_opening() {
        let t0 = OffsetDateTime::UNIX_EPOCH;
        let mut st = state(600, 100, t0);
        st.admitted_per_min = 0;
        st.opens_at = Some(t0 + time::Duration::seconds(60));
        // Half a minute before the opening: nothing earned, and the rate clock waits at now.
        let before = t0 + time::Duration::seconds(30);
        let tick = AdmissionTick::plan(&st, 0, before);
        assert_eq!(tick.n, 0);
        assert_eq!(tick.outcome(&st, &[], before), (10, before, 0));
        // A second after it: a second's worth (10), not the minute since the last advance; the
        // pace is measured over that second too, and being the first measured, it is the pace.
        let after = t0 + time::Duration::seconds(61);
        let tick = AdmissionTick::plan(&st, 0, after);
        assert_eq!(tick.n, 10);
        let (serving, last, pace) = tick.outcome(&st, &(11..=20).collect::<Vec<_>>(), after);
        assert_eq!((serving, last, pace), (20, after, 600));
    }

    #[test]
    fn a_full_line_keeps_its_observed_pace() {
        let t0 = OffsetDateTime::UNIX_EPOCH;
        let now = t0 + time::Duration::seconds(1);
        let st = state(600, 100, t0);
        let tick = AdmissionTick::plan(&st, 100, now);
        assert_eq!(tick.n, 0);
        assert_eq!(tick.outcome(&st, &[], now).2, 600);
        // With free slots and nobody admitted, the pace decays instead.
        let open = AdmissionTick::plan(&st, 0, now);
        assert!(open.outcome(&st, &[], now).2 < 600);
    }
}
