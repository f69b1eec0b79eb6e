//! The JSON API, one module per area; shared response shapes live here.

use serde::{Deserialize, Deserializer, Serialize};
use tessera_domain::id::{EventId, PurchaseId, UserId};
use tessera_domain::records::{Event, Purchase, User};
use time::OffsetDateTime;
use utoipa::ToSchema;

use tessera_app::domain::Money;

pub mod api_keys;
pub mod applications;
pub mod auth;
pub mod booking;
pub mod calls;
pub mod chats;
pub mod checkin;
pub mod concerts;
pub mod events;
pub mod festival;
pub mod files;
pub mod live;
pub mod ops;
pub mod purchases;
pub mod queue;
pub mod stats;
pub mod tickets;
pub mod users;
pub mod wallet;

/// A page of results: pass `next_cursor` back as `?cursor=` for the next page.
#[derive(Debug, Serialize, ToSchema)]
pub struct Paged<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> Paged<T> {
    pub fn from_page<R>(p: tessera_app::domain::page::Page<R>, f: impl Fn(R) -> T) -> Self {
        Paged { items: p.items.into_iter().map(f).collect(), next_cursor: p.next_cursor }
    }
}

/// A money amount as a decimal string ("1500.00").
pub fn money(minor: i64) -> String {
    Money::from_minor(minor).to_string()
}

/// A decimal given as a JSON string ("1500.00") or number (1500).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum DecimalInput {
    Text(String),
    #[schema(value_type = f64)]
    Number(serde_json::Number),
}

impl DecimalInput {
    pub fn into_string(self) -> String {
        match self {
            DecimalInput::Text(s) => s,
            DecimalInput::Number(n) => n.to_string(),
        }
    }
}

/// Deserializes a field that distinguishes "absent" (`None`) from `null` (`Some(None)`).
pub fn double_option<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// An account as others see it (never the password hash).
#[derive(Debug, Serialize, ToSchema)]
pub struct UserBody {
    pub user_id: UserId,
    pub name: String,
    pub email: String,
    /// attendee, organizer, staff or admin.
    pub role: String,
    pub phone_number: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    /// A disabled account cannot sign in (admins disable and enable accounts).
    pub disabled: bool,
}

impl From<User> for UserBody {
    fn from(u: User) -> Self {
        UserBody {
            user_id: u.user_id,
            name: u.name,
            email: u.email,
            role: u.role.to_string(),
            phone_number: u.phone_number,
            created_at: u.created_at,
            updated_at: u.updated_at,
            disabled: u.disabled_at.is_some(),
        }
    }
}

/// An event in the catalogue.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventBody {
    pub event_id: EventId,
    pub name: String,
    pub description: Option<String>,
    pub location: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub start_time: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub end_time: Option<OffsetDateTime>,
    /// The organizer's display name.
    pub organizer: String,
    /// The account that owns the event.
    pub organizer_id: Option<UserId>,
    pub category: Option<String>,
    /// Decimal string, e.g. "3500.00"; null for a free event.
    #[schema(example = "3500.00")]
    pub price: Option<String>,
    /// ISO 4217.
    pub currency: String,
    pub max_attendees: Option<i32>,
    pub url: Option<String>,
    /// published or cancelled.
    pub status: String,
    /// general or seated.
    pub seating: String,
    /// How long a hold lasts before payment, in seconds.
    pub hold_seconds: i32,
    /// Most places one person may hold or buy.
    pub max_per_person: i32,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl From<Event> for EventBody {
    fn from(e: Event) -> Self {
        EventBody {
            event_id: e.event_id,
            name: e.name,
            description: e.description,
            location: e.location,
            start_time: e.start_time,
            end_time: e.end_time,
            organizer: e.organizer,
            organizer_id: e.organizer_id,
            category: e.category,
            price: e.price.map(money),
            currency: e.currency,
            max_attendees: e.max_attendees,
            url: e.url,
            status: e.status.to_string(),
            seating: e.seating.to_string(),
            hold_seconds: e.hold_secs,
            max_per_person: e.max_per_person,
            created_at: e.created_at,
            updated_at: e.updated_at,
        }
    }
}

/// A purchase: tickets of one event bought by one user.
#[derive(Debug, Serialize, ToSchema)]
pub struct PurchaseBody {
    pub purchase_id: PurchaseId,
    pub user_id: UserId,
    pub event_id: EventId,
    #[serde(with = "time::serde::rfc3339")]
    pub purchase_time: OffsetDateTime,
    pub ticket_quantity: i32,
    #[schema(example = "7000.00")]
    pub total_price: String,
    /// completed or refunded.
    pub status: String,
}

impl From<Purchase> for PurchaseBody {
    fn from(p: Purchase) -> Self {
        PurchaseBody {
            purchase_id: p.purchase_id,
            user_id: p.user_id,
            event_id: p.event_id,
            purchase_time: p.purchase_time,
            ticket_quantity: p.ticket_quantity,
            total_price: money(p.total_price),
            status: p.status.to_string(),
        }
    }
}
