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

/// The scope an admin client (the console) asks for at sign-in. The admin API
/// takes an access token only when it was issued to a client registered as an
/// admin client *and* carries this scope; only admin clients may be granted it.
pub const ADMIN_SCOPE: &str = "gatehouse:admin";
