//! Door rules: which festival day a scan counts for, and how a ticket's scans of one day resolve
//! into accepted entries and exits — the same way whatever order they reach the server in, so
//! scans made offline on several devices merge deterministically.

use crate::id::ScanId;
use time::OffsetDateTime;

/// Entry or exit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Entry,
    Exit,
}

impl Direction {
    pub fn parse(s: &str) -> Option<Direction> {
        match s {
            "entry" => Some(Direction::Entry),
            "exit" => Some(Direction::Exit),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Entry => "entry",
            Direction::Exit => "exit",
        }
    }
}

impl std::str::FromStr for Direction {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Direction::parse(s).ok_or_else(|| "must be entry or exit".to_string())
    }
}

crate::text_enum::text_decode!(Direction);

/// The event day a scan counts for: day 1 is the first 24 hours from the event's start, day 2
/// the next, and so on; scans before the start count for day 1. (Events carry no time zone, so
/// days run from the start time rather than from midnight.)
pub fn event_day(event_start: OffsetDateTime, scanned_at: OffsetDateTime) -> i32 {
    let secs = (scanned_at - event_start).whole_seconds();
    if secs < 0 { 1 } else { i32::try_from(secs / 86_400 + 1).unwrap_or(i32::MAX) }
}

/// One scan of a ticket on one day, as the merge sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scan {
    pub scan_id: ScanId,
    pub direction: Direction,
    pub scanned_at: OffsetDateTime,
    pub gate: Option<String>,
}

/// What became of a scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Outcome {
    Accepted,
    /// An entry while already inside (or a second entry when re-entry is not allowed).
    AlreadyInside,
    /// An exit while not inside.
    NotInside,
    /// The ticket was voided by the time the scan reached its state (a refund racing the door).
    Void,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Accepted => "accepted",
            Outcome::AlreadyInside => "already_inside",
            Outcome::NotInside => "not_inside",
            Outcome::Void => "ticket_void",
        }
    }
}

/// A ticket's state at the door on one day.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Presence {
    pub inside: bool,
    pub entries: i32,
    pub first_entry_at: Option<OffsetDateTime>,
    pub first_gate: Option<String>,
    pub last_scan_at: Option<OffsetDateTime>,
}

/// Replays one ticket's scans of one day in scan-time order (ties by scan id): an entry is
/// accepted when outside (and, without re-entry, only the first time), an exit when inside.
/// The answer depends only on the set of scans, never on the order they arrived in.
pub fn resolve(scans: &[Scan], reentry: bool) -> (Vec<(ScanId, Outcome)>, Presence) {
    let mut ordered: Vec<&Scan> = scans.iter().collect();
    ordered.sort_by(|a, b| a.scanned_at.cmp(&b.scanned_at).then(a.scan_id.cmp(&b.scan_id)));
    let mut p = Presence::default();
    let mut out = Vec::with_capacity(ordered.len());
    for s in ordered {
        let outcome = match s.direction {
            Direction::Entry if !p.inside && (reentry || p.entries == 0) => {
                p.inside = true;
                p.entries += 1;
                if p.first_entry_at.is_none() {
                    p.first_entry_at = Some(s.scanned_at);
                    p.first_gate = s.gate.clone();
                }
                Outcome::Accepted
            }
            Direction::Entry => Outcome::AlreadyInside,
            Direction::Exit if p.inside => {
                p.inside = false;
                Outcome::Accepted
            }
            Direction::Exit => Outcome::NotInside,
        };
        if outcome == Outcome::Accepted {
            p.last_scan_at = Some(s.scanned_at);
        }
        out.push((s.scan_id, outcome));
    }
    (out, p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;
    use uuid::Uuid;

    fn scan(n: u128, dir: Direction, minute: i64, gate: &str) -> Scan {
        Scan {
            scan_id: ScanId::from(Uuid::from_u128(n)),
            direction: dir,
            scanned_at: datetime!(2030-05-01 10:00 UTC) + time::Duration::minutes(minute),
            gate: Some(gate.into()),
        }
    }

    #[test]
    fn days_run_from_the_start() {
        let start = datetime!(2030-05-01 09:00 UTC);
        assert_eq!(event_day(start, datetime!(2030-04-30 08:00 UTC)), 1);
        assert_eq!(event_day(start, start), 1);
        assert_eq!(event_day(start, datetime!(2030-05-02 08:59 UTC)), 1);
        assert_eq!(event_day(start, datetime!(2030-05-02 09:00 UTC)), 2);
        assert_eq!(event_day(start, datetime!(2030-05-04 12:00 UTC)), 4);
    }

    #[test]
    fn entry_exit_reentry() {
        use Direction::*;
        let scans = [
            scan(1, Entry, 0, "A"),
            scan(2, Entry, 1, "B"),
            scan(3, Exit, 5, "A"),
            scan(4, Exit, 6, "A"),
            scan(5, Entry, 9, "C"),
        ];
        let (out, p) = resolve(&scans, true);
        let got: Vec<_> = out.iter().map(|(_, o)| *o).collect();
        assert_eq!(
            got,
            [
                Outcome::Accepted,
                Outcome::AlreadyInside,
                Outcome::Accepted,
                Outcome::NotInside,
                Outcome::Accepted
            ]
        );
        assert!(p.inside);
        assert_eq!((p.entries, p.first_gate.as_deref()), (2, Some("A")));
        assert_eq!(p.first_entry_at, Some(datetime!(2030-05-01 10:00 UTC)));
        assert_eq!(p.last_scan_at, Some(datetime!(2030-05-01 10:09 UTC)));
        // Without re-entry the second entry is refused even after an exit.
        let (out, p) = resolve(&scans, false);
        assert_eq!(out[4].1, Outcome::AlreadyInside);
        assert!(!p.inside);
    }

    #[test]
    fn order_of_arrival_does_not_matter() {
        use Direction::*;
        let scans = vec![
            scan(10, Entry, 3, "B"),
            scan(11, Entry, 0, "A"),
            scan(12, Exit, 7, "A"),
            scan(13, Entry, 7, "C"), // same minute as the exit: ties go by scan id
            scan(14, Exit, 2, "B"),
        ];
        let (mut first, p1) = resolve(&scans, true);
        first.sort();
        // Every rotation and the reverse give the same outcomes and state.
        for k in 0..scans.len() {
            let mut s = scans.clone();
            s.rotate_left(k);
            for order in [s.clone(), s.into_iter().rev().collect()] {
                let (mut out, p) = resolve(&order, true);
                out.sort();
                assert_eq!((out, p), (first.clone(), p1.clone()));
            }
        }
        assert_eq!(p1.first_gate.as_deref(), Some("A"));
    }

    #[test]
    fn directions_parse() {
        assert_eq!(Direction::parse("entry"), Some(Direction::Entry));
        assert_eq!(Direction::parse("exit").map(Direction::as_str), Some("exit"));
        assert_eq!(Direction::parse("ENTRY"), None);
    }
}
