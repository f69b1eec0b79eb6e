//! How fast a waiting room's line moves, and what to tell the people in it.
//!
//! The configured admission rate is a ceiling: during a busy sale the line moves only as fast as
//! admitted buyers finish (at most `max_admitted` are live at once), which can be far slower. So
//! estimates use the *observed* pace — admissions per minute, smoothed over the admission ticks —
//! and fall back to the configured rate before anything has been observed. Clients are told when
//! to poll again: often near the front, rarely far back, so a crowd of waiting buyers does not
//! cost more than the sale itself.

/// How fast the smoothed pace follows a faster line: the newest second weighs half (a half-life
/// of one second, however often the admission job ticks).
const RISE_HALF_LIFE_SECS: f64 = 1.0;

/// How fast it follows a slower one: a half-life of ten seconds. The estimate errs on the fast
/// side on purpose. A buyer told to come back too late stalls the line: their admitted place sits
/// unused while they wait, which slows the observed pace, which lengthens the next buyers' hints.
/// A pace that fell as fast as it rises would feed that loop: a few slow seconds as a sale opens
/// would send admitted buyers away for long, and the line would crawl until they came back.
/// Coming back too early costs one cheap poll.
const FALL_HALF_LIFE_SECS: f64 = 10.0;

/// Ticks closer than this count as this long (a tick right after a settings change must not
/// report an absurd burst).
const MIN_TICK_SECS: f64 = 0.2;

/// Shortest and longest poll interval suggested to a waiting buyer (`WaitingHint::poll_after_ms`).
/// The floor is half a second: the hint is precise, so a buyer whose turn is due within the
/// second need not wait out a whole one.
pub const MIN_POLL_MS: i64 = 500;
pub const MAX_POLL_MS: i64 = 60_000;

/// Poll interval for a buyer beyond the places left: five minutes, and in practice half the
/// admission window (`WaitingHint::within_window`; 150 s for the default 300 s window). Their turn
/// comes only if those ahead leave or holds lapse, and whenever it comes they are admitted for a
/// whole window, so polling at half of it still leaves half the window to reserve. When far more
/// buyers wait than there are places, those beyond the places would otherwise make most of a
/// sale's polls, for a turn that will likely never come.
pub const BEYOND_PLACES_POLL_MS: i64 = 300_000;

/// How often the admission job admits (the server's background tick). A buyer is sent back this
/// much after the estimated turn: admission happens at the first tick after it.
pub const ADMISSION_TICK_MS: i64 = 250;

/// The smoothed pace (admissions per minute) after a tick that admitted `admitted` buyers
/// `elapsed_secs` after the previous one. A tick weighs as much as the time it covers.
///
/// A previous pace of 0 means nothing has been observed yet (estimates use the configured rate,
/// see `estimate_pace`), not a line that stood still: the first tick that admits anyone sets the
/// pace as it was measured. Averaged with zero, the first ticks of a sale would read as a line
/// moving at a fraction of its speed, so buyers who poll in the opening second would be sent away
/// for several times their wait while their admitted places sat unused. A first tick shorter than
/// `MIN_TICK_SECS` (the opening fell just before it) is too short to measure: it leaves the pace
/// unobserved.
pub fn observed_pace(previous_per_min: i32, admitted: i64, elapsed_secs: f64) -> i32 {
    let elapsed = elapsed_secs.max(MIN_TICK_SECS);
    let sample = admitted as f64 * 60.0 / elapsed;
    if previous_per_min <= 0 {
        let measurable = admitted > 0 && elapsed_secs >= MIN_TICK_SECS;
        return if measurable { per_min(sample) } else { 0 };
    }
    let previous = f64::from(previous_per_min);
    let half_life = if sample >= previous { RISE_HALF_LIFE_SECS } else { FALL_HALF_LIFE_SECS };
    let weight = 1.0 - 0.5f64.powf(elapsed / half_life);
    per_min(weight * sample + (1.0 - weight) * previous)
}

