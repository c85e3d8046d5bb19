//! Deciding a connection request: approve (possibly narrowed, time-bound, with
//! step-up rules) or deny with a reason. Decisions obey separation of duties,
//! need two distinct approvers and a recent MFA sign-in when a sensitive scope is
//! granted, and are atomic: the request, the connection, the audit event and the
//! change feed commit together or not at all.

use super::{Committed, Principal, ServiceError, ServiceResult, actor_event};
use crate::{
    audit,
    state::Idp,
    views::{connection_view, request_view},
};
use admin_api::*;
use idp_store::{
    connections::{self, NewConnection},
    requests,
};
use serde_json::json;

/// What an approver decided.
#[derive(Debug, Clone)]
pub enum Decision {
    Approve(ApproveRequest),
    Deny { reason: String },
}

/// Where a decision left the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecisionOutcome {
    /// The first of two approvals a sensitive grant needs was recorded; the
    /// request is still pending.
    AwaitingSecondApproval,
    /// Approved: the connection exists (created or re-granted).
    Approved,
    Denied,
}

/// The outcome, and the request (and connection) as the decision left them.
#[derive(Debug, Clone)]
pub struct Decided {
    pub outcome: DecisionOutcome,
    pub result: DecisionResult,
}

/// Decides request `id`, which the caller read at `expected` (its version).
pub async fn decide(
    idp: &Idp,
    who: &Principal,
    id: &str,
    expected: i64,
    decision: &Decision,
) -> ServiceResult<Committed<Decided>> {
    match decision {
        Decision::Approve(grant) => approve(idp, who, id, expected, grant).await,
        Decision::Deny { reason } => deny(idp, who, id, expected, reason).await,
    }
}

/// Checks separation of duties: not a requester, not an owner or the sponsor
/// of the client.
fn check_sod(idp: &Idp, who: &Principal, v: &RequestView) -> ServiceResult<()> {
    if v.users.iter().any(|u| u.username == who.subject) {
        return Err(ServiceError::sod(
            "you triggered this request, so someone else must decide it",
        ));
    }
    if idp
        .catalog()
        .client(&v.client.client_id)
        .is_some_and(|c| super::ownership::accountable_for(&c, &who.subject))
    {
        return Err(ServiceError::sod(
            "you own or sponsor this client, so someone else must decide its requests",
        ));
    }
    Ok(())
}

/// Validates a grant against the request and the app; returns the granted scopes.
fn validate_grant(
    idp: &Idp,
    v: &RequestView,
    g: &ApproveRequest,
    now: i64,
) -> ServiceResult<Vec<String>> {
    let app = idp
        .catalog()
        .resource_app(&v.resource_app.id)
        .ok_or_else(|| ServiceError::conflict("the resource app is no longer configured"))?;
    let requested: Vec<String> = if v.scopes.is_empty() {
        app.scopes.iter().map(|s| s.name.clone()).collect()
    } else {
        v.scopes.iter().map(|s| s.name.clone()).collect()
    };
    let scopes = g.scopes.clone().unwrap_or_else(|| requested.clone());
    if scopes.is_empty() {
        return Err(ServiceError::invalid(
            "grant at least one scope, or deny the request",
        ));
    }
    if let Some(extra) = scopes.iter().find(|s| !requested.contains(s)) {
        return Err(ServiceError::invalid(format!(
            "`{extra}` was not requested; an approval can only narrow"
        )));
    }
    if let Some(bad) = g
        .allowed_resources
        .iter()
        .find(|r| !app.mcp_servers.contains(r))
    {
        return Err(ServiceError::invalid(format!(
            "`{bad}` is not one of {}'s MCP servers",
            app.name
        )));
    }
    if let Some(l) = g.id_jag_lifetime
        && !(1..=xaa::MAX_ID_JAG_LIFETIME).contains(&l)
    {
        return Err(ServiceError::invalid(
            "id_jag_lifetime must be between 1 and 300 seconds",
        ));
    }
    if g.expires_at.is_some_and(|e| e <= now) {
        return Err(ServiceError::invalid("expires_at must be in the future"));
    }
    if let Some(r) = g.step_up.iter().find(|r| !scopes.contains(&r.scope)) {
        return Err(ServiceError::invalid(format!(
            "a step-up rule names `{}`, which is not granted",
            r.scope
        )));
    }
    if g.justification
        .as_deref()
        .is_some_and(|j| j.chars().count() > 2000)
    {
        return Err(ServiceError::invalid(
            "the justification is longer than 2000 characters",
        ));
    }
    Ok(scopes)
}

