//! Credentials: argon2id password hashes, short-lived access JWTs, rotating refresh tokens and
//! API keys. Tokens and keys are random; only their SHA-256 is stored.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tessera_domain::id::{EventId, QueueEntryId, UserId};

use tessera_domain::Role;
use tessera_store::Store;

use crate::sessions::TokenClaims;
use crate::{App, AppError, Result};

/// API keys start with this, so a bearer value tells at a glance which kind it is.
pub const API_KEY_PREFIX: &str = "tsk_";

/// Token lifetimes and the signing secret.
#[derive(Clone)]
pub struct TokenConfig {
    /// HS256 secret; `None` means generate one and keep it in the database.
    pub jwt_secret: Option<String>,
    pub access_ttl_secs: i64,
    pub refresh_ttl_secs: i64,
}

impl std::fmt::Debug for TokenConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenConfig")
            .field("jwt_secret", &self.jwt_secret.as_ref().map(|_| "[redacted]"))
            .field("access_ttl_secs", &self.access_ttl_secs)
            .field("refresh_ttl_secs", &self.refresh_ttl_secs)
            .finish()
    }
}

impl Default for TokenConfig {
    fn default() -> Self {
        TokenConfig { jwt_secret: None, access_ttl_secs: 900, refresh_ttl_secs: 30 * 24 * 3600 }
    }
}

pub(crate) struct Keys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    /// The same secret, as the key of the pages' form tokens (HMAC-SHA256 over a label no JWT
    /// starts with, so a form token is never a signature of anything else).
    pub(crate) forms: Vec<u8>,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keys([redacted])")
    }
}

impl Keys {
    pub(crate) async fn load(store: &Store, cfg: &TokenConfig) -> Result<Keys> {
        let secret = match &cfg.jwt_secret {
            Some(s) if s.len() >= 32 => s.clone(),
            Some(_) => return Err(AppError::internal("the JWT secret must be at least 32 bytes")),
            None => store.secret_or_insert("jwt_hs256", &random_token()).await?,
        };
        Ok(Keys {
            encoding: EncodingKey::from_secret(secret.as_bytes()),
            decoding: DecodingKey::from_secret(secret.as_bytes()),
            forms: secret.into_bytes(),
        })
    }
}

/// What a queue token proves: this user holds this entry in this event's queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueTicket {
    pub user_id: UserId,
    pub event_id: EventId,
    pub entry_id: QueueEntryId,
    /// The place in line when the token was issued.
    pub position: i32,
    pub issued_at: i64,
}

#[derive(Debug, Serialize, Deserialize)]
struct QueueClaims {
    sub: UserId,
    evt: EventId,
    ent: QueueEntryId,
    pos: i32,
    typ: String,
    iat: i64,
    exp: i64,
    iss: String,
}

/// Who is calling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub user_id: UserId,
    pub role: Role,
}

impl Principal {
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    /// Admins may act on anything; others only on what they own.
    pub fn owns_or_admin(&self, owner: Option<UserId>) -> bool {
        self.is_admin() || owner == Some(self.user_id)
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: UserId,
    role: String,
    iat: i64,
    exp: i64,
    iss: String,
    /// The user's token generation when it was issued (a logout moves it on).
    #[serde(default, rename = "gen")]
    generation: i32,
}

const ISSUER: &str = "tessera";

/// 32 random bytes, base64url.
pub fn random_token() -> String {
    let mut b = [0u8; 32];
    rand::rng().fill_bytes(&mut b);
    URL_SAFE_NO_PAD.encode(b)
}

/// SHA-256 hex of a token or key: enough for values with 256 bits of randomness.
pub fn token_hash(token: &str) -> String {
    let d = Sha256::digest(token.as_bytes());
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// Hashes a password with argon2id on a blocking thread (it is deliberately slow).
pub async fn hash_password(password: String) -> Result<String> {
    tokio::task::spawn_blocking(move || {
        let mut salt = [0u8; 16];
        rand::rng().fill_bytes(&mut salt);
        // password_hash's error is not a std Error (no_std): its text is what there is.
        let salt = SaltString::encode_b64(&salt).map_err(|e| AppError::internal(e.to_string()))?;
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| AppError::internal(e.to_string()))
    })
    .await
    .map_err(|e| AppError::internal(e))?
}

/// Verifies a password; `None` (unknown user) still spends the same time so timing reveals nothing.
pub async fn verify_password(password: String, hash: Option<String>) -> Result<bool> {
    tokio::task::spawn_blocking(move || {
        let stored = hash.unwrap_or_else(|| DUMMY_HASH.to_string());
        let Ok(parsed) = PasswordHash::new(&stored) else { return false };
        Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok() && stored != DUMMY_HASH
    })
    .await
    .map_err(|e| AppError::internal(e))
}

/// An argon2id hash of a random password, verified against when the e-mail is unknown.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$1sIBR6y4wEvXFXTSn7hOoXyX1BhvI0XlHtqyJ2ONRSI";

impl App {
    /// Signs an access token for an account that never logged out or changed its password (tools
    /// such as the load benchmark that provision accounts directly, and tests).
    pub fn access_token(&self, user_id: UserId, role: Role) -> Result<String> {
        self.access_token_of(user_id, role, 0)
    }

