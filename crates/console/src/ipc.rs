//! The types that cross IPC beyond the admin API's own, and the schema document
//! the UI's TypeScript types are generated from (`ipc.json`, checked in next to
//! this crate; `ui` runs `openapi-typescript` on it and on `openapi.json`).

use schemars::{JsonSchema, generate::SchemaSettings};
use serde::{Deserialize, Serialize};

/// A request and the ETag to decide against.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RequestDetail {
    pub request: admin_api::RequestView,
    pub etag: String,
}

/// A connection and the ETag to change it against.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ConnectionDetail {
    pub connection: admin_api::ConnectionView,
    pub etag: String,
}

/// What an audit export wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ExportSummary {
    pub path: String,
    pub format: String,
    pub events: usize,
    pub bytes: usize,
}

/// The IdP's reachability as the console last saw it (the `idp-status` event).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct IdpStatus {
    pub reachable: bool,
    pub message: Option<String>,
}

/// What the request detail shows around a request: the client's registration
/// (owners), the directory's groups (to count who would gain access), and the
/// request's history from the audit log (empty when the role may not read it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RequestContext {
    pub client: Option<admin_api::ClientView>,
    pub groups: Vec<admin_api::GroupView>,
    pub directory_users: usize,
    pub history: Vec<admin_api::AuditEventView>,
}

/// The relationship map and charts: live connections (edges), the clients and
/// apps (nodes), and the counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct OverviewView {
    pub connections: Vec<admin_api::ConnectionView>,
    pub clients: Vec<admin_api::ClientView>,
    pub apps: Vec<admin_api::ResourceAppView>,
    pub stats: admin_api::StatsView,
}

/// The Directory screen: who and what the IdP knows — people (with where they
/// came from and whether they are active), groups, AI clients, resource apps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DirectoryView {
    pub people: Vec<admin_api::UserView>,
    pub groups: Vec<admin_api::GroupView>,
    pub clients: Vec<admin_api::ClientView>,
    pub apps: Vec<admin_api::ResourceAppView>,
}

/// A client whose new secret went to the file the person chose (the only
/// place it goes: never to the webview).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ClientSaved {
    pub client: admin_api::ClientView,
    /// Where the credentials file was written.
    pub saved_to: String,
}

/// A new notification channel; a webhook's signing secret went to the file
/// the person chose (never to the webview). A Slack channel has no file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ChannelSaved {
    pub channel: admin_api::ChannelView,
    pub saved_to: Option<String>,
}

/// An IdP profile as the Profiles screen lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ProfileView {
    pub profile: crate::Profile,
    /// Saved to disk (demo mode's profile lives only as long as the app).
    pub saved: bool,
    /// The profile of the current session.
    pub active: bool,
}

/// A profile just added, with what its discovery document said.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ProfileAdded {
    pub profile: crate::Profile,
    pub discovery: crate::discovery::Discovery,
}

/// An OpenAPI 3.1 document with only `components.schemas`: the IPC types.
pub fn document() -> serde_json::Value {
    let mut g = SchemaSettings::draft2020_12()
        .with(|s| s.definitions_path = "/components/schemas".into())
        .into_generator();
    let commands = crate::rpc::command_schemas(&mut g);
    // Beside the commands' own types: what travels as events, not answers.
    let _ = g.subschema_for::<crate::ConsoleError>();
    let _ = g.subschema_for::<admin_api::ChangeEvent>();
    let mut schemas = g.take_definitions(true);
    schemas.insert("Commands".into(), commands);
    serde_json::json!({
        "openapi": "3.1.0",
        "info": { "title": "Gatehouse console IPC types", "version": "1" },
        "paths": {},
        "components": { "schemas": schemas },
    })
}
