//! Deciding connection requests: list and read them, approve (possibly narrowed,
//! time-bound, with step-up rules) or deny with a reason. Approvals obey
//! separation of duties, need two distinct approvers and a recent MFA sign-in when
//! a sensitive scope is granted, and are atomic: the request, the connection, the
//! audit event and the change feed commit together or not at all.

use super::{
    auth::Principal,
    common::*,
    problem::{ApiError, ApiResult},
    views::{connection_view, request_view, request_views},
};
use crate::{audit, state::SharedIdp};
use admin_api::*;
use axum::{
    Extension,
    body::Bytes,
    extract::{Path, State},
    http::{HeaderMap, StatusCode},
    response::Response,
};
use idp_store::{
    connections::{self, NewConnection},
    requests::{self, RequestFilter, RequestOrder, RequestPageFilter},
};
use serde_json::json;

pub async fn list(
    State(idp): State<SharedIdp>,
    ApiQuery(q): ApiQuery<RequestQuery>,
) -> ApiResult<axum::Json<Page<RequestView>>> {
    non_negative(q.min_age, "min_age")?;
    let status = q.status.clone().unwrap_or_else(|| "pending".into());
    let db_status = match status.as_str() {
        "awaiting_second_approval" => Some(RequestStatus::Pending),
        "all" => None,
        s => Some(
            RequestStatus::parse(s)
                .ok_or_else(|| ApiError::validation(format!("unknown status `{s}`")))?,
        ),
    };
    let mut db = idp.store.acquire().await?;
    let now = idp.now();
    let needle = q.q.as_deref().map(str::to_lowercase);
    let order = match q.sort.as_deref().unwrap_or("age") {
        "age" => Some(RequestOrder::OldestFirst),
        "-age" => Some(RequestOrder::NewestFirst),
        "last_seen" => Some(RequestOrder::LastSeen),
        "refused" => Some(RequestOrder::MostRefused),
        _ => None,
    };
    // What SQL can filter and order (the queue as the console opens it, and
    // searches): count and page there, then build views for one page only.
    if let (Some(order), None, false) = (order, q.risk, status == "awaiting_second_approval") {
        let f = RequestPageFilter {
            status: db_status,
            client_id: q.client_id.clone(),
            resource_app: q.resource_app.clone(),
            first_seen_before: q.min_age.map(|a| now.saturating_sub(a)),
            text: q
                .q
                .as_deref()
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .map(|n| text_search(&idp, n)),
        };
        let offset = decode_cursor(q.cursor.as_deref())?;
        let limit = q.limit.unwrap_or(50).clamp(1, 500);
        let (ids, total) = requests::page_ids(&mut db, &f, order, offset, limit).await?;
        let mut views = request_views(
            &idp,
            &mut db,
            &RequestFilter {
                ids: Some(ids.clone()),
                ..Default::default()
            },
        )
        .await?;
        let rank: std::collections::HashMap<&str, usize> = ids
            .iter()
            .enumerate()
            .map(|(i, id)| (id.as_str(), i))
            .collect();
        views.sort_by_key(|v| rank.get(v.id.as_str()).copied().unwrap_or(usize::MAX));
        return Ok(axum::Json(page_at(views, offset, total)));
    }
    let all = request_views(
        &idp,
        &mut db,
        &RequestFilter {
            status: db_status,
            client_id: q.client_id.clone(),
            resource_app: q.resource_app.clone(),
            ids: None,
        },
    )
    .await?;
    let mut views = Vec::with_capacity(all.len());
    for v in all {
        if status == "awaiting_second_approval" && v.status != RequestStatus::AwaitingSecondApproval
        {
            continue;
        }
        if status == "pending"
            && v.status != RequestStatus::Pending
            && v.status != RequestStatus::AwaitingSecondApproval
        {
            continue;
        }
        if q.risk.is_some_and(|r| v.highest_risk.is_none_or(|h| h < r)) {
            continue;
        }
        if q.min_age.is_some_and(|a| now - v.first_seen < a) {
            continue;
        }
        if let Some(n) = &needle {
            let hay = format!(
                "{} {} {} {} {} {} {}",
                v.client.client_id,
                v.client.name,
                v.resource_app.id,
                v.resource_app.name,
                v.users
                    .iter()
                    .map(|u| u.username.as_str())
                    .collect::<Vec<_>>()
                    .join(" "),
                v.scopes
                    .iter()
                    .map(|s| s.name.as_str())
                    .collect::<Vec<_>>()
                    .join(" "),
                v.justification.as_deref().unwrap_or("")
            )
            .to_lowercase();
            if !hay.contains(n.as_str()) {
                continue;
            }
        }
        views.push(v);
    }
    match q.sort.as_deref().unwrap_or("age") {
        "age" => views.sort_by(|a, b| a.first_seen.cmp(&b.first_seen).then(a.id.cmp(&b.id))),
        "-age" => views.sort_by(|a, b| b.first_seen.cmp(&a.first_seen).then(a.id.cmp(&b.id))),
        "last_seen" => views.sort_by(|a, b| b.last_seen.cmp(&a.last_seen).then(a.id.cmp(&b.id))),
        "refused" => {
            views.sort_by(|a, b| b.refused_count.cmp(&a.refused_count).then(a.id.cmp(&b.id)))
        }
        "risk" => views.sort_by(|a, b| {
            b.highest_risk
                .cmp(&a.highest_risk)
                .then(a.first_seen.cmp(&b.first_seen))
        }),
        "users" => views.sort_by(|a, b| b.users.len().cmp(&a.users.len()).then(a.id.cmp(&b.id))),
        other => return Err(ApiError::validation(format!("unknown sort `{other}`"))),
    }
    Ok(axum::Json(paginate(views, q.cursor.as_deref(), q.limit)?))
}

