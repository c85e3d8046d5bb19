//! Repeated refusals, counted instead of written one by one. A misconfigured
//! fleet can send the same refused exchange thousands of times a second; each
//! would otherwise upsert the pending request and append an audit event.
//!
//! The first refusal of a (client, app, user, reason) is recorded in full: the
//! pending request is upserted and the refusal's audit event committed before
//! it is answered. Its repeats in the next [`WINDOW_MS`] — the same reason,
//! nothing new for an approver (no scope, resource or user the request does
//! not already show) — are counted in memory and answered at once with the same
//! pending request. Once a window, [`flush`] writes each key's count in one
//! transaction: one audit event (`id_jag.exchange`, refused, `detail.repeats`,
//! `first_ms`, `last_ms`) and the request's and user's refused counters. Then
//! the key starts over, so a flood writes two rows a second per key, not one
//! per refusal. A decision on the request ends its windows at once (on this
//! node when it commits, on the others when the change feed brings it).
//!
//! What this gives up (see docs/threat-model.md): a crash loses at most one
//! window of repeat *counts*; no decision and no token depends on them, since
//! the policy gate runs in full before a refusal is counted. Memory is bounded:
//! past [`MAX_KEYS`] keys (counted, or waiting to be written while the
//! database is down), refusals are recorded in full again.

use crate::{audit::AuditEvent, state::SharedIdp};
use admin_api::AuditOutcome;
use std::{collections::HashMap, sync::Mutex, time::Duration};
use tokio::sync::watch;

/// How long a key's repeats are counted before they are written.
pub const WINDOW_MS: i64 = 1_000;
/// At most this many keys are counted at once.
pub const MAX_KEYS: usize = 10_000;

/// What makes two refusals the same.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RefusalKey {
    pub client_id: String,
    pub resource_app: String,
    pub username: String,
    pub why: &'static str,
}

/// What a key's first refusal recorded and how often it repeated since.
#[derive(Debug, Clone)]
struct Counted {
    request_id: String,
    /// The audience and the reason, as the first refusal's event has them,
    /// and the description its answer gave.
    target: String,
    reason: String,
    description: String,
    scopes: Vec<String>,
    resource: Option<String>,
    opened_ms: i64,
    repeats: i64,
    first_ms: i64,
    last_ms: i64,
}

/// A key's state.
enum Slot {
    /// Its first refusal is being recorded; the sender is the recorder's [`Claim`].
    Recording(watch::Receiver<()>),
    Counting(Counted),
}

/// The keys being counted.
#[derive(Default)]
pub struct RepeatedRefusals {
    keys: Mutex<Keys>,
}

#[derive(Default)]
struct Keys {
    slots: HashMap<RefusalKey, Slot>,
    /// Counts of windows that closed when their key was refused again (or
    /// whose write failed), to be written at the next flush; one per key.
    closed: HashMap<RefusalKey, Counted>,
}

impl Keys {
    /// Keeps a closed window's count for the next flush, merged with one kept already.
    fn close(&mut self, key: RefusalKey, c: Counted) {
        match self.closed.get_mut(&key) {
            Some(kept) => {
                kept.first_ms = kept.first_ms.min(c.first_ms);
                kept.last_ms = kept.last_ms.max(c.last_ms);
                kept.repeats += c.repeats;
            }
            None => {
                self.closed.insert(key, c);
            }
        }
    }
}

/// What a refusal is, for the counter.
pub enum Seen {
    /// A repeat, counted: the pending request's id and the description the
    /// first refusal's answer gave.
    Repeat(String, String),
    /// The first: record it in full, then hand the claim to [`RepeatedRefusals::recorded`].
    First(Claim),
    /// Another refusal of the key is being recorded: wait for it, then look again.
    Wait(watch::Receiver<()>),
    /// Record it in full without counting (it asks for something new, or too
    /// many keys are counted).
    Full,
}

/// The right to record a key's first refusal; dropping it unrecorded (the
/// recording failed) lets a waiting refusal take over.
pub struct Claim {
    _recording: watch::Sender<()>,
}

