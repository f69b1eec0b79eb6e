//! Inline SQLite connections for the hot paths of a sale: a writer for holds, payments, queue
//! joins and rate-limit hits, and readers for queue polls and the checks before a hold.
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
//! undone on its own gets a savepoint, see `transact_batch`). In a flash sale each payment
//! touches pages that the next one touches too (the same index leaves, the same seat pages);
//! written once per batch instead of once per request, the WAL grows far more slowly and the
//! kernel copies far less.
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

/// A transaction's work, queued for whichever caller writes next. It runs inside the batch's
/// transaction, then is told how the batch ended.
trait Job: Send {
    /// Runs the work (under a savepoint of its own when `savepoint` is true); says whether to
    /// keep its changes. A job may be run a second time if its batch is written again (see
    /// `transact_batch`): the first run's answer is then replaced.
    fn run(&mut self, tx: &Transaction<'_>, savepoint: bool) -> Keep;
    /// Answers the caller once the batch is committed and flushed (or failed).
    fn deliver(self: Box<Self>, batch: Result<()>);
}

struct Pending<F, R, S> {
    work: F,
    /// The work's own answer, once it ran.
    out: Option<Result<std::result::Result<R, S>>>,
    keep: Keep,
    answer: tokio::sync::oneshot::Sender<Result<std::result::Result<R, S>>>,
}

impl<F, R, S> Job for Pending<F, R, S>
where
    F: Fn(&Transaction<'_>) -> rusqlite::Result<std::result::Result<R, S>> + Send,
    R: Send,
    S: Send,
{
    fn run(&mut self, tx: &Transaction<'_>, savepoint: bool) -> Keep {
        // A caller that has gone (its request dropped while it waited for the turn) is not
        // written for: nobody would hear of it.
        if self.answer.is_closed() {
            self.keep = Keep::RollBack;
            self.out = None;
            return Keep::RollBack;
        }
        let begun = if savepoint { self::savepoint(tx, "SAVEPOINT job") } else { Ok(()) };
        let (keep, out) = match begun {
            Err(e) => (Keep::RollBack, Err(map_err(e))),
            Ok(()) => match (self.work)(tx) {
                Ok(Ok(r)) => (Keep::Release, Ok(Ok(r))),
                Ok(Err(s)) => (Keep::RollBack, Ok(Err(s))),
                Err(e) => (Keep::Failed, Err(map_err(e))),
            },
        };
        self.keep = keep;
        self.out = Some(out);
        keep
    }

    fn deliver(self: Box<Self>, batch: Result<()>) {
        let answer = match (self.out, batch) {
            // Never ran: the batch failed before it.
            (None, b) => Err(b.err().unwrap_or_else(|| StoreError::other("write not run"))),
            // A kept change stands or falls with the batch.
            (Some(_), Err(e)) if self.keep == Keep::Release => Err(e),
            // A rolled-back one is final either way.
            (Some(out), _) => out,
        };
        // The caller may have gone (a dropped request): nobody to tell.
        let _ = self.answer.send(answer);
    }
}

/// What becomes of a job's changes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Keep {
    Release,
    /// The job asked to undo them (or its caller had gone).
    RollBack,
    /// SQLite refused a statement: undone like a roll-back, and answered with the error.
    Failed,
}

/// Most jobs one transaction takes: bounds how long the write lock is held at a time.
const MAX_BATCH: usize = 256;

/// A written batch on its way to the flusher: its jobs, and whether it committed anything.
type Written = (Vec<Box<dyn Job>>, Result<bool>);

/// The hot-path writer: a thread of its own that owns the write connection and writes queued
/// jobs in batches, a second thread that flushes the WAL and answers, and a third that
/// checkpoints the WAL.
///
/// Why threads of their own: the write lock is the one serial resource of a sale. If the
/// writing were done by whichever request task took the turn, each turn would also wait for that
/// task's runtime thread (it yields to let others queue, and it must be scheduled again between
/// callers), so under load the lock would sit idle between batches. Here the writer thread goes
/// from one batch straight to the next, taking everything that queued meanwhile, so batches grow
/// with the load by themselves.
pub(crate) struct SqliteWriter {
    /// The turn to write, shared with the sqlx write pool: the writer thread takes it for each
    /// batch, so this connection never meets SQLite's write lock held by an sqlx transaction
    /// (waiting there would block until the busy timeout).
    turn: Arc<tokio::sync::Mutex<()>>,
    /// Jobs for the writer thread (which ends when this is dropped with the store).
    jobs: std::sync::mpsc::Sender<Box<dyn Job>>,
    /// What the writer thread has done so far (the tests read it).
    #[cfg_attr(not(test), allow(dead_code))]
    counts: Arc<WriteCounts>,
}

impl std::fmt::Debug for SqliteWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteWriter").finish_non_exhaustive()
    }
}

