//! The small OIDC and OAuth endpoints: discovery, JWKS, userinfo, revocation, the
//! client-filed connection request, and the health and readiness probes.

use crate::{
    audit::{AuditEvent, AuditOutcome},
    client_auth::authenticate,
    http_error::{OAuthResponse, db_error},
    state::SharedIdp,
    store::RequestSighting,
};
use axum::{
    Json,
    extract::State,
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::json;
use xaa::{OAuthError, ScopeSet, request::Form, util};

pub async fn discovery(State(idp): State<SharedIdp>) -> Json<serde_json::Value> {
    let e = |p: &str| idp.endpoint(p);
    Json(json!({
        "issuer": idp.issuer(),
        "authorization_endpoint": e("/authorize"),
        "token_endpoint": e("/token"),
        "userinfo_endpoint": e("/userinfo"),
        "revocation_endpoint": e("/revoke"),
        "jwks_uri": e("/jwks"),
        "connection_request_endpoint": e("/connection-requests"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", xaa::GRANT_TOKEN_EXCHANGE],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": [idp.key.alg().as_str()],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"],
        "token_endpoint_auth_signing_alg_values_supported": ["ES256", "EdDSA"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"],
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": ["openid", "profile", "email", "groups", "offline_access"],
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "azp", "email", "name", "groups"],
        "acr_values_supported": [xaa::ACR_PASSWORD, xaa::ACR_MFA],
        "claims_parameter_supported": false,
        "request_parameter_supported": false,
        "authorization_response_iss_parameter_supported": true,
        "identity_chaining_requested_token_types_supported": [xaa::TOKEN_TYPE_ID_JAG],
    }))
}

pub async fn jwks(State(idp): State<SharedIdp>) -> Response {
    let mut r = Json(&idp.jwks).into_response();
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("public, max-age=300"),
    );
    r
}

/// Liveness: the process answers.
pub async fn healthz() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

/// Readiness: the database answers within 2 s and its schema is the one this
/// node runs (all migrations applied, none from a newer node) — one query
/// shows both. (A node without its signing key does not start, so a running
/// one has it.) A load balancer sends nothing to a node that is not ready; it
/// turns ready again once it is. The reason says which, never more (no
/// versions, no error text: those go to the log).
pub async fn readyz(State(idp): State<SharedIdp>) -> Response {
    let within = std::time::Duration::from_secs(2);
    let problem = match tokio::time::timeout(within, idp.store.schema()).await {
        Ok(Ok(idp_store::SchemaState::Current)) => None,
        Ok(Ok(state)) => {
            tracing::warn!(?state, "not ready: the database schema is not this node's");
            Some("the database schema is not the one this node runs")
        }
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "not ready: the database does not answer");
            Some("the database does not answer")
        }
        Err(_) => {
            tracing::warn!("not ready: the database does not answer within 2 s");
            Some("the database does not answer")
        }
    };
    match problem {
        None => Json(json!({ "ready": true })).into_response(),
        Some(reason) => {
            let mut r = (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "ready": false, "reason": reason })),
            )
                .into_response();
            r.headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from_static("5"));
            r
        }
    }
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
}

pub async fn userinfo(State(idp): State<SharedIdp>, headers: HeaderMap) -> Response {
    let challenge = |err: &str| {
        let mut r = StatusCode::UNAUTHORIZED.into_response();
        let v = format!("Bearer error=\"{err}\"");
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            v.parse()
                .unwrap_or_else(|_| header::HeaderValue::from_static("Bearer")),
        );
        r
    };
    let Some(token) = bearer(&headers) else {
        return challenge("invalid_request");
    };
    let found = idp
        .store
        .access_token(&util::sha256_hex(token.as_bytes()), idp.now())
        .await;
    let Ok(Some(crate::store::AccessTokenRow {
        username, scope, ..
    })) = found
    else {
        return challenge("invalid_token");
    };
    let Ok(Some(user)) = idp.person(&username).await else {
        return challenge("invalid_token");
    };
    if !user.active {
        return challenge("invalid_token");
    }
    let scopes = ScopeSet::parse(&scope).unwrap_or_default();
    let mut body = json!({ "sub": user.username });
    if scopes.contains("email") {
        body["email"] = json!(user.email);
    }
    if scopes.contains("profile") {
        body["name"] = json!(user.name);
    }
    if scopes.contains("groups") {
        body["groups"] = json!(user.groups);
    }
    Json(body).into_response()
}

/// RFC 7009: always 200 for a token the client may not know is gone; errors only
/// for client authentication and malformed requests.
pub async fn revoke(
    State(idp): State<SharedIdp>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let run = async {
        let form = Form::parse(&body)?;
        let auth = authenticate(&idp, &headers, &form).await?;
        let token = form.require("token")?;
        let found = idp
            .store
            .revoke_token(&util::sha256_hex(token.as_bytes()), &auth.client.client_id)
            .await
            .map_err(db_error)?;
        if found {
            let mut e = AuditEvent::new("token.revoke", AuditOutcome::Success);
            e.client_id = Some(auth.client.client_id.clone());
            e.detail = json!({ "token_fingerprint": util::fingerprint(token) });
            idp.audit
                .record(e, idp.now_ms())
                .await
                .map_err(|e| OAuthError::server_error(e.to_string()))?;
        }
        Ok::<_, OAuthError>(())
    };
    match run.await {
        Ok(()) => StatusCode::OK.into_response(),
        Err(e) => OAuthResponse(e).into_response(),
    }
}

