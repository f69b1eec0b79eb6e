//! Sign-in for the web pages: a browser keeps a session (the same revocable, expiring session
//! row the API's refresh tokens are) in an HttpOnly cookie instead of holding bearer tokens, and
//! every form carries a token derived from a second cookie, so another site cannot post a form
//! in the user's name (CSRF).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use tessera_domain::records::User;

use crate::accounts::Session;
use crate::auth::{Principal, token_hash};
use crate::{App, Result};

/// A browser's new session: the cookie's value and how long it lasts.
#[derive(Debug, Clone)]
pub struct BrowserSession {
    pub cookie: String,
    pub max_age_secs: i64,
    pub user: User,
}

impl From<Session> for BrowserSession {
    fn from(s: Session) -> Self {
        BrowserSession { cookie: s.refresh_token, max_age_secs: 0, user: s.user }
    }
}

const FORM_LABEL: &[u8] = b"tessera form token\0";

impl App {
    /// Signs a browser in (the same checks and limits as the API's login).
    pub async fn sign_in_browser(
        &self,
        email: &str,
        password: &str,
        client_ip: &str,
    ) -> Result<BrowserSession> {
        let session = self.login(Some(email), Some(password), client_ip).await?;
        Ok(BrowserSession { max_age_secs: self.config.tokens.refresh_ttl_secs, ..session.into() })
    }

    /// Who a browser's session cookie signs in, with their current role; `None` when the session
    /// is unknown, expired or ended, or the account is disabled.
    pub async fn browser_principal(&self, cookie: &str) -> Result<Option<Principal>> {
        if cookie.is_empty() || cookie.len() > 128 {
            return Ok(None);
        }
        let Some(user_id) = self.store.live_session(&token_hash(cookie), self.now()).await? else {
            return Ok(None);
        };
        let state = match self.session_state(user_id).await {
            Ok(s) => s,
            Err(crate::AppError::Unauthorized(_)) => return Ok(None),
            Err(e) => return Err(e),
        };
        if state.disabled_at.is_some() {
            return Ok(None);
        }
        Ok(Some(Principal { user_id, role: state.role }))
    }

    /// Ends a browser's session (as the API's logout does).
    pub async fn sign_out_browser(&self, cookie: &str) -> Result<()> {
        if cookie.is_empty() {
            return Ok(());
        }
        self.logout(Some(cookie)).await
    }

    /// The token a page puts in its forms for the browser holding `nonce` (its CSRF cookie).
    pub fn form_token(&self, nonce: &str) -> String {
        let Some(mut mac) = self.form_mac() else { return String::new() };
        mac.update(nonce.as_bytes());
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }

    /// Whether a submitted form token belongs to this browser's nonce (compared in constant time).
    pub fn form_token_ok(&self, nonce: &str, token: &str) -> bool {
        if nonce.is_empty() {
            return false;
        }
        let Ok(given) = URL_SAFE_NO_PAD.decode(token.trim().as_bytes()) else { return false };
        let Some(mut mac) = self.form_mac() else { return false };
        mac.update(nonce.as_bytes());
        mac.verify_slice(&given).is_ok()
    }

    /// `None` never happens (HMAC takes keys of any length).
    fn form_mac(&self) -> Option<Hmac<Sha256>> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.keys.forms).ok()?;
        mac.update(FORM_LABEL);
        Some(mac)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn form_label_is_not_a_jwt_prefix() {
        // JWT signatures cover "header.payload", which starts with base64 of '{"'.
        assert!(!super::FORM_LABEL.starts_with(b"eyJ"));
    }
}
