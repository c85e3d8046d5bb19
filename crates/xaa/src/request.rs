//! Typed grant requests parsed from `application/x-www-form-urlencoded` bodies:
//! the RFC 8693 token exchange for an ID-JAG, the RFC 7523 JWT bearer grant, and
//! the client credentials carried in the body. Parsing refuses repeated
//! parameters (RFC 6749 §3.2) and answers with the precise OAuth error.

use crate::{
    CLIENT_ASSERTION_TYPE_JWT, GRANT_JWT_BEARER, GRANT_TOKEN_EXCHANGE, OAuthError, ScopeSet,
    TOKEN_TYPE_ID_JAG, TOKEN_TYPE_ID_TOKEN, TOKEN_TYPE_REFRESH_TOKEN,
};
use std::collections::HashMap;

/// Form parameters with repeated names refused.
#[derive(Debug, Default)]
pub struct Form(HashMap<String, String>);

impl Form {
    /// Builds a form from decoded pairs; a repeated parameter is `invalid_request`.
    pub fn from_pairs(pairs: Vec<(String, String)>) -> Result<Self, OAuthError> {
        let mut map = HashMap::with_capacity(pairs.len());
        for (k, v) in pairs {
            if map.contains_key(&k) {
                return Err(OAuthError::invalid_request(format!(
                    "the parameter `{k}` is repeated"
                )));
            }
            map.insert(k, v);
        }
        Ok(Self(map))
    }

    /// Parses an `application/x-www-form-urlencoded` body as WHATWG's parser
    /// (and `form_urlencoded`) does — pairs split on `&`, name from value on the
    /// first `=`, `+` a space, `%XX` a byte, invalid UTF-8 replaced, empty pairs
    /// skipped — in one pass that copies a component only once and decodes only
    /// one that holds `%` or `+` (a token request's subject token is a kilobyte
    /// that needs neither; the general parser cost the exchange 5 % of its CPU).
    pub fn parse(body: &[u8]) -> Result<Self, OAuthError> {
        let pairs = body
            .split(|&b| b == b'&')
            .filter(|pair| !pair.is_empty())
            .map(|pair| {
                let (name, value) = match pair.iter().position(|&b| b == b'=') {
                    Some(eq) => (&pair[..eq], &pair[eq + 1..]),
                    None => (pair, &pair[..0]),
                };
                (decode_component(name), decode_component(value))
            })
            .collect();
        Self::from_pairs(pairs)
    }

    /// A parameter's value; an empty value counts as absent (RFC 6749 §3.1).
    pub fn get(&self, k: &str) -> Option<&str> {
        self.0.get(k).map(String::as_str).filter(|v| !v.is_empty())
    }

    pub fn require(&self, k: &str) -> Result<&str, OAuthError> {
        self.get(k)
            .ok_or_else(|| OAuthError::invalid_request(format!("the parameter `{k}` is required")))
    }

    pub fn grant_type(&self) -> Result<&str, OAuthError> {
        self.require("grant_type")
    }

    fn scope(&self) -> Result<Option<ScopeSet>, OAuthError> {
        self.get("scope")
            .map(|s| {
                ScopeSet::parse(s)
                    .ok_or_else(|| OAuthError::invalid_scope("the scope parameter is malformed"))
            })
            .transpose()
    }
}

/// One form component decoded: `+` is a space, `%` and two hex digits a byte
/// (any other `%` stays as it is), bytes that are not UTF-8 become U+FFFD.
fn decode_component(raw: &[u8]) -> String {
    if !raw.iter().any(|&b| b == b'%' || b == b'+') {
        return match std::str::from_utf8(raw) {
            Ok(s) => s.to_owned(),
            Err(_) => String::from_utf8_lossy(raw).into_owned(),
        };
    }
    fn hex(b: u8) -> Option<u8> {
        (b as char).to_digit(16).map(|d| d as u8)
    }
    let mut bytes = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'+' => bytes.push(b' '),
            b'%' => match (
                raw.get(i + 1).and_then(|&b| hex(b)),
                raw.get(i + 2).and_then(|&b| hex(b)),
            ) {
                (Some(hi), Some(lo)) => {
                    bytes.push(hi << 4 | lo);
                    i += 2;
                }
                _ => bytes.push(b'%'),
            },
            b => bytes.push(b),
        }
        i += 1;
    }
    match String::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    }
}

