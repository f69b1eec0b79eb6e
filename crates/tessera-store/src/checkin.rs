//! Door check-in: event staff, every scan, and each ticket's state at the door per event day.

use tessera_domain::id::{EventId, ScanId, TicketId, TicketTypeId, UserId};
use tessera_domain::records::{CheckinSummary, PresenceRecord, ScanRecord, StaffMember, TicketDetail};
use time::OffsetDateTime;

use tessera_domain::checkin::{self, Outcome, Scan};

use crate::{Backend, Result, Store, WritePool, affected, on_db};

const SCAN_COLUMNS: &str = "scan_id, event_id, ticket_id, direction, day, gate, device_id, scanned_by, \
     scanned_at, recorded_at, source, result, detail";
const PRESENCE_COLUMNS: &str =
    "ticket_id, day, event_id, inside, entries, first_entry_at, first_gate, last_scan_at, version";

/// The admission a ticket's door state is kept under: the first ticket of its reissue chain.
const ADMISSION_OF: &str =
    "(SELECT COALESCE(a.admission_id, a.ticket_id) FROM tickets a WHERE a.ticket_id = $1)";

/// An entry: a new day's first, or a re-entry after an exit (when `$6` allows it), of a ticket
/// that is still valid. One statement whose rows-affected decides: 0 means already inside (or
/// re-entry forbidden), or the ticket was voided meanwhile. The state belongs to the admission,
/// so a reissued ticket finds its predecessor's (the holder is already inside).
const ENTER: &str = "INSERT INTO ticket_presence
         (ticket_id, day, event_id, inside, entries, first_entry_at, first_gate, last_scan_at, version)
     SELECT COALESCE(admission_id, ticket_id), $2, $3, TRUE, 1, $4, $5, $4, 1
     FROM tickets WHERE ticket_id = $1 AND status = 'valid'
     ON CONFLICT (ticket_id, day) DO UPDATE SET inside = TRUE, entries = ticket_presence.entries + 1,
         first_entry_at = COALESCE(ticket_presence.first_entry_at, excluded.first_entry_at),
         first_gate = CASE WHEN ticket_presence.first_entry_at IS NULL THEN excluded.first_gate
                           ELSE ticket_presence.first_gate END,
         last_scan_at = excluded.last_scan_at, version = ticket_presence.version + 1
     WHERE ticket_presence.inside = FALSE AND ($6 OR ticket_presence.entries = 0)
       AND EXISTS (SELECT 1 FROM tickets t WHERE t.ticket_id = $1 AND t.status = 'valid')";

/// [`ENTER`], answering the state it wrote (no row: refused).
pub(crate) fn enter_returning() -> String {
    format!("{ENTER} RETURNING {PRESENCE_COLUMNS}")
}

/// [`leave_sql`], answering the state it wrote (no row: refused).
pub(crate) fn leave_returning() -> String {
    format!("{} RETURNING {PRESENCE_COLUMNS}", leave_sql())
}

/// An online scan of a code whose signature and validity window the caller has checked: the
/// scan's record with the code's ticket and event set (its day and result are decided here).
#[derive(Debug, Clone)]
pub struct CodeScan {
    pub scan: ScanRecord,
}

/// What became of a [`CodeScan`].
#[derive(Debug, Clone)]
pub enum Scanned {
    /// No ticket of the code's event has the code's id: nothing was written.
    Unknown,
    /// The scan reached the ticket: its record is written with the outcome (`Void` for a
    /// voided ticket, whose scan is refused before its state, with no day).
    Done { ticket: Box<TicketDetail>, outcome: Outcome, presence: Option<PresenceRecord>, day: i32 },
}

/// The rules of an online scan both backends follow, around the reads and writes they run
/// their own way: the ticket is read, then (for a valid one) ONE conditional change of its
/// state for the day, then the scan's record, all in one transaction.
pub(crate) struct ScanSteps {
    pub(crate) ticket_id: TicketId,
    pub(crate) event_id: EventId,
    pub(crate) scan: ScanRecord,
}

