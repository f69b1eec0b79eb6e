//! Booking: holds, payments, the waiting room, seats, ticket types, the wallet.

use time::OffsetDateTime;
use uuid::Uuid;

use crate::id::{
    EventId, LedgerEntryId, PaymentId, PurchaseId, QueueEntryId, ReservationId, TicketTypeId, UserId,
};
use crate::records::{Purchase, Ticket};
use crate::text_enum::text_enum;

text_enum! {
    /// A hold's life: paid (completed), released (cancelled) or run out (expired).
    pub enum ReservationStatus {
        Pending = "pending",
        Completed = "completed",
        Cancelled = "cancelled",
        Expired = "expired",
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "sqlx", derive(sqlx::FromRow))]
pub struct Reservation {
    pub reservation_id: ReservationId,
    pub user_id: UserId,
    pub event_id: EventId,
    pub ticket_type_id: Option<TicketTypeId>,
    pub quantity: i32,
    /// Minor units.
    pub amount: i64,
    /// A pending hold past its deadline reads as expired.
    #[cfg_attr(feature = "sqlx", sqlx(try_from = "String"))]
    pub status: ReservationStatus,
    pub reserved_at: OffsetDateTime,
    pub payment_deadline: OffsetDateTime,
    pub completed_at: Option<OffsetDateTime>,
}

/// What to hold.
#[derive(Debug, Clone)]
pub enum HoldRequest {
    /// These numbered seats (sorted, distinct).
    Seats(Vec<i64>),
    /// This many places of a ticket type.
    Places { ticket_type_id: TicketTypeId, quantity: i64 },
    /// This many numbered seats, whichever are free (the server's pick): with `near`, the free
    /// seats nearest that seat number.
    AnySeats { quantity: i64, near: Option<i64> },
}

/// Most places one person may hold or buy: for the event, and of the ticket type asked for.
#[derive(Debug, Clone, Copy)]
pub struct HoldLimits {
    pub per_event: i64,
    pub per_type: Option<i64>,
}

/// A hold to place: who holds what of which event, until when.
#[derive(Debug, Clone)]
pub struct HoldCommand {
    pub reservation_id: ReservationId,
    pub user_id: UserId,
    pub event_id: EventId,
    /// The waiting-room admission the hold is asked under, when the event has a waiting room.
    pub admission: Option<QueueEntryId>,
    pub request: HoldRequest,
    pub limits: HoldLimits,
    pub now: OffsetDateTime,
    pub deadline: OffsetDateTime,
}

/// The outcome of a hold attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HoldOutcome {
    /// Held: the reservation and its numbered seats (none for general admission).
    Held(Reservation, Vec<i64>),
    /// Some requested seats are held or sold by others (listed), or do not exist (listed); with
    /// a few available seats nearest the first taken one, to try instead.
    Unavailable { taken: Vec<i64>, unknown: Vec<i64>, nearby: Vec<i64> },
    /// Not enough places (of the ticket type, or numbered seats) are available.
    SoldOut { available: i64 },
    /// The person would exceed the limit; `already` counts what they hold or bought.
    OverLimit { already: i64, limit: i64 },
    /// The waiting-room admission the hold was asked under is not (or no longer) admitted.
    NotAdmitted,
}

/// A payment of a hold from the wallet.
#[derive(Debug, Clone)]
pub struct PayInput {
    pub payment_id: PaymentId,
    pub purchase_id: PurchaseId,
    pub user_id: UserId,
    pub reservation_id: ReservationId,
    pub method: String,
    /// (Idempotency-Key, SHA-256 of the request) when the client sent a key.
    pub idempotency: Option<(String, String)>,
    pub now: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PayOutcome {
    /// Paid: what the transaction wrote, so the answer needs no further reads.
    Paid(Box<PaidRows>),
    /// The key was used before with the same request: this is its payment.
    Replayed {
        payment_id: PaymentId,
    },
    /// The key was used before with a different request.
    KeyReused,
    NotFound,
    AlreadyPaid,
    /// The hold's deadline passed.
    Expired,
    /// The hold was released.
    Released,
    /// The event was cancelled (its holds end with it).
    EventCancelled,
    Insufficient {
        balance: i64,
        amount: i64,
    },
}

/// The rows a payment wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaidRows {
    pub payment: Payment,
    pub purchase: Purchase,
    pub tickets: Vec<Ticket>,
}

text_enum! {
    pub enum PaymentStatus {
        Pending = "pending",
        Success = "success",
        Failed = "failed",
        Refunded = "refunded",
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "sqlx", derive(sqlx::FromRow))]
pub struct Payment {
    pub payment_id: PaymentId,
    pub reservation_id: ReservationId,
    pub user_id: UserId,
    pub amount: i64,
    #[cfg_attr(feature = "sqlx", sqlx(try_from = "String"))]
    pub payment_status: PaymentStatus,
    pub payment_method: String,
    pub created_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefundOutcome {
    Refunded {
        amount: i64,
        balance: i64,
    },
    NotFound,
    AlreadyRefunded,
    /// Returning the money would pass the wallet's cap.
    BalanceCap,
}

#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "sqlx", derive(sqlx::FromRow))]
pub struct QueueState {
    pub event_id: EventId,
    pub enabled: bool,
    pub rate_per_min: i32,
    pub max_active: i32,
    pub window_secs: i32,
    pub next_position: i32,
    pub serving_position: i32,
    pub last_advanced_at: OffsetDateTime,
    /// Admissions per minute observed over the last ticks (0 before any).
    pub admitted_per_min: i32,
    /// The last admission tick (or settings change).
    pub updated_at: OffsetDateTime,
    /// Nobody is admitted before this (joining is open); `None`: admission runs now.
    pub opens_at: Option<OffsetDateTime>,
    /// Places still on sale when last counted (`None` before the first admission tick).
    pub places_left: Option<i32>,
    /// When `places_left` was counted.
    pub places_counted_at: Option<OffsetDateTime>,
    /// The admission job's rate clock and its last tick, in milliseconds since the Unix epoch:
    /// `last_advanced_at` and `updated_at` as the job keeps them, below the whole seconds stored
    /// timestamps have. `None` until the first tick after a settings change.
    pub rate_clock_ms: Option<i64>,
    pub ticked_ms: Option<i64>,
}

impl QueueState {
    /// Where the rate clock stands, to the millisecond when the job has ticked.
    pub fn rate_clock(&self) -> OffsetDateTime {
        self.rate_clock_ms.and_then(from_unix_ms).unwrap_or(self.last_advanced_at)
    }

