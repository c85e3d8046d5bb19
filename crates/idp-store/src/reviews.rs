//! `review_campaigns` and `review_items`: periodic access reviews, one item per
//! connection (or per user of a connection), each with its recommendation,
//! reviewer, decision and what the decision did.

use crate::{
    Backend, Conn, Db, DbResult, from_json, json, known_status,
    page::{Bind, bound, sql_page},
    sql,
    sql::sql_owned,
};
use admin_api::{
    CampaignStatus, CampaignView, ConnectionQuery, ReviewDecision, ReviewDefault, ReviewerProgress,
};
use sqlx::{Row, any::AnyRow};

pub fn decision_str(d: ReviewDecision) -> &'static str {
    match d {
        ReviewDecision::Keep => "keep",
        ReviewDecision::Revoke => "revoke",
        ReviewDecision::Modify => "modify",
    }
}

fn parse_decision(s: &str) -> Option<ReviewDecision> {
    match s {
        "keep" => Some(ReviewDecision::Keep),
        "revoke" => Some(ReviewDecision::Revoke),
        "modify" => Some(ReviewDecision::Modify),
        _ => None,
    }
}

pub fn default_str(d: ReviewDefault) -> &'static str {
    match d {
        ReviewDefault::Keep => "keep",
        ReviewDefault::Revoke => "revoke",
        ReviewDefault::Recommendation => "recommendation",
    }
}

fn parse_default(s: &str) -> Option<ReviewDefault> {
    match s {
        "keep" => Some(ReviewDefault::Keep),
        "revoke" => Some(ReviewDefault::Revoke),
        "recommendation" => Some(ReviewDefault::Recommendation),
        _ => None,
    }
}

fn parse_status(s: &str) -> Option<CampaignStatus> {
    match s {
        "active" => Some(CampaignStatus::Active),
        "completed" => Some(CampaignStatus::Completed),
        _ => None,
    }
}

/// A stored review item (the views add the client's and app's names).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewItemRow {
    pub id: String,
    pub campaign_id: String,
    pub connection_id: String,
    pub client_id: String,
    pub resource_app: String,
    pub username: Option<String>,
    pub granted_scopes: Vec<String>,
    pub reviewer: String,
    pub recommendation: ReviewDecision,
    pub recommendation_reason: String,
    pub last_used_at: Option<i64>,
    pub exchanges_30d: u64,
    pub exchanges_90d: u64,
    pub decision: Option<ReviewDecision>,
    pub decided_by: Option<String>,
    pub decided_at: Option<i64>,
    pub reason: Option<String>,
    pub scopes_after: Option<Vec<String>>,
    pub defaulted: bool,
    pub remediation: Option<String>,
    pub reassign_note: Option<String>,
}

impl ReviewItemRow {
    /// The one decoder of a `review_items` row.
    fn decode(r: &AnyRow) -> DbResult<ReviewItemRow> {
        let rec: String = r.get("recommendation");
        Ok(ReviewItemRow {
            id: r.get("id"),
            campaign_id: r.get("campaign_id"),
            connection_id: r.get("connection_id"),
            client_id: r.get("client_id"),
            resource_app: r.get("resource_app"),
            username: r.get("username"),
            granted_scopes: from_json(&r.get::<String, _>("scopes_json"))?,
            reviewer: r.get("reviewer"),
            recommendation: known_status(parse_decision(&rec), &rec, "review recommendation")?,
            recommendation_reason: r.get("recommendation_reason"),
            last_used_at: r.get("last_used_at"),
            exchanges_30d: r.get::<i64, _>("exchanges_30d").max(0) as u64,
            exchanges_90d: r.get::<i64, _>("exchanges_90d").max(0) as u64,
            decision: r
                .get::<Option<String>, _>("decision")
                .map(|d| known_status(parse_decision(&d), &d, "review decision"))
                .transpose()?,
            decided_by: r.get("decided_by"),
            decided_at: r.get("decided_at"),
            reason: r.get("reason"),
            scopes_after: r
                .get::<Option<String>, _>("scopes_after_json")
                .map(|s| from_json(&s))
                .transpose()?,
            defaulted: r.get::<i64, _>("defaulted") != 0,
            remediation: r.get("remediation"),
            reassign_note: r.get("reassign_note"),
        })
    }
}

