//! The waiting room on PostgreSQL (the rules: queue.rs).

use tessera_domain::id::{EventId, QueueEntryId, UserId};
use tessera_domain::records::{QueueEntry, QueueState};
use time::OffsetDateTime;

use crate::hot_path::QueuePath;
use crate::queue::{
    ACTIVE_ADMISSIONS, ADMIT_NEXT, AdmissionTick, Advance, INSERT_ENTRY, Join, PLACES_LEFT, REQUEUE,
    SAVE_TICK, recount_places, unix_ms,
};
use crate::{Result, WritePool, affected};

use super::Pg;

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
        // The position comes from the counter in a statement of its own, unsynced
        // (`unsynced_pool`): with the entry in the same transaction, the counter row stayed
        // locked through every join's fsync and the crowd joined one at a time. The entry itself
        // is written and synced after it. A position whose entry is never written (a racing join
        // by the same person, or a crash) is a gap in the line: admission goes by position order
        // and skips it, and the estimate of how many are ahead errs by one for each gap. An entry
        // written a moment after the next position's is still the lowest waiting, so the next
        // tick admits it first.
        let state: Option<QueueState> = sqlx::query_as(sqlx::AssertSqlSafe(j.state_sql))
            .bind(j.event_id)
            .bind(true)
            .fetch_optional(self.unsynced)
            .await?;
        Ok(match state {
            None => None,
            Some(state) => {
                let pos = state.next_position;
                let n = match j.requeue {
                    Some(id) => sqlx::query(REQUEUE)
                        .bind(pos)
                        .bind(j.now)
                        .bind(id)
                        .execute(self.pool)
                        .await
                        .map(affected)?,
                    None => sqlx::query(INSERT_ENTRY)
                        .bind(j.entry_id)
                        .bind(j.event_id)
                        .bind(j.user_id)
                        .bind(pos)
                        .bind(j.now)
                        .execute(self.pool)
                        .await
                        .map(affected)?,
                };
                // n == 0: a racing join by the same person already placed them; keep theirs.
                Some((n == 1, pos, state))
            }
        })
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
