//! Tessera's database: one store over SQLite (embedded default) and PostgreSQL (production).
//!
//! Queries are written once with `$1…$N` placeholders, which both sqlx drivers accept, and run on
//! whichever pool the URL chose (see [`on_db!`]); SQL that must differ is matched on [`Backend`].
//! On SQLite writers take turns in process (one turn, shared by the single-connection sqlx writer
//! pool and the hot-path writer) instead of failing with SQLITE_BUSY; reads use separate
//! connections and see WAL snapshots. The hot paths of a sale (holds, payments, queue joins and
//! polls, rate limits) run their SQL inline on connections of their own (sqlite/).

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

pub mod applications;
pub mod bulk;
mod bus;
pub mod calls;
pub mod chats;
pub mod checkin;
mod credentials;
mod durability;
pub mod events;
pub mod files;
mod hot_path;
pub mod identities;
pub mod jobs;
pub mod limits;
pub mod payments;
mod pg;
pub mod purchases;
pub mod query;
pub mod queue;
pub mod reservations;
pub mod seats;
mod sqlite;
pub mod stats;
pub mod testing;
pub mod tickets;
pub mod tokens;
pub mod users;
pub mod wallet;

pub use purchases::NewPurchase;

/// Store failures, as callers need to tell them apart.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// A uniqueness or other constraint refused the write; the text names it.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The database cannot be reached or is overloaded.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// The write was committed, but the flush that makes it durable failed: it is in the
    /// database, maybe not on disk. Not a failure to retry (it would apply twice).
    #[error("committed, durability unknown: {0}")]
    DurabilityUnknown(String),
    /// Anything else: a bug or an unexpected failure, kept whole with where it arose.
    #[error("database error: {0}")]
    Other(#[source] tessera_domain::Cause),
}

impl StoreError {
    /// An unexpected failure; the caller's location is kept with it.
    #[track_caller]
    pub fn other(e: impl Into<tessera_domain::BoxError>) -> Self {
        StoreError::Other(tessera_domain::Cause::new(e))
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

impl From<sqlx::Error> for StoreError {
    #[track_caller]
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::RowNotFound => StoreError::NotFound,
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                StoreError::Conflict(db.constraint().unwrap_or("unique").to_string())
            }
            sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
                StoreError::Conflict(db.constraint().unwrap_or("foreign_key").to_string())
            }
            sqlx::Error::Database(db) if db.is_check_violation() => {
                StoreError::Conflict(db.constraint().unwrap_or("check").to_string())
            }
            sqlx::Error::Database(db) if unavailable_db_error(db.as_ref()) => {
                StoreError::Unavailable(e.to_string())
            }
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed => StoreError::Unavailable(e.to_string()),
            _ => StoreError::other(e),
        }
    }
}

/// Whether a database error means "the database cannot serve this now, try again": the request
/// did nothing, and a retry after a moment can succeed.
fn unavailable_db_error(db: &dyn sqlx::error::DatabaseError) -> bool {
    let Some(code) = db.code() else { return false };
    if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
        code.parse().is_ok_and(sqlite_unavailable)
    } else {
        pg_unavailable(&code)
    }
}

/// PostgreSQL SQLSTATEs of that kind: connection exceptions (08…), insufficient resources (53…:
/// too many connections, disk full), operator intervention (57P01–57P05: shutdown, starting
/// up), a database not accepting connections or gone (55000 at connect, 3D000), credentials
/// refused (28…: a rotated password), a read-only server (25006: a failover in progress), and a
/// transaction chosen to roll back (40001, 40P01).
pub(crate) fn pg_unavailable(code: &str) -> bool {
    code.starts_with("08")
        || code.starts_with("53")
        || code.starts_with("57P")
        || code.starts_with("28")
        || matches!(code, "55000" | "3D000" | "25006" | "40001" | "40P01")
}

/// SQLite result codes of that kind (the primary code is the low byte): busy, locked, out of
/// memory, read-only, I/O error, disk full, cannot open.
pub(crate) fn sqlite_unavailable(code: i32) -> bool {
    matches!(code & 0xff, 5 | 6 | 7 | 8 | 10 | 13 | 14)
}

