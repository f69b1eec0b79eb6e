//! The hot paths of a sale, once per database: taking a hold and the reads that refuse taken
//! seats, paying for a hold, and the waiting room's joins, polls and admission ticks.
//!
//! The `Store` methods (reservations.rs, payments.rs, queue.rs) check and build what both
//! databases share (the SQL text, the limits, the rows a success writes, what a refusal says) and
//! hand the rest to a backend through [`hot!`]: pg/ runs it through sqlx in PostgreSQL
//! transactions, sqlite/ inline on the store's own SQLite connections (see sqlite/mod.rs for
//! why). pg/reservations.rs and sqlite/reservations.rs (payments.rs, queue.rs likewise) hold the
//! same paths, so a rule is changed in one place per backend, the two side by side.
//!
//! Writes that are not on a sale's hot path (releasing a hold, the sweep of expired holds,
//! refunds, queue settings) are written once for both through sqlx (`on_db!`); on SQLite they
//! take turns with the hot-path writer.

use tessera_domain::id::{EventId, QueueEntryId, UserId};
use tessera_domain::records::{HoldOutcome, PaidRows, PayInput, QueueEntry, QueueState};
use time::OffsetDateTime;

use crate::Result;
use crate::Store;
use crate::checkin::{ScanSteps, Scanned};
use crate::payments::Stop;
use crate::pg::Pg;
use crate::queue::{Advance, Join};
use crate::reservations::{Held, Hold, Refused, SeatCheck};
use crate::sqlite::Sqlite;

/// Holds (reservations.rs).
pub(crate) trait HoldPath {
    /// Takes a hold in one transaction: the admission it is asked under (if any), the person's
    /// limits, then the one conditional UPDATE (and the rest of a short pick near a seat).
    /// `Err`: refused, and nothing written.
    async fn hold(&self, h: Hold) -> Result<std::result::Result<Held, HoldOutcome>>;

    /// The reads of a refusal of numbered seats, on one connection: (taken, unknown), and the
    /// available seats near the first taken one.
    async fn seat_check(&self, c: &SeatCheck<'_>) -> Result<(Refused, Vec<i32>)>;
}

/// Payments (payments.rs).
pub(crate) trait PaymentPath {
    /// Pays a hold from the wallet in one transaction. `Err`: why it stopped, with nothing written.
    async fn pay(&self, i: &PayInput) -> Result<std::result::Result<PaidRows, Stop>>;
}

/// The waiting room (queue.rs). The reads run `sql`, built by the caller from the shared columns.
pub(crate) trait QueuePath {
    /// An event's queue state (`$1` event).
    async fn queue_state(&self, sql: String, event_id: EventId) -> Result<Option<QueueState>>;

    /// The user's entry for an event (`$1` now, `$2` event, `$3` user).
    async fn queue_entry_for(
        &self,
        sql: String,
        event_id: EventId,
        user_id: UserId,
        now: OffsetDateTime,
    ) -> Result<Option<QueueEntry>>;

    /// An entry (`$1` now, `$2` entry).
    async fn queue_entry(
        &self,
        sql: String,
        entry_id: QueueEntryId,
        now: OffsetDateTime,
    ) -> Result<Option<QueueEntry>>;

    /// A position from the counter and the entry made or put back at it: (made the entry, its
    /// position, the queue's state), or `None` when the queue is off.
    async fn join(&self, j: Join) -> Result<Option<(bool, i32, QueueState)>>;

    /// One admission tick, in one transaction; how many were admitted.
    async fn advance(&self, a: Advance) -> Result<u64>;
}

/// Online door scans (checkin.rs).
pub(crate) trait ScanPath {
    /// Reads the code's ticket and, for a valid one, changes its state for the day and records
    /// the scan, in one transaction.
    async fn scan_code(&self, s: ScanSteps) -> Result<Scanned>;
}

/// The backend a store's hot paths run on.
pub(crate) enum Hot<'a> {
    Pg(Pg<'a>),
    Sqlite(Sqlite<'a>),
}

impl Store {
    /// This store's hot-path backend.
    pub(crate) fn hot(&self) -> Hot<'_> {
        match &self.db {
            crate::Db::Postgres(pool) => Hot::Pg(Pg {
                pool,
                unsynced: self.unsynced_pool().unwrap_or(pool),
                scans: self.scans.as_deref(),
                joins: self.joins.as_deref(),
                holds: self.holds.as_deref(),
                pays: self.pays.as_deref(),
            }),
            crate::Db::Sqlite { .. } => Hot::Sqlite(Sqlite { store: self }),
        }
    }
}

/// Runs `$body` with `$h` bound to the store's hot-path backend, which implements each of
/// [`HoldPath`], [`PaymentPath`] and [`QueuePath`]; the body is compiled once per backend, as
/// with `on_db!`.
macro_rules! hot {
    ($store:expr, |$h:ident| $body:expr) => {
        match $store.hot() {
            $crate::hot_path::Hot::Pg($h) => $body,
            $crate::hot_path::Hot::Sqlite($h) => $body,
        }
    };
}
pub(crate) use hot;
