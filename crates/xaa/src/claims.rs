//! The claim sets Gatehouse mints and reads: the ID-JAG and the OIDC ID token.

use serde::{Deserialize, Serialize};

/// `aud` as it may appear on the wire: one string or an array of strings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    /// The single audience, or `None` when there are zero or several.
    pub fn single(&self) -> Option<&str> {
        match self {
            Audience::One(s) => Some(s),
            Audience::Many(v) if v.len() == 1 => Some(&v[0]),
            Audience::Many(_) => None,
        }
    }

    pub fn contains(&self, aud: &str) -> bool {
        match self {
            Audience::One(s) => s == aud,
            Audience::Many(v) => v.iter().any(|s| s == aud),
        }
    }
}

/// The claims of an Identity Assertion JWT Authorization Grant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdJagClaims {
    pub iss: String,
    pub sub: String,
    /// The resource authorization server's issuer; a single value.
    pub aud: String,
    /// The client's identifier at the resource authorization server.
    pub client_id: String,
    pub jti: String,
    pub exp: u64,
    pub iat: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acr: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amr: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud_sub: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cnf: Option<serde_json::Value>,
    /// Gatehouse private claim: the connection this assertion was issued under.
    /// With `connection_version`, a revocation event names exactly what it
    /// revokes, instead of a timestamp at one-second resolution.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_id: Option<String>,
    /// Gatehouse private claim: that connection's version when this was minted
    /// (every change to a connection raises it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_version: Option<i64>,
}

impl IdJagClaims {
    /// The connection this assertion was issued under and its version, when
    /// the IdP (Gatehouse) named both.
    pub fn connection(&self) -> Option<(&str, i64)> {
        Some((self.connection_id.as_deref()?, self.connection_version?))
    }
}

/// The claims of an OpenID Connect ID token as Gatehouse's IdP issues them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdTokenClaims {
    pub iss: String,
    pub sub: String,
    pub aud: Audience,
    pub exp: u64,
    pub iat: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acr: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amr: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub azp: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
}