/// A campaign to create.
pub struct NewCampaign<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub scope: &'a ConnectionQuery,
    pub reviewers: &'a [String],
    pub fallback_reviewer: &'a str,
    pub starts_at: i64,
    pub due_at: i64,
    pub default_action: ReviewDefault,
    pub created_by: &'a str,
    pub created_at: i64,
    pub per_user: bool,
    pub kind: admin_api::CampaignKind,
}

/// An item to create.
pub struct NewItem {
    pub connection_id: String,
    pub client_id: String,
    pub resource_app: String,
    pub username: Option<String>,
    pub scopes: Vec<String>,
    pub reviewer: String,
    pub recommendation: ReviewDecision,
    pub recommendation_reason: String,
    pub last_used_at: Option<i64>,
    pub exchanges_30d: u64,
    pub exchanges_90d: u64,
}

/// Creates the campaign and its items in the caller's transaction.
pub async fn insert_campaign(
    tx: &mut Conn,
    c: &NewCampaign<'_>,
    items: &[NewItem],
) -> DbResult<()> {
    let b = Backend::of(tx);
    sqlx::query(sql(
        b,
        "INSERT INTO review_campaigns (id, name, scope_json, reviewers_json, fallback_reviewer, starts_at, due_at, default_action, status, created_by, created_at, per_user, kind)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'active', ?, ?, ?, ?)",
    ))
    .bind(c.id)
    .bind(c.name)
    .bind(json(c.scope))
    .bind(json(c.reviewers))
    .bind(c.fallback_reviewer)
    .bind(c.starts_at)
    .bind(c.due_at)
    .bind(default_str(c.default_action))
    .bind(c.created_by)
    .bind(c.created_at)
    .bind(i64::from(c.per_user))
    .bind(c.kind.as_str())
    .execute(&mut *tx)
    .await?;
    // Multi-row inserts, 400 items (5,200 values) a statement.
    for chunk in items.chunks(400) {
        let text = format!(
            "INSERT INTO review_items (id, campaign_id, connection_id, client_id, resource_app, username, scopes_json, reviewer, recommendation, recommendation_reason, last_used_at, exchanges_30d, exchanges_90d) VALUES {}",
            vec!["(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"; chunk.len()].join(", ")
        );
        let binds: Vec<Bind> = chunk
            .iter()
            .flat_map(|i| {
                [
                    Bind::Text(format!("item_{}", uuid::Uuid::new_v4().simple())),
                    Bind::Text(c.id.to_owned()),
                    Bind::Text(i.connection_id.clone()),
                    Bind::Text(i.client_id.clone()),
                    Bind::Text(i.resource_app.clone()),
                    i.username.clone().map_or(Bind::NullText, Bind::Text),
                    Bind::Text(json(&i.scopes)),
                    Bind::Text(i.reviewer.clone()),
                    Bind::Text(decision_str(i.recommendation).into()),
                    Bind::Text(i.recommendation_reason.clone()),
                    i.last_used_at.map_or(Bind::NullInt, Bind::Int),
                    Bind::Int(i.exchanges_30d as i64),
                    Bind::Int(i.exchanges_90d as i64),
                ]
            })
            .collect();
        bound(sqlx::query(sql_owned(b, text)), &binds)
            .execute(&mut *tx)
            .await?;
    }
    Ok(())
}

