//! Compact JWS (RFC 7515) signing and verification on aws-lc-rs, with an explicit
//! algorithm allow-list: Gatehouse's own tokens are ES256 or EdDSA (Ed25519) only;
//! RS256 is accepted only where a caller allows it (another IdP's ID tokens: Entra,
//! Okta and Google sign with it). `none` and every HMAC algorithm are refused
//! before a key is even looked up, and the header's `alg` must match the key type,
//! so a public key can never be used as an HMAC secret.
//!
//! aws-lc-rs is used directly rather than through `jsonwebtoken` because a key
//! pair parsed once signs about twice as fast (DESIGN.md, measured), and because
//! the checks that matter here (`typ`, `crit`, key binding) are ours to write anyway.

use crate::util::{b64, b64_decode};
use aws_lc_rs::{
    rsa::{KeySize, PublicKeyComponents},
    signature::{
        ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, ED25519, EcdsaKeyPair,
        Ed25519KeyPair, KeyPair, RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_SHA256, RsaKeyPair,
        UnparsedPublicKey,
    },
};
use serde::{Deserialize, Serialize};

/// The JWS algorithms Gatehouse knows. Which of them a verifier accepts is its
/// allow-list ([`GATEHOUSE_ALGS`] unless it says otherwise).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Alg {
    ES256,
    EdDSA,
    /// RSASSA-PKCS1-v1_5 with SHA-256, keys of 2048 bits or more.
    RS256,
}

/// What Gatehouse signs its own tokens with, and all its own verifiers accept.
pub const GATEHOUSE_ALGS: &[Alg] = &[Alg::ES256, Alg::EdDSA];

impl Alg {
    pub fn as_str(self) -> &'static str {
        match self {
            Alg::ES256 => "ES256",
            Alg::EdDSA => "EdDSA",
            Alg::RS256 => "RS256",
        }
    }

    /// Parses an `alg` value; anything Gatehouse does not know is `None`.
    pub fn parse(s: &str) -> Option<Alg> {
        match s {
            "ES256" => Some(Alg::ES256),
            "EdDSA" => Some(Alg::EdDSA),
            "RS256" => Some(Alg::RS256),
            _ => None,
        }
    }
}

enum KeyPairKind {
    Es256(EcdsaKeyPair),
    Ed25519(Ed25519KeyPair),
    Rs256(RsaKeyPair),
}

/// A private signing key, parsed once, with its key id.
pub struct SigningKey {
    kid: String,
    pair: KeyPairKind,
    pkcs8: Vec<u8>,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg())
            .field("private", &"<redacted>")
            .finish()
    }
}

/// Errors from key handling (not from token verification).
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("the private key is not a valid PKCS#8 document for {0:?}")]
    BadPrivateKey(Alg),
    #[error("key generation failed")]
    Generation,
    #[error("the JWK is not a supported public key: {0}")]
    BadJwk(&'static str),
}

impl SigningKey {
    /// Generates a fresh key for `alg`.
    pub fn generate(alg: Alg) -> Result<Self, KeyError> {
        let pkcs8 = match alg {
            Alg::ES256 => EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
                .and_then(|k| k.to_pkcs8v1())
                .map_err(|_| KeyError::Generation)?
                .as_ref()
                .to_vec(),
            Alg::EdDSA => Ed25519KeyPair::generate()
                .and_then(|k| k.to_pkcs8v1())
                .map_err(|_| KeyError::Generation)?
                .as_ref()
                .to_vec(),
            Alg::RS256 => {
                use aws_lc_rs::encoding::AsDer;
                RsaKeyPair::generate(KeySize::Rsa2048)
                    .and_then(|k| k.as_der())
                    .map_err(|_| KeyError::Generation)?
                    .as_ref()
                    .to_vec()
            }
        };
        let kid = format!(
            "{}-{}",
            alg.as_str().to_lowercase(),
            &crate::util::random_token(9)
        );
        Self::from_pkcs8(alg, kid, &pkcs8)
    }

