//! Provisioning people and groups (what SCIM asks for): create, replace, patch
//! and delete, each in one write transaction with its audit event (actor
//! `scim:<token name>`), checked against the `If-Match` version inside that
//! transaction. Deactivating or deleting a person queues a user-wide revocation
//! event for every resource app in the same transaction, and the gate's cache
//! forgets what it knew before the caller is answered.

use crate::{
    audit::{self, AuditEvent, AuditOutcome},
    revocation,
    state::Idp,
};
use idp_store::directory::{self, Group, GroupWrite, Person, PersonWrite, Source};
use scim::{PatchRequest, ResourceKind, ScimError, ScimType, apply_patch};
use serde_json::{Value, json};

/// Who provisions: the API token's name, and this HTTP request's id.
#[derive(Debug, Clone)]
pub struct Provisioner {
    pub token_name: String,
    pub request_id: String,
}

impl Provisioner {
    fn event(&self, kind: &str, target: &str) -> AuditEvent {
        let mut e = AuditEvent::new(kind, AuditOutcome::Success);
        e.actor = Some(format!("scim:{}", self.token_name));
        e.target = Some(target.to_owned());
        e.detail = json!({ "via": "scim", "request_id": self.request_id });
        e
    }
}

type Result<T> = std::result::Result<T, ScimError>;

fn storage(e: sqlx::Error) -> ScimError {
    tracing::error!(error = %e, "directory storage failed");
    ScimError::new(503, None, "the IdP cannot reach its database; retry later")
}

fn check_version(current: i64, wanted: Option<i64>) -> Result<()> {
    match wanted {
        Some(v) if v != current => Err(ScimError::stale()),
        _ => Ok(()),
    }
}

/// The stored user resource with its columns folded back in (for PATCH).
fn person_resource(p: &Person) -> Value {
    let mut r = p.resource.clone();
    r["userName"] = json!(p.username);
    r["active"] = json!(p.active);
    if let Some(x) = &p.external_id {
        r["externalId"] = json!(x);
    }
    r
}

/// userName, externalId and active of a normalised user resource.
fn person_fields(r: &Value) -> Result<(String, Option<String>, bool)> {
    let username = r
        .get("userName")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|u| !u.is_empty() && u.chars().count() <= 256)
        .ok_or_else(|| {
            ScimError::bad(
                ScimType::InvalidValue,
                "userName must be 1 to 256 characters",
            )
        })?;
    Ok((
        username.to_owned(),
        r.get("externalId")
            .and_then(Value::as_str)
            .map(str::to_owned),
        r.get("active").and_then(Value::as_bool).unwrap_or(true),
    ))
}

/// Records a provisioning change in its transaction: the audit event, and the
/// change-feed row (`directory.updated`, target: the event's target) the
/// consoles follow.
async fn record(idp: &Idp, tx: &mut idp_store::Conn, e: &AuditEvent) -> Result<()> {
    idp_store::changes::record(
        tx,
        admin_api::ChangeKind::DirectoryUpdated,
        e.target.as_deref().unwrap_or(""),
        idp.now_ms(),
    )
    .await
    .map_err(storage)?;
    audit::append(tx, &[(e, idp.now_ms())])
        .await
        .map_err(storage)?;
    Ok(())
}

/// Commits, then makes it visible before the caller answers: the gate's cache
/// forgets, the outbox pushes now, the change feed tells the consoles.
async fn commit(idp: &Idp, tx: idp_store::Tx) -> Result<()> {
    tx.commit().await.map_err(storage)?;
    idp.connections.invalidate();
    idp.outbox_wake.notify_one();
    idp.feed_wake.notify_one();
    Ok(())
}

pub async fn create_person(idp: &Idp, who: &Provisioner, body: &Value) -> Result<Person> {
    let r = ResourceKind::User.normalise(body)?;
    let (username, external_id, active) = person_fields(&r)?;
    let id = uuid::Uuid::new_v4().to_string();
    let mut tx = idp.store.begin_write().await.map_err(storage)?;
    if directory::person_id_by_username(&mut tx, &username)
        .await
        .map_err(storage)?
        .is_some()
    {
        return Err(ScimError::conflict(format!(
            "userName `{username}` is taken"
        )));
    }
    directory::insert_person(
        &mut tx,
        &id,
        &PersonWrite {
            username: &username,
            external_id: external_id.as_deref(),
            active,
            source: Source::Scim,
            resource: &r,
        },
        idp.now(),
    )
    .await
    .map_err(storage)?;
    let mut e = who.event("person.created", &username);
    e.subject = Some(username.clone());
    e.detail["after"] = json!({ "id": id, "active": active, "external_id": external_id });
    record(idp, &mut tx, &e).await?;
    let p = directory::get_person(&mut tx, &id).await.map_err(storage)?;
    commit(idp, tx).await?;
    p.ok_or_else(|| ScimError::not_found("the person was not stored"))
}