impl ScanSteps {
    pub(crate) fn new(c: &CodeScan) -> Result<ScanSteps> {
        let (Some(ticket_id), Some(event_id)) = (c.scan.ticket_id, c.scan.event_id) else {
            return Err(crate::StoreError::other("a code scan needs its ticket and event"));
        };
        Ok(ScanSteps { ticket_id, event_id, scan: c.scan.clone() })
    }

    /// The ticket as read, if it is the code's: `None` answers `Scanned::Unknown` (SQLite's
    /// path; PostgreSQL's statement matches the event itself).
    pub(crate) fn ticket(&self, t: Option<TicketDetail>) -> Option<TicketDetail> {
        t.filter(|t| t.event_id == self.event_id)
    }

    /// The day a scan of `t` counts for.
    pub(crate) fn day(&self, t: &TicketDetail) -> i32 {
        checkin::event_day(t.event_start, self.scan.scanned_at)
    }

    /// The scan's record for an outcome (a void ticket's has no day).
    pub(crate) fn record(&self, outcome: Outcome, day: Option<i32>) -> ScanRecord {
        ScanRecord { result: outcome.as_str().into(), day, ..self.scan.clone() }
    }
}

/// An exit: only from inside.
fn leave_sql() -> String {
    format!(
        "UPDATE ticket_presence SET inside = FALSE, last_scan_at = $3, version = version + 1
         WHERE ticket_id = {ADMISSION_OF} AND day = $2 AND inside = TRUE"
    )
}

/// A ticket's door state on a day (`$1` the ticket, `$2` the day), whichever ticket of its
/// admission was scanned.
pub(crate) fn presence_sql(lock: &str) -> String {
    format!(
        "SELECT {PRESENCE_COLUMNS} FROM ticket_presence WHERE ticket_id = {ADMISSION_OF} AND day = $2{lock}"
    )
}

