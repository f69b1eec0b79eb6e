//! Applications for ticket types sold by approval: their forms, the applications, and the
//! approval that issues tickets (places taken, purchase, tickets, e-mail job: one transaction).

use tessera_domain::id::{
    ApplicationId, EventId, JobId, PurchaseId, ReservationId, TicketId, TicketTypeId, UserId,
};
use tessera_domain::records::{Application, ApplicationStatus, Approval, HoldRequest};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::reservations::take_statement;
use crate::{Result, Store, WritePool, affected, bind_args, on_db};

const COLUMNS: &str = "application_id, event_id, ticket_type_id, user_id, answers, guest_names, quantity, status, \
     reason, decided_by, decided_at, purchase_id, created_at, updated_at";

impl Store {
    pub async fn set_application_form(
        &self,
        ticket_type_id: TicketTypeId,
        fields: &str,
        now: OffsetDateTime,
    ) -> Result<()> {
        on_db!(self, write, |p| {
            sqlx::query(
                "INSERT INTO application_forms (ticket_type_id, fields, updated_at) VALUES ($1, $2, $3)
                 ON CONFLICT (ticket_type_id) DO UPDATE SET fields = excluded.fields, updated_at = excluded.updated_at",
            )
            .bind(ticket_type_id)
            .bind(fields)
            .bind(now)
            .execute(p)
            .await
            .map(affected)
        })?;
        Ok(())
    }

    /// A ticket type's form (JSON fields), if it has one.
    pub async fn application_form(&self, ticket_type_id: TicketTypeId) -> Result<Option<String>> {
        Ok(on_db!(self, read, |p| {
            sqlx::query_scalar("SELECT fields FROM application_forms WHERE ticket_type_id = $1")
                .bind(ticket_type_id)
                .fetch_optional(p)
                .await
        })?)
    }

