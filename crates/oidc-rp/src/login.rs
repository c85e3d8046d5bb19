//! Signing a person in at the provider (OpenID Connect Core §3.1, authorization
//! code flow): the authorization request with PKCE (RFC 7636), `state` and
//! `nonce`; the check of the response's `iss` (RFC 9207, against mix-up); and the
//! code's redemption at the token endpoint with the client secret, bounded in
//! time and size. The caller keeps `state`, `nonce` and the verifier between the
//! two halves and validates the ID token (`id_token`).

use crate::{ProviderMetadata, fetch};
use serde::Deserialize;
use std::time::Duration;

/// What the authorization request asks for.
#[derive(Debug, Clone)]
pub struct AuthorizationRequest<'a> {
    pub client_id: &'a str,
    pub redirect_uri: &'a str,
    pub scopes: &'a [String],
    pub state: &'a str,
    pub nonce: &'a str,
    /// `BASE64URL(SHA-256(verifier))`.
    pub code_challenge: &'a str,
    /// Space-separated `acr` values asked for (a step-up).
    pub acr_values: Option<String>,
    /// `prompt=login`: authenticate afresh even with a session there.
    pub prompt_login: bool,
    pub max_age: Option<i64>,
}

/// The URL the browser is sent to.
pub fn authorization_url(
    meta: &ProviderMetadata,
    r: &AuthorizationRequest<'_>,
) -> Result<String, url::ParseError> {
    let mut u = url::Url::parse(&meta.authorization_endpoint)?;
    {
        let mut q = u.query_pairs_mut();
        q.append_pair("response_type", "code")
            .append_pair("client_id", r.client_id)
            .append_pair("redirect_uri", r.redirect_uri)
            .append_pair("scope", &r.scopes.join(" "))
            .append_pair("state", r.state)
            .append_pair("nonce", r.nonce)
            .append_pair("code_challenge", r.code_challenge)
            .append_pair("code_challenge_method", "S256");
        if let Some(a) = &r.acr_values {
            q.append_pair("acr_values", a);
        }
        if r.prompt_login {
            q.append_pair("prompt", "login");
        }
        if let Some(m) = r.max_age {
            q.append_pair("max_age", &m.to_string());
        }
    }
    Ok(u.into())
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IssError {
    #[error("the response names issuer `{0}`, not the provider it was sent to (RFC 9207)")]
    Mismatch(String),
    #[error("the provider always names its issuer in responses (RFC 9207), and this one does not")]
    Missing,
}

/// RFC 9207: an `iss` in the authorization response must be the provider's;
/// when its metadata says it always sends one, it must be there.
pub fn check_iss(iss: Option<&str>, meta: &ProviderMetadata) -> Result<(), IssError> {
    match iss {
        Some(i) if i == meta.issuer => Ok(()),
        Some(i) => Err(IssError::Mismatch(i.chars().take(200).collect())),
        None if meta.authorization_response_iss_parameter_supported => Err(IssError::Missing),
        None => Ok(()),
    }
}

/// The token endpoint's answer, as far as a sign-in needs it.
#[derive(Debug, Clone, Deserialize)]
pub struct TokenResponse {
    #[serde(default)]
    pub id_token: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ErrorResponse {
    error: String,
    #[serde(default)]
    error_description: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum RedeemError {
    #[error("the token endpoint cannot be reached: {0}")]
    Unreachable(String),
    #[error("the token endpoint refused the code: {error}{}", .description.as_deref().map(|d| format!(" ({d})")).unwrap_or_default())]
    Refused {
        error: String,
        description: Option<String>,
    },
    #[error("the token endpoint answered HTTP {0}")]
    Status(u16),
    #[error("the token endpoint's answer is not usable: {0}")]
    Body(fetch::FetchError),
    #[error("the token endpoint returned no ID token")]
    NoIdToken,
}

/// RFC 6749 §2.3.1: the client id and secret are form-encoded before Basic.
fn form_encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Redeems `code` (with its PKCE verifier) for the provider's tokens, the
/// client authenticating with `client_secret_basic`. Returns the ID token.
pub async fn redeem_code(
    http: &reqwest::Client,
    meta: &ProviderMetadata,
    client_id: &str,
    client_secret: &str,
    code: &str,
    redirect_uri: &str,
    code_verifier: &str,
) -> Result<String, RedeemError> {
    let resp = http
        .post(&meta.token_endpoint)
        .basic_auth(form_encode(client_id), Some(form_encode(client_secret)))
        .header(reqwest::header::ACCEPT, "application/json")
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_uri),
            ("code_verifier", code_verifier),
        ])
        .timeout(Duration::from_secs(10))
        .send()
        .await
        // Without the URL's query or any header: nothing secret in the message.
        .map_err(|e| RedeemError::Unreachable(e.without_url().to_string()))?;
    let status = resp.status();
    if status.is_client_error() {
        return match fetch::read_json::<ErrorResponse>(resp).await {
            Ok(e) => Err(RedeemError::Refused {
                error: e.error.chars().take(100).collect(),
                description: e.error_description.map(|d| d.chars().take(300).collect()),
            }),
            Err(_) => Err(RedeemError::Status(status.as_u16())),
        };
    }
    if !status.is_success() {
        return Err(RedeemError::Status(status.as_u16()));
    }
    let t: TokenResponse = tokio::time::timeout(fetch::TIMEOUT, fetch::read_json(resp))
        .await
        .map_err(|_| RedeemError::Unreachable("timed out reading the answer".into()))?
        .map_err(RedeemError::Body)?;
    t.id_token.ok_or(RedeemError::NoIdToken)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(iss_always: bool) -> ProviderMetadata {
        ProviderMetadata {
            issuer: "https://login.corp.example".into(),
            authorization_endpoint: "https://login.corp.example/auth?tenant=1".into(),
            token_endpoint: "https://login.corp.example/token".into(),
            jwks_uri: "https://login.corp.example/jwks".into(),
            userinfo_endpoint: None,
            id_token_signing_alg_values_supported: vec![],
            acr_values_supported: vec![],
            authorization_response_iss_parameter_supported: iss_always,
        }
    }

    #[test]
    fn the_authorization_url_carries_pkce_state_nonce_and_a_step_up() {
        let scopes = vec!["openid".to_string(), "email".to_string()];
        let u = authorization_url(
            &meta(false),
            &AuthorizationRequest {
                client_id: "gatehouse",
                redirect_uri: "https://gh.example/authorize/upstream/callback",
                scopes: &scopes,
                state: "s",
                nonce: "n",
                code_challenge: "c",
                acr_values: Some("urn:corp:mfa".into()),
                prompt_login: true,
                max_age: Some(0),
            },
        )
        .unwrap();
        let q: std::collections::HashMap<String, String> = url::Url::parse(&u)
            .unwrap()
            .query_pairs()
            .into_owned()
            .collect();
        assert_eq!(q["tenant"], "1", "the endpoint's own query stays");
        assert_eq!(q["scope"], "openid email");
        assert_eq!(q["code_challenge_method"], "S256");
        assert_eq!(
            (
                q["acr_values"].as_str(),
                q["prompt"].as_str(),
                q["max_age"].as_str()
            ),
            ("urn:corp:mfa", "login", "0")
        );
    }

    #[test]
    fn iss_is_checked_per_rfc_9207() {
        assert_eq!(
            check_iss(Some("https://login.corp.example"), &meta(true)),
            Ok(())
        );
        assert!(matches!(
            check_iss(Some("https://evil.example"), &meta(false)),
            Err(IssError::Mismatch(_))
        ));
        assert_eq!(check_iss(None, &meta(true)), Err(IssError::Missing));
        assert_eq!(check_iss(None, &meta(false)), Ok(()));
    }

    #[test]
    fn basic_credentials_are_form_encoded() {
        assert_eq!(form_encode("a b:c/é"), "a+b%3Ac%2F%C3%A9");
    }
}
