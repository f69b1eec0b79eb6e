//! Online door scans on PostgreSQL (the rules: checkin.rs): the whole scan is ONE statement, so
//! a scan is one round trip and one commit, and concurrent scans share WAL flushes through
//! PostgreSQL's own group commit. SQLite runs the same steps as one job of its grouped writer.

use sqlx::Row;
use sqlx::postgres::PgRow;
use tessera_domain::checkin::Outcome;
use tessera_domain::records::{PresenceRecord, TicketDetail};

use crate::Result;
use crate::checkin::{ScanSteps, Scanned};
use crate::hot_path::ScanPath;
use crate::tickets::DETAIL;

use super::Pg;

/// The steps of `ScanSteps` in one statement: `tk` reads the code's ticket (none: nothing is
/// written and no row comes back) with its admission and the scan's day; `entered` / `exited` is
/// the ONE conditional change of its door state (the same conditions as checkin.rs's `ENTER` and
/// `leave_sql`, for a valid ticket only); `outcome` words what happened; `recorded` keeps the
/// scan (a void ticket's with no day, as on SQLite). The answer is the outcome, the day, the
/// state (as written, or as it stands when refused) and the ticket's detail. Every part sees the
/// statement's one snapshot: a refund committed while the scan runs is ordered after it, as it
/// was when the change was a statement of its own.
///
/// `$1` ticket, `$2` event, `$3` scanned at, `$4` gate, `$5` direction, `$6` scan id, `$7` device,
/// `$8` scanned by, `$9` recorded at, `$10` source, `$11` detail.
///
/// The day is `tessera_domain::checkin::event_day` in SQL: whole days since the event's start,
/// from 1 (and 1 before it starts).
fn scan_statement() -> String {
    format!(
        "WITH tk AS (
             SELECT t.ticket_id, t.status, COALESCE(t.admission_id, t.ticket_id) AS admission,
                 COALESCE(tt.allow_reentry, TRUE) AS reentry,
                 GREATEST(1, CAST(FLOOR(EXTRACT(EPOCH FROM (CAST($3 AS TIMESTAMPTZ) - e.start_time)) / 86400) AS INTEGER) + 1) AS day
             FROM tickets t JOIN events e ON e.event_id = t.event_id
             LEFT JOIN ticket_types tt ON tt.ticket_type_id = t.ticket_type_id
             WHERE t.ticket_id = $1 AND t.event_id = $2
         ),
         entered AS (
             INSERT INTO ticket_presence
                 (ticket_id, day, event_id, inside, entries, first_entry_at, first_gate, last_scan_at, version)
             SELECT tk.admission, tk.day, $2, TRUE, 1, $3, $4, $3, 1 FROM tk
             WHERE CAST($5 AS TEXT) = 'entry' AND tk.status = 'valid'
             ON CONFLICT (ticket_id, day) DO UPDATE SET inside = TRUE, entries = ticket_presence.entries + 1,
                 first_entry_at = COALESCE(ticket_presence.first_entry_at, excluded.first_entry_at),
                 first_gate = CASE WHEN ticket_presence.first_entry_at IS NULL THEN excluded.first_gate
                                   ELSE ticket_presence.first_gate END,
                 last_scan_at = excluded.last_scan_at, version = ticket_presence.version + 1
             WHERE ticket_presence.inside = FALSE
               AND ((SELECT reentry FROM tk) OR ticket_presence.entries = 0)
             RETURNING ticket_id, day, event_id, inside, entries, first_entry_at, first_gate, last_scan_at, version
         ),
         exited AS (
             UPDATE ticket_presence p SET inside = FALSE, last_scan_at = $3, version = p.version + 1
             FROM tk
             WHERE CAST($5 AS TEXT) = 'exit' AND tk.status = 'valid'
               AND p.ticket_id = tk.admission AND p.day = tk.day AND p.inside = TRUE
             RETURNING p.ticket_id, p.day, p.event_id, p.inside, p.entries, p.first_entry_at, p.first_gate,
                 p.last_scan_at, p.version
         ),
         moved AS (SELECT * FROM entered UNION ALL SELECT * FROM exited),
         outcome AS (
             SELECT CASE WHEN EXISTS (SELECT 1 FROM moved) THEN 'accepted'
                         WHEN tk.status <> 'valid' THEN 'ticket_void'
                         WHEN CAST($5 AS TEXT) = 'entry' THEN 'already_inside'
                         ELSE 'not_inside' END AS result,
                 tk.day, tk.admission
             FROM tk
         ),
         recorded AS (
             INSERT INTO checkins (scan_id, event_id, ticket_id, direction, day, gate, device_id,
                 scanned_by, scanned_at, recorded_at, source, result, detail)
             SELECT $6, $2, $1, $5, CASE WHEN o.result = 'ticket_void' THEN NULL ELSE o.day END,
                 $4, $7, $8, $3, $9, $10, o.result, $11
             FROM outcome o
         )
         SELECT o.result AS scan_result, o.day AS scan_day,
             s.ticket_id AS p_ticket_id, s.day AS p_day, s.event_id AS p_event_id, s.inside AS p_inside,
             s.entries AS p_entries, s.first_entry_at AS p_first_entry_at, s.first_gate AS p_first_gate,
             s.last_scan_at AS p_last_scan_at, s.version AS p_version, d.*
         FROM outcome o
         CROSS JOIN ({DETAIL} WHERE t.ticket_id = $1) d
         LEFT JOIN LATERAL (
             SELECT * FROM moved
             UNION ALL
             SELECT p.ticket_id, p.day, p.event_id, p.inside, p.entries, p.first_entry_at, p.first_gate,
                 p.last_scan_at, p.version
             FROM ticket_presence p
             WHERE p.ticket_id = o.admission AND p.day = o.day AND NOT EXISTS (SELECT 1 FROM moved)
         ) s ON TRUE"
    )
}

impl ScanPath for Pg<'_> {
    async fn scan_code(&self, s: ScanSteps) -> Result<Scanned> {
        let row: Option<PgRow> = sqlx::query(sqlx::AssertSqlSafe(scan_statement()))
            .bind(s.ticket_id)
            .bind(s.event_id)
            .bind(s.scan.scanned_at)
            .bind(&s.scan.gate)
            .bind(s.scan.direction.as_str())
            .bind(s.scan.scan_id)
            .bind(&s.scan.device_id)
            .bind(s.scan.scanned_by)
            .bind(s.scan.recorded_at)
            .bind(s.scan.source.as_str())
            .bind(&s.scan.detail)
            .fetch_optional(self.pool)
            .await?;
        let Some(row) = row else { return Ok(Scanned::Unknown) };
        let ticket: TicketDetail = sqlx::FromRow::from_row(&row)?;
        let Some(ticket) = s.ticket(Some(ticket)) else { return Ok(Scanned::Unknown) };
        let result: String = row.try_get("scan_result")?;
        let outcome = match result.as_str() {
            "accepted" => Outcome::Accepted,
            "already_inside" => Outcome::AlreadyInside,
            "not_inside" => Outcome::NotInside,
            _ => Outcome::Void,
        };
        let presence = match row.try_get::<Option<tessera_domain::id::TicketId>, _>("p_ticket_id")? {
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
}
