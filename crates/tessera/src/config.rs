//! Configuration: defaults ← optional `tessera.toml` ← `TESSERA_*` environment (and `DATABASE_URL`)
//! ← command-line flags. Secrets never print and may come from `*_FILE` paths.

use std::path::PathBuf;

use anyhow::{Context, bail};
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

/// A value that must not appear in logs or debug output.
#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    /// `sqlite://FILE` (default `sqlite://tessera.db`) or `postgres://…`.
    pub database_url: Option<Secret>,
    pub database_url_file: Option<PathBuf>,
    pub db_max_connections: u32,
    /// Address to listen on.
    pub listen: String,
    /// PEM certificate chain and key: both set means HTTPS.
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// Mark the pages' cookies Secure; default: when serving HTTPS. Set it behind a proxy that
    /// terminates TLS.
    pub secure_cookies: Option<bool>,
    /// HS256 signing secret (≥ 32 bytes); without it one is generated and kept in the database.
    pub jwt_secret: Option<Secret>,
    pub jwt_secret_file: Option<PathBuf>,
    /// Seals the events' ticket-signing keys at rest: 32 bytes as 64 hex digits or base64.
    /// Without it one is generated and kept in the database (fine for development only).
    pub ticket_master_key: Option<Secret>,
    pub ticket_master_key_file: Option<PathBuf>,
    pub access_token_ttl_secs: i64,
    pub refresh_token_ttl_secs: i64,
    pub login_limit_per_email: i64,
    pub login_limit_per_ip: i64,
    pub rate_limit_window_secs: i64,
    pub queue_join_limit_per_user: i64,
    pub queue_join_limit_per_ip: i64,
    /// Ticket e-mails sent again per ticket, and per requester, per hour.
    pub resend_limit_per_ticket: i64,
    pub resend_limit_per_user: i64,
    /// The sender of ticket e-mail.
    pub mail_from: String,
    /// `smtp://host:port` (add `?tls=required` for STARTTLS) or `smtps://user:pass@host:port`.
    /// Unset: e-mail is written as .eml files to `mail_outbox`.
    pub smtp_url: Option<Secret>,
    pub smtp_url_file: Option<PathBuf>,
    pub mail_outbox: PathBuf,
    /// Run due background jobs (e-mail, bulk sends) inside `serve`. Off when a scheduler runs
    /// `tessera jobs run` instead.
    pub jobs_worker: bool,
    /// `json` or `text`; default: text on a terminal, JSON otherwise.
    pub log_format: Option<String>,
    /// The proxies in front of the server: a number of hops, or addresses/CIDR blocks. The
    /// client address is the `X-Forwarded-For` entry they added (never the leftmost, which the
    /// client writes). Unset: the socket peer.
    pub trusted_proxies: Option<String>,
    /// Deprecated: the same as `trusted_proxies = 1`.
    pub trust_forwarded_for: bool,
    /// A bearer token that may read `/metrics` (admins may too).
    pub metrics_token: Option<Secret>,
    pub metrics_token_file: Option<PathBuf>,
    /// A second listen address that serves `/metrics` alone, with no token (a private address).
    pub metrics_listen: Option<String>,
    /// Open connections at most (lowered to what the descriptor limit leaves room for); more
    /// are closed as they arrive.
    pub max_connections: usize,
    /// A client must send a request's headers within this (also bounds idle keep-alive).
    pub header_read_timeout_secs: u64,
    /// Requests in flight per class before the excess is shed with 503 (default: 64 reads,
    /// 128 writes and 2 sign-ins per core), and how long a request may wait for a place.
    pub concurrency_reads: Option<usize>,
    pub concurrency_writes: Option<usize>,
    pub concurrency_logins: Option<usize>,
    pub shed_queue_wait_ms: u64,
    /// Scheduler lag above which new requests are shed (0: off).
    pub shed_max_lag_ms: u64,
    /// Chat messages one person may send per second (429 beyond).
    pub chat_messages_per_second: u32,
    /// Live (WebSocket) connections one person may hold on one instance.
    pub chat_connections_per_user: usize,
    /// Deliveries queued for one live connection before it is closed as too slow.
    pub chat_outbox_capacity: usize,
    /// Seconds a call rings before it counts as missed.
    pub call_ring_secs: i64,
    /// ICE servers for calls: STUN URLs, TURN URLs (comma-separated), the secret shared with the
    /// TURN server (credentials are computed from it, the TURN REST scheme) and their lifetime.
    pub stun_urls: Option<String>,
    pub turn_urls: Option<String>,
    pub turn_secret: Option<Secret>,
    pub turn_secret_file: Option<PathBuf>,
    pub turn_ttl_secs: i64,
    /// Where uploaded files go: a local directory, or an S3 bucket (with the `aws` feature;
    /// credentials, region and endpoint from the usual `AWS_*` variables).
    pub files_dir: PathBuf,
    pub files_s3_bucket: Option<String>,
    /// The largest upload, in bytes.
    pub files_max_bytes: u64,
    /// The font printable tickets are set in: a font file (OpenType, TrueType or a collection),
    /// `none` for Helvetica only; unset, Noto Sans CJK where the system has it.
    pub pdf_font: Option<String>,
    /// An external OpenID Connect issuer (Cognito: `https://cognito-idp.<region>.amazonaws.com/
    /// <pool id>`) whose tokens sign people in beside Tessera's own, the client id its tokens
    /// must be for, and where its keys are (default: from its discovery document).
    pub oidc_issuer: Option<String>,
    pub oidc_audience: Option<String>,
    pub oidc_jwks_url: Option<String>,
    /// Where e-mail goes: `smtp` (needs `smtp_url`), `ses` (Amazon SES, with the `aws` feature)
    /// or `outbox` (.eml files); unset, `smtp` when `smtp_url` is set, else `outbox`.
    pub mail_transport: Option<String>,
    /// The SES configuration set messages are sent with (its event destinations, reputation).
    pub ses_configuration_set: Option<String>,
    /// AWS Secrets Manager secrets (with the `aws` feature): the database user name and password
    /// (RDS's JSON; fetched again when the server refuses them, after a rotation), the JWT secret
    /// and the ticket master key (plain strings), instead of the values above.
    pub db_secret_arn: Option<String>,
    pub jwt_secret_arn: Option<String>,
    pub ticket_master_key_arn: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            database_url: None,
            database_url_file: None,
            db_max_connections: 10,
            listen: "127.0.0.1:8080".into(),
            tls_cert: None,
            tls_key: None,
            secure_cookies: None,
            jwt_secret: None,
            jwt_secret_file: None,
            ticket_master_key: None,
            ticket_master_key_file: None,
            access_token_ttl_secs: 900,
            refresh_token_ttl_secs: 30 * 24 * 3600,
            login_limit_per_email: 10,
            login_limit_per_ip: 50,
            rate_limit_window_secs: 60,
            queue_join_limit_per_user: 20,
            queue_join_limit_per_ip: 120,
            resend_limit_per_ticket: 3,
            resend_limit_per_user: 20,
            mail_from: "Tessera <tickets@tessera.localhost>".into(),
            smtp_url: None,
            smtp_url_file: None,
            mail_outbox: PathBuf::from("outbox"),
            jobs_worker: true,
            log_format: None,
            trusted_proxies: None,
            trust_forwarded_for: false,
            metrics_token: None,
            metrics_token_file: None,
            metrics_listen: None,
            max_connections: 10_000,
            header_read_timeout_secs: 30,
            concurrency_reads: None,
            concurrency_writes: None,
            concurrency_logins: None,
            shed_queue_wait_ms: 20,
            shed_max_lag_ms: 2,
            chat_messages_per_second: 5,
            chat_connections_per_user: 8,
            chat_outbox_capacity: 512,
            call_ring_secs: 45,
            stun_urls: None,
            turn_urls: None,
            turn_secret: None,
            turn_secret_file: None,
            turn_ttl_secs: 3600,
            files_dir: PathBuf::from("files"),
            files_s3_bucket: None,
            files_max_bytes: 100 * 1024 * 1024,
            pdf_font: None,
            oidc_issuer: None,
            oidc_audience: None,
            oidc_jwks_url: None,
            mail_transport: None,
            ses_configuration_set: None,
            db_secret_arn: None,
            jwt_secret_arn: None,
            ticket_master_key_arn: None,
        }
    }
}

