//! Building the admin API's views from rows and the configuration (scope risk and
//! descriptions, client and app names).

use crate::{config::ResourceApp, state::Idp};
use admin_api::*;
use idp_store::{
    Conn, ConnectionRow, RequestRow, connections, outbox,
    requests::{self, RequestFilter},
};

pub fn client_ref(idp: &Idp, client_id: &str) -> ClientRef {
    ClientRef {
        client_id: client_id.into(),
        // The registry's (clients registered at run time included), not the config file's.
        name: idp
            .catalog()
            .client(client_id)
            .map(|c| c.name.clone())
            .or_else(|| idp.config.client(client_id).map(|c| c.name.clone()))
            .unwrap_or_else(|| client_id.into()),
    }
}

pub fn app_ref(idp: &Idp, app_id: &str) -> AppRef {
    AppRef {
        id: app_id.into(),
        name: idp
            .catalog()
            .resource_app(app_id)
            .map(|a| a.name.clone())
            .unwrap_or_else(|| app_id.into()),
    }
}

pub fn scope_views(app: Option<&ResourceApp>, names: &[String]) -> Vec<ScopeView> {
    names
        .iter()
        .map(|n| match app.and_then(|a| a.scope(n)) {
            Some(d) => ScopeView {
                name: d.name.clone(),
                description: d.description.clone(),
                risk: d.risk,
                sensitive: d.sensitive,
            },
            None => ScopeView {
                name: n.clone(),
                description: "not in the app's catalogue".into(),
                risk: Risk::Admin,
                sensitive: true,
            },
        })
        .collect()
}

/// The views of every request matching `f`.
pub async fn request_views(
    idp: &Idp,
    db: &mut Conn,
    f: &RequestFilter,
) -> Result<Vec<RequestView>, sqlx::Error> {
    Ok(requests::load(db, f)
        .await?
        .into_iter()
        .map(|r| build_request_view(idp, r))
        .collect())
}

pub async fn request_view(
    idp: &Idp,
    db: &mut Conn,
    id: &str,
) -> Result<Option<RequestView>, sqlx::Error> {
    Ok(requests::get(db, id)
        .await?
        .map(|r| build_request_view(idp, r)))
}

fn build_request_view(idp: &Idp, r: RequestRow) -> RequestView {
    let app = idp.catalog().resource_app(&r.resource_app);
    let scope_views = scope_views(app.as_deref(), &r.scopes);
    let status = match r.status {
        RequestStatus::Pending if !r.approvals.is_empty() => RequestStatus::AwaitingSecondApproval,
        s => s,
    };
    let rules_changed = r
        .decided_rules
        .iter()
        .flatten()
        .filter_map(|then| {
            let now = scope_views.iter().find(|s| s.name == then.scope)?;
            (now.risk != then.risk || now.sensitive != then.sensitive).then(|| ScopeChange {
                scope: then.scope.clone(),
                risk_before: then.risk,
                risk_after: now.risk,
                sensitive_before: then.sensitive,
                sensitive_after: now.sensitive,
            })
        })
        .collect();
    RequestView {
        rules_changed,
        id: r.id,
        status,
        client: client_ref(idp, &r.client_id),
        resource_app: app_ref(idp, &r.resource_app),
        highest_risk: scope_views.iter().map(|s| s.risk).max(),
        sensitive: scope_views.iter().any(|s| s.sensitive),
        scopes: scope_views,
        resources: r.resources,
        users: r.users,
        refused_count: r.refused_count,
        first_seen: r.first_seen,
        last_seen: r.last_seen,
        justification: r.justification,
        approvals: r.approvals,
        decided_by: r.decided_by,
        decision_reason: r.decision_reason,
        connection_id: r.connection_id,
        version: r.version,
        reapproval: r.reapproval,
    }
}

/// A connection's view with its revocation receipts.
pub async fn connection_view(
    idp: &Idp,
    db: &mut Conn,
    id: &str,
) -> Result<Option<ConnectionView>, sqlx::Error> {
    let Some(row) = connections::get(db, id).await? else {
        return Ok(None);
    };
    let receipts = outbox::receipts(db, id).await?;
    let attestation = match row.connection.expires_at {
        Some(at) => idp_store::lifecycle::attestation(db, id, at).await?,
        None => None,
    };
    let mut v = connection_from_row(idp, row, receipts);
    v.attestation = attestation;
    Ok(Some(v))
}

/// The rules a decision on `scopes` of `app` is made under: each scope's
/// risk and sensitivity now (stored with the decision).
pub fn rules_now(idp: &Idp, app: &str, scopes: &[String]) -> Vec<idp_store::requests::ScopeRule> {
    let app = idp.catalog().resource_app(app);
    scope_views(app.as_deref(), scopes)
        .into_iter()
        .map(|s| idp_store::requests::ScopeRule {
            scope: s.name,
            risk: s.risk,
            sensitive: s.sensitive,
        })
        .collect()
}

pub fn connection_from_row(
    idp: &Idp,
    row: ConnectionRow,
    receipts: Vec<ReceiptView>,
) -> ConnectionView {
    let c = row.connection;
    let app = idp.catalog().resource_app(&c.resource_app);
    let names: Vec<String> = match &c.scopes {
        ScopeCondition::All => app
            .as_ref()
            .map(|a| a.scopes.iter().map(|s| s.name.clone()).collect())
            .unwrap_or_default(),
        ScopeCondition::IncludeOnly(l) => l.clone(),
    };
    let granted = scope_views(app.as_deref(), &names);
    ConnectionView {
        client: client_ref(idp, &c.client_id),
        resource_app: app_ref(idp, &c.resource_app),
        id: c.id,
        status: c.status,
        scopes: c.scopes,
        highest_risk: granted.iter().map(|s| s.risk).max(),
        granted_scopes: granted,
        allowed_groups: c.allowed_groups,
        excluded_users: c.excluded_users,
        allowed_resources: c.allowed_resources,
        step_up: c.step_up,
        id_jag_lifetime: c.id_jag_lifetime,
        expires_at: c.expires_at,
        approved_by: c.approved_by,
        justification: row.justification,
        request_id: row.request_id,
        created_at: row.created_at,
        updated_at: row.updated_at,
        last_used_at: row.last_used_at,
        status_reason: row.status_reason,
        version: c.version,
        receipts,
        attestation: None,
    }
}
