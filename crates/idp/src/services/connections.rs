//! What can be done to a connection: suspend, resume, revoke, modify its grant,
//! and revoke in bulk by client, user or resource app (the help-desk kill
//! switch); and the in-transaction steps access reviews reuse. A revoke is
//! committed — with its revocation events queued in the same transaction —
//! before the caller can acknowledge it.

use super::{Committed, Principal, ServiceError, ServiceResult, actor_event, required_reason};
use crate::{
    audit,
    revocation::{self, Revocation},
    state::Idp,
    views::{connection_from_row, connection_view},
};
use admin_api::*;
use idp_store::connections::{self, ConnectionChange, ConnectionFilter};
use serde_json::json;

/// The store's filter for a connection query: everything the query names, with
/// the user's groups and the names of clients and apps from the configuration.
pub async fn connection_filter(
    idp: &Idp,
    q: &ConnectionQuery,
    status: Option<ConnectionStatus>,
) -> Result<ConnectionFilter, sqlx::Error> {
    let user_groups = match &q.user {
        Some(u) => Some(idp.person(u).await?.map(|p| p.groups).unwrap_or_default()),
        None => None,
    };
    Ok(ConnectionFilter {
        status,
        live_only: false,
        client_id: q.client_id.clone(),
        resource_app: q.resource_app.clone(),
        unused_since: q.unused_for.map(|a| idp.now().saturating_sub(a)),
        group: q.group.clone(),
        user_groups,
        text: q
            .q
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(|n| super::text_search(idp, n)),
        min_risk_rank: q.risk.map(idp_store::risk_rank),
    })
}

/// The status a query names (`all` or none: every status).
pub fn status_of(q: &ConnectionQuery) -> Option<ConnectionStatus> {
    q.status.and_then(ConnectionStatusFilter::status)
}

/// A change of a connection's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Suspend,
    Resume,
    Revoke,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Suspend => "suspend",
            Action::Resume => "resume",
            Action::Revoke => "revoke",
        }
    }
}

/// Suspends, resumes or revokes connection `id`, read by the caller at
/// version `expected`, for `reason`.
pub async fn change_status(
    idp: &Idp,
    who: &Principal,
    id: &str,
    expected: i64,
    action: Action,
    reason: &str,
) -> ServiceResult<Committed<ConnectionView>> {
    let name = action.as_str();

    let reason = required_reason(reason)?;
    let mut tx = idp.store.begin_write().await?;
    let v = connection_view(idp, &mut tx, id)
        .await?
        .ok_or(ServiceError::NotFound("the connection"))?;
    if v.version != expected {
        return Err(ServiceError::stale(&v));
    }
    let (from_ok, to) = match action {
        Action::Suspend => (
            v.status == ConnectionStatus::Active,
            ConnectionStatus::Suspended,
        ),
        Action::Resume => (
            v.status == ConnectionStatus::Suspended,
            ConnectionStatus::Active,
        ),
        Action::Revoke => (
            matches!(
                v.status,
                ConnectionStatus::Active | ConnectionStatus::Suspended
            ),
            ConnectionStatus::Revoked,
        ),
    };
    if !from_ok {
        return Err(ServiceError::conflict(format!(
            "a {} connection cannot be {name}d",
            v.status.as_str()
        )));
    }
    let e = actor_event(who, &format!("connection.{name}"), id);
    let events = vec![set_status_in_tx(idp, &mut tx, &v, to, reason, e).await?];
    let view = connection_view(idp, &mut tx, id)
        .await?
        .ok_or(ServiceError::NotFound("the connection"))?;
    tx.commit().await?;
    Ok(Committed {
        value: view,
        changes: events,
        connections_changed: true,
    })
}

