//! Kill switches over time: what each one turned off (recorded by
//! [`super::connections::revoke_in_bulk`] in its own transaction), how far its
//! revocation events have reached the receivers, and its reinstatement — by an
//! approver with a recent MFA sign-in and a reason — which turns exactly that
//! back on and never more: each connection goes back to the status it had
//! (active or suspended) only if it is still as the kill left it and no newer
//! connection of its pair has been approved since, and a user's block is lifted
//! only if it is still the one the kill made. Receivers get a "reinstated"
//! event for each, through the same outbox.

use super::{Committed, Principal, ServiceError, ServiceResult, actor_event, required_reason};
use crate::{
    audit,
    revocation::{self, Revocation, SetEvent},
    state::Idp,
    views::{app_ref, client_ref},
};
use admin_api::{
    ChangeEvent, ChangeKind, ConnectionStatus, DeliveryProgress, KillView, KilledConnection,
    ReceiptStatus,
};
use idp_store::{
    Conn,
    kills::{self, KillRow, KilledRow},
};
use serde_json::json;

/// How many kills the list shows.
const LATEST: i64 = 50;

/// Why connection `k` (now `current`) would not be turned back on; `None`
/// when it would.
async fn left_off(
    tx: &mut Conn,
    k: &KilledRow,
    current: &idp_store::ConnectionRow,
) -> Result<Option<String>, sqlx::Error> {
    let c = &current.connection;
    if c.status != ConnectionStatus::Revoked || c.version != k.version_after {
        return Ok(Some(format!(
            "changed since the kill (now {}, version {})",
            c.status.as_str(),
            c.version
        )));
    }
    if let Some(newer) = idp_store::connections::live_id(tx, &c.client_id, &c.resource_app).await? {
        return Ok(Some(format!(
            "a newer connection of the same client and app was approved since ({newer})"
        )));
    }
    Ok(None)
}

async fn view(idp: &Idp, c: &mut Conn, k: KillRow) -> Result<KillView, sqlx::Error> {
    let mut connections = Vec::new();
    for row in kills::connections(c, &k.id).await? {
        let Some(current) = idp_store::connections::get(c, &row.connection_id).await? else {
            continue;
        };
        let left = if row.reinstated || k.reinstated_at.is_some() {
            (!row.reinstated).then(|| "left off by the reinstatement".to_owned())
        } else {
            left_off(c, &row, &current).await?
        };
        connections.push(KilledConnection {
            connection_id: row.connection_id.clone(),
            client: client_ref(idp, &current.connection.client_id),
            resource_app: app_ref(idp, &current.connection.resource_app),
            status_before: row.status_before,
            status_now: current.connection.status,
            reinstated: row.reinstated,
            left_off: left,
        });
    }
    let receipts = kills::receipts(c, &k.id).await?;
    let count = |s: ReceiptStatus| receipts.iter().filter(|r| r.status == s).count() as u64;
    let deliveries = DeliveryProgress {
        queued: receipts.len() as u64,
        delivered: count(ReceiptStatus::Delivered),
        pending: count(ReceiptStatus::Pending),
        failed: count(ReceiptStatus::Failed),
        receipts,
    };
    Ok(KillView {
        id: k.id,
        selector: k.selector,
        target: k.target,
        reason: k.reason,
        killed_by: k.killed_by,
        killed_at: k.killed_at,
        blocked_user: k.blocked_user,
        connections,
        deliveries,
        reinstated_by: k.reinstated_by,
        reinstated_at: k.reinstated_at,
        reinstate_reason: k.reinstate_reason,
        version: k.version,
    })
}

/// The latest kills, newest first, with their progress.
pub async fn latest(idp: &Idp) -> ServiceResult<Vec<KillView>> {
    let mut c = idp.store.acquire().await?;
    let mut out = Vec::new();
    for k in kills::latest(&mut c, LATEST).await? {
        out.push(view(idp, &mut c, k).await?);
    }
    Ok(out)
}

