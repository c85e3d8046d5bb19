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
    /// The query parameters, from the contract's query type.
    query: Option<fn() -> Vec<Value>>,
    /// The success status: 200, 201 for a creation, 204 for a deletion.
    status: u16,
    /// When a `202` is also a success, what it means.
    accepted: Option<&'static str>,
    /// Media types of a non-JSON success body (exports, reports, the event stream).
    media: &'static [&'static str],
}

impl Route {
    fn query<T: JsonSchema>(mut self) -> Self {
        self.query = Some(query_params::<T>);
        self
    }
    fn created(mut self) -> Self {
        self.status = 201;
        self
    }
    fn no_content(mut self) -> Self {
        self.status = 204;
        self
    }
    fn or_accepted(mut self, meaning: &'static str) -> Self {
        self.accepted = Some(meaning);
        self
    }
    fn media(mut self, types: &'static [&'static str]) -> Self {
        self.media = types;
        self
    }
}

/// Every property of a flat query type as an optional `in: query` parameter.
fn query_params<T: JsonSchema>() -> Vec<Value> {
    let root = SchemaSettings::draft2020_12()
        .with(|s| s.inline_subschemas = true)
        .into_generator()
        .into_root_schema_for::<T>();
    let root = serde_json::to_value(root).expect("schema serializes");
    let Some(props) = root["properties"].as_object() else {
        return vec![];
    };
    props
        .iter()
        .map(|(name, schema)| {
            let mut schema = schema.clone();
            let description = schema.as_object_mut().and_then(|o| o.remove("description"));
            let mut p = json!({"name": name, "in": "query", "required": false, "schema": schema});
            if let Some(d) = description {
                p["description"] = d;
            }
            p
        })
        .collect()
}

