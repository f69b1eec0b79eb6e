//! PostgreSQL's side of the hot paths (hot_path.rs): holds, payments, the waiting room and door
//! scans, run through sqlx on the store's pools. The rules and the SQL are the same as SQLite's
//! (sqlite/): what differs is how a transaction is run, and the row locks that PostgreSQL's
//! concurrent writers need where SQLite's single writer needs none. Door scans, new joins, holds
//! and payments that arrive together run as one statement (or one call of a PL/pgSQL loop) per
//! group (group.rs), PostgreSQL's counterpart of SQLite's grouped writer.

mod checkin;
mod group;
mod payments;
mod queue;
mod reservations;

use sqlx::postgres::PgPool;

pub(crate) use checkin::{ScanGroups, scan_groups};
pub(crate) use payments::{PayGroups, pay_groups};
pub(crate) use queue::{JoinGroups, join_groups};
pub(crate) use reservations::{HoldGroups, hold_groups};

/// The pools a hot path runs on.
pub(crate) struct Pg<'a> {
    pub(crate) pool: &'a PgPool,
    /// Connections whose commits do not wait for the WAL flush (`Store::unsynced_pool`), or
    /// `pool` when there are none.
    pub(crate) unsynced: &'a PgPool,
    /// Door scans run in groups, when the store keeps them.
    pub(crate) scans: Option<&'a ScanGroups>,
    /// New waiting-room entries joined in groups, when the store keeps them.
    pub(crate) joins: Option<&'a JoinGroups>,
    /// Holds whose places the server picks, run in groups when the store keeps them.
    pub(crate) holds: Option<&'a HoldGroups>,
    /// Payments run in groups, when the store keeps them.
    pub(crate) pays: Option<&'a PayGroups>,
}
