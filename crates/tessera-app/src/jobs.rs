//! Background jobs: the worker that runs due jobs from the jobs table, and the jobs themselves —
//! a holder's ticket e-mail, an organizer's bulk send to an event's holders, and the refunds
//! (with their e-mails) of a cancelled event.

use tessera_domain::id::{ApplicationId, EventId, JobId, PurchaseId, TicketId};
use tessera_domain::records::TicketStatus;
use tessera_domain::records::{Job, RefundOutcome};
use uuid::Uuid;

use tessera_domain::jobs::retry_delay_secs;

use crate::auth::Principal;
use crate::mail::{MailedTicket, ticket_message};
use crate::ticket_codes::may_see;
use crate::{App, AppError, Result};

/// How long a claimed job is a worker's before another may take it over (a worker that died).
const LEASE_SECS: i64 = 300;

/// The window of the resend limits (`RateLimits::resend_per_ticket`, `resend_per_user`).
pub const RESEND_WINDOW_SECS: i64 = 3600;

/// Purchases a bulk send handles per page (progress is saved after each).
const BULK_PAGE: i64 = 50;

#[derive(serde::Deserialize)]
struct TicketMail {
    purchase_id: PurchaseId,
    /// Only this ticket (a resend); otherwise all of the purchase's valid tickets.
    ticket_id: Option<TicketId>,
}

#[derive(serde::Deserialize)]
struct Rejected {
    application_id: ApplicationId,
}

#[derive(serde::Deserialize)]
struct Cancellation {
    event_id: EventId,
}

#[derive(serde::Deserialize)]
struct CancellationMail {
    purchase_id: PurchaseId,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct BulkSend {
    event_id: EventId,
    /// Also holders who were sent their tickets before.
    all: bool,
    /// The last purchase handled (a restarted job carries on after it).
    after: Option<PurchaseId>,
}

impl App {
    /// Runs due jobs until none is due or `max` have run; answers how many ran.
    pub async fn run_due_jobs(&self, max: usize) -> Result<usize> {
        let mut n = 0;
        while n < max {
            let now = self.now();
            let Some(job) = self.store.claim_job(now, now + time::Duration::seconds(LEASE_SECS)).await?
            else {
                break;
            };
            n += 1;
            let outcome = self.run_job(&job).await;
            let now = self.now();
            match outcome {
                Ok(()) => {
                    self.store.finish_job(job.claim(), now).await?;
                }
                Err(e) => {
                    let retry = (job.attempts < job.max_attempts)
                        .then(|| now + time::Duration::seconds(retry_delay_secs(job.attempts)));
                    tracing::warn!(job_id = %job.job_id, kind = %job.kind, attempt = job.attempts, error = %e,
                        "job failed{}", if retry.is_some() { "; will retry" } else { " for good" });
                    self.store.fail_job(job.claim(), &e, retry, now).await?;
                }
            }
        }
        Ok(n)
    }

    async fn run_job(&self, job: &Job) -> std::result::Result<(), String> {
        match job.kind.as_str() {
            "ticket_mail" => {
                let p: TicketMail =
                    serde_json::from_str(&job.payload).map_err(|e| format!("bad payload: {e}"))?;
                self.send_ticket_mail(p.purchase_id, p.ticket_id).await
            }
            "bulk_ticket_send" => self.run_bulk_send(job).await,
            "event_cancellation" => {
                let p: Cancellation =
                    serde_json::from_str(&job.payload).map_err(|e| format!("bad payload: {e}"))?;
                self.refund_cancelled_event(job, p.event_id).await
            }
            "cancellation_mail" => {
                let p: CancellationMail =
                    serde_json::from_str(&job.payload).map_err(|e| format!("bad payload: {e}"))?;
                self.send_cancellation_mail(p.purchase_id).await
            }
            "application_rejected" => {
                let p: Rejected =
                    serde_json::from_str(&job.payload).map_err(|e| format!("bad payload: {e}"))?;
                self.send_rejection(p.application_id).await
            }
            other => Err(format!("unknown job kind {other}")),
        }
    }