/// How a client authenticated in the request body (RFC 6749 §2.3.1, RFC 7523 §2.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientCredentials {
    /// `client_secret_post`.
    Secret {
        client_id: String,
        client_secret: String,
    },
    /// `private_key_jwt`.
    Assertion {
        client_id: Option<String>,
        assertion: String,
    },
    /// Only a `client_id` (public clients).
    IdOnly {
        client_id: String,
    },
    None,
}

impl ClientCredentials {
    /// Reads body credentials. `client_assertion_type` other than jwt-bearer is refused.
    pub fn from_form(form: &Form) -> Result<Self, OAuthError> {
        if let Some(assertion) = form.get("client_assertion") {
            if form.get("client_assertion_type") != Some(CLIENT_ASSERTION_TYPE_JWT) {
                return Err(OAuthError::invalid_client(
                    "client_assertion_type must be the jwt-bearer assertion type",
                ));
            }
            return Ok(Self::Assertion {
                client_id: form.get("client_id").map(str::to_owned),
                assertion: assertion.to_owned(),
            });
        }
        Ok(match (form.get("client_id"), form.get("client_secret")) {
            (Some(id), Some(secret)) => Self::Secret {
                client_id: id.to_owned(),
                client_secret: secret.to_owned(),
            },
            (Some(id), None) => Self::IdOnly {
                client_id: id.to_owned(),
            },
            (None, Some(_)) => {
                return Err(OAuthError::invalid_client(
                    "client_secret given without client_id",
                ));
            }
            (None, None) => Self::None,
        })
    }
}

/// Decodes one `application/x-www-form-urlencoded` value (`+` is a space, `%XX` a byte).
fn form_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// Reads client credentials from an `Authorization: Basic` header value (RFC 6749
/// §2.3.1: id and secret are each form-urlencoded before base64). `Ok(None)` when
/// the header is absent or not Basic; `invalid_client` when it is malformed.
pub fn basic_credentials(
    authorization: Option<&str>,
) -> Result<Option<(String, String)>, OAuthError> {
    use base64::{Engine, engine::general_purpose::STANDARD};
    let failed = || OAuthError::invalid_client("client authentication failed");
    let Some(v) = authorization else {
        return Ok(None);
    };
    let Some(b64) = v
        .strip_prefix("Basic ")
        .or_else(|| v.strip_prefix("basic "))
    else {
        return Ok(None);
    };
    let raw = STANDARD.decode(b64.trim()).map_err(|_| failed())?;
    let raw = String::from_utf8(raw).map_err(|_| failed())?;
    let (id, secret) = raw.split_once(':').ok_or_else(failed)?;
    Ok(Some((
        form_decode(id).ok_or_else(failed)?,
        form_decode(secret).ok_or_else(failed)?,
    )))
}

/// What the client presents as the user's identity in a token exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubjectTokenType {
    IdToken,
    RefreshToken,
}

/// A token exchange request for an ID-JAG (draft §4.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenExchangeRequest {
    pub subject_token: String,
    pub subject_token_type: SubjectTokenType,
    /// The resource authorization server's issuer.
    pub audience: String,
    /// The MCP server / protected resource (RFC 8707).
    pub resource: Option<String>,
    pub scope: Option<ScopeSet>,
}

impl TokenExchangeRequest {
    pub fn from_form(form: &Form) -> Result<Self, OAuthError> {
        if form.grant_type()? != GRANT_TOKEN_EXCHANGE {
            return Err(OAuthError::new(
                crate::ErrorCode::UnsupportedGrantType,
                "expected the token-exchange grant type",
            ));
        }
        match form.require("requested_token_type")? {
            TOKEN_TYPE_ID_JAG => {}
            _ => {
                return Err(OAuthError::invalid_request(
                    "requested_token_type must be urn:ietf:params:oauth:token-type:id-jag",
                ));
            }
        }
        let subject_token_type = match form.require("subject_token_type")? {
            TOKEN_TYPE_ID_TOKEN => SubjectTokenType::IdToken,
            TOKEN_TYPE_REFRESH_TOKEN => SubjectTokenType::RefreshToken,
            _ => {
                return Err(OAuthError::invalid_request(
                    "subject_token_type must be an ID token or a refresh token",
                ));
            }
        };
        if form.get("actor_token").is_some() {
            return Err(OAuthError::invalid_request("actor_token is not supported"));
        }
        let audience = form
            .get("audience")
            .ok_or_else(|| OAuthError::invalid_target("the audience parameter is required"))?;
        Ok(Self {
            subject_token: form.require("subject_token")?.to_owned(),
            subject_token_type,
            audience: audience.to_owned(),
            resource: form.get("resource").map(str::to_owned),
            scope: form.scope()?,
        })
    }
}