impl Store {
    pub async fn add_staff(&self, event_id: EventId, user_id: UserId, now: OffsetDateTime) -> Result<bool> {
        let n = on_db!(self, write, |p| {
            sqlx::query(
                "INSERT INTO event_staff (event_id, user_id, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            )
            .bind(event_id)
            .bind(user_id)
            .bind(now)
            .execute(p)
            .await
            .map(affected)
        })?;
        Ok(n == 1)
    }

    pub async fn remove_staff(&self, event_id: EventId, user_id: UserId) -> Result<bool> {
        let n = on_db!(self, write, |p| {
            sqlx::query("DELETE FROM event_staff WHERE event_id = $1 AND user_id = $2")
                .bind(event_id)
                .bind(user_id)
                .execute(p)
                .await
                .map(affected)
        })?;
        Ok(n == 1)
    }

    pub async fn is_staff(&self, event_id: EventId, user_id: UserId) -> Result<bool> {
        let n: i64 = on_db!(self, read, |p| {
            sqlx::query_scalar(
                "SELECT CAST(COUNT(*) AS BIGINT) FROM event_staff WHERE event_id = $1 AND user_id = $2",
            )
            .bind(event_id)
            .bind(user_id)
            .fetch_one(p)
            .await
        })?;
        Ok(n > 0)
    }

    pub async fn staff_of(&self, event_id: EventId) -> Result<Vec<StaffMember>> {
        Ok(on_db!(self, read, |p| {
            sqlx::query_as(
                "SELECT u.user_id, u.name, u.email, s.created_at FROM event_staff s
                 JOIN users u ON u.user_id = s.user_id WHERE s.event_id = $1 ORDER BY s.created_at, u.user_id",
            )
            .bind(event_id)
            .fetch_all(p)
            .await
        })?)
    }

    /// The events a person is door staff of.
    pub async fn staff_event_ids(&self, user_id: UserId) -> Result<Vec<EventId>> {
        Ok(on_db!(self, read, |p| {
            sqlx::query_scalar("SELECT event_id FROM event_staff WHERE user_id = $1 ORDER BY created_at")
                .bind(user_id)
                .fetch_all(p)
                .await
        })?)
    }

    /// Records a scan that was refused before reaching a ticket's state (a forged code, a void
    /// ticket, another event's ticket ...).
    pub async fn record_scan(&self, s: &ScanRecord) -> Result<()> {
        on_db!(self, write, |p| bind_scan!(sqlx::query(INSERT_SCAN), s).execute(p).await.map(affected))?;
        Ok(())
    }

    /// Records a refused scan from an offline batch, once (a batch sent again adds nothing).
    pub async fn record_scan_once(&self, s: &ScanRecord) -> Result<()> {
        on_db!(self, write, |p| bind_scan!(sqlx::query(INSERT_SCAN_ONCE), s).execute(p).await.map(affected))?;
        Ok(())
    }

    /// An online scan of a genuine code (see [`CodeScan`], [`ScanSteps`]): on SQLite one job of
    /// the grouped writer, on PostgreSQL one transaction.
    pub async fn scan_code(&self, c: &CodeScan) -> Result<Scanned> {
        let steps = ScanSteps::new(c)?;
        crate::hot_path::hot!(self, |h| crate::hot_path::ScanPath::scan_code(&h, steps).await)
    }

    /// PostgreSQL: how the door scans were grouped so far (the largest group, and the groups
    /// that failed whole and were run one scan at a time); `None` on SQLite.
    pub fn scan_grouping(&self) -> Option<(usize, u64)> {
        self.scans.as_deref().map(crate::pg::ScanGroups::tally)
    }

    /// Merges scans made offline for one ticket on one day: adds those not seen before (by
    /// scan id, so a batch sent twice adds nothing), then replays all of the day's scans in
    /// scan-time order (`checkin::resolve`), so the first entry by scan time wins whichever
    /// device syncs first. Answers every scan's outcome. The state is written only when it
    /// changed, and only if no other write changed it since it was read (its version).
    pub async fn merge_scans(
        &self,
        ticket_id: TicketId,
        event_id: EventId,
        day: i32,
        new: &[ScanRecord],
        reentry: bool,
    ) -> Result<Vec<(ScanId, Outcome)>> {
        let lock = if self.backend() == Backend::Postgres { " FOR UPDATE" } else { "" };
        let presence_sql = presence_sql(lock);
        // The day's scans of every ticket of the admission (a reissued ticket's predecessor's too).
        let scans_sql = format!(
            "SELECT {SCAN_COLUMNS} FROM checkins
             WHERE ticket_id IN (SELECT ticket_id FROM tickets WHERE ticket_id = {ADMISSION_OF} OR admission_id = {ADMISSION_OF})
               AND day = $2 AND result IN ('pending', 'accepted', 'already_inside', 'not_inside')"
        );
        Ok(on_db!(self, write, |p| {
            async {
                let mut tx = p.begin_write().await?;
                // The row to lock (and to compare versions on), made empty if the day has none.
                sqlx::query(
                    "INSERT INTO ticket_presence (ticket_id, day, event_id, inside, entries, version)
                     SELECT COALESCE(admission_id, ticket_id), $2, $3, FALSE, 0, 0 FROM tickets WHERE ticket_id = $1
                     ON CONFLICT DO NOTHING"
                )
                .bind(ticket_id)
                .bind(day)
                .bind(event_id)
                .execute(&mut *tx)
                .await?;
                let before: PresenceRecord = sqlx::query_as(sqlx::AssertSqlSafe(presence_sql))
                    .bind(ticket_id)
                    .bind(day)
                    .fetch_one(&mut *tx)
                    .await?;
                for s in new {
                    bind_scan!(sqlx::query(INSERT_SCAN_ONCE), s).execute(&mut *tx).await?;
                }
                let all: Vec<ScanRecord> = sqlx::query_as(sqlx::AssertSqlSafe(scans_sql))
                    .bind(ticket_id)
                    .bind(day)
                    .fetch_all(&mut *tx)
                    .await?;
                let scans: Vec<Scan> = all
                    .iter()
                    .map(|r| Scan {
                        scan_id: r.scan_id,
                        direction: r.direction,
                        scanned_at: r.scanned_at,
                        gate: r.gate.clone(),
                    })
                    .collect();
                let (outcomes, state) = checkin::resolve(&scans, reentry);
                for (id, o) in &outcomes {
                    let stored = all.iter().find(|r| r.scan_id == *id).map(|r| r.result.as_str());
                    if stored != Some(o.as_str()) {
                        sqlx::query("UPDATE checkins SET result = $1 WHERE scan_id = $2")
                            .bind(o.as_str())
                            .bind(*id)
                            .execute(&mut *tx)
                            .await?;
                    }
                }
                let changed = (before.inside, before.entries, before.first_entry_at, &before.first_gate, before.last_scan_at)
                    != (state.inside, state.entries, state.first_entry_at, &state.first_gate, state.last_scan_at);
                if changed {
                    let n = sqlx::query(
                        "UPDATE ticket_presence SET inside = $1, entries = $2, first_entry_at = $3, first_gate = $4,
                             last_scan_at = $5, version = version + 1
                         WHERE ticket_id = $6 AND day = $7 AND version = $8",
                    )
                    .bind(state.inside)
                    .bind(state.entries)
                    .bind(state.first_entry_at)
                    .bind(&state.first_gate)
                    .bind(state.last_scan_at)
                    .bind(before.ticket_id)
                    .bind(day)
                    .bind(before.version)
                    .execute(&mut *tx)
                    .await
                    .map(affected)?;
                    if n != 1 {
                        // Cannot happen under the row lock (PostgreSQL) or the single writer
                        // (SQLite); refuse rather than write over a change we did not see.
                        return Err(sqlx::Error::Protocol("ticket state changed during a merge".into()));
                    }
                }
                tx.commit().await?;
                Ok::<_, sqlx::Error>(outcomes)
            }
            .await
        })?)
    }

    /// When a scanner's device (or the scanner, for scans naming no device) last synced
    /// offline scans: the latest time the server recorded one.
    pub async fn last_offline_sync(
        &self,
        scanned_by: UserId,
        device_id: Option<&str>,
    ) -> Result<Option<OffsetDateTime>> {
        Ok(on_db!(self, read, |p| {
            sqlx::query_scalar(
                "SELECT MAX(recorded_at) FROM checkins
                 WHERE scanned_by = $1 AND source = 'offline' AND ($2 IS NULL OR device_id = $2)",
            )
            .bind(scanned_by)
            .bind(device_id)
            .fetch_one(p)
            .await
        })?)
    }

    pub async fn scan(&self, scan_id: ScanId) -> Result<Option<ScanRecord>> {
        let sql = format!("SELECT {SCAN_COLUMNS} FROM checkins WHERE scan_id = $1");
        Ok(on_db!(self, read, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(scan_id)
            .fetch_optional(p)
            .await)?)
    }

    /// A ticket's door state on a day: its admission's, which a reissue carries over.
    pub async fn presence(&self, ticket_id: TicketId, day: i32) -> Result<Option<PresenceRecord>> {
        let sql = presence_sql("");
        Ok(on_db!(self, read, |p| {
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(ticket_id).bind(day).fetch_optional(p).await
        })?)
    }

    /// Every scan of a ticket's admission (the tickets it reissued from and to), in scan-time order.
    pub async fn scans_of_ticket(&self, ticket_id: TicketId) -> Result<Vec<ScanRecord>> {
        let sql = format!(
            "SELECT {SCAN_COLUMNS} FROM checkins
             WHERE ticket_id IN (SELECT ticket_id FROM tickets WHERE ticket_id = {ADMISSION_OF} OR admission_id = {ADMISSION_OF})
             ORDER BY scanned_at, scan_id"
        );
        Ok(on_db!(self, read, |p| {
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(ticket_id).fetch_all(p).await
        })?)
    }

    /// (event day, tickets that entered that day) for an event.
    pub async fn checked_in_per_day(&self, event_id: EventId) -> Result<Vec<(i32, i64)>> {
        Ok(on_db!(self, read, |p| {
            sqlx::query_as(
                "SELECT day, CAST(COUNT(*) AS BIGINT) FROM ticket_presence
                 WHERE event_id = $1 AND entries > 0 GROUP BY day ORDER BY day",
            )
            .bind(event_id)
            .fetch_all(p)
            .await
        })?)
    }

    /// The door's counts for `today` (an event day).
    pub async fn checkin_summary(&self, event_id: EventId, today: i32) -> Result<CheckinSummary> {
        let per_day = self.checked_in_per_day(event_id).await?;
        Ok(on_db!(self, read, |p| {
            async {
                let (inside_now, entered_today): (i64, i64) = sqlx::query_as(
                    "SELECT CAST(COALESCE(SUM(CASE WHEN inside THEN 1 ELSE 0 END), 0) AS BIGINT),
                            CAST(COALESCE(SUM(CASE WHEN entries > 0 THEN 1 ELSE 0 END), 0) AS BIGINT)
                     FROM ticket_presence WHERE event_id = $1 AND day = $2",
                )
                .bind(event_id)
                .bind(today)
                .fetch_one(p)
                .await?;
                let per_gate: Vec<(Option<String>, i64)> = sqlx::query_as(
                    "SELECT gate, CAST(COUNT(*) AS BIGINT) FROM checkins
                     WHERE event_id = $1 AND direction = 'entry' AND result = 'accepted'
                     GROUP BY gate ORDER BY gate",
                )
                .bind(event_id)
                .fetch_all(p)
                .await?;
                let per_ticket_type: Vec<(Option<TicketTypeId>, i64)> = sqlx::query_as(
                    "SELECT t.ticket_type_id, CAST(COUNT(*) AS BIGINT) FROM ticket_presence tp
                     JOIN tickets t ON t.ticket_id = tp.ticket_id
                     WHERE tp.event_id = $1 AND tp.day = $2 AND tp.entries > 0
                     GROUP BY t.ticket_type_id ORDER BY t.ticket_type_id",
                )
                .bind(event_id)
                .bind(today)
                .fetch_all(p)
                .await?;
                Ok::<_, sqlx::Error>(CheckinSummary {
                    inside_now,
                    entered_today,
                    per_day,
                    per_gate,
                    per_ticket_type,
                })
            }
            .await
        })?)
    }
}

pub(crate) const INSERT_SCAN: &str =
    "INSERT INTO checkins (scan_id, event_id, ticket_id, direction, day, gate, device_id,
         scanned_by, scanned_at, recorded_at, source, result, detail)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)";

/// The same for a synced scan, which may have been sent before.
const INSERT_SCAN_ONCE: &str =
    "INSERT INTO checkins (scan_id, event_id, ticket_id, direction, day, gate, device_id,
         scanned_by, scanned_at, recorded_at, source, result, detail)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) ON CONFLICT (scan_id) DO NOTHING";

/// Binds a scan's columns in `INSERT_SCAN` order (a macro: the query type differs per driver).
macro_rules! bind_scan {
    ($q:expr, $s:expr) => {
        $q.bind($s.scan_id)
            .bind($s.event_id)
            .bind($s.ticket_id)
            .bind($s.direction.as_str())
            .bind($s.day)
            .bind(&$s.gate)
            .bind(&$s.device_id)
            .bind($s.scanned_by)
            .bind($s.scanned_at)
            .bind($s.recorded_at)
            .bind($s.source.as_str())
            .bind(&$s.result)
            .bind(&$s.detail)
    };
}
pub(crate) use bind_scan;
