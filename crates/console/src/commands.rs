//! The bodies of the console's IPC commands, written against `Console` so they run
//! (and are tested) without a window; `rpc` adapts each command's request to
//! them and `src-tauri` forwards to `rpc`. Each returns a view for the screen or
//! `{code, message}` — never a token.

use crate::{
    Console, ConsoleError, ErrorCode, SessionView,
    ipc::{
        ChannelSaved, ClientSaved, ConnectionDetail, DirectoryView, ExportSummary, OverviewView,
        ProfileAdded, ProfileView, RequestContext, RequestDetail,
    },
};
use admin_api::{
    ApproveRequest, AttestBody, AuditEventView, AuditExportFormat, AuditQuery, ChainReportView,
    ConnectionAction, ConnectionQuery, ConnectionStatusFilter, ConnectionView, DecisionResult,
    ExportQuery, ItemQuery, ModifyConnection, Page, RenewBody, ReportFormat, RequestQuery,
    RequestStatusFilter, RequestView, client::Mutation,
};
use std::path::Path;

/// A change made against the version the person saw.
fn if_match(etag: &str) -> Mutation<'_> {
    Mutation {
        if_match: Some(etag),
        ..Default::default()
    }
}

pub async fn session(c: &Console) -> Result<Option<SessionView>, ConsoleError> {
    Ok(c.view().await)
}

pub async fn list_requests(
    c: &Console,
    filters: crate::rpc::ListRequestsReq,
) -> Result<Page<RequestView>, ConsoleError> {
    let query = RequestQuery {
        status: filters.status,
        q: filters.q.filter(|v| !v.trim().is_empty()),
        sort: filters.sort,
        risk: filters.risk,
        limit: Some(500),
        ..Default::default()
    };
    let admin = c.admin().await?;
    let page = admin.list_requests(&query).await?;
    tracing::info!(
        shown = page.items.len(),
        total = page.total,
        "pending queue served"
    );
    Ok(page)
}

pub async fn get_request(c: &Console, id: &str) -> Result<RequestDetail, ConsoleError> {
    let v = c.admin().await?.get_request(id).await?;
    Ok(RequestDetail {
        request: v.value,
        etag: v.etag,
    })
}

/// The context of a request's detail, fetched in parallel.
pub async fn request_context(c: &Console, id: &str) -> Result<RequestContext, ConsoleError> {
    let admin = c.admin().await?;
    let request = admin.get_request(id).await?.value;
    let history_query = AuditQuery {
        target: Some(id.to_string()),
        limit: Some(50),
        ..Default::default()
    };
    let (clients, groups, users, history) = tokio::join!(
        admin.get_json::<Vec<admin_api::ClientView>>("/clients", &[]),
        admin.get_json::<Vec<admin_api::GroupView>>("/groups", &[]),
        admin.get_json::<Vec<admin_api::UserView>>("/users", &[]),
        admin.audit(&history_query),
    );
    Ok(RequestContext {
        client: clients?
            .into_iter()
            .find(|x| x.client_id == request.client.client_id),
        groups: groups?,
        directory_users: users?.len(),
        history: history.map(|p| p.items).unwrap_or_default(),
    })
}

pub async fn approve(
    c: &Console,
    id: &str,
    etag: &str,
    grant: &ApproveRequest,
) -> Result<DecisionResult, ConsoleError> {
    let admin = c.admin().await?;
    Ok(admin.approve(id, grant, &if_match(etag)).await?)
}

pub async fn deny(
    c: &Console,
    id: &str,
    etag: &str,
    reason: &str,
) -> Result<DecisionResult, ConsoleError> {
    let admin = c.admin().await?;
    Ok(admin.deny(id, reason, &if_match(etag)).await?)
}

/// How many requests wait for a decision (the tray count).
pub async fn pending_count(c: &Console) -> Result<u64, ConsoleError> {
    let admin = c.admin_background().await?;
    let page = admin
        .list_requests(&RequestQuery {
            status: Some(RequestStatusFilter::Pending),
            limit: Some(1),
            ..Default::default()
        })
        .await?;
    Ok(page.total)
}

