//! Holds (reservations): all requested seats or places are held, or none; expired holds are
//! available to everyone else; releasing and sweeping return them.

use time::OffsetDateTime;
use uuid::Uuid;

use crate::query::{Arg, Sql};
use crate::seats::effective_status;
use crate::{Backend, Result, Store, affected, bind_args, on_db};

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ReservationRow {
    pub reservation_id: Uuid,
    pub user_id: Uuid,
    pub event_id: Uuid,
    pub ticket_type_id: Option<Uuid>,
    pub quantity: i32,
    /// Minor units.
    pub amount: i64,
    /// pending, completed, cancelled or expired (a pending hold past its deadline reads as expired).
    pub status: String,
    pub reserved_at: OffsetDateTime,
    pub payment_deadline: OffsetDateTime,
    pub completed_at: Option<OffsetDateTime>,
}

/// What to hold.
#[derive(Debug, Clone)]
pub enum HoldRequest {
    /// These numbered seats (sorted, distinct).
    Seats(Vec<i64>),
    /// This many places of a ticket type.
    Places { ticket_type_id: Uuid, quantity: i64 },
    /// This many numbered seats, whichever are free (the server's pick).
    AnySeats { quantity: i64 },
}

/// Most places one person may hold or buy: for the event, and of the ticket type asked for.
#[derive(Debug, Clone, Copy)]
pub struct HoldLimits {
    pub per_event: i64,
    pub per_type: Option<i64>,
}

/// The outcome of a hold attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HoldOutcome {
    /// Held: the reservation and its numbered seats (none for general admission).
    Held(ReservationRow, Vec<i64>),
    /// Some requested seats are held or sold by others (listed), or do not exist (listed).
    Unavailable { taken: Vec<i64>, unknown: Vec<i64> },
    /// Not enough places (of the ticket type, or numbered seats) are available.
    SoldOut { available: i64 },
    /// The person would exceed the limit; `already` counts what they hold or bought.
    OverLimit { already: i64, limit: i64 },
}

const COLUMNS: &str = "reservation_id, user_id, event_id, ticket_type_id, quantity, amount, \
     CASE WHEN status = 'pending' AND payment_deadline < $1 THEN 'expired' ELSE status END AS status, \
     reserved_at, payment_deadline, completed_at";

