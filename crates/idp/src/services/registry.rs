//! Registering, editing and retiring AI clients (and rotating their secrets)
//! and resource apps: the admin API's `/clients` and `/resource-apps` writes. Each write is one transaction with its audit
//! event (no secret in it, only that one was made) and its `registry.updated`
//! change row, checked against the `If-Match` version inside that transaction;
//! the IdP's snapshot of clients is reloaded before the caller is answered, and
//! every other node reloads when the change feed brings the row.

use super::{
    Committed, Principal, ServiceError, ServiceResult, actor_event, connections, required_reason,
};
use crate::{
    audit,
    config::{Client, ClientAuth, PreviousSecret, ResourceApp, ScopeDef},
    registry::Registered,
    state::Idp,
};
use admin_api::{
    BulkRevoke, ChangeKind, ClientCredential, ClientView, ClientWithSecret, RegisterClient,
    RegisterResourceApp, RegistryOrigin, ResourceAppView, Retirement, RotateClientSecret,
    UpdateClient, UpdateResourceApp,
};
use idp_store::registry::{self, EntryWrite, Kind, Origin};
use serde_json::json;
use xaa::util;

/// How a client looks in the admin API (connection counts are the list's).
pub fn client_view(r: &Registered<Client>, orphaned: bool, counts: (u64, u64)) -> ClientView {
    let c = &r.item;
    ClientView {
        client_id: c.client_id.clone(),
        name: c.name.clone(),
        description: c.description.clone(),
        owners: c.owners.clone(),
        sponsor: c.sponsor.clone(),
        successors: c.successors.clone(),
        auth_method: c.auth.method().into(),
        connections: counts.0,
        pending_requests: counts.1,
        orphaned,
        origin: match r.origin {
            Origin::Config => RegistryOrigin::Config,
            Origin::Admin => RegistryOrigin::Admin,
        },
        version: r.version,
        retired_at: r.retired_at,
        redirect_uris: c.redirect_uris.clone(),
        previous_secret_until: match &c.auth {
            ClientAuth::ClientSecret {
                previous: Some(p), ..
            } => Some(p.until),
            _ => None,
        },
    }
}

/// The client `client_id` as the store holds it now (retired too).
fn current(idp: &Idp, client_id: &str) -> ServiceResult<Registered<Client>> {
    idp.catalog()
        .clients
        .iter()
        .find(|c| c.item.client_id == client_id)
        .cloned()
        .ok_or(ServiceError::NotFound("the client"))
}

fn valid_client_id(id: &str) -> bool {
    (3..=64).contains(&id.len())
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.'))
}

fn check_name(name: &str) -> ServiceResult<String> {
    let n = name.trim();
    if n.is_empty() || n.chars().count() > 100 {
        return Err(ServiceError::invalid("name must be 1 to 100 characters"));
    }
    Ok(n.to_owned())
}

fn check_description(d: Option<&str>) -> ServiceResult<Option<String>> {
    match d.map(str::trim) {
        Some(d) if d.chars().count() > 1000 => Err(ServiceError::invalid(
            "description must be at most 1000 characters",
        )),
        Some("") | None => Ok(None),
        Some(d) => Ok(Some(d.to_owned())),
    }
}

/// Owners must be active people of the directory (1 to 20), named as it names them.
async fn check_owners(idp: &Idp, owners: &[String]) -> ServiceResult<Vec<String>> {
    if owners.is_empty() || owners.len() > 20 {
        return Err(ServiceError::invalid("name 1 to 20 owners"));
    }
    active_people(idp, "owner", owners).await
}

/// Each of `names` as the directory names them, once, in order; refused when
/// one is not an active person (`role` says which list it was in).
async fn active_people(idp: &Idp, role: &str, names: &[String]) -> ServiceResult<Vec<String>> {
    let mut out = Vec::new();
    for o in names {
        match idp.person(o.trim()).await? {
            Some(p) if p.active => {
                if !out.contains(&p.username) {
                    out.push(p.username);
                }
            }
            Some(_) => {
                return Err(ServiceError::invalid(format!(
                    "{role} `{o}` is deactivated in the directory"
                )));
            }
            None => {
                return Err(ServiceError::invalid(format!(
                    "{role} `{o}` is not a person of the directory"
                )));
            }
        }
    }
    Ok(out)
}

/// A sponsor: an active person (`""`: none).
async fn check_sponsor(idp: &Idp, sponsor: &str) -> ServiceResult<Option<String>> {
    match sponsor.trim() {
        "" => Ok(None),
        s => Ok(active_people(idp, "sponsor", &[s.to_owned()]).await?.pop()),
    }
}

