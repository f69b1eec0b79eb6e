//! Inline SQLite connections for the hot paths of a sale: a writer for holds, payments, queue
//! joins and rate-limit hits, and readers for queue polls and the checks before a hold.
//!
//! Why: through sqlx every statement is a message to the connection's worker thread and an answer
//! back. On a small machine each hand-off costs tens of microseconds of scheduling, and the task
//! that holds the database's only write lock waits its turn on a busy runtime between statements,
//! so a four-statement hold kept the lock for ~450 µs (measured in the flash-sale benchmark) while
//! every other writer queued behind it. Here a whole transaction is one closure run inline, on
//! the calling thread, on a connection of our own behind a mutex: in-process SQLite statements take
//! microseconds, so the lock is held only while SQLite works and no thread is switched. After the
//! commit the caller awaits the grouped WAL flush (durability.rs) before it answers, so an
//! answered write survives a power cut as every other write does.
//!
//! Values are bound exactly as sqlx binds them (UUIDs as 16-byte blobs, timestamps as RFC 3339
//! text, booleans as integers), so both connections read each other's rows.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::types::Value;
use rusqlite::{Connection, Transaction, TransactionBehavior};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

use crate::durability::WalSync;
use crate::query::Arg;
use crate::{Result, StoreError};

#[derive(Debug)]
pub(crate) struct SqliteWriter {
    /// The turn to write, shared with the sqlx write pool. Taken (asynchronously) before the
    /// connection, so this connection never meets SQLite's write lock held by an sqlx
    /// transaction: waiting there would block the runtime thread that transaction needs to
    /// finish on (a deadlock until the busy timeout).
    turn: tokio::sync::Mutex<()>,
    conn: Mutex<Connection>,
    wal: Arc<WalSync>,
}

