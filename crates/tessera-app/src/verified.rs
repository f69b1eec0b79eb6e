//! Tokens this instance has already verified, so the next request with the same token costs a
//! hash lookup instead of a signature check and two JSON parses.
//!
//! Why: in a flash sale every request carries an access token and most a queue token too, and a
//! buyer sends the same two tokens with each poll, hold and payment; verifying them was ~9 % of
//! the request threads' time. Only what verification concluded is kept, keyed by the token's
//! exact text, so a hit means the same bytes already passed; expiry is still checked against
//! the clock at every use, by the caller, from the kept expiry time.

use std::collections::HashMap;
use std::sync::Mutex;

/// Most tokens kept: when full the map starts afresh (a simple bound; a sale's buyers come back
/// within seconds, so recent tokens are soon verified and kept again).
const CAPACITY: usize = 50_000;

/// What verification of a token concluded, and when the token expires (Unix seconds).
#[derive(Debug)]
pub struct Verified<T> {
    tokens: Mutex<HashMap<Box<str>, (T, i64)>>,
}

impl<T> Default for Verified<T> {
    fn default() -> Self {
        Verified { tokens: Mutex::new(HashMap::new()) }
    }
}

impl<T: Clone> Verified<T> {
    /// What verifying `token` concluded, and its expiry, if it was verified before.
    pub fn get(&self, token: &str) -> Option<(T, i64)> {
        self.tokens.lock().ok()?.get(token).cloned()
    }

    pub fn put(&self, token: &str, value: T, expires: i64) {
        if let Ok(mut tokens) = self.tokens.lock() {
            if tokens.len() >= CAPACITY {
                tokens.clear();
            }
            tokens.insert(token.into(), (value, expires));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_what_was_verified_by_exact_text() {
        let v = Verified::<u32>::default();
        assert!(v.get("a.b.c").is_none());
        v.put("a.b.c", 7, 100);
        assert_eq!(v.get("a.b.c"), Some((7, 100)));
        assert!(v.get("a.b.C").is_none());
        assert!(v.get("a.b.c ").is_none());
    }

    #[test]
    fn stays_bounded() {
        let v = Verified::<usize>::default();
        for i in 0..CAPACITY + 10 {
            v.put(&i.to_string(), i, 0);
        }
        assert!(v.tokens.lock().unwrap().len() <= CAPACITY);
        assert_eq!(v.get(&(CAPACITY + 9).to_string()), Some((CAPACITY + 9, 0)));
    }
}
