//! Seats and general-admission places: creating seat maps and ticket types, listing seats.
//!
//! Status is stored as available / held / sold; a hold whose `held_until` has passed is shown and
//! treated as available everywhere (lazy expiry), so correctness never waits for the sweeper.

use tessera_domain::id::{EventId, TicketTypeId};
use tessera_domain::records::{Event, Seat, SeatBlock, SeatStatus, TicketType, TicketTypeView};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::events::insert_event_query;
use crate::query::{Arg, Sql};
use crate::{Backend, Db, Result, Store, StoreError, WritePool, affected, bind_args, on_db};

const TT_COLUMNS: &str = "ticket_type_id, event_id, name, price, quota, per_person_limit, sale_starts_at, \
     sale_ends_at, requires_approval, allow_reentry, created_at, updated_at";

/// The effective status of a seat row at `$now` (the placeholder given).
pub(crate) fn effective_status(now: &str) -> String {
    format!("CASE WHEN status = 'held' AND held_until < {now} THEN 'available' ELSE status END")
}

/// Places inserted at once from which PostgreSQL's statistics of `seats` are refreshed on the
/// spot (`ANALYZE`). Without them the planner knows nothing of a new event's seats and guesses a
/// handful: for a fresh seat map it can estimate one available seat, so a hold's UPDATE walks
/// every available seat of the event to find the one or two it picked (a bitmap scan of the
/// status index joined to the pick), and a sale stalls. Autovacuum would analyze the table within
/// a minute, but a sale can open sooner, and some installations run without it.
/// SQLite's planner keeps no such statistics here and needs none for these statements.
const ANALYZE_FROM_PLACES: i64 = 1_000;

/// Inserts numbered places in one statement (a recursive series works on both databases).
const INSERT_BLOCK: &str = "WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < $2)
     INSERT INTO seats (event_id, seat_number, ticket_type_id, section, row_label, price, status, updated_at)
     SELECT $1, $3 + n - 1, $4, $5, CAST(((n - 1) / $6) + 1 AS TEXT), $7, 'available', $8 FROM s";

impl Store {
    /// After `added` places went in at once: refresh PostgreSQL's statistics of `seats` when the
    /// batch is large (see `ANALYZE_FROM_PLACES`). The places are committed by then, so a failure
    /// here is logged, not returned: the write succeeded, only the planner is less informed.
    async fn places_added(&self, added: i64) {
        if let Db::Postgres(p) = &self.db
            && added >= ANALYZE_FROM_PLACES
            && let Err(e) = sqlx::query("ANALYZE seats").execute(p).await
        {
            tracing::warn!(error = %e, "refreshing the planner statistics of seats failed");
        }
    }

    /// The planner's estimate of the rows in `seats` on PostgreSQL, `None` before any `ANALYZE`
    /// (and always on SQLite, whose planner keeps no such figure).
    pub async fn seats_row_estimate(&self) -> Result<Option<i64>> {
        match &self.db {
            Db::Sqlite { .. } => Ok(None),
            Db::Postgres(p) => {
                let n: f64 = sqlx::query_scalar(
                    "SELECT CAST(reltuples AS FLOAT8) FROM pg_class WHERE oid = CAST('seats' AS regclass)",
                )
                .fetch_one(p)
                .await?;
                // -1 until the table is first analyzed (or vacuumed).
                Ok((n >= 0.0).then_some(n as i64))
            }
        }
    }

