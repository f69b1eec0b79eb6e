//! Sign-in with an external OpenID Connect issuer (Amazon Cognito, Auth0, Keycloak, …) beside
//! Tessera's own: a bearer token signed by the issuer (RS/PS/ES algorithms; Tessera's own tokens
//! are HS256, so the header's algorithm says which kind a token is and neither can pose as the
//! other) is verified against the issuer's published keys (JWKS: fetched on first use, again
//! when a token names a key not seen yet, and hourly), then mapped to a Tessera user: by the
//! issuer's subject once linked; on first use, the user with the token's verified e-mail, or a
//! new account. The issuer's groups decide the role of the people who sign in through it.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use tessera_domain::Role;
use tessera_domain::id::UserId;
use tessera_domain::records::{User, UserChanges};
use tessera_store::identities::Linked;
use time::OffsetDateTime;
use tokio::sync::{Mutex, RwLock};

use crate::auth::Principal;
use crate::{App, AppError, Result};

/// The external issuer Tessera trusts.
#[derive(Debug, Clone)]
pub struct OidcConfig {
    /// The issuer's URL, exactly as its tokens' `iss` (Cognito:
    /// `https://cognito-idp.<region>.amazonaws.com/<user pool id>`).
    pub issuer: String,
    /// The client the tokens must be for: their `aud`, or Cognito access tokens' `client_id`.
    pub audience: String,
    /// Where its keys are; by default from its discovery document.
    pub jwks_url: Option<String>,
    /// The least time between two fetches of the keys (a flood of tokens naming unknown keys
    /// must not become a flood of requests to the issuer).
    pub refetch_after: Duration,
}

impl OidcConfig {
    pub fn new(issuer: impl Into<String>, audience: impl Into<String>) -> OidcConfig {
        OidcConfig {
            issuer: issuer.into().trim_end_matches('/').to_string(),
            audience: audience.into(),
            jwks_url: None,
            refetch_after: Duration::from_secs(10),
        }
    }

    /// The issuer must be HTTPS (its keys decide who is who), except on loopback for tests.
    pub fn check(&self) -> std::result::Result<(), String> {
        let url = reqwest::Url::parse(&self.issuer).map_err(|e| format!("TESSERA_OIDC_ISSUER: {e}"))?;
        let loopback = matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
        if url.scheme() != "https" && !(url.scheme() == "http" && loopback) {
            return Err("TESSERA_OIDC_ISSUER must be an https:// URL".into());
        }
        if self.audience.trim().is_empty() {
            return Err("TESSERA_OIDC_AUDIENCE (the app client id) must be set with the issuer".into());
        }
        Ok(())
    }
}

/// Algorithms an issuer may sign with (never HS*: that is a shared secret, Tessera's own).
const ALGORITHMS: [Algorithm; 8] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
];
/// Keys are fetched again after this long even when every token names a known one.
const KEYS_MAX_AGE: Duration = Duration::from_secs(3600);
/// Clock skew allowed for `exp` and `nbf`.
const LEEWAY_SECS: i64 = 60;

/// Whether a bearer token is for an external issuer (by its header's algorithm).
pub fn is_external(token: &str) -> bool {
    jsonwebtoken::decode_header(token).is_ok_and(|h| ALGORITHMS.contains(&h.alg))
}

