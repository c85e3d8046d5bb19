//! Request and response bodies of the admin API. Enums, not strings, for every
//! closed set; ids are strings on the wire with a prefix naming their kind
//! (`req_`, `conn_`, `evt_`, `tok_`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// How risky a scope is.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Risk {
    Read,
    Write,
    Destructive,
    Admin,
}

impl Risk {
    pub fn as_str(self) -> &'static str {
        match self {
            Risk::Read => "read",
            Risk::Write => "write",
            Risk::Destructive => "destructive",
            Risk::Admin => "admin",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        [Risk::Read, Risk::Write, Risk::Destructive, Risk::Admin]
            .into_iter()
            .find(|r| r.as_str() == s)
    }
}

/// Which scopes a connection allows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", content = "scopes", rename_all = "snake_case")]
pub enum ScopeCondition {
    All,
    IncludeOnly(Vec<String>),
}

/// Granting `scope` needs an authentication of class `acr` no older than `max_age` seconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StepUpRule {
    pub scope: String,
    #[serde(default)]
    pub acr: Option<String>,
    #[serde(default)]
    pub max_age: Option<u64>,
}

/// What a signed-in person or an API token may do.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Decide connection requests; modify, suspend and revoke connections.
    Approver,
    /// Revoke and suspend only (the help desk's kill switch).
    Helpdesk,
    /// Access reviews.
    Reviewer,
    /// Read everything, change nothing.
    Auditor,
    /// Everything, including API tokens.
    Admin,
    /// SCIM provisioning of people and groups (`/scim/v2`), for an API token
    /// a provisioning connector holds; no admin API route takes it.
    Provisioner,
}

impl Role {
    pub const ALL: [Role; 6] = [
        Role::Approver,
        Role::Helpdesk,
        Role::Reviewer,
        Role::Auditor,
        Role::Admin,
        Role::Provisioner,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Approver => "approver",
            Role::Helpdesk => "helpdesk",
            Role::Reviewer => "reviewer",
            Role::Auditor => "auditor",
            Role::Admin => "admin",
            Role::Provisioner => "provisioner",
        }
    }
}

/// RFC 9457 problem details. `code` is stable for programs; `title`/`detail` are for people.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    pub type_: String,
    pub title: String,
    pub status: u16,
    pub code: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The request id, for matching with the audit log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    /// On `412 Precondition Failed`: the resource as it is now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current: Option<serde_json::Value>,
}

/// Stable problem codes.
pub mod codes {
    pub const UNAUTHENTICATED: &str = "unauthenticated";
    pub const STEP_UP_REQUIRED: &str = "step_up_required";
    pub const FORBIDDEN: &str = "forbidden";
    pub const NOT_FOUND: &str = "not_found";
    pub const VALIDATION: &str = "validation_failed";
    pub const PRECONDITION_REQUIRED: &str = "precondition_required";
    pub const PRECONDITION_FAILED: &str = "precondition_failed";
    pub const CONFLICT: &str = "conflict";
    pub const SEPARATION_OF_DUTIES: &str = "separation_of_duties";
    pub const IDEMPOTENCY_MISMATCH: &str = "idempotency_key_reused";
    pub const UNAVAILABLE: &str = "storage_unavailable";
}

/// A page of a list, with the cursor of the next page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(rename = "Page_{T}")]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
    /// How many items match the filter in all.
    pub total: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ClientRef {
    pub client_id: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AppRef {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ScopeView {
    pub name: String,
    pub description: String,
    pub risk: Risk,
    pub sensitive: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RequestStatus {
    Pending,
    AwaitingSecondApproval,
    Approved,
    Denied,
    Expired,
}

impl RequestStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::AwaitingSecondApproval => "awaiting_second_approval",
            Self::Approved => "approved",
            Self::Denied => "denied",
            Self::Expired => "expired",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "pending" => Self::Pending,
            "awaiting_second_approval" => Self::AwaitingSecondApproval,
            "approved" => Self::Approved,
            "denied" => Self::Denied,
            "expired" => Self::Expired,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RequestUserView {
    pub username: String,
    pub groups: Vec<String>,
    pub refused_count: i64,
}

/// A recorded approval on the way to a two-approver decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ApprovalView {
    pub approver: String,
    pub at: i64,
    pub grant: ApproveRequest,
}

/// A pending (or decided) connection request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RequestView {
    pub id: String,
    pub status: RequestStatus,
    pub client: ClientRef,
    pub resource_app: AppRef,
    pub scopes: Vec<ScopeView>,
    pub highest_risk: Option<Risk>,
    pub sensitive: bool,
    pub resources: Vec<String>,
    pub users: Vec<RequestUserView>,
    pub refused_count: i64,
    pub first_seen: i64,
    pub last_seen: i64,
    pub justification: Option<String>,
    pub approvals: Vec<ApprovalView>,
    pub decided_by: Vec<String>,
    pub decision_reason: Option<String>,
    /// The connection created by the approval, once approved.
    pub connection_id: Option<String>,
    pub version: i64,
    /// Set when the request asks to confirm a live connection whose app made
    /// a granted scope riskier or sensitive: the connection keeps working as
    /// approved until this is decided (approve: it stays; deny: it is revoked).
    #[serde(default)]
    pub reapproval: Option<Reapproval>,
    /// A decided request whose scopes' risk or sensitivity the app has
    /// changed since: it was decided under rules that no longer hold.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules_changed: Vec<ScopeChange>,
}

/// What a re-approval is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Reapproval {
    pub connection_id: String,
    pub changes: Vec<ScopeChange>,
}

/// A catalogue change to a scope a connection grants.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ScopeChange {
    pub scope: String,
    pub risk_before: Risk,
    pub risk_after: Risk,
    pub sensitive_before: bool,
    pub sensitive_after: bool,
}

