//! Deciding connection requests: list and read them, approve (possibly narrowed,
//! time-bound, with step-up rules) or deny with a reason. Approvals obey
//! separation of duties, need two distinct approvers and a recent MFA sign-in when
//! a sensitive scope is granted, and are atomic: the request, the connection, the
//! audit event and the change feed commit together or not at all.

use super::{
    auth::Principal,
    common::*,
    problem::{ApiError, ApiResult},
    views::{request_view, request_views},
};
use crate::{
    services::requests::{Decision, DecisionOutcome, decide},
    state::SharedIdp,
};
use admin_api::*;
use axum::{
    Extension,
    body::Bytes,
    extract::{Path, State},
    http::{HeaderMap, StatusCode},
    response::Response,
};
use idp_store::requests::{self, RequestFilter, RequestOrder, RequestPageFilter};
use serde_json::json;

pub async fn list(
    State(idp): State<SharedIdp>,
    ApiQuery(q): ApiQuery<RequestQuery>,
) -> ApiResult<axum::Json<Page<RequestView>>> {
    non_negative(q.min_age, "min_age")?;
    let status = q.status.unwrap_or(RequestStatusFilter::Pending);
    let db_status = match status {
        RequestStatusFilter::Pending | RequestStatusFilter::AwaitingSecondApproval => {
            Some(RequestStatus::Pending)
        }
        RequestStatusFilter::Approved => Some(RequestStatus::Approved),
        RequestStatusFilter::Denied => Some(RequestStatus::Denied),
        RequestStatusFilter::Expired => Some(RequestStatus::Expired),
        RequestStatusFilter::All => None,
    };
    let sort = q.sort.unwrap_or(RequestSort::Age);
    let mut db = idp.store.acquire().await?;
    let now = idp.now();
    let needle = q.q.as_deref().map(str::to_lowercase);
    let order = match sort {
        RequestSort::Age => Some(RequestOrder::OldestFirst),
        RequestSort::NewestFirst => Some(RequestOrder::NewestFirst),
        RequestSort::LastSeen => Some(RequestOrder::LastSeen),
        RequestSort::Refused => Some(RequestOrder::MostRefused),
        RequestSort::Risk | RequestSort::Users => None,
    };
    // What SQL can filter and order (the queue as the console opens it, and
    // searches): count and page there, then build views for one page only.
    if let (Some(order), None, false) = (
        order,
        q.risk,
        status == RequestStatusFilter::AwaitingSecondApproval,
    ) {
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
        if status == RequestStatusFilter::AwaitingSecondApproval
            && v.status != RequestStatus::AwaitingSecondApproval
        {
            continue;
        }
        if status == RequestStatusFilter::Pending
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
    match sort {
        RequestSort::Age => {
            views.sort_by(|a, b| a.first_seen.cmp(&b.first_seen).then(a.id.cmp(&b.id)))
        }
        RequestSort::NewestFirst => {
            views.sort_by(|a, b| b.first_seen.cmp(&a.first_seen).then(a.id.cmp(&b.id)))
        }
        RequestSort::LastSeen => {
            views.sort_by(|a, b| b.last_seen.cmp(&a.last_seen).then(a.id.cmp(&b.id)))
        }
        RequestSort::Refused => {
            views.sort_by(|a, b| b.refused_count.cmp(&a.refused_count).then(a.id.cmp(&b.id)))
        }
        RequestSort::Risk => views.sort_by(|a, b| {
            b.highest_risk
                .cmp(&a.highest_risk)
                .then(a.first_seen.cmp(&b.first_seen))
        }),
        RequestSort::Users => {
            views.sort_by(|a, b| b.users.len().cmp(&a.users.len()).then(a.id.cmp(&b.id)))
        }
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

pub async fn approve(
    State(idp): State<SharedIdp>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let grant: ApproveRequest = parse_body(&body)?;
    let route = format!("approve {id}");
    let decision = Decision::Approve(grant);
    idempotent(&idp, &who, &headers, &route, &body, || {
        decided(&idp, &who, &id, &headers, &decision)
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
    let decision = Decision::Deny { reason: req.reason };
    idempotent(&idp, &who, &headers, &route, &body, || {
        decided(&idp, &who, &id, &headers, &decision)
    })
    .await
}

/// A decision rendered: 202 while a sensitive grant awaits its second approver.
async fn decided(
    idp: &SharedIdp,
    who: &Principal,
    id: &str,
    headers: &HeaderMap,
    decision: &Decision,
) -> ApiResult<(StatusCode, serde_json::Value, Option<i64>)> {
    let expected = if_match(headers)?;
    let d = decide(idp, who, id, expected, decision)
        .await?
        .announce(idp);
    let status = match d.outcome {
        DecisionOutcome::AwaitingSecondApproval => StatusCode::ACCEPTED,
        DecisionOutcome::Approved | DecisionOutcome::Denied => StatusCode::OK,
    };
    let version = d.result.request.version;
    Ok((status, json!(d.result), Some(version)))
}
