//! SQLite's side of the hot paths (hot_path.rs): holds, payments, queue joins, polls and ticks
//! (and rate-limit hits, limits.rs) run inline on connections of the store's own: a writer for
//! the writes and readers for the reads before them.
//!
//! Why: through sqlx every statement is a message to the connection's worker thread and an answer
//! back. On a small machine each hand-off costs a round of scheduling, and the task that holds
//! the database's only write lock waits its turn on a busy runtime between statements, so a hold
//! of a few statements keeps the lock through several such waits while every other writer queues
//! behind it. Here a whole transaction is one closure run inline, on the calling thread, on a
//! connection of our own behind a mutex: in-process SQLite statements are short, so the lock is
//! held only while SQLite works and no thread is switched. After the commit the caller awaits
//! the grouped WAL flush (durability.rs) before it answers, so an answered write survives a power
//! cut as every other write does.
//!
//! Group commit: requests that arrive while a transaction is being written queue up, and the
//! writer thread writes all of them in one transaction (`SqliteWriter::run`; a job that must be
//! undone on its own gets a savepoint, see `batch::transact_batch`). In a flash sale each payment
//! touches pages that the next one touches too (the same index leaves, the same seat pages);
//! written once per batch instead of once per request, the WAL grows far more slowly and the
//! kernel copies far less.
//!
//! Values are bound exactly as sqlx binds them (UUIDs as 16-byte blobs, timestamps as RFC 3339
//! text, booleans as integers), so both connections read each other's rows.
//!
//! - writer.rs: the write connection, its turn and the threads that write, flush and checkpoint;
//! - batch.rs: the jobs a batch is made of, and how one transaction writes them;
//! - readers.rs: the read connections;
//! - values.rs: binding values, reading them back, running a statement;
//! - reservations.rs, payments.rs, queue.rs: the hot paths themselves.

mod batch;
mod checkin;
mod payments;
mod queue;
mod readers;
mod reservations;
pub(crate) mod values;
mod writer;

use rusqlite::Connection;

use crate::{Result, Store, StoreError};

pub(crate) use readers::SqliteReaders;
pub(crate) use writer::{SqliteWriter, WAL_AUTOCHECKPOINT_PAGES};

/// The connections a hot path runs on: the store's writer and readers.
pub(crate) struct Sqlite<'a> {
    pub(crate) store: &'a Store,
}

impl Sqlite<'_> {
    /// The writer, once the store may still write (`Store::sqlite_writer`).
    fn writer(&self) -> Result<&SqliteWriter> {
        self.store.sqlite_writer()
    }

    /// The inline readers (every SQLite store has them).
    fn readers(&self) -> Result<&SqliteReaders> {
        self.store.sqlite_readers().ok_or_else(|| StoreError::other("no SQLite readers"))
    }
}

/// Plans that do not depend on bound values (SQLite's query planner stability guarantee). Without
/// it, a statement on a table with partial indexes is prepared again at every new binding (the
/// planner compares bound values with the indexes' conditions), a cost the writer would pay on
/// nearly every statement. Our partial indexes are `… IS NOT NULL`, which an equality on the
/// column implies whatever its value, so the plans stay the same (tested by
/// `seat_statements_use_the_partial_index`).
fn stable_plans(conn: &Connection) -> Result<()> {
    conn.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true).map_err(other)?;
    Ok(())
}

#[track_caller]
fn other(e: rusqlite::Error) -> StoreError {
    StoreError::other(e)
}

/// Unique-constraint violations are conflicts, as they are through sqlx.
#[track_caller]
fn map_err(e: rusqlite::Error) -> StoreError {
    match &e {
        rusqlite::Error::SqliteFailure(f, _)
            if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                || f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY =>
        {
            StoreError::Conflict(e.to_string())
        }
        rusqlite::Error::SqliteFailure(f, _) if crate::sqlite_unavailable(f.extended_code) => {
            StoreError::Unavailable(e.to_string())
        }
        _ => StoreError::other(e),
    }
}

#[cfg(test)]
mod tests {
    /// A sale and a release find a reservation's seats through the partial index on the
    /// hot-path connections, whose plans do not look at bound values (`stable_plans`).
    #[tokio::test]
    async fn seat_statements_use_the_partial_index() {
        let db = crate::testing::test_db(crate::Backend::Sqlite).await;
        let plan = |sql: &str| {
            db.store
                .sqlite_readers()
                .unwrap()
                .read(|c| {
                    let mut st = c.prepare(&format!("EXPLAIN QUERY PLAN {sql}"))?;
                    let mut rows = st.raw_query();
                    let mut steps = Vec::new();
                    while let Some(r) = rows.next()? {
                        steps.push(r.get::<_, String>(3)?);
                    }
                    Ok(steps.join("; "))
                })
                .unwrap()
        };
        for sql in [crate::payments::SELL_PLACES, crate::reservations::FREE_HELD] {
            let p = plan(sql);
            assert!(p.contains("seats_reservation_idx (reservation_id=?)"), "{sql}: {p}");
        }
        // The admission job's count of live admissions reads the status index alone.
        let p = plan(crate::queue::ACTIVE_ADMISSIONS);
        assert!(p.contains("USING COVERING INDEX queue_entries_status_idx (event_id=? AND status=?)"), "{p}");
    }
}