/// A refusal a caller recorded in full, to count its repeats against.
pub struct Recorded<'a> {
    pub request_id: &'a str,
    pub target: &'a str,
    /// The audit event's reason and the answer's `error_description`.
    pub reason: &'a str,
    pub description: &'a str,
    pub scopes: &'a [String],
    pub resource: Option<&'a str>,
}

impl RepeatedRefusals {
    fn keys(&self) -> std::sync::MutexGuard<'_, Keys> {
        self.keys
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Counts this refusal as a repeat if `key` was recorded in the current
    /// window and it asks for nothing more; else says how to record it.
    pub fn see(
        &self,
        key: &RefusalKey,
        scopes: &[String],
        resource: Option<&str>,
        now_ms: i64,
    ) -> Seen {
        let keys = &mut *self.keys();
        // A window that closed before the flusher came: its count waits for the
        // flush, and this refusal opens the next window.
        if let Some(Slot::Counting(c)) = keys.slots.get(key)
            && now_ms >= c.opened_ms + WINDOW_MS
            && let Some(Slot::Counting(c)) = keys.slots.remove(key)
            && c.repeats > 0
        {
            keys.close(key.clone(), c);
        }
        let counted = keys.slots.len().max(keys.closed.len());
        match keys.slots.get_mut(key) {
            Some(Slot::Counting(c)) => {
                let same = scopes.iter().all(|s| c.scopes.contains(s))
                    && resource == c.resource.as_deref();
                if !same {
                    return Seen::Full;
                }
                if c.repeats == 0 {
                    c.first_ms = now_ms;
                }
                c.repeats += 1;
                c.last_ms = now_ms;
                Seen::Repeat(c.request_id.clone(), c.description.clone())
            }
            // Its recorder is still at work.
            Some(Slot::Recording(rx)) if rx.has_changed().is_ok() => Seen::Wait(rx.clone()),
            // Its recorder gave up (or this is a new key): this one records.
            slot => {
                if slot.is_none() && counted >= MAX_KEYS {
                    return Seen::Full;
                }
                let (tx, rx) = watch::channel(());
                keys.slots.insert(key.clone(), Slot::Recording(rx));
                Seen::First(Claim { _recording: tx })
            }
        }
    }

    /// Starts counting repeats of a refusal just recorded in full under
    /// `claim`; wakes the refusals that waited for it.
    pub fn recorded(&self, key: RefusalKey, claim: Claim, r: Recorded<'_>, now_ms: i64) {
        let fresh = Counted {
            request_id: r.request_id.to_owned(),
            target: r.target.to_owned(),
            reason: r.reason.to_owned(),
            description: r.description.to_owned(),
            scopes: r.scopes.to_vec(),
            resource: r.resource.map(str::to_owned),
            opened_ms: now_ms,
            repeats: 0,
            first_ms: now_ms,
            last_ms: now_ms,
        };
        let mut keys = self.keys();
        keys.slots.insert(key, Slot::Counting(fresh));
        drop(keys);
        // Dropping the sender wakes the waiters; they find the key counting.
        drop(claim);
    }

    /// Ends the windows counting against request `id` (it was decided: the next
    /// refusal must reach the store, which opens a new request); their counts
    /// are written at the next flush.
    pub fn forget_request(&self, id: &str) {
        let keys = &mut *self.keys();
        let ended: Vec<RefusalKey> = keys
            .slots
            .iter()
            .filter(|(_, slot)| matches!(slot, Slot::Counting(c) if c.request_id == id))
            .map(|(k, _)| k.clone())
            .collect();
        for k in ended {
            if let Some(Slot::Counting(c)) = keys.slots.remove(&k)
                && c.repeats > 0
            {
                keys.close(k, c);
            }
        }
    }

