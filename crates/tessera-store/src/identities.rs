//! External identities: which Tessera user an OpenID Connect issuer's subject is.

use tessera_domain::id::UserId;
use tessera_domain::records::User;
use time::OffsetDateTime;

use crate::{Result, Store, StoreError, WritePool, affected, on_db};

/// What linking a subject to a user did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Linked {
    /// The subject now names this user.
    Now(UserId),
    /// Another request linked the subject first: it names this user.
    Already(UserId),
}

const USER_COLUMNS: &str = "u.user_id, u.name, u.email, u.password_hash, u.role, u.phone_number, \
     u.created_at, u.updated_at, u.disabled_at";

impl Store {
    /// The user an issuer's subject names.
    pub async fn user_by_identity(&self, issuer: &str, subject: &str) -> Result<Option<User>> {
        let sql = format!(
            "SELECT {USER_COLUMNS} FROM external_identities i JOIN users u ON u.user_id = i.user_id
             WHERE i.issuer = $1 AND i.subject = $2"
        );
        Ok(on_db!(self, read, |p| {
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(issuer).bind(subject).fetch_optional(p).await
        })?)
    }

    /// Links the subject to `user`, inserting the user first when `new` (both or neither: a
    /// taken e-mail is `Conflict`). A subject someone else linked meanwhile is not linked again.
    pub async fn link_identity(
        &self,
        issuer: &str,
        subject: &str,
        user: &User,
        new: bool,
        now: OffsetDateTime,
    ) -> Result<Linked> {
        let linked = on_db!(self, write, |p| {
            async {
                let mut tx = p.begin_write().await?;
                if new {
                    crate::users::bind_user(sqlx::query(crate::users::INSERT_USER), user).execute(&mut *tx).await?;
                }
                let n = sqlx::query(
                    "INSERT INTO external_identities (issuer, subject, user_id, created_at) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (issuer, subject) DO NOTHING",
                )
                .bind(issuer)
                .bind(subject)
                .bind(user.user_id)
                .bind(now)
                .execute(&mut *tx)
                .await
                .map(affected)?;
                if n == 0 {
                    tx.rollback().await?;
                    return Ok::<_, sqlx::Error>(false);
                }
                tx.commit().await?;
                Ok(true)
            }
            .await
        })
        .map_err(|e| match e {
            StoreError::Conflict(_) => StoreError::Conflict("email".into()),
            other => other,
        })?;
        if linked {
            return Ok(Linked::Now(user.user_id));
        }
        let first = self.user_by_identity(issuer, subject).await?;
        Ok(Linked::Already(first.map_or(user.user_id, |u| u.user_id)))
    }
}
