//! The SCIM 2.0 service provider at `{issuer}/scim/v2` (RFC 7643/7644): Users
//! and Groups for provisioning connectors (Entra ID, Okta, any SCIM client),
//! authenticated by an admin API token holding the `provisioner` role. HTTP
//! only: parsing, rendering, ETags; the changes are `services::directory`'s.

use crate::{
    services::directory::{self as service, Change, Provisioner},
    state::SharedIdp,
};
use axum::{
    Extension, Router,
    body::Bytes,
    extract::rejection::BytesRejection,
    extract::{DefaultBodyLimit, Path, Query, Request, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
    routing::get,
};
use idp_store::directory::{self, Group, Lookup, Person};
use scim::{Filter, PatchRequest, ResourceKind, ScimError, ScimType};
use serde_json::{Value, json};
use std::collections::HashMap;

/// The base path of the SCIM endpoint (a contract: `{idp}/scim/v2`).
pub const BASE: &str = "/scim/v2";
/// The most people or groups a filter that no index answers may scan.
const SCAN_MAX: usize = 20_000;

pub fn router(idp: SharedIdp) -> Router<SharedIdp> {
    Router::new()
        .route(
            "/scim/v2/ServiceProviderConfig",
            get(service_provider_config),
        )
        .route("/scim/v2/ResourceTypes", get(resource_types))
        .route("/scim/v2/ResourceTypes/{id}", get(resource_type))
        .route("/scim/v2/Schemas", get(schemas))
        .route("/scim/v2/Schemas/{id}", get(schema))
        .route(
            "/scim/v2/.search",
            axum::routing::post(|| async {
                ScimResponse::Error(ScimError::new(
                    501,
                    None,
                    "searching several resource types at once is not supported: POST /Users/.search or /Groups/.search",
                ))
            }),
        )
        // `{endpoint}` is `Users` or `Groups` (anything else: SCIM 404).
        .route("/scim/v2/{endpoint}", get(list).post(create))
        .route("/scim/v2/{endpoint}/.search", axum::routing::post(search))
        .route(
            "/scim/v2/{endpoint}/{id}",
            get(get_one).put(replace).patch(patch).delete(delete),
        )
        .layer(DefaultBodyLimit::max(scim::MAX_BODY))
        .route_layer(axum::middleware::from_fn_with_state(idp, authenticate))
}

/// A SCIM answer: a body with its status (and ETag, Location), or an error.
enum ScimResponse {
    Ok {
        status: StatusCode,
        body: Value,
        etag: Option<String>,
        location: Option<String>,
    },
    NoContent,
    Error(ScimError),
}

impl ScimResponse {
    fn ok(body: Value) -> Self {
        let etag = body["meta"]["version"].as_str().map(str::to_owned);
        ScimResponse::Ok {
            status: StatusCode::OK,
            body,
            etag,
            location: None,
        }
    }
    fn created(body: Value) -> Self {
        let etag = body["meta"]["version"].as_str().map(str::to_owned);
        let location = body["meta"]["location"].as_str().map(str::to_owned);
        ScimResponse::Ok {
            status: StatusCode::CREATED,
            body,
            etag,
            location,
        }
    }
}

impl From<ScimError> for ScimResponse {
    fn from(e: ScimError) -> Self {
        ScimResponse::Error(e)
    }
}

impl IntoResponse for ScimResponse {
    fn into_response(self) -> Response {
        let (status, body, etag, location) = match self {
            ScimResponse::NoContent => return StatusCode::NO_CONTENT.into_response(),
            ScimResponse::Ok {
                status,
                body,
                etag,
                location,
            } => (status, body, etag, location),
            ScimResponse::Error(e) => (
                StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST),
                e.body(),
                None,
                None,
            ),
        };
        let mut r = (status, body.to_string()).into_response();
        let h = r.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(scim::CONTENT_TYPE),
        );
        if status == StatusCode::UNAUTHORIZED {
            h.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"scim\""),
            );
        }
        for (name, v) in [(header::ETAG, etag), (header::LOCATION, location)] {
            if let Some(v) = v.and_then(|v| HeaderValue::from_str(&v).ok()) {
                h.insert(name, v);
            }
        }
        r
    }
}

