//! Accounts (seed 000's `users` table plus a role).

use time::OffsetDateTime;
use uuid::Uuid;

use crate::query::{Arg, Sql, like_pattern};
use crate::{Result, Store, StoreError, affected, bind_args, on_db};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserRow {
    pub user_id: Uuid,
    pub name: String,
    pub email: String,
    pub password_hash: String,
    pub role: String,
    pub phone_number: Option<String>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// `GET /users` filters; `after` is the keyset cursor (created_at, user_id).
#[derive(Debug, Clone, Default)]
pub struct UserFilter {
    pub role: Option<String>,
    pub q: Option<String>,
    pub after: Option<(OffsetDateTime, Uuid)>,
    pub limit: i64,
}

/// A profile change; `None` keeps the stored value.
#[derive(Debug, Clone, Default)]
pub struct UserChanges {
    pub name: Option<String>,
    pub phone_number: Option<Option<String>>,
    pub password_hash: Option<String>,
    pub role: Option<String>,
}

const COLUMNS: &str = "user_id, name, email, password_hash, role, phone_number, created_at, updated_at";

impl Store {
    /// Inserts a user; a taken e-mail is `Conflict` (the UNIQUE index decides, so races are safe).
    pub async fn insert_user(&self, u: &UserRow) -> Result<()> {
        on_db!(self, write, |p| {
            sqlx::query(
                "INSERT INTO users (user_id, name, email, password_hash, role, phone_number, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(u.user_id)
            .bind(&u.name)
            .bind(&u.email)
            .bind(&u.password_hash)
            .bind(&u.role)
            .bind(&u.phone_number)
            .bind(u.created_at)
            .bind(u.updated_at)
            .execute(p)
            .await
            .map(affected)
        })
        .map_err(|e| match e {
            StoreError::Conflict(_) => StoreError::Conflict("email".into()),
            other => other,
        })?;
        Ok(())
    }

    pub async fn user_by_email(&self, email: &str) -> Result<Option<UserRow>> {
        let sql = format!("SELECT {COLUMNS} FROM users WHERE email = $1");
        Ok(on_db!(self, read, |p| {
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(email).fetch_optional(p).await
        })?)
    }

    pub async fn user_by_id(&self, user_id: Uuid) -> Result<Option<UserRow>> {
        let sql = format!("SELECT {COLUMNS} FROM users WHERE user_id = $1");
        Ok(on_db!(self, read, |p| {
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(user_id).fetch_optional(p).await
        })?)
    }

    /// Users in creation order, filtered by role and by text over name and e-mail.
    pub async fn list_users(&self, f: &UserFilter) -> Result<Vec<UserRow>> {
        let mut sql = Sql::new(&format!("SELECT {COLUMNS} FROM users WHERE 1=1"));
        if let Some(role) = &f.role {
            let p = sql.arg(Arg::Text(role.clone()));
            sql.push(&format!(" AND role = {p}"));
        }
        if let Some(q) = &f.q {
            let p = sql.arg(Arg::Text(like_pattern(q)));
            sql.push(&format!(" AND (LOWER(name) LIKE {p} ESCAPE '\\' OR email LIKE {p} ESCAPE '\\')"));
        }
        if let Some((t, id)) = f.after {
            let pt = sql.arg(Arg::Ts(t));
            let pi = sql.arg(Arg::Id(id));
            sql.push(&format!(" AND (created_at > {pt} OR (created_at = {pt} AND user_id > {pi}))"));
        }
        let pl = sql.arg(Arg::Int(f.limit));
        sql.push(&format!(" ORDER BY created_at, user_id LIMIT {pl}"));
        Ok(on_db!(self, read, |p| {
            bind_args!(sqlx::query_as(sqlx::AssertSqlSafe(sql.text.clone())), sql.args).fetch_all(p).await
        })?)
    }

    /// Applies the given changes and returns the updated row (`None` for an unknown id).
    pub async fn update_user(
        &self,
        user_id: Uuid,
        c: &UserChanges,
        now: OffsetDateTime,
    ) -> Result<Option<UserRow>> {
        let mut sql = Sql::new("UPDATE users SET updated_at = ");
        let pn = sql.arg(Arg::Ts(now));
        sql.push(&pn);
        if let Some(name) = &c.name {
            let p = sql.arg(Arg::Text(name.clone()));
            sql.push(&format!(", name = {p}"));
        }
        match &c.phone_number {
            Some(Some(phone)) => {
                let p = sql.arg(Arg::Text(phone.clone()));
                sql.push(&format!(", phone_number = {p}"));
            }
            Some(None) => {
                sql.push(", phone_number = NULL");
            }
            None => {}
        }
        if let Some(h) = &c.password_hash {
            let p = sql.arg(Arg::Text(h.clone()));
            sql.push(&format!(", password_hash = {p}"));
        }
        if let Some(role) = &c.role {
            let p = sql.arg(Arg::Text(role.clone()));
            sql.push(&format!(", role = {p}"));
        }
        let pid = sql.arg(Arg::Id(user_id));
        sql.push(&format!(" WHERE user_id = {pid} RETURNING {COLUMNS}"));
        Ok(on_db!(self, write, |p| {
            bind_args!(sqlx::query_as(sqlx::AssertSqlSafe(sql.text.clone())), sql.args)
                .fetch_optional(p)
                .await
        })?)
    }

    /// Counts users (for the admin overview and demo-data idempotency).
    pub async fn count_users(&self) -> Result<i64> {
        Ok(on_db!(self, read, |p| sqlx::query_scalar("SELECT COUNT(*) FROM users").fetch_one(p).await)?)
    }
}