pub async fn list_connections(
    c: &Console,
    query: &ConnectionQuery,
) -> Result<Page<ConnectionView>, ConsoleError> {
    let mut q = query.clone();
    q.limit = Some(q.limit.unwrap_or(1000).min(5000));
    let page = c.admin().await?.list_connections(&q).await?;
    tracing::info!(
        shown = page.items.len(),
        total = page.total,
        "connections served"
    );
    Ok(page)
}

pub async fn get_connection(c: &Console, id: &str) -> Result<ConnectionDetail, ConsoleError> {
    let v = c.admin().await?.get_connection(id).await?;
    Ok(ConnectionDetail {
        connection: v.value,
        etag: v.etag,
    })
}

/// Suspend, resume or revoke, with the reason the audit trail keeps.
pub async fn connection_action(
    c: &Console,
    id: &str,
    etag: &str,
    action: ConnectionAction,
    reason: &str,
) -> Result<ConnectionView, ConsoleError> {
    if reason.trim().is_empty() {
        return Err(ConsoleError::new(ErrorCode::Invalid, "Give a reason."));
    }
    let admin = c.admin().await?;
    Ok(admin
        .connection_action(id, action, reason.trim(), &if_match(etag))
        .await?)
}

/// Reinstates a kill switch (step-up: a `step_up_required` error asks for it).
pub async fn reinstate_kill(
    c: &Console,
    id: &str,
    version: i64,
    reason: &str,
) -> Result<admin_api::KillView, ConsoleError> {
    if reason.trim().is_empty() {
        return Err(ConsoleError::new(ErrorCode::Invalid, "Give a reason."));
    }
    let etag = format!("\"v{version}\"");
    Ok(c.admin()
        .await?
        .reinstate_kill(id, reason.trim(), &if_match(&etag))
        .await?)
}

/// An owner's attestation, with the reason the audit trail keeps.
pub async fn attest_connection(
    c: &Console,
    id: &str,
    etag: &str,
    body: &AttestBody,
) -> Result<ConnectionView, ConsoleError> {
    if body.reason.trim().is_empty() {
        return Err(ConsoleError::new(ErrorCode::Invalid, "Give a reason."));
    }
    Ok(c.admin().await?.attest(id, body, &if_match(etag)).await?)
}

/// An approver renews an approval or lets it lapse, with a reason.
pub async fn renew_connection(
    c: &Console,
    id: &str,
    etag: &str,
    body: &RenewBody,
) -> Result<ConnectionView, ConsoleError> {
    if body.reason.trim().is_empty() {
        return Err(ConsoleError::new(ErrorCode::Invalid, "Give a reason."));
    }
    Ok(c.admin().await?.renew(id, body, &if_match(etag)).await?)
}

pub async fn modify_connection(
    c: &Console,
    id: &str,
    etag: &str,
    change: &ModifyConnection,
) -> Result<ConnectionView, ConsoleError> {
    let admin = c.admin().await?;
    Ok(admin.modify_connection(id, change, &if_match(etag)).await?)
}

pub async fn audit(c: &Console, query: &AuditQuery) -> Result<Page<AuditEventView>, ConsoleError> {
    let mut q = query.clone();
    q.limit = Some(q.limit.unwrap_or(500).min(5000));
    Ok(c.admin().await?.audit(&q).await?)
}

pub async fn verify_audit(c: &Console) -> Result<ChainReportView, ConsoleError> {
    Ok(c.admin().await?.audit_verify().await?)
}