impl SqliteWriter {
    /// Opens a write connection to the database file and starts the writer, checkpointer and
    /// flusher threads (all three end once the writer is dropped).
    pub(crate) fn open(file: &Path, wal: Arc<WalSync>) -> Result<SqliteWriter> {
        let conn = Connection::open(file).map_err(other)?;
        conn.busy_timeout(Duration::from_secs(30)).map_err(other)?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;",
        )
        .map_err(other)?;
        conn.execute_batch(WRITER_PRAGMAS).map_err(other)?;
        conn.pragma_update(None, "wal_autocheckpoint", WRITER_AUTOCHECKPOINT_PAGES).map_err(other)?;
        conn.set_prepared_statement_cache_capacity(128);
        stable_plans(&conn)?;
        let turn = Arc::new(tokio::sync::Mutex::new(()));
        let counts = Arc::new(WriteCounts::default());
        let (jobs, queued) = std::sync::mpsc::channel();
        let (written, to_flush) = std::sync::mpsc::channel();
        let (nudge, nudged) = std::sync::mpsc::sync_channel(1);
        let checkpointer = Connection::open(file).map_err(other)?;
        checkpointer.busy_timeout(Duration::from_secs(30)).map_err(other)?;
        let (t, b) = (turn.clone(), counts.clone());
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || write_loop(conn, &queued, &t, &b, &Outlets { written, nudge }))
            .map_err(|e| StoreError::other(format!("starting the SQLite writer: {e}")))?;
        std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || checkpoint_loop(&checkpointer, &nudged))
            .map_err(|e| StoreError::other(format!("starting the SQLite checkpointer: {e}")))?;
        std::thread::Builder::new()
            .name("sqlite-flusher".into())
            .spawn(move || flush_loop(&to_flush, &wal))
            .map_err(|e| StoreError::other(format!("starting the SQLite flusher: {e}")))?;
        Ok(SqliteWriter { turn, jobs, counts })
    }

    /// Runs `work` in an IMMEDIATE transaction and answers once it is durable (or rolled back).
    /// `Ok(Ok(r))` from `work` keeps its changes; `Ok(Err(s))` rolls them back and answers `s`.
    ///
    /// Group commit: work queued while a batch is being written runs together in the next
    /// transaction, so a batch's pages are written to the WAL once instead of once per request
    /// and one fsync covers it. Jobs run one after another, so each sees every earlier job's
    /// changes exactly as if it had its own transaction; a job that rolls back or fails undoes
    /// only its own. `work` may be run twice (when its batch must be written again, see
    /// `transact_batch`), so it must not consume what it captures: hence `Fn`.
    pub(crate) async fn run<R, S>(
        &self,
        work: impl Fn(&Transaction<'_>) -> rusqlite::Result<std::result::Result<R, S>> + Send + 'static,
    ) -> Result<std::result::Result<R, S>>
    where
        R: Send + 'static,
        S: Send + 'static,
    {
        let (answer, answered) = tokio::sync::oneshot::channel();
        let job: Box<dyn Job> = Box::new(Pending { work, out: None, keep: Keep::RollBack, answer });
        self.jobs.send(job).map_err(|_| writer_gone())?;
        answered.await.map_err(|_| writer_gone())?
    }

    /// The turn to write (see `turn`).
    pub(crate) async fn turn(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.turn.lock().await
    }

    /// [`run`](Self::run) for work that always commits when it succeeds.
    pub(crate) async fn run_ok<R: Send + 'static>(
        &self,
        work: impl Fn(&Transaction<'_>) -> rusqlite::Result<R> + Send + 'static,
    ) -> Result<R> {
        match self.run(move |tx| work(tx).map(Ok::<R, std::convert::Infallible>)).await? {
            Ok(r) => Ok(r),
            Err(never) => match never {},
        }
    }
}

