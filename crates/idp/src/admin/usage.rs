//! ID-JAGs issued per (client, resource app) — optionally per user — over the
//! last 90 days, from the audit log: what access reviews recommend from and
//! what the overview's relationship map weighs its edges by.

use crate::state::Idp;
use sqlx::{Row, SqliteConnection};
use std::collections::HashMap;

const DAY_MS: i64 = 86_400_000;

/// One (client, resource app[, user]) row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Usage {
    pub client_id: String,
    pub resource_app: String,
    /// With `per_user`: whose exchanges these are.
    pub subject: Option<String>,
    pub exchanges_30d: u64,
    pub exchanges_90d: u64,
    pub last_at_ms: i64,
}

/// Successful exchanges in the last 90 days (and 30 of them), grouped by client
/// and resource app, and by user too with `per_user`; audiences that are not a
/// configured resource app are left out.
pub async fn exchange_usage(
    idp: &Idp,
    db: &mut SqliteConnection,
    now_ms: i64,
    per_user: bool,
) -> Result<Vec<Usage>, sqlx::Error> {
    let app_of: HashMap<&str, &str> = idp
        .config
        .resource_apps
        .iter()
        .map(|a| (a.issuer.as_str(), a.id.as_str()))
        .collect();
    let (subject, by_subject) = if per_user {
        (
            "subject",
            " AND subject IS NOT NULL GROUP BY client_id, target, subject ORDER BY subject",
        )
    } else {
        ("NULL", " GROUP BY client_id, target")
    };
    let sql = format!(
        "SELECT client_id, target, {subject} AS subject, SUM(at_ms >= ?) AS n30, COUNT(*) AS n90, MAX(at_ms) AS last
         FROM audit_events WHERE kind = 'id_jag.exchange' AND outcome = 'success' AND at_ms >= ?{by_subject}"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(now_ms - 30 * DAY_MS)
        .bind(now_ms - 90 * DAY_MS)
        .fetch_all(&mut *db)
        .await?;
    Ok(rows
        .iter()
        .filter_map(|r| {
            let target: Option<String> = r.get("target");
            Some(Usage {
                client_id: r.get::<Option<String>, _>("client_id")?,
                resource_app: app_of.get(target?.as_str())?.to_string(),
                subject: r.get("subject"),
                exchanges_30d: r.get::<i64, _>("n30") as u64,
                exchanges_90d: r.get::<i64, _>("n90") as u64,
                last_at_ms: r.get("last"),
            })
        })
        .collect())
}
