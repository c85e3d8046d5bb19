//! Sign-in through the system browser (RFC 8252): the console listens on a
//! loopback port of its choosing, opens the IdP's authorization page with PKCE
//! S256, a `state` and a `nonce`, receives the redirect on that port, checks
//! `state` and `iss` (mix-up defence, RFC 9207) and redeems the code as a public
//! client.

use crate::{
    discovery::Discovery,
    error::{ConsoleError, ErrorCode},
};
use serde::Deserialize;
use std::{collections::HashMap, time::Duration};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpListener,
};
use xaa::util;

/// Tokens from the IdP. `Debug` shows none of them.
#[derive(Clone, Deserialize)]
pub struct Tokens {
    pub access_token: String,
    pub expires_in: u64,
    pub refresh_token: Option<String>,
    pub id_token: Option<String>,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens")
            .field("expires_in", &self.expires_in)
            .finish_non_exhaustive()
    }
}

/// A sign-in waiting for the browser to come back.
pub struct PendingSignIn {
    listener: TcpListener,
    redirect_uri: String,
    state: String,
    verifier: String,
    /// Open this in the system browser.
    pub authorize_url: String,
}

pub async fn begin(
    d: &Discovery,
    client_id: &str,
    require_mfa: bool,
) -> Result<PendingSignIn, ConsoleError> {
    let listener = TcpListener::bind("127.0.0.1:0").await.map_err(|e| {
        ConsoleError::new(
            ErrorCode::SignInFailed,
            format!("Cannot open a local port for the sign-in: {e}"),
        )
    })?;
    let port = listener
        .local_addr()
        .map_err(|e| ConsoleError::new(ErrorCode::SignInFailed, e.to_string()))?
        .port();
    let redirect_uri = format!("http://127.0.0.1:{port}/callback");
    let state = util::random_token(16);
    let verifier = util::random_token(32);
    let mut q = vec![
        ("response_type", "code".to_string()),
        ("client_id", client_id.to_string()),
        ("redirect_uri", redirect_uri.clone()),
        (
            "scope",
            format!(
                "openid email groups offline_access {}",
                admin_api::ADMIN_SCOPE
            ),
        ),
        ("state", state.clone()),
        ("nonce", util::random_token(16)),
        ("code_challenge", util::pkce_s256(&verifier)),
        ("code_challenge_method", "S256".to_string()),
        ("prompt", "login".to_string()),
    ];
    if require_mfa {
        q.push(("acr_values", xaa::ACR_MFA.to_string()));
        q.push(("max_age", "0".to_string()));
    }
    let authorize_url = url::Url::parse_with_params(&d.authorization_endpoint, &q)
        .map_err(|e| ConsoleError::new(ErrorCode::SignInFailed, e.to_string()))?
        .to_string();
    Ok(PendingSignIn {
        listener,
        redirect_uri,
        state,
        verifier,
        authorize_url,
    })
}

const DONE_PAGE: &str = "<!doctype html><meta charset=utf-8><title>Gatehouse</title><p style=\"font:16px system-ui;margin:3rem\">Signed in. You can close this window and return to Gatehouse.</p>";

/// The code of an authorization response, after the checks every response
/// gets before anything in it is believed (an error included): `state` is this
/// sign-in's, and `iss` (RFC 9207 mix-up defence) names the IdP the sign-in
/// started at — required when the IdP's metadata says it sends `iss`, and
/// compared whenever it is present, for any IdP.
pub fn authorization_code<'a>(
    params: &'a std::collections::HashMap<String, String>,
    d: &Discovery,
    state: &str,
) -> Result<&'a str, ConsoleError> {
    let fail = |m: &str| ConsoleError::new(ErrorCode::SignInFailed, m.to_owned());
    match params.get("iss") {
        Some(iss) if iss != &d.issuer => {
            return Err(fail(
                "The sign-in response came from a different IdP (iss).",
            ));
        }
        None if d.sends_iss => {
            return Err(fail(
                "The sign-in response does not say which IdP sent it (iss), although this IdP always does.",
            ));
        }
        _ => {}
    }
    if params.get("state").map(String::as_str) != Some(state) {
        return Err(fail(
            "The sign-in response does not match this sign-in (state).",
        ));
    }
    if let Some(err) = params.get("error") {
        return Err(fail(&format!(
            "The IdP refused the sign-in: {err} ({})",
            params
                .get("error_description")
                .map(String::as_str)
                .unwrap_or("")
        )));
    }
    params
        .get("code")
        .map(String::as_str)
        .ok_or_else(|| fail("The sign-in response has no code."))
}

/// Waits for the redirect (at most `timeout`), answers the browser, and redeems the code.
pub async fn finish(
    p: PendingSignIn,
    http: &reqwest::Client,
    d: &Discovery,
    client_id: &str,
    timeout: Duration,
) -> Result<Tokens, ConsoleError> {
    let params = tokio::time::timeout(timeout, receive_callback(&p.listener))
        .await
        .map_err(|_| {
            ConsoleError::new(
                ErrorCode::SignInTimedOut,
                "The sign-in was not completed in the browser in time.",
            )
        })??;
    let code = authorization_code(&params, d, &p.state)?;
    let resp = http
        .post(&d.token_endpoint)
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", &p.redirect_uri),
            ("code_verifier", &p.verifier),
            ("client_id", client_id),
        ])
        .send()
        .await
        .map_err(|_| ConsoleError::new(ErrorCode::IdpUnreachable, "The IdP cannot be reached."))?;
    token_response(resp).await
}

