//! Accounts: users, what their tokens depend on, API keys.

use time::OffsetDateTime;
use uuid::Uuid;

use crate::Role;
use crate::id::{ApiKeyId, UserId};

#[derive(Debug, Clone)]
#[cfg_attr(feature = "sqlx", derive(sqlx::FromRow))]
pub struct User {
    pub user_id: UserId,
    pub name: String,
    pub email: String,
    pub password_hash: String,
    #[cfg_attr(feature = "sqlx", sqlx(try_from = "String"))]
    pub role: Role,
    pub phone_number: Option<String>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    /// When an admin disabled the account (it cannot sign in); `None` while it is enabled.
    pub disabled_at: Option<OffsetDateTime>,
}

/// `GET /users` filters; `after` is the keyset cursor (created_at, user_id).
#[derive(Debug, Clone, Default)]
pub struct UserFilter {
    pub role: Option<Role>,
    pub q: Option<String>,
    pub after: Option<(OffsetDateTime, UserId)>,
    pub limit: i64,
}

/// A profile change; `None` keeps the stored value.
#[derive(Debug, Clone, Default)]
pub struct UserChanges {
    pub name: Option<String>,
    pub phone_number: Option<Option<String>>,
    /// A new password: every session of the user ends (refresh tokens revoked, access tokens
    /// issued before now refused).
    pub password_hash: Option<String>,
    pub role: Option<Role>,
    /// Disable (every session ends, no new ones) or enable the account.
    pub disabled: Option<bool>,
}

/// What decides whether a user's tokens still work.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "sqlx", derive(sqlx::FromRow))]
pub struct AuthState {
    pub user_id: UserId,
    #[cfg_attr(feature = "sqlx", sqlx(try_from = "String"))]
    pub role: Role,
    /// Access tokens carry the generation they were issued under; a logout moves it on.
    pub token_generation: i32,
    /// Tokens issued before this are refused (a password change, a reset, a disabling).
    pub sessions_valid_after: Option<OffsetDateTime>,
    pub disabled_at: Option<OffsetDateTime>,
}

/// The outcome of presenting a refresh token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rotation {
    /// The token was live and is now spent; issue a new one in the same family.
    Rotated { user_id: UserId, family_id: Uuid },
    /// The token had already been spent: someone replayed it, so the whole family was revoked.
    Reused,
    /// Unknown or expired.
    Invalid,
}

#[derive(Debug, Clone)]
#[cfg_attr(feature = "sqlx", derive(sqlx::FromRow))]
pub struct ApiKey {
    pub api_key_id: ApiKeyId,
    pub user_id: UserId,
    pub name: String,
    pub prefix: String,
    pub created_at: OffsetDateTime,
}
