//! Grouped commits for SQLite: the writer commits without waiting for the disk
//! (`synchronous=NORMAL` in WAL mode), and every write then waits, before it is answered, for an
//! fsync of the WAL that started after its commit. One fsync covers every commit made before it
//! began, so concurrent writers share flushes: an answered write survives a power cut, and the
//! disk is flushed once per group instead of once per transaction (DESIGN.md, Data/Durability).

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug)]
pub(crate) struct WalSync {
    wal: PathBuf,
    /// Commits finished so far (each writer takes a number after committing).
    committed: AtomicU64,
    /// Every commit numbered up to this is on disk.
    synced: AtomicU64,
    /// One fsync at a time; writers queued behind it are usually covered by it.
    flushing: tokio::sync::Mutex<()>,
}

impl WalSync {
    pub(crate) fn new(db_file: PathBuf) -> Self {
        let mut wal = db_file.into_os_string();
        wal.push("-wal");
        WalSync {
            wal: PathBuf::from(wal),
            committed: AtomicU64::new(0),
            synced: AtomicU64::new(0),
            flushing: tokio::sync::Mutex::new(()),
        }
    }

    /// Returns once everything this writer committed is on disk.
    pub(crate) async fn after_commit(&self) -> std::io::Result<()> {
        let ticket = self.committed.fetch_add(1, Ordering::SeqCst) + 1;
        if self.synced.load(Ordering::SeqCst) >= ticket {
            return Ok(());
        }
        let _turn = self.flushing.lock().await;
        if self.synced.load(Ordering::SeqCst) >= ticket {
            return Ok(());
        }
        // Every commit numbered up to `upto` finished before this fsync starts, so it covers them.
        let upto = self.committed.load(Ordering::SeqCst);
        let wal = self.wal.clone();
        tokio::task::spawn_blocking(move || sync_wal(&wal)).await.map_err(std::io::Error::other)??;
        self.synced.fetch_max(upto, Ordering::SeqCst);
        Ok(())
    }

    /// Makes every commit finished so far durable; for a plain thread (the inline writer's
    /// flusher), whose batches all committed before it calls this.
    pub(crate) fn flush_blocking(&self) -> std::io::Result<()> {
        let upto = self.committed.load(Ordering::SeqCst);
        sync_wal(&self.wal)?;
        self.synced.fetch_max(upto, Ordering::SeqCst);
        Ok(())
    }
}

fn sync_wal(wal: &std::path::Path) -> std::io::Result<()> {
    match std::fs::File::open(wal) {
        Ok(f) => f.sync_data(),
        // No WAL file: everything was checkpointed (and synced) into the database file.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_writers_share_flushes() {
        let dir = std::env::temp_dir().join(format!("walsync-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let db = dir.join("x.db");
        std::fs::write(format!("{}-wal", db.display()), b"frames").unwrap();
        let s = std::sync::Arc::new(WalSync::new(db));
        let tasks: Vec<_> = (0..50)
            .map(|_| {
                let s = s.clone();
                tokio::spawn(async move { s.after_commit().await.unwrap() })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(s.synced.load(Ordering::SeqCst), 50, "every commit is covered");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test]
    async fn missing_wal_is_fine() {
        let s = WalSync::new(std::env::temp_dir().join(format!("none-{}.db", uuid::Uuid::new_v4())));
        s.after_commit().await.unwrap();
    }
}