/// Exports the whole audit log (`csv` or `jsonl`) to `path`, chosen by the person
/// in a save dialog. Written to a temporary file beside it and renamed, so a
/// failed export never leaves half a file under the chosen name.
pub async fn export_audit(
    c: &Console,
    format: AuditExportFormat,
    path: &Path,
) -> Result<ExportSummary, ConsoleError> {
    let body = c
        .admin()
        .await?
        .audit_export(&ExportQuery {
            format: Some(format),
            ..Default::default()
        })
        .await?;
    let rows = body.lines().filter(|l| !l.is_empty()).count();
    let rows = if format == AuditExportFormat::Csv {
        rows.saturating_sub(1)
    } else {
        rows
    };
    write_atomically(path, body.as_bytes()).await?;
    Ok(ExportSummary {
        path: path.display().to_string(),
        format: format.as_str().into(),
        events: rows,
        bytes: body.len(),
    })
}

pub async fn profiles(c: &Console) -> Result<Vec<ProfileView>, ConsoleError> {
    let active = c.view().await.map(|v| v.profile_id);
    Ok(c.all_profiles()
        .await?
        .into_iter()
        .map(|(p, saved)| ProfileView {
            active: active.as_deref() == Some(p.id.as_str()),
            profile: p,
            saved,
        })
        .collect())
}

/// Checks the IdP's discovery document and saves the profile.
pub async fn add_profile(
    c: &Console,
    name: &str,
    issuer: &str,
    client_id: &str,
) -> Result<ProfileAdded, ConsoleError> {
    if name.trim().is_empty() || client_id.trim().is_empty() {
        return Err(ConsoleError::new(
            ErrorCode::Invalid,
            "Give the profile a name and the console's client id at that IdP.",
        ));
    }
    let (profile, discovery) = c.add_profile(name, issuer.trim(), client_id.trim()).await?;
    Ok(ProfileAdded { profile, discovery })
}

/// Forgets a saved profile and its keychain entries (not the one in use).
pub async fn remove_profile(c: &Console, id: &str) -> Result<(), ConsoleError> {
    if c.view().await.is_some_and(|v| v.profile_id == id) {
        return Err(ConsoleError::new(
            ErrorCode::Conflict,
            "Sign out of this IdP before removing it.",
        ));
    }
    c.forget_profile(id)
}

/// Signs in with an admin API token pasted once; it goes to the keychain and
/// never comes back over IPC.
pub async fn sign_in_api_token(
    c: &Console,
    profile_id: &str,
    token: &str,
) -> Result<SessionView, ConsoleError> {
    if token.trim().is_empty() {
        return Err(ConsoleError::new(
            ErrorCode::Invalid,
            "Paste an admin API token.",
        ));
    }
    c.sign_in_api_token(profile_id, token).await
}

pub async fn sign_out(c: &Console) -> Result<(), ConsoleError> {
    c.sign_out().await
}

// ---- access reviews ----

pub async fn campaigns(c: &Console) -> Result<Vec<admin_api::CampaignView>, ConsoleError> {
    Ok(c.admin().await?.campaigns().await?)
}

pub async fn notification_channels(
    c: &Console,
) -> Result<Vec<admin_api::ChannelView>, ConsoleError> {
    Ok(c.admin().await?.notification_channels().await?)
}

/// Creates a channel; a webhook's signing secret is written to `path`
/// (owner-only), nowhere else.
pub async fn create_notification_channel(
    c: &Console,
    req: &admin_api::CreateChannel,
    path: Option<&Path>,
) -> Result<ChannelSaved, ConsoleError> {
    let created = c
        .admin()
        .await?
        .create_notification_channel(req, &Mutation::default())
        .await?;
    let saved_to = match (path, &created.signing_secret) {
        (Some(p), Some(secret)) => {
            let text = format!(
                "# Gatehouse notification webhook `{}`: verify Gatehouse-Signature (t=…,v1=…)\n# as HMAC-SHA256 over \"<t>.<body>\" with this secret. Keep it secret.\nsigning_secret={secret}\n",
                created.channel.name
            );
            write_file(p, text.as_bytes(), true).await?;
            Some(p.display().to_string())
        }
        _ => None,
    };
    Ok(ChannelSaved {
        channel: created.channel,
        saved_to,
    })
}