/// Replaces (PUT) or patches a person; `change` turns the current resource
/// into the new one.
pub async fn update_person(
    idp: &Idp,
    who: &Provisioner,
    id: &str,
    if_match: Option<i64>,
    change: Change<'_>,
) -> Result<Person> {
    let mut tx = idp.store.begin_write().await.map_err(storage)?;
    let current = directory::get_person(&mut tx, id)
        .await
        .map_err(storage)?
        .ok_or_else(|| ScimError::not_found(format!("no User with id `{id}`")))?;
    check_version(current.version, if_match)?;
    let r = match change {
        Change::Replace(body) => ResourceKind::User.normalise(body)?,
        Change::Patch(p) => apply_patch(ResourceKind::User, &person_resource(&current), p)?,
    };
    let (username, external_id, active) = person_fields(&r)?;
    if directory::name_key(&username) != directory::name_key(&current.username)
        && directory::person_id_by_username(&mut tx, &username)
            .await
            .map_err(storage)?
            .is_some()
    {
        return Err(ScimError::conflict(format!(
            "userName `{username}` is taken"
        )));
    }
    directory::update_person(
        &mut tx,
        id,
        &PersonWrite {
            username: &username,
            external_id: external_id.as_deref(),
            active,
            source: current.source,
            resource: &r,
        },
        idp.now(),
    )
    .await
    .map_err(storage)?;
    let kind = match (current.active, active) {
        (true, false) => "person.deactivated",
        (false, true) => "person.reactivated",
        _ => "person.updated",
    };
    let mut e = who.event(kind, &username);
    e.subject = Some(username.clone());
    e.detail["before"] = json!({ "username": current.username, "active": current.active, "external_id": current.external_id });
    e.detail["after"] =
        json!({ "username": username, "active": active, "external_id": external_id });
    if current.active && !active {
        // The old name too: tokens the apps hold carry the name they were issued to.
        let queued = revocation::enqueue_user_wide(
            idp,
            &mut tx,
            (revocation::SetEvent::Revoked, None),
            &current.username,
            "deprovisioned",
        )
        .await
        .map_err(storage)?;
        e.detail["events_queued"] = json!(queued);
    }
    record(idp, &mut tx, &e).await?;
    let handed_over = current.active && !active && succeed(idp, &mut tx, &current.username).await?;
    let p = directory::get_person(&mut tx, id).await.map_err(storage)?;
    commit(idp, tx).await?;
    if handed_over {
        idp.registry.reload(&idp.store).await.map_err(storage)?;
    }
    p.ok_or_else(|| ScimError::not_found(format!("no User with id `{id}`")))
}

/// The clients `username` answered for pass to their successors, in the
/// transaction of their departure (after its own audit event); whether any
/// client changed (the caller reloads the registry after its commit).
async fn succeed(idp: &Idp, tx: &mut idp_store::Conn, username: &str) -> Result<bool> {
    let events = super::ownership::person_left(idp, tx, username)
        .await
        .map_err(storage)?;
    if !events.is_empty() {
        let at = idp.now_ms();
        let rows: Vec<_> = events.iter().map(|e| (e, at)).collect();
        audit::append(tx, &rows).await.map_err(storage)?;
    }
    Ok(!events.is_empty())
}

