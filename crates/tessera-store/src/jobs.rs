//! The jobs table: enqueue, claim with a lease (one conditional update; `SKIP LOCKED` on
//! PostgreSQL so many workers never wait on each other), finish, retry later, report progress —
//! and the ticket rows a mail job reads.

use tessera_domain::id::{EventId, JobId, PurchaseId, TicketId, UserId};
use tessera_domain::records::{Job, JobClaim, MailTicket, TicketDetail, TicketStatus};
use time::OffsetDateTime;

use crate::{Backend, Result, Store, affected, on_db};

const JOB_COLUMNS: &str = "job_id, kind, payload, status, attempts, max_attempts, run_at, locked_until, \
     last_error, progress_done, progress_total, created_by, created_at, updated_at";

/// A holder's ticket e-mail, enqueued in the transaction that issues the tickets (a payment, an
/// approval, a reissue), so none goes out for a rolled-back write and none is lost to a crash:
/// `$1` job, `$2` payload ([`ticket_mail_payload`]), `$3` now.
pub(crate) const ENQUEUE_TICKET_MAIL: &str =
    "INSERT INTO jobs (job_id, kind, payload, status, run_at, created_at, updated_at)
     VALUES ($1, 'ticket_mail', $2, 'queued', $3, $3, $3)";

/// A job of any kind, enqueued inside the caller's transaction: `$1` job, `$2` kind, `$3`
/// payload, `$4` now.
pub(crate) const ENQUEUE_JOB: &str =
    "INSERT INTO jobs (job_id, kind, payload, status, run_at, created_at, updated_at)
     VALUES ($1, $2, $3, 'queued', $4, $4, $4)";

