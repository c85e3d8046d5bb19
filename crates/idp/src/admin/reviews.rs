//! Periodic access reviews: campaigns over a filter of connections, one item per
//! connection with a recommendation from usage (ID-JAGs issued in 30 and 90
//! days, last use), reviewers assigned away from their own access, decisions
//! (keep, revoke, modify; in bulk) whose remediation commits with them through
//! the same durable revoke path as a manual revocation, reassignment with a
//! note, the default action at the due date, and the report (CSV or PDF).

use super::{
    auth::Principal,
    common::*,
    connections::{connection_filter, exclude_user_in_tx, narrow_in_tx, revoke_in_tx},
    problem::{ApiError, ApiResult},
    usage::{Usage, exchange_usage},
    views::{app_ref, client_ref},
};
use crate::{
    audit,
    state::{Idp, SharedIdp},
};
use admin_api::*;
use axum::{
    Extension, Json,
    body::Bytes,
    extract::{Path, State},
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::json;
use sqlx::{Row, SqliteConnection, sqlite::SqliteRow};
use std::collections::HashMap;

const DAY: i64 = 86_400;
/// Who acts when the due date passes.
const DEADLINE_ACTOR: &str = "system:review-deadline";

fn default_str(d: ReviewDefault) -> &'static str {
    match d {
        ReviewDefault::Keep => "keep",
        ReviewDefault::Revoke => "revoke",
        ReviewDefault::Recommendation => "recommendation",
    }
}

fn decision_str(d: ReviewDecision) -> &'static str {
    match d {
        ReviewDecision::Keep => "keep",
        ReviewDecision::Revoke => "revoke",
        ReviewDecision::Modify => "modify",
    }
}

fn parse_decision(s: &str) -> ReviewDecision {
    match s {
        "revoke" => ReviewDecision::Revoke,
        "modify" => ReviewDecision::Modify,
        _ => ReviewDecision::Keep,
    }
}