    /// Loads a key from its PKCS#8 DER encoding.
    pub fn from_pkcs8(alg: Alg, kid: String, pkcs8: &[u8]) -> Result<Self, KeyError> {
        let pair = match alg {
            Alg::ES256 => KeyPairKind::Es256(
                EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8)
                    .map_err(|_| KeyError::BadPrivateKey(alg))?,
            ),
            Alg::EdDSA => KeyPairKind::Ed25519(
                Ed25519KeyPair::from_pkcs8_maybe_unchecked(pkcs8)
                    .map_err(|_| KeyError::BadPrivateKey(alg))?,
            ),
            Alg::RS256 => KeyPairKind::Rs256(
                RsaKeyPair::from_pkcs8(pkcs8)
                    .or_else(|_| RsaKeyPair::from_der(pkcs8))
                    .map_err(|_| KeyError::BadPrivateKey(alg))?,
            ),
        };
        Ok(Self {
            kid,
            pair,
            pkcs8: pkcs8.to_vec(),
        })
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn alg(&self) -> Alg {
        match self.pair {
            KeyPairKind::Es256(_) => Alg::ES256,
            KeyPairKind::Ed25519(_) => Alg::EdDSA,
            KeyPairKind::Rs256(_) => Alg::RS256,
        }
    }

    /// The PKCS#8 DER of the private key, for the owner's own storage.
    pub fn pkcs8_der(&self) -> &[u8] {
        &self.pkcs8
    }

    /// The public half as a JWK.
    pub fn public_jwk(&self) -> Jwk {
        match &self.pair {
            KeyPairKind::Es256(k) => {
                let p = k.public_key().as_ref();
                Jwk {
                    kty: "EC".into(),
                    crv: Some("P-256".into()),
                    x: Some(b64(&p[1..33])),
                    y: Some(b64(&p[33..65])),
                    kid: Some(self.kid.clone()),
                    alg: Some("ES256".into()),
                    use_: Some("sig".into()),
                    ..Jwk::default()
                }
            }
            KeyPairKind::Ed25519(k) => Jwk {
                kty: "OKP".into(),
                crv: Some("Ed25519".into()),
                x: Some(b64(k.public_key().as_ref())),
                kid: Some(self.kid.clone()),
                alg: Some("EdDSA".into()),
                use_: Some("sig".into()),
                ..Jwk::default()
            },
            KeyPairKind::Rs256(k) => {
                let public = PublicKeyComponents::<Vec<u8>>::from(k.public_key());
                Jwk {
                    kty: "RSA".into(),
                    n: Some(b64(&public.n)),
                    e: Some(b64(&public.e)),
                    kid: Some(self.kid.clone()),
                    alg: Some("RS256".into()),
                    use_: Some("sig".into()),
                    ..Jwk::default()
                }
            }
        }
    }

    /// The raw signature over `input`.
    pub fn sign_bytes(&self, input: &[u8]) -> Vec<u8> {
        match &self.pair {
            KeyPairKind::Es256(k) => k
                .sign(&aws_lc_rs::rand::SystemRandom::new(), input)
                .expect("ECDSA signing does not fail with a valid key")
                .as_ref()
                .to_vec(),
            KeyPairKind::Ed25519(k) => k.sign(input).as_ref().to_vec(),
            KeyPairKind::Rs256(k) => {
                let mut sig = vec![0; k.public_modulus_len()];
                k.sign(
                    &RSA_PKCS1_SHA256,
                    &aws_lc_rs::rand::SystemRandom::new(),
                    input,
                    &mut sig,
                )
                .expect("RSA signing does not fail with a valid key");
                sig
            }
        }
    }

    /// Signs `claims` as a compact JWS with the given `typ` header.
    pub fn sign<T: Serialize>(&self, typ: &str, claims: &T) -> String {
        let header = serde_json::json!({ "alg": self.alg().as_str(), "typ": typ, "kid": self.kid });
        let payload = serde_json::to_vec(claims).expect("claims serialize");
        let mut out = String::with_capacity(512);
        out.push_str(&b64(header.to_string().as_bytes()));
        out.push('.');
        out.push_str(&b64(&payload));
        let sig = self.sign_bytes(out.as_bytes());
        out.push('.');
        out.push_str(&b64(&sig));
        out
    }
}

/// A JSON Web Key (RFC 7517), public keys only.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwk {
    pub kty: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crv: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub y: Option<String>,
    /// RSA modulus and exponent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alg: Option<String>,
    #[serde(rename = "use", default, skip_serializing_if = "Option::is_none")]
    pub use_: Option<String>,
}

/// A JWK Set document.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JwkSet {
    pub keys: Vec<Jwk>,
}

/// A public key ready for verification, bound to exactly one algorithm.
#[derive(Debug, Clone)]
pub struct VerifyingKey {
    pub kid: Option<String>,
    pub alg: Alg,
    bytes: Vec<u8>,
}

