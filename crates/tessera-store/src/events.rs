//! The event catalogue.

use tessera_domain::id::{EventId, JobId};
use tessera_domain::records::{Event, EventFilter, SortValue};
use time::OffsetDateTime;
use uuid::Uuid;

use tessera_domain::event::EventSortKey;

use crate::query::{Arg, Sql, like_pattern};
use crate::sqlite::values as w;
use crate::{Result, Store, affected, bind_args, on_db};

const COLUMNS: &str = "event_id, name, description, location, start_time, end_time, organizer, organizer_id, \
     category, price, currency, max_attendees, url, status, seating, hold_secs, max_per_person, created_at, updated_at";

/// An event row read directly on SQLite (columns in `COLUMNS` order).
fn event_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Event> {
    Ok(Event {
        event_id: w::get_id(r, 0)?,
        name: r.get(1)?,
        description: r.get(2)?,
        location: r.get(3)?,
        start_time: w::get_ts(r, 4)?,
        end_time: w::get_opt_ts(r, 5)?,
        organizer: r.get(6)?,
        organizer_id: w::get_opt_id(r, 7)?,
        category: r.get(8)?,
        price: r.get(9)?,
        currency: r.get(10)?,
        max_attendees: r.get(11)?,
        url: r.get(12)?,
        status: w::get_word(r, 13)?,
        seating: w::get_word(r, 14)?,
        hold_secs: r.get(15)?,
        max_per_person: r.get(16)?,
        created_at: w::get_ts(r, 17)?,
        updated_at: w::get_ts(r, 18)?,
    })
}

/// The sort expression for a key; free events sort as price 0.
pub fn sort_expr(key: EventSortKey) -> &'static str {
    match key {
        EventSortKey::StartTime => "start_time",
        EventSortKey::CreatedAt => "created_at",
        EventSortKey::Price => "COALESCE(price, 0)",
    }
}

impl Store {
    /// A number that moves after every write to the events table made through this store, so
    /// an answer built from the catalogue can be kept until it moves: read it before reading
    /// the rows, and an answer kept under it is never newer than a write it missed. Writes by
    /// other processes (another instance, `tessera seed`) do not move it, so such a cache must
    /// also expire.
    pub fn catalogue_version(&self) -> u64 {
        self.catalogue.load(std::sync::atomic::Ordering::Acquire)
    }

    /// After a write to the events table (committed or not: a needless move costs one miss).
    pub(crate) fn catalogue_changed(&self) {
        self.catalogue.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    }

    pub async fn insert_event(&self, e: &Event) -> Result<()> {
        self.insert_events(std::slice::from_ref(e)).await?;
        Ok(())
    }

    pub async fn event_by_id(&self, event_id: EventId) -> Result<Option<Event>> {
        let sql = format!("SELECT {COLUMNS} FROM events WHERE event_id = $1");
        if let Some(r) = self.sqlite_readers() {
            return r.read(|c| w::first(c, &sql, &[w::id(event_id)], event_row));
        }
        Ok(on_db!(self, read, |p| {
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(event_id).fetch_optional(p).await
        })?)
    }

