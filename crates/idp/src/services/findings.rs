//! Least-privilege findings, computed on request from the grants and the
//! audit log (nothing is stored but what people decide about them):
//!
//! - `unused_scopes`: an active connection at least [`UNUSED_DAYS`] old whose
//!   ID-JAGs of the last [`UNUSED_DAYS`] carried only some of its scopes (one
//!   that carried none is idle — the inactivity policy's business). Remedy:
//!   narrow to the scopes used.
//! - `users_left_groups`: a group-limited connection most of whose users of
//!   the last [`USERS_DAYS`] are no longer in any of its groups (or left).
//!   Remedy: review it (no automatic change).
//! - `sensitive_without_step_up`: a sensitive scope granted with no step-up
//!   rule. Remedy: require a recent MFA sign-in for it.
//!
//! Each finding's id is stable per kind and connection; its evidence digest
//! covers what it is about (which scopes, which people), not counts that move
//! with every exchange. A decision — snoozed until a date, acknowledged,
//! false positive — holds while the digest is the one it was made on; when the
//! evidence changes the finding is open again.

use super::{Principal, ServiceError, ServiceResult, actor_event, required_reason};
use crate::{audit, state::Idp, views::connection_from_row};
use admin_api::{
    ConnectionStatus, ConnectionView, FindingKind, FindingState, FindingStateBody, FindingView,
    ModifyConnection, Risk, Severity, StepUpRule,
};
use idp_store::{
    connections::{self, ConnectionFilter},
    findings::{self, StateRow},
};
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// The window of the unused-scopes finding, and the age a connection needs for it.
pub const UNUSED_DAYS: i64 = 30;
/// The window of the users-left-groups finding.
pub const USERS_DAYS: i64 = 90;
/// At most this many users of one connection are looked up.
const USERS_CHECKED: usize = 1000;
const DAY_MS: i64 = 86_400_000;
/// How recent an MFA sign-in the step-up remedy asks for.
const STEP_UP_MAX_AGE: u64 = 600;

fn digest(parts: &[&str]) -> String {
    xaa::util::sha256_hex(parts.join("\n").as_bytes())[..24].to_owned()
}

fn finding_id(kind: FindingKind, connection_id: &str) -> String {
    format!("fnd_{}", digest(&[kind.as_str(), connection_id]))
}

/// A finding before its state is applied.
struct Found {
    kind: FindingKind,
    severity: Severity,
    explanation: String,
    evidence: serde_json::Value,
    about: Vec<String>,
    remediation: Option<ModifyConnection>,
}

fn unused_scopes(v: &ConnectionView, uses: &[&findings::ScopeUse], now_ms: i64) -> Option<Found> {
    if v.created_at * 1000 > now_ms - UNUSED_DAYS * DAY_MS || uses.is_empty() {
        return None;
    }
    let mut used: BTreeMap<String, (u64, i64)> = BTreeMap::new();
    for u in uses {
        for s in u.scope.split_whitespace() {
            let e = used.entry(s.to_owned()).or_insert((0, 0));
            e.0 += u.count;
            e.1 = e.1.max(u.last_at_ms);
        }
    }
    let granted: Vec<&admin_api::ScopeView> = v.granted_scopes.iter().collect();
    let unused: Vec<&admin_api::ScopeView> = granted
        .iter()
        .filter(|s| !used.contains_key(&s.name))
        .copied()
        .collect();
    let kept: Vec<String> = granted
        .iter()
        .filter(|s| used.contains_key(&s.name))
        .map(|s| s.name.clone())
        .collect();
    if unused.is_empty() || kept.is_empty() {
        return None;
    }
    let risky = unused
        .iter()
        .any(|s| s.sensitive || s.risk >= Risk::Destructive);
    let names: Vec<String> = unused.iter().map(|s| s.name.clone()).collect();
    Some(Found {
        kind: FindingKind::UnusedScopes,
        severity: if risky {
            Severity::High
        } else {
            Severity::Medium
        },
        explanation: format!(
            "{} → {} was granted {} but asked for none of it in {UNUSED_DAYS} days",
            v.client.name,
            v.resource_app.name,
            names.join(", ")
        ),
        evidence: json!({
            "window_days": UNUSED_DAYS,
            "used": used.iter().map(|(s, (n, last))| (s.clone(), json!({"count": n, "last_at_ms": last}))).collect::<serde_json::Map<_, _>>(),
            "unused": names,
        }),
        remediation: Some(ModifyConnection {
            scopes: Some(kept.clone()),
            reason: format!(
                "least privilege: narrowed to the scopes used in the last {UNUSED_DAYS} days ({})",
                kept.join(", ")
            ),
            ..Default::default()
        }),
        about: names,
    })
}