/// Changes the grant of connection `id` (read at version `expected`): narrower
/// or (by an approver, with step-up for a sensitive scope) wider scopes,
/// groups, MCP servers, step-up rules, ID-JAG lifetime, expiry.
pub async fn modify(
    idp: &Idp,
    who: &Principal,
    id: &str,
    expected: i64,
    m: &ModifyConnection,
) -> ServiceResult<Committed<ConnectionView>> {
    let reason = required_reason(&m.reason)?.to_owned();
    let now = idp.now();
    let mut tx = idp.store.begin_write().await?;
    let v = connection_view(idp, &mut tx, id)
        .await?
        .ok_or(ServiceError::NotFound("the connection"))?;
    if v.version != expected {
        return Err(ServiceError::stale(&v));
    }
    if !matches!(
        v.status,
        ConnectionStatus::Active | ConnectionStatus::Suspended
    ) {
        return Err(ServiceError::conflict(
            "only a live connection can be modified",
        ));
    }
    let app = idp
        .catalog()
        .resource_app(&v.resource_app.id)
        .ok_or_else(|| ServiceError::conflict("the app is gone"))?;
    let mut scopes = v.scopes.clone();
    let mut widened = false;
    if let Some(list) = &m.scopes {
        if list.is_empty() {
            return Err(ServiceError::invalid(
                "keep at least one scope, or revoke the connection",
            ));
        }
        if let Some(bad) = list.iter().find(|s| app.scope(s).is_none()) {
            return Err(ServiceError::invalid(format!(
                "`{bad}` is not a scope of {}",
                app.name
            )));
        }
        let current: Vec<String> = v.granted_scopes.iter().map(|s| s.name.clone()).collect();
        widened = list.iter().any(|s| !current.contains(s));
        if list
            .iter()
            .any(|s| !current.contains(s) && app.scope(s).is_some_and(|d| d.sensitive))
        {
            who.require_recent_mfa(now)?;
        }
        scopes = ScopeCondition::IncludeOnly(list.clone());
    }
    if widened && !(who.has(Role::Approver) || who.has(Role::Admin)) {
        return Err(ServiceError::forbidden(
            "only approvers can widen a connection",
        ));
    }
    if m.id_jag_lifetime
        .is_some_and(|l| !(1..=xaa::MAX_ID_JAG_LIFETIME).contains(&l))
    {
        return Err(ServiceError::invalid(
            "id_jag_lifetime must be between 1 and 300 seconds",
        ));
    }
    if let Some(bad) = m
        .allowed_resources
        .iter()
        .flatten()
        .find(|r| !app.mcp_servers.contains(r))
    {
        return Err(ServiceError::invalid(format!(
            "`{bad}` is not one of {}'s MCP servers",
            app.name
        )));
    }
    let expires_at = match m.expires_at {
        Some(0) => None,
        Some(e) if e <= now => {
            return Err(ServiceError::invalid(
                "expires_at must be in the future (0 clears it)",
            ));
        }
        Some(e) => Some(e),
        None => v.expires_at,
    };
    let change = ConnectionChange {
        scopes: &scopes,
        allowed_groups: m.allowed_groups.as_ref().unwrap_or(&v.allowed_groups),
        allowed_resources: m.allowed_resources.as_ref().unwrap_or(&v.allowed_resources),
        step_up: m.step_up.as_ref().unwrap_or(&v.step_up),
        id_jag_lifetime: m.id_jag_lifetime.or(v.id_jag_lifetime),
        expires_at,
    };
    connections::modify(&mut tx, id, &change, now).await?;
    let mut e = actor_event(who, "connection.modify", id);
    e.client_id = Some(v.client.client_id.clone());
    e.reason = Some(reason);
    let after = connection_view(idp, &mut tx, id)
        .await?
        .ok_or(ServiceError::NotFound("the connection"))?;
    e.detail["before"] = json!({ "scopes": v.scopes, "allowed_groups": v.allowed_groups, "expires_at": v.expires_at, "step_up": v.step_up });
    e.detail["after"] = json!({ "scopes": after.scopes, "allowed_groups": after.allowed_groups, "expires_at": after.expires_at, "step_up": after.step_up });
    audit::append(&mut tx, &[(&e, idp.now_ms())]).await?;
    let events = vec![
        idp_store::changes::record(
            &mut tx,
            admin_api::ChangeKind::ConnectionUpdated,
            id,
            idp.now_ms(),
        )
        .await?,
    ];
    tx.commit().await?;
    Ok(Committed {
        value: after,
        changes: events,
        connections_changed: true,
    })
}

