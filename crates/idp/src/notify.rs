//! Approvers reached where they are: notifications derived from the audit log
//! and delivered to the configured channels (signed JSON webhooks, or
//! Slack-compatible incoming webhooks) from a durable outbox.
//!
//! Deriving reads the audit events of the kinds that matter after a stored
//! cursor and, in one transaction, queues each subscribed channel's delivery
//! and moves the cursor: each event becomes each channel's notification once,
//! and a restart continues where the last pass stopped. Delivering claims due
//! rows with a lease (as the revocation outbox does), POSTs them, and records
//! the receipt; a failure is retried with exponential backoff, then given up.
//! A notification carries a summary and a `gatehouse://` link, built from
//! chosen fields of the audit event: never a token or a secret.

use crate::state::SharedIdp;
use admin_api::{ChannelKind, NotificationKind};
use aws_lc_rs::hmac;
use idp_store::{
    audit::StoredEvent,
    notifications::{self, Attempt, Channel, Queued},
};
use serde_json::{Value, json};
use std::time::Duration;

/// The audit kinds notifications come from.
const SOURCES: &[&str] = &[
    "connection_request.created",
    "connection_request.first_approval",
    "review.campaign_created",
    "client.succession",
    "connection.inactivity_warning",
    "connection.attestation_requested",
    "connection.suspend",
];
/// Audit events one pass reads at most (a long-stopped IdP catches up in steps).
const SPAN: i64 = 10_000;
/// Tries before a delivery is given up.
pub const MAX_ATTEMPTS: i64 = 12;
/// How long a claimed delivery is left to its sender.
const LEASE_MS: i64 = 30_000;

/// What one audit event tells the channels: (kind, one-line summary, link).
pub fn notification(e: &StoredEvent) -> Option<(NotificationKind, String, String)> {
    let ev = &e.event;
    let client = ev.client_id.as_deref().unwrap_or("an AI client");
    let target = ev.target.as_deref().unwrap_or_default();
    let d = &ev.detail;
    let s = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    Some(match ev.kind.as_str() {
        "connection_request.created" => (
            NotificationKind::RequestPending,
            format!(
                "{client} asks to reach {} for {}: an approver's decision is needed",
                s(&d["resource_app"]),
                ev.subject.as_deref().unwrap_or("its users")
            ),
            format!("gatehouse://requests/{target}"),
        ),
        "connection_request.first_approval" => (
            NotificationKind::RequestAwaitingSecondApproval,
            format!(
                "{} approved {client}'s request; a second approver must decide",
                ev.actor.as_deref().unwrap_or("an approver")
            ),
            format!("gatehouse://requests/{target}"),
        ),
        "review.campaign_created" => (
            NotificationKind::ReviewItemsDue,
            format!(
                "An access review started: {} items to decide",
                d["items"].as_u64().unwrap_or(0)
            ),
            format!("gatehouse://reviews/{target}"),
        ),
        "client.succession" if d["orphaned"] == true => (
            NotificationKind::ClientOrphaned,
            format!(
                "{client} has no active owner since {} left: it is orphaned",
                s(&d["left"])
            ),
            format!("gatehouse://clients/{target}"),
        ),
        "client.succession" if d["successor"].is_string() => (
            NotificationKind::ClientOwnerChanged,
            format!(
                "{} now owns {client}: {} left",
                s(&d["successor"]),
                s(&d["left"])
            ),
            format!("gatehouse://clients/{target}"),
        ),
        "connection.inactivity_warning" => (
            NotificationKind::PolicyWarning,
            format!(
                "{client}'s connection to {} issued no ID-JAG for a while; it will be suspended at {}",
                s(&d["resource_app"]),
                d["suspend_at"].as_i64().unwrap_or(0)
            ),
            format!("gatehouse://connections/{target}"),
        ),
        "connection.attestation_requested" => (
            NotificationKind::PolicyWarning,
            format!(
                "{client}'s approval to reach {} expires at {}: its owners ({}) are asked whether it is still needed",
                s(&d["resource_app"]),
                d["expires_at"].as_i64().unwrap_or(0),
                d["owners"]
                    .as_array()
                    .map(|o| o.iter().map(s).collect::<Vec<_>>().join(", "))
                    .unwrap_or_default()
            ),
            format!("gatehouse://connections/{target}"),
        ),
        "connection.suspend" if ev.actor.as_deref() == Some("system:orphan-grace") => (
            NotificationKind::PolicyWarning,
            format!(
                "{client} has had no owner past its grace period: a connection of it was suspended"
            ),
            format!("gatehouse://connections/{target}"),
        ),
        _ => return None,
    })
}

