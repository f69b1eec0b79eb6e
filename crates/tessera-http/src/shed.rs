//! Load shedding: past what the machine can answer, the excess is refused at once (503 with
//! Retry-After) instead of every request queueing behind the others until all of them are slow.
//! `/health` and `/metrics` are never shed. Two signals:
//!
//! - The scheduler's lag. On a CPU-bound server, requests wait in the runtime's run queue (to be
//!   read, parsed, answered), not in the handlers, so a cap on requests inside the router alone
//!   never fills however long clients wait. A task that asks to wake every 5 ms and notes how
//!   late it wakes measures that wait; while its smoothed lateness is over `max_lag`, a share of
//!   new requests is shed that grows with the excess (all of them at twice `max_lag`; a class
//!   with nothing in flight still gets one through). Shedding them all as soon as the lag
//!   crosses the line would make the load swing between none and everything.
//! - A cap on requests in flight per route class, for waits the scheduler does not see (a slow
//!   database): reads, writes and sign-ins (a password hash is milliseconds of CPU each) have
//!   separate caps, so a flood of one kind does not starve the others.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use axum::http::Method;
use tokio::sync::{Semaphore, SemaphorePermit};

/// Requests in flight at most, per class, and how long a request may wait for a place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShedLimits {
    pub reads: usize,
    pub writes: usize,
    pub logins: usize,
    pub queue_wait: Duration,
    /// The same for sign-ins: each takes tens of milliseconds of CPU, so a burst (fifty people
    /// registering at once) waits its turn rather than being refused.
    pub login_queue_wait: Duration,
    /// Scheduler lag above which new requests are shed; zero turns that signal off.
    pub max_lag: Duration,
}

impl Default for ShedLimits {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        ShedLimits {
            reads: 64 * cores,
            writes: 128 * cores,
            logins: 2 * cores,
            queue_wait: Duration::from_millis(20),
            login_queue_wait: Duration::from_secs(2),
            max_lag: Duration::from_millis(2),
        }
    }
}

/// How often the lag is measured.
const LAG_TICK: Duration = Duration::from_millis(5);

/// What kind of work a request is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    Read,
    Write,
    /// Sign-in and registration (password hashing).
    Login,
    /// Health and metrics: never shed.
    Exempt,
}

pub fn classify(method: &Method, path: &str) -> Class {
    match (method, path) {
        (_, "/health" | "/metrics") => Class::Exempt,
        (&Method::POST, "/auth/login" | "/auth/register" | "/api/v1/login") => Class::Login,
        (&Method::GET | &Method::HEAD | &Method::OPTIONS, _) => Class::Read,
        _ => Class::Write,
    }
}

#[derive(Debug)]
pub struct Shedder {
    reads: (Semaphore, usize),
    writes: (Semaphore, usize),
    logins: (Semaphore, usize),
    queue_wait: Duration,
    login_queue_wait: Duration,
    max_lag_us: u64,
    /// The scheduler's smoothed lateness, in microseconds.
    lag_us: AtomicU64,
    /// State of the generator that picks which requests to shed.
    dice: AtomicU64,
}

impl Shedder {
    /// The shedder; with a lag limit, it starts its lag monitor on the current Tokio runtime
    /// (which stops when the shedder is dropped).
    pub fn new(l: ShedLimits) -> Arc<Self> {
        let cap = |n: usize| (Semaphore::new(n.max(1)), n.max(1));
        let s = Arc::new(Shedder {
            reads: cap(l.reads),
            writes: cap(l.writes),
            logins: cap(l.logins),
            queue_wait: l.queue_wait,
            login_queue_wait: l.login_queue_wait,
            max_lag_us: u64::try_from(l.max_lag.as_micros()).unwrap_or(u64::MAX),
            lag_us: AtomicU64::new(0),
            dice: AtomicU64::new(0x9E37_79B9_7F4A_7C15),
        });
        if s.max_lag_us > 0
            && let Ok(rt) = tokio::runtime::Handle::try_current()
        {
            rt.spawn(watch_lag(Arc::downgrade(&s)));
        }
        s
    }

    /// The scheduler's smoothed lateness.
    pub fn lag(&self) -> Duration {
        Duration::from_micros(self.lag_us.load(Ordering::Relaxed))
    }

