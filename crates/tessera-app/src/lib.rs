//! Tessera's use cases, shared by the HTTP API, the CLI and background jobs.
//!
//! Each public method on [`App`] is one use case: it checks who is asking, validates input into
//! domain types, and calls the store. Handlers stay thin and the CLI reuses the same rules.

use std::sync::Arc;
use tessera_domain::id::{EventId, UserId};
use tessera_domain::records::{Event, QueueState};

use time::OffsetDateTime;

pub mod accounts;
pub mod applications;
pub mod auth;
pub mod booking;
pub mod browser_sessions;
pub mod calls;
pub mod catalogue;
pub mod chats;
pub mod checkin;
pub mod checkout;
pub mod cursor;
pub mod error;
pub mod files;
pub mod jobs;
pub mod live;
mod loading;
pub mod mail;
pub mod oidc;
pub mod printable;
pub mod purchases;
pub mod qr;
pub mod queue;
pub mod recent;
pub mod sessions;
pub mod ticket_codes;
pub mod tickets;
pub mod verified;

pub use auth::{Principal, TokenConfig};
pub use error::AppError;
pub use tessera_domain as domain;
pub use tessera_store::{CredentialsFuture, DbCredentials};

pub type Result<T, E = AppError> = std::result::Result<T, E>;

/// Where the current time comes from; tests substitute a controllable clock.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The time in whole seconds, as it is stored.
    fn now(&self) -> OffsetDateTime;

    /// The time to the sub-second, for what runs faster than once a second (the waiting room's
    /// admission ticks and poll hints). A clock that only has whole seconds gives those.
    fn precise_now(&self) -> OffsetDateTime {
        self.now()
    }
}

/// The real clock (UTC).
#[derive(Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        tessera_domain::clock::now()
    }

    fn precise_now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// Limits on login attempts per fixed window.
#[derive(Debug, Clone)]
pub struct RateLimits {
    pub window_secs: i64,
    pub login_per_email: i64,
    pub login_per_ip: i64,
    /// Queue joins per account and per client address per window.
    pub queue_join_per_user: i64,
    pub queue_join_per_ip: i64,
    /// Ticket e-mails sent again per ticket and per requester per hour.
    pub resend_per_ticket: i64,
    pub resend_per_user: i64,
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits {
            window_secs: 60,
            login_per_email: 10,
            login_per_ip: 50,
            queue_join_per_user: 20,
            queue_join_per_ip: 120,
            resend_per_ticket: 3,
            resend_per_user: 20,
        }
    }
}

/// Settings the use cases need.
#[derive(Debug, Clone, Default)]
pub struct AppConfig {
    pub tokens: TokenConfig,
    pub rate_limits: RateLimits,
    pub tickets: ticket_codes::TicketConfig,
    pub mail: mail::MailConfig,
    pub chat: chats::ChatConfig,
    pub calls: calls::CallConfig,
    pub files: files::FilesConfig,
    /// The font printable tickets are set in.
    pub pdf_font: printable::PdfFont,
    /// An external sign-in provider (Cognito or any OpenID Connect issuer), beside Tessera's own.
    pub oidc: Option<oidc::OidcConfig>,
}

/// The application: cheap to clone, shared by every request and job.
#[derive(Debug, Clone)]
pub struct App {
    store: tessera_store::Store,
    pub config: Arc<AppConfig>,
    pub clock: Arc<dyn Clock>,
    keys: Arc<auth::Keys>,
    master: Arc<ticket_codes::MasterKey>,
    mailer: Arc<mail::Mailer>,
    queue_states: Arc<recent::Recent<QueueState>>,
    events: Arc<recent::Recent<Event>>,
    /// At the door: each event's public keys that are not retired, and who is its staff.
    door_keys: Arc<recent::Recent<checkin::DoorKeys>>,
    door_staff: Arc<recent::Recent<(), (EventId, UserId)>>,
    access_tokens: Arc<verified::Verified<sessions::TokenClaims>>,
    sessions: Arc<sessions::Sessions>,
    queue_tokens: Arc<verified::Verified<auth::QueueTicket>>,
    hub: Arc<live::Hub>,
    send_limiter: Arc<chats::SendLimiter>,
    storage: files::Storage,
    printer: Arc<printable::Printer>,
    oidc: Option<Arc<oidc::Oidc>>,
}

