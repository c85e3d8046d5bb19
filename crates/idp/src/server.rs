//! Starting the IdP: open the store, load or create the signing key, seed the
//! configured connections, start the audit writer, and serve the routes.

use crate::{
    audit::AuditLog,
    authorize,
    config::Config,
    endpoints,
    state::{Idp, SharedIdp},
    token,
};
use axum::{
    Router,
    http::{HeaderValue, header},
    routing::{get, post},
};
use idp_store::{Db, connections::NewConnection, keys::StoredKey};
use std::sync::Arc;
use tokio::net::TcpListener;
use xaa::{Alg, SigningKey};

/// Why the IdP refuses to start; each names the path or address and the cause
/// in a sentence a person can act on.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot use the database {path}: {source}. {hint}")]
    Db {
        path: String,
        source: sqlx::Error,
        hint: &'static str,
    },
    #[error("the signing key stored in the database {path} cannot be loaded: {source}")]
    Key {
        path: String,
        source: xaa::jws::KeyError,
    },
    #[error("cannot set up sign-in at an upstream IdP: {0}")]
    Upstream(String),
    #[error("cannot start the IdP's background jobs: {0}")]
    Jobs(String),
    #[error(
        "cannot listen on {addr}: {source}; pick a free address with --listen or `listen` in the config"
    )]
    Listen {
        addr: String,
        source: std::io::Error,
    },
}

/// What a person can do about a database error at start.
fn db_hint(url: &str, e: &sqlx::Error) -> &'static str {
    let text = e.to_string().to_lowercase();
    if idp_store::Backend::of_url(url) == Some(idp_store::Backend::Postgres) {
        if text.contains("password") || text.contains("authentication") {
            "PostgreSQL refused the credentials: check the user and password in the URL (or PGPASSWORD) and pg_hba.conf."
        } else if text.contains("does not exist") {
            "Create the database first (`createdb`), or name an existing one in the URL."
        } else {
            "Check that PostgreSQL is running and reachable at the host and port of the URL (`pg_isready -h HOST -p PORT`)."
        }
    } else if text.contains("readonly") || text.contains("read-only") || text.contains("permission")
    {
        "It cannot be written: make the file, its directory and the -wal and -shm files beside it writable by the user running the IdP (a crash or a restore may have left them read-only or owned by another user), or point `database` in the config at a writable place."
    } else if text.contains("unable to open") {
        "Check that its directory exists and that the user running the IdP may create files in it."
    } else if text.contains("is not a database this idp runs on") {
        "Use `sqlite://PATH` or `postgres://USER@HOST:PORT/DB`."
    } else {
        "Check the file with `sqlite3 <file> 'PRAGMA integrity_check'`, or restore it from a backup."
    }
}

/// A fresh ES256 key as the store keeps it.
pub fn new_signing_key() -> Result<StoredKey, xaa::jws::KeyError> {
    SigningKey::generate(Alg::ES256).map(|k| StoredKey {
        kid: k.kid().to_owned(),
        alg: k.alg().as_str().to_owned(),
        pkcs8: k.pkcs8_der().to_vec(),
    })
}

/// Builds the shared IdP state from a validated config.
pub async fn build(config: Config) -> Result<SharedIdp, StartError> {
    let url = config.database.url();
    let path = config.database.describe();
    let db = |source: sqlx::Error| StartError::Db {
        path: path.clone(),
        hint: db_hint(&url, &source),
        source,
    };
    let store = Db::open(&url).await.map_err(db)?;
    let now = unix_now();
    let key_error = |source| StartError::Key {
        path: path.clone(),
        source,
    };
    let stored = store
        .active_or_new_signing_key(now, new_signing_key)
        .await
        .map_err(db)?
        .map_err(key_error)?;
    let from_store = |k: StoredKey| {
        let alg = Alg::parse(&k.alg).unwrap_or(Alg::ES256);
        SigningKey::from_pkcs8(alg, k.kid, &k.pkcs8)
    };
    let key = from_store(stored).map_err(key_error)?;
    let published = store
        .published_signing_keys()
        .await
        .map_err(db)?
        .into_iter()
        .map(from_store)
        .collect::<Result<Vec<_>, _>>()
        .map_err(key_error)?;
    crate::registry::seed(&store, &config.clients, &config.resource_apps, now)
        .await
        .map_err(db)?;
    let registry = crate::registry::Registry::default();
    registry.reload(&store).await.map_err(db)?;
    let catalogue = registry
        .get()
        .live_apps()
        .flat_map(|a| {
            a.scopes
                .iter()
                .map(|s| (a.id.clone(), s.name.clone(), idp_store::risk_rank(s.risk)))
        })
        .collect();
    store.sync_scope_catalogue(&catalogue).await.map_err(db)?;
    for seed in &config.connections {
        let n = NewConnection {
            client_id: &seed.client_id,
            resource_app: &seed.resource_app,
            scopes: &seed.scopes,
            allowed_groups: &seed.allowed_groups,
            allowed_resources: &seed.allowed_resources,
            step_up: &seed.step_up,
            id_jag_lifetime: seed.id_jag_lifetime,
            expires_at: None,
            approved_by: &seed.approved_by,
            justification: Some("pre-approved in configuration"),
            request_id: None,
        };
        store.seed_connection(&n, now).await.map_err(db)?;
    }
    let upstreams =
        crate::upstream::Upstreams::load(&config.upstreams).map_err(StartError::Upstream)?;
    seed_directory(&store, &config, now).await.map_err(db)?;
    let audit = AuditLog::start(store.clone()).await.map_err(db)?;
    let idp = Arc::new(Idp::new(
        config, store, audit, key, &published, upstreams, registry,
    ));
    crate::jobs::start(idp.clone()).map_err(|e| StartError::Jobs(e.to_string()))?;
    Ok(idp)
}

