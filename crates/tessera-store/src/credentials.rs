//! PostgreSQL credentials from a source that can change (a rotating secret): used when the
//! pools open connections, and fetched again when the server refuses them. Connections already
//! open keep working through a rotation; new ones are opened with what the source says now.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use sqlx::PgPool;
use sqlx::postgres::PgConnectOptions;

use crate::{DbCredentials, Result, Store, StoreError};

/// The least time between two fetches after refusals (a burst of failing requests is one fetch).
const REFETCH_AFTER: Duration = Duration::from_secs(2);

/// The source, and the pools whose future connections use what it gives.
#[derive(Debug)]
pub(crate) struct Refresh {
    source: Arc<dyn DbCredentials>,
    pools: Vec<PgPool>,
    running: AtomicBool,
    last: std::sync::Mutex<Option<Instant>>,
}

/// `o` with the source's user name and password.
pub(crate) async fn with(
    o: PgConnectOptions,
    source: &dyn DbCredentials,
    fresh: bool,
) -> Result<PgConnectOptions> {
    let (user, password) = source.get(fresh).await.map_err(StoreError::Unavailable)?;
    Ok(o.username(&user).password(&password))
}

/// Whether the server refused the credentials (SQLSTATE class 28: a wrong password, or a role
/// that may no longer log in).
pub(crate) fn refused(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.code().is_some_and(|c| c.starts_with("28")))
}

impl Refresh {
    pub(crate) fn new(source: Arc<dyn DbCredentials>, pools: Vec<PgPool>) -> Refresh {
        Refresh { source, pools, running: AtomicBool::new(false), last: std::sync::Mutex::new(None) }
    }

    /// Fetches the credentials past the cache and gives them to the pools; `false` when another
    /// fetch is running or one ran moments ago.
    async fn run(&self) -> Result<bool> {
        if self.running.swap(true, Ordering::AcqRel) {
            return Ok(false);
        }
        let recent =
            self.last.lock().map(|l| l.is_some_and(|t| t.elapsed() < REFETCH_AFTER)).unwrap_or(false);
        let outcome = if recent {
            Ok(false)
        } else {
            let fetched = self.source.get(true).await.map_err(StoreError::Unavailable);
            if let Ok(mut l) = self.last.lock() {
                *l = Some(Instant::now());
            }
            fetched.map(|(user, password)| {
                for pool in &self.pools {
                    let o = (*pool.connect_options()).clone().username(&user).password(&password);
                    pool.set_connect_options(o);
                }
                tracing::info!("database credentials fetched again after the server refused them");
                true
            })
        };
        self.running.store(false, Ordering::Release);
        outcome
    }
}

impl Store {
    /// Fetches the database credentials again (after the server refused them); `false` when
    /// there is no source or a fetch just ran.
    pub async fn refresh_credentials(&self) -> Result<bool> {
        match &self.credentials {
            Some(r) => r.run().await,
            None => Ok(false),
        }
    }

    /// After a PostgreSQL call: if the server refused the credentials, fetch them again in the
    /// background (this request fails as unavailable; the next ones connect with the new ones).
    pub(crate) fn watch_credentials<T>(&self, r: &std::result::Result<T, sqlx::Error>) {
        if let (Some(refresh), Err(e)) = (&self.credentials, r)
            && refused(e)
        {
            let refresh = refresh.clone();
            tokio::spawn(async move {
                if let Err(e) = refresh.run().await {
                    tracing::warn!(error = %e, "fetching the database credentials again failed");
                }
            });
        }
    }
}
