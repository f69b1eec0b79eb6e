//! Holds (reservations): all requested seats or places are held, or none; expired holds are
//! available to everyone else; releasing and sweeping return them.

use tessera_domain::id::{EventId, QueueEntryId, ReservationId, TicketTypeId, UserId};
use tessera_domain::records::{
    HoldCommand, HoldLimits, HoldOutcome, HoldRequest, Reservation, ReservationStatus,
};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::hot_path::{HoldPath, hot};
use crate::query::{Arg, Sql};
use crate::seats::effective_status;
use crate::{Backend, Result, Store, WritePool, affected, on_db};

const COLUMNS: &str = "reservation_id, user_id, event_id, ticket_type_id, quantity, amount, \
     CASE WHEN status = 'pending' AND payment_deadline < $1 THEN 'expired' ELSE status END AS status, \
     reserved_at, payment_deadline, completed_at";

/// How many available seats a "seats taken" refusal suggests.
const NEARBY: i64 = 5;

/// Up to `$3` available seats of event `$1` on each side of seat `$2`, nearest first on each side
/// (two short scans of `seats_status_idx`).
pub(crate) const NEARBY_AVAILABLE: &str = "SELECT seat_number FROM (SELECT seat_number FROM seats
         WHERE event_id = $1 AND status = 'available' AND seat_number > $2 AND ticket_type_id IS NULL
         ORDER BY seat_number LIMIT $3) AS above
     UNION ALL
     SELECT seat_number FROM (SELECT seat_number FROM seats
         WHERE event_id = $1 AND status = 'available' AND seat_number < $2 AND ticket_type_id IS NULL
         ORDER BY seat_number DESC LIMIT $3) AS below";

/// The `NEARBY` seats of `candidates` closest to `seat` (the lower one on a tie), in seat order.
fn nearest(seat: i64, candidates: impl Iterator<Item = i64>) -> Vec<i64> {
    let mut c: Vec<i64> = candidates.collect();
    c.sort_by_key(|n| ((n - seat).abs(), *n));
    c.truncate(usize::try_from(NEARBY).unwrap_or(0));
    c.sort_unstable();
    c
}