/// The role a person's groups at the issuer give: the highest of `admin`, `organizer`, `staff`,
/// else attendee.
pub fn role_from_groups(groups: &[String]) -> Role {
    [Role::Admin, Role::Organizer, Role::Staff]
        .into_iter()
        .find(|r| groups.iter().any(|g| g.eq_ignore_ascii_case(r.as_str())))
        .unwrap_or(Role::Attendee)
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Flag {
    Bool(bool),
    Text(String),
}

impl Flag {
    fn is_true(&self) -> bool {
        matches!(self, Flag::Bool(true)) || matches!(self, Flag::Text(t) if t == "true")
    }
}

/// What Tessera reads of an issuer's token.
#[derive(Debug, Deserialize)]
struct Claims {
    sub: String,
    exp: i64,
    nbf: Option<i64>,
    aud: Option<Audience>,
    client_id: Option<String>,
    token_use: Option<String>,
    email: Option<String>,
    email_verified: Option<Flag>,
    name: Option<String>,
    #[serde(rename = "cognito:username")]
    cognito_username: Option<String>,
    preferred_username: Option<String>,
    #[serde(rename = "cognito:groups", default)]
    cognito_groups: Vec<String>,
    #[serde(default)]
    groups: Vec<String>,
}

impl Claims {
    fn for_audience(&self, audience: &str) -> bool {
        let aud = match &self.aud {
            Some(Audience::One(a)) => a == audience,
            Some(Audience::Many(all)) => all.iter().any(|a| a == audience),
            None => false,
        };
        aud || self.client_id.as_deref() == Some(audience)
    }

    fn verified_email(&self) -> Option<String> {
        let email = self.email.as_deref()?.trim().to_lowercase();
        (self.email_verified.as_ref().is_some_and(Flag::is_true) && email.contains('@')).then_some(email)
    }

    fn display_name(&self) -> String {
        [&self.name, &self.preferred_username, &self.cognito_username]
            .into_iter()
            .flatten()
            .map(|n| n.trim())
            .find(|n| !n.is_empty())
            .map(|n| n.chars().take(100).collect())
            .or_else(|| self.email.as_deref().and_then(|e| e.split('@').next()).map(str::to_string))
            .unwrap_or_else(|| "Member".into())
    }

    fn groups(&self) -> Vec<String> {
        self.cognito_groups.iter().chain(&self.groups).cloned().collect()
    }
}

/// The issuer's keys, as last fetched.
#[derive(Default)]
struct Keys {
    by_kid: HashMap<String, DecodingKey>,
    fetched_at: Option<Instant>,
}

/// The verifier of one issuer's tokens.
pub(crate) struct Oidc {
    config: OidcConfig,
    http: reqwest::Client,
    keys: RwLock<Keys>,
    fetching: Mutex<()>,
    /// From the discovery document, when the configuration names no JWKS URL.
    jwks_uri: tokio::sync::OnceCell<String>,
}

impl std::fmt::Debug for Oidc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Oidc").field("issuer", &self.config.issuer).finish()
    }
}

impl Oidc {
    pub(crate) fn new(config: OidcConfig) -> Result<Oidc> {
        config.check().map_err(AppError::internal)?;
        let roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
        let tls = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(AppError::internal)?
        .with_root_certificates(roots)
        .with_no_client_auth();
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .timeout(Duration::from_secs(5))
            .build()
            .map_err(AppError::internal)?;
        Ok(Oidc {
            config,
            http,
            keys: RwLock::default(),
            fetching: Mutex::default(),
            jwks_uri: tokio::sync::OnceCell::new(),
        })
    }

    /// The key `kid` names: from the cache, or fetched again when it is not there (no sooner
    /// than `refetch_after` after the last fetch) or the cache is old.
    async fn key(&self, kid: &str) -> Result<DecodingKey> {
        let fresh = |k: &Keys| k.fetched_at.is_some_and(|t| t.elapsed() < KEYS_MAX_AGE);
        {
            let keys = self.keys.read().await;
            if let Some(key) = keys.by_kid.get(kid).filter(|_| fresh(&keys)) {
                return Ok(key.clone());
            }
        }
        let _one_at_a_time = self.fetching.lock().await;
        {
            // Another request may have fetched while this one waited.
            let keys = self.keys.read().await;
            if let Some(key) = keys.by_kid.get(kid).filter(|_| fresh(&keys)) {
                return Ok(key.clone());
            }
            if keys.fetched_at.is_some_and(|t| t.elapsed() < self.config.refetch_after) && fresh(&keys) {
                return Err(AppError::Unauthorized(
                    "the token is signed with a key the issuer does not publish",
                ));
            }
        }
        let by_kid = self.fetch_keys().await?;
        let mut keys = self.keys.write().await;
        *keys = Keys { by_kid, fetched_at: Some(Instant::now()) };
        keys.by_kid
            .get(kid)
            .cloned()
            .ok_or(AppError::Unauthorized("the token is signed with a key the issuer does not publish"))
    }

    async fn get_json<T: serde::de::DeserializeOwned>(&self, url: &str) -> reqwest::Result<T> {
        self.http.get(url).send().await?.error_for_status()?.json().await
    }

