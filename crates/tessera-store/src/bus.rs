//! Chat signals to every server instance: PostgreSQL `NOTIFY` on one channel per database schema
//! (delivered at commit, in commit order, to every listening instance), or an in-process
//! broadcast on SQLite, where one process owns the file.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use sqlx::postgres::{PgListener, PgPool};
use tessera_domain::records::ChatSignal;
use tokio::sync::broadcast;

use crate::{Db, Result, Store, StoreError};

/// Signals buffered for a slow reader before it misses some (it then re-reads, as on `Resync`).
const CAPACITY: usize = 4096;

#[derive(Debug)]
pub(crate) struct Bus {
    tx: broadcast::Sender<ChatSignal>,
    /// PostgreSQL: whether the LISTEN connection is up (unused on SQLite).
    listening_now: tokio::sync::watch::Sender<bool>,
    /// PostgreSQL: the NOTIFY channel (per schema, so test schemas do not hear each other).
    pub(crate) channel: String,
    listening: OnceLock<()>,
}

impl Bus {
    pub(crate) fn new(pg_schema: Option<&str>) -> Arc<Bus> {
        let channel = match pg_schema {
            Some(s) => format!("tessera_chat_{s}"),
            None => "tessera_chat".to_string(),
        };
        Arc::new(Bus {
            tx: broadcast::channel(CAPACITY).0,
            listening_now: tokio::sync::watch::channel(false).0,
            channel,
            listening: OnceLock::new(),
        })
    }
}

impl Store {
    /// Every chat signal from now on, from this instance and (PostgreSQL) every other.
    pub fn chat_signals(&self) -> broadcast::Receiver<ChatSignal> {
        let rx = self.bus.tx.subscribe();
        if let Db::Postgres(pool) = &self.db {
            self.bus.listening.get_or_init(|| {
                tokio::spawn(listen(pool.clone(), self.bus.clone()));
            });
        }
        rx
    }

    /// Waits (up to `limit`) until signals from other instances are being heard: on PostgreSQL
    /// the LISTEN connection that `chat_signals` opens must be up, or NOTIFYs sent before it
    /// are never seen. Immediate on SQLite.
    pub async fn chat_signals_heard(&self, limit: Duration) {
        if matches!(self.db, Db::Sqlite { .. }) {
            return;
        }
        let mut rx = self.bus.listening_now.subscribe();
        let _ = tokio::time::timeout(limit, rx.wait_for(|up| *up)).await;
    }

    /// Tells every instance (PostgreSQL) or this process (SQLite) of a signal that is not part of
    /// a write: typing, presence, a read marker.
    pub async fn send_chat_signal(&self, s: ChatSignal) -> Result<()> {
        match &self.db {
            Db::Postgres(pool) => {
                sqlx::query("SELECT pg_notify($1, $2)")
                    .bind(&self.bus.channel)
                    .bind(s.encode())
                    .execute(pool)
                    .await?;
            }
            Db::Sqlite { .. } => self.publish_local(s),
        }
        Ok(())
    }

    /// SQLite: tells this process's listeners (after the write it reports committed).
    pub(crate) fn publish_local(&self, s: ChatSignal) {
        // No receiver is not an error: nobody is listening.
        let _ = self.bus.tx.send(s);
    }
}

/// Forwards NOTIFY payloads to the in-process bus for as long as the pool is open. A lost
/// connection is re-established; signals may have been missed meanwhile, so `Resync` follows.
async fn listen(pool: PgPool, bus: Arc<Bus>) {
    let mut listener: Option<PgListener> = None;
    loop {
        let l = match listener.as_mut() {
            Some(l) => l,
            None => match connect(&pool, &bus.channel).await {
                Ok(l) => {
                    bus.listening_now.send_replace(true);
                    let _ = bus.tx.send(ChatSignal::Resync);
                    listener.insert(l)
                }
                Err(_) if pool.is_closed() => return,
                Err(e) => {
                    tracing::warn!(cause = %e, "chat signals: cannot listen; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            },
        };
        match l.try_recv().await {
            Ok(Some(n)) => {
                if let Some(s) = ChatSignal::decode(n.payload()) {
                    let _ = bus.tx.send(s);
                }
            }
            // The connection was lost; the next call reconnects.
            Ok(None) => {
                let _ = bus.tx.send(ChatSignal::Resync);
            }
            Err(_) if pool.is_closed() => return,
            Err(e) => {
                tracing::warn!(cause = %e, "chat signals: listening failed; reconnecting");
                bus.listening_now.send_replace(false);
                listener = None;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
}

async fn connect(pool: &PgPool, channel: &str) -> Result<PgListener> {
    let mut l = PgListener::connect_with(pool).await.map_err(StoreError::from)?;
    l.listen(channel).await.map_err(StoreError::from)?;
    Ok(l)
}
