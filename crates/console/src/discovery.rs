//! Checking an IdP before it becomes a profile: its discovery document must name
//! the same issuer, byte for byte, and support what the console needs.

use crate::error::{ConsoleError, ErrorCode};
use serde::{Deserialize, Serialize};

/// What the console shows about an IdP.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Discovery {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub revocation_endpoint: Option<String>,
    pub supports_pkce_s256: bool,
    pub supports_xaa: bool,
    /// RFC 9207: the IdP says its authorization responses carry `iss`, so a
    /// response without it is refused.
    #[serde(default)]
    pub sends_iss: bool,
    pub admin_api: String,
}

pub async fn discover(http: &reqwest::Client, issuer: &str) -> Result<Discovery, ConsoleError> {
    let issuer = issuer.trim_end_matches('/');
    let fail = |m: String| ConsoleError::new(ErrorCode::DiscoveryFailed, m);
    let url = format!("{issuer}/.well-known/openid-configuration");
    let resp = http.get(&url).send().await.map_err(|_| {
        ConsoleError::new(
            ErrorCode::IdpUnreachable,
            format!("Cannot reach {issuer}. Check the address and the network."),
        )
    })?;
    if !resp.status().is_success() {
        return Err(fail(format!(
            "{issuer} has no OpenID configuration (HTTP {}).",
            resp.status()
        )));
    }
    let doc: serde_json::Value = resp
        .json()
        .await
        .map_err(|_| fail("The OpenID configuration is not JSON.".into()))?;
    let s = |k: &str| doc.get(k).and_then(|v| v.as_str()).map(str::to_owned);
    if s("issuer").as_deref() != Some(issuer) {
        return Err(fail(format!(
            "The IdP calls itself `{}`, not `{issuer}`; use its exact issuer URL.",
            s("issuer").unwrap_or_default()
        )));
    }
    let has = |k: &str, v: &str| {
        doc.get(k)
            .and_then(|a| a.as_array())
            .is_some_and(|a| a.iter().any(|x| x == v))
    };
    let d = Discovery {
        issuer: issuer.to_owned(),
        authorization_endpoint: s("authorization_endpoint")
            .ok_or_else(|| fail("No authorization endpoint.".into()))?,
        token_endpoint: s("token_endpoint").ok_or_else(|| fail("No token endpoint.".into()))?,
        revocation_endpoint: s("revocation_endpoint"),
        supports_pkce_s256: has("code_challenge_methods_supported", "S256"),
        supports_xaa: has(
            "identity_chaining_requested_token_types_supported",
            xaa::TOKEN_TYPE_ID_JAG,
        ),
        sends_iss: doc
            .get("authorization_response_iss_parameter_supported")
            .and_then(|v| v.as_bool())
            .unwrap_or(false),
        admin_api: format!("{issuer}{}", admin_api::BASE),
    };
    if !d.supports_pkce_s256 {
        return Err(fail(
            "The IdP does not support PKCE with S256, which the console requires.".into(),
        ));
    }
    Ok(d)
}