pub async fn delete_notification_channel(c: &Console, id: &str) -> Result<(), ConsoleError> {
    Ok(c.admin().await?.delete_notification_channel(id).await?)
}

pub async fn notification_deliveries(
    c: &Console,
    id: &str,
) -> Result<Vec<admin_api::DeliveryView>, ConsoleError> {
    Ok(c.admin().await?.notification_deliveries(id).await?)
}

/// The lifecycle policies in force.
pub async fn policies(c: &Console) -> Result<admin_api::PoliciesView, ConsoleError> {
    Ok(c.admin().await?.policies().await?.value)
}

/// Replaces the lifecycle policies at the version the person edited.
pub async fn set_policies(
    c: &Console,
    version: i64,
    policies: &admin_api::LifecyclePolicies,
) -> Result<admin_api::PoliciesView, ConsoleError> {
    let etag = format!("\"v{version}\"");
    Ok(c.admin()
        .await?
        .set_policies(policies, &if_match(&etag))
        .await?)
}

/// Evaluates the lifecycle policies now.
pub async fn run_policies(c: &Console) -> Result<admin_api::PolicyRunReport, ConsoleError> {
    Ok(c.admin().await?.run_policies().await?)
}

pub async fn create_campaign(
    c: &Console,
    body: &admin_api::CreateCampaign,
) -> Result<admin_api::CampaignView, ConsoleError> {
    Ok(c.admin().await?.create_campaign(body).await?)
}

/// A campaign's items; `mine` keeps the signed-in reviewer's only.
pub async fn review_items(
    c: &Console,
    id: &str,
    mine: bool,
    state: Option<admin_api::ItemState>,
) -> Result<Page<admin_api::ReviewItemView>, ConsoleError> {
    let me = c.view().await.map(|v| v.subject);
    let query = ItemQuery {
        reviewer: if mine { me } else { None },
        state,
        limit: Some(500),
        ..Default::default()
    };
    let admin = c.admin().await?;
    Ok(admin.review_items(id, &query).await?)
}

pub async fn decide_items(
    c: &Console,
    id: &str,
    body: &admin_api::ReviewDecisions,
) -> Result<Vec<admin_api::ReviewItemView>, ConsoleError> {
    Ok(c.admin().await?.decide_items(id, body).await?)
}

pub async fn reassign_item(
    c: &Console,
    id: &str,
    item: &str,
    body: &admin_api::Reassign,
) -> Result<admin_api::ReviewItemView, ConsoleError> {
    Ok(c.admin().await?.reassign_item(id, item, body).await?)
}

pub async fn complete_campaign(
    c: &Console,
    id: &str,
) -> Result<admin_api::CampaignView, ConsoleError> {
    Ok(c.admin().await?.complete_campaign(id).await?)
}

/// Writes `bytes` to `path` through a temporary file beside it, so a failure
/// never leaves half a file under the chosen name.
pub async fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), ConsoleError> {
    write_file(path, bytes, false).await
}

/// [`write_atomically`], readable by its owner only when `private` (a secret).
async fn write_file(path: &Path, bytes: &[u8], private: bool) -> Result<(), ConsoleError> {
    let tmp = path.with_extension("partial");
    // A leftover temporary file would keep its own (wider) permissions.
    let _ = tokio::fs::remove_file(&tmp).await;
    let write = async {
        let mut o = tokio::fs::OpenOptions::new();
        o.write(true).create_new(true);
        #[cfg(unix)]
        if private {
            o.mode(0o600);
        }
        #[cfg(not(unix))]
        let _ = private;
        let mut f = o.open(&tmp).await?;
        tokio::io::AsyncWriteExt::write_all(&mut f, bytes).await?;
        f.sync_all().await?;
        tokio::fs::rename(&tmp, path).await
    };
    if let Err(e) = write.await {
        let _ = tokio::fs::remove_file(&tmp).await;
        return Err(ConsoleError::new(
            ErrorCode::Invalid,
            format!("Could not write {}: {e}", path.display()),
        ));
    }
    Ok(())
}