/// `POST /connection-requests`: a client asks, ahead of any refusal, to be
/// connected to a resource app, with a justification an approver will read.
/// Form parameters: `audience` (the resource AS issuer), `scope`, `resource`,
/// `justification` (required), and optionally `subject_token` (an ID token of the
/// user on whose behalf it asks).
pub async fn file_request(
    State(idp): State<SharedIdp>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let run = async {
        let form = Form::parse(&body)?;
        let auth = authenticate(&idp, &headers, &form).await?;
        if !auth.confidential {
            return Err(OAuthError::invalid_client(
                "filing a request requires client authentication",
            ));
        }
        let audience = form
            .get("audience")
            .ok_or_else(|| OAuthError::invalid_target("audience is required"))?;
        let app = idp
            .catalog()
            .resource_app_by_audience(audience)
            .ok_or_else(|| {
                OAuthError::invalid_target(
                    "the audience is not a known resource authorization server",
                )
            })?;
        let justification = form.require("justification")?;
        if justification
            .chars()
            .any(|c| c.is_control() && !matches!(c, '\n' | '\t'))
        {
            return Err(OAuthError::invalid_request(
                "the justification holds a control character",
            ));
        }
        if justification.len() > 2000 {
            return Err(OAuthError::invalid_request(
                "the justification is longer than 2000 characters",
            ));
        }
        let resource = form.get("resource");
        if let Some(r) = resource
            && !app.mcp_servers.iter().any(|s| s == r)
        {
            return Err(OAuthError::invalid_target(
                "the resource is not served by that authorization server",
            ));
        }
        let scopes = match form.get("scope") {
            Some(s) => {
                ScopeSet::parse(s).ok_or_else(|| OAuthError::invalid_scope("malformed scope"))?
            }
            None => ScopeSet::default(),
        };
        if let Some(unknown) = scopes.iter().find(|s| app.scope(s).is_none()) {
            return Err(OAuthError::invalid_scope(format!(
                "`{unknown}` is not a scope of {}",
                app.name
            )));
        }
        let username = match form.get("subject_token") {
            Some(t) => Some(subject_username(&idp, &auth.client.client_id, t).await?),
            None => None,
        };
        let user = match username.as_deref() {
            Some(u) => idp.person(u).await.map_err(db_error)?,
            None => None,
        };
        let scopes = scopes.to_vec();
        let (id, change) = idp
            .store
            .upsert_request(
                &RequestSighting {
                    client_id: &auth.client.client_id,
                    resource_app: &app.id,
                    scopes: &scopes,
                    resource,
                    user: user
                        .as_ref()
                        .map(|u| (u.username.as_str(), u.groups.as_slice())),
                    justification: Some(justification),
                    refused: false,
                },
                idp.now(),
            )
            .await
            .map_err(db_error)?;
        if change
            .as_ref()
            .is_some_and(|c| c.kind == admin_api::ChangeKind::RequestCreated)
        {
            let e = crate::audit::request_created(
                &auth.client.client_id,
                username.as_deref(),
                &id,
                &app.id,
                &scopes,
            );
            idp.audit
                .record(e, idp.now_ms())
                .await
                .map_err(|e| OAuthError::server_error(e.to_string()))?;
        }
        crate::services::publish(&idp, change.into_iter().collect());
        let mut e = AuditEvent::new("connection_request.file", AuditOutcome::Success);
        e.client_id = Some(auth.client.client_id.clone());
        e.subject = username;
        e.target = Some(id.clone());
        e.reason = Some(justification.to_owned());
        idp.audit
            .record(e, idp.now_ms())
            .await
            .map_err(|e| OAuthError::server_error(e.to_string()))?;
        let req = idp
            .store
            .request(&id)
            .await
            .map_err(db_error)?
            .ok_or_else(|| db_error("vanished"))?;
        Ok::<_, OAuthError>(req)
    };
    match run.await {
        // The filed request as it stands (the shape this endpoint has always had).
        Ok(req) => (
            StatusCode::CREATED,
            Json(serde_json::json!({
                "id": req.id,
                "client_id": req.client_id,
                "resource_app": req.resource_app,
                "scopes": req.scopes,
                "users": req.users,
                "refused_count": req.refused_count,
                "first_seen": req.first_seen,
                "last_seen": req.last_seen,
                "justification": req.justification,
                "status": req.status.as_str(),
            })),
        )
            .into_response(),
        Err(e) => OAuthResponse(e).into_response(),
    }
}

async fn subject_username(
    idp: &SharedIdp,
    client_id: &str,
    token: &str,
) -> Result<String, OAuthError> {
    let c = idp.verified_id_token(token).await?;
    if c.iss != idp.issuer() || c.aud.single() != Some(client_id) || (c.exp as i64) <= idp.now() {
        return Err(OAuthError::invalid_grant(
            "the subject token is not a live ID token issued to this client",
        ));
    }
    Ok(c.sub)
}
