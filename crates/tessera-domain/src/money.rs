//! Money as integer minor units (two decimal places, as the seeds' DECIMAL(10,2)); never floats.

use std::fmt;

/// Largest amount accepted: DECIMAL(10,2) holds up to 99,999,999.99.
pub const MAX_MINOR: i64 = 9_999_999_999;

/// An amount of money in minor units (1/100 of the currency unit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Hash)]
pub struct Money(i64);

impl Money {
    pub const ZERO: Money = Money(0);

    pub fn from_minor(minor: i64) -> Self {
        Money(minor)
    }

    pub fn minor(self) -> i64 {
        self.0
    }

    /// Parses a non-negative decimal such as `1500`, `1500.5` or `"1500.00"`.
    pub fn parse(s: &str) -> Result<Money, String> {
        const MSG: &str = "must be a non-negative decimal with at most two decimal places, e.g. \"1500.00\"";
        let s = s.trim();
        if s.starts_with('-') {
            return Err("must not be negative".into());
        }
        let (whole, frac) = match s.split_once('.') {
            Some((w, f)) => (w, f),
            None => (s, ""),
        };
        if whole.is_empty() || whole.len() > 10 || !whole.bytes().all(|b| b.is_ascii_digit()) {
            return Err(MSG.into());
        }
        if frac.len() > 2 || !frac.bytes().all(|b| b.is_ascii_digit()) || (s.contains('.') && frac.is_empty())
        {
            return Err(MSG.into());
        }
        let whole: i64 = whole.parse().map_err(|_| MSG.to_string())?;
        let cents: i64 = match frac.len() {
            0 => 0,
            1 => frac.parse::<i64>().map_err(|_| MSG.to_string())? * 10,
            _ => frac.parse::<i64>().map_err(|_| MSG.to_string())?,
        };
        let minor = whole.checked_mul(100).and_then(|w| w.checked_add(cents)).ok_or(MSG)?;
        if minor > MAX_MINOR {
            return Err("is too large (at most 99999999.99)".into());
        }
        Ok(Money(minor))
    }

    pub fn checked_mul(self, n: i64) -> Option<Money> {
        self.0.checked_mul(n).map(Money)
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        write!(f, "{sign}{}.{:02}", abs / 100, abs % 100)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_decimal_forms() {
        assert_eq!(Money::parse("1500").unwrap().minor(), 150_000);
        assert_eq!(Money::parse("1500.5").unwrap().minor(), 150_050);
        assert_eq!(Money::parse("0.05").unwrap().minor(), 5);
        assert_eq!(Money::parse(" 12.34 ").unwrap().minor(), 1234);
    }

    #[test]
    fn rejects_bad_decimals() {
        for bad in ["-1", "1.234", "abc", "", "1.", ".5", "1e3", "99999999999", "1,5"] {
            assert!(Money::parse(bad).is_err(), "{bad} accepted");
        }
        assert!(Money::parse("99999999.99").is_ok());
        assert!(Money::parse("100000000.00").is_err());
    }

    #[test]
    fn formats_two_places() {
        assert_eq!(Money::from_minor(150_000).to_string(), "1500.00");
        assert_eq!(Money::from_minor(5).to_string(), "0.05");
        assert_eq!(Money::from_minor(-5).to_string(), "-0.05");
    }
}