/// Approve, possibly narrowing what was asked. Every field left out keeps the
/// request's own value (all requested scopes, no group limit, no expiry).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApproveRequest {
    /// A subset of the requested scopes; all of them when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_groups: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_resources: Vec<String>,
    /// Unix seconds after which the connection expires (time-bound approval).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
    /// ID-JAG lifetime in seconds (1–300).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 300))]
    pub id_jag_lifetime: Option<u64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub step_up: Vec<StepUpRule>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 2000))]
    pub justification: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DenyRequest {
    #[schemars(length(min = 1, max = 2000))]
    pub reason: String,
}

/// The outcome of an approve or deny.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DecisionResult {
    pub request: RequestView,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection: Option<ConnectionView>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionStatus {
    Active,
    Suspended,
    Revoked,
    Expired,
}

impl ConnectionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Suspended => "suspended",
            Self::Revoked => "revoked",
            Self::Expired => "expired",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "active" => Self::Active,
            "suspended" => Self::Suspended,
            "revoked" => Self::Revoked,
            "expired" => Self::Expired,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReceiptStatus {
    Pending,
    Delivered,
    Failed,
}

/// One receiver's acknowledgement of a revocation event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ReceiptView {
    pub event_id: String,
    pub receiver: String,
    pub status: ReceiptStatus,
    pub attempts: i64,
    pub created_at_ms: i64,
    pub delivered_at_ms: Option<i64>,
    /// From the revoke being committed to the receiver's acknowledgement.
    pub latency_ms: Option<i64>,
    pub last_error: Option<String>,
}

/// An approved client → resource app relationship.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ConnectionView {
    pub id: String,
    pub client: ClientRef,
    pub resource_app: AppRef,
    pub status: ConnectionStatus,
    pub scopes: ScopeCondition,
    /// The scopes in effect, with their risk.
    pub granted_scopes: Vec<ScopeView>,
    pub highest_risk: Option<Risk>,
    pub allowed_groups: Vec<String>,
    /// Users an access review removed from this connection.
    pub excluded_users: Vec<String>,
    pub allowed_resources: Vec<String>,
    pub step_up: Vec<StepUpRule>,
    pub id_jag_lifetime: Option<u64>,
    pub expires_at: Option<i64>,
    pub approved_by: Vec<String>,
    pub justification: Option<String>,
    pub request_id: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub last_used_at: Option<i64>,
    pub status_reason: Option<String>,
    pub version: i64,
    pub receipts: Vec<ReceiptView>,
    /// The attestation asked before the approval expires, once asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attestation: Option<AttestationView>,
}

/// Change a connection; fields left out stay as they are.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ModifyConnection {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_groups: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_resources: Option<Vec<String>>,
    /// `Some(None)` is not expressible in JSON merge terms; use 0 to clear.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_jag_lifetime: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step_up: Option<Vec<StepUpRule>>,
    #[schemars(length(min = 1, max = 2000))]
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReasonBody {
    #[schemars(length(min = 1, max = 2000))]
    pub reason: String,
}

/// Revoke every live connection matching one selector (the help-desk kill switch).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkRevoke {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_app: Option<String>,
    /// Revokes the user's live access everywhere: their sessions at resource apps are
    /// killed and new exchanges for them are refused until an admin lifts the block.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[schemars(length(min = 1, max = 2000))]
    pub reason: String,
    /// Only count, change nothing (the confirmation step).
    #[serde(default)]
    pub dry_run: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct BulkRevokeResult {
    pub dry_run: bool,
    pub connections_revoked: u64,
    pub connection_ids: Vec<String>,
    pub users_blocked: u64,
    /// Revocation events queued for resource apps' receivers.
    pub events_queued: u64,
    /// The record of what this kill turned off (`/kills/{id}`), from which it
    /// can be reinstated; none for a dry run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kill_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct UserView {
    pub username: String,
    pub name: Option<String>,
    pub email: Option<String>,
    pub groups: Vec<String>,
    pub roles: Vec<Role>,
    pub mfa_enrolled: bool,
    pub blocked: bool,
    /// False once deprovisioned (SCIM `active: false`): every exchange refused.
    #[serde(default = "yes")]
    pub active: bool,
    /// Where the person came from.
    #[serde(default)]
    pub source: DirectorySource,
}

fn yes() -> bool {
    true
}

/// Where a person or group in the directory came from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DirectorySource {
    /// The IdP's configuration file (seeded at first start).
    #[default]
    Config,
    /// A SCIM provisioning connector.
    Scim,
    /// Sign-in through an upstream OIDC provider.
    Upstream,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct GroupView {
    pub name: String,
    pub members: Vec<String>,
    pub roles: Vec<Role>,
    #[serde(default)]
    pub source: DirectorySource,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ClientView {
    pub client_id: String,
    pub name: String,
    pub description: Option<String>,
    pub owners: Vec<String>,
    /// The person accountable for it beside its owners; neither may decide its
    /// requests or review its access.
    #[serde(default)]
    pub sponsor: Option<String>,
    /// Who becomes its owner, in order, when the last active owner leaves.
    #[serde(default)]
    pub successors: Vec<String>,
    pub auth_method: String,
    pub connections: u64,
    pub pending_requests: u64,
    /// An AI client none of whose owners is an active person of the directory
    /// (deprovisioned, deleted, or never named): nobody is accountable for it.
    #[serde(default)]
    pub orphaned: bool,
    /// Where it was registered: the config file (seeded) or the admin API.
    #[serde(default)]
    pub origin: RegistryOrigin,
    /// Its version (the `ETag` of `/clients/{client_id}` writes).
    #[serde(default)]
    pub version: i64,
    /// Unix seconds it was retired at; a retired client is honoured nowhere.
    #[serde(default)]
    pub retired_at: Option<i64>,
    /// The redirect URIs it may use at `/authorize`.
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    /// During a secret rotation's overlap: until when the previous secret is
    /// still accepted (Unix seconds).
    #[serde(default)]
    pub previous_secret_until: Option<i64>,
}

/// Where a client or resource app was registered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RegistryOrigin {
    /// The IdP's configuration file (seeded at a start when absent).
    #[default]
    Config,
    /// Registered through the admin API.
    Admin,
}