/// Successors: at most 10 active people, in order.
async fn check_successors(idp: &Idp, successors: &[String]) -> ServiceResult<Vec<String>> {
    if successors.len() > 10 {
        return Err(ServiceError::invalid("name at most 10 successors"));
    }
    active_people(idp, "successor", successors).await
}

/// A successor takes over from the owners, so is none of them.
fn check_no_owner_succeeds(c: &Client) -> ServiceResult<()> {
    match c.successors.iter().find(|s| c.owners.contains(s)) {
        Some(s) => Err(ServiceError::invalid(format!(
            "`{s}` is an owner, so cannot also be a successor"
        ))),
        None => Ok(()),
    }
}

fn check_redirect_uris(uris: &[String]) -> ServiceResult<Vec<String>> {
    if uris.len() > 10 {
        return Err(ServiceError::invalid("at most 10 redirect URIs"));
    }
    for u in uris {
        let ok = url::Url::parse(u).is_ok_and(|p| {
            matches!(p.scheme(), "https" | "http") && p.fragment().is_none() && !u.contains('#')
        });
        if !ok {
            return Err(ServiceError::invalid(format!(
                "redirect URI `{u}` must be an absolute http(s) URL without a fragment"
            )));
        }
    }
    Ok(uris.to_vec())
}

/// A JWK Set of public signing keys Gatehouse accepts (1 to 10); a private
/// key in it is refused rather than silently dropped.
fn check_jwks(v: &serde_json::Value) -> ServiceResult<xaa::JwkSet> {
    let private = v["keys"]
        .as_array()
        .is_some_and(|ks| ks.iter().any(|k| k.get("d").is_some()));
    if private {
        return Err(ServiceError::invalid(
            "the JWK Set holds a private key: send the public keys only (and replace that key)",
        ));
    }
    let set: xaa::JwkSet = serde_json::from_value(v.clone())
        .map_err(|e| ServiceError::invalid(format!("jwks is not a JWK Set: {e}")))?;
    let usable = xaa::jws::keys_from_jwks(&set).len();
    if usable == 0 || set.keys.len() > 10 || usable != set.keys.len() {
        return Err(ServiceError::invalid(
            "jwks must hold 1 to 10 public EC P-256 or Ed25519 signing keys, each usable",
        ));
    }
    Ok(set)
}

/// A JWKS URL is accepted only when it answers now with a set `check_jwks`
/// accepts: a typo or a private key found at registration, not at the
/// client's first sign-in.
async fn check_jwks_uri(idp: &Idp, uri: &str) -> ServiceResult<String> {
    let uri = check_urls("jwks_uri", &[uri.to_owned()], 1, 1)?.remove(0);
    let set = idp.client_keys.fetch_set(&uri).await.map_err(|e| {
        ServiceError::invalid(format!("the key set at jwks_uri could not be read: {e}"))
    })?;
    check_jwks(&set)?;
    Ok(uri)
}

/// Ends a registry write: its audit event and change row join the entry's
/// transaction, which commits; then the snapshot is reloaded (and, when an
/// app's catalogue may have changed, the database's risk catalogue resynced).
async fn commit_entry(
    idp: &Idp,
    mut tx: idp_store::Tx,
    e: &audit::AuditEvent,
    key: &str,
) -> ServiceResult<Vec<admin_api::ChangeEvent>> {
    let change =
        idp_store::changes::record(&mut tx, ChangeKind::RegistryUpdated, key, idp.now_ms()).await?;
    audit::append(&mut tx, &[(e, idp.now_ms())]).await?;
    tx.commit().await?;
    idp.registry.reload(&idp.store).await?;
    Ok(vec![change])
}

async fn commit_client(
    idp: &Idp,
    tx: idp_store::Tx,
    e: &audit::AuditEvent,
    client_id: &str,
) -> ServiceResult<Committed<Registered<Client>>> {
    let changes = commit_entry(idp, tx, e, client_id).await?;
    Ok(Committed {
        value: current(idp, client_id)?,
        changes,
        connections_changed: false,
    })
}

fn doc(c: &Client) -> serde_json::Value {
    serde_json::to_value(c).unwrap_or_default()
}

