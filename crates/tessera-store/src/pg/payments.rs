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
//!
//! Payments that arrive together are one group (group.rs): one call of `tessera_pay_group`
//! (migration 0020) decides them all, a loop of the same steps in which a refused payment takes
//! back its key; then one statement writes the records of those that went through, and one
//! commit answers them all.

use std::sync::Arc;

use sqlx::Row;
use sqlx::postgres::{PgPool, PgRow};
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
use super::group::{Answers, Grouped, Tally, by_user, column, sale_slots};

/// The most payments in one group.
const MAX_GROUP: usize = 128;

/// A payment's answer: the rows written, or why it stopped with nothing written.
type PayAnswer = std::result::Result<PaidRows, Stop>;

/// The payments waiting to be run together, and what became of the groups.
pub(crate) struct PayGroups {
    groups: Grouped<PayInput, PayAnswer>,
    tally: Arc<Tally>,
}

impl std::fmt::Debug for PayGroups {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PayGroups").finish_non_exhaustive()
    }
}

/// Starts the task that runs a store's payments in groups on `pool`.
pub(crate) fn pay_groups(pool: PgPool, connections: u32) -> PayGroups {
    let tally = Arc::new(Tally::default());
    let t = tally.clone();
    // One payment per person in a group, and none of theirs in two groups at once: a group
    // debits each balance once.
    let groups = Grouped::start(
        sale_slots(connections),
        MAX_GROUP,
        |i: &PayInput| i.user_id,
        move |pays| pay_group(pool.clone(), t.clone(), pays),
    );
    PayGroups { groups, tally }
}

impl PayGroups {
    /// (the largest group run, the groups that failed whole).
    pub(crate) fn tally(&self) -> (usize, u64) {
        self.tally.read()
    }
}

/// Runs a group in one transaction. Should it fail, nothing of it was written, and each
/// payment is run again alone (`pay_alone`), so one payment's trouble is answered to it alone.
async fn pay_group(pool: PgPool, tally: Arc<Tally>, pays: Vec<PayInput>) -> Answers<PayAnswer> {
    tally.ran(pays.len());
    if pays.len() > 1
        && let Some(answers) = tally.whole("payments", pays.len(), run_pays(&pool, &pays).await)
    {
        return answers;
    }
    let mut out = Vec::with_capacity(pays.len());
    for i in &pays {
        out.push(pay_alone(&pool, i).await);
    }
    out
}

/// Decides `pays` in one call of `tessera_pay_group`, writes the records of those paid in one
/// statement and commits: an answer each, in their order.
async fn run_pays(pool: &PgPool, pays: &[PayInput]) -> Result<Answers<PayAnswer>> {
    let order = by_user(pays, |i| Uuid::from(i.user_id));
    let col = |f: fn(&PayInput) -> Uuid| column(pays, &order, f);
    let key = |f: fn(&(String, String)) -> String| column(pays, &order, |i| i.idempotency.as_ref().map(f));
    let mut tx = pool.begin_write().await?;
    let rows: Vec<PgRow> = sqlx::query("SELECT * FROM tessera_pay_group($1, $2, $3, $4, $5, $6)")
        .bind(col(|i| i.user_id.into()))
        .bind(key(|k| k.0.clone()))
        .bind(key(|k| k.1.clone()))
        .bind(col(|i| i.payment_id.into()))
        .bind(col(|i| i.reservation_id.into()))
        .bind(column(pays, &order, |i| i.now))
        .fetch_all(&mut *tx)
        .await?;
    let mut out: Vec<Option<PayAnswer>> = (0..pays.len()).map(|_| None).collect();
    let mut paid = Records::default();
    for row in rows {
        let n: i32 = row.try_get("r_n")?;
        let Some(&k) = usize::try_from(n).ok().and_then(|n| n.checked_sub(1)).and_then(|n| order.get(n))
        else {
            continue;
        };
        let i = &pays[k];
        let outcome: String = row.try_get("r_outcome")?;
        out[k] = Some(match outcome.as_str() {
            "paid" => {
                let event_id: EventId = row.try_get("r_event")?;
                let quantity: i32 = row.try_get("r_quantity")?;
                let amount: i64 = row.try_get("r_amount")?;
                let ticket_type_id: Option<TicketTypeId> = row.try_get("r_type")?;
                let balance: i64 = row.try_get("r_balance")?;
                let numbers: Vec<i32> = row.try_get("r_seats")?;
                let types: Vec<Option<TicketTypeId>> = row.try_get("r_seat_types")?;
                let places = numbers.into_iter().zip(types).collect();
                let rows = paid_rows(i, event_id, quantity, amount, ticket_type_id, places);
                paid.add(i, balance, &rows);
                Ok(rows)
            }
            "key" => Err(Stop::Key),
            "balance" => Err(Stop::Balance(row.try_get("r_amount")?)),
            "reservation" => Err(Stop::Reservation),
            other => return Err(crate::StoreError::other(format!("a grouped payment answered {other}"))),
        });
    }
    if paid.len() > 0 {
        paid.write(&mut tx).await?;
    }
    tx.commit().await?;
    Ok(out
        .into_iter()
        .map(|a| a.ok_or_else(|| crate::StoreError::other("a group of payments answered no row for one")))
        .collect())
}