/// How a registered AI client authenticates at the token endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "method", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientCredential {
    /// A secret the IdP generates and shows once (`client_secret_basic` or
    /// `client_secret_post`).
    ClientSecret,
    /// `private_key_jwt` with the public keys of this JWK Set (EC P-256 or
    /// Ed25519), or those the client publishes at `jwks_uri` (one of the two).
    PrivateKeyJwt {
        #[serde(default)]
        jwks: Option<serde_json::Value>,
        #[serde(default)]
        jwks_uri: Option<String>,
    },
}

/// `POST /clients`: register an AI client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterClient {
    /// 3 to 64 of `a-z 0-9 - _ .`; generated when absent.
    #[serde(default)]
    pub client_id: Option<String>,
    #[schemars(length(min = 1, max = 100))]
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    /// Usernames of the people accountable for it (at least one).
    #[schemars(length(min = 1))]
    pub owners: Vec<String>,
    /// The person accountable for it beside its owners (an active person).
    #[serde(default)]
    pub sponsor: Option<String>,
    /// Who takes over, in order, when the last active owner leaves (at most 10).
    #[serde(default)]
    pub successors: Vec<String>,
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    pub credential: ClientCredential,
}

/// `PATCH /clients/{client_id}`: what changes (absent: unchanged).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateClient {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub owners: Option<Vec<String>>,
    /// A new sponsor; `""` removes it.
    #[serde(default)]
    pub sponsor: Option<String>,
    /// The whole new list of successors, in order.
    #[serde(default)]
    pub successors: Option<Vec<String>>,
    #[serde(default)]
    pub redirect_uris: Option<Vec<String>>,
    /// New public keys of a `private_key_jwt` client (replacing its JWKS URL).
    #[serde(default)]
    pub jwks: Option<serde_json::Value>,
    /// A new JWKS URL of a `private_key_jwt` client (replacing its keys).
    #[serde(default)]
    pub jwks_uri: Option<String>,
}

/// `POST /clients/{client_id}/secret`: a new secret; the previous one keeps
/// working for `overlap` seconds so the client can switch without downtime.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateClientSecret {
    /// Seconds the previous secret stays valid (0 to 30 days; 0 ends it now).
    #[schemars(range(min = 0, max = 2_592_000))]
    pub overlap: u64,
}

/// `POST /clients/{client_id}/retire` and `POST /resource-apps/{id}/retire`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Retirement {
    #[schemars(length(min = 1, max = 2000))]
    pub reason: String,
}

/// A client with its secret, returned once: at registration and at rotation.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ClientWithSecret {
    pub client: ClientView,
    /// Shown this once; only its hash is kept. Absent for `private_key_jwt`.
    pub client_secret: Option<String>,
}

impl std::fmt::Debug for ClientWithSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientWithSecret")
            .field("client", &self.client)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ResourceAppView {
    pub id: String,
    pub name: String,
    pub issuer: String,
    pub mcp_servers: Vec<String>,
    pub scopes: Vec<ScopeView>,
    pub receivers: Vec<String>,
    pub owners: Vec<String>,
    /// IdP client id → the client's id at this app's authorization server.
    #[serde(default)]
    pub client_ids: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    pub origin: RegistryOrigin,
    /// Its version (the `ETag` of `/resource-apps/{id}` writes).
    #[serde(default)]
    pub version: i64,
    /// Unix seconds it was retired at; a retired app is no audience any more.
    #[serde(default)]
    pub retired_at: Option<i64>,
}

/// `POST /resource-apps`: register a resource app (an MCP server's
/// authorization server) and its scope catalogue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterResourceApp {
    /// 2 to 40 of `a-z 0-9 -`; never reused.
    pub id: String,
    #[schemars(length(min = 1, max = 100))]
    pub name: String,
    /// Its authorization server's issuer: the `audience` of token exchanges
    /// (https, or http on loopback; no trailing slash; unique).
    pub issuer: String,
    /// The MCP servers it protects: the (audience, resource) pairs the IdP keeps.
    #[schemars(length(min = 1, max = 20))]
    pub mcp_servers: Vec<String>,
    #[serde(default)]
    pub client_ids: std::collections::BTreeMap<String, String>,
    #[schemars(length(min = 1, max = 200))]
    pub scopes: Vec<ScopeView>,
    /// Where revocation events (RFC 8417 SETs) are pushed.
    #[serde(default)]
    pub receivers: Vec<String>,
    #[serde(default)]
    pub owners: Vec<String>,
}

/// `PATCH /resource-apps/{id}`: what changes (absent: unchanged). The issuer
/// does not change: a new audience is a new app.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateResourceApp {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub mcp_servers: Option<Vec<String>>,
    #[serde(default)]
    pub client_ids: Option<std::collections::BTreeMap<String, String>>,
    /// The whole catalogue; a scope a live connection grants cannot be dropped.
    #[serde(default)]
    pub scopes: Option<Vec<ScopeView>>,
    #[serde(default)]
    pub receivers: Option<Vec<String>>,
    #[serde(default)]
    pub owners: Option<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AuditEventView {
    pub seq: i64,
    pub id: String,
    pub at_ms: i64,
    pub kind: String,
    pub actor: Option<String>,
    pub client_id: Option<String>,
    pub subject: Option<String>,
    pub target: Option<String>,
    pub outcome: AuditOutcome,
    pub reason: Option<String>,
    pub detail: serde_json::Value,
    pub prev_hash: String,
    pub hash: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ChainReportView {
    pub ok: bool,
    pub events: i64,
    pub first_broken: Option<i64>,
    pub head: String,
}

/// Who is calling, as the API sees them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct WhoAmI {
    pub subject: String,
    pub roles: Vec<Role>,
    /// `urn:gatehouse:acr:mfa` when the sign-in used a second factor.
    pub acr: Option<String>,
    pub auth_time: Option<i64>,
    /// `session` (signed in) or `api_token`.
    pub kind: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApiToken {
    #[schemars(length(min = 1, max = 100))]
    pub name: String,
    #[schemars(length(min = 1))]
    pub roles: Vec<Role>,
    /// Lifetime in seconds (at most a year).
    #[schemars(range(min = 1, max = 31_536_000))]
    pub expires_in: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ApiTokenView {
    pub id: String,
    pub name: String,
    pub roles: Vec<Role>,
    pub created_by: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub revoked: bool,
    pub last_used_at: Option<i64>,
}

/// Returned once, at creation: the only time the secret is shown.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ApiTokenCreated {
    pub token: String,
    pub info: ApiTokenView,
}

impl std::fmt::Debug for ApiTokenCreated {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiTokenCreated")
            .field("token", &"<redacted>")
            .field("info", &self.info)
            .finish()
    }
}

