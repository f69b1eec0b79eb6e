//! The waiting room on SQLite (the rules: queue.rs): polls on the inline readers, joins and ticks
//! on the writer.

use rusqlite::types::Value;
use tessera_domain::id::{EventId, QueueEntryId, UserId};
use tessera_domain::records::{QueueEntry, QueueState};
use time::OffsetDateTime;

use crate::Result;
use crate::hot_path::QueuePath;
use crate::queue::{
    ACTIVE_ADMISSIONS, ADMIT_NEXT, AdmissionTick, Advance, INSERT_ENTRY, Join, PLACES_LEFT, REQUEUE,
    SAVE_TICK, recount_places, take_positions_sql, unix_ms,
};

use super::Sqlite;
use super::values as w;

impl QueuePath for Sqlite<'_> {
    async fn queue_state(&self, sql: String, event_id: EventId) -> Result<Option<QueueState>> {
        self.readers()?.read(|c| w::first(c, &sql, &[w::id(event_id)], state_row))
    }

    async fn queue_entry_for(
        &self,
        sql: String,
        event_id: EventId,
        user_id: UserId,
        now: OffsetDateTime,
    ) -> Result<Option<QueueEntry>> {
        let args = [w::ts(now), w::id(event_id), w::id(user_id)];
        self.readers()?.read(|c| w::first(c, &sql, &args, entry_row))
    }

    async fn queue_entry(
        &self,
        sql: String,
        entry_id: QueueEntryId,
        now: OffsetDateTime,
    ) -> Result<Option<QueueEntry>> {
        self.readers()?.read(|c| w::first(c, &sql, &[w::ts(now), w::id(entry_id)], entry_row))
    }

    async fn join(&self, j: Join) -> Result<Option<(bool, i32, QueueState)>> {
        let take_sql = take_positions_sql();
        let r = self
            .writer()?
            .run(move |tx| {
                let state = w::rows(tx, &take_sql, &[w::id(j.event_id), Value::Integer(1)], state_row)?.pop();
                let Some(state) = state else { return Ok(Err(None)) };
                let pos = state.next_position;
                let n = match j.requeue {
                    Some(id) => w::exec(tx, REQUEUE, &[Value::Integer(pos.into()), w::ts(j.now), w::id(id)])?,
                    None => w::exec(
                        tx,
                        INSERT_ENTRY,
                        &[
                            w::id(j.entry_id),
                            w::id(j.event_id),
                            w::id(j.user_id),
                            Value::Integer(pos.into()),
                            w::ts(j.now),
                        ],
                    )?,
                };
                Ok(if n == 1 { Ok(Some((true, pos, state))) } else { Err(Some((false, pos, state))) })
            })
            .await?;
        Ok(match r {
            Ok(x) | Err(x) => x,
        })
    }

    // On the hot-path writer: an admission tick written by another connection would make that
    // writer drop its whole page cache (SQLite does when another connection changed the file),
    // four times a second in a sale.
    async fn advance(&self, a: Advance) -> Result<u64> {
        let Advance { event_id, at, now, state_sql } = a;
        self.writer()?
            .run_ok(move |tx| {
                let st = w::rows(tx, &state_sql, &[w::id(event_id)], state_row)?.pop();
                let Some(st) = st.filter(|s| s.enabled) else { return Ok(0) };
                let active: i64 =
                    w::first(tx, ACTIVE_ADMISSIONS, &[w::id(event_id), w::ts(now)], |r| r.get(0))?
                        .unwrap_or(0);
                let left: Option<i64> = if recount_places(&st, now) {
                    w::first(tx, PLACES_LEFT, &[w::id(event_id), w::ts(now)], |r| r.get(0))?
                } else {
                    None
                };
                let tick = AdmissionTick::plan(&st, active, at);
                let admitted: Vec<i32> = if tick.n > 0 {
                    let window = now + time::Duration::seconds(i64::from(st.window_secs));
                    w::rows(
                        tx,
                        ADMIT_NEXT,
                        &[w::id(event_id), Value::Integer(tick.n), w::ts(now), w::ts(window)],
                        |r| r.get(0),
                    )?
                } else {
                    Vec::new()
                };
                let (serving, last, pace) = tick.outcome(&st, &admitted, at);
                w::exec(
                    tx,
                    SAVE_TICK,
                    &[
                        Value::Integer(serving.into()),
                        w::ts(tessera_domain::clock::normalize_ts(last)),
                        w::ts(now),
                        Value::Integer(pace.into()),
                        w::id(event_id),
                        left.map_or(Value::Null, Value::Integer),
                        left.map_or(Value::Null, |_| w::ts(now)),
                        Value::Integer(unix_ms(last)),
                        Value::Integer(unix_ms(at)),
                    ],
                )?;
                Ok(admitted.len() as u64)
            })
            .await
    }
}

/// A queue state row read by the SQLite writer (columns in `STATE_COLUMNS` order).
fn state_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<QueueState> {
    Ok(QueueState {
        event_id: w::get_id(r, 0)?,
        enabled: r.get(1)?,
        rate_per_min: r.get(2)?,
        max_active: r.get(3)?,
        window_secs: r.get(4)?,
        next_position: r.get(5)?,
        serving_position: r.get(6)?,
        last_advanced_at: w::get_ts(r, 7)?,
        admitted_per_min: r.get(8)?,
        updated_at: w::get_ts(r, 9)?,
        opens_at: w::get_opt_ts(r, 10)?,
        places_left: r.get(11)?,
        places_counted_at: w::get_opt_ts(r, 12)?,
        rate_clock_ms: r.get(13)?,
        ticked_ms: r.get(14)?,
    })
}

/// A queue entry row read directly (columns in `ENTRY_COLUMNS` order).
fn entry_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<QueueEntry> {
    Ok(QueueEntry {
        entry_id: w::get_id(r, 0)?,
        event_id: w::get_id(r, 1)?,
        user_id: w::get_id(r, 2)?,
        queue_position: r.get(3)?,
        status: w::get_word(r, 4)?,
        admitted_at: w::get_opt_ts(r, 5)?,
        expires_at: w::get_opt_ts(r, 6)?,
        created_at: w::get_ts(r, 7)?,
    })
}
