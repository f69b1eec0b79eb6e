//! `tessera serve`: HTTP (or HTTPS with rustls) with graceful shutdown.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use metrics_exporter_prometheus::PrometheusBuilder;
use tessera_app::App;
use tessera_http::{AppState, Shared};

use crate::config::Config;
use crate::jobs::Job;

/// How often the metrics recorder folds recorded latencies into its summaries.
const METRICS_UPKEEP: Duration = Duration::from_secs(5);

/// The router state for a real server: metrics recorder installed once per process. Must run
/// inside the Tokio runtime (it starts the recorder's upkeep).
pub fn shared(app: App, cfg: &Config) -> Shared {
    let metrics = PrometheusBuilder::new().install_recorder().ok();
    if let Some(handle) = metrics.clone() {
        // The recorder keeps every latency sample until it is folded into the histograms, which
        // only a scrape of /metrics or this upkeep does: without it, a server nobody scrapes
        // would grow with every request it answers.
        tokio::spawn(async move {
            let mut every = tokio::time::interval(METRICS_UPKEEP);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                every.tick().await;
                handle.run_upkeep();
            }
        });
    }
    Shared {
        app,
        metrics,
        // Validated when the configuration was loaded.
        trusted_proxies: cfg.proxies().unwrap_or_default(),
        metrics_token: cfg.metrics_token.as_ref().map(|t| t.0.clone()),
        shed_limits: cfg.shed_limits(),
        secure_cookies: cfg.secure_cookies.unwrap_or(cfg.tls_cert.is_some()),
        answers: Default::default(),
    }
}

/// Serves on `listen` until Ctrl-C or SIGTERM, then drains in-flight requests.
pub async fn serve(app: App, cfg: &Config, listen: &str) -> anyhow::Result<()> {
    let addr: SocketAddr = listen.parse().with_context(|| format!("bad listen address {listen:?}"))?;
    let listener = std::net::TcpListener::bind(addr).with_context(|| format!("binding {addr}"))?;
    run(app, cfg, listener, shutdown_signal()).await
}

/// Serves on an already-bound listener until `shutdown` completes, then drains in-flight
/// requests and closes the database. HTTPS when the configuration names a certificate and key.
pub async fn run(
    app: App,
    cfg: &Config,
    listener: std::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    let closing = app.clone();
    let sweeper = tokio::spawn(background(app.clone()));
    let worker = cfg.jobs_worker.then(|| tokio::spawn(jobs_worker(app.clone())));
    let state = AppState::new(shared(app, cfg));
    let metrics_server = match &cfg.metrics_listen {
        Some(addr) => Some(serve_metrics(state.clone(), addr).await?),
        None => None,
    };
    let router = tessera_http::router(state);
    let limits = crate::listener::ConnectionLimits {
        max_connections: crate::listener::connection_cap(
            cfg.max_connections,
            crate::listener::raise_descriptor_limit(),
        ),
        header_read_timeout: Duration::from_secs(cfg.header_read_timeout_secs),
        tls_handshake_timeout: Duration::from_secs(cfg.header_read_timeout_secs),
    };
    let tls = match (&cfg.tls_cert, &cfg.tls_key) {
        (Some(cert), Some(key)) => Some(crate::listener::tls_acceptor(cert, key)?),
        _ => None,
    };
    let listener = tokio::net::TcpListener::from_std(listener)?;
    tracing::info!(%addr, tls = tls.is_some(), max_connections = limits.max_connections, "serving");
    crate::listener::serve(listener, router, tls, limits, shutdown, Duration::from_secs(20)).await;
    sweeper.abort();
    if let Some(m) = metrics_server {
        m.abort();
    }
    if let Some(w) = worker {
        w.abort();
    }
    closing.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// Serves `/metrics` alone on `addr` (`TESSERA_METRICS_LISTEN`), with no token: for a scraper
/// on a private address.
async fn serve_metrics(state: AppState, addr: &str) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding the metrics listener {addr}"))?;
    tracing::info!(addr = %listener.local_addr()?, "serving /metrics");
    let router = tessera_http::metrics_router(state);
    Ok(tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router).await {
            tracing::error!(error = %e, "the metrics listener stopped");
        }
    }))
}

/// In-process background work: admits the next buyers of every waiting room four times a
/// second (places freed by finished purchases are given out again within a quarter second), and
/// every 30 seconds tidies expired holds, closed rate-limit windows and old session changes.
/// Correctness never depends on the tidying (an expired hold is available in every query). Safe with many instances: admission is serialized per
/// event in the database and each sweep is one conditional update.
async fn background(app: App) {
    // The waiting-room hints count on this period (`queue_pace::ADMISSION_TICK_MS`).
    let tick_ms = tessera_domain::queue_pace::ADMISSION_TICK_MS.unsigned_abs();
    let mut tick = tokio::time::interval(Duration::from_millis(tick_ms));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut n: u64 = 0;
    loop {
        tick.tick().await;
        n += 1;
        if let Err(e) = app.advance_queues().await {
            tracing::warn!(error = %e, "advancing waiting rooms failed");
        }
        if n.is_multiple_of(120) {
            match crate::jobs::run(&app, Job::Holds, Duration::ZERO, 0).await {
                Ok(r) if r.done > 0 => {
                    tracing::info!(ended = r.done, "ended lapsed holds and rate-limit windows")
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "ending lapsed holds failed"),
            }
        }
    }
}

/// Runs due jobs (ticket e-mail, bulk sends) every second, apart from the admission ticks so a
/// slow SMTP server never delays the waiting rooms. A job cut short by shutdown is taken up
/// again when its lease lapses.
async fn jobs_worker(app: App) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(e) = crate::jobs::run(&app, Job::Jobs, Duration::ZERO, 100).await {
            tracing::warn!(error = %e, "running jobs failed");
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutdown requested: draining requests");
}
