//! Access reviews as decisions: start a campaign, decide or reassign its items,
//! complete it (by hand or, at the due date, by the deadline job with the
//! campaign's default action, in small batches that an interrupted run simply
//! continues). Remediations go through the connections' in-transaction steps,
//! so a review's revoke is as durable as any other.

use super::{
    Committed, Principal, ServiceError, ServiceResult, actor_event,
    connections::{connection_filter, exclude_user_in_tx, narrow_in_tx, revoke_in_tx},
};
use crate::{
    audit::{self, AuditOutcome},
    state::Idp,
    usage::{Usage, exchange_usage},
    views::{app_ref, client_ref, connection_from_row},
};
use admin_api::*;
use idp_store::{
    Conn, connections,
    reviews::{self, ReviewItemRow, decision_str, default_str},
};
use serde_json::json;
use std::collections::HashMap;

const DAY: i64 = 86_400;
/// Who acts when the due date passes.
const DEADLINE_ACTOR: &str = "system:review-deadline";

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

/// Whether `reviewer` may not review this access: it is their own (a
/// per-user item), or — in an access campaign — they own or sponsor the
/// client. An agent campaign is the owners' own certification of what their
/// agent reaches, so there its owners are the reviewers.
fn conflicted(
    idp: &Idp,
    kind: CampaignKind,
    reviewer: &str,
    client_id: &str,
    username: Option<&str>,
) -> bool {
    username == Some(reviewer)
        || (kind == CampaignKind::Access
            && idp
                .catalog()
                .client(client_id)
                .is_some_and(|c| super::ownership::accountable_for(&c, reviewer)))
}

/// Refuses `reviewer` for an item that is their own access.
pub(crate) fn not_own_access(
    idp: &Idp,
    kind: CampaignKind,
    reviewer: &str,
    item: &ReviewItemView,
) -> ServiceResult<()> {
    if conflicted(
        idp,
        kind,
        reviewer,
        &item.client.client_id,
        item.username.as_deref(),
    ) {
        return Err(ServiceError::sod(format!(
            "{reviewer} cannot review their own access ({} → {})",
            item.client.name, item.resource_app.name
        )));
    }
    Ok(())
}

pub fn item_view(idp: &Idp, r: ReviewItemRow) -> ReviewItemView {
    ReviewItemView {
        client: client_ref(idp, &r.client_id),
        resource_app: app_ref(idp, &r.resource_app),
        id: r.id,
        campaign_id: r.campaign_id,
        connection_id: r.connection_id,
        username: r.username,
        granted_scopes: r.granted_scopes,
        reviewer: r.reviewer,
        recommendation: r.recommendation,
        recommendation_reason: r.recommendation_reason,
        last_used_at: r.last_used_at,
        exchanges_30d: r.exchanges_30d,
        exchanges_90d: r.exchanges_90d,
        decision: r.decision,
        decided_by: r.decided_by,
        decided_at: r.decided_at,
        reason: r.reason,
        scopes_after: r.scopes_after,
        defaulted: r.defaulted,
        remediation: r.remediation,
        reassign_note: r.reassign_note,
    }
}

pub fn item_views(idp: &Idp, rows: Vec<ReviewItemRow>) -> Vec<ReviewItemView> {
    rows.into_iter().map(|r| item_view(idp, r)).collect()
}

pub async fn campaign_view(db: &mut Conn, id: &str) -> Result<Option<CampaignView>, sqlx::Error> {
    reviews::campaign(db, id).await
}

