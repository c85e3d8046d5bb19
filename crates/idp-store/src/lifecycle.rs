//! The tables of the lifecycle policies (what an admin set, and the
//! inactivity warnings given) and the queries their evaluation runs in
//! batches: pending requests no refused exchange touched for a while, and
//! active connections that issued no ID-JAG for a while.

use crate::{Backend, Conn, DbResult, sql};
use admin_api::RequestStatus;
use sqlx::Row;

/// The stored policy document and its version (none yet: `None`).
pub async fn policies(c: &mut Conn) -> DbResult<Option<(String, i64)>> {
    Ok(
        sqlx::query("SELECT doc, version FROM lifecycle_policies WHERE id = 1")
            .fetch_optional(&mut *c)
            .await?
            .map(|r| (r.get("doc"), r.get("version"))),
    )
}

/// Writes the policy document if the stored version is still `expected`
/// (0: none stored yet); whether it was written.
pub async fn put_policies(tx: &mut Conn, doc: &str, expected: i64, now: i64) -> DbResult<bool> {
    let b = Backend::of(tx);
    let done = if expected == 0 {
        sqlx::query(sql(
            b,
            "INSERT INTO lifecycle_policies (id, doc, version, updated_at) VALUES (1, ?, 1, ?) ON CONFLICT (id) DO NOTHING",
        ))
        .bind(doc)
        .bind(now)
        .execute(&mut *tx)
        .await?
    } else {
        sqlx::query(sql(
            b,
            "UPDATE lifecycle_policies SET doc = ?, version = version + 1, updated_at = ? WHERE id = 1 AND version = ?",
        ))
        .bind(doc)
        .bind(now)
        .bind(expected)
        .execute(&mut *tx)
        .await?
    };
    Ok(done.rows_affected() == 1)
}

/// Pending requests last refused before `before` (Unix seconds), oldest first.
pub async fn stale_requests(
    c: &mut Conn,
    before: i64,
    limit: i64,
) -> DbResult<Vec<(String, String)>> {
    Ok(sqlx::query(sql(
        Backend::of(c),
        "SELECT id, client_id FROM connection_requests WHERE status = 'pending' AND last_seen < ? ORDER BY last_seen, id LIMIT ?",
    ))
    .bind(before)
    .bind(limit)
    .fetch_all(&mut *c)
    .await?
    .iter()
    .map(|r| (r.get("id"), r.get("client_id")))
    .collect())
}

/// Expires request `id` if it is still pending and still unrefused since
/// `before`; whether it did.
pub async fn expire_request(
    tx: &mut Conn,
    id: &str,
    before: i64,
    by: &str,
    reason: &str,
) -> DbResult<bool> {
    let done = sqlx::query(sql(
        Backend::of(tx),
        "UPDATE connection_requests SET status = ?, decided_by = ?, decision_reason = ?, version = version + 1 WHERE id = ? AND status = 'pending' AND last_seen < ?",
    ))
    .bind(RequestStatus::Expired.as_str())
    .bind(crate::json(&[by]))
    .bind(reason)
    .bind(id)
    .bind(before)
    .execute(&mut *tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Active connections last used (else created) before `before`, oldest first.
pub async fn idle_connections(c: &mut Conn, before: i64, limit: i64) -> DbResult<Vec<String>> {
    sqlx::query_scalar(sql(
        Backend::of(c),
        "SELECT id FROM connections WHERE status = 'active' AND COALESCE(last_used_at, created_at) < ? ORDER BY COALESCE(last_used_at, created_at), id LIMIT ?",
    ))
    .bind(before)
    .bind(limit)
    .fetch_all(&mut *c)
    .await
}

/// Active connections idle since before `before` that were not warned in
/// this idle spell: (id, last used or created).
pub async fn unwarned_idle(c: &mut Conn, before: i64, limit: i64) -> DbResult<Vec<(String, i64)>> {
    Ok(sqlx::query(sql(
        Backend::of(c),
        "SELECT c.id, COALESCE(c.last_used_at, c.created_at) AS idle_since FROM connections c \
         LEFT JOIN inactivity_warnings w ON w.connection_id = c.id \
         WHERE c.status = 'active' AND COALESCE(c.last_used_at, c.created_at) < ? \
           AND (w.warned_at IS NULL OR w.warned_at < COALESCE(c.last_used_at, c.created_at)) \
         ORDER BY COALESCE(c.last_used_at, c.created_at), c.id LIMIT ?",
    ))
    .bind(before)
    .bind(limit)
    .fetch_all(&mut *c)
    .await?
    .iter()
    .map(|r| (r.get("id"), r.get("idle_since")))
    .collect())
}

/// Records that connection `id` was warned at `now` of its suspension at `suspend_at`.
pub async fn record_warning(tx: &mut Conn, id: &str, now: i64, suspend_at: i64) -> DbResult<()> {
    sqlx::query(sql(
        Backend::of(tx),
        "INSERT INTO inactivity_warnings (connection_id, warned_at, suspend_at) VALUES (?, ?, ?) \
         ON CONFLICT (connection_id) DO UPDATE SET warned_at = excluded.warned_at, suspend_at = excluded.suspend_at",
    ))
    .bind(id)
    .bind(now)
    .bind(suspend_at)
    .execute(&mut *tx)
    .await?;
    Ok(())
}