impl VerifyingKey {
    /// Builds a verifying key from a JWK. The algorithm comes from the key type,
    /// never from a token header.
    pub fn from_jwk(jwk: &Jwk) -> Result<Self, KeyError> {
        let field = |v: &Option<String>, name: &'static str| {
            v.as_deref()
                .and_then(b64_decode)
                .ok_or(KeyError::BadJwk(name))
        };
        let (alg, bytes) = match (jwk.kty.as_str(), jwk.crv.as_deref()) {
            ("EC", Some("P-256")) => {
                let x = field(&jwk.x, "x")?;
                let y = field(&jwk.y, "y")?;
                if x.len() != 32 || y.len() != 32 {
                    return Err(KeyError::BadJwk("P-256 coordinates must be 32 bytes"));
                }
                let mut p = Vec::with_capacity(65);
                p.push(4);
                p.extend_from_slice(&x);
                p.extend_from_slice(&y);
                (Alg::ES256, p)
            }
            ("OKP", Some("Ed25519")) => {
                let x = field(&jwk.x, "x")?;
                if x.len() != 32 {
                    return Err(KeyError::BadJwk("Ed25519 keys are 32 bytes"));
                }
                (Alg::EdDSA, x)
            }
            ("RSA", _) => {
                let n = field(&jwk.n, "n")?;
                let e = field(&jwk.e, "e")?;
                let bits = n.iter().skip_while(|b| **b == 0).count() * 8;
                if !(2048..=8192).contains(&bits) || e.is_empty() || e.len() > 8 {
                    return Err(KeyError::BadJwk(
                        "RSA keys must have a 2048 to 8192-bit modulus",
                    ));
                }
                // Stored as n's length (2 bytes), n, e.
                let mut b = Vec::with_capacity(2 + n.len() + e.len());
                b.extend_from_slice(&(n.len() as u16).to_be_bytes());
                b.extend_from_slice(&n);
                b.extend_from_slice(&e);
                (Alg::RS256, b)
            }
            _ => {
                return Err(KeyError::BadJwk(
                    "only EC P-256, OKP Ed25519 and RSA keys are accepted",
                ));
            }
        };
        if let Some(a) = jwk.alg.as_deref()
            && Alg::parse(a) != Some(alg)
        {
            return Err(KeyError::BadJwk(
                "the JWK's alg does not match its key type",
            ));
        }
        if jwk.use_.as_deref().is_some_and(|u| u != "sig") {
            return Err(KeyError::BadJwk("the JWK is not a signing key"));
        }
        Ok(Self {
            kid: jwk.kid.clone(),
            alg,
            bytes,
        })
    }

    /// Checks `sig` over `input`.
    pub fn verify(&self, input: &[u8], sig: &[u8]) -> bool {
        match self.alg {
            Alg::ES256 => UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &self.bytes)
                .verify(input, sig)
                .is_ok(),
            Alg::EdDSA => UnparsedPublicKey::new(&ED25519, &self.bytes)
                .verify(input, sig)
                .is_ok(),
            Alg::RS256 => {
                let Some((len, rest)) = self.bytes.split_first_chunk::<2>() else {
                    return false;
                };
                let (n, e) = rest.split_at(usize::from(u16::from_be_bytes(*len)).min(rest.len()));
                PublicKeyComponents { n, e }
                    .verify(&RSA_PKCS1_2048_8192_SHA256, input, sig)
                    .is_ok()
            }
        }
    }
}

/// Parses every usable key of a JWKS; unusable keys are skipped (other parties may
/// publish key types we do not accept).
pub fn keys_from_jwks(set: &JwkSet) -> Vec<VerifyingKey> {
    set.keys
        .iter()
        .filter_map(|k| VerifyingKey::from_jwk(k).ok())
        .collect()
}

/// What was wrong with a compact JWS, precisely.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwsError {
    #[error("the token is larger than {0} bytes")]
    TooLarge(usize),
    #[error("the token is not a compact JWS with three base64url parts")]
    Malformed,
    #[error("the JWS header is not valid JSON: {0}")]
    BadHeader(String),
    #[error("the algorithm `{0}` is not allowed")]
    AlgNotAllowed(String),
    #[error("the header names `{0}`, which this verifier does not accept")]
    ForbiddenHeader(&'static str),
    #[error("the token's typ is `{found}`, expected `{expected}`")]
    WrongTyp { expected: String, found: String },
    #[error("no trusted key matches the token's kid/alg")]
    UnknownKey,
    #[error("the token's alg does not match the key's algorithm")]
    AlgKeyMismatch,
    #[error("the signature does not verify")]
    BadSignature,
    #[error("the payload is not a JSON object")]
    BadPayload,
}

