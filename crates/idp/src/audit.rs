//! The audit log: append-only and hash-chained. Each event's hash is
//! `SHA-256(prev_hash ‖ canonical JSON of the event)`, so editing, deleting or
//! reordering a row breaks the chain at that row, which `verify` names.
//!
//! Appends go through one writer task that commits in groups: a caller awaits its
//! own event's commit (nothing is acknowledged before it is durable), while many
//! concurrent exchanges share one transaction. Events never hold a token.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::{Row, sqlite::SqlitePool};
use tokio::sync::{mpsc, oneshot};

/// What happened, in a few words a person can filter on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    pub kind: String,
    pub actor: Option<String>,
    pub client_id: Option<String>,
    pub subject: Option<String>,
    pub target: Option<String>,
    /// `success`, `refused` or `error`.
    pub outcome: String,
    pub reason: Option<String>,
    pub detail: Value,
}

impl AuditEvent {
    pub fn new(kind: &str, outcome: &str) -> Self {
        Self {
            kind: kind.into(),
            actor: None,
            client_id: None,
            subject: None,
            target: None,
            outcome: outcome.into(),
            reason: None,
            detail: Value::Object(Default::default()),
        }
    }
}

/// A stored event with its place in the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredEvent {
    pub seq: i64,
    pub id: String,
    pub at_ms: i64,
    #[serde(flatten)]
    pub event: AuditEvent,
    pub prev_hash: String,
    pub hash: String,
}

/// The hash of the chain's start.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The canonical form hashed for an event: a JSON object with its keys in sorted
/// order and no whitespace; `detail` is the exact JSON text stored in the row
/// (serde_json writes object keys sorted), so writer and verifier hash the same bytes.
fn canonical(seq: i64, id: &str, at_ms: i64, e: &AuditEvent, detail: &str) -> String {
    let j = |v: &Option<String>| serde_json::to_string(v).expect("string serializes");
    let s = |v: &str| serde_json::to_string(v).expect("string serializes");
    format!(
        r#"{{"actor":{},"at_ms":{at_ms},"client_id":{},"detail":{detail},"id":{},"kind":{},"outcome":{},"reason":{},"seq":{seq},"subject":{},"target":{}}}"#,
        j(&e.actor),
        j(&e.client_id),
        s(id),
        s(&e.kind),
        s(&e.outcome),
        j(&e.reason),
        j(&e.subject),
        j(&e.target),
    )
}

fn chain_hash(prev: &str, canonical: &str) -> String {
    let mut buf = Vec::with_capacity(prev.len() + canonical.len());
    buf.extend_from_slice(prev.as_bytes());
    buf.extend_from_slice(canonical.as_bytes());
    xaa::util::sha256_hex(&buf)
}

type Job = (AuditEvent, i64, oneshot::Sender<Result<i64, String>>);

/// A handle to the audit writer.
#[derive(Clone)]
pub struct AuditLog {
    tx: mpsc::Sender<Job>,
}

#[derive(Debug, thiserror::Error)]
#[error("the audit log could not record the event: {0}")]
pub struct AuditError(String);

impl AuditLog {
    /// Starts the writer task over `pool`.
    pub async fn start(pool: SqlitePool) -> Result<Self, sqlx::Error> {
        // Fail at start, not at the first event, if the table is unreadable.
        sqlx::query("SELECT COUNT(*) FROM audit_events")
            .fetch_one(&pool)
            .await?;
        let (tx, rx) = mpsc::channel(4096);
        tokio::spawn(writer(pool, rx));
        Ok(Self { tx })
    }

    /// Appends `event` and waits until it is committed; returns its sequence number.
    pub async fn record(&self, event: AuditEvent, at_ms: i64) -> Result<i64, AuditError> {
        let (done, wait) = oneshot::channel();
        self.tx
            .send((event, at_ms, done))
            .await
            .map_err(|_| AuditError("the writer has stopped".into()))?;
        wait.await
            .map_err(|_| AuditError("the writer has stopped".into()))?
            .map_err(AuditError)
    }
}

async fn writer(pool: SqlitePool, mut rx: mpsc::Receiver<Job>) {
    let mut batch: Vec<Job> = Vec::with_capacity(256);
    while rx.recv_many(&mut batch, 256).await > 0 {
        let result = write_batch(&pool, &batch).await;
        match result {
            Ok((last, _)) => {
                let first = last - batch.len() as i64 + 1;
                for (i, (_, _, done)) in batch.drain(..).enumerate() {
                    let _ = done.send(Ok(first + i as i64));
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "audit batch failed; nothing in it was acknowledged");
                for (_, _, done) in batch.drain(..) {
                    let _ = done.send(Err(e.to_string()));
                }
            }
        }
    }
}

/// Appends a batch in one transaction and one multi-row INSERT (one round trip to
/// the SQLite worker, not one per event).
/// Appends a batch in one IMMEDIATE transaction: the chain head is read under the
/// write lock, so appends from other transactions ([`append_in_tx`]) interleave safely.
async fn write_batch(pool: &SqlitePool, batch: &[Job]) -> Result<(i64, String), sqlx::Error> {
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    let events: Vec<(&AuditEvent, i64)> = batch.iter().map(|(e, at, _)| (e, *at)).collect();
    let head = append_rows(&mut tx, &events).await?;
    tx.commit().await?;
    Ok(head)
}

/// Appends events inside the caller's write transaction (which must have been
/// begun with `BEGIN IMMEDIATE`), so a decision and its audit event commit or roll
/// back together. Returns the new (seq, hash) head.
pub async fn append_in_tx(
    tx: &mut sqlx::SqliteConnection,
    events: &[(&AuditEvent, i64)],
) -> Result<(i64, String), sqlx::Error> {
    append_rows(tx, events).await
}

