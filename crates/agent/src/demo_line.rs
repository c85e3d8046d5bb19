//! The demo stack's JSON line (`./scripts/demo.sh --stack > FILE`), read so the
//! agent can be driven by `--demo FILE` instead of a dozen copied secrets: the
//! IdP, a client's secrets (at the IdP and at each resource app) and a user's
//! password come from it. Only the fields the agent needs are read; the line is
//! the demo's stable contract.

use crate::AgentError;
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
pub struct DemoLine {
    pub idp: String,
    /// The first resource app's MCP server.
    #[serde(default)]
    pub mcp: Option<String>,
    pub users: Vec<DemoUser>,
    pub clients: Vec<DemoClient>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct DemoUser {
    pub username: String,
    pub password: String,
    #[serde(default)]
    pub totp_secret: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct DemoClient {
    pub client_id: String,
    pub client_secret: String,
    pub redirect_uri: String,
    #[serde(default)]
    pub resource_credentials: Vec<ResourceCredential>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ResourceCredential {
    pub audience: String,
    pub client_id: String,
    pub client_secret: String,
}

impl DemoLine {
    /// The first JSON line of `text` (the demo may print nothing else, but a
    /// file that also holds log lines still reads).
    pub fn parse(text: &str) -> Result<Self, AgentError> {
        text.lines()
            .find(|l| l.trim_start().starts_with('{'))
            .ok_or_else(|| AgentError::Protocol("the demo file holds no JSON line yet".into()))
            .and_then(|l| {
                serde_json::from_str(l)
                    .map_err(|e| AgentError::Protocol(format!("the demo line is not valid: {e}")))
            })
    }

    pub fn client(&self, id: &str) -> Result<&DemoClient, AgentError> {
        self.clients
            .iter()
            .find(|c| c.client_id == id)
            .ok_or_else(|| AgentError::Protocol(format!("the demo has no client `{id}`")))
    }

    pub fn user(&self, name: &str) -> Result<&DemoUser, AgentError> {
        self.users
            .iter()
            .find(|u| u.username == name)
            .ok_or_else(|| AgentError::Protocol(format!("the demo has no user `{name}`")))
    }
}

impl DemoClient {
    /// The client's credentials at the resource app whose issuer is `audience`.
    pub fn at(&self, audience: &str) -> Option<&ResourceCredential> {
        self.resource_credentials
            .iter()
            .find(|c| c.audience == audience)
    }
}
