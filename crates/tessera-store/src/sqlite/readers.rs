//! Read connections used inline on a sale's hot path.

use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::Connection;

use super::{map_err, other, stable_plans};
use crate::Result;

/// Read connections used inline, for the reads on a sale's hot path (a buyer polling the queue,
/// the checks before a hold): same reason as the writer. A read never waits for anything, so the
/// pool holds at most one connection per thread that has read at once.
#[derive(Debug)]
pub(crate) struct SqliteReaders {
    file: std::path::PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl SqliteReaders {
    pub(crate) fn new(file: &Path) -> SqliteReaders {
        SqliteReaders { file: file.to_path_buf(), idle: Mutex::new(Vec::new()) }
    }

    /// Runs `f` on an idle read connection (opening one if none is idle).
    pub(crate) fn read<R>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<R>) -> Result<R> {
        let idle = self.idle.lock().ok().and_then(|mut v| v.pop());
        let conn = match idle {
            Some(c) => c,
            None => {
                let c = Connection::open_with_flags(
                    &self.file,
                    rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )
                .map_err(other)?;
                c.busy_timeout(Duration::from_secs(30)).map_err(other)?;
                c.set_prepared_statement_cache_capacity(64);
                stable_plans(&c)?;
                c
            }
        };
        let out = f(&conn).map_err(map_err);
        if let Ok(mut v) = self.idle.lock() {
            v.push(conn);
        }
        out
    }
}