/// Starts a campaign: one item per connection (or, per user, per person who
/// used it) matching the scope, each with a recommendation from usage and a
/// reviewer whose own access it is not.
pub async fn start_campaign(
    idp: &Idp,
    who: &Principal,
    req: &CreateCampaign,
) -> ServiceResult<Committed<CampaignView>> {
    if req.scope.unused_for.is_some_and(|u| u < 0) {
        return Err(ServiceError::invalid(
            "scope.unused_for must not be negative",
        ));
    }
    let now = idp.now();
    let starts_at = req.starts_at.unwrap_or(now);
    if req.name.trim().is_empty() {
        return Err(ServiceError::invalid("a campaign needs a name"));
    }
    if req.due_at <= starts_at {
        return Err(ServiceError::invalid(
            "the due date must come after the start",
        ));
    }
    // An agent campaign: every connection of one client, for its owners.
    let owners: Vec<String> = match req.kind {
        CampaignKind::Access => vec![],
        CampaignKind::Agent => {
            let Some(client_id) = req.scope.client_id.as_deref() else {
                return Err(ServiceError::invalid(
                    "an agent campaign names its AI client in scope.client_id",
                ));
            };
            if !req.reviewers.is_empty() {
                return Err(ServiceError::invalid(
                    "an agent campaign is reviewed by the client's owners: name no reviewers",
                ));
            }
            let client = idp
                .catalog()
                .client(client_id)
                .ok_or(ServiceError::NotFound("the AI client"))?;
            let active = super::ownership::active_people(idp).await?;
            client
                .owners
                .iter()
                .filter(|o| active.contains(&idp_store::directory::name_key(o)))
                .cloned()
                .collect()
        }
    };
    for r in req.reviewers.iter().chain([&req.fallback_reviewer]) {
        if idp.person(r).await?.is_none() {
            return Err(ServiceError::invalid(format!(
                "`{r}` is not a user of this IdP"
            )));
        }
    }
    let mut scope = req.scope.clone();
    scope.cursor = None;
    scope.limit = None;
    let mut filter = connection_filter(
        idp,
        &scope,
        scope.status.and_then(ConnectionStatusFilter::status),
    )
    .await?;
    // Read and compute outside the write lock (a campaign may cover 100k
    // connections); the campaign then commits in one short write transaction.
    let mut db = idp.store.acquire().await?;
    filter.live_only = scope.status.is_none();
    let rows = connections::matching(&mut db, &filter).await?;
    if rows.is_empty() {
        return Err(ServiceError::invalid(
            "no connection matches the campaign's scope",
        ));
    }
    let used: HashMap<(String, String), (u64, u64)> =
        exchange_usage(idp, &mut db, idp.now_ms(), false)
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
        for u in exchange_usage(idp, &mut db, idp.now_ms(), true).await? {
            by_user
                .entry((u.client_id.clone(), u.resource_app.clone()))
                .or_default()
                .push(u);
        }
    }
    drop(db);
    let id = format!("rev_{}", uuid::Uuid::new_v4().simple());
    let mut items: Vec<reviews::NewItem> = Vec::with_capacity(rows.len());
    let mut k = 0usize;
    for r in rows {
        let v = connection_from_row(idp, r, vec![]);
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
        let scopes: Vec<String> = v.granted_scopes.iter().map(|s| s.name.clone()).collect();
        for (username, n30, n90, last) in subjects {
            let (rec, why) = recommend(now, last, n30, n90);
            // Named reviewers in turn, else the app's owners; never someone whose
            // own access it is (client owner, or the user of a per-user item).
            let candidates: Vec<String> = if req.kind == CampaignKind::Agent {
                // The owners in turn (an orphaned client: the fallback).
                let n = owners.len();
                (0..n).map(|j| owners[(k + j) % n].clone()).collect()
            } else if req.reviewers.is_empty() {
                idp.catalog()
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
                .find(|c| !conflicted(idp, req.kind, c, &v.client.client_id, username.as_deref()))
                .unwrap_or_else(|| req.fallback_reviewer.clone());
            items.push(reviews::NewItem {
                connection_id: v.id.clone(),
                client_id: v.client.client_id.clone(),
                resource_app: v.resource_app.id.clone(),
                username,
                scopes: scopes.clone(),
                reviewer,
                recommendation: rec,
                recommendation_reason: why,
                last_used_at: last,
                exchanges_30d: n30,
                exchanges_90d: n90,
            });
        }
    }
    let mut tx = idp.store.begin_write().await?;
    reviews::insert_campaign(
        &mut tx,
        &reviews::NewCampaign {
            id: &id,
            name: req.name.trim(),
            scope: &scope,
            reviewers: &req.reviewers,
            fallback_reviewer: &req.fallback_reviewer,
            starts_at,
            due_at: req.due_at,
            default_action: req.default_action,
            created_by: &who.subject,
            created_at: now,
            per_user: req.per_user,
            kind: req.kind,
        },
        &items,
    )
    .await?;
    let mut e = actor_event(who, "review.campaign_created", &id);
    e.detail["items"] = json!(items.len());
    e.detail["kind"] = json!(req.kind);
    e.detail["due_at"] = json!(req.due_at);
    audit::append(&mut tx, &[(&e, idp.now_ms())]).await?;
    let events = vec![
        idp_store::changes::record(
            &mut tx,
            admin_api::ChangeKind::ReviewCreated,
            &id,
            idp.now_ms(),
        )
        .await?,
    ];
    let view = campaign_view(&mut tx, &id)
        .await?
        .ok_or_else(|| ServiceError::conflict("the campaign was not stored"))?;
    tx.commit().await?;
    Ok(Committed {
        value: view,
        changes: events,
        connections_changed: false,
    })
}

