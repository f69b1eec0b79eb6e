//! Refresh tokens (rotated, stored hashed) and API keys (stored hashed, shown once).

use tessera_domain::id::{ApiKeyId, UserId};
use tessera_domain::records::{ApiKey, Rotation, User};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{Result, Store, affected, on_db};

impl Store {
    pub async fn insert_refresh_token(
        &self,
        token_hash: &str,
        user_id: UserId,
        family_id: Uuid,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<()> {
        on_db!(self, write, |p| {
            sqlx::query(
                "INSERT INTO refresh_tokens (token_hash, user_id, family_id, expires_at, created_at)
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(token_hash)
            .bind(user_id)
            .bind(family_id)
            .bind(expires_at)
            .bind(now)
            .execute(p)
            .await
            .map(affected)
        })?;
        Ok(())
    }

    /// The user a session (a refresh token kept by a browser as its sign-in cookie) belongs to,
    /// while it is neither revoked nor expired. Reading does not spend it.
    pub async fn live_session(&self, token_hash: &str, now: OffsetDateTime) -> Result<Option<UserId>> {
        Ok(on_db!(self, read, |p| {
            sqlx::query_scalar(
                "SELECT user_id FROM refresh_tokens
                 WHERE token_hash = $1 AND revoked_at IS NULL AND expires_at > $2",
            )
            .bind(token_hash)
            .bind(now)
            .fetch_optional(p)
            .await
        })?)
    }

    /// Spends a refresh token with one conditional update, so two racing refreshes cannot both win.
    pub async fn rotate_refresh_token(&self, token_hash: &str, now: OffsetDateTime) -> Result<Rotation> {
        let spent: Option<(UserId, Uuid)> = on_db!(self, write, |p| {
            sqlx::query_as(
                "UPDATE refresh_tokens SET revoked_at = $1
                 WHERE token_hash = $2 AND revoked_at IS NULL AND expires_at > $1
                 RETURNING user_id, family_id",
            )
            .bind(now)
            .bind(token_hash)
            .fetch_optional(p)
            .await
        })?;
        if let Some((user_id, family_id)) = spent {
            return Ok(Rotation::Rotated { user_id, family_id });
        }
        let family: Option<Uuid> = on_db!(self, read, |p| {
            sqlx::query_scalar(
                "SELECT family_id FROM refresh_tokens WHERE token_hash = $1 AND revoked_at IS NOT NULL",
            )
            .bind(token_hash)
            .fetch_optional(p)
            .await
        })?;
        match family {
            Some(family_id) => {
                self.revoke_refresh_family(family_id, now).await?;
                Ok(Rotation::Reused)
            }
            None => Ok(Rotation::Invalid),
        }
    }

    async fn revoke_refresh_family(&self, family_id: Uuid, now: OffsetDateTime) -> Result<u64> {
        let r = on_db!(self, write, |p| {
            sqlx::query(
                "UPDATE refresh_tokens SET revoked_at = $1 WHERE family_id = $2 AND revoked_at IS NULL",
            )
            .bind(now)
            .bind(family_id)
            .execute(p)
            .await
            .map(affected)
        })?;
        Ok(r)
    }

    pub async fn insert_api_key(&self, row: &ApiKey, key_hash: &str) -> Result<()> {
        on_db!(self, write, |p| {
            sqlx::query(
                "INSERT INTO api_keys (api_key_id, user_id, name, prefix, key_hash, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(row.api_key_id)
            .bind(row.user_id)
            .bind(&row.name)
            .bind(&row.prefix)
            .bind(key_hash)
            .bind(row.created_at)
            .execute(p)
            .await
            .map(affected)
        })?;
        Ok(())
    }

    /// The caller's live keys, newest first.
    pub async fn list_api_keys(&self, user_id: UserId) -> Result<Vec<ApiKey>> {
        Ok(on_db!(self, read, |p| {
            sqlx::query_as(
                "SELECT api_key_id, user_id, name, prefix, created_at FROM api_keys
                 WHERE user_id = $1 AND revoked_at IS NULL ORDER BY created_at DESC, api_key_id DESC",
            )
            .bind(user_id)
            .fetch_all(p)
            .await
        })?)
    }

    /// Revokes one of the owner's keys; false when there is no such live key.
    /// Revokes a live key: the owner's (`owner`), or anyone's (`None`, an admin).
    pub async fn revoke_api_key(
        &self,
        api_key_id: ApiKeyId,
        owner: Option<UserId>,
        now: OffsetDateTime,
    ) -> Result<bool> {
        let n = on_db!(self, write, |p| {
            sqlx::query(
                "UPDATE api_keys SET revoked_at = $1
                 WHERE api_key_id = $2 AND ($3 IS NULL OR user_id = $3) AND revoked_at IS NULL",
            )
            .bind(now)
            .bind(api_key_id)
            .bind(owner)
            .execute(p)
            .await
            .map(affected)
        })?;
        Ok(n == 1)
    }

    /// The owner of a live API key.
    pub async fn user_by_api_key(&self, key_hash: &str) -> Result<Option<User>> {
        Ok(on_db!(self, read, |p| {
            sqlx::query_as(
                "SELECT u.user_id, u.name, u.email, u.password_hash, u.role, u.phone_number, u.created_at, u.updated_at,
                        u.disabled_at
                 FROM api_keys k JOIN users u ON u.user_id = k.user_id
                 WHERE k.key_hash = $1 AND k.revoked_at IS NULL AND u.disabled_at IS NULL",
            )
            .bind(key_hash)
            .fetch_optional(p)
            .await
        })?)
    }
}
