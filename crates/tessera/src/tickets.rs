//! `tessera tickets send`: an event's bulk ticket e-mail from the command line, with a progress
//! bar. The same job the API starts; run here in the foreground.

use std::time::Duration;
use tessera_domain::id::EventId;
use tessera_domain::records::JobStatus;

use indicatif::{ProgressBar, ProgressStyle};
use uuid::Uuid;

use tessera_app::domain::Role;
use tessera_app::{App, Principal};

/// Enqueues the bulk send and runs jobs until it is done, showing its progress.
pub async fn send(app: &App, event_id: EventId, all: bool) -> anyhow::Result<()> {
    // The command line acts with an administrator's authority.
    let operator = Principal { user_id: Uuid::nil().into(), role: Role::Admin };
    let job_id =
        app.send_event_tickets(&operator, event_id, all).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} orders e-mailed {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let worker = {
        let app = app.clone();
        tokio::spawn(async move { app.run_due_jobs(usize::MAX).await })
    };
    loop {
        let job = app.job(&operator, job_id).await.map_err(|e| anyhow::anyhow!("{e}"))?;
        if let Some(total) = job.progress_total {
            bar.set_length(u64::try_from(total).unwrap_or(0));
        }
        bar.set_position(u64::try_from(job.progress_done).unwrap_or(0));
        match job.status {
            JobStatus::Done => {
                bar.finish_with_message("done");
                break;
            }
            JobStatus::Failed => {
                bar.abandon_with_message("failed");
                anyhow::bail!("the bulk send failed: {}", job.last_error.unwrap_or_default());
            }
            JobStatus::Queued if job.attempts > 0 => {
                bar.abandon_with_message("will retry");
                anyhow::bail!(
                    "the bulk send failed and will be retried by the server's worker (or `tessera jobs run`): {}",
                    job.last_error.unwrap_or_default()
                );
            }
            _ => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
    worker.await??;
    println!("job {job_id}: done");
    Ok(())
}
