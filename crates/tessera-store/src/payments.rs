//! Payments from the wallet and refunds: each is one transaction whose conditional updates
//! (reservation pending → completed, balance ≥ amount, seats held → sold) decide by rows affected.

use tessera_domain::event::EventStatus;
use tessera_domain::id::{
    EventId, JobId, PaymentId, PurchaseId, ReservationId, TicketId, TicketTypeId, UserId,
};
use tessera_domain::records::{
    PaidRows, PayInput, PayOutcome, Payment, PaymentStatus, Purchase, PurchaseStatus, RefundOutcome,
    ReservationStatus, Ticket, TicketStatus,
};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::hot_path::{PaymentPath, hot};
use crate::query::{Arg, Sql};
use crate::reservations::FREE_HELD;
use crate::wallet::INSERT_LEDGER;
use crate::{Result, Store, WritePool, on_db};

pub(crate) const INSERT_IDEMPOTENCY: &str =
    "INSERT INTO idempotency_keys (user_id, idem_key, request_hash, payment_id, created_at)
     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (user_id, idem_key) DO NOTHING";

/// The reservation's one conditional update: pending, within its deadline and for an event still
/// on sale → completed. Cancelling an event ends its pending holds in its own transaction; the
/// event's status here refuses a payment that reads the hold before that commits.
pub(crate) const COMPLETE_RESERVATION: &str =
    "UPDATE reservations SET status = 'completed', completed_at = $1, updated_at = $1
     WHERE reservation_id = $2 AND user_id = $3 AND status = 'pending' AND payment_deadline >= $1
       AND EXISTS (SELECT 1 FROM events e WHERE e.event_id = reservations.event_id AND e.status = 'published')
     RETURNING event_id, quantity, amount, ticket_type_id";

/// The balance's one conditional update: it can never go below zero.
pub(crate) const DEBIT: &str =
    "UPDATE users SET balance = balance - $1 WHERE user_id = $2 AND balance >= $1 RETURNING balance";

/// The places held → sold, returned so the tickets need no second look at the seats.
pub(crate) const SELL_PLACES: &str = "UPDATE seats SET status = 'sold', held_until = NULL, updated_at = $1
     WHERE reservation_id = $2 AND status = 'held'
     RETURNING seat_number, ticket_type_id";

pub(crate) const INSERT_PAYMENT: &str =
    "INSERT INTO payments (payment_id, reservation_id, user_id, amount, payment_status, payment_method,
         created_at, updated_at)
     VALUES ($1, $2, $3, $4, 'success', $5, $6, $6)";

pub(crate) const INSERT_PURCHASE: &str =
    "INSERT INTO purchases (purchase_id, user_id, event_id, purchase_time, ticket_quantity, total_price,
         status, reservation_id)
     VALUES ($1, $2, $3, $4, $5, $6, 'completed', $7)";

/// A purchase uses up the buyer's waiting-room admission, so the next in line gets the slot; in
/// the payment's transaction, so it cannot be forgotten.
///
/// The entry is found by the person's key and changed by its own, so no plan can do it through
/// the status index. Written as `event_id AND user_id AND status`, PostgreSQL (whose statistics
/// of `queue_entries` may not have seen one admitted entry: the table fills while everyone waits)
/// can choose `queue_entries_status_idx` and filter on the user, reading every live admission of
/// the event for every payment.
pub(crate) const FINISH_ADMISSION: &str = "UPDATE queue_entries SET status = 'done', updated_at = $1
     WHERE entry_id = (SELECT entry_id FROM queue_entries WHERE event_id = $2 AND user_id = $3)
       AND status = 'admitted'";