/// What an update does to the current resource.
pub enum Change<'a> {
    Replace(&'a Value),
    Patch(&'a PatchRequest),
}

pub async fn delete_person(
    idp: &Idp,
    who: &Provisioner,
    id: &str,
    if_match: Option<i64>,
) -> Result<()> {
    let mut tx = idp.store.begin_write().await.map_err(storage)?;
    let current = directory::get_person(&mut tx, id)
        .await
        .map_err(storage)?
        .ok_or_else(|| ScimError::not_found(format!("no User with id `{id}`")))?;
    check_version(current.version, if_match)?;
    directory::delete_person(&mut tx, id)
        .await
        .map_err(storage)?;
    let mut e = who.event("person.deleted", &current.username);
    e.subject = Some(current.username.clone());
    e.detail["before"] = json!({
        "id": id, "active": current.active,
        "groups": current.groups.iter().map(|g| &g.name).collect::<Vec<_>>(),
    });
    if current.active {
        let queued = revocation::enqueue_user_wide(
            idp,
            &mut tx,
            (revocation::SetEvent::Revoked, None),
            &current.username,
            "deprovisioned",
        )
        .await
        .map_err(storage)?;
        e.detail["events_queued"] = json!(queued);
    }
    record(idp, &mut tx, &e).await?;
    let handed_over = succeed(idp, &mut tx, &current.username).await?;
    commit(idp, tx).await?;
    if handed_over {
        idp.registry.reload(&idp.store).await.map_err(storage)?;
    }
    Ok(())
}

/// Why a person coming back from an upstream IdP may not sign in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpstreamRefusal {
    /// The directory has them, deactivated.
    Deactivated,
    /// The directory does not have them, and the upstream may not create people.
    NotProvisioned,
    Storage,
}

/// The directory's person for a sign-in at upstream `up`, found by username
/// (any case). Absent, they are created (source `upstream`, audited
/// `person.created` by `upstream:<id>`) when the upstream may create people.
/// For people of that source, memberships of the directory's existing groups
/// follow the token's groups claim, except groups that grant an admin role
/// (those stay the directory's to manage); groups are never created from a
/// claim. Returns the directory's username.
pub async fn upstream_person(
    idp: &Idp,
    up: &crate::config::Upstream,
    p: &oidc_rp::MappedPerson,
) -> std::result::Result<String, UpstreamRefusal> {
    let storage = |e: sqlx::Error| {
        tracing::error!(error = %e, "directory storage failed during an upstream sign-in");
        UpstreamRefusal::Storage
    };
    let mut tx = idp.store.begin_write().await.map_err(storage)?;
    let actor = format!("upstream:{}", up.id);
    let event = |kind: &str, username: &str| {
        let mut e = AuditEvent::new(kind, AuditOutcome::Success);
        e.actor = Some(actor.clone());
        e.target = Some(username.to_owned());
        e.subject = Some(username.to_owned());
        e.detail = json!({ "via": "upstream", "upstream": up.id });
        e
    };
    let now = idp.now();
    let mut events = Vec::new();
    let (person_id, username, groups_now) =
        match directory::person_by_username(&mut tx, &p.username)
            .await
            .map_err(storage)?
        {
            Some(found) if !found.active => return Err(UpstreamRefusal::Deactivated),
            Some(found) if found.source != Source::Upstream => {
                // Provisioned or seeded: the directory is the truth; nothing to write.
                return Ok(found.username);
            }
            Some(found) => (found.id, found.username, found.groups),
            None if !up.create_people => return Err(UpstreamRefusal::NotProvisioned),
            None => {
                let id = uuid::Uuid::new_v4().to_string();
                let mut resource = json!({ "userName": p.username, "active": true });
                if let Some(e) = &p.email {
                    resource["emails"] = json!([{ "value": e, "primary": true }]);
                }
                if let Some(n) = &p.name {
                    resource["displayName"] = json!(n);
                }
                directory::insert_person(
                    &mut tx,
                    &id,
                    &PersonWrite {
                        username: &p.username,
                        external_id: None,
                        active: true,
                        source: Source::Upstream,
                        resource: &resource,
                    },
                    now,
                )
                .await
                .map_err(storage)?;
                let mut e = event("person.created", &p.username);
                e.detail["after"] = json!({ "id": id, "active": true });
                events.push(e);
                (id, p.username.clone(), vec![])
            }
        };
    let mut added = Vec::new();
    let mut removed = Vec::new();
    for name in &p.groups {
        if idp.config.is_role_group(name)
            || groups_now.iter().any(|g| g.name.eq_ignore_ascii_case(name))
        {
            continue;
        }
        if let Some(gid) = directory::group_id_by_name(&mut tx, name)
            .await
            .map_err(storage)?
            && directory::set_membership(&mut tx, &gid, &person_id, true)
                .await
                .map_err(storage)?
        {
            added.push(name.clone());
        }
    }
    for g in &groups_now {
        let kept = p.groups.iter().any(|n| n.eq_ignore_ascii_case(&g.name));
        if !kept
            && !idp.config.is_role_group(&g.name)
            && directory::set_membership(&mut tx, &g.id, &person_id, false)
                .await
                .map_err(storage)?
        {
            removed.push(g.name.clone());
        }
    }
    if !added.is_empty() || !removed.is_empty() {
        let mut e = event("person.updated", &username);
        e.detail["groups_added"] = json!(added);
        e.detail["groups_removed"] = json!(removed);
        events.push(e);
    }
    if events.is_empty() {
        return Ok(username);
    }
    for e in &events {
        record(idp, &mut tx, e)
            .await
            .map_err(|_| UpstreamRefusal::Storage)?;
    }
    commit(idp, tx)
        .await
        .map_err(|_| UpstreamRefusal::Storage)?;
    Ok(username)
}