/// Loads a request inside the decision's transaction and checks what every
/// decision needs: it exists, the caller read the current version, it is still
/// undecided, and the caller may decide it.
async fn open_for_decision(
    idp: &Idp,
    who: &Principal,
    tx: &mut idp_store::Conn,
    id: &str,
    expected: i64,
) -> ServiceResult<RequestView> {
    let v = request_view(idp, tx, id)
        .await?
        .ok_or_else(|| ServiceError::NotFound("the request"))?;
    if v.version != expected {
        return Err(ServiceError::stale(&v));
    }
    if !matches!(
        v.status,
        RequestStatus::Pending | RequestStatus::AwaitingSecondApproval
    ) {
        return Err(ServiceError::conflict(format!(
            "the request is already {}",
            v.status.as_str()
        )));
    }
    check_sod(idp, who, &v)?;
    Ok(v)
}

async fn approve(
    idp: &Idp,
    who: &Principal,
    id: &str,
    expected: i64,
    grant: &ApproveRequest,
) -> ServiceResult<Committed<Decided>> {
    let now = idp.now();
    let lifetimes = super::lifecycle::current(idp).await?.policies.approval_days;
    let mut tx = idp.store.begin_write().await?;
    let v = open_for_decision(idp, who, &mut tx, id, expected).await?;
    let scopes = validate_grant(idp, &v, grant, now)?;
    let app = idp
        .catalog()
        .resource_app(&v.resource_app.id)
        .ok_or_else(|| ServiceError::conflict("the resource app is no longer configured"))?;
    let sensitive = scopes
        .iter()
        .any(|s| app.scope(s).is_some_and(|d| d.sensitive));
    let mut changes = Vec::new();
    if sensitive {
        who.require_recent_mfa(now)?;
        match v.approvals.first() {
            None => {
                // First of two approvals: record it, leave the request pending.
                let mut first = grant.clone();
                first.scopes = Some(scopes.clone());
                requests::record_first_approval(&mut tx, id, &who.subject, &first, now).await?;
                let mut e = actor_event(who, "connection_request.first_approval", id);
                e.client_id = Some(v.client.client_id.clone());
                e.detail["grant"] = json!(first);
                audit::append(&mut tx, &[(&e, idp.now_ms())]).await?;
                changes.push(
                    idp_store::changes::record(
                        &mut tx,
                        ChangeKind::RequestUpdated,
                        id,
                        idp.now_ms(),
                    )
                    .await?,
                );
                let request = request_view(idp, &mut tx, id)
                    .await?
                    .ok_or(ServiceError::NotFound("the request"))?;
                tx.commit().await?;
                return Ok(Committed {
                    value: Decided {
                        outcome: DecisionOutcome::AwaitingSecondApproval,
                        result: DecisionResult {
                            request,
                            connection: None,
                        },
                    },
                    changes,
                    connections_changed: false,
                });
            }
            Some(first) if first.approver == who.subject => {
                return Err(ServiceError::sod(
                    "you already approved; a second, different approver must confirm",
                ));
            }
            Some(first) => {
                let allowed = first.grant.scopes.clone().unwrap_or_default();
                if let Some(extra) = scopes.iter().find(|s| !allowed.contains(s)) {
                    return Err(ServiceError::invalid(format!(
                        "`{extra}` was not in the first approval; the second approver can only narrow it"
                    )));
                }
            }
        }
    }
    let mut approvers: Vec<String> = v.approvals.iter().map(|a| a.approver.clone()).collect();
    approvers.push(who.subject.clone());
    if let Some(re) = &v.reapproval {
        return confirm_reapproval(idp, who, tx, &v, re, &approvers, grant, changes).await;
    }
    // Final approval: create or update the connection, expiring when the
    // approver said or else after the policy's lifetime for its risk.
    let expires_at = match grant.expires_at {
        Some(at) => Some(at),
        None => default_expiry(idp, &lifetimes, &v.resource_app.id, &scopes, now),
    };
    let condition = ScopeCondition::IncludeOnly(scopes.clone());
    let live = connections::live_id(&mut tx, &v.client.client_id, &v.resource_app.id).await?;
    let n = NewConnection {
        client_id: &v.client.client_id,
        resource_app: &v.resource_app.id,
        scopes: &condition,
        allowed_groups: &grant.allowed_groups,
        allowed_resources: &grant.allowed_resources,
        step_up: &grant.step_up,
        id_jag_lifetime: grant.id_jag_lifetime,
        expires_at,
        approved_by: &approvers,
        justification: grant.justification.as_deref(),
        request_id: Some(id),
    };
    let conn_id = match live {
        Some(live) => {
            connections::regrant(&mut tx, &live, &n, now).await?;
            live
        }
        None => connections::insert(&mut tx, &n, now, false)
            .await?
            .ok_or_else(|| ServiceError::conflict("the connection could not be created"))?,
    };
    record_decision(
        idp,
        &mut tx,
        &v,
        RequestStatus::Approved,
        &approvers,
        grant.justification.as_deref(),
        Some(&conn_id),
    )
    .await?;
    let mut e = actor_event(who, "connection_request.approve", id);
    e.client_id = Some(v.client.client_id.clone());
    e.reason = grant.justification.clone();
    e.detail["before"] = json!({
        "status": v.status,
        "requested_scopes": v.scopes.iter().map(|s| &s.name).collect::<Vec<_>>(),
    });
    e.detail["after"] = json!({
        "connection_id": conn_id, "grant": grant, "scopes": scopes, "approvers": approvers,
        "expires_at": expires_at, "expiry_from_policy": grant.expires_at.is_none() && expires_at.is_some(),
    });
    audit::append(&mut tx, &[(&e, idp.now_ms())]).await?;
    for (kind, target) in [
        (ChangeKind::RequestDecided, id),
        (ChangeKind::ConnectionUpdated, conn_id.as_str()),
    ] {
        changes.push(idp_store::changes::record(&mut tx, kind, target, idp.now_ms()).await?);
    }
    approved(idp, tx, id, &conn_id, changes, true).await
}

