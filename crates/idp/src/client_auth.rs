//! Client authentication at the token endpoint: `client_secret_basic`,
//! `client_secret_post`, `private_key_jwt` and public clients, each only for the
//! clients registered with that method. One method per request.

use crate::{
    config::{Client, ClientAuth},
    state::Idp,
};
use axum::http::HeaderMap;
use std::sync::Arc;
use xaa::{ClientCredentials, OAuthError, request::Form};

/// The authenticated client and whether it proved possession of a credential.
pub struct Authenticated {
    pub client: Arc<Client>,
    pub confidential: bool,
}

fn failed() -> OAuthError {
    OAuthError::invalid_client("client authentication failed")
}

fn basic(headers: &HeaderMap) -> Result<Option<(String, String)>, OAuthError> {
    let value = headers
        .get(axum::http::header::AUTHORIZATION)
        .map(|v| v.to_str().map_err(|_| failed()))
        .transpose()?;
    xaa::request::basic_credentials(value)
}

/// Authenticates the client of a token-endpoint request.
pub async fn authenticate(
    idp: &Idp,
    headers: &HeaderMap,
    form: &Form,
) -> Result<Authenticated, OAuthError> {
    let body = ClientCredentials::from_form(form)?;
    let creds = match (basic(headers)?, body) {
        (Some(_), ClientCredentials::Secret { .. } | ClientCredentials::Assertion { .. }) => {
            return Err(OAuthError::invalid_request(
                "use only one client authentication method",
            ));
        }
        (Some((id, secret)), ClientCredentials::IdOnly { client_id }) if client_id != id => {
            let _ = secret;
            return Err(failed());
        }
        (Some((client_id, client_secret)), _) => ClientCredentials::Secret {
            client_id,
            client_secret,
        },
        (None, b) => b,
    };
    match creds {
        ClientCredentials::Secret {
            client_id,
            client_secret,
        } => {
            let client = idp.catalog().client(&client_id).ok_or_else(failed)?;
            if !client.auth.secret_matches(&client_secret, idp.now()) {
                return Err(failed());
            }
            Ok(Authenticated {
                client,
                confidential: true,
            })
        }
        ClientCredentials::Assertion {
            client_id,
            assertion,
        } => {
            let client = verify_assertion(idp, client_id.as_deref(), &assertion).await?;
            Ok(Authenticated {
                client,
                confidential: true,
            })
        }
        ClientCredentials::IdOnly { client_id } => {
            let client = idp.catalog().client(&client_id).ok_or_else(failed)?;
            if !matches!(client.auth, ClientAuth::None) {
                return Err(failed());
            }
            Ok(Authenticated {
                client,
                confidential: false,
            })
        }
        ClientCredentials::None => Err(OAuthError::invalid_client(
            "client authentication is required",
        )),
    }
}

/// The keys `private_key_jwt` clients publish at their JWKS URLs, one cache per
/// URL (each fetch bounded in time and size; an unknown `kid` refetches at most
/// every 10 s, so forged assertions cannot make the IdP hammer a client's host).
#[derive(Default)]
pub struct ClientKeys {
    caches: std::sync::Mutex<std::collections::HashMap<String, Arc<oidc_rp::JwksCache>>>,
    http: reqwest::Client,
}

impl ClientKeys {
    /// Reads the key set at `uri` once, uncached and bounded like every fetch
    /// (the registry checks a JWKS URL with it before accepting it).
    pub async fn fetch_set(
        &self,
        uri: &str,
    ) -> Result<serde_json::Value, oidc_rp::fetch::FetchError> {
        oidc_rp::fetch::get_json(&self.http, uri).await
    }

    fn cache(&self, uri: &str) -> Arc<oidc_rp::JwksCache> {
        let mut m = self
            .caches
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        m.entry(uri.to_owned())
            .or_insert_with(|| Arc::new(oidc_rp::JwksCache::new(uri.to_owned(), self.http.clone())))
            .clone()
    }
}

/// `private_key_jwt` (RFC 7523 §3): iss = sub = client, aud names this IdP, short-lived, single use.
/// The signature check runs in the IdP's bounded signature pool.
async fn verify_assertion(
    idp: &Idp,
    claimed: Option<&str>,
    assertion: &str,
) -> Result<Arc<Client>, OAuthError> {
    let peek = xaa::jws::insecure_peek_payload(assertion).ok_or_else(failed)?;
    let sub = peek
        .get("sub")
        .and_then(|v| v.as_str())
        .ok_or_else(failed)?;
    if claimed.is_some_and(|c| c != sub) {
        return Err(failed());
    }
    let client = idp.catalog().client(sub).ok_or_else(failed)?;
    let ClientAuth::PrivateKeyJwt { jwks, jwks_uri } = &client.auth else {
        return Err(failed());
    };
    let verify = |keys: Vec<xaa::VerifyingKey>| {
        let token = assertion.to_owned();
        idp.signature_gate
            .run_blocking(move || xaa::jws::verify_compact(&token, &keys, None, 8192))
    };
    let v = match jwks_uri {
        None => verify(xaa::jws::keys_from_jwks(jwks))
            .await
            .map_err(crate::cost::Overloaded::into_oauth)?,
        Some(uri) => {
            let cache = idp.client_keys.cache(uri);
            let unreachable = |e: oidc_rp::JwksError| {
                tracing::warn!(client_id = %client.client_id, error = %e, "client JWKS unavailable");
                failed()
            };
            let keys = cache.keys().await.map_err(unreachable)?;
            let mut v = verify(keys)
                .await
                .map_err(crate::cost::Overloaded::into_oauth)?;
            if matches!(v, Err(xaa::jws::JwsError::UnknownKey)) {
                let keys = cache.refresh(false).await.map_err(unreachable)?;
                v = verify(keys)
                    .await
                    .map_err(crate::cost::Overloaded::into_oauth)?;
            }
            v
        }
    }
    .map_err(|_| failed())?;
    let c: serde_json::Value = serde_json::from_slice(&v.payload).map_err(|_| failed())?;
    let now = idp.now();
    let s = |k: &str| c.get(k).and_then(|v| v.as_str());
    let aud_ok = match c.get("aud") {
        Some(serde_json::Value::String(a)) => a == idp.issuer() || *a == idp.endpoint("/token"),
        Some(serde_json::Value::Array(a)) => a.iter().any(|x| {
            x.as_str() == Some(idp.issuer()) || x.as_str() == Some(&idp.endpoint("/token"))
        }),
        _ => false,
    };
    let exp = c.get("exp").and_then(|v| v.as_i64()).ok_or_else(failed)?;
    if s("iss") != Some(sub) || !aud_ok || exp <= now || exp > now + 600 {
        return Err(failed());
    }
    let jti = s("jti").ok_or_else(failed)?;
    // Spent in the database: a replay at any node is refused.
    if !idp
        .store
        .spend_jti(sub, jti, exp)
        .await
        .map_err(crate::http_error::db_error)?
    {
        return Err(OAuthError::invalid_client(
            "the client assertion was already used",
        ));
    }
    Ok(client)
}
