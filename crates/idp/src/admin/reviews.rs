//! Periodic access reviews: campaigns over a filter of connections, one item per
//! connection with a recommendation from usage (ID-JAGs issued in 30 and 90
//! days, last use), reviewers assigned away from their own access, decisions
//! (keep, revoke, modify; in bulk) whose remediation commits with them through
//! the same durable revoke path as a manual revocation, reassignment with a
//! note, the default action at the due date, and the report (CSV or PDF).

use super::{
    auth::Principal,
    common::*,
    problem::{ApiError, ApiResult},
};
use crate::{
    services::reviews::{self as service, campaign_view, item_views},
    state::SharedIdp,
};
use admin_api::*;
use axum::{
    Extension, Json,
    body::Bytes,
    extract::{Path, State},
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use idp_store::reviews::{self, decision_str, default_str};

pub async fn create(
    State(idp): State<SharedIdp>,
    Extension(who): Extension<Principal>,
    body: Bytes,
) -> ApiResult<Response> {
    let req: CreateCampaign = parse_body(&body)?;
    let view = service::start_campaign(&idp, &who, &req)
        .await?
        .announce(&idp);
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

pub async fn list(State(idp): State<SharedIdp>) -> ApiResult<Json<Vec<CampaignView>>> {
    let mut db = idp.store.acquire().await?;
    Ok(Json(reviews::campaigns(&mut db).await?))
}

pub async fn get(
    State(idp): State<SharedIdp>,
    Path(id): Path<String>,
) -> ApiResult<Json<CampaignView>> {
    let mut db = idp.store.acquire().await?;
    Ok(Json(
        campaign_view(&mut db, &id)
            .await?
            .ok_or_else(|| ApiError::not_found("the campaign"))?,
    ))
}

pub async fn items(
    State(idp): State<SharedIdp>,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<ItemQuery>,
) -> ApiResult<Json<Page<ReviewItemView>>> {
    // Filtered, counted and paged in SQL: a campaign may hold 100k items.
    let state = match q.state {
        None => reviews::ItemState::Any,
        Some(admin_api::ItemState::Open) => reviews::ItemState::Open,
        Some(admin_api::ItemState::Decided) => reviews::ItemState::Decided,
    };
    let offset = decode_cursor(q.cursor.as_deref())?;
    let limit = q.limit.unwrap_or(50).clamp(1, 500);
    let mut db = idp.store.acquire().await?;
    let (rows, total) =
        reviews::items_page(&mut db, &id, q.reviewer.as_deref(), state, offset, limit).await?;
    Ok(Json(page_at(item_views(&idp, rows), offset, total)))
}

pub async fn decide(
    State(idp): State<SharedIdp>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Json<Vec<ReviewItemView>>> {
    let req: ReviewDecisions = parse_body(&body)?;
    let decided = service::decide_items(&idp, &who, &id, &req).await?;
    Ok(Json(decided.announce(&idp)))
}

pub async fn reassign(
    State(idp): State<SharedIdp>,
    Extension(who): Extension<Principal>,
    Path((id, item_id)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult<Json<ReviewItemView>> {
    let req: Reassign = parse_body(&body)?;
    let view = service::reassign_item(&idp, &who, &id, &item_id, &req).await?;
    Ok(Json(view.announce(&idp)))
}

pub async fn complete(
    State(idp): State<SharedIdp>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<Json<CampaignView>> {
    service::complete_campaign(&idp, &id, admin_event(&who, "review.decision", &id)).await?;
    let mut db = idp.store.acquire().await?;
    Ok(Json(
        campaign_view(&mut db, &id)
            .await?
            .ok_or_else(|| ApiError::not_found("the campaign"))?,
    ))
}

/// The campaign report: every item, its recommendation, decision, who, when,
/// why, and what was done.
pub async fn report(
    State(idp): State<SharedIdp>,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<ReportQuery>,
) -> ApiResult<Response> {
    let mut db = idp.store.acquire().await?;
    let campaign = campaign_view(&mut db, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("the campaign"))?;
    let items = item_views(&idp, reviews::all_items(&mut db, &id).await?);
    let when = |t: Option<i64>| t.map(|t| t.to_string()).unwrap_or_default();
    match q.format.unwrap_or(ReportFormat::Csv) {
        ReportFormat::Csv => {
            let mut out = String::from(
                "campaign,item,client,resource_app,user,scopes,reviewer,recommendation,recommendation_reason,decision,decided_by,decided_at,reason,defaulted,remediation\n",
            );
            for i in &items {
                let cells = [
                    campaign.name.clone(),
                    i.id.clone(),
                    i.client.client_id.clone(),
                    i.resource_app.id.clone(),
                    i.username.clone().unwrap_or_default(),
                    i.granted_scopes.join(" "),
                    i.reviewer.clone(),
                    decision_str(i.recommendation).into(),
                    i.recommendation_reason.clone(),
                    i.decision.map(decision_str).unwrap_or("").into(),
                    i.decided_by.clone().unwrap_or_default(),
                    when(i.decided_at),
                    i.reason.clone().unwrap_or_default(),
                    i.defaulted.to_string(),
                    i.remediation.clone().unwrap_or_default(),
                ];
                out.push_str(
                    &cells
                        .iter()
                        .map(|c| super::csv::cell(c))
                        .collect::<Vec<_>>()
                        .join(","),
                );
                out.push('\n');
            }
            Ok(([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], out).into_response())
        }
        ReportFormat::Pdf => {
            let mut lines = vec![
                format!(
                    "Status {:?} · {} items, {} decided · due {} · default {}",
                    campaign.status,
                    campaign.items,
                    campaign.decided,
                    campaign.due_at,
                    default_str(campaign.default_action)
                ),
                String::new(),
            ];
            for i in &items {
                lines.push(format!(
                    "{} -> {}{} [{}]  reviewer {}",
                    i.client.name,
                    i.resource_app.name,
                    i.username
                        .as_deref()
                        .map(|u| format!(" for {u}"))
                        .unwrap_or_default(),
                    i.granted_scopes.join(" "),
                    i.reviewer
                ));
                lines.push(format!(
                    "    recommended {} ({}); decided {} by {} at {}{}; {}",
                    decision_str(i.recommendation),
                    i.recommendation_reason,
                    i.decision.map(decision_str).unwrap_or("-"),
                    i.decided_by.as_deref().unwrap_or("-"),
                    when(i.decided_at),
                    if i.defaulted { " (default)" } else { "" },
                    i.remediation.as_deref().unwrap_or("pending")
                ));
                if let Some(r) = &i.reason {
                    lines.push(format!("    reason: {r}"));
                }
            }
            let pdf =
                crate::report_pdf::text_pdf(&format!("Access review: {}", campaign.name), &lines);
            Ok(([(header::CONTENT_TYPE, "application/pdf")], pdf).into_response())
        }
    }
}
