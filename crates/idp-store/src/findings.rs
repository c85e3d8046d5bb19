//! What least-privilege findings are computed from — which scopes each
//! connection's ID-JAGs carried, and who used it, per the audit log — and
//! `finding_states`: what people decided about a finding (snoozed,
//! acknowledged, false positive), against the digest of its evidence.

use crate::{Backend, Conn, DbResult, sql, sql::sql_owned};
use admin_api::FindingState;
use sqlx::Row;
use std::collections::HashMap;

/// The audit detail's `connection_id` and `scope`, per backend.
fn detail_fields(b: Backend) -> (&'static str, &'static str) {
    match b {
        Backend::Sqlite => (
            "json_extract(detail, '$.connection_id')",
            "json_extract(detail, '$.scope')",
        ),
        Backend::Postgres => (
            "(detail::jsonb ->> 'connection_id')",
            "(detail::jsonb ->> 'scope')",
        ),
    }
}

/// One distinct scope string a connection's ID-JAGs carried since the window began.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeUse {
    pub connection_id: String,
    /// Space-separated, as in the ID-JAG.
    pub scope: String,
    pub count: u64,
    pub last_at_ms: i64,
}

/// The scopes of every successful exchange since `since_ms`, grouped by
/// connection and scope string (a handful of strings per connection).
pub async fn scope_uses(c: &mut Conn, since_ms: i64) -> DbResult<Vec<ScopeUse>> {
    let b = Backend::of(c);
    let (conn, scope) = detail_fields(b);
    let text = format!(
        "SELECT {conn} AS connection_id, {scope} AS scope, COUNT(*) AS n, MAX(at_ms) AS last
         FROM audit_events WHERE kind = 'id_jag.exchange' AND outcome = 'success' AND at_ms >= ?
         GROUP BY {conn}, {scope}"
    );
    Ok(sqlx::query(sql_owned(b, text))
        .bind(since_ms)
        .fetch_all(&mut *c)
        .await?
        .iter()
        .filter_map(|r| {
            Some(ScopeUse {
                connection_id: r.get::<Option<String>, _>("connection_id")?,
                scope: r.get::<Option<String>, _>("scope").unwrap_or_default(),
                count: r.get::<i64, _>("n").max(0) as u64,
                last_at_ms: r.get("last"),
            })
        })
        .collect())
}

/// Who used each connection since `since_ms`: (connection id, username).
pub async fn connection_users(c: &mut Conn, since_ms: i64) -> DbResult<Vec<(String, String)>> {
    let b = Backend::of(c);
    let (conn, _) = detail_fields(b);
    let text = format!(
        "SELECT {conn} AS connection_id, subject FROM audit_events
         WHERE kind = 'id_jag.exchange' AND outcome = 'success' AND at_ms >= ? AND subject IS NOT NULL
         GROUP BY {conn}, subject"
    );
    Ok(sqlx::query(sql_owned(b, text))
        .bind(since_ms)
        .fetch_all(&mut *c)
        .await?
        .iter()
        .filter_map(|r| {
            Some((
                r.get::<Option<String>, _>("connection_id")?,
                r.get::<String, _>("subject"),
            ))
        })
        .collect())
}

/// A decision about a finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateRow {
    pub digest: String,
    pub state: FindingState,
    pub until: Option<i64>,
    pub reason: String,
    pub decided_by: String,
    pub decided_at: i64,
}

/// Every decision, by finding id.
pub async fn states(c: &mut Conn) -> DbResult<HashMap<String, StateRow>> {
    sqlx::query("SELECT * FROM finding_states")
        .fetch_all(&mut *c)
        .await?
        .iter()
        .map(|r| {
            let state: String = r.get("state");
            Ok((
                r.get("finding_id"),
                StateRow {
                    digest: r.get("digest"),
                    state: crate::known_status(FindingState::parse(&state), &state, "finding")?,
                    until: r.get("until"),
                    reason: r.get("reason"),
                    decided_by: r.get("decided_by"),
                    decided_at: r.get("decided_at"),
                },
            ))
        })
        .collect()
}

/// Records a decision about finding `id` (replacing any earlier one).
pub async fn put_state(tx: &mut Conn, id: &str, s: &StateRow) -> DbResult<()> {
    sqlx::query(sql(
        Backend::of(tx),
        "INSERT INTO finding_states (finding_id, digest, state, until, reason, decided_by, decided_at) VALUES (?, ?, ?, ?, ?, ?, ?) \
         ON CONFLICT (finding_id) DO UPDATE SET digest = excluded.digest, state = excluded.state, until = excluded.until, \
         reason = excluded.reason, decided_by = excluded.decided_by, decided_at = excluded.decided_at",
    ))
    .bind(id)
    .bind(&s.digest)
    .bind(s.state.as_str())
    .bind(s.until)
    .bind(&s.reason)
    .bind(&s.decided_by)
    .bind(s.decided_at)
    .execute(&mut *tx)
    .await?;
    Ok(())
}