fn sensitive_without_step_up(v: &ConnectionView) -> Option<Found> {
    let bare: Vec<String> = v
        .granted_scopes
        .iter()
        .filter(|s| s.sensitive && !v.step_up.iter().any(|r| r.scope == s.name))
        .map(|s| s.name.clone())
        .collect();
    if bare.is_empty() {
        return None;
    }
    let mut rules = v.step_up.clone();
    rules.extend(bare.iter().map(|s| StepUpRule {
        scope: s.clone(),
        acr: Some(xaa::ACR_MFA.into()),
        max_age: Some(STEP_UP_MAX_AGE),
    }));
    Some(Found {
        kind: FindingKind::SensitiveWithoutStepUp,
        severity: Severity::High,
        explanation: format!(
            "{} → {} grants sensitive {} without asking for a recent MFA sign-in",
            v.client.name,
            v.resource_app.name,
            bare.join(", ")
        ),
        evidence: json!({ "scopes": bare }),
        remediation: Some(ModifyConnection {
            step_up: Some(rules),
            reason: format!(
                "least privilege: {} now needs an MFA sign-in within {} minutes",
                bare.join(", "),
                STEP_UP_MAX_AGE / 60
            ),
            ..Default::default()
        }),
        about: bare,
    })
}

async fn users_left_groups(
    idp: &Idp,
    v: &ConnectionView,
    users: &[String],
) -> ServiceResult<Option<Found>> {
    if v.allowed_groups.is_empty() || users.len() < 2 {
        return Ok(None);
    }
    let mut left = Vec::new();
    for u in users.iter().take(USERS_CHECKED) {
        let still = idp
            .person(u)
            .await?
            .is_some_and(|p| p.active && p.groups.iter().any(|g| v.allowed_groups.contains(g)));
        if !still {
            left.push(u.clone());
        }
    }
    let checked = users.len().min(USERS_CHECKED);
    if left.len() * 2 <= checked {
        return Ok(None);
    }
    Ok(Some(Found {
        kind: FindingKind::UsersLeftGroups,
        severity: Severity::Medium,
        explanation: format!(
            "{} of the {checked} people who used {} → {} in {USERS_DAYS} days are no longer in {}: review whether it is still needed",
            left.len(),
            v.client.name,
            v.resource_app.name,
            v.allowed_groups.join(", ")
        ),
        evidence: json!({
            "window_days": USERS_DAYS, "users": checked, "left": left.len(),
            "left_users": left.iter().take(20).collect::<Vec<_>>(), "groups": v.allowed_groups,
        }),
        remediation: None,
        about: left,
    }))
}

