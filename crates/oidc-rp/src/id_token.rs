//! Validation of another provider's ID token (OpenID Connect Core §3.1.3.7):
//! the signature under an algorithm allow-list and the provider's keys, the
//! exact issuer, an audience this deployment accepts (with `azp` when there are
//! several), expiry and issue time with a small leeway, the nonce of the sign-in
//! that asked for it, and `auth_time` against a `max_age`. Pure: the caller
//! supplies the keys and the clock.

use serde_json::{Map, Value};
use xaa::{Alg, VerifyingKey, jws::JwsError};

/// What a valid token must satisfy.
#[derive(Debug, Clone)]
pub struct IdTokenRules<'a> {
    pub issuer: &'a str,
    /// Audiences accepted (client ids registered at the provider).
    pub audiences: &'a [String],
    pub algorithms: &'a [Alg],
    pub max_len: usize,
    /// Seconds of clock skew tolerated on `exp`, `iat` and `nbf`.
    pub leeway: i64,
    /// The sign-in's nonce, when this token answers one.
    pub nonce: Option<&'a str>,
    /// Seconds since authentication allowed, when the sign-in asked for it.
    pub max_age: Option<i64>,
    pub now: i64,
}

/// A token that passed every rule, with the audience it matched.
#[derive(Debug, Clone)]
pub struct ValidIdToken {
    pub claims: Map<String, Value>,
    pub audience: String,
    pub sub: String,
    pub exp: i64,
    pub auth_time: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdTokenError {
    #[error("{0}")]
    Jws(#[from] JwsError),
    #[error("the payload is not a JSON object of claims")]
    NotClaims,
    #[error("the token has no `{0}` claim")]
    Missing(&'static str),
    #[error("the `{0}` claim has the wrong type")]
    WrongType(&'static str),
    #[error("the token was issued by another issuer")]
    WrongIssuer,
    #[error("the token was issued to another client")]
    WrongAudience,
    #[error("the token names several audiences and its azp is not an accepted client")]
    WrongAuthorizedParty,
    #[error("the token has expired")]
    Expired,
    #[error("the token was issued in the future")]
    IssuedInFuture,
    #[error("the token is not valid yet")]
    NotYetValid,
    #[error("the token's nonce does not match the sign-in")]
    WrongNonce,
    #[error("the authentication is older than the max_age asked for")]
    TooOld,
}

/// Checks `token` against `keys` and `rules`.
pub fn validate(
    token: &str,
    keys: &[VerifyingKey],
    rules: &IdTokenRules<'_>,
) -> Result<ValidIdToken, IdTokenError> {
    let v = xaa::jws::verify_compact_allowing(token, keys, None, rules.max_len, rules.algorithms)?;
    let claims: Map<String, Value> =
        serde_json::from_slice(&v.payload).map_err(|_| IdTokenError::NotClaims)?;
    check_claims(claims, rules)
}

/// The claim checks alone, for a token whose signature was verified already.
pub fn check_claims(
    claims: Map<String, Value>,
    rules: &IdTokenRules<'_>,
) -> Result<ValidIdToken, IdTokenError> {
    let string = |name: &'static str| -> Result<Option<&str>, IdTokenError> {
        match claims.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(IdTokenError::WrongType(name)),
        }
    };
    let number = |name: &'static str| -> Result<Option<i64>, IdTokenError> {
        match claims.get(name) {
            None => Ok(None),
            Some(v) => v.as_i64().map(Some).ok_or(IdTokenError::WrongType(name)),
        }
    };
    if string("iss")?.ok_or(IdTokenError::Missing("iss"))? != rules.issuer {
        return Err(IdTokenError::WrongIssuer);
    }
    let sub = string("sub")?
        .filter(|s| !s.is_empty())
        .ok_or(IdTokenError::Missing("sub"))?
        .to_owned();
    let auds: Vec<&str> = match claims.get("aud") {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| v.as_str().ok_or(IdTokenError::WrongType("aud")))
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(IdTokenError::WrongType("aud")),
        None => return Err(IdTokenError::Missing("aud")),
    };
    let accepted = |a: &str| rules.audiences.iter().any(|x| x == a);
    let azp = string("azp")?;
    let audience = match (auds.as_slice(), azp) {
        ([one], None) if accepted(one) => (*one).to_owned(),
        ([one], Some(p)) if accepted(one) && p == *one => (*one).to_owned(),
        ([one], Some(_)) if accepted(one) => return Err(IdTokenError::WrongAuthorizedParty),
        (many, Some(p)) if many.len() > 1 && accepted(p) && many.contains(&p) => p.to_owned(),
        (many, _) if many.len() > 1 && many.iter().any(|a| accepted(a)) => {
            return Err(IdTokenError::WrongAuthorizedParty);
        }
        _ => return Err(IdTokenError::WrongAudience),
    };
    let exp = number("exp")?.ok_or(IdTokenError::Missing("exp"))?;
    if exp + rules.leeway <= rules.now {
        return Err(IdTokenError::Expired);
    }
    let iat = number("iat")?.ok_or(IdTokenError::Missing("iat"))?;
    if iat > rules.now + rules.leeway {
        return Err(IdTokenError::IssuedInFuture);
    }
    if number("nbf")?.is_some_and(|nbf| nbf > rules.now + rules.leeway) {
        return Err(IdTokenError::NotYetValid);
    }
    if let Some(expected) = rules.nonce {
        match string("nonce")? {
            Some(n) if xaa::util::constant_time_eq(n.as_bytes(), expected.as_bytes()) => {}
            _ => return Err(IdTokenError::WrongNonce),
        }
    }
    let auth_time = number("auth_time")?;
    if let Some(max_age) = rules.max_age {
        let at = auth_time.ok_or(IdTokenError::Missing("auth_time"))?;
        if at + max_age + rules.leeway < rules.now {
            return Err(IdTokenError::TooOld);
        }
    }
    Ok(ValidIdToken {
        claims,
        audience,
        sub,
        exp,
        auth_time,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use xaa::SigningKey;

    const ISS: &str = "https://login.corp.example";
    const NOW: i64 = 1_800_000_000;

    fn rules<'a>(aud: &'a [String]) -> IdTokenRules<'a> {
        IdTokenRules {
            issuer: ISS,
            audiences: aud,
            algorithms: &[Alg::RS256, Alg::ES256],
            max_len: 16 * 1024,
            leeway: 60,
            nonce: None,
            max_age: None,
            now: NOW,
        }
    }

