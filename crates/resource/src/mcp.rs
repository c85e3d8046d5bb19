//! The MCP server: a small record store exposed as tools of different risk, each
//! checking its scope, behind a bearer-token middleware that answers `401` with
//! `WWW-Authenticate` pointing at the protected resource metadata (RFC 9728),
//! and `403 insufficient_scope` with the scopes to ask for when a valid token
//! calls a tool it is not scoped for (the MCP specification's scope challenge,
//! which the official SDKs turn into a step-up authorization).

use crate::{config::ToolScopes, server::AppState, tokens::AccessGrant};
use axum::{
    extract::{Request, State},
    http::{HeaderValue, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use rmcp::{
    ErrorData, ServerHandler,
    handler::server::{router::tool::ToolRouter, tool::Extension, wrapper::Parameters},
    model::{ServerCapabilities, ServerConfig},
    schemars, tool, tool_handler, tool_router,
};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// In front of everything else at `/mcp`. The MCP transport requires servers
/// to validate `Origin` (a web page on another origin, via DNS rebinding, must
/// not reach a loopback server): present and not allowed → 403 before any token
/// is looked at; absent (not a browser) → on to the token check. Also: a
/// session `DELETE` is answered 200 (rmcp says 202, which the official Python
/// SDK logs as a failed termination every time).
pub async fn check_origin(State(app): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    if let Some(origin) = req.headers().get(header::ORIGIN) {
        let allowed = origin.to_str().is_ok_and(|o| app.config.origin_allowed(o));
        if !allowed {
            return (
                StatusCode::FORBIDDEN,
                "this Origin may not call the MCP server",
            )
                .into_response();
        }
    }
    let delete = req.method() == axum::http::Method::DELETE;
    let mut resp = next.run(req).await;
    if delete && resp.status() == StatusCode::ACCEPTED {
        *resp.status_mut() = StatusCode::OK;
    }
    resp
}

/// The verified caller, put into the request by the middleware.
#[derive(Debug, Clone)]
pub struct Principal(pub AccessGrant);

pub async fn require_token(
    State(app): State<Arc<AppState>>,
    mut req: Request,
    next: Next,
) -> Response {
    let metadata = format!(
        "{}/.well-known/oauth-protected-resource/mcp",
        app.config.issuer
    );
    let refuse = |refusal: Refusal| refusal.into_response(&metadata, &app.config.tools);
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned);
    let Some(token) = token else {
        return refuse(Refusal::NoToken);
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let grant = match app.tokens.lookup(&token, now) {
        Some(g) if g.resource == app.config.mcp_url() => g,
        _ => return refuse(Refusal::InvalidToken),
    };
    if req.method() == axum::http::Method::POST {
        let (parts, body) = req.into_parts();
        let Ok(bytes) = axum::body::to_bytes(body, MAX_MESSAGE_BYTES).await else {
            return (
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("an MCP message is at most {MAX_MESSAGE_BYTES} bytes"),
            )
                .into_response();
        };
        let missing = called_tools(&bytes)
            .filter_map(|name| Tool::from_name(&name))
            .map(|tool| tool.scope(&app.config.tools))
            .find(|scope| !grant.scopes.contains(scope));
        if let Some(needed) = missing {
            return refuse(Refusal::InsufficientScope {
                grant: &grant,
                needed,
            });
        }
        req = Request::from_parts(parts, axum::body::Body::from(bytes));
    }
    req.extensions_mut().insert(Principal(grant));
    next.run(req).await
}

/// Largest JSON-RPC message (or batch) the MCP server reads; larger is `413`.
pub const MAX_MESSAGE_BYTES: usize = 1 << 20;

/// Why the bearer-token middleware turned a request away. Each becomes one
/// `WWW-Authenticate: Bearer` challenge (RFC 6750 §3) that always names the
/// protected resource metadata (RFC 9728 §5.1) and the scope to ask for.
enum Refusal<'a> {
    /// No bearer token: `401`, scope = the read scope, the least a client
    /// needs here (the MCP specification's scope selection takes the
    /// challenge's `scope` before `scopes_supported`, so an SDK asks for that
    /// and not for every scope the server has).
    NoToken,
    /// A token that is unknown, expired or for another resource: `401`.
    InvalidToken,
    /// A valid token calling a tool beyond its scopes: `403`, scope = what the
    /// token already has plus what this call needs — the MCP specification's
    /// "minimum approach", so a client re-authorizing with it loses nothing.
    InsufficientScope {
        grant: &'a AccessGrant,
        needed: &'a str,
    },
}

impl Refusal<'_> {
    fn into_response(self, metadata: &str, tools: &ToolScopes) -> Response {
        // The body is for a person reading a log: the 401s say the description,
        // the 403 the same text as the check inside the tool.
        let (status, error, scope, description, body) = match self {
            Refusal::NoToken => {
                let d = "this MCP server needs a bearer token from its authorization server";
                (
                    StatusCode::UNAUTHORIZED,
                    None,
                    tools.read.clone(),
                    d.to_owned(),
                    d.to_owned(),
                )
            }
            Refusal::InvalidToken => {
                let d = "the access token is unknown, expired or for another resource";
                let e = Some("invalid_token");
                (
                    StatusCode::UNAUTHORIZED,
                    e,
                    tools.read.clone(),
                    d.to_owned(),
                    d.to_owned(),
                )
            }
            Refusal::InsufficientScope { grant, needed } => (
                StatusCode::FORBIDDEN,
                Some("insufficient_scope"),
                grant
                    .scopes
                    .union(&[needed].into_iter().collect())
                    .to_string(),
                format!("this tool needs the {needed} scope"),
                needs_scope(needed),
            ),
        };
        let mut params = Vec::with_capacity(4);
        if let Some(e) = error {
            params.push(format!("error=\"{e}\""));
        }
        params.push(format!("scope=\"{scope}\""));
        params.push(format!("resource_metadata=\"{metadata}\""));
        params.push(format!("error_description=\"{description}\""));
        let mut r = (status, body).into_response();
        if let Ok(v) = HeaderValue::from_str(&format!("Bearer {}", params.join(", "))) {
            r.headers_mut().insert(header::WWW_AUTHENTICATE, v);
        }
        r
    }
}