    /// Signs an access token under the user's current token generation.
    pub(crate) fn access_token_of(&self, user_id: UserId, role: Role, generation: i32) -> Result<String> {
        let iat = self.now().unix_timestamp();
        let claims = Claims {
            sub: user_id,
            role: role.as_str().to_string(),
            iat,
            exp: iat + self.config.tokens.access_ttl_secs,
            iss: ISSUER.into(),
            generation,
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.keys.encoding)
            .map_err(|e| AppError::internal(e))
    }

    /// Signs a queue token (a JWT) for an entry; it is valid for a day.
    pub(crate) fn queue_token(
        &self,
        user_id: UserId,
        event_id: EventId,
        entry_id: QueueEntryId,
        pos: i32,
    ) -> Result<String> {
        let iat = self.now().unix_timestamp();
        let claims = QueueClaims {
            sub: user_id,
            evt: event_id,
            ent: entry_id,
            pos,
            typ: "queue".into(),
            iat,
            exp: iat + 24 * 3600,
            iss: ISSUER.into(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.keys.encoding)
            .map_err(|e| AppError::internal(e))
    }

    /// Verifies a queue token's signature and expiry.
    pub fn verify_queue_token(&self, token: &str) -> Result<QueueTicket> {
        let bad = || AppError::Forbidden("invalid queue token");
        let token = token.trim();
        if let Some((ticket, exp)) = self.queue_tokens.get(token) {
            return if exp < self.now().unix_timestamp() { Err(bad()) } else { Ok(ticket) };
        }
        let mut v = Validation::new(Algorithm::HS256);
        v.set_issuer(&[ISSUER]);
        v.validate_exp = false;
        let data = jsonwebtoken::decode::<QueueClaims>(token, &self.keys.decoding, &v).map_err(|_| bad())?;
        if data.claims.typ != "queue" || data.claims.exp < self.now().unix_timestamp() {
            return Err(bad());
        }
        let ticket = QueueTicket {
            user_id: data.claims.sub,
            event_id: data.claims.evt,
            entry_id: data.claims.ent,
            position: data.claims.pos,
            issued_at: data.claims.iat,
        };
        self.queue_tokens.put(token, ticket.clone(), data.claims.exp);
        Ok(ticket)
    }

    /// Resolves `Authorization: Bearer …` (an access JWT or an API key) to a principal.
    pub async fn authenticate(&self, bearer: &str) -> Result<Principal> {
        if bearer.starts_with(API_KEY_PREFIX) {
            let user = self
                .store
                .user_by_api_key(&token_hash(bearer))
                .await?
                .ok_or(AppError::Unauthorized("unknown or revoked API key"))?;
            return Ok(Principal { user_id: user.user_id, role: user.role });
        }
        if crate::oidc::is_external(bearer) {
            return self.external_principal(bearer).await;
        }
        let (claims, exp) = match self.access_tokens.get(bearer) {
            Some(hit) => hit,
            None => {
                let mut v = Validation::new(Algorithm::HS256);
                v.set_issuer(&[ISSUER]);
                v.leeway = 5;
                // Validate expiry against our clock (tests move it), not the system's.
                v.validate_exp = false;
                let data = jsonwebtoken::decode::<Claims>(bearer, &self.keys.decoding, &v)
                    .map_err(|_| AppError::Unauthorized("invalid access token"))?;
                let role =
                    data.claims.role.parse().map_err(|_| AppError::Unauthorized("invalid access token"))?;
                let claims = TokenClaims {
                    user_id: data.claims.sub,
                    role,
                    issued_at: data.claims.iat,
                    generation: data.claims.generation,
                };
                self.access_tokens.put(bearer, claims, data.claims.exp);
                (claims, data.claims.exp)
            }
        };
        if exp < self.now().unix_timestamp() {
            return Err(AppError::Unauthorized("access token expired"));
        }
        // Whether a logout, a password change, a disabling or a role change has overtaken it.
        let role = self.check_session(claims).await?;
        Ok(Principal { user_id: claims.user_id, role })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_hash_is_stable_hex() {
        assert_eq!(token_hash("abc").len(), 64);
        assert_eq!(token_hash("abc"), token_hash("abc"));
        assert_ne!(random_token(), random_token());
    }

    #[tokio::test]
    async fn password_round_trip() {
        let h = hash_password("correct horse".into()).await.unwrap();
        assert!(verify_password("correct horse".into(), Some(h.clone())).await.unwrap());
        assert!(!verify_password("wrong horse".into(), Some(h)).await.unwrap());
        assert!(!verify_password("anything".into(), None).await.unwrap());
    }
}
