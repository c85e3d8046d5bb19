//! The IdP's configuration file (TOML): who the users, groups, clients and resource
//! apps are, and which connections are approved from the start. State that changes
//! (codes, tokens, requests, decisions, audit) lives in the database, not here.

use serde::{Deserialize, Serialize};
use std::{collections::BTreeMap, path::Path};

pub use admin_api::{Risk, Role, ScopeCondition, StepUpRule};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The issuer URL, exactly as it appears in tokens: no trailing slash.
    pub issuer: String,
    /// Address to listen on, e.g. `127.0.0.1:8443`.
    #[serde(default = "default_listen")]
    pub listen: String,
    /// Address of the Prometheus `/metrics` listener, e.g. `127.0.0.1:9464`;
    /// none (the default) serves no metrics. Unauthenticated: bind it where
    /// only the scraper reaches.
    #[serde(default)]
    pub metrics_listen: Option<String>,
    /// Where the state lives: `database = "idp.sqlite"` (a SQLite file), or
    /// `[database] url = "sqlite://…"` / `"postgres://…"`. Created with its
    /// schema on first start.
    pub database: Database,
    #[serde(default)]
    pub tokens: TokenLifetimes,
    /// Per-connection bounds of the listener (`[server]`).
    #[serde(default)]
    pub server: ServerLimits,
    #[serde(default)]
    pub users: Vec<User>,
    #[serde(default)]
    pub clients: Vec<Client>,
    #[serde(default)]
    pub resource_apps: Vec<ResourceApp>,
    #[serde(default)]
    pub connections: Vec<ConnectionSeed>,
    /// Admin API roles granted by group membership, e.g. `approver = ["iam-approvers"]`.
    #[serde(default)]
    pub roles: BTreeMap<Role, Vec<String>>,
    /// SCIM provisioning (`[scim]`).
    #[serde(default)]
    pub scim: ScimSettings,
    /// Other IdPs whose ID tokens AI apps may present as the token exchange's
    /// subject token (`[[trusted_issuer]]`).
    #[serde(default, rename = "trusted_issuer")]
    pub trusted_issuers: Vec<TrustedIssuer>,
    /// The company's OpenID Providers people may sign in at (`[[upstream]]`).
    #[serde(default, rename = "upstream")]
    pub upstreams: Vec<Upstream>,
    /// Which sign-in methods the login page offers (`[sign_in]`).
    #[serde(default)]
    pub sign_in: SignInSettings,
    /// Where the audit log streams to as it is written, e.g. a SIEM
    /// (`[[audit_stream]]`).
    #[serde(default, rename = "audit_stream")]
    pub audit_streams: Vec<AuditStream>,
}

/// A SIEM the audit log streams to, at least once, each event in order from a
/// cursor kept in the database (a restart continues where it stopped).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditStream {
    /// 1 to 40 of `a-z 0-9 -`: the key of its cursor.
    pub name: String,
    /// RFC 5424 syslog over TCP to `host:port`, octet-counted frames (RFC 6587).
    #[serde(default)]
    pub syslog: Option<String>,
    /// Syslog over TLS (RFC 5425): the receiver's certificate must be valid
    /// for its host and chain to `ca_file`, else to the system's trust store.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub tls: bool,
    /// PEM certificates the syslog receiver's chain must end in (with `tls`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<std::path::PathBuf>,
    /// Or a JSON webhook: batches POSTed as `{"events": [...]}`.
    #[serde(default)]
    pub webhook: Option<String>,
    /// Where a stream seen for the first time starts.
    #[serde(default)]
    pub from: StreamStart,
}

/// Where a new audit stream starts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StreamStart {
    /// With the next event written.
    #[default]
    Now,
    /// With the log's first event.
    Start,
}

/// Which sign-in methods `/authorize` offers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SignInSettings {
    /// Whether people may sign in with the password (and TOTP) of a
    /// `[[users]]` entry. With it off and one `[[upstream]]`, `/authorize`
    /// goes straight to the upstream.
    pub local_passwords: bool,
}

impl Default for SignInSettings {
    fn default() -> Self {
        Self {
            local_passwords: true,
        }
    }
}