#[cfg(test)]
mod unavailable_tests {
    use super::*;

    #[test]
    fn connection_class_errors_are_unavailable() {
        for c in ["08006", "53300", "57P01", "57P03", "55000", "3D000", "28P01", "25006", "40001", "40P01"] {
            assert!(pg_unavailable(c), "{c}");
        }
        for c in ["23505", "22P02", "42P01", "XX000"] {
            assert!(!pg_unavailable(c), "{c}");
        }
        // SQLITE_BUSY, SQLITE_BUSY_SNAPSHOT (517), SQLITE_IOERR_FSYNC (1034), SQLITE_FULL.
        for c in [5, 517, 1034, 13] {
            assert!(sqlite_unavailable(c), "{c}");
        }
        // SQLITE_CONSTRAINT_UNIQUE (2067), SQLITE_ERROR.
        assert!(!sqlite_unavailable(2067) && !sqlite_unavailable(1));
    }
}

/// Which database a store talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Debug, Clone)]
pub(crate) enum Db {
    Sqlite { read: SqlitePool, write: SqlitePool },
    Postgres(PgPool),
}

/// How to open a store.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// `sqlite://path`, `sqlite:path` or `postgres://…`.
    pub url: String,
    /// Pool size for PostgreSQL, and for SQLite readers.
    pub max_connections: u32,
    /// PostgreSQL only: a schema to create and use (each test gets its own).
    pub pg_schema: Option<String>,
    /// PostgreSQL only: where the user name and password come from, when not from the URL.
    pub credentials: Option<std::sync::Arc<dyn DbCredentials>>,
}

impl StoreOptions {
    pub fn new(url: impl Into<String>) -> Self {
        StoreOptions { url: url.into(), max_connections: 10, pg_schema: None, credentials: None }
    }
}

/// A source of PostgreSQL credentials that can change (a secret that rotates, such as the one
/// RDS manages for Aurora).
pub trait DbCredentials: Send + Sync + std::fmt::Debug {
    /// The user name and password. `fresh`: the server refused the last ones, so ask past any
    /// cache.
    fn get(&self, fresh: bool) -> CredentialsFuture<'_>;
}

/// What `DbCredentials::get` answers: the user name and password, or why they could not be had.
pub type CredentialsFuture<'a> =
    std::pin::Pin<Box<dyn Future<Output = std::result::Result<(String, String), String>> + Send + 'a>>;

