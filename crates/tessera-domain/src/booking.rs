//! Booking rules: seating, seat maps, ticket types, holds, wallet charges, refunds.

use std::str::FromStr;

use time::OffsetDateTime;

use crate::clock::parse_ts;
use crate::money::Money;
use crate::validation::{ValidationErrors, required_text};

pub const DEFAULT_SEAT_COUNT: i64 = 50;
pub const MAX_SEATS: i64 = 100_000;
pub const DEFAULT_HOLD_SECS: i64 = 300;
pub const DEFAULT_MAX_PER_PERSON: i64 = 10;
/// One wallet charge is at most 1,000,000.00.
pub const MAX_CHARGE_MINOR: i64 = 100_000_000;
/// The wallet never holds more than 99,999,999.99 (DECIMAL(10,2)).
pub const MAX_BALANCE_MINOR: i64 = 9_999_999_999;
/// Attendees may refund their own purchase until this long before the event starts.
pub const REFUND_CUTOFF_SECS: i64 = 24 * 3600;

/// How an event sells its places.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seating {
    /// Unnumbered places sold per ticket type (quota).
    General,
    /// Numbered seats from a seat map.
    Seated,
}

impl Seating {
    pub fn as_str(self) -> &'static str {
        match self {
            Seating::General => "general",
            Seating::Seated => "seated",
        }
    }
}

impl FromStr for Seating {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "general" => Ok(Seating::General),
            "seated" => Ok(Seating::Seated),
            _ => Err("must be general or seated".into()),
        }
    }
}

/// A block of seats: `rows` × `seats_per_row`, numbered after the previous sections.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    pub name: Option<String>,
    pub rows: i64,
    pub seats_per_row: i64,
    pub price: Option<Money>,
}

impl Section {
    pub fn seats(&self) -> i64 {
        self.rows * self.seats_per_row
    }
}

/// Raw seat-map input: either a plain count or sections.
#[derive(Debug, Clone, Default)]
pub struct SeatMapInput {
    pub seat_count: Option<i64>,
    pub sections: Option<Vec<SectionInput>>,
}

/// One raw section.
#[derive(Debug, Clone, Default)]
pub struct SectionInput {
    pub name: Option<String>,
    pub rows: Option<i64>,
    pub seats_per_row: Option<i64>,
    pub price: Option<String>,
}

/// A validated seat map: sections in order (a plain count is one unnamed section of one row).
pub fn parse_seat_map(input: &SeatMapInput) -> Result<Vec<Section>, ValidationErrors> {
    let mut e = ValidationErrors::new();
    if let Some(sections) = &input.sections {
        if input.seat_count.is_some() {
            e.add("seat_count", "give seat_count or sections, not both");
        }
        if sections.is_empty() || sections.len() > 100 {
            e.add("sections", "must list 1 to 100 sections");
        }
        let mut out = Vec::new();
        for (i, SectionInput { name, rows, seats_per_row: per_row, price }) in sections.iter().enumerate() {
            let f = |k: &str| format!("sections[{i}].{k}");
            let name = match name.as_deref() {
                Some(n) => e.check(&f("name"), required_text(Some(n), 50)),
                None => None,
            };
            let rows = match rows {
                Some(r) if (1..=1000).contains(r) => Some(*r),
                _ => {
                    e.add(&f("rows"), "must be between 1 and 1000");
                    None
                }
            };
            let per_row = match per_row {
                Some(r) if (1..=1000).contains(r) => Some(*r),
                _ => {
                    e.add(&f("seats_per_row"), "must be between 1 and 1000");
                    None
                }
            };
            let price = price.as_deref().and_then(|p| e.check(&f("price"), Money::parse(p)));
            if let (Some(rows), Some(seats_per_row)) = (rows, per_row) {
                out.push(Section { name, rows, seats_per_row, price });
            }
        }
        let total: i64 = out.iter().map(Section::seats).sum();
        if total > MAX_SEATS {
            e.add("sections", format!("hold {total} seats; at most {MAX_SEATS} are allowed"));
        }
        return e.finish(out);
    }
    let n = input.seat_count.unwrap_or(DEFAULT_SEAT_COUNT);
    if !(1..=MAX_SEATS).contains(&n) {
        e.add("seat_count", format!("must be between 1 and {MAX_SEATS}"));
    }
    e.finish(vec![Section { name: None, rows: 1, seats_per_row: n, price: None }])
}

/// Raw ticket-type fields.
#[derive(Debug, Clone, Default)]
pub struct TicketTypeInput {
    pub name: Option<String>,
    pub price: Option<String>,
    pub quota: Option<i64>,
    pub per_person_limit: Option<i64>,
    pub sale_starts_at: Option<String>,
    pub sale_ends_at: Option<String>,
    pub requires_approval: Option<bool>,
    pub allow_reentry: Option<bool>,
}

