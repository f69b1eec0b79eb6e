//! Tickets as their holders and doors see them, and the event keys that sign their codes.

use tessera_domain::id::{EventId, JobId, PurchaseId, TicketId, TicketTypeId, UserId};
use tessera_domain::records::{EventKey, TicketDetail};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{Result, Store, StoreError, WritePool, affected, on_db};

pub(crate) const DETAIL: &str =
    "SELECT t.ticket_id, t.purchase_id, t.event_id, t.user_id, t.ticket_type_id, t.seat_number,
        t.status, t.created_at, t.key_id, t.voided_at, e.name AS event_name, e.start_time AS event_start,
        e.end_time AS event_end, e.location, e.organizer_id, tt.name AS ticket_type_name,
        u.name AS holder_name, t.guest_name, COALESCE(tt.allow_reentry, TRUE) AS allow_reentry
     FROM tickets t
     JOIN events e ON e.event_id = t.event_id
     JOIN users u ON u.user_id = t.user_id
     LEFT JOIN ticket_types tt ON tt.ticket_type_id = t.ticket_type_id";

/// One ticket's detail (`$1` the ticket).
pub(crate) fn ticket_by_id() -> String {
    format!("{DETAIL} WHERE t.ticket_id = $1")
}

/// A ticket's detail read directly on SQLite (columns in `DETAIL` order).
pub(crate) fn ticket_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<TicketDetail> {
    use crate::sqlite::values as w;
    Ok(TicketDetail {
        ticket_id: w::get_id(r, 0)?,
        purchase_id: w::get_id(r, 1)?,
        event_id: w::get_id(r, 2)?,
        user_id: w::get_id(r, 3)?,
        ticket_type_id: w::get_opt_id(r, 4)?,
        seat_number: r.get(5)?,
        status: w::get_word(r, 6)?,
        created_at: w::get_ts(r, 7)?,
        key_id: r.get(8)?,
        voided_at: w::get_opt_ts(r, 9)?,
        event_name: r.get(10)?,
        event_start: w::get_ts(r, 11)?,
        event_end: w::get_opt_ts(r, 12)?,
        location: r.get(13)?,
        organizer_id: w::get_opt_id(r, 14)?,
        ticket_type_name: r.get(15)?,
        holder_name: r.get(16)?,
        guest_name: r.get(17)?,
        allow_reentry: r.get(18)?,
    })
}

/// What a reissued ticket keeps: purchase, event, holder, type, seat, guest, and its admission
/// (the first ticket of the chain, whose door state and history it carries on).
type Reissued = (PurchaseId, EventId, UserId, Option<TicketTypeId>, Option<i32>, Option<String>, Uuid);

impl Store {
    pub async fn ticket_detail(&self, ticket_id: TicketId) -> Result<Option<TicketDetail>> {
        let sql = ticket_by_id();
        Ok(on_db!(self, read, |p| {
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(ticket_id).fetch_optional(p).await
        })?)
    }

    /// A purchase's tickets, in issue order.
    pub async fn purchase_tickets(&self, purchase_id: PurchaseId) -> Result<Vec<TicketDetail>> {
        let sql = format!("{DETAIL} WHERE t.purchase_id = $1 ORDER BY t.ticket_id");
        Ok(on_db!(self, read, |p| {
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(purchase_id).fetch_all(p).await
        })?)
    }

    /// A page of a holder's tickets, newest first, before the cursor ticket (ids are time-ordered).
    pub async fn tickets_of_user(
        &self,
        user_id: UserId,
        before: Option<Uuid>,
        limit: i64,
    ) -> Result<Vec<TicketDetail>> {
        let sql =
            format!("{DETAIL} WHERE t.user_id = $1 AND t.ticket_id < $2 ORDER BY t.ticket_id DESC LIMIT $3");
        Ok(on_db!(self, read, |p| {
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(user_id)
                .bind(before.unwrap_or(Uuid::max()))
                .bind(limit)
                .fetch_all(p)
                .await
        })?)
    }

    /// Fixes which key signs a ticket's code, once: a ticket keeps its first key (so its printed
    /// code stays valid) until that key is retired. False when it already had one.
    pub async fn assign_ticket_key(&self, ticket_id: TicketId, key_id: i32) -> Result<bool> {
        // Only while that key still signs: a rotation and retirement racing this must not leave
        // the ticket on a retired key.
        let n = on_db!(self, write, |p| {
            sqlx::query(
                "UPDATE tickets SET key_id = $1 WHERE ticket_id = $2
                 AND (key_id IS NULL OR EXISTS (SELECT 1 FROM event_keys r WHERE r.event_id = tickets.event_id
                                                AND r.key_id = tickets.key_id AND r.status = 'retired'))
                 AND EXISTS (SELECT 1 FROM event_keys k WHERE k.event_id = tickets.event_id AND k.key_id = $1
                             AND k.status = 'signing')",
            )
            .bind(key_id)
            .bind(ticket_id)
            .execute(p)
            .await
            .map(affected)
        })?;
        Ok(n == 1)
    }

