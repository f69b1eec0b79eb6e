//! Figures for organizers and admins.

use time::OffsetDateTime;

use crate::Role;
use crate::id::{PurchaseId, TicketId, UserId};
use crate::records::TicketStatus;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventStats {
    pub purchases: i64,
    pub tickets_sold: i64,
    pub unique_attendees: i64,
    pub revenue: i64,
    pub sales_per_day: Vec<DaySales>,
    /// (event day, tickets that entered that day)
    pub checked_in_per_day: Vec<(i32, i64)>,
}

/// One ticket of an event as the organizer's export lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "sqlx", derive(sqlx::FromRow))]
pub struct ExportRow {
    pub ticket_id: TicketId,
    #[cfg_attr(feature = "sqlx", sqlx(try_from = "String"))]
    pub status: TicketStatus,
    pub ticket_type: Option<String>,
    pub seat_number: Option<i32>,
    pub holder_id: UserId,
    pub holder_name: String,
    pub holder_email: String,
    pub guest_name: Option<String>,
    pub purchase_id: PurchaseId,
    pub purchase_time: OffsetDateTime,
    pub ticket_quantity: i32,
    pub total_price: i64,
    pub mailed_at: Option<OffsetDateTime>,
    /// Days with an entry, and whether the ticket is inside on its latest day.
    pub days_entered: i64,
    pub inside: bool,
    pub first_entry_at: Option<OffsetDateTime>,
}

/// Sales on one UTC day (`YYYY-MM-DD`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "sqlx", derive(sqlx::FromRow))]
pub struct DaySales {
    pub day: String,
    pub tickets_sold: i64,
    pub revenue: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "sqlx", derive(sqlx::FromRow))]
pub struct CategoryStats {
    pub category: Option<String>,
    pub events: i64,
    pub tickets_sold: i64,
    pub revenue: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overview {
    pub users: i64,
    pub users_by_role: Vec<(Role, i64)>,
    pub events: i64,
    pub events_published: i64,
    pub events_cancelled: i64,
    pub purchases: i64,
    pub tickets_sold: i64,
    pub revenue: i64,
}

/// A seated event's books, counted independently of each other so an oversell shows up as a
/// mismatch: sold seats, valid tickets, distinct seats on valid tickets, successful payments.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "sqlx", derive(sqlx::FromRow))]
pub struct SaleAudit {
    pub seats_sold: i64,
    pub tickets_valid: i64,
    pub ticketed_seats: i64,
    pub payments_success: i64,
}

impl SaleAudit {
    /// Tickets beyond one per sold seat (0 when nothing was sold twice).
    pub fn oversold(&self) -> i64 {
        (self.tickets_valid - self.ticketed_seats).max(0) + (self.tickets_valid - self.seats_sold).max(0)
    }
}
