//! The SQLite writer thread, for the hot write paths of a sale (holds, payments, queue joins,
//! rate-limit hits).
//!
//! Why: through sqlx every statement is a message to the connection's worker thread and an answer
//! back, and on a small machine each hand-off costs tens of microseconds, so a ten-statement
//! payment spent most of its time switching threads while holding the database's only write lock.
//! Here a whole transaction is one closure run on the thread that owns the connection: one
//! hand-off per transaction. And every transaction that queued up while the thread was busy is
//! committed in the same round and covered by one WAL fsync before any of them is answered (group
//! commit): an answered write survives a power cut, as with every other write (durability.rs).
//!
//! Values are bound exactly as sqlx binds them (UUIDs as 16-byte blobs, timestamps as RFC 3339
//! text, booleans as integers), so both connections read each other's rows.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use rusqlite::types::Value;
use rusqlite::{Connection, Transaction, TransactionBehavior};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

use crate::query::Arg;
use crate::{Result, StoreError};

/// A transaction's work: `Ok(Ok(r))` commits, `Ok(Err(s))` rolls back and answers `s`.
type Work<R, S> = Box<dyn FnOnce(&Transaction<'_>) -> rusqlite::Result<std::result::Result<R, S>> + Send>;

/// A queued job: runs its transaction, and returns how to answer once the round is on disk.
type Job = Box<dyn FnOnce(&mut Connection) -> Box<dyn FnOnce(std::io::Result<()>) + Send> + Send>;

/// Most transactions committed in one round before the fsync (bounds the wait of the first).
const MAX_ROUND: usize = 512;

#[derive(Debug)]
pub(crate) struct SqliteWriter {
    jobs: mpsc::Sender<Job>,
}

impl SqliteWriter {
    /// Opens the database file and starts the thread.
    pub(crate) fn open(file: &Path) -> Result<SqliteWriter> {
        let conn = Connection::open(file).map_err(other)?;
        conn.busy_timeout(Duration::from_secs(30)).map_err(other)?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;",
        )
        .map_err(other)?;
        conn.set_prepared_statement_cache_capacity(128);
        let mut wal = file.as_os_str().to_os_string();
        wal.push("-wal");
        let wal = PathBuf::from(wal);
        let (jobs, rx) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || serve(conn, &wal, &rx))
            .map_err(|e| StoreError::Other(e.to_string()))?;
        Ok(SqliteWriter { jobs })
    }

    /// Runs `work` as one IMMEDIATE transaction on the writer thread and answers once it is
    /// durable (or rolled back).
    pub(crate) async fn run<R, S>(
        &self,
        work: impl FnOnce(&Transaction<'_>) -> rusqlite::Result<std::result::Result<R, S>> + Send + 'static,
    ) -> Result<std::result::Result<R, S>>
    where
        R: Send + 'static,
        S: Send + 'static,
    {
        let work: Work<R, S> = Box::new(work);
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move |conn: &mut Connection| {
            let out = transact(conn, work);
            Box::new(move |synced: std::io::Result<()>| {
                let out = match (out, synced) {
                    (Err(e), _) => Err(e),
                    (Ok(v), Ok(())) => Ok(v),
                    (Ok(_), Err(e)) => Err(StoreError::Other(format!("flushing the WAL: {e}"))),
                };
                let _ = reply.send(out);
            })
        });
        self.jobs.send(job).map_err(|_| StoreError::Other("the SQLite writer has stopped".into()))?;
        answer.await.map_err(|_| StoreError::Other("the SQLite writer has stopped".into()))?
    }

    /// [`run`](Self::run) for work that always commits when it succeeds.
    pub(crate) async fn run_ok<R: Send + 'static>(
        &self,
        work: impl FnOnce(&Transaction<'_>) -> rusqlite::Result<R> + Send + 'static,
    ) -> Result<R> {
        match self.run(move |tx| work(tx).map(Ok::<R, std::convert::Infallible>)).await? {
            Ok(r) => Ok(r),
            Err(never) => match never {},
        }
    }
}

fn transact<R, S>(conn: &mut Connection, work: Work<R, S>) -> Result<std::result::Result<R, S>> {
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

/// The thread: take what is queued, run each transaction, flush the WAL once, answer them all.
fn serve(mut conn: Connection, wal: &Path, rx: &mpsc::Receiver<Job>) {
    while let Ok(first) = rx.recv() {
        let mut answers = vec![first(&mut conn)];
        while answers.len() < MAX_ROUND {
            match rx.try_recv() {
                Ok(job) => answers.push(job(&mut conn)),
                Err(_) => break,
            }
        }
        let synced = sync_wal(wal);
        for answer in answers {
            let synced = match &synced {
                Ok(()) => Ok(()),
                Err(e) => Err(std::io::Error::new(e.kind(), e.to_string())),
            };
            answer(synced);
        }
    }
}

fn sync_wal(wal: &Path) -> std::io::Result<()> {
    match std::fs::File::open(wal) {
        Ok(f) => f.sync_data(),
        // No WAL file: everything was checkpointed (and synced) into the database file.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
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

/// Prepares (cached) and binds `$1…$N` by number, as sqlx does: SQLite numbers named
/// parameters by first appearance, which is not always the order of their numbers.
fn prepare<'t>(
    tx: &'t Transaction<'_>,
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
pub(crate) fn exec(tx: &Transaction<'_>, sql: &str, values: &[Value]) -> rusqlite::Result<usize> {
    prepare(tx, sql, values)?.raw_execute()
}

/// Runs a query (or a statement with RETURNING) and maps every row.
pub(crate) fn rows<T>(
    tx: &Transaction<'_>,
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
