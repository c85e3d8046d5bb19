//! The OpenAPI 3.1 document of `/admin/v1`, generated from the route table below
//! and the JSON Schemas (2020-12, which OpenAPI 3.1 uses as is) of the types.
//! The IdP serves it at `/admin/v1/openapi.json`; `openapi.json` at the repository
//! root is the checked-in copy a test compares against.

use crate::types::*;
use schemars::{JsonSchema, SchemaGenerator, generate::SchemaSettings};
use serde_json::{Value, json};

/// One operation: method, path, summary, the roles allowed, body and response types.
pub struct Route {
    pub method: &'static str,
    pub path: &'static str,
    pub summary: &'static str,
    pub roles: &'static [Role],
    /// Needs `If-Match` (and accepts `Idempotency-Key`).
    pub conditional: bool,
    body: Option<fn(&mut SchemaGenerator) -> Value>,
    response: fn(&mut SchemaGenerator) -> Value,
}

fn schema<T: JsonSchema>(g: &mut SchemaGenerator) -> Value {
    serde_json::to_value(g.subschema_for::<T>()).expect("schema serializes")
}

fn text(_: &mut SchemaGenerator) -> Value {
    json!({ "type": "string" })
}

use Role::*;
const READ_ALL: &[Role] = &[Approver, Helpdesk, Reviewer, Auditor, Admin];
const DECIDE: &[Role] = &[Approver, Admin];
const REVOKE: &[Role] = &[Approver, Helpdesk, Admin];
// The help desk reads it too: "what did this user's agents get in the last hour" is its job.
const AUDIT: &[Role] = &[Auditor, Admin, Approver, Reviewer, Helpdesk];
const REVIEW: &[Role] = &[Reviewer, Admin];
const ADMIN: &[Role] = &[Admin];

macro_rules! route {
    ($m:literal, $p:literal, $s:literal, $roles:expr, $cond:literal, none, $resp:expr) => {
        Route {
            method: $m,
            path: $p,
            summary: $s,
            roles: $roles,
            conditional: $cond,
            body: None,
            response: $resp,
        }
    };
    ($m:literal, $p:literal, $s:literal, $roles:expr, $cond:literal, $body:ty, $resp:expr) => {
        Route {
            method: $m,
            path: $p,
            summary: $s,
            roles: $roles,
            conditional: $cond,
            body: Some(schema::<$body>),
            response: $resp,
        }
    };
}

