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
//! per refusal.
//!
//! What this gives up (see docs/threat-model.md): a crash loses at most one
//! window of repeat *counts*; no decision and no token depends on them, since
//! the policy gate runs in full before a refusal is counted. Memory is bounded:
//! past [`MAX_KEYS`] keys, refusals are recorded in full again.

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
    keys: Mutex<HashMap<RefusalKey, Slot>>,
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
    fn keys(&self) -> std::sync::MutexGuard<'_, HashMap<RefusalKey, Slot>> {
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
        let mut keys = self.keys();
        match keys.get_mut(key) {
            Some(Slot::Counting(c)) => {
                let same = now_ms < c.opened_ms + WINDOW_MS
                    && scopes.iter().all(|s| c.scopes.contains(s))
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
                if slot.is_none() && keys.len() >= MAX_KEYS {
                    return Seen::Full;
                }
                let (tx, rx) = watch::channel(());
                keys.insert(key.clone(), Slot::Recording(rx));
                Seen::First(Claim { _recording: tx })
            }
        }
    }

    /// Starts counting repeats of a refusal just recorded in full under
    /// `claim`; wakes the refusals that waited for it.
    pub fn recorded(&self, key: RefusalKey, claim: Claim, r: Recorded<'_>, now_ms: i64) {
        let mut fresh = Counted {
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
        // Repeats whose write failed while this was recorded are carried over.
        if let Some(Slot::Counting(unwritten)) = keys.get(&key)
            && unwritten.repeats > 0
        {
            fresh.repeats = unwritten.repeats;
            fresh.first_ms = unwritten.first_ms;
            fresh.last_ms = unwritten.last_ms;
        }
        keys.insert(key, Slot::Counting(fresh));
        drop(keys);
        // Dropping the sender wakes the waiters; they find the key counting.
        drop(claim);
    }

    /// Removes the keys whose window closed by `now_ms` (all with `everything`)
    /// and returns those that repeated.
    fn due(&self, now_ms: i64, everything: bool) -> Vec<(RefusalKey, Counted)> {
        let mut keys = self.keys();
        let closed: Vec<RefusalKey> = keys
            .iter()
            .filter(|(_, slot)| match slot {
                Slot::Counting(c) => everything || c.opened_ms + WINDOW_MS <= now_ms,
                Slot::Recording(_) => false,
            })
            .map(|(k, _)| k.clone())
            .collect();
        closed
            .into_iter()
            .filter_map(|k| match keys.remove(&k) {
                Some(Slot::Counting(c)) if c.repeats > 0 => Some((k, c)),
                _ => None,
            })
            .collect()
    }

    /// How many keys are being counted (for tests and metrics).
    pub fn len(&self) -> usize {
        self.keys().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
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
            match keys.get_mut(&k) {
                Some(Slot::Counting(entry)) => {
                    entry.first_ms = entry.first_ms.min(c.first_ms);
                    entry.last_ms = entry.last_ms.max(c.last_ms);
                    entry.repeats += c.repeats;
                }
                // Being recorded again: the count waits in a slot of its own
                // window, written at the next flush.
                _ => {
                    keys.insert(k, Slot::Counting(c));
                }
            }
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