/// The rows a successful payment writes (the tickets in seat order).
pub(crate) fn paid_rows(
    i: &PayInput,
    event_id: EventId,
    quantity: i32,
    amount: i64,
    ticket_type_id: Option<TicketTypeId>,
    mut places: Vec<(i32, Option<TicketTypeId>)>,
) -> PaidRows {
    places.sort_unstable();
    let tickets = places
        .into_iter()
        .map(|(seat_number, tt)| Ticket {
            ticket_id: TicketId::new(),
            purchase_id: i.purchase_id,
            event_id,
            user_id: i.user_id,
            ticket_type_id: tt.or(ticket_type_id),
            // Numbered seats keep their number on the ticket; general-admission places do not.
            seat_number: if tt.is_none() { Some(seat_number) } else { None },
            status: TicketStatus::Valid,
            created_at: i.now,
        })
        .collect();
    let payment = Payment {
        payment_id: i.payment_id,
        reservation_id: i.reservation_id,
        user_id: i.user_id,
        amount,
        payment_status: PaymentStatus::Success,
        payment_method: i.method.clone(),
        created_at: i.now,
    };
    let purchase = Purchase {
        purchase_id: i.purchase_id,
        user_id: i.user_id,
        event_id,
        purchase_time: i.now,
        ticket_quantity: quantity,
        total_price: amount,
        status: PurchaseStatus::Completed,
    };
    PaidRows { payment, purchase, tickets }
}

/// One multi-row INSERT of the tickets; `None` when there are none.
pub(crate) fn tickets_insert(tickets: &[Ticket]) -> Option<Sql> {
    if tickets.is_empty() {
        return None;
    }
    let mut ins = Sql::new(
        "INSERT INTO tickets (ticket_id, purchase_id, event_id, user_id, ticket_type_id, seat_number, status, created_at) VALUES ",
    );
    for (n, t) in tickets.iter().enumerate() {
        let row = [
            ins.arg(Arg::id(t.ticket_id)),
            ins.arg(Arg::id(t.purchase_id)),
            ins.arg(Arg::id(t.event_id)),
            ins.arg(Arg::id(t.user_id)),
            match t.ticket_type_id {
                Some(id) => ins.arg(Arg::id(id)),
                None => "NULL".into(),
            },
            match t.seat_number {
                Some(s) => ins.arg(Arg::Int(i64::from(s))),
                None => "NULL".into(),
            },
            ins.arg(Arg::Ts(t.created_at)),
        ];
        ins.push(&format!(
            "{}({}, {}, {}, {}, {}, {}, 'valid', {})",
            if n == 0 { "" } else { ", " },
            row[0],
            row[1],
            row[2],
            row[3],
            row[4],
            row[5],
            row[6]
        ));
    }
    Some(ins)
}

/// Why a payment transaction stopped before committing (nothing it wrote stands).
pub(crate) enum Stop {
    Key,
    Reservation,
    Balance(i64),
}

impl Store {
    /// Pays a pending reservation from the wallet: reservation, balance, seats, ledger, payment,
    /// purchase and tickets change together or not at all. Retries with one Idempotency-Key charge once.
    pub async fn pay_reservation(&self, i: &PayInput) -> Result<PayOutcome> {
        let r = hot!(self, |h| h.pay(i).await)?;
        match r {
            Ok(rows) => Ok(PayOutcome::Paid(Box::new(rows))),
            Err(Stop::Key) => {
                let (key, hash) = i.idempotency.clone().unwrap_or_default();
                Ok(match self.idempotency_record(i.user_id, &key).await? {
                    Some((h, payment_id)) if h == hash => PayOutcome::Replayed { payment_id },
                    _ => PayOutcome::KeyReused,
                })
            }
            Err(Stop::Balance(amount)) => {
                Ok(PayOutcome::Insufficient { balance: self.balance(i.user_id).await?.unwrap_or(0), amount })
            }
            Err(Stop::Reservation) => {
                let res = self.reservation(i.reservation_id, i.now).await?;
                let cancelled = match &res {
                    Some(r) if r.status != ReservationStatus::Completed => self
                        .event_by_id(r.event_id)
                        .await?
                        .is_some_and(|e| e.status == EventStatus::Cancelled),
                    _ => false,
                };
                Ok(match res {
                    Some(r) if r.user_id == i.user_id && cancelled => PayOutcome::EventCancelled,
                    Some(r) if r.user_id == i.user_id => match r.status.as_str() {
                        "completed" => PayOutcome::AlreadyPaid,
                        "cancelled" => PayOutcome::Released,
                        _ => PayOutcome::Expired,
                    },
                    _ => PayOutcome::NotFound,
                })
            }
        }
    }

