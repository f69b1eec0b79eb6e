//! Recently read waiting-room states, so a buyer's poll needs no database read while its place
//! is still behind the serving counter.
//!
//! Why: in a flash sale nearly every request is a poll, and nearly every poll is from someone
//! who is still waiting. The serving counter only moves forward, so a state read a moment ago
//! can only make a buyer wait a moment longer, never admit anyone early. This instance forgets
//! an event's state whenever it changes it itself (admission, settings); changes made by other
//! instances are seen within `TTL`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use uuid::Uuid;

use tessera_store::QueueStateRow;

/// How stale a state may be.
pub const TTL: Duration = Duration::from_millis(200);

/// Past this many events, expired states are dropped before adding another.
const TIDY_AT: usize = 1024;

#[derive(Debug, Default)]
pub struct QueueStateCache {
    states: Mutex<HashMap<Uuid, (Instant, QueueStateRow)>>,
}

impl QueueStateCache {
    /// The event's state if it was read within `TTL`.
    pub fn get(&self, event_id: Uuid) -> Option<QueueStateRow> {
        let states = self.states.lock().ok()?;
        states.get(&event_id).filter(|(at, _)| at.elapsed() < TTL).map(|(_, s)| s.clone())
    }

    pub fn put(&self, state: QueueStateRow) {
        if let Ok(mut states) = self.states.lock() {
            if states.len() >= TIDY_AT {
                states.retain(|_, (at, _)| at.elapsed() < TTL);
            }
            states.insert(state.event_id, (Instant::now(), state));
        }
    }

    pub fn forget(&self, event_id: Uuid) {
        if let Ok(mut states) = self.states.lock() {
            states.remove(&event_id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(event_id: Uuid, serving: i32) -> QueueStateRow {
        let now = time::OffsetDateTime::UNIX_EPOCH;
        QueueStateRow {
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
        }
    }

    #[test]
    fn keeps_fresh_states_and_forgets_on_request() {
        let c = QueueStateCache::default();
        let e = Uuid::now_v7();
        assert!(c.get(e).is_none());
        c.put(state(e, 5));
        assert_eq!(c.get(e).map(|s| s.serving_position), Some(5));
        c.forget(e);
        assert!(c.get(e).is_none());
    }

    #[test]
    fn stale_states_are_not_answered() {
        let c = QueueStateCache::default();
        let e = Uuid::now_v7();
        c.put(state(e, 5));
        std::thread::sleep(TTL + Duration::from_millis(20));
        assert!(c.get(e).is_none());
    }
}
