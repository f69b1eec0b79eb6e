//! Accounts: users with a role.

use tessera_domain::id::UserId;
use tessera_domain::records::{AuthState, User, UserChanges, UserFilter};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::query::{Arg, Sql, like_pattern};
use crate::{Result, Store, StoreError, WritePool, affected, bind_args, on_db};

/// `$1` user, `$2` now.
const NOTE_AUTH_CHANGE: &str = "INSERT INTO auth_changes (user_id, changed_at) VALUES ($1, $2)";

const COLUMNS: &str =
    "user_id, name, email, password_hash, role, phone_number, created_at, updated_at, disabled_at";

/// Inserts a user: bind it with `bind_user`.
pub(crate) const INSERT_USER: &str =
    "INSERT INTO users (user_id, name, email, password_hash, role, phone_number, created_at, updated_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";

/// `INSERT_USER`'s arguments.
pub(crate) fn bind_user<'q, DB: sqlx::Database>(
    q: sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments>,
    u: &'q User,
) -> sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments>
where
    uuid::Uuid: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    Option<&'q str>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    OffsetDateTime: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    q.bind(u.user_id.as_uuid())
        .bind(u.name.as_str())
        .bind(u.email.as_str())
        .bind(u.password_hash.as_str())
        .bind(u.role.as_str())
        .bind(u.phone_number.as_deref())
        .bind(u.created_at)
        .bind(u.updated_at)
}

impl Store {
    /// Inserts a user; a taken e-mail is `Conflict` (the UNIQUE index decides, so races are safe).
    pub async fn insert_user(&self, u: &User) -> Result<()> {
        on_db!(self, write, |p| bind_user(sqlx::query(INSERT_USER), u).execute(p).await.map(affected))
            .map_err(|e| match e {
                StoreError::Conflict(_) => StoreError::Conflict("email".into()),
                other => other,
            })?;
        Ok(())
    }

    pub async fn user_by_email(&self, email: &str) -> Result<Option<User>> {
        let sql = format!("SELECT {COLUMNS} FROM users WHERE email = $1");
        Ok(on_db!(self, read, |p| {
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(email).fetch_optional(p).await
        })?)
    }

    pub async fn user_by_id(&self, user_id: UserId) -> Result<Option<User>> {
        let sql = format!("SELECT {COLUMNS} FROM users WHERE user_id = $1");
        Ok(on_db!(self, read, |p| {
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(user_id).fetch_optional(p).await
        })?)
    }

