//! Grouped commits for SQLite: the writer commits without waiting for the disk
//! (`synchronous=NORMAL` in WAL mode), and every write then waits, before it is answered, for an
//! fsync of the WAL that started after its commit. One fsync covers every commit made before it
//! began, so concurrent writers share flushes: an answered write survives a power cut, and the
//! disk is flushed once per group instead of once per transaction (DESIGN.md, Data/Durability).
//!
//! A flush that fails leaves the commits before it in an unknown state: they are in the database
//! (later reads see them) but maybe not on disk. They are answered `DurabilityUnknown`, never as
//! a failure a client would retry (a retried top-up would be applied twice), and the store stops
//! taking writes until it is restarted: nothing more is promised that may not be kept.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

#[derive(Debug)]
pub(crate) struct WalSync {
    wal: PathBuf,
    /// The WAL, opened once and kept: a flush that had to open it could fail for want of a file
    /// descriptor after its commits were made.
    file: std::sync::Mutex<Option<std::sync::Arc<std::fs::File>>>,
    /// Commits finished so far (each writer takes a number after committing).
    committed: AtomicU64,
    /// Every commit numbered up to this is on disk.
    synced: AtomicU64,
    /// One fsync at a time; writers queued behind it are usually covered by it.
    flushing: tokio::sync::Mutex<()>,
    /// A flush failed: no more writes until a restart.
    failed: AtomicBool,
    #[cfg(test)]
    fail_next: AtomicBool,
}

impl WalSync {
    pub(crate) fn new(db_file: PathBuf) -> Self {
        let mut wal = db_file.into_os_string();
        wal.push("-wal");
        let wal = PathBuf::from(wal);
        let file = std::fs::File::open(&wal).ok().map(std::sync::Arc::new);
        WalSync {
            wal,
            file: std::sync::Mutex::new(file),
            committed: AtomicU64::new(0),
            synced: AtomicU64::new(0),
            flushing: tokio::sync::Mutex::new(()),
            failed: AtomicBool::new(false),
            #[cfg(test)]
            fail_next: AtomicBool::new(false),
        }
    }

    /// Whether a flush has failed (writes are then refused until a restart).
    pub(crate) fn failed(&self) -> bool {
        self.failed.load(Ordering::SeqCst)
    }

    /// The WAL's handle, opened on first need and kept.
    fn handle(&self) -> std::io::Result<Option<std::sync::Arc<std::fs::File>>> {
        let mut slot = self.file.lock().map_err(|_| std::io::Error::other("WAL handle lock poisoned"))?;
        if slot.is_none() {
            match std::fs::File::open(&self.wal) {
                Ok(f) => *slot = Some(std::sync::Arc::new(f)),
                // No WAL file: everything was checkpointed (and synced) into the database file.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(e),
            }
        }
        Ok(slot.clone())
    }

    /// A flush failure a test asked for.
    fn check_injected(&self) -> std::io::Result<()> {
        #[cfg(test)]
        if self.fail_next.swap(false, Ordering::SeqCst) {
            self.failed.store(true, Ordering::SeqCst);
            return Err(std::io::Error::other("injected flush failure"));
        }
        Ok(())
    }

    /// One fsync of the WAL on this thread; a failure latches `failed`.
    fn sync(&self) -> std::io::Result<()> {
        self.check_injected()?;
        let r = self.handle().and_then(|f| f.map_or(Ok(()), |f| f.sync_data()));
        if r.is_err() {
            self.failed.store(true, Ordering::SeqCst);
        }
        r
    }

    #[cfg(test)]
    pub(crate) fn fail_next_flush(&self) {
        self.fail_next.store(true, Ordering::SeqCst);
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
        self.check_injected()?;
        let synced = match self.handle() {
            Ok(Some(f)) => tokio::task::spawn_blocking(move || f.sync_data())
                .await
                .unwrap_or_else(|e| Err(std::io::Error::other(e))),
            Ok(None) => Ok(()),
            Err(e) => Err(e),
        };
        if synced.is_err() {
            self.failed.store(true, Ordering::SeqCst);
        }
        synced?;
        self.synced.fetch_max(upto, Ordering::SeqCst);
        Ok(())
    }

    /// Makes every commit finished so far durable; for a plain thread (the inline writer's
    /// flusher), whose batches all committed before it calls this.
    pub(crate) fn flush_blocking(&self) -> std::io::Result<()> {
        let upto = self.committed.load(Ordering::SeqCst);
        self.sync()?;
        self.synced.fetch_max(upto, Ordering::SeqCst);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_domain::records::User;

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

    /// A flush that fails after a commit must not be answered as a failure to retry (a client
    /// would retry the top-up, and it would apply twice): the write answers `DurabilityUnknown`,
    /// it stands, and later writes on either path (sqlx and the inline writer) are refused before
    /// they commit.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_flush_is_never_answered_as_a_failure_to_retry() {
        use crate::StoreError;
        let db = crate::testing::test_db(crate::Backend::Sqlite).await;
        let store = &db.store;
        let now = tessera_domain::clock::now();
        let user = User {
            user_id: tessera_domain::id::UserId::new(),
            name: "A".into(),
            email: "a@example.com".into(),
            password_hash: "x".into(),
            role: tessera_domain::Role::Attendee,
            phone_number: None,
            created_at: now,
            updated_at: now,
            disabled_at: None,
        };
        store.insert_users(std::slice::from_ref(&user)).await.unwrap();
        let wal = store.wal.as_ref().unwrap();
        wal.fail_next_flush();
        let top_up = || tessera_domain::records::TopUp {
            user_id: user.user_id,
            amount: 100,
            cap: 1_000_000,
            entry_id: tessera_domain::id::LedgerEntryId::new(),
            idempotency: None,
            now,
        };
        let charged = store.charge(top_up()).await;
        assert!(matches!(charged, Err(StoreError::DurabilityUnknown(_))), "{charged:?}");
        assert_eq!(store.balance(user.user_id).await.unwrap(), Some(100), "the commit stands");
        let again = store.charge(top_up()).await;
        assert!(matches!(again, Err(StoreError::Unavailable(_))), "{again:?}");
        let inline = store.rate_limit_hit("login:ip:x", 0).await;
        assert!(matches!(inline, Err(StoreError::Unavailable(_))), "{inline:?}");
        assert_eq!(store.balance(user.user_id).await.unwrap(), Some(100), "nothing more was written");
    }

    #[tokio::test]
    async fn missing_wal_is_fine() {
        let s = WalSync::new(std::env::temp_dir().join(format!("none-{}.db", uuid::Uuid::new_v4())));
        s.after_commit().await.unwrap();
    }
}