/// The body a channel of `kind` receives.
pub fn body(
    kind: ChannelKind,
    id: &str,
    e: &StoredEvent,
    (what, summary, link): &(NotificationKind, String, String),
) -> String {
    match kind {
        ChannelKind::Webhook => json!({
            "id": id,
            "type": what,
            "summary": summary,
            "link": link,
            "occurred_at_ms": e.at_ms,
            "audit_seq": e.seq,
            "client_id": e.event.client_id,
            "target": e.event.target,
        })
        .to_string(),
        ChannelKind::Slack => json!({
            "text": format!("{summary} — <{link}|open in Gatehouse>"),
        })
        .to_string(),
    }
}

/// `Gatehouse-Signature`'s value: `t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.
pub fn signature(secret: &str, at: i64, body: &str) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let tag = hmac::sign(&key, format!("{at}.{body}").as_bytes());
    format!("t={at},v1={}", xaa::util::hex(tag.as_ref()))
}

fn wants(c: &Channel, what: NotificationKind) -> bool {
    c.events.is_empty() || c.events.iter().any(|e| e == what.as_str())
}

/// One derive pass: queues what the audit events since the cursor tell the
/// channels, and moves the cursor, in one transaction. On the very first pass
/// the cursor starts at the log's head (history is not replayed).
pub async fn derive(idp: &SharedIdp) -> Result<usize, sqlx::Error> {
    // Nothing new since the cursor (most passes): no write transaction.
    {
        let mut c = idp.store.acquire().await?;
        let head = notifications::audit_head(&mut c).await?;
        if notifications::cursor(&mut c)
            .await?
            .is_some_and(|after| head <= after)
        {
            return Ok(0);
        }
    }
    // Not the writer lock: the audit events up to any head a statement reads
    // are all committed (appends take that lock through their commit), and
    // the cursor's row lock is what keeps two nodes from deriving one event.
    let mut tx = idp.store.begin_read_write().await?;
    let Some(after) = notifications::lock_cursor(&mut tx).await? else {
        let head = notifications::audit_head(&mut tx).await?;
        notifications::start_cursor(&mut tx, head).await?;
        tx.commit().await?;
        return Ok(0);
    };
    let head = notifications::audit_head(&mut tx).await?;
    if head <= after {
        return Ok(0);
    }
    let upto = head.min(after + SPAN);
    let channels = notifications::channels(&mut tx).await?;
    let mut queued = 0;
    if !channels.is_empty() {
        for e in notifications::events_between(&mut tx, after, upto, SOURCES).await? {
            let Some(n) = notification(&e) else { continue };
            for c in channels.iter().filter(|c| wants(c, n.0)) {
                let Some(kind) = ChannelKind::parse(&c.kind) else {
                    continue;
                };
                let id = format!("ntf_{}", uuid::Uuid::now_v7().simple());
                notifications::enqueue(
                    &mut tx,
                    &Queued {
                        id: &id,
                        channel_id: &c.id,
                        event: n.0.as_str(),
                        audit_seq: e.seq,
                        body: &body(kind, &id, &e, &n),
                        now_ms: idp.now_ms(),
                    },
                )
                .await?;
                queued += 1;
            }
        }
    }
    notifications::set_cursor(&mut tx, upto).await?;
    tx.commit().await?;
    Ok(queued)
}

