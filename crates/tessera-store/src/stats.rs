//! Aggregates over purchases: per event, per category, and an overview.

use tessera_domain::id::EventId;
use tessera_domain::records::{CategoryStats, EventStats, ExportRow, Overview, SaleAudit};
use time::OffsetDateTime;

use crate::{Backend, Result, Store, on_db};

impl Store {
    pub async fn event_stats(&self, event_id: EventId) -> Result<EventStats> {
        let (purchases, tickets_sold, unique_attendees, revenue): (i64, i64, i64, i64) =
            on_db!(self, read, |p| {
                sqlx::query_as(
                    "SELECT COUNT(*), CAST(COALESCE(SUM(ticket_quantity), 0) AS BIGINT),
                        COUNT(DISTINCT user_id), CAST(COALESCE(SUM(total_price), 0) AS BIGINT)
                 FROM purchases WHERE event_id = $1",
                )
                .bind(event_id)
                .fetch_one(p)
                .await
            })?;
        // The one place the dialects differ: turning a timestamp into its UTC day.
        let day = match self.backend() {
            Backend::Sqlite => "substr(purchase_time, 1, 10)",
            Backend::Postgres => "to_char(purchase_time AT TIME ZONE 'UTC', 'YYYY-MM-DD')",
        };
        let sql = format!(
            "SELECT {day} AS day, CAST(SUM(ticket_quantity) AS BIGINT) AS tickets_sold,
                    CAST(SUM(total_price) AS BIGINT) AS revenue
             FROM purchases WHERE event_id = $1 GROUP BY 1 ORDER BY 1"
        );
        let sales_per_day = on_db!(self, read, |p| {
            sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(event_id).fetch_all(p).await
        })?;
        let checked_in_per_day = self.checked_in_per_day(event_id).await?;
        Ok(EventStats {
            purchases,
            tickets_sold,
            unique_attendees,
            revenue,
            sales_per_day,
            checked_in_per_day,
        })
    }

    /// Accepted entries at an event's doors per UTC hour ("2026-07-01T10") and gate.
    pub async fn entries_per_hour(&self, event_id: EventId) -> Result<Vec<(String, Option<String>, i64)>> {
        let hour = match self.backend() {
            Backend::Sqlite => "substr(scanned_at, 1, 13)",
            Backend::Postgres => "to_char(scanned_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24')",
        };
        let sql = format!(
            "SELECT {hour} AS hour, gate, CAST(COUNT(*) AS BIGINT) FROM checkins
             WHERE event_id = $1 AND direction = 'entry' AND result = 'accepted'
             GROUP BY 1, 2 ORDER BY 1, 2"
        );
        Ok(on_db!(self, read, |p| {
            sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(event_id).fetch_all(p).await
        })?)
    }

    /// Every ticket of an event with its holder, purchase and door state, in issue order.
    pub async fn export_rows(&self, event_id: EventId) -> Result<Vec<ExportRow>> {
        Ok(on_db!(self, read, |p| {
            sqlx::query_as(
                "SELECT t.ticket_id, t.status, tt.name AS ticket_type, t.seat_number, u.user_id AS holder_id,
                        u.name AS holder_name, u.email AS holder_email, t.guest_name, pu.purchase_id, pu.purchase_time,
                        pu.ticket_quantity, pu.total_price, t.mailed_at,
                        CAST(COALESCE((SELECT COUNT(*) FROM ticket_presence tp
                                       WHERE tp.ticket_id = COALESCE(t.admission_id, t.ticket_id) AND tp.entries > 0), 0) AS BIGINT) AS days_entered,
                        COALESCE((SELECT tp.inside FROM ticket_presence tp WHERE tp.ticket_id = COALESCE(t.admission_id, t.ticket_id)
                                  ORDER BY tp.day DESC LIMIT 1), FALSE) AS inside,
                        (SELECT MIN(tp.first_entry_at) FROM ticket_presence tp WHERE tp.ticket_id = COALESCE(t.admission_id, t.ticket_id)) AS first_entry_at
                 FROM tickets t
                 JOIN users u ON u.user_id = t.user_id
                 JOIN purchases pu ON pu.purchase_id = t.purchase_id
                 LEFT JOIN ticket_types tt ON tt.ticket_type_id = t.ticket_type_id
                 WHERE t.event_id = $1 ORDER BY t.ticket_id",
            )
            .bind(event_id)
            .fetch_all(p)
            .await
        })?)
    }

