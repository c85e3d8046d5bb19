//! An approval coming to its end. Before a time-bound connection expires the
//! lifecycle run asks its client's owners whether it is still needed
//! ([`super::lifecycle`]); an owner answers here (`attest`), and an approver —
//! never an owner or the sponsor — renews it to a new expiry or decides to let
//! it lapse (`renew`: "reviewed, don't renew" is a decision too). Both are
//! recorded against the expiry they are about, shown with the connection, and
//! audited; each moves the connection's version (its `ETag`).

use super::{Committed, Principal, ServiceError, ServiceResult, actor_event, required_reason};
use crate::{audit, state::Idp, views::connection_view};
use admin_api::{
    AttestBody, ChangeKind, ConnectionStatus, ConnectionView, RenewBody, RenewalDecision,
};
use idp_store::{connections, lifecycle};
use serde_json::json;

/// The live, time-bound connection `id` at version `expected`, read in `tx`,
/// and its expiry.
async fn time_bound(
    idp: &Idp,
    tx: &mut idp_store::Conn,
    id: &str,
    expected: i64,
) -> ServiceResult<(ConnectionView, i64)> {
    let v = connection_view(idp, tx, id)
        .await?
        .ok_or(ServiceError::NotFound("the connection"))?;
    if v.version != expected {
        return Err(ServiceError::stale(&v));
    }
    if !matches!(
        v.status,
        ConnectionStatus::Active | ConnectionStatus::Suspended
    ) {
        return Err(ServiceError::conflict(format!(
            "a {} connection has no approval to renew",
            v.status.as_str()
        )));
    }
    let expires_at = v.expires_at.ok_or_else(|| {
        ServiceError::conflict("the approval has no expiry: it lasts until revoked")
    })?;
    Ok((v, expires_at))
}

/// Ends a change to connection `id`: the event, a new version, the change row;
/// commits and returns the connection as it now is.
async fn finish(
    idp: &Idp,
    mut tx: idp_store::Tx,
    v: &ConnectionView,
    e: audit::AuditEvent,
    touched: bool,
) -> ServiceResult<Committed<ConnectionView>> {
    if touched {
        connections::touch(&mut tx, &v.id, idp.now()).await?;
    }
    audit::append(&mut tx, &[(&e, idp.now_ms())]).await?;
    let change =
        idp_store::changes::record(&mut tx, ChangeKind::ConnectionUpdated, &v.id, idp.now_ms())
            .await?;
    let view = connection_view(idp, &mut tx, &v.id)
        .await?
        .ok_or(ServiceError::NotFound("the connection"))?;
    tx.commit().await?;
    Ok(Committed {
        value: view,
        changes: vec![change],
        connections_changed: true,
    })
}

/// An owner of the connection's client says whether its approval is still
/// needed (asked or not yet asked).
pub async fn attest(
    idp: &Idp,
    who: &Principal,
    id: &str,
    expected: i64,
    body: &AttestBody,
) -> ServiceResult<Committed<ConnectionView>> {
    let reason = required_reason(&body.reason)?;
    let mut tx = idp.store.begin_write().await?;
    let (v, expires_at) = time_bound(idp, &mut tx, id, expected).await?;
    let owns = idp
        .catalog()
        .client(&v.client.client_id)
        .is_some_and(|c| super::ownership::owns(&c, &who.subject));
    if !owns {
        return Err(ServiceError::forbidden(
            "only an owner of the client attests that its approval is still needed",
        ));
    }
    lifecycle::record_attestation(
        &mut tx,
        id,
        expires_at,
        &who.subject,
        body.still_needed,
        reason,
        idp.now(),
    )
    .await?;
    let mut e = actor_event(who, "connection.attest", id);
    e.client_id = Some(v.client.client_id.clone());
    e.reason = Some(reason.to_owned());
    e.detail["after"] = json!({ "expires_at": expires_at, "still_needed": body.still_needed });
    finish(idp, tx, &v, e, true).await
}

/// An approver renews the approval of connection `id` (to `expires_at`, else
/// the policy's lifetime for its risk from now) or decides to let it lapse.
pub async fn renew(
    idp: &Idp,
    who: &Principal,
    id: &str,
    expected: i64,
    body: &RenewBody,
) -> ServiceResult<Committed<ConnectionView>> {
    let reason = required_reason(&body.reason)?;
    let now = idp.now();
    let lifetimes = super::lifecycle::current(idp).await?.policies.approval_days;
    let mut tx = idp.store.begin_write().await?;
    let (v, expires_at) = time_bound(idp, &mut tx, id, expected).await?;
    if idp
        .catalog()
        .client(&v.client.client_id)
        .is_some_and(|c| super::ownership::accountable_for(&c, &who.subject))
    {
        return Err(ServiceError::sod(
            "you own or sponsor this client, so someone else must renew its approvals",
        ));
    }
    if v.granted_scopes.iter().any(|s| s.sensitive) {
        who.require_recent_mfa(now)?;
    }
    let attested = v.attestation.clone();
    let mut e = actor_event(
        who,
        match body.decision {
            RenewalDecision::Renewed => "connection.renew",
            RenewalDecision::NotRenewed => "connection.not_renewed",
        },
        id,
    );
    e.client_id = Some(v.client.client_id.clone());
    e.reason = Some(reason.to_owned());
    e.detail["attestation"] = json!(attested);
    lifecycle::record_renewal(
        &mut tx,
        id,
        expires_at,
        body.decision,
        &who.subject,
        reason,
        now,
    )
    .await?;
    match body.decision {
        RenewalDecision::Renewed => {
            let names: Vec<String> = v.granted_scopes.iter().map(|s| s.name.clone()).collect();
            let to = match body.expires_at {
                Some(at) => at,
                None => super::requests::default_expiry(
                    idp,
                    &lifetimes,
                    &v.resource_app.id,
                    &names,
                    now,
                )
                .ok_or_else(|| {
                    ServiceError::invalid(format!(
                        "name expires_at: the policies set no default lifetime for {} approvals",
                        v.highest_risk.map_or("these", |r| r.as_str())
                    ))
                })?,
            };
            if to <= now {
                return Err(ServiceError::invalid("expires_at must be in the future"));
            }
            connections::set_expiry(&mut tx, id, to, now).await?;
            e.detail["before"] = json!({ "expires_at": expires_at });
            e.detail["after"] = json!({ "expires_at": to, "decision": body.decision });
            finish(idp, tx, &v, e, false).await
        }
        RenewalDecision::NotRenewed => {
            e.detail["after"] = json!({ "expires_at": expires_at, "decision": body.decision });
            finish(idp, tx, &v, e, true).await
        }
    }
}
