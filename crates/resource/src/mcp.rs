//! The MCP server: a small record store exposed as tools of different risk, each
//! checking its scope, behind a bearer-token middleware that answers `401` with
//! `WWW-Authenticate` pointing at the protected resource metadata (RFC 9728).

use crate::{server::AppState, tokens::AccessGrant};
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
    let challenge = |error: Option<&str>| {
        let mut v = format!("Bearer resource_metadata=\"{metadata}\"");
        if let Some(e) = error {
            v.push_str(&format!(", error=\"{e}\""));
        }
        let mut r = StatusCode::UNAUTHORIZED.into_response();
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_str(&v).expect("header"),
        );
        r
    };
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned);
    let Some(token) = token else {
        return challenge(None);
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    match app.tokens.lookup(&token, now) {
        Some(g) if g.resource == app.config.mcp_url() => {
            req.extensions_mut().insert(Principal(g));
            next.run(req).await
        }
        _ => challenge(Some("invalid_token")),
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

    fn require(&self, parts: &http::request::Parts, scope: &str) -> Result<AccessGrant, ErrorData> {
        let p = Self::principal(parts)?;
        if !p.scopes.contains(scope) {
            return Err(ErrorData::invalid_request(
                format!("insufficient_scope: this tool needs the `{scope}` scope"),
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
        self.require(&parts, &self.app.config.tools.read)?;
        let records = self.app.records.lock().expect("records").clone();
        Ok(serde_json::to_string(&records).expect("records serialize"))
    }

    #[tool(description = "Read one record (read).")]
    async fn get_record(
        &self,
        Extension(parts): Extension<http::request::Parts>,
        Parameters(RecordId { id }): Parameters<RecordId>,
    ) -> Result<String, ErrorData> {
        self.require(&parts, &self.app.config.tools.read)?;
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
        let p = self.require(&parts, &self.app.config.tools.write)?;
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
        self.require(&parts, &self.app.config.tools.delete)?;
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
