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
    /// Browser origins (`scheme://host[:port]`) besides the server's own that
    /// may call the MCP endpoint; a request whose `Origin` is none of them is
    /// refused with 403 (MCP transport: DNS-rebinding defence).
    #[serde(default)]
    pub allowed_origins: Vec<String>,
}

impl ResourceAppConfig {
    /// Whether a request carrying `Origin: origin` may reach the MCP server:
    /// the origin of the server's own URL, or one configured.
    pub fn origin_allowed(&self, origin: &str) -> bool {
        let own = url::Url::parse(&self.issuer)
            .ok()
            .map(|u| u.origin().ascii_serialization());
        let origin = origin.trim_end_matches('/');
        own.as_deref() == Some(origin)
            || self
                .allowed_origins
                .iter()
                .any(|o| o.trim_end_matches('/').eq_ignore_ascii_case(origin))
    }
}

fn default_lifetime() -> u64 {
    300
}

impl ResourceAppConfig {
    pub fn mcp_url(&self) -> String {
        format!("{}/mcp", self.issuer)
    }
}

#[cfg(test)]
mod origin_tests {
    use super::*;

    fn config(issuer: &str, allowed: &[&str]) -> ResourceAppConfig {
        ResourceAppConfig {
            id: "a".into(),
            name: "A".into(),
            issuer: issuer.into(),
            trusted_idp: TrustedIdp {
                issuer: "http://idp".into(),
                jwks_uri: "http://idp/jwks".into(),
            },
            clients: vec![],
            scopes: vec![],
            tools: ToolScopes {
                read: "r".into(),
                write: "w".into(),
                delete: "d".into(),
            },
            access_token_lifetime: 300,
            seed_records: vec![],
            allowed_origins: allowed.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn only_the_servers_own_origin_and_configured_ones_are_allowed() {
        let c = config(
            "http://127.0.0.1:8080/crm",
            &["https://console.example.com/"],
        );
        assert!(c.origin_allowed("http://127.0.0.1:8080"));
        assert!(c.origin_allowed("https://console.example.com"));
        for bad in [
            "http://127.0.0.1:8081",
            "https://127.0.0.1:8080",
            "http://localhost:8080",
            "http://evil.example.com",
            "null",
            "",
        ] {
            assert!(!c.origin_allowed(bad), "{bad}");
        }
    }
}
