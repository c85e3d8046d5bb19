//! The help desk's view, composed from the admin API: one search over users,
//! AI clients and resource apps; for the one chosen, everything live for it
//! (connections, ID-JAGs issued in the last day, access tokens that may still be
//! valid at resource apps); the one-step kill switches with the exact count
//! first and each receiver's receipt after; and the evidence bundle.

use crate::{Console, ConsoleError, ErrorCode};
use admin_api::{
    AuditEventView, AuditOrder, AuditOutcome, AuditQuery, BulkRevoke, BulkRevokeResult, ClientView,
    ConnectionQuery, ConnectionStatusFilter, ConnectionView, ReceiptView, ResourceAppView,
    UserView, client::Mutation,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Access tokens minted from an ID-JAG live at most this long at our resource
/// apps (the reference AS caps them at 300 s).
const ACCESS_TOKEN_MAX_S: i64 = 300;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TargetKind {
    User,
    Client,
    App,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Target {
    pub kind: TargetKind,
    pub id: String,
    pub name: String,
    /// One line about it (groups, owners, issuer).
    pub detail: String,
}

/// An ID-JAG issued recently, and how long access tokens minted from it may live.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct IssuedIdJag {
    pub at_ms: i64,
    pub client_id: String,
    pub subject: String,
    pub audience: String,
    /// Access tokens from it may be valid at the resource app until then.
    pub possibly_valid_until_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct HelpdeskView {
    pub matches: Vec<Target>,
    pub target: Option<Target>,
    pub connections: Vec<ConnectionView>,
    /// Successful exchanges in the last 24 hours, newest first.
    pub recent_id_jags: Vec<IssuedIdJag>,
    /// Of those, the ones whose access tokens may still be valid now.
    pub possibly_live: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ConnectionReceipts {
    pub connection_id: String,
    pub receipts: Vec<ReceiptView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct KillResult {
    pub result: BulkRevokeResult,
    /// After a real run: each revoked connection's receipts (waited for up to 5 s).
    pub receipts: Vec<ConnectionReceipts>,
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

async fn directory(
    c: &Console,
) -> Result<(Vec<UserView>, Vec<ClientView>, Vec<ResourceAppView>), ConsoleError> {
    let admin = c.admin().await?;
    let (u, cl, a) = tokio::join!(
        admin.get_json::<Vec<UserView>>("/users", &[]),
        admin.get_json::<Vec<ClientView>>("/clients", &[]),
        admin.get_json::<Vec<ResourceAppView>>("/resource-apps", &[]),
    );
    Ok((u?, cl?, a?))
}

/// Everything that matches `q`; the details of the first when it is the only
/// match or an exact id.
pub async fn search(c: &Console, q: &str) -> Result<HelpdeskView, ConsoleError> {
    let q = q.trim().to_lowercase();
    let (users, clients, apps) = directory(c).await?;
    let has = |s: &str| !q.is_empty() && s.to_lowercase().contains(&q);
    let mut matches: Vec<Target> = Vec::new();
    for u in &users {
        if has(&u.username)
            || u.name.as_deref().is_some_and(has)
            || u.email.as_deref().is_some_and(has)
        {
            matches.push(Target {
                kind: TargetKind::User,
                id: u.username.clone(),
                name: u.name.clone().unwrap_or_else(|| u.username.clone()),
                detail: format!(
                    "groups: {}{}",
                    u.groups.join(", "),
                    if u.blocked { " · blocked" } else { "" }
                ),
            });
        }
    }
    for cl in &clients {
        if has(&cl.client_id) || has(&cl.name) {
            matches.push(Target {
                kind: TargetKind::Client,
                id: cl.client_id.clone(),
                name: cl.name.clone(),
                detail: format!(
                    "AI client · owners: {} · {} connections",
                    cl.owners.join(", "),
                    cl.connections
                ),
            });
        }
    }
    for a in &apps {
        if has(&a.id) || has(&a.name) {
            matches.push(Target {
                kind: TargetKind::App,
                id: a.id.clone(),
                name: a.name.clone(),
                detail: format!("resource app · {}", a.issuer),
            });
        }
    }
    let chosen = match matches.as_slice() {
        [one] => Some(one.clone()),
        _ => matches.iter().find(|t| t.id.to_lowercase() == q).cloned(),
    };
    let mut view = match &chosen {
        Some(t) => details(c, t.clone(), &apps).await?,
        None => HelpdeskView {
            matches: vec![],
            target: None,
            connections: vec![],
            recent_id_jags: vec![],
            possibly_live: 0,
        },
    };
    view.matches = matches;
    Ok(view)
}

/// The details of one target.
pub async fn lookup(c: &Console, kind: TargetKind, id: &str) -> Result<HelpdeskView, ConsoleError> {
    let (users, clients, apps) = directory(c).await?;
    let target = match kind {
        TargetKind::User => users.iter().find(|u| u.username == id).map(|u| Target {
            kind,
            id: u.username.clone(),
            name: u.name.clone().unwrap_or_else(|| u.username.clone()),
            detail: format!("groups: {}", u.groups.join(", ")),
        }),
        TargetKind::Client => clients.iter().find(|x| x.client_id == id).map(|x| Target {
            kind,
            id: x.client_id.clone(),
            name: x.name.clone(),
            detail: format!("AI client · owners: {}", x.owners.join(", ")),
        }),
        TargetKind::App => apps.iter().find(|a| a.id == id).map(|a| Target {
            kind,
            id: a.id.clone(),
            name: a.name.clone(),
            detail: format!("resource app · {}", a.issuer),
        }),
    }
    .ok_or_else(|| ConsoleError::new(ErrorCode::NotFound, format!("No {kind:?} called {id}.")))?;
    let mut v = details(c, target.clone(), &apps).await?;
    v.matches = vec![target];
    Ok(v)
}

async fn details(
    c: &Console,
    target: Target,
    apps: &[ResourceAppView],
) -> Result<HelpdeskView, ConsoleError> {
    let admin = c.admin().await?;
    let now = now_ms();
    let all = admin
        .list_connections(&connections_of(target.kind, &target.id))
        .await?
        .items;
    // When each (client, app issuer) pair was last cut off (revoked or suspended).
    let cut_off: std::collections::HashMap<(String, String), i64> = all
        .iter()
        .filter(|c| c.status != admin_api::ConnectionStatus::Active)
        .filter_map(|c| {
            let issuer = apps
                .iter()
                .find(|a| a.id == c.resource_app.id)?
                .issuer
                .clone();
            Some(((c.client.client_id.clone(), issuer), c.updated_at * 1000))
        })
        .collect();
    let connections: Vec<ConnectionView> = all
        .into_iter()
        .filter(|c| c.status == admin_api::ConnectionStatus::Active)
        .collect();
    let mut audit_q = AuditQuery {
        kind: Some("id_jag.exchange".into()),
        outcome: Some(AuditOutcome::Success),
        since_ms: Some(now - 86_400_000),
        order: Some(AuditOrder::Desc),
        limit: Some(500),
        ..Default::default()
    };
    match target.kind {
        TargetKind::User => audit_q.subject = Some(target.id.clone()),
        TargetKind::Client => audit_q.client_id = Some(target.id.clone()),
        TargetKind::App => {
            let issuer = apps
                .iter()
                .find(|a| a.id == target.id)
                .map(|a| a.issuer.clone());
            audit_q.target = Some(issuer.unwrap_or_default());
        }
    }
    // The audit log may be closed to this role: then there is nothing to show.
    let events: Vec<AuditEventView> = admin
        .audit(&audit_q)
        .await
        .map(|p| p.items)
        .unwrap_or_default();
    let mut recent: Vec<IssuedIdJag> = events
        .into_iter()
        .map(|e| {
            let client_id = e.client_id.unwrap_or_default();
            let audience = e.target.unwrap_or_default();
            // A revocation after issuance killed its tokens at the app (SET).
            // (`updated_at` has whole seconds: compare seconds.)
            let until = match cut_off.get(&(client_id.clone(), audience.clone())) {
                Some(&t) if t / 1000 >= e.at_ms / 1000 => t.max(e.at_ms),
                _ => e.at_ms + ACCESS_TOKEN_MAX_S * 1000,
            };
            IssuedIdJag {
                at_ms: e.at_ms,
                client_id,
                subject: e.subject.unwrap_or_default(),
                audience,
                possibly_valid_until_ms: until,
            }
        })
        .collect();
    recent.sort_by_key(|j| std::cmp::Reverse(j.at_ms));
    let possibly_live = recent
        .iter()
        .filter(|j| j.possibly_valid_until_ms > now)
        .count();
    Ok(HelpdeskView {
        matches: vec![],
        target: Some(target),
        connections,
        recent_id_jags: recent,
        possibly_live,
    })
}

/// Revoke everything for a user, a client everywhere (the kill switch), or a
/// resource app's connections. `dry_run` only counts (the confirmation step).
pub async fn kill(
    c: &Console,
    kind: TargetKind,
    id: &str,
    reason: &str,
    dry_run: bool,
) -> Result<KillResult, ConsoleError> {
    if reason.trim().is_empty() {
        return Err(ConsoleError::new(ErrorCode::Invalid, "Give a reason."));
    }
    let mut body = BulkRevoke {
        client_id: None,
        resource_app: None,
        username: None,
        reason: reason.trim().into(),
        dry_run,
    };
    match kind {
        TargetKind::User => body.username = Some(id.into()),
        TargetKind::Client => body.client_id = Some(id.into()),
        TargetKind::App => body.resource_app = Some(id.into()),
    }
    let admin = c.admin().await?;
    let result = admin.bulk_revoke(&body, &Mutation::default()).await?;
    let mut receipts = Vec::new();
    if !dry_run {
        // Wait (briefly) for the receivers to acknowledge, so the result shows them.
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        for conn in &result.connection_ids {
            loop {
                let v = admin.get_connection(conn).await?.value;
                let settled = !v.receipts.is_empty()
                    && v.receipts.iter().all(|r| r.delivered_at_ms.is_some());
                if settled || std::time::Instant::now() > deadline {
                    receipts.push(ConnectionReceipts {
                        connection_id: conn.clone(),
                        receipts: v.receipts,
                    });
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    Ok(KillResult { result, receipts })
}

/// The evidence bundle: the target, the connections (with receipts), every
/// related audit event, and the admin actions among them.
pub async fn evidence(
    c: &Console,
    kind: TargetKind,
    id: &str,
) -> Result<serde_json::Value, ConsoleError> {
    let view = lookup(c, kind, id).await?;
    let admin = c.admin().await?;
    let mut connections = Vec::new();
    for conn in admin
        .list_connections(&connections_of(kind, id))
        .await?
        .items
    {
        connections.push(admin.get_connection(&conn.id).await?.value);
    }
    // Bulk actions name the user, client or app as their target.
    let by_target = |t: &str| AuditQuery {
        target: Some(t.to_string()),
        ..Default::default()
    };
    let mut queries = vec![by_target(id)];
    match kind {
        TargetKind::User => queries.push(AuditQuery {
            subject: Some(id.to_string()),
            ..Default::default()
        }),
        TargetKind::Client => queries.push(AuditQuery {
            client_id: Some(id.to_string()),
            ..Default::default()
        }),
        TargetKind::App => {}
    }
    for conn in &connections {
        queries.push(by_target(&conn.id));
    }
    let mut events: Vec<AuditEventView> = Vec::new();
    for mut q in queries {
        q.limit = Some(500);
        events.extend(admin.audit(&q).await?.items);
    }
    events.sort_by_key(|e| e.seq);
    events.dedup_by_key(|e| e.seq);
    let actions: Vec<&AuditEventView> = events.iter().filter(|e| e.actor.is_some()).collect();
    Ok(serde_json::json!({
        "kind": "gatehouse.evidence.v1",
        "generated_at_ms": now_ms(),
        "target": view.target,
        "connections": connections,
        "actions": actions,
        "audit_events": events,
    }))
}

/// Every connection (any status) of one user, client or app.
fn connections_of(kind: TargetKind, id: &str) -> ConnectionQuery {
    let mut q = ConnectionQuery {
        status: Some(ConnectionStatusFilter::All),
        limit: Some(500),
        ..Default::default()
    };
    let id = Some(id.to_string());
    match kind {
        TargetKind::User => q.user = id,
        TargetKind::Client => q.client_id = id,
        TargetKind::App => q.resource_app = id,
    }
    q
}