    /// Reissues a ticket: voids it (its code goes on the revocation list) and issues `new_id` for
    /// the same purchase, seat, guest and admission (so the door state goes with it: a holder
    /// inside stays inside, and the new code cannot let a second person in), with the holder's
    /// e-mail queued — one transaction, the
    /// void a conditional update (a ticket is reissued once). False when it was not valid.
    pub async fn reissue_ticket(
        &self,
        old_id: TicketId,
        new_id: TicketId,
        job_id: JobId,
        now: OffsetDateTime,
    ) -> Result<bool> {
        let n = on_db!(self, write, |p| {
            async {
                let mut tx = p.begin_write().await?;
                let old: Option<Reissued> = sqlx::query_as(
                    "UPDATE tickets SET status = 'void', voided_at = $1 WHERE ticket_id = $2 AND status = 'valid'
                     RETURNING purchase_id, event_id, user_id, ticket_type_id, seat_number, guest_name,
                               COALESCE(admission_id, ticket_id)",
                )
                .bind(now)
                .bind(old_id)
                .fetch_optional(&mut *tx)
                .await?;
                let Some((purchase_id, event_id, user_id, ticket_type_id, seat_number, guest_name, admission_id)) = old
                else {
                    return Ok::<_, sqlx::Error>(0);
                };
                sqlx::query(
                    "INSERT INTO tickets (ticket_id, purchase_id, event_id, user_id, ticket_type_id, seat_number, status,
                         created_at, guest_name, admission_id)
                     VALUES ($1, $2, $3, $4, $5, $6, 'valid', $7, $8, $9)",
                )
                .bind(new_id)
                .bind(purchase_id)
                .bind(event_id)
                .bind(user_id)
                .bind(ticket_type_id)
                .bind(seat_number)
                .bind(now)
                .bind(guest_name)
                .bind(admission_id)
                .execute(&mut *tx)
                .await?;
                sqlx::query(crate::jobs::ENQUEUE_TICKET_MAIL)
                .bind(job_id)
                .bind(crate::jobs::ticket_mail_payload(purchase_id, Some(new_id)))
                .bind(now)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(1)
            }
            .await
        })?;
        Ok(n == 1)
    }

    /// The event's revocation list: its voided tickets.
    pub async fn revoked_tickets(&self, event_id: EventId) -> Result<Vec<TicketId>> {
        Ok(on_db!(self, read, |p| {
            sqlx::query_scalar(
                "SELECT ticket_id FROM tickets WHERE event_id = $1 AND status = 'void' ORDER BY ticket_id",
            )
            .bind(event_id)
            .fetch_all(p)
            .await
        })?)
    }

    /// All of an event's keys, oldest first.
    pub async fn event_keys(&self, event_id: EventId) -> Result<Vec<EventKey>> {
        Ok(on_db!(self, read, |p| {
            sqlx::query_as(
                "SELECT event_id, key_id, public_key, sealed_secret, status, created_at, retired_at
                 FROM event_keys WHERE event_id = $1 ORDER BY key_id",
            )
            .bind(event_id)
            .fetch_all(p)
            .await
        })?)
    }

    /// Adds an event's first key, unless it has one (two first issues racing: one wins, the
    /// other reads the winner's). True when this call added it.
    pub async fn insert_first_event_key(&self, k: &EventKey) -> Result<bool> {
        let n = on_db!(self, write, |p| {
            sqlx::query(
                "INSERT INTO event_keys (event_id, key_id, public_key, sealed_secret, status, created_at)
                 VALUES ($1, $2, $3, $4, 'signing', $5) ON CONFLICT DO NOTHING",
            )
            .bind(k.event_id)
            .bind(k.key_id)
            .bind(&k.public_key)
            .bind(&k.sealed_secret)
            .bind(k.created_at)
            .execute(p)
            .await
            .map(affected)
        })?;
        Ok(n == 1)
    }

    /// Makes `k` the event's signing key; the previous signing key keeps verifying. `k.key_id`
    /// must be the next free id (the caller sealed the secret for it): if another rotation took
    /// that id first, this is `StoreError::Conflict` and nothing changes.
    pub async fn rotate_event_key(&self, k: &EventKey) -> Result<()> {
        on_db!(self, write, |p| {
            async {
                let mut tx = p.begin_write().await?;
                sqlx::query(
                    "UPDATE event_keys SET status = 'verifying' WHERE event_id = $1 AND status = 'signing'",
                )
                .bind(k.event_id)
                .execute(&mut *tx)
                .await?;
                let n = sqlx::query(
                    "INSERT INTO event_keys (event_id, key_id, public_key, sealed_secret, status, created_at)
                     VALUES ($1, $2, $3, $4, 'signing', $5) ON CONFLICT DO NOTHING",
                )
                .bind(k.event_id)
                .bind(k.key_id)
                .bind(&k.public_key)
                .bind(&k.sealed_secret)
                .bind(k.created_at)
                .execute(&mut *tx)
                .await
                .map(affected)?;
                if n == 1 {
                    tx.commit().await?;
                }
                Ok::<_, sqlx::Error>(n)
            }
            .await
        })
        .and_then(|n| {
            if n == 1 {
                Ok(())
            } else {
                Err(StoreError::Conflict("event key id taken by another rotation".into()))
            }
        })
    }

    /// Retires a key that no longer signs: codes it signed stop verifying, and its valid tickets
    /// lose it, so their next issue is signed with the current key (holders need the new code).
    /// False when there is no such verifying key (the signing key must be rotated out first).
    pub async fn retire_event_key(
        &self,
        event_id: EventId,
        key_id: i32,
        now: OffsetDateTime,
    ) -> Result<bool> {
        let n = on_db!(self, write, |p| {
            async {
                let mut tx = p.begin_write().await?;
                let n = sqlx::query(
                    "UPDATE event_keys SET status = 'retired', retired_at = $1
                     WHERE event_id = $2 AND key_id = $3 AND status = 'verifying'",
                )
                .bind(now)
                .bind(event_id)
                .bind(key_id)
                .execute(&mut *tx)
                .await
                .map(affected)?;
                if n == 1 {
                    sqlx::query("UPDATE tickets SET key_id = NULL WHERE event_id = $1 AND key_id = $2")
                        .bind(event_id)
                        .bind(key_id)
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