    /// One page of events in the requested order.
    pub async fn list_events(&self, f: &EventFilter) -> Result<Vec<Event>> {
        let mut sql = Sql::new(&format!("SELECT {COLUMNS} FROM events WHERE 1=1"));
        if let Some(v) = &f.category {
            let p = sql.arg(Arg::Text(v.clone()));
            sql.push(&format!(" AND category = {p}"));
        }
        if let Some(v) = &f.organizer {
            let p = sql.arg(Arg::Text(v.to_lowercase()));
            sql.push(&format!(" AND LOWER(organizer) = {p}"));
        }
        if let Some(v) = f.organizer_id {
            let p = sql.arg(Arg::id(v));
            sql.push(&format!(" AND organizer_id = {p}"));
        }
        if let Some(v) = &f.location {
            let p = sql.arg(Arg::Text(like_pattern(v)));
            sql.push(&format!(" AND LOWER(location) LIKE {p} ESCAPE '\\'"));
        }
        if let Some(v) = &f.q {
            let p = sql.arg(Arg::Text(like_pattern(v)));
            sql.push(&format!(
                " AND (LOWER(name) LIKE {p} ESCAPE '\\' OR LOWER(COALESCE(description, '')) LIKE {p} ESCAPE '\\')"
            ));
        }
        if let Some(v) = f.start_from {
            let p = sql.arg(Arg::Ts(v));
            sql.push(&format!(" AND start_time >= {p}"));
        }
        if let Some(v) = f.start_to {
            let p = sql.arg(Arg::Ts(v));
            sql.push(&format!(" AND start_time <= {p}"));
        }
        if let Some(v) = f.price_min {
            let p = sql.arg(Arg::Int(v));
            sql.push(&format!(" AND COALESCE(price, 0) >= {p}"));
        }
        if let Some(v) = f.price_max {
            let p = sql.arg(Arg::Int(v));
            sql.push(&format!(" AND COALESCE(price, 0) <= {p}"));
        }
        if let Some(v) = &f.status {
            let p = sql.arg(Arg::Text(v.as_str().into()));
            sql.push(&format!(" AND status = {p}"));
        }
        if let Some(v) = &f.seating {
            let p = sql.arg(Arg::Text(v.as_str().into()));
            sql.push(&format!(" AND seating = {p}"));
        }
        let expr = sort_expr(f.sort.key);
        let (cmp, dir) = if f.sort.descending { ("<", "DESC") } else { (">", "ASC") };
        if let Some((value, id)) = f.after {
            let pv = sql.arg(match value {
                SortValue::Ts(t) => Arg::Ts(t),
                SortValue::Int(i) => Arg::Int(i),
            });
            let pi = sql.arg(Arg::id(id));
            sql.push(&format!(" AND ({expr} {cmp} {pv} OR ({expr} = {pv} AND event_id {cmp} {pi}))"));
        }
        let pl = sql.arg(Arg::Int(f.limit));
        sql.push(&format!(" ORDER BY {expr} {dir}, event_id {dir} LIMIT {pl}"));
        Ok(on_db!(self, read, |p| {
            bind_args!(sqlx::query_as(sqlx::AssertSqlSafe(sql.text.clone())), sql.args).fetch_all(p).await
        })?)
    }

    /// Replaces the editable fields of an event; `None` when it does not exist.
    pub async fn update_event(&self, e: &Event) -> Result<Option<Event>> {
        let sql = format!(
            "UPDATE events SET name = $1, description = $2, location = $3, start_time = $4, end_time = $5,
                 organizer = $6, category = $7, price = $8, currency = $9, max_attendees = $10, url = $11,
                 updated_at = $12, hold_secs = $13, max_per_person = $14
             WHERE event_id = $15 RETURNING {COLUMNS}"
        );
        let r = on_db!(self, write, |p| {
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(&e.name)
                .bind(&e.description)
                .bind(&e.location)
                .bind(e.start_time)
                .bind(e.end_time)
                .bind(&e.organizer)
                .bind(&e.category)
                .bind(e.price)
                .bind(&e.currency)
                .bind(e.max_attendees)
                .bind(&e.url)
                .bind(e.updated_at)
                .bind(e.hold_secs)
                .bind(e.max_per_person)
                .bind(e.event_id)
                .fetch_optional(p)
                .await
        });
        self.catalogue_changed();
        r
    }

