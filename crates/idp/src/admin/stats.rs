//! `/admin/v1/stats`: the counts behind the console's relationship map and
//! charts — usage per (client, resource app) over 30 days (`usage.rs`), ID-JAG issuance per
//! hour and client over a day, decisions per day over two weeks, and the pending
//! queue by age — each one GROUP BY over the audit log or the queue.

use super::{problem::ApiResult, usage::exchange_usage};
use crate::state::SharedIdp;
use admin_api::{AgeBucket, DecisionDay, IssuanceBucket, StatsView, UsageRow};
use axum::{Json, extract::State};
use sqlx::Row;
use std::collections::BTreeMap;

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;

pub async fn stats(State(idp): State<SharedIdp>) -> ApiResult<Json<StatsView>> {
    let now_ms = idp.now_ms();
    let pool = &idp.store.pool;
    let usage = {
        let mut db = pool.acquire().await?;
        exchange_usage(&idp, &mut db, now_ms, false).await?
    }
    .into_iter()
    .filter(|u| u.exchanges_30d > 0)
    .map(|u| UsageRow {
        client_id: u.client_id,
        resource_app: u.resource_app,
        exchanges_30d: u.exchanges_30d,
        last_at_ms: u.last_at_ms,
    })
    .collect();
    let issuance = sqlx::query(
        "SELECT client_id, (at_ms / ?1) * ?1 AS hour, COUNT(*) AS n FROM audit_events
         WHERE kind = 'id_jag.exchange' AND outcome = 'success' AND at_ms >= ?2 AND client_id IS NOT NULL
         GROUP BY client_id, hour ORDER BY hour",
    )
    .bind(HOUR_MS)
    .bind(now_ms - DAY_MS)
    .fetch_all(pool)
    .await?
    .iter()
    .map(|r| IssuanceBucket {
        hour_ms: r.get("hour"),
        client_id: r.get("client_id"),
        count: r.get::<i64, _>("n") as u64,
    })
    .collect();
    let mut days: BTreeMap<i64, DecisionDay> = BTreeMap::new();
    let first_day = (now_ms / DAY_MS - 13) * DAY_MS;
    for d in 0..14 {
        let day_ms = first_day + d * DAY_MS;
        days.insert(
            day_ms,
            DecisionDay {
                day_ms,
                approved: 0,
                denied: 0,
            },
        );
    }
    for r in sqlx::query(
        "SELECT (at_ms / ?1) * ?1 AS day, kind, COUNT(*) AS n FROM audit_events
         WHERE kind IN ('connection_request.approve', 'connection_request.deny') AND at_ms >= ?2
         GROUP BY day, kind",
    )
    .bind(DAY_MS)
    .bind(first_day)
    .fetch_all(pool)
    .await?
    {
        if let Some(d) = days.get_mut(&r.get::<i64, _>("day")) {
            let n = r.get::<i64, _>("n") as u64;
            if r.get::<String, _>("kind").ends_with("approve") {
                d.approved += n;
            } else {
                d.denied += n;
            }
        }
    }
    let now = idp.now();
    let ages = sqlx::query(
        "SELECT SUM(first_seen > ?1 - 3600) AS h1, SUM(first_seen <= ?1 - 3600 AND first_seen > ?1 - 86400) AS d1,
                SUM(first_seen <= ?1 - 86400 AND first_seen > ?1 - 604800) AS w1, SUM(first_seen <= ?1 - 604800) AS older
         FROM connection_requests WHERE status = 'pending'",
    )
    .bind(now)
    .fetch_one(pool)
    .await?;
    let bucket = |label: &str, col: &str| AgeBucket {
        label: label.into(),
        count: ages.get::<Option<i64>, _>(col).unwrap_or(0) as u64,
    };
    Ok(Json(StatsView {
        usage,
        issuance,
        decisions: days.into_values().collect(),
        pending_by_age: vec![
            bucket("< 1 hour", "h1"),
            bucket("1–24 hours", "d1"),
            bucket("1–7 days", "w1"),
            bucket("> 7 days", "older"),
        ],
    }))
}