    /// Files an application unless it would take the person past `limit` places of the ticket
    /// type (counting their pending and approved applications; an approval turns one into
    /// tickets without changing the sum): `Ok(false)` then. `StoreError::Conflict` when they
    /// have a pending one already (the unique index decides, so two racing submissions cannot
    /// both pass the sum).
    pub async fn insert_application(&self, a: &Application, limit: i32) -> Result<bool> {
        let n = on_db!(self, write, |p| {
            sqlx::query(
                "INSERT INTO applications (application_id, event_id, ticket_type_id, user_id, answers, guest_names,
                     quantity, status, created_at, updated_at)
                 SELECT $1, $2, $3, $4, $5, $6, $7, 'pending', $8, $8
                 WHERE (SELECT COALESCE(SUM(quantity), 0) FROM applications
                        WHERE ticket_type_id = $3 AND user_id = $4 AND status IN ('pending', 'approved')) + $7 <= $9",
            )
            .bind(a.application_id)
            .bind(a.event_id)
            .bind(a.ticket_type_id)
            .bind(a.user_id)
            .bind(&a.answers)
            .bind(&a.guest_names)
            .bind(a.quantity)
            .bind(a.created_at)
            .bind(limit)
            .execute(p)
            .await
            .map(affected)
        })?;
        Ok(n == 1)
    }

    /// Places of a ticket type a person has applied for, pending or approved.
    pub async fn applied_places(&self, ticket_type_id: TicketTypeId, user_id: UserId) -> Result<i64> {
        Ok(on_db!(self, read, |p| {
            sqlx::query_scalar(
                "SELECT CAST(COALESCE(SUM(quantity), 0) AS BIGINT) FROM applications
                 WHERE ticket_type_id = $1 AND user_id = $2 AND status IN ('pending', 'approved')",
            )
            .bind(ticket_type_id)
            .bind(user_id)
            .fetch_one(p)
            .await
        })?)
    }

    pub async fn application(&self, application_id: ApplicationId) -> Result<Option<Application>> {
        let sql = format!("SELECT {COLUMNS} FROM applications WHERE application_id = $1");
        Ok(on_db!(self, read, |p| {
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(application_id).fetch_optional(p).await
        })?)
    }

    /// A page of an event's applications in the order they came, optionally of one status.
    pub async fn applications_of_event(
        &self,
        event_id: EventId,
        status: Option<ApplicationStatus>,
        after: Option<Uuid>,
        limit: i64,
    ) -> Result<Vec<Application>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM applications WHERE event_id = $1 AND ($2 IS NULL OR status = $2)
             AND application_id > $3 ORDER BY application_id LIMIT $4"
        );
        Ok(on_db!(self, read, |p| {
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(event_id)
                .bind(status.map(ApplicationStatus::as_str))
                .bind(after.unwrap_or(Uuid::nil()))
                .bind(limit)
                .fetch_all(p)
                .await
        })?)
    }

    /// A person's applications, newest first.
    pub async fn applications_of_user(&self, user_id: UserId, limit: i64) -> Result<Vec<Application>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM applications WHERE user_id = $1
             ORDER BY created_at DESC, application_id DESC LIMIT $2"
        );
        Ok(on_db!(self, read, |p| {
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(user_id).bind(limit).fetch_all(p).await
        })?)
    }

    /// Approves a pending application in one transaction: decides it (a conditional update, so
    /// two organizers approving at once issue tickets once), takes its places of the ticket type
    /// (one conditional update: all of them or none), and writes the completed reservation, the
    /// purchase (no charge: the approval is the sale), one ticket per guest and the ticket
    /// e-mail job.
    pub async fn approve_application(
        &self,
        application_id: ApplicationId,
        decided_by: UserId,
        ids: (ReservationId, PurchaseId, JobId),
        ticket_ids: &[TicketId],
        now: OffsetDateTime,
    ) -> Result<Approval> {
        let (reservation_id, purchase_id, job_id) = ids;
        let backend = self.backend();
        let r = on_db!(self, write, |p| {
            async {
                let mut tx = p.begin_write().await?;
                let decided: Option<(EventId, TicketTypeId, UserId, i32, String)> = sqlx::query_as(
                    "UPDATE applications SET status = 'approved', decided_by = $1, decided_at = $2, updated_at = $2,
                         purchase_id = $3
                     WHERE application_id = $4 AND status = 'pending'
                       AND EXISTS (SELECT 1 FROM events e WHERE e.event_id = applications.event_id AND e.status = 'published')
                     RETURNING event_id, ticket_type_id, user_id, quantity, guest_names",
                )
                .bind(decided_by)
                .bind(now)
                .bind(purchase_id)
                .bind(application_id)
                .fetch_optional(&mut *tx)
                .await?;
                let Some((event_id, ticket_type_id, user_id, quantity, guests)) = decided else {
                    return Ok::<_, sqlx::Error>(Approval::NotPending);
                };
                let names: Vec<String> = serde_json::from_str(&guests).unwrap_or_default();
                if i32::try_from(names.len()).ok() != Some(quantity) {
                    tx.rollback().await?;
                    return Err(sqlx::Error::Protocol(format!("application {application_id}: guest names do not match its quantity")));
                }
                let req = HoldRequest::Places { ticket_type_id, quantity: i64::from(quantity) };
                let (take, wanted, _) = take_statement(backend, event_id, &req, reservation_id, now, now);
                let taken: Vec<(i32, i64)> =
                    bind_args!(sqlx::query_as(sqlx::AssertSqlSafe(take.text.clone())), take.args)
                        .fetch_all(&mut *tx)
                        .await?;
                if i64::try_from(taken.len()).unwrap_or(0) < wanted || ticket_ids.len() < names.len() {
                    tx.rollback().await?;
                    return Ok(Approval::SoldOut);
                }
                sqlx::query(
                    "UPDATE seats SET status = 'sold', held_until = NULL, updated_at = $1
                     WHERE reservation_id = $2 AND status = 'held'",
                )
                .bind(now)
                .bind(reservation_id)
                .execute(&mut *tx)
                .await?;
                sqlx::query(
                    "INSERT INTO reservations (reservation_id, user_id, event_id, ticket_type_id, quantity, amount,
                         status, reserved_at, payment_deadline, completed_at, created_at, updated_at)
                     VALUES ($1, $2, $3, $4, $5, 0, 'completed', $6, $6, $6, $6, $6)",
                )
                .bind(reservation_id)
                .bind(user_id)
                .bind(event_id)
                .bind(ticket_type_id)
                .bind(quantity)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                sqlx::query(
                    "INSERT INTO purchases (purchase_id, user_id, event_id, purchase_time, ticket_quantity, total_price,
                         status, reservation_id)
                     VALUES ($1, $2, $3, $4, $5, 0, 'completed', $6)",
                )
                .bind(purchase_id)
                .bind(user_id)
                .bind(event_id)
                .bind(now)
                .bind(quantity)
                .bind(reservation_id)
                .execute(&mut *tx)
                .await?;
                for (ticket_id, name) in ticket_ids.iter().zip(&names) {
                    sqlx::query(
                        "INSERT INTO tickets (ticket_id, purchase_id, event_id, user_id, ticket_type_id, status,
                             created_at, guest_name)
                         VALUES ($1, $2, $3, $4, $5, 'valid', $6, $7)",
                    )
                    .bind(*ticket_id)
                    .bind(purchase_id)
                    .bind(event_id)
                    .bind(user_id)
                    .bind(ticket_type_id)
                    .bind(now)
                    .bind(name)
                    .execute(&mut *tx)
                    .await?;
                }
                sqlx::query(crate::jobs::ENQUEUE_TICKET_MAIL)
                .bind(job_id)
                .bind(crate::jobs::ticket_mail_payload(purchase_id, None))
                .bind(now)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                let issued = ticket_ids.iter().take(names.len()).copied().collect();
                Ok(Approval::Approved { purchase_id, ticket_ids: issued })
            }
            .await
        })?;
        Ok(r)
    }

    /// Rejects a pending application with a reason and queues the e-mail telling the applicant,
    /// in one transaction. False when it was not pending.
    pub async fn reject_application(
        &self,
        application_id: ApplicationId,
        decided_by: UserId,
        reason: &str,
        job_id: JobId,
        now: OffsetDateTime,
    ) -> Result<bool> {
        let n = on_db!(self, write, |p| {
            async {
                let mut tx = p.begin_write().await?;
                let n = sqlx::query(
                    "UPDATE applications SET status = 'rejected', reason = $1, decided_by = $2, decided_at = $3,
                         updated_at = $3
                     WHERE application_id = $4 AND status = 'pending'",
                )
                .bind(reason)
                .bind(decided_by)
                .bind(now)
                .bind(application_id)
                .execute(&mut *tx)
                .await
                .map(affected)?;
                if n == 1 {
                    sqlx::query(crate::jobs::ENQUEUE_JOB)
                    .bind(job_id)
                    .bind("application_rejected")
                    .bind(format!(r#"{{"application_id":"{application_id}"}}"#))
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                    tx.commit().await?;
                }
                Ok::<_, sqlx::Error>(n)
            }
            .await
        })?;
        Ok(n == 1)
    }
}