pub async fn get(idp: &Idp, id: &str) -> ServiceResult<KillView> {
    let mut c = idp.store.acquire().await?;
    let k = kills::get(&mut c, id)
        .await?
        .ok_or(ServiceError::NotFound("the kill"))?;
    Ok(view(idp, &mut c, k).await?)
}

/// Turns back on what kill `id` (read at version `expected`) turned off.
pub async fn reinstate(
    idp: &Idp,
    who: &Principal,
    id: &str,
    expected: i64,
    reason: &str,
) -> ServiceResult<Committed<KillView>> {
    let reason = required_reason(reason)?;
    who.require_recent_mfa(idp.now())?;
    let mut tx = idp.store.begin_write().await?;
    let k = kills::get(&mut tx, id)
        .await?
        .ok_or(ServiceError::NotFound("the kill"))?;
    if k.version != expected {
        let current = view(idp, &mut tx, k).await?;
        return Err(ServiceError::stale(&current));
    }
    if let Some(at) = k.reinstated_at {
        return Err(ServiceError::conflict(format!(
            "already reinstated at {at} by {}",
            k.reinstated_by.as_deref().unwrap_or("someone")
        )));
    }
    let now = idp.now();
    let why = format!("reinstated: {reason}");
    let mut changes: Vec<ChangeEvent> = Vec::new();
    let mut turned_on = Vec::new();
    let mut events_queued = 0;
    for row in kills::connections(&mut tx, id).await? {
        let Some(current) = idp_store::connections::get(&mut tx, &row.connection_id).await? else {
            continue;
        };
        if left_off(&mut tx, &row, &current).await?.is_some() {
            continue;
        }
        let c = &current.connection;
        idp_store::connections::set_status(&mut tx, &c.id, row.status_before, &why, now).await?;
        kills::mark_connection_reinstated(&mut tx, id, &c.id).await?;
        events_queued += revocation::enqueue(
            idp,
            &mut tx,
            &Revocation {
                event: SetEvent::Reinstated,
                kill_id: Some(id),
                connection_id: Some(&c.id),
                connection_version: Some(c.version + 1),
                resource_app: &c.resource_app,
                client_id: Some(&c.client_id),
                username: None,
                reason: &why,
            },
        )
        .await?;
        changes.push(
            idp_store::changes::record(&mut tx, ChangeKind::ConnectionUpdated, &c.id, idp.now_ms())
                .await?,
        );
        turned_on.push(json!({ "connection_id": c.id, "status": row.status_before }));
    }
    let mut unblocked = None;
    if let Some(u) = &k.blocked_user
        && idp_store::blocks::unblock(&mut tx, u, k.killed_at).await?
    {
        events_queued +=
            revocation::enqueue_user_wide(idp, &mut tx, (SetEvent::Reinstated, Some(id)), u, &why)
                .await?;
        changes.push(
            idp_store::changes::record(&mut tx, ChangeKind::UserUnblocked, u, idp.now_ms()).await?,
        );
        unblocked = Some(u.clone());
    }
    if !kills::mark_reinstated(&mut tx, id, expected, &who.subject, reason, now).await? {
        return Err(ServiceError::conflict(
            "the kill changed meanwhile; reload it",
        ));
    }
    let mut e = actor_event(who, "kill.reinstate", id);
    e.reason = Some(reason.to_owned());
    e.subject = unblocked.clone();
    e.detail["before"] = json!({ "selector": k.selector, "target": k.target, "killed_by": k.killed_by, "killed_at": k.killed_at });
    e.detail["after"] = json!({
        "connections": turned_on, "unblocked": unblocked, "events_queued": events_queued,
    });
    audit::append(&mut tx, &[(&e, idp.now_ms())]).await?;
    let k = kills::get(&mut tx, id)
        .await?
        .ok_or(ServiceError::NotFound("the kill"))?;
    let value = view(idp, &mut tx, k).await?;
    tx.commit().await?;
    Ok(Committed {
        value,
        changes,
        connections_changed: true,
    })
}