/// The refusal's text, the same before the call (403) and inside it.
fn needs_scope(scope: &str) -> String {
    format!("insufficient_scope: this tool needs the `{scope}` scope")
}

/// The names of the tools a JSON-RPC message (or batch) calls. Anything that
/// is not JSON is left for the MCP transport to refuse.
fn called_tools(body: &[u8]) -> impl Iterator<Item = String> {
    let messages = match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(serde_json::Value::Array(batch)) => batch,
        Ok(one) => vec![one],
        Err(_) => vec![],
    };
    messages.into_iter().filter_map(|m| {
        (m["method"] == "tools/call")
            .then(|| m["params"]["name"].as_str().map(str::to_owned))
            .flatten()
    })
}

/// The tools that need a scope, and which: one table for the scope challenge
/// before the call and the check inside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    ListRecords,
    GetRecord,
    CreateRecord,
    DeleteRecord,
}

impl Tool {
    pub const ALL: [Tool; 4] = [
        Tool::ListRecords,
        Tool::GetRecord,
        Tool::CreateRecord,
        Tool::DeleteRecord,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Tool::ListRecords => "list_records",
            Tool::GetRecord => "get_record",
            Tool::CreateRecord => "create_record",
            Tool::DeleteRecord => "delete_record",
        }
    }

    pub fn from_name(name: &str) -> Option<Tool> {
        Tool::ALL.into_iter().find(|t| t.name() == name)
    }

    pub fn scope(self, scopes: &ToolScopes) -> &str {
        match self {
            Tool::ListRecords | Tool::GetRecord => &scopes.read,
            Tool::CreateRecord => &scopes.write,
            Tool::DeleteRecord => &scopes.delete,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Record {
    pub id: u64,
    pub title: String,
    pub body: String,
    pub owner: String,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct RecordId {
    /// The record's id.
    pub id: u64,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct NewRecord {
    pub title: String,
    #[serde(default)]
    pub body: String,
}

/// One MCP session's handler over the app's shared state.
#[derive(Clone)]
pub struct Tools {
    app: Arc<AppState>,
    #[allow(dead_code)]
    tool_router: ToolRouter<Self>,
}

impl Tools {
    pub fn new(app: Arc<AppState>) -> Self {
        Self {
            app,
            tool_router: Self::tool_router(),
        }
    }

    fn principal(parts: &http::request::Parts) -> Result<&AccessGrant, ErrorData> {
        parts
            .extensions
            .get::<Principal>()
            .map(|p| &p.0)
            .ok_or_else(|| ErrorData::invalid_request("unauthenticated", None))
    }

    fn require(&self, parts: &http::request::Parts, tool: Tool) -> Result<AccessGrant, ErrorData> {
        let p = Self::principal(parts)?;
        let scope = tool.scope(&self.app.config.tools);
        if !p.scopes.contains(scope) {
            return Err(ErrorData::invalid_request(
                needs_scope(scope),
                Some(serde_json::json!({ "error": "insufficient_scope", "scope": scope })),
            ));
        }
        Ok(p.clone())
    }
}

#[tool_router]
impl Tools {
    #[tool(description = "Who am I? The user, client and scopes of this session's access token.")]
    async fn whoami(
        &self,
        Extension(parts): Extension<http::request::Parts>,
    ) -> Result<String, ErrorData> {
        let p = Self::principal(&parts)?;
        Ok(serde_json::json!({ "sub": p.sub, "client_id": p.client_id, "scope": p.scopes.to_string() }).to_string())
    }

    #[tool(description = "List records (read).")]
    async fn list_records(
        &self,
        Extension(parts): Extension<http::request::Parts>,
    ) -> Result<String, ErrorData> {
        self.require(&parts, Tool::ListRecords)?;
        let records = self.app.records.lock().expect("records").clone();
        Ok(serde_json::to_string(&records).expect("records serialize"))
    }

    #[tool(description = "Read one record (read).")]
    async fn get_record(
        &self,
        Extension(parts): Extension<http::request::Parts>,
        Parameters(RecordId { id }): Parameters<RecordId>,
    ) -> Result<String, ErrorData> {
        self.require(&parts, Tool::GetRecord)?;
        let records = self.app.records.lock().expect("records");
        let r = records
            .iter()
            .find(|r| r.id == id)
            .ok_or_else(|| ErrorData::invalid_params("no such record", None))?;
        Ok(serde_json::to_string(r).expect("record serializes"))
    }

    #[tool(description = "Create a record (write).")]
    async fn create_record(
        &self,
        Extension(parts): Extension<http::request::Parts>,
        Parameters(NewRecord { title, body }): Parameters<NewRecord>,
    ) -> Result<String, ErrorData> {
        let p = self.require(&parts, Tool::CreateRecord)?;
        let mut records = self.app.records.lock().expect("records");
        let id = records.iter().map(|r| r.id).max().unwrap_or(0) + 1;
        records.push(Record {
            id,
            title,
            body,
            owner: p.sub,
        });
        Ok(serde_json::json!({ "created": id }).to_string())
    }

    #[tool(description = "Delete a record (destructive).")]
    async fn delete_record(
        &self,
        Extension(parts): Extension<http::request::Parts>,
        Parameters(RecordId { id }): Parameters<RecordId>,
    ) -> Result<String, ErrorData> {
        self.require(&parts, Tool::DeleteRecord)?;
        let mut records = self.app.records.lock().expect("records");
        let before = records.len();
        records.retain(|r| r.id != id);
        if records.len() == before {
            return Err(ErrorData::invalid_params("no such record", None));
        }
        Ok(serde_json::json!({ "deleted": id }).to_string())
    }
}

#[tool_handler]
impl ServerHandler for Tools {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build()).with_instructions(
            format!("{}: records behind Cross App Access.", self.app.config.name),
        )
    }
}