pub async fn register_client(
    idp: &Idp,
    who: &Principal,
    req: &RegisterClient,
) -> ServiceResult<Committed<ClientWithSecret>> {
    let client_id = match &req.client_id {
        Some(id) if valid_client_id(id) => id.clone(),
        Some(_) => {
            return Err(ServiceError::invalid(
                "client_id must be 3 to 64 of a-z, 0-9, -, _ and .",
            ));
        }
        None => format!(
            "client-{}",
            &uuid::Uuid::new_v4().simple().to_string()[..12]
        ),
    };
    let name = check_name(&req.name)?;
    let description = check_description(req.description.as_deref())?;
    let owners = check_owners(idp, &req.owners).await?;
    let sponsor = match &req.sponsor {
        Some(s) => check_sponsor(idp, s).await?,
        None => None,
    };
    let successors = check_successors(idp, &req.successors).await?;
    let redirect_uris = check_redirect_uris(&req.redirect_uris)?;
    let (auth, secret) = match &req.credential {
        ClientCredential::ClientSecret => {
            let s = util::random_token(32);
            (
                ClientAuth::ClientSecret {
                    secret_sha256: util::sha256_hex(s.as_bytes()),
                    previous: None,
                },
                Some(s),
            )
        }
        ClientCredential::PrivateKeyJwt { jwks, jwks_uri } => (
            match (jwks, jwks_uri) {
                (Some(set), None) => ClientAuth::PrivateKeyJwt {
                    jwks: check_jwks(set)?,
                    jwks_uri: None,
                },
                (None, Some(u)) => ClientAuth::PrivateKeyJwt {
                    jwks: xaa::JwkSet::default(),
                    jwks_uri: Some(check_jwks_uri(idp, u).await?),
                },
                _ => {
                    return Err(ServiceError::invalid(
                        "private_key_jwt needs either jwks or jwks_uri",
                    ));
                }
            },
            None,
        ),
    };
    let client = Client {
        client_id: client_id.clone(),
        name,
        auth,
        redirect_uris,
        owners,
        sponsor,
        successors,
        description,
        admin: false,
    };
    check_no_owner_succeeds(&client)?;
    let mut tx = idp.store.begin_write().await?;
    let inserted = registry::insert(
        &mut tx,
        Kind::Client,
        &EntryWrite {
            key: &client_id,
            audience: None,
            doc: &doc(&client),
        },
        Origin::Admin,
        idp.now(),
    )
    .await?;
    if !inserted {
        return Err(ServiceError::conflict(format!(
            "client_id `{client_id}` is taken (by a live or a retired client)"
        )));
    }
    let mut e = actor_event(who, "client.registered", &client_id);
    e.client_id = Some(client_id.clone());
    e.detail["after"] = json!({
        "name": client.name, "owners": client.owners, "sponsor": client.sponsor,
        "successors": client.successors, "method": client.auth.method(),
        "redirect_uris": client.redirect_uris,
    });
    let committed = commit_client(idp, tx, &e, &client_id).await?;
    Ok(Committed {
        value: ClientWithSecret {
            client: client_view(&committed.value, false, (0, 0)),
            client_secret: secret,
        },
        changes: committed.changes,
        connections_changed: false,
    })
}

/// Opens a write on a live client at `expected`: its current state, or why not.
async fn open_live(
    idp: &Idp,
    client_id: &str,
    expected: i64,
) -> ServiceResult<(idp_store::Tx, Client, i64)> {
    let mut tx = idp.store.begin_write().await?;
    let entry = registry::get(&mut tx, Kind::Client, client_id)
        .await?
        .ok_or(ServiceError::NotFound("the client"))?;
    let client: Client = serde_json::from_value(entry.doc.clone())
        .map_err(|e| ServiceError::conflict(format!("the stored client is unreadable: {e}")))?;
    if entry.version != expected {
        let now = current(idp, client_id)?;
        return Err(ServiceError::stale(&client_view(&now, false, (0, 0))));
    }
    if entry.retired_at.is_some() {
        return Err(ServiceError::conflict("the client is retired"));
    }
    if client.admin {
        return Err(ServiceError::forbidden(
            "the console's own client is managed in the config file",
        ));
    }
    Ok((tx, client, entry.version))
}

async fn rewrite(tx: &mut idp_store::Tx, idp: &Idp, c: &Client, version: i64) -> ServiceResult<()> {
    let ok = registry::update(
        tx,
        Kind::Client,
        &EntryWrite {
            key: &c.client_id,
            audience: None,
            doc: &doc(c),
        },
        version,
        idp.now(),
    )
    .await?;
    if ok {
        Ok(())
    } else {
        Err(ServiceError::conflict(
            "the client changed meanwhile; read it again",
        ))
    }
}

