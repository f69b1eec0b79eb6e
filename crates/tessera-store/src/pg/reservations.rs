//! Holds on PostgreSQL (the rules: reservations.rs). Holds whose places the server chooses, and
//! that arrive together, are one call of `tessera_hold_group` (migrations 0020, 0021) per group
//! (group.rs): a loop of each hold's steps in one transaction, one round trip and one commit.
//! Seats asked for by number go alone, as below: they wait for a seat another hold is taking,
//! and two groups waiting on each other's seats would deadlock.

use std::sync::Arc;

use sqlx::Row;
use sqlx::postgres::{PgPool, PgRow};
use uuid::Uuid;

use crate::hot_path::HoldPath;
use crate::queue::ADMITTED_ENTRY_LOCKED;
use crate::reservations::{
    COUNT_HELD, Held, Hold, INSERT_RESERVATION, NEARBY_AVAILABLE, Refused, SeatCheck, SeatStatus,
};
use crate::{Result, WritePool, bind_args};
use tessera_domain::records::HoldOutcome;

use super::Pg;
use super::group::{Answers, Grouped, Tally, by_user, column, sale_slots};

/// The most holds in one call.
const MAX_GROUP: usize = 128;

/// A hold's answer: taken, or refused with nothing written.
type HoldAnswer = std::result::Result<Held, HoldOutcome>;

/// The holds waiting to be run together, and what became of the groups.
#[derive(Debug)]
pub(crate) struct HoldGroups {
    groups: Grouped<Hold, HoldAnswer>,
    tally: Arc<Tally>,
}

/// Starts the task that runs a store's server-picked holds in groups on `pool`.
pub(crate) fn hold_groups(pool: PgPool, connections: u32) -> HoldGroups {
    let tally = Arc::new(Tally::default());
    let t = tally.clone();
    // One hold per person in a group, and none of theirs in two groups at once: their limit
    // is counted under their lock, which one group takes once.
    let groups = Grouped::start(
        sale_slots(connections),
        MAX_GROUP,
        |h: &Hold| h.user_id,
        move |holds| hold_group(pool.clone(), t.clone(), holds),
    );
    HoldGroups { groups, tally }
}

impl HoldGroups {
    /// (the largest group run, the groups that failed whole).
    pub(crate) fn tally(&self) -> (usize, u64) {
        self.tally.read()
    }
}

/// Runs a group in one call. Should it fail (a deadlock with another instance's group, a lock
/// timeout), nothing of it was written and each hold is run again alone.
async fn hold_group(pool: PgPool, tally: Arc<Tally>, holds: Vec<Hold>) -> Answers<HoldAnswer> {
    tally.ran(holds.len());
    if holds.len() > 1
        && let Some(answers) = tally.whole("holds", holds.len(), run_holds(&pool, &holds).await)
    {
        return answers;
    }
    let mut out = Vec::with_capacity(holds.len());
    for h in &holds {
        out.push(match run_holds(&pool, std::slice::from_ref(h)).await {
            Ok(mut a) => a.pop().unwrap_or_else(|| Err(crate::StoreError::other("a hold lost its answer"))),
            Err(e) => Err(e),
        });
    }
    out
}

/// Runs `holds` as one call of `tessera_hold_group`: an answer each, in their order.
async fn run_holds(pool: &PgPool, holds: &[Hold]) -> Result<Answers<HoldAnswer>> {
    let order = by_user(holds, |h| Uuid::from(h.user_id));
    let col = |f: fn(&Hold) -> Option<Uuid>| column(holds, &order, f);
    let int = |f: fn(&Hold) -> Option<i64>| column(holds, &order, f);
    // In a transaction of our own, committed once every row is read: should reading them fail,
    // nothing was written and the members can be run again.
    let mut tx = pool.begin_write().await?;
    let rows: Vec<PgRow> =
        sqlx::query("SELECT * FROM tessera_hold_group($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)")
            .bind(col(|h| Some(h.reservation_id.into())))
            .bind(col(|h| Some(h.user_id.into())))
            .bind(col(|h| Some(h.event_id.into())))
            .bind(col(|h| h.admission.map(Uuid::from)))
            .bind(col(|h| h.ticket_type_id.map(Uuid::from)))
            .bind(int(|h| Some(h.wanted)))
            .bind(int(|h| h.server_pick.and_then(|p| p.near)))
            .bind(int(|h| Some(h.limits.per_event)))
            .bind(int(|h| h.limits.per_type))
            .bind(col(|h| Some(h.counted_type())))
            .bind(column(holds, &order, |h| h.now))
            .bind(column(holds, &order, |h| h.deadline))
            .fetch_all(&mut *tx)
            .await?;
    let mut out: Answers<HoldAnswer> = (0..holds.len())
        .map(|_| Err(crate::StoreError::other("a group of holds answered no row for one")))
        .collect();
    for row in rows {
        let n: i32 = row.try_get("r_n")?;
        let Some(&i) = usize::try_from(n).ok().and_then(|n| n.checked_sub(1)).and_then(|k| order.get(k))
        else {
            continue;
        };
        out[i] = Ok(held_row(&holds[i], &row)?);
    }
    tx.commit().await?;
    Ok(out)
}