    async fn fetch_keys(&self) -> Result<HashMap<String, DecodingKey>> {
        let unavailable = |e: reqwest::Error| {
            tracing::warn!(issuer = %self.config.issuer, error = %e, "fetching the issuer's keys failed");
            AppError::Unavailable("the sign-in provider's keys could not be fetched".into())
        };
        let url = match &self.config.jwks_url {
            Some(u) => u.clone(),
            None => {
                #[derive(Deserialize)]
                struct Discovery {
                    jwks_uri: String,
                }
                // The discovery document names where the keys are; it is read once.
                let doc = format!("{}/.well-known/openid-configuration", self.config.issuer);
                self.jwks_uri
                    .get_or_try_init(|| async {
                        self.get_json::<Discovery>(&doc).await.map(|d| d.jwks_uri).map_err(unavailable)
                    })
                    .await?
                    .clone()
            }
        };
        let set: JwkSet = self.get_json(&url).await.map_err(unavailable)?;
        Ok(set
            .keys
            .iter()
            .filter_map(|jwk| Some((jwk.common.key_id.clone()?, DecodingKey::from_jwk(jwk).ok()?)))
            .collect())
    }

    /// The token's claims, once its signature, issuer, audience and times check out.
    async fn verify(&self, token: &str, now: OffsetDateTime) -> Result<Claims> {
        let invalid = AppError::Unauthorized("invalid token from the sign-in provider");
        let header =
            jsonwebtoken::decode_header(token).map_err(|_| AppError::Unauthorized("invalid access token"))?;
        if !ALGORITHMS.contains(&header.alg) {
            return Err(invalid);
        }
        let kid = header.kid.ok_or(AppError::Unauthorized("the token names no signing key"))?;
        let key = self.key(&kid).await?;
        let mut v = Validation::new(header.alg);
        v.set_issuer(&[&self.config.issuer]);
        v.set_required_spec_claims(&["exp", "iss", "sub"]);
        // Checked below: Cognito's access tokens carry the client in `client_id`, not `aud`; and
        // times against the app's clock.
        v.validate_aud = false;
        v.validate_exp = false;
        let claims = jsonwebtoken::decode::<Claims>(token, &key, &v).map_err(|_| invalid)?.claims;
        if !claims.for_audience(&self.config.audience) {
            return Err(AppError::Unauthorized("the token is for another application"));
        }
        let now = now.unix_timestamp();
        if claims.exp + LEEWAY_SECS < now {
            return Err(AppError::Unauthorized("the sign-in provider's token has expired"));
        }
        if claims.nbf.is_some_and(|nbf| nbf - LEEWAY_SECS > now) {
            return Err(AppError::Unauthorized("the sign-in provider's token is not valid yet"));
        }
        if claims.token_use.as_deref().is_some_and(|u| u != "access" && u != "id") {
            return Err(AppError::Unauthorized("invalid token from the sign-in provider"));
        }
        Ok(claims)
    }
}

impl App {
    /// The principal of a token from the external issuer: its user (linked or made on first
    /// use), with the role its groups give.
    pub(crate) async fn external_principal(&self, token: &str) -> Result<Principal> {
        let Some(oidc) = self.oidc.as_ref() else {
            return Err(AppError::Unauthorized("invalid access token"));
        };
        let claims = oidc.verify(token, self.now()).await?;
        let issuer = &oidc.config.issuer;
        let role = role_from_groups(&claims.groups());
        let user = match self.store.user_by_identity(issuer, &claims.sub).await? {
            Some(u) => u,
            None => self.first_sign_in(issuer, &claims, role).await?,
        };
        if user.disabled_at.is_some() {
            return Err(AppError::Unauthorized("this account is disabled"));
        }
        if user.role != role {
            let c = UserChanges { role: Some(role), ..Default::default() };
            self.store.update_user(user.user_id, &c, self.now()).await?;
        }
        Ok(Principal { user_id: user.user_id, role })
    }