/// Applies one decision inside `tx`: the remediation (revoke or narrow through
/// the connection's own durable path), the item's row, and its audit event.
#[allow(clippy::too_many_arguments)]
async fn apply(
    idp: &Idp,
    tx: &mut Conn,
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
            let user = item.username.as_deref().unwrap_or_default();
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
    reviews::decide_item(
        tx,
        &item.id,
        &reviews::ItemDecision {
            decision,
            decided_by: actor.actor.as_deref(),
            decided_at: idp.now(),
            reason,
            scopes_after: scopes,
            defaulted,
            remediation: &remediation,
        },
    )
    .await?;
    let mut e = base("review.decision");
    e.target = Some(item.id.clone());
    e.client_id = Some(item.client.client_id.clone());
    e.reason = Some(reason.to_owned());
    e.detail["decision"] = json!(decision);
    e.detail["recommendation"] = json!(item.recommendation);
    e.detail["defaulted"] = json!(defaulted);
    e.detail["remediation"] = json!(remediation);
    audit::append(tx, &[(&e, idp.now_ms())]).await?;
    Ok(events)
}

async fn load_items(
    idp: &Idp,
    db: &mut Conn,
    campaign: &str,
    ids: &[String],
) -> Result<Vec<ReviewItemView>, sqlx::Error> {
    Ok(item_views(idp, reviews::items(db, campaign, ids).await?))
}