/// One hold's answer from its row of `tessera_hold_group`.
fn held_row(h: &Hold, row: &PgRow) -> Result<HoldAnswer> {
    let outcome: String = row.try_get("r_outcome")?;
    Ok(match outcome.as_str() {
        "held" => {
            let seats: Vec<i32> = row.try_get("r_seats")?;
            let prices: Vec<i64> = row.try_get("r_prices")?;
            let taken: Vec<(i32, i64)> = seats.into_iter().zip(prices).collect();
            Ok(h.held(&taken))
        }
        "not_admitted" => Err(HoldOutcome::NotAdmitted),
        "over_limit" => {
            let (for_event, for_type) = (row.try_get("r_for_event")?, row.try_get("r_for_type")?);
            Err(h.over_limit(for_event, for_type).ok_or_else(|| {
                crate::StoreError::other(format!("a grouped hold over no limit ({for_event}, {for_type})"))
            })?)
        }
        "sold_out" => Err(HoldOutcome::SoldOut { available: i64::from(row.try_get::<i32, _>("r_taken")?) }),
        other => return Err(crate::StoreError::other(format!("a grouped hold answered {other}"))),
    })
}

impl HoldPath for Pg<'_> {
    async fn hold(&self, h: Hold) -> Result<std::result::Result<Held, HoldOutcome>> {
        match self.holds {
            Some(groups) if h.server_pick.is_some() => groups.groups.run(h).await,
            _ => hold_alone(self.pool, h).await,
        }
    }

    async fn seat_check(&self, c: &SeatCheck<'_>) -> Result<(Refused, Vec<i32>)> {
        let rows: Vec<SeatStatus> =
            bind_args!(sqlx::query_as(sqlx::AssertSqlSafe(c.statuses.text.clone())), c.statuses.args)
                .fetch_all(self.pool)
                .await?;
        let (taken, unknown) = (c.split)(&rows);
        let near: Vec<i32> = match taken.first() {
            Some(&first) => {
                bind_args!(sqlx::query_scalar(NEARBY_AVAILABLE), (c.near_args)(first))
                    .fetch_all(self.pool)
                    .await?
            }
            None => Vec::new(),
        };
        Ok(((taken, unknown), near))
    }
}

/// A hold in a transaction of its own, a statement a step.
async fn hold_alone(pool: &PgPool, h: Hold) -> Result<HoldAnswer> {
    let mut tx = pool.begin_write().await?;
    // One hold at a time per person, so the limit check below cannot be raced.
    sqlx::query("SELECT user_id FROM users WHERE user_id = $1 FOR UPDATE")
        .bind(h.user_id)
        .execute(&mut *tx)
        .await?;
    let admitted = match h.admission {
        // Locked, so a payment spending the admission at the same moment waits for this
        // hold, or this hold sees the admission spent.
        Some(entry) => {
            sqlx::query_scalar::<_, i64>(ADMITTED_ENTRY_LOCKED)
                .bind(entry)
                .bind(h.now)
                .fetch_one(&mut *tx)
                .await?
                > 0
        }
        None => true,
    };
    let (for_event, for_type): (i64, i64) = sqlx::query_as(COUNT_HELD)
        .bind(h.user_id)
        .bind(h.event_id)
        .bind(h.now)
        .bind(h.counted_type())
        .fetch_one(&mut *tx)
        .await?;
    Ok(if !admitted {
        Err(HoldOutcome::NotAdmitted)
    } else if let Some(over) = h.over_limit(for_event, for_type) {
        Err(over)
    } else {
        // The one conditional UPDATE; what it returns is what was taken.
        let mut taken: Vec<(i32, i64)> =
            bind_args!(sqlx::query_as(sqlx::AssertSqlSafe(h.take.text.clone())), h.take.args)
                .fetch_all(&mut *tx)
                .await?;
        if let Some(more) = h.rest(taken.len()) {
            let more: Vec<(i32, i64)> =
                bind_args!(sqlx::query_as(sqlx::AssertSqlSafe(more.text.clone())), more.args)
                    .fetch_all(&mut *tx)
                    .await?;
            taken.extend(more);
        }
        if taken.len() as i64 != h.wanted {
            Err(HoldOutcome::SoldOut { available: taken.len() as i64 })
        } else {
            let (row, seats) = h.held(&taken);
            sqlx::query(INSERT_RESERVATION)
                .bind(row.reservation_id)
                .bind(row.user_id)
                .bind(row.event_id)
                .bind(row.ticket_type_id)
                .bind(row.quantity)
                .bind(row.amount)
                .bind(h.now)
                .bind(h.deadline)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok((row, seats))
        }
    })
}
