//! The demo stack: the reference IdP, one resource authorization server + MCP
//! server per seeded resource app, all in one process on loopback, with a seeded
//! world. `start` returns everything a test or the console needs; `DemoInfo` is
//! the JSON line `gatehouse-demo` prints, a contract scripts rely on.

pub mod fleet;
pub mod history;
pub mod scale;
pub mod world;

use idp::config::{
    Client, ClientAuth, Config, ConnectionSeed, Database, ResourceApp as IdpApp, TokenLifetimes,
    User,
};
use resource::{ResourceAppConfig, ResourceClient, ToolScopes, TrustedIdp};
use serde::{Deserialize, Serialize};
use std::{collections::BTreeMap, path::PathBuf};
use xaa::util;

/// Where and how to start.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// The IdP's listen address; port 0 picks a free one. Resource apps always pick free ports.
    pub listen: String,
    /// Directory for the SQLite file; a temporary one when `None`.
    pub data_dir: Option<PathBuf>,
    /// The IdP's database URL, instead of a SQLite file in `data_dir`. Without
    /// it, `GATEHOUSE_POSTGRES` (a PostgreSQL server's URL) puts the world
    /// on a fresh database of that server: how the tests run on PostgreSQL.
    pub database_url: Option<String>,
    /// Other IdPs whose ID tokens the world's AI clients may exchange.
    pub trusted_issuers: Vec<idp::config::TrustedIssuer>,
    /// OpenID Providers people may sign in at, beside the local passwords.
    pub upstreams: Vec<idp::config::Upstream>,
    /// Where the audit log streams to (a SIEM).
    pub audit_streams: Vec<idp::config::AuditStream>,
}