/// What a change event is about (the event stream's event names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum ChangeKind {
    #[serde(rename = "request.created")]
    RequestCreated,
    #[serde(rename = "request.updated")]
    RequestUpdated,
    #[serde(rename = "request.decided")]
    RequestDecided,
    #[serde(rename = "connection.updated")]
    ConnectionUpdated,
    #[serde(rename = "connection.revoked")]
    ConnectionRevoked,
    #[serde(rename = "receipt.updated")]
    ReceiptUpdated,
    #[serde(rename = "review.created")]
    ReviewCreated,
    #[serde(rename = "review.updated")]
    ReviewUpdated,
    #[serde(rename = "user.blocked")]
    UserBlocked,
    /// A kill's reinstatement lifted a user's block.
    #[serde(rename = "user.unblocked")]
    UserUnblocked,
    /// A person or group was provisioned, changed or removed (SCIM); the
    /// target is the username or group name.
    #[serde(rename = "directory.updated")]
    DirectoryUpdated,
    /// An AI client or resource app was registered, changed or retired; the
    /// target is its id.
    #[serde(rename = "registry.updated")]
    RegistryUpdated,
}

impl ChangeKind {
    pub const ALL: [ChangeKind; 12] = [
        ChangeKind::RequestCreated,
        ChangeKind::RequestUpdated,
        ChangeKind::RequestDecided,
        ChangeKind::ConnectionUpdated,
        ChangeKind::ConnectionRevoked,
        ChangeKind::ReceiptUpdated,
        ChangeKind::ReviewCreated,
        ChangeKind::ReviewUpdated,
        ChangeKind::UserBlocked,
        ChangeKind::UserUnblocked,
        ChangeKind::DirectoryUpdated,
        ChangeKind::RegistryUpdated,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::RequestCreated => "request.created",
            ChangeKind::RequestUpdated => "request.updated",
            ChangeKind::RequestDecided => "request.decided",
            ChangeKind::ConnectionUpdated => "connection.updated",
            ChangeKind::ConnectionRevoked => "connection.revoked",
            ChangeKind::ReceiptUpdated => "receipt.updated",
            ChangeKind::ReviewCreated => "review.created",
            ChangeKind::ReviewUpdated => "review.updated",
            ChangeKind::UserBlocked => "user.blocked",
            ChangeKind::UserUnblocked => "user.unblocked",
            ChangeKind::DirectoryUpdated => "directory.updated",
            ChangeKind::RegistryUpdated => "registry.updated",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// One server-sent event of `/admin/v1/events`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ChangeEvent {
    pub id: i64,
    pub kind: ChangeKind,
    pub target: String,
    pub at_ms: i64,
}

/// Filters of `GET /connections` (query parameters; all optional).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ConnectionQuery {
    /// One status, or `all` (the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<ConnectionStatusFilter>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_app: Option<String>,
    /// Connections this user can use (by group restriction).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Connections restricted to this group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub risk: Option<Risk>,
    /// Only connections unused for at least this many seconds (or never used).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unused_for: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub q: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sort: Option<ConnectionSort>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<usize>,
}

/// Filters of `GET /audit` and `/audit/export` (query parameters; all optional).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AuditQuery {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<AuditOutcome>,
    /// Unix milliseconds, inclusive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until_ms: Option<i64>,
    /// Oldest first (the default) or newest first; not for exports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<AuditOrder>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<usize>,
}

/// Filters of `GET /connection-requests` (query parameters; all optional).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RequestQuery {
    /// One status, or `all`; `pending` (the default) includes requests
    /// awaiting their second approval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<RequestStatusFilter>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_app: Option<String>,
    /// Minimum highest risk: read, write, destructive, admin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub risk: Option<Risk>,
    /// Only requests first seen at least this many seconds ago.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_age: Option<i64>,
    /// Free text over client, app, users, scopes and justification.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub q: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sort: Option<RequestSort>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<usize>,
}

/// `GET /audit/export`: the format (`jsonl`, the default, or `csv`) and the
/// same filters as `GET /audit`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ExportQuery {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<AuditExportFormat>,
    #[serde(flatten)]
    pub filter: AuditQuery,
}

/// The `format` of `ExportQuery` alone (how the server reads it; see there).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ExportFormatQuery {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<AuditExportFormat>,
}

/// `GET /reviews/{id}/items` (query parameters; all optional).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ItemQuery {
    /// Only this reviewer's items.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reviewer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<ItemState>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<usize>,
}

/// `GET /reviews/{id}/report`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ReportQuery {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<ReportFormat>,
}

/// A closed set spelled in query strings and stored rows: its wire names, the
/// one place they are spelled (serde's), and the parse that refuses the rest.
macro_rules! wire_enum {
    ($(#[$m:meta])* $vis:vis enum $name:ident { $($(#[$vm:meta])* $variant:ident = $wire:literal,)+ }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
        $vis enum $name {
            $($(#[$vm])* #[serde(rename = $wire)] $variant,)+
        }
        impl $name {
            pub const ALL: &'static [Self] = &[$(Self::$variant,)+];
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $wire,)+ }
            }
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($wire => Some(Self::$variant),)+ _ => None }
            }
        }
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

