//! Accounts: registration, login with rotating refresh tokens, profiles, API keys.

use tessera_domain::id::{ApiKeyId, UserId};
use tessera_domain::records::{ApiKey, Rotation, User, UserChanges, UserFilter};
use time::OffsetDateTime;
use uuid::Uuid;

use tessera_domain::Role;
use tessera_domain::page::{Page, page_cursor, parse_limit};
use tessera_domain::user::{NewUser, RegisterInput, UserPatch, parse_email, parse_password, parse_phone};
use tessera_domain::validation::{ValidationErrors, required_text};

use tessera_store::StoreError;

use crate::auth::{API_KEY_PREFIX, Principal, hash_password, random_token, token_hash, verify_password};
use crate::cursor;
use crate::{App, AppError, Result};

/// What a successful login or refresh returns.
#[derive(Debug, Clone)]
pub struct Session {
    pub access_token: String,
    pub expires_in: i64,
    pub refresh_token: String,
    pub user: User,
}

/// A newly created API key: the secret is shown once and never stored.
#[derive(Debug, Clone)]
pub struct NewApiKey {
    pub key: String,
    pub row: ApiKey,
}

/// Raw profile change fields as they arrive (`phone_number: Some(None)` clears it).
#[derive(Debug, Clone, Default)]
pub struct PatchUserInput {
    pub name: Option<String>,
    pub phone_number: Option<Option<String>>,
    pub password: Option<String>,
    pub current_password: Option<String>,
    pub role: Option<String>,
    /// Admins only: disable (every session ends) or enable the account.
    pub disabled: Option<bool>,
}

/// What a profile change did to the account's sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PatchOutcome {
    /// Every session ended (a new password, a reset, a disabling): refresh tokens are revoked
    /// and access tokens issued before now refused. API keys are separate credentials and stay.
    pub sessions_ended: bool,
}

impl App {
    /// Registers an account; a taken e-mail is 409 however many requests race for it.
    pub async fn register(&self, input: RegisterInput<'_>) -> Result<User> {
        let new = NewUser::parse(input)?;
        self.create_user(new).await
    }

    async fn create_user(&self, new: NewUser) -> Result<User> {
        let now = self.now();
        let row = User {
            user_id: UserId::new(),
            name: new.name,
            email: new.email,
            password_hash: hash_password(new.password).await?,
            role: new.role,
            phone_number: new.phone_number,
            created_at: now,
            updated_at: now,
            disabled_at: None,
        };
        match self.store.insert_user(&row).await {
            Ok(()) => Ok(row),
            Err(StoreError::Conflict(_)) => Err(AppError::Conflict {
                code: "email_taken",
                detail: "an account with this e-mail already exists".into(),
            }),
            Err(e) => Err(e.into()),
        }
    }

    /// Creates an administrator (the CLI's `admin create`).
    pub async fn create_admin(&self, email: &str, password: &str, name: Option<&str>) -> Result<User> {
        let mut errs = ValidationErrors::new();
        let email = errs.check("email", parse_email(Some(email)));
        let password = errs.check("password", parse_password(Some(password)));
        let name = errs.check("name", required_text(Some(name.unwrap_or("Administrator")), 255));
        match (email, password, name) {
            (Some(email), Some(password), Some(name)) => {
                self.create_user(NewUser { name, email, password, phone_number: None, role: Role::Admin })
                    .await
            }
            _ => Err(errs.into()),
        }
    }

    /// Logs in. Unknown e-mail and wrong password answer the same; attempts are limited per
    /// e-mail and per client address.
    pub async fn login(
        &self,
        email: Option<&str>,
        password: Option<&str>,
        client_ip: &str,
    ) -> Result<Session> {
        let mut errs = ValidationErrors::new();
        let email = errs.check("email", required_text(email, 255)).map(|e| e.to_lowercase());
        if password.is_none() {
            errs.add("password", "is required");
        }
        let (Some(email), Some(password)) = (email, password) else { return Err(errs.into()) };
        let limits = &self.config.rate_limits;
        self.check_rates(&[
            ("login:ip:", client_ip, limits.login_per_ip),
            ("login:email:", &email, limits.login_per_email),
        ])
        .await?;
        let user = self.store.user_by_email(&email).await?;
        let ok =
            verify_password(password.to_string(), user.as_ref().map(|u| u.password_hash.clone())).await?;
        match user {
            Some(user) if ok => self.start_session(user, Uuid::now_v7()).await.map_err(|e| match e {
                // The password was right: say why no session starts.
                AppError::Unauthorized(m @ "this account is disabled") => AppError::Forbidden(m),
                other => other,
            }),
            _ => Err(AppError::Unauthorized("invalid e-mail or password")),
        }
    }

