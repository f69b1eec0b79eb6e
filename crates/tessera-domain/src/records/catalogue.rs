//! The catalogue: events, how a list of them is filtered and paged, purchases.

use time::OffsetDateTime;

use crate::booking::Seating;
use crate::event::{EventSort, EventStatus};
use crate::id::{EventId, PurchaseId, UserId};
use crate::text_enum::text_enum;

#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "sqlx", derive(sqlx::FromRow))]
pub struct Event {
    pub event_id: EventId,
    pub name: String,
    pub description: Option<String>,
    pub location: Option<String>,
    pub start_time: OffsetDateTime,
    pub end_time: Option<OffsetDateTime>,
    pub organizer: String,
    pub organizer_id: Option<UserId>,
    pub category: Option<String>,
    /// Minor units.
    pub price: Option<i64>,
    pub currency: String,
    pub max_attendees: Option<i32>,
    pub url: Option<String>,
    #[cfg_attr(feature = "sqlx", sqlx(try_from = "String"))]
    pub status: EventStatus,
    #[cfg_attr(feature = "sqlx", sqlx(try_from = "String"))]
    pub seating: Seating,
    /// How long a hold lasts before it must be paid.
    pub hold_secs: i32,
    /// Most places one person may hold or buy for the event.
    pub max_per_person: i32,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// The value of the sort key of the last row of a page (the keyset cursor).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortValue {
    Ts(OffsetDateTime),
    Int(i64),
}

/// Which events a list shows, in which order, from where: the one query type of
/// `GET /events` and every list built on it.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    pub category: Option<String>,
    pub organizer: Option<String>,
    pub organizer_id: Option<UserId>,
    pub location: Option<String>,
    pub q: Option<String>,
    pub start_from: Option<OffsetDateTime>,
    pub start_to: Option<OffsetDateTime>,
    pub price_min: Option<i64>,
    pub price_max: Option<i64>,
    /// `None` means every status.
    pub status: Option<EventStatus>,
    pub seating: Option<Seating>,
    pub sort: EventSort,
    pub after: Option<(SortValue, EventId)>,
    pub limit: i64,
}

text_enum! {
    /// A purchase is refunded as a whole.
    pub enum PurchaseStatus {
        Completed = "completed",
        Refunded = "refunded",
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "sqlx", derive(sqlx::FromRow))]
pub struct Purchase {
    pub purchase_id: PurchaseId,
    pub user_id: UserId,
    pub event_id: EventId,
    pub purchase_time: OffsetDateTime,
    pub ticket_quantity: i32,
    /// Minor units.
    pub total_price: i64,
    #[cfg_attr(feature = "sqlx", sqlx(try_from = "String"))]
    pub status: PurchaseStatus,
}