/// Records a decision on request `v` with the rules (each scope's risk and
/// sensitivity) it is made under.
async fn record_decision(
    idp: &Idp,
    tx: &mut idp_store::Conn,
    v: &RequestView,
    status: RequestStatus,
    by: &[String],
    reason: Option<&str>,
    connection_id: Option<&str>,
) -> Result<(), sqlx::Error> {
    requests::decide(tx, &v.id, status, by, reason, connection_id).await?;
    let names: Vec<String> = v.scopes.iter().map(|s| s.name.clone()).collect();
    let rules = crate::views::rules_now(idp, &v.resource_app.id, &names);
    requests::record_decided_rules(tx, &v.id, &rules).await
}

/// The expiry an approval of `scopes` of `app` gets when the approver set
/// none: the lifecycle policy's default for its highest risk, from `now`.
pub fn default_expiry(
    idp: &Idp,
    lifetimes: &admin_api::ApprovalLifetimes,
    app: &str,
    scopes: &[String],
    now: i64,
) -> Option<i64> {
    let risk = crate::views::rules_now(idp, app, scopes)
        .iter()
        .map(|r| r.risk)
        .max()?;
    lifetimes
        .for_risk(risk)
        .map(|days| now + i64::from(days) * 86_400)
}

/// Ends an approval: the request and its connection as they now are, read in
/// the decision's transaction, which then commits.
async fn approved(
    idp: &Idp,
    mut tx: idp_store::Tx,
    request_id: &str,
    connection_id: &str,
    changes: Vec<ChangeEvent>,
    connections_changed: bool,
) -> ServiceResult<Committed<Decided>> {
    let request = request_view(idp, &mut tx, request_id)
        .await?
        .ok_or(ServiceError::NotFound("the request"))?;
    let connection = connection_view(idp, &mut tx, connection_id).await?;
    tx.commit().await?;
    Ok(Committed {
        value: Decided {
            outcome: DecisionOutcome::Approved,
            result: DecisionResult {
                request,
                connection,
            },
        },
        changes,
        connections_changed,
    })
}