wire_enum! {
    /// `status` of `GET /connection-requests`.
    pub enum RequestStatusFilter {
        /// Pending, including those awaiting their second approval.
        Pending = "pending",
        AwaitingSecondApproval = "awaiting_second_approval",
        Approved = "approved",
        Denied = "denied",
        Expired = "expired",
        All = "all",
    }
}

wire_enum! {
    /// `status` of `GET /connections` and of a campaign's scope.
    pub enum ConnectionStatusFilter {
        Active = "active",
        Suspended = "suspended",
        Revoked = "revoked",
        Expired = "expired",
        All = "all",
    }
}

impl ConnectionStatusFilter {
    /// The one status it names (`None` for `all`).
    pub fn status(self) -> Option<ConnectionStatus> {
        match self {
            Self::Active => Some(ConnectionStatus::Active),
            Self::Suspended => Some(ConnectionStatus::Suspended),
            Self::Revoked => Some(ConnectionStatus::Revoked),
            Self::Expired => Some(ConnectionStatus::Expired),
            Self::All => None,
        }
    }
}

impl From<ConnectionStatus> for ConnectionStatusFilter {
    fn from(s: ConnectionStatus) -> Self {
        match s {
            ConnectionStatus::Active => Self::Active,
            ConnectionStatus::Suspended => Self::Suspended,
            ConnectionStatus::Revoked => Self::Revoked,
            ConnectionStatus::Expired => Self::Expired,
        }
    }
}

wire_enum! {
    /// `sort` of `GET /connection-requests`.
    pub enum RequestSort {
        /// Oldest first (the default).
        Age = "age",
        /// Newest first.
        NewestFirst = "-age",
        /// Most recently refused first.
        LastSeen = "last_seen",
        /// Most refusals first.
        Refused = "refused",
        /// Highest risk first.
        Risk = "risk",
        /// Most users first.
        Users = "users",
    }
}

wire_enum! {
    /// `sort` of `GET /connections`.
    pub enum ConnectionSort {
        /// Newest first (the default).
        Created = "created",
        /// Most recently used first.
        LastUsed = "last_used",
        /// By the client's name.
        Client = "client",
        /// By the resource app's name.
        App = "app",
        /// Highest risk first.
        Risk = "risk",
    }
}

wire_enum! {
    /// `order` of `GET /audit`.
    pub enum AuditOrder {
        /// Oldest first (the default).
        Asc = "asc",
        /// Newest first.
        Desc = "desc",
    }
}

wire_enum! {
    /// How an audited attempt ended.
    pub enum AuditOutcome {
        Success = "success",
        Refused = "refused",
        /// Refused before any check, by the sign-in back-off.
        Throttled = "throttled",
        Error = "error",
    }
}

wire_enum! {
    /// `format` of `GET /audit/export`.
    pub enum AuditExportFormat {
        /// One JSON event per line (the default).
        Jsonl = "jsonl",
        Csv = "csv",
    }
}

wire_enum! {
    /// What `POST /connections/{id}/{action}` does to a connection.
    pub enum ConnectionAction {
        Suspend = "suspend",
        Resume = "resume",
        Revoke = "revoke",
    }
}

wire_enum! {
    /// `format` of `GET /reviews/{id}/report`.
    pub enum ReportFormat {
        /// The default.
        Csv = "csv",
        Pdf = "pdf",
    }
}

wire_enum! {
    /// `state` of `GET /reviews/{id}/items`.
    pub enum ItemState {
        Open = "open",
        Decided = "decided",
    }
}

/// A list query as the pairs of its query string.
pub trait QueryPairs: Serialize {
    fn pairs(&self) -> Vec<(String, String)> {
        query_pairs(self)
    }
}

impl QueryPairs for ConnectionQuery {}
impl QueryPairs for AuditQuery {}
impl QueryPairs for RequestQuery {}
impl QueryPairs for ItemQuery {}
impl QueryPairs for ReportQuery {}
impl QueryPairs for ExportQuery {}
impl QueryPairs for FindingQuery {}

/// A flat struct of optional scalars as query pairs (keys are the field names).
fn query_pairs<T: Serialize + ?Sized>(q: &T) -> Vec<(String, String)> {
    let serde_json::Value::Object(map) = serde_json::to_value(q).expect("a flat struct") else {
        return vec![];
    };
    map.into_iter()
        .map(|(k, v)| {
            let v = match v {
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            };
            (k, v)
        })
        .collect()
}

// ---- access reviews ----

/// What happens to items nobody decided by the due date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReviewDefault {
    Keep,
    Revoke,
    /// Keep or revoke as the usage-based recommendation says.
    Recommendation,
}