    /// Per category: events (starting in the range, if given), their tickets sold and revenue.
    pub async fn category_stats(
        &self,
        from: Option<OffsetDateTime>,
        to: Option<OffsetDateTime>,
    ) -> Result<Vec<CategoryStats>> {
        let from = from.unwrap_or(OffsetDateTime::UNIX_EPOCH);
        let to = to.unwrap_or(time::macros::datetime!(9999-12-31 23:59:59 UTC));
        Ok(on_db!(self, read, |p| {
            sqlx::query_as(
                "SELECT e.category AS category, COUNT(DISTINCT e.event_id) AS events,
                        CAST(COALESCE(SUM(p.ticket_quantity), 0) AS BIGINT) AS tickets_sold,
                        CAST(COALESCE(SUM(p.total_price), 0) AS BIGINT) AS revenue
                 FROM events e LEFT JOIN purchases p ON p.event_id = e.event_id
                 WHERE e.start_time >= $1 AND e.start_time <= $2
                 GROUP BY e.category ORDER BY revenue DESC, events DESC, category",
            )
            .bind(from)
            .bind(to)
            .fetch_all(p)
            .await
        })?)
    }

    pub async fn overview(&self) -> Result<Overview> {
        let users_by_role: Vec<(String, i64)> = on_db!(self, read, |p| {
            sqlx::query_as("SELECT role, COUNT(*) FROM users GROUP BY role ORDER BY role").fetch_all(p).await
        })?;
        let (events, events_published, events_cancelled): (i64, i64, i64) = on_db!(self, read, |p| {
            sqlx::query_as(
                "SELECT COUNT(*),
                        CAST(COALESCE(SUM(CASE WHEN status = 'published' THEN 1 ELSE 0 END), 0) AS BIGINT),
                        CAST(COALESCE(SUM(CASE WHEN status = 'cancelled' THEN 1 ELSE 0 END), 0) AS BIGINT)
                 FROM events",
            )
            .fetch_one(p)
            .await
        })?;
        let (purchases, tickets_sold, revenue): (i64, i64, i64) = on_db!(self, read, |p| {
            sqlx::query_as(
                "SELECT COUNT(*), CAST(COALESCE(SUM(ticket_quantity), 0) AS BIGINT),
                        CAST(COALESCE(SUM(total_price), 0) AS BIGINT)
                 FROM purchases",
            )
            .fetch_one(p)
            .await
        })?;
        Ok(Overview {
            users: users_by_role.iter().map(|(_, n)| n).sum(),
            // The CHECK constraint admits only the four roles: nothing is dropped here.
            users_by_role: users_by_role
                .into_iter()
                .filter_map(|(r, n)| Some((r.parse().ok()?, n)))
                .collect(),
            events,
            events_published,
            events_cancelled,
            purchases,
            tickets_sold,
            revenue,
        })
    }
}

impl Store {
    /// Audits a seated event's sales (the flash-sale benchmark's oversell check).
    pub async fn sale_audit(&self, event_id: EventId) -> Result<SaleAudit> {
        Ok(on_db!(self, read, |p| {
            sqlx::query_as(
                "SELECT
                   (SELECT COUNT(*) FROM seats WHERE event_id = $1 AND ticket_type_id IS NULL AND status = 'sold') AS seats_sold,
                   (SELECT COUNT(*) FROM tickets WHERE event_id = $1 AND status = 'valid') AS tickets_valid,
                   (SELECT COUNT(DISTINCT seat_number) FROM tickets WHERE event_id = $1 AND status = 'valid') AS ticketed_seats,
                   (SELECT COUNT(*) FROM payments p JOIN reservations r ON r.reservation_id = p.reservation_id
                     WHERE r.event_id = $1 AND p.payment_status = 'success') AS payments_success",
            )
            .bind(event_id)
            .fetch_one(p)
            .await
        })?)
    }

    /// Waiting-room entries still waiting behind one already let through (admitted, done or
    /// lapsed) that joined after them: 0 when admission kept the line's order.
    pub async fn queue_passed_over(&self, event_id: EventId) -> Result<i64> {
        Ok(on_db!(self, read, |p| {
            sqlx::query_scalar(
                "SELECT COUNT(*) FROM queue_entries
                 WHERE event_id = $1 AND status = 'waiting' AND queue_position < (
                     SELECT COALESCE(MAX(queue_position), 0) FROM queue_entries
                     WHERE event_id = $1 AND status <> 'waiting')",
            )
            .bind(event_id)
            .fetch_one(p)
            .await
        })?)
    }
}
