//! The background work `serve` does by itself, as named jobs that something else can drive
//! where nothing runs between requests: EventBridge Scheduler invoking the Lambda function
//! (`{"tessera_job": "admission"}`), or cron running `tessera jobs run --job admission`.
//!
//! - `jobs`: due e-mail and bulk-send jobs.
//! - `admission`: lets people in from the waiting rooms, one tick every
//!   `ADMISSION_TICK_MS`, for as long as the run's budget lasts and someone is waiting (a
//!   scheduler fires at most once a minute, so one run keeps ticking through the minute).
//! - `holds`: ends lapsed holds and forgets closed rate-limit windows.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use tessera_app::App;
use tessera_domain::queue_pace::ADMISSION_TICK_MS;
use tokio::time::Instant;

/// A named background job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Job {
    Jobs,
    Admission,
    Holds,
}

impl Job {
    pub const ALL: [Job; 3] = [Job::Jobs, Job::Admission, Job::Holds];

    pub fn name(self) -> &'static str {
        match self {
            Job::Jobs => "jobs",
            Job::Admission => "admission",
            Job::Holds => "holds",
        }
    }
}

impl fmt::Display for Job {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Job {
    type Err = String;

    fn from_str(s: &str) -> Result<Job, String> {
        Job::ALL.into_iter().find(|j| j.name() == s).ok_or_else(|| {
            let names: Vec<_> = Job::ALL.iter().map(|j| j.name()).collect();
            format!("no job named {s:?}: the jobs are {}", names.join(", "))
        })
    }
}

/// What a run did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Report {
    pub job: &'static str,
    /// Jobs run, buyers admitted, or holds and windows ended.
    pub done: u64,
    /// Passes made (admission ticks; 1 for the others).
    pub passes: u64,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} done in {} pass(es)", self.job, self.done, self.passes)
    }
}

/// Runs `job` once (`jobs`: at most `max_jobs` of them); `admission` goes on ticking while
/// someone waits, until `budget` is spent.
pub async fn run(app: &App, job: Job, budget: Duration, max_jobs: usize) -> anyhow::Result<Report> {
    let err = |e: tessera_app::AppError| anyhow::anyhow!("{job}: {e}");
    let (done, passes) = match job {
        Job::Jobs => {
            let n = app.run_due_jobs(max_jobs).await.map_err(err)?;
            (u64::try_from(n).unwrap_or(u64::MAX), 1)
        }
        Job::Holds => {
            let holds = app.sweep_expired_holds().await.map_err(err)?;
            (holds + app.sweep_expired_limits().await.map_err(err)?, 1)
        }
        Job::Admission => {
            let until = Instant::now() + budget;
            let tick = Duration::from_millis(ADMISSION_TICK_MS.unsigned_abs());
            let (mut done, mut passes) = (0, 0);
            loop {
                let started = Instant::now();
                done += app.advance_queues().await.map_err(err)?;
                passes += 1;
                let next = started + tick;
                if next >= until || !app.anyone_waiting().await.map_err(err)? {
                    break;
                }
                tokio::time::sleep_until(next).await;
            }
            (done, passes)
        }
    };
    Ok(Report { job: job.name(), done, passes })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_are_named_and_unknown_names_list_the_known_ones() {
        for j in Job::ALL {
            assert_eq!(j.name().parse::<Job>(), Ok(j));
        }
        let e = "mail".parse::<Job>().unwrap_err();
        assert!(e.contains("jobs, admission, holds"), "{e}");
    }
}