    /// Counts a hit against each (kind, key, limit) at once; refused when any is over its limit.
    pub(crate) async fn check_rates(&self, limits: &[(&str, &str, i64)]) -> Result<()> {
        self.check_rates_in(self.config.rate_limits.window_secs, limits).await
    }

    /// The same in windows of `window` seconds.
    pub(crate) async fn check_rates_in(&self, window: i64, limits: &[(&str, &str, i64)]) -> Result<()> {
        let now = self.now().unix_timestamp();
        let window = window.max(1);
        let start = now - now.rem_euclid(window);
        let buckets: Vec<String> = limits.iter().map(|(kind, key, _)| format!("{kind}{key}")).collect();
        let refs: Vec<&str> = buckets.iter().map(String::as_str).collect();
        let hits = self.store.rate_limit_hits(&refs, start).await?;
        if hits.iter().zip(limits).any(|(h, l)| *h > l.2) {
            let retry = u64::try_from(start + window - now).unwrap_or(1).max(1);
            return Err(AppError::RateLimited { retry_after_secs: retry });
        }
        Ok(())
    }

    async fn start_session(&self, user: User, family_id: Uuid) -> Result<Session> {
        let role = user.role;
        let state = self.session_state(user.user_id).await?;
        if state.disabled_at.is_some() {
            return Err(AppError::Unauthorized("this account is disabled"));
        }
        let now = self.now();
        let refresh = random_token();
        let expires = now + time::Duration::seconds(self.config.tokens.refresh_ttl_secs);
        self.store.insert_refresh_token(&token_hash(&refresh), user.user_id, family_id, expires, now).await?;
        Ok(Session {
            access_token: self.access_token_of(user.user_id, role, state.token_generation)?,
            expires_in: self.config.tokens.access_ttl_secs,
            refresh_token: refresh,
            user,
        })
    }

    /// Exchanges a refresh token for a new pair. A token used twice revokes its whole family.
    pub async fn refresh(&self, refresh_token: Option<&str>) -> Result<Session> {
        let token = refresh_token
            .filter(|t| !t.trim().is_empty())
            .ok_or_else(|| AppError::invalid("refresh_token", "is required"))?;
        match self.store.rotate_refresh_token(&token_hash(token), self.now()).await? {
            Rotation::Rotated { user_id, family_id } => {
                let user =
                    self.store.user_by_id(user_id).await?.ok_or(AppError::Unauthorized("account is gone"))?;
                self.start_session(user, family_id).await
            }
            Rotation::Reused => Err(AppError::Unauthorized("refresh token was already used; log in again")),
            Rotation::Invalid => Err(AppError::Unauthorized("invalid or expired refresh token")),
        }
    }

    /// Ends the session the refresh token belongs to, and the user's access tokens with it (on
    /// every instance within a second; other devices refresh into new ones). Unknown tokens are
    /// ignored (idempotent).
    pub async fn logout(&self, refresh_token: Option<&str>) -> Result<()> {
        let token = refresh_token
            .filter(|t| !t.trim().is_empty())
            .ok_or_else(|| AppError::invalid("refresh_token", "is required"))?;
        if let Some(user_id) = self.store.end_session(&token_hash(token), self.now()).await? {
            self.session_state(user_id).await?;
        }
        Ok(())
    }

    /// The account with this e-mail, for tools (the demo data); never answered over HTTP.
    pub async fn user_by_email(&self, email: &str) -> Result<Option<User>> {
        Ok(self.store.user_by_email(&email.trim().to_lowercase()).await?)
    }

    /// A user as seen by `who`: themself or, for admins, anyone; otherwise 404.
    pub async fn get_user(&self, who: &Principal, user_id: UserId) -> Result<User> {
        if !(who.is_admin() || who.user_id == user_id) {
            return Err(AppError::NotFound("user"));
        }
        self.store.user_by_id(user_id).await?.ok_or(AppError::NotFound("user"))
    }

    /// Lists users (admins only), filtered by role and by text over name and e-mail.
    pub async fn list_users(
        &self,
        who: &Principal,
        role: Option<&str>,
        q: Option<&str>,
        limit: Option<i64>,
        cursor: Option<&str>,
    ) -> Result<Page<User>> {
        if !who.is_admin() {
            return Err(AppError::Forbidden("only admins may list users"));
        }
        let mut errs = ValidationErrors::new();
        let role = match role {
            Some(r) => errs.check("role", r.parse::<Role>()),
            None => None,
        };
        let limit = errs.check("limit", parse_limit(limit));
        let Some(limit) = limit.filter(|_| errs.is_empty()) else { return Err(errs.into()) };
        let after = match cursor {
            Some(c) => {
                let (v, id) = cursor::decode(c, "users")?;
                Some((cursor::parse_ts_value(&v)?, id))
            }
            None => None,
        };
        let q = q.map(str::trim).filter(|q| !q.is_empty()).map(str::to_string);
        let mut items = self.store.list_users(&UserFilter { role, q, after, limit: limit + 1 }).await?;
        let next_cursor = page_cursor(&mut items, limit, |u| {
            cursor::encode("users", &cursor::ts_value(u.created_at), u.user_id)
        });
        Ok(Page { items, next_cursor })
    }

