//! Read-only views of who and what exists: the caller, clients, resource apps,
//! users and groups.

use super::{auth::Principal, problem::ApiResult};
use crate::state::SharedIdp;
use admin_api::*;
use axum::{Extension, Json, extract::State};
use std::collections::BTreeMap;

pub async fn whoami(Extension(who): Extension<Principal>) -> Json<WhoAmI> {
    Json(WhoAmI {
        subject: who.subject.clone(),
        roles: who.roles.iter().copied().collect(),
        acr: who.acr.clone(),
        auth_time: who.auth_time,
        kind: match who.kind {
            super::auth::PrincipalKind::Session => "session".into(),
            super::auth::PrincipalKind::ApiToken { .. } => "api_token".into(),
        },
    })
}

pub async fn clients(State(idp): State<SharedIdp>) -> ApiResult<Json<Vec<ClientView>>> {
    let cat = idp.catalog();
    let live: Vec<_> = cat
        .clients
        .iter()
        .filter(|c| c.retired_at.is_none())
        .cloned()
        .collect();
    Ok(Json(client_views(&idp, &live).await?))
}

/// The admin API's view of `clients`, with their connection counts and
/// whether any owner is still an active person of the directory.
pub async fn client_views(
    idp: &SharedIdp,
    clients: &[crate::registry::Registered<crate::config::Client>],
) -> ApiResult<Vec<ClientView>> {
    let counts = {
        let mut db = idp.store.acquire().await?;
        idp_store::connections::live_and_pending_by_client(&mut db).await?
    };
    let counts: BTreeMap<String, (i64, i64)> =
        counts.into_iter().map(|(c, a, b)| (c, (a, b))).collect();
    let active = crate::services::ownership::active_people(idp).await?;
    Ok(clients
        .iter()
        .map(|r| {
            let c = &r.item;
            let (conns, pending) = counts.get(&c.client_id).copied().unwrap_or((0, 0));
            let orphaned = crate::services::ownership::is_orphaned(c, &active);
            crate::services::registry::client_view(r, orphaned, (conns as u64, pending as u64))
        })
        .collect())
}

pub async fn resource_apps(State(idp): State<SharedIdp>) -> Json<Vec<ResourceAppView>> {
    Json(
        idp.catalog()
            .apps
            .iter()
            .filter(|a| a.retired_at.is_none())
            .map(crate::services::registry::app_view)
            .collect(),
    )
}

pub async fn users(State(idp): State<SharedIdp>) -> ApiResult<Json<Vec<UserView>>> {
    let blocked: Vec<String> = idp.store.blocked_users().await?;
    let people = idp.store.all_people().await?;
    Ok(Json(
        people
            .into_iter()
            .map(|p| {
                let groups: Vec<String> = p.groups.iter().map(|g| g.name.clone()).collect();
                let configured = idp.config.user(&p.username);
                UserView {
                    name: p.display_name(),
                    email: p.email(),
                    roles: idp.config.roles_of_groups(&groups),
                    groups,
                    mfa_enrolled: configured.is_some_and(|u| u.totp_secret.is_some()),
                    blocked: blocked.contains(&p.username),
                    active: p.active,
                    source: p.source,
                    username: p.username,
                }
            })
            .collect(),
    ))
}

pub async fn groups(State(idp): State<SharedIdp>) -> ApiResult<Json<Vec<GroupView>>> {
    let groups = idp.store.all_groups().await?;
    Ok(Json(
        groups
            .into_iter()
            .map(|g| GroupView {
                roles: idp
                    .config
                    .roles_of_groups(std::slice::from_ref(&g.display_name)),
                members: g.members.into_iter().map(|m| m.username).collect(),
                source: g.source,
                name: g.display_name,
            })
            .collect(),
    ))
}