pub async fn update_client(
    idp: &Idp,
    who: &Principal,
    client_id: &str,
    expected: i64,
    req: &UpdateClient,
) -> ServiceResult<Committed<ClientView>> {
    // Validated before the write transaction (the owners' check reads the directory).
    let name = req.name.as_deref().map(check_name).transpose()?;
    let owners = match &req.owners {
        Some(o) => Some(check_owners(idp, o).await?),
        None => None,
    };
    let sponsor = match &req.sponsor {
        Some(s) => Some(check_sponsor(idp, s).await?),
        None => None,
    };
    let successors = match &req.successors {
        Some(s) => Some(check_successors(idp, s).await?),
        None => None,
    };
    let redirect_uris = req
        .redirect_uris
        .as_deref()
        .map(check_redirect_uris)
        .transpose()?;
    let jwks = req.jwks.as_ref().map(check_jwks).transpose()?;
    let jwks_uri = match &req.jwks_uri {
        Some(u) => Some(check_jwks_uri(idp, u).await?),
        None => None,
    };
    if jwks.is_some() && jwks_uri.is_some() {
        return Err(ServiceError::invalid("send jwks or jwks_uri, not both"));
    }
    let (mut tx, mut c, version) = open_live(idp, client_id, expected).await?;
    let summary = |c: &Client| {
        json!({
            "name": c.name, "owners": c.owners, "sponsor": c.sponsor,
            "successors": c.successors, "redirect_uris": c.redirect_uris,
        })
    };
    let before = summary(&c);
    if let Some(n) = name {
        c.name = n;
    }
    if req.description.is_some() {
        c.description = check_description(req.description.as_deref())?;
    }
    if let Some(o) = owners {
        c.owners = o;
    }
    if let Some(s) = sponsor {
        c.sponsor = s;
    }
    match successors {
        Some(s) => c.successors = s,
        // A successor made an owner is no successor any more.
        None => c.successors.retain(|s| !c.owners.contains(s)),
    }
    check_no_owner_succeeds(&c)?;
    if let Some(r) = redirect_uris {
        c.redirect_uris = r;
    }
    if jwks.is_some() || jwks_uri.is_some() {
        let ClientAuth::PrivateKeyJwt {
            jwks: keys,
            jwks_uri: uri,
        } = &mut c.auth
        else {
            return Err(ServiceError::invalid(
                "jwks and jwks_uri apply to a private_key_jwt client only",
            ));
        };
        match (jwks, jwks_uri) {
            (Some(set), _) => (*keys, *uri) = (set, None),
            (None, Some(u)) => (*keys, *uri) = (xaa::JwkSet::default(), Some(u)),
            (None, None) => {}
        }
    }
    rewrite(&mut tx, idp, &c, version).await?;
    let mut e = actor_event(who, "client.updated", client_id);
    e.client_id = Some(client_id.to_owned());
    e.detail["before"] = before;
    e.detail["after"] = summary(&c);
    e.detail["keys_replaced"] = json!(req.jwks.is_some() || req.jwks_uri.is_some());
    let committed = commit_client(idp, tx, &e, client_id).await?;
    Ok(Committed {
        value: client_view(&committed.value, false, (0, 0)),
        changes: committed.changes,
        connections_changed: false,
    })
}

pub async fn rotate_secret(
    idp: &Idp,
    who: &Principal,
    client_id: &str,
    expected: i64,
    req: &RotateClientSecret,
) -> ServiceResult<Committed<ClientWithSecret>> {
    if req.overlap > 30 * 86400 {
        return Err(ServiceError::invalid("overlap must be 0 to 30 days"));
    }
    let (mut tx, mut c, version) = open_live(idp, client_id, expected).await?;
    let now = idp.now();
    let secret = util::random_token(32);
    let ClientAuth::ClientSecret { secret_sha256, .. } = &c.auth else {
        return Err(ServiceError::invalid(
            "only a client_secret client has a secret to rotate",
        ));
    };
    let until = now + req.overlap as i64;
    c.auth = ClientAuth::ClientSecret {
        previous: (req.overlap > 0).then(|| PreviousSecret {
            secret_sha256: secret_sha256.clone(),
            until,
        }),
        secret_sha256: util::sha256_hex(secret.as_bytes()),
    };
    rewrite(&mut tx, idp, &c, version).await?;
    let mut e = actor_event(who, "client.secret_rotated", client_id);
    e.client_id = Some(client_id.to_owned());
    e.detail["overlap"] = json!(req.overlap);
    e.detail["previous_valid_until"] = json!((req.overlap > 0).then_some(until));
    let committed = commit_client(idp, tx, &e, client_id).await?;
    Ok(Committed {
        value: ClientWithSecret {
            client: client_view(&committed.value, false, (0, 0)),
            client_secret: Some(secret),
        },
        changes: committed.changes,
        connections_changed: false,
    })
}