async fn append_rows(
    tx: &mut sqlx::SqliteConnection,
    events: &[(&AuditEvent, i64)],
) -> Result<(i64, String), sqlx::Error> {
    let head: Option<(i64, String)> =
        sqlx::query("SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1")
            .fetch_optional(&mut *tx)
            .await?
            .map(|r| (r.get("seq"), r.get("hash")));
    let (mut seq, mut prev) = head.unwrap_or((0, GENESIS.into()));
    let mut rows = Vec::with_capacity(events.len());
    for (e, at_ms) in events {
        seq += 1;
        let id = format!("evt_{}", uuid::Uuid::new_v4().simple());
        let detail = e.detail.to_string();
        let hash = chain_hash(&prev, &canonical(seq, &id, *at_ms, e, &detail));
        rows.push((
            seq,
            id,
            *at_ms,
            *e,
            detail,
            std::mem::replace(&mut prev, hash.clone()),
            hash,
        ));
    }
    // 13 parameters a row; SQLite allows 32766 per statement.
    for chunk in rows.chunks(2000) {
        let mut q = sqlx::QueryBuilder::<sqlx::Sqlite>::new(
            "INSERT INTO audit_events (seq, id, at_ms, kind, actor, client_id, subject, target, outcome, reason, detail, prev_hash, hash) ",
        );
        q.push_values(chunk, |mut b, (seq, id, at_ms, e, detail, prev, hash)| {
            b.push_bind(*seq)
                .push_bind(id.as_str())
                .push_bind(*at_ms)
                .push_bind(e.kind.as_str())
                .push_bind(e.actor.as_deref())
                .push_bind(e.client_id.as_deref())
                .push_bind(e.subject.as_deref())
                .push_bind(e.target.as_deref())
                .push_bind(e.outcome.as_str())
                .push_bind(e.reason.as_deref())
                .push_bind(detail.as_str())
                .push_bind(prev.as_str())
                .push_bind(hash.as_str());
        });
        q.build().execute(&mut *tx).await?;
    }
    Ok((seq, prev))
}

pub fn event_from_row(r: &sqlx::sqlite::SqliteRow) -> StoredEvent {
    let detail: String = r.get("detail");
    StoredEvent {
        seq: r.get("seq"),
        id: r.get("id"),
        at_ms: r.get("at_ms"),
        event: AuditEvent {
            kind: r.get("kind"),
            actor: r.get("actor"),
            client_id: r.get("client_id"),
            subject: r.get("subject"),
            target: r.get("target"),
            outcome: r.get("outcome"),
            reason: r.get("reason"),
            detail: serde_json::from_str(&detail).unwrap_or(Value::String(detail)),
        },
        prev_hash: r.get("prev_hash"),
        hash: r.get("hash"),
    }
}

/// Events in sequence order, optionally of one kind.
pub async fn list(
    pool: &SqlitePool,
    kind: Option<&str>,
    limit: i64,
) -> Result<Vec<StoredEvent>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT * FROM audit_events WHERE (? IS NULL OR kind = ?) ORDER BY seq LIMIT ?",
    )
    .bind(kind)
    .bind(kind)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    Ok(rows.iter().map(event_from_row).collect())
}

/// The result of walking the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainReport {
    pub events: i64,
    /// The first event whose stored hash or link does not match, if any.
    pub first_broken: Option<i64>,
    pub head: String,
}

impl ChainReport {
    pub fn ok(&self) -> bool {
        self.first_broken.is_none()
    }
}

/// Recomputes every hash from the stored fields and checks every link and that
/// sequence numbers have no gaps.
pub async fn verify(pool: &SqlitePool) -> Result<ChainReport, sqlx::Error> {
    use futures_util::TryStreamExt;
    let mut rows = sqlx::query("SELECT * FROM audit_events ORDER BY seq").fetch(pool);
    let mut prev = GENESIS.to_string();
    let mut expected_seq = 1;
    let mut events = 0;
    while let Some(row) = rows.try_next().await? {
        let e = event_from_row(&row);
        let detail: String = row.get("detail");
        events += 1;
        let recomputed = chain_hash(&prev, &canonical(e.seq, &e.id, e.at_ms, &e.event, &detail));
        if e.seq != expected_seq || e.prev_hash != prev || e.hash != recomputed {
            return Ok(ChainReport {
                events,
                first_broken: Some(e.seq),
                head: prev,
            });
        }
        prev = e.hash;
        expected_seq += 1;
    }
    Ok(ChainReport {
        events,
        first_broken: None,
        head: prev,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_canonical_form_is_sorted_compact_json_of_the_event() {
        let mut e = AuditEvent::new("id_jag.exchange", "success");
        e.actor = Some("carol \"the approver\"".into());
        e.detail = serde_json::json!({ "z": 1, "a": { "y": [1, 2], "b": null } });
        let detail = e.detail.to_string();
        let c = canonical(7, "evt_1", 42, &e, &detail);
        let expected = serde_json::json!({
            "actor": e.actor, "at_ms": 42, "client_id": null, "detail": e.detail, "id": "evt_1",
            "kind": "id_jag.exchange", "outcome": "success", "reason": null, "seq": 7,
            "subject": null, "target": null,
        });
        assert_eq!(c, expected.to_string());
        let reparsed: Value = serde_json::from_str(&c).unwrap();
        assert_eq!(reparsed, expected);
    }
}