impl Store {
    /// Holds seats or places for `user_id` until `deadline`, in one transaction: the person's
    /// limit is checked under a per-user lock, then one conditional UPDATE takes the places and
    /// its rows-affected decides.
    #[allow(clippy::too_many_arguments)]
    pub async fn hold(
        &self,
        reservation_id: Uuid,
        user_id: Uuid,
        event_id: Uuid,
        req: &HoldRequest,
        limits: HoldLimits,
        now: OffsetDateTime,
        deadline: OffsetDateTime,
    ) -> Result<HoldOutcome> {
        let backend = self.backend();
        let (take, wanted, ticket_type_id) =
            take_statement(backend, event_id, req, reservation_id, now, deadline);
        // What the person holds or bought for the event, and of this ticket type.
        let count_sql = "SELECT CAST(COALESCE(SUM(quantity), 0) AS BIGINT),
                    CAST(COALESCE(SUM(CASE WHEN ticket_type_id = $4 THEN quantity ELSE 0 END), 0) AS BIGINT)
             FROM reservations
             WHERE user_id = $1 AND event_id = $2
               AND (status = 'completed' OR (status = 'pending' AND payment_deadline >= $3))";
        let outcome = on_db!(self, write, |p| {
            async {
                let mut tx = p.begin().await?;
                if backend == Backend::Postgres {
                    // One hold at a time per person, so the limit check below cannot be raced.
                    sqlx::query("SELECT user_id FROM users WHERE user_id = $1 FOR UPDATE")
                        .bind(user_id)
                        .execute(&mut *tx)
                        .await?;
                }
                let (for_event, for_type): (i64, i64) = sqlx::query_as(count_sql)
                    .bind(user_id)
                    .bind(event_id)
                    .bind(now)
                    .bind(ticket_type_id.unwrap_or(Uuid::nil()))
                    .fetch_one(&mut *tx)
                    .await?;
                if for_event + wanted > limits.per_event {
                    return Ok::<_, sqlx::Error>(Err(HoldOutcome::OverLimit {
                        already: for_event,
                        limit: limits.per_event,
                    }));
                }
                if let Some(limit) = limits.per_type
                    && for_type + wanted > limit
                {
                    return Ok(Err(HoldOutcome::OverLimit { already: for_type, limit }));
                }
                // The one conditional UPDATE; what it returns is what was taken.
                let taken: Vec<(i32, i64)> =
                    bind_args!(sqlx::query_as(sqlx::AssertSqlSafe(take.text.clone())), take.args)
                        .fetch_all(&mut *tx)
                        .await?;
                let n = taken.len() as i64;
                if n != wanted {
                    return Ok(Err(HoldOutcome::SoldOut { available: n }));
                }
                let amount: i64 = taken.iter().map(|t| t.1).sum();
                let quantity = i32::try_from(wanted).unwrap_or(i32::MAX);
                sqlx::query(
                    "INSERT INTO reservations (reservation_id, user_id, event_id, ticket_type_id, quantity, amount,
                         status, reserved_at, payment_deadline, created_at, updated_at)
                     VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7, $8, $7, $7)",
                )
                .bind(reservation_id)
                .bind(user_id)
                .bind(event_id)
                .bind(ticket_type_id)
                .bind(quantity)
                .bind(amount)
                .bind(now)
                .bind(deadline)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                let row = ReservationRow {
                    reservation_id,
                    user_id,
                    event_id,
                    ticket_type_id,
                    quantity,
                    amount,
                    status: "pending".into(),
                    reserved_at: now,
                    payment_deadline: deadline,
                    completed_at: None,
                };
                // Numbered seats only (general-admission places have no number to show).
                let mut seats: Vec<i64> =
                    if ticket_type_id.is_none() { taken.iter().map(|t| i64::from(t.0)).collect() } else { Vec::new() };
                seats.sort_unstable();
                Ok(Ok((row, seats)))
            }
            .await
        })?;
        match outcome {
            Ok((row, seats)) => Ok(HoldOutcome::Held(row, seats)),
            Err(HoldOutcome::SoldOut { available }) => match req {
                HoldRequest::Seats(numbers) => self.unavailable_seats(event_id, numbers, now).await,
                HoldRequest::Places { .. } | HoldRequest::AnySeats { .. } => {
                    Ok(HoldOutcome::SoldOut { available })
                }
            },
            Err(other) => Ok(other),
        }
    }

    /// Which of `numbers` are not available now, and which do not exist.
    async fn unavailable_seats(
        &self,
        event_id: Uuid,
        numbers: &[i64],
        now: OffsetDateTime,
    ) -> Result<HoldOutcome> {
        let mut sql = Sql::new("");
        let pn = sql.arg(Arg::Ts(now));
        let pe = sql.arg(Arg::Id(event_id));
        let list: Vec<String> = numbers.iter().map(|n| sql.arg(Arg::Int(*n))).collect();
        sql.push(&format!(
            "SELECT seat_number, {} AS status FROM seats
             WHERE event_id = {pe} AND ticket_type_id IS NULL AND seat_number IN ({})",
            effective_status(&pn),
            list.join(", ")
        ));
        let rows: Vec<(i32, String)> = on_db!(self, read, |p| {
            bind_args!(sqlx::query_as(sqlx::AssertSqlSafe(sql.text.clone())), sql.args).fetch_all(p).await
        })?;
        let taken = rows.iter().filter(|r| r.1 != "available").map(|r| i64::from(r.0)).collect();
        let unknown =
            numbers.iter().copied().filter(|n| !rows.iter().any(|r| i64::from(r.0) == *n)).collect();
        Ok(HoldOutcome::Unavailable { taken, unknown })
    }

    /// A reservation, with a pending hold past its deadline shown as expired.
    pub async fn reservation(
        &self,
        reservation_id: Uuid,
        now: OffsetDateTime,
    ) -> Result<Option<ReservationRow>> {
        let sql = format!("SELECT {COLUMNS} FROM reservations WHERE reservation_id = $2");
        Ok(on_db!(self, read, |p| {
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(now).bind(reservation_id).fetch_optional(p).await
        })?)
    }

    /// The seat numbers a reservation holds or bought (numbered seats only).
    pub async fn reservation_seats(&self, reservation_id: Uuid) -> Result<Vec<i64>> {
        let rows: Vec<i32> = on_db!(self, read, |p| {
            sqlx::query_scalar(
                "SELECT seat_number FROM seats WHERE reservation_id = $1 AND ticket_type_id IS NULL ORDER BY seat_number",
            )
            .bind(reservation_id)
            .fetch_all(p)
            .await
        })?;
        Ok(rows.into_iter().map(i64::from).collect())
    }

    /// Releases a pending hold of `user_id`; false when there is none to release.
    pub async fn release(&self, reservation_id: Uuid, user_id: Uuid, now: OffsetDateTime) -> Result<bool> {
        Ok(on_db!(self, write, |p| {
            async {
                let mut tx = p.begin().await?;
                let n = sqlx::query(
                    "UPDATE reservations SET status = 'cancelled', updated_at = $1
                     WHERE reservation_id = $2 AND user_id = $3 AND status = 'pending'",
                )
                .bind(now)
                .bind(reservation_id)
                .bind(user_id)
                .execute(&mut *tx)
                .await
                .map(affected)?;
                if n != 1 {
                    return Ok::<_, sqlx::Error>(false);
                }
                sqlx::query(FREE_HELD).bind(now).bind(reservation_id).execute(&mut *tx).await?;
                tx.commit().await.map(|_| true)
            }
            .await
        })?)
    }

    /// Marks pending holds past their deadline as expired and frees their places. Correctness does
    /// not depend on this running (expired holds already count as available); it keeps rows tidy.
    pub async fn sweep_expired_holds(&self, now: OffsetDateTime) -> Result<u64> {
        Ok(on_db!(self, write, |p| {
            async {
                let mut tx = p.begin().await?;
                let n = sqlx::query(
                    "UPDATE reservations SET status = 'expired', updated_at = $1
                     WHERE status = 'pending' AND payment_deadline < $1",
                )
                .bind(now)
                .execute(&mut *tx)
                .await
                .map(affected)?;
                sqlx::query(
                    "UPDATE seats SET status = 'available', reservation_id = NULL, held_until = NULL, updated_at = $1
                     WHERE status = 'held' AND held_until < $1",
                )
                .bind(now)
                .execute(&mut *tx)
                .await?;
                tx.commit().await.map(|_| n)
            }
            .await
        })?)
    }
}