    /// When the job last ticked (or the settings changed).
    pub fn ticked(&self) -> OffsetDateTime {
        self.ticked_ms.and_then(from_unix_ms).unwrap_or(self.updated_at)
    }
}

fn from_unix_ms(ms: i64) -> Option<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).ok()
}

text_enum! {
    /// A place in the waiting room: an admission past its window reads as expired.
    pub enum QueueEntryStatus {
        Waiting = "waiting",
        Admitted = "admitted",
        Done = "done",
        Expired = "expired",
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "sqlx", derive(sqlx::FromRow))]
pub struct QueueEntry {
    pub entry_id: QueueEntryId,
    pub event_id: EventId,
    pub user_id: UserId,
    pub queue_position: i32,
    #[cfg_attr(feature = "sqlx", sqlx(try_from = "String"))]
    pub status: QueueEntryStatus,
    pub admitted_at: Option<OffsetDateTime>,
    pub expires_at: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
}

/// The result of joining: the entry, the queue's state when the join already read it, and
/// whether this call made the entry.
#[derive(Debug, Clone)]
pub struct Joined {
    pub entry: QueueEntry,
    pub state: Option<QueueState>,
    pub created: bool,
}

/// Queue settings an organizer chooses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueConfig {
    pub enabled: bool,
    pub rate_per_min: i32,
    pub max_active: i32,
    pub window_secs: i32,
    /// A scheduled opening (`None`: admit from now on).
    pub opens_at: Option<OffsetDateTime>,
}

/// A block of seats to create: numbers `first..first + rows*seats_per_row`, rows labelled 1, 2, ….
#[derive(Debug, Clone)]
pub struct SeatBlock {
    pub first_number: i64,
    pub section: Option<String>,
    pub rows: i64,
    pub seats_per_row: i64,
    /// Minor units.
    pub price: i64,
}

text_enum! {
    /// A seat as a buyer sees it: expired holds already show as available.
    pub enum SeatStatus {
        Available = "available",
        Held = "held",
        Sold = "sold",
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "sqlx", derive(sqlx::FromRow))]
pub struct Seat {
    pub seat_number: i32,
    pub section: Option<String>,
    pub row_label: Option<String>,
    pub price: i64,
    #[cfg_attr(feature = "sqlx", sqlx(try_from = "String"))]
    pub status: SeatStatus,
}

#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "sqlx", derive(sqlx::FromRow))]
pub struct TicketType {
    pub ticket_type_id: TicketTypeId,
    pub event_id: EventId,
    pub name: String,
    pub price: i64,
    pub quota: i32,
    pub per_person_limit: i32,
    pub sale_starts_at: Option<OffsetDateTime>,
    pub sale_ends_at: Option<OffsetDateTime>,
    pub requires_approval: bool,
    /// Re-entry after an exit is allowed at the door.
    pub allow_reentry: bool,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// A ticket type with how many of its places are sold and held right now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketTypeView {
    pub row: TicketType,
    pub sold: i64,
    pub held: i64,
}

text_enum! {
    /// What moved a wallet's balance.
    pub enum LedgerKind {
        Charge = "charge",
        Payment = "payment",
        Refund = "refund",
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "sqlx", derive(sqlx::FromRow))]
pub struct LedgerEntry {
    pub entry_id: LedgerEntryId,
    /// Signed minor units: + charge / refund, − payment.
    pub amount: i64,
    pub balance_after: i64,
    #[cfg_attr(feature = "sqlx", sqlx(try_from = "String"))]
    pub kind: LedgerKind,
    /// The payment or purchase the entry belongs to.
    pub reference_id: Option<Uuid>,
    pub created_at: OffsetDateTime,
}

/// A wallet top-up to apply.
#[derive(Debug, Clone)]
pub struct TopUp {
    pub user_id: UserId,
    /// Minor units, positive.
    pub amount: i64,
    /// The balance may not pass this.
    pub cap: i64,
    /// The ledger line the top-up writes.
    pub entry_id: LedgerEntryId,
    /// (Idempotency-Key, SHA-256 of the request) when the client sent a key.
    pub idempotency: Option<(String, String)>,
    pub now: OffsetDateTime,
}

/// What became of a top-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChargeOutcome {
    /// Added: the new balance.
    Charged(i64),
    /// It would have passed the cap; nothing changed.
    Capped,
    /// The Idempotency-Key was used for this same top-up before: the balance it answered.
    Replayed(i64),
    /// The key was used for a different request.
    KeyReused,
}