/// Only an unexpired, unrevoked API token with the `provisioner` role passes.
async fn authenticate(State(idp): State<SharedIdp>, mut req: Request, next: Next) -> Response {
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let unauthorized = |d: &str| ScimResponse::Error(ScimError::new(401, None, d)).into_response();
    let Some(token) = token.filter(|t| t.starts_with(crate::admin::auth::API_TOKEN_PREFIX)) else {
        return unauthorized("a provisioning API token is required (Authorization: Bearer gh_…)");
    };
    let hash = xaa::util::sha256_hex(token.as_bytes());
    let found = match idp.store.api_token_by_hash(&hash).await {
        Ok(t) => t,
        Err(_) => {
            return ScimResponse::Error(ScimError::new(
                503,
                None,
                "the IdP cannot reach its database",
            ))
            .into_response();
        }
    };
    let now = idp.now();
    let Some(t) = found.filter(|t| !t.revoked && t.expires_at > now) else {
        return unauthorized("the API token is not valid, expired or revoked");
    };
    if !t.roles.contains(&admin_api::Role::Provisioner) {
        return ScimResponse::Error(ScimError::new(
            403,
            None,
            "this API token lacks the provisioner role",
        ))
        .into_response();
    }
    if idp.store.touch_api_token(&t.id, now).await.is_err() {
        return ScimResponse::Error(ScimError::new(
            503,
            None,
            "the IdP cannot reach its database",
        ))
        .into_response();
    }
    let request_id = req
        .extensions()
        .get::<crate::request_id::RequestId>()
        .map(|r| r.0.clone())
        .unwrap_or_default();
    req.extensions_mut().insert(Provisioner {
        token_name: t.name,
        request_id,
    });
    next.run(req).await
}

fn base(idp: &SharedIdp) -> String {
    format!("{}{BASE}", idp.issuer())
}

async fn service_provider_config(State(idp): State<SharedIdp>) -> ScimResponse {
    ScimResponse::ok(scim::discovery::service_provider_config(&base(&idp)))
}

async fn resource_types(State(idp): State<SharedIdp>) -> ScimResponse {
    let all = scim::discovery::resource_types(&base(&idp));
    let n = all.len();
    ScimResponse::ok(scim::list_response(all, n, 1))
}

async fn resource_type(State(idp): State<SharedIdp>, Path(id): Path<String>) -> ScimResponse {
    scim::discovery::resource_types(&base(&idp))
        .into_iter()
        .find(|r| r["id"] == id.as_str())
        .map(ScimResponse::ok)
        .unwrap_or_else(|| ScimError::not_found(format!("no ResourceType `{id}`")).into())
}

async fn schemas(State(idp): State<SharedIdp>) -> ScimResponse {
    let all = scim::discovery::schemas(&base(&idp));
    let n = all.len();
    ScimResponse::ok(scim::list_response(all, n, 1))
}

async fn schema(State(idp): State<SharedIdp>, Path(id): Path<String>) -> ScimResponse {
    scim::discovery::schemas(&base(&idp))
        .into_iter()
        .find(|s| s["id"] == id.as_str())
        .map(ScimResponse::ok)
        .unwrap_or_else(|| ScimError::not_found(format!("no Schema `{id}`")).into())
}

fn meta(
    base: &str,
    kind: ResourceKind,
    id: &str,
    created: i64,
    updated: i64,
    version: i64,
) -> Value {
    json!({
        "resourceType": kind.name(),
        "created": scim::rfc3339(created),
        "lastModified": scim::rfc3339(updated),
        "location": format!("{base}/{}/{id}", kind.endpoint()),
        "version": scim::etag(version),
    })
}

fn user_json(base: &str, p: &Person) -> Value {
    let mut r = p.resource.clone();
    r["id"] = json!(p.id);
    r["userName"] = json!(p.username);
    // `active` as assigned; unassigned (removed by PATCH) counts as active.
    if r.get("active").is_some() || !p.active {
        r["active"] = json!(p.active);
    }
    match &p.external_id {
        Some(x) => r["externalId"] = json!(x),
        None => {
            if let Some(o) = r.as_object_mut() {
                o.remove("externalId");
            }
        }
    }
    if !p.groups.is_empty() {
        r["groups"] = p
            .groups
            .iter()
            .map(|g| json!({ "value": g.id, "display": g.name, "$ref": format!("{base}/Groups/{}", g.id) }))
            .collect();
    }
    r["meta"] = meta(
        base,
        ResourceKind::User,
        &p.id,
        p.created_at,
        p.updated_at,
        p.version,
    );
    r
}