/// An OpenID Provider of the company (Entra ID, Okta, Google, Keycloak) that
/// signs people in for Gatehouse: `/authorize` sends the browser there
/// (authorization code + PKCE, `state`, `nonce`), checks what comes back, maps
/// the claims to a person of the directory, and issues Gatehouse's own tokens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Upstream {
    /// A short name: in URLs, in the audit log (`upstream:<id>`), in `source`.
    pub id: String,
    /// What the login page's button says: "Continue with {name}".
    pub name: String,
    /// Its issuer, exactly; its metadata is discovered from it.
    pub issuer: String,
    /// Gatehouse's client id at the upstream.
    pub client_id: String,
    /// A file holding Gatehouse's client secret there (one of the two).
    #[serde(default)]
    pub client_secret_file: Option<String>,
    /// An environment variable holding it (one of the two).
    #[serde(default)]
    pub client_secret_env: Option<String>,
    #[serde(default = "default_upstream_scopes")]
    pub scopes: Vec<String>,
    /// Which claims carry the username, email, name, groups, acr and amr.
    #[serde(default)]
    pub claims: oidc_rp::ClaimMapping,
    /// Which acr/amr values prove a second factor; `acr_values` is also what a
    /// step-up asks the upstream for.
    #[serde(default)]
    pub mfa: oidc_rp::MfaEvidence,
    /// Whether a person the directory does not have yet is created on first
    /// sign-in (source `upstream`); otherwise only provisioned people may sign in.
    #[serde(default = "yes")]
    pub create_people: bool,
    /// The ID token's signature algorithms accepted.
    #[serde(default = "default_external_algorithms")]
    pub algorithms: Vec<String>,
    /// Seconds of clock skew tolerated.
    #[serde(default = "default_leeway")]
    pub leeway: i64,
}

fn default_upstream_scopes() -> Vec<String> {
    ["openid", "profile", "email"].map(String::from).to_vec()
}

fn yes() -> bool {
    true
}

impl Upstream {
    pub fn algs(&self) -> Vec<xaa::Alg> {
        parse_algs(&self.algorithms)
    }
}

fn parse_algs(names: &[String]) -> Vec<xaa::Alg> {
    names.iter().filter_map(|a| xaa::Alg::parse(a)).collect()
}

/// Another IdP (the company's: Entra ID, Okta, Google, Keycloak) whose ID
/// tokens an AI app that signs people in there may present as the subject
/// token of the token exchange. The person is found in the directory by the
/// username claim; the same policy gate then applies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustedIssuer {
    /// The `iss` of its tokens, exactly.
    pub issuer: String,
    /// Where its signing keys are; from its discovery document when absent.
    #[serde(default)]
    pub jwks_uri: Option<String>,
    /// The signature algorithms accepted (of RS256, ES256, EdDSA).
    #[serde(default = "default_external_algorithms")]
    pub algorithms: Vec<String>,
    /// Which Gatehouse client each of its audiences (the AI app's client id
    /// there) is: `"<aud>" = "<gatehouse client_id>"`. A token is honoured only
    /// for the client its audience maps to.
    pub clients: BTreeMap<String, String>,
    /// Which claims carry the username (matched against the directory), email,
    /// name, groups, acr and amr.
    #[serde(default)]
    pub claims: oidc_rp::ClaimMapping,
    /// Which acr/amr values count as a second factor for step-up rules.
    #[serde(default)]
    pub mfa: oidc_rp::MfaEvidence,
    /// The largest token accepted, in bytes.
    #[serde(default = "default_external_token_bytes")]
    pub max_token_bytes: usize,
    /// Seconds of clock skew tolerated.
    #[serde(default = "default_leeway")]
    pub leeway: i64,
}

fn default_external_algorithms() -> Vec<String> {
    vec!["RS256".into(), "ES256".into()]
}

fn default_external_token_bytes() -> usize {
    16 * 1024
}

fn default_leeway() -> i64 {
    60
}

impl TrustedIssuer {
    /// The accepted algorithms (unknown names were refused by `validate`).
    pub fn algs(&self) -> Vec<xaa::Alg> {
        parse_algs(&self.algorithms)
    }

    /// The audiences of its tokens honoured for Gatehouse client `client_id`.
    pub fn audiences_of(&self, client_id: &str) -> Vec<String> {
        self.clients
            .iter()
            .filter(|(_, c)| *c == client_id)
            .map(|(aud, _)| aud.clone())
            .collect()
    }
}

/// What SCIM provisioning may change.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScimSettings {
    /// Whether a provisioning connector may change who is in a group that
    /// grants an admin role (`[roles]`), or rename a group into or out of one.
    /// Off by default: a connector's token then cannot make anyone an approver.
    pub manage_role_groups: bool,
}

/// The `database` setting: a SQLite file's path, or a table with the URL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Database {
    /// `database = "path/to/idp.sqlite"`.
    Path(String),
    /// `[database] url = "sqlite://PATH"` or `"postgres://USER@HOST/DB"`.
    Url { url: String },
}

impl Database {
    /// The URL the store opens.
    pub fn url(&self) -> String {
        match self {
            Database::Path(p) => idp_store::sqlite_url(std::path::Path::new(p)),
            Database::Url { url } => url.clone(),
        }
    }

    /// The database as a person can be shown it: a path, or the URL without
    /// its password.
    pub fn describe(&self) -> String {
        match self {
            Database::Path(p) => p.clone(),
            Database::Url { url } => idp_store::redacted_url(url),
        }
    }
}