    /// E-mails the holder a purchase's valid tickets in one message (nothing for a purchase
    /// whose tickets were all voided).
    async fn send_ticket_mail(
        &self,
        purchase_id: PurchaseId,
        only: Option<TicketId>,
    ) -> std::result::Result<(), String> {
        let tickets = self.store.mail_tickets(purchase_id, only).await.map_err(|e| e.to_string())?;
        let Some(email) = tickets.first().map(|t| t.email.clone()) else { return Ok(()) };
        let mut parts = Vec::with_capacity(tickets.len());
        for t in &tickets {
            let code = self.ticket_code(&t.ticket).await.map_err(|e| e.to_string())?;
            let qr_png = crate::qr::png(&code, 6).map_err(|e| e.to_string())?;
            let pdf = self.ticket_pdf(&t.ticket, &code).await.map_err(|e| e.to_string())?;
            parts.push(MailedTicket { ticket: &t.ticket, qr_png, pdf });
        }
        let msg = ticket_message(&self.config.mail.from, &email, &parts).map_err(|e| e.to_string())?;
        self.mailer.send(msg).await?;
        self.store.mark_mailed(purchase_id, only, self.now()).await.map_err(|e| e.to_string())
    }

    async fn send_rejection(&self, application_id: ApplicationId) -> std::result::Result<(), String> {
        let err = |e: tessera_store::StoreError| e.to_string();
        let Some(a) = self.store.application(application_id).await.map_err(err)? else { return Ok(()) };
        let user = self.store.user_by_id(a.user_id).await.map_err(err)?.ok_or("applicant gone")?;
        let event = self.store.event_by_id(a.event_id).await.map_err(err)?.ok_or("event gone")?;
        let msg = crate::mail::rejection_message(
            &self.config.mail.from,
            &user.email,
            &event.name,
            a.reason.as_deref().unwrap_or("(no reason given)"),
        )
        .map_err(|e| e.to_string())?;
        self.mailer.send(msg).await
    }

    /// Refunds every completed purchase of a cancelled event to its buyer's wallet, each in its
    /// own transaction with its e-mail enqueued, page by page with progress saved. A restarted
    /// job finds only the purchases not yet refunded. One that would pass the buyer's wallet cap
    /// is left for the job's next attempt (the buyer may spend meanwhile), and the job says so.
    async fn refund_cancelled_event(&self, job: &Job, event_id: EventId) -> std::result::Result<(), String> {
        let err = |e: tessera_store::StoreError| e.to_string();
        let lease = |app: &App| app.now() + time::Duration::seconds(LEASE_SECS);
        let mut done = job.progress_done;
        let mut after = PurchaseId::from(Uuid::nil());
        let mut capped = 0usize;
        loop {
            let page =
                self.store.completed_purchases_of_event(event_id, after, BULK_PAGE).await.map_err(err)?;
            let Some(last) = page.last().copied() else { break };
            for purchase in page {
                let outcome = self
                    .store
                    .refund_for_cancellation(
                        purchase,
                        tessera_domain::booking::MAX_BALANCE_MINOR,
                        JobId::new(),
                        self.now(),
                    )
                    .await
                    .map_err(err)?;
                match outcome {
                    RefundOutcome::Refunded { .. } => done = done.saturating_add(1),
                    RefundOutcome::BalanceCap => capped += 1,
                    RefundOutcome::AlreadyRefunded | RefundOutcome::NotFound => {}
                }
            }
            after = last;
            if !self
                .store
                .job_progress(job.claim(), done, None, lease(self), self.now())
                .await
                .map_err(err)?
            {
                return Err("another worker took this job over".into());
            }
        }
        if capped > 0 {
            return Err(format!("{capped} refunds would pass their buyer's wallet cap; tried again later"));
        }
        Ok(())
    }

    /// Tells a buyer their purchase was refunded because its event was cancelled.
    async fn send_cancellation_mail(&self, purchase_id: PurchaseId) -> std::result::Result<(), String> {
        let err = |e: tessera_store::StoreError| e.to_string();
        let Some(p) = self.store.purchase(purchase_id).await.map_err(err)? else { return Ok(()) };
        let user = self.store.user_by_id(p.user_id).await.map_err(err)?.ok_or("buyer gone")?;
        let event = self.store.event_by_id(p.event_id).await.map_err(err)?.ok_or("event gone")?;
        let amount = tessera_domain::Money::from_minor(p.total_price).to_string();
        let msg = crate::mail::cancellation_message(
            &self.config.mail.from,
            &user.email,
            &event.name,
            &amount,
            &event.currency,
            p.ticket_quantity,
        )
        .map_err(|e| e.to_string())?;
        self.mailer.send(msg).await
    }

