//! Background-job rules: how long to wait before trying a failed job again.

/// Seconds before attempt `attempt + 1` after `attempt` failed: 10 s, doubling, at most an hour
/// (an SMTP server that is down for a while is not hammered, and mail still goes out the same day).
pub fn retry_delay_secs(attempt: i32) -> i64 {
    let doublings = u32::try_from(attempt.saturating_sub(1).clamp(0, 20)).unwrap_or(0);
    (10i64 << doublings).min(3600)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_an_hour() {
        assert_eq!(retry_delay_secs(1), 10);
        assert_eq!(retry_delay_secs(2), 20);
        assert_eq!(retry_delay_secs(5), 160);
        assert_eq!(retry_delay_secs(9), 2560);
        assert_eq!(retry_delay_secs(10), 3600);
        assert_eq!(retry_delay_secs(1000), 3600);
        assert_eq!(retry_delay_secs(0), 10);
        assert_eq!(retry_delay_secs(-3), 10);
    }
}