fn json_of<T: serde::de::DeserializeOwned>(s: &str) -> Result<T, sqlx::Error> {
    serde_json::from_str(s).map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

/// The recommendation and its reason, from usage.
pub fn recommend(now: i64, last_used: Option<i64>, n30: u64, n90: u64) -> (ReviewDecision, String) {
    match (last_used, n30, n90) {
        (None, 0, 0) => (
            ReviewDecision::Revoke,
            "never used: no ID-JAG issued".into(),
        ),
        (_, 0, 0) => (ReviewDecision::Revoke, "no ID-JAG issued in 90 days".into()),
        (_, 0, n) => (
            ReviewDecision::Revoke,
            format!("no ID-JAG issued in 30 days ({n} in 90 days)"),
        ),
        (last, n, _) => (
            ReviewDecision::Keep,
            format!(
                "{n} ID-JAGs in the last 30 days{}",
                last.map(|t| format!(", last {} days ago", (now - t).max(0) / DAY))
                    .unwrap_or_default()
            ),
        ),
    }
}

/// Whether `reviewer` may not review this access: they own the client, or it
/// is their own (a per-user item).
fn conflicted(idp: &Idp, reviewer: &str, client_id: &str, username: Option<&str>) -> bool {
    username == Some(reviewer)
        || idp
            .config
            .client(client_id)
            .is_some_and(|c| c.owners.iter().any(|o| o == reviewer))
}

/// Refuses `reviewer` for an item that is their own access.
fn not_own_access(idp: &Idp, reviewer: &str, item: &ReviewItemView) -> ApiResult<()> {
    if conflicted(
        idp,
        reviewer,
        &item.client.client_id,
        item.username.as_deref(),
    ) {
        return Err(ApiError::sod(format!(
            "{reviewer} cannot review their own access ({} → {})",
            item.client.name, item.resource_app.name
        )));
    }
    Ok(())
}

fn item_view(idp: &Idp, r: &SqliteRow) -> Result<ReviewItemView, sqlx::Error> {
    let client_id: String = r.get("client_id");
    let app: String = r.get("resource_app");
    Ok(ReviewItemView {
        id: r.get("id"),
        campaign_id: r.get("campaign_id"),
        connection_id: r.get("connection_id"),
        client: client_ref(idp, &client_id),
        resource_app: app_ref(idp, &app),
        username: r.get("username"),
        granted_scopes: json_of(&r.get::<String, _>("scopes_json"))?,
        reviewer: r.get("reviewer"),
        recommendation: parse_decision(&r.get::<String, _>("recommendation")),
        recommendation_reason: r.get("recommendation_reason"),
        last_used_at: r.get("last_used_at"),
        exchanges_30d: r.get::<i64, _>("exchanges_30d") as u64,
        exchanges_90d: r.get::<i64, _>("exchanges_90d") as u64,
        decision: r
            .get::<Option<String>, _>("decision")
            .map(|d| parse_decision(&d)),
        decided_by: r.get("decided_by"),
        decided_at: r.get("decided_at"),
        reason: r.get("reason"),
        scopes_after: r
            .get::<Option<String>, _>("scopes_after_json")
            .map(|s| json_of(&s))
            .transpose()?,
        defaulted: r.get::<i64, _>("defaulted") != 0,
        remediation: r.get("remediation"),
        reassign_note: r.get("reassign_note"),
    })
}

async fn campaign_view(
    db: &mut SqliteConnection,
    id: &str,
) -> Result<Option<CampaignView>, sqlx::Error> {
    let Some(c) = sqlx::query("SELECT * FROM review_campaigns WHERE id = ?")
        .bind(id)
        .fetch_optional(&mut *db)
        .await?
    else {
        return Ok(None);
    };
    let progress: Vec<ReviewerProgress> = sqlx::query(
        "SELECT reviewer, COUNT(*) AS items, COUNT(decision) AS decided FROM review_items WHERE campaign_id = ? GROUP BY reviewer ORDER BY reviewer",
    )
    .bind(id)
    .fetch_all(&mut *db)
    .await?
    .iter()
    .map(|r| ReviewerProgress {
        reviewer: r.get("reviewer"),
        items: r.get::<i64, _>("items") as u64,
        decided: r.get::<i64, _>("decided") as u64,
    })
    .collect();
    let default_action = match c.get::<String, _>("default_action").as_str() {
        "revoke" => ReviewDefault::Revoke,
        "recommendation" => ReviewDefault::Recommendation,
        _ => ReviewDefault::Keep,
    };
    Ok(Some(CampaignView {
        id: c.get("id"),
        name: c.get("name"),
        scope: json_of(&c.get::<String, _>("scope_json"))?,
        reviewers: json_of(&c.get::<String, _>("reviewers_json"))?,
        fallback_reviewer: c.get("fallback_reviewer"),
        starts_at: c.get("starts_at"),
        due_at: c.get("due_at"),
        default_action,
        per_user: c.get::<i64, _>("per_user") != 0,
        status: if c.get::<String, _>("status") == "completed" {
            CampaignStatus::Completed
        } else {
            CampaignStatus::Active
        },
        created_by: c.get("created_by"),
        created_at: c.get("created_at"),
        completed_at: c.get("completed_at"),
        items: progress.iter().map(|p| p.items).sum(),
        decided: progress.iter().map(|p| p.decided).sum(),
        progress,
    }))
}

pub async fn create(
    State(idp): State<SharedIdp>,
    Extension(who): Extension<Principal>,
    body: Bytes,
) -> ApiResult<Response> {
    let req: CreateCampaign = parse_body(&body)?;
    non_negative(req.scope.unused_for, "scope.unused_for")?;
    let now = idp.now();
    let starts_at = req.starts_at.unwrap_or(now);
    if req.name.trim().is_empty() {
        return Err(ApiError::validation("a campaign needs a name"));
    }
    if req.due_at <= starts_at {
        return Err(ApiError::validation(
            "the due date must come after the start",
        ));
    }
    for r in req.reviewers.iter().chain([&req.fallback_reviewer]) {
        if idp.config.user(r).is_none() {
            return Err(ApiError::validation(format!(
                "`{r}` is not a user of this IdP"
            )));
        }
    }
    let mut scope = req.scope.clone();
    scope.cursor = None;
    scope.limit = None;
    let status = scope.status.clone().unwrap_or_else(|| "all".into());
    let (filter, binds) = connection_filter(&idp, &scope, &status);
    // Read and compute outside the write lock (a campaign may cover 100k
    // connections); the campaign then commits in one short write transaction.
    let mut db = idp.store.pool.acquire().await?;
    let live = if scope.status.is_none() {
        " AND c.status IN ('active', 'suspended')"
    } else {
        ""
    };
    let rows = bound(
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT c.*{filter}{live} ORDER BY c.resource_app, c.client_id"
        ))),
        &binds,
    )
    .fetch_all(&mut *db)
    .await?;
    if rows.is_empty() {
        return Err(ApiError::validation(
            "no connection matches the campaign's scope",
        ));
    }
    let used: HashMap<(String, String), (u64, u64)> =
        exchange_usage(&idp, &mut db, idp.now_ms(), false)
            .await?
            .into_iter()
            .map(|u| {
                (
                    (u.client_id, u.resource_app),
                    (u.exchanges_30d, u.exchanges_90d),
                )
            })
            .collect();
    // Per user: who used each pair, with their own counts.
    let mut by_user: HashMap<(String, String), Vec<Usage>> = HashMap::new();
    if req.per_user {
        for u in exchange_usage(&idp, &mut db, idp.now_ms(), true).await? {
            by_user
                .entry((u.client_id.clone(), u.resource_app.clone()))
                .or_default()
                .push(u);
        }
    }
    drop(db);
    let id = format!("rev_{}", uuid::Uuid::new_v4().simple());
    let mut items: Vec<[Bind; 13]> = Vec::with_capacity(rows.len());
    let mut k = 0usize;
    for r in rows.iter() {
        let v = super::views::connection_from_row(&idp, r, vec![])?;
        let key = (v.client.client_id.clone(), v.resource_app.id.clone());
        let (n30, n90) = used.get(&key).copied().unwrap_or((0, 0));
        // Per user: everyone who used it (and was not removed already); else the connection.
        let mut subjects: Vec<(Option<String>, u64, u64, Option<i64>)> = by_user
            .get(&key)
            .map(|us| {
                us.iter()
                    .filter(|u| {
                        u.subject
                            .as_ref()
                            .is_some_and(|s| !v.excluded_users.contains(s))
                    })
                    .map(|u| {
                        (
                            u.subject.clone(),
                            u.exchanges_30d,
                            u.exchanges_90d,
                            Some(u.last_at_ms / 1000),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        if subjects.is_empty() {
            subjects.push((None, n30, n90, v.last_used_at));
        }
        let scopes: Vec<&String> = v.granted_scopes.iter().map(|s| &s.name).collect();
        let scopes_json = serde_json::to_string(&scopes).expect("json");
        for (username, n30, n90, last) in subjects {
            let (rec, why) = recommend(now, last, n30, n90);
            // Named reviewers in turn, else the app's owners; never someone whose
            // own access it is (client owner, or the user of a per-user item).
            let candidates: Vec<String> = if req.reviewers.is_empty() {
                idp.config
                    .resource_app(&v.resource_app.id)
                    .map(|a| a.owners.clone())
                    .unwrap_or_default()
            } else {
                let n = req.reviewers.len();
                (0..n).map(|j| req.reviewers[(k + j) % n].clone()).collect()
            };
            k += 1;
            let reviewer = candidates
                .into_iter()
                .find(|c| !conflicted(&idp, c, &v.client.client_id, username.as_deref()))
                .unwrap_or_else(|| req.fallback_reviewer.clone());
            items.push([
                Bind::Text(format!("item_{}", uuid::Uuid::new_v4().simple())),
                Bind::Text(id.clone()),
                Bind::Text(v.id.clone()),
                Bind::Text(v.client.client_id.clone()),
                Bind::Text(v.resource_app.id.clone()),
                username.map(Bind::Text).unwrap_or(Bind::Null),
                Bind::Text(scopes_json.clone()),
                Bind::Text(reviewer),
                Bind::Text(decision_str(rec).into()),
                Bind::Text(why),
                last.map(Bind::Int).unwrap_or(Bind::Null),
                Bind::Int(n30 as i64),
                Bind::Int(n90 as i64),
            ]);
        }
    }
    let mut tx = idp.store.pool.begin_with("BEGIN IMMEDIATE").await?;
    sqlx::query(
        "INSERT INTO review_campaigns (id, name, scope_json, reviewers_json, fallback_reviewer, starts_at, due_at, default_action, status, created_by, created_at, per_user)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'active', ?, ?, ?)",
    )
    .bind(&id)
    .bind(req.name.trim())
    .bind(serde_json::to_string(&scope).expect("json"))
    .bind(serde_json::to_string(&req.reviewers).expect("json"))
    .bind(&req.fallback_reviewer)
    .bind(starts_at)
    .bind(req.due_at)
    .bind(default_str(req.default_action))
    .bind(&who.subject)
    .bind(now)
    .bind(req.per_user as i64)
    .execute(&mut *tx)
    .await?;
    // Multi-row inserts, 400 items (5,200 values) a statement.
    for chunk in items.chunks(400) {
        let sql = format!(
            "INSERT INTO review_items (id, campaign_id, connection_id, client_id, resource_app, username, scopes_json, reviewer, recommendation, recommendation_reason, last_used_at, exchanges_30d, exchanges_90d) VALUES {}",
            vec!["(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"; chunk.len()].join(", ")
        );
        bound(
            sqlx::query(sqlx::AssertSqlSafe(sql)),
            chunk.iter().flatten(),
        )
        .execute(&mut *tx)
        .await?;
    }
    let mut e = admin_event(&who, "review.campaign_created", &id);
    e.detail["items"] = json!(items.len());
    e.detail["due_at"] = json!(req.due_at);
    audit::append_in_tx(&mut tx, &[(&e, idp.now_ms())]).await?;
    let events = vec![record_change(&mut tx, "review.created", &id, idp.now_ms()).await?];
    let view = campaign_view(&mut tx, &id).await?.expect("created");
    tx.commit().await?;
    publish(&idp, events);
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

pub async fn list(State(idp): State<SharedIdp>) -> ApiResult<Json<Vec<CampaignView>>> {
    let mut db = idp.store.pool.acquire().await?;
    let ids: Vec<String> =
        sqlx::query_scalar("SELECT id FROM review_campaigns ORDER BY created_at DESC, id")
            .fetch_all(&mut *db)
            .await?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        out.extend(campaign_view(&mut db, &id).await?);
    }
    Ok(Json(out))
}

pub async fn get(
    State(idp): State<SharedIdp>,
    Path(id): Path<String>,
) -> ApiResult<Json<CampaignView>> {
    let mut db = idp.store.pool.acquire().await?;
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
    let mut filter = String::from(" FROM review_items WHERE campaign_id = ?");
    let mut binds = vec![Bind::Text(id.clone())];
    if let Some(r) = &q.reviewer {
        filter.push_str(" AND reviewer = ?");
        binds.push(Bind::Text(r.clone()));
    }
    match q.state.as_deref() {
        None | Some("") => {}
        Some("open") => filter.push_str(" AND decision IS NULL"),
        Some("decided") => filter.push_str(" AND decision IS NOT NULL"),
        Some(other) => {
            return Err(ApiError::validation(format!(
                "unknown state `{other}` (open or decided)"
            )));
        }
    }
    let offset = decode_cursor(q.cursor.as_deref())?;
    let limit = q.limit.unwrap_or(50).clamp(1, 500);
    let mut db = idp.store.pool.acquire().await?;
    let (rows, total) = sql_page(
        &mut db,
        "*",
        &filter,
        &binds,
        "resource_app, client_id, username, id",
        &[],
        offset,
        limit,
        false,
    )
    .await?;
    let items = rows
        .iter()
        .map(|r| item_view(&idp, r))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Json(page_at(items, offset, total)))
}

/// Applies one decision inside `tx`: the remediation (revoke or narrow through
/// the connection's own durable path), the item's row, and its audit event.
#[allow(clippy::too_many_arguments)]
async fn apply(
    idp: &Idp,
    tx: &mut SqliteConnection,
    item: &ReviewItemView,
    decision: ReviewDecision,
    scopes: Option<&[String]>,
    actor: &audit::AuditEvent,
    reason: &str,
    defaulted: bool,
) -> Result<Vec<ChangeEvent>, sqlx::Error> {
    let mut events = Vec::new();
    let base = |kind: &str| {
        let mut e = actor.clone();
        e.kind = kind.into();
        e.target = Some(item.connection_id.clone());
        e.detail["review_item"] = json!(item.id);
        e.detail["campaign"] = json!(item.campaign_id);
        e
    };
    let why = format!("access review: {reason}");
    let remediation = match decision {
        ReviewDecision::Keep => "kept".to_string(),
        ReviewDecision::Revoke if item.username.is_some() => {
            let user = item.username.as_deref().expect("per-user item");
            match exclude_user_in_tx(
                idp,
                tx,
                &item.connection_id,
                user,
                &why,
                base("connection.exclude_user"),
            )
            .await?
            {
                Some(ev) => {
                    events.push(ev);
                    format!("removed {user}")
                }
                None => "already removed".into(),
            }
        }
        ReviewDecision::Revoke => {
            match revoke_in_tx(
                idp,
                tx,
                &item.connection_id,
                &why,
                base("connection.revoke"),
            )
            .await?
            {
                Some(ev) => {
                    events.push(ev);
                    "revoked".into()
                }
                None => "already revoked".into(),
            }
        }
        ReviewDecision::Modify => {
            let keep = scopes.unwrap_or_default();
            match narrow_in_tx(
                idp,
                tx,
                &item.connection_id,
                keep,
                &why,
                base("connection.modify"),
            )
            .await?
            {
                Some(ev) => {
                    events.push(ev);
                    format!("narrowed to {}", keep.join(" "))
                }
                None => "already revoked".into(),
            }
        }
    };
    sqlx::query(
        "UPDATE review_items SET decision = ?, decided_by = ?, decided_at = ?, reason = ?, scopes_after_json = ?, defaulted = ?, remediation = ? WHERE id = ?",
    )
    .bind(decision_str(decision))
    .bind(&actor.actor)
    .bind(idp.now())
    .bind(reason)
    .bind(scopes.map(|s| serde_json::to_string(s).expect("json")))
    .bind(defaulted as i64)
    .bind(&remediation)
    .bind(&item.id)
    .execute(&mut *tx)
    .await?;
    let mut e = base("review.decision");
    e.target = Some(item.id.clone());
    e.client_id = Some(item.client.client_id.clone());
    e.reason = Some(reason.to_owned());
    e.detail["decision"] = json!(decision);
    e.detail["recommendation"] = json!(item.recommendation);
    e.detail["defaulted"] = json!(defaulted);
    e.detail["remediation"] = json!(remediation);
    audit::append_in_tx(tx, &[(&e, idp.now_ms())]).await?;
    Ok(events)
}

async fn load_items(
    idp: &Idp,
    db: &mut SqliteConnection,
    campaign: &str,
    ids: &[String],
) -> Result<Vec<ReviewItemView>, sqlx::Error> {
    sqlx::query("SELECT * FROM review_items WHERE campaign_id = ? AND id IN (SELECT value FROM json_each(?))")
        .bind(campaign)
        .bind(serde_json::to_string(ids).expect("json"))
        .fetch_all(&mut *db)
        .await?
        .iter()
        .map(|r| item_view(idp, r))
        .collect()
}

pub async fn decide(
    State(idp): State<SharedIdp>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Json<Vec<ReviewItemView>>> {
    let req: ReviewDecisions = parse_body(&body)?;
    if req.items.is_empty() || req.items.len() > 1000 {
        return Err(ApiError::validation("decide 1 to 1000 items at a time"));
    }
    let reason = req
        .reason
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty());
    let mut tx = idp.store.pool.begin_with("BEGIN IMMEDIATE").await?;
    let campaign = campaign_view(&mut tx, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("the campaign"))?;
    if campaign.status != CampaignStatus::Active {
        return Err(ApiError::conflict("the campaign is completed"));
    }
    if idp.now() >= campaign.due_at {
        return Err(ApiError::conflict(
            "the campaign is past its due date: its default action applies",
        ));
    }
    let items = load_items(&idp, &mut tx, &id, &req.items).await?;
    if items.len() != req.items.len() {
        return Err(ApiError::not_found("one of the items in this campaign"));
    }
    let actor = admin_event(&who, "review.decision", &id);
    let mut events = Vec::new();
    for item in &items {
        if item.decision.is_some() {
            return Err(ApiError::conflict(format!(
                "item {} is already decided",
                item.id
            )));
        }
        not_own_access(&idp, &who.subject, item)?;
        if req.decision == ReviewDecision::Modify && item.username.is_some() {
            return Err(ApiError::validation(
                "narrowing scopes changes the connection for everyone: keep or revoke this user's access, or review the connection as a whole",
            ));
        }
        if item.reviewer != who.subject && !who.has(Role::Admin) {
            return Err(ApiError::forbidden(format!(
                "item {} is assigned to {}",
                item.id, item.reviewer
            )));
        }
        let keeps = req.decision != ReviewDecision::Revoke;
        let against = keeps != (item.recommendation == ReviewDecision::Keep);
        if against && reason.is_none() {
            return Err(ApiError::validation(format!(
                "a reason is required: the recommendation for {} → {} is {} ({})",
                item.client.name,
                item.resource_app.name,
                decision_str(item.recommendation),
                item.recommendation_reason
            )));
        }
        if req.decision == ReviewDecision::Modify {
            let keep = req.scopes.as_deref().unwrap_or_default();
            if keep.is_empty() || keep.iter().any(|s| !item.granted_scopes.contains(s)) {
                return Err(ApiError::validation(
                    "modify keeps a non-empty subset of the granted scopes",
                ));
            }
        }
        let why = reason.unwrap_or("as recommended");
        events.extend(
            apply(
                &idp,
                &mut tx,
                item,
                req.decision,
                req.scopes.as_deref(),
                &actor,
                why,
                false,
            )
            .await?,
        );
    }
    // The last open item decided completes the campaign.
    let open: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM review_items WHERE campaign_id = ? AND decision IS NULL",
    )
    .bind(&id)
    .fetch_one(&mut *tx)
    .await?;
    if open == 0 {
        sqlx::query(
            "UPDATE review_campaigns SET status = 'completed', completed_at = ? WHERE id = ?",
        )
        .bind(idp.now())
        .bind(&id)
        .execute(&mut *tx)
        .await?;
        let mut e = actor.clone();
        e.kind = "review.campaign_completed".into();
        e.detail["defaulted"] = json!(0);
        audit::append_in_tx(&mut tx, &[(&e, idp.now_ms())]).await?;
    }
    events.push(record_change(&mut tx, "review.updated", &id, idp.now_ms()).await?);
    let decided = load_items(&idp, &mut tx, &id, &req.items).await?;
    tx.commit().await?;
    connections_committed(&idp, events);
    Ok(Json(decided))
}

pub async fn reassign(
    State(idp): State<SharedIdp>,
    Extension(who): Extension<Principal>,
    Path((id, item_id)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult<Json<ReviewItemView>> {
    let req: Reassign = parse_body(&body)?;
    let note = req.note.trim();
    if note.is_empty() {
        return Err(ApiError::validation("say why in a note"));
    }
    if idp.config.user(&req.to).is_none() {
        return Err(ApiError::validation(format!(
            "`{}` is not a user of this IdP",
            req.to
        )));
    }
    let mut tx = idp.store.pool.begin_with("BEGIN IMMEDIATE").await?;
    let item = load_items(&idp, &mut tx, &id, std::slice::from_ref(&item_id))
        .await?
        .pop()
        .ok_or_else(|| ApiError::not_found("the item"))?;
    if item.decision.is_some() {
        return Err(ApiError::conflict("the item is already decided"));
    }
    if item.reviewer != who.subject && !who.has(Role::Admin) {
        return Err(ApiError::forbidden(format!(
            "the item is assigned to {}",
            item.reviewer
        )));
    }
    not_own_access(&idp, &req.to, &item)?;
    sqlx::query("UPDATE review_items SET reviewer = ?, reassign_note = ? WHERE id = ?")
        .bind(&req.to)
        .bind(note)
        .bind(&item_id)
        .execute(&mut *tx)
        .await?;
    let mut e = admin_event(&who, "review.reassign", &item_id);
    e.reason = Some(note.to_owned());
    e.detail["from"] = json!(item.reviewer);
    e.detail["to"] = json!(req.to);
    audit::append_in_tx(&mut tx, &[(&e, idp.now_ms())]).await?;
    let events = vec![record_change(&mut tx, "review.updated", &id, idp.now_ms()).await?];
    let view = load_items(&idp, &mut tx, &id, &[item_id])
        .await?
        .pop()
        .expect("exists");
    tx.commit().await?;
    publish(&idp, events);
    Ok(Json(view))
}

/// Completes a campaign: every undecided item gets the default action (by the
/// deadline actor). Returns how many items were defaulted.
pub async fn complete_campaign(
    idp: &SharedIdp,
    id: &str,
    actor: audit::AuditEvent,
) -> ApiResult<usize> {
    let campaign = {
        let mut db = idp.store.pool.acquire().await?;
        campaign_view(&mut db, id)
            .await?
            .ok_or_else(|| ApiError::not_found("the campaign"))?
    };
    if campaign.status != CampaignStatus::Active {
        return Err(ApiError::conflict("the campaign is completed"));
    }
    let why = format!(
        "not decided by the due date: default action `{}`",
        default_str(campaign.default_action)
    );
    // In batches, each its own short transaction: other writers (exchanges'
    // audit events, decisions) go between them. Decided items are skipped, so an
    // interrupted run simply continues at the next sweep.
    let mut defaulted = 0;
    loop {
        let mut tx = idp.store.pool.begin_with("BEGIN IMMEDIATE").await?;
        let batch: Vec<ReviewItemView> = sqlx::query(
            "SELECT * FROM review_items WHERE campaign_id = ? AND decision IS NULL LIMIT 200",
        )
        .bind(id)
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|r| item_view(idp, r))
        .collect::<Result<_, _>>()?;
        let mut events = Vec::new();
        for item in &batch {
            let decision = match campaign.default_action {
                ReviewDefault::Keep => ReviewDecision::Keep,
                ReviewDefault::Revoke => ReviewDecision::Revoke,
                ReviewDefault::Recommendation => item.recommendation,
            };
            events.extend(apply(idp, &mut tx, item, decision, None, &actor, &why, true).await?);
        }
        defaulted += batch.len();
        if batch.is_empty() {
            let changed = sqlx::query(
                "UPDATE review_campaigns SET status = 'completed', completed_at = ? WHERE id = ? AND status = 'active'",
            )
            .bind(idp.now())
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if changed == 0 {
                return Err(ApiError::conflict("the campaign is completed"));
            }
            let mut e = actor.clone();
            e.kind = "review.campaign_completed".into();
            e.target = Some(id.to_owned());
            e.detail["defaulted"] = json!(defaulted);
            audit::append_in_tx(&mut tx, &[(&e, idp.now_ms())]).await?;
            events.push(record_change(&mut tx, "review.updated", id, idp.now_ms()).await?);
            tx.commit().await?;
            connections_committed(idp, events);
            return Ok(defaulted);
        }
        tx.commit().await?;
        connections_committed(idp, events);
    }
}

pub async fn complete(
    State(idp): State<SharedIdp>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<Json<CampaignView>> {
    complete_campaign(&idp, &id, admin_event(&who, "review.decision", &id)).await?;
    let mut db = idp.store.pool.acquire().await?;
    Ok(Json(campaign_view(&mut db, &id).await?.expect("exists")))
}

/// Runs the default action of every active campaign past its due date. The IdP
/// calls this every second; it uses the IdP's clock (tests move it).
pub async fn run_due(idp: &SharedIdp) -> usize {
    let due: Vec<String> = match sqlx::query_scalar(
        "SELECT id FROM review_campaigns WHERE status = 'active' AND due_at <= ?",
    )
    .bind(idp.now())
    .fetch_all(&idp.store.pool)
    .await
    {
        Ok(d) => d,
        Err(e) => {
            tracing::warn!(error = %e, "review deadline check failed");
            return 0;
        }
    };
    let mut n = 0;
    for id in due {
        let mut actor = audit::AuditEvent::new("review.decision", "success");
        actor.actor = Some(DEADLINE_ACTOR.into());
        match complete_campaign(idp, &id, actor).await {
            Ok(k) => {
                tracing::info!(campaign = %id, defaulted = k, "review campaign completed at its due date");
                n += 1;
            }
            Err(e) => {
                tracing::warn!(campaign = %id, error = ?e.problem().code, "review deadline not applied")
            }
        }
    }
    n
}

/// The campaign report: every item, its recommendation, decision, who, when,
/// why, and what was done.
pub async fn report(
    State(idp): State<SharedIdp>,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<ReportQuery>,
) -> ApiResult<Response> {
    let mut db = idp.store.pool.acquire().await?;
    let campaign = campaign_view(&mut db, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("the campaign"))?;
    let items: Vec<ReviewItemView> = sqlx::query(
        "SELECT * FROM review_items WHERE campaign_id = ? ORDER BY resource_app, client_id, username, id",
    )
    .bind(&id)
    .fetch_all(&mut *db)
    .await?
    .iter()
    .map(|r| item_view(&idp, r))
    .collect::<Result<_, _>>()?;
    let when = |t: Option<i64>| t.map(|t| t.to_string()).unwrap_or_default();
    match q.format.as_deref().unwrap_or("csv") {
        "csv" => {
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
        "pdf" => {
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
        other => Err(ApiError::validation(format!(
            "unknown format `{other}` (csv or pdf)"
        ))),
    }
}
