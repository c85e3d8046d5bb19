//! Who answers for an AI client over time: its owners, a sponsor (the person
//! accountable for it) and an ordered list of successors. When a person leaves
//! the directory (deactivated or deleted, through SCIM or the admin API), every
//! client they answered for is rewritten in the same transaction as their
//! departure: they come off it, and when no active owner is left the first
//! active successor becomes its owner. A client left with no active owner is
//! orphaned. Each rewrite is a `client.succession` audit event by
//! `system:succession` and a `registry.updated` change (other nodes reload).

use crate::{
    audit::{AuditEvent, AuditOutcome},
    config::Client,
    state::Idp,
};
use admin_api::ChangeKind;
use idp_store::{
    Conn,
    directory::{self, name_key},
    registry::{self, EntryWrite, Kind},
};
use serde_json::json;

/// The actor of every succession.
pub const ACTOR: &str = "system:succession";

/// Whether `username` names the same person as `other` (names are case-blind).
fn same(username: &str, other: &str) -> bool {
    name_key(username) == name_key(other)
}

/// Whether `c` names `username` as an owner, its sponsor or a successor.
pub fn answers_for(c: &Client, username: &str) -> bool {
    c.owners.iter().any(|o| same(o, username))
        || c.sponsor.as_deref().is_some_and(|s| same(s, username))
        || c.successors.iter().any(|s| same(s, username))
}

/// Whether `username` is one of `c`'s owners.
pub fn owns(c: &Client, username: &str) -> bool {
    c.owners.iter().any(|o| same(o, username))
}

/// Whether `username` owns or sponsors `c`: they may then neither decide its
/// requests nor review its access (separation of duties).
pub fn accountable_for(c: &Client, username: &str) -> bool {
    owns(c, username) || c.sponsor.as_deref().is_some_and(|s| same(s, username))
}

/// The name keys of every active person of the directory.
pub async fn active_people(idp: &Idp) -> Result<std::collections::HashSet<String>, sqlx::Error> {
    Ok(idp
        .store
        .all_people()
        .await?
        .into_iter()
        .filter(|p| p.active)
        .map(|p| name_key(&p.username))
        .collect())
}

/// Whether `c` has no active owner left (among `active`, from
/// [`active_people`]); the IdP's own admin client never is.
pub fn is_orphaned(c: &Client, active: &std::collections::HashSet<String>) -> bool {
    !c.admin && !c.owners.iter().any(|o| active.contains(&name_key(o)))
}

async fn is_active(tx: &mut Conn, username: &str) -> Result<bool, sqlx::Error> {
    Ok(directory::person_by_username(tx, username)
        .await?
        .is_some_and(|p| p.active))
}

/// What leaving did to one client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Succession {
    /// Whether they were an owner, the sponsor, a successor (in that order).
    pub roles: Vec<&'static str>,
    /// The successor who became an owner, if one had to.
    pub successor: Option<String>,
    /// No active owner is left.
    pub orphaned: bool,
}

/// Takes `username` off `c` (already gone from the directory in `tx`);
/// promotes successors when no active owner is left.
async fn take_off(
    tx: &mut Conn,
    c: &mut Client,
    username: &str,
) -> Result<Succession, sqlx::Error> {
    let mut roles = Vec::new();
    let owned = c.owners.iter().any(|o| same(o, username));
    if owned {
        roles.push("owner");
        c.owners.retain(|o| !same(o, username));
    }
    if c.sponsor.as_deref().is_some_and(|s| same(s, username)) {
        roles.push("sponsor");
        c.sponsor = None;
    }
    if c.successors.iter().any(|s| same(s, username)) {
        roles.push("successor");
        c.successors.retain(|s| !same(s, username));
    }
    let mut active_owner = false;
    for o in &c.owners {
        if is_active(tx, o).await? {
            active_owner = true;
            break;
        }
    }
    let mut successor = None;
    if owned && !active_owner {
        // In order; a successor who has left meanwhile is passed over (and dropped).
        while !c.successors.is_empty() {
            let next = c.successors.remove(0);
            if is_active(tx, &next).await? {
                c.owners.push(next.clone());
                successor = Some(next);
                active_owner = true;
                break;
            }
        }
    }
    Ok(Succession {
        roles,
        successor,
        orphaned: !active_owner,
    })
}

/// Rewrites every live client `username` answered for, inside the caller's
/// write transaction (after the person's own change); returns the audit
/// events to append with it. The caller reloads the registry after commit.
pub async fn person_left(
    idp: &Idp,
    tx: &mut Conn,
    username: &str,
) -> Result<Vec<AuditEvent>, sqlx::Error> {
    // Every client as the departure's transaction sees it, not this node's
    // snapshot: one registered a moment ago (here, or on another node whose
    // change has not reached this one yet) passes to its successor too.
    let mut events = Vec::new();
    for entry in registry::all(tx, Kind::Client).await? {
        if entry.retired_at.is_some() {
            continue;
        }
        let mut c: Client = serde_json::from_value(entry.doc.clone())
            .map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
        if c.admin || !answers_for(&c, username) {
            continue;
        }
        let client_id = c.client_id.clone();
        let before =
            json!({ "owners": c.owners, "sponsor": c.sponsor, "successors": c.successors });
        let s = take_off(tx, &mut c, username).await?;
        let doc = serde_json::to_value(&c).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
        let written = registry::update(
            tx,
            Kind::Client,
            &EntryWrite {
                key: &client_id,
                audience: None,
                doc: &doc,
            },
            entry.version,
            idp.now(),
        )
        .await?;
        if !written {
            return Err(sqlx::Error::Protocol(format!(
                "client `{client_id}` changed while its owner left; try again"
            )));
        }
        idp_store::changes::record(tx, ChangeKind::RegistryUpdated, &client_id, idp.now_ms())
            .await?;
        if s.orphaned {
            // The orphan grace period counts from now.
            idp_store::lifecycle::mark_orphaned(tx, &client_id, idp.now()).await?;
        }
        let mut e = AuditEvent::new("client.succession", AuditOutcome::Success);
        e.actor = Some(ACTOR.into());
        e.client_id = Some(client_id.clone());
        e.target = Some(client_id.clone());
        e.subject = Some(username.to_owned());
        e.detail = json!({
            "left": username,
            "roles": s.roles,
            "successor": s.successor,
            "orphaned": s.orphaned,
            "before": before,
            "after": { "owners": c.owners, "sponsor": c.sponsor, "successors": c.successors },
        });
        events.push(e);
    }
    Ok(events)
}