impl From<&std::path::Path> for Database {
    fn from(p: &std::path::Path) -> Self {
        Database::Path(p.display().to_string())
    }
}

fn default_listen() -> String {
    "127.0.0.1:8443".into()
}

/// What one connection may cost the listener.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerLimits {
    /// Seconds for a request head to arrive (also the keep-alive wait).
    pub header_read_timeout: u64,
    /// Seconds with no byte moving before a connection is closed.
    pub idle_timeout: u64,
    /// Largest request head in bytes; larger is answered `431`.
    pub max_header_bytes: usize,
    /// Open connections at most; the next is answered `503`.
    pub max_connections: usize,
}

impl Default for ServerLimits {
    fn default() -> Self {
        let d = serve::Limits::default();
        Self {
            header_read_timeout: d.header_read_timeout.as_secs(),
            idle_timeout: d.idle_timeout.as_secs(),
            max_header_bytes: d.max_header_bytes,
            max_connections: d.max_connections,
        }
    }
}

impl ServerLimits {
    pub fn limits(&self) -> serve::Limits {
        serve::Limits {
            header_read_timeout: std::time::Duration::from_secs(self.header_read_timeout),
            idle_timeout: std::time::Duration::from_secs(self.idle_timeout),
            max_header_bytes: self.max_header_bytes,
            max_connections: self.max_connections,
        }
    }
}

/// Lifetimes in seconds.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TokenLifetimes {
    pub id_token: u64,
    pub access_token: u64,
    pub refresh_token: u64,
    pub authorization_code: u64,
    pub id_jag: u64,
}

impl Default for TokenLifetimes {
    fn default() -> Self {
        Self {
            id_token: 3600,
            access_token: 900,
            refresh_token: 8 * 3600,
            authorization_code: 60,
            id_jag: 300,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct User {
    pub username: String,
    /// An argon2 PHC string (`gatehouse-idp hash-password` prints one).
    pub password_hash: String,
    /// Base32 TOTP secret; when set, the user can reach `urn:gatehouse:acr:mfa`.
    #[serde(default)]
    pub totp_secret: Option<String>,
    #[serde(default)]
    pub groups: Vec<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
}

/// How a client authenticates at the token endpoint.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientAuth {
    /// `client_secret_basic` or `client_secret_post`; the secret's SHA-256 in hex
    /// (client secrets are random and high-entropy, so a fast hash is right).
    ClientSecret {
        secret_sha256: String,
        /// After a rotation: the previous secret's hash, accepted until its
        /// overlap ends.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        previous: Option<PreviousSecret>,
    },
    /// `private_key_jwt` with keys from this JWK Set, or from the client's
    /// JWKS URL (fetched, cached, refetched on an unknown `kid` at most every
    /// 10 s: the client rotates its keys without an admin).
    PrivateKeyJwt {
        #[serde(default)]
        jwks: xaa::JwkSet,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        jwks_uri: Option<String>,
    },
    /// A public client (PKCE only).
    None,
}

/// A rotated-out client secret during its overlap window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreviousSecret {
    pub secret_sha256: String,
    /// Unix seconds after which it is refused.
    pub until: i64,
}

impl ClientAuth {
    /// Whether `secret` is this client's secret (or its previous one, within
    /// the overlap) at `now`. Constant-time over the hashes.
    pub fn secret_matches(&self, secret: &str, now: i64) -> bool {
        let ClientAuth::ClientSecret {
            secret_sha256,
            previous,
        } = self
        else {
            return false;
        };
        let presented = xaa::util::sha256_hex(secret.as_bytes());
        let is = |h: &str| {
            xaa::util::constant_time_eq(presented.as_bytes(), h.to_ascii_lowercase().as_bytes())
        };
        // Both compared, whichever matches, so timing says nothing about which.
        let current = is(secret_sha256);
        let old = previous
            .as_ref()
            .is_some_and(|p| is(&p.secret_sha256) & (now < p.until));
        current | old
    }