/// Start a campaign: one item per connection matching `scope`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCampaign {
    pub name: String,
    /// Which connections (active and suspended ones matching this filter).
    #[serde(default)]
    pub scope: ConnectionQuery,
    /// Named reviewers, assigned in turn; empty: each resource app's owners.
    #[serde(default)]
    pub reviewers: Vec<String>,
    /// Who reviews an item nobody else may (every candidate is conflicted).
    pub fallback_reviewer: String,
    /// Unix seconds; now when absent.
    #[serde(default)]
    pub starts_at: Option<i64>,
    pub due_at: i64,
    pub default_action: ReviewDefault,
    /// One item per user who used a connection in the last 90 days (a revoke
    /// then removes only that user); connections nobody used get one item.
    #[serde(default)]
    pub per_user: bool,
    /// `agent`: every connection of one AI client (`scope.client_id`), in one
    /// review for its owners (no named reviewers).
    #[serde(default)]
    pub kind: CampaignKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CampaignStatus {
    Active,
    Completed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ReviewerProgress {
    pub reviewer: String,
    pub items: u64,
    pub decided: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CampaignView {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub kind: CampaignKind,
    pub scope: ConnectionQuery,
    pub reviewers: Vec<String>,
    pub fallback_reviewer: String,
    pub starts_at: i64,
    pub due_at: i64,
    pub default_action: ReviewDefault,
    pub per_user: bool,
    pub status: CampaignStatus,
    pub created_by: String,
    pub created_at: i64,
    pub completed_at: Option<i64>,
    pub items: u64,
    pub decided: u64,
    pub progress: Vec<ReviewerProgress>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReviewDecision {
    Keep,
    Revoke,
    /// Keep with fewer scopes.
    Modify,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ReviewItemView {
    pub id: String,
    pub campaign_id: String,
    pub connection_id: String,
    pub client: ClientRef,
    pub resource_app: AppRef,
    /// For a per-user item: whose access through the connection.
    pub username: Option<String>,
    pub granted_scopes: Vec<String>,
    pub reviewer: String,
    /// `keep` or `revoke`, from usage.
    pub recommendation: ReviewDecision,
    pub recommendation_reason: String,
    pub last_used_at: Option<i64>,
    pub exchanges_30d: u64,
    pub exchanges_90d: u64,
    pub decision: Option<ReviewDecision>,
    pub decided_by: Option<String>,
    pub decided_at: Option<i64>,
    pub reason: Option<String>,
    /// The scopes kept by a `modify`.
    pub scopes_after: Option<Vec<String>>,
    /// Decided by the campaign's default action at the due date.
    pub defaulted: bool,
    /// What was done: `kept`, `revoked`, `narrowed`, `already revoked`.
    pub remediation: Option<String>,
    pub reassign_note: Option<String>,
}

/// Decide one or more items the same way.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewDecisions {
    #[schemars(length(min = 1, max = 1000))]
    pub items: Vec<String>,
    pub decision: ReviewDecision,
    /// For `modify`: the scopes to keep (a subset of the granted ones).
    #[serde(default)]
    pub scopes: Option<Vec<String>>,
    /// Required where the decision goes against an item's recommendation.
    #[serde(default)]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Reassign {
    pub to: String,
    pub note: String,
}

// ---- the whole picture ----

/// ID-JAGs issued for one client at one resource app in the last 30 days.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct UsageRow {
    pub client_id: String,
    pub resource_app: String,
    pub exchanges_30d: u64,
    pub last_at_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct IssuanceBucket {
    /// The hour's start, Unix milliseconds.
    pub hour_ms: i64,
    pub client_id: String,
    pub count: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DecisionDay {
    /// The day's start (UTC), Unix milliseconds.
    pub day_ms: i64,
    pub approved: u64,
    pub denied: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AgeBucket {
    pub label: String,
    pub count: u64,
}

/// Counts for the relationship map and the charts, from the audit log and the queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct StatsView {
    pub usage: Vec<UsageRow>,
    /// The last 24 hours, per hour and client.
    pub issuance: Vec<IssuanceBucket>,
    /// The last 14 days.
    pub decisions: Vec<DecisionDay>,
    pub pending_by_age: Vec<AgeBucket>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Serde, `as_str` and `parse` spell every member the same way, and a
    /// query naming a value outside the set is refused, not defaulted.
    fn round_trips<T>(all: &[T], parse: fn(&str) -> Option<T>, as_str: fn(T) -> &'static str)
    where
        T: Copy + PartialEq + std::fmt::Debug + Serialize + serde::de::DeserializeOwned,
    {
        for &v in all {
            let wire = serde_json::to_value(v).unwrap();
            assert_eq!(wire, serde_json::json!(as_str(v)));
            assert_eq!(parse(as_str(v)), Some(v));
            assert_eq!(serde_json::from_value::<T>(wire).unwrap(), v);
        }
        assert_eq!(parse("sideways"), None);
        assert!(serde_json::from_value::<T>(serde_json::json!("sideways")).is_err());
    }

    #[test]
    fn every_closed_set_of_the_list_queries_round_trips() {
        round_trips(
            RequestStatusFilter::ALL,
            RequestStatusFilter::parse,
            RequestStatusFilter::as_str,
        );
        round_trips(
            ConnectionStatusFilter::ALL,
            ConnectionStatusFilter::parse,
            ConnectionStatusFilter::as_str,
        );
        round_trips(RequestSort::ALL, RequestSort::parse, RequestSort::as_str);
        round_trips(
            ConnectionSort::ALL,
            ConnectionSort::parse,
            ConnectionSort::as_str,
        );
        round_trips(AuditOrder::ALL, AuditOrder::parse, AuditOrder::as_str);
        round_trips(AuditOutcome::ALL, AuditOutcome::parse, AuditOutcome::as_str);
        round_trips(
            AuditExportFormat::ALL,
            AuditExportFormat::parse,
            AuditExportFormat::as_str,
        );
        round_trips(ReportFormat::ALL, ReportFormat::parse, ReportFormat::as_str);
        round_trips(ItemState::ALL, ItemState::parse, ItemState::as_str);
        assert_eq!(RequestSort::NewestFirst.as_str(), "-age");
    }

    #[test]
    fn a_typed_query_becomes_the_query_string_the_server_reads() {
        let q = ExportQuery {
            format: Some(AuditExportFormat::Csv),
            filter: AuditQuery {
                outcome: Some(AuditOutcome::Refused),
                order: Some(AuditOrder::Desc),
                since_ms: Some(5),
                ..Default::default()
            },
        };
        let mut pairs = q.pairs();
        pairs.sort();
        let p = |k: &str, v: &str| (k.to_string(), v.to_string());
        assert_eq!(
            pairs,
            vec![
                p("format", "csv"),
                p("order", "desc"),
                p("outcome", "refused"),
                p("since_ms", "5")
            ]
        );
        for s in [ConnectionStatus::Active, ConnectionStatus::Revoked] {
            assert_eq!(ConnectionStatusFilter::from(s).status(), Some(s));
        }
        assert_eq!(ConnectionStatusFilter::All.status(), None);
    }
}

/// `GET`/`PUT /policies`: the lifecycle policies the IdP enforces on its own
/// clock (each run in batches; every action an audit event by
/// `system:<policy>`). Absent values switch a policy off.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LifecyclePolicies {
    /// An active connection that issued no ID-JAG for this many days is
    /// suspended (resuming it takes an approver).
    #[serde(default)]
    #[schemars(range(min = 1, max = 3650))]
    pub inactivity_days: Option<u32>,
    /// How many days before that suspension the client's owners are warned.
    #[serde(default = "default_warning_days")]
    #[schemars(range(min = 0, max = 365))]
    pub inactivity_warning_days: u32,
    /// A pending request no refused exchange touched for this many days
    /// expires; a refused exchange after that opens a fresh request.
    #[serde(default)]
    #[schemars(range(min = 1, max = 3650))]
    pub pending_request_days: Option<u32>,
    /// The active connections of a client with no active owner left are
    /// suspended this many days after it was orphaned (resuming takes an approver).
    #[serde(default)]
    #[schemars(range(min = 1, max = 3650))]
    pub orphan_grace_days: Option<u32>,
    /// How long an approval lasts when the approver sets no expiry, by the
    /// highest risk it grants.
    #[serde(default)]
    pub approval_days: ApprovalLifetimes,
    /// How many days before a time-bound approval expires its client's owners
    /// are asked to attest that it is still needed (an approver then renews it
    /// or lets it lapse); absent: they are not asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 365))]
    pub attestation_days: Option<u32>,
}

/// Days an approval lasts by the highest risk it grants; absent: no default
/// (the approval lasts until revoked).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApprovalLifetimes {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 3650))]
    pub read: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 3650))]
    pub write: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 3650))]
    pub destructive: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 3650))]
    pub admin: Option<u32>,
}