/// The kill switch: every live connection of one client or app revoked, or one
/// user blocked everywhere; a dry run counts what the real run would do.
pub async fn revoke_in_bulk(
    idp: &Idp,
    who: &Principal,
    b: &BulkRevoke,
) -> ServiceResult<Committed<BulkRevokeResult>> {
    let reason = required_reason(&b.reason)?.to_owned();
    let selectors = [
        b.client_id.is_some(),
        b.resource_app.is_some(),
        b.username.is_some(),
    ];
    if selectors.iter().filter(|s| **s).count() != 1 {
        return Err(ServiceError::invalid(
            "name exactly one of client_id, resource_app, username",
        ));
    }
    if let Some(u) = &b.username
        && idp.person(u).await?.is_none()
    {
        return Err(ServiceError::NotFound("the user"));
    }
    if !b.dry_run {
        who.require_recent_mfa(idp.now())?;
    }
    let mut tx = idp.store.begin_write().await?;
    let live = connections::matching(
        &mut tx,
        &ConnectionFilter {
            live_only: true,
            client_id: b.client_id.clone(),
            resource_app: b.resource_app.clone(),
            ..Default::default()
        },
    )
    .await?;
    let rows: Vec<(String, String, String, i64, ConnectionStatus)> = live
        .into_iter()
        .map(|r| {
            let c = r.connection;
            (c.id, c.client_id, c.resource_app, c.version, c.status)
        })
        .collect();
    // A user selector does not revoke connections (they are shared by everyone);
    // it blocks the user and kills their sessions at every app.
    let by_user = b.username.is_some();
    let ids: Vec<String> = if by_user {
        vec![]
    } else {
        rows.iter().map(|r| r.0.clone()).collect()
    };
    let mut result = BulkRevokeResult {
        dry_run: b.dry_run,
        connections_revoked: ids.len() as u64,
        connection_ids: ids.clone(),
        users_blocked: u64::from(by_user),
        events_queued: 0,
        kill_id: None,
    };
    if b.dry_run {
        // Count what the real run queues: one event per receiver of each
        // revoked connection's app, or of every app for a blocked user.
        result.events_queued = if by_user {
            idp.catalog()
                .live_apps()
                .map(|a| revocation::receivers_of(idp, &a.id))
                .sum()
        } else {
            rows.iter()
                .map(|r| revocation::receivers_of(idp, &r.2))
                .sum()
        };
        return Ok(Committed {
            value: result,
            changes: vec![],
            connections_changed: false,
        });
    }
    let now = idp.now();
    let mut events = Vec::new();
    // What this kill turns off, so a reinstatement turns exactly that back on.
    let kill_id = format!("kill_{}", uuid::Uuid::new_v4().simple());
    let (selector, target) = match (&b.client_id, &b.resource_app, &b.username) {
        (Some(c), _, _) => (KillSelector::Client, c.clone()),
        (_, Some(a), _) => (KillSelector::ResourceApp, a.clone()),
        (_, _, Some(u)) => (KillSelector::User, u.clone()),
        _ => unreachable!("exactly one selector was checked above"),
    };
    let newly_blocked = match &b.username {
        Some(u) if !idp_store::blocks::blocked_in(&mut tx, u).await? => Some(u.clone()),
        _ => None,
    };
    idp_store::kills::insert(
        &mut tx,
        &idp_store::kills::KillRow {
            id: kill_id.clone(),
            selector,
            target,
            reason: reason.clone(),
            killed_by: who.subject.clone(),
            killed_at: now,
            blocked_user: newly_blocked,
            reinstated_by: None,
            reinstated_at: None,
            reinstate_reason: None,
            version: 1,
        },
    )
    .await?;
    for (id, client, app, version, before) in rows.iter().filter(|_| !by_user) {
        connections::set_status(&mut tx, id, ConnectionStatus::Revoked, &reason, now).await?;
        idp_store::kills::add_connection(&mut tx, &kill_id, id, *before, version + 1).await?;
        result.events_queued += revocation::enqueue(
            idp,
            &mut tx,
            &Revocation {
                event: revocation::SetEvent::Revoked,
                kill_id: Some(&kill_id),
                connection_id: Some(id),
                connection_version: Some(version + 1),
                resource_app: app,
                client_id: Some(client),
                username: None,
                reason: &reason,
            },
        )
        .await?;
        events.push(
            idp_store::changes::record(
                &mut tx,
                admin_api::ChangeKind::ConnectionRevoked,
                id,
                idp.now_ms(),
            )
            .await?,
        );
    }
    if let Some(u) = &b.username {
        idp_store::blocks::block(&mut tx, u, &reason, &who.subject, now).await?;
        result.events_queued += revocation::enqueue_user_wide(
            idp,
            &mut tx,
            (revocation::SetEvent::Revoked, Some(&kill_id)),
            u,
            &reason,
        )
        .await?;
        events.push(
            idp_store::changes::record(
                &mut tx,
                admin_api::ChangeKind::UserBlocked,
                u,
                idp.now_ms(),
            )
            .await?,
        );
    }
    let mut e = actor_event(
        who,
        "connection.bulk_revoke",
        b.client_id
            .as_deref()
            .or(b.resource_app.as_deref())
            .or(b.username.as_deref())
            .unwrap_or(""),
    );
    e.reason = Some(reason.clone());
    result.kill_id = Some(kill_id);
    e.detail["selector"] =
        json!({ "client_id": b.client_id, "resource_app": b.resource_app, "username": b.username });
    e.detail["after"] = json!(result);
    audit::append(&mut tx, &[(&e, idp.now_ms())]).await?;
    tx.commit().await?;
    Ok(Committed {
        value: result,
        changes: events,
        connections_changed: true,
    })
}