/// Every route of the admin API with the roles allowed to call it. The IdP's
/// authorization layer enforces exactly this table.
pub fn routes() -> Vec<Route> {
    vec![
        route!(
            "get",
            "/whoami",
            "The caller's identity and roles",
            READ_ALL,
            false,
            none,
            schema::<WhoAmI>
        ),
        route!(
            "get",
            "/connection-requests",
            "List connection requests (filter, sort, search, cursor)",
            READ_ALL,
            false,
            none,
            schema::<Page<RequestView>>
        ),
        route!(
            "get",
            "/connection-requests/{id}",
            "One connection request, with its ETag",
            READ_ALL,
            false,
            none,
            schema::<RequestView>
        ),
        route!(
            "post",
            "/connection-requests/{id}/approve",
            "Approve, possibly narrowed and time-bound",
            DECIDE,
            true,
            ApproveRequest,
            schema::<DecisionResult>
        ),
        route!(
            "post",
            "/connection-requests/{id}/deny",
            "Deny with a reason",
            DECIDE,
            true,
            DenyRequest,
            schema::<DecisionResult>
        ),
        route!(
            "get",
            "/connections",
            "List connections (filter, sort, search, cursor)",
            READ_ALL,
            false,
            none,
            schema::<Page<ConnectionView>>
        ),
        route!(
            "get",
            "/connections/{id}",
            "One connection with its receipts and ETag",
            READ_ALL,
            false,
            none,
            schema::<ConnectionView>
        ),
        route!(
            "patch",
            "/connections/{id}",
            "Modify a connection",
            DECIDE,
            true,
            ModifyConnection,
            schema::<ConnectionView>
        ),
        route!(
            "post",
            "/connections/{id}/suspend",
            "Suspend a connection",
            REVOKE,
            true,
            ReasonBody,
            schema::<ConnectionView>
        ),
        route!(
            "post",
            "/connections/{id}/resume",
            "Resume a suspended connection",
            DECIDE,
            true,
            ReasonBody,
            schema::<ConnectionView>
        ),
        route!(
            "post",
            "/connections/{id}/revoke",
            "Revoke a connection and its live tokens",
            REVOKE,
            true,
            ReasonBody,
            schema::<ConnectionView>
        ),
        route!(
            "post",
            "/connections/bulk-revoke",
            "Revoke by client, user or resource app (kill switch)",
            REVOKE,
            false,
            BulkRevoke,
            schema::<BulkRevokeResult>
        ),
        route!(
            "get",
            "/reviews",
            "Access review campaigns with progress per reviewer",
            READ_ALL,
            false,
            none,
            schema::<Vec<CampaignView>>
        ),
        route!(
            "post",
            "/reviews",
            "Start an access review campaign",
            ADMIN,
            false,
            CreateCampaign,
            schema::<CampaignView>
        ),
        route!(
            "get",
            "/reviews/{id}",
            "One campaign",
            READ_ALL,
            false,
            none,
            schema::<CampaignView>
        ),
        route!(
            "get",
            "/reviews/{id}/items",
            "A campaign's items (filter by reviewer, open or decided)",
            READ_ALL,
            false,
            none,
            schema::<Page<ReviewItemView>>
        ),
        route!(
            "post",
            "/reviews/{id}/decisions",
            "Keep, revoke or narrow one or more items (reason required against the recommendation)",
            REVIEW,
            false,
            ReviewDecisions,
            schema::<Vec<ReviewItemView>>
        ),
        route!(
            "post",
            "/reviews/{id}/items/{item}/reassign",
            "Give an item to another reviewer, with a note",
            REVIEW,
            false,
            Reassign,
            schema::<ReviewItemView>
        ),
        route!(
            "post",
            "/reviews/{id}/complete",
            "Apply the default action to undecided items now and complete the campaign",
            ADMIN,
            false,
            none,
            schema::<CampaignView>
        ),
        route!(
            "get",
            "/reviews/{id}/report",
            "The campaign report (format=csv or pdf)",
            READ_ALL,
            false,
            none,
            text
        ),
        route!(
            "get",
            "/stats",
            "Usage per client and app, ID-JAG issuance, decisions over time, the queue by age",
            READ_ALL,
            false,
            none,
            schema::<StatsView>
        ),
        route!(
            "get",
            "/clients",
            "AI clients",
            READ_ALL,
            false,
            none,
            schema::<Vec<ClientView>>
        ),
        route!(
            "get",
            "/resource-apps",
            "Resource apps and their scope catalogues",
            READ_ALL,
            false,
            none,
            schema::<Vec<ResourceAppView>>
        ),
        route!(
            "get",
            "/users",
            "Users",
            READ_ALL,
            false,
            none,
            schema::<Vec<UserView>>
        ),
        route!(
            "get",
            "/groups",
            "Groups",
            READ_ALL,
            false,
            none,
            schema::<Vec<GroupView>>
        ),
        route!(
            "get",
            "/audit",
            "Query the audit log",
            AUDIT,
            false,
            none,
            schema::<Page<AuditEventView>>
        ),
        route!(
            "get",
            "/audit/export",
            "Export the audit log as JSONL or CSV (streamed)",
            AUDIT,
            false,
            none,
            text
        ),
        route!(
            "post",
            "/audit/verify",
            "Walk the hash chain; name the first broken event",
            AUDIT,
            false,
            none,
            schema::<ChainReportView>
        ),
        route!(
            "get",
            "/events",
            "Server-sent change events, resumable with Last-Event-ID",
            READ_ALL,
            false,
            none,
            schema::<ChangeEvent>
        ),
        route!(
            "get",
            "/api-tokens",
            "API tokens (never their secrets)",
            &[Admin],
            false,
            none,
            schema::<Vec<ApiTokenView>>
        ),
        route!(
            "post",
            "/api-tokens",
            "Create an API token; the secret is shown once",
            &[Admin],
            false,
            CreateApiToken,
            schema::<ApiTokenCreated>
        ),
        route!(
            "post",
            "/api-tokens/{id}/revoke",
            "Revoke an API token",
            &[Admin],
            false,
            none,
            schema::<ApiTokenView>
        ),
    ]
}

/// The OpenAPI 3.1 document.
pub fn document() -> Value {
    let mut g = SchemaSettings::draft2020_12()
        .with(|s| s.definitions_path = "/components/schemas".into())
        .into_generator();
    let problem = schema::<Problem>(&mut g);
    let mut paths = serde_json::Map::new();
    for r in routes() {
        let mut params = vec![];
        if r.path.contains("{id}") {
            params.push(
                json!({"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}),
            );
        }
        if r.conditional {
            params.push(json!({"name": "If-Match", "in": "header", "required": true, "schema": {"type": "string"}, "description": "The ETag from the last read; a stale one gets 412 with the current state."}));
            params.push(json!({"name": "Idempotency-Key", "in": "header", "required": false, "schema": {"type": "string"}, "description": "A retry with the same key returns the first result."}));
        }
        let roles: Vec<&str> = r.roles.iter().map(|r| r.as_str()).collect();
        let mut op = json!({
            "summary": r.summary,
            "operationId": format!("{}{}", r.method, r.path.replace(['/', '{', '}', '-'], "_")),
            "parameters": params,
            "x-gatehouse-roles": roles,
            "responses": {
                "200": {"description": "OK", "content": {"application/json": {"schema": (r.response)(&mut g)}}},
                "default": {"description": "Problem", "content": {"application/problem+json": {"schema": problem.clone()}}},
            },
        });
        if let Some(body) = r.body {
            op["requestBody"] = json!({"required": true, "content": {"application/json": {"schema": body(&mut g)}}});
        }
        let entry = paths.entry(r.path.to_string()).or_insert_with(|| json!({}));
        entry[r.method] = op;
    }
    let defs = g.take_definitions(true);
    json!({
        "openapi": "3.1.0",
        "info": {"title": "Gatehouse admin API", "version": "1", "description": "Decide, revoke and audit AI app connections (Cross App Access)."},
        "servers": [{"url": crate::BASE}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "schemas": defs,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "description": "An IdP access token (console sign-in) or an admin API token."}},
        },
    })
}
