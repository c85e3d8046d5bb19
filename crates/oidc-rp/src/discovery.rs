//! OpenID Provider metadata (OpenID Connect Discovery 1.0, RFC 8414): fetched
//! from `{issuer}/.well-known/openid-configuration`, accepted only when its
//! `issuer` is exactly the one configured (Discovery §4.3), so a provider
//! cannot speak for another.

use crate::fetch::{self, FetchError};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderMetadata {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub jwks_uri: String,
    #[serde(default)]
    pub userinfo_endpoint: Option<String>,
    #[serde(default)]
    pub id_token_signing_alg_values_supported: Vec<String>,
    #[serde(default)]
    pub acr_values_supported: Vec<String>,
    /// RFC 9207: the provider puts `iss` in every authorization response.
    #[serde(default)]
    pub authorization_response_iss_parameter_supported: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum DiscoveryError {
    #[error("the provider's metadata could not be fetched from {url}: {source}")]
    Fetch { url: String, source: FetchError },
    #[error("the metadata names issuer `{found}`, not `{expected}`")]
    IssuerMismatch { expected: String, found: String },
    #[error("the metadata's {0} is not an http(s) URL")]
    BadEndpoint(&'static str),
}

/// Where an issuer publishes its metadata.
pub fn metadata_url(issuer: &str) -> String {
    format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    )
}

/// Fetches and checks `issuer`'s metadata.
pub async fn fetch_metadata(
    http: &reqwest::Client,
    issuer: &str,
) -> Result<ProviderMetadata, DiscoveryError> {
    let url = metadata_url(issuer);
    let m: ProviderMetadata =
        fetch::get_json(http, &url)
            .await
            .map_err(|source| DiscoveryError::Fetch {
                url: url.clone(),
                source,
            })?;
    check(issuer, m)
}

fn check(issuer: &str, m: ProviderMetadata) -> Result<ProviderMetadata, DiscoveryError> {
    if m.issuer != issuer {
        return Err(DiscoveryError::IssuerMismatch {
            expected: issuer.into(),
            found: m.issuer,
        });
    }
    for (name, u) in [
        ("authorization_endpoint", &m.authorization_endpoint),
        ("token_endpoint", &m.token_endpoint),
        ("jwks_uri", &m.jwks_uri),
    ] {
        let ok = url::Url::parse(u).is_ok_and(|u| matches!(u.scheme(), "https" | "http"));
        if !ok {
            return Err(DiscoveryError::BadEndpoint(name));
        }
    }
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(issuer: &str) -> ProviderMetadata {
        ProviderMetadata {
            issuer: issuer.into(),
            authorization_endpoint: format!("{issuer}/auth"),
            token_endpoint: format!("{issuer}/token"),
            jwks_uri: format!("{issuer}/jwks"),
            userinfo_endpoint: None,
            id_token_signing_alg_values_supported: vec![],
            acr_values_supported: vec![],
            authorization_response_iss_parameter_supported: false,
        }
    }

    #[test]
    fn metadata_of_another_issuer_is_refused() {
        assert!(check("https://idp.example", meta("https://idp.example")).is_ok());
        assert!(matches!(
            check("https://idp.example", meta("https://evil.example")),
            Err(DiscoveryError::IssuerMismatch { .. })
        ));
        // Exact comparison: a trailing slash is another issuer.
        assert!(check("https://idp.example", meta("https://idp.example/")).is_err());
        let mut m = meta("https://idp.example");
        m.jwks_uri = "file:///etc/passwd".into();
        assert!(matches!(
            check("https://idp.example", m),
            Err(DiscoveryError::BadEndpoint("jwks_uri"))
        ));
    }

    #[test]
    fn the_metadata_url_follows_discovery() {
        assert_eq!(
            metadata_url("https://login.example/tenant/v2.0"),
            "https://login.example/tenant/v2.0/.well-known/openid-configuration"
        );
    }
}
