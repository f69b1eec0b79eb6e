//! Grouped statements on PostgreSQL: the requests of one kind that wait at the same moment are
//! run as ONE set-based statement (arrays in, a row per request out) in one transaction. Each
//! statement's planning, executor start-up, round trip and commit (its WAL flush) are then paid
//! once per group instead of once per request, as SQLite's grouped writer shares its flushes.
//!
//! A group starts as soon as a slot is free, with whatever has arrived by then: a lone request
//! is never held back to wait for company, and under load the groups grow by themselves while
//! the slots are busy. A request is answered only after its group's commit, so an answer still
//! means the change is on disk.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use tokio::sync::{Semaphore, mpsc, oneshot};

use crate::{Result, StoreError};

/// What a group's runner answers: one result per job, in the jobs' order.
pub(crate) type Answers<O> = Vec<Result<O>>;

type Job<J, O> = (J, oneshot::Sender<Result<O>>);

/// A queue of jobs run in groups by a task of its own (see the module's notes).
pub(crate) struct Grouped<J, O> {
    jobs: mpsc::UnboundedSender<Job<J, O>>,
}

impl<J, O> std::fmt::Debug for Grouped<J, O> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Grouped").finish_non_exhaustive()
    }
}

impl<J: Send + 'static, O: Send + 'static> Grouped<J, O> {
    /// Starts the task: at most `slots` groups run at once, each of at most `max` jobs, and no
    /// two jobs of one group share a `key` (the later one waits for the next group, since one
    /// statement may not change the same row twice). `run` must answer every job of its group.
    /// The task ends when the last handle is dropped.
    pub(crate) fn start<K, F, Fut>(slots: usize, max: usize, key: fn(&J) -> K, run: F) -> Self
    where
        K: Eq + std::hash::Hash + Send + 'static,
        F: Fn(Vec<J>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Answers<O>> + Send + 'static,
    {
        let (tx, mut rx) = mpsc::unbounded_channel::<Job<J, O>>();
        let run = Arc::new(run);
        let slots = Arc::new(Semaphore::new(slots.max(1)));
        tokio::spawn(async move {
            let mut carried: Vec<Job<J, O>> = Vec::new();
            loop {
                let Ok(slot) = slots.clone().acquire_owned().await else { return };
                let mut group: Vec<Job<J, O>> = Vec::new();
                let mut keys = std::collections::HashSet::new();
                let mut later = Vec::new();
                for job in carried.drain(..) {
                    take(job, &mut group, &mut keys, &mut later, max, key);
                }
                if group.is_empty() {
                    match rx.recv().await {
                        Some(job) => take(job, &mut group, &mut keys, &mut later, max, key),
                        None => return,
                    }
                }
                while group.len() < max {
                    match rx.try_recv() {
                        Ok(job) => take(job, &mut group, &mut keys, &mut later, max, key),
                        Err(_) => break,
                    }
                }
                carried = later;
                let run = run.clone();
                tokio::spawn(async move {
                    let (jobs, answer_to): (Vec<J>, Vec<_>) = group.into_iter().unzip();
                    let n = jobs.len();
                    let mut answers = run(jobs).await.into_iter();
                    for to in answer_to {
                        let answer = answers.next().unwrap_or_else(|| {
                            Err(StoreError::other(format!("a group of {n} lost an answer")))
                        });
                        // The caller may have gone (its request was dropped); the change stands.
                        let _ = to.send(answer);
                    }
                    drop(slot);
                });
            }
        });
        Grouped { jobs: tx }
    }

    /// Runs `job` in the next group that has room for it; answers once its group has committed.
    pub(crate) async fn run(&self, job: J) -> Result<O> {
        let (tx, rx) = oneshot::channel();
        self.jobs
            .send((job, tx))
            .map_err(|_| StoreError::other("the grouped statements' task has stopped"))?;
        rx.await.map_err(|_| StoreError::other("the grouped statements' task dropped a job"))?
    }
}

/// How a kind's groups went: the largest so far, and how many failed whole and had their jobs
/// run again one at a time.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    largest: AtomicUsize,
    split: AtomicU64,
}

impl Tally {
    /// A group of `n` jobs is run.
    pub(crate) fn ran(&self, n: usize) {
        self.largest.fetch_max(n, Ordering::Relaxed);
    }

    /// A group failed whole.
    pub(crate) fn split(&self) {
        self.split.fetch_add(1, Ordering::Relaxed);
    }

    /// (the largest group, the groups that failed whole).
    pub(crate) fn read(&self) -> (usize, u64) {
        (self.largest.load(Ordering::Relaxed), self.split.load(Ordering::Relaxed))
    }
}

/// Puts `job` in the group, or aside for a later one when its key is already in the group.
fn take<J, O, K: Eq + std::hash::Hash>(
    job: Job<J, O>,
    group: &mut Vec<Job<J, O>>,
    keys: &mut std::collections::HashSet<K>,
    later: &mut Vec<Job<J, O>>,
    max: usize,
    key: fn(&J) -> K,
) {
    if group.len() < max && keys.insert(key(&job.0)) {
        group.push(job);
    } else {
        later.push(job);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Jobs waiting together share a group, a key is never twice in one group, and every job
    /// gets its own answer.
    #[tokio::test]
    async fn groups_share_and_keep_keys_apart() {
        let seen = Arc::new(std::sync::Mutex::new(Vec::<Vec<u32>>::new()));
        let log = seen.clone();
        let g = Arc::new(Grouped::start(
            1,
            8,
            |j: &u32| *j % 10,
            move |jobs: Vec<u32>| {
                let log = log.clone();
                async move {
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                    log.lock().map(|mut l| l.push(jobs.clone())).ok();
                    jobs.into_iter().map(|j| Ok(j * 2)).collect()
                }
            },
        ));
        let calls: Vec<_> = (0..30u32)
            .map(|i| {
                let g = g.clone();
                tokio::spawn(async move { g.run(i).await })
            })
            .collect();
        for (i, c) in calls.into_iter().enumerate() {
            assert_eq!(c.await.ok().and_then(|r| r.ok()), Some(i as u32 * 2));
        }
        let groups = seen.lock().map(|g| g.clone()).unwrap_or_default();
        assert!(groups.len() < 30, "the jobs were grouped: {groups:?}");
        for g in &groups {
            assert!(g.len() <= 8);
            let keys: std::collections::HashSet<_> = g.iter().map(|j| j % 10).collect();
            assert_eq!(keys.len(), g.len(), "no key twice in a group: {g:?}");
        }
        assert_eq!(groups.iter().map(Vec::len).sum::<usize>(), 30);
    }
}