/// The database handle: cheap to clone, shared by every request.
#[derive(Debug, Clone)]
pub struct Store {
    pub(crate) db: Db,
    /// SQLite files: the grouped WAL flush every write waits for before it is answered.
    wal: Option<std::sync::Arc<durability::WalSync>>,
    /// SQLite: the connection that runs the hot write transactions whole (sqlite/).
    writer: Option<std::sync::Arc<sqlite::SqliteWriter>>,
    /// SQLite: read connections used inline on the hot read paths (sqlite/).
    readers: Option<std::sync::Arc<sqlite::SqliteReaders>>,
    /// PostgreSQL: a few connections whose commits do not wait for the WAL flush (see
    /// `unsynced_pool`), opened when first used.
    unsynced: Option<PgPool>,
    /// PostgreSQL: door scans waiting to run together as one statement (pg/checkin.rs).
    pub(crate) scans: Option<std::sync::Arc<pg::ScanGroups>>,
    /// PostgreSQL: new waiting-room entries waiting to join together (pg/queue.rs).
    pub(crate) joins: Option<std::sync::Arc<pg::JoinGroups>>,
    /// PostgreSQL: holds whose places the server picks, waiting to run together (pg/reservations.rs).
    pub(crate) holds: Option<std::sync::Arc<pg::HoldGroups>>,
    /// PostgreSQL: payments waiting to run together (pg/payments.rs).
    pub(crate) pays: Option<std::sync::Arc<pg::PayGroups>>,
    /// Chat signals to every instance (bus.rs).
    bus: std::sync::Arc<bus::Bus>,
    /// PostgreSQL: where the credentials come from, when a secret gives them.
    credentials: Option<std::sync::Arc<credentials::Refresh>>,
    /// Counts the writes to the catalogue made through this store (`catalogue_version`).
    catalogue: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

/// Runs `$body` with `$p` bound to the pool for reads (`read`) or writes (`write`), on either backend.
/// The body is compiled once per backend, so the same query text serves both.
#[macro_export]
#[doc(hidden)]
macro_rules! on_db {
    ($store:expr, read, |$p:ident| $body:expr) => {
        match &$store.db {
            $crate::Db::Sqlite { read: $p, .. } => $body,
            $crate::Db::Postgres($p) => {
                let r = $body;
                $store.watch_credentials(&r);
                r
            }
        }
    };
    ($store:expr, write, |$p:ident| $body:expr) => {{
        let out: ::std::result::Result<_, $crate::StoreError> = match &$store.db {
            $crate::Db::Sqlite { write: $p, .. } => match $store.writes_allowed() {
                // One writer at a time across sqlx and the hot-path writer (sqlite/).
                Ok(()) => {
                    let _turn = $store.sqlite_write_turn().await;
                    $body.map_err($crate::StoreError::from)
                }
                Err(e) => Err(e),
            },
            $crate::Db::Postgres($p) => {
                let r = $body;
                $store.watch_credentials(&r);
                r.map_err($crate::StoreError::from)
            }
        };
        // Answer only once the write is on disk (a grouped flush on SQLite; PostgreSQL's commit
        // already waited for its WAL flush).
        match out {
            Ok(v) => $store.after_write().await.map(|()| v),
            Err(e) => Err(e),
        }
    }};
}

impl Store {
    /// PostgreSQL: connections whose commits do not wait for the WAL to reach the disk, for a
    /// counter row that every request of a kind updates in one statement (a waiting room's next
    /// position, a rate-limit bucket). An updated row stays locked until its transaction ends, and
    /// a synced commit ends only after the fsync: those requests would go through one at a time,
    /// one fsync each, and a crowd joining a waiting room would queue behind the disk. A crash
    /// can lose the last fraction of a second of such commits, but never one that a later synced
    /// commit depends on: the WAL is written in order, so flushing that commit flushes everything
    /// before it. Never for money, seats or anything a client is promised.
    pub(crate) fn unsynced_pool(&self) -> Option<&PgPool> {
        self.unsynced.as_ref()
    }