impl ApprovalLifetimes {
    /// The default lifetime, in days, of an approval whose highest risk is `r`.
    pub fn for_risk(&self, r: Risk) -> Option<u32> {
        match r {
            Risk::Read => self.read,
            Risk::Write => self.write,
            Risk::Destructive => self.destructive,
            Risk::Admin => self.admin,
        }
    }
    pub fn all(&self) -> [Option<u32>; 4] {
        [self.read, self.write, self.destructive, self.admin]
    }
}

fn default_warning_days() -> u32 {
    7
}

/// Every policy off (the warning lead at its default).
impl Default for LifecyclePolicies {
    fn default() -> Self {
        LifecyclePolicies {
            inactivity_days: None,
            inactivity_warning_days: default_warning_days(),
            pending_request_days: None,
            orphan_grace_days: None,
            approval_days: ApprovalLifetimes::default(),
            attestation_days: None,
        }
    }
}

/// The policies with their version (the `ETag` of `PUT /policies`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PoliciesView {
    pub policies: LifecyclePolicies,
    /// 0 until an admin first sets them.
    pub version: i64,
    /// Unix seconds of the IdP's clock now (what the policies are evaluated on).
    pub now: i64,
}

/// What one evaluation of the lifecycle policies did (`POST /policies/run`,
/// and the IdP's own periodic run).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct PolicyRunReport {
    /// Pending requests expired.
    pub requests_expired: u64,
    /// Connections whose owners were warned of a coming suspension.
    pub inactivity_warnings: u64,
    /// Connections suspended for inactivity.
    pub connections_suspended: u64,
    /// Connections of orphaned clients suspended after the grace period.
    #[serde(default)]
    pub orphan_suspensions: u64,
    /// Approvals whose owners were asked to attest they are still needed.
    #[serde(default)]
    pub attestations_requested: u64,
    /// Approvals that reached their expiry unrenewed.
    #[serde(default)]
    pub approvals_lapsed: u64,
}

/// The owners' answer to "is this approval still needed?", asked before it
/// expires, and the approver's decision on renewing it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AttestationView {
    /// The expiry the owners were asked about (Unix seconds).
    pub expires_at: i64,
    pub asked_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attested_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attested_at: Option<i64>,
    /// The owner's answer, once given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub still_needed: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attest_reason: Option<String>,
    /// The approver's decision, once made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renewal: Option<RenewalDecision>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision_reason: Option<String>,
}

wire_enum! {
    /// What an approver decided about an approval coming to its end.
    pub enum RenewalDecision {
        /// Extended to a new expiry.
        Renewed = "renewed",
        /// Reviewed and left to lapse at its expiry.
        NotRenewed = "not_renewed",
    }
}

/// `POST /connections/{id}/attest`: an owner of the connection's client says
/// whether the approval is still needed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AttestBody {
    pub still_needed: bool,
    #[schemars(length(min = 1, max = 2000))]
    pub reason: String,
}

/// `POST /connections/{id}/renew`: an approver renews an approval (to
/// `expires_at`, or the policy's default lifetime from now) or decides to let
/// it lapse.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RenewBody {
    pub decision: RenewalDecision,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
    #[schemars(length(min = 1, max = 2000))]
    pub reason: String,
}

wire_enum! {
    /// How a notification channel is reached.
    pub enum ChannelKind {
        /// A JSON body signed with HMAC-SHA256 over `<timestamp>.<body>`
        /// (`Gatehouse-Signature: t=…,v1=…`) with the secret shown at creation.
        Webhook = "webhook",
        /// A Slack-compatible incoming webhook (`{"text": …}`); its URL is the secret.
        Slack = "slack",
    }
}

wire_enum! {
    /// What a channel is told about. Every notification carries a
    /// `gatehouse://` link to the screen it is about, never a token or a secret.
    pub enum NotificationKind {
        /// An AI client asked for a connection nobody has yet: an approver's turn.
        RequestPending = "request.pending",
        /// One approver approved a sensitive grant; a second one must.
        RequestAwaitingSecondApproval = "request.awaiting_second_approval",
        /// A review campaign started: its reviewers have items due.
        ReviewItemsDue = "review.items_due",
        /// An AI client's last active owner left and no successor was left.
        ClientOrphaned = "client.orphaned",
        /// An owner left and a successor took the client over.
        ClientOwnerChanged = "client.owner_changed",
        /// A lifecycle policy will act soon (an idle connection's suspension).
        PolicyWarning = "policy.warning",
    }
}

/// `POST /notification-channels`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateChannel {
    #[schemars(length(min = 1, max = 100))]
    pub name: String,
    pub kind: ChannelKind,
    /// Where to POST (https, or http on loopback).
    pub url: String,
    /// What it is told about; empty: everything.
    #[serde(default)]
    pub events: Vec<NotificationKind>,
}