pub async fn get(State(idp): State<SharedIdp>, Path(id): Path<String>) -> ApiResult<Response> {
    let mut db = idp.store.acquire().await?;
    let v = request_view(&idp, &mut db, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("the request"))?;
    Ok(with_etag(&v, v.version))
}

/// Checks separation of duties: not a requester, not an owner of the client.
fn check_sod(idp: &SharedIdp, who: &Principal, v: &RequestView) -> ApiResult<()> {
    if v.users.iter().any(|u| u.username == who.subject) {
        return Err(ApiError::sod(
            "you triggered this request, so someone else must decide it",
        ));
    }
    if idp
        .config
        .client(&v.client.client_id)
        .is_some_and(|c| c.owners.contains(&who.subject))
    {
        return Err(ApiError::sod(
            "you own this client, so someone else must decide its requests",
        ));
    }
    Ok(())
}

/// Validates a grant against the request and the app; returns the granted scopes.
fn validate_grant(
    idp: &SharedIdp,
    v: &RequestView,
    g: &ApproveRequest,
    now: i64,
) -> ApiResult<Vec<String>> {
    let app = idp
        .config
        .resource_app(&v.resource_app.id)
        .ok_or_else(|| ApiError::conflict("the resource app is no longer configured"))?;
    let requested: Vec<String> = if v.scopes.is_empty() {
        app.scopes.iter().map(|s| s.name.clone()).collect()
    } else {
        v.scopes.iter().map(|s| s.name.clone()).collect()
    };
    let scopes = g.scopes.clone().unwrap_or_else(|| requested.clone());
    if scopes.is_empty() {
        return Err(ApiError::validation(
            "grant at least one scope, or deny the request",
        ));
    }
    if let Some(extra) = scopes.iter().find(|s| !requested.contains(s)) {
        return Err(ApiError::validation(format!(
            "`{extra}` was not requested; an approval can only narrow"
        )));
    }
    if let Some(bad) = g
        .allowed_resources
        .iter()
        .find(|r| !app.mcp_servers.contains(r))
    {
        return Err(ApiError::validation(format!(
            "`{bad}` is not one of {}'s MCP servers",
            app.name
        )));
    }
    if let Some(l) = g.id_jag_lifetime
        && !(1..=xaa::MAX_ID_JAG_LIFETIME).contains(&l)
    {
        return Err(ApiError::validation(
            "id_jag_lifetime must be between 1 and 300 seconds",
        ));
    }
    if g.expires_at.is_some_and(|e| e <= now) {
        return Err(ApiError::validation("expires_at must be in the future"));
    }
    if let Some(r) = g.step_up.iter().find(|r| !scopes.contains(&r.scope)) {
        return Err(ApiError::validation(format!(
            "a step-up rule names `{}`, which is not granted",
            r.scope
        )));
    }
    if g.justification
        .as_deref()
        .is_some_and(|j| j.chars().count() > 2000)
    {
        return Err(ApiError::validation(
            "the justification is longer than 2000 characters",
        ));
    }
    Ok(scopes)
}

