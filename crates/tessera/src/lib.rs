//! The `tessera` binary's parts: configuration, wiring, and the subcommands.

#[cfg(feature = "aws")]
pub mod aws;
pub mod config;
pub mod demo;
pub mod health;
pub mod import;
pub mod jobs;
#[cfg(feature = "aws")]
pub mod lambda;
pub mod listener;
pub mod serve;
pub mod showcase;
pub mod tickets;

use std::sync::Arc;

use tessera_app::calls::CallConfig;
use tessera_app::chats::ChatConfig;
use tessera_app::files::FilesConfig;
use tessera_app::mail::MailConfig;
use tessera_app::ticket_codes::TicketConfig;
use tessera_app::{App, AppConfig, DatabaseOptions, RateLimits, SystemClock, TokenConfig};

use crate::config::Config;

/// Opens the database, runs migrations and builds the application.
pub async fn build_app(cfg: &Config) -> anyhow::Result<App> {
    #[cfg(feature = "aws")]
    let (cfg, credentials) = {
        let mut cfg = cfg.clone();
        let credentials = aws::resolve(&mut cfg).await?;
        (cfg, credentials)
    };
    #[cfg(not(feature = "aws"))]
    let credentials = None;
    let cfg = &cfg;
    let transport = cfg.mail_transport()?;
    let db =
        DatabaseOptions { url: cfg.database_url(), max_connections: cfg.db_max_connections, credentials };
    let app_cfg = AppConfig {
        tokens: TokenConfig {
            jwt_secret: cfg.jwt_secret.as_ref().map(|s| s.0.clone()),
            access_ttl_secs: cfg.access_token_ttl_secs,
            refresh_ttl_secs: cfg.refresh_token_ttl_secs,
        },
        rate_limits: RateLimits {
            window_secs: cfg.rate_limit_window_secs,
            login_per_email: cfg.login_limit_per_email,
            login_per_ip: cfg.login_limit_per_ip,
            queue_join_per_user: cfg.queue_join_limit_per_user,
            queue_join_per_ip: cfg.queue_join_limit_per_ip,
            resend_per_ticket: cfg.resend_limit_per_ticket,
            resend_per_user: cfg.resend_limit_per_user,
        },
        tickets: TicketConfig { master_key: cfg.ticket_master_key.as_ref().map(|s| s.0.clone()) },
        mail: MailConfig {
            from: cfg.mail_from.clone(),
            smtp_url: cfg.smtp_url.as_ref().filter(|_| transport == "smtp").map(|s| s.0.clone()),
            outbox_dir: cfg.mail_outbox.clone(),
            ses: (transport == "ses").then(|| tessera_app::mail::SesConfig {
                configuration_set: cfg.ses_configuration_set.clone(),
            }),
        },
        chat: ChatConfig {
            messages_per_second: cfg.chat_messages_per_second,
            connections_per_user: cfg.chat_connections_per_user,
            outbox_capacity: cfg.chat_outbox_capacity,
        },
        calls: CallConfig {
            ring_secs: cfg.call_ring_secs,
            stun_urls: config::list(cfg.stun_urls.as_deref()),
            turn_urls: config::list(cfg.turn_urls.as_deref()),
            turn_secret: cfg.turn_secret.as_ref().map(|s| s.0.clone()),
            turn_ttl_secs: cfg.turn_ttl_secs,
        },
        files: FilesConfig {
            dir: cfg.files_dir.clone(),
            s3_bucket: cfg.files_s3_bucket.clone(),
            s3_options: Vec::new(),
            max_bytes: cfg.files_max_bytes,
        },
        pdf_font: tessera_app::printable::PdfFont::parse(cfg.pdf_font.as_deref().unwrap_or("")),
        oidc: cfg.oidc()?,
    };
    Ok(App::connect(&db, app_cfg, Arc::new(SystemClock)).await?)
}

/// Sets up logging: human-readable on a terminal, JSON lines otherwise (or as configured).
pub fn init_logging(format: Option<&str>) {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_env("TESSERA_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    let json = match format {
        Some("json") => true,
        Some(_) => false,
        None => !std::io::stderr().is_terminal(),
    };
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = if json {
        builder.json().flatten_event(true).with_current_span(true).with_span_list(false).try_init()
    } else {
        builder.try_init()
    };
}