    async fn run_bulk_send(&self, job: &Job) -> std::result::Result<(), String> {
        let mut p: BulkSend = serde_json::from_str(&job.payload).map_err(|e| format!("bad payload: {e}"))?;
        let err = |e: tessera_store::StoreError| e.to_string();
        let total = self.store.count_purchases_to_mail(p.event_id, p.all).await.map_err(err)?;
        let mut done = job.progress_done;
        let total = i32::try_from(total).unwrap_or(i32::MAX).saturating_add(if p.all { 0 } else { done });
        let lease = |app: &App| app.now() + time::Duration::seconds(LEASE_SECS);
        let lost = || "another worker took this job over".to_string();
        if !self
            .store
            .job_progress(job.claim(), done, Some(total), lease(self), self.now())
            .await
            .map_err(err)?
        {
            return Err(lost());
        }
        loop {
            let page = self
                .store
                .purchases_to_mail(
                    p.event_id,
                    p.all,
                    p.after.unwrap_or(PurchaseId::from(Uuid::nil())),
                    BULK_PAGE,
                )
                .await
                .map_err(err)?;
            if page.is_empty() {
                return Ok(());
            }
            for purchase in page {
                self.send_ticket_mail(purchase, None).await?;
                done += 1;
                p.after = Some(purchase);
                // Where to carry on, and the lease extended, after every order: a worker that
                // lost the job (its lease lapsed) stops instead of mailing alongside the new one.
                let payload = serde_json::to_string(&p).map_err(|e| e.to_string())?;
                self.store.set_job_payload(job.claim(), &payload).await.map_err(err)?;
                let total = Some(total.max(done));
                if !self
                    .store
                    .job_progress(job.claim(), done, total, lease(self), self.now())
                    .await
                    .map_err(err)?
                {
                    return Err(lost());
                }
            }
        }
    }

    /// Sends a ticket again (its holder, the event's organizer, an admin): a job, answered at once.
    pub async fn resend_ticket(&self, who: &Principal, ticket_id: TicketId) -> Result<JobId> {
        let t = self.store.ticket_detail(ticket_id).await?.filter(|t| may_see(who, t));
        let t = t.ok_or(AppError::NotFound("ticket"))?;
        if t.status != TicketStatus::Valid {
            return Err(AppError::TicketVoid("this ticket is void: there is nothing to send"));
        }
        // Each resend is an e-mail to the holder: limited per ticket and per requester, so
        // nobody can flood a holder's inbox.
        let limits = &self.config.rate_limits;
        let (ticket, requester) = (ticket_id.to_string(), who.user_id.to_string());
        self.check_rates_in(
            RESEND_WINDOW_SECS,
            &[
                ("resend:ticket:", &ticket, limits.resend_per_ticket),
                ("resend:user:", &requester, limits.resend_per_user),
            ],
        )
        .await?;
        let payload = tessera_store::jobs::ticket_mail_payload(t.purchase_id, Some(ticket_id));
        let id = JobId::new();
        self.store.enqueue_job(id, "ticket_mail", &payload, Some(who.user_id), self.now()).await?;
        Ok(id)
    }

    /// Sends an event's tickets to its holders (those not yet sent, or all): one job whose
    /// progress `job` shows.
    pub async fn send_event_tickets(&self, who: &Principal, event_id: EventId, all: bool) -> Result<JobId> {
        self.owned_event(who, event_id, "only the event's organizer or an admin may send its tickets")
            .await?;
        let payload = serde_json::to_string(&BulkSend { event_id, all, after: None })
            .map_err(|e| AppError::internal(e))?;
        let id = JobId::new();
        self.store.enqueue_job(id, "bulk_ticket_send", &payload, Some(who.user_id), self.now()).await?;
        Ok(id)
    }

    /// A job: whoever started it, or an admin.
    pub async fn job(&self, who: &Principal, job_id: JobId) -> Result<Job> {
        self.store
            .job(job_id)
            .await?
            .filter(|j| who.is_admin() || j.created_by == Some(who.user_id))
            .ok_or(AppError::NotFound("job"))
    }
}