/// Every finding now, with its state (decisions whose evidence changed no
/// longer hold; a snooze past its date neither).
pub async fn all(idp: &Idp) -> ServiceResult<Vec<FindingView>> {
    let now = idp.now();
    let now_ms = idp.now_ms();
    let mut db = idp.store.acquire().await?;
    let rows = connections::matching(
        &mut db,
        &ConnectionFilter {
            status: Some(ConnectionStatus::Active),
            ..Default::default()
        },
    )
    .await?;
    let uses = findings::scope_uses(&mut db, now_ms - UNUSED_DAYS * DAY_MS).await?;
    let mut uses_of: HashMap<&str, Vec<&findings::ScopeUse>> = HashMap::new();
    for u in &uses {
        uses_of.entry(u.connection_id.as_str()).or_default().push(u);
    }
    let mut users_of: HashMap<String, Vec<String>> = HashMap::new();
    for (c, u) in findings::connection_users(&mut db, now_ms - USERS_DAYS * DAY_MS).await? {
        users_of.entry(c).or_default().push(u);
    }
    let states = findings::states(&mut db).await?;
    drop(db);
    let mut out = Vec::new();
    for row in rows {
        let v = connection_from_row(idp, row, vec![]);
        let mut found: Vec<Found> = Vec::new();
        found.extend(unused_scopes(
            &v,
            uses_of.get(v.id.as_str()).map_or(&[][..], Vec::as_slice),
            now_ms,
        ));
        found.extend(sensitive_without_step_up(&v));
        let users = users_of.get(&v.id).cloned().unwrap_or_default();
        found.extend(users_left_groups(idp, &v, &users).await?);
        for f in found {
            let id = finding_id(f.kind, &v.id);
            let about: BTreeSet<&str> = f.about.iter().map(String::as_str).collect();
            let evidence_digest = digest(&about.into_iter().collect::<Vec<_>>());
            let held = states.get(&id).filter(|s| {
                s.digest == evidence_digest
                    && (s.state != FindingState::Snoozed || s.until.is_some_and(|u| u > now))
            });
            out.push(FindingView {
                id,
                kind: f.kind,
                severity: f.severity,
                connection_id: v.id.clone(),
                client: v.client.clone(),
                resource_app: v.resource_app.clone(),
                explanation: f.explanation,
                evidence: f.evidence,
                evidence_digest,
                remediation: f.remediation,
                connection_version: v.version,
                state: held.map_or(FindingState::Open, |s| s.state),
                snoozed_until: held.and_then(|s| s.until),
                state_reason: held.map(|s| s.reason.clone()),
                state_by: held.map(|s| s.decided_by.clone()),
            });
        }
    }
    // The most severe first.
    let rank = |s: Severity| match s {
        Severity::High => 0,
        Severity::Medium => 1,
        Severity::Low => 2,
    };
    out.sort_by(|a, b| {
        rank(a.severity)
            .cmp(&rank(b.severity))
            .then_with(|| a.id.cmp(&b.id))
    });
    Ok(out)
}

/// Snoozes, acknowledges, marks a false positive or reopens finding `id`, as
/// its evidence is now.
pub async fn set_state(
    idp: &Idp,
    who: &Principal,
    id: &str,
    body: &FindingStateBody,
) -> ServiceResult<FindingView> {
    let reason = required_reason(&body.reason)?;
    let now = idp.now();
    match (body.state, body.until) {
        (FindingState::Snoozed, Some(u)) if u > now => {}
        (FindingState::Snoozed, _) => {
            return Err(ServiceError::invalid(
                "a snooze needs `until`, a time in the future",
            ));
        }
        (_, Some(_)) => {
            return Err(ServiceError::invalid("only a snooze has `until`"));
        }
        _ => {}
    }
    let found = all(idp)
        .await?
        .into_iter()
        .find(|f| f.id == id)
        .ok_or(ServiceError::NotFound("the finding"))?;
    let mut tx = idp.store.begin_write().await?;
    findings::put_state(
        &mut tx,
        id,
        &StateRow {
            digest: found.evidence_digest.clone(),
            state: body.state,
            until: body.until,
            reason: reason.to_owned(),
            decided_by: who.subject.clone(),
            decided_at: now,
        },
    )
    .await?;
    let mut e = actor_event(who, "finding.state", id);
    e.client_id = Some(found.client.client_id.clone());
    e.reason = Some(reason.to_owned());
    e.detail["before"] = json!({ "state": found.state });
    e.detail["after"] = json!({
        "state": body.state, "until": body.until, "kind": found.kind,
        "connection_id": found.connection_id, "evidence_digest": found.evidence_digest,
    });
    audit::append(&mut tx, &[(&e, idp.now_ms())]).await?;
    tx.commit().await?;
    Ok(FindingView {
        state: body.state,
        snoozed_until: body.until,
        state_reason: Some(reason.to_owned()),
        state_by: Some(who.subject.clone()),
        ..found
    })
}
