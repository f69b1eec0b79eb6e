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

/// The years (UTC) a timestamp from outside may fall in. Far enough either way for any real
/// event, and far enough inside what `time` can represent that adding a hold, a validity window
/// or a refund cutoff to one can never overflow.
pub const YEARS: std::ops::RangeInclusive<i32> = 1970..=2999;

/// Converts to UTC and drops sub-second digits. A time that UTC cannot represent (only a value
/// near year 9999 with an offset: `check_ts` refuses those at the edge) keeps its offset.
pub fn normalize_ts(t: OffsetDateTime) -> OffsetDateTime {
    let t = t.checked_to_offset(time::UtcOffset::UTC).unwrap_or(t);
    t.replace_nanosecond(0).unwrap_or(t)
}

/// Parses an RFC 3339 timestamp (e.g. `2026-05-01T18:00:00+09:00`), checks its range and
/// normalizes it.
pub fn parse_ts(s: &str) -> Result<OffsetDateTime, String> {
    let t = OffsetDateTime::parse(s.trim(), &Rfc3339)
        .map_err(|_| "must be an RFC 3339 timestamp such as 2026-05-01T18:00:00Z".to_string())?;
    check_ts(t)
}

/// Range-checks a timestamp from outside (in UTC: an offset can carry year 9999 into 10000)
/// and normalizes it.
pub fn check_ts(t: OffsetDateTime) -> Result<OffsetDateTime, String> {
    match t.checked_to_offset(time::UtcOffset::UTC) {
        Some(utc) if YEARS.contains(&utc.year()) => Ok(normalize_ts(utc)),
        _ => Err(format!("must be between the years {} and {} (UTC)", YEARS.start(), YEARS.end())),
    }
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
    fn offsets_cannot_carry_a_time_out_of_range() {
        // The outside review's crash: year 9999 at -23:59 is year 10000 in UTC.
        assert!(parse_ts("9999-12-31T23:59:59-23:59").is_err());
        assert!(parse_ts("0000-01-01T00:00:00+23:59").is_err());
        assert!(parse_ts("3000-01-01T00:00:00Z").is_err());
        assert!(parse_ts("1970-01-01T00:00:00+01:00").is_err(), "1969 in UTC");
        assert_eq!(format_ts(parse_ts("2999-12-31T23:59:59Z").unwrap()), "2999-12-31T23:59:59Z");
        // Nothing near the edge panics when it is normalized.
        let edge = OffsetDateTime::parse("9999-12-31T23:59:59-23:59", &Rfc3339).unwrap();
        assert_eq!(normalize_ts(edge), edge);
    }

    #[test]
    fn now_has_no_subseconds() {
        assert_eq!(now().nanosecond(), 0);
    }
}
