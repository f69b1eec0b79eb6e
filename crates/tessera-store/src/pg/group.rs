//! Grouped statements on PostgreSQL: the requests of one kind that wait at the same moment are
//! run as ONE set-based statement (arrays in, a row per request out) in one transaction. Each
//! statement's planning, executor start-up, round trip and commit (its WAL flush) are then paid
//! once per group instead of once per request, as SQLite's grouped writer shares its flushes.
//!
//! A group starts as soon as a slot is free, with whatever has arrived by then: a lone request
//! is never held back to wait for company, and under load the groups grow by themselves while
//! the slots are busy. A request is answered only after its group's commit, so an answer still
//! means the change is on disk.

use std::collections::HashSet;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use tokio::sync::{Notify, Semaphore, mpsc, oneshot};

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
    /// two jobs that share a `key` are in one group or in two groups running at once: the later
    /// one waits until the earlier one's group has answered. One statement may not change a row
    /// twice; and two groups changing the same rows could deadlock, or answer from a snapshot
    /// taken before the other's commit. `run` is called in the order the groups are formed (its
    /// future then runs on its own task) and must answer every job of its group.
    ///
    /// The task runs on the Tokio runtime this is called on, and ends when the last handle is
    /// dropped; a store used after its runtime has gone answers an error.
    pub(crate) fn start<K, F, Fut>(slots: usize, max: usize, key: fn(&J) -> K, run: F) -> Self
    where
        K: Eq + std::hash::Hash + Clone + Send + 'static,
        F: FnMut(Vec<J>) -> Fut + Send + 'static,
        Fut: Future<Output = Answers<O>> + Send + 'static,
    {
        let (tx, mut rx) = mpsc::unbounded_channel::<Job<J, O>>();
        let slots = Arc::new(Semaphore::new(slots.max(1)));
        // The keys of the groups running, and a signal each time one of them ends.
        let running: Arc<std::sync::Mutex<HashSet<K>>> = Arc::default();
        let ended = Arc::new(Notify::new());
        let mut run = run;
        tokio::spawn(async move {
            let mut carried: Vec<Job<J, O>> = Vec::new();
            let mut open = true;
            loop {
                let Ok(slot) = slots.clone().acquire_owned().await else { return };
                let (group, keys) = loop {
                    let busy = running.lock().map(|r| r.clone()).unwrap_or_default();
                    let mut g = Forming {
                        group: Vec::new(),
                        keys: HashSet::new(),
                        later: Vec::new(),
                        busy,
                        max,
                        key,
                    };
                    for job in carried.drain(..) {
                        g.take(job);
                    }
                    while open && g.group.len() < max {
                        match rx.try_recv() {
                            Ok(job) => g.take(job),
                            Err(mpsc::error::TryRecvError::Empty) => break,
                            Err(mpsc::error::TryRecvError::Disconnected) => open = false,
                        }
                    }
                    carried = g.later;
                    if !g.group.is_empty() {
                        break (g.group, g.keys);
                    }
                    // Nothing can run yet: wait for a new job, or for a running group to end
                    // (which frees the keys the jobs carried over are waiting for).
                    if !open && carried.is_empty() {
                        return;
                    }
                    tokio::select! {
                        job = rx.recv(), if open => match job {
                            Some(job) => carried.push(job),
                            None => open = false,
                        },
                        () = ended.notified() => {}
                    }
                };
                if let Ok(mut r) = running.lock() {
                    r.extend(keys.iter().cloned());
                }
                let (jobs, answer_to): (Vec<J>, Vec<_>) = group.into_iter().unzip();
                let n = jobs.len();
                let work = run(jobs);
                let (running, ended) = (running.clone(), ended.clone());
                tokio::spawn(async move {
                    let mut answers = work.await.into_iter();
                    if let Ok(mut r) = running.lock() {
                        for k in &keys {
                            r.remove(k);
                        }
                    }
                    for to in answer_to {
                        let answer = answers.next().unwrap_or_else(|| {
                            Err(StoreError::other(format!("a group of {n} lost an answer")))
                        });
                        // The caller may have gone (its request was dropped); the change stands.
                        let _ = to.send(answer);
                    }
                    drop(slot);
                    ended.notify_one();
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

/// How many groups of holds, and of payments, may run at once (pg/reservations.rs,
/// pg/payments.rs), each holding a connection of a pool of `connections`: four, where door scans
/// use two (a group is a loop one backend runs member by member, and with two per kind the second
/// core sat idle, bench/results/flash-latest.md), but two in a pool under 16, so that the sale's
/// groups leave the rest of the server's connections to read with.
pub(super) fn sale_slots(connections: u32) -> usize {
    if connections >= 16 { 4 } else { 2 }
}

/// The order a group's members are passed to its statement in: by person, so that groups (of
/// holds, of payments, of two instances) take people's locks in one order and cannot deadlock
/// on them.
pub(super) fn by_user<J>(jobs: &[J], user: impl Fn(&J) -> uuid::Uuid) -> Vec<usize> {
    let mut order: Vec<usize> = (0..jobs.len()).collect();
    order.sort_by_key(|&i| user(&jobs[i]));
    order
}

/// One array argument of a group's statement: `f` of each job, in `order`.
pub(super) fn column<J, T>(jobs: &[J], order: &[usize], f: impl Fn(&J) -> T) -> Vec<T> {
    order.iter().map(|&i| f(&jobs[i])).collect()
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

    /// What a group of `n` run whole gave: its answers, or `None` when it failed whole (then
    /// nothing of it was written; counted and logged, with `what` naming the jobs) and its
    /// jobs are to be run one by one, so one job's trouble is answered to it alone.
    pub(crate) fn whole<O>(&self, what: &str, n: usize, run: Result<Answers<O>>) -> Option<Answers<O>> {
        match run {
            Ok(answers) => Some(answers),
            Err(e) => {
                self.split();
                tracing::warn!(error = %e, jobs = n, "a group of {what} failed; running them one by one");
                None
            }
        }
    }

    /// (the largest group, the groups that failed whole).
    pub(crate) fn read(&self) -> (usize, u64) {
        (self.largest.load(Ordering::Relaxed), self.split.load(Ordering::Relaxed))
    }
}

/// A group being formed.
struct Forming<J, O, K> {
    group: Vec<Job<J, O>>,
    /// The keys in `group`.
    keys: HashSet<K>,
    /// Jobs for a later group.
    later: Vec<Job<J, O>>,
    /// The keys of the groups running.
    busy: HashSet<K>,
    max: usize,
    key: fn(&J) -> K,
}

impl<J, O, K: Eq + std::hash::Hash> Forming<J, O, K> {
    /// Puts `job` in the group, or aside for a later one when the group is full or its key is
    /// in the group or in a group running.
    fn take(&mut self, job: Job<J, O>) {
        let k = (self.key)(&job.0);
        if self.group.len() < self.max && !self.busy.contains(&k) && !self.keys.contains(&k) {
            self.keys.insert(k);
            self.group.push(job);
        } else {
            self.later.push(job);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Jobs waiting together share a group, a key is never in one group twice nor in two
    /// groups running at once, and every job gets its own answer.
    #[tokio::test]
    async fn groups_share_and_keep_keys_apart() {
        let seen = Arc::new(std::sync::Mutex::new(Vec::<Vec<u32>>::new()));
        let live = Arc::new(std::sync::Mutex::new(HashSet::<u32>::new()));
        let (log, now) = (seen.clone(), live.clone());
        let g = Arc::new(Grouped::start(
            2,
            8,
            |j: &u32| *j % 10,
            move |jobs: Vec<u32>| {
                let (log, now) = (log.clone(), now.clone());
                async move {
                    let keys: Vec<u32> = jobs.iter().map(|j| j % 10).collect();
                    let clash = now.lock().map(|mut l| keys.iter().any(|k| !l.insert(*k))).unwrap_or(true);
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                    if let Ok(mut l) = now.lock() {
                        keys.iter().for_each(|k| {
                            l.remove(k);
                        });
                    }
                    log.lock().map(|mut l| l.push(jobs.clone())).ok();
                    jobs.into_iter()
                        .map(|j| if clash { Err(StoreError::other("clash")) } else { Ok(j * 2) })
                        .collect()
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
            assert_eq!(c.await.ok().and_then(|r| r.ok()), Some(i as u32 * 2), "job {i}");
        }
        let groups = seen.lock().map(|g| g.clone()).unwrap_or_default();
        assert!(groups.len() < 30, "the jobs were grouped: {groups:?}");
        for g in &groups {
            assert!(g.len() <= 8);
            let keys: HashSet<_> = g.iter().map(|j| j % 10).collect();
            assert_eq!(keys.len(), g.len(), "no key twice in a group: {g:?}");
        }
        assert_eq!(groups.iter().map(Vec::len).sum::<usize>(), 30);
    }
}
