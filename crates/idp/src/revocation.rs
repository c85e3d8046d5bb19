//! Revocation that reaches tokens already issued. A revoke writes, in the same
//! transaction as the decision, one Security Event Token (RFC 8417) per receiver
//! of the resource app into a durable outbox; a pusher delivers them by RFC 8935
//! push with retries and exponential backoff, and survives restarts because the
//! outbox is in the database. Each acknowledgement is a receipt with its latency.
//! Every node pushes; each claims what it sends (`claim_due_sets`), so a SET
//! goes out once unless the node sending it dies first.

use crate::state::{Idp, SharedIdp};
use admin_api::ReceiptStatus;
use serde_json::json;
use std::time::Duration;

use xaa::{EVENT_CONNECTION_REINSTATED, EVENT_CONNECTION_REVOKED, TYP_SET};
const MAX_ATTEMPTS: i64 = 20;

/// What a Security Event Token tells a receiver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetEvent {
    /// Refuse what was issued under the connection (or to the user) until now.
    Revoked,
    /// A kill's reinstatement turned it back on.
    Reinstated,
}

impl SetEvent {
    fn uri(self) -> &'static str {
        match self {
            SetEvent::Revoked => EVENT_CONNECTION_REVOKED,
            SetEvent::Reinstated => EVENT_CONNECTION_REINSTATED,
        }
    }
    fn time_claim(self) -> &'static str {
        match self {
            SetEvent::Revoked => "revoked_at",
            SetEvent::Reinstated => "reinstated_at",
        }
    }
}

/// What was revoked (or reinstated), as the resource app will see it.
pub struct Revocation<'a> {
    pub event: SetEvent,
    /// The kill switch that queued it, to follow its deliveries.
    pub kill_id: Option<&'a str>,
    pub connection_id: Option<&'a str>,
    /// The connection's version after this change: the app refuses ID-JAGs of
    /// this connection minted at this version or before (exact ordering).
    pub connection_version: Option<i64>,
    pub resource_app: &'a str,
    /// The IdP client id (mapped to the app's client id in the SET); `None` for a user-wide cut-off.
    pub client_id: Option<&'a str>,
    pub username: Option<&'a str>,
    pub reason: &'a str,
}

/// Queues a user-wide revocation (or reinstatement) event (no client: every
/// session of `username`) for every receiver of every resource app, inside the
/// caller's transaction. Returns how many were queued.
pub async fn enqueue_user_wide(
    idp: &Idp,
    tx: &mut idp_store::Conn,
    (event, kill_id): (SetEvent, Option<&str>),
    username: &str,
    reason: &str,
) -> Result<u64, sqlx::Error> {
    let mut queued = 0;
    let apps: Vec<_> = idp.catalog().live_apps().cloned().collect();
    for app in &apps {
        queued += enqueue(
            idp,
            tx,
            &Revocation {
                event,
                kill_id,
                connection_id: None,
                connection_version: None,
                resource_app: &app.id,
                client_id: None,
                username: Some(username),
                reason,
            },
        )
        .await?;
    }
    Ok(queued)
}

/// How many SETs `enqueue` queues for `resource_app`: one per receiver. A dry
/// run counts with this, so it reports what the real run will do.
pub fn receivers_of(idp: &Idp, resource_app: &str) -> u64 {
    idp.catalog()
        .resource_app(resource_app)
        .map_or(0, |a| a.receivers.len() as u64)
}

/// Queues SETs for every receiver of the app, inside the caller's transaction.
/// Returns how many were queued.
pub async fn enqueue(
    idp: &Idp,
    tx: &mut idp_store::Conn,
    r: &Revocation<'_>,
) -> Result<u64, sqlx::Error> {
    let Some(app) = idp.catalog().resource_app(r.resource_app) else {
        return Ok(0);
    };
    let now_ms = idp.now_ms();
    let mut n = 0;
    for receiver in &app.receivers {
        let event_id = format!("set_{}", uuid::Uuid::new_v4().simple());
        let mut event = json!({ "reason": r.reason });
        event[r.event.time_claim()] = json!(now_ms / 1000);
        let mut sub = serde_json::Map::new();
        if let Some(c) = r.client_id {
            sub.insert(
                "client".into(),
                json!({ "format": "opaque", "id": app.client_id_for(c) }),
            );
        }
        if let Some(u) = r.username {
            sub.insert("user".into(), json!({ "format": "opaque", "id": u }));
        }
        event["subject"] = json!({ "format": "complex", "fields": sub });
        if let Some(c) = r.connection_id {
            event["connection_id"] = json!(c);
        }
        if let Some(v) = r.connection_version {
            event["connection_version"] = json!(v);
        }
        let set = idp.key.sign(
            TYP_SET,
            &json!({
                "iss": idp.issuer(),
                "jti": event_id,
                "iat": now_ms / 1000,
                "aud": app.issuer,
                "events": { r.event.uri(): event },
            }),
        );
        idp_store::outbox::enqueue(
            tx,
            &idp_store::outbox::QueuedSet {
                event_id: &event_id,
                receiver,
                connection_id: r.connection_id,
                set_jwt: &set,
                now_ms,
                kill_id: r.kill_id,
            },
        )
        .await?;
        n += 1;
    }
    Ok(n)
}