/// The connection if it is live (active or suspended).
async fn live_view(
    idp: &Idp,
    tx: &mut idp_store::Conn,
    id: &str,
) -> Result<Option<ConnectionView>, sqlx::Error> {
    let Some(row) = connections::get_live(tx, id).await? else {
        return Ok(None);
    };
    let receipts = idp_store::outbox::receipts(tx, id).await?;
    Ok(Some(connection_from_row(idp, row, receipts)))
}

/// Revokes a live connection inside `tx`: status, the revocation events of every
/// receiver (durable outbox), the audit event `base` (actor set by the caller)
/// and the change row. The caller commits, then invalidates the connection
/// cache and wakes the outbox. `None` when the connection was no longer live.
pub async fn revoke_in_tx(
    idp: &Idp,
    tx: &mut idp_store::Conn,
    id: &str,
    reason: &str,
    base: audit::AuditEvent,
) -> Result<Option<ChangeEvent>, sqlx::Error> {
    let Some(v) = live_view(idp, tx, id).await? else {
        return Ok(None);
    };
    Ok(Some(
        set_status_in_tx(idp, tx, &v, ConnectionStatus::Revoked, reason, base).await?,
    ))
}

/// Moves connection `v` to status `to` inside `tx`: the row, revocation events
/// for every receiver unless it is being resumed (a suspended connection grants
/// nothing either), the audit event `base` with before/after, the change row.
pub(crate) async fn set_status_in_tx(
    idp: &Idp,
    tx: &mut idp_store::Conn,
    v: &ConnectionView,
    to: ConnectionStatus,
    reason: &str,
    base: audit::AuditEvent,
) -> Result<ChangeEvent, sqlx::Error> {
    connections::set_status(tx, &v.id, to, reason, idp.now()).await?;
    let mut queued = 0;
    if to != ConnectionStatus::Active {
        queued = revocation::enqueue(
            idp,
            tx,
            &Revocation {
                event: revocation::SetEvent::Revoked,
                kill_id: None,
                connection_id: Some(&v.id),
                connection_version: Some(v.version + 1),
                resource_app: &v.resource_app.id,
                client_id: Some(&v.client.client_id),
                username: None,
                reason,
            },
        )
        .await?;
    }
    let kind = if to == ConnectionStatus::Revoked {
        ChangeKind::ConnectionRevoked
    } else {
        ChangeKind::ConnectionUpdated
    };
    let before = json!({ "status": v.status });
    let after = json!({ "status": to, "revocation_events": queued });
    audited_change(idp, tx, v, base, reason, (before, after), kind).await
}

