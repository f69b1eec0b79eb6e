//! The `tessera` command: serve (default), migrate, seed, import, admin, openapi, lambda.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};

use tessera::config::Config;

// The server makes many small, short-lived allocations per request across its runtime threads;
// mimalloc's per-thread heaps are cheaper than glibc's allocator for that pattern.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "tessera", version, about = "Tessera event-ticketing server")]
struct Cli {
    /// Configuration file (default ./tessera.toml, optional).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP(S) server (the default).
    Serve {
        /// Address to listen on (overrides TESSERA_LISTEN).
        #[arg(long)]
        listen: Option<String>,
        /// Fill the database with demo data first.
        #[arg(long)]
        demo: bool,
    },
    /// Apply database migrations and exit.
    Migrate,
    /// Fill the database with data.
    Seed {
        /// A realistic, deterministic demo catalogue (idempotent).
        #[arg(long)]
        demo: bool,
    },
    /// Import seed-000 CSV files (bad rows are reported by line and skipped).
    Import {
        #[arg(long)]
        users: Option<PathBuf>,
        #[arg(long)]
        events: Option<PathBuf>,
        #[arg(long)]
        purchases: Option<PathBuf>,
    },
    /// Administration.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Background jobs.
    Jobs {
        #[command(subcommand)]
        command: JobsCommand,
    },
    /// Tickets.
    Tickets {
        #[command(subcommand)]
        command: TicketsCommand,
    },
    /// Print the OpenAPI document.
    Openapi,
    /// Exit 0 when the server on this machine answers `GET /health` with 200 (a container's
    /// health check: distroless images have no shell or curl).
    Healthcheck {
        /// Where the server listens (default: the configured listen address, on loopback).
        #[arg(long)]
        addr: Option<String>,
    },
    /// Run as an AWS Lambda function behind API Gateway.
    #[cfg(feature = "aws")]
    Lambda,
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Create an administrator account.
    Create {
        #[arg(long)]
        email: String,
        #[arg(long)]
        password: String,
        #[arg(long)]
        name: Option<String>,
    },
}

#[derive(Subcommand)]
enum JobsCommand {
    /// Run a background job once and exit, for schedulers (cron; EventBridge invokes the Lambda
    /// function with `{"tessera_job": NAME}` instead): `jobs` (due e-mail and bulk sends),
    /// `admission` (let people in from the waiting rooms), `holds` (end lapsed holds).
    Run {
        /// Which job.
        #[arg(long, default_value = "jobs")]
        job: tessera::jobs::Job,
        /// `jobs`: stop after this many.
        #[arg(long, default_value_t = 1000)]
        max: usize,
        /// `admission`: keep ticking this many seconds while someone waits (0: one tick).
        #[arg(long, default_value_t = 0)]
        for_secs: u64,
    },
}

#[derive(Subcommand)]
enum TicketsCommand {
    /// E-mail an event's holders their tickets, with a progress bar.
    Send {
        /// The event (UUID).
        #[arg(long)]
        event: uuid::Uuid,
        /// Also holders who were sent their tickets before.
        #[arg(long)]
        all: bool,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let cfg = Config::load(cli.config.as_deref())?;
    tessera::init_logging(cfg.log_format.as_deref());
    // Lambda is detected from its environment too, so the same binary can be the function handler.
    #[cfg(feature = "aws")]
    if std::env::var("AWS_LAMBDA_RUNTIME_API").is_ok() && cli.command.is_none() {
        return tessera::lambda::run(&cfg).await;
    }
    match cli.command.unwrap_or(Command::Serve { listen: None, demo: false }) {
        Command::Serve { listen, demo } => {
            let app = tessera::build_app(&cfg).await?;
            if demo {
                let r = tessera::demo::seed(&app).await?;
                tracing::info!(?r, "demo data ready");
            }
            let listen = listen.unwrap_or_else(|| cfg.listen.clone());
            tessera::serve::serve(app, &cfg, &listen).await
        }
        Command::Migrate => {
            let app = tessera::build_app(&cfg).await?;
            app.close().await;
            println!("migrations applied");
            Ok(())
        }
        Command::Seed { demo } => {
            anyhow::ensure!(demo, "only `seed --demo` exists; use `import` for your own data");
            let app = tessera::build_app(&cfg).await?;
            let r = tessera::demo::seed(&app).await?;
            println!("{r}");
            app.close().await;
            Ok(())
        }
        Command::Import { users, events, purchases } => {
            let app = tessera::build_app(&cfg).await?;
            let report =
                tessera::import::run(&app, users.as_deref(), events.as_deref(), purchases.as_deref()).await?;
            app.close().await;
            print!("{report}");
            anyhow::ensure!(report.rejected() == 0, "{} rows were rejected", report.rejected());
            Ok(())
        }
        Command::Admin { command: AdminCommand::Create { email, password, name } } => {
            let app = tessera::build_app(&cfg).await?;
            let user = app
                .create_admin(&email, &password, name.as_deref())
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))
                .context("creating the administrator")?;
            println!("created admin {} ({})", user.email, user.user_id);
            app.close().await;
            Ok(())
        }
        Command::Jobs { command: JobsCommand::Run { job, max, for_secs } } => {
            let app = tessera::build_app(&cfg).await?;
            let r = tessera::jobs::run(&app, job, std::time::Duration::from_secs(for_secs), max).await;
            app.close().await;
            println!("{}", r?);
            Ok(())
        }
        Command::Tickets { command: TicketsCommand::Send { event, all } } => {
            let app = tessera::build_app(&cfg).await?;
            let r = tessera::tickets::send(&app, event.into(), all).await;
            app.close().await;
            r
        }
        Command::Healthcheck { addr } => {
            let addr = addr.unwrap_or_else(|| tessera::health::local_addr(&cfg.listen));
            tessera::health::check(&addr, std::time::Duration::from_secs(3)).await
        }
        Command::Openapi => {
            print!("{}", tessera_http::openapi_json());
            Ok(())
        }
        #[cfg(feature = "aws")]
        Command::Lambda => tessera::lambda::run(&cfg).await,
    }
}
