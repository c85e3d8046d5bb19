//! Starting the IdP: open the store, load or create the signing key, seed the
//! configured connections, start the audit writer, and serve the routes.

use crate::{
    audit::AuditLog,
    authorize,
    config::Config,
    endpoints,
    state::{Idp, SharedIdp},
    store::{self, Store},
    token,
};
use axum::{
    Router,
    http::{HeaderValue, header},
    routing::{get, post},
};
use std::{path::Path, sync::Arc};
use tokio::net::TcpListener;
use xaa::{Alg, SigningKey};

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("signing key: {0}")]
    Key(#[from] xaa::jws::KeyError),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: String,
        source: std::io::Error,
    },
}

/// Builds the shared IdP state from a validated config.
pub async fn build(config: Config) -> Result<SharedIdp, StartError> {
    let pool = store::open(Path::new(&config.database)).await?;
    let store = Store::new(pool.clone());
    let now = unix_now();
    let key = match store.active_signing_key().await? {
        Some((kid, alg, pkcs8)) => {
            let alg = Alg::parse(&alg).unwrap_or(Alg::ES256);
            SigningKey::from_pkcs8(alg, kid, &pkcs8)?
        }
        None => {
            let k = SigningKey::generate(Alg::ES256)?;
            store
                .insert_signing_key(k.kid(), k.alg().as_str(), k.pkcs8_der(), now)
                .await?;
            k
        }
    };
    store.sync_scope_catalogue(&config.resource_apps).await?;
    for seed in &config.connections {
        store.seed_connection(seed, now).await?;
    }
    let audit = AuditLog::start(pool).await?;
    let idp = Arc::new(Idp::new(config, store, audit, key));
    crate::revocation::start_pusher(idp.clone());
    // Access reviews past their due date get their default action.
    {
        let idp = idp.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
            loop {
                tick.tick().await;
                crate::admin::reviews::run_due(&idp).await;
            }
        });
    }
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
        .route(
            "/authorize",
            get(authorize::get_authorize).post(authorize::post_authorize),
        )
        .route("/token", post(token::token))
        .route(
            "/userinfo",
            get(endpoints::userinfo).post(endpoints::userinfo),
        )
        .route("/revoke", post(endpoints::revoke))
        .route("/connection-requests", post(endpoints::file_request))
        .merge(crate::admin::router(idp.clone()))
        .layer(axum::middleware::map_response(security_headers))
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
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'"),
    );
    r
}

/// Binds `listen` and serves until the process ends.
pub async fn serve(idp: SharedIdp, listener: TcpListener) -> std::io::Result<()> {
    axum::serve(listener, router(idp)).await
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
        .expect("clock")
        .as_secs() as i64
}
