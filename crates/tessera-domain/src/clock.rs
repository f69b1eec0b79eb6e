//! Time rules: every stored timestamp is UTC with whole seconds.
//!
//! Why whole seconds: on SQLite a timestamp is stored as RFC 3339 text, and text only sorts in
//! time order when every value has the same shape. Dropping sub-seconds keeps range filters and
//! cursors exact on both databases. What must run faster than once a second (the waiting room's
//! admission job) keeps integer milliseconds in columns of its own, never compared in SQL
//! (tessera-store's queue.rs, migration 0013).

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// The current time, normalized for storage.
pub fn now() -> OffsetDateTime {
    normalize_ts(OffsetDateTime::now_utc())
}

/// Converts to UTC and drops sub-second digits.
pub fn normalize_ts(t: OffsetDateTime) -> OffsetDateTime {
    let t = t.to_offset(time::UtcOffset::UTC);
    t.replace_nanosecond(0).unwrap_or(t)
}

/// Parses an RFC 3339 timestamp (e.g. `2026-05-01T18:00:00+09:00`) and normalizes it.
pub fn parse_ts(s: &str) -> Result<OffsetDateTime, String> {
    let t = OffsetDateTime::parse(s.trim(), &Rfc3339)
        .map_err(|_| "must be an RFC 3339 timestamp such as 2026-05-01T18:00:00Z".to_string())?;
    if !(1970..=9999).contains(&t.year()) {
        return Err("must be between the years 1970 and 9999".into());
    }
    Ok(normalize_ts(t))
}

/// Formats a timestamp as RFC 3339 (the JSON shape).
pub fn format_ts(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_normalizes_offsets() {
        let t = parse_ts("2026-05-01T18:00:00.750+09:00").unwrap();
        assert_eq!(format_ts(t), "2026-05-01T09:00:00Z");
    }

    #[test]
    fn rejects_garbage_and_far_years() {
        assert!(parse_ts("tomorrow").is_err());
        assert!(parse_ts("2026-13-01T00:00:00Z").is_err());
        assert!(parse_ts("1900-01-01T00:00:00Z").is_err());
    }

    #[test]
    fn now_has_no_subseconds() {
        assert_eq!(now().nanosecond(), 0);
    }
}
