//! Payments on PostgreSQL (the rules: payments.rs): two statements in one transaction, where
//! SQLite's inline writer runs eleven. Every statement is a round trip and a plan set up by a
//! backend, and on two cores those, not the rows written, were most of a sale's cost.
//!
//! 1. `DECIDE`: the conditional changes that decide (the Idempotency-Key, the reservation, the
//!    balance, the places), chained as data-modifying CTEs so each runs only when the one before
//!    it succeeded, returning what the refusal or the records need.
//! 2. The records of a payment that went through (ledger, payment, purchase, tickets, the
//!    admission used up, the ticket mail), the shared statements combined in one CTE chain.
//!
//! A refusal rolls the transaction back, so nothing the first statement wrote stands.

use sqlx::Row;
use tessera_domain::id::{EventId, TicketTypeId};
use tessera_domain::records::{PaidRows, PayInput};
use uuid::Uuid;

use crate::hot_path::PaymentPath;
use crate::jobs::{ENQUEUE_TICKET_MAIL, ticket_mail_payload};
use crate::payments::{FINISH_ADMISSION, INSERT_PAYMENT, INSERT_PURCHASE, Stop, paid_rows, tickets_insert};
use crate::query::{Arg, Sql};
use crate::wallet::INSERT_LEDGER;
use crate::{Result, WritePool, bind_args};

use super::Pg;

/// payments.rs's `INSERT_IDEMPOTENCY`, `COMPLETE_RESERVATION`, `DEBIT` and `SELL_PLACES` as one
/// statement: each step's WHERE names the step before, so a step that changes nothing stops the
/// chain. A CTE runs when it is first read, so the key is inserted (and a racing retry with the
/// same key waits for it) before the reservation is touched, as in the separate statements.
///
/// `$1` user, `$2` key (NULL: none), `$3` request hash, `$4` payment, `$5` now, `$6` reservation.
/// One row: whether the key was new, the reservation's event, quantity, amount and ticket type
/// (NULL: not payable), the balance after the debit (NULL: too low) and the places sold.
const DECIDE: &str = "WITH keyed AS (
         INSERT INTO idempotency_keys (user_id, idem_key, request_hash, payment_id, created_at)
         SELECT $1, CAST($2 AS TEXT), $3, $4, $5 WHERE $2 IS NOT NULL
         ON CONFLICT (user_id, idem_key) DO NOTHING RETURNING 1),
     res AS (
         UPDATE reservations SET status = 'completed', completed_at = $5, updated_at = $5
         WHERE reservation_id = $6 AND user_id = $1 AND status = 'pending' AND payment_deadline >= $5
           AND EXISTS (SELECT 1 FROM events e WHERE e.event_id = reservations.event_id AND e.status = 'published')
           AND ($2 IS NULL OR EXISTS (SELECT 1 FROM keyed))
         RETURNING event_id, quantity, amount, ticket_type_id),
     debit AS (
         UPDATE users SET balance = users.balance - res.amount FROM res
         WHERE users.user_id = $1 AND users.balance >= res.amount RETURNING users.balance),
     sold AS (
         UPDATE seats SET status = 'sold', held_until = NULL, updated_at = $5
         WHERE reservation_id = $6 AND status = 'held' AND EXISTS (SELECT 1 FROM debit)
         RETURNING seat_number, ticket_type_id)
     SELECT $2 IS NULL OR EXISTS (SELECT 1 FROM keyed) AS key_new,
         res.event_id, res.quantity, res.amount, res.ticket_type_id,
         (SELECT balance FROM debit) AS balance,
         ARRAY(SELECT seat_number FROM sold) AS seat_numbers,
         ARRAY(SELECT ticket_type_id FROM sold) AS seat_types
     FROM (SELECT 1) AS one LEFT JOIN res ON TRUE";

impl PaymentPath for Pg<'_> {
    async fn pay(&self, i: &PayInput) -> Result<std::result::Result<PaidRows, Stop>> {
        let mut tx = self.pool.begin_write().await?;
        let (key, hash) = i.idempotency.clone().unzip();
        let row = sqlx::query(DECIDE)
            .bind(i.user_id)
            .bind(key)
            .bind(hash)
            .bind(i.payment_id)
            .bind(i.now)
            .bind(i.reservation_id)
            .fetch_one(&mut *tx)
            .await?;
        if !row.try_get::<bool, _>("key_new")? {
            return Ok(Err(Stop::Key));
        }
        let Some(event_id) = row.try_get::<Option<EventId>, _>("event_id")? else {
            return Ok(Err(Stop::Reservation));
        };
        let quantity: i32 = row.try_get("quantity")?;
        let amount: i64 = row.try_get("amount")?;
        let ticket_type_id: Option<TicketTypeId> = row.try_get("ticket_type_id")?;
        let Some(balance) = row.try_get::<Option<i64>, _>("balance")? else {
            return Ok(Err(Stop::Balance(amount)));
        };
        let numbers: Vec<i32> = row.try_get("seat_numbers")?;
        let types: Vec<Option<TicketTypeId>> = row.try_get("seat_types")?;
        if numbers.len() != usize::try_from(quantity).unwrap_or(0) {
            // Cannot happen while holds last until the deadline checked above; refuse rather
            // than sell fewer places than were paid for.
            return Ok(Err(Stop::Reservation));
        }
        let places = numbers.into_iter().zip(types).collect();
        let rows = paid_rows(i, event_id, quantity, amount, ticket_type_id, places);
        let record = records(i, event_id, quantity, amount, balance, &rows);
        bind_args!(sqlx::query(sqlx::AssertSqlSafe(record.text)), record.args).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(Ok(rows))
    }
}

/// The records of a payment as one statement: the shared INSERTs and UPDATE (wallet.rs,
/// payments.rs, jobs.rs) as CTEs of the ticket mail's INSERT.
fn records(
    i: &PayInput,
    event_id: EventId,
    quantity: i32,
    amount: i64,
    balance: i64,
    rows: &PaidRows,
) -> Sql {
    let mut sql = Sql::new("WITH ledger AS (");
    sql.append(
        INSERT_LEDGER,
        [
            Arg::id(Uuid::now_v7()),
            Arg::id(i.user_id),
            Arg::Int(-amount),
            Arg::Int(balance),
            Arg::Text("payment".into()),
            Arg::id(i.reservation_id),
            Arg::Ts(i.now),
        ],
    );
    sql.push("), payment AS (").append(
        INSERT_PAYMENT,
        [
            Arg::id(i.payment_id),
            Arg::id(i.reservation_id),
            Arg::id(i.user_id),
            Arg::Int(amount),
            Arg::Text(i.method.clone()),
            Arg::Ts(i.now),
        ],
    );
    sql.push("), purchase AS (").append(
        INSERT_PURCHASE,
        [
            Arg::id(i.purchase_id),
            Arg::id(i.user_id),
            Arg::id(event_id),
            Arg::Ts(i.now),
            Arg::Int(i64::from(quantity)),
            Arg::Int(amount),
            Arg::id(i.reservation_id),
        ],
    );
    if let Some(tickets) = tickets_insert(&rows.tickets) {
        sql.push("), tickets AS (").append(&tickets.text, tickets.args);
    }
    sql.push("), admission AS (")
        .append(FINISH_ADMISSION, [Arg::Ts(i.now), Arg::id(event_id), Arg::id(i.user_id)]);
    sql.push(") ").append(
        ENQUEUE_TICKET_MAIL,
        [Arg::id(Uuid::now_v7()), Arg::Text(ticket_mail_payload(i.purchase_id, None)), Arg::Ts(i.now)],
    );
    sql
}