fn group_json(base: &str, g: &Group, members: bool) -> Value {
    let mut r = g.resource.clone();
    r["id"] = json!(g.id);
    r["displayName"] = json!(g.display_name);
    if let Some(x) = &g.external_id {
        r["externalId"] = json!(x);
    }
    if members && !g.members.is_empty() {
        r["members"] = g
            .members
            .iter()
            .map(|m| json!({ "value": m.id, "$ref": format!("{base}/Users/{}", m.id) }))
            .collect();
    }
    r["meta"] = meta(
        base,
        ResourceKind::Group,
        &g.id,
        g.created_at,
        g.updated_at,
        g.version,
    );
    r
}

/// A query parameter, its name compared case-insensitively.
fn param<'a>(q: &'a HashMap<String, String>, name: &str) -> Option<&'a str> {
    q.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn number(q: &HashMap<String, String>, name: &str) -> Result<Option<i64>, ScimError> {
    param(q, name)
        .map(|v| {
            v.trim().parse::<i64>().map_err(|_| {
                ScimError::bad(
                    ScimType::InvalidValue,
                    format!("`{name}` must be an integer"),
                )
            })
        })
        .transpose()
}

/// How a list request is answered: by an index, or by scanning and filtering.
enum Plan {
    Indexed(Lookup),
    Scan(Filter),
}

fn plan(q: &HashMap<String, String>, name_attr: &str) -> Result<Plan, ScimError> {
    let Some(f) = param(q, "filter").filter(|f| !f.trim().is_empty()) else {
        return Ok(Plan::Indexed(Lookup::All));
    };
    let f = Filter::parse(f)?;
    Ok(match f.as_equality() {
        Some((a, v)) if a.eq_ignore_ascii_case(name_attr) => Plan::Indexed(Lookup::Name(v.into())),
        Some((a, v)) if a.eq_ignore_ascii_case("externalId") => {
            Plan::Indexed(Lookup::ExternalId(v.into()))
        }
        Some((a, v)) if a.eq_ignore_ascii_case("id") => Plan::Indexed(Lookup::Id(v.into())),
        _ => Plan::Scan(f),
    })
}

fn storage(e: sqlx::Error) -> ScimError {
    tracing::error!(error = %e, "SCIM read failed");
    ScimError::new(503, None, "the IdP cannot reach its database; retry later")
}

/// A list page: from an index, or (for any other filter) by scanning at most
/// [`SCAN_MAX`] resources, past which the answer is `400 tooMany`.
async fn list_page<T, Find, FindFut>(
    q: &HashMap<String, String>,
    name_attr: &str,
    find: Find,
    render: impl Fn(&T) -> Value,
) -> Result<Value, ScimError>
where
    Find: Fn(Lookup, usize, usize) -> FindFut,
    FindFut: std::future::Future<Output = Result<(Vec<T>, usize), sqlx::Error>>,
{
    let (start, count) = scim::page_bounds(number(q, "startIndex")?, number(q, "count")?);
    let shown = |mut r: Value| {
        scim::project(
            &mut r,
            param(q, "attributes"),
            param(q, "excludedAttributes"),
        );
        r
    };
    match plan(q, name_attr)? {
        Plan::Indexed(lookup) => {
            let (items, total) = find(lookup, start - 1, count).await.map_err(storage)?;
            Ok(scim::list_response(
                items.iter().map(render).map(shown).collect(),
                total,
                start,
            ))
        }
        Plan::Scan(filter) => {
            let (items, total) = find(Lookup::All, 0, SCAN_MAX + 1).await.map_err(storage)?;
            if total > SCAN_MAX {
                return Err(ScimError::bad(
                    ScimType::TooMany,
                    format!(
                        "more than {SCAN_MAX} to filter: filter by an indexed attribute ({name_attr}, externalId or id eq \"…\")"
                    ),
                ));
            }
            let matched: Vec<Value> = items
                .iter()
                .map(&render)
                .filter(|r| filter.matches(r))
                .collect();
            let total = matched.len();
            let page = matched
                .into_iter()
                .skip(start - 1)
                .take(count)
                .map(shown)
                .collect();
            Ok(scim::list_response(page, total, start))
        }
    }
}

