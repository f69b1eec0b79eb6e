//! Tokens this instance has already verified, so the next request with the same token costs a
//! hash lookup instead of a signature check and two JSON parses.
//!
//! Why: in a flash sale every request carries an access token and most a queue token too, and a
//! buyer sends the same two tokens with each poll, hold and payment, so verifying them each time
//! would repeat the same work many times over. Only what verification concluded is kept, keyed by
//! a 128-bit keyed digest of the token's exact text, so a hit means the same bytes already passed;
//! expiry is still checked against the clock at every use, by the caller, from the kept expiry
//! time.
//!
//! The key is two SipHash-2-4 values of the text under two independent random 128-bit keys of
//! this process, not the text itself: a token is ~300 bytes and the whole crowd of a sale must
//! fit (a generation smaller than the crowd makes buyers push each other out, and their tokens
//! are verified again). Presenting other bytes with the same digest needs a 128-bit collision of
//! a keyed PRF whose keys nobody outside the process knows (and whose outputs are never shown).

use std::collections::HashMap;
use std::hash::Hasher;
#[allow(deprecated)] // SipHash-2-4 with explicit keys; std's hashers cannot be seeded otherwise.
use std::hash::SipHasher;
use std::sync::Mutex;

use rand::RngCore;

/// Tokens per generation. When the newer generation is full the older one is dropped and the
/// newer becomes the older; a token found in the older one is carried into the newer. So at most
/// twice this many are kept (~100 bytes each), and the tokens in use stay (an approximation of
/// least-recently-used at the cost of one map swap).
const GENERATION: usize = 200_000;

type Key = (u64, u64);

/// What verification of a token concluded, and when the token expires (Unix seconds).
#[derive(Debug)]
pub struct Verified<T> {
    /// Two independent SipHash keys (k0, k1 each).
    keys: [(u64, u64); 2],
    generations: Mutex<Generations<T>>,
}

#[derive(Debug)]
struct Generations<T> {
    newer: HashMap<Key, (T, i64)>,
    older: HashMap<Key, (T, i64)>,
}

impl<T> Default for Verified<T> {
    fn default() -> Self {
        Verified {
            keys: std::array::from_fn(|_| (rand::rng().next_u64(), rand::rng().next_u64())),
            generations: Mutex::new(Generations { newer: HashMap::new(), older: HashMap::new() }),
        }
    }
}

impl<T: Clone> Generations<T> {
    fn insert(&mut self, key: Key, entry: (T, i64)) {
        if self.newer.len() >= GENERATION {
            self.older = std::mem::take(&mut self.newer);
        }
        self.newer.insert(key, entry);
    }
}

impl<T: Clone> Verified<T> {
    #[allow(deprecated)]
    fn key(&self, token: &str) -> Key {
        let [a, b] = self.keys.map(|(k0, k1)| {
            let mut h = SipHasher::new_with_keys(k0, k1);
            h.write(token.as_bytes());
            h.finish()
        });
        (a, b)
    }

    /// What verifying `token` concluded, and its expiry, if it was verified before.
    pub fn get(&self, token: &str) -> Option<(T, i64)> {
        let key = self.key(token);
        let mut g = self.generations.lock().ok()?;
        if let Some(hit) = g.newer.get(&key) {
            return Some(hit.clone());
        }
        let hit = g.older.remove(&key)?;
        g.insert(key, hit.clone());
        Some(hit)
    }

    pub fn put(&self, token: &str, value: T, expires: i64) {
        let key = self.key(token);
        if let Ok(mut g) = self.generations.lock() {
            g.insert(key, (value, expires));
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
    fn stays_bounded_and_keeps_the_tokens_in_use() {
        let v = Verified::<usize>::default();
        v.put("in use", 1, 0);
        for i in 0..3 * GENERATION {
            v.put(&i.to_string(), i, 0);
            if i % 1000 == 0 {
                assert_eq!(v.get("in use"), Some((1, 0)), "after {i}");
            }
        }
        let g = v.generations.lock().unwrap();
        assert!(g.newer.len() <= GENERATION && g.older.len() <= GENERATION);
        drop(g);
        // Unused for two generations: gone.
        assert!(v.get("0").is_none());
        assert_eq!(v.get(&(3 * GENERATION - 1).to_string()), Some((3 * GENERATION - 1, 0)));
    }
}
