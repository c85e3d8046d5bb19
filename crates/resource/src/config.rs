//! What one resource app is: its issuer, the IdP it trusts, its clients and the
//! scopes its MCP tools need.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrustedIdp {
    /// The IdP's issuer: the ID-JAG's `iss` must equal it exactly.
    pub issuer: String,
    pub jwks_uri: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ResourceClient {
    pub client_id: String,
    /// SHA-256 (hex) of the client secret.
    pub secret_sha256: String,
}

/// The scope each kind of tool needs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ToolScopes {
    pub read: String,
    pub write: String,
    pub delete: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ResourceAppConfig {
    pub id: String,
    pub name: String,
    /// Base URL and AS issuer (no trailing slash); filled from the bound address
    /// when empty.
    #[serde(default)]
    pub issuer: String,
    pub trusted_idp: TrustedIdp,
    pub clients: Vec<ResourceClient>,
    /// Every scope this app knows; tokens only ever carry these.
    pub scopes: Vec<String>,
    pub tools: ToolScopes,
    /// Access token lifetime in seconds (at most 300).
    #[serde(default = "default_lifetime")]
    pub access_token_lifetime: u64,
    /// Record titles the MCP server starts with.
    #[serde(default)]
    pub seed_records: Vec<String>,
}

fn default_lifetime() -> u64 {
    300
}

impl ResourceAppConfig {
    pub fn mcp_url(&self) -> String {
        format!("{}/mcp", self.issuer)
    }
}
