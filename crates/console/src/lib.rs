//! The console's logic with no Tauri in it: IdP profiles (discovery checked),
//! sign-in through the system browser (authorization code + PKCE + loopback
//! redirect, RFC 8252) or with a pasted admin API token, session restore and
//! refresh from the OS keychain, sign-out, and the idle lock. `src-tauri` only
//! adapts this crate to IPC; tests drive it against the real IdP on loopback.
//!
//! Tokens live here, in Rust: nothing in this crate's public views carries one.

pub mod commands;
pub mod discovery;
pub mod error;
pub mod helpdesk;
pub mod ipc;
pub mod links;
pub mod live;
pub mod profiles;
pub mod rpc;
pub mod secrets;
pub mod session;
pub mod signin;
pub mod updates;

pub use error::{ConsoleError, ErrorCode};
pub use profiles::{Profile, ProfileStore};
pub use secrets::{KeychainStore, MemoryStore, SecretKind, SecretStore};
pub use session::{Console, SecretStorage, SessionView};