    /// The method's name on the wire (`client_secret`, `private_key_jwt`, `none`).
    pub fn method(&self) -> &'static str {
        match self {
            ClientAuth::ClientSecret { .. } => "client_secret",
            ClientAuth::PrivateKeyJwt { .. } => "private_key_jwt",
            ClientAuth::None => "none",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Client {
    pub client_id: String,
    pub name: String,
    pub auth: ClientAuth,
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    /// Usernames of the people accountable for this client.
    #[serde(default)]
    pub owners: Vec<String>,
    /// The person who answers for it (and signs off its risk), beside its owners.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sponsor: Option<String>,
    /// Who takes over, in order, when the last active owner leaves.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub successors: Vec<String>,
    #[serde(default)]
    pub description: Option<String>,
    /// An admin client (the Gatehouse console): the only kind whose sign-ins may
    /// carry `gatehouse:admin` and so reach the admin API. An AI client never is.
    #[serde(default)]
    pub admin: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScopeDef {
    pub name: String,
    pub description: String,
    pub risk: Risk,
    /// A sensitive scope needs MFA by default and two approvers.
    #[serde(default)]
    pub sensitive: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceApp {
    /// A short stable id, e.g. `docs`.
    pub id: String,
    pub name: String,
    /// The resource authorization server's issuer: the `audience` clients ask for.
    pub issuer: String,
    /// The MCP servers (protected resources) this app serves.
    pub mcp_servers: Vec<String>,
    /// Client id at the IdP → client id at this app's AS. A client not listed keeps its id.
    #[serde(default)]
    pub client_ids: BTreeMap<String, String>,
    pub scopes: Vec<ScopeDef>,
    /// Push endpoints (RFC 8935) for revocation events.
    #[serde(default)]
    pub receivers: Vec<String>,
    #[serde(default)]
    pub owners: Vec<String>,
}

impl ResourceApp {
    pub fn scope(&self, name: &str) -> Option<&ScopeDef> {
        self.scopes.iter().find(|s| s.name == name)
    }

    /// The client's id at this app's authorization server.
    pub fn client_id_for<'a>(&'a self, idp_client_id: &'a str) -> &'a str {
        self.client_ids
            .get(idp_client_id)
            .map(String::as_str)
            .unwrap_or(idp_client_id)
    }
}

/// A connection approved in the configuration file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectionSeed {
    pub client_id: String,
    pub resource_app: String,
    pub scopes: ScopeCondition,
    /// When set, only members of one of these groups are allowed.
    #[serde(default)]
    pub allowed_groups: Vec<String>,
    /// When set, only these MCP servers; else every server of the app.
    #[serde(default)]
    pub allowed_resources: Vec<String>,
    #[serde(default)]
    pub step_up: Vec<StepUpRule>,
    #[serde(default)]
    pub id_jag_lifetime: Option<u64>,
    #[serde(default)]
    pub approved_by: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the config file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("the config file {path} is not valid: {source}")]
    Parse {
        path: String,
        source: toml::de::Error,
    },
    #[error("the config is inconsistent: {0}")]
    Invalid(String),
}

impl Config {
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        let config: Config = toml::from_str(&text).map_err(|source| ConfigError::Parse {
            path: path.display().to_string(),
            source,
        })?;
        config.validate().map_err(|e| match e {
            ConfigError::Invalid(m) => ConfigError::Invalid(format!("{}: {m}", path.display())),
            other => other,
        })?;
        Ok(config)
    }

    /// Checks references and canonical forms: the first inconsistency.
    pub fn validate(&self) -> Result<(), ConfigError> {
        match self.inconsistencies().into_iter().next() {
            Some((_, m)) => Err(ConfigError::Invalid(m)),
            None => Ok(()),
        }
    }

    /// Every inconsistency, each with where in the file it is.
    fn inconsistencies(&self) -> Vec<(Place, String)> {
        let mut out = Vec::new();
        let mut bad = |place: Place, m: String| out.push((place, m));
        if self.issuer.ends_with('/') {
            bad(
                Place::Key("", "issuer"),
                format!("issuer `{}` must not end with a slash", self.issuer),
            );
        }
        let s = &self.server;
        for (key, v) in [
            ("header_read_timeout", s.header_read_timeout as usize),
            ("idle_timeout", s.idle_timeout as usize),
            ("max_connections", s.max_connections),
        ] {
            if v == 0 {
                bad(
                    Place::Key("server", key),
                    format!("server.{key} must be positive"),
                );
            }
        }
        if !(1024..=1024 * 1024).contains(&s.max_header_bytes) {
            bad(
                Place::Key("server", "max_header_bytes"),
                "server.max_header_bytes must be between 1024 and 1048576".into(),
            );
        }
        if self.tokens.id_jag == 0 || self.tokens.id_jag > xaa::MAX_ID_JAG_LIFETIME {
            bad(
                Place::Key("tokens", "id_jag"),
                "tokens.id_jag must be between 1 and 300 seconds".into(),
            );
        }
        for (i, app) in self.resource_apps.iter().enumerate() {
            if app.issuer.ends_with('/') {
                bad(
                    Place::Entry("resource_apps", i, "issuer"),
                    format!(
                        "resource app `{}`: issuer must not end with a slash",
                        app.id
                    ),
                );
            }
            if app.scopes.is_empty() {
                bad(
                    Place::Entry("resource_apps", i, "scopes"),
                    format!("resource app `{}` has no scopes", app.id),
                );
            }
        }
        for (i, client) in self.clients.iter().enumerate() {
            if let ClientAuth::PrivateKeyJwt { jwks, jwks_uri } = &client.auth {
                let ok = match jwks_uri {
                    Some(u) => jwks.keys.is_empty() && is_web_url(u),
                    None => !jwks.keys.is_empty(),
                };
                if !ok {
                    bad(
                        Place::Entry("clients", i, "auth"),
                        format!(
                            "client `{}`: private_key_jwt needs either jwks (keys) or jwks_uri (https, or http on loopback), not both",
                            client.client_id
                        ),
                    );
                }
            }
            for uri in &client.redirect_uris {
                let place = Place::Entry("clients", i, "redirect_uris");
                match url::Url::parse(uri) {
                    Ok(u) if u.fragment().is_none() => {}
                    Ok(_) => bad(
                        place,
                        format!(
                            "client `{}`: redirect URI `{uri}` has a fragment (RFC 6749 §3.1.2 forbids one)",
                            client.client_id
                        ),
                    ),
                    Err(e) => bad(
                        place,
                        format!(
                            "client `{}`: redirect URI `{uri}` is not an absolute URL ({e})",
                            client.client_id
                        ),
                    ),
                }
            }
        }
        for (i, t) in self.trusted_issuers.iter().enumerate() {
            let at = |key| Place::Entry("trusted_issuer", i, key);
            if !is_web_url(&t.issuer) || t.issuer.ends_with('/') {
                bad(
                    at("issuer"),
                    format!(
                        "trusted issuer `{}` must be an https (or loopback http) URL without a trailing slash",
                        t.issuer
                    ),
                );
            }
            if t.issuer == self.issuer {
                bad(
                    at("issuer"),
                    "a trusted issuer cannot be this IdP itself".into(),
                );
            }
            if let Some(u) = &t.jwks_uri
                && !is_web_url(u)
            {
                bad(
                    at("jwks_uri"),
                    format!("jwks_uri `{u}` must be an https (or loopback http) URL"),
                );
            }
            for m in algorithm_problems(&t.algorithms) {
                bad(at("algorithms"), m);
            }
            if t.clients.is_empty() {
                bad(
                    at("clients"),
                    format!("trusted issuer `{}` maps no audience to a client", t.issuer),
                );
            }
            for client_id in t.clients.values() {
                match self.client(client_id) {
                    Some(c) if !matches!(c.auth, ClientAuth::None) => {}
                    Some(_) => bad(
                        at("clients"),
                        format!(
                            "client `{client_id}` is public; the token exchange needs a confidential client"
                        ),
                    ),
                    None => bad(at("clients"), format!("unknown client `{client_id}`")),
                }
            }
            if !(1024..=64 * 1024).contains(&t.max_token_bytes) {
                bad(
                    at("max_token_bytes"),
                    "max_token_bytes must be between 1024 and 65536".into(),
                );
            }
            if !(0..=300).contains(&t.leeway) {
                bad(at("leeway"), "leeway must be 0 to 300 seconds".into());
            }
        }
        for (i, st) in self.audit_streams.iter().enumerate() {
            let at = |key| Place::Entry("audit_stream", i, key);
            let name_ok = !st.name.is_empty()
                && st.name.len() <= 40
                && st
                    .name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
            if !name_ok {
                bad(
                    at("name"),
                    format!(
                        "audit stream name `{}` must be 1 to 40 of a-z, 0-9 and -",
                        st.name
                    ),
                );
            }
            if self.audit_streams[..i].iter().any(|o| o.name == st.name) {
                bad(
                    at("name"),
                    format!("audit stream `{}` is named twice", st.name),
                );
            }
            match (&st.syslog, &st.webhook) {
                (Some(addr), None) => {
                    if addr
                        .rsplit_once(':')
                        .is_none_or(|(h, p)| h.is_empty() || p.parse::<u16>().is_err())
                    {
                        bad(at("syslog"), format!("syslog `{addr}` must be host:port"));
                    }
                }
                (None, Some(url)) => {
                    if !is_web_url(url) {
                        bad(
                            at("webhook"),
                            format!("webhook `{url}` must be an https (or loopback http) URL"),
                        );
                    }
                }
                _ => bad(
                    at("name"),
                    "an audit stream sends to one `syslog` address or one `webhook` URL".into(),
                ),
            }
            if st.tls && st.syslog.is_none() {
                bad(
                    at("tls"),
                    "`tls` is for syslog; a webhook's TLS comes with its https URL".into(),
                );
            }
            if st.ca_file.is_some() && !st.tls {
                bad(at("ca_file"), "`ca_file` needs `tls = true`".into());
            }
        }
        for (i, u) in self.upstreams.iter().enumerate() {
            let at = |key| Place::Entry("upstream", i, key);
            let id_ok = !u.id.is_empty()
                && u.id.len() <= 40
                && u.id
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
            if !id_ok {
                bad(
                    at("id"),
                    format!("upstream id `{}` must be 1 to 40 of a-z, 0-9 and -", u.id),
                );
            }
            if self.upstreams[..i].iter().any(|o| o.id == u.id) {
                bad(at("id"), format!("upstream id `{}` is used twice", u.id));
            }
            if !is_web_url(&u.issuer) || u.issuer.ends_with('/') {
                bad(
                    at("issuer"),
                    format!(
                        "upstream issuer `{}` must be an https (or loopback http) URL without a trailing slash",
                        u.issuer
                    ),
                );
            }
            if u.issuer == self.issuer {
                bad(at("issuer"), "an upstream cannot be this IdP itself".into());
            }
            if u.client_secret_file.is_some() == u.client_secret_env.is_some() {
                bad(
                    at("client_id"),
                    format!(
                        "upstream `{}` needs exactly one of client_secret_file and client_secret_env",
                        u.id
                    ),
                );
            }
            if !u.scopes.iter().any(|s| s == "openid") {
                bad(at("scopes"), "scopes must include openid".into());
            }
            for m in algorithm_problems(&u.algorithms) {
                bad(at("algorithms"), m);
            }
            if !(0..=300).contains(&u.leeway) {
                bad(at("leeway"), "leeway must be 0 to 300 seconds".into());
            }
        }
        if !self.sign_in.local_passwords && self.upstreams.is_empty() {
            bad(
                Place::Key("sign_in", "local_passwords"),
                "with local_passwords = false an [[upstream]] is needed, or nobody can sign in"
                    .into(),
            );
        }
        if let Some((i, t)) = self.trusted_issuers.iter().enumerate().find(|(i, t)| {
            self.trusted_issuers[..*i]
                .iter()
                .any(|o| o.issuer == t.issuer)
        }) {
            bad(
                Place::Entry("trusted_issuer", i, "issuer"),
                format!("trusted issuer `{}` is listed twice", t.issuer),
            );
        }
        for (i, c) in self.connections.iter().enumerate() {
            if !self.clients.iter().any(|k| k.client_id == c.client_id) {
                bad(
                    Place::Entry("connections", i, "client_id"),
                    format!("connection names unknown client `{}`", c.client_id),
                );
            }
            let Some(app) = self.resource_apps.iter().find(|a| a.id == c.resource_app) else {
                bad(
                    Place::Entry("connections", i, "resource_app"),
                    format!("connection names unknown resource app `{}`", c.resource_app),
                );
                continue;
            };
            if let ScopeCondition::IncludeOnly(list) = &c.scopes {
                for s in list {
                    if app.scope(s).is_none() {
                        bad(
                            Place::Entry("connections", i, "scopes"),
                            format!("connection grants `{s}`, unknown to `{}`", app.id),
                        );
                    }
                }
            }
        }
        out
    }

    pub fn user(&self, username: &str) -> Option<&User> {
        self.users.iter().find(|u| u.username == username)
    }

    pub fn client(&self, client_id: &str) -> Option<&Client> {
        self.clients.iter().find(|c| c.client_id == client_id)
    }

    pub fn resource_app_by_audience(&self, audience: &str) -> Option<&ResourceApp> {
        self.resource_apps.iter().find(|a| a.issuer == audience)
    }

    /// Whether `group` grants an admin role.
    pub fn is_role_group(&self, group: &str) -> bool {
        self.roles
            .values()
            .flatten()
            .any(|g| g.eq_ignore_ascii_case(group))
    }

    /// The admin roles membership of `groups` grants.
    pub fn roles_of_groups(&self, groups: &[String]) -> Vec<Role> {
        self.roles
            .iter()
            .filter(|(_, granted)| granted.iter().any(|g| groups.contains(g)))
            .map(|(r, _)| *r)
            .collect()
    }

    pub fn resource_app(&self, id: &str) -> Option<&ResourceApp> {
        self.resource_apps.iter().find(|a| a.id == id)
    }
}

/// What is wrong with a list of accepted signature algorithms.
fn algorithm_problems(names: &[String]) -> Vec<String> {
    let unknown = names
        .iter()
        .filter(|a| xaa::Alg::parse(a).is_none())
        .map(|a| format!("algorithm `{a}` is not one of RS256, ES256, EdDSA"));
    let empty = names
        .is_empty()
        .then(|| "algorithms must not be empty".to_owned());
    empty.into_iter().chain(unknown).collect()
}

/// Whether `u` is an https URL, or http on a loopback host (tests, a local IdP).
fn is_web_url(u: &str) -> bool {
    url::Url::parse(u).is_ok_and(|u| match u.scheme() {
        "https" => true,
        "http" => matches!(u.host_str(), Some("127.0.0.1" | "[::1]" | "localhost")),
        _ => false,
    })
}

/// Where in the file a problem is: a key of a `[table]` (`""` for the top
/// level), or a key of the n-th `[[array]]` entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    Key(&'static str, &'static str),
    Entry(&'static str, usize, &'static str),
}

/// A problem in a config file and its line (1-based), for `check-config`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub line: usize,
    pub message: String,
}