/// Saves a campaign report (`csv` or `pdf`) to `path`; returns the bytes written.
pub async fn export_report(
    c: &Console,
    id: &str,
    format: ReportFormat,
    path: &Path,
) -> Result<usize, ConsoleError> {
    let bytes = c.admin().await?.review_report(id, format).await?;
    write_atomically(path, &bytes).await?;
    Ok(bytes.len())
}

/// Saves the help desk's evidence bundle (JSON) to `path`.
pub async fn export_evidence(
    c: &Console,
    kind: crate::helpdesk::TargetKind,
    id: &str,
    path: &Path,
) -> Result<usize, ConsoleError> {
    let bundle = crate::helpdesk::evidence(c, kind, id).await?;
    let bytes = serde_json::to_vec_pretty(&bundle).expect("json");
    write_atomically(path, &bytes).await?;
    Ok(bytes.len())
}

/// Everything the Overview screen draws, fetched in parallel.
pub async fn overview(c: &Console) -> Result<OverviewView, ConsoleError> {
    let admin = c.admin().await?;
    let conn_q = ConnectionQuery {
        status: Some(ConnectionStatusFilter::Active),
        limit: Some(500),
        ..Default::default()
    };
    let (connections, clients, apps, stats) = tokio::join!(
        admin.list_connections(&conn_q),
        admin.get_json::<Vec<admin_api::ClientView>>("/clients", &[]),
        admin.get_json::<Vec<admin_api::ResourceAppView>>("/resource-apps", &[]),
        admin.stats(),
    );
    Ok(OverviewView {
        connections: connections?.items,
        clients: clients?,
        apps: apps?,
        stats: stats?,
    })
}

/// Everyone and everything the IdP knows, for the Directory screen.
pub async fn directory(c: &Console) -> Result<DirectoryView, ConsoleError> {
    let admin = c.admin().await?;
    let (people, groups, clients, apps) = tokio::join!(
        admin.get_json::<Vec<admin_api::UserView>>("/users", &[]),
        admin.get_json::<Vec<admin_api::GroupView>>("/groups", &[]),
        admin.get_json::<Vec<admin_api::ClientView>>("/clients", &[]),
        admin.get_json::<Vec<admin_api::ResourceAppView>>("/resource-apps", &[]),
    );
    Ok(DirectoryView {
        people: people?,
        groups: groups?,
        clients: clients?,
        apps: apps?,
    })
}

/// Open review items assigned to the signed-in person in active campaigns due
/// within `within_s` seconds (the desktop reminders), as (campaign name, open
/// items, due at).
pub async fn review_reminders(
    c: &Console,
    now: i64,
    within_s: i64,
) -> Result<Vec<(String, u64, i64)>, ConsoleError> {
    let Some(me) = c.view().await.map(|v| v.subject) else {
        return Ok(vec![]);
    };
    let admin = c.admin_background().await?;
    let mut out = Vec::new();
    for campaign in admin.campaigns().await? {
        if campaign.status != admin_api::CampaignStatus::Active || campaign.due_at > now + within_s
        {
            continue;
        }
        let open = admin
            .review_items(
                &campaign.id,
                &ItemQuery {
                    reviewer: Some(me.clone()),
                    state: Some(admin_api::ItemState::Open),
                    limit: Some(1),
                    ..Default::default()
                },
            )
            .await?
            .total;
        if open > 0 {
            out.push((campaign.name, open, campaign.due_at));
        }
    }
    Ok(out)
}