/// A JWT bearer grant request presenting an ID-JAG (RFC 7523 §2.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwtBearerRequest {
    pub assertion: String,
    pub scope: Option<ScopeSet>,
    pub resource: Option<String>,
}

impl JwtBearerRequest {
    pub fn from_form(form: &Form) -> Result<Self, OAuthError> {
        if form.grant_type()? != GRANT_JWT_BEARER {
            return Err(OAuthError::new(
                crate::ErrorCode::UnsupportedGrantType,
                "expected the jwt-bearer grant type",
            ));
        }
        Ok(Self {
            assertion: form.require("assertion")?.to_owned(),
            scope: form.scope()?,
            resource: form.get("resource").map(str::to_owned),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorCode;

    fn form(pairs: &[(&str, &str)]) -> Result<Form, OAuthError> {
        Form::from_pairs(
            pairs
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
        )
    }

    fn exchange(extra: &[(&str, &str)]) -> Vec<(&'static str, String)> {
        let mut v = vec![
            ("grant_type", GRANT_TOKEN_EXCHANGE.to_string()),
            ("requested_token_type", TOKEN_TYPE_ID_JAG.to_string()),
            ("subject_token_type", TOKEN_TYPE_ID_TOKEN.to_string()),
            ("subject_token", "tok".to_string()),
            ("audience", "https://as.example".to_string()),
        ];
        for (k, val) in extra {
            v.retain(|(kk, _)| kk != k);
            if !val.is_empty() {
                v.push((leak(k), val.to_string()));
            }
        }
        v
    }

    /// The one-pass parser agrees with `form_urlencoded` (the WHATWG parser)
    /// on every input built from the characters that matter: separators,
    /// `+`, whole and broken `%` escapes, multi-byte and invalid UTF-8.
    #[test]
    fn the_form_parser_agrees_with_the_whatwg_parser() {
        let alphabet: &[&[u8]] = &[
            b"a",
            b"Z",
            b"0",
            b"=",
            b"&",
            b"+",
            b"%",
            b"%2",
            b"%41",
            b"%2B",
            b"%26",
            b"%3D",
            b"%zz",
            b"%C3%A9",
            b"%FF",
            "é".as_bytes(),
            b"\xff",
            b".",
            b"-",
            b"_",
            b"~",
            b" ",
        ];
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..20_000 {
            let len = (next() % 24) as usize;
            let body: Vec<u8> = (0..len)
                .flat_map(|_| alphabet[(next() % alphabet.len() as u64) as usize].to_vec())
                .collect();
            let expected: Vec<(String, String)> =
                url::form_urlencoded::parse(&body).into_owned().collect();
            let mut names: Vec<&String> = expected.iter().map(|(k, _)| k).collect();
            names.sort();
            names.dedup();
            match Form::parse(&body) {
                Ok(f) => {
                    assert_eq!(names.len(), expected.len(), "{body:?} has a repeated name");
                    for (k, v) in &expected {
                        assert_eq!(f.0.get(k), Some(v), "{body:?}");
                    }
                    assert_eq!(f.0.len(), expected.len(), "{body:?}");
                }
                Err(e) => {
                    assert!(names.len() < expected.len(), "{body:?}: {e}");
                    assert!(e.to_string().contains("is repeated"), "{e}");
                }
            }
        }
    }

    fn leak(s: &str) -> &'static str {
        Box::leak(s.to_string().into_boxed_str())
    }

    fn parse(v: Vec<(&'static str, String)>) -> Result<TokenExchangeRequest, OAuthError> {
        let f = Form::from_pairs(v.into_iter().map(|(a, b)| (a.to_string(), b)).collect())?;
        TokenExchangeRequest::from_form(&f)
    }

    #[test]
    fn a_complete_exchange_parses() {
        let r = parse(exchange(&[
            ("scope", "b a"),
            ("resource", "https://mcp.example/mcp"),
        ]))
        .unwrap();
        assert_eq!(r.audience, "https://as.example");
        assert_eq!(r.scope.unwrap().to_string(), "a b");
        assert_eq!(r.subject_token_type, SubjectTokenType::IdToken);
    }

    #[test]
    fn each_missing_or_wrong_parameter_has_its_error() {
        type Case<'a> = (&'a [(&'a str, &'a str)], ErrorCode, &'a str);
        let cases: &[Case] = &[
            (
                &[("grant_type", "")],
                ErrorCode::InvalidRequest,
                "grant_type",
            ),
            (
                &[("grant_type", "password")],
                ErrorCode::UnsupportedGrantType,
                "token-exchange",
            ),
            (
                &[("requested_token_type", "")],
                ErrorCode::InvalidRequest,
                "requested_token_type",
            ),
            (
                &[(
                    "requested_token_type",
                    "urn:ietf:params:oauth:token-type:access_token",
                )],
                ErrorCode::InvalidRequest,
                "id-jag",
            ),
            (
                &[("subject_token_type", "x")],
                ErrorCode::InvalidRequest,
                "subject_token_type",
            ),
            (
                &[("subject_token", "")],
                ErrorCode::InvalidRequest,
                "subject_token",
            ),
            (&[("audience", "")], ErrorCode::InvalidTarget, "audience"),
            (&[("scope", "a\"b")], ErrorCode::InvalidScope, "scope"),
            (
                &[("actor_token", "x")],
                ErrorCode::InvalidRequest,
                "actor_token",
            ),
        ];
        for (extra, code, needle) in cases {
            let e = parse(exchange(extra)).unwrap_err();
            assert_eq!(e.error, *code, "{extra:?}");
            assert!(e.to_string().contains(needle), "{extra:?}: {e}");
        }
    }

    #[test]
    fn repeated_parameters_are_refused() {
        let mut v = exchange(&[]);
        v.push(("audience", "https://other.example".into()));
        let e = parse(v).unwrap_err();
        assert_eq!(e.error, ErrorCode::InvalidRequest);
        assert!(e.to_string().contains("audience"));
    }

    #[test]
    fn client_credentials_from_the_body() {
        let f = form(&[("client_id", "a"), ("client_secret", "s")]).unwrap();
        assert!(matches!(
            ClientCredentials::from_form(&f).unwrap(),
            ClientCredentials::Secret { .. }
        ));
        let f = form(&[("client_secret", "s")]).unwrap();
        assert_eq!(
            ClientCredentials::from_form(&f).unwrap_err().error,
            ErrorCode::InvalidClient
        );
        let f = form(&[
            ("client_assertion", "x"),
            ("client_assertion_type", "other"),
        ])
        .unwrap();
        assert_eq!(
            ClientCredentials::from_form(&f).unwrap_err().error,
            ErrorCode::InvalidClient
        );
    }

    #[test]
    fn basic_credentials_are_form_decoded_and_malformed_ones_refused() {
        use base64::{Engine, engine::general_purpose::STANDARD};
        let h = format!("Basic {}", STANDARD.encode("my%20client:s%3Acret+x"));
        assert_eq!(
            basic_credentials(Some(&h)).unwrap(),
            Some(("my client".into(), "s:cret x".into()))
        );
        assert_eq!(basic_credentials(Some("Bearer abc")).unwrap(), None);
        assert_eq!(basic_credentials(None).unwrap(), None);
        for bad in [
            "Basic !!!",
            &format!("Basic {}", STANDARD.encode("no-colon")),
            &format!("Basic {}", STANDARD.encode("a:%zz")),
        ] {
            assert_eq!(
                basic_credentials(Some(bad)).unwrap_err().error,
                ErrorCode::InvalidClient,
                "{bad}"
            );
        }
    }

    #[test]
    fn jwt_bearer_requires_an_assertion() {
        let f = form(&[("grant_type", GRANT_JWT_BEARER)]).unwrap();
        let e = JwtBearerRequest::from_form(&f).unwrap_err();
        assert_eq!(e.error, ErrorCode::InvalidRequest);
        assert!(e.to_string().contains("assertion"));
    }
}
