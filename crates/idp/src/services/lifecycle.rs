//! Lifecycle policies: what an admin sets (`/policies`) and their evaluation
//! on the IdP's clock. A pending request nobody's exchange touched for a while
//! expires (the next refusal opens a fresh one); an active connection that
//! issued no ID-JAG for a while is suspended, its client's owners warned a set
//! number of days before; the connections of a client left without an active
//! owner are suspended after a grace period; the owners of a time-bound
//! approval are asked before it expires whether it is still needed (see
//! [`super::renewal`]), and an approval past its expiry lapses (status
//! `expired`, revocation events queued). Each action is an audit event by `system:<policy>`;
//! a run works in batches of [`BATCH`], each one transaction, and reads what is
//! left from the tables, so an interrupted run simply continues at the next.

use super::{Committed, Principal, ServiceError, ServiceResult, actor_event};
use crate::{
    audit::{AuditEvent, AuditOutcome},
    state::Idp,
    views::connection_view,
};
use admin_api::{
    ChangeEvent, ChangeKind, ConnectionStatus, LifecyclePolicies, PoliciesView, PolicyRunReport,
};
use idp_store::lifecycle;
use serde_json::json;

/// Rows one transaction of a run handles.
pub const BATCH: i64 = 100;
const DAY: i64 = 86_400;
const EXPIRY_ACTOR: &str = "system:request-expiry";
const INACTIVITY_ACTOR: &str = "system:inactivity";
const ORPHAN_ACTOR: &str = "system:orphan-grace";
const LIFETIME_ACTOR: &str = "system:approval-lifetime";

/// The policies in force and their version (0 and all off until first set).
pub async fn current(idp: &Idp) -> ServiceResult<PoliciesView> {
    let mut c = idp.store.acquire().await?;
    let (policies, version) = match lifecycle::policies(&mut c).await? {
        Some((doc, v)) => (
            serde_json::from_str(&doc).map_err(|e| {
                ServiceError::conflict(format!("the stored policies are unreadable: {e}"))
            })?,
            v,
        ),
        None => (LifecyclePolicies::default(), 0),
    };
    Ok(PoliciesView {
        policies,
        version,
        now: idp.now(),
    })
}

fn check(p: &LifecyclePolicies) -> ServiceResult<()> {
    let in_range = |v: Option<u32>| v.is_none_or(|d| (1..=3650).contains(&d));
    if !in_range(p.inactivity_days) || !in_range(p.pending_request_days) {
        return Err(ServiceError::invalid("a policy's days run from 1 to 3650"));
    }
    if !in_range(p.orphan_grace_days) || p.approval_days.all().into_iter().any(|d| !in_range(d)) {
        return Err(ServiceError::invalid("a policy's days run from 1 to 3650"));
    }
    if p.attestation_days.is_some_and(|d| !(1..=365).contains(&d)) {
        return Err(ServiceError::invalid(
            "ask owners to attest 1 to 365 days before an approval expires",
        ));
    }
    if p.inactivity_warning_days > 365 {
        return Err(ServiceError::invalid("warn at most 365 days ahead"));
    }
    if let Some(d) = p.inactivity_days
        && p.inactivity_warning_days >= d
    {
        return Err(ServiceError::invalid(
            "the warning must come after the last use: fewer warning days than inactivity days",
        ));
    }
    Ok(())
}

/// Replaces the policies if they are still at `expected` (audited
/// `policy.updated` with before and after).
pub async fn put(
    idp: &Idp,
    who: &Principal,
    expected: i64,
    new: &LifecyclePolicies,
) -> ServiceResult<Committed<PoliciesView>> {
    check(new)?;
    let before = current(idp).await?;
    if before.version != expected {
        return Err(ServiceError::stale(&before));
    }
    let mut tx = idp.store.begin_write().await?;
    let doc = serde_json::to_string(new).unwrap_or_default();
    if !lifecycle::put_policies(&mut tx, &doc, expected, idp.now()).await? {
        drop(tx);
        return Err(ServiceError::stale(&current(idp).await?));
    }
    let mut e = actor_event(who, "policy.updated", "lifecycle");
    e.detail["before"] = json!(before.policies);
    e.detail["after"] = json!(new);
    crate::audit::append(&mut tx, &[(&e, idp.now_ms())]).await?;
    tx.commit().await?;
    Ok(Committed {
        value: current(idp).await?,
        changes: vec![],
        connections_changed: false,
    })
}

