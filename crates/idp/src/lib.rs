//! The reference enterprise IdP for Cross App Access: OpenID Connect sign-in, the
//! RFC 8693 token exchange that mints ID-JAGs behind the policy gate, pending
//! connection requests, and a hash-chained audit log, on SQLite.
//!
//! Routes are thin (`authorize`, `token`, `endpoints`); decisions are plain
//! functions (`policy`); state is in `store` and `audit`.

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod admin;
pub mod audit;
pub mod audit_stream;
pub mod authorize;
pub mod client_auth;
pub mod config;
pub mod connection_cache;
pub mod cost;
pub mod endpoints;
pub mod external_subject;
pub mod http_error;
pub mod jobs;
pub mod metrics;
pub mod notify;
pub mod policy;
pub mod refusals;
pub mod registry;
pub mod report_pdf;
pub mod request_id;
pub mod revocation;
pub mod scim;
pub mod server;
pub mod services;
pub mod state;
pub use idp_store as store;
pub mod throttle;
pub mod token;
pub mod upstream;
pub mod usage;
pub mod verified_cache;
pub mod views;

pub use config::Config;
pub use state::{Idp, SharedIdp};