    /// The display names of those of these users who exist.
    pub async fn user_names(&self, ids: &[UserId]) -> Result<Vec<(UserId, String)>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut q = Sql::new("");
        let list: Vec<String> = ids.iter().map(|&id| q.arg(Arg::id(id))).collect();
        q.text = format!("SELECT user_id, name FROM users WHERE user_id IN ({})", list.join(", "));
        Ok(on_db!(self, read, |p| {
            bind_args!(sqlx::query_as(sqlx::AssertSqlSafe(q.text.clone())), q.args).fetch_all(p).await
        })?)
    }

    /// Users in creation order, filtered by role and by text over name and e-mail.
    pub async fn list_users(&self, f: &UserFilter) -> Result<Vec<User>> {
        let mut sql = Sql::new(&format!("SELECT {COLUMNS} FROM users WHERE 1=1"));
        if let Some(role) = &f.role {
            let p = sql.arg(Arg::Text(role.as_str().into()));
            sql.push(&format!(" AND role = {p}"));
        }
        if let Some(q) = &f.q {
            let p = sql.arg(Arg::Text(like_pattern(q)));
            sql.push(&format!(" AND (LOWER(name) LIKE {p} ESCAPE '\\' OR email LIKE {p} ESCAPE '\\')"));
        }
        if let Some((t, id)) = f.after {
            let pt = sql.arg(Arg::Ts(t));
            let pi = sql.arg(Arg::id(id));
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
        user_id: UserId,
        c: &UserChanges,
        now: OffsetDateTime,
    ) -> Result<Option<User>> {
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
            let p = sql.arg(Arg::Text(role.as_str().into()));
            sql.push(&format!(", role = {p}"));
        }
        let ends_sessions = c.password_hash.is_some() || c.disabled == Some(true);
        if ends_sessions {
            sql.push(&format!(", sessions_valid_after = {pn}, token_generation = token_generation + 1"));
        }
        match c.disabled {
            Some(true) => {
                sql.push(&format!(", disabled_at = COALESCE(disabled_at, {pn})"));
            }
            Some(false) => {
                sql.push(", disabled_at = NULL");
            }
            None => {}
        }
        let pid = sql.arg(Arg::id(user_id));
        sql.push(&format!(" WHERE user_id = {pid} RETURNING {COLUMNS}"));
        // What a token may do changed: every instance hears of it (`auth_changes_since`).
        let noted = ends_sessions || c.role.is_some() || c.disabled.is_some();
        Ok(on_db!(self, write, |p| {
            async {
                let mut tx = p.begin_write().await?;
                let row: Option<User> =
                    bind_args!(sqlx::query_as(sqlx::AssertSqlSafe(sql.text.clone())), sql.args)
                        .fetch_optional(&mut *tx)
                        .await?;
                if row.is_some() && ends_sessions {
                    sqlx::query(
                        "UPDATE refresh_tokens SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL",
                    )
                    .bind(now)
                    .bind(user_id)
                    .execute(&mut *tx)
                    .await?;
                }
                if row.is_some() && noted {
                    sqlx::query(NOTE_AUTH_CHANGE).bind(user_id).bind(now).execute(&mut *tx).await?;
                }
                tx.commit().await?;
                Ok::<_, sqlx::Error>(row)
            }
            .await
        })?)
    }

    /// What decides whether a user's tokens still work.
    pub async fn auth_state(&self, user_id: UserId) -> Result<Option<AuthState>> {
        Ok(on_db!(self, read, |p| {
            sqlx::query_as(
                "SELECT user_id, role, token_generation, sessions_valid_after, disabled_at FROM users WHERE user_id = $1",
            )
            .bind(user_id)
            .fetch_optional(p)
            .await
        })?)
    }

    /// The users whose sessions or role changed at or after `since`.
    pub async fn auth_changes_since(&self, since: OffsetDateTime) -> Result<Vec<UserId>> {
        Ok(on_db!(self, read, |p| {
            sqlx::query_scalar("SELECT DISTINCT user_id FROM auth_changes WHERE changed_at >= $1")
                .bind(since)
                .fetch_all(p)
                .await
        })?)
    }

    /// Logs out the session a refresh token belongs to: its family is revoked and the user's
    /// access tokens stop working (a new token generation; other devices refresh into it).
    /// The user, or `None` for an unknown token.
    pub async fn end_session(&self, token_hash: &str, now: OffsetDateTime) -> Result<Option<UserId>> {
        Ok(on_db!(self, write, |p| {
            async {
                let mut tx = p.begin_write().await?;
                let found: Option<(UserId, Uuid)> =
                    sqlx::query_as("SELECT user_id, family_id FROM refresh_tokens WHERE token_hash = $1")
                        .bind(token_hash)
                        .fetch_optional(&mut *tx)
                        .await?;
                let Some((user_id, family_id)) = found else { return Ok::<_, sqlx::Error>(None) };
                sqlx::query(
                    "UPDATE refresh_tokens SET revoked_at = $1 WHERE family_id = $2 AND revoked_at IS NULL",
                )
                .bind(now)
                .bind(family_id)
                .execute(&mut *tx)
                .await?;
                sqlx::query("UPDATE users SET token_generation = token_generation + 1 WHERE user_id = $1")
                    .bind(user_id)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(NOTE_AUTH_CHANGE).bind(user_id).bind(now).execute(&mut *tx).await?;
                tx.commit().await?;
                Ok(Some(user_id))
            }
            .await
        })?)
    }

    /// Deletes what no longer matters: session changes older than `changes_before` (every token
    /// issued before them has expired) and rate-limit windows that began before `windows_before`
    /// (epoch seconds). Answers the rows deleted.
    pub async fn purge_expired_limits(
        &self,
        changes_before: OffsetDateTime,
        windows_before: i64,
    ) -> Result<u64> {
        Ok(on_db!(self, write, |p| {
            async {
                let mut tx = p.begin_write().await?;
                let a = sqlx::query("DELETE FROM auth_changes WHERE changed_at < $1")
                    .bind(changes_before)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                let b = sqlx::query("DELETE FROM rate_limits WHERE window_start < $1")
                    .bind(windows_before)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                tx.commit().await?;
                Ok::<_, sqlx::Error>(a + b)
            }
            .await
        })?)
    }

    /// Counts users (for the admin overview and demo-data idempotency).
    pub async fn count_users(&self) -> Result<i64> {
        Ok(on_db!(self, read, |p| sqlx::query_scalar("SELECT COUNT(*) FROM users").fetch_one(p).await)?)
    }
}
