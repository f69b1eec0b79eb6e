//! Recently read rows, so the hot requests of a sale or a door need no database read for what
//! was read a moment ago: waiting-room states (a poll from a buyer still behind the serving
//! counter), events (the on-sale checks before a hold, the event a scanned code names), and at
//! the door an event's public keys and who its staff are.
//!
//! Why: in a flash sale nearly every request is a poll or a hold, and on SQLite every read after
//! a write starts from an empty page cache (another connection changed the database), so each
//! one costs a few `pread`s. A stale waiting-room state can only make a buyer wait a moment
//! longer (the serving counter only moves forward), and a stale event answers as if the request
//! had come that moment earlier; a key retired or a staff member removed a moment ago lets a
//! scan through as it would have a moment earlier. This instance forgets a row whenever it
//! changes it itself (admission, settings, event edits, keys, staff); changes made by other
//! instances are seen within `TTL`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tessera_domain::id::EventId;

/// How stale a row may be.
pub const TTL: Duration = Duration::from_millis(200);

/// Past this many rows, expired ones are dropped before adding another.
const TIDY_AT: usize = 1024;

/// Rows by id (an event's, unless said otherwise), each kept for `TTL`.
#[derive(Debug)]
pub struct Recent<V, K = EventId> {
    rows: Mutex<HashMap<K, (Instant, V)>>,
}

impl<V, K> Default for Recent<V, K> {
    fn default() -> Self {
        Recent { rows: Mutex::new(HashMap::new()) }
    }
}

impl<V: Clone, K: std::hash::Hash + Eq> Recent<V, K> {
    /// The row if it was read within `TTL`.
    pub fn get(&self, id: K) -> Option<V> {
        let rows = self.rows.lock().ok()?;
        rows.get(&id).filter(|(at, _)| at.elapsed() < TTL).map(|(_, v)| v.clone())
    }

    pub fn put(&self, id: K, row: V) {
        if let Ok(mut rows) = self.rows.lock() {
            if rows.len() >= TIDY_AT {
                rows.retain(|_, (at, _)| at.elapsed() < TTL);
            }
            rows.insert(id, (Instant::now(), row));
        }
    }

    pub fn forget(&self, id: K) {
        if let Ok(mut rows) = self.rows.lock() {
            rows.remove(&id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_domain::records::QueueState;

    fn state(event_id: EventId, serving: i32) -> QueueState {
        let now = time::OffsetDateTime::UNIX_EPOCH;
        QueueState {
            event_id,
            enabled: true,
            rate_per_min: 60,
            max_active: 10,
            window_secs: 300,
            next_position: 100,
            serving_position: serving,
            last_advanced_at: now,
            admitted_per_min: 0,
            updated_at: now,
            opens_at: None,
            places_left: None,
            places_counted_at: None,
            rate_clock_ms: None,
            ticked_ms: None,
        }
    }

    #[test]
    fn keeps_fresh_states_and_forgets_on_request() {
        let c = Recent::<QueueState>::default();
        let e = EventId::new();
        assert!(c.get(e).is_none());
        c.put(e, state(e, 5));
        assert_eq!(c.get(e).map(|s| s.serving_position), Some(5));
        c.forget(e);
        assert!(c.get(e).is_none());
    }

    #[test]
    fn stale_states_are_not_answered() {
        let c = Recent::<QueueState>::default();
        let e = EventId::new();
        c.put(e, state(e, 5));
        std::thread::sleep(TTL + Duration::from_millis(20));
        assert!(c.get(e).is_none());
    }
}