/// Validated ticket-type fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketTypeFields {
    pub name: String,
    pub price: Money,
    pub quota: i64,
    pub per_person_limit: i64,
    pub sale_starts_at: Option<OffsetDateTime>,
    pub sale_ends_at: Option<OffsetDateTime>,
    pub requires_approval: bool,
    pub allow_reentry: bool,
}

impl TicketTypeFields {
    pub fn parse(i: &TicketTypeInput) -> Result<Self, ValidationErrors> {
        let mut e = ValidationErrors::new();
        let name = e.check("name", required_text(i.name.as_deref(), 100));
        let price = match i.price.as_deref() {
            Some(p) => e.check("price", Money::parse(p)),
            None => Some(Money::ZERO),
        };
        let quota = match i.quota {
            Some(q) if (1..=MAX_SEATS).contains(&q) => Some(q),
            Some(_) => {
                e.add("quota", format!("must be between 1 and {MAX_SEATS}"));
                None
            }
            None => {
                e.add("quota", "is required");
                None
            }
        };
        let per_person_limit = match i.per_person_limit {
            None => Some(DEFAULT_MAX_PER_PERSON),
            Some(n) if (1..=100).contains(&n) => Some(n),
            Some(_) => {
                e.add("per_person_limit", "must be between 1 and 100");
                None
            }
        };
        let starts = i.sale_starts_at.as_deref().and_then(|s| e.check("sale_starts_at", parse_ts(s)));
        let ends = i.sale_ends_at.as_deref().and_then(|s| e.check("sale_ends_at", parse_ts(s)));
        if let (Some(s), Some(t)) = (starts, ends)
            && t <= s
        {
            e.add("sale_ends_at", "must be after sale_starts_at");
        }
        match (name, price, quota, per_person_limit) {
            (Some(name), Some(price), Some(quota), Some(per_person_limit)) if e.is_empty() => {
                Ok(TicketTypeFields {
                    name,
                    price,
                    quota,
                    per_person_limit,
                    sale_starts_at: starts,
                    sale_ends_at: ends,
                    requires_approval: i.requires_approval.unwrap_or(false),
                    allow_reentry: i.allow_reentry.unwrap_or(true),
                })
            }
            _ => Err(e),
        }
    }
}

/// Is `now` inside the sale window?
pub fn on_sale(starts: Option<OffsetDateTime>, ends: Option<OffsetDateTime>, now: OffsetDateTime) -> bool {
    starts.is_none_or(|s| now >= s) && ends.is_none_or(|e| now < e)
}

/// A wallet charge: positive and at most [`MAX_CHARGE_MINOR`].
pub fn parse_charge(amount: Option<&str>) -> Result<Money, String> {
    let m = Money::parse(amount.ok_or("is required")?)?;
    if m.minor() == 0 {
        Err("must be greater than 0".into())
    } else if m.minor() > MAX_CHARGE_MINOR {
        Err(format!("must be at most {}", Money::from_minor(MAX_CHARGE_MINOR)))
    } else {
        Ok(m)
    }
}

/// Seat numbers asked for: 1 to `max` distinct positive numbers.
pub fn parse_seat_numbers(seats: &[i64], max: i64) -> Result<Vec<i64>, String> {
    if seats.is_empty() {
        return Err("must list at least one seat".into());
    }
    if seats.len() as i64 > max {
        return Err(format!("at most {max} seats per person"));
    }
    let mut v = seats.to_vec();
    v.sort_unstable();
    v.dedup();
    if v.len() != seats.len() {
        return Err("must not repeat a seat".into());
    }
    if v.iter().any(|&n| !(1..=MAX_SEATS).contains(&n)) {
        return Err(format!("seat numbers run from 1 to {MAX_SEATS}"));
    }
    Ok(v)
}

/// Why `near_seat` cannot be used as given, if it cannot: it picks the best available numbered
/// seats near a number, so it goes with `quantity` on a seated event, not with a seat list or a
/// ticket type, and names a seat number that can exist.
pub fn near_seat_misuse(
    near: i64,
    seated: bool,
    has_seat_numbers: bool,
    has_ticket_type: bool,
    has_quantity: bool,
) -> Option<String> {
    if !seated {
        Some("this event has no numbered seats".into())
    } else if has_seat_numbers || has_ticket_type || !has_quantity {
        Some(
            "goes with quantity (the best available seats near it), not with seat_numbers or ticket_type_id"
                .into(),
        )
    } else if !(1..=MAX_SEATS).contains(&near) {
        Some(format!("seat numbers run from 1 to {MAX_SEATS}"))
    } else {
        None
    }
}

/// An Idempotency-Key header value: 1 to 255 visible ASCII characters.
pub fn parse_idempotency_key(v: &str) -> Result<String, String> {
    if v.is_empty() || v.len() > 255 || !v.bytes().all(|b| b.is_ascii_graphic()) {
        Err("must be 1 to 255 visible ASCII characters".into())
    } else {
        Ok(v.to_string())
    }
}