    /// Creates an event and its seat map in one transaction.
    pub async fn create_event_with_seats(&self, e: &Event, blocks: &[SeatBlock]) -> Result<()> {
        let r = on_db!(self, write, |p| {
            let mut tx = p.begin_write().await?;
            insert_event_query(e).execute(&mut *tx).await?;
            for b in blocks {
                sqlx::query(INSERT_BLOCK)
                    .bind(e.event_id)
                    .bind(b.rows * b.seats_per_row)
                    .bind(b.first_number)
                    .bind(None::<Uuid>)
                    .bind(b.section.clone())
                    .bind(b.seats_per_row)
                    .bind(b.price)
                    .bind(e.created_at)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await
        });
        self.catalogue_changed();
        r?;
        self.places_added(blocks.iter().map(|b| b.rows * b.seats_per_row).sum()).await;
        Ok(())
    }

    /// A page of an event's seats in number order, optionally only those with `status`.
    pub async fn list_seats(
        &self,
        event_id: EventId,
        status: Option<SeatStatus>,
        after: i64,
        limit: i64,
        now: OffsetDateTime,
    ) -> Result<Vec<Seat>> {
        let mut sql = Sql::new("");
        let pn = sql.arg(Arg::Ts(now));
        let pe = sql.arg(Arg::id(event_id));
        let pa = sql.arg(Arg::Int(after));
        let eff = effective_status(&pn);
        sql.push(&format!(
            "SELECT seat_number, section, row_label, price, {eff} AS status FROM seats
             WHERE event_id = {pe} AND ticket_type_id IS NULL AND seat_number > {pa}"
        ));
        if let Some(s) = status {
            let ps = sql.arg(Arg::Text(s.as_str().into()));
            sql.push(&format!(" AND {eff} = {ps}"));
        }
        let pl = sql.arg(Arg::Int(limit));
        sql.push(&format!(" ORDER BY seat_number LIMIT {pl}"));
        Ok(on_db!(self, read, |p| {
            bind_args!(sqlx::query_as(sqlx::AssertSqlSafe(sql.text.clone())), sql.args).fetch_all(p).await
        })?)
    }

    /// Counts an event's numbered seats by effective status: (available, held, sold).
    pub async fn seat_counts(&self, event_id: EventId, now: OffsetDateTime) -> Result<(i64, i64, i64)> {
        let eff = effective_status("$1");
        let sql = format!(
            "SELECT CAST(COALESCE(SUM(CASE WHEN {eff} = 'available' THEN 1 ELSE 0 END), 0) AS BIGINT),
                    CAST(COALESCE(SUM(CASE WHEN {eff} = 'held' THEN 1 ELSE 0 END), 0) AS BIGINT),
                    CAST(COALESCE(SUM(CASE WHEN {eff} = 'sold' THEN 1 ELSE 0 END), 0) AS BIGINT)
             FROM seats WHERE event_id = $2 AND ticket_type_id IS NULL"
        );
        Ok(on_db!(self, read, |p| {
            sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(now).bind(event_id).fetch_one(p).await
        })?)
    }

    /// Creates a ticket type and its `quota` places in one transaction.
    pub async fn create_ticket_type(&self, t: &TicketType) -> Result<()> {
        let backend = self.backend();
        on_db!(self, write, |p| {
            let mut tx = p.begin_write().await?;
            if backend == Backend::Postgres {
                // Serialize place numbering per event between concurrent creations.
                sqlx::query("SELECT event_id FROM events WHERE event_id = $1 FOR UPDATE")
                    .bind(t.event_id)
                    .execute(&mut *tx)
                    .await?;
            }
            insert_ticket_type(t).execute(&mut *tx).await?;
            let next: i64 = sqlx::query_scalar(
                "SELECT CAST(COALESCE(MAX(seat_number), 0) + 1 AS BIGINT) FROM seats WHERE event_id = $1",
            )
            .bind(t.event_id)
            .fetch_one(&mut *tx)
            .await?;
            sqlx::query(INSERT_BLOCK)
                .bind(t.event_id)
                .bind(i64::from(t.quota))
                .bind(next)
                .bind(Some(t.ticket_type_id))
                .bind(None::<String>)
                .bind(i64::from(t.quota))
                .bind(t.price)
                .bind(t.created_at)
                .execute(&mut *tx)
                .await?;
            tx.commit().await
        })
        .map_err(|e| match e {
            StoreError::Conflict(_) => StoreError::Conflict("ticket_type_name".into()),
            other => other,
        })?;
        self.places_added(i64::from(t.quota)).await;
        Ok(())
    }

    pub async fn ticket_type(&self, ticket_type_id: TicketTypeId) -> Result<Option<TicketType>> {
        let sql = format!("SELECT {TT_COLUMNS} FROM ticket_types WHERE ticket_type_id = $1");
        Ok(on_db!(self, read, |p| {
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(ticket_type_id).fetch_optional(p).await
        })?)
    }

    /// Ticket types sold by approval whose name is `name` (ignoring ASCII case), of published
    /// events that start after `now`, soonest first: the forms a fixed path such as
    /// `/apply/student` stands for.
    pub async fn open_approval_types_named(
        &self,
        name: &str,
        now: OffsetDateTime,
        limit: i64,
    ) -> Result<Vec<TicketType>> {
        let cols = TT_COLUMNS.split(", ").map(|c| format!("t.{}", c.trim())).collect::<Vec<_>>().join(", ");
        let sql = format!(
            "SELECT {cols} FROM ticket_types t JOIN events e ON e.event_id = t.event_id
             WHERE t.requires_approval AND lower(t.name) = lower($1)
               AND e.status = 'published' AND e.start_time > $2
             ORDER BY e.start_time, t.ticket_type_id LIMIT $3"
        );
        Ok(on_db!(self, read, |p| {
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(name).bind(now).bind(limit).fetch_all(p).await
        })?)
    }

    /// An event's ticket types with live sold and held counts.
    pub async fn ticket_types(&self, event_id: EventId, now: OffsetDateTime) -> Result<Vec<TicketTypeView>> {
        let sql = format!(
            "SELECT {TT_COLUMNS} FROM ticket_types WHERE event_id = $1 ORDER BY created_at, ticket_type_id"
        );
        let rows: Vec<TicketType> = on_db!(self, read, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(event_id)
            .fetch_all(p)
            .await)?;
        let eff = effective_status("$1");
        let counts_sql = format!(
            "SELECT ticket_type_id,
                    CAST(COALESCE(SUM(CASE WHEN {eff} = 'sold' THEN 1 ELSE 0 END), 0) AS BIGINT),
                    CAST(COALESCE(SUM(CASE WHEN {eff} = 'held' THEN 1 ELSE 0 END), 0) AS BIGINT)
             FROM seats WHERE event_id = $2 AND ticket_type_id IS NOT NULL GROUP BY ticket_type_id"
        );
        let counts: Vec<(TicketTypeId, i64, i64)> = on_db!(self, read, |p| {
            sqlx::query_as(sqlx::AssertSqlSafe(counts_sql)).bind(now).bind(event_id).fetch_all(p).await
        })?;
        Ok(rows
            .into_iter()
            .map(|row| {
                let (sold, held) =
                    counts.iter().find(|c| c.0 == row.ticket_type_id).map(|c| (c.1, c.2)).unwrap_or((0, 0));
                TicketTypeView { row, sold, held }
            })
            .collect())
    }

    /// Updates a ticket type. A quota change adds places, or removes available ones (all or none:
    /// `Conflict` when fewer are available than must go). Prices of unsold places follow the type.
    pub async fn update_ticket_type(
        &self,
        t: &TicketType,
        old_quota: i32,
        now: OffsetDateTime,
    ) -> Result<()> {
        let delta = i64::from(t.quota) - i64::from(old_quota);
        let backend = self.backend();
        let eff = effective_status("$3");
        let skip_locked = if backend == Backend::Postgres { " FOR UPDATE SKIP LOCKED" } else { "" };
        // Materialized so the LIMIT pick runs once (see reservations::take_statement).
        let remove = format!(
            "WITH picked AS MATERIALIZED (
                 SELECT seat_number FROM seats WHERE ticket_type_id = $2 AND {eff} = 'available'
                 ORDER BY seat_number DESC LIMIT $4{skip_locked})
             DELETE FROM seats WHERE event_id = $1 AND seat_number IN (SELECT seat_number FROM picked)
               AND {eff} = 'available'"
        );
        let result = on_db!(self, write, |p| {
            async {
                let mut tx = p.begin_write().await?;
                let n = sqlx::query(
                    "UPDATE ticket_types SET name = $1, price = $2, quota = $3, per_person_limit = $4,
                     sale_starts_at = $5, sale_ends_at = $6, requires_approval = $7, updated_at = $8,
                     allow_reentry = $11
                 WHERE ticket_type_id = $9 AND quota = $10",
                )
                .bind(t.name.clone())
                .bind(t.price)
                .bind(t.quota)
                .bind(t.per_person_limit)
                .bind(t.sale_starts_at)
                .bind(t.sale_ends_at)
                .bind(t.requires_approval)
                .bind(now)
                .bind(t.ticket_type_id)
                .bind(old_quota)
                .bind(t.allow_reentry)
                .execute(&mut *tx)
                .await
                .map(affected)?;
                if n != 1 {
                    return Ok::<_, sqlx::Error>(false);
                }
                sqlx::query("UPDATE seats SET price = $1 WHERE ticket_type_id = $2 AND status = 'available'")
                    .bind(t.price)
                    .bind(t.ticket_type_id)
                    .execute(&mut *tx)
                    .await?;
                if delta > 0 {
                    let next: i64 = sqlx::query_scalar(
                    "SELECT CAST(COALESCE(MAX(seat_number), 0) + 1 AS BIGINT) FROM seats WHERE event_id = $1",
                )
                .bind(t.event_id)
                .fetch_one(&mut *tx)
                .await?;
                    sqlx::query(INSERT_BLOCK)
                        .bind(t.event_id)
                        .bind(delta)
                        .bind(next)
                        .bind(Some(t.ticket_type_id))
                        .bind(None::<String>)
                        .bind(delta)
                        .bind(t.price)
                        .bind(now)
                        .execute(&mut *tx)
                        .await?;
                } else if delta < 0 {
                    let removed = sqlx::query(sqlx::AssertSqlSafe(remove.clone()))
                        .bind(t.event_id)
                        .bind(t.ticket_type_id)
                        .bind(now)
                        .bind(-delta)
                        .execute(&mut *tx)
                        .await
                        .map(affected)?;
                    if removed != u64::try_from(-delta).unwrap_or(0) {
                        return Ok(false);
                    }
                }
                tx.commit().await.map(|_| true)
            }
            .await
        })?;
        if !result {
            return Err(StoreError::Conflict("quota".into()));
        }
        self.places_added(delta).await;
        Ok(())
    }
}

fn insert_ticket_type<'q, DB: sqlx::Database>(
    t: &'q TicketType,
) -> sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments>
where
    Uuid: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    i32: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    bool: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    OffsetDateTime: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    Option<OffsetDateTime>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    sqlx::query(
        "INSERT INTO ticket_types (ticket_type_id, event_id, name, price, quota, per_person_limit,
             sale_starts_at, sale_ends_at, requires_approval, created_at, updated_at, allow_reentry)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(t.ticket_type_id)
    .bind(t.event_id)
    .bind(t.name.clone())
    .bind(t.price)
    .bind(t.quota)
    .bind(t.per_person_limit)
    .bind(t.sale_starts_at)
    .bind(t.sale_ends_at)
    .bind(t.requires_approval)
    .bind(t.created_at)
    .bind(t.updated_at)
    .bind(t.allow_reentry)
}