/// The stored group resource with its members folded in (for PATCH).
fn group_resource(g: &Group) -> Value {
    let mut r = g.resource.clone();
    r["displayName"] = json!(g.display_name);
    if let Some(x) = &g.external_id {
        r["externalId"] = json!(x);
    }
    if !g.members.is_empty() {
        r["members"] = g.members.iter().map(|m| json!({ "value": m.id })).collect();
    }
    r
}

/// displayName, externalId and member ids of a normalised group resource;
/// the resource to store is returned without its members.
fn group_fields(mut r: Value) -> Result<(String, Option<String>, Vec<String>, Value)> {
    let name = r
        .get("displayName")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|n| !n.is_empty() && n.chars().count() <= 256)
        .ok_or_else(|| {
            ScimError::bad(
                ScimType::InvalidValue,
                "displayName must be 1 to 256 characters",
            )
        })?
        .to_owned();
    let members: Vec<String> = r
        .get("members")
        .and_then(Value::as_array)
        .map(|ms| {
            ms.iter()
                .filter_map(|m| m.get("value").and_then(Value::as_str).map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    if let Some(o) = r.as_object_mut() {
        o.remove("members");
    }
    Ok((
        name,
        r.get("externalId")
            .and_then(Value::as_str)
            .map(str::to_owned),
        members,
        r,
    ))
}

/// Refuses a change to who holds an admin role through a `[roles]` group,
/// unless the config lets SCIM manage those groups.
fn guard_role_group(idp: &Idp, names: &[&str], membership_or_name_changes: bool) -> Result<()> {
    if !membership_or_name_changes || idp.config.scim.manage_role_groups {
        return Ok(());
    }
    match names.iter().find(|n| idp.config.is_role_group(n)) {
        Some(n) => Err(ScimError::new(
            403,
            None,
            format!(
                "`{n}` grants an admin role in Gatehouse: its members are not provisioned unless the IdP's config sets [scim] manage_role_groups = true"
            ),
        )),
        None => Ok(()),
    }
}

/// Every member must be a person of this directory.
async fn check_members(tx: &mut idp_store::Conn, members: &[String]) -> Result<()> {
    let known = directory::existing_people(tx, members)
        .await
        .map_err(storage)?;
    if let Some(unknown) = members.iter().find(|m| !known.contains(m)) {
        return Err(ScimError::bad(
            ScimType::InvalidValue,
            format!("member `{unknown}` is not a User of this directory"),
        ));
    }
    Ok(())
}

/// The usernames of the members among `ids`.
fn usernames_of(members: &[directory::MemberRef], ids: &[String]) -> Vec<String> {
    members
        .iter()
        .filter(|m| ids.contains(&m.id))
        .map(|m| m.username.clone())
        .collect()
}

pub async fn create_group(idp: &Idp, who: &Provisioner, body: &Value) -> Result<Group> {
    let r = ResourceKind::Group.normalise(body)?;
    let (name, external_id, members, stored) = group_fields(r)?;
    let id = uuid::Uuid::new_v4().to_string();
    let mut tx = idp.store.begin_write().await.map_err(storage)?;
    if directory::group_id_by_name(&mut tx, &name)
        .await
        .map_err(storage)?
        .is_some()
    {
        return Err(ScimError::conflict(format!(
            "displayName `{name}` is taken"
        )));
    }
    guard_role_group(idp, &[&name], !members.is_empty())?;
    check_members(&mut tx, &members).await?;
    directory::insert_group(
        &mut tx,
        &id,
        &GroupWrite {
            display_name: &name,
            external_id: external_id.as_deref(),
            source: Source::Scim,
            resource: &stored,
        },
        idp.now(),
    )
    .await
    .map_err(storage)?;
    let (added, _) = directory::set_members(&mut tx, &id, &members)
        .await
        .map_err(storage)?;
    let g = directory::get_group(&mut tx, &id)
        .await
        .map_err(storage)?
        .ok_or_else(|| ScimError::not_found("the group was not stored"))?;
    let mut e = who.event("group.created", &name);
    e.detail["after"] = json!({ "id": id, "members_added": usernames_of(&g.members, &added) });
    record(idp, &mut tx, &e).await?;
    commit(idp, tx).await?;
    Ok(g)
}

pub async fn update_group(
    idp: &Idp,
    who: &Provisioner,
    id: &str,
    if_match: Option<i64>,
    change: Change<'_>,
) -> Result<Group> {
    let mut tx = idp.store.begin_write().await.map_err(storage)?;
    let current = directory::get_group(&mut tx, id)
        .await
        .map_err(storage)?
        .ok_or_else(|| ScimError::not_found(format!("no Group with id `{id}`")))?;
    check_version(current.version, if_match)?;
    let r = match change {
        Change::Replace(body) => ResourceKind::Group.normalise(body)?,
        Change::Patch(p) => apply_patch(ResourceKind::Group, &group_resource(&current), p)?,
    };
    let (name, external_id, members, stored) = group_fields(r)?;
    if directory::name_key(&name) != directory::name_key(&current.display_name)
        && directory::group_id_by_name(&mut tx, &name)
            .await
            .map_err(storage)?
            .is_some()
    {
        return Err(ScimError::conflict(format!(
            "displayName `{name}` is taken"
        )));
    }
    let have: Vec<&str> = current.members.iter().map(|m| m.id.as_str()).collect();
    let same_members =
        have.len() == members.len() && members.iter().all(|m| have.contains(&m.as_str()));
    guard_role_group(
        idp,
        &[&current.display_name, &name],
        !same_members || directory::name_key(&name) != directory::name_key(&current.display_name),
    )?;
    check_members(&mut tx, &members).await?;
    directory::update_group(
        &mut tx,
        id,
        &GroupWrite {
            display_name: &name,
            external_id: external_id.as_deref(),
            source: current.source,
            resource: &stored,
        },
        idp.now(),
    )
    .await
    .map_err(storage)?;
    let (added, removed) = directory::set_members(&mut tx, id, &members)
        .await
        .map_err(storage)?;
    let g = directory::get_group(&mut tx, id)
        .await
        .map_err(storage)?
        .ok_or_else(|| ScimError::not_found(format!("no Group with id `{id}`")))?;
    let mut e = who.event("group.updated", &name);
    e.detail["before"] = json!({ "display_name": current.display_name });
    e.detail["after"] = json!({
        "display_name": name,
        "members_added": usernames_of(&g.members, &added),
        "members_removed": usernames_of(&current.members, &removed),
    });
    record(idp, &mut tx, &e).await?;
    commit(idp, tx).await?;
    Ok(g)
}

pub async fn delete_group(
    idp: &Idp,
    who: &Provisioner,
    id: &str,
    if_match: Option<i64>,
) -> Result<()> {
    let mut tx = idp.store.begin_write().await.map_err(storage)?;
    let current = directory::get_group(&mut tx, id)
        .await
        .map_err(storage)?
        .ok_or_else(|| ScimError::not_found(format!("no Group with id `{id}`")))?;
    check_version(current.version, if_match)?;
    guard_role_group(idp, &[&current.display_name], !current.members.is_empty())?;
    directory::delete_group(&mut tx, id)
        .await
        .map_err(storage)?;
    let mut e = who.event("group.deleted", &current.display_name);
    e.detail["before"] = json!({
        "id": id,
        "members": current.members.iter().map(|m| &m.username).collect::<Vec<_>>(),
    });
    record(idp, &mut tx, &e).await?;
    commit(idp, tx).await?;
    Ok(())
}