/// The `{name}` parameters of a path template, in order.
fn path_params(path: &str) -> Vec<&str> {
    path.split('{')
        .skip(1)
        .filter_map(|s| s.split_once('}').map(|(name, _)| name))
        .collect()
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
const FINDINGS: &[Role] = &[Approver, Reviewer, Admin];
// Any person who may change something; the IdP checks they own the client
// (an attestation, an agent campaign's item) or hold the reviewer role.
const ATTEST: &[Role] = &[Approver, Helpdesk, Reviewer, Admin];

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
            query: None,
            status: 200,
            accepted: None,
            media: &[],
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
            query: None,
            status: 200,
            accepted: None,
            media: &[],
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
        ).query::<RequestQuery>(),
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
        )
        .or_accepted("Recorded as the first of two approvals a sensitive scope needs; the request is awaiting_second_approval"),
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
        ).query::<ConnectionQuery>(),
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
            "/connections/{id}/attest",
            "An owner of the client says whether the approval is still needed (before it expires)",
            ATTEST,
            true,
            AttestBody,
            schema::<ConnectionView>
        ),
        route!(
            "post",
            "/connections/{id}/renew",
            "Renew a time-bound approval, or decide to let it lapse (never by its owners or sponsor)",
            DECIDE,
            true,
            RenewBody,
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
            "/findings",
            "Least-privilege findings (unused scopes, users who left the groups, sensitive scopes without step-up), with evidence and remediation",
            READ_ALL,
            false,
            none,
            schema::<Vec<FindingView>>
        )
        .query::<FindingQuery>(),
        route!(
            "post",
            "/findings/{id}/state",
            "Snooze a finding until a date, acknowledge it, mark it a false positive, or reopen it (it reopens when its evidence changes)",
            FINDINGS,
            false,
            FindingStateBody,
            schema::<FindingView>
        ),
        route!(
            "get",
            "/kills",
            "The latest kill switches: what each turned off, its deliveries, its reinstatement",
            READ_ALL,
            false,
            none,
            schema::<Vec<KillView>>
        ),
        route!(
            "get",
            "/kills/{id}",
            "One kill switch: what it turned off and how far its events have reached",
            READ_ALL,
            false,
            none,
            schema::<KillView>
        ),
        route!(
            "post",
            "/kills/{id}/reinstate",
            "Turn back on exactly what a kill switch turned off (step-up; receivers are told)",
            DECIDE,
            true,
            ReasonBody,
            schema::<KillView>
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
        ).created(),
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
        ).query::<ItemQuery>(),
        route!(
            "post",
            "/reviews/{id}/decisions",
            "Keep, revoke or narrow one or more items (reason required against the recommendation; an agent campaign's items by the client's owners, whatever their role)",
            ATTEST,
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
            "get",
            "/policies",
            "The lifecycle policies in force, with their version (ETag) and the IdP's clock",
            READ_ALL,
            false,
            none,
            schema::<PoliciesView>
        ),
        route!(
            "put",
            "/policies",
            "Replace the lifecycle policies (inactivity suspension and its warning, pending-request expiry)",
            ADMIN,
            true,
            LifecyclePolicies,
            schema::<PoliciesView>
        ),
        route!(
            "post",
            "/policies/run",
            "Evaluate the lifecycle policies now, to the end, in batches",
            ADMIN,
            false,
            none,
            schema::<PolicyRunReport>
        ),
        route!(
            "get",
            "/notification-channels",
            "Where approvers are notified (never a secret; a Slack URL masked)",
            ADMIN,
            false,
            none,
            schema::<Vec<ChannelView>>
        ),
        route!(
            "post",
            "/notification-channels",
            "Add a signed webhook or Slack channel; a webhook's signing secret is shown this once",
            ADMIN,
            false,
            CreateChannel,
            schema::<ChannelCreated>
        )
        .created(),
        route!(
            "delete",
            "/notification-channels/{id}",
            "Delete a channel: its pending deliveries are dropped, its receipts kept",
            ADMIN,
            false,
            none,
            schema::<()>
        )
        .no_content(),
        route!(
            "get",
            "/notification-channels/{id}/deliveries",
            "A channel's newest deliveries and their receipts (attempts, status, last error)",
            ADMIN,
            false,
            none,
            schema::<Vec<DeliveryView>>
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
        )
        .query::<ReportQuery>()
        .media(&["text/csv", "application/pdf"]),
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
            "post",
            "/clients",
            "Register an AI client; a generated secret is shown once",
            &[Admin],
            false,
            RegisterClient,
            schema::<ClientWithSecret>
        )
        .created(),
        route!(
            "get",
            "/clients/{client_id}",
            "One AI client, retired or not, with its ETag",
            READ_ALL,
            false,
            none,
            schema::<ClientView>
        ),
        route!(
            "patch",
            "/clients/{client_id}",
            "Change an AI client's name, description, owners, redirect URIs or keys",
            &[Admin],
            true,
            UpdateClient,
            schema::<ClientView>
        ),
        route!(
            "post",
            "/clients/{client_id}/secret",
            "Rotate a client secret: the new one is shown once, the previous one works for the overlap",
            &[Admin],
            true,
            RotateClientSecret,
            schema::<ClientWithSecret>
        ),
        route!(
            "post",
            "/clients/{client_id}/retire",
            "Retire an AI client: honoured nowhere from now, its live connections revoked",
            &[Admin],
            true,
            Retirement,
            schema::<ClientView>
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
            "post",
            "/resource-apps",
            "Register a resource app with its MCP servers and scope catalogue",
            &[Admin],
            false,
            RegisterResourceApp,
            schema::<ResourceAppView>
        )
        .created(),
        route!(
            "get",
            "/resource-apps/{id}",
            "One resource app, retired or not, with its ETag",
            READ_ALL,
            false,
            none,
            schema::<ResourceAppView>
        ),
        route!(
            "patch",
            "/resource-apps/{id}",
            "Change a resource app's name, MCP servers, client-id mapping, scope catalogue, receivers or owners",
            &[Admin],
            true,
            UpdateResourceApp,
            schema::<ResourceAppView>
        ),
        route!(
            "post",
            "/resource-apps/{id}/retire",
            "Retire a resource app: its live connections revoked, then no audience any more",
            &[Admin],
            true,
            Retirement,
            schema::<ResourceAppView>
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
        ).query::<AuditQuery>(),
        route!(
            "get",
            "/audit/export",
            "Export the audit log as JSONL or CSV (streamed)",
            AUDIT,
            false,
            none,
            text
        )
        .query::<ExportQuery>()
        .media(&["application/x-ndjson", "text/csv"]),
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
        ).media(&["text/event-stream"]),
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
        ).created(),
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
        let mut params: Vec<Value> = path_params(r.path)
            .into_iter()
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        if let Some(q) = r.query {
            params.extend(q());
        }
        if r.conditional {
            params.push(json!({"name": "If-Match", "in": "header", "required": true, "schema": {"type": "string"}, "description": "The ETag from the last read; a stale one gets 412 with the current state."}));
            params.push(json!({"name": "Idempotency-Key", "in": "header", "required": false, "schema": {"type": "string", "minLength": 1, "maxLength": 200}, "description": "A retry with the same key returns the first result."}));
        }
        let roles: Vec<&str> = r.roles.iter().map(|r| r.as_str()).collect();
        let body = (r.response)(&mut g);
        let content = if r.media.is_empty() {
            json!({"application/json": {"schema": body}})
        } else {
            let m: serde_json::Map<String, Value> = r
                .media
                .iter()
                .map(|t| ((*t).to_owned(), json!({"schema": {"type": "string"}})))
                .collect();
            Value::Object(m)
        };
        let mut responses = serde_json::Map::new();
        let ok = match r.status {
            201 => json!({"description": "Created", "content": content.clone()}),
            204 => json!({"description": "No Content"}),
            _ => json!({"description": "OK", "content": content.clone()}),
        };
        responses.insert(r.status.to_string(), ok);
        if let Some(meaning) = r.accepted {
            responses.insert(
                "202".into(),
                json!({"description": meaning, "content": content}),
            );
        }
        responses.insert("default".into(), json!({"description": "Problem", "content": {"application/problem+json": {"schema": problem.clone()}}}));
        let mut op = json!({
            "summary": r.summary,
            "operationId": format!("{}{}", r.method, r.path.replace(['/', '{', '}', '-'], "_")),
            "parameters": params,
            "x-gatehouse-roles": roles,
            "responses": responses,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_path_parameter_is_declared_and_every_list_takes_its_query() {
        let doc = document();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let params = op["parameters"].as_array().unwrap();
                let named =
                    |n: &str, at: &str| params.iter().any(|p| p["name"] == n && p["in"] == at);
                for p in path_params(path) {
                    assert!(named(p, "path"), "{method} {path}: `{p}` undeclared");
                }
                let ok = &op["responses"]["200"]["content"]["application/json"]["schema"];
                let paged = ok["$ref"].as_str().is_some_and(|r| r.contains("Page"));
                if paged {
                    assert!(
                        named("cursor", "query") && named("limit", "query"),
                        "{method} {path}: a list without its query"
                    );
                }
            }
        }
        let export = &doc["paths"]["/audit/export"]["get"]["responses"]["200"]["content"];
        assert!(export.get("text/csv").is_some() && export.get("application/x-ndjson").is_some());
        assert!(
            doc["paths"]["/reviews"]["post"]["responses"]
                .get("201")
                .is_some()
        );
        assert!(
            doc["paths"]["/connection-requests/{id}/approve"]["post"]["responses"]
                .get("202")
                .is_some()
        );
    }
}