/// A notification channel (never its secret; a Slack URL only masked).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ChannelView {
    pub id: String,
    pub name: String,
    pub kind: ChannelKind,
    pub url: String,
    pub events: Vec<NotificationKind>,
    pub created_by: String,
    pub created_at: i64,
}

/// A new channel with its signing secret, shown this once.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ChannelCreated {
    pub channel: ChannelView,
    /// The HMAC-SHA256 key of a webhook's signatures; absent for Slack.
    pub signing_secret: Option<String>,
}

impl std::fmt::Debug for ChannelCreated {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChannelCreated")
            .field("channel", &self.channel)
            .field(
                "signing_secret",
                &self.signing_secret.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

wire_enum! {
    /// Where a delivery stands.
    pub enum DeliveryStatus {
        Pending = "pending",
        Delivered = "delivered",
        /// Gave up after the last retry.
        Failed = "failed",
        /// Its channel was deleted first.
        Dropped = "dropped",
    }
}

/// One delivery of a notification to a channel, with its receipt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DeliveryView {
    pub id: String,
    pub event: NotificationKind,
    /// The audit event it came from.
    pub audit_seq: i64,
    pub status: DeliveryStatus,
    pub attempts: i64,
    pub created_at_ms: i64,
    /// When it is tried next (while pending).
    pub next_attempt_ms: i64,
    pub delivered_at_ms: Option<i64>,
    /// The receiver's last HTTP status.
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
}

wire_enum! {
    /// What a kill switch was pulled on.
    pub enum KillSelector {
        Client = "client",
        ResourceApp = "resource_app",
        User = "user",
    }
}

/// One connection a kill revoked, and what became of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct KilledConnection {
    pub connection_id: String,
    pub client: ClientRef,
    pub resource_app: AppRef,
    /// Its status before the kill (active or suspended): what a reinstatement restores.
    pub status_before: ConnectionStatus,
    pub status_now: ConnectionStatus,
    /// Turned back on by the reinstatement.
    pub reinstated: bool,
    /// Why a reinstatement would leave it (or left it) off, if it would.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub left_off: Option<String>,
}

/// How far the events of a kill (and of its reinstatement) have reached the
/// resource apps' receivers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DeliveryProgress {
    pub queued: u64,
    pub delivered: u64,
    pub pending: u64,
    pub failed: u64,
    /// Every receipt: receiver, attempts, last error.
    pub receipts: Vec<ReceiptView>,
}

/// `GET /kills/{id}`: what one kill switch turned off, its deliveries, and
/// its reinstatement once made. Its `version` is the ETag of `reinstate`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct KillView {
    pub id: String,
    pub selector: KillSelector,
    /// The client id, resource app id or username.
    pub target: String,
    pub reason: String,
    pub killed_by: String,
    pub killed_at: i64,
    /// The user this kill blocked everywhere (a user selector).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blocked_user: Option<String>,
    pub connections: Vec<KilledConnection>,
    pub deliveries: DeliveryProgress,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reinstated_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reinstated_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reinstate_reason: Option<String>,
    pub version: i64,
}

wire_enum! {
    /// What an access review campaign groups.
    #[derive(Default)]
    pub enum CampaignKind {
        /// Connections matching a filter, reviewed by named reviewers or each
        /// app's owners — never the client's owners or sponsor.
        #[default]
        Access = "access",
        /// Every connection of one AI client, reviewed by its owners (an AI
        /// agent certification): they answer for what their agent reaches.
        Agent = "agent",
    }
}
wire_enum! {
    /// What a least-privilege finding is about.
    pub enum FindingKind {
        /// Scopes granted but not asked for in any ID-JAG for the window.
        UnusedScopes = "unused_scopes",
        /// Most people who used a group-limited connection are no longer in its groups.
        UsersLeftGroups = "users_left_groups",
        /// A sensitive scope is granted with no step-up rule.
        SensitiveWithoutStepUp = "sensitive_without_step_up",
    }
}

wire_enum! {
    pub enum Severity {
        Low = "low",
        Medium = "medium",
        High = "high",
    }
}

wire_enum! {
    /// Where a finding stands. Any state but `open` holds only while the
    /// evidence is what it was set against (and a snooze until its date):
    /// when the evidence changes the finding is open again.
    pub enum FindingState {
        Open = "open",
        Snoozed = "snoozed",
        Acknowledged = "acknowledged",
        FalsePositive = "false_positive",
    }
}

/// `GET /findings`: one least-privilege finding about a live connection, from
/// the audit log and the grant, with the one-click remediation where there is
/// one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct FindingView {
    /// Stable per kind and connection.
    pub id: String,
    pub kind: FindingKind,
    pub severity: Severity,
    pub connection_id: String,
    pub client: ClientRef,
    pub resource_app: AppRef,
    pub explanation: String,
    /// Counts and dates behind it (by kind: `window_days`, `used` scope →
    /// {`count`, `last_at_ms`}, `unused`, `users`, `left_users`, `scopes`…).
    pub evidence: serde_json::Value,
    /// A digest of what the finding is about (not of counts that move with
    /// every exchange); a state is set against it.
    pub evidence_digest: String,
    /// The change that remedies it: `PATCH /connections/{connection_id}`
    /// with this body and `If-Match` of `connection_version`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remediation: Option<ModifyConnection>,
    pub connection_version: i64,
    pub state: FindingState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snoozed_until: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_by: Option<String>,
}

/// `GET /findings` query.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FindingQuery {
    /// Also those snoozed, acknowledged or marked false positive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub all: Option<bool>,
}

/// `POST /findings/{id}/state`: snooze (until a date), acknowledge (with a
/// reason), mark a false positive, or open it again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FindingStateBody {
    pub state: FindingState,
    /// Unix seconds; required for `snoozed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<i64>,
    #[schemars(length(min = 1, max = 2000))]
    pub reason: String,
}
