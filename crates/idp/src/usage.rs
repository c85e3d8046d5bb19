//! ID-JAGs issued per (client, resource app) — optionally per user — over the
//! last 90 days, from the audit log: what access reviews recommend from and
//! what the overview's relationship map weighs its edges by.

use crate::state::Idp;
use idp_store::Conn;
use std::collections::HashMap;

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
    db: &mut Conn,
    now_ms: i64,
    per_user: bool,
) -> Result<Vec<Usage>, sqlx::Error> {
    let cat = idp.catalog();
    let app_of: HashMap<&str, &str> = cat
        .apps
        .iter()
        .map(|a| (a.item.issuer.as_str(), a.item.id.as_str()))
        .collect();
    Ok(idp_store::audit::exchange_usage(db, now_ms, per_user)
        .await?
        .into_iter()
        .filter_map(|u| {
            Some(Usage {
                resource_app: app_of.get(u.audience.as_str())?.to_string(),
                client_id: u.client_id,
                subject: u.subject,
                exchanges_30d: u.exchanges_30d,
                exchanges_90d: u.exchanges_90d,
                last_at_ms: u.last_at_ms,
            })
        })
        .collect())
}