/// The records of a group's payments that went through, as arrays: a row each (and a row a
/// ticket), written by one statement (`RECORDS`).
#[derive(Default)]
struct Records {
    entry: Vec<Uuid>,
    user: Vec<Uuid>,
    amount: Vec<i64>,
    balance: Vec<i64>,
    reservation: Vec<Uuid>,
    now: Vec<time::OffsetDateTime>,
    payment: Vec<Uuid>,
    method: Vec<String>,
    purchase: Vec<Uuid>,
    event: Vec<Uuid>,
    quantity: Vec<i32>,
    job: Vec<Uuid>,
    payload: Vec<String>,
    ticket: Vec<Uuid>,
    ticket_purchase: Vec<Uuid>,
    ticket_event: Vec<Uuid>,
    ticket_user: Vec<Uuid>,
    ticket_type: Vec<Option<Uuid>>,
    ticket_seat: Vec<Option<i32>>,
    ticket_at: Vec<time::OffsetDateTime>,
}

/// `records`' statements over a group: ledger entry, payment, purchase, tickets, the admission
/// used up and the ticket mail, for each payment of the arrays (`$1`–`$13`, a payment each;
/// `$14`–`$20`, a ticket each).
const RECORDS: &str = "WITH pay AS (
         SELECT * FROM unnest(CAST($1 AS UUID[]), CAST($2 AS UUID[]), CAST($3 AS BIGINT[]), CAST($4 AS BIGINT[]),
             CAST($5 AS UUID[]), CAST($6 AS TIMESTAMPTZ[]), CAST($7 AS UUID[]), CAST($8 AS TEXT[]),
             CAST($9 AS UUID[]), CAST($10 AS UUID[]), CAST($11 AS INTEGER[]), CAST($12 AS UUID[]), CAST($13 AS TEXT[]))
             AS p(entry_id, user_id, amount, balance, reservation_id, now, payment_id, method, purchase_id,
                 event_id, quantity, job_id, payload)),
     ledger AS (
         INSERT INTO balance_ledger (entry_id, user_id, amount, balance_after, kind, reference_id, created_at)
         SELECT entry_id, user_id, -amount, balance, 'payment', reservation_id, now FROM pay),
     payment AS (
         INSERT INTO payments (payment_id, reservation_id, user_id, amount, payment_status, payment_method,
             created_at, updated_at)
         SELECT payment_id, reservation_id, user_id, amount, 'success', method, now, now FROM pay),
     purchase AS (
         INSERT INTO purchases (purchase_id, user_id, event_id, purchase_time, ticket_quantity, total_price,
             status, reservation_id)
         SELECT purchase_id, user_id, event_id, now, quantity, amount, 'completed', reservation_id FROM pay),
     tickets AS (
         INSERT INTO tickets (ticket_id, purchase_id, event_id, user_id, ticket_type_id, seat_number, status, created_at)
         SELECT t.ticket_id, t.purchase_id, t.event_id, t.user_id, t.ticket_type_id, t.seat_number, 'valid', t.created_at
         FROM unnest(CAST($14 AS UUID[]), CAST($15 AS UUID[]), CAST($16 AS UUID[]), CAST($17 AS UUID[]),
             CAST($18 AS UUID[]), CAST($19 AS INTEGER[]), CAST($20 AS TIMESTAMPTZ[]))
             AS t(ticket_id, purchase_id, event_id, user_id, ticket_type_id, seat_number, created_at)),
     -- As FINISH_ADMISSION: each entry found by its person's key, changed by its own.
     admission AS (
         UPDATE queue_entries SET status = 'done', updated_at = pay.now FROM pay
         WHERE queue_entries.entry_id = (SELECT q.entry_id FROM queue_entries q
                                         WHERE q.event_id = pay.event_id AND q.user_id = pay.user_id)
           AND queue_entries.status = 'admitted')
     INSERT INTO jobs (job_id, kind, payload, status, run_at, created_at, updated_at)
     SELECT job_id, 'ticket_mail', payload, 'queued', now, now, now FROM pay";

