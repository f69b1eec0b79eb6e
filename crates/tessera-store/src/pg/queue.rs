//! The waiting room on PostgreSQL (the rules: queue.rs).

use std::sync::Arc;

use sqlx::postgres::PgPool;
use tessera_domain::id::{EventId, QueueEntryId, UserId};
use tessera_domain::records::{QueueEntry, QueueState};
use time::OffsetDateTime;
use tokio::sync::oneshot;

use crate::hot_path::QueuePath;
use crate::queue::{
    ACTIVE_ADMISSIONS, ADMIT_NEXT, AdmissionTick, Advance, INSERT_ENTRY, Join, PLACES_LEFT, REQUEUE,
    SAVE_TICK, recount_places, take_positions_sql, unix_ms,
};
use crate::{Result, WritePool, affected};

use super::Pg;
use super::group::{Answers, Grouped, Tally};

impl QueuePath for Pg<'_> {
    async fn queue_state(&self, sql: String, event_id: EventId) -> Result<Option<QueueState>> {
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(event_id).fetch_optional(self.pool).await?)
    }

    async fn queue_entry_for(
        &self,
        sql: String,
        event_id: EventId,
        user_id: UserId,
        now: OffsetDateTime,
    ) -> Result<Option<QueueEntry>> {
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(now)
            .bind(event_id)
            .bind(user_id)
            .fetch_optional(self.pool)
            .await?)
    }

    async fn queue_entry(
        &self,
        sql: String,
        entry_id: QueueEntryId,
        now: OffsetDateTime,
    ) -> Result<Option<QueueEntry>> {
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(now)
            .bind(entry_id)
            .fetch_optional(self.pool)
            .await?)
    }

    async fn join(&self, j: Join) -> Result<Option<(bool, i32, QueueState)>> {
        match self.joins {
            // A new entry joins with the others arriving at the same moment; putting an ended
            // entry back (rare) goes alone.
            Some(groups) if j.requeue.is_none() => groups.groups.run(j).await,
            _ => join_one(self.pool, self.unsynced, j).await,
        }
    }

    async fn advance(&self, a: Advance) -> Result<u64> {
        let Advance { event_id, at, now, state_sql } = a;
        let mut tx = self.pool.begin_write().await?;
        let st: Option<QueueState> =
            sqlx::query_as(sqlx::AssertSqlSafe(state_sql)).bind(event_id).fetch_optional(&mut *tx).await?;
        let Some(st) = st.filter(|s| s.enabled) else { return Ok(0) };
        let active: i64 =
            sqlx::query_scalar(ACTIVE_ADMISSIONS).bind(event_id).bind(now).fetch_one(&mut *tx).await?;
        let left: Option<i64> = if recount_places(&st, now) {
            Some(sqlx::query_scalar(PLACES_LEFT).bind(event_id).bind(now).fetch_one(&mut *tx).await?)
        } else {
            None
        };
        let tick = AdmissionTick::plan(&st, active, at);
        let mut admitted: Vec<i32> = Vec::new();
        if tick.n > 0 {
            admitted = sqlx::query_scalar(ADMIT_NEXT)
                .bind(event_id)
                .bind(tick.n)
                .bind(now)
                .bind(now + time::Duration::seconds(i64::from(st.window_secs)))
                .fetch_all(&mut *tx)
                .await?;
        }
        let (serving, last, pace) = tick.outcome(&st, &admitted, at);
        sqlx::query(SAVE_TICK)
            .bind(serving)
            .bind(tessera_domain::clock::normalize_ts(last))
            .bind(now)
            .bind(pace)
            .bind(event_id)
            .bind(left.map(|l| i32::try_from(l).unwrap_or(i32::MAX)))
            .bind(left.map(|_| now))
            .bind(unix_ms(last))
            .bind(unix_ms(at))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(admitted.len() as u64)
    }
}

/// What a join answers: (made the entry, its position, the queue's state as the position was
/// taken), or `None` when the queue is off.
type Joined = (bool, i32, QueueState);