/// Frees the places still held by a reservation: `$1` now, `$2` the reservation.
pub(crate) const FREE_HELD: &str =
    "UPDATE seats SET status = 'available', reservation_id = NULL, held_until = NULL, updated_at = $1
     WHERE reservation_id = $2 AND status = 'held'";

/// The one conditional UPDATE that takes the places, how many it must take, and the ticket type.
fn take_statement(
    backend: Backend,
    event_id: Uuid,
    req: &HoldRequest,
    reservation_id: Uuid,
    now: OffsetDateTime,
    deadline: OffsetDateTime,
) -> (Sql, i64, Option<Uuid>) {
    let mut sql = Sql::new("");
    let pr = sql.arg(Arg::Id(reservation_id));
    let pd = sql.arg(Arg::Ts(deadline));
    let pn = sql.arg(Arg::Ts(now));
    let pe = sql.arg(Arg::Id(event_id));
    let set = format!(
        "UPDATE seats SET status = 'held', reservation_id = {pr}, held_until = {pd}, updated_at = {pn}"
    );
    let returning = " RETURNING seat_number, price";
    let free = format!("(status = 'available' OR (status = 'held' AND held_until < {pn}))");
    // Which places a pick may take: a ticket type's, or the numbered seats.
    let (which, quantity, ticket_type_id) = match req {
        HoldRequest::Seats(numbers) => {
            let list: Vec<String> = numbers.iter().map(|n| sql.arg(Arg::Int(*n))).collect();
            sql.push(&format!(
                "{set} WHERE event_id = {pe} AND ticket_type_id IS NULL AND seat_number IN ({}) AND {free}{returning}",
                list.join(", ")
            ));
            return (sql, numbers.len() as i64, None);
        }
        HoldRequest::Places { ticket_type_id, quantity } => (
            format!("ticket_type_id = {}", sql.arg(Arg::Id(*ticket_type_id))),
            *quantity,
            Some(*ticket_type_id),
        ),
        HoldRequest::AnySeats { quantity } => ("ticket_type_id IS NULL".to_string(), *quantity, None),
    };
    let pq = sql.arg(Arg::Int(quantity));
    let picked = pick_free(backend, &pe, &which, &pn, &pq);
    sql.push(&format!(
        "{picked} {set} WHERE event_id = {pe} AND seat_number IN (SELECT seat_number FROM picked) AND {free}{returning}"
    ));
    (sql, quantity, ticket_type_id)
}

/// A CTE choosing `quantity` free places of the event matching `which`. No ORDER BY: with the
/// status leading the index, the scan meets free places first and stops after `quantity`, where
/// an ordered pick would scan past every sold seat late in a sale. The pick is materialized so it
/// runs once (a LIMIT subquery inside IN may be re-run by PostgreSQL and match more rows).
/// PostgreSQL skips places another transaction is taking instead of queueing behind it; SQLite
/// has one writer, so nothing else can be taking them.
fn pick_free(backend: Backend, event: &str, which: &str, now: &str, quantity: &str) -> String {
    let lock = if backend == Backend::Postgres { " FOR UPDATE SKIP LOCKED" } else { "" };
    format!(
        "WITH picked AS MATERIALIZED (
             SELECT seat_number FROM seats WHERE event_id = {event} AND {which}
               AND status IN ('available', 'held') AND (status = 'available' OR held_until < {now})
             LIMIT {quantity}{lock})"
    )
}