/// Every problem in a config file's text, in file order, without starting
/// anything: the syntax or type error the parser stops at, or else every
/// inconsistency, each with the line of the key (or of its table) it is about.
pub fn check(text: &str) -> Vec<Problem> {
    let config: Config = match toml::from_str(text) {
        Ok(c) => c,
        Err(e) => {
            let line = e.span().map_or(1, |s| {
                text[..s.start.min(text.len())].matches('\n').count() + 1
            });
            return vec![Problem {
                line,
                message: e.message().trim().to_owned(),
            }];
        }
    };
    let mut problems: Vec<Problem> = config
        .inconsistencies()
        .into_iter()
        .map(|(place, message)| Problem {
            line: line_of(text, place),
            message,
        })
        .collect();
    problems.sort_by_key(|p| p.line);
    problems
}

/// The line `place` is on, found by reading the file's table headers and keys
/// (a key in an inline table is reported at its table's line).
fn line_of(text: &str, place: Place) -> usize {
    let (table, nth, key) = match place {
        Place::Key(table, key) => (table, None, key),
        Place::Entry(array, n, key) => (array, Some(n), key),
    };
    let header = |l: &str| -> Option<(bool, String)> {
        let l = l.trim();
        if let Some(name) = l.strip_prefix("[[").and_then(|r| r.split("]]").next()) {
            return Some((true, name.trim().to_owned()));
        }
        let name = l.strip_prefix('[')?.split(']').next()?;
        Some((false, name.trim().to_owned()))
    };
    let is_key = |l: &str| {
        l.trim_start()
            .strip_prefix(key)
            .is_some_and(|rest| rest.trim_start().starts_with('='))
    };
    let mut current: (bool, String) = (false, String::new());
    let mut seen = 0usize;
    let mut block_line = None;
    for (i, l) in text.lines().enumerate() {
        if let Some(h) = header(l) {
            if block_line.is_some() {
                break;
            }
            current = h;
            let wanted = match nth {
                None => !current.0 && current.1 == table,
                Some(n) => {
                    let this = current.0 && current.1 == table;
                    if this {
                        seen += 1;
                    }
                    this && seen == n + 1
                }
            };
            if wanted {
                block_line = Some(i + 1);
            }
            continue;
        }
        let in_place = block_line.is_some() || (table.is_empty() && current.1.is_empty());
        if in_place && is_key(l) {
            return i + 1;
        }
    }
    block_line.unwrap_or(1)
}