/// Evaluates every policy once, to the end (batch after batch).
pub async fn run(idp: &Idp) -> ServiceResult<Committed<PolicyRunReport>> {
    let p = current(idp).await?.policies;
    let now = idp.now();
    let mut report = PolicyRunReport::default();
    let mut changes = Vec::new();
    if let Some(days) = p.pending_request_days {
        loop {
            let n = expire_requests(idp, now - days as i64 * DAY, days, &mut changes).await?;
            report.requests_expired += n;
            if n < BATCH as u64 {
                break;
            }
        }
    }
    if let Some(days) = p.inactivity_days {
        let suspend_after = days as i64 * DAY;
        let warn_after = (days - p.inactivity_warning_days.min(days)) as i64 * DAY;
        if p.inactivity_warning_days > 0 {
            loop {
                let n = warn_idle(idp, now - warn_after, suspend_after, days).await?;
                report.inactivity_warnings += n;
                if n < BATCH as u64 {
                    break;
                }
            }
        }
        loop {
            let n = suspend_idle(idp, now - suspend_after, days, &mut changes).await?;
            report.connections_suspended += n;
            if n < BATCH as u64 {
                break;
            }
        }
    }
    if let Some(days) = p.orphan_grace_days {
        report.orphan_suspensions += suspend_orphans(idp, now, days, &mut changes).await?;
    }
    if let Some(days) = p.attestation_days {
        loop {
            let n = ask_attestations(idp, now, days).await?;
            report.attestations_requested += n;
            if n < BATCH as u64 {
                break;
            }
        }
    }
    loop {
        let n = lapse(idp, now, &mut changes).await?;
        report.approvals_lapsed += n;
        if n < BATCH as u64 {
            break;
        }
    }
    let connections_changed =
        report.connections_suspended + report.orphan_suspensions + report.approvals_lapsed > 0;
    Ok(Committed {
        value: report,
        changes,
        connections_changed,
    })
}

fn system_event(actor: &str, kind: &str, target: &str) -> AuditEvent {
    let mut e = AuditEvent::new(kind, AuditOutcome::Success);
    e.actor = Some(actor.into());
    e.target = Some(target.into());
    e
}

/// One batch of pending requests unrefused since `before` expired.
async fn expire_requests(
    idp: &Idp,
    before: i64,
    days: u32,
    changes: &mut Vec<ChangeEvent>,
) -> ServiceResult<u64> {
    let mut tx = idp.store.begin_write().await?;
    let stale = lifecycle::stale_requests(&mut tx, before, BATCH).await?;
    let reason = format!("no refused exchange asked for it in {days} days");
    let mut events = Vec::new();
    for (id, client_id) in &stale {
        if !lifecycle::expire_request(&mut tx, id, before, EXPIRY_ACTOR, &reason).await? {
            continue;
        }
        let mut e = system_event(EXPIRY_ACTOR, "request.expired", id);
        e.client_id = Some(client_id.clone());
        e.reason = Some(reason.clone());
        events.push(e);
        changes.push(
            idp_store::changes::record(&mut tx, ChangeKind::RequestDecided, id, idp.now_ms())
                .await?,
        );
    }
    let at = idp.now_ms();
    let rows: Vec<_> = events.iter().map(|e| (e, at)).collect();
    crate::audit::append(&mut tx, &rows).await?;
    tx.commit().await?;
    Ok(stale.len() as u64)
}