pub fn router(idp: SharedIdp) -> Router {
    Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(endpoints::discovery),
        )
        .route(
            "/.well-known/oauth-authorization-server",
            get(endpoints::discovery),
        )
        .route("/jwks", get(endpoints::jwks))
        .route("/healthz", get(endpoints::healthz))
        .route("/readyz", get(endpoints::readyz))
        .route(
            "/authorize",
            get(authorize::get_authorize).post(authorize::post_authorize),
        )
        .route(
            "/authorize/upstream/callback",
            get(crate::upstream::callback),
        )
        .route("/authorize/upstream/{id}", get(crate::upstream::start))
        .route("/token", post(token::token))
        .route(
            "/userinfo",
            get(endpoints::userinfo).post(endpoints::userinfo),
        )
        .route("/revoke", post(endpoints::revoke))
        .route("/connection-requests", post(endpoints::file_request))
        .merge(crate::admin::router(idp.clone()))
        .merge(crate::scim::router(idp.clone()))
        .route_layer(axum::middleware::from_fn_with_state(
            idp.clone(),
            crate::metrics::track,
        ))
        .layer(axum::middleware::map_response(security_headers))
        .layer(axum::middleware::from_fn(crate::request_id::request_id))
        .with_state(idp)
}

async fn security_headers(mut r: axum::response::Response) -> axum::response::Response {
    let h = r.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    // A handler may set a stricter or more specific policy (the login page names
    // the one redirect URI its form may lead to); otherwise this one.
    h.entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(CSP));
    r
}

/// The IdP's content security policy; `content_security_policy` widens only
/// its `form-action`.
const CSP: &str =
    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'";

/// `CSP` with `form-action` also allowing `origin` (the login page's form leads
/// to the client's redirect URI, and browsers apply `form-action` to that redirect).
pub fn content_security_policy(origin: &str) -> String {
    CSP.replace(
        "form-action 'self'",
        &format!("form-action 'self' {origin}"),
    )
}

/// Serves on `listener` until the process ends, with bounded cost per
/// connection (header timeout and size, idle timeout, connection cap).
pub async fn serve(idp: SharedIdp, listener: TcpListener) -> std::io::Result<()> {
    let limits = idp.config.server.limits();
    serve::serve(listener, router(idp), limits).await
}

/// Ends at SIGTERM (how systemd stops the unit) or Ctrl-C.
pub async fn stop_requested() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// What a node does before it exits: writes the refusals it counted but has
/// not written yet.
pub async fn stopping(idp: &SharedIdp) {
    if let Err(e) = crate::refusals::flush(idp, true).await {
        tracing::warn!(error = %e, "counted refusals could not be written before stopping");
    }
}

/// Serves `/metrics` alone on its own listener, with the same bounds.
pub async fn serve_metrics(idp: SharedIdp, listener: TcpListener) -> std::io::Result<()> {
    let limits = idp.config.server.limits();
    serve::serve(listener, crate::metrics::router(idp), limits).await
}

pub async fn bind(addr: &str) -> Result<TcpListener, StartError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| StartError::Listen {
            addr: addr.into(),
            source,
        })
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Puts the configuration's people (and their groups) into the directory when
/// it does not hold them yet. After that the directory is the truth: SCIM may
/// deactivate, rename or regroup them, and a restart does not undo it.
async fn seed_directory(
    store: &idp_store::Db,
    config: &crate::config::Config,
    now: i64,
) -> Result<(), idp_store::Error> {
    let people: Vec<idp_store::directory::SeedPerson> = config
        .users
        .iter()
        .map(|u| {
            let mut resource = serde_json::json!({
                "schemas": [scim::USER_SCHEMA],
                "userName": u.username,
                "active": true,
            });
            if let Some(n) = &u.name {
                resource["displayName"] = serde_json::json!(n);
            }
            if let Some(e) = &u.email {
                resource["emails"] = serde_json::json!([{ "value": e, "primary": true }]);
            }
            idp_store::directory::SeedPerson {
                username: &u.username,
                groups: &u.groups,
                resource,
            }
        })
        .collect();
    let mut tx = store.begin_write().await?;
    let mut new_id = || uuid::Uuid::new_v4().to_string();
    let added = idp_store::directory::seed(&mut tx, &people, &mut new_id, now).await?;
    tx.commit().await?;
    if added > 0 {
        tracing::info!(added, "directory seeded from the configuration");
    }
    Ok(())
}
