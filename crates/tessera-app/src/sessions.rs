//! Which access tokens still work: a logout, a password change or reset, a role change or a
//! disabled account takes effect on every instance within a second, without a database read
//! per request.
//!
//! How: such a change writes an `auth_changes` row in its own transaction. Each instance looks
//! for new rows at most once a second (one small indexed read, however busy it is) and keeps
//! the current state of the users they name; a token of such a user is checked against it (its
//! generation, its issue time, the account being enabled) and takes its role from it. Users
//! with no recent change need no state: their tokens' claims are current. An instance that
//! makes a change itself applies it at once.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tessera_domain::id::UserId;
use tessera_domain::records::AuthState;

use time::OffsetDateTime;

use tessera_domain::Role;

use crate::{App, AppError, Result};

/// How often an instance looks for changes made elsewhere.
pub const POLL: Duration = Duration::from_secs(1);

/// How far back each look reaches before the previous one: a change committed late (its
/// transaction began before the previous look) is still seen.
const OVERLAP_SECS: i64 = 10;

/// What the instance knows of recently changed users.
#[derive(Debug, Default)]
pub(crate) struct Sessions {
    known: Mutex<Known>,
    /// One look at a time; requests meanwhile use what is known.
    looking: tokio::sync::Mutex<()>,
}

#[derive(Debug, Default)]
struct Known {
    looked_at: Option<(Instant, OffsetDateTime)>,
    /// Users changed recently: their state, and when this instance learned it.
    changed: HashMap<UserId, (AuthState, OffsetDateTime)>,
}

/// What an access token claims.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TokenClaims {
    pub user_id: UserId,
    pub role: Role,
    pub issued_at: i64,
    pub generation: i32,
}

/// Whether a token issued under these claims still works for a user in `state`; its role if so.
pub(crate) fn still_valid(state: &AuthState, t: &TokenClaims) -> std::result::Result<Role, &'static str> {
    if state.disabled_at.is_some() {
        return Err("this account is disabled");
    }
    if state.sessions_valid_after.is_some_and(|after| t.issued_at < after.unix_timestamp()) {
        return Err("this session ended (the password was changed); log in again");
    }
    if t.generation != state.token_generation {
        return Err("this session ended (logged out); log in again or refresh");
    }
    Ok(state.role)
}

impl Sessions {
    fn state(&self, user_id: UserId) -> Option<AuthState> {
        self.known.lock().ok()?.changed.get(&user_id).map(|(s, _)| s.clone())
    }

    fn learn(&self, state: AuthState, now: OffsetDateTime) {
        if let Ok(mut k) = self.known.lock() {
            k.changed.insert(state.user_id, (state, now));
        }
    }
}

impl App {
    /// The role a verified access token acts with, or why it no longer works.
    pub(crate) async fn check_session(&self, t: TokenClaims) -> Result<Role> {
        self.look_for_auth_changes().await?;
        match self.sessions.state(t.user_id) {
            Some(state) => still_valid(&state, &t).map_err(AppError::Unauthorized),
            None => Ok(t.role),
        }
    }

    /// Reads a user's state now and keeps it (after a change made here, and at sign-in).
    pub(crate) async fn session_state(&self, user_id: UserId) -> Result<AuthState> {
        let state = self.store.auth_state(user_id).await?.ok_or(AppError::Unauthorized("account is gone"))?;
        self.sessions.learn(state.clone(), self.now());
        Ok(state)
    }

    /// Looks for changes made by any instance since the last look, at most once per `POLL`.
    async fn look_for_auth_changes(&self) -> Result<()> {
        let due = |k: &Known| k.looked_at.is_none_or(|(at, _)| at.elapsed() >= POLL);
        let since = match self.sessions.known.lock() {
            Ok(k) if due(&k) => k.looked_at.map(|(_, t)| t),
            _ => return Ok(()),
        };
        let Ok(_looking) = self.sessions.looking.try_lock() else { return Ok(()) };
        let now = self.now();
        let ttl = self.config.tokens.access_ttl_secs;
        // The first look reaches back over every token still alive.
        let from =
            since.map_or(now - time::Duration::seconds(ttl), |t| t - time::Duration::seconds(OVERLAP_SECS));
        let users = self.store.auth_changes_since(from).await?;
        let mut states = Vec::with_capacity(users.len());
        for u in users {
            if let Some(s) = self.store.auth_state(u).await? {
                states.push(s);
            }
        }
        if let Ok(mut k) = self.sessions.known.lock() {
            for s in states {
                k.changed.insert(s.user_id, (s, now));
            }
            // A change older than every token alive no longer matters.
            let horizon = now - time::Duration::seconds(ttl + 2 * OVERLAP_SECS);
            k.changed.retain(|_, (_, learned)| *learned >= horizon);
            k.looked_at = Some((Instant::now(), now));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> AuthState {
        AuthState {
            user_id: UserId::from(uuid::Uuid::nil()),
            role: tessera_domain::Role::Organizer,
            token_generation: 2,
            sessions_valid_after: Some(OffsetDateTime::from_unix_timestamp(1_000).unwrap()),
            disabled_at: None,
        }
    }

    fn claims(issued_at: i64, generation: i32) -> TokenClaims {
        TokenClaims { user_id: UserId::from(uuid::Uuid::nil()), role: Role::Attendee, issued_at, generation }
    }

    #[test]
    fn a_token_works_only_under_the_current_state() {
        // Current: the role comes from the state, not the token.
        assert_eq!(still_valid(&state(), &claims(1_000, 2)), Ok(Role::Organizer));
        // Issued before the password changed, or under an older generation (a logout).
        assert!(still_valid(&state(), &claims(999, 2)).is_err());
        assert!(still_valid(&state(), &claims(2_000, 1)).is_err());
        let disabled = AuthState { disabled_at: state().sessions_valid_after, ..state() };
        assert!(still_valid(&disabled, &claims(2_000, 2)).is_err());
    }
}