/// The resource kind a collection path names.
fn kind_of(endpoint: &str) -> Result<ResourceKind, ScimError> {
    [ResourceKind::User, ResourceKind::Group]
        .into_iter()
        .find(|k| k.endpoint() == endpoint)
        .ok_or_else(|| ScimError::not_found("no such SCIM endpoint"))
}

/// Whether a group's members are wanted (`excludedAttributes=members` says no:
/// connectors list big groups that way).
fn members_wanted(q: &HashMap<String, String>) -> bool {
    !param(q, "excludedAttributes").is_some_and(|a| {
        a.split(',')
            .any(|x| x.trim().eq_ignore_ascii_case("members"))
    })
}

async fn list_of(idp: &SharedIdp, kind: ResourceKind, q: &HashMap<String, String>) -> ScimResponse {
    let b = base(idp);
    let listed = match kind {
        ResourceKind::User => {
            let find = |lookup: Lookup, offset: usize, limit: usize| {
                let idp = idp.clone();
                async move {
                    let mut c = idp.store.acquire().await?;
                    directory::find_people(&mut c, &lookup, offset, limit).await
                }
            };
            list_page(q, "userName", find, |p| user_json(&b, p)).await
        }
        ResourceKind::Group => {
            let members = members_wanted(q);
            let find = |lookup: Lookup, offset: usize, limit: usize| {
                let idp = idp.clone();
                async move {
                    let mut c = idp.store.acquire().await?;
                    directory::find_groups(&mut c, &lookup, offset, limit, members).await
                }
            };
            list_page(q, "displayName", find, |g| group_json(&b, g, members)).await
        }
    };
    match listed {
        Ok(v) => ScimResponse::ok(v),
        Err(e) => e.into(),
    }
}