    /// Cancels an event in one transaction: its pending holds end (their places go back), its
    /// tickets are voided (their codes go on the revocation list), and the job that refunds its
    /// purchases and tells their buyers (`cancellation_job`, a resumable job: an event may have
    /// sold many) is enqueued. True when it was published until now (cancelling twice changes
    /// nothing).
    pub async fn cancel_event(
        &self,
        event_id: EventId,
        cancellation_job: JobId,
        now: OffsetDateTime,
    ) -> Result<bool> {
        let n = on_db!(self, write, |p| {
            async {
                let mut tx = crate::WritePool::begin_write(p).await?;
                let n = sqlx::query(
                    "UPDATE events SET status = 'cancelled', updated_at = $1 WHERE event_id = $2 AND status <> 'cancelled'",
                )
                .bind(now)
                .bind(event_id)
                .execute(&mut *tx)
                .await
                .map(affected)?;
                if n == 1 {
                    // Holds before their seats, in the order a payment locks them (no deadlock).
                    sqlx::query(
                        "UPDATE reservations SET status = 'cancelled', updated_at = $1
                         WHERE event_id = $2 AND status = 'pending'",
                    )
                    .bind(now)
                    .bind(event_id)
                    .execute(&mut *tx)
                    .await?;
                    sqlx::query(
                        "UPDATE seats SET status = 'available', reservation_id = NULL, held_until = NULL, updated_at = $1
                         WHERE event_id = $2 AND status = 'held'",
                    )
                    .bind(now)
                    .bind(event_id)
                    .execute(&mut *tx)
                    .await?;
                    sqlx::query(
                        "UPDATE tickets SET status = 'void', voided_at = $1 WHERE event_id = $2 AND status = 'valid'",
                    )
                    .bind(now)
                    .bind(event_id)
                    .execute(&mut *tx)
                    .await?;
                    sqlx::query(crate::jobs::ENQUEUE_JOB)
                    .bind(cancellation_job)
                    .bind("event_cancellation")
                    .bind(format!(r#"{{"event_id":"{event_id}"}}"#))
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                    tx.commit().await?;
                }
                Ok::<_, sqlx::Error>(n)
            }
            .await
        });
        self.catalogue_changed();
        Ok(n? == 1)
    }

    /// Categories with their number of published events, most events first.
    pub async fn categories(&self) -> Result<Vec<(String, i64)>> {
        Ok(on_db!(self, read, |p| {
            sqlx::query_as(
                "SELECT category, COUNT(*) AS n FROM events
                 WHERE category IS NOT NULL AND status = 'published'
                 GROUP BY category ORDER BY n DESC, category",
            )
            .fetch_all(p)
            .await
        })?)
    }

    pub async fn count_events(&self) -> Result<i64> {
        Ok(on_db!(self, read, |p| sqlx::query_scalar("SELECT COUNT(*) FROM events").fetch_one(p).await)?)
    }
}

/// The INSERT for one event (skipping an existing id), for use inside a caller's transaction.
pub(crate) fn insert_event_query<'q, DB: sqlx::Database>(
    e: &'q Event,
) -> sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments>
where
    Uuid: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    Option<String>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    OffsetDateTime: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    Option<OffsetDateTime>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    Option<Uuid>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    Option<i64>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    Option<i32>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    i32: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    sqlx::query(
        "INSERT INTO events (event_id, name, description, location, start_time, end_time, organizer,
             organizer_id, category, price, currency, max_attendees, url, status, seating, hold_secs,
             max_per_person, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)
         ON CONFLICT (event_id) DO NOTHING",
    )
    .bind(e.event_id)
    .bind(e.name.clone())
    .bind(e.description.clone())
    .bind(e.location.clone())
    .bind(e.start_time)
    .bind(e.end_time)
    .bind(e.organizer.clone())
    .bind(e.organizer_id.map(Uuid::from))
    .bind(e.category.clone())
    .bind(e.price)
    .bind(e.currency.clone())
    .bind(e.max_attendees)
    .bind(e.url.clone())
    .bind(e.status.as_str().to_string())
    .bind(e.seating.as_str().to_string())
    .bind(e.hold_secs)
    .bind(e.max_per_person)
    .bind(e.created_at)
    .bind(e.updated_at)
}