/// Writes a client's credentials to `path`, readable by its owner only: the
/// one place a new secret goes (never to the webview, a log or an IPC answer).
async fn save_credentials(
    path: &Path,
    issuer: &str,
    client_id: &str,
    secret: &str,
) -> Result<(), ConsoleError> {
    let text = format!(
        "# Gatehouse client credentials. Keep this file secret: the IdP showed the secret once\n# and keeps only its hash.\nissuer={issuer}\nclient_id={client_id}\nclient_secret={secret}\n"
    );
    write_file(path, text.as_bytes(), true).await
}

/// Registers an AI client with a generated secret and saves the credentials
/// to `path`.
pub async fn register_client(
    c: &Console,
    req: &admin_api::RegisterClient,
    path: &Path,
) -> Result<ClientSaved, ConsoleError> {
    let issuer = c.view().await.map(|v| v.issuer).unwrap_or_default();
    let created = c
        .admin()
        .await?
        .register_client(req, &Mutation::default())
        .await?;
    let secret = created.client_secret.as_deref().unwrap_or_default();
    save_credentials(path, &issuer, &created.client.client_id, secret).await?;
    Ok(ClientSaved {
        client: created.client,
        saved_to: path.display().to_string(),
    })
}

/// Rotates a client's secret (the previous one works for `overlap` seconds)
/// and saves the new credentials to `path`.
pub async fn rotate_client_secret(
    c: &Console,
    client_id: &str,
    version: i64,
    overlap: u64,
    path: &Path,
) -> Result<ClientSaved, ConsoleError> {
    let issuer = c.view().await.map(|v| v.issuer).unwrap_or_default();
    let etag = format!("\"v{version}\"");
    let rotated = c
        .admin()
        .await?
        .rotate_client_secret(
            client_id,
            &admin_api::RotateClientSecret { overlap },
            &if_match(&etag),
        )
        .await?;
    let secret = rotated.client_secret.as_deref().unwrap_or_default();
    save_credentials(path, &issuer, client_id, secret).await?;
    Ok(ClientSaved {
        client: rotated.client,
        saved_to: path.display().to_string(),
    })
}

/// Changes a client at the version the person edited.
pub async fn update_client(
    c: &Console,
    client_id: &str,
    version: i64,
    change: &admin_api::UpdateClient,
) -> Result<admin_api::ClientView, ConsoleError> {
    let etag = format!("\"v{version}\"");
    Ok(c.admin()
        .await?
        .update_client(client_id, change, &if_match(&etag))
        .await?)
}

pub async fn retire_client(
    c: &Console,
    client_id: &str,
    version: i64,
    reason: &str,
) -> Result<admin_api::ClientView, ConsoleError> {
    let etag = format!("\"v{version}\"");
    Ok(c.admin()
        .await?
        .retire_client(
            client_id,
            &admin_api::Retirement {
                reason: reason.to_owned(),
            },
            &if_match(&etag),
        )
        .await?)
}

pub async fn register_resource_app(
    c: &Console,
    req: &admin_api::RegisterResourceApp,
) -> Result<admin_api::ResourceAppView, ConsoleError> {
    Ok(c.admin()
        .await?
        .register_resource_app(req, &Mutation::default())
        .await?)
}

/// Changes a resource app at the version the person edited (a stale version
/// is refused, never merged).
pub async fn update_resource_app(
    c: &Console,
    id: &str,
    version: i64,
    change: &admin_api::UpdateResourceApp,
) -> Result<admin_api::ResourceAppView, ConsoleError> {
    let etag = format!("\"v{version}\"");
    Ok(c.admin()
        .await?
        .update_resource_app(id, change, &if_match(&etag))
        .await?)
}

pub async fn retire_resource_app(
    c: &Console,
    id: &str,
    version: i64,
    reason: &str,
) -> Result<admin_api::ResourceAppView, ConsoleError> {
    let etag = format!("\"v{version}\"");
    Ok(c.admin()
        .await?
        .retire_resource_app(
            id,
            &admin_api::Retirement {
                reason: reason.to_owned(),
            },
            &if_match(&etag),
        )
        .await?)
}