    /// Opens the database named by `opts.url` (creating an SQLite file if needed).
    pub async fn connect(opts: &StoreOptions) -> Result<Store> {
        let url = opts.url.trim();
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let mut o = PgConnectOptions::from_str(url).map_err(|e| StoreError::other(e))?;
            if let Some(schema) = &opts.pg_schema {
                create_schema(o.clone(), schema).await?;
                o = o.options([("search_path", schema.as_str())]);
            }
            if let Some(source) = &opts.credentials {
                o = credentials::with(o, source.as_ref(), false).await?;
            }
            let unsynced = PgPoolOptions::new()
                .max_connections((opts.max_connections / 4).max(1))
                .acquire_timeout(Duration::from_secs(10))
                .connect_lazy_with(o.clone().options([("synchronous_commit", "off")]));
            let pool = PgPoolOptions::new()
                .max_connections(opts.max_connections.max(1))
                .acquire_timeout(Duration::from_secs(10))
                .connect_lazy_with(o);
            let credentials = opts.credentials.clone().map(|source| {
                std::sync::Arc::new(credentials::Refresh::new(source, vec![pool.clone(), unsynced.clone()]))
            });
            let store = Store {
                db: Db::Postgres(pool.clone()),
                wal: None,
                writer: None,
                readers: None,
                unsynced: Some(unsynced.clone()),
                scans: Some(std::sync::Arc::new(pg::scan_groups(pool.clone()))),
                joins: Some(std::sync::Arc::new(pg::join_groups(pool.clone(), unsynced.clone()))),
                holds: Some(std::sync::Arc::new(pg::hold_groups(pool.clone(), opts.max_connections))),
                pays: Some(std::sync::Arc::new(pg::pay_groups(pool.clone(), opts.max_connections))),
                bus: bus::Bus::new(opts.pg_schema.as_deref()),
                credentials,
                catalogue: Default::default(),
            };
            // Connect now, so a wrong URL fails the start; credentials that were just rotated
            // are fetched again once.
            if let Err(e) = pool.acquire().await {
                if !(credentials::refused(&e) && store.refresh_credentials().await?) {
                    return Err(e.into());
                }
                pool.acquire().await?;
            }
            Ok(store)
        } else if url.starts_with("sqlite:") {
            let base = SqliteConnectOptions::from_str(url)
                .map_err(|e| StoreError::other(e))?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                // NORMAL: commits do not wait for the disk; every write waits for a grouped WAL
                // fsync before it is answered instead (see durability.rs), which is as durable as
                // FULL with far fewer flushes.
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(30))
                // As the hot-path writer does: fewer, larger checkpoints.
                .pragma("wal_autocheckpoint", sqlite::WAL_AUTOCHECKPOINT_PAGES);
            // Open the writer first so the file exists (and is in WAL mode) before readers attach.
            let write = SqlitePoolOptions::new()
                .max_connections(1)
                .acquire_timeout(Duration::from_secs(30))
                .connect_with(base.clone())
                .await?;
            let read = SqlitePoolOptions::new()
                .max_connections(opts.max_connections.clamp(1, 8))
                .acquire_timeout(Duration::from_secs(30))
                .connect_with(base.read_only(true))
                .await?;
            let file = base_file(url).ok_or_else(|| {
                StoreError::other(format!("{url:?}: SQLite needs a file (readers and writer share it)"))
            })?;
            let wal = std::sync::Arc::new(durability::WalSync::new(file.clone()));
            let writer = std::sync::Arc::new(sqlite::SqliteWriter::open(&file, wal.clone())?);
            let readers = std::sync::Arc::new(sqlite::SqliteReaders::new(&file));
            Ok(Store {
                db: Db::Sqlite { read, write },
                wal: Some(wal),
                writer: Some(writer),
                readers: Some(readers),
                unsynced: None,
                scans: None,
                joins: None,
                holds: None,
                pays: None,
                bus: bus::Bus::new(None),
                credentials: None,
                catalogue: Default::default(),
            })
        } else {
            Err(StoreError::other(format!(
                "unsupported database URL {url:?}: use sqlite://FILE or postgres://…"
            )))
        }
    }

    /// PostgreSQL: drops a schema made with `StoreOptions::pg_schema` and everything in it
    /// (tools that work in a throwaway schema clean up with this). A no-op on SQLite.
    pub async fn drop_schema(&self, schema: &str) -> Result<()> {
        if !schema.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_') {
            return Err(StoreError::other(format!("bad schema name {schema:?}")));
        }
        if let Db::Postgres(p) = &self.db {
            let sql = format!("DROP SCHEMA IF EXISTS {schema} CASCADE");
            sqlx::query(sqlx::AssertSqlSafe(sql)).execute(p).await?;
        }
        Ok(())
    }

    /// The SQLite hot-path writer (every SQLite store has one).
    pub(crate) fn sqlite_writer(&self) -> Result<&sqlite::SqliteWriter> {
        self.writes_allowed()?;
        self.writer.as_deref().ok_or_else(|| StoreError::other("no SQLite writer"))
    }

    /// SQLite: waits for the turn to write (held for a whole transaction; no-op on PostgreSQL).
    #[doc(hidden)]
    pub async fn sqlite_write_turn(&self) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        match &self.writer {
            Some(w) => Some(w.turn().await),
            None => None,
        }
    }

    /// SQLite's inline readers (`None` on PostgreSQL).
    pub(crate) fn sqlite_readers(&self) -> Option<&sqlite::SqliteReaders> {
        self.readers.as_deref()
    }

    pub fn backend(&self) -> Backend {
        match self.db {
            Db::Sqlite { .. } => Backend::Sqlite,
            Db::Postgres(_) => Backend::Postgres,
        }
    }

    /// Waits until the caller's committed write is durable (used by every write). A failed
    /// flush is `DurabilityUnknown`: the write stands in the database.
    #[doc(hidden)]
    pub async fn after_write(&self) -> Result<()> {
        match &self.wal {
            Some(w) => w
                .after_commit()
                .await
                .map_err(|e| StoreError::DurabilityUnknown(format!("flushing the WAL after a commit: {e}"))),
            None => Ok(()),
        }
    }

    /// SQLite stops taking writes once a flush has failed (until a restart), so nothing more is
    /// committed that may not reach the disk.
    pub fn writes_allowed(&self) -> Result<()> {
        match &self.wal {
            Some(w) if w.failed() => Err(StoreError::Unavailable(
                "writes are stopped: the database file could not be flushed to disk; restart the server"
                    .into(),
            )),
            _ => Ok(()),
        }
    }

    /// Applies pending migrations (run at start-up and by `tessera migrate`).
    pub async fn migrate(&self) -> Result<()> {
        let r = match &self.db {
            Db::Sqlite { write, .. } => sqlx::migrate!("./migrations/sqlite").run(write).await,
            Db::Postgres(pool) => sqlx::migrate!("./migrations/postgres").run(pool).await,
        };
        r.map_err(|e| StoreError::other(format!("migration failed: {e}")))
    }

    /// A round trip to the database, for `/health`.
    pub async fn ping(&self) -> Result<()> {
        on_db!(self, read, |p| sqlx::query("SELECT 1").execute(p).await.map(affected))?;
        // A store that stopped taking writes is not healthy, though it still reads.
        self.writes_allowed()
    }

    /// Closes every connection (graceful shutdown).
    pub async fn close(&self) {
        match &self.db {
            Db::Sqlite { read, write } => {
                read.close().await;
                write.close().await;
            }
            Db::Postgres(p) => p.close().await,
        }
    }
}