    /// Removes the keys whose window closed by `now_ms` (all with `everything`)
    /// and returns those that repeated.
    fn due(&self, now_ms: i64, everything: bool) -> Vec<(RefusalKey, Counted)> {
        let keys = &mut *self.keys();
        let mut due: Vec<(RefusalKey, Counted)> = keys.closed.drain().collect();
        let closed: Vec<RefusalKey> = keys
            .slots
            .iter()
            .filter(|(_, slot)| match slot {
                Slot::Counting(c) => everything || c.opened_ms + WINDOW_MS <= now_ms,
                Slot::Recording(_) => false,
            })
            .map(|(k, _)| k.clone())
            .collect();
        due.extend(
            closed
                .into_iter()
                .filter_map(|k| match keys.slots.remove(&k) {
                    Some(Slot::Counting(c)) if c.repeats > 0 => Some((k, c)),
                    _ => None,
                }),
        );
        due
    }
}

/// Writes the counts of every closed window (all of them with `everything`, at
/// shutdown): one transaction with an audit event and the counters per key.
/// On failure the counts go back to be written at the next flush.
pub async fn flush(idp: &SharedIdp, everything: bool) -> Result<usize, sqlx::Error> {
    let now_ms = idp.now_ms();
    let due = idp.refusals.due(now_ms, everything);
    if due.is_empty() {
        return Ok(0);
    }
    let n = due.len();
    let written = write(idp, &due, now_ms).await;
    if written.is_err() {
        let mut keys = idp.refusals.keys();
        for (k, c) in due {
            keys.close(k, c);
        }
    }
    written.map(|()| n)
}

async fn write(
    idp: &SharedIdp,
    due: &[(RefusalKey, Counted)],
    now_ms: i64,
) -> Result<(), sqlx::Error> {
    let events: Vec<AuditEvent> = due
        .iter()
        .map(|(k, c)| {
            let mut e = AuditEvent::new("id_jag.exchange", AuditOutcome::Refused);
            e.client_id = Some(k.client_id.clone());
            e.subject = Some(k.username.clone());
            e.target = Some(c.target.clone());
            e.reason = Some(c.reason.clone());
            e.detail = serde_json::json!({
                "connection_request_id": c.request_id,
                "repeats": c.repeats,
                "first_ms": c.first_ms,
                "last_ms": c.last_ms,
            });
            e
        })
        .collect();
    let mut tx = idp.store.begin_write().await?;
    for (k, c) in due {
        idp_store::requests::add_repeated_refusals(
            &mut tx,
            &c.request_id,
            &k.username,
            c.repeats,
            c.last_ms / 1000,
        )
        .await?;
    }
    let refs: Vec<(&AuditEvent, i64)> = events.iter().map(|e| (e, now_ms)).collect();
    crate::audit::append(&mut tx, &refs).await?;
    tx.commit().await
}