/// One delivery pass: due deliveries POSTed, receipts recorded.
pub async fn deliver(idp: &SharedIdp, http: &reqwest::Client) -> Result<usize, sqlx::Error> {
    let due = idp
        .store
        .claim_due_notifications(idp.now_ms(), LEASE_MS, 50)
        .await?;
    if due.is_empty() {
        return Ok(0);
    }
    let channels = {
        let mut c = idp.store.acquire().await?;
        notifications::channels(&mut c).await?
    };
    // All at once: a receiver that hangs (up to the client's 5 s timeout)
    // holds up no other, and the pass ends well inside the claim's lease.
    let sends = due.iter().map(|d| {
        let channel = channels.iter().find(|c| c.id == d.channel_id);
        async move {
            match channel {
                Some(c) => send(http, c, d, idp.now()).await,
                None => Err((None, "the channel is gone".to_owned())),
            }
        }
    });
    let outcomes = futures_util::future::join_all(sends).await;
    // Rows this node claimed: no node-wide lock needed to record them.
    let mut tx = idp.store.begin_read_write().await?;
    for (d, outcome) in due.iter().zip(&outcomes) {
        let attempts = d.attempts + 1;
        let now = idp.now_ms();
        let attempt = match outcome {
            Ok(status) => Attempt::Delivered {
                at_ms: now,
                status: *status,
            },
            Err((status, error)) => Attempt::Failed {
                status: *status,
                error,
                next_ms: now + (1_000i64 << attempts.min(12)).min(3_600_000),
                give_up: attempts >= MAX_ATTEMPTS,
            },
        };
        notifications::record_attempt(&mut tx, &d.id, attempts, &attempt).await?;
    }
    tx.commit().await?;
    Ok(due.len())
}

async fn send(
    http: &reqwest::Client,
    c: &Channel,
    d: &notifications::Due,
    now: i64,
) -> Result<i64, (Option<i64>, String)> {
    let mut req = http
        .post(&c.url)
        .header("content-type", "application/json")
        .header("gatehouse-delivery", &d.id)
        .body(d.body.clone());
    if let Some(secret) = &c.secret {
        req = req.header("gatehouse-signature", signature(secret, now, &d.body));
    }
    match req.send().await {
        Ok(r) if r.status().is_success() => Ok(r.status().as_u16() as i64),
        Ok(r) => Err((
            Some(r.status().as_u16() as i64),
            format!("HTTP {}", r.status()),
        )),
        // Without the URL: a Slack URL is a secret.
        Err(e) => Err((None, e.without_url().to_string())),
    }
}