/// Counts of the writer thread's work.
#[derive(Default)]
struct WriteCounts {
    /// Transactions written (each a batch of one or more jobs).
    batches: std::sync::atomic::AtomicU64,
    /// Batches written a second time, with a savepoint per job (see `transact_batch`).
    rewrites: std::sync::atomic::AtomicU64,
}

/// Where the writer thread sends a batch once it is written.
struct Outlets {
    /// To the flusher, which makes it durable and answers.
    written: std::sync::mpsc::Sender<Written>,
    /// To the checkpointer: the WAL has grown.
    nudge: std::sync::mpsc::SyncSender<()>,
}

/// The writer thread: waits for a job, takes the turn, writes everything queued by then as one
/// transaction, and hands the batch to the flusher; until the store is dropped.
fn write_loop(
    mut conn: Connection,
    queued: &std::sync::mpsc::Receiver<Box<dyn Job>>,
    turn: &tokio::sync::Mutex<()>,
    counts: &WriteCounts,
    out: &Outlets,
) {
    while let Ok(first) = queued.recv() {
        // A plain thread, not the runtime's: blocking here stalls no task.
        let turn = turn.blocking_lock();
        let mut jobs = vec![first];
        while jobs.len() < MAX_BATCH {
            match queued.try_recv() {
                Ok(j) => jobs.push(j),
                Err(_) => break,
            }
        }
        counts.batches.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        // Jobs per transaction tell how much the group commit saves (in /metrics).
        metrics::counter!("sqlite_write_transactions_total").increment(1);
        metrics::counter!("sqlite_write_jobs_total").increment(jobs.len() as u64);
        let batch = transact_batch(&mut conn, jobs, counts);
        drop(turn);
        if matches!(batch.1, Ok(true)) {
            // A full channel means a nudge is already waiting: that is all the checkpointer needs.
            let _ = out.nudge.try_send(());
        }
        if out.written.send(batch).is_err() {
            return;
        }
    }
}

/// How long the checkpointer rests after a checkpoint: each one copies everything the WAL gained
/// since the last, so resting lets the copies grow (a page changed ten times is copied once).
/// A second: a much shorter rest copies the same hot pages over and over, and a much longer one
/// gains little more while it lets the WAL grow longer.
const CHECKPOINT_REST: Duration = Duration::from_millis(1000);

/// The checkpointer thread: after commits, copies the WAL's pages back into the database file
/// (PASSIVE: it never waits for the writer or a reader, and none waits for it). Why a thread of
/// its own: SQLite's automatic checkpoint runs inside the commit that crosses its threshold,
/// so the only writer would stop for every copy while another core may have time to spare. The
/// writer's own automatic checkpoint is only a backstop, at a far higher threshold
/// (`WRITER_AUTOCHECKPOINT_PAGES`). PASSIVE rather than RESTART (which would make the WAL start
/// over): a RESTART makes the writer wait for readers, the very wait this thread is there to
/// avoid.
fn checkpoint_loop(conn: &Connection, nudged: &std::sync::mpsc::Receiver<()>) {
    while nudged.recv().is_ok() {
        if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
            tracing::warn!(error = %e, "background WAL checkpoint failed");
        }
        std::thread::sleep(CHECKPOINT_REST);
    }
}

/// The flusher thread: takes every batch written so far, makes them durable with one fsync of
/// the WAL (when any committed), and answers their jobs. The writer meanwhile writes the next.
fn flush_loop(to_flush: &std::sync::mpsc::Receiver<Written>, wal: &WalSync) {
    while let Ok(first) = to_flush.recv() {
        let mut ready = vec![first];
        while let Ok(b) = to_flush.try_recv() {
            ready.push(b);
        }
        let flushed = if ready.iter().any(|(_, c)| matches!(c, Ok(true))) {
            wal.flush_blocking()
                .map_err(|e| StoreError::DurabilityUnknown(format!("flushing the WAL after a commit: {e}")))
        } else {
            Ok(())
        };
        for (jobs, committed) in ready {
            let outcome = match committed {
                Ok(true) => flushed.clone(),
                Ok(false) => Ok(()),
                Err(e) => Err(e),
            };
            for j in jobs {
                j.deliver(outcome.clone());
            }
        }
    }
}

