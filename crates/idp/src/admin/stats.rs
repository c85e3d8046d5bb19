//! `/admin/v1/stats`: the counts behind the console's relationship map and
//! charts — usage per (client, resource app) over 30 days (`usage.rs`), ID-JAG issuance per
//! hour and client over a day, decisions per day over two weeks, and the pending
//! queue by age — each one GROUP BY over the audit log or the queue.

use super::{problem::ApiResult, usage::exchange_usage};
use crate::state::SharedIdp;
use admin_api::{AgeBucket, DecisionDay, IssuanceBucket, StatsView, UsageRow};
use axum::{Json, extract::State};
use std::collections::BTreeMap;

const DAY_MS: i64 = 86_400_000;

pub async fn stats(State(idp): State<SharedIdp>) -> ApiResult<Json<StatsView>> {
    let now_ms = idp.now_ms();
    let mut db = idp.store.acquire().await?;
    let usage = exchange_usage(&idp, &mut db, now_ms, false)
        .await?
        .into_iter()
        .filter(|u| u.exchanges_30d > 0)
        .map(|u| UsageRow {
            client_id: u.client_id,
            resource_app: u.resource_app,
            exchanges_30d: u.exchanges_30d,
            last_at_ms: u.last_at_ms,
        })
        .collect();
    let issuance = idp_store::audit::issuance_by_hour(&mut db, now_ms - DAY_MS)
        .await?
        .into_iter()
        .map(|(hour_ms, client_id, count)| IssuanceBucket {
            hour_ms,
            client_id,
            count,
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
    for (day, approved, n) in idp_store::audit::decisions_by_day(&mut db, first_day).await? {
        if let Some(d) = days.get_mut(&day) {
            if approved {
                d.approved += n;
            } else {
                d.denied += n;
            }
        }
    }
    let ages = idp_store::requests::pending_by_age(&mut db, idp.now()).await?;
    let bucket = |label: &str, n: i64| AgeBucket {
        label: label.into(),
        count: n.max(0) as u64,
    };
    Ok(Json(StatsView {
        usage,
        issuance,
        decisions: days.into_values().collect(),
        pending_by_age: vec![
            bucket("< 1 hour", ages[0]),
            bucket("1–24 hours", ages[1]),
            bucket("1–7 days", ages[2]),
            bucket("> 7 days", ages[3]),
        ],
    }))
}