/// A comma-separated list, without empty entries.
pub fn list(v: Option<&str>) -> Vec<String> {
    v.unwrap_or("").split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect()
}

impl Config {
    /// Loads and validates the configuration.
    pub fn load(config_file: Option<&std::path::Path>) -> anyhow::Result<Config> {
        let file = config_file.map(PathBuf::from).unwrap_or_else(|| PathBuf::from("tessera.toml"));
        let mut fig = Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::file(&file))
            .merge(Env::prefixed("TESSERA_"));
        if let Ok(url) = std::env::var("DATABASE_URL") {
            fig = fig.merge(Serialized::default("database_url", url));
        }
        let mut c: Config = fig.extract().context("reading configuration")?;
        if let Some(p) = &c.database_url_file {
            c.database_url = Some(Secret(read_secret(p)?));
        }
        if let Some(p) = &c.jwt_secret_file {
            c.jwt_secret = Some(Secret(read_secret(p)?));
        }
        if let Some(p) = &c.smtp_url_file {
            c.smtp_url = Some(Secret(read_secret(p)?));
        }
        if let Some(p) = &c.metrics_token_file {
            c.metrics_token = Some(Secret(read_secret(p)?));
        }
        if let Some(p) = &c.turn_secret_file {
            c.turn_secret = Some(Secret(read_secret(p)?));
        }
        if let Some(p) = &c.ticket_master_key_file {
            c.ticket_master_key = Some(Secret(read_secret(p)?));
        }
        c.validate()?;
        Ok(c)
    }

    /// The external sign-in provider, if one is configured.
    pub fn oidc(&self) -> anyhow::Result<Option<tessera_app::oidc::OidcConfig>> {
        let Some(issuer) = self.oidc_issuer.as_deref().filter(|s| !s.trim().is_empty()) else {
            if self.oidc_audience.is_some() || self.oidc_jwks_url.is_some() {
                bail!("TESSERA_OIDC_AUDIENCE and TESSERA_OIDC_JWKS_URL need TESSERA_OIDC_ISSUER");
            }
            return Ok(None);
        };
        let mut c =
            tessera_app::oidc::OidcConfig::new(issuer, self.oidc_audience.clone().unwrap_or_default());
        c.jwks_url = self.oidc_jwks_url.clone();
        c.check().map_err(|m| anyhow::anyhow!(m))?;
        Ok(Some(c))
    }

    /// Where e-mail goes, as configured.
    pub fn mail_transport(&self) -> anyhow::Result<&str> {
        match self.mail_transport.as_deref().map(str::trim) {
            None | Some("") => Ok(if self.smtp_url.is_some() { "smtp" } else { "outbox" }),
            Some("smtp") if self.smtp_url.is_none() => {
                bail!("TESSERA_MAIL_TRANSPORT=smtp needs TESSERA_SMTP_URL")
            }
            Some(t @ ("smtp" | "outbox")) => Ok(t),
            Some("ses") if cfg!(feature = "aws") => Ok("ses"),
            Some("ses") => bail!("TESSERA_MAIL_TRANSPORT=ses needs a build with --features aws"),
            Some(other) => bail!("TESSERA_MAIL_TRANSPORT must be smtp, ses or outbox, not {other:?}"),
        }
    }

    fn validate(&self) -> anyhow::Result<()> {
        self.oidc()?;
        self.mail_transport()?;
        let arns = [&self.db_secret_arn, &self.jwt_secret_arn, &self.ticket_master_key_arn];
        if !cfg!(feature = "aws") && arns.iter().any(|a| a.is_some()) {
            bail!("the TESSERA_*_SECRET_ARN settings need a build with --features aws");
        }
        if let Some(s) = &self.jwt_secret
            && s.0.len() < 32
        {
            bail!("TESSERA_JWT_SECRET must be at least 32 bytes");
        }
        if let Some(k) = &self.ticket_master_key {
            tessera_app::ticket_codes::parse_master_key(&k.0)
                .map_err(|m| anyhow::anyhow!("TESSERA_TICKET_MASTER_KEY: {m}"))?;
        }
        if self.mail_from.parse::<lettre::message::Mailbox>().is_err() {
            bail!("TESSERA_MAIL_FROM must be an e-mail address, e.g. 'Tessera <tickets@example.com>'");
        }
        if self.tls_cert.is_some() != self.tls_key.is_some() {
            bail!("set both TESSERA_TLS_CERT and TESSERA_TLS_KEY, or neither");
        }
        if self.access_token_ttl_secs < 30 || self.refresh_token_ttl_secs < 60 {
            bail!("token lifetimes are too short");
        }
        self.proxies()?;
        if self.max_connections == 0 || !(1..=300).contains(&self.header_read_timeout_secs) {
            bail!("TESSERA_MAX_CONNECTIONS must be positive and TESSERA_HEADER_READ_TIMEOUT_SECS 1 to 300");
        }
        if let Some(t) = &self.metrics_token
            && t.0.len() < 16
        {
            bail!("TESSERA_METRICS_TOKEN must be at least 16 characters");
        }
        if self.chat_messages_per_second == 0
            || self.chat_connections_per_user == 0
            || self.chat_outbox_capacity == 0
        {
            bail!(
                "TESSERA_CHAT_MESSAGES_PER_SECOND, _CONNECTIONS_PER_USER and _OUTBOX_CAPACITY must be positive"
            );
        }
        if !(5..=600).contains(&self.call_ring_secs) || !(60..=86_400).contains(&self.turn_ttl_secs) {
            bail!("TESSERA_CALL_RING_SECS must be 5 to 600 and TESSERA_TURN_TTL_SECS 60 to 86400");
        }
        if self.files_max_bytes == 0 {
            bail!("TESSERA_FILES_MAX_BYTES must be positive");
        }
        if self.files_s3_bucket.is_some() && !cfg!(feature = "aws") {
            bail!("TESSERA_FILES_S3_BUCKET needs a build with the `aws` feature");
        }
        if self.turn_urls.is_some() != self.turn_secret.is_some() {
            bail!("set both TESSERA_TURN_URLS and TESSERA_TURN_SECRET, or neither");
        }
        if let Some(f) = &self.log_format
            && f != "json"
            && f != "text"
        {
            bail!("TESSERA_LOG_FORMAT must be json or text");
        }
        Ok(())
    }

    /// The trusted proxies (`trust_forwarded_for` alone means the one in front: 1 hop).
    pub fn proxies(&self) -> anyhow::Result<tessera_http::client_addr::TrustedProxies> {
        use tessera_http::client_addr::TrustedProxies;
        match &self.trusted_proxies {
            Some(p) => p.parse().map_err(|m| anyhow::anyhow!("TESSERA_TRUSTED_PROXIES: {m}")),
            None if self.trust_forwarded_for => Ok(TrustedProxies::Hops(1)),
            None => Ok(TrustedProxies::None),
        }
    }

    /// The load-shedding caps.
    pub fn shed_limits(&self) -> tessera_http::shed::ShedLimits {
        let d = tessera_http::shed::ShedLimits::default();
        tessera_http::shed::ShedLimits {
            reads: self.concurrency_reads.unwrap_or(d.reads),
            writes: self.concurrency_writes.unwrap_or(d.writes),
            logins: self.concurrency_logins.unwrap_or(d.logins),
            queue_wait: std::time::Duration::from_millis(self.shed_queue_wait_ms),
            login_queue_wait: d.login_queue_wait,
            max_lag: std::time::Duration::from_millis(self.shed_max_lag_ms),
        }
    }

    pub fn database_url(&self) -> String {
        self.database_url.as_ref().map(|s| s.0.clone()).unwrap_or_else(|| "sqlite://tessera.db".into())
    }
}

fn read_secret(p: &std::path::Path) -> anyhow::Result<String> {
    Ok(std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?.trim().to_string())
}
