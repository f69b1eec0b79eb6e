//! Holds on SQLite (the rules: reservations.rs).

use rusqlite::types::Value;
use tessera_domain::records::HoldOutcome;

use crate::Result;
use crate::hot_path::HoldPath;
use crate::queue::ADMITTED_ENTRY;
use crate::reservations::{COUNT_HELD, Held, Hold, INSERT_RESERVATION, NEARBY_AVAILABLE, Refused, SeatCheck};

use super::Sqlite;
use super::values as w;

impl HoldPath for Sqlite<'_> {
    // The single writer serializes holds, so the count cannot be raced there.
    async fn hold(&self, h: Hold) -> Result<std::result::Result<Held, HoldOutcome>> {
        let values = w::values(&h.take.args);
        self.writer()?
            .run(move |tx| {
                if let Some(entry) = h.admission {
                    let n =
                        w::rows(tx, ADMITTED_ENTRY, &[w::id(entry), w::ts(h.now)], |r| r.get::<_, i64>(0))?;
                    if n.first().copied().unwrap_or(0) == 0 {
                        return Ok(Err(HoldOutcome::NotAdmitted));
                    }
                }
                let counts = w::rows(
                    tx,
                    COUNT_HELD,
                    &[w::id(h.user_id), w::id(h.event_id), w::ts(h.now), w::id(h.counted_type())],
                    |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)),
                )?;
                let (for_event, for_type) = counts.first().copied().unwrap_or((0, 0));
                if let Some(over) = h.over_limit(for_event, for_type) {
                    return Ok(Err(over));
                }
                let mut taken: Vec<(i32, i64)> =
                    w::rows(tx, &h.take.text, &values, |r| Ok((r.get(0)?, r.get(1)?)))?;
                if let Some(more) = h.rest(taken.len()) {
                    let values = w::values(&more.args);
                    taken.extend(w::rows(tx, &more.text, &values, |r| Ok((r.get(0)?, r.get(1)?)))?);
                }
                if taken.len() as i64 != h.wanted {
                    return Ok(Err(HoldOutcome::SoldOut { available: taken.len() as i64 }));
                }
                let (row, seats) = h.held(&taken);
                w::exec(
                    tx,
                    INSERT_RESERVATION,
                    &[
                        w::id(row.reservation_id),
                        w::id(row.user_id),
                        w::id(row.event_id),
                        w::opt_id(row.ticket_type_id),
                        Value::Integer(row.quantity.into()),
                        Value::Integer(row.amount),
                        w::ts(h.now),
                        w::ts(h.deadline),
                    ],
                )?;
                Ok(Ok((row, seats)))
            })
            .await
    }

    async fn seat_check(&self, c: &SeatCheck<'_>) -> Result<(Refused, Vec<i32>)> {
        let values = w::values(&c.statuses.args);
        self.readers()?.read(|conn| {
            let rows = w::rows(conn, &c.statuses.text, &values, |row| Ok((row.get(0)?, row.get(1)?)))?;
            let (taken, unknown) = (c.split)(&rows);
            let near: Vec<i32> = match taken.first() {
                Some(&first) => {
                    w::rows(conn, NEARBY_AVAILABLE, &w::values(&(c.near_args)(first)), |r| r.get(0))?
                }
                None => Vec::new(),
            };
            Ok(((taken, unknown), near))
        })
    }
}