#[cfg(test)]
mod check_tests {
    use super::*;

    /// Three inconsistencies, each reported at the line of the key it is about.
    const WITH_PROBLEMS: &str = r#"issuer = "https://idp.example.com/"
database = "idp.sqlite"

[tokens]
id_jag = 900

[[clients]]
client_id = "agent"
name = "Agent"
auth = { method = "none" }

[[clients]]
client_id = "web"
name = "Web"
auth = { method = "none" }
redirect_uris = ["https://web.example.com/cb#frag"]

[[resource_apps]]
id = "crm"
name = "CRM"
issuer = "https://crm.example.com"
mcp_servers = ["https://crm.example.com/mcp"]
scopes = [{ name = "crm.read", description = "Read", risk = "read" }]

[[connections]]
client_id = "nobody"
resource_app = "crm"
scopes = { kind = "include_only", scopes = ["crm.read", "crm.nuke"] }
"#;

    #[test]
    fn every_problem_is_named_with_its_line() {
        let got: Vec<(usize, String)> = check(WITH_PROBLEMS)
            .into_iter()
            .map(|p| (p.line, p.message))
            .collect();
        let lines: Vec<usize> = got.iter().map(|(l, _)| *l).collect();
        assert_eq!(lines, vec![1, 5, 16, 26, 28], "{got:#?}");
        assert!(got[0].1.contains("must not end with a slash"));
        assert!(got[1].1.contains("tokens.id_jag"));
        assert!(got[2].1.contains("has a fragment"));
        assert!(got[3].1.contains("unknown client `nobody`"));
        assert!(got[4].1.contains("`crm.nuke`, unknown to `crm`"));
    }