/// The notifier: derives and delivers about twice a second.
pub async fn notifier(idp: SharedIdp, http: reqwest::Client) {
    loop {
        if let Err(e) = derive(&idp).await {
            tracing::warn!(error = %e, "notifications not derived; will retry");
        }
        if let Err(e) = deliver(&idp, &http).await {
            tracing::warn!(error = %e, "notification deliveries failed; will retry");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_hmac_sha256_over_the_timestamp_and_body() {
        // Computed independently: python3 -c 'import hmac, hashlib;
        // print(hmac.new(b"k", b"1.{}", hashlib.sha256).hexdigest())'
        let sig = signature("k", 1, "{}");
        assert_eq!(
            sig,
            "t=1,v1=3dd49b2593d0f9a349e9e71c4bde3e2b862c2be4003fe9b4ba81332029310158"
        );
        assert_ne!(sig, signature("k", 2, "{}"), "the timestamp is signed");
        assert_ne!(sig, signature("k", 1, "{ }"), "the body is signed");
        assert_ne!(sig, signature("K", 1, "{}"), "the key matters");
    }

    fn stored(kind: &str, target: &str, detail: Value) -> StoredEvent {
        let mut e =
            idp_store::audit::AuditEvent::new(kind, idp_store::audit::AuditOutcome::Success);
        e.client_id = Some("code-agent".into());
        e.target = Some(target.into());
        e.subject = Some("alice".into());
        e.actor = Some("oscar".into());
        e.detail = detail;
        StoredEvent {
            seq: 7,
            id: "evt_1".into(),
            at_ms: 1,
            event: e,
            prev_hash: String::new(),
            hash: String::new(),
        }
    }

    #[test]
    fn each_source_event_becomes_its_notification_with_a_link_to_its_screen() {
        use NotificationKind as N;
        let cases = [
            (
                stored(
                    "connection_request.created",
                    "rq_1",
                    json!({"resource_app": "ledger"}),
                ),
                Some((N::RequestPending, "gatehouse://requests/rq_1")),
            ),
            (
                stored("connection_request.first_approval", "rq_1", json!({})),
                Some((
                    N::RequestAwaitingSecondApproval,
                    "gatehouse://requests/rq_1",
                )),
            ),
            (
                stored("review.campaign_created", "rev_1", json!({"items": 3})),
                Some((N::ReviewItemsDue, "gatehouse://reviews/rev_1")),
            ),
            (
                stored(
                    "client.succession",
                    "code-agent",
                    json!({"orphaned": true, "left": "alice", "successor": null}),
                ),
                Some((N::ClientOrphaned, "gatehouse://clients/code-agent")),
            ),
            (
                stored(
                    "client.succession",
                    "code-agent",
                    json!({"orphaned": false, "left": "alice", "successor": "bob"}),
                ),
                Some((N::ClientOwnerChanged, "gatehouse://clients/code-agent")),
            ),
            // A sponsor or successor left: nobody needs telling.
            (
                stored(
                    "client.succession",
                    "code-agent",
                    json!({"orphaned": false, "left": "carol", "successor": null}),
                ),
                None,
            ),
            (
                stored(
                    "connection.inactivity_warning",
                    "conn_1",
                    json!({"resource_app": "docs", "suspend_at": 9}),
                ),
                Some((N::PolicyWarning, "gatehouse://connections/conn_1")),
            ),
            (
                stored(
                    "connection.attestation_requested",
                    "conn_1",
                    json!({"resource_app": "docs", "expires_at": 9, "owners": ["alice"]}),
                ),
                Some((N::PolicyWarning, "gatehouse://connections/conn_1")),
            ),
            // A person's suspension is no policy's warning; the orphan grace period's is.
            (stored("connection.suspend", "conn_1", json!({})), None),
            (
                {
                    let mut e = stored("connection.suspend", "conn_1", json!({}));
                    e.event.actor = Some("system:orphan-grace".into());
                    e
                },
                Some((N::PolicyWarning, "gatehouse://connections/conn_1")),
            ),
            (stored("id_jag.exchange", "x", json!({})), None),
        ];
        for (e, want) in cases {
            let got = notification(&e).map(|(k, _, link)| (k, link));
            assert_eq!(
                got,
                want.map(|(k, l)| (k, l.to_owned())),
                "{}",
                e.event.kind
            );
        }
        // Every source kind is one the deriver reads.
        for k in [
            "connection_request.created",
            "connection_request.first_approval",
            "review.campaign_created",
            "client.succession",
            "connection.inactivity_warning",
            "connection.attestation_requested",
            "connection.suspend",
        ] {
            assert!(SOURCES.contains(&k), "{k}");
        }
    }

    #[test]
    fn a_slack_body_is_a_text_message_and_a_webhook_body_names_its_type_and_link() {
        let e = stored(
            "connection_request.created",
            "rq_1",
            json!({"resource_app": "ledger"}),
        );
        let n = notification(&e).unwrap();
        let slack: Value =
            serde_json::from_str(&body(ChannelKind::Slack, "ntf_1", &e, &n)).unwrap();
        assert!(
            slack["text"]
                .as_str()
                .unwrap()
                .contains("<gatehouse://requests/rq_1|")
        );
        let hook: Value =
            serde_json::from_str(&body(ChannelKind::Webhook, "ntf_1", &e, &n)).unwrap();
        assert_eq!(
            (
                hook["type"].as_str(),
                hook["link"].as_str(),
                hook["id"].as_str()
            ),
            (
                Some("request.pending"),
                Some("gatehouse://requests/rq_1"),
                Some("ntf_1")
            )
        );
    }
}
