//! Grouped commits: the jobs queued for the writer (sqlite/writer.rs) are written together, in
//! one IMMEDIATE transaction per batch, each keeping or losing only its own changes.

use rusqlite::{Connection, Transaction, TransactionBehavior};

use super::map_err;
use super::values::exec;
use super::writer::WriteCounts;
use crate::{Result, StoreError};

/// A transaction's work, queued for whichever caller writes next. It runs inside the batch's
/// transaction, then is told how the batch ended.
pub(super) trait Job: Send {
    /// Runs the work (under a savepoint of its own when `savepoint` is true); says whether to
    /// keep its changes. A job may be run a second time if its batch is written again (see
    /// `transact_batch`): the first run's answer is then replaced.
    fn run(&mut self, tx: &Transaction<'_>, savepoint: bool) -> Keep;
    /// Answers the caller once the batch is committed and flushed (or failed).
    fn deliver(self: Box<Self>, batch: Result<()>);
}

pub(super) struct Pending<F, R, S> {
    work: F,
    /// The work's own answer, once it ran.
    out: Option<Result<std::result::Result<R, S>>>,
    keep: Keep,
    answer: tokio::sync::oneshot::Sender<Result<std::result::Result<R, S>>>,
}

impl<F, R, S> Pending<F, R, S> {
    /// A job for `work`, answered on `answer`.
    pub(super) fn new(
        work: F,
        answer: tokio::sync::oneshot::Sender<Result<std::result::Result<R, S>>>,
    ) -> Pending<F, R, S> {
        Pending { work, out: None, keep: Keep::RollBack, answer }
    }
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
pub(super) enum Keep {
    Release,
    /// The job asked to undo them (or its caller had gone).
    RollBack,
    /// SQLite refused a statement: undone like a roll-back, and answered with the error.
    Failed,
}

/// Most jobs one transaction takes: bounds how long the write lock is held at a time.
pub(super) const MAX_BATCH: usize = 256;

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
pub(super) fn transact_batch(
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