/// One join on its own (see `join_group` for the crowd's).
async fn join_one(pool: &PgPool, unsynced: &PgPool, j: Join) -> Result<Option<Joined>> {
    // The position comes from the counter in a statement of its own, unsynced
    // (`unsynced_pool`): with the entry in the same transaction, the counter row stayed
    // locked through every join's fsync and the crowd joined one at a time. The entry itself
    // is written and synced after it. A position whose entry is never written (a racing join
    // by the same person, or a crash) is a gap in the line: admission goes by position order
    // and skips it, and the estimate of how many are ahead errs by one for each gap. An entry
    // written a moment after the next position's is still the lowest waiting, so the next
    // tick admits it first.
    Ok(match take_positions(unsynced, j.event_id, 1).await? {
        None => None,
        Some(state) => {
            let pos = state.next_position;
            let n = match j.requeue {
                Some(id) => {
                    sqlx::query(REQUEUE).bind(pos).bind(j.now).bind(id).execute(pool).await.map(affected)?
                }
                None => sqlx::query(INSERT_ENTRY)
                    .bind(j.entry_id)
                    .bind(j.event_id)
                    .bind(j.user_id)
                    .bind(pos)
                    .bind(j.now)
                    .execute(pool)
                    .await
                    .map(affected)?,
            };
            // n == 0: a racing join by the same person already placed them; keep theirs.
            Some((n == 1, pos, state))
        }
    })
}

/// Groups of joins that may run at once: one gathers while the other writes (as pg/checkin.rs).
const SLOTS: usize = 2;
/// The most joins in one group.
const MAX_GROUP: usize = 256;

/// The new entries waiting to join together, and what became of the groups.
#[derive(Debug)]
pub(crate) struct JoinGroups {
    groups: Grouped<Join, Option<Joined>>,
    tally: Arc<Tally>,
}

impl JoinGroups {
    /// (the largest group run, the groups that failed whole).
    pub(crate) fn tally(&self) -> (usize, u64) {
        self.tally.read()
    }
}

/// Starts the task that runs a store's new joins in groups.
pub(crate) fn join_groups(pool: PgPool, unsynced: PgPool) -> JoinGroups {
    let tally = Arc::new(Tally::default());
    let t = tally.clone();
    // The counter's turn, passed from each group to the next in the order they were formed: a
    // group takes its positions only after the group formed before it, so positions follow the
    // order of arrival across groups too, not only within one.
    let mut last_turn: Option<oneshot::Receiver<()>> = None;
    // One join per person and event in a group (and in the groups running): a double click's
    // second join waits for the first one's group, and finds its entry.
    let groups = Grouped::start(
        SLOTS,
        MAX_GROUP,
        |j: &Join| (j.event_id, j.user_id),
        move |joins| {
            let (done, next) = oneshot::channel();
            let turn = Turn { after: last_turn.replace(next), done };
            join_group(pool.clone(), unsynced.clone(), t.clone(), turn, joins)
        },
    );
    JoinGroups { groups, tally }
}

/// A group's turn at the counter: it waits for the group before it (`after`), and lets the
/// next one go (`done`) once its positions are taken.
struct Turn {
    after: Option<oneshot::Receiver<()>>,
    done: oneshot::Sender<()>,
}

/// New entries for event `$1`, arrays of a join each: `$2` entry, `$3` user, `$4` position,
/// `$5` now. Answers the entries made (a person already in line keeps theirs).
const INSERT_ENTRIES: &str =
    "INSERT INTO queue_entries (entry_id, event_id, user_id, queue_position, status, created_at, updated_at)
     SELECT i.entry_id, $1, i.user_id, i.pos, 'waiting', i.at, i.at
     FROM unnest(CAST($2 AS UUID[]), CAST($3 AS UUID[]), CAST($4 AS INTEGER[]), CAST($5 AS TIMESTAMPTZ[]))
         AS i(entry_id, user_id, pos, at)
     ON CONFLICT (event_id, user_id) DO NOTHING RETURNING entry_id";

