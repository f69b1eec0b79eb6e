//! Typed ids: one type per kind of thing, so an event id cannot be passed where a user id is
//! expected. Each wraps a UUID, is written as that UUID in JSON and in the databases, and is
//! described as a UUID string in the OpenAPI document.

use std::fmt;
use std::str::FromStr;

use uuid::Uuid;

macro_rules! ids {
    ($($(#[$doc:meta])* $name:ident;)*) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        #[cfg_attr(feature = "sqlx", derive(sqlx::Type), sqlx(transparent))]
        pub struct $name(Uuid);

        impl $name {
            /// A new time-ordered id (UUIDv7), so new rows land at the end of their index.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            pub const fn from_uuid(id: Uuid) -> Self {
                Self(id)
            }

            pub const fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl From<Uuid> for $name {
            fn from(id: Uuid) -> Self {
                Self(id)
            }
        }

        impl From<$name> for Uuid {
            fn from(id: $name) -> Uuid {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }

        #[cfg(feature = "openapi")]
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .format(Some(SchemaFormat::KnownFormat(KnownFormat::Uuid)))
                    .into()
            }
        }

        #[cfg(feature = "openapi")]
        impl utoipa::ToSchema for $name {}
    )*};
}

ids! {
    /// A user account.
    UserId;
    /// A server API key.
    ApiKeyId;
    /// An event in the catalogue.
    EventId;
    /// A purchase (an order of one or more places).
    PurchaseId;
    /// A ticket type of an event (its price, quota and application form).
    TicketTypeId;
    /// A time-limited hold on seats or places.
    ReservationId;
    /// A payment of a hold.
    PaymentId;
    /// An issued ticket.
    TicketId;
    /// A place in an event's waiting room.
    QueueEntryId;
    /// A line of a wallet's ledger.
    LedgerEntryId;
    /// A door scan.
    ScanId;
    /// A background job.
    JobId;
    /// An application for a ticket.
    ApplicationId;
    /// A chat: an event's (with the event's id), a direct chat or a group.
    ChatId;
    /// A chat message.
    MessageId;
    /// A call between two people.
    CallId;
    /// A WebRTC signal relayed between a call's parties.
    SignalId;
    /// An uploaded file.
    FileId;
}

impl ChatId {
    /// An event's chat, which has the event's id (it is made with the event).
    pub const fn of_event(event_id: EventId) -> ChatId {
        ChatId(event_id.as_uuid())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_written_as_their_uuid() {
        let raw = Uuid::parse_str("0191d8a0-0000-7000-8000-000000000001").unwrap();
        let id = EventId::from(raw);
        assert_eq!(id.to_string(), raw.to_string());
        assert_eq!(serde_json::to_string(&id).unwrap(), format!("\"{raw}\""));
        let back: EventId = serde_json::from_str(&format!("\"{raw}\"")).unwrap();
        assert_eq!(back, id);
        assert!("not-a-uuid".parse::<EventId>().is_err());
    }
}
