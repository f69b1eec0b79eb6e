//! Online door scans on PostgreSQL (the rules: checkin.rs): the scans that arrive together are
//! ONE statement over arrays (group.rs), so a group of scans is one round trip, one plan and one
//! commit. SQLite runs the same steps as jobs of its grouped writer.

use std::sync::Arc;

use sqlx::Row;
use sqlx::postgres::{PgPool, PgRow};
use tessera_domain::checkin::Outcome;
use tessera_domain::id::TicketId;
use tessera_domain::records::{PresenceRecord, TicketDetail};
use uuid::Uuid;

use crate::Result;
use crate::checkin::{ScanSteps, Scanned};
use crate::hot_path::ScanPath;
use crate::tickets::DETAIL;

use super::Pg;
use super::group::{Answers, Grouped, Tally};

/// Groups of scans that may run at once, each on a connection of its own: one runs while the
/// next gathers. More slots make smaller groups, and measured slower (bench/results).
const SLOTS: usize = 2;
/// The most scans in one statement.
const MAX_GROUP: usize = 128;

/// The scans waiting to be run together, and what became of the groups.
#[derive(Debug)]
pub(crate) struct ScanGroups {
    groups: Grouped<ScanSteps, Scanned>,
    tally: Arc<Tally>,
}

/// Starts the task that runs a store's scans in groups on `pool`.
pub(crate) fn scan_groups(pool: PgPool) -> ScanGroups {
    let tally = Arc::new(Tally::default());
    let t = tally.clone();
    // One scan per ticket in a group: one statement may not change a ticket's state twice.
    let groups = Grouped::start(
        SLOTS,
        MAX_GROUP,
        |s: &ScanSteps| s.ticket_id,
        move |scans| scan_group(pool.clone(), t.clone(), scans),
    );
    ScanGroups { groups, tally }
}

impl ScanGroups {
    /// (the largest group run, the groups that failed whole).
    pub(crate) fn tally(&self) -> (usize, u64) {
        self.tally.read()
    }
}

/// Runs a group as one statement. Should the statement fail as a whole (a lock timeout, a
/// serialization failure), nothing of it was written, and each scan is run again alone, so one
/// scan's trouble is answered to it and not to the others. Once the statement has answered,
/// it has committed: its rows are answered as they are, never run again.
async fn scan_group(pool: PgPool, tally: Arc<Tally>, scans: Vec<ScanSteps>) -> Answers<Scanned> {
    tally.ran(scans.len());
    if scans.len() > 1 {
        let run = run_scans(&pool, &scans).await.map(|rows| answers(rows, scans.len()));
        if let Some(answers) = tally.whole("door scans", scans.len(), run) {
            return answers;
        }
    }
    let mut out = Vec::with_capacity(scans.len());
    for s in scans {
        out.push(match run_scans(&pool, std::slice::from_ref(&s)).await {
            Ok(rows) => answers(rows, 1).pop().unwrap_or(Ok(Scanned::Unknown)),
            Err(e) => Err(e),
        });
    }
    out
}