impl SqliteWriter {
    /// Opens a write connection to the database file.
    pub(crate) fn open(file: &Path, wal: Arc<WalSync>) -> Result<SqliteWriter> {
        let conn = Connection::open(file).map_err(other)?;
        conn.busy_timeout(Duration::from_secs(30)).map_err(other)?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;",
        )
        .map_err(other)?;
        conn.set_prepared_statement_cache_capacity(128);
        Ok(SqliteWriter { turn: tokio::sync::Mutex::new(()), conn: Mutex::new(conn), wal })
    }

    /// Runs `work` as one IMMEDIATE transaction and answers once it is durable (or rolled back).
    /// `Ok(Ok(r))` from `work` commits; `Ok(Err(s))` rolls back and answers `s`.
    pub(crate) async fn run<R, S>(
        &self,
        work: impl FnOnce(&Transaction<'_>) -> rusqlite::Result<std::result::Result<R, S>>,
    ) -> Result<std::result::Result<R, S>> {
        let out = {
            let _turn = self.turn().await;
            // Never held across an await: the transaction runs start to finish right here.
            let mut conn =
                self.conn.lock().map_err(|_| StoreError::Other("the SQLite writer panicked".into()))?;
            transact(&mut conn, work)?
        };
        if out.is_ok() {
            self.wal.after_commit().await.map_err(|e| StoreError::Other(format!("flushing the WAL: {e}")))?;
        }
        Ok(out)
    }

    /// The turn to write (see `turn`).
    pub(crate) async fn turn(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.turn.lock().await
    }

    /// [`run`](Self::run) for work that always commits when it succeeds.
    pub(crate) async fn run_ok<R>(
        &self,
        work: impl FnOnce(&Transaction<'_>) -> rusqlite::Result<R>,
    ) -> Result<R> {
        match self.run(move |tx| work(tx).map(Ok::<R, std::convert::Infallible>)).await? {
            Ok(r) => Ok(r),
            Err(never) => match never {},
        }
    }
}

/// Read connections used inline, for the reads on a sale's hot path (a buyer polling the queue,
/// the checks before a hold): same reason as the writer. A read never waits for anything, so the
/// pool holds at most one connection per thread that has read at once.
#[derive(Debug)]
pub(crate) struct SqliteReaders {
    file: std::path::PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl SqliteReaders {
    pub(crate) fn new(file: &Path) -> SqliteReaders {
        SqliteReaders { file: file.to_path_buf(), idle: Mutex::new(Vec::new()) }
    }

    /// Runs `f` on an idle read connection (opening one if none is idle).
    pub(crate) fn read<R>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<R>) -> Result<R> {
        let idle = self.idle.lock().ok().and_then(|mut v| v.pop());
        let conn = match idle {
            Some(c) => c,
            None => {
                let c = Connection::open_with_flags(
                    &self.file,
                    rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )
                .map_err(other)?;
                c.busy_timeout(Duration::from_secs(30)).map_err(other)?;
                c.set_prepared_statement_cache_capacity(64);
                c
            }
        };
        let out = f(&conn).map_err(map_err);
        if let Ok(mut v) = self.idle.lock() {
            v.push(conn);
        }
        out
    }
}

/// The first row of a query, if any.
pub(crate) fn first<T>(
    conn: &Connection,
    sql: &str,
    values: &[Value],
    f: impl FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> rusqlite::Result<Option<T>> {
    let mut stmt = prepare(conn, sql, values)?;
    let mut rows = stmt.raw_query();
    rows.next()?.map(f).transpose()
}

fn transact<R, S>(
    conn: &mut Connection,
    work: impl FnOnce(&Transaction<'_>) -> rusqlite::Result<std::result::Result<R, S>>,
) -> Result<std::result::Result<R, S>> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(map_err)?;
    match work(&tx).map_err(map_err)? {
        Ok(r) => {
            tx.commit().map_err(map_err)?;
            Ok(Ok(r))
        }
        // Dropping the transaction rolls it back.
        Err(s) => Ok(Err(s)),
    }
}

fn other(e: rusqlite::Error) -> StoreError {
    StoreError::Other(e.to_string())
}

/// Unique-constraint violations are conflicts, as they are through sqlx.
fn map_err(e: rusqlite::Error) -> StoreError {
    match &e {
        rusqlite::Error::SqliteFailure(f, _)
            if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                || f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY =>
        {
            StoreError::Conflict(e.to_string())
        }
        _ => StoreError::Other(e.to_string()),
    }
}

/// Binding values the way sqlx does.
pub(crate) fn id(u: Uuid) -> Value {
    Value::Blob(u.as_bytes().to_vec())
}

pub(crate) fn ts(t: OffsetDateTime) -> Value {
    Value::Text(t.format(&Rfc3339).unwrap_or_default())
}

pub(crate) fn opt_id(u: Option<Uuid>) -> Value {
    u.map(id).unwrap_or(Value::Null)
}

pub(crate) fn arg(a: &Arg) -> Value {
    match a {
        Arg::Text(s) => Value::Text(s.clone()),
        Arg::Int(i) => Value::Integer(*i),
        Arg::Ts(t) => ts(*t),
        Arg::Id(u) => id(*u),
    }
}

pub(crate) fn values(args: &[Arg]) -> Vec<Value> {
    args.iter().map(arg).collect()
}

/// Reading values back.
pub(crate) fn get_id(row: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<Uuid> {
    let b: Vec<u8> = row.get(i)?;
    Uuid::from_slice(&b)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Blob, Box::new(e)))
}

pub(crate) fn get_opt_id(row: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<Option<Uuid>> {
    let b: Option<Vec<u8>> = row.get(i)?;
    b.map(|b| {
        Uuid::from_slice(&b).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Blob, Box::new(e))
        })
    })
    .transpose()
}

pub(crate) fn get_ts(row: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<OffsetDateTime> {
    let s: String = row.get(i)?;
    OffsetDateTime::parse(&s, &Rfc3339)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, Box::new(e)))
}

pub(crate) fn get_opt_ts(row: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<Option<OffsetDateTime>> {
    let s: Option<String> = row.get(i)?;
    s.map(|_| get_ts(row, i)).transpose()
}

/// Prepares (cached) and binds `$1…$N` by number, as sqlx does: SQLite numbers named
/// parameters by first appearance, which is not always the order of their numbers.
fn prepare<'t>(
    tx: &'t Connection,
    sql: &str,
    values: &[Value],
) -> rusqlite::Result<rusqlite::CachedStatement<'t>> {
    let mut stmt = tx.prepare_cached(sql)?;
    for (i, v) in values.iter().enumerate() {
        if let Some(idx) = stmt.parameter_index(&format!("${}", i + 1))? {
            stmt.raw_bind_parameter(idx, v)?;
        }
    }
    Ok(stmt)
}

/// Runs a statement; returns the rows it changed.
pub(crate) fn exec(tx: &Connection, sql: &str, values: &[Value]) -> rusqlite::Result<usize> {
    prepare(tx, sql, values)?.raw_execute()
}

/// Runs a query (or a statement with RETURNING) and maps every row.
pub(crate) fn rows<T>(
    tx: &Connection,
    sql: &str,
    values: &[Value],
    mut f: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> rusqlite::Result<Vec<T>> {
    let mut stmt = prepare(tx, sql, values)?;
    let mut rows = stmt.raw_query();
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(f(row)?);
    }
    Ok(out)
}
