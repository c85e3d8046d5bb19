//! Registering, editing, rotating the secret of, and retiring AI clients: the
//! admin API's `/clients` writes. Each write is one transaction with its audit
//! event (no secret in it, only that one was made) and its `registry.updated`
//! change row, checked against the `If-Match` version inside that transaction;
//! the IdP's snapshot of clients is reloaded before the caller is answered, and
//! every other node reloads when the change feed brings the row.

use super::{
    Committed, Principal, ServiceError, ServiceResult, actor_event, connections, required_reason,
};
use crate::{
    audit,
    config::{Client, ClientAuth, PreviousSecret},
    registry::Registered,
    state::Idp,
};
use admin_api::{
    BulkRevoke, ChangeKind, ClientCredential, ClientView, ClientWithSecret, RegisterClient,
    RegistryOrigin, RetireClient, RotateClientSecret, UpdateClient,
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
    let mut out = Vec::new();
    for o in owners {
        match idp.person(o.trim()).await? {
            Some(p) if p.active => {
                if !out.contains(&p.username) {
                    out.push(p.username);
                }
            }
            Some(_) => {
                return Err(ServiceError::invalid(format!(
                    "owner `{o}` is deactivated in the directory"
                )));
            }
            None => {
                return Err(ServiceError::invalid(format!(
                    "owner `{o}` is not a person of the directory"
                )));
            }
        }
    }
    Ok(out)
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

/// Writes the registry change: the entry, its audit event and change row, then
/// commits and reloads the snapshot.
async fn commit_client(
    idp: &Idp,
    mut tx: idp_store::Tx,
    e: &audit::AuditEvent,
    client_id: &str,
) -> ServiceResult<Committed<Registered<Client>>> {
    let change = idp_store::changes::record(
        &mut tx,
        ChangeKind::RegistryUpdated,
        client_id,
        idp.now_ms(),
    )
    .await?;
    audit::append(&mut tx, &[(e, idp.now_ms())]).await?;
    tx.commit().await?;
    idp.registry.reload(&idp.store).await?;
    Ok(Committed {
        value: current(idp, client_id)?,
        changes: vec![change],
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
        ClientCredential::PrivateKeyJwt { jwks } => (
            ClientAuth::PrivateKeyJwt {
                jwks: check_jwks(jwks)?,
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
        description,
        admin: false,
    };
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
        "name": client.name, "owners": client.owners, "method": client.auth.method(),
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
    let redirect_uris = req
        .redirect_uris
        .as_deref()
        .map(check_redirect_uris)
        .transpose()?;
    let jwks = req.jwks.as_ref().map(check_jwks).transpose()?;
    let (mut tx, mut c, version) = open_live(idp, client_id, expected).await?;
    let before = json!({ "name": c.name, "owners": c.owners, "redirect_uris": c.redirect_uris });
    if let Some(n) = name {
        c.name = n;
    }
    if req.description.is_some() {
        c.description = check_description(req.description.as_deref())?;
    }
    if let Some(o) = owners {
        c.owners = o;
    }
    if let Some(r) = redirect_uris {
        c.redirect_uris = r;
    }
    if let Some(set) = jwks {
        match &mut c.auth {
            ClientAuth::PrivateKeyJwt { jwks } => *jwks = set,
            _ => {
                return Err(ServiceError::invalid(
                    "jwks applies to a private_key_jwt client only",
                ));
            }
        }
    }
    rewrite(&mut tx, idp, &c, version).await?;
    let mut e = actor_event(who, "client.updated", client_id);
    e.client_id = Some(client_id.to_owned());
    e.detail["before"] = before;
    e.detail["after"] =
        json!({ "name": c.name, "owners": c.owners, "redirect_uris": c.redirect_uris });
    e.detail["keys_replaced"] = json!(req.jwks.is_some());
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
    req: &RetireClient,
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