/// A verified JWS: its header and payload bytes.
#[derive(Debug, Clone)]
pub struct Verified {
    pub alg: Alg,
    pub kid: Option<String>,
    pub typ: Option<String>,
    pub payload: Vec<u8>,
}

#[derive(Deserialize)]
struct RawHeader {
    alg: String,
    #[serde(default)]
    typ: Option<String>,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    crit: Option<serde_json::Value>,
    #[serde(default)]
    jku: Option<serde_json::Value>,
    #[serde(default)]
    jwk: Option<serde_json::Value>,
    #[serde(default)]
    x5u: Option<serde_json::Value>,
    #[serde(default)]
    x5c: Option<serde_json::Value>,
    #[serde(default)]
    b64: Option<serde_json::Value>,
}

/// Compares `typ` values per RFC 7515 §4.1.9: case-insensitive, `application/` optional.
fn typ_matches(found: &str, expected: &str) -> bool {
    let f = found.to_ascii_lowercase();
    let f = f.strip_prefix("application/").unwrap_or(&f);
    f == expected.to_ascii_lowercase()
}

/// Verifies a compact JWS of Gatehouse's own algorithms against `keys`.
/// `expected_typ` of `None` accepts any or no `typ` (OIDC ID tokens); `Some`
/// requires it.
pub fn verify_compact(
    token: &str,
    keys: &[VerifyingKey],
    expected_typ: Option<&str>,
    max_len: usize,
) -> Result<Verified, JwsError> {
    verify_compact_allowing(token, keys, expected_typ, max_len, GATEHOUSE_ALGS)
}

/// [`verify_compact`] with the caller's algorithm allow-list.
pub fn verify_compact_allowing(
    token: &str,
    keys: &[VerifyingKey],
    expected_typ: Option<&str>,
    max_len: usize,
    allowed: &[Alg],
) -> Result<Verified, JwsError> {
    if token.len() > max_len {
        return Err(JwsError::TooLarge(max_len));
    }
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwsError::Malformed);
    };
    let header_bytes = b64_decode(h).ok_or(JwsError::Malformed)?;
    let payload = b64_decode(p).ok_or(JwsError::Malformed)?;
    let sig = b64_decode(s).ok_or(JwsError::Malformed)?;
    let header: RawHeader =
        serde_json::from_slice(&header_bytes).map_err(|e| JwsError::BadHeader(e.to_string()))?;
    let alg = Alg::parse(&header.alg)
        .filter(|a| allowed.contains(a))
        .ok_or_else(|| JwsError::AlgNotAllowed(header.alg.clone()))?;
    if header.crit.is_some() {
        return Err(JwsError::ForbiddenHeader("crit"));
    }
    if header.b64.is_some() {
        return Err(JwsError::ForbiddenHeader("b64"));
    }
    for (present, name) in [
        (header.jku.is_some(), "jku"),
        (header.jwk.is_some(), "jwk"),
        (header.x5u.is_some(), "x5u"),
        (header.x5c.is_some(), "x5c"),
    ] {
        if present {
            return Err(JwsError::ForbiddenHeader(name));
        }
    }
    if let Some(expected) = expected_typ {
        match header.typ.as_deref() {
            Some(t) if typ_matches(t, expected) => {}
            other => {
                return Err(JwsError::WrongTyp {
                    expected: expected.into(),
                    found: other.unwrap_or("<none>").into(),
                });
            }
        }
    }
    let key = match header.kid.as_deref() {
        Some(kid) => keys.iter().find(|k| k.kid.as_deref() == Some(kid)),
        None => {
            let mut same_alg = keys.iter().filter(|k| k.alg == alg);
            match (same_alg.next(), same_alg.next()) {
                (Some(k), None) => Some(k),
                _ => None,
            }
        }
    }
    .ok_or(JwsError::UnknownKey)?;
    if key.alg != alg {
        return Err(JwsError::AlgKeyMismatch);
    }
    let signing_input_len = h.len() + 1 + p.len();
    if !key.verify(&token.as_bytes()[..signing_input_len], &sig) {
        return Err(JwsError::BadSignature);
    }
    if payload.first() != Some(&b'{') {
        return Err(JwsError::BadPayload);
    }
    Ok(Verified {
        alg,
        kid: header.kid,
        typ: header.typ,
        payload,
    })
}