/// WAL pages between checkpoints on the sqlx connections (SQLite's default is 1,000): a
/// checkpoint runs inside a commit, with every writer waiting, and copies each page once however
/// often it changed, so fewer and larger ones cost less.
pub(crate) const WAL_AUTOCHECKPOINT_PAGES: &str = "8000";

/// The hot-path writer's own threshold, far higher: the checkpointer thread does its copying. The
/// WAL only starts over when a write begins with every frame copied back, which never happens
/// while a sale commits without pause, so past SQLite's usual threshold the writer would run a
/// checkpoint inside every commit (a small copy and an fsync of the database file), for nothing
/// the checkpointer had not done already. This stays as a backstop should the checkpointer fall
/// far behind.
const WRITER_AUTOCHECKPOINT_PAGES: &str = "100000";

/// The writer connection's settings: a page cache of 2,000 pages (8 MiB), and savepoints'
/// sub-journals kept in memory (by default they go to a temporary file).
///
/// Why a small cache: at the end of every transaction SQLite scans its page cache's hash table to
/// drop pages past the end of the database (`pcache1TruncateUnsafe`), and the scan is as long as
/// the cache is large, so a large cache costs every transaction. Pages that fall out of a smaller
/// cache are read back from the operating system's, which costs less.
const WRITER_PRAGMAS: &str = "PRAGMA cache_size = 2000; PRAGMA temp_store = MEMORY;";

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

fn writer_gone() -> StoreError {
    StoreError::other("the SQLite writer has stopped")
}

/// Runs a savepoint statement (`SAVEPOINT job`, `RELEASE job`, `ROLLBACK TO job`).
fn savepoint(tx: &Connection, sql: &str) -> rusqlite::Result<()> {
    exec(tx, sql, &[]).map(|_| ())
}

/// Runs a batch of jobs in one IMMEDIATE transaction. Returns the jobs (to be told the outcome)
/// and whether the transaction committed something (`Ok(false)`: every job rolled back).
///
/// Jobs run without savepoints first: a savepoint makes SQLite copy every page a job changes
/// into a sub-journal before changing it (besides running the savepoint statements themselves),
/// only to undo a job that asks to, which on the hot paths happens before they change anything
/// (a taken seat, a replayed key). A job that undoes after changing rows, or that SQLite refused,
/// spoils the batch: it is rolled back whole and written again with a savepoint per job, so every
/// job still keeps or loses exactly its own changes.
fn transact_batch(
    conn: &mut Connection,
    mut jobs: Vec<Box<dyn Job>>,
    counts: &WriteCounts,
) -> (Vec<Box<dyn Job>>, Result<bool>) {
    match run_plain(conn, &mut jobs) {
        Plain::Done(r) => (jobs, r),
        Plain::Spoiled => {
            counts.rewrites.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            metrics::counter!("sqlite_write_batches_rewritten_total").increment(1);
            let r = run_with_savepoints(conn, &mut jobs);
            (jobs, r)
        }
    }
}

/// How a batch written without savepoints ended.
enum Plain {
    Done(Result<bool>),
    /// A job must be undone on its own: the transaction was rolled back, nothing was written.
    Spoiled,
}

/// The batch in one transaction without savepoints, committed unless a job must be undone alone.
fn run_plain(conn: &mut Connection, jobs: &mut [Box<dyn Job>]) -> Plain {
    let tx = match conn.transaction_with_behavior(TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(e) => return Plain::Done(Err(map_err(e))),
    };
    let alone = jobs.len() == 1;
    let mut kept = false;
    for job in jobs.iter_mut() {
        let before = tx.total_changes();
        match job.run(&tx, false) {
            Keep::Release => kept = true,
            // Nothing to undo: it changed no row (and SQLite undid any half-done statement).
            Keep::RollBack if tx.total_changes() == before => {}
            // A job alone is its transaction: dropping it undoes the job.
            Keep::RollBack | Keep::Failed if alone => return Plain::Done(Ok(false)),
            // Dropping the transaction rolls it back.
            Keep::RollBack | Keep::Failed => return Plain::Spoiled,
        }
        // Some errors (a full disk, say) make SQLite roll the whole transaction back itself.
        if tx.is_autocommit() {
            return if alone { Plain::Done(Ok(false)) } else { Plain::Spoiled };
        }
    }
    Plain::Done(if kept { tx.commit().map(|()| true).map_err(map_err) } else { Ok(false) })
}