    /// A place for the request, or `Err` when it is to be shed: the scheduler is behind (and
    /// its class has something in flight), or its class stayed full for the whole queue wait.
    pub async fn admit(&self, class: Class) -> Result<Option<SemaphorePermit<'_>>, ()> {
        let (sem, cap) = match class {
            Class::Exempt => return Ok(None),
            Class::Read => (&self.reads.0, self.reads.1),
            Class::Write => (&self.writes.0, self.writes.1),
            Class::Login => (&self.logins.0, self.logins.1),
        };
        if self.shed_for_lag() && sem.available_permits() < cap {
            return Err(());
        }
        if let Ok(p) = sem.try_acquire() {
            return Ok(Some(p));
        }
        let wait = if class == Class::Login { self.login_queue_wait } else { self.queue_wait };
        match tokio::time::timeout(wait, sem.acquire()).await {
            Ok(Ok(p)) => Ok(Some(p)),
            _ => Err(()),
        }
    }
}

impl Shedder {
    /// Whether to shed this request for the scheduler's lag: never at or under `max_lag`, always
    /// at twice it, in proportion between.
    fn shed_for_lag(&self) -> bool {
        let lag = self.lag_us.load(Ordering::Relaxed);
        if self.max_lag_us == 0 || lag <= self.max_lag_us {
            return false;
        }
        let excess = (lag - self.max_lag_us).min(self.max_lag_us);
        // SplitMix64 over a shared counter: cheap, and good enough to pick a share.
        let mut z = self.dice.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z % self.max_lag_us) < excess
    }
}

/// Measures how late the scheduler runs a task that asks to wake every `LAG_TICK`, smoothed
/// over the last ten ticks or so (~50 ms).
async fn watch_lag(shedder: Weak<Shedder>) {
    let mut smoothed = 0f64;
    loop {
        let asked = Instant::now();
        tokio::time::sleep(LAG_TICK).await;
        let late = asked.elapsed().saturating_sub(LAG_TICK).as_micros() as f64;
        smoothed = 0.9 * smoothed + 0.1 * late;
        let Some(s) = shedder.upgrade() else { return };
        s.lag_us.store(smoothed as u64, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes() {
        assert_eq!(classify(&Method::GET, "/events"), Class::Read);
        assert_eq!(classify(&Method::POST, "/payments"), Class::Write);
        assert_eq!(classify(&Method::POST, "/auth/login"), Class::Login);
        assert_eq!(classify(&Method::GET, "/health"), Class::Exempt);
    }

    #[tokio::test]
    async fn a_full_class_sheds_after_the_wait_and_others_go_on() {
        let s = Shedder::new(ShedLimits {
            reads: 1,
            writes: 1,
            logins: 1,
            queue_wait: Duration::from_millis(10),
            login_queue_wait: Duration::from_millis(10),
            max_lag: Duration::ZERO,
        });
        let held = s.admit(Class::Read).await.unwrap();
        assert!(s.admit(Class::Read).await.is_err());
        assert!(s.admit(Class::Write).await.unwrap().is_some());
        assert!(s.admit(Class::Exempt).await.unwrap().is_none());
        drop(held);
        assert!(s.admit(Class::Read).await.is_ok());
    }
}

#[cfg(test)]
mod lag_tests {
    use super::*;

    /// A runtime kept busy by CPU-bound tasks runs the monitor late, and requests are shed while
    /// it is (a class with nothing in flight still gets one through).
    #[tokio::test(flavor = "current_thread")]
    async fn a_busy_scheduler_sheds() {
        let s = Shedder::new(ShedLimits { max_lag: Duration::from_millis(1), ..ShedLimits::default() });
        tokio::time::sleep(Duration::from_millis(30)).await;
        assert!(s.lag() < Duration::from_millis(1), "idle: {:?}", s.lag());
        // Tasks that each hold the only thread for 3 ms.
        let busy: Vec<_> = (0..40)
            .map(|_| {
                tokio::spawn(async {
                    for _ in 0..4 {
                        std::thread::sleep(Duration::from_millis(3));
                        tokio::task::yield_now().await;
                    }
                })
            })
            .collect();
        for b in busy {
            b.await.unwrap();
        }
        assert!(s.lag() >= Duration::from_millis(2), "busy (twice the limit): {:?}", s.lag());
        let first = s.admit(Class::Read).await.unwrap();
        assert!(first.is_some(), "nothing in flight: one gets through");
        assert!(s.admit(Class::Read).await.is_err(), "behind: the next is shed");
        assert!(s.admit(Class::Exempt).await.is_ok());
    }
}