/// Where the database is and how many connections to keep.
#[derive(Debug, Clone)]
pub struct DatabaseOptions {
    /// `sqlite://path`, `sqlite:path` or `postgres://…`.
    pub url: String,
    pub max_connections: u32,
    /// PostgreSQL: the user name and password from a rotating secret instead of the URL.
    pub credentials: Option<Arc<dyn tessera_store::DbCredentials>>,
}

impl App {
    /// Opens the database, brings its schema up to date and builds the app on it.
    pub async fn connect(db: &DatabaseOptions, config: AppConfig, clock: Arc<dyn Clock>) -> Result<App> {
        let mut opts = tessera_store::StoreOptions::new(db.url.clone());
        opts.max_connections = db.max_connections;
        opts.credentials = db.credentials.clone();
        let store = tessera_store::Store::connect(&opts).await?;
        store.migrate().await?;
        App::new(store, config, clock).await
    }

    /// Closes the database's connections (after the last request and job).
    pub async fn close(&self) {
        self.store.close().await;
    }

    /// Builds the app. Without a configured signing secret, one is generated once and kept in the
    /// database, so every instance signs and verifies with the same key.
    pub async fn new(store: tessera_store::Store, config: AppConfig, clock: Arc<dyn Clock>) -> Result<App> {
        let keys = auth::Keys::load(&store, &config.tokens).await?;
        let master = ticket_codes::MasterKey::load(&store, &config.tickets).await?;
        let mailer = mail::Mailer::new(&config.mail)?;
        let storage = files::Storage::open(&config.files)?;
        let printer = printable::Printer::new(&config.pdf_font)?;
        let oidc = config.oidc.clone().map(oidc::Oidc::new).transpose()?.map(Arc::new);
        Ok(App {
            store,
            config: Arc::new(config),
            clock,
            keys: Arc::new(keys),
            master: Arc::new(master),
            mailer: Arc::new(mailer),
            queue_states: Arc::default(),
            events: Arc::default(),
            door_keys: Arc::default(),
            door_staff: Arc::default(),
            access_tokens: Arc::default(),
            sessions: Arc::default(),
            queue_tokens: Arc::default(),
            hub: Arc::default(),
            send_limiter: Arc::default(),
            storage,
            printer: Arc::new(printer),
            oidc,
        })
    }

    /// A printable ticket (PDF) with its code, made off the async threads (the first one reads
    /// the font file; each subsets it).
    pub async fn ticket_pdf(&self, t: &tessera_domain::records::TicketDetail, code: &str) -> Result<Vec<u8>> {
        let (printer, t, code) = (self.printer.clone(), t.clone(), code.to_string());
        tokio::task::spawn_blocking(move || printer.ticket_pdf(&t, &code))
            .await
            .map_err(AppError::internal)?
    }

    pub fn now(&self) -> OffsetDateTime {
        self.clock.now()
    }

    /// The time to the sub-second (`Clock::precise_now`).
    pub fn precise_now(&self) -> OffsetDateTime {
        self.clock.precise_now()
    }

    /// Whether the database answers (and takes writes), and which database it is.
    pub async fn health(&self) -> Health {
        Health {
            database_ok: self.store.ping().await.is_ok(),
            backend: match self.store.backend() {
                tessera_store::Backend::Sqlite => "sqlite",
                tessera_store::Backend::Postgres => "postgres",
            },
        }
    }
}

/// What a health check reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Health {
    pub database_ok: bool,
    /// `sqlite` or `postgres`.
    pub backend: &'static str,
}
