//! Background jobs and what the ticket mailer reads.

use time::OffsetDateTime;

use crate::id::{JobId, UserId};
use crate::records::TicketDetail;
use crate::text_enum::text_enum;

text_enum! {
    pub enum JobStatus {
        Queued = "queued",
        Running = "running",
        Done = "done",
        Failed = "failed",
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "sqlx", derive(sqlx::FromRow))]
pub struct Job {
    pub job_id: JobId,
    pub kind: String,
    pub payload: String,
    #[cfg_attr(feature = "sqlx", sqlx(try_from = "String"))]
    pub status: JobStatus,
    pub attempts: i32,
    pub max_attempts: i32,
    pub run_at: OffsetDateTime,
    pub locked_until: Option<OffsetDateTime>,
    pub last_error: Option<String>,
    pub progress_done: i32,
    pub progress_total: Option<i32>,
    pub created_by: Option<UserId>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

impl Job {
    /// This worker's claim on the job, as the claim that made it running left it.
    pub fn claim(&self) -> JobClaim {
        JobClaim { job_id: self.job_id, attempts: self.attempts }
    }
}

/// A worker's claim on a running job: the job and the attempt it claimed. Every change a worker
/// makes names its claim, so a worker whose lease lapsed (and whose job another took over)
/// changes nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobClaim {
    pub job_id: JobId,
    pub attempts: i32,
}

/// A ticket as its e-mail needs it, with the holder's address.
#[derive(Debug, Clone)]
pub struct MailTicket {
    pub ticket: TicketDetail,
    pub email: String,
}
