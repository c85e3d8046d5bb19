//! Trusted external subject tokens: an AI app that signs people in at the
//! company's IdP (which may issue no ID-JAGs, as Entra does not) presents that
//! IdP's ID token as the token exchange's `subject_token`. It is honoured only
//! when its issuer is a `[[trusted_issuer]]`, its signature verifies under that
//! issuer's keys (fetched, cached, refetched on an unknown `kid`) and algorithm
//! allow-list, its audience maps to the very client that authenticated, its
//! times hold and it fits the size cap. The person is then the directory's
//! (by the username claim), and the same policy gate applies.

use crate::{config::TrustedIssuer, state::Idp, verified_cache::VerifiedTokens};
use oidc_rp::{IdTokenRules, JwksCache, id_token};
use serde_json::{Map, Value};
use tokio::sync::OnceCell;
use xaa::{ErrorCode, OAuthError, jws::JwsError};

/// One trusted issuer at run time: its configuration and its keys.
pub struct Trusted {
    pub config: TrustedIssuer,
    algorithms: Vec<xaa::Alg>,
    keys: OnceCell<JwksCache>,
}

/// Every trusted issuer, and the tokens of theirs already verified.
pub struct TrustedIssuers {
    issuers: Vec<Trusted>,
    http: reqwest::Client,
    verified: VerifiedTokens<Map<String, Value>>,
}

/// What the gate learns about the person behind an external token.
pub struct ExternalSubject {
    pub username: String,
    pub acr: Option<String>,
    pub auth_time: Option<u64>,
}

impl TrustedIssuers {
    pub fn new(config: &[TrustedIssuer]) -> Self {
        let http = reqwest::Client::new();
        Self {
            issuers: config
                .iter()
                .map(|c| Trusted {
                    algorithms: c.algs(),
                    // Without a jwks_uri, discovery finds it on first use.
                    keys: c
                        .jwks_uri
                        .clone()
                        .map(|u| OnceCell::new_with(Some(JwksCache::new(u, http.clone()))))
                        .unwrap_or_default(),
                    config: c.clone(),
                })
                .collect(),
            http,
            verified: VerifiedTokens::default(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.issuers.is_empty()
    }

    /// The trusted issuer named `iss`, if any.
    pub fn find(&self, iss: &str) -> Option<&Trusted> {
        self.issuers.iter().find(|t| t.config.issuer == iss)
    }

    async fn keys_of<'a>(&self, t: &'a Trusted) -> Result<&'a JwksCache, OAuthError> {
        t.keys
            .get_or_try_init(|| async {
                let m = oidc_rp::fetch_metadata(&self.http, &t.config.issuer).await?;
                Ok::<_, oidc_rp::discovery::DiscoveryError>(JwksCache::new(
                    m.jwks_uri,
                    self.http.clone(),
                ))
            })
            .await
            .map_err(|e| {
                tracing::warn!(issuer = %t.config.issuer, error = %e, "trusted issuer discovery failed");
                unavailable()
            })
    }
}

fn unavailable() -> OAuthError {
    OAuthError::new(
        ErrorCode::TemporarilyUnavailable,
        "the subject token's issuer cannot be reached for its keys; try again later",
    )
}

fn refused(why: impl std::fmt::Display) -> OAuthError {
    OAuthError::invalid_grant(format!("the subject token is not valid: {why}"))
}

/// The person behind `token`, an ID token of trusted issuer `t`, presented by
/// Gatehouse client `client_id`.
pub async fn subject(
    idp: &Idp,
    t: &Trusted,
    client_id: &str,
    token: &str,
) -> Result<ExternalSubject, OAuthError> {
    let cfg = &t.config;
    let audiences = cfg.audiences_of(client_id);
    if audiences.is_empty() {
        return Err(OAuthError::invalid_grant(
            "the subject token's issuer is trusted, but not for this client",
        ));
    }
    if token.len() > cfg.max_token_bytes {
        return Err(refused(format!(
            "it is larger than {} bytes",
            cfg.max_token_bytes
        )));
    }
    let trusted = &idp.trusted;
    let key = VerifiedTokens::<Map<String, Value>>::key(token);
    let claims = match trusted.verified.get(&key) {
        Some(c) => c,
        None => {
            let cache = trusted.keys_of(t).await?;
            let keys_unavailable = |e: oidc_rp::JwksError| {
                tracing::warn!(issuer = %cfg.issuer, error = %e, "trusted issuer keys unavailable");
                unavailable()
            };
            let verify = |keys: Vec<xaa::VerifyingKey>| {
                let owned = token.to_owned();
                let algs = t.algorithms.clone();
                let max = cfg.max_token_bytes;
                idp.signature_gate.run_blocking(move || {
                    xaa::jws::verify_compact_allowing(&owned, &keys, None, max, &algs)
                })
            };
            let keys = cache.keys().await.map_err(keys_unavailable)?;
            let mut verified = verify(keys)
                .await
                .map_err(crate::cost::Overloaded::into_oauth)?;
            if matches!(verified, Err(JwsError::UnknownKey)) {
                // The issuer may have rotated its keys: refetch (rate-limited) once.
                let keys = cache.refresh(false).await.map_err(keys_unavailable)?;
                verified = verify(keys)
                    .await
                    .map_err(crate::cost::Overloaded::into_oauth)?;
            }
            let verified = verified.map_err(refused)?;
            // Another purpose of the same issuer (an access token, a logout
            // token) is not a subject's ID token, whatever its claims say.
            if let Some(typ) = verified.typ.as_deref()
                && !typ.eq_ignore_ascii_case("JWT")
            {
                return Err(refused(format!(
                    "its typ `{typ}` says it is not an ID token"
                )));
            }
            let payload = verified.payload;
            let claims: Map<String, Value> =
                serde_json::from_slice(&payload).map_err(|_| refused("it is not an ID token"))?;
            let exp = claims.get("exp").and_then(Value::as_i64).unwrap_or(0);
            trusted.verified.insert(key, claims.clone(), exp, idp.now());
            claims
        }
    };
    let rules = IdTokenRules {
        issuer: &cfg.issuer,
        audiences: &audiences,
        algorithms: &t.algorithms,
        max_len: cfg.max_token_bytes,
        leeway: cfg.leeway,
        nonce: None,
        max_age: None,
        now: idp.now(),
    };
    let valid = id_token::check_claims(claims, &rules).map_err(|e| match e {
        id_token::IdTokenError::WrongAudience | id_token::IdTokenError::WrongAuthorizedParty => {
            OAuthError::invalid_grant(format!(
                "the subject token was issued to a different client ({e})"
            ))
        }
        other => refused(other),
    })?;
    let person = cfg.claims.map(&valid.claims, &cfg.mfa).map_err(refused)?;
    let acr = if person.mfa {
        Some(xaa::ACR_MFA.to_owned())
    } else if person.acr.is_some() || !person.amr.is_empty() {
        Some(xaa::ACR_PASSWORD.to_owned())
    } else {
        None
    };
    Ok(ExternalSubject {
        username: person.username,
        acr,
        auth_time: valid.auth_time.map(|t| t.max(0) as u64),
    })
}