impl Default for DemoOptions {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:0".into(),
            data_dir: None,
            database_url: None,
            trusted_issuers: vec![],
            upstreams: vec![],
            audit_streams: vec![],
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct DemoUser {
    pub username: String,
    pub password: String,
    pub totp_secret: Option<String>,
    pub groups: Vec<String>,
    /// Admin API roles from the user's groups.
    pub roles: Vec<admin_api::Role>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ResourceCredential {
    pub audience: String,
    pub client_id: String,
    pub client_secret: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct DemoClient {
    pub client_id: String,
    pub client_secret: String,
    pub name: String,
    /// The client's id and secret at `resource_as` (the first resource app).
    pub resource_client_id: String,
    pub resource_client_secret: String,
    pub redirect_uri: String,
    /// Its credentials at every resource app.
    pub resource_credentials: Vec<ResourceCredential>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct DemoConnection {
    pub client_id: String,
    pub audience: String,
    pub resource: String,
    pub scopes: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct DemoResourceApp {
    pub id: String,
    pub name: String,
    pub issuer: String,
    pub mcp: String,
    pub scopes: Vec<String>,
}

/// The JSON line printed when the stack is ready.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct DemoInfo {
    pub idp: String,
    /// The console's public client id at the IdP (PKCE + loopback redirect).
    pub console_client_id: String,
    pub resource_as: String,
    pub mcp: String,
    pub users: Vec<DemoUser>,
    pub clients: Vec<DemoClient>,
    pub connections: Vec<DemoConnection>,
    pub resource_apps: Vec<DemoResourceApp>,
    /// The IdP's Prometheus endpoint (its own loopback listener) and its probes.
    #[serde(default)]
    pub metrics: String,
    #[serde(default)]
    pub healthz: String,
    #[serde(default)]
    pub readyz: String,
    /// The SCIM 2.0 base URL (`{idp}/scim/v2`) and a provisioning API token of
    /// this throw-away world (role `provisioner`), for a SCIM connector.
    #[serde(default)]
    pub scim_url: String,
    #[serde(default)]
    pub scim_token: String,
}

impl DemoInfo {
    pub fn user(&self, name: &str) -> &DemoUser {
        self.users
            .iter()
            .find(|u| u.username == name)
            .expect("seeded user")
    }
    pub fn client(&self, id: &str) -> &DemoClient {
        self.clients
            .iter()
            .find(|c| c.client_id == id)
            .expect("seeded client")
    }
    pub fn app(&self, id: &str) -> &DemoResourceApp {
        self.resource_apps
            .iter()
            .find(|a| a.id == id)
            .expect("seeded app")
    }
    /// The client's credentials at the app's authorization server.
    pub fn credential(&self, client_id: &str, app_id: &str) -> &ResourceCredential {
        let aud = &self.app(app_id).issuer;
        self.client(client_id)
            .resource_credentials
            .iter()
            .find(|c| &c.audience == aud)
            .expect("credential")
    }
}

/// A running demo stack.
pub struct Demo {
    pub info: DemoInfo,
    pub idp: idp::SharedIdp,
    pub apps: Vec<resource::ResourceApp>,
    pub data_dir: PathBuf,
    _tmp: Option<tempfile::TempDir>,
}

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("cannot listen: {0}")]
    Io(#[from] std::io::Error),
    #[error("IdP: {0}")]
    Idp(#[from] idp::server::StartError),
    #[error("seeding: {0}")]
    Seed(#[from] sqlx::Error),
}

pub const REDIRECT_URI: &str = "http://127.0.0.1/callback";

/// Starts the whole stack and seeds it.
pub async fn start(opts: DemoOptions) -> Result<Demo, DemoError> {
    let idp_listener = tokio::net::TcpListener::bind(&opts.listen).await?;
    let idp_issuer = format!("http://{}", idp_listener.local_addr()?);
    let host = idp_listener.local_addr()?.ip();
    let mut app_listeners = Vec::new();
    for _ in world::APPS {
        let l = tokio::net::TcpListener::bind((host, 0)).await?;
        let issuer = format!("http://{}", l.local_addr()?);
        app_listeners.push((l, issuer));
    }

    // Secrets, fresh per start.
    let users: Vec<DemoUser> = world::USERS
        .iter()
        .map(|u| DemoUser {
            username: u.username.into(),
            password: util::random_token(12),
            totp_secret: u.totp.then(xaa::totp::generate_secret),
            groups: u.groups.iter().map(|g| (*g).into()).collect(),
            roles: world::ROLES
                .iter()
                .filter(|(_, gs)| gs.iter().any(|g| u.groups.contains(g)))
                .map(|(r, _)| *r)
                .collect(),
        })
        .collect();
    let hashed: Vec<String> = {
        let pws: Vec<String> = users.iter().map(|u| u.password.clone()).collect();
        tokio::task::spawn_blocking(move || {
            pws.iter()
                .map(|p| idp::authorize::hash_password(p))
                .collect()
        })
        .await
        .expect("hashing")
    };
    let client_secrets: BTreeMap<&str, String> = world::CLIENTS
        .iter()
        .map(|c| (c.client_id, util::random_token(24)))
        .collect();

    // Resource apps and each client's credentials there.
    let mut resource_apps = Vec::new();
    let mut creds: BTreeMap<&str, Vec<ResourceCredential>> = BTreeMap::new();
    let mut idp_apps = Vec::new();
    let mut app_configs = Vec::new();
    for (seed, (_, issuer)) in world::APPS.iter().zip(&app_listeners) {
        let mut clients = Vec::new();
        let mut mapping = BTreeMap::new();
        for c in world::CLIENTS {
            let rid = if seed.mapped_ids {
                format!("{}-{}", seed.id, c.client_id)
            } else {
                c.client_id.to_string()
            };
            let secret = util::random_token(24);
            clients.push(ResourceClient {
                client_id: rid.clone(),
                secret_sha256: util::sha256_hex(secret.as_bytes()),
            });
            creds
                .entry(c.client_id)
                .or_default()
                .push(ResourceCredential {
                    audience: issuer.clone(),
                    client_id: rid.clone(),
                    client_secret: secret,
                });
            if seed.mapped_ids {
                mapping.insert(c.client_id.to_string(), rid);
            }
        }
        let scopes: Vec<String> = seed.scopes.iter().map(|s| s.0.to_string()).collect();
        let mcp = format!("{issuer}/mcp");
        resource_apps.push(DemoResourceApp {
            id: seed.id.into(),
            name: seed.name.into(),
            issuer: issuer.clone(),
            mcp: mcp.clone(),
            scopes: scopes.clone(),
        });
        idp_apps.push(IdpApp {
            id: seed.id.into(),
            name: seed.name.into(),
            issuer: issuer.clone(),
            mcp_servers: vec![mcp],
            client_ids: mapping,
            scopes: world::scope_defs(seed),
            receivers: vec![format!("{issuer}/revocation-events")],
            owners: seed.owners.iter().map(|o| (*o).into()).collect(),
        });
        app_configs.push(ResourceAppConfig {
            id: seed.id.into(),
            name: seed.name.into(),
            issuer: issuer.clone(),
            trusted_idp: TrustedIdp {
                issuer: idp_issuer.clone(),
                jwks_uri: format!("{idp_issuer}/jwks"),
            },
            clients,
            scopes,
            tools: ToolScopes {
                read: seed.tools.0.into(),
                write: seed.tools.1.into(),
                delete: seed.tools.2.into(),
            },
            access_token_lifetime: 300,
            allowed_origins: vec![],
            seed_records: seed.records.iter().map(|r| (*r).into()).collect(),
        });
    }

    let data_dir_tmp = match &opts.data_dir {
        Some(_) => None,
        None => Some(tempfile::tempdir()?),
    };
    let data_dir = opts
        .data_dir
        .clone()
        .unwrap_or_else(|| data_dir_tmp.as_ref().expect("tmp").path().to_path_buf());
    std::fs::create_dir_all(&data_dir)?;
    let config = Config {
        issuer: idp_issuer.clone(),
        listen: opts.listen.clone(),
        // The demo serves /metrics on a loopback listener of its own (below).
        metrics_listen: None,
        database: match (&opts.database_url, std::env::var("GATEHOUSE_POSTGRES")) {
            (Some(url), _) => Database::Url { url: url.clone() },
            (None, Ok(server)) if !server.is_empty() => Database::Url {
                url: idp::store::create_postgres_database(&server, "gh_demo").await?,
            },
            _ => Database::from(data_dir.join("idp.sqlite").as_path()),
        },
        tokens: TokenLifetimes::default(),
        server: Default::default(),
        users: world::USERS
            .iter()
            .zip(&users)
            .zip(hashed)
            .map(|((seed, u), hash)| User {
                username: u.username.clone(),
                password_hash: hash,
                totp_secret: u.totp_secret.clone(),
                groups: u.groups.clone(),
                email: Some(format!("{}@example.com", u.username)),
                name: Some(seed.name.into()),
            })
            .collect(),
        clients: world::CLIENTS
            .iter()
            .map(|c| Client {
                client_id: c.client_id.into(),
                name: c.name.into(),
                auth: ClientAuth::ClientSecret {
                    secret_sha256: util::sha256_hex(client_secrets[c.client_id].as_bytes()),
                    previous: None,
                },
                redirect_uris: vec![REDIRECT_URI.into()],
                owners: c.owners.iter().map(|o| (*o).into()).collect(),
                description: Some(c.description.into()),
                sponsor: None,
                successors: vec![],
                admin: false,
            })
            .chain(std::iter::once(Client {
                client_id: world::CONSOLE_CLIENT_ID.into(),
                name: "Gatehouse Console".into(),
                auth: ClientAuth::None,
                redirect_uris: vec!["http://127.0.0.1/callback".into()],
                owners: vec![],
                description: Some(
                    "The desktop console (public client, RFC 8252 loopback redirect)".into(),
                ),
                sponsor: None,
                successors: vec![],
                admin: true,
            }))
            .collect(),
        resource_apps: idp_apps,
        connections: world::CONNECTIONS
            .iter()
            .map(|c| ConnectionSeed {
                client_id: c.client_id.into(),
                resource_app: c.app.into(),
                scopes: world::condition(c),
                allowed_groups: c.groups.iter().map(|g| (*g).into()).collect(),
                allowed_resources: vec![],
                step_up: world::step_up(c),
                id_jag_lifetime: None,
                approved_by: vec!["carol".into()],
            })
            .collect(),
        roles: world::ROLES
            .iter()
            .map(|(r, gs)| (*r, gs.iter().map(|g| (*g).into()).collect()))
            .collect(),
        scim: Default::default(),
        trusted_issuers: opts.trusted_issuers.clone(),
        upstreams: opts.upstreams.clone(),
        sign_in: Default::default(),
        audit_streams: opts.audit_streams.clone(),
    };
    config
        .validate()
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    let idp_state = idp::server::build(config).await?;
    seed_pending(&idp_state).await?;
    let scim_token = provisioning_token(&idp_state).await?;
    let router_state = idp_state.clone();
    tokio::spawn(async move {
        if let Err(e) = idp::server::serve(router_state, idp_listener).await {
            tracing::error!(error = %e, "IdP server stopped");
        }
    });
    let metrics_listener = tokio::net::TcpListener::bind((host, 0)).await?;
    let metrics = format!("http://{}/metrics", metrics_listener.local_addr()?);
    tokio::spawn(idp::server::serve_metrics(
        idp_state.clone(),
        metrics_listener,
    ));

    let mut apps = Vec::new();
    for ((l, _), cfg) in app_listeners.into_iter().zip(app_configs) {
        apps.push(resource::start(cfg, l).await?);
    }

    let connections = world::CONNECTIONS
        .iter()
        .map(|c| {
            let app = resource_apps.iter().find(|a| a.id == c.app).expect("app");
            DemoConnection {
                client_id: c.client_id.into(),
                audience: app.issuer.clone(),
                resource: app.mcp.clone(),
                scopes: match c.scopes {
                    Some(list) => list.iter().map(|s| (*s).into()).collect(),
                    None => app.scopes.clone(),
                },
            }
        })
        .collect();
    let clients = world::CLIENTS
        .iter()
        .map(|c| {
            let list = creds.remove(c.client_id).unwrap_or_default();
            DemoClient {
                client_id: c.client_id.into(),
                client_secret: client_secrets[c.client_id].clone(),
                name: c.name.into(),
                resource_client_id: list[0].client_id.clone(),
                resource_client_secret: list[0].client_secret.clone(),
                redirect_uri: REDIRECT_URI.into(),
                resource_credentials: list,
            }
        })
        .collect();
    let info = DemoInfo {
        console_client_id: world::CONSOLE_CLIENT_ID.into(),
        resource_as: resource_apps[0].issuer.clone(),
        mcp: resource_apps[0].mcp.clone(),
        users,
        clients,
        connections,
        resource_apps,
        metrics,
        healthz: format!("{idp_issuer}/healthz"),
        readyz: format!("{idp_issuer}/readyz"),
        scim_url: format!("{idp_issuer}{}", idp::scim::BASE),
        scim_token,
        idp: idp_issuer,
    };
    Ok(Demo {
        info,
        idp: idp_state,
        apps,
        data_dir,
        _tmp: data_dir_tmp,
    })
}

/// A provisioning API token (role `provisioner`, a year) for the demo's SCIM
/// endpoint, stored hashed like any other.
async fn provisioning_token(idp: &idp::state::Idp) -> Result<String, DemoError> {
    let token = format!(
        "{}{}",
        idp::admin::auth::API_TOKEN_PREFIX,
        xaa::util::random_token(32)
    );
    let now = idp.now();
    let mut tx = idp
        .store
        .begin_write()
        .await
        .map_err(std::io::Error::other)?;
    idp::store::api_tokens::insert(
        &mut tx,
        &idp::store::api_tokens::NewApiToken {
            id: &format!("tok_{}", xaa::util::random_token(16)),
            name: "demo-scim-connector",
            token_hash: &xaa::util::sha256_hex(token.as_bytes()),
            roles: &[admin_api::Role::Provisioner],
            created_by: "demo",
            created_at: now,
            expires_at: now + 365 * 86_400,
        },
    )
    .await
    .map_err(std::io::Error::other)?;
    tx.commit().await.map_err(std::io::Error::other)?;
    Ok(token)
}

/// Records the seeded pending requests through the same store call a refused
/// exchange uses.
async fn seed_pending(idp: &idp::SharedIdp) -> Result<(), sqlx::Error> {
    if !idp
        .store
        .request_ids(admin_api::RequestStatus::Pending)
        .await?
        .is_empty()
    {
        return Ok(());
    }
    let now = idp.now();
    for (client, app, scopes, users, justification) in world::PENDING {
        let scopes: Vec<String> = scopes.iter().map(|s| (*s).into()).collect();
        let mcp = idp
            .config
            .resource_app(app)
            .and_then(|a| a.mcp_servers.first().cloned());
        for username in *users {
            let user = idp.config.user(username).expect("seeded user");
            idp.store
                .upsert_request(
                    &idp::store::RequestSighting {
                        client_id: client,
                        resource_app: app,
                        scopes: &scopes,
                        resource: mcp.as_deref(),
                        user: Some((&user.username, &user.groups)),
                        justification: *justification,
                        refused: true,
                    },
                    now,
                )
                .await?;
        }
    }
    Ok(())
}
