//! Tickets, their signing keys, and applications for them.

use time::OffsetDateTime;

use crate::id::{ApplicationId, EventId, PurchaseId, TicketId, TicketTypeId, UserId};
use crate::text_enum::text_enum;

text_enum! {
    /// A ticket is void once refunded (or its event cancelled): the door refuses it.
    pub enum TicketStatus {
        Valid = "valid",
        Void = "void",
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "sqlx", derive(sqlx::FromRow))]
pub struct Ticket {
    pub ticket_id: TicketId,
    pub purchase_id: PurchaseId,
    pub event_id: EventId,
    pub user_id: UserId,
    pub ticket_type_id: Option<TicketTypeId>,
    pub seat_number: Option<i32>,
    #[cfg_attr(feature = "sqlx", sqlx(try_from = "String"))]
    pub status: TicketStatus,
    pub created_at: OffsetDateTime,
}

/// A ticket with what a printed ticket or a scanner needs: the event, the holder, the type.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "sqlx", derive(sqlx::FromRow))]
pub struct TicketDetail {
    pub ticket_id: TicketId,
    pub purchase_id: PurchaseId,
    pub event_id: EventId,
    pub user_id: UserId,
    pub ticket_type_id: Option<TicketTypeId>,
    pub seat_number: Option<i32>,
    #[cfg_attr(feature = "sqlx", sqlx(try_from = "String"))]
    pub status: TicketStatus,
    pub created_at: OffsetDateTime,
    /// The event key that signs this ticket's code (none until the code is first issued).
    pub key_id: Option<i32>,
    pub voided_at: Option<OffsetDateTime>,
    pub event_name: String,
    pub event_start: OffsetDateTime,
    pub event_end: Option<OffsetDateTime>,
    pub location: Option<String>,
    pub organizer_id: Option<UserId>,
    pub ticket_type_name: Option<String>,
    pub holder_name: String,
    /// The guest the ticket was issued for (applications name each guest).
    pub guest_name: Option<String>,
    /// Whether its type lets it back in after an exit (tickets without a type: yes).
    pub allow_reentry: bool,
}

text_enum! {
    /// An event key signs new ticket codes, or only verifies the codes it signed, or is retired.
    pub enum KeyStatus {
        Signing = "signing",
        Verifying = "verifying",
        Retired = "retired",
    }
}

/// One of an event's signing keys; the private half only ever sealed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "sqlx", derive(sqlx::FromRow))]
pub struct EventKey {
    pub event_id: EventId,
    pub key_id: i32,
    pub public_key: Vec<u8>,
    pub sealed_secret: Vec<u8>,
    #[cfg_attr(feature = "sqlx", sqlx(try_from = "String"))]
    pub status: KeyStatus,
    pub created_at: OffsetDateTime,
    pub retired_at: Option<OffsetDateTime>,
}

text_enum! {
    pub enum ApplicationStatus {
        Pending = "pending",
        Approved = "approved",
        Rejected = "rejected",
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "sqlx", derive(sqlx::FromRow))]
pub struct Application {
    pub application_id: ApplicationId,
    pub event_id: EventId,
    pub ticket_type_id: TicketTypeId,
    pub user_id: UserId,
    /// JSON object.
    pub answers: String,
    /// JSON array of names.
    pub guest_names: String,
    pub quantity: i32,
    #[cfg_attr(feature = "sqlx", sqlx(try_from = "String"))]
    pub status: ApplicationStatus,
    pub reason: Option<String>,
    pub decided_by: Option<UserId>,
    pub decided_at: Option<OffsetDateTime>,
    pub purchase_id: Option<PurchaseId>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// How an approval ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Approval {
    /// Tickets issued under this purchase.
    Approved { purchase_id: PurchaseId, ticket_ids: Vec<TicketId> },
    /// Not pending (already decided, or no such application).
    NotPending,
    /// Fewer places left than guests.
    SoldOut,
}