/// Flushes closed windows once per window, for the life of the node.
pub async fn flusher(idp: SharedIdp) {
    loop {
        tokio::time::sleep(Duration::from_millis(WINDOW_MS as u64)).await;
        if let Err(e) = flush(&idp, false).await {
            tracing::warn!(error = %e, "repeated refusals could not be written; retrying at the next window");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(user: &str) -> RefusalKey {
        RefusalKey {
            client_id: "agent".into(),
            resource_app: "ledger".into(),
            username: user.into(),
            why: "no approved connection",
        }
    }

    fn record(r: &RepeatedRefusals, k: &RefusalKey, claim: Claim, scopes: &[String], now: i64) {
        r.recorded(
            k.clone(),
            claim,
            Recorded {
                request_id: "req_1",
                target: "https://ledger",
                reason: "access_denied: no approved connection",
                description: "no approved connection",
                scopes,
                resource: None,
            },
            now,
        );
    }

    fn first(seen: Seen) -> Claim {
        match seen {
            Seen::First(c) => c,
            _ => panic!("expected the first refusal"),
        }
    }

    #[test]
    fn repeats_are_counted_within_the_window_and_written_after_it() {
        let r = RepeatedRefusals::default();
        let k = key("alice");
        let read = vec!["ledger.read".to_owned()];
        let claim = first(r.see(&k, &read, None, 1_000));
        // While the first is recorded, the next waits for it.
        let Seen::Wait(waiting) = r.see(&k, &read, None, 1_001) else {
            panic!("expected to wait")
        };
        record(&r, &k, claim, &read, 1_002);
        assert!(
            waiting.has_changed().is_err(),
            "the recorder's end wakes it"
        );
        for t in 0..5 {
            assert!(
                matches!(r.see(&k, &read, None, 1_010 + t), Seen::Repeat(ref id, _) if id == "req_1")
            );
        }
        // Nothing asked for that the request does not show: a new scope, a
        // resource, another user are recorded in full.
        let more = vec!["ledger.read".to_owned(), "payments.create".to_owned()];
        assert!(matches!(r.see(&k, &more, None, 1_020), Seen::Full));
        assert!(matches!(
            r.see(&k, &read, Some("https://mcp"), 1_020),
            Seen::Full
        ));
        assert!(matches!(
            r.see(&key("bob"), &read, None, 1_020),
            Seen::First(_)
        ));
        // Not due before the window closes; then written once, with its count.
        assert!(r.due(1_500, false).is_empty());
        let due = r.due(2_002, false);
        assert_eq!(due.len(), 1);
        assert_eq!(
            (due[0].1.repeats, due[0].1.first_ms, due[0].1.last_ms),
            (5, 1_010, 1_014)
        );
        assert!(r.due(9_000, true).is_empty(), "written once");
    }

    #[test]
    fn a_refusal_after_the_window_opens_the_next_and_keeps_the_last_count_for_the_flush() {
        let r = RepeatedRefusals::default();
        let k = key("alice");
        let claim = first(r.see(&k, &[], None, 0));
        record(&r, &k, claim, &[], 0);
        assert!(matches!(r.see(&k, &[], None, 10), Seen::Repeat(..)));
        assert!(matches!(r.see(&k, &[], None, 20), Seen::Repeat(..)));
        // The flusher has not come yet: this refusal is recorded in full again.
        let claim = first(r.see(&k, &[], None, WINDOW_MS + 5));
        record(&r, &k, claim, &[], WINDOW_MS + 6);
        assert!(matches!(
            r.see(&k, &[], None, WINDOW_MS + 7),
            Seen::Repeat(..)
        ));
        let mut counts: Vec<i64> = r
            .due(10 * WINDOW_MS, false)
            .iter()
            .map(|(_, c)| c.repeats)
            .collect();
        counts.sort();
        assert_eq!(counts, vec![1, 2]);
    }

    #[test]
    fn a_decision_on_the_request_ends_its_windows_and_keeps_their_counts() {
        let r = RepeatedRefusals::default();
        let k = key("alice");
        let claim = first(r.see(&k, &[], None, 0));
        record(&r, &k, claim, &[], 0);
        assert!(matches!(r.see(&k, &[], None, 1), Seen::Repeat(..)));
        r.forget_request("req_other");
        assert!(matches!(r.see(&k, &[], None, 2), Seen::Repeat(..)));
        r.forget_request("req_1");
        assert!(
            matches!(r.see(&k, &[], None, 3), Seen::First(_)),
            "the store is asked again"
        );
        let due = r.due(3, false);
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].1.repeats, 2);
    }

    #[test]
    fn a_recorder_that_gives_up_lets_the_next_refusal_record() {
        let r = RepeatedRefusals::default();
        let k = key("alice");
        drop(first(r.see(&k, &[], None, 0)));
        assert!(matches!(r.see(&k, &[], None, 1), Seen::First(_)));
    }

    #[test]
    fn past_the_key_bound_refusals_are_recorded_in_full() {
        let r = RepeatedRefusals::default();
        let mut claims = Vec::new();
        for n in 0..MAX_KEYS {
            claims.push(first(r.see(&key(&format!("u{n}")), &[], None, 0)));
        }
        assert!(matches!(r.see(&key("one-more"), &[], None, 0), Seen::Full));
    }
}
