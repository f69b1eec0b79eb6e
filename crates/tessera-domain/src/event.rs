//! Events: validated fields, status and list sorting.

use std::str::FromStr;

use time::OffsetDateTime;

use crate::booking::{DEFAULT_HOLD_SECS, DEFAULT_MAX_PER_PERSON, Seating};
use crate::clock::parse_ts;
use crate::money::Money;
use crate::validation::{ValidationErrors, optional_text, required_text};

pub const MAX_ATTENDEES_LIMIT: i64 = 1_000_000;

/// Raw event fields (create, or an existing event with a patch laid over it).
#[derive(Debug, Clone, Default)]
pub struct EventInput {
    pub name: Option<String>,
    pub description: Option<String>,
    pub location: Option<String>,
    pub start_time: Option<String>,
    pub end_time: Option<String>,
    pub organizer: Option<String>,
    pub category: Option<String>,
    /// A decimal such as "1500.00"; absent means free.
    pub price: Option<String>,
    pub currency: Option<String>,
    pub max_attendees: Option<i64>,
    pub url: Option<String>,
    /// general (default) or seated.
    pub seating: Option<String>,
    /// How long a hold lasts, in seconds (default 300).
    pub hold_seconds: Option<i64>,
    /// Most places one person may hold or buy (default 10).
    pub max_per_person: Option<i64>,
}

/// Event fields that passed validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventFields {
    pub name: String,
    pub description: Option<String>,
    pub location: Option<String>,
    pub start_time: OffsetDateTime,
    pub end_time: Option<OffsetDateTime>,
    pub organizer: String,
    pub category: Option<String>,
    pub price: Option<Money>,
    pub currency: String,
    pub max_attendees: Option<i64>,
    pub url: Option<String>,
    pub seating: Seating,
    pub hold_secs: i64,
    pub max_per_person: i64,
}

impl EventFields {
    /// Validates every field; `default_organizer` names the organizer when the input does not.
    pub fn parse(input: &EventInput, default_organizer: &str) -> Result<EventFields, ValidationErrors> {
        let mut e = ValidationErrors::new();
        let name = e.check("name", required_text(input.name.as_deref(), 255));
        let description =
            e.check("description", optional_text(input.description.as_deref(), 20_000)).flatten();
        let location = e.check("location", optional_text(input.location.as_deref(), 255)).flatten();
        let start_time = match input.start_time.as_deref() {
            None => {
                e.add("start_time", "is required");
                None
            }
            Some(s) => e.check("start_time", parse_ts(s)),
        };
        let end_time = match input.end_time.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(s) => e.check("end_time", parse_ts(s)),
        };
        if let (Some(s), Some(end)) = (start_time, end_time)
            && end < s
        {
            e.add("end_time", "must not be before start_time");
        }
        let organizer = e
            .check("organizer", optional_text(input.organizer.as_deref(), 255))
            .flatten()
            .unwrap_or_else(|| default_organizer.to_string());
        let category = e.check("category", optional_text(input.category.as_deref(), 100)).flatten();
        let price = match input.price.as_deref() {
            None => None,
            Some(p) => e.check("price", Money::parse(p)),
        };
        let currency = match input.currency.as_deref().map(str::trim) {
            None | Some("") => Some("JPY".to_string()),
            Some(c) if c.len() == 3 && c.bytes().all(|b| b.is_ascii_uppercase()) => Some(c.to_string()),
            Some(_) => {
                e.add("currency", "must be an ISO 4217 code such as JPY or USD");
                None
            }
        };
        let max_attendees = match input.max_attendees {
            Some(n) if !(1..=MAX_ATTENDEES_LIMIT).contains(&n) => {
                e.add("max_attendees", format!("must be between 1 and {MAX_ATTENDEES_LIMIT}"));
                None
            }
            other => other,
        };
        let url = e.check("url", parse_url(input.url.as_deref())).flatten();
        let seating = match input.seating.as_deref() {
            None => Some(Seating::General),
            Some(s) => e.check("seating", s.parse::<Seating>()),
        };
        let hold_secs = match input.hold_seconds {
            None => Some(DEFAULT_HOLD_SECS),
            Some(n) if (30..=86_400).contains(&n) => Some(n),
            Some(_) => {
                e.add("hold_seconds", "must be between 30 and 86400");
                None
            }
        };
        let max_per_person = match input.max_per_person {
            None => Some(DEFAULT_MAX_PER_PERSON),
            Some(n) if (1..=100).contains(&n) => Some(n),
            Some(_) => {
                e.add("max_per_person", "must be between 1 and 100");
                None
            }
        };
        match (name, start_time, currency, seating, hold_secs, max_per_person) {
            (
                Some(name),
                Some(start_time),
                Some(currency),
                Some(seating),
                Some(hold_secs),
                Some(max_per_person),
            ) if e.is_empty() => Ok(EventFields {
                name,
                description,
                location,
                start_time,
                end_time,
                organizer,
                category,
                price,
                currency,
                max_attendees,
                url,
                seating,
                hold_secs,
                max_per_person,
            }),
            _ => Err(e),
        }
    }
}