    #[test]
    fn a_syntax_or_type_error_is_named_with_its_line() {
        let text = "issuer = \"https://idp.example.com\"\ndatabase = \"x\"\n\n[tokens]\nid_jag = \"soon\"\n";
        let p = check(text);
        assert_eq!(p.len(), 1, "{p:?}");
        assert_eq!(p[0].line, 5, "{p:?}");
        let p = check("issuer = \"https://idp.example.com\"\ndatabase = \"x\"\nnot toml at all\n");
        assert_eq!(p[0].line, 3, "{p:?}");
        let p = check(
            "issuer = \"https://idp.example.com\"\ndatabase = \"x\"\nlisten_on = \"0.0.0.0:1\"\n",
        );
        assert_eq!(p[0].line, 3, "an unknown key: {p:?}");
        assert!(p[0].message.contains("listen_on"), "{p:?}");
    }

    fn problems(text: &str) -> Vec<(usize, String)> {
        check(text)
            .into_iter()
            .map(|p| (p.line, p.message))
            .collect()
    }

    /// The line of the first problem whose message contains `needle`.
    fn line_saying(got: &[(usize, String)], needle: &str) -> Option<usize> {
        got.iter()
            .find(|(_, m)| m.contains(needle))
            .map(|(l, _)| *l)
    }