/// A campaign with its progress per reviewer.
pub async fn campaign(c: &mut Conn, id: &str) -> DbResult<Option<CampaignView>> {
    let b = Backend::of(c);
    let Some(r) = sqlx::query(sql(b, "SELECT * FROM review_campaigns WHERE id = ?"))
        .bind(id)
        .fetch_optional(&mut *c)
        .await?
    else {
        return Ok(None);
    };
    let progress: Vec<ReviewerProgress> = sqlx::query(sql(
        b,
        "SELECT reviewer, COUNT(*) AS items, COUNT(decision) AS decided FROM review_items WHERE campaign_id = ? GROUP BY reviewer ORDER BY reviewer",
    ))
    .bind(id)
    .fetch_all(&mut *c)
    .await?
    .iter()
    .map(|p| ReviewerProgress {
        reviewer: p.get("reviewer"),
        items: p.get::<i64, _>("items") as u64,
        decided: p.get::<i64, _>("decided") as u64,
    })
    .collect();
    let default_action: String = r.get("default_action");
    let status: String = r.get("status");
    let kind: String = r.get("kind");
    Ok(Some(CampaignView {
        id: r.get("id"),
        name: r.get("name"),
        kind: known_status(
            admin_api::CampaignKind::parse(&kind),
            &kind,
            "campaign kind",
        )?,
        scope: from_json(&r.get::<String, _>("scope_json"))?,
        reviewers: from_json(&r.get::<String, _>("reviewers_json"))?,
        fallback_reviewer: r.get("fallback_reviewer"),
        starts_at: r.get("starts_at"),
        due_at: r.get("due_at"),
        default_action: known_status(
            parse_default(&default_action),
            &default_action,
            "review default action",
        )?,
        per_user: r.get::<i64, _>("per_user") != 0,
        status: known_status(parse_status(&status), &status, "campaign")?,
        created_by: r.get("created_by"),
        created_at: r.get("created_at"),
        completed_at: r.get("completed_at"),
        items: progress.iter().map(|p| p.items).sum(),
        decided: progress.iter().map(|p| p.decided).sum(),
        progress,
    }))
}

/// Every campaign, newest first.
pub async fn campaigns(c: &mut Conn) -> DbResult<Vec<CampaignView>> {
    let ids: Vec<String> =
        sqlx::query_scalar("SELECT id FROM review_campaigns ORDER BY created_at DESC, id")
            .fetch_all(&mut *c)
            .await?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        out.extend(campaign(c, &id).await?);
    }
    Ok(out)
}

/// Which items of a campaign a page shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemState {
    Any,
    Open,
    Decided,
}

/// One page of a campaign's items (by app, client, user), and the total.
pub async fn items_page(
    c: &mut Conn,
    campaign: &str,
    reviewer: Option<&str>,
    state: ItemState,
    offset: usize,
    limit: usize,
) -> DbResult<(Vec<ReviewItemRow>, i64)> {
    let mut filter = String::from(" FROM review_items WHERE campaign_id = ?");
    let mut binds = vec![Bind::Text(campaign.to_owned())];
    if let Some(r) = reviewer {
        filter.push_str(" AND reviewer = ?");
        binds.push(Bind::Text(r.to_owned()));
    }
    match state {
        ItemState::Any => {}
        ItemState::Open => filter.push_str(" AND decision IS NULL"),
        ItemState::Decided => filter.push_str(" AND decision IS NOT NULL"),
    }
    let (rows, total) = sql_page(
        c,
        "*",
        &filter,
        &binds,
        "resource_app, client_id, username NULLS FIRST, id",
        &[],
        offset,
        limit,
        false,
    )
    .await?;
    let rows = rows
        .iter()
        .map(ReviewItemRow::decode)
        .collect::<DbResult<Vec<_>>>()?;
    Ok((rows, total))
}

/// Every item of a campaign, in report order.
pub async fn all_items(c: &mut Conn, campaign: &str) -> DbResult<Vec<ReviewItemRow>> {
    sqlx::query(sql(
        Backend::of(c),
        "SELECT * FROM review_items WHERE campaign_id = ? ORDER BY resource_app, client_id, username NULLS FIRST, id",
    ))
    .bind(campaign)
    .fetch_all(&mut *c)
    .await?
    .iter()
    .map(ReviewItemRow::decode)
    .collect()
}

