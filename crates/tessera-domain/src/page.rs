//! Pagination rules shared by every list: `limit` defaults to 20 and is at most 100.

pub const DEFAULT_LIMIT: i64 = 20;
pub const MAX_LIMIT: i64 = 100;

/// Validates `?limit=`.
pub fn parse_limit(limit: Option<i64>) -> Result<i64, String> {
    match limit {
        None => Ok(DEFAULT_LIMIT),
        Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        Some(_) => Err(format!("must be between 1 and {MAX_LIMIT}")),
    }
}

/// Sort direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Asc,
    Desc,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits() {
        assert_eq!(parse_limit(None), Ok(20));
        assert_eq!(parse_limit(Some(100)), Ok(100));
        assert!(parse_limit(Some(0)).is_err());
        assert!(parse_limit(Some(101)).is_err());
    }
}