    #[test]
    fn a_trusted_issuer_is_checked_key_by_key() {
        let text = r#"issuer = "https://idp.example.com"
database = "x"

[[clients]]
client_id = "agent"
name = "Agent"
auth = { method = "none" }

[[trusted_issuer]]
issuer = "http://login.example.com/tenant"
algorithms = ["RS256", "HS256"]
max_token_bytes = 100

[trusted_issuer.clients]
"corp-agent" = "agent"
"corp-ghost" = "ghost"
"#;
        let got = problems(text);
        let said = |needle: &str| line_saying(&got, needle);
        assert_eq!(said("https (or loopback http)"), Some(10), "{got:#?}");
        assert_eq!(said("`HS256` is not one of"), Some(11), "{got:#?}");
        assert_eq!(said("max_token_bytes"), Some(12), "{got:#?}");
        // A key of the entry's sub-table is reported at the entry.
        assert_eq!(said("client `agent` is public"), Some(9), "{got:#?}");
        assert_eq!(said("unknown client `ghost`"), Some(9), "{got:#?}");
        assert_eq!(got.len(), 5, "{got:#?}");
    }

    #[test]
    fn an_upstream_is_checked_key_by_key() {
        let text = r#"issuer = "https://idp.example.com"
database = "x"

[sign_in]
local_passwords = false

[[upstream]]
id = "Corp SSO"
name = "Corp"
issuer = "https://idp.example.com"
client_id = "gatehouse"
scopes = ["profile"]
"#;
        let got = problems(text);
        let said = |needle: &str| line_saying(&got, needle);
        assert_eq!(said("must be 1 to 40 of a-z"), Some(8), "{got:#?}");
        assert_eq!(said("cannot be this IdP itself"), Some(10), "{got:#?}");
        assert_eq!(
            said("exactly one of client_secret_file"),
            Some(11),
            "{got:#?}"
        );
        assert_eq!(said("scopes must include openid"), Some(12), "{got:#?}");
        assert_eq!(got.len(), 4, "{got:#?}");
        // Without any upstream, turning passwords off would lock everyone out.
        let alone = "issuer = \"https://idp.example.com\"\ndatabase = \"x\"\n[sign_in]\nlocal_passwords = false\n";
        let p = check(alone);
        assert_eq!((p.len(), p[0].line), (1, 4), "{p:?}");
        assert!(p[0].message.contains("nobody can sign in"));
    }

    #[test]
    fn an_audit_stream_is_checked_key_by_key() {
        let text = r#"issuer = "https://idp.example.com"
database = "x"

[[audit_stream]]
name = "SIEM"
syslog = "siem.example.com"

[[audit_stream]]
name = "both"
syslog = "siem.example.com:6514"
webhook = "https://siem.example.com/in"

[[audit_stream]]
name = "json"
webhook = "http://siem.example.com/in"

[[audit_stream]]
name = "hook-tls"
webhook = "https://siem.example.com/in"
tls = true
"#;
        let got = problems(text);
        let said = |needle: &str| line_saying(&got, needle);
        assert_eq!(said("must be 1 to 40 of a-z"), Some(5), "{got:#?}");
        assert_eq!(said("must be host:port"), Some(6), "{got:#?}");
        assert_eq!(
            said("one `syslog` address or one `webhook`"),
            Some(9),
            "{got:#?}"
        );
        assert_eq!(said("https (or loopback http)"), Some(15), "{got:#?}");
        assert_eq!(said("`tls` is for syslog"), Some(20), "{got:#?}");
        assert_eq!(got.len(), 5, "{got:#?}");
        let fine = "issuer = \"https://idp.example.com\"\ndatabase = \"x\"\n[[audit_stream]]\nname = \"siem\"\nsyslog = \"10.0.0.5:514\"\nfrom = \"start\"\n";
        assert!(check(fine).is_empty(), "{:?}", check(fine));
    }

    #[test]
    fn a_consistent_config_has_no_problems() {
        let fixed = WITH_PROBLEMS
            .replace("example.com/\"", "example.com\"")
            .replace("id_jag = 900", "id_jag = 120")
            .replace("cb#frag", "cb")
            .replace("\"nobody\"", "\"agent\"")
            .replace(", \"crm.nuke\"", "");
        assert_eq!(check(&fixed), vec![]);
    }
}