/// Retires a client: its live connections are revoked first (the kill
/// switch's path: receivers get their events; it needs a recent MFA sign-in),
/// then the client is honoured nowhere. A retry after a failure between the two
/// finds nothing left to revoke and retires.
pub async fn retire_client(
    idp: &Idp,
    who: &Principal,
    client_id: &str,
    expected: i64,
    req: &Retirement,
) -> ServiceResult<Committed<ClientView>> {
    let reason = required_reason(&req.reason)?.to_owned();
    let now_state = current(idp, client_id)?;
    if now_state.version != expected {
        return Err(ServiceError::stale(&client_view(&now_state, false, (0, 0))));
    }
    let revoked = connections::revoke_in_bulk(
        idp,
        who,
        &BulkRevoke {
            client_id: Some(client_id.to_owned()),
            resource_app: None,
            username: None,
            reason: format!("client retired: {reason}"),
            dry_run: false,
        },
    )
    .await?;
    let mut changes = revoked.changes.clone();
    let revoked = revoked.announce(idp);
    let (mut tx, _, version) = open_live(idp, client_id, expected).await?;
    let retired = registry::retire(&mut tx, Kind::Client, client_id, version, idp.now()).await?;
    if !retired {
        return Err(ServiceError::conflict(
            "the client changed meanwhile; read it again",
        ));
    }
    let mut e = actor_event(who, "client.retired", client_id);
    e.client_id = Some(client_id.to_owned());
    e.reason = Some(reason);
    e.detail["connections_revoked"] = json!(revoked.connections_revoked);
    let committed = commit_client(idp, tx, &e, client_id).await?;
    changes.extend(committed.changes);
    Ok(Committed {
        value: client_view(&committed.value, false, (0, 0)),
        changes,
        connections_changed: true,
    })
}

// ---- Resource apps ----

/// How an app looks in the admin API.
pub fn app_view(r: &Registered<ResourceApp>) -> ResourceAppView {
    let a = &r.item;
    ResourceAppView {
        id: a.id.clone(),
        name: a.name.clone(),
        issuer: a.issuer.clone(),
        mcp_servers: a.mcp_servers.clone(),
        scopes: crate::views::scope_views(
            Some(a),
            &a.scopes.iter().map(|s| s.name.clone()).collect::<Vec<_>>(),
        ),
        receivers: a.receivers.clone(),
        owners: a.owners.clone(),
        client_ids: a.client_ids.clone(),
        origin: match r.origin {
            Origin::Config => RegistryOrigin::Config,
            Origin::Admin => RegistryOrigin::Admin,
        },
        version: r.version,
        retired_at: r.retired_at,
    }
}

fn current_app(idp: &Idp, id: &str) -> ServiceResult<Registered<ResourceApp>> {
    idp.catalog()
        .apps
        .iter()
        .find(|a| a.item.id == id)
        .cloned()
        .ok_or(ServiceError::NotFound("the resource app"))
}

/// https, or http on a loopback host, without a fragment.
pub(crate) fn web_url(u: &str) -> bool {
    url::Url::parse(u).is_ok_and(|p| {
        p.fragment().is_none()
            && match p.scheme() {
                "https" => true,
                "http" => matches!(p.host_str(), Some("127.0.0.1" | "[::1]" | "localhost")),
                _ => false,
            }
    })
}

fn check_urls(what: &str, urls: &[String], min: usize, max: usize) -> ServiceResult<Vec<String>> {
    if urls.len() < min || urls.len() > max {
        return Err(ServiceError::invalid(format!(
            "{what}: {min} to {max} URLs"
        )));
    }
    match urls.iter().find(|u| !web_url(u)) {
        Some(bad) => Err(ServiceError::invalid(format!(
            "{what}: `{bad}` must be an https URL (http only on loopback) without a fragment"
        ))),
        None => Ok(urls.to_vec()),
    }
}

fn check_scopes(scopes: &[admin_api::ScopeView]) -> ServiceResult<Vec<ScopeDef>> {
    if scopes.is_empty() || scopes.len() > 200 {
        return Err(ServiceError::invalid("a catalogue has 1 to 200 scopes"));
    }
    let mut out: Vec<ScopeDef> = Vec::new();
    for s in scopes {
        let name_ok = (1..=100).contains(&s.name.len())
            && s.name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '-' | '/'));
        if !name_ok {
            return Err(ServiceError::invalid(format!(
                "scope `{}`: 1 to 100 of letters, digits and . _ : - /",
                s.name
            )));
        }
        if s.description.chars().count() > 500 {
            return Err(ServiceError::invalid(format!(
                "scope `{}`: a description of at most 500 characters",
                s.name
            )));
        }
        if out.iter().any(|o| o.name == s.name) {
            return Err(ServiceError::invalid(format!(
                "scope `{}` is listed twice",
                s.name
            )));
        }
        out.push(ScopeDef {
            name: s.name.clone(),
            description: s.description.trim().to_owned(),
            risk: s.risk,
            sensitive: s.sensitive,
        });
    }
    Ok(out)
}

