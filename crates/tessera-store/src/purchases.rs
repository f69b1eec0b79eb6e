//! Purchases: read API and bulk loading for import and demo data.

use tessera_domain::id::{EventId, PurchaseId, UserId};
use tessera_domain::records::{Event, Purchase, User};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{Result, Store, WritePool, affected, on_db};

pub type NewPurchase = Purchase;

const COLUMNS: &str = "purchase_id, user_id, event_id, purchase_time, ticket_quantity, total_price, status";

impl Store {
    /// A page of an event's purchases, oldest first, after the cursor (purchase_time, purchase_id).
    pub async fn purchases_for_event(
        &self,
        event_id: EventId,
        after: Option<(OffsetDateTime, Uuid)>,
        limit: i64,
    ) -> Result<Vec<Purchase>> {
        self.purchases_page("event_id", event_id.into(), after, limit).await
    }

    /// A page of a user's purchases, oldest first.
    pub async fn purchases_for_user(
        &self,
        user_id: UserId,
        after: Option<(OffsetDateTime, Uuid)>,
        limit: i64,
    ) -> Result<Vec<Purchase>> {
        self.purchases_page("user_id", user_id.into(), after, limit).await
    }

    /// One purchase.
    pub async fn purchase(&self, purchase_id: PurchaseId) -> Result<Option<Purchase>> {
        let sql = format!("SELECT {COLUMNS} FROM purchases WHERE purchase_id = $1");
        Ok(on_db!(self, read, |p| {
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(purchase_id).fetch_optional(p).await
        })?)
    }

    async fn purchases_page(
        &self,
        owner_column: &'static str,
        owner: Uuid,
        after: Option<(OffsetDateTime, Uuid)>,
        limit: i64,
    ) -> Result<Vec<Purchase>> {
        // With no cursor, start before every possible row so one query text serves both cases.
        let (t, id) = after.unwrap_or((OffsetDateTime::UNIX_EPOCH, Uuid::nil()));
        let sql = format!(
            "SELECT {COLUMNS} FROM purchases WHERE {owner_column} = $1
               AND (purchase_time > $2 OR (purchase_time = $2 AND purchase_id > $3))
             ORDER BY purchase_time, purchase_id LIMIT $4"
        );
        Ok(on_db!(self, read, |p| {
            sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
                .bind(owner)
                .bind(t)
                .bind(id)
                .bind(limit)
                .fetch_all(p)
                .await
        })?)
    }

    /// Inserts purchases in one transaction (import and demo data); all or none.
    pub async fn insert_purchases(&self, rows: &[Purchase]) -> Result<u64> {
        let sql = format!(
            "INSERT INTO purchases ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (purchase_id) DO NOTHING"
        );
        Ok(on_db!(self, write, |p| {
            let mut tx = p.begin_write().await?;
            let mut n = 0;
            for r in rows {
                n += sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
                    .bind(r.purchase_id)
                    .bind(r.user_id)
                    .bind(r.event_id)
                    .bind(r.purchase_time)
                    .bind(r.ticket_quantity)
                    .bind(r.total_price)
                    .bind(r.status.as_str())
                    .execute(&mut *tx)
                    .await
                    .map(affected)?;
            }
            tx.commit().await.map(|_| n)
        })?)
    }

    /// Inserts users in one transaction, skipping e-mails that exist; returns how many were new.
    pub async fn insert_users(&self, rows: &[User]) -> Result<u64> {
        Ok(on_db!(self, write, |p| {
            let mut tx = p.begin_write().await?;
            let mut n = 0;
            for u in rows {
                n += sqlx::query(
                    "INSERT INTO users (user_id, name, email, password_hash, role, phone_number, created_at, updated_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
                )
                .bind(u.user_id)
                .bind(&u.name)
                .bind(&u.email)
                .bind(&u.password_hash)
                .bind(u.role.as_str())
                .bind(&u.phone_number)
                .bind(u.created_at)
                .bind(u.updated_at)
                .execute(&mut *tx)
                .await
                .map(affected)?;
            }
            tx.commit().await.map(|_| n)
        })?)
    }

    /// Inserts events in one transaction, skipping ids that exist; returns how many were new.
    pub async fn insert_events(&self, rows: &[Event]) -> Result<u64> {
        let r = on_db!(self, write, |p| {
            let mut tx = p.begin_write().await?;
            let mut n = 0;
            for e in rows {
                n += crate::events::insert_event_query(e).execute(&mut *tx).await.map(affected)?;
            }
            tx.commit().await.map(|_| n)
        });
        self.catalogue_changed();
        r
    }

    /// Ids of the given users that exist (import checks references before writing).
    pub async fn existing_user_emails(&self) -> Result<Vec<(String, UserId)>> {
        Ok(on_db!(self, read, |p| sqlx::query_as("SELECT email, user_id FROM users").fetch_all(p).await)?)
    }

    /// Every event id with its price (import computes missing totals from it).
    pub async fn event_prices(&self) -> Result<Vec<(EventId, Option<i64>)>> {
        Ok(on_db!(self, read, |p| sqlx::query_as("SELECT event_id, price FROM events").fetch_all(p).await)?)
    }
}
