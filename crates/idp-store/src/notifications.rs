//! The tables of notifications: channels (where approvers are reached), the
//! audit log position notifications were derived up to, and the durable
//! outbox of deliveries with their receipts; and the audit streams' cursors
//! (how far each SIEM was sent). Deriving and enqueueing commit
//! with the cursor's move in one transaction, so each audit event becomes each
//! channel's notification once, and a restart continues where it stopped.

use crate::{Backend, Conn, Db, DbResult, audit::StoredEvent, json, sql, sql::sql_owned};
use sqlx::Row;

/// A notification channel as stored (`secret` only ever read to sign with).
#[derive(Clone, PartialEq, Eq)]
pub struct Channel {
    pub id: String,
    pub name: String,
    /// `webhook` (signed JSON) or `slack` (an incoming-webhook message).
    pub kind: String,
    pub url: String,
    pub secret: Option<String>,
    /// Notification kinds it receives (empty: all).
    pub events: Vec<String>,
    pub created_by: String,
    pub created_at: i64,
}

impl std::fmt::Debug for Channel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Channel")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .finish_non_exhaustive()
    }
}

fn channel(r: &sqlx::any::AnyRow) -> DbResult<Channel> {
    Ok(Channel {
        id: r.get("id"),
        name: r.get("name"),
        kind: r.get("kind"),
        url: r.get("url"),
        secret: r.get("secret"),
        events: crate::from_json(&r.get::<String, _>("events"))?,
        created_by: r.get("created_by"),
        created_at: r.get("created_at"),
    })
}