/// Loads a request inside the decision's transaction and checks what every
/// decision needs: it exists, the caller read the current version, it is still
/// undecided, and the caller may decide it.
async fn open_for_decision(
    idp: &SharedIdp,
    who: &Principal,
    tx: &mut idp_store::Conn,
    id: &str,
    expected: i64,
) -> ApiResult<RequestView> {
    let v = request_view(idp, tx, id)
        .await?
        .ok_or_else(|| ApiError::not_found("the request"))?;
    if v.version != expected {
        return Err(ApiError::stale(json!(v)));
    }
    if !matches!(
        v.status,
        RequestStatus::Pending | RequestStatus::AwaitingSecondApproval
    ) {
        return Err(ApiError::conflict(format!(
            "the request is already {}",
            v.status.as_str()
        )));
    }
    check_sod(idp, who, &v)?;
    Ok(v)
}

pub async fn approve(
    State(idp): State<SharedIdp>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let grant: ApproveRequest = parse_body(&body)?;
    let route = format!("approve {id}");
    idempotent(&idp, &who, &headers, &route, &body, || async {
        let expected = if_match(&headers)?;
        let now = idp.now();
        let mut tx = idp.store.begin_write().await?;
        let v = open_for_decision(&idp, &who, &mut tx, &id, expected).await?;
        let scopes = validate_grant(&idp, &v, &grant, now)?;
        let app = idp.config.resource_app(&v.resource_app.id).ok_or_else(|| ApiError::conflict("the resource app is no longer configured"))?;
        let sensitive = scopes.iter().any(|s| app.scope(s).is_some_and(|d| d.sensitive));
        let mut events = Vec::new();
        if sensitive {
            who.require_recent_mfa(now)?;
            match v.approvals.first() {
                None => {
                    // First of two approvals: record it, leave the request pending.
                    let mut first = grant.clone();
                    first.scopes = Some(scopes.clone());
                    requests::record_first_approval(&mut tx, &id, &who.subject, &first, now).await?;
                    let mut e = admin_event(&who, "connection_request.first_approval", &id);
                    e.client_id = Some(v.client.client_id.clone());
                    e.detail["grant"] = json!(first);
                    audit::append(&mut tx, &[(&e, idp.now_ms())]).await?;
                    events.push(idp_store::changes::record(&mut tx, admin_api::ChangeKind::RequestUpdated, &id, idp.now_ms()).await?);
                    let view = request_view(&idp, &mut tx, &id).await?.ok_or_else(|| ApiError::not_found("the request"))?;
                    tx.commit().await?;
                    publish(&idp, events);
                    let version = view.version;
                    return Ok((StatusCode::ACCEPTED, json!(DecisionResult { request: view, connection: None }), Some(version)));
                }
                Some(first) if first.approver == who.subject => {
                    return Err(ApiError::sod("you already approved; a second, different approver must confirm"));
                }
                Some(first) => {
                    let allowed = first.grant.scopes.clone().unwrap_or_default();
                    if let Some(extra) = scopes.iter().find(|s| !allowed.contains(s)) {
                        return Err(ApiError::validation(format!(
                            "`{extra}` was not in the first approval; the second approver can only narrow it"
                        )));
                    }
                }
            }
        }
        // Final approval: create or update the connection.
        let mut approvers: Vec<String> = v.approvals.iter().map(|a| a.approver.clone()).collect();
        approvers.push(who.subject.clone());
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
            expires_at: grant.expires_at,
            approved_by: &approvers,
            justification: grant.justification.as_deref(),
            request_id: Some(&id),
        };
        let conn_id = match live {
            Some(live) => {
                connections::regrant(&mut tx, &live, &n, now).await?;
                live
            }
            None => connections::insert(&mut tx, &n, now, false)
                .await?
                .ok_or_else(|| ApiError::conflict("the connection could not be created"))?,
        };
        requests::decide(&mut tx, &id, RequestStatus::Approved, &approvers, grant.justification.as_deref(), Some(&conn_id)).await?;
        let mut e = admin_event(&who, "connection_request.approve", &id);
        e.client_id = Some(v.client.client_id.clone());
        e.reason = grant.justification.clone();
        e.detail["before"] = json!({ "status": v.status, "requested_scopes": v.scopes.iter().map(|s| &s.name).collect::<Vec<_>>() });
        e.detail["after"] = json!({ "connection_id": conn_id, "grant": grant, "scopes": scopes, "approvers": approvers });
        audit::append(&mut tx, &[(&e, idp.now_ms())]).await?;
        events.push(idp_store::changes::record(&mut tx, admin_api::ChangeKind::RequestDecided, &id, idp.now_ms()).await?);
        events.push(idp_store::changes::record(&mut tx, admin_api::ChangeKind::ConnectionUpdated, &conn_id, idp.now_ms()).await?);
        let view = request_view(&idp, &mut tx, &id).await?.ok_or_else(|| ApiError::not_found("the request"))?;
        let conn = connection_view(&idp, &mut tx, &conn_id).await?;
        tx.commit().await?;
        idp.connections.invalidate();
        publish(&idp, events);
        let version = view.version;
        Ok((StatusCode::OK, json!(DecisionResult { request: view, connection: conn }), Some(version)))
    })
    .await
}