    /// PostgreSQL: how payments were grouped so far (the largest group, and the groups that
    /// failed whole and were run one payment at a time); `None` on SQLite.
    pub fn pay_grouping(&self) -> Option<(usize, u64)> {
        self.pays.as_deref().map(crate::pg::PayGroups::tally)
    }

    /// The request hash and payment recorded for an Idempotency-Key.
    pub async fn idempotency_record(
        &self,
        user_id: UserId,
        key: &str,
    ) -> Result<Option<(String, PaymentId)>> {
        Ok(on_db!(self, read, |p| {
            sqlx::query_as(
                "SELECT request_hash, payment_id FROM idempotency_keys WHERE user_id = $1 AND idem_key = $2",
            )
            .bind(user_id)
            .bind(key)
            .fetch_optional(p)
            .await
        })?)
    }

    pub async fn payment(&self, payment_id: PaymentId) -> Result<Option<Payment>> {
        Ok(on_db!(self, read, |p| {
            sqlx::query_as(
                "SELECT payment_id, reservation_id, user_id, amount, payment_status, payment_method, created_at
                 FROM payments WHERE payment_id = $1",
            )
            .bind(payment_id)
            .fetch_optional(p)
            .await
        })?)
    }

    /// The purchase a reservation became.
    pub async fn purchase_for_reservation(&self, reservation_id: ReservationId) -> Result<Option<Purchase>> {
        Ok(on_db!(self, read, |p| {
            sqlx::query_as(
                "SELECT purchase_id, user_id, event_id, purchase_time, ticket_quantity, total_price, status
                 FROM purchases WHERE reservation_id = $1",
            )
            .bind(reservation_id)
            .fetch_optional(p)
            .await
        })?)
    }

    pub async fn tickets_for_purchase(&self, purchase_id: PurchaseId) -> Result<Vec<Ticket>> {
        Ok(on_db!(self, read, |p| {
            sqlx::query_as(
                "SELECT ticket_id, purchase_id, event_id, user_id, ticket_type_id, seat_number, status, created_at
                 FROM tickets WHERE purchase_id = $1 ORDER BY seat_number, ticket_id",
            )
            .bind(purchase_id)
            .fetch_all(p)
            .await
        })?)
    }

    /// Refunds a purchase to the buyer's wallet, frees its places and voids its tickets.
    pub async fn refund_purchase(
        &self,
        purchase_id: PurchaseId,
        cap: i64,
        now: OffsetDateTime,
    ) -> Result<RefundOutcome> {
        self.refund(purchase_id, cap, None, now).await
    }

    /// The refund an event's cancellation makes: as `refund_purchase`, with the buyer's e-mail
    /// (`mail_job`, a `cancellation_mail` job) enqueued in the same transaction. Refunding a
    /// purchase twice changes nothing (`AlreadyRefunded`), so a cancellation job that restarts
    /// part-way pays no one twice.
    pub async fn refund_for_cancellation(
        &self,
        purchase_id: PurchaseId,
        cap: i64,
        mail_job: JobId,
        now: OffsetDateTime,
    ) -> Result<RefundOutcome> {
        self.refund(purchase_id, cap, Some(mail_job), now).await
    }