    fn good() -> Value {
        json!({"iss": ISS, "sub": "00u1", "aud": "ai-app", "exp": NOW + 300, "iat": NOW - 10})
    }

    fn with(f: impl FnOnce(&mut Map<String, Value>)) -> Map<String, Value> {
        let Value::Object(mut m) = good() else {
            unreachable!()
        };
        f(&mut m);
        m
    }

    #[test]
    fn a_good_token_verifies_under_rs256_and_es256() {
        let aud = vec!["ai-app".to_string()];
        for alg in [Alg::RS256, Alg::ES256] {
            let k = SigningKey::generate(alg).unwrap();
            let t = k.sign("JWT", &good());
            let vk = VerifyingKey::from_jwk(&k.public_jwk()).unwrap();
            let v = validate(&t, &[vk], &rules(&aud)).unwrap();
            assert_eq!((v.sub.as_str(), v.audience.as_str()), ("00u1", "ai-app"));
        }
        // EdDSA is not on this allow-list.
        let k = SigningKey::generate(Alg::EdDSA).unwrap();
        let vk = VerifyingKey::from_jwk(&k.public_jwk()).unwrap();
        assert!(matches!(
            validate(&k.sign("JWT", &good()), &[vk], &rules(&aud)),
            Err(IdTokenError::Jws(JwsError::AlgNotAllowed(_)))
        ));
    }

