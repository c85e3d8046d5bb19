//! The admin API contract (`/admin/v1`): the types the IdP serves and the console
//! and tests send, RFC 9457 problem details with stable codes, the route table
//! the OpenAPI 3.1 document is generated from, and a typed reqwest client — the
//! only way the console and the tests talk to the API.

pub mod client;
pub mod openapi;
pub mod sse;
pub mod types;

pub use client::{AdminClient, ClientError};
pub use types::*;

/// Every admin path starts with this.
pub const BASE: &str = "/admin/v1";