/// The arguments of a `ticket_mail` job: a purchase's valid tickets, or only one of them.
pub fn ticket_mail_payload(purchase_id: PurchaseId, only: Option<TicketId>) -> String {
    match only {
        Some(t) => format!(r#"{{"purchase_id":"{purchase_id}","ticket_id":"{t}"}}"#),
        None => format!(r#"{{"purchase_id":"{purchase_id}"}}"#),
    }
}

impl Store {
    pub async fn enqueue_job(
        &self,
        job_id: JobId,
        kind: &str,
        payload: &str,
        created_by: Option<UserId>,
        now: OffsetDateTime,
    ) -> Result<()> {
        on_db!(self, write, |p| {
            sqlx::query(
                "INSERT INTO jobs (job_id, kind, payload, status, run_at, created_by, created_at, updated_at)
                 VALUES ($1, $2, $3, 'queued', $4, $5, $4, $4)",
            )
            .bind(job_id)
            .bind(kind)
            .bind(payload)
            .bind(now)
            .bind(created_by)
            .execute(p)
            .await
            .map(affected)
        })?;
        Ok(())
    }

    /// Every job of a kind, oldest first (operators' and tests' view of what was enqueued).
    pub async fn jobs_of_kind(&self, kind: &str) -> Result<Vec<Job>> {
        let sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE kind = $1 ORDER BY created_at, job_id");
        Ok(on_db!(self, read, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(kind).fetch_all(p).await)?)
    }

    pub async fn job(&self, job_id: JobId) -> Result<Option<Job>> {
        let sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE job_id = $1");
        Ok(on_db!(self, read, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(job_id)
            .fetch_optional(p)
            .await)?)
    }

    /// Claims the most overdue job that is queued (or whose worker's lease lapsed) until
    /// `lease_until`. One statement; a job two workers race for goes to one of them.
    pub async fn claim_job(&self, now: OffsetDateTime, lease_until: OffsetDateTime) -> Result<Option<Job>> {
        let skip = if self.backend() == Backend::Postgres { " FOR UPDATE SKIP LOCKED" } else { "" };
        let sql = format!(
            "UPDATE jobs SET status = 'running', attempts = attempts + 1, locked_until = $2, updated_at = $1
             WHERE job_id = (SELECT job_id FROM jobs
                             WHERE (status = 'queued' AND run_at <= $1) OR (status = 'running' AND locked_until < $1)
                             ORDER BY run_at, job_id LIMIT 1{skip})
               AND ((status = 'queued' AND run_at <= $1) OR (status = 'running' AND locked_until < $1))
             RETURNING {JOB_COLUMNS}"
        );
        Ok(on_db!(self, write, |p| {
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(now).bind(lease_until).fetch_optional(p).await
        })?)
    }

    /// Marks a claimed job done (only while this worker's lease holds the job running).
    pub async fn finish_job(&self, claim: JobClaim, now: OffsetDateTime) -> Result<bool> {
        let n = on_db!(self, write, |p| {
            sqlx::query(
                "UPDATE jobs SET status = 'done', locked_until = NULL, last_error = NULL, updated_at = $1
                 WHERE job_id = $2 AND status = 'running' AND attempts = $3",
            )
            .bind(now)
            .bind(claim.job_id)
            .bind(claim.attempts)
            .execute(p)
            .await
            .map(affected)
        })?;
        Ok(n == 1)
    }

    /// A failed attempt: queued again for `retry_at`, or failed for good when `retry_at` is none.
    pub async fn fail_job(
        &self,
        claim: JobClaim,
        error: &str,
        retry_at: Option<OffsetDateTime>,
        now: OffsetDateTime,
    ) -> Result<bool> {
        let n = on_db!(self, write, |p| {
            sqlx::query(
                "UPDATE jobs SET status = CASE WHEN $1 THEN 'queued' ELSE 'failed' END, run_at = COALESCE($2, run_at),
                     locked_until = NULL, last_error = $3, updated_at = $4
                 WHERE job_id = $5 AND status = 'running' AND attempts = $6",
            )
            .bind(retry_at.is_some())
            .bind(retry_at)
            .bind(error)
            .bind(now)
            .bind(claim.job_id)
            .bind(claim.attempts)
            .execute(p)
            .await
            .map(affected)
        })?;
        Ok(n == 1)
    }

    /// Records progress and extends this worker's lease; false when the job is no longer this
    /// worker's (its lease lapsed and another took it over).
    pub async fn job_progress(
        &self,
        claim: JobClaim,
        done: i32,
        total: Option<i32>,
        lease_until: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<bool> {
        let n = on_db!(self, write, |p| {
            sqlx::query(
                "UPDATE jobs SET progress_done = $1, progress_total = $2, updated_at = $3, locked_until = $4
                 WHERE job_id = $5 AND status = 'running' AND attempts = $6",
            )
            .bind(done)
            .bind(total)
            .bind(now)
            .bind(lease_until)
            .bind(claim.job_id)
            .bind(claim.attempts)
            .execute(p)
            .await
            .map(affected)
        })?;
        Ok(n == 1)
    }

    /// Saves where a running job has got to (its arguments, for a restart), while it is still
    /// this worker's claim.
    pub async fn set_job_payload(&self, claim: JobClaim, payload: &str) -> Result<()> {
        on_db!(self, write, |p| {
            sqlx::query(
                "UPDATE jobs SET payload = $1 WHERE job_id = $2 AND status = 'running' AND attempts = $3",
            )
            .bind(payload)
            .bind(claim.job_id)
            .bind(claim.attempts)
            .execute(p)
            .await
            .map(affected)
        })?;
        Ok(())
    }

    /// The valid tickets of a purchase (or just `only`), with the holder's address.
    pub async fn mail_tickets(
        &self,
        purchase_id: PurchaseId,
        only: Option<TicketId>,
    ) -> Result<Vec<MailTicket>> {
        let tickets: Vec<TicketDetail> = self
            .purchase_tickets(purchase_id)
            .await?
            .into_iter()
            .filter(|t| t.status == TicketStatus::Valid && only.is_none_or(|o| o == t.ticket_id))
            .collect();
        // A purchase has one holder: one address to look up.
        let Some(user_id) = tickets.first().map(|t| t.user_id) else { return Ok(Vec::new()) };
        let email: String = on_db!(self, read, |p| {
            sqlx::query_scalar("SELECT email FROM users WHERE user_id = $1").bind(user_id).fetch_one(p).await
        })?;
        Ok(tickets.into_iter().map(|ticket| MailTicket { ticket, email: email.clone() }).collect())
    }

    /// Notes that a purchase's valid tickets (or just `only`) were e-mailed: one statement.
    pub async fn mark_mailed(
        &self,
        purchase_id: PurchaseId,
        only: Option<TicketId>,
        now: OffsetDateTime,
    ) -> Result<()> {
        on_db!(self, write, |p| {
            sqlx::query(
                "UPDATE tickets SET mailed_at = $1
                 WHERE purchase_id = $2 AND status = 'valid' AND ($3 IS NULL OR ticket_id = $3)",
            )
            .bind(now)
            .bind(purchase_id)
            .bind(only)
            .execute(p)
            .await
            .map(affected)
        })?;
        Ok(())
    }

    /// An event's purchases with valid tickets to send (all of them, or only those with a ticket
    /// never sent), after `after` in id order: a bulk send walks them page by page.
    pub async fn purchases_to_mail(
        &self,
        event_id: EventId,
        all: bool,
        after: PurchaseId,
        limit: i64,
    ) -> Result<Vec<PurchaseId>> {
        Ok(on_db!(self, read, |p| {
            sqlx::query_scalar(
                "SELECT DISTINCT purchase_id FROM tickets
                 WHERE event_id = $1 AND status = 'valid' AND ($2 OR mailed_at IS NULL) AND purchase_id > $3
                 ORDER BY purchase_id LIMIT $4",
            )
            .bind(event_id)
            .bind(all)
            .bind(after)
            .bind(limit)
            .fetch_all(p)
            .await
        })?)
    }

    /// How many purchases a bulk send will cover.
    pub async fn count_purchases_to_mail(&self, event_id: EventId, all: bool) -> Result<i64> {
        Ok(on_db!(self, read, |p| {
            sqlx::query_scalar(
                "SELECT CAST(COUNT(DISTINCT purchase_id) AS BIGINT) FROM tickets
                 WHERE event_id = $1 AND status = 'valid' AND ($2 OR mailed_at IS NULL)",
            )
            .bind(event_id)
            .bind(all)
            .fetch_one(p)
            .await
        })?)
    }
}
