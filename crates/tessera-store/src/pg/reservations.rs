//! Holds on PostgreSQL (the rules: reservations.rs).

use crate::hot_path::HoldPath;
use crate::queue::ADMITTED_ENTRY_LOCKED;
use crate::reservations::{
    COUNT_HELD, Held, Hold, INSERT_RESERVATION, NEARBY_AVAILABLE, Refused, SeatCheck, SeatStatus,
};
use crate::{Result, WritePool, bind_args};
use tessera_domain::records::HoldOutcome;

use super::Pg;

impl HoldPath for Pg<'_> {
    async fn hold(&self, h: Hold) -> Result<std::result::Result<Held, HoldOutcome>> {
        let mut tx = self.pool.begin_write().await?;
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