    #[test]
    fn every_claim_rule_refuses_precisely() {
        let aud = vec!["ai-app".to_string()];
        let r = rules(&aud);
        let cases: Vec<(Map<String, Value>, IdTokenError)> = vec![
            (
                with(|m| {
                    m.insert("iss".into(), json!("https://evil.example"));
                }),
                IdTokenError::WrongIssuer,
            ),
            (
                with(|m| {
                    m.remove("iss");
                }),
                IdTokenError::Missing("iss"),
            ),
            (
                with(|m| {
                    m.insert("aud".into(), json!("other-app"));
                }),
                IdTokenError::WrongAudience,
            ),
            (
                with(|m| {
                    m.insert("aud".into(), json!(["other", "ai-app"]));
                }),
                IdTokenError::WrongAuthorizedParty,
            ),
            (
                with(|m| {
                    m.insert("aud".into(), json!(["other", "ai-app"]));
                    m.insert("azp".into(), json!("other"));
                }),
                IdTokenError::WrongAuthorizedParty,
            ),
            (
                with(|m| {
                    m.insert("azp".into(), json!("other"));
                }),
                IdTokenError::WrongAuthorizedParty,
            ),
            (
                with(|m| {
                    m.insert("aud".into(), json!(7));
                }),
                IdTokenError::WrongType("aud"),
            ),
            (
                with(|m| {
                    m.insert("exp".into(), json!(NOW - 61));
                }),
                IdTokenError::Expired,
            ),
            (
                with(|m| {
                    m.insert("exp".into(), json!("soon"));
                }),
                IdTokenError::WrongType("exp"),
            ),
            (
                with(|m| {
                    m.insert("iat".into(), json!(NOW + 61));
                }),
                IdTokenError::IssuedInFuture,
            ),
            (
                with(|m| {
                    m.insert("nbf".into(), json!(NOW + 61));
                }),
                IdTokenError::NotYetValid,
            ),
            (
                with(|m| {
                    m.insert("sub".into(), json!(""));
                }),
                IdTokenError::Missing("sub"),
            ),
            (
                with(|m| {
                    m.remove("exp");
                }),
                IdTokenError::Missing("exp"),
            ),
        ];
        for (claims, want) in cases {
            assert_eq!(
                check_claims(claims.clone(), &r).unwrap_err(),
                want,
                "{claims:?}"
            );
        }
        // Several audiences with an accepted azp among them pass.
        let ok = with(|m| {
            m.insert("aud".into(), json!(["other", "ai-app"]));
            m.insert("azp".into(), json!("ai-app"));
        });
        assert_eq!(check_claims(ok, &r).unwrap().audience, "ai-app");
    }

    #[test]
    fn nonce_and_max_age_are_checked_when_the_sign_in_asked() {
        let aud = vec!["ai-app".to_string()];
        let mut r = rules(&aud);
        r.nonce = Some("n-123");
        let c = with(|m| {
            m.insert("nonce".into(), json!("n-123"));
        });
        assert!(check_claims(c, &r).is_ok());
        let c = with(|m| {
            m.insert("nonce".into(), json!("n-999"));
        });
        assert_eq!(check_claims(c, &r).unwrap_err(), IdTokenError::WrongNonce);
        assert_eq!(
            check_claims(with(|_| {}), &r).unwrap_err(),
            IdTokenError::WrongNonce
        );
        r.nonce = None;
        r.max_age = Some(300);
        let c = with(|m| {
            m.insert("auth_time".into(), json!(NOW - 1000));
        });
        assert_eq!(check_claims(c, &r).unwrap_err(), IdTokenError::TooOld);
        let c = with(|m| {
            m.insert("auth_time".into(), json!(NOW - 100));
        });
        assert_eq!(check_claims(c, &r).unwrap().auth_time, Some(NOW - 100));
        assert_eq!(
            check_claims(with(|_| {}), &r).unwrap_err(),
            IdTokenError::Missing("auth_time")
        );
    }
}