/// The database file of an SQLite URL (`sqlite://path`, `sqlite:path`, with or without `?…`).
fn base_file(url: &str) -> Option<std::path::PathBuf> {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or("");
    if path.is_empty() || path == ":memory:" { None } else { Some(std::path::PathBuf::from(path)) }
}

async fn create_schema(o: PgConnectOptions, schema: &str) -> Result<()> {
    if !schema.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_') {
        return Err(StoreError::other(format!("bad schema name {schema:?}")));
    }
    let pool = PgPoolOptions::new().max_connections(1).connect_with(o).await?;
    let sql = format!("CREATE SCHEMA IF NOT EXISTS {schema}");
    sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&pool).await?;
    pool.close().await;
    Ok(())
}

/// Starting a write transaction on either pool.
pub(crate) trait WritePool {
    type Db: sqlx::Database;
    /// SQLite: `BEGIN IMMEDIATE`, which takes the write lock up front (waiting for it under the
    /// busy timeout). A deferred transaction that reads first could not upgrade once the hot-path
    /// writer (sqlite/) had committed after its snapshot, and would fail with
    /// "database is locked" instead of waiting. PostgreSQL: a plain `BEGIN`.
    fn begin_write(
        &self,
    ) -> impl std::future::Future<
        Output = std::result::Result<sqlx::Transaction<'static, Self::Db>, sqlx::Error>,
    > + Send;
}

impl WritePool for SqlitePool {
    type Db = sqlx::Sqlite;
    async fn begin_write(
        &self,
    ) -> std::result::Result<sqlx::Transaction<'static, sqlx::Sqlite>, sqlx::Error> {
        self.begin_with("BEGIN IMMEDIATE").await
    }
}

impl WritePool for PgPool {
    type Db = sqlx::Postgres;
    async fn begin_write(
        &self,
    ) -> std::result::Result<sqlx::Transaction<'static, sqlx::Postgres>, sqlx::Error> {
        self.begin().await
    }
}

/// Rows affected by a write, on either backend.
pub(crate) fn affected<R: RowsAffected>(r: R) -> u64 {
    r.rows()
}

pub(crate) trait RowsAffected {
    fn rows(&self) -> u64;
}

impl RowsAffected for sqlx::sqlite::SqliteQueryResult {
    fn rows(&self) -> u64 {
        self.rows_affected()
    }
}

impl RowsAffected for sqlx::postgres::PgQueryResult {
    fn rows(&self) -> u64 {
        self.rows_affected()
    }
}