fn check_client_ids(
    idp: &Idp,
    m: &std::collections::BTreeMap<String, String>,
) -> ServiceResult<std::collections::BTreeMap<String, String>> {
    for (ours, theirs) in m {
        if idp.catalog().client(ours).is_none() {
            return Err(ServiceError::invalid(format!(
                "client_ids names `{ours}`, which is no live client"
            )));
        }
        if theirs.trim().is_empty() || theirs.len() > 200 {
            return Err(ServiceError::invalid(format!(
                "client_ids: `{ours}` must map to 1 to 200 characters"
            )));
        }
    }
    Ok(m.clone())
}

/// People accountable for an app: active people of the directory (at most 20; may be none).
async fn check_app_owners(idp: &Idp, owners: &[String]) -> ServiceResult<Vec<String>> {
    if owners.is_empty() {
        return Ok(vec![]);
    }
    check_owners(idp, owners).await
}

fn app_doc(a: &ResourceApp) -> serde_json::Value {
    serde_json::to_value(a).unwrap_or_default()
}

/// Mirrors the live apps' catalogues into the database's risk catalogue (which
/// ranks connections for the inventory).
async fn resync_catalogue(idp: &Idp) -> ServiceResult<()> {
    let wanted = idp
        .catalog()
        .live_apps()
        .flat_map(|a| {
            a.scopes
                .iter()
                .map(|s| (a.id.clone(), s.name.clone(), idp_store::risk_rank(s.risk)))
                .collect::<Vec<_>>()
        })
        .collect();
    // The change itself is committed; a catalogue that could not be resynced
    // now only ranks the inventory by stale risk until the next change or start.
    if let Err(e) = idp.store.sync_scope_catalogue(&wanted).await {
        tracing::warn!(error = %e, "the risk catalogue could not be resynced after a registry change");
    }
    Ok(())
}

pub async fn register_app(
    idp: &Idp,
    who: &Principal,
    req: &RegisterResourceApp,
) -> ServiceResult<Committed<ResourceAppView>> {
    let id_ok = (2..=40).contains(&req.id.len())
        && req
            .id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !id_ok {
        return Err(ServiceError::invalid(
            "id must be 2 to 40 of a-z, 0-9 and -",
        ));
    }
    if !web_url(&req.issuer) || req.issuer.ends_with('/') || req.issuer == idp.issuer() {
        return Err(ServiceError::invalid(
            "issuer must be an https URL (http only on loopback) without a trailing slash, and not this IdP",
        ));
    }
    let app = ResourceApp {
        id: req.id.clone(),
        name: check_name(&req.name)?,
        issuer: req.issuer.clone(),
        mcp_servers: check_urls("mcp_servers", &req.mcp_servers, 1, 20)?,
        client_ids: check_client_ids(idp, &req.client_ids)?,
        scopes: check_scopes(&req.scopes)?,
        receivers: check_urls("receivers", &req.receivers, 0, 10)?,
        owners: check_app_owners(idp, &req.owners).await?,
    };
    let mut tx = idp.store.begin_write().await?;
    let inserted = registry::insert(
        &mut tx,
        Kind::App,
        &EntryWrite {
            key: &app.id,
            audience: Some(&app.issuer),
            doc: &app_doc(&app),
        },
        Origin::Admin,
        idp.now(),
    )
    .await?;
    if !inserted {
        return Err(ServiceError::conflict(format!(
            "id `{}` or issuer `{}` is taken (by a live or a retired app)",
            app.id, app.issuer
        )));
    }
    let mut e = actor_event(who, "resource_app.registered", &app.id);
    e.detail["after"] = json!({
        "name": app.name, "issuer": app.issuer, "mcp_servers": app.mcp_servers,
        "scopes": app.scopes.iter().map(|s| &s.name).collect::<Vec<_>>(),
        "receivers": app.receivers, "owners": app.owners,
    });
    let changes = commit_entry(idp, tx, &e, &app.id).await?;
    resync_catalogue(idp).await?;
    Ok(Committed {
        value: app_view(&current_app(idp, &app.id)?),
        changes,
        connections_changed: false,
    })
}