impl Store {
    /// Holds seats or places for `user_id` until `deadline`, in one transaction: the person's
    /// limit is checked under a per-user lock, then one conditional UPDATE takes the places and
    /// its rows-affected decides.
    ///
    /// With `admission` (a waiting-room entry), the entry must be admitted and unexpired, checked
    /// first and in the same transaction, so an admission cannot run out between the check and
    /// the hold; refusals for it come before any other (`NotAdmitted`).
    pub async fn hold(&self, cmd: HoldCommand) -> Result<HoldOutcome> {
        let HoldCommand { reservation_id, user_id, event_id, admission, request, limits, now, deadline } =
            cmd;
        let req = &request;
        if let HoldRequest::Seats(numbers) = req {
            // Seats already taken are refused from a read, without a write transaction: in a
            // flash sale most requests for a random seat late in the sale are for a taken one,
            // and on SQLite each of them queued behind the single writer only to fail there.
            // The read may be a moment old, but only in the refusing direction can that matter
            // (a seat freed a moment ago is refused once); whatever looks free is decided below
            // by the one conditional UPDATE.
            let refused = self.unavailable_seats(event_id, numbers, now).await?;
            if let HoldOutcome::Unavailable { taken, unknown, .. } = &refused
                && (!taken.is_empty() || !unknown.is_empty())
            {
                // The admission still answers first: one more read, on refusals only.
                if let Some(entry) = admission
                    && !self.admission_holds(entry, now).await?
                {
                    return Ok(HoldOutcome::NotAdmitted);
                }
                return Ok(refused);
            }
        }
        let backend = self.backend();
        let (take, wanted, ticket_type_id) =
            take_statement(backend, event_id, req, reservation_id, now, deadline);
        let hold = Hold {
            backend,
            reservation_id,
            user_id,
            event_id,
            admission,
            limits,
            now,
            deadline,
            take,
            wanted,
            ticket_type_id,
            near_pick: matches!(req, HoldRequest::AnySeats { near: Some(_), .. }),
            server_pick: match req {
                HoldRequest::Seats(_) => None,
                HoldRequest::Places { .. } => Some(ServerPick { near: None }),
                HoldRequest::AnySeats { near, .. } => Some(ServerPick { near: *near }),
            },
        };
        let outcome = hot!(self, |h| h.hold(hold).await)?;
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

    /// PostgreSQL: how holds whose places the server picks were grouped so far (the largest
    /// group, and the groups that failed whole and were run one hold at a time); `None` on SQLite.
    pub fn hold_grouping(&self) -> Option<(usize, u64)> {
        self.holds.as_deref().map(crate::pg::HoldGroups::tally)
    }

    /// Which of `numbers` are not available now, which do not exist, and (when some are taken) up
    /// to `NEARBY` available seats nearest the first taken one, in one read.
    async fn unavailable_seats(
        &self,
        event_id: EventId,
        numbers: &[i64],
        now: OffsetDateTime,
    ) -> Result<HoldOutcome> {
        let mut sql = Sql::new("");
        let pn = sql.arg(Arg::Ts(now));
        let pe = sql.arg(Arg::id(event_id));
        let list: Vec<String> = numbers.iter().map(|n| sql.arg(Arg::Int(*n))).collect();
        sql.push(&format!(
            "SELECT seat_number, {} AS status FROM seats
             WHERE event_id = {pe} AND ticket_type_id IS NULL AND seat_number IN ({})",
            effective_status(&pn),
            list.join(", ")
        ));
        // (taken, unknown) of the rows read.
        let split = |rows: &[SeatStatus]| -> Refused {
            let taken = rows.iter().filter(|r| r.1 != "available").map(|r| i64::from(r.0)).collect();
            let unknown =
                numbers.iter().copied().filter(|n| !rows.iter().any(|r| i64::from(r.0) == *n)).collect();
            (taken, unknown)
        };
        // Enough on each side that dropping the seats asked for still leaves `NEARBY`.
        let per_side = NEARBY + i64::try_from(numbers.len()).unwrap_or(0);
        let near_args = |first: i64| [Arg::id(event_id), Arg::Int(first), Arg::Int(per_side)];
        let check = SeatCheck { statuses: sql, split: &split, near_args: &near_args };
        let ((taken, unknown), near) = hot!(self, |h| h.seat_check(&check).await)?;
        let nearby = match taken.first() {
            Some(&first) => nearest(first, near.into_iter().map(i64::from).filter(|n| !numbers.contains(n))),
            None => Vec::new(),
        };
        Ok(HoldOutcome::Unavailable { taken, unknown, nearby })
    }

    /// A reservation, with a pending hold past its deadline shown as expired.
    pub async fn reservation(
        &self,
        reservation_id: ReservationId,
        now: OffsetDateTime,
    ) -> Result<Option<Reservation>> {
        let sql = format!("SELECT {COLUMNS} FROM reservations WHERE reservation_id = $2");
        Ok(on_db!(self, read, |p| {
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(now).bind(reservation_id).fetch_optional(p).await
        })?)
    }

    /// The seat numbers a reservation holds or bought (numbered seats only).
    pub async fn reservation_seats(&self, reservation_id: ReservationId) -> Result<Vec<i64>> {
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
    pub async fn release(
        &self,
        reservation_id: ReservationId,
        user_id: UserId,
        now: OffsetDateTime,
    ) -> Result<bool> {
        Ok(on_db!(self, write, |p| {
            async {
                let mut tx = p.begin_write().await?;
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
                let mut tx = p.begin_write().await?;
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

/// What the person holds or bought for the event, and of ticket type `$4`.
pub(crate) const COUNT_HELD: &str = "SELECT CAST(COALESCE(SUM(quantity), 0) AS BIGINT),
            CAST(COALESCE(SUM(CASE WHEN ticket_type_id = $4 THEN quantity ELSE 0 END), 0) AS BIGINT)
     FROM reservations
     WHERE user_id = $1 AND event_id = $2
       AND (status = 'completed' OR (status = 'pending' AND payment_deadline >= $3))";

pub(crate) const INSERT_RESERVATION: &str =
    "INSERT INTO reservations (reservation_id, user_id, event_id, ticket_type_id, quantity, amount,
         status, reserved_at, payment_deadline, created_at, updated_at)
     VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7, $8, $7, $7)";

/// The refusal when `wanted` more places would pass the person's limits.
fn over_limit(for_event: i64, for_type: i64, wanted: i64, limits: HoldLimits) -> Option<HoldOutcome> {
    if for_event + wanted > limits.per_event {
        return Some(HoldOutcome::OverLimit { already: for_event, limit: limits.per_event });
    }
    match limits.per_type {
        Some(limit) if for_type + wanted > limit => Some(HoldOutcome::OverLimit { already: for_type, limit }),
        _ => None,
    }
}

/// A hold as `Store::hold` hands it to a database (pg/reservations.rs, sqlite/reservations.rs):
/// who, what, until when, and the statement that takes the places.
#[derive(Debug)]
pub(crate) struct Hold {
    pub(crate) backend: Backend,
    pub(crate) reservation_id: ReservationId,
    pub(crate) user_id: UserId,
    pub(crate) event_id: EventId,
    /// The waiting-room entry the hold is asked under: checked first, in the same transaction.
    pub(crate) admission: Option<QueueEntryId>,
    pub(crate) limits: HoldLimits,
    pub(crate) now: OffsetDateTime,
    pub(crate) deadline: OffsetDateTime,
    /// The one conditional UPDATE that takes the places (`take_statement`).
    pub(crate) take: Sql,
    /// How many places it must take.
    pub(crate) wanted: i64,
    pub(crate) ticket_type_id: Option<TicketTypeId>,
    /// A pick near a seat (`HoldRequest::AnySeats` with `near`).
    pub(crate) near_pick: bool,
    /// The places the server chooses (`None`: seats asked for by number), as PostgreSQL's
    /// grouped holds take them (pg/reservations.rs).
    pub(crate) server_pick: Option<ServerPick>,
}

/// A hold whose places the server chooses: `wanted` free places of the ticket type (numbered
/// seats without one), the nearest to `near` first when given.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ServerPick {
    pub(crate) near: Option<i64>,
}

/// A hold taken: the reservation and its numbered seats.
pub(crate) type Held = (Reservation, Vec<i64>);

impl Hold {
    /// The ticket type `COUNT_HELD` counts (`$4`; nil for numbered seats).
    pub(crate) fn counted_type(&self) -> Uuid {
        self.ticket_type_id.map_or(Uuid::nil(), Uuid::from)
    }

    /// The refusal when the person's limits would be passed, from `COUNT_HELD`'s two counts.
    pub(crate) fn over_limit(&self, for_event: i64, for_type: i64) -> Option<HoldOutcome> {
        over_limit(for_event, for_type, self.wanted, self.limits)
    }

    /// A pick near a seat that comes up short takes the rest anywhere (see `pick_nearest`): the
    /// statement for that, after `taken` places were taken. Built only then.
    pub(crate) fn rest(&self, taken: usize) -> Option<Sql> {
        (self.near_pick && (taken as i64) < self.wanted).then(|| {
            let rest = HoldRequest::AnySeats { quantity: self.wanted - taken as i64, near: None };
            take_statement(self.backend, self.event_id, &rest, self.reservation_id, self.now, self.deadline).0
        })
    }

    /// The new reservation and its numbered seats, from the places taken (seat number, price).
    pub(crate) fn held(&self, taken: &[(i32, i64)]) -> Held {
        let row = Reservation {
            reservation_id: self.reservation_id,
            user_id: self.user_id,
            event_id: self.event_id,
            ticket_type_id: self.ticket_type_id,
            quantity: i32::try_from(taken.len()).unwrap_or(i32::MAX),
            amount: taken.iter().map(|t| t.1).sum(),
            status: ReservationStatus::Pending,
            reserved_at: self.now,
            payment_deadline: self.deadline,
            completed_at: None,
        };
        // Numbered seats only (general-admission places have no number to show).
        let mut seats: Vec<i64> = if self.ticket_type_id.is_none() {
            taken.iter().map(|t| i64::from(t.0)).collect()
        } else {
            Vec::new()
        };
        seats.sort_unstable();
        (row, seats)
    }
}

/// A seat's number and effective status.
pub(crate) type SeatStatus = (i32, String);

/// The seats of a refusal: (taken, unknown).
pub(crate) type Refused = (Vec<i64>, Vec<i64>);

/// The reads behind a refusal of numbered seats (`unavailable_seats`), made by a database on one
/// connection: the seats' statuses, split into (taken, unknown); then, when some are taken, the
/// available seats near the first taken one (`NEARBY_AVAILABLE`).
pub(crate) struct SeatCheck<'a> {
    /// Seat number and effective status of each seat asked for that exists.
    pub(crate) statuses: Sql,
    /// (taken, unknown) of the statuses read.
    pub(crate) split: &'a (dyn Fn(&[SeatStatus]) -> Refused + Sync),
    /// `NEARBY_AVAILABLE`'s arguments around a taken seat.
    pub(crate) near_args: &'a (dyn Fn(i64) -> [Arg; 3] + Sync),
}

/// Frees the places still held by a reservation: `$1` now, `$2` the reservation.
pub(crate) const FREE_HELD: &str =
    "UPDATE seats SET status = 'available', reservation_id = NULL, held_until = NULL, updated_at = $1
     WHERE reservation_id = $2 AND status = 'held'";

/// The one conditional UPDATE that takes the places, how many it must take, and the ticket type.
pub(crate) fn take_statement(
    backend: Backend,
    event_id: EventId,
    req: &HoldRequest,
    reservation_id: ReservationId,
    now: OffsetDateTime,
    deadline: OffsetDateTime,
) -> (Sql, i64, Option<TicketTypeId>) {
    let mut sql = Sql::new("");
    let pr = sql.arg(Arg::id(reservation_id));
    let pd = sql.arg(Arg::Ts(deadline));
    let pn = sql.arg(Arg::Ts(now));
    let pe = sql.arg(Arg::id(event_id));
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
            format!("ticket_type_id = {}", sql.arg(Arg::id(*ticket_type_id))),
            *quantity,
            Some(*ticket_type_id),
        ),
        HoldRequest::AnySeats { quantity, near } => {
            if let Some(near) = near {
                let pq = sql.arg(Arg::Int(*quantity));
                let pnear = sql.arg(Arg::Int(*near));
                let picked = pick_nearest(backend, &pe, &pq, &pnear);
                sql.push(&format!(
                    "{picked} {set} WHERE event_id = {pe} AND ticket_type_id IS NULL AND seat_number IN (SELECT seat_number FROM picked) AND {free}{returning}"
                ));
                return (sql, *quantity, None);
            }
            ("ticket_type_id IS NULL".to_string(), *quantity, None)
        }
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

/// A CTE choosing the `quantity` available numbered seats nearest seat `near` (the lower on a
/// tie): `quantity` from each side of it, two short ordered scans of `seats_status_idx` as for a
/// 409's suggestions. PostgreSQL skips seats another transaction is taking, as in `pick_free`.
/// Should this find too few (seats under a lapsed hold are not looked for here), `hold` takes the
/// rest with the plain pick in the same transaction, a second statement only then, rather than a
/// third branch here that every hold would run.
fn pick_nearest(backend: Backend, event: &str, quantity: &str, near: &str) -> String {
    let lock = if backend == Backend::Postgres { " FOR UPDATE SKIP LOCKED" } else { "" };
    let numbered = format!("event_id = {event} AND ticket_type_id IS NULL");
    format!(
        "WITH near AS MATERIALIZED (
             SELECT seat_number, seat_number - {near} AS d FROM (SELECT seat_number FROM seats
                 WHERE {numbered} AND status = 'available' AND seat_number >= {near}
                 ORDER BY seat_number LIMIT {quantity}{lock}) AS above
             UNION ALL
             SELECT seat_number, {near} - seat_number AS d FROM (SELECT seat_number FROM seats
                 WHERE {numbered} AND status = 'available' AND seat_number < {near}
                 ORDER BY seat_number DESC LIMIT {quantity}{lock}) AS below),
         picked AS MATERIALIZED (
             SELECT seat_number FROM near ORDER BY d, seat_number LIMIT {quantity})"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions_are_the_nearest_in_seat_order() {
        assert_eq!(nearest(10, [11, 12, 13, 14, 15, 9, 8, 7, 6, 5].into_iter()), vec![7, 8, 9, 11, 12]);
        assert_eq!(nearest(10, [20, 1].into_iter()), vec![1, 20]);
        assert_eq!(nearest(1, std::iter::empty()), Vec::<i64>::new());
    }
}