pub async fn insert_channel(tx: &mut Conn, c: &Channel) -> DbResult<()> {
    sqlx::query(sql(
        Backend::of(tx),
        "INSERT INTO notification_channels (id, name, kind, url, secret, events, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    ))
    .bind(&c.id)
    .bind(&c.name)
    .bind(&c.kind)
    .bind(&c.url)
    .bind(&c.secret)
    .bind(json(&c.events))
    .bind(&c.created_by)
    .bind(c.created_at)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// The channels not deleted, oldest first.
pub async fn channels(c: &mut Conn) -> DbResult<Vec<Channel>> {
    sqlx::query(
        "SELECT * FROM notification_channels WHERE deleted_at IS NULL ORDER BY created_at, id",
    )
    .fetch_all(&mut *c)
    .await?
    .iter()
    .map(channel)
    .collect()
}

/// Deletes a channel (its pending deliveries are dropped, its receipts kept);
/// whether there was one.
pub async fn delete_channel(tx: &mut Conn, id: &str, now: i64) -> DbResult<bool> {
    let b = Backend::of(tx);
    let done = sqlx::query(sql(
        b,
        "UPDATE notification_channels SET deleted_at = ?, secret = NULL WHERE id = ? AND deleted_at IS NULL",
    ))
    .bind(now)
    .bind(id)
    .execute(&mut *tx)
    .await?;
    sqlx::query(sql(
        b,
        "UPDATE notification_outbox SET status = 'dropped' WHERE channel_id = ? AND status = 'pending'",
    ))
    .bind(id)
    .execute(&mut *tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The audit sequence number notifications were derived up to (`None`: never started).
pub async fn cursor(c: &mut Conn) -> DbResult<Option<i64>> {
    sqlx::query_scalar("SELECT seq FROM notification_cursor WHERE id = 1")
        .fetch_optional(&mut *c)
        .await
}

/// The cursor, held until `tx` ends, so one node derives at a time: on
/// PostgreSQL a row lock (waiting reads the cursor the other node moved), not
/// the writer lock, which would hold up every audit append — the exchanges'
/// included — for the whole pass; on SQLite the transaction already holds the
/// file's write lock.
pub async fn lock_cursor(tx: &mut Conn) -> DbResult<Option<i64>> {
    let statement = match Backend::of(tx) {
        Backend::Postgres => "SELECT seq FROM notification_cursor WHERE id = 1 FOR UPDATE",
        Backend::Sqlite => "SELECT seq FROM notification_cursor WHERE id = 1",
    };
    sqlx::query_scalar(statement).fetch_optional(&mut *tx).await
}

/// Starts the cursor at `seq` unless another node started it first.
pub async fn start_cursor(tx: &mut Conn, seq: i64) -> DbResult<()> {
    sqlx::query(sql(
        Backend::of(tx),
        "INSERT INTO notification_cursor (id, seq) VALUES (1, ?) ON CONFLICT (id) DO NOTHING",
    ))
    .bind(seq)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

pub async fn set_cursor(tx: &mut Conn, seq: i64) -> DbResult<()> {
    sqlx::query(sql(
        Backend::of(tx),
        "INSERT INTO notification_cursor (id, seq) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET seq = excluded.seq",
    ))
    .bind(seq)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// How far audit stream `name` was sent (`None`: never started).
pub async fn stream_cursor(c: &mut Conn, name: &str) -> DbResult<Option<i64>> {
    sqlx::query_scalar(sql(
        Backend::of(c),
        "SELECT seq FROM audit_stream_cursors WHERE name = ?",
    ))
    .bind(name)
    .fetch_optional(&mut *c)
    .await
}

/// Records that audit stream `name` was acknowledged up to `seq`.
pub async fn set_stream_cursor(c: &mut Conn, name: &str, seq: i64, now: i64) -> DbResult<()> {
    sqlx::query(sql(
        Backend::of(c),
        "INSERT INTO audit_stream_cursors (name, seq, updated_at) VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE SET seq = excluded.seq, updated_at = excluded.updated_at",
    ))
    .bind(name)
    .bind(seq)
    .bind(now)
    .execute(&mut *c)
    .await?;
    Ok(())
}

/// The last audit sequence number (0: none).
pub async fn audit_head(c: &mut Conn) -> DbResult<i64> {
    Ok(
        sqlx::query_scalar::<_, Option<i64>>("SELECT MAX(seq) FROM audit_events")
            .fetch_one(&mut *c)
            .await?
            .unwrap_or(0),
    )
}

/// Audit events of `kinds` with `after < seq <= upto`, in order.
pub async fn events_between(
    c: &mut Conn,
    after: i64,
    upto: i64,
    kinds: &[&str],
) -> DbResult<Vec<StoredEvent>> {
    let marks = vec!["?"; kinds.len()].join(", ");
    let text = format!(
        "SELECT * FROM audit_events WHERE seq > ? AND seq <= ? AND kind IN ({marks}) ORDER BY seq"
    );
    let mut q = sqlx::query(sql_owned(Backend::of(c), text))
        .bind(after)
        .bind(upto);
    for k in kinds {
        q = q.bind(*k);
    }
    Ok(q.fetch_all(&mut *c)
        .await?
        .iter()
        .map(|r| crate::audit::decode(r).0)
        .collect())
}

/// A notification to deliver.
pub struct Queued<'a> {
    pub id: &'a str,
    pub channel_id: &'a str,
    pub event: &'a str,
    pub audit_seq: i64,
    pub body: &'a str,
    pub now_ms: i64,
}

/// Queues a delivery (once per channel, audit event and notification kind).
pub async fn enqueue(tx: &mut Conn, q: &Queued<'_>) -> DbResult<()> {
    sqlx::query(sql(
        Backend::of(tx),
        "INSERT INTO notification_outbox (id, channel_id, event, audit_seq, body, status, next_attempt_ms, created_at_ms) VALUES (?, ?, ?, ?, ?, 'pending', ?, ?) ON CONFLICT (channel_id, audit_seq, event) DO NOTHING",
    ))
    .bind(q.id)
    .bind(q.channel_id)
    .bind(q.event)
    .bind(q.audit_seq)
    .bind(q.body)
    .bind(q.now_ms)
    .bind(q.now_ms)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// A delivery claimed for sending.
#[derive(Debug, Clone)]
pub struct Due {
    pub id: String,
    pub channel_id: String,
    pub body: String,
    pub attempts: i64,
}

impl Db {
    /// Claims up to `limit` due deliveries for `lease_ms` (as the revocation
    /// outbox does: another node, or this one's next pass, skips them meanwhile).
    pub async fn claim_due_notifications(
        &self,
        now_ms: i64,
        lease_ms: i64,
        limit: i64,
    ) -> DbResult<Vec<Due>> {
        let rows = crate::outbox::claim_due(
            self,
            crate::outbox::Leased {
                table: "notification_outbox",
                key: "id",
                order: "created_at_ms, id",
                returning: "id, channel_id, body, attempts",
            },
            (now_ms, lease_ms, limit),
        )
        .await?;
        Ok(rows
            .iter()
            .map(|r| Due {
                id: r.get("id"),
                channel_id: r.get("channel_id"),
                body: r.get("body"),
                attempts: r.get("attempts"),
            })
            .collect())
    }
}

/// What one attempt did.
pub enum Attempt<'a> {
    Delivered {
        at_ms: i64,
        status: i64,
    },
    /// Failed; tried again at `next_ms`, or (`give_up`) not at all.
    Failed {
        status: Option<i64>,
        error: &'a str,
        next_ms: i64,
        give_up: bool,
    },
}

pub async fn record_attempt(
    tx: &mut Conn,
    id: &str,
    attempts: i64,
    a: &Attempt<'_>,
) -> DbResult<()> {
    let b = Backend::of(tx);
    match a {
        Attempt::Delivered { at_ms, status } => {
            sqlx::query(sql(
                b,
                "UPDATE notification_outbox SET status = 'delivered', attempts = ?, delivered_at_ms = ?, last_status = ?, last_error = NULL WHERE id = ?",
            ))
            .bind(attempts)
            .bind(at_ms)
            .bind(status)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        }
        Attempt::Failed {
            status,
            error,
            next_ms,
            give_up,
        } => {
            sqlx::query(sql(
                b,
                "UPDATE notification_outbox SET status = ?, attempts = ?, next_attempt_ms = ?, last_status = ?, last_error = ? WHERE id = ? AND status = 'pending'",
            ))
            .bind(if *give_up { "failed" } else { "pending" })
            .bind(attempts)
            .bind(next_ms)
            .bind(status)
            .bind(error)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        }
    }
    Ok(())
}

/// A delivery's receipt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    pub id: String,
    pub event: String,
    pub audit_seq: i64,
    pub status: String,
    pub attempts: i64,
    pub created_at_ms: i64,
    pub next_attempt_ms: i64,
    pub delivered_at_ms: Option<i64>,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
}

/// The newest `limit` deliveries of a channel.
pub async fn receipts(c: &mut Conn, channel_id: &str, limit: i64) -> DbResult<Vec<Receipt>> {
    Ok(sqlx::query(sql(
        Backend::of(c),
        "SELECT id, event, audit_seq, status, attempts, created_at_ms, next_attempt_ms, delivered_at_ms, last_status, last_error FROM notification_outbox WHERE channel_id = ? ORDER BY created_at_ms DESC, id DESC LIMIT ?",
    ))
    .bind(channel_id)
    .bind(limit)
    .fetch_all(&mut *c)
    .await?
    .iter()
    .map(|r| Receipt {
        id: r.get("id"),
        event: r.get("event"),
        audit_seq: r.get("audit_seq"),
        status: r.get("status"),
        attempts: r.get("attempts"),
        created_at_ms: r.get("created_at_ms"),
        next_attempt_ms: r.get("next_attempt_ms"),
        delivered_at_ms: r.get("delivered_at_ms"),
        last_status: r.get("last_status"),
        last_error: r.get("last_error"),
    })
    .collect())
}