/// The named items of a campaign (those that exist).
pub async fn items(c: &mut Conn, campaign: &str, ids: &[String]) -> DbResult<Vec<ReviewItemRow>> {
    let b = Backend::of(c);
    let text = format!(
        "SELECT * FROM review_items WHERE campaign_id = ? AND id IN {}",
        b.json_values("?")
    );
    sqlx::query(sql_owned(b, text))
        .bind(campaign)
        .bind(json(ids))
        .fetch_all(&mut *c)
        .await?
        .iter()
        .map(ReviewItemRow::decode)
        .collect()
}

/// Up to `limit` undecided items of a campaign.
pub async fn open_items(c: &mut Conn, campaign: &str, limit: i64) -> DbResult<Vec<ReviewItemRow>> {
    sqlx::query(sql(
        Backend::of(c),
        "SELECT * FROM review_items WHERE campaign_id = ? AND decision IS NULL ORDER BY id LIMIT ?",
    ))
    .bind(campaign)
    .bind(limit)
    .fetch_all(&mut *c)
    .await?
    .iter()
    .map(ReviewItemRow::decode)
    .collect()
}

/// How many items of a campaign are undecided.
pub async fn open_count(c: &mut Conn, campaign: &str) -> DbResult<i64> {
    sqlx::query_scalar(sql(
        Backend::of(c),
        "SELECT COUNT(*) FROM review_items WHERE campaign_id = ? AND decision IS NULL",
    ))
    .bind(campaign)
    .fetch_one(&mut *c)
    .await
}

/// A decision on an item and what it did.
pub struct ItemDecision<'a> {
    pub decision: ReviewDecision,
    pub decided_by: Option<&'a str>,
    pub decided_at: i64,
    pub reason: &'a str,
    pub scopes_after: Option<&'a [String]>,
    pub defaulted: bool,
    pub remediation: &'a str,
}

pub async fn decide_item(tx: &mut Conn, item_id: &str, d: &ItemDecision<'_>) -> DbResult<()> {
    sqlx::query(sql(
        Backend::of(tx),
        "UPDATE review_items SET decision = ?, decided_by = ?, decided_at = ?, reason = ?, scopes_after_json = ?, defaulted = ?, remediation = ? WHERE id = ?",
    ))
    .bind(decision_str(d.decision))
    .bind(d.decided_by)
    .bind(d.decided_at)
    .bind(d.reason)
    .bind(d.scopes_after.map(json))
    .bind(i64::from(d.defaulted))
    .bind(d.remediation)
    .bind(item_id)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

pub async fn reassign(tx: &mut Conn, item_id: &str, to: &str, note: &str) -> DbResult<()> {
    sqlx::query(sql(
        Backend::of(tx),
        "UPDATE review_items SET reviewer = ?, reassign_note = ? WHERE id = ?",
    ))
    .bind(to)
    .bind(note)
    .bind(item_id)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Completes an active campaign; false when it was not active.
pub async fn complete(tx: &mut Conn, id: &str, now: i64) -> DbResult<bool> {
    Ok(sqlx::query(sql(
        Backend::of(tx),
        "UPDATE review_campaigns SET status = 'completed', completed_at = ? WHERE id = ? AND status = 'active'",
    ))
    .bind(now)
    .bind(id)
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1)
}

impl Db {
    /// Active campaigns past their due date.
    pub async fn campaigns_due(&self, now: i64) -> DbResult<Vec<String>> {
        sqlx::query_scalar(sql(
            self.backend(),
            "SELECT id FROM review_campaigns WHERE status = 'active' AND due_at <= ? ORDER BY due_at, id",
        ))
        .bind(now)
        .fetch_all(self.pool())
        .await
    }
}
