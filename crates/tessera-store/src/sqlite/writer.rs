//! The hot-path writer: the single write connection, the turn it shares with the sqlx write pool,
//! and the threads that write its batches (sqlite/batch.rs), make them durable and checkpoint the
//! WAL.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rusqlite::{Connection, Transaction};

use super::batch::{Job, MAX_BATCH, Pending, transact_batch};
use super::{other, stable_plans};
use crate::durability::WalSync;
use crate::{Result, StoreError};

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
        let job: Box<dyn Job> = Box::new(Pending::new(work, answer));
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
pub(super) struct WriteCounts {
    /// Transactions written (each a batch of one or more jobs).
    batches: std::sync::atomic::AtomicU64,
    /// Batches written a second time, with a savepoint per job (see `transact_batch`).
    pub(super) rewrites: std::sync::atomic::AtomicU64,
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

fn writer_gone() -> StoreError {
    StoreError::other("the SQLite writer has stopped")
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

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