/// Parses a token endpoint response; errors name the OAuth error, never a token.
pub async fn token_response(resp: reqwest::Response) -> Result<Tokens, ConsoleError> {
    let status = resp.status();
    let body = resp
        .bytes()
        .await
        .map_err(|_| ConsoleError::new(ErrorCode::IdpUnreachable, "The IdP cannot be reached."))?;
    if status.is_success() {
        return serde_json::from_slice(&body).map_err(|_| {
            ConsoleError::new(
                ErrorCode::SignInFailed,
                "The IdP's token response is not valid.",
            )
        });
    }
    let e: Option<xaa::OAuthError> = serde_json::from_slice(&body).ok();
    let code = if e
        .as_ref()
        .is_some_and(|e| e.error == xaa::ErrorCode::InvalidGrant)
    {
        ErrorCode::SessionExpired
    } else {
        ErrorCode::SignInFailed
    };
    Err(ConsoleError::new(
        code,
        format!(
            "The IdP refused: {}",
            e.map(|e| e.to_string())
                .unwrap_or_else(|| status.to_string())
        ),
    ))
}

/// Accepts connections until one is `GET /callback?…`; answers each.
async fn receive_callback(listener: &TcpListener) -> Result<HashMap<String, String>, ConsoleError> {
    loop {
        let (mut sock, _) = listener.accept().await.map_err(|e| {
            ConsoleError::new(
                ErrorCode::SignInFailed,
                format!("The local sign-in port failed: {e}"),
            )
        })?;
        let mut buf = vec![0u8; 8192];
        let mut n = 0;
        while n < buf.len() {
            match sock.read(&mut buf[n..]).await {
                Ok(0) | Err(_) => break,
                Ok(k) => n += k,
            }
            if buf[..n].windows(4).any(|w| w == b"\r\n\r\n") {
                break;
            }
        }
        let head = String::from_utf8_lossy(&buf[..n]);
        let target = head
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("GET "))
            .and_then(|l| l.split(' ').next())
            .unwrap_or("");
        if let Some(query) = target.strip_prefix("/callback?") {
            let params: HashMap<String, String> = url::form_urlencoded::parse(query.as_bytes())
                .into_owned()
                .collect();
            let resp = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n{DONE_PAGE}",
                DONE_PAGE.len()
            );
            let _ = sock.write_all(resp.as_bytes()).await;
            return Ok(params);
        }
        let _ = sock
            .write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn idp(sends_iss: bool) -> Discovery {
        Discovery {
            issuer: "https://idp.example".into(),
            authorization_endpoint: "https://idp.example/authorize".into(),
            token_endpoint: "https://idp.example/token".into(),
            revocation_endpoint: None,
            supports_pkce_s256: true,
            supports_xaa: false,
            sends_iss,
            admin_api: "https://idp.example/admin/v1".into(),
        }
    }

    fn response(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn refused(r: Result<&str, ConsoleError>) -> String {
        r.expect_err("refused").to_string()
    }

    #[test]
    fn an_authorization_response_is_believed_only_from_the_idp_it_was_sent_to() {
        let ok = response(&[
            ("code", "c"),
            ("state", "s"),
            ("iss", "https://idp.example"),
        ]);
        for sends in [true, false] {
            assert_eq!(authorization_code(&ok, &idp(sends), "s").unwrap(), "c");
        }
        // An IdP that does not advertise RFC 9207 may leave iss out …
        let bare = response(&[("code", "c"), ("state", "s")]);
        assert_eq!(authorization_code(&bare, &idp(false), "s").unwrap(), "c");
        // … one that does may not.
        assert!(refused(authorization_code(&bare, &idp(true), "s")).contains("iss"));
        // A different issuer is refused whatever the metadata says, also for an
        // error response (a mix-up attacker's error is not shown as the IdP's).
        for sends in [true, false] {
            let mixed = response(&[
                ("code", "c"),
                ("state", "s"),
                ("iss", "https://evil.example"),
            ]);
            assert!(
                refused(authorization_code(&mixed, &idp(sends), "s")).contains("different IdP")
            );
            let err = response(&[
                ("error", "access_denied"),
                ("state", "s"),
                ("iss", "https://evil.example"),
            ]);
            assert!(refused(authorization_code(&err, &idp(sends), "s")).contains("different IdP"));
        }
        let wrong_state = response(&[
            ("code", "c"),
            ("state", "t"),
            ("iss", "https://idp.example"),
        ]);
        assert!(refused(authorization_code(&wrong_state, &idp(true), "s")).contains("state"));
        let denied = response(&[
            ("error", "access_denied"),
            ("error_description", "no"),
            ("state", "s"),
            ("iss", "https://idp.example"),
        ]);
        assert!(refused(authorization_code(&denied, &idp(true), "s")).contains("access_denied"));
    }
}
