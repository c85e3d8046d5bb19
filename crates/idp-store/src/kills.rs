//! `kills` and `kill_connections`: what each kill switch turned off — the
//! connections it revoked (their status before, their version right after) and
//! the user it blocked — so that a reinstatement turns exactly that back on,
//! and `revocation_outbox.kill_id`, so its deliveries can be followed.

use crate::{Backend, Conn, DbResult, known_status, sql};
use admin_api::{ConnectionStatus, KillSelector, ReceiptView};
use sqlx::{Row, any::AnyRow};

/// A kill as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KillRow {
    pub id: String,
    pub selector: KillSelector,
    pub target: String,
    pub reason: String,
    pub killed_by: String,
    pub killed_at: i64,
    pub blocked_user: Option<String>,
    pub reinstated_by: Option<String>,
    pub reinstated_at: Option<i64>,
    pub reinstate_reason: Option<String>,
    pub version: i64,
}

impl KillRow {
    fn decode(r: &AnyRow) -> DbResult<KillRow> {
        let kind: String = r.get("selector_kind");
        Ok(KillRow {
            id: r.get("id"),
            selector: known_status(KillSelector::parse(&kind), &kind, "kill selector")?,
            target: r.get("selector"),
            reason: r.get("reason"),
            killed_by: r.get("killed_by"),
            killed_at: r.get("killed_at"),
            blocked_user: r.get("blocked_user"),
            reinstated_by: r.get("reinstated_by"),
            reinstated_at: r.get("reinstated_at"),
            reinstate_reason: r.get("reinstate_reason"),
            version: r.get("version"),
        })
    }
}

/// One connection a kill revoked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KilledRow {
    pub connection_id: String,
    pub status_before: ConnectionStatus,
    pub version_after: i64,
    pub reinstated: bool,
}

/// Records a kill (its connections are added with [`add_connection`]).
pub async fn insert(tx: &mut Conn, k: &KillRow) -> DbResult<()> {
    sqlx::query(sql(
        Backend::of(tx),
        "INSERT INTO kills (id, selector_kind, selector, reason, killed_by, killed_at, blocked_user, version) VALUES (?, ?, ?, ?, ?, ?, ?, 1)",
    ))
    .bind(&k.id)
    .bind(k.selector.as_str())
    .bind(&k.target)
    .bind(&k.reason)
    .bind(&k.killed_by)
    .bind(k.killed_at)
    .bind(&k.blocked_user)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Records that kill `kill_id` revoked `connection_id`, which was
/// `status_before` and is at `version_after` now.
pub async fn add_connection(
    tx: &mut Conn,
    kill_id: &str,
    connection_id: &str,
    status_before: ConnectionStatus,
    version_after: i64,
) -> DbResult<()> {
    sqlx::query(sql(
        Backend::of(tx),
        "INSERT INTO kill_connections (kill_id, connection_id, status_before, version_after) VALUES (?, ?, ?, ?)",
    ))
    .bind(kill_id)
    .bind(connection_id)
    .bind(status_before.as_str())
    .bind(version_after)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

pub async fn get(c: &mut Conn, id: &str) -> DbResult<Option<KillRow>> {
    sqlx::query(sql(Backend::of(c), "SELECT * FROM kills WHERE id = ?"))
        .bind(id)
        .fetch_optional(&mut *c)
        .await?
        .as_ref()
        .map(KillRow::decode)
        .transpose()
}

/// The latest `limit` kills, newest first.
pub async fn latest(c: &mut Conn, limit: i64) -> DbResult<Vec<KillRow>> {
    sqlx::query(sql(
        Backend::of(c),
        "SELECT * FROM kills ORDER BY killed_at DESC, id DESC LIMIT ?",
    ))
    .bind(limit)
    .fetch_all(&mut *c)
    .await?
    .iter()
    .map(KillRow::decode)
    .collect()
}

/// The connections kill `id` revoked.
pub async fn connections(c: &mut Conn, id: &str) -> DbResult<Vec<KilledRow>> {
    sqlx::query(sql(
        Backend::of(c),
        "SELECT * FROM kill_connections WHERE kill_id = ? ORDER BY connection_id",
    ))
    .bind(id)
    .fetch_all(&mut *c)
    .await?
    .iter()
    .map(|r| {
        let before: String = r.get("status_before");
        Ok(KilledRow {
            connection_id: r.get("connection_id"),
            status_before: known_status(ConnectionStatus::parse(&before), &before, "connection")?,
            version_after: r.get("version_after"),
            reinstated: r.get::<i64, _>("reinstated") != 0,
        })
    })
    .collect()
}

/// Marks kill `id` reinstated if it is still at `expected` and not yet
/// reinstated; whether it was.
pub async fn mark_reinstated(
    tx: &mut Conn,
    id: &str,
    expected: i64,
    by: &str,
    reason: &str,
    now: i64,
) -> DbResult<bool> {
    let done = sqlx::query(sql(
        Backend::of(tx),
        "UPDATE kills SET reinstated_by = ?, reinstated_at = ?, reinstate_reason = ?, version = version + 1 \
         WHERE id = ? AND version = ? AND reinstated_at IS NULL",
    ))
    .bind(by)
    .bind(now)
    .bind(reason)
    .bind(id)
    .bind(expected)
    .execute(&mut *tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Marks one of kill `id`'s connections turned back on.
pub async fn mark_connection_reinstated(
    tx: &mut Conn,
    id: &str,
    connection_id: &str,
) -> DbResult<()> {
    sqlx::query(sql(
        Backend::of(tx),
        "UPDATE kill_connections SET reinstated = 1 WHERE kill_id = ? AND connection_id = ?",
    ))
    .bind(id)
    .bind(connection_id)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// The receipts of every event kill `id` (and its reinstatement) queued.
pub async fn receipts(c: &mut Conn, id: &str) -> DbResult<Vec<ReceiptView>> {
    sqlx::query(sql(
        Backend::of(c),
        "SELECT * FROM revocation_outbox WHERE kill_id = ? ORDER BY created_at_ms, receiver",
    ))
    .bind(id)
    .fetch_all(&mut *c)
    .await?
    .iter()
    .map(crate::outbox::receipt)
    .collect()
}
