//! Fresh databases for tests: an SQLite file in a temporary directory, or a new schema in the
//! PostgreSQL database named by `TESSERA_TEST_DATABASE_URL`.

use crate::{Backend, Store, StoreOptions};

/// The variable that points the PostgreSQL tests at a server.
pub const PG_URL_VAR: &str = "TESSERA_TEST_DATABASE_URL";

/// Runs an `async fn(Backend)` test on SQLite and, when `TESSERA_TEST_DATABASE_URL` is set, on
/// PostgreSQL; without it the PostgreSQL variant is compiled as ignored (the calling crate's
/// build script sets `cfg(tessera_pg)`), so it shows as skipped, never as passed.
#[macro_export]
macro_rules! both {
    ($($name:ident),* $(,)?) => { $(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() { super::$name($crate::Backend::Sqlite).await }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            #[cfg_attr(not(tessera_pg), ignore = "set TESSERA_TEST_DATABASE_URL to run on PostgreSQL")]
            async fn postgres() { super::$name($crate::Backend::Postgres).await }
        }
    )* };
}

/// A migrated, empty database that is deleted when dropped (also when the test panics): the
/// SQLite file, or the PostgreSQL schema.
#[derive(Debug)]
pub struct TestDb {
    pub store: Store,
    file: Option<std::path::PathBuf>,
    /// The server URL and the schema made for this test.
    pg_schema: Option<(String, String)>,
    /// How it was opened, for a second instance on the same database.
    opts: Option<StoreOptions>,
}

impl TestDb {
    /// A store the test opened itself (kept when dropped).
    pub fn existing(store: Store) -> TestDb {
        TestDb { store, file: None, pg_schema: None, opts: None }
    }
}

impl TestDb {
    /// Another store on the same database, as a second server instance would open it (on
    /// PostgreSQL it hears the first one's chat signals; on SQLite it does not).
    #[allow(clippy::expect_used)]
    pub async fn second_instance(&self) -> Store {
        let opts = self.opts.as_ref().expect("a test database made by test_db");
        Store::connect(opts).await.expect("connect a second instance")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(f) = &self.file {
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", f.display()));
            }
        }
        if let Some((url, schema)) = self.pg_schema.take() {
            // Drop cannot await, and may run inside the test's runtime: a thread of its own with
            // a runtime of its own does the work, and the drop waits for it.
            let dropped = std::thread::spawn(move || drop_pg_schema(&url, &schema)).join();
            if !matches!(dropped, Ok(Ok(()))) {
                eprintln!("testing: a PostgreSQL test schema was left behind: {dropped:?}");
            }
        }
    }
}

fn drop_pg_schema(url: &str, schema: &str) -> Result<(), String> {
    use sqlx::Connection;
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
    rt.block_on(async {
        let mut c = sqlx::PgConnection::connect(url).await.map_err(|e| e.to_string())?;
        // A connection still in a transaction on the schema would make the drop wait; give up
        // after a while rather than hang the test run.
        let sql = format!("SET lock_timeout = '10s'; DROP SCHEMA IF EXISTS {schema} CASCADE");
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(&mut c).await.map_err(|e| e.to_string())?;
        c.close().await.map_err(|e| e.to_string())
    })
}

/// Opens a fresh, migrated database on `backend`. Panics when PostgreSQL is asked for but
/// `TESSERA_TEST_DATABASE_URL` is unset: such tests are compiled as ignored in that case.
#[allow(clippy::expect_used)]
pub async fn test_db(backend: Backend) -> TestDb {
    let id = uuid::Uuid::new_v4().simple().to_string();
    let (opts, file, pg_schema) = match backend {
        Backend::Sqlite => {
            let f = std::env::temp_dir().join(format!("tessera-test-{id}.db"));
            (StoreOptions::new(format!("sqlite://{}", f.display())), Some(f), None)
        }
        Backend::Postgres => {
            let url = std::env::var(PG_URL_VAR)
                .expect("TESSERA_TEST_DATABASE_URL must be set for PostgreSQL tests");
            let schema = format!("t_{id}");
            let mut o = StoreOptions::new(url.clone());
            o.pg_schema = Some(schema.clone());
            o.max_connections = 20;
            (o, None, Some((url, schema)))
        }
    };
    let store = Store::connect(&opts).await.expect("connect test database");
    let db = TestDb { store, file, pg_schema, opts: Some(opts) };
    // Made before migrating, so a failed migration still drops the schema.
    db.store.migrate().await.expect("migrate test database");
    db
}