pub async fn deny(
    State(idp): State<SharedIdp>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let req: DenyRequest = parse_body(&body)?;
    let route = format!("deny {id}");
    idempotent(&idp, &who, &headers, &route, &body, || async {
        let reason = req.reason.trim();
        if reason.is_empty() || reason.chars().count() > 2000 {
            return Err(ApiError::validation(
                "a reason (1 to 2000 characters) is required to deny",
            ));
        }
        let expected = if_match(&headers)?;
        let mut tx = idp.store.begin_write().await?;
        let v = open_for_decision(&idp, &who, &mut tx, &id, expected).await?;
        requests::decide(
            &mut tx,
            &id,
            RequestStatus::Denied,
            std::slice::from_ref(&who.subject),
            Some(reason),
            None,
        )
        .await?;
        let mut e = admin_event(&who, "connection_request.deny", &id);
        e.client_id = Some(v.client.client_id.clone());
        e.reason = Some(reason.to_owned());
        e.detail["before"] = json!({ "status": v.status });
        e.detail["after"] = json!({ "status": "denied" });
        audit::append(&mut tx, &[(&e, idp.now_ms())]).await?;
        let events = vec![
            idp_store::changes::record(
                &mut tx,
                admin_api::ChangeKind::RequestDecided,
                &id,
                idp.now_ms(),
            )
            .await?,
        ];
        let view = request_view(&idp, &mut tx, &id)
            .await?
            .ok_or_else(|| ApiError::not_found("the request"))?;
        tx.commit().await?;
        publish(&idp, events);
        let version = view.version;
        Ok((
            StatusCode::OK,
            json!(DecisionResult {
                request: view,
                connection: None
            }),
            Some(version),
        ))
    })
    .await
}