/// Reads the payload of a JWS without verifying it. Only for picking which issuer's
/// keys to verify with; never trust what it returns.
pub fn insecure_peek_payload(token: &str) -> Option<serde_json::Value> {
    let p = token.split('.').nth(1)?;
    serde_json::from_slice(&b64_decode(p)?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn es256_and_eddsa_round_trip_through_jwk() {
        for alg in [Alg::ES256, Alg::EdDSA] {
            let k = SigningKey::generate(alg).unwrap();
            let t = k.sign("JWT", &serde_json::json!({"a": 1}));
            let vk = VerifyingKey::from_jwk(&k.public_jwk()).unwrap();
            let v = verify_compact(&t, &[vk], Some("jwt"), 8192).unwrap();
            assert_eq!(v.alg, alg);
            assert_eq!(v.payload, br#"{"a":1}"#);
        }
    }

    #[test]
    fn rs256_verifies_only_where_a_caller_allows_it() {
        let k = SigningKey::generate(Alg::RS256).unwrap();
        let t = k.sign("JWT", &serde_json::json!({"a": 1}));
        let jwk = k.public_jwk();
        assert_eq!(jwk.kty, "RSA");
        let vk = VerifyingKey::from_jwk(&jwk).unwrap();
        assert_eq!(
            verify_compact(&t, std::slice::from_ref(&vk), None, 8192).unwrap_err(),
            JwsError::AlgNotAllowed("RS256".into())
        );
        let v = verify_compact_allowing(&t, std::slice::from_ref(&vk), None, 8192, &[Alg::RS256])
            .unwrap();
        assert_eq!(v.alg, Alg::RS256);
        // A flipped bit in the signature fails.
        let mut bad = t.clone().into_bytes();
        let at = bad.len() - 5;
        bad[at] = if bad[at] == b'A' { b'B' } else { b'A' };
        let bad = String::from_utf8(bad).unwrap();
        assert_eq!(
            verify_compact_allowing(&bad, &[vk], None, 8192, &[Alg::RS256]).unwrap_err(),
            JwsError::BadSignature
        );
        let reloaded = SigningKey::from_pkcs8(Alg::RS256, k.kid().into(), k.pkcs8_der()).unwrap();
        assert_eq!(reloaded.public_jwk(), k.public_jwk());
    }

    #[test]
    fn small_rsa_keys_and_rsa_keys_under_an_ec_alg_are_refused() {
        let k = SigningKey::generate(Alg::RS256).unwrap();
        let mut jwk = k.public_jwk();
        jwk.n = Some(b64(&[0xff; 128])); // 1024 bits
        assert!(VerifyingKey::from_jwk(&jwk).is_err());
        let mut jwk = k.public_jwk();
        jwk.alg = Some("ES256".into());
        assert!(VerifyingKey::from_jwk(&jwk).is_err());
        // An ES256 token cannot be checked with the RSA key even when both are allowed.
        let ec = SigningKey::generate(Alg::ES256).unwrap();
        let input = format!(
            "{}.{}",
            b64(format!(r#"{{"alg":"ES256","kid":"{}"}}"#, k.kid()).as_bytes()),
            b64(b"{}")
        );
        let t = format!("{input}.{}", b64(&ec.sign_bytes(input.as_bytes())));
        let rsa = VerifyingKey::from_jwk(&k.public_jwk()).unwrap();
        assert_eq!(
            verify_compact_allowing(&t, &[rsa], None, 8192, &[Alg::RS256, Alg::ES256]).unwrap_err(),
            JwsError::AlgKeyMismatch
        );
    }

    #[test]
    fn pkcs8_reload_keeps_the_public_key() {
        let k = SigningKey::generate(Alg::ES256).unwrap();
        let k2 = SigningKey::from_pkcs8(Alg::ES256, k.kid().into(), k.pkcs8_der()).unwrap();
        assert_eq!(k.public_jwk(), k2.public_jwk());
    }

    #[test]
    fn debug_never_prints_the_private_key() {
        let k = SigningKey::generate(Alg::ES256).unwrap();
        let dbg = format!("{k:?}");
        assert!(dbg.contains("<redacted>"));
        assert!(!dbg.contains(&b64(k.pkcs8_der())));
    }

    #[test]
    fn typ_comparison_follows_rfc7515() {
        assert!(typ_matches(
            "application/oauth-id-jag+jwt",
            "oauth-id-jag+jwt"
        ));
        assert!(typ_matches("OAUTH-ID-JAG+JWT", "oauth-id-jag+jwt"));
        assert!(!typ_matches("jwt", "oauth-id-jag+jwt"));
    }
}