/// May the buyer refund on their own? Until [`REFUND_CUTOFF_SECS`] before the start.
pub fn buyer_may_refund(event_start: OffsetDateTime, now: OffsetDateTime) -> bool {
    now + time::Duration::seconds(REFUND_CUTOFF_SECS) <= event_start
}

crate::text_enum::text_decode!(Seating);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn near_seat_goes_with_quantity_on_seated_events() {
        assert_eq!(near_seat_misuse(7, true, false, false, true), None);
        assert_eq!(near_seat_misuse(MAX_SEATS, true, false, false, true), None);
        assert!(near_seat_misuse(7, false, false, false, true).unwrap().contains("no numbered seats"));
        for (seats, tt, q) in [(true, false, true), (false, true, true), (false, false, false)] {
            assert!(near_seat_misuse(7, true, seats, tt, q).unwrap().starts_with("goes with quantity"));
        }
        for n in [0, -1, MAX_SEATS + 1] {
            assert!(near_seat_misuse(n, true, false, false, true).unwrap().contains("run from 1"));
        }
    }
    use time::macros::datetime;

    #[test]
    fn seat_map_defaults_to_fifty() {
        let m = parse_seat_map(&SeatMapInput::default()).unwrap();
        assert_eq!(m.iter().map(Section::seats).sum::<i64>(), 50);
    }

    #[test]
    fn seat_map_sections_and_limits() {
        let input = SeatMapInput {
            seat_count: None,
            sections: Some(vec![
                SectionInput {
                    name: Some("A".into()),
                    rows: Some(2),
                    seats_per_row: Some(10),
                    price: Some("5000".into()),
                },
                SectionInput { name: None, rows: Some(1), seats_per_row: Some(5), price: None },
            ]),
        };
        let m = parse_seat_map(&input).unwrap();
        assert_eq!(m.iter().map(Section::seats).sum::<i64>(), 25);
        assert_eq!(m[0].price.unwrap().minor(), 500_000);
        let too_big = SeatMapInput { seat_count: Some(100_001), sections: None };
        assert_eq!(parse_seat_map(&too_big).unwrap_err().0[0].field, "seat_count");
        let bad = SeatMapInput {
            seat_count: None,
            sections: Some(vec![SectionInput {
                rows: Some(0),
                seats_per_row: Some(5),
                ..Default::default()
            }]),
        };
        assert_eq!(parse_seat_map(&bad).unwrap_err().0[0].field, "sections[0].rows");
    }

    #[test]
    fn ticket_type_rules() {
        let ok = TicketTypeInput { name: Some("Student".into()), quota: Some(100), ..Default::default() };
        let t = TicketTypeFields::parse(&ok).unwrap();
        assert_eq!((t.price, t.per_person_limit), (Money::ZERO, DEFAULT_MAX_PER_PERSON));
        let bad = TicketTypeInput {
            name: None,
            quota: Some(0),
            per_person_limit: Some(0),
            sale_starts_at: Some("2026-05-02T00:00:00Z".into()),
            sale_ends_at: Some("2026-05-01T00:00:00Z".into()),
            ..Default::default()
        };
        let fields: Vec<_> =
            TicketTypeFields::parse(&bad).unwrap_err().0.into_iter().map(|f| f.field).collect();
        assert_eq!(fields, ["name", "quota", "per_person_limit", "sale_ends_at"]);
    }

    #[test]
    fn sale_window() {
        let now = datetime!(2026-05-01 12:00 UTC);
        assert!(on_sale(None, None, now));
        assert!(!on_sale(Some(datetime!(2026-05-02 00:00 UTC)), None, now));
        assert!(!on_sale(None, Some(now), now));
    }

    #[test]
    fn charges() {
        assert!(parse_charge(Some("0")).is_err());
        assert!(parse_charge(Some("-5")).is_err());
        assert!(parse_charge(Some("1000000.01")).is_err());
        assert_eq!(parse_charge(Some("10.5")).unwrap().minor(), 1050);
    }

    #[test]
    fn seat_numbers() {
        assert_eq!(parse_seat_numbers(&[3, 1], 10).unwrap(), vec![1, 3]);
        assert!(parse_seat_numbers(&[], 10).is_err());
        assert!(parse_seat_numbers(&[1, 1], 10).is_err());
        assert!(parse_seat_numbers(&[0], 10).is_err());
        assert!(parse_seat_numbers(&[1, 2, 3], 2).is_err());
    }

    #[test]
    fn refund_cutoff() {
        let start = datetime!(2026-05-02 12:00 UTC);
        assert!(buyer_may_refund(start, datetime!(2026-05-01 12:00 UTC)));
        assert!(!buyer_may_refund(start, datetime!(2026-05-01 12:00:01 UTC)));
    }

    #[test]
    fn idempotency_keys() {
        assert!(parse_idempotency_key("abc-123").is_ok());
        assert!(parse_idempotency_key("").is_err());
        assert!(parse_idempotency_key("has space").is_err());
    }
}