/// An http(s) URL of at most 255 characters (seed 000's VARCHAR(255)).
pub fn parse_url(value: Option<&str>) -> Result<Option<String>, String> {
    let Some(v) = optional_text(value, 255)? else {
        return Ok(None);
    };
    match url::Url::parse(&v) {
        Ok(u) if (u.scheme() == "http" || u.scheme() == "https") && u.host_str().is_some() => Ok(Some(v)),
        _ => Err("must be an http or https URL".into()),
    }
}

/// An event's lifecycle: deleting an event cancels it (it stays readable for ticket holders).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventStatus {
    Published,
    Cancelled,
}

impl EventStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            EventStatus::Published => "published",
            EventStatus::Cancelled => "cancelled",
        }
    }
}

impl FromStr for EventStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "published" => Ok(EventStatus::Published),
            "cancelled" => Ok(EventStatus::Cancelled),
            _ => Err("must be published or cancelled".into()),
        }
    }
}

/// What `GET /events` can sort by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventSortKey {
    StartTime,
    CreatedAt,
    Price,
}

/// A sort key and direction parsed from `sort=start_time` / `sort=-price`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventSort {
    pub key: EventSortKey,
    pub descending: bool,
}

impl Default for EventSort {
    fn default() -> Self {
        EventSort { key: EventSortKey::StartTime, descending: false }
    }
}

impl FromStr for EventSort {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (descending, name) = match s.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        let key = match name {
            "start_time" => EventSortKey::StartTime,
            "created_at" => EventSortKey::CreatedAt,
            "price" => EventSortKey::Price,
            _ => {
                return Err("must be start_time, created_at or price, optionally prefixed with '-'".into());
            }
        };
        Ok(EventSort { key, descending })
    }
}

crate::text_enum::text_decode!(EventStatus);

#[cfg(test)]
mod tests {
    use super::*;

    fn valid() -> EventInput {
        EventInput {
            name: Some("Jazz Night".into()),
            start_time: Some("2026-05-01T18:00:00Z".into()),
            end_time: Some("2026-05-01T21:00:00Z".into()),
            price: Some("3500".into()),
            url: Some("https://example.com/jazz".into()),
            ..Default::default()
        }
    }

    #[test]
    fn accepts_valid_event() {
        let f = EventFields::parse(&valid(), "Org").unwrap();
        assert_eq!(f.organizer, "Org");
        assert_eq!(f.price.unwrap().minor(), 350_000);
        assert_eq!(f.currency, "JPY");
    }

    #[test]
    fn reports_each_bad_field() {
        let input = EventInput {
            name: Some(" ".into()),
            start_time: Some("2026-05-01T18:00:00Z".into()),
            end_time: Some("2026-05-01T17:00:00Z".into()),
            price: Some("-1".into()),
            url: Some("ftp://x".into()),
            max_attendees: Some(0),
            currency: Some("yen".into()),
            ..Default::default()
        };
        let e = EventFields::parse(&input, "Org").unwrap_err();
        let fields: Vec<_> = e.0.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["name", "end_time", "price", "currency", "max_attendees", "url"]);
    }

    #[test]
    fn requires_start_time() {
        let input = EventInput { name: Some("x".into()), ..Default::default() };
        let e = EventFields::parse(&input, "Org").unwrap_err();
        assert_eq!(e.0[0].field, "start_time");
    }

    #[test]
    fn sort_parsing() {
        assert_eq!(
            "-price".parse::<EventSort>().unwrap(),
            EventSort { key: EventSortKey::Price, descending: true }
        );
        assert!("name".parse::<EventSort>().is_err());
    }
}