async fn list(
    State(idp): State<SharedIdp>,
    Path(endpoint): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> ScimResponse {
    match kind_of(&endpoint) {
        Ok(kind) => list_of(&idp, kind, &q).await,
        Err(e) => e.into(),
    }
}

/// `POST …/.search` (RFC 7644 §3.4.3): the list query, sent as a body.
async fn search(
    State(idp): State<SharedIdp>,
    Path(endpoint): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> ScimResponse {
    match kind_of(&endpoint).and_then(|k| Ok((k, search_params(&body)?))) {
        Ok((kind, q)) => list_of(&idp, kind, &q).await,
        Err(e) => e.into(),
    }
}

/// A single resource with `attributes` / `excludedAttributes` applied.
fn projected(q: &HashMap<String, String>, mut r: Value) -> Value {
    scim::project(
        &mut r,
        param(q, "attributes"),
        param(q, "excludedAttributes"),
    );
    r
}

/// A search request's body as the list's query parameters.
fn search_params(
    body: &Result<Bytes, BytesRejection>,
) -> Result<HashMap<String, String>, ScimError> {
    let v = json_body(body)?;
    if !v["schemas"]
        .as_array()
        .is_some_and(|s| s.iter().any(|x| x == scim::SEARCH_REQUEST))
    {
        return Err(ScimError::bad(
            ScimType::InvalidSyntax,
            format!("a search names the schema {}", scim::SEARCH_REQUEST),
        ));
    }
    let mut q = HashMap::new();
    for (k, v) in v.as_object().into_iter().flatten() {
        let text = match v {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Array(items) => items
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(","),
            _ => continue,
        };
        q.insert(k.clone(), text);
    }
    Ok(q)
}

/// The body as JSON; one too large (over [`scim::MAX_BODY`]) or unreadable is
/// a SCIM error like any other.
fn json_body(body: &Result<Bytes, BytesRejection>) -> Result<Value, ScimError> {
    let body = body.as_ref().map_err(|r| {
        if r.status().as_u16() == 413 {
            ScimError::new(
                413,
                None,
                format!("the body is larger than {} bytes", scim::MAX_BODY),
            )
        } else {
            ScimError::bad(ScimType::InvalidSyntax, "the body could not be read")
        }
    })?;
    serde_json::from_slice(body).map_err(|e| {
        ScimError::bad(
            ScimType::InvalidSyntax,
            format!("the body is not JSON: {e}"),
        )
    })
}

fn if_match(h: &HeaderMap) -> Result<Option<i64>, ScimError> {
    match h.get(header::IF_MATCH).map(|v| v.to_str()) {
        None => Ok(None),
        Some(Ok(v)) => scim::if_match_version(v),
        Some(Err(_)) => Err(ScimError::stale()),
    }
}

async fn get_one(
    State(idp): State<SharedIdp>,
    Path((endpoint, id)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> ScimResponse {
    let run = async {
        let kind = kind_of(&endpoint)?;
        let b = base(&idp);
        let mut c = idp.store.acquire().await.map_err(storage)?;
        let found = match kind {
            ResourceKind::User => directory::get_person(&mut c, &id)
                .await
                .map_err(storage)?
                .map(|p| user_json(&b, &p)),
            ResourceKind::Group => directory::get_group(&mut c, &id)
                .await
                .map_err(storage)?
                .map(|g| group_json(&b, &g, members_wanted(&q))),
        };
        found.ok_or_else(|| ScimError::not_found(format!("no {} with id `{id}`", kind.name())))
    };
    match run.await {
        Ok(r) => ScimResponse::ok(projected(&q, r)),
        Err(e) => e.into(),
    }
}

async fn create(
    State(idp): State<SharedIdp>,
    Extension(who): Extension<Provisioner>,
    Path(endpoint): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> ScimResponse {
    let run = async {
        let kind = kind_of(&endpoint)?;
        let body = json_body(&body)?;
        let b = base(&idp);
        Ok::<_, ScimError>(match kind {
            ResourceKind::User => user_json(&b, &service::create_person(&idp, &who, &body).await?),
            ResourceKind::Group => {
                group_json(&b, &service::create_group(&idp, &who, &body).await?, true)
            }
        })
    };
    match run.await {
        Ok(r) => ScimResponse::created(r),
        Err(e) => e.into(),
    }
}

/// `PUT` (the whole resource) or `PATCH` (operations on it).
#[derive(Debug, Clone, Copy)]
enum Write {
    Replace,
    Patch,
}

async fn update(
    idp: &SharedIdp,
    who: &Provisioner,
    (endpoint, id): (String, String),
    headers: &HeaderMap,
    body: &Result<Bytes, BytesRejection>,
    how: Write,
) -> ScimResponse {
    let run = async {
        let kind = kind_of(&endpoint)?;
        let version = if_match(headers)?;
        let body = json_body(body)?;
        let patch;
        let change = match how {
            Write::Replace => Change::Replace(&body),
            Write::Patch => {
                patch = PatchRequest::parse(&body)?;
                Change::Patch(&patch)
            }
        };
        let b = base(idp);
        Ok::<_, ScimError>(match kind {
            ResourceKind::User => user_json(
                &b,
                &service::update_person(idp, who, &id, version, change).await?,
            ),
            ResourceKind::Group => group_json(
                &b,
                &service::update_group(idp, who, &id, version, change).await?,
                true,
            ),
        })
    };
    match run.await {
        Ok(r) => ScimResponse::ok(r),
        Err(e) => e.into(),
    }
}

async fn replace(
    State(idp): State<SharedIdp>,
    Extension(who): Extension<Provisioner>,
    Path(path): Path<(String, String)>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ScimResponse {
    update(&idp, &who, path, &headers, &body, Write::Replace).await
}

async fn patch(
    State(idp): State<SharedIdp>,
    Extension(who): Extension<Provisioner>,
    Path(path): Path<(String, String)>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ScimResponse {
    update(&idp, &who, path, &headers, &body, Write::Patch).await
}

async fn delete(
    State(idp): State<SharedIdp>,
    Extension(who): Extension<Provisioner>,
    Path((endpoint, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> ScimResponse {
    let run = async {
        let kind = kind_of(&endpoint)?;
        let version = if_match(&headers)?;
        match kind {
            ResourceKind::User => service::delete_person(&idp, &who, &id, version).await,
            ResourceKind::Group => service::delete_group(&idp, &who, &id, version).await,
        }
    };
    match run.await {
        Ok(()) => ScimResponse::NoContent,
        Err(e) => e.into(),
    }
}