/// One batch of warnings to the owners of connections idle since `before`.
async fn warn_idle(idp: &Idp, before: i64, suspend_after: i64, days: u32) -> ServiceResult<u64> {
    let mut tx = idp.store.begin_write().await?;
    let idle = lifecycle::unwarned_idle(&mut tx, before, BATCH).await?;
    let mut events = Vec::new();
    for (id, idle_since) in &idle {
        let Some(v) = connection_view(idp, &mut tx, id).await? else {
            continue;
        };
        let suspend_at = idle_since + suspend_after;
        lifecycle::record_warning(&mut tx, id, idp.now(), suspend_at).await?;
        let owners = idp
            .catalog()
            .client(&v.client.client_id)
            .map(|c| c.owners.clone())
            .unwrap_or_default();
        let mut e = system_event(INACTIVITY_ACTOR, "connection.inactivity_warning", id);
        e.client_id = Some(v.client.client_id.clone());
        e.reason = Some(format!(
            "no ID-JAG issued since {idle_since}; suspended after {days} days idle"
        ));
        e.detail = json!({
            "idle_since": idle_since, "suspend_at": suspend_at, "owners": owners,
            "resource_app": v.resource_app.id,
        });
        events.push(e);
    }
    let at = idp.now_ms();
    let rows: Vec<_> = events.iter().map(|e| (e, at)).collect();
    crate::audit::append(&mut tx, &rows).await?;
    tx.commit().await?;
    Ok(idle.len() as u64)
}

/// One batch of connections idle since `before` suspended.
async fn suspend_idle(
    idp: &Idp,
    before: i64,
    days: u32,
    changes: &mut Vec<ChangeEvent>,
) -> ServiceResult<u64> {
    let mut tx = idp.store.begin_write().await?;
    let idle = lifecycle::idle_connections(&mut tx, before, BATCH).await?;
    let reason = format!("no ID-JAG issued in {days} days");
    for id in &idle {
        let moved = (
            ConnectionStatus::Suspended,
            INACTIVITY_ACTOR,
            "connection.suspend",
        );
        changes.extend(policy_moves(idp, &mut tx, id, moved, |_| reason.clone()).await?);
    }
    tx.commit().await?;
    Ok(idle.len() as u64)
}

/// Keeps the orphaned clients' table in step with the registry and the
/// directory (a client orphaned now is recorded since now; one with an owner
/// again is forgotten), then suspends, batch by batch, the active connections
/// of each client orphaned for longer than `days`.
async fn suspend_orphans(
    idp: &Idp,
    now: i64,
    days: u32,
    changes: &mut Vec<ChangeEvent>,
) -> ServiceResult<u64> {
    let active = super::ownership::active_people(idp).await?;
    let orphaned: std::collections::HashSet<String> = idp
        .catalog()
        .live_clients()
        .filter(|c| super::ownership::is_orphaned(c, &active))
        .map(|c| c.client_id.clone())
        .collect();
    let known = {
        let mut c = idp.store.acquire().await?;
        lifecycle::orphaned_clients(&mut c).await?
    };
    let new: Vec<&String> = orphaned
        .iter()
        .filter(|c| !known.contains_key(*c))
        .collect();
    let gone: Vec<&String> = known.keys().filter(|c| !orphaned.contains(*c)).collect();
    if !new.is_empty() || !gone.is_empty() {
        let mut tx = idp.store.begin_write().await?;
        for c in new {
            lifecycle::mark_orphaned(&mut tx, c, now).await?;
        }
        for c in gone {
            lifecycle::unmark_orphaned(&mut tx, c).await?;
        }
        tx.commit().await?;
    }
    let due: Vec<(String, i64)> = known
        .into_iter()
        .filter(|(c, (since, suspended))| {
            orphaned.contains(c) && suspended.is_none() && *since <= now - days as i64 * DAY
        })
        .map(|(c, (since, _))| (c, since))
        .collect();
    let mut suspended = 0;
    for (client_id, since) in due {
        let reason = format!(
            "the client has had no active owner since {since}; grace period of {days} days passed"
        );
        loop {
            let mut tx = idp.store.begin_write().await?;
            let ids = lifecycle::active_connections_of(&mut tx, &client_id, BATCH).await?;
            for id in &ids {
                let moved = (
                    ConnectionStatus::Suspended,
                    ORPHAN_ACTOR,
                    "connection.suspend",
                );
                changes.extend(policy_moves(idp, &mut tx, id, moved, |_| reason.clone()).await?);
            }
            suspended += ids.len() as u64;
            let last = ids.len() < BATCH as usize;
            if last {
                lifecycle::mark_orphan_suspended(&mut tx, &client_id, now).await?;
            }
            tx.commit().await?;
            if last {
                break;
            }
        }
    }
    Ok(suspended)
}