    /// Links the subject to the user with the token's verified e-mail, or to a new account.
    async fn first_sign_in(&self, issuer: &str, claims: &Claims, role: Role) -> Result<User> {
        let now = self.now();
        let existing = match claims.verified_email() {
            Some(email) => self.store.user_by_email(&email).await?,
            None => None,
        };
        let (user, new) = match existing {
            Some(u) => (u, false),
            None => {
                let email = claims.verified_email().unwrap_or_else(|| placeholder_email(issuer, &claims.sub));
                let user = User {
                    user_id: UserId::new(),
                    name: claims.display_name(),
                    email,
                    // Not a hash: password sign-in never succeeds for these accounts.
                    password_hash: "!external".into(),
                    role,
                    phone_number: None,
                    created_at: now,
                    updated_at: now,
                    disabled_at: None,
                };
                (user, true)
            }
        };
        let user_id = match self.store.link_identity(issuer, &claims.sub, &user, new, now).await {
            Ok(Linked::Now(id) | Linked::Already(id)) => id,
            // A concurrent first sign-in with the same e-mail made the account: use it.
            Err(tessera_store::StoreError::Conflict(_)) => {
                return self.retry_first_sign_in(issuer, claims).await;
            }
            Err(e) => return Err(e.into()),
        };
        self.store.user_by_id(user_id).await?.ok_or(AppError::NotFound("user"))
    }

    async fn retry_first_sign_in(&self, issuer: &str, claims: &Claims) -> Result<User> {
        if let Some(u) = self.store.user_by_identity(issuer, &claims.sub).await? {
            return Ok(u);
        }
        Err(AppError::Conflict {
            code: "email_taken",
            detail: "an account with this e-mail already exists; sign in to it and try again".into(),
        })
    }
}

/// An address that is no one's, for people whose token carries no verified e-mail (the
/// `.invalid` top-level domain never resolves).
fn placeholder_email(issuer: &str, subject: &str) -> String {
    let host =
        reqwest::Url::parse(issuer).ok().and_then(|u| u.host_str().map(str::to_string)).unwrap_or_default();
    let safe = |s: &str| {
        s.chars().filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_')).collect::<String>()
    };
    format!("{}@{}.oidc.invalid", safe(subject), safe(&host))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_give_the_highest_role() {
        let g = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(role_from_groups(&g(&[])), Role::Attendee);
        assert_eq!(role_from_groups(&g(&["staff", "vip"])), Role::Staff);
        assert_eq!(role_from_groups(&g(&["staff", "Organizer"])), Role::Organizer);
        assert_eq!(role_from_groups(&g(&["admin", "staff"])), Role::Admin);
        assert_eq!(role_from_groups(&g(&["administrators"])), Role::Attendee);
    }

    #[test]
    fn only_https_issuers_except_on_loopback() {
        assert!(OidcConfig::new("https://cognito-idp.us-east-1.amazonaws.com/pool", "c").check().is_ok());
        assert!(OidcConfig::new("http://127.0.0.1:9000/", "c").check().is_ok());
        assert!(OidcConfig::new("http://issuer.example.com", "c").check().is_err());
        assert!(OidcConfig::new("https://issuer.example.com", " ").check().is_err());
        assert_eq!(OidcConfig::new("https://i.example.com/", "c").issuer, "https://i.example.com");
    }

    #[test]
    fn placeholder_addresses_are_nobodys() {
        let e = placeholder_email("https://cognito-idp.us-east-1.amazonaws.com/pool", "a1b2-c3 <x>");
        assert_eq!(e, "a1b2-c3x@cognito-idp.us-east-1.amazonaws.com.oidc.invalid");
    }

    #[test]
    fn audience_is_aud_or_cognitos_client_id() {
        let claims = |v: serde_json::Value| serde_json::from_value::<Claims>(v).unwrap();
        let base = |extra: serde_json::Value| {
            let mut v = serde_json::json!({"sub": "s", "exp": 1});
            v.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
            claims(v)
        };
        assert!(base(serde_json::json!({"aud": "app"})).for_audience("app"));
        assert!(base(serde_json::json!({"aud": ["x", "app"]})).for_audience("app"));
        assert!(base(serde_json::json!({"client_id": "app"})).for_audience("app"));
        assert!(!base(serde_json::json!({"aud": "other"})).for_audience("app"));
        assert!(
            base(serde_json::json!({"email": "A@x.io", "email_verified": "true"})).verified_email().is_some()
        );
        assert!(
            base(serde_json::json!({"email": "a@x.io", "email_verified": false})).verified_email().is_none()
        );
        assert!(base(serde_json::json!({"email": "a@x.io"})).verified_email().is_none());
    }
}
