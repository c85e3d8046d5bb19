//! Tokens whose signature already verified, by SHA-256 of the token, with what
//! they said: an agent exchanges one ID token for many ID-JAGs, and the
//! signature check is the costliest step of the gate. Only the signature is
//! remembered; the claims are still checked on every use. Bounded: past the
//! limit expired entries go, and if that is not enough, all of them.

use std::{collections::HashMap, sync::Mutex};

const MAX_ENTRIES: usize = 10_000;

pub struct VerifiedTokens<T> {
    entries: Mutex<HashMap<[u8; 32], (T, i64)>>,
}

impl<T> Default for VerifiedTokens<T> {
    fn default() -> Self {
        Self {
            entries: Mutex::default(),
        }
    }
}

impl<T: Clone> VerifiedTokens<T> {
    pub fn key(token: &str) -> [u8; 32] {
        xaa::util::sha256(token.as_bytes())
    }

    pub fn get(&self, key: &[u8; 32]) -> Option<T> {
        self.lock().get(key).map(|(v, _)| v.clone())
    }

    /// Remembers `value` for a token that expires at `exp`.
    pub fn insert(&self, key: [u8; 32], value: T, exp: i64, now: i64) {
        let mut m = self.lock();
        if m.len() >= MAX_ENTRIES {
            m.retain(|_, (_, e)| *e > now);
            if m.len() >= MAX_ENTRIES {
                m.clear();
            }
        }
        m.insert(key, (value, exp));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], (T, i64)>> {
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cache_stays_bounded_and_keeps_live_entries_first() {
        let c = VerifiedTokens::<u32>::default();
        for i in 0..MAX_ENTRIES {
            c.insert(VerifiedTokens::<u32>::key(&i.to_string()), 1, 10, 0);
        }
        // Full: the expired ones (exp 10 <= now 20) go, the new one stays.
        c.insert(VerifiedTokens::<u32>::key("new"), 2, 100, 20);
        assert_eq!(c.lock().len(), 1);
        assert_eq!(c.get(&VerifiedTokens::<u32>::key("new")), Some(2));
    }
}