/// The steps of `ScanSteps` for many scans in one statement: `input` is the scans, numbered;
/// `tk` reads each code's ticket (none: nothing is written and no row comes back) with its
/// admission and the scan's day; `entered` / `exited` is the ONE conditional change of each door
/// state (the same conditions as checkin.rs's `ENTER` and `leave_sql`, for a valid ticket only;
/// no two scans of a group share a ticket, nor two groups running at once); `outcome` words
/// what happened to each; `recorded` keeps every scan (a void ticket's with no day, as on SQLite). The answer is a row per known
/// ticket: its scan's number, the outcome, the day, the state (as written, or as it stands when
/// refused) and the ticket's detail. Every part sees the statement's one snapshot: a refund
/// committed while the scans run is ordered after them, as it was when each change was a
/// statement of its own.
///
/// Arrays, a scan each: `$1` ticket, `$2` event, `$3` scanned at, `$4` gate, `$5` direction,
/// `$6` scan id, `$7` device, `$8` scanned by, `$9` recorded at, `$10` source, `$11` detail.
///
/// The day is `tessera_domain::checkin::event_day` in SQL: whole days since the event's start,
/// from 1 (and 1 before it starts).
fn scan_statement() -> String {
    format!(
        "WITH input AS (
             SELECT * FROM unnest(CAST($1 AS UUID[]), CAST($2 AS UUID[]), CAST($3 AS TIMESTAMPTZ[]),
                 CAST($4 AS TEXT[]), CAST($5 AS TEXT[]), CAST($6 AS UUID[]), CAST($7 AS TEXT[]),
                 CAST($8 AS UUID[]), CAST($9 AS TIMESTAMPTZ[]), CAST($10 AS TEXT[]), CAST($11 AS TEXT[]))
                 WITH ORDINALITY AS i(ticket_id, event_id, scanned_at, gate, direction, scan_id, device_id,
                     scanned_by, recorded_at, source, detail, n)
         ),
         tk AS (
             SELECT i.*, t.status, COALESCE(t.admission_id, t.ticket_id) AS admission,
                 COALESCE(tt.allow_reentry, TRUE) AS reentry,
                 GREATEST(1, CAST(FLOOR(EXTRACT(EPOCH FROM (i.scanned_at - e.start_time)) / 86400) AS INTEGER) + 1) AS day
             FROM input i
             JOIN tickets t ON t.ticket_id = i.ticket_id AND t.event_id = i.event_id
             JOIN events e ON e.event_id = t.event_id
             LEFT JOIN ticket_types tt ON tt.ticket_type_id = t.ticket_type_id
         ),
         entered AS (
             INSERT INTO ticket_presence
                 (ticket_id, day, event_id, inside, entries, first_entry_at, first_gate, last_scan_at, version)
             SELECT tk.admission, tk.day, tk.event_id, TRUE, 1, tk.scanned_at, tk.gate, tk.scanned_at, 1 FROM tk
             WHERE tk.direction = 'entry' AND tk.status = 'valid'
             ON CONFLICT (ticket_id, day) DO UPDATE SET inside = TRUE, entries = ticket_presence.entries + 1,
                 first_entry_at = COALESCE(ticket_presence.first_entry_at, excluded.first_entry_at),
                 first_gate = CASE WHEN ticket_presence.first_entry_at IS NULL THEN excluded.first_gate
                                   ELSE ticket_presence.first_gate END,
                 last_scan_at = excluded.last_scan_at, version = ticket_presence.version + 1
             WHERE ticket_presence.inside = FALSE
               AND (ticket_presence.entries = 0
                    OR (SELECT bool_or(r.reentry) FROM tk r
                        WHERE r.admission = excluded.ticket_id AND r.day = excluded.day AND r.status = 'valid'))
             RETURNING ticket_id, day, event_id, inside, entries, first_entry_at, first_gate, last_scan_at, version
         ),
         exited AS (
             UPDATE ticket_presence p SET inside = FALSE, last_scan_at = tk.scanned_at, version = p.version + 1
             FROM tk
             WHERE tk.direction = 'exit' AND tk.status = 'valid'
               AND p.ticket_id = tk.admission AND p.day = tk.day AND p.inside = TRUE
             RETURNING p.ticket_id, p.day, p.event_id, p.inside, p.entries, p.first_entry_at, p.first_gate,
                 p.last_scan_at, p.version
         ),
         moved AS (SELECT * FROM entered UNION ALL SELECT * FROM exited),
         outcome AS (
             SELECT tk.*, CASE WHEN tk.status <> 'valid' THEN 'ticket_void'
                               WHEN EXISTS (SELECT 1 FROM moved m WHERE m.ticket_id = tk.admission AND m.day = tk.day)
                                   THEN 'accepted'
                               WHEN tk.direction = 'entry' THEN 'already_inside'
                               ELSE 'not_inside' END AS result
             FROM tk
         ),
         recorded AS (
             INSERT INTO checkins (scan_id, event_id, ticket_id, direction, day, gate, device_id,
                 scanned_by, scanned_at, recorded_at, source, result, detail)
             SELECT o.scan_id, o.event_id, o.ticket_id, o.direction,
                 CASE WHEN o.result = 'ticket_void' THEN NULL ELSE o.day END,
                 o.gate, o.device_id, o.scanned_by, o.scanned_at, o.recorded_at, o.source, o.result, o.detail
             FROM outcome o
         )
         SELECT o.n AS scan_n, o.result AS scan_result, o.day AS scan_day,
             s.ticket_id AS p_ticket_id, s.day AS p_day, s.event_id AS p_event_id, s.inside AS p_inside,
             s.entries AS p_entries, s.first_entry_at AS p_first_entry_at, s.first_gate AS p_first_gate,
             s.last_scan_at AS p_last_scan_at, s.version AS p_version, d.*
         FROM outcome o
         CROSS JOIN LATERAL ({DETAIL} WHERE t.ticket_id = o.ticket_id) d
         LEFT JOIN LATERAL (
             SELECT * FROM moved m WHERE m.ticket_id = o.admission AND m.day = o.day AND o.status = 'valid'
             UNION ALL
             SELECT p.ticket_id, p.day, p.event_id, p.inside, p.entries, p.first_entry_at, p.first_gate,
                 p.last_scan_at, p.version
             FROM ticket_presence p
             WHERE p.ticket_id = o.admission AND p.day = o.day
               AND NOT (o.status = 'valid' AND EXISTS (SELECT 1 FROM moved m WHERE m.ticket_id = o.admission AND m.day = o.day))
         ) s ON TRUE"
    )
}