/// Decides items of campaign `id` at once (keep, revoke, or narrow), each
/// through the connection's own durable path; the last one completes it.
pub async fn decide_items(
    idp: &Idp,
    who: &Principal,
    id: &str,
    req: &ReviewDecisions,
) -> ServiceResult<Committed<Vec<ReviewItemView>>> {
    if req.items.is_empty() || req.items.len() > 1000 {
        return Err(ServiceError::invalid("decide 1 to 1000 items at a time"));
    }
    let reason = req
        .reason
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty());
    let mut tx = idp.store.begin_write().await?;
    let campaign = campaign_view(&mut tx, id)
        .await?
        .ok_or(ServiceError::NotFound("the campaign"))?;
    if campaign.status != CampaignStatus::Active {
        return Err(ServiceError::conflict("the campaign is completed"));
    }
    if idp.now() >= campaign.due_at {
        return Err(ServiceError::conflict(
            "the campaign is past its due date: its default action applies",
        ));
    }
    let items = load_items(idp, &mut tx, id, &req.items).await?;
    if items.len() != req.items.len() {
        return Err(ServiceError::NotFound("one of the items in this campaign"));
    }
    let actor = actor_event(who, "review.decision", id);
    let mut events = Vec::new();
    for item in &items {
        if item.decision.is_some() {
            return Err(ServiceError::conflict(format!(
                "item {} is already decided",
                item.id
            )));
        }
        not_own_access(idp, campaign.kind, &who.subject, item)?;
        if req.decision == ReviewDecision::Modify && item.username.is_some() {
            return Err(ServiceError::invalid(
                "narrowing scopes changes the connection for everyone: keep or revoke this user's access, or review the connection as a whole",
            ));
        }
        if item.reviewer != who.subject && !who.has(Role::Admin) {
            return Err(ServiceError::forbidden(format!(
                "item {} is assigned to {}",
                item.id, item.reviewer
            )));
        }
        // Access reviews take the reviewer role; an agent campaign's owners
        // certify their own agent whatever their role.
        if campaign.kind == CampaignKind::Access
            && !who.has(Role::Reviewer)
            && !who.has(Role::Admin)
        {
            return Err(ServiceError::forbidden(
                "deciding access review items takes the reviewer role",
            ));
        }
        let keeps = req.decision != ReviewDecision::Revoke;
        let against = keeps != (item.recommendation == ReviewDecision::Keep);
        if against && reason.is_none() {
            return Err(ServiceError::invalid(format!(
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
                return Err(ServiceError::invalid(
                    "modify keeps a non-empty subset of the granted scopes",
                ));
            }
        }
        let why = reason.unwrap_or("as recommended");
        events.extend(
            apply(
                idp,
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
    let open = reviews::open_count(&mut tx, id).await?;
    if open == 0 {
        reviews::complete(&mut tx, id, idp.now()).await?;
        let mut e = actor.clone();
        e.kind = "review.campaign_completed".into();
        e.detail["defaulted"] = json!(0);
        audit::append(&mut tx, &[(&e, idp.now_ms())]).await?;
    }
    events.push(
        idp_store::changes::record(
            &mut tx,
            admin_api::ChangeKind::ReviewUpdated,
            id,
            idp.now_ms(),
        )
        .await?,
    );
    let decided = load_items(idp, &mut tx, id, &req.items).await?;
    tx.commit().await?;
    Ok(Committed {
        value: decided,
        changes: events,
        connections_changed: true,
    })
}

/// Hands an undecided item to another reviewer, with a note saying why.
pub async fn reassign_item(
    idp: &Idp,
    who: &Principal,
    id: &str,
    item_id: &str,
    req: &Reassign,
) -> ServiceResult<Committed<ReviewItemView>> {
    let note = req.note.trim();
    if note.is_empty() {
        return Err(ServiceError::invalid("say why in a note"));
    }
    if idp.person(&req.to).await?.is_none() {
        return Err(ServiceError::invalid(format!(
            "`{}` is not a user of this IdP",
            req.to
        )));
    }
    let mut tx = idp.store.begin_write().await?;
    let kind = campaign_view(&mut tx, id)
        .await?
        .ok_or(ServiceError::NotFound("the campaign"))?
        .kind;
    let item = load_items(idp, &mut tx, id, &[item_id.to_owned()])
        .await?
        .pop()
        .ok_or(ServiceError::NotFound("the item"))?;
    if item.decision.is_some() {
        return Err(ServiceError::conflict("the item is already decided"));
    }
    if item.reviewer != who.subject && !who.has(Role::Admin) {
        return Err(ServiceError::forbidden(format!(
            "the item is assigned to {}",
            item.reviewer
        )));
    }
    not_own_access(idp, kind, &req.to, &item)?;
    reviews::reassign(&mut tx, item_id, &req.to, note).await?;
    let mut e = actor_event(who, "review.reassign", item_id);
    e.reason = Some(note.to_owned());
    e.detail["from"] = json!(item.reviewer);
    e.detail["to"] = json!(req.to);
    audit::append(&mut tx, &[(&e, idp.now_ms())]).await?;
    let events = vec![
        idp_store::changes::record(
            &mut tx,
            admin_api::ChangeKind::ReviewUpdated,
            id,
            idp.now_ms(),
        )
        .await?,
    ];
    let view = load_items(idp, &mut tx, id, &[item_id.to_owned()])
        .await?
        .pop()
        .ok_or(ServiceError::NotFound("the item"))?;
    tx.commit().await?;
    Ok(Committed {
        value: view,
        changes: events,
        connections_changed: false,
    })
}

/// Completes a campaign: every undecided item gets the default action (by the
/// deadline actor). Returns how many items were defaulted.
pub async fn complete_campaign(
    idp: &Idp,
    id: &str,
    actor: audit::AuditEvent,
) -> ServiceResult<usize> {
    let campaign = {
        let mut db = idp.store.acquire().await?;
        campaign_view(&mut db, id)
            .await?
            .ok_or(ServiceError::NotFound("the campaign"))?
    };
    if campaign.status != CampaignStatus::Active {
        return Err(ServiceError::conflict("the campaign is completed"));
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
        let mut tx = idp.store.begin_write().await?;
        let batch = item_views(idp, reviews::open_items(&mut tx, id, 200).await?);
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
            let changed = reviews::complete(&mut tx, id, idp.now()).await?;
            if !changed {
                return Err(ServiceError::conflict("the campaign is completed"));
            }
            let mut e = actor.clone();
            e.kind = "review.campaign_completed".into();
            e.target = Some(id.to_owned());
            e.detail["defaulted"] = json!(defaulted);
            audit::append(&mut tx, &[(&e, idp.now_ms())]).await?;
            events.push(
                idp_store::changes::record(
                    &mut tx,
                    admin_api::ChangeKind::ReviewUpdated,
                    id,
                    idp.now_ms(),
                )
                .await?,
            );
            tx.commit().await?;
            announce(idp, events);
            return Ok(defaulted);
        }
        tx.commit().await?;
        announce(idp, events);
    }
}

/// A batch committed by the deadline job: visible before the next one.
fn announce(idp: &Idp, changes: Vec<ChangeEvent>) {
    Committed {
        value: (),
        changes,
        connections_changed: true,
    }
    .announce(idp)
}

/// Runs the default action of every active campaign past its due date. The IdP
/// calls this every second; it uses the IdP's clock (tests move it).
pub async fn run_due(idp: &Idp) -> usize {
    let due: Vec<String> = match idp.store.campaigns_due(idp.now()).await {
        Ok(d) => d,
        Err(e) => {
            tracing::warn!(error = %e, "review deadline check failed");
            return 0;
        }
    };
    let mut n = 0;
    for id in due {
        let mut actor = audit::AuditEvent::new("review.decision", AuditOutcome::Success);
        actor.actor = Some(DEADLINE_ACTOR.into());
        match complete_campaign(idp, &id, actor).await {
            Ok(k) => {
                tracing::info!(campaign = %id, defaulted = k, "review campaign completed at its due date");
                n += 1;
            }
            Err(e) => {
                tracing::warn!(campaign = %id, error = ?e, "review deadline not applied")
            }
        }
    }
    n
}