/// What every in-transaction step ends with: the audit event `base` for
/// connection `v` (its client, the reason, the state before and after), then
/// the change row of `kind`.
async fn audited_change(
    idp: &Idp,
    tx: &mut idp_store::Conn,
    v: &ConnectionView,
    mut base: audit::AuditEvent,
    reason: &str,
    (before, after): (serde_json::Value, serde_json::Value),
    kind: ChangeKind,
) -> Result<ChangeEvent, sqlx::Error> {
    base.client_id = Some(v.client.client_id.clone());
    base.reason = Some(reason.to_owned());
    base.detail["before"] = before;
    base.detail["after"] = after;
    audit::append(tx, &[(&base, idp.now_ms())]).await?;
    idp_store::changes::record(tx, kind, &v.id, idp.now_ms()).await
}

/// Narrows a live connection to `scopes` inside `tx` (audit `base` and change row
/// included); `None` when it was no longer live.
pub async fn narrow_in_tx(
    idp: &Idp,
    tx: &mut idp_store::Conn,
    id: &str,
    scopes: &[String],
    reason: &str,
    base: audit::AuditEvent,
) -> Result<Option<ChangeEvent>, sqlx::Error> {
    let Some(v) = live_view(idp, tx, id).await? else {
        return Ok(None);
    };
    let condition = ScopeCondition::IncludeOnly(scopes.to_vec());
    connections::set_scopes(tx, id, &condition, idp.now()).await?;
    let before = json!({ "scopes": v.granted_scopes.iter().map(|s| &s.name).collect::<Vec<_>>() });
    let after = json!({ "scopes": scopes });
    let change = (before, after);
    let kind = ChangeKind::ConnectionUpdated;
    Ok(Some(
        audited_change(idp, tx, &v, base, reason, change, kind).await?,
    ))
}

/// Removes one user's access through a live connection inside `tx` (an access
/// review's per-user revoke): the gate refuses them from the commit on, and a
/// revocation event with the user and client as subject kills their live tokens
/// at the app. `None` when the connection was no longer live or they were
/// already removed.
pub async fn exclude_user_in_tx(
    idp: &Idp,
    tx: &mut idp_store::Conn,
    id: &str,
    username: &str,
    reason: &str,
    mut base: audit::AuditEvent,
) -> Result<Option<ChangeEvent>, sqlx::Error> {
    let Some(v) = live_view(idp, tx, id).await? else {
        return Ok(None);
    };
    if v.excluded_users.iter().any(|u| u == username) {
        return Ok(None);
    }
    let mut excluded = v.excluded_users.clone();
    excluded.push(username.to_owned());
    connections::set_excluded_users(tx, id, &excluded, idp.now()).await?;
    let queued = revocation::enqueue(
        idp,
        tx,
        &Revocation {
            event: revocation::SetEvent::Revoked,
            kill_id: None,
            connection_id: Some(id),
            connection_version: Some(v.version + 1),
            resource_app: &v.resource_app.id,
            client_id: Some(&v.client.client_id),
            username: Some(username),
            reason,
        },
    )
    .await?;
    base.subject = Some(username.to_owned());
    let before = json!({ "excluded_users": v.excluded_users });
    let after = json!({ "excluded_users": excluded, "revocation_events": queued });
    let change = (before, after);
    let kind = ChangeKind::ConnectionUpdated;
    Ok(Some(
        audited_change(idp, tx, &v, base, reason, change, kind).await?,
    ))
}