/// Opens a write on a live app at `expected`.
async fn open_live_app(
    idp: &Idp,
    id: &str,
    expected: i64,
) -> ServiceResult<(idp_store::Tx, ResourceApp, i64)> {
    let mut tx = idp.store.begin_write().await?;
    let entry = registry::get(&mut tx, Kind::App, id)
        .await?
        .ok_or(ServiceError::NotFound("the resource app"))?;
    let app: ResourceApp = serde_json::from_value(entry.doc.clone())
        .map_err(|e| ServiceError::conflict(format!("the stored app is unreadable: {e}")))?;
    if entry.version != expected {
        return Err(ServiceError::stale(&app_view(&current_app(idp, id)?)));
    }
    if entry.retired_at.is_some() {
        return Err(ServiceError::conflict("the resource app is retired"));
    }
    Ok((tx, app, entry.version))
}

/// The scopes of `app` that live connections grant by name (a connection
/// granting "all" follows the catalogue and holds no name).
async fn granted_scopes(
    tx: &mut idp_store::Tx,
    app: &str,
) -> ServiceResult<std::collections::BTreeSet<String>> {
    let live = idp_store::connections::matching(
        tx,
        &idp_store::connections::ConnectionFilter {
            live_only: true,
            resource_app: Some(app.to_owned()),
            ..Default::default()
        },
    )
    .await?;
    Ok(live
        .into_iter()
        .filter_map(|r| match r.connection.scopes {
            admin_api::ScopeCondition::IncludeOnly(list) => Some(list),
            admin_api::ScopeCondition::All => None,
        })
        .flatten()
        .collect())
}

pub async fn update_app(
    idp: &Idp,
    who: &Principal,
    id: &str,
    expected: i64,
    req: &UpdateResourceApp,
) -> ServiceResult<Committed<ResourceAppView>> {
    let owners = match &req.owners {
        Some(o) => Some(check_app_owners(idp, o).await?),
        None => None,
    };
    let scopes = req.scopes.as_deref().map(check_scopes).transpose()?;
    let (mut tx, mut app, version) = open_live_app(idp, id, expected).await?;
    let before = json!({
        "name": app.name, "mcp_servers": app.mcp_servers, "receivers": app.receivers,
        "owners": app.owners, "client_ids": app.client_ids,
        "scopes": app.scopes.iter().map(|s| json!({"name": s.name, "risk": s.risk, "sensitive": s.sensitive})).collect::<Vec<_>>(),
    });
    if let Some(n) = &req.name {
        app.name = check_name(n)?;
    }
    if let Some(m) = &req.mcp_servers {
        app.mcp_servers = check_urls("mcp_servers", m, 1, 20)?;
    }
    if let Some(m) = &req.client_ids {
        app.client_ids = check_client_ids(idp, m)?;
    }
    if let Some(r) = &req.receivers {
        app.receivers = check_urls("receivers", r, 0, 10)?;
    }
    if let Some(o) = owners {
        app.owners = o;
    }
    let mut reapprovals = Vec::new();
    if let Some(new) = scopes {
        let granted = granted_scopes(&mut tx, id).await?;
        if let Some(gone) = granted.iter().find(|g| !new.iter().any(|s| &s.name == *g)) {
            return Err(ServiceError::conflict(format!(
                "scope `{gone}` is granted by a live connection: narrow or revoke those connections first"
            )));
        }
        let escalated = escalations(&app, &new);
        app.scopes = new;
        reapprovals = open_reapprovals(idp, &mut tx, &app, &escalated).await?;
    }
    let ok = registry::update(
        &mut tx,
        Kind::App,
        &EntryWrite {
            key: id,
            audience: Some(&app.issuer),
            doc: &app_doc(&app),
        },
        version,
        idp.now(),
    )
    .await?;
    if !ok {
        return Err(ServiceError::conflict(
            "the resource app changed meanwhile; read it again",
        ));
    }
    let mut e = actor_event(who, "resource_app.updated", id);
    e.detail["reapprovals"] = json!(reapprovals.iter().map(|(r, _)| r).collect::<Vec<_>>());
    e.detail["before"] = before;
    e.detail["after"] = json!({
        "name": app.name, "mcp_servers": app.mcp_servers, "receivers": app.receivers,
        "owners": app.owners, "client_ids": app.client_ids,
        "scopes": app.scopes.iter().map(|s| json!({"name": s.name, "risk": s.risk, "sensitive": s.sensitive})).collect::<Vec<_>>(),
    });
    let mut changes: Vec<_> = reapprovals.into_iter().filter_map(|(_, c)| c).collect();
    changes.extend(commit_entry(idp, tx, &e, id).await?);
    resync_catalogue(idp).await?;
    Ok(Committed {
        value: app_view(&current_app(idp, id)?),
        changes,
        connections_changed: true,
    })
}