/// A pace as whole admissions a minute, rounded up so a trickle of admissions never reads as a
/// stopped line.
fn per_min(pace: f64) -> i32 {
    pace.ceil().clamp(0.0, f64::from(i32::MAX)) as i32
}

/// The pace estimates use: the observed one, or the configured rate before any admission.
pub fn estimate_pace(observed_per_min: i32, configured_per_min: i32) -> i64 {
    if observed_per_min > 0 { i64::from(observed_per_min) } else { i64::from(configured_per_min.max(1)) }
}

/// Estimated milliseconds until a buyer with `ahead` waiting in front is admitted.
pub fn wait_ms(ahead: i64, pace_per_min: i64) -> i64 {
    let (n, pace) = (ahead.max(0).saturating_add(1).saturating_mul(60_000), pace_per_min.max(1));
    n / pace + i64::from(n % pace != 0)
}

/// The same in whole seconds, rounded up.
pub fn wait_secs(ahead: i64, pace_per_min: i64) -> i64 {
    ceil_secs(wait_ms(ahead, pace_per_min))
}

/// Milliseconds as whole seconds, rounded up (an estimate rounded down would have buyers arrive
/// early).
fn ceil_secs(ms: i64) -> i64 {
    ms / 1000 + i64::from(ms % 1000 != 0)
}

/// What a waiting buyer is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WaitingHint {
    /// Estimated seconds until admission: until the opening, then the line ahead at `pace`.
    pub wait_secs: i64,
    /// When to ask again, in milliseconds. Whole seconds would lump the line: on a fast line
    /// everyone whose turn comes within the first second would be told "one second", so nobody
    /// would come during that second and they would all come at its end.
    pub poll_after_ms: i64,
    /// More buyers are waiting ahead than there are places left: the sale will likely sell out
    /// before this buyer's turn (unless those ahead leave or holds lapse).
    pub beyond_places: bool,
}

/// The answer for a buyer with `ahead` waiting in front, `ms_to_open` milliseconds before a
/// scheduled opening (0 or less once open), with `places_left` on sale at the last count.
///
/// Close to the opening (within `MAX_POLL_MS`) a buyer is told to come back when their turn is
/// estimated to come (plus one admission tick), so the crowd arrives spread over the line's pace
/// instead of all at the opening second; further off, every `MAX_POLL_MS` (the opening may be
/// moved). The pace behind the estimate errs on the fast side (see `FALL_HALF_LIFE_SECS`), so
/// this is already early rather than late: asking earlier still would only add polls, not make
/// the sale faster. A buyer beyond the places left is sent back rarely (`BEYOND_PLACES_POLL_MS`):
/// they would otherwise poll through the whole sale only to find it sold out, and the admission
/// order does not depend on when anyone polls.
pub fn waiting_hint(ahead: i64, pace_per_min: i64, ms_to_open: i64, places_left: Option<i64>) -> WaitingHint {
    let to_open_ms = ms_to_open.max(0);
    let beyond_places = places_left.is_some_and(|left| ahead >= left);
    let after_open = if beyond_places {
        BEYOND_PLACES_POLL_MS
    } else {
        wait_ms(ahead, pace_per_min).saturating_add(ADMISSION_TICK_MS).min(MAX_POLL_MS)
    };
    let poll_after_ms =
        if to_open_ms > MAX_POLL_MS { MAX_POLL_MS } else { (to_open_ms + after_open).max(MIN_POLL_MS) };
    WaitingHint {
        wait_secs: ceil_secs(to_open_ms).saturating_add(wait_secs(ahead, pace_per_min)),
        poll_after_ms,
        beyond_places,
    }
}

impl WaitingHint {
    /// The poll interval in whole seconds, rounded up (the `poll_after_seconds` field).
    pub fn poll_after_secs(&self) -> i64 {
        ceil_secs(self.poll_after_ms)
    }

