//! The reference resource side of Cross App Access: an authorization server that
//! redeems ID-JAGs (RFC 7523 jwt-bearer) from a trusted IdP, and the MCP server it
//! protects, built on the official Rust MCP SDK (`rmcp`). Access tokens are opaque,
//! short-lived, audience-restricted to one MCP server, and never refreshable.

pub mod authz;
pub mod config;
pub mod mcp;
pub mod receiver;
pub mod server;
pub mod tokens;

pub use config::{ResourceAppConfig, ResourceClient, ToolScopes, TrustedIdp};
pub use server::{ResourceApp, start};