/// Runs `scans` as one statement: its rows, one per scan of a known ticket.
async fn run_scans(pool: &PgPool, scans: &[ScanSteps]) -> Result<Vec<PgRow>> {
    fn col<T>(scans: &[ScanSteps], f: impl Fn(&ScanSteps) -> T) -> Vec<T> {
        scans.iter().map(f).collect()
    }
    Ok(sqlx::query(sqlx::AssertSqlSafe(scan_statement()))
        .bind(col(scans, |s| Uuid::from(s.ticket_id)))
        .bind(col(scans, |s| Uuid::from(s.event_id)))
        .bind(col(scans, |s| s.scan.scanned_at))
        .bind(col(scans, |s| s.scan.gate.clone()))
        .bind(col(scans, |s| s.scan.direction.as_str()))
        .bind(col(scans, |s| Uuid::from(s.scan.scan_id)))
        .bind(col(scans, |s| s.scan.device_id.clone()))
        .bind(col(scans, |s| Uuid::from(s.scan.scanned_by)))
        .bind(col(scans, |s| s.scan.recorded_at))
        .bind(col(scans, |s| s.scan.source.as_str()))
        .bind(col(scans, |s| s.scan.detail.clone()))
        .fetch_all(pool)
        .await?)
}

/// What became of each of `n` scans, from the statement's rows (a scan with no row: its ticket
/// is unknown).
fn answers(rows: Vec<PgRow>, n: usize) -> Answers<Scanned> {
    let mut done: Answers<Scanned> = (0..n).map(|_| Ok(Scanned::Unknown)).collect();
    for row in rows {
        let slot = row
            .try_get::<i64, _>("scan_n")
            .ok()
            .and_then(|k| usize::try_from(k).ok())
            .and_then(|k| k.checked_sub(1))
            .and_then(|i| done.get_mut(i));
        match slot {
            Some(slot) => *slot = scanned(&row),
            None => tracing::warn!("a group of door scans answered a row for no scan of it"),
        }
    }
    done
}

/// One scan's answer row.
fn scanned(row: &PgRow) -> Result<Scanned> {
    let ticket: TicketDetail = sqlx::FromRow::from_row(row)?;
    let result: String = row.try_get("scan_result")?;
    let outcome = match result.as_str() {
        "accepted" => Outcome::Accepted,
        "already_inside" => Outcome::AlreadyInside,
        "not_inside" => Outcome::NotInside,
        _ => Outcome::Void,
    };
    let presence = match row.try_get::<Option<TicketId>, _>("p_ticket_id")? {
        Some(ticket_id) => Some(PresenceRecord {
            ticket_id,
            day: row.try_get("p_day")?,
            event_id: row.try_get("p_event_id")?,
            inside: row.try_get("p_inside")?,
            entries: row.try_get("p_entries")?,
            first_entry_at: row.try_get("p_first_entry_at")?,
            first_gate: row.try_get("p_first_gate")?,
            last_scan_at: row.try_get("p_last_scan_at")?,
            version: row.try_get("p_version")?,
        }),
        None => None,
    };
    Ok(Scanned::Done { ticket: Box::new(ticket), outcome, presence, day: row.try_get("scan_day")? })
}

impl ScanPath for Pg<'_> {
    async fn scan_code(&self, s: ScanSteps) -> Result<Scanned> {
        match self.scans {
            Some(groups) => groups.groups.run(s).await,
            None => answers(run_scans(self.pool, std::slice::from_ref(&s)).await?, 1)
                .pop()
                .unwrap_or(Ok(Scanned::Unknown)),
        }
    }
}