    /// The same hint for a line whose admissions last `window_secs`: the poll interval is at most
    /// half the window, so a buyer admitted just after a poll learns it with half the window
    /// left to reserve. Windows may be as short as 30 s and intervals as long as `MAX_POLL_MS`
    /// (60 s), or `BEYOND_PLACES_POLL_MS` (5 minutes) beyond the places left: a buyer far back,
    /// told to come back in a minute, could otherwise be admitted and lapse between two polls if
    /// the line sped up.
    pub fn within_window(self, window_secs: i64) -> WaitingHint {
        let most = (window_secs.saturating_mul(1000) / 2).max(MIN_POLL_MS);
        WaitingHint { poll_after_ms: self.poll_after_ms.min(most), ..self }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pace_follows_admissions_and_smooths_bursts() {
        // A line that has moved at 3,000/min sees 100 admitted in one second (6,000/min): the
        // newest second weighs half.
        assert_eq!(observed_pace(3_000, 100, 1.0), 4_500);
        // A slower line pulls it down slowly: ten seconds of nobody admitted halve it. It decays
        // towards zero, never below.
        assert_eq!(observed_pace(4_500, 0, 1.0), 4_199);
        let mut p = 4_500;
        for _ in 0..10 {
            p = observed_pace(p, 0, 1.0);
        }
        assert!((2_240..=2_260).contains(&p), "{p}");
        assert_eq!(observed_pace(1, 0, 1.0), 1);
    }

    #[test]
    fn the_first_admissions_set_the_pace() {
        // Nothing observed yet: 100 admitted in one second is 6,000/min, not half of it.
        assert_eq!(observed_pace(0, 100, 1.0), 6_000);
        // A flash sale's opening quarter second, 2,500 admitted at 600,000/min: the pace is the
        // rate they were admitted at, not an average with the unobserved line before it.
        assert_eq!(observed_pace(0, 2_500, 0.25), 600_000);
        // Nobody admitted says nothing yet: the configured rate stays in use.
        assert_eq!(observed_pace(0, 0, 1.0), 0);
        assert_eq!(estimate_pace(observed_pace(0, 0, 1.0), 600_000), 600_000);
        // Neither does a tick too short to measure (a burst right after a settings change, or
        // an opening just before a tick).
        assert_eq!(observed_pace(0, 10, 0.001), 0);
        assert_eq!(observed_pace(0, 500, 0.05), 0);
    }

    #[test]
    fn ticks_weigh_as_much_as_the_time_they_cover() {
        // Once a pace is known, a burst a moment after the last tick counts as a fifth of a
        // second, weighted lightly.
        assert_eq!(observed_pace(1_000, 10, 0.001), 1_259);
        // Four quarter-second ticks of 25 move the pace as one one-second tick of 100 does.
        let mut p = 3_000;
        for _ in 0..4 {
            p = observed_pace(p, 25, 0.25);
        }
        assert!((4_490..=4_510).contains(&p), "{p}");
        // Two seconds count three quarters.
        assert_eq!(observed_pace(100, 10, 2.0), 250);
    }

    #[test]
    fn estimates_prefer_what_was_observed() {
        assert_eq!(estimate_pace(0, 600), 600);
        assert_eq!(estimate_pace(120, 600_000), 120);
        assert_eq!(estimate_pace(0, 0), 1);
    }

    #[test]
    fn wait_and_poll_interval() {
        // First in line at 60/min: a second.
        assert_eq!(wait_secs(0, 60), 1);
        // 599 ahead at 600/min: a minute.
        assert_eq!(wait_secs(599, 600), 60);
        assert_eq!(wait_secs(-5, 60), 1);
        // The poll interval stays within its bounds: an hour's wait asks again in a minute.
        assert_eq!(waiting_hint(3_599, 60, 0, None).poll_after_ms, MAX_POLL_MS);
        assert_eq!(waiting_hint(3_599, 60, 0, None).poll_after_secs(), 60);
        // Huge lines do not overflow.
        assert!(wait_secs(i64::MAX, 1) > 0);
    }

    #[test]
    fn hints_count_the_time_to_the_opening() {
        // Open, 599 ahead at 600/min, plenty left: a minute, come back then.
        let h = waiting_hint(599, 600, 0, Some(10_000));
        assert_eq!(h, WaitingHint { wait_secs: 60, poll_after_ms: 60_000, beyond_places: false });
        assert_eq!(h.poll_after_secs(), 60);
        // Ten seconds before the opening, 9,999 ahead at 600,000/min: turn one second after it,
        // admitted at the tick after that.
        let h = waiting_hint(9_999, 600_000, 10_000, Some(50_000));
        assert_eq!((h.wait_secs, h.poll_after_ms, h.poll_after_secs()), (11, 11_250, 12));
        // First in line, two and a half seconds before: at the opening's first tick, not a whole
        // second later.
        let h = waiting_hint(0, 600_000, 2_500, Some(50_000));
        assert_eq!((h.wait_secs, h.poll_after_ms), (4, 2_751));
        // Hours before the opening: ask again in a minute (the opening may move).
        let h = waiting_hint(0, 600, 7_200_000, None);
        assert_eq!((h.wait_secs, h.poll_after_ms), (7_201, MAX_POLL_MS));
        // Already open: the time to the opening counts nothing; the line's front waits the
        // shortest interval.
        let h = waiting_hint(0, 60_000, -30_000, None);
        assert_eq!((h.wait_secs, h.poll_after_ms), (1, MIN_POLL_MS));
        assert_eq!(waiting_hint(0, 60, 0, None).poll_after_ms, 1_250);
    }

    #[test]
    fn polls_come_at_least_twice_a_window() {
        // A minute's interval in a 30-second window: every 15 s.
        let h = waiting_hint(3_599, 60, 0, None);
        assert_eq!(h.poll_after_ms, MAX_POLL_MS);
        let w = h.within_window(30);
        assert_eq!((w.poll_after_ms, w.wait_secs), (15_000, h.wait_secs));
        // The default five minutes leaves it alone; a short interval is never lengthened.
        assert_eq!(h.within_window(300), h);
        let near = waiting_hint(0, 60_000, 0, None);
        assert_eq!(near.within_window(30), near);
        // Never below the shortest interval.
        assert_eq!(h.within_window(0).poll_after_ms, MIN_POLL_MS);
    }

    #[test]
    fn wait_in_milliseconds() {
        assert_eq!(wait_ms(0, 60), 1_000);
        assert_eq!(wait_ms(0, 600_000), 1);
        assert_eq!(wait_ms(9_999, 600_000), 1_000);
        assert_eq!(wait_ms(-3, 60_000), 1);
        assert!(wait_ms(i64::MAX, 1) > 0);
    }

    #[test]
    fn buyers_beyond_the_places_left_are_sent_back_rarely() {
        // 50,000 places, 60,000 ahead: likely sold out first. The estimate stays honest; only
        // the poll interval grows.
        let h = waiting_hint(60_000, 600_000, 5_000, Some(50_000));
        assert!(h.beyond_places);
        assert_eq!((h.wait_secs, h.poll_after_ms), (12, 5_000 + BEYOND_PLACES_POLL_MS));
        // Half the admission window at most: 150 s with the default 300 s, 15 s with 30 s. A
        // buyer within the places keeps the interval of the line's pace.
        assert_eq!(h.within_window(300).poll_after_ms, 150_000);
        assert_eq!(h.within_window(30).poll_after_ms, 15_000);
        let within = waiting_hint(40_000, 600_000, 0, Some(50_000)).within_window(300);
        assert_eq!((within.beyond_places, within.poll_after_ms), (false, 4_000 + ADMISSION_TICK_MS + 1));
        // Exactly as many ahead as places left: beyond. One fewer: not.
        assert!(waiting_hint(100, 600, 0, Some(100)).beyond_places);
        assert!(!waiting_hint(99, 600, 0, Some(100)).beyond_places);
        // Nothing counted yet: no claim.
        assert!(!waiting_hint(1_000_000, 600, 0, None).beyond_places);
        // Sold out: everyone waiting is beyond.
        assert!(waiting_hint(0, 600, 0, Some(0)).beyond_places);
    }
}
