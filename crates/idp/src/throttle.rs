//! Sign-in throttling: exponential back-off after failed sign-ins, counted per
//! (account, source), per source and per account. The pair is the tight bound
//! (a guesser at one account from one place); the source bound stops one place
//! guessing across accounts; the account bound slows a guesser spread over many
//! places, with a short cap so that nobody can use it to lock a real person out
//! for long — a person signing in from their own address is held up at most
//! `ACCOUNT_CAP` and only after `ACCOUNT_FREE` failures from everywhere. A
//! throttled attempt is answered `429` before any password is hashed.

use std::{collections::HashMap, net::IpAddr, sync::Mutex};

/// (free failures before back-off starts, cap on the back-off in seconds)
const PAIR_FREE: u32 = 3;
const PAIR_CAP: i64 = 300;
const SOURCE_FREE: u32 = 20;
const SOURCE_CAP: i64 = 300;
const ACCOUNT_FREE: u32 = 10;
const ACCOUNT_CAP: i64 = 30;
/// A key with no failure for this long is forgotten.
const FORGET_MS: i64 = 15 * 60 * 1000;
const MAX_KEYS: usize = 100_000;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Pair(String, IpAddr),
    Source(IpAddr),
    Account(String),
}

impl Key {
    fn bounds(&self) -> (u32, i64) {
        match self {
            Key::Pair(..) => (PAIR_FREE, PAIR_CAP),
            Key::Source(_) => (SOURCE_FREE, SOURCE_CAP),
            Key::Account(_) => (ACCOUNT_FREE, ACCOUNT_CAP),
        }
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct Entry {
    failures: u32,
    last_ms: i64,
    until_ms: i64,
}

/// Why an attempt is held back, and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttled {
    pub retry_after: u64,
    pub by: ThrottleScope,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThrottleScope {
    AccountFromSource,
    Source,
    Account,
}

impl ThrottleScope {
    pub fn as_str(self) -> &'static str {
        match self {
            ThrottleScope::AccountFromSource => "account_from_source",
            ThrottleScope::Source => "source",
            ThrottleScope::Account => "account",
        }
    }
}

#[derive(Default)]
pub struct LoginThrottle {
    keys: Mutex<HashMap<Key, Entry>>,
}

fn keys(account: &str, source: IpAddr) -> [Key; 3] {
    let account = account.to_lowercase();
    [
        Key::Pair(account.clone(), source),
        Key::Source(source),
        Key::Account(account),
    ]
}

impl LoginThrottle {
    /// `Err` when an attempt for `account` from `source` must wait.
    pub fn check(&self, account: &str, source: IpAddr, now_ms: i64) -> Result<(), Throttled> {
        let map = self
            .keys
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut worst: Option<Throttled> = None;
        for k in keys(account, source) {
            if let Some(e) = map.get(&k)
                && e.until_ms > now_ms
            {
                let t = Throttled {
                    retry_after: ((e.until_ms - now_ms + 999) / 1000) as u64,
                    by: match k {
                        Key::Pair(..) => ThrottleScope::AccountFromSource,
                        Key::Source(_) => ThrottleScope::Source,
                        Key::Account(_) => ThrottleScope::Account,
                    },
                };
                if worst.is_none_or(|w| t.retry_after > w.retry_after) {
                    worst = Some(t);
                }
            }
        }
        worst.map_or(Ok(()), Err)
    }

    /// Records a failed attempt; the next back-off doubles from 1 s to the cap.
    pub fn failure(&self, account: &str, source: IpAddr, now_ms: i64) {
        let mut map = self
            .keys
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if map.len() >= MAX_KEYS {
            map.retain(|_, e| e.until_ms > now_ms || now_ms - e.last_ms < FORGET_MS);
            if map.len() >= MAX_KEYS {
                map.retain(|_, e| e.until_ms > now_ms);
            }
        }
        for k in keys(account, source) {
            let (free, cap) = k.bounds();
            let e = map.entry(k).or_default();
            if now_ms - e.last_ms >= FORGET_MS {
                *e = Entry::default();
            }
            e.failures += 1;
            e.last_ms = now_ms;
            if e.failures > free {
                let exp = (e.failures - free - 1).min(20);
                let wait_s = (1i64 << exp).min(cap);
                e.until_ms = now_ms + wait_s * 1000;
            }
        }
    }

    /// A successful sign-in clears the pair (not the source or account counts,
    /// which a guesser who knows one password must not be able to reset).
    pub fn success(&self, account: &str, source: IpAddr) {
        let [pair, ..] = keys(account, source);
        self.keys
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&pair);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ME: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1));
    const THEM: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 9));

    #[test]
    fn back_off_starts_after_the_free_failures_and_doubles_to_the_cap() {
        let t = LoginThrottle::default();
        let mut now = 1_000_000;
        for _ in 0..PAIR_FREE {
            assert!(t.check("alice", THEM, now).is_ok());
            t.failure("alice", THEM, now);
        }
        assert!(
            t.check("alice", THEM, now).is_ok(),
            "free failures are free"
        );
        t.failure("alice", THEM, now);
        assert_eq!(t.check("alice", THEM, now).unwrap_err().retry_after, 1);
        now += 1000;
        t.failure("alice", THEM, now);
        assert_eq!(t.check("alice", THEM, now).unwrap_err().retry_after, 2);
        for _ in 0..30 {
            now += 1000;
            t.failure("alice", THEM, now);
        }
        let w = t.check("alice", THEM, now).unwrap_err();
        assert_eq!(w.retry_after, PAIR_CAP as u64);
    }

    #[test]
    fn an_attacker_elsewhere_holds_the_real_person_up_only_briefly() {
        let t = LoginThrottle::default();
        let now = 5_000_000;
        for _ in 0..200 {
            t.failure("alice", THEM, now);
        }
        assert!(t.check("alice", THEM, now).is_err());
        let mine = t.check("alice", ME, now).unwrap_err();
        assert_eq!(mine.by, ThrottleScope::Account);
        assert!(mine.retry_after <= ACCOUNT_CAP as u64);
        assert!(t.check("alice", ME, now + ACCOUNT_CAP * 1000).is_ok());
        assert!(
            t.check("bob", ME, now).is_ok(),
            "other accounts are untouched"
        );
    }

    #[test]
    fn one_source_guessing_across_accounts_is_slowed() {
        let t = LoginThrottle::default();
        let now = 9_000_000;
        for n in 0..=SOURCE_FREE {
            t.failure(&format!("user{n}"), THEM, now);
        }
        assert_eq!(
            t.check("somebody-new", THEM, now).unwrap_err().by,
            ThrottleScope::Source
        );
        assert!(t.check("somebody-new", ME, now).is_ok());
    }

    #[test]
    fn success_clears_the_pair_and_old_failures_are_forgotten() {
        let t = LoginThrottle::default();
        let now = 1_000_000;
        for _ in 0..=PAIR_FREE {
            t.failure("Alice", ME, now);
        }
        assert!(t.check("alice", ME, now).is_err(), "case-insensitive");
        t.success("alice", ME);
        assert!(t.check("alice", ME, now).is_ok());
        t.failure("carol", ME, now);
        t.failure("carol", ME, now + FORGET_MS + 1);
        let map = t.keys.lock().unwrap();
        assert_eq!(map[&Key::Pair("carol".into(), ME)].failures, 1);
    }
}
