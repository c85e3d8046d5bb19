//! From an MCP server's URL alone to the authorization server the agent must
//! present an ID-JAG to, the way the official MCP SDKs do it: an unauthenticated
//! request answers 401 with `WWW-Authenticate: Bearer resource_metadata="…"`
//! (RFC 9728 §5.1; without it, the well-known URL of §3.1); the protected
//! resource metadata must name this very resource (§3.3); its first
//! authorization server's metadata (RFC 8414 §3.1, well-known inserted before the
//! path) must name that issuer byte for byte (§3.3) and accept the JWT bearer
//! grant. The issuer is the token exchange's `audience`, the MCP URL its
//! `resource`.

use crate::AgentError;
use serde::Deserialize;

/// What discovery found out about one MCP server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discovered {
    /// The protected resource (the MCP server's URL as its metadata says).
    pub resource: String,
    /// The authorization server's issuer: the ID-JAG's audience.
    pub issuer: String,
    pub token_endpoint: String,
    pub scopes_supported: Vec<String>,
}

#[derive(Deserialize)]
struct ResourceMetadata {
    resource: String,
    #[serde(default)]
    authorization_servers: Vec<String>,
}

#[derive(Deserialize)]
struct ServerMetadata {
    issuer: String,
    token_endpoint: String,
    #[serde(default)]
    grant_types_supported: Option<Vec<String>>,
    #[serde(default)]
    scopes_supported: Vec<String>,
}

fn refused(m: String) -> AgentError {
    AgentError::Protocol(format!("discovery: {m}"))
}

/// `https://host/.well-known/{name}{path}` for `url` (RFC 8414 §3.1, RFC 9728 §3.1).
pub fn well_known(url: &str, name: &str) -> Result<String, AgentError> {
    let u = url::Url::parse(url).map_err(|e| refused(format!("`{url}` is not a URL: {e}")))?;
    let path = u.path().trim_end_matches('/');
    Ok(format!(
        "{}/.well-known/{name}{path}",
        u.origin().ascii_serialization()
    ))
}

/// The `resource_metadata` parameter of a Bearer challenge.
fn resource_metadata_of(challenge: &str) -> Option<String> {
    challenge_param(challenge, "resource_metadata")
}

/// The quoted parameter `name` of a `WWW-Authenticate: Bearer …` challenge
/// (RFC 6750 §3): `name="value"` at the start or after a space or comma, so
/// `scope` is not found inside `error="insufficient_scope"`.
pub fn challenge_param(challenge: &str, name: &str) -> Option<String> {
    let needle = format!("{name}=\"");
    let mut from = 0;
    while let Some(at) = challenge[from..].find(&needle).map(|i| i + from) {
        let boundary = challenge[..at]
            .chars()
            .next_back()
            .is_none_or(|c| c == ' ' || c == ',');
        let rest = &challenge[at + needle.len()..];
        if boundary {
            return rest.split_once('"').map(|(v, _)| v.to_owned());
        }
        from = at + needle.len();
    }
    None
}

async fn json<T: for<'de> Deserialize<'de>>(
    http: &reqwest::Client,
    url: &str,
    what: &str,
) -> Result<T, AgentError> {
    let resp = http.get(url).send().await?;
    if !resp.status().is_success() {
        return Err(refused(format!("{what} at {url}: HTTP {}", resp.status())));
    }
    resp.json()
        .await
        .map_err(|e| refused(format!("{what} at {url} is not valid: {e}")))
}

/// Discovers the authorization server of the MCP server at `mcp_url`.
pub async fn discover(http: &reqwest::Client, mcp_url: &str) -> Result<Discovered, AgentError> {
    let probe = http
        .post(mcp_url)
        .header(
            reqwest::header::ACCEPT,
            "application/json, text/event-stream",
        )
        .json(&serde_json::json!({"jsonrpc": "2.0", "id": 0, "method": "ping"}))
        .send()
        .await?;
    if probe.status() != reqwest::StatusCode::UNAUTHORIZED {
        return Err(refused(format!(
            "{mcp_url} answered HTTP {} without a token, not 401: it does not say how to authorize",
            probe.status()
        )));
    }
    let metadata_url = match probe
        .headers()
        .get_all(reqwest::header::WWW_AUTHENTICATE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(resource_metadata_of)
    {
        Some(u) => u,
        None => well_known(mcp_url, "oauth-protected-resource")?,
    };
    let prm: ResourceMetadata =
        json(http, &metadata_url, "the protected resource metadata").await?;
    if prm.resource.trim_end_matches('/') != mcp_url.trim_end_matches('/') {
        return Err(refused(format!(
            "the protected resource metadata is for `{}`, not `{mcp_url}` (RFC 9728 §3.3)",
            prm.resource
        )));
    }
    let issuer = prm.authorization_servers.first().cloned().ok_or_else(|| {
        refused("the protected resource metadata names no authorization server".into())
    })?;
    let asm: ServerMetadata = json(
        http,
        &well_known(&issuer, "oauth-authorization-server")?,
        "the authorization server metadata",
    )
    .await?;
    if asm.issuer != issuer {
        return Err(refused(format!(
            "the authorization server metadata says issuer `{}`, not `{issuer}` (RFC 8414 §3.3)",
            asm.issuer
        )));
    }
    if let Some(grants) = &asm.grant_types_supported
        && !grants.iter().any(|g| g == xaa::GRANT_JWT_BEARER)
    {
        return Err(refused(format!(
            "{issuer} does not accept the JWT bearer grant an ID-JAG is presented with"
        )));
    }
    Ok(Discovered {
        resource: prm.resource,
        issuer,
        token_endpoint: asm.token_endpoint,
        scopes_supported: asm.scopes_supported,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_known_urls_go_between_the_host_and_the_path() {
        assert_eq!(
            well_known("http://127.0.0.1:9/docs", "oauth-authorization-server").unwrap(),
            "http://127.0.0.1:9/.well-known/oauth-authorization-server/docs"
        );
        assert_eq!(
            well_known("https://as.example/", "oauth-authorization-server").unwrap(),
            "https://as.example/.well-known/oauth-authorization-server"
        );
        assert_eq!(
            resource_metadata_of(
                r#"Bearer error="invalid_token", resource_metadata="https://r/x""#
            ),
            Some("https://r/x".into())
        );
        assert_eq!(resource_metadata_of("Bearer realm=\"x\""), None);
        let c = r#"Bearer error="insufficient_scope", scope="a b", error_description="x""#;
        assert_eq!(challenge_param(c, "scope").as_deref(), Some("a b"));
        assert_eq!(
            challenge_param(c, "error").as_deref(),
            Some("insufficient_scope")
        );
        assert_eq!(
            challenge_param(r#"Bearer xscope="no""#, "scope"),
            None,
            "a parameter whose name merely ends in `scope`"
        );
    }
}