    /// Changes a profile. Users change their own name, phone and password (with the current
    /// one); admins change anyone's, including the role, and disable or enable accounts. A new
    /// password or a disabling ends every session of the account; a role change applies to its
    /// live tokens within a second.
    pub async fn patch_user(
        &self,
        who: &Principal,
        user_id: UserId,
        input: PatchUserInput,
    ) -> Result<(User, PatchOutcome)> {
        let current = self.get_user(who, user_id).await?;
        let mut errs = ValidationErrors::new();
        let mut patch = UserPatch::default();
        if let Some(n) = &input.name {
            patch.name = errs.check("name", required_text(Some(n), 255));
        }
        if let Some(p) = &input.phone_number {
            patch.phone_number = errs.check("phone_number", parse_phone(p.as_deref()));
        }
        if let Some(p) = &input.password {
            patch.password = errs.check("password", parse_password(Some(p)));
        }
        if let Some(r) = &input.role {
            if !who.is_admin() {
                return Err(AppError::Forbidden("only admins may change roles"));
            }
            patch.role = errs.check("role", r.parse::<Role>());
        }
        if let Some(d) = input.disabled {
            if !who.is_admin() {
                return Err(AppError::Forbidden("only admins may disable or enable accounts"));
            }
            if d && who.user_id == user_id {
                errs.add("disabled", "admins cannot disable their own account");
            }
        }
        if !errs.is_empty() {
            return Err(errs.into());
        }
        let mut changes = UserChanges {
            name: patch.name,
            phone_number: patch.phone_number,
            password_hash: None,
            role: patch.role,
            disabled: input.disabled,
        };
        if let Some(pw) = patch.password {
            if !who.is_admin() || who.user_id == user_id {
                let given = input.current_password.unwrap_or_default();
                if !verify_password(given, Some(current.password_hash.clone())).await? {
                    return Err(AppError::invalid("current_password", "does not match the current password"));
                }
            }
            changes.password_hash = Some(hash_password(pw).await?);
        }
        let sessions_ended = changes.password_hash.is_some() || changes.disabled == Some(true);
        let row =
            self.store.update_user(user_id, &changes, self.now()).await?.ok_or(AppError::NotFound("user"))?;
        if sessions_ended || changes.role.is_some() || changes.disabled.is_some() {
            // This instance sees the change at once; others within a second (sessions.rs).
            self.session_state(user_id).await?;
        }
        Ok((row, PatchOutcome { sessions_ended }))
    }

    /// Creates an API key for the caller; the returned secret is shown once.
    pub async fn create_api_key(&self, who: &Principal, name: Option<&str>) -> Result<NewApiKey> {
        let name = required_text(name, 100).map_err(|m| AppError::invalid("name", m))?;
        let key = format!("{API_KEY_PREFIX}{}", random_token());
        let row = ApiKey {
            api_key_id: ApiKeyId::new(),
            user_id: who.user_id,
            name,
            prefix: key.chars().take(API_KEY_PREFIX.len() + 6).collect(),
            created_at: self.now(),
        };
        self.store.insert_api_key(&row, &token_hash(&key)).await?;
        Ok(NewApiKey { key, row })
    }

    pub async fn list_api_keys(&self, who: &Principal) -> Result<Vec<ApiKey>> {
        Ok(self.store.list_api_keys(who.user_id).await?)
    }

    /// Revokes one of the caller's keys (an admin: anyone's, e.g. after resetting a password);
    /// someone else's key is 404.
    pub async fn revoke_api_key(&self, who: &Principal, api_key_id: ApiKeyId) -> Result<()> {
        let owner = (!who.is_admin()).then_some(who.user_id);
        if self.store.revoke_api_key(api_key_id, owner, self.now()).await? {
            Ok(())
        } else {
            Err(AppError::NotFound("api key"))
        }
    }
}

/// Parses an optional RFC 3339 query value.
pub(crate) fn opt_ts(errs: &mut ValidationErrors, field: &str, v: Option<&str>) -> Option<OffsetDateTime> {
    v.and_then(|s| errs.check(field, tessera_domain::parse_ts(s)))
}
