//! The Cross App Access (XAA) protocol, with no I/O: JWS signing and verification
//! over a deliberate algorithm allow-list, ID-JAG claims and their verification
//! (draft-ietf-oauth-identity-assertion-authz-grant plus the MCP profile), the
//! token-exchange and jwt-bearer grant requests parsed from form bodies, and OAuth
//! errors rendered as RFC 6749 JSON.
//!
//! Everything that touches the network, a clock or a database lives in the crates
//! that use this one: callers pass `now` and a replay cache in.

pub mod claims;
pub mod error;
pub mod idjag;
pub mod jws;
pub mod request;
pub mod scope;
pub mod set;
pub mod totp;
pub mod util;

pub use claims::{Audience, IdJagClaims, IdTokenClaims};
pub use error::{ErrorCode, OAuthError};
pub use idjag::{IdJagPolicy, MemoryReplayCache, ReplayCache, VerifyError};
pub use jws::{Alg, Jwk, JwkSet, SigningKey, VerifyingKey};
pub use request::{ClientCredentials, JwtBearerRequest, SubjectTokenType, TokenExchangeRequest};
pub use scope::ScopeSet;

/// `grant_type` of the RFC 8693 token exchange.
pub const GRANT_TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
/// `grant_type` of the RFC 7523 JWT bearer grant.
pub const GRANT_JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// The token type identifier of an ID-JAG.
pub const TOKEN_TYPE_ID_JAG: &str = "urn:ietf:params:oauth:token-type:id-jag";
/// The token type identifier of an OpenID Connect ID token.
pub const TOKEN_TYPE_ID_TOKEN: &str = "urn:ietf:params:oauth:token-type:id_token";
/// The token type identifier of a refresh token.
pub const TOKEN_TYPE_REFRESH_TOKEN: &str = "urn:ietf:params:oauth:token-type:refresh_token";
/// The JWS `typ` header of an ID-JAG.
pub const TYP_ID_JAG: &str = "oauth-id-jag+jwt";
/// The grant profile advertised in authorization server metadata.
pub const GRANT_PROFILE_ID_JAG: &str = "urn:ietf:params:oauth:grant-profile:id-jag";
/// `client_assertion_type` for `private_key_jwt`.
pub const CLIENT_ASSERTION_TYPE_JWT: &str =
    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// Longest lifetime an ID-JAG may have, in seconds.
pub const MAX_ID_JAG_LIFETIME: u64 = 300;
/// Authentication context class: password only.
pub const ACR_PASSWORD: &str = "urn:gatehouse:acr:pwd";
/// Authentication context class: password and a second factor.
pub const ACR_MFA: &str = "urn:gatehouse:acr:mfa";
/// The JWS `typ` of a Security Event Token (RFC 8417).
pub const TYP_SET: &str = "secevent+jwt";
/// The SET event type Gatehouse sends when a connection is revoked or a user cut off.
pub const EVENT_CONNECTION_REVOKED: &str =
    "https://schemas.gatehouse.dev/secevent/xaa/connection-revoked";
/// The SET event type Gatehouse sends when a kill switch's reinstatement turns
/// a connection (or a user) back on. A receiver needs to undo nothing: the
/// revocation refused what was issued up to the revoked version, and the
/// reinstated connection issues at a higher one.
pub const EVENT_CONNECTION_REINSTATED: &str =
    "https://schemas.gatehouse.dev/secevent/xaa/connection-reinstated";