/// One batch of owners asked whether an approval expiring within `days` is
/// still needed.
async fn ask_attestations(idp: &Idp, now: i64, days: u32) -> ServiceResult<u64> {
    let mut tx = idp.store.begin_write().await?;
    let due = lifecycle::unasked_expiring(&mut tx, now, now + days as i64 * DAY, BATCH).await?;
    let mut events = Vec::new();
    for (id, expires_at) in &due {
        if !lifecycle::ask_attestation(&mut tx, id, *expires_at, now).await? {
            continue;
        }
        let Some(v) = connection_view(idp, &mut tx, id).await? else {
            continue;
        };
        let owners = idp
            .catalog()
            .client(&v.client.client_id)
            .map(|c| c.owners.clone())
            .unwrap_or_default();
        let mut e = system_event(LIFETIME_ACTOR, "connection.attestation_requested", id);
        e.client_id = Some(v.client.client_id.clone());
        e.reason = Some(format!(
            "the approval expires at {expires_at}: is it still needed?"
        ));
        e.detail = json!({
            "expires_at": expires_at, "owners": owners, "resource_app": v.resource_app.id,
        });
        events.push(e);
    }
    let at = idp.now_ms();
    let rows: Vec<_> = events.iter().map(|e| (e, at)).collect();
    crate::audit::append(&mut tx, &rows).await?;
    tx.commit().await?;
    Ok(due.len() as u64)
}

/// One batch of active connections past their expiry marked `expired`, with
/// the revocation events of a suspension (receivers drop what they issued).
async fn lapse(idp: &Idp, now: i64, changes: &mut Vec<ChangeEvent>) -> ServiceResult<u64> {
    let mut tx = idp.store.begin_write().await?;
    let ids = lifecycle::lapsed_connections(&mut tx, now, BATCH).await?;
    for id in &ids {
        let moved = (
            ConnectionStatus::Expired,
            LIFETIME_ACTOR,
            "connection.lapse",
        );
        let why = |v: &admin_api::ConnectionView| {
            let not_renewed = v
                .attestation
                .as_ref()
                .is_some_and(|a| a.renewal == Some(admin_api::RenewalDecision::NotRenewed));
            if not_renewed {
                "the approval expired; an approver decided not to renew it".to_owned()
            } else {
                "the approval expired unrenewed".to_owned()
            }
        };
        changes.extend(policy_moves(idp, &mut tx, id, moved, why).await?);
    }
    tx.commit().await?;
    Ok(ids.len() as u64)
}

/// Moves the active connection `id` to a status by a policy — `(status,
/// actor, audit kind)` — for the reason `why` gives (revocation events queued
/// as for any suspension); `None` when it is no longer active.
async fn policy_moves(
    idp: &Idp,
    tx: &mut idp_store::Conn,
    id: &str,
    (to, actor, kind): (ConnectionStatus, &str, &str),
    why: impl FnOnce(&admin_api::ConnectionView) -> String,
) -> Result<Option<ChangeEvent>, sqlx::Error> {
    let Some(v) = connection_view(idp, tx, id).await? else {
        return Ok(None);
    };
    if v.status != ConnectionStatus::Active {
        return Ok(None);
    }
    let reason = why(&v);
    let e = system_event(actor, kind, id);
    Ok(Some(
        super::connections::set_status_in_tx(idp, tx, &v, to, &reason, e).await?,
    ))
}

/// The IdP's own periodic run (every node may run it: each action is a
/// conditional write, so it happens once).
pub async fn run_due(idp: &Idp) {
    match run(idp).await {
        Ok(done) => {
            let r = done.announce(idp);
            if r != PolicyRunReport::default() {
                tracing::info!(
                    expired = r.requests_expired,
                    warned = r.inactivity_warnings,
                    suspended = r.connections_suspended,
                    orphans_suspended = r.orphan_suspensions,
                    attestations = r.attestations_requested,
                    lapsed = r.approvals_lapsed,
                    "lifecycle policies applied"
                );
            }
        }
        Err(e) => tracing::warn!(error = ?e, "lifecycle policies not applied; will retry"),
    }
}
