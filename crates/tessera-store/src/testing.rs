//! Fresh databases for tests: an SQLite file in a temporary directory, or a new schema in the
//! PostgreSQL database named by `TESSERA_TEST_DATABASE_URL`.

use crate::{Backend, Store, StoreOptions};

/// The variable that points the PostgreSQL tests at a server.
pub const PG_URL_VAR: &str = "TESSERA_TEST_DATABASE_URL";

/// A migrated, empty database that deletes its SQLite file when dropped.
#[derive(Debug)]
pub struct TestDb {
    pub store: Store,
    file: Option<std::path::PathBuf>,
}

impl TestDb {
    /// A store the test opened itself (kept when dropped).
    pub fn existing(store: Store) -> TestDb {
        TestDb { store, file: None }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(f) = &self.file {
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", f.display()));
            }
        }
    }
}

/// Opens a fresh, migrated database on `backend`. Panics when PostgreSQL is asked for but
/// `TESSERA_TEST_DATABASE_URL` is unset: such tests are compiled as ignored in that case.
#[allow(clippy::expect_used)]
pub async fn test_db(backend: Backend) -> TestDb {
    let id = uuid::Uuid::new_v4().simple().to_string();
    let (opts, file) = match backend {
        Backend::Sqlite => {
            let f = std::env::temp_dir().join(format!("tessera-test-{id}.db"));
            (StoreOptions::new(format!("sqlite://{}", f.display())), Some(f))
        }
        Backend::Postgres => {
            let url = std::env::var(PG_URL_VAR)
                .expect("TESSERA_TEST_DATABASE_URL must be set for PostgreSQL tests");
            let mut o = StoreOptions::new(url);
            o.pg_schema = Some(format!("t_{id}"));
            o.max_connections = 20;
            (o, None)
        }
    };
    let store = Store::connect(&opts).await.expect("connect test database");
    store.migrate().await.expect("migrate test database");
    TestDb { store, file }
}