impl Records {
    fn len(&self) -> usize {
        self.payment.len()
    }

    /// Adds a payment that went through (as `records` writes one).
    fn add(&mut self, i: &PayInput, balance: i64, rows: &PaidRows) {
        let (amount, event_id, quantity) =
            (rows.payment.amount, rows.purchase.event_id, rows.purchase.ticket_quantity);
        self.entry.push(Uuid::now_v7());
        self.user.push(i.user_id.into());
        self.amount.push(amount);
        self.balance.push(balance);
        self.reservation.push(i.reservation_id.into());
        self.now.push(i.now);
        self.payment.push(i.payment_id.into());
        self.method.push(i.method.clone());
        self.purchase.push(i.purchase_id.into());
        self.event.push(event_id.into());
        self.quantity.push(quantity);
        self.job.push(Uuid::now_v7());
        self.payload.push(ticket_mail_payload(i.purchase_id, None));
        for t in &rows.tickets {
            self.ticket.push(t.ticket_id.into());
            self.ticket_purchase.push(t.purchase_id.into());
            self.ticket_event.push(t.event_id.into());
            self.ticket_user.push(t.user_id.into());
            self.ticket_type.push(t.ticket_type_id.map(Uuid::from));
            self.ticket_seat.push(t.seat_number);
            self.ticket_at.push(t.created_at);
        }
    }

    /// Writes them, in the caller's transaction.
    async fn write(self, tx: &mut sqlx::PgConnection) -> Result<()> {
        sqlx::query(RECORDS)
            .bind(self.entry)
            .bind(self.user)
            .bind(self.amount)
            .bind(self.balance)
            .bind(self.reservation)
            .bind(self.now)
            .bind(self.payment)
            .bind(self.method)
            .bind(self.purchase)
            .bind(self.event)
            .bind(self.quantity)
            .bind(self.job)
            .bind(self.payload)
            .bind(self.ticket)
            .bind(self.ticket_purchase)
            .bind(self.ticket_event)
            .bind(self.ticket_user)
            .bind(self.ticket_type)
            .bind(self.ticket_seat)
            .bind(self.ticket_at)
            .execute(tx)
            .await?;
        Ok(())
    }
}

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
        match self.pays {
            Some(groups) => groups.groups.run(i.clone()).await,
            None => pay_alone(self.pool, i).await,
        }
    }
}

/// A payment in a transaction of its own.
async fn pay_alone(pool: &PgPool, i: &PayInput) -> Result<PayAnswer> {
    let mut tx = pool.begin_write().await?;
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
