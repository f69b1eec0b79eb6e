//! The door: scans as stored, who is inside, the staff of an event.

use time::OffsetDateTime;

use crate::checkin::Direction;
use crate::id::{EventId, ScanId, TicketId, TicketTypeId, UserId};
use crate::text_enum::text_enum;

text_enum! {
    /// Whether a scan reached the server as it was made or later from a scanner's offline log.
    pub enum ScanSource {
        Online = "online",
        Offline = "offline",
    }
}

/// One scan as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "sqlx", derive(sqlx::FromRow))]
pub struct ScanRecord {
    pub scan_id: ScanId,
    pub event_id: Option<EventId>,
    pub ticket_id: Option<TicketId>,
    #[cfg_attr(feature = "sqlx", sqlx(try_from = "String"))]
    pub direction: Direction,
    pub day: Option<i32>,
    pub gate: Option<String>,
    pub device_id: Option<String>,
    pub scanned_by: UserId,
    pub scanned_at: OffsetDateTime,
    pub recorded_at: OffsetDateTime,
    #[cfg_attr(feature = "sqlx", sqlx(try_from = "String"))]
    pub source: ScanSource,
    /// The answer the scan got, as the audit log words it (`accepted`, `already_inside`,
    /// `forged`, …); never read back to decide anything.
    pub result: String,
    pub detail: Option<String>,
}

/// A ticket's state at the door on one day.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "sqlx", derive(sqlx::FromRow))]
pub struct PresenceRecord {
    pub ticket_id: TicketId,
    pub day: i32,
    pub event_id: EventId,
    pub inside: bool,
    pub entries: i32,
    pub first_entry_at: Option<OffsetDateTime>,
    pub first_gate: Option<String>,
    pub last_scan_at: Option<OffsetDateTime>,
    pub version: i32,
}

/// A staff member of an event.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "sqlx", derive(sqlx::FromRow))]
pub struct StaffMember {
    pub user_id: UserId,
    pub name: String,
    pub email: String,
    pub created_at: OffsetDateTime,
}

/// Counts for an event's door.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckinSummary {
    pub inside_now: i64,
    pub entered_today: i64,
    /// (day, tickets that entered that day)
    pub per_day: Vec<(i32, i64)>,
    /// (gate, accepted entries)
    pub per_gate: Vec<(Option<String>, i64)>,
    /// (ticket type, tickets that entered today)
    pub per_ticket_type: Vec<(Option<TicketTypeId>, i64)>,
}
