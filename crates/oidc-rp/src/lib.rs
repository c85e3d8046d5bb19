//! Gatehouse as a relying party of another OpenID Provider (the company's IdP):
//! its metadata ([`discovery`]), its signing keys ([`jwks`]), its ID tokens
//! ([`id_token`]) and what they say about a person ([`claims`]). Shared by the
//! IdP (federated sign-in, trusted external subject tokens) and the reference
//! resource server (the IdP's keys). Every fetch is bounded in time and size.

pub mod claims;
pub mod discovery;
pub mod fetch;
pub mod id_token;
pub mod jwks;
pub mod login;

pub use claims::{ClaimMapping, MappedPerson, MfaEvidence};
pub use discovery::{ProviderMetadata, fetch_metadata};
pub use id_token::{IdTokenError, IdTokenRules, ValidIdToken};
pub use jwks::{JwksCache, JwksError};