/// Approves a re-approval: the live connection stays as it was approved, now
/// confirmed under the riskier catalogue (narrowing it is a separate change).
#[allow(clippy::too_many_arguments)]
async fn confirm_reapproval(
    idp: &Idp,
    who: &Principal,
    mut tx: idp_store::Tx,
    v: &RequestView,
    re: &Reapproval,
    approvers: &[String],
    grant: &ApproveRequest,
    mut changes: Vec<ChangeEvent>,
) -> ServiceResult<Committed<Decided>> {
    record_decision(
        idp,
        &mut tx,
        v,
        RequestStatus::Approved,
        approvers,
        grant.justification.as_deref(),
        Some(&re.connection_id),
    )
    .await?;
    let mut e = actor_event(who, "connection_request.approve", &v.id);
    e.client_id = Some(v.client.client_id.clone());
    e.reason = grant.justification.clone();
    e.detail["reapproval"] = json!(re);
    e.detail["after"] = json!({ "connection_id": re.connection_id, "approvers": approvers });
    audit::append(&mut tx, &[(&e, idp.now_ms())]).await?;
    changes.push(
        idp_store::changes::record(&mut tx, ChangeKind::RequestDecided, &v.id, idp.now_ms())
            .await?,
    );
    approved(idp, tx, &v.id, &re.connection_id, changes, false).await
}

async fn deny(
    idp: &Idp,
    who: &Principal,
    id: &str,
    expected: i64,
    reason: &str,
) -> ServiceResult<Committed<Decided>> {
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > 2000 {
        return Err(ServiceError::invalid(
            "a reason (1 to 2000 characters) is required to deny",
        ));
    }
    let mut tx = idp.store.begin_write().await?;
    let v = open_for_decision(idp, who, &mut tx, id, expected).await?;
    record_decision(
        idp,
        &mut tx,
        &v,
        RequestStatus::Denied,
        std::slice::from_ref(&who.subject),
        Some(reason),
        None,
    )
    .await?;
    let mut e = actor_event(who, "connection_request.deny", id);
    e.client_id = Some(v.client.client_id.clone());
    e.reason = Some(reason.to_owned());
    e.detail["before"] = json!({ "status": v.status });
    e.detail["after"] = json!({ "status": RequestStatus::Denied });
    audit::append(&mut tx, &[(&e, idp.now_ms())]).await?;
    let mut changes = vec![
        idp_store::changes::record(&mut tx, ChangeKind::RequestDecided, id, idp.now_ms()).await?,
    ];
    // Denying a re-approval revokes the connection it is about, with its
    // revocation events, in this transaction.
    let revoked = match &v.reapproval {
        Some(re) => {
            let base = actor_event(who, "connection.revoke", &re.connection_id);
            let why = format!("re-approval denied: {reason}");
            super::connections::revoke_in_tx(idp, &mut tx, &re.connection_id, &why, base).await?
        }
        None => None,
    };
    let connections_changed = revoked.is_some();
    changes.extend(revoked);
    let request = request_view(idp, &mut tx, id)
        .await?
        .ok_or(ServiceError::NotFound("the request"))?;
    tx.commit().await?;
    Ok(Committed {
        value: Decided {
            outcome: DecisionOutcome::Denied,
            result: DecisionResult {
                request,
                connection: None,
            },
        },
        changes,
        connections_changed,
    })
}
