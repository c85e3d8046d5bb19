//! Minting and verifying ID-JAGs. Verification applies every check the draft and
//! the MCP enterprise-managed-authorization profile require, in a fixed order, and
//! names the first one that fails. `jsonwebtoken::Validation`-style libraries do
//! not check `typ`, single-valued `aud`, `client_id` binding or replay: these are here.

use crate::{
    MAX_ID_JAG_LIFETIME, TYP_ID_JAG,
    claims::IdJagClaims,
    jws::{JwsError, SigningKey, VerifyingKey, verify_compact},
};
use std::{collections::HashMap, sync::Mutex};

/// Remembers which `jti`s were used, until they expire.
pub trait ReplayCache: Send + Sync {
    /// Records `jti` (valid until `exp`); returns `false` if it was already recorded.
    fn check_and_record(&self, issuer: &str, jti: &str, exp: u64, now: u64) -> bool;
}

/// An in-process replay cache that forgets entries once they have expired.
#[derive(Default)]
pub struct MemoryReplayCache {
    seen: Mutex<HashMap<(String, String), u64>>,
}

impl ReplayCache for MemoryReplayCache {
    fn check_and_record(&self, issuer: &str, jti: &str, exp: u64, now: u64) -> bool {
        let mut seen = self.seen.lock().expect("replay cache lock");
        if seen.len() > 4096 {
            seen.retain(|_, e| *e + 60 >= now);
        }
        let key = (issuer.to_owned(), jti.to_owned());
        if seen.get(&key).is_some_and(|e| *e + 60 >= now) {
            return false;
        }
        seen.insert(key, exp);
        true
    }
}

/// What the verifier expects of an ID-JAG.
#[derive(Debug, Clone)]
pub struct IdJagPolicy {
    /// The trusted IdP's issuer: `iss` must equal it exactly.
    pub issuer: String,
    /// This authorization server's issuer: `aud` must be exactly this single value.
    pub audience: String,
    /// Allowed clock skew in seconds for `exp`, `nbf` and `iat`.
    pub skew: u64,
    /// Longest accepted `exp - iat`.
    pub max_lifetime: u64,
    /// Largest accepted token, in bytes.
    pub max_len: usize,
}

impl IdJagPolicy {
    pub fn new(issuer: impl Into<String>, audience: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            audience: audience.into(),
            skew: 30,
            max_lifetime: MAX_ID_JAG_LIFETIME,
            max_len: 8 * 1024,
        }
    }
}

/// Why an ID-JAG was refused. Each maps to `invalid_grant` on the wire, with
/// this message as the description.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error(transparent)]
    Jws(#[from] JwsError),
    #[error("the claims are not a valid ID-JAG claim set: {0}")]
    BadClaims(String),
    #[error("the required claim `{0}` is missing")]
    MissingClaim(&'static str),
    #[error("the issuer is not the trusted IdP")]
    WrongIssuer,
    #[error("aud must be a single value equal to this authorization server's issuer")]
    WrongAudience,
    #[error("the ID-JAG was issued to a different client")]
    ClientMismatch,
    #[error("the ID-JAG has expired")]
    Expired,
    #[error("the ID-JAG is not yet valid")]
    NotYetValid,
    #[error("the ID-JAG was issued in the future")]
    IssuedInFuture,
    #[error("the ID-JAG's lifetime exceeds {0} seconds")]
    LifetimeTooLong(u64),
    #[error("the ID-JAG expires before it was issued")]
    ExpiresBeforeIssued,
    /// The base ID-JAG draft lets a client re-submit an unexpired assertion; the
    /// MCP enterprise-managed authorization profile does not, and neither do we:
    /// the description says so, so a client written to the base draft can tell.
    #[error(
        "the ID-JAG was already used: each ID-JAG (its jti) is accepted once, even before it expires (MCP enterprise-managed authorization profile); ask the IdP for a new one"
    )]
    Replayed,
}

const REQUIRED: [&str; 7] = ["iss", "sub", "aud", "client_id", "jti", "exp", "iat"];

/// Mints an ID-JAG: a JWS with `typ: oauth-id-jag+jwt`.
pub fn mint(key: &SigningKey, claims: &IdJagClaims) -> String {
    key.sign(TYP_ID_JAG, claims)
}

/// Verifies an ID-JAG presented by `authenticated_client` (its id at this AS).
///
/// Order: size, structure, `typ`, algorithm and key, signature, claim presence and
/// types, `iss`, `aud`, `client_id`, times, lifetime, and last the replay cache, so
/// a token that fails any other check does not burn its `jti`.
pub fn verify(
    token: &str,
    keys: &[VerifyingKey],
    policy: &IdJagPolicy,
    authenticated_client: &str,
    now: u64,
    replay: &dyn ReplayCache,
) -> Result<IdJagClaims, VerifyError> {
    let claims = check(token, keys, policy, authenticated_client, now)?;
    consume(&claims, replay, now)?;
    Ok(claims)
}

/// Records the ID-JAG's `jti` as used; `Replayed` if it already was. A caller that
/// runs further checks of its own between [`check`] and this keeps a request that
/// fails them from burning the assertion.
pub fn consume(
    claims: &IdJagClaims,
    replay: &dyn ReplayCache,
    now: u64,
) -> Result<(), VerifyError> {
    if !replay.check_and_record(&claims.iss, &claims.jti, claims.exp, now) {
        return Err(VerifyError::Replayed);
    }
    Ok(())
}

/// Every check of [`verify`] except the replay cache.
pub fn check(
    token: &str,
    keys: &[VerifyingKey],
    policy: &IdJagPolicy,
    authenticated_client: &str,
    now: u64,
) -> Result<IdJagClaims, VerifyError> {
    let verified = verify_compact(token, keys, Some(TYP_ID_JAG), policy.max_len)?;
    let value: serde_json::Value = serde_json::from_slice(&verified.payload)
        .map_err(|e| VerifyError::BadClaims(e.to_string()))?;
    let obj = value
        .as_object()
        .ok_or_else(|| VerifyError::BadClaims("not an object".into()))?;
    for name in REQUIRED {
        if obj.get(name).is_none_or(|v| v.is_null()) {
            return Err(VerifyError::MissingClaim(name));
        }
    }
    if obj.get("aud").is_some_and(|a| !a.is_string()) {
        // An array, even of one element, is refused: the profile wants one value.
        return Err(VerifyError::WrongAudience);
    }
    let claims: IdJagClaims =
        serde_json::from_value(value).map_err(|e| VerifyError::BadClaims(e.to_string()))?;
    if claims.iss != policy.issuer {
        return Err(VerifyError::WrongIssuer);
    }
    if claims.aud != policy.audience {
        return Err(VerifyError::WrongAudience);
    }
    if claims.client_id != authenticated_client {
        return Err(VerifyError::ClientMismatch);
    }
    if claims.sub.is_empty() || claims.jti.is_empty() {
        return Err(VerifyError::BadClaims(
            "sub and jti must not be empty".into(),
        ));
    }
    if claims.exp + policy.skew <= now {
        return Err(VerifyError::Expired);
    }
    if claims.iat > now + policy.skew {
        return Err(VerifyError::IssuedInFuture);
    }
    if claims.nbf.is_some_and(|nbf| nbf > now + policy.skew) {
        return Err(VerifyError::NotYetValid);
    }
    if claims.exp <= claims.iat {
        return Err(VerifyError::ExpiresBeforeIssued);
    }
    if claims.exp - claims.iat > policy.max_lifetime {
        return Err(VerifyError::LifetimeTooLong(policy.max_lifetime));
    }
    Ok(claims)
}