/// How long a claimed delivery is this node's when several nodes push (on
/// PostgreSQL): well past the 5 s send timeout, and short enough that the others
/// take over a killed node's work within a minute. On SQLite this process is the
/// only pusher (each pass awaits its sends), so a claim needs no lease, and a
/// restart after a crash resends at once.
fn lease_ms(idp: &Idp) -> i64 {
    match idp.store.backend() {
        idp_store::Backend::Postgres => 30_000,
        idp_store::Backend::Sqlite => 0,
    }
}

/// Delivers what is due, forever: woken by `idp.outbox_wake` (a revoke on this
/// node, or a change announced by another) and every 250 ms. Started by `jobs`.
pub async fn pusher(idp: SharedIdp, http: reqwest::Client) {
    loop {
        if let Err(e) = push_due(&idp, &http).await {
            tracing::warn!(error = %e, "revocation outbox pass failed; will retry");
        }
        tokio::select! {
            _ = idp.outbox_wake.notified() => {}
            _ = tokio::time::sleep(Duration::from_millis(250)) => {}
        }
    }
}

pub async fn push_due(idp: &SharedIdp, http: &reqwest::Client) -> Result<(), sqlx::Error> {
    let rows = idp
        .store
        .claim_due_sets(idp.now_ms(), lease_ms(idp), 100)
        .await?;
    let sends = rows.iter().map(|r| {
        let receiver = r.receiver.clone();
        let set = r.set_jwt.clone();
        async move {
            let started = std::time::Instant::now();
            let res = http
                .post(&receiver)
                .header("content-type", "application/secevent+jwt")
                .header("accept", "application/json")
                .body(set)
                .send()
                .await;
            let outcome = match res {
                Ok(resp) if resp.status().as_u16() == 202 || resp.status().is_success() => Ok(()),
                Ok(resp) => {
                    let status = resp.status();
                    let body: serde_json::Value = resp.json().await.unwrap_or_default();
                    Err(format!(
                        "HTTP {status}: {}",
                        body["err"].as_str().unwrap_or("no error code")
                    ))
                }
                Err(e) => Err(e.without_url().to_string()),
            };
            (outcome, started.elapsed())
        }
    });
    let results = futures_util::future::join_all(sends).await;
    for (r, (outcome, took)) in rows.iter().zip(results) {
        idp.metrics
            .delivery
            .observe([&r.receiver], took.as_secs_f64());
        let attempts = r.attempts + 1;
        let now = idp.now_ms();
        let mut tx = idp.store.begin_write().await?;
        let recorded = match &outcome {
            Ok(()) => Ok(now),
            Err(err) => {
                let backoff = (200i64 << attempts.min(9)).min(60_000);
                let status = if attempts >= MAX_ATTEMPTS {
                    ReceiptStatus::Failed
                } else {
                    ReceiptStatus::Pending
                };
                tracing::info!(receiver = %r.receiver, attempts, error = %err, "revocation push failed");
                Err((status, now + backoff, err.as_str()))
            }
        };
        idp_store::outbox::record_attempt(&mut tx, &r.event_id, &r.receiver, attempts, recorded)
            .await?;
        let ev = idp_store::changes::record(
            &mut tx,
            admin_api::ChangeKind::ReceiptUpdated,
            r.connection_id.as_deref().unwrap_or(&r.event_id),
            now,
        )
        .await?;
        tx.commit().await?;
        crate::services::publish(idp, vec![ev]);
    }
    Ok(())
}
