//! The tables of the lifecycle policies (what an admin set, and the
//! inactivity warnings given) and the queries their evaluation runs in
//! batches: pending requests no refused exchange touched for a while, and
//! active connections that issued no ID-JAG for a while; the orphaned
//! clients and their grace period; the attestations asked before an approval
//! expires and the approvals that lapsed.

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

/// The clients known to be orphaned: client id → (since, suspended at).
pub async fn orphaned_clients(
    c: &mut Conn,
) -> DbResult<std::collections::HashMap<String, (i64, Option<i64>)>> {
    Ok(
        sqlx::query("SELECT client_id, since, suspended_at FROM orphaned_clients")
            .fetch_all(&mut *c)
            .await?
            .iter()
            .map(|r| (r.get("client_id"), (r.get("since"), r.get("suspended_at"))))
            .collect(),
    )
}

/// Records that `client_id` has no active owner since `since` (kept if it
/// already was).
pub async fn mark_orphaned(tx: &mut Conn, client_id: &str, since: i64) -> DbResult<()> {
    sqlx::query(sql(
        Backend::of(tx),
        "INSERT INTO orphaned_clients (client_id, since) VALUES (?, ?) ON CONFLICT (client_id) DO NOTHING",
    ))
    .bind(client_id)
    .bind(since)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// `client_id` has an active owner again (or is gone): its orphaned spell ends.
pub async fn unmark_orphaned(tx: &mut Conn, client_id: &str) -> DbResult<()> {
    sqlx::query(sql(
        Backend::of(tx),
        "DELETE FROM orphaned_clients WHERE client_id = ?",
    ))
    .bind(client_id)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// The orphan grace policy has suspended `client_id`'s connections at `now`.
pub async fn mark_orphan_suspended(tx: &mut Conn, client_id: &str, now: i64) -> DbResult<()> {
    sqlx::query(sql(
        Backend::of(tx),
        "UPDATE orphaned_clients SET suspended_at = ? WHERE client_id = ?",
    ))
    .bind(now)
    .bind(client_id)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Active connections of `client_id`, at most `limit`.
pub async fn active_connections_of(
    c: &mut Conn,
    client_id: &str,
    limit: i64,
) -> DbResult<Vec<String>> {
    sqlx::query_scalar(sql(
        Backend::of(c),
        "SELECT id FROM connections WHERE status = 'active' AND client_id = ? ORDER BY id LIMIT ?",
    ))
    .bind(client_id)
    .bind(limit)
    .fetch_all(&mut *c)
    .await
}

/// Active connections expiring in (`now`, `before`] whose owners were not
/// asked about that expiry yet: (id, expires at), soonest first.
pub async fn unasked_expiring(
    c: &mut Conn,
    now: i64,
    before: i64,
    limit: i64,
) -> DbResult<Vec<(String, i64)>> {
    Ok(sqlx::query(sql(
        Backend::of(c),
        "SELECT c.id, c.expires_at FROM connections c \
         WHERE c.status = 'active' AND c.expires_at > ? AND c.expires_at <= ? \
           AND NOT EXISTS (SELECT 1 FROM attestations a WHERE a.connection_id = c.id AND a.expires_at = c.expires_at) \
         ORDER BY c.expires_at, c.id LIMIT ?",
    ))
    .bind(now)
    .bind(before)
    .bind(limit)
    .fetch_all(&mut *c)
    .await?
    .iter()
    .map(|r| (r.get("id"), r.get("expires_at")))
    .collect())
}

/// Records that the owners of connection `id` were asked at `now` about its
/// expiry at `expires_at`; whether this is the first ask.
pub async fn ask_attestation(tx: &mut Conn, id: &str, expires_at: i64, now: i64) -> DbResult<bool> {
    let done = sqlx::query(sql(
        Backend::of(tx),
        "INSERT INTO attestations (connection_id, expires_at, asked_at) VALUES (?, ?, ?) \
         ON CONFLICT (connection_id, expires_at) DO NOTHING",
    ))
    .bind(id)
    .bind(expires_at)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The attestation about connection `id`'s expiry at `expires_at`, if asked
/// (or decided) yet.
pub async fn attestation(
    c: &mut Conn,
    id: &str,
    expires_at: i64,
) -> DbResult<Option<admin_api::AttestationView>> {
    let Some(r) = sqlx::query(sql(
        Backend::of(c),
        "SELECT * FROM attestations WHERE connection_id = ? AND expires_at = ?",
    ))
    .bind(id)
    .bind(expires_at)
    .fetch_optional(&mut *c)
    .await?
    else {
        return Ok(None);
    };
    let renewal: Option<String> = r.get("renewal");
    Ok(Some(admin_api::AttestationView {
        expires_at: r.get("expires_at"),
        asked_at: r.get("asked_at"),
        attested_by: r.get("attested_by"),
        attested_at: r.get("attested_at"),
        still_needed: r.get::<Option<i64>, _>("still_needed").map(|v| v != 0),
        attest_reason: r.get("attest_reason"),
        renewal: renewal
            .as_deref()
            .map(|s| {
                crate::known_status(admin_api::RenewalDecision::parse(s), s, "renewal decision")
            })
            .transpose()?,
        decided_by: r.get("decided_by"),
        decided_at: r.get("decided_at"),
        decision_reason: r.get("decision_reason"),
    }))
}

/// An owner's answer about connection `id`'s expiry at `expires_at` (asked
/// or not: an owner may attest early).
pub async fn record_attestation(
    tx: &mut Conn,
    id: &str,
    expires_at: i64,
    by: &str,
    still_needed: bool,
    reason: &str,
    now: i64,
) -> DbResult<()> {
    sqlx::query(sql(
        Backend::of(tx),
        "INSERT INTO attestations (connection_id, expires_at, asked_at, attested_by, attested_at, still_needed, attest_reason) \
         VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (connection_id, expires_at) DO UPDATE SET \
         attested_by = excluded.attested_by, attested_at = excluded.attested_at, \
         still_needed = excluded.still_needed, attest_reason = excluded.attest_reason",
    ))
    .bind(id)
    .bind(expires_at)
    .bind(now)
    .bind(by)
    .bind(now)
    .bind(i64::from(still_needed))
    .bind(reason)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// An approver's decision about connection `id`'s expiry at `expires_at`.
pub async fn record_renewal(
    tx: &mut Conn,
    id: &str,
    expires_at: i64,
    decision: admin_api::RenewalDecision,
    by: &str,
    reason: &str,
    now: i64,
) -> DbResult<()> {
    sqlx::query(sql(
        Backend::of(tx),
        "INSERT INTO attestations (connection_id, expires_at, asked_at, renewal, decided_by, decided_at, decision_reason) \
         VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (connection_id, expires_at) DO UPDATE SET \
         renewal = excluded.renewal, decided_by = excluded.decided_by, \
         decided_at = excluded.decided_at, decision_reason = excluded.decision_reason",
    ))
    .bind(id)
    .bind(expires_at)
    .bind(now)
    .bind(decision.as_str())
    .bind(by)
    .bind(now)
    .bind(reason)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Active connections whose approval expired at or before `now`, soonest first.
pub async fn lapsed_connections(c: &mut Conn, now: i64, limit: i64) -> DbResult<Vec<String>> {
    sqlx::query_scalar(sql(
        Backend::of(c),
        "SELECT id FROM connections WHERE status = 'active' AND expires_at IS NOT NULL AND expires_at <= ? ORDER BY expires_at, id LIMIT ?",
    ))
    .bind(now)
    .bind(limit)
    .fetch_all(&mut *c)
    .await
}
