//! Assembling one resource app: AS routes, protected resource metadata and the MCP
//! endpoint on one listener.

use crate::{authz, config::ResourceAppConfig, mcp, tokens::TokenStore};
use axum::{
    Router,
    routing::{get, post},
};
use oidc_rp::JwksCache;
use rmcp::transport::streamable_http_server::{
    StreamableHttpServerConfig, StreamableHttpService, session::local::LocalSessionManager,
};
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;
use xaa::MemoryReplayCache;

/// Shared state of one resource app.
pub struct AppState {
    pub config: ResourceAppConfig,
    pub jwks: JwksCache,
    pub replay: MemoryReplayCache,
    pub tokens: TokenStore,
    pub records: Mutex<Vec<mcp::Record>>,
    /// `jti`s of revocation SETs already applied.
    pub set_replay: MemoryReplayCache,
    /// Revocations received; ID-JAGs minted before a covering mark are refused.
    pub revocations: std::sync::RwLock<Vec<crate::receiver::RevocationMark>>,
}

/// A running resource app.
#[derive(Clone)]
pub struct ResourceApp {
    pub state: Arc<AppState>,
}

impl ResourceApp {
    pub fn issuer(&self) -> &str {
        &self.state.config.issuer
    }
    pub fn mcp_url(&self) -> String {
        self.state.config.mcp_url()
    }
}

pub fn router(state: Arc<AppState>) -> Router {
    let factory_state = state.clone();
    let mcp_service: StreamableHttpService<mcp::Tools, LocalSessionManager> =
        StreamableHttpService::new(
            move || Ok(mcp::Tools::new(factory_state.clone())),
            Arc::new(LocalSessionManager::default()),
            StreamableHttpServerConfig::default(),
        );
    // Layers run outermost last-added: the Origin check, then the token.
    let mcp_routes = Router::new()
        .nest_service("/mcp", mcp_service)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            mcp::require_token,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            mcp::check_origin,
        ));
    Router::new()
        .route(
            "/.well-known/oauth-authorization-server",
            get(authz::metadata),
        )
        .route(
            "/.well-known/oauth-protected-resource",
            get(authz::protected_resource_metadata),
        )
        .route(
            "/.well-known/oauth-protected-resource/mcp",
            get(authz::protected_resource_metadata),
        )
        .route("/authorize", get(authz::authorize_page))
        .route("/token", post(authz::token))
        .route("/revocation-events", post(crate::receiver::receive))
        .with_state(state)
        .merge(mcp_routes)
}

/// Serves `config` on `listener`. An empty `issuer` becomes `http://<bound address>`.
pub async fn start(
    mut config: ResourceAppConfig,
    listener: TcpListener,
) -> std::io::Result<ResourceApp> {
    if config.issuer.is_empty() {
        config.issuer = format!("http://{}", listener.local_addr()?);
    }
    let http = reqwest::Client::builder()
        .build()
        .map_err(std::io::Error::other)?;
    let records = config
        .seed_records
        .iter()
        .enumerate()
        .map(|(i, t)| mcp::Record {
            id: i as u64 + 1,
            title: t.clone(),
            body: String::new(),
            owner: "seed".into(),
        })
        .collect();
    let state = Arc::new(AppState {
        jwks: JwksCache::new(config.trusted_idp.jwks_uri.clone(), http),
        config,
        replay: MemoryReplayCache::default(),
        tokens: TokenStore::default(),
        records: Mutex::new(records),
        set_replay: MemoryReplayCache::default(),
        revocations: Default::default(),
    });
    let app = router(state.clone());
    tokio::spawn(async move {
        if let Err(e) = serve::serve(listener, app, serve::Limits::default()).await {
            tracing::error!(error = %e, "resource app server stopped");
        }
    });
    Ok(ResourceApp { state })
}
