//! The records the store reads and writes, in the domain's own types: typed ids, statuses as
//! enums, money in minor units. The store decodes rows into these at its edge (with the `sqlx`
//! feature they derive `sqlx::FromRow`), so the layers above never see a column as a string.

mod accounts;
mod booking;
mod calls;
mod catalogue;
mod chat;
mod door;
mod files;
mod jobs;
mod stats;
mod tickets;

pub use accounts::*;
pub use booking::*;
pub use calls::*;
pub use catalogue::*;
pub use chat::*;
pub use door::*;
pub use files::*;
pub use jobs::*;
pub use stats::*;
pub use tickets::*;
