//! Online door scans on SQLite (the rules: checkin.rs): one job of the grouped writer, so scans
//! arriving together share one transaction and one WAL flush.

use rusqlite::types::Value;
use tessera_domain::checkin::{Direction, Outcome};
use tessera_domain::records::{PresenceRecord, ScanRecord, TicketStatus};

use crate::Result;
use crate::checkin::{INSERT_SCAN, ScanSteps, Scanned, enter_returning, leave_returning, presence_sql};
use crate::hot_path::ScanPath;
use crate::tickets::{ticket_by_id, ticket_row};

use super::Sqlite;
use super::values as w;

impl ScanPath for Sqlite<'_> {
    async fn scan_code(&self, s: ScanSteps) -> Result<Scanned> {
        let (ticket_sql, enter_sql, leave_sql, presence_sql) =
            (ticket_by_id(), enter_returning(), leave_returning(), presence_sql(""));
        self.writer()?
            .run_ok(move |tx| {
                let ticket = w::first(tx, &ticket_sql, &[w::id(s.ticket_id)], ticket_row)?;
                let Some(ticket) = s.ticket(ticket) else { return Ok(Scanned::Unknown) };
                let day = s.day(&ticket);
                if ticket.status != TicketStatus::Valid {
                    w::exec(tx, INSERT_SCAN, &scan_values(&s.record(Outcome::Void, None)))?;
                    return Ok(Scanned::Done {
                        ticket: Box::new(ticket),
                        outcome: Outcome::Void,
                        presence: None,
                        day,
                    });
                }
                // The one conditional change; the state it wrote comes back with it. The writer
                // is the only one, so the ticket read above is still current: a refusal is the
                // state's, never a void.
                let written = match s.scan.direction {
                    Direction::Entry => w::first(
                        tx,
                        &enter_sql,
                        &[
                            w::id(s.ticket_id),
                            Value::Integer(day.into()),
                            w::id(s.event_id),
                            w::ts(s.scan.scanned_at),
                            opt_text(s.scan.gate.as_deref()),
                            Value::Integer(ticket.allow_reentry.into()),
                        ],
                        presence_row,
                    )?,
                    Direction::Exit => w::first(
                        tx,
                        &leave_sql,
                        &[w::id(s.ticket_id), Value::Integer(day.into()), w::ts(s.scan.scanned_at)],
                        presence_row,
                    )?,
                };
                let (outcome, presence) = match (written, s.scan.direction) {
                    (Some(p), _) => (Outcome::Accepted, Some(p)),
                    (None, direction) => {
                        let presence = w::first(
                            tx,
                            &presence_sql,
                            &[w::id(s.ticket_id), Value::Integer(day.into())],
                            presence_row,
                        )?;
                        let outcome = match direction {
                            Direction::Entry => Outcome::AlreadyInside,
                            Direction::Exit => Outcome::NotInside,
                        };
                        (outcome, presence)
                    }
                };
                w::exec(tx, INSERT_SCAN, &scan_values(&s.record(outcome, Some(day))))?;
                Ok(Scanned::Done { ticket: Box::new(ticket), outcome, presence, day })
            })
            .await
    }
}

fn opt_text(s: Option<&str>) -> Value {
    s.map_or(Value::Null, |s| Value::Text(s.to_string()))
}

/// A scan's columns in `INSERT_SCAN` order.
fn scan_values(s: &ScanRecord) -> Vec<Value> {
    vec![
        w::id(s.scan_id),
        w::opt_id(s.event_id),
        w::opt_id(s.ticket_id),
        Value::Text(s.direction.as_str().into()),
        s.day.map_or(Value::Null, |d| Value::Integer(d.into())),
        opt_text(s.gate.as_deref()),
        opt_text(s.device_id.as_deref()),
        w::id(s.scanned_by),
        w::ts(s.scanned_at),
        w::ts(s.recorded_at),
        Value::Text(s.source.as_str().into()),
        Value::Text(s.result.clone()),
        opt_text(s.detail.as_deref()),
    ]
}

/// A door state read directly (columns in `PRESENCE_COLUMNS` order).
fn presence_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<PresenceRecord> {
    Ok(PresenceRecord {
        ticket_id: w::get_id(r, 0)?,
        day: r.get(1)?,
        event_id: w::get_id(r, 2)?,
        inside: r.get(3)?,
        entries: r.get(4)?,
        first_entry_at: w::get_opt_ts(r, 5)?,
        first_gate: r.get(6)?,
        last_scan_at: w::get_opt_ts(r, 7)?,
        version: r.get(8)?,
    })
}