/// The batch again, each job under a savepoint of its own.
fn run_with_savepoints(conn: &mut Connection, jobs: &mut [Box<dyn Job>]) -> Result<bool> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(map_err)?;
    let mut kept = false;
    for job in jobs.iter_mut() {
        let ended = match job.run(&tx, true) {
            Keep::Release => {
                kept = true;
                savepoint(&tx, "RELEASE job")
            }
            Keep::RollBack | Keep::Failed => {
                savepoint(&tx, "ROLLBACK TO job").and_then(|()| savepoint(&tx, "RELEASE job"))
            }
        };
        if let Err(e) = ended {
            // The transaction is in an unknown state: give all of it up (dropping rolls back).
            return Err(map_err(e));
        }
    }
    if kept { tx.commit().map(|()| true).map_err(map_err) } else { Ok(false) }
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
                stable_plans(&c)?;
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
    const NAMES: [&str; 16] = [
        "$1", "$2", "$3", "$4", "$5", "$6", "$7", "$8", "$9", "$10", "$11", "$12", "$13", "$14", "$15", "$16",
    ];
    let mut stmt = tx.prepare_cached(sql)?;
    for (i, v) in values.iter().enumerate() {
        let idx = match NAMES.get(i) {
            Some(name) => stmt.parameter_index(name)?,
            None => stmt.parameter_index(&format!("${}", i + 1))?,
        };
        if let Some(idx) = idx {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn writer() -> (Arc<SqliteWriter>, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!("writer-{}", Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("t.db");
        Connection::open(&file)
            .unwrap()
            .execute_batch("CREATE TABLE t (k INTEGER PRIMARY KEY, v INTEGER NOT NULL)")
            .unwrap();
        let w = SqliteWriter::open(&file, Arc::new(WalSync::new(file.clone()))).unwrap();
        (Arc::new(w), dir)
    }

    /// Concurrent writers share transactions, yet each keeps, rolls back or fails on its own:
    /// every third asks to roll back after writing, every fifth breaks a constraint.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn batched_jobs_succeed_and_fail_alone() {
        let (w, dir) = writer();
        let tasks: Vec<_> = (0..300i64)
            .map(|i| {
                let w = w.clone();
                tokio::spawn(async move {
                    w.run(move |tx| {
                        tx.execute("INSERT INTO t (k, v) VALUES (?1, 1)", [i])?;
                        if i % 5 == 0 {
                            // Same key again: a constraint error for this job only.
                            tx.execute("INSERT INTO t (k, v) VALUES (?1, 2)", [i])?;
                        }
                        Ok(if i % 3 == 0 { Err("rolled back") } else { Ok(i) })
                    })
                    .await
                })
            })
            .collect();
        let (mut kept, mut rolled, mut failed) = (0, 0, 0);
        for (i, t) in tasks.into_iter().enumerate() {
            match t.await.unwrap() {
                Ok(Ok(k)) => {
                    assert_eq!(k, i as i64);
                    kept += 1;
                }
                Ok(Err(_)) => rolled += 1,
                Err(StoreError::Conflict(_)) => failed += 1,
                Err(e) => panic!("{e}"),
            }
        }
        let expect_failed = (0..300).filter(|i| i % 5 == 0).count();
        let expect_rolled = (0..300).filter(|i| i % 5 != 0 && i % 3 == 0).count();
        assert_eq!((failed, rolled), (expect_failed, expect_rolled));
        let conn = Connection::open(dir.join("t.db")).unwrap();
        let (rows, bad): (i64, i64) = conn
            .query_row("SELECT COUNT(*), COALESCE(SUM(CASE WHEN k % 5 = 0 OR k % 3 = 0 THEN 1 ELSE 0 END), 0) FROM t", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        assert_eq!((rows, bad), (kept as i64, 0), "exactly the kept jobs' rows are there");
        let batches = w.counts.batches.load(std::sync::atomic::Ordering::Relaxed);
        assert!(batches < 300, "writers waiting together share a transaction ({batches} for 300)");
        drop(conn);
        std::fs::remove_dir_all(dir).unwrap();
    }

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

    /// The writer leaves checkpoints to the checkpointer thread: its own automatic checkpoint
    /// waits for a far longer WAL than other connections' (see `WRITER_AUTOCHECKPOINT_PAGES`).
    #[tokio::test]
    async fn the_writer_leaves_checkpoints_to_the_checkpointer() {
        let (w, dir) = writer();
        let pages = w
            .run_ok(|tx| tx.query_row("PRAGMA wal_autocheckpoint", [], |r| r.get::<_, i64>(0)))
            .await
            .unwrap();
        assert_eq!(pages.to_string(), WRITER_AUTOCHECKPOINT_PAGES);
        assert!(pages > WAL_AUTOCHECKPOINT_PAGES.parse::<i64>().unwrap());
        std::fs::remove_dir_all(dir).unwrap();
    }

    /// A test job: keeps its key, or undoes with a reason.
    type TestJob = Box<
        dyn Fn(&Transaction<'_>) -> rusqlite::Result<std::result::Result<i64, &'static str>> + Send + Sync,
    >;

    /// Runs `jobs` closures queued together (the turn is held until all have queued, so they
    /// make one batch) and returns their answers in order.
    async fn one_batch(
        w: &Arc<SqliteWriter>,
        jobs: Vec<TestJob>,
    ) -> Vec<Result<std::result::Result<i64, &'static str>>> {
        let turn = w.turn().await;
        let tasks: Vec<_> = jobs
            .into_iter()
            .map(|job| {
                let w = w.clone();
                tokio::spawn(async move { w.run(move |tx| job(tx)).await })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(200)).await;
        drop(turn);
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await.unwrap());
        }
        out
    }

    /// Jobs that keep their changes, or undo before changing anything (a taken seat, say), are
    /// written without savepoints; one that undoes after changing rows has the batch written
    /// again, a savepoint per job, and still only its own changes are undone.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn only_an_undo_after_changes_writes_a_batch_again() {
        let (w, dir) = writer();
        let count = std::sync::atomic::Ordering::Relaxed;
        // Odd keys are refused by a conditional statement that changes nothing.
        let refusals = (0..50i64)
            .map(|i| {
                Box::new(move |tx: &Transaction<'_>| {
                    let n = tx.execute("INSERT INTO t (k, v) SELECT ?1, 1 WHERE ?1 % 2 = 0", [i])?;
                    Ok(if n == 1 { Ok(i) } else { Err("refused") })
                }) as TestJob
            })
            .collect();
        let answers = one_batch(&w, refusals).await;
        assert_eq!(answers.iter().filter(|a| matches!(a, Ok(Ok(_)))).count(), 25);
        assert_eq!((w.counts.batches.load(count), w.counts.rewrites.load(count)), (1, 0));
        // Key 1000 + 3 writes, then asks to undo: the batch is written again.
        let undo_after_write = (0..10i64)
            .map(|i| {
                Box::new(move |tx: &Transaction<'_>| {
                    tx.execute("INSERT INTO t (k, v) VALUES (?1, 2)", [1000 + i])?;
                    Ok(if i == 3 { Err("undone") } else { Ok(i) })
                }) as TestJob
            })
            .collect();
        let answers = one_batch(&w, undo_after_write).await;
        assert_eq!(answers.iter().filter(|a| matches!(a, Ok(Ok(_)))).count(), 9);
        assert!(matches!(answers[3], Ok(Err("undone"))));
        assert_eq!((w.counts.batches.load(count), w.counts.rewrites.load(count)), (2, 1));
        let conn = Connection::open(dir.join("t.db")).unwrap();
        let keys: Vec<i64> = conn
            .prepare("SELECT k FROM t WHERE k >= 1000 ORDER BY k")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(keys, vec![1000, 1001, 1002, 1004, 1005, 1006, 1007, 1008, 1009]);
        drop(conn);
        std::fs::remove_dir_all(dir).unwrap();
    }

    /// A later job in the same batch sees an earlier one's write, as it would after its commit.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn conditional_updates_race_through_batches() {
        let (w, dir) = writer();
        w.run_ok(|tx| tx.execute("INSERT INTO t (k, v) VALUES (1, 0)", [])).await.unwrap();
        // 200 takers of one place: exactly one conditional update may succeed.
        let tasks: Vec<_> = (0..200)
            .map(|_| {
                let w = w.clone();
                tokio::spawn(async move {
                    w.run_ok(|tx| tx.execute("UPDATE t SET v = 1 WHERE k = 1 AND v = 0", [])).await.unwrap()
                })
            })
            .collect();
        let mut won = 0;
        for t in tasks {
            won += t.await.unwrap();
        }
        assert_eq!(won, 1);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