/// The scopes `new` makes riskier or sensitive compared with `app`'s catalogue.
fn escalations(app: &ResourceApp, new: &[ScopeDef]) -> Vec<admin_api::ScopeChange> {
    new.iter()
        .filter_map(|n| {
            let old = app.scope(&n.name)?;
            let riskier = idp_store::risk_rank(n.risk) > idp_store::risk_rank(old.risk);
            let now_sensitive = n.sensitive && !old.sensitive;
            (riskier || now_sensitive).then(|| admin_api::ScopeChange {
                scope: n.name.clone(),
                risk_before: old.risk,
                risk_after: n.risk,
                sensitive_before: old.sensitive,
                sensitive_after: n.sensitive,
            })
        })
        .collect()
}

/// Puts every live connection of `app` that grants an escalated scope up for
/// re-approval, in the caller's transaction: a pending request for its (client,
/// app) naming the connection and what changed. The connection keeps working
/// as approved until an approver decides. Returns the request ids (with their
/// change rows).
async fn open_reapprovals(
    idp: &Idp,
    tx: &mut idp_store::Tx,
    app: &ResourceApp,
    escalated: &[admin_api::ScopeChange],
) -> ServiceResult<Vec<(String, Option<admin_api::ChangeEvent>)>> {
    if escalated.is_empty() {
        return Ok(vec![]);
    }
    let live = idp_store::connections::matching(
        tx,
        &idp_store::connections::ConnectionFilter {
            live_only: true,
            resource_app: Some(app.id.clone()),
            ..Default::default()
        },
    )
    .await?;
    let mut out = Vec::new();
    for row in live {
        let c = row.connection;
        let granted: Vec<String> = match &c.scopes {
            admin_api::ScopeCondition::IncludeOnly(list) => list.clone(),
            admin_api::ScopeCondition::All => app.scopes.iter().map(|s| s.name.clone()).collect(),
        };
        let hits: Vec<admin_api::ScopeChange> = escalated
            .iter()
            .filter(|e| granted.contains(&e.scope))
            .cloned()
            .collect();
        if hits.is_empty() {
            continue;
        }
        let why = format!(
            "Re-approval: {} changed in {}'s catalogue since this connection was approved",
            hits.iter()
                .map(|h| h.scope.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            app.name
        );
        let (rid, change) = idp_store::requests::upsert_in(
            tx,
            &idp_store::requests::RequestSighting {
                client_id: &c.client_id,
                resource_app: &app.id,
                scopes: &granted,
                resource: None,
                user: None,
                justification: Some(&why),
                refused: false,
            },
            idp.now(),
        )
        .await?;
        idp_store::requests::set_reapproval(
            tx,
            &rid,
            &admin_api::Reapproval {
                connection_id: c.id.clone(),
                changes: hits,
            },
        )
        .await?;
        out.push((rid, change));
    }
    Ok(out)
}

/// Retires an app: its live connections are revoked first (receivers get
/// their events; a recent MFA sign-in is needed), then it is no audience.
pub async fn retire_app(
    idp: &Idp,
    who: &Principal,
    id: &str,
    expected: i64,
    req: &Retirement,
) -> ServiceResult<Committed<ResourceAppView>> {
    let reason = required_reason(&req.reason)?.to_owned();
    let now_state = current_app(idp, id)?;
    if now_state.version != expected {
        return Err(ServiceError::stale(&app_view(&now_state)));
    }
    let revoked = connections::revoke_in_bulk(
        idp,
        who,
        &BulkRevoke {
            client_id: None,
            resource_app: Some(id.to_owned()),
            username: None,
            reason: format!("resource app retired: {reason}"),
            dry_run: false,
        },
    )
    .await?;
    let mut changes = revoked.changes.clone();
    let revoked = revoked.announce(idp);
    let (mut tx, _, version) = open_live_app(idp, id, expected).await?;
    if !registry::retire(&mut tx, Kind::App, id, version, idp.now()).await? {
        return Err(ServiceError::conflict(
            "the resource app changed meanwhile; read it again",
        ));
    }
    let mut e = actor_event(who, "resource_app.retired", id);
    e.reason = Some(reason);
    e.detail["connections_revoked"] = json!(revoked.connections_revoked);
    changes.extend(commit_entry(idp, tx, &e, id).await?);
    resync_catalogue(idp).await?;
    Ok(Committed {
        value: app_view(&current_app(idp, id)?),
        changes,
        connections_changed: true,
    })
}