    /// An event's completed purchases after `after`, in id order (a cancellation walks them).
    pub async fn completed_purchases_of_event(
        &self,
        event_id: EventId,
        after: PurchaseId,
        limit: i64,
    ) -> Result<Vec<PurchaseId>> {
        Ok(on_db!(self, read, |p| {
            sqlx::query_scalar(
                "SELECT purchase_id FROM purchases WHERE event_id = $1 AND status = 'completed' AND purchase_id > $2
                 ORDER BY purchase_id LIMIT $3",
            )
            .bind(event_id)
            .bind(after)
            .bind(limit)
            .fetch_all(p)
            .await
        })?)
    }

    async fn refund(
        &self,
        purchase_id: PurchaseId,
        cap: i64,
        mail_job: Option<JobId>,
        now: OffsetDateTime,
    ) -> Result<RefundOutcome> {
        let r = on_db!(self, write, |p| {
            async {
                let mut tx = p.begin_write().await?;
                let row: Option<(Uuid, i64, Option<Uuid>)> = sqlx::query_as(
                    "UPDATE purchases SET status = 'refunded', refunded_at = $1
                     WHERE purchase_id = $2 AND status = 'completed'
                     RETURNING user_id, total_price, reservation_id",
                )
                .bind(now)
                .bind(purchase_id)
                .fetch_optional(&mut *tx)
                .await?;
                let Some((user_id, amount, reservation_id)) = row else { return Ok::<_, sqlx::Error>(None) };
                let balance: Option<i64> = sqlx::query_scalar(
                    "UPDATE users SET balance = balance + $1 WHERE user_id = $2 AND balance + $1 <= $3 RETURNING balance",
                )
                .bind(amount)
                .bind(user_id)
                .bind(cap)
                .fetch_optional(&mut *tx)
                .await?;
                let Some(balance) = balance else { return Ok(Some(RefundOutcome::BalanceCap)) };
                sqlx::query(INSERT_LEDGER)
                    .bind(Uuid::now_v7())
                    .bind(user_id)
                    .bind(amount)
                    .bind(balance)
                    .bind("refund")
                    .bind(Some(purchase_id))
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                if let Some(rid) = reservation_id {
                    sqlx::query(
                        "UPDATE seats SET status = 'available', reservation_id = NULL, held_until = NULL, updated_at = $1
                         WHERE reservation_id = $2 AND status = 'sold'",
                    )
                    .bind(now)
                    .bind(rid)
                    .execute(&mut *tx)
                    .await?;
                    sqlx::query(FREE_HELD).bind(now).bind(rid).execute(&mut *tx).await?;
                    sqlx::query("UPDATE reservations SET status = 'cancelled', updated_at = $1 WHERE reservation_id = $2")
                        .bind(now)
                        .bind(rid)
                        .execute(&mut *tx)
                        .await?;
                    sqlx::query("UPDATE payments SET payment_status = 'refunded', updated_at = $1 WHERE reservation_id = $2")
                        .bind(now)
                        .bind(rid)
                        .execute(&mut *tx)
                        .await?;
                }
                // Voided tickets are the event's revocation list: their codes stop at the door.
                sqlx::query("UPDATE tickets SET status = 'void', voided_at = $1 WHERE purchase_id = $2 AND status = 'valid'")
                    .bind(now)
                    .bind(purchase_id)
                    .execute(&mut *tx)
                    .await?;
                if let Some(job) = mail_job {
                    sqlx::query(crate::jobs::ENQUEUE_JOB)
                    .bind(job)
                    .bind("cancellation_mail")
                    .bind(format!(r#"{{"purchase_id":"{purchase_id}"}}"#))
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                Ok(Some(RefundOutcome::Refunded { amount, balance }))
            }
            .await
        })?;
        match r {
            Some(RefundOutcome::BalanceCap) => Ok(RefundOutcome::BalanceCap),
            Some(done) => Ok(done),
            None => Ok(match self.purchase(purchase_id).await? {
                Some(_) => RefundOutcome::AlreadyRefunded,
                None => RefundOutcome::NotFound,
            }),
        }
    }
}