/// Runs a group of new joins: per event, ONE statement takes the group's positions from the
/// counter (unsynced, as a lone join's: see `join_one`) in the group's order of arrival, in the
/// group's turn; then ONE statement per event inserts the entries. The crowd takes the counter's
/// lock and waits for a WAL flush once per group instead of once per person. Should an event's
/// part fail, its joins are run again one by one (at the back of the line; positions already
/// taken are gaps, which admission skips), each answered on its own.
async fn join_group(
    pool: PgPool,
    unsynced: PgPool,
    tally: Arc<Tally>,
    turn: Turn,
    joins: Vec<Join>,
) -> Answers<Option<Joined>> {
    tally.ran(joins.len());
    let mut events: Vec<EventId> = joins.iter().map(|j| j.event_id).collect();
    events.sort_unstable_by_key(|e| uuid::Uuid::from(*e));
    events.dedup();
    let part_of = |e: EventId| (0..joins.len()).filter(|&i| joins[i].event_id == e).collect::<Vec<usize>>();
    // The group before this one has taken its positions (or has gone: then there is no one to
    // wait for).
    if let Some(after) = turn.after {
        let _ = after.await;
    }
    let mut taken = Vec::with_capacity(events.len());
    for &e in &events {
        let n = part_of(e).len();
        taken.push(take_positions(&unsynced, e, n).await);
    }
    let _ = turn.done.send(());
    let mut answers: Vec<Option<Result<Option<Joined>>>> = joins.iter().map(|_| None).collect();
    for (e, state) in events.into_iter().zip(taken) {
        let part = part_of(e);
        let done = match state {
            Ok(state) => insert_entries(&pool, e, state, &joins, &part).await,
            Err(e) => Err(e),
        };
        match done {
            Ok(done) => {
                for (i, a) in part.iter().zip(done) {
                    answers[*i] = Some(Ok(a));
                }
            }
            Err(e) => {
                tally.split();
                tracing::warn!(error = %e, joins = part.len(), "a group of waiting-room joins failed; running them one by one");
            }
        }
    }
    let mut out = Vec::with_capacity(joins.len());
    for (j, a) in joins.into_iter().zip(answers) {
        out.push(match a {
            Some(a) => a,
            None => join_one(&pool, &unsynced, j).await,
        });
    }
    out
}

/// Takes `n` positions from event `event_id`'s counter: the state after, or `None` when its
/// queue is off.
async fn take_positions(unsynced: &PgPool, event_id: EventId, n: usize) -> Result<Option<QueueState>> {
    let n = i32::try_from(n).map_err(crate::StoreError::other)?;
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(take_positions_sql()))
        .bind(event_id)
        .bind(n)
        .fetch_optional(unsynced)
        .await?)
}

/// Writes one event's part of a group (`part`: indices into `joins`, in arrival order) at the
/// positions up to the counter's `state`.
async fn insert_entries(
    pool: &PgPool,
    event_id: EventId,
    state: Option<QueueState>,
    joins: &[Join],
    part: &[usize],
) -> Result<Vec<Option<Joined>>> {
    let Some(state) = state else { return Ok(part.iter().map(|_| None).collect()) };
    fn col<T>(joins: &[Join], part: &[usize], f: impl Fn(&Join) -> T) -> Vec<T> {
        part.iter().map(|&i| f(&joins[i])).collect()
    }
    // The positions taken are the part's count up to the counter's new value, in arrival order.
    let first = state.next_position - i32::try_from(part.len()).map_err(crate::StoreError::other)? + 1;
    let positions: Vec<i32> = (first..=state.next_position).collect();
    let made: Vec<uuid::Uuid> = sqlx::query_scalar(INSERT_ENTRIES)
        .bind(event_id)
        .bind(col(joins, part, |j| uuid::Uuid::from(j.entry_id)))
        .bind(col(joins, part, |j| uuid::Uuid::from(j.user_id)))
        .bind(&positions)
        .bind(col(joins, part, |j| j.now))
        .fetch_all(pool)
        .await?;
    let made: std::collections::HashSet<uuid::Uuid> = made.into_iter().collect();
    Ok(part
        .iter()
        .zip(positions)
        .map(|(&i, pos)| {
            // The state as a lone join would have seen it: the counter at this person's position.
            let state = QueueState { next_position: pos, ..state.clone() };
            Some((made.contains(&uuid::Uuid::from(joins[i].entry_id)), pos, state))
        })
        .collect())
}
